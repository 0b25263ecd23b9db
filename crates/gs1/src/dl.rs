//! GS1 Digital Link URIs (uncompressed form): parsing into and printing from an
//! [`ElementString`].

use crate::ai::{has_class, Ai, URI_ALLOWED, URI_UNRESERVED};
use crate::element::{starts_with_ignore_case, ElementString, INPUT_LEN_MAX};
use crate::error::Gs1Error;

/// Most path segments examined in a Digital Link URI.
const SEGMENTS_MAX: usize = 64;

impl ElementString {
    /// Parses an uncompressed GS1 Digital Link URI:
    /// `https://host/optional/stem/01/{gtin}/21/{serial}?17=…&91=…`.
    ///
    /// The scheme is `http` or `https` (all lower or all upper case). The rightmost
    /// primary key in the path (with its key qualifiers in the dictionary's order)
    /// starts the GS1 part; what precedes it is a free stem. Query parameters with
    /// numeric keys must be AIs permitted as Digital Link data attributes; other
    /// parameters (`linkType`, …) are ignored, as is any `#fragment`. Values are
    /// percent-decoded (`+` stays `+`). Compressed Digital Link URIs are not supported.
    pub fn parse_digital_link(input: &str) -> Result<Self, Gs1Error> {
        let b = input.as_bytes();
        if b.len() > INPUT_LEN_MAX {
            return Err(Gs1Error::BadFormat {
                pos: INPUT_LEN_MAX,
                what: "input longer than INPUT_LEN_MAX bytes",
            });
        }
        if b.is_empty() {
            return Err(Gs1Error::Empty);
        }
        let scheme_len = if b.starts_with(b"https://") || b.starts_with(b"HTTPS://") {
            8
        } else if b.starts_with(b"http://") || b.starts_with(b"HTTP://") {
            7
        } else {
            let what = if starts_with_ignore_case(b, b"http") {
                "URI scheme must be http or https in one case"
            } else {
                "not a Digital Link URI (expected http:// or https://)"
            };
            return Err(Gs1Error::BadFormat { pos: 0, what });
        };
        if let Some(p) = b.iter().position(|&c| !has_class(c, URI_ALLOWED)) {
            return Err(Gs1Error::BadCharacter {
                ai: None,
                pos: p,
                ch: input[crate::element::floor_char_boundary(input, p)..]
                    .chars()
                    .next()
                    .unwrap_or('?'),
                expected: "URI characters",
            });
        }
        let end = b.iter().position(|&c| c == b'#').unwrap_or(b.len());
        let (path_end, query) = match b[..end].iter().position(|&c| c == b'?') {
            Some(q) => (q, Some((q + 1, end))),
            None => (end, None),
        };
        let path_start = b[scheme_len..path_end]
            .iter()
            .position(|&c| c == b'/')
            .map(|p| scheme_len + p)
            .ok_or(Gs1Error::BadFormat {
                pos: scheme_len,
                what: "Digital Link URI has no path",
            })?;
        if path_start == scheme_len {
            return Err(Gs1Error::BadFormat {
                pos: scheme_len,
                what: "Digital Link URI has no host",
            });
        }
        if b[path_end - 1] == b'/' {
            return Err(Gs1Error::BadFormat {
                pos: path_end - 1,
                what: "Digital Link path must not end with '/'",
            });
        }
        // Segments after the host: (start, end) byte ranges.
        let mut segs = [(0usize, 0usize); SEGMENTS_MAX];
        let mut n = 0;
        let mut s = path_start + 1;
        loop {
            let e = b[s..path_end]
                .iter()
                .position(|&c| c == b'/')
                .map_or(path_end, |p| s + p);
            if n == SEGMENTS_MAX {
                return Err(Gs1Error::BadFormat {
                    pos: s,
                    what: "too many path segments",
                });
            }
            segs[n] = (s, e);
            n += 1;
            if e == path_end {
                break;
            }
            s = e + 1;
        }
        let segs = &segs[..n];
        let seg = |k: usize| &input[segs[k].0..segs[k].1];
        let is_digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        // Rightmost primary key followed by an even number of segments.
        let key_at = (0..n.saturating_sub(1)).rev().find(|&k| {
            (n - k) % 2 == 0
                && is_digits(seg(k))
                && Ai::from_code(seg(k)).is_some_and(|ai| ai.spec().dl_primary_key.is_some())
        });
        let Some(k0) = key_at else {
            return Err(Gs1Error::BadFormat {
                pos: path_start,
                what: "no GS1 primary key (e.g. /01/{gtin}) in the Digital Link path",
            });
        };
        let mut es = ElementString::with_capacity(b.len(), 6);
        let pkey = Ai::from_code(seg(k0)).ok_or(Gs1Error::BadFormat {
            pos: segs[k0].0,
            what: "no GS1 primary key in the Digital Link path",
        })?;
        let alternatives = pkey.spec().dl_primary_key.unwrap_or(&[]);
        push_decoded(&mut es, input, pkey, segs[k0 + 1])?;
        let mut chosen: Option<(usize, usize)> = None; // (alternative, index of last)
        let mut k = k0 + 2;
        while k < n {
            let code = seg(k);
            if !is_digits(code) {
                return Err(Gs1Error::BadFormat {
                    pos: segs[k].0,
                    what: "path segment after the primary key is not an AI",
                });
            }
            let ai = Ai::from_code(code).ok_or_else(|| Gs1Error::UnknownAi {
                ai: code.to_owned(),
                pos: segs[k].0,
            })?;
            let found = alternatives.iter().enumerate().find_map(|(a, alt)| {
                let p = alt.iter().position(|q| *q == code)?;
                match chosen {
                    None => Some((a, p)),
                    Some((ca, cp)) if ca == a && p > cp => Some((a, p)),
                    Some(_) => None,
                }
            });
            let Some(c) = found else {
                return Err(Gs1Error::BadFormat {
                    pos: segs[k].0,
                    what: "AI is not a key qualifier of the primary key here, or is out of order",
                });
            };
            chosen = Some(c);
            push_decoded(&mut es, input, ai, segs[k + 1])?;
            k += 2;
        }
        if let Some((qs, qe)) = query {
            let mut s = qs;
            while s <= qe {
                let e = b[s..qe]
                    .iter()
                    .position(|&c| c == b'&')
                    .map_or(qe, |p| s + p);
                if e > s {
                    let eq = b[s..e].iter().position(|&c| c == b'=').map(|p| s + p);
                    let key = &input[s..eq.unwrap_or(e)];
                    if is_digits(key) {
                        let ai = Ai::from_code(key).ok_or_else(|| Gs1Error::UnknownAi {
                            ai: key.to_owned(),
                            pos: s,
                        })?;
                        if !ai.spec().dl_data_attribute {
                            return Err(Gs1Error::BadFormat {
                                pos: s,
                                what: "AI is not permitted as a Digital Link data attribute",
                            });
                        }
                        let vs = eq.map_or(e, |q| q + 1);
                        push_decoded(&mut es, input, ai, (vs, e))?;
                    }
                }
                s = e + 1;
            }
        }
        Ok(es)
    }

    /// Prints a GS1 Digital Link URI under `base` (e.g. `https://id.gs1.org` or
    /// `https://example.com/stem`; a trailing `/` is dropped): the first primary key of
    /// the element string and its key qualifiers in the path, in the dictionary's
    /// order, every other element as a query parameter in element order. Values are
    /// percent-encoded (all but `A-Za-z0-9-._~`).
    ///
    /// Fails with `bad_format` when there is no primary key or an element may not be a
    /// Digital Link data attribute.
    pub fn to_digital_link(&self, base: &str) -> Result<String, Gs1Error> {
        let Some((pk_index, pkey)) = self
            .iter()
            .enumerate()
            .find(|(_, (ai, _))| ai.spec().dl_primary_key.is_some())
            .map(|(i, (ai, _))| (i, ai))
        else {
            return Err(Gs1Error::BadFormat {
                pos: 0,
                what: "no Digital Link primary key (e.g. AI 01 or 00) in the element string",
            });
        };
        let alternatives = pkey.spec().dl_primary_key.unwrap_or(&[]);
        // The alternative with the most qualifiers present (first on ties).
        let present = |code: &str| self.iter().any(|(ai, _)| ai.code() == code);
        let mut best: &[&str] = &[];
        let mut best_count = 0;
        for alt in alternatives {
            let count = alt.iter().filter(|q| present(q)).count();
            if count > best_count {
                best = alt;
                best_count = count;
            }
        }
        let mut out = String::with_capacity(base.len() + 2 * self.buf_len() + 8 * self.len());
        out.push_str(base.trim_end_matches('/'));
        let mut in_path = [false; crate::element::ELEMENTS_MAX];
        let (pk_ai, pk_val) = self.iter().nth(pk_index).unwrap_or((pkey, ""));
        push_segment(&mut out, pk_ai.code(), pk_val);
        in_path[pk_index] = true;
        for q in best {
            if let Some((i, (ai, v))) = self.iter().enumerate().find(|(_, (ai, _))| ai.code() == *q)
            {
                push_segment(&mut out, ai.code(), v);
                in_path[i] = true;
            }
        }
        let mut first = true;
        for (i, (ai, v)) in self.iter().enumerate() {
            if in_path[i] {
                continue;
            }
            if !ai.spec().dl_data_attribute {
                return Err(Gs1Error::BadFormat {
                    pos: 0,
                    what: "element string holds an AI that is not permitted as a Digital Link data attribute",
                });
            }
            out.push(if first { '?' } else { '&' });
            first = false;
            out.push_str(ai.code());
            out.push('=');
            percent_encode(&mut out, v);
        }
        Ok(out)
    }
}

fn push_segment(out: &mut String, code: &str, value: &str) {
    out.push('/');
    out.push_str(code);
    out.push('/');
    percent_encode(out, value);
}

/// Percent-encodes `value` as a Digital Link path segment or query value: every byte but the
/// URI unreserved characters (`A-Z a-z 0-9 - . _ ~`, RFC 3986) as `%XX`.
pub fn percent_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    percent_encode(&mut out, value);
    out
}

fn percent_encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if has_class(b, URI_UNRESERVED) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `input[range]` as the value of `ai` and appends it to `es`.
fn push_decoded(
    es: &mut ElementString,
    input: &str,
    ai: Ai,
    (s, e): (usize, usize),
) -> Result<(), Gs1Error> {
    let b = input.as_bytes();
    let start = es.begin_decoded();
    let mut i = s;
    while i < e {
        let c = if b[i] == b'%' {
            let (Some(h), Some(l)) = (
                b.get(i + 1).filter(|_| i + 1 < e).and_then(|&c| hex_val(c)),
                b.get(i + 2).filter(|_| i + 2 < e).and_then(|&c| hex_val(c)),
            ) else {
                return Err(Gs1Error::BadFormat {
                    pos: i,
                    what: "bad percent-encoding (expected %XX)",
                });
            };
            i += 3;
            (h << 4) | l
        } else {
            i += 1;
            b[i - 1]
        };
        if !c.is_ascii() {
            return Err(Gs1Error::BadCharacter {
                ai: Some(ai),
                pos: i - 1,
                ch: char::from(c),
                expected: ai.spec().components[0].cset.name(),
            });
        }
        es.push_decoded_byte(c);
    }
    es.finish_decoded(ai, start, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_code_round_trip() {
        let raw = "0104650117240163215100000005NgF\u{1d}910024\u{1d}92UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==";
        let es = ElementString::parse(raw).unwrap();
        let dl = es.to_digital_link("https://t.example/").unwrap();
        assert_eq!(
            dl,
            "https://t.example/01/04650117240163/21/5100000005NgF?91=0024&92=UjpfAmE6elcVxvtPJHHGl%2F8ULzQB8YPU%2FXnOERdyuQ%3D%3D"
        );
        assert_eq!(ElementString::parse(&dl).unwrap(), es);
        // '/', '+' and '=' unencoded in the query are accepted too.
        let loose = "https://t.example/01/04650117240163/21/5100000005NgF?91=0024&92=UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==&linkType=all#x";
        assert_eq!(ElementString::parse(loose).unwrap(), es);
    }
}
