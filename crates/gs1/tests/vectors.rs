//! Every row of the shared test vectors (see the SOURCE.txt files beside them):
//! `syntax/derived-vectors/dl-and-element-string-vectors.tsv`,
//! `tds/vectors/tds-96bit-vectors.csv` and `tds/vectors/tds-198bit-vectors.csv`.
//! Without `../shared` each test fails naming it, unless `TRACEMARK_ALLOW_SKIP=shared`.

#[path = "common/skip.rs"]
mod skip;

use gs1::epc::{EpcId, EpcTag, TagScheme};
use gs1::{check_digit, ElementString, GS};
use std::path::{Path, PathBuf};

fn shared_file(rel: &str) -> Option<(PathBuf, String)> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    match std::fs::read_to_string(&p) {
        Ok(t) => Some((p, t)),
        Err(e) => {
            skip::skip_or_fail(
                "shared",
                &format!("../shared is not here ({}: {e})", p.display()),
            );
            None
        }
    }
}

/// "^" notation of the vectors: leading ^ = FNC1, later ^ = GS.
fn caret(es: &ElementString) -> String {
    format!("^{}", es.to_gs().replace(GS, "^"))
}

/// Scheme and authority of a URI, e.g. `https://id.gs1.org`.
fn base_of(uri: &str) -> &str {
    let after = uri.find("://").map_or(0, |i| i + 3);
    let end = uri[after..].find('/').map_or(uri.len(), |i| after + i);
    &uri[..end]
}

#[test]
fn dl_and_element_string_vectors() {
    let Some((_, text)) =
        shared_file("data/gs1/syntax/derived-vectors/dl-and-element-string-vectors.tsv")
    else {
        return;
    };
    let mut rows = 0;
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with("kind\t") || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 4, "short row {line:?}");
        let (kind, input, expected, valid) = (cols[0], cols[1], cols[2], cols[3] == "true");
        rows += 1;
        match kind {
            "check_digit" => {
                let want: u8 = expected.parse().unwrap();
                assert_eq!(check_digit(input.as_bytes()), want, "{line}");
            }
            "dl_parse" => {
                let r = ElementString::parse_digital_link(input);
                if valid {
                    let es = r.unwrap_or_else(|e| panic!("{input}: {e}"));
                    assert_eq!(caret(&es), expected, "{input}");
                    // Same answer through the auto-detecting parser.
                    assert_eq!(ElementString::parse(input).unwrap(), es);
                } else {
                    assert!(r.is_err(), "{input} should fail, got {:?}", r);
                    assert!(ElementString::parse(input).is_err());
                }
            }
            "dl_generate" => {
                let base = if valid {
                    base_of(expected)
                } else {
                    "https://example.com"
                };
                let r =
                    ElementString::parse_brackets(input).and_then(|es| es.to_digital_link(base));
                if valid {
                    let uri = r.unwrap_or_else(|e| panic!("{input}: {e}"));
                    assert_eq!(uri, expected, "{input}");
                } else {
                    assert!(r.is_err(), "{input} should fail, got {r:?}");
                }
            }
            "element_string" => {
                let es = ElementString::parse_brackets(input).unwrap();
                assert_eq!(caret(&es), expected, "{input}");
                assert_eq!(es.to_brackets(), input);
                let raw = expected.trim_start_matches('^').replace('^', "\u{1d}");
                assert_eq!(ElementString::parse_gs(&raw).unwrap(), es);
            }
            k if k.starts_with("scan_data_") => {
                // input: AI data in ^ notation; expected: scan data with symbology id.
                let scan = expected.replace("<GS>", "\u{1d}");
                let es = ElementString::parse(&scan).unwrap_or_else(|e| panic!("{scan}: {e}"));
                assert_eq!(caret(&es), input, "{line}");
                let without_id = &scan[3..];
                assert_eq!(es.to_gs(), without_id);
            }
            // Compressed Digital Link URIs are not implemented (documented in README).
            "dl_compressed" => {
                assert!(ElementString::parse(input).is_err(), "{input}");
            }
            other => panic!("unknown vector kind {other}"),
        }
    }
    assert!(rows >= 35, "only {rows} rows read");
}

#[test]
fn tds_96bit_vectors() {
    let Some((_, text)) = shared_file("data/gs1/tds/vectors/tds-96bit-vectors.csv") else {
        return;
    };
    let mut rows = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        // The first 8 columns hold no commas.
        let cols: Vec<&str> = line.splitn(9, ',').collect();
        let (scheme, hex, filter, partition, tag_uri, pure_uri, element, dl) = (
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7],
        );
        rows += 1;
        let tag = EpcTag::from_hex(hex).unwrap_or_else(|e| panic!("{hex}: {e}"));
        let want_scheme = match scheme {
            "SGTIN-96" => TagScheme::Sgtin96,
            "SSCC-96" => TagScheme::Sscc96,
            s => panic!("unexpected scheme {s}"),
        };
        assert_eq!(tag.scheme(), want_scheme);
        assert_eq!(tag.filter().to_string(), filter);
        assert_eq!((12 - tag.id().company_prefix_len()).to_string(), partition);
        assert_eq!(tag.to_hex(), hex);
        assert_eq!(tag.to_tag_uri(), tag_uri);
        assert_eq!(tag.id().to_pure_uri(), pure_uri);
        assert_eq!(EpcTag::parse_tag_uri(tag_uri).unwrap(), tag);
        let id = EpcId::parse_pure_uri(pure_uri).unwrap();
        assert_eq!(&id, tag.id());
        let es = ElementString::parse(element).unwrap();
        assert_eq!(id.to_element_string(), es);
        assert_eq!(es.to_digital_link(base_of(dl)).unwrap(), dl);
        assert_eq!(ElementString::parse(dl).unwrap(), es);
        let again = EpcId::from_element_string(&es, id.company_prefix_len()).unwrap();
        assert_eq!(again, id);
        assert_eq!(EpcTag::new(again, want_scheme, tag.filter()).unwrap(), tag);
    }
    assert_eq!(rows, 12);
}

#[test]
fn tds_198bit_vectors() {
    let Some((_, text)) = shared_file("data/gs1/tds/vectors/tds-198bit-vectors.csv") else {
        return;
    };
    let mut rows = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.splitn(5, ',').collect();
        let (scheme, hex, tag_uri, pure_uri) = (cols[0], cols[1], cols[2], cols[3]);
        assert_eq!(scheme, "SGTIN-198");
        rows += 1;
        let tag = EpcTag::from_hex(hex).unwrap_or_else(|e| panic!("{hex}: {e}"));
        assert_eq!(tag.scheme(), TagScheme::Sgtin198);
        assert_eq!(tag.to_tag_uri(), tag_uri);
        assert_eq!(tag.id().to_pure_uri(), pure_uri);
        assert_eq!(EpcTag::parse_tag_uri(tag_uri).unwrap(), tag);
        assert_eq!(&EpcId::parse_pure_uri(pure_uri).unwrap(), tag.id());
        // The CSV notes that implementations pad 198 bits to 200 or 208: we print 208
        // (whole 16-bit words); the meaningful bits must agree and the rest be zero.
        let ours = tag.to_hex();
        assert_eq!(ours.len(), 52);
        let common = hex.len().min(ours.len());
        assert_eq!(&ours[..common], &hex[..common]);
        assert!(ours[common..].bytes().all(|c| c == b'0'));
        assert_eq!(EpcTag::from_hex(&ours).unwrap(), tag);
    }
    assert_eq!(rows, 1);
}
