//! The page's language: `?lang=` first, then `Accept-Language` (RFC 9110 §12.5.4, with
//! q-values), then [`Lang::DEFAULT`].

use crate::strings::{Strings, EN, RU};

/// Most `Accept-Language` entries read; a longer header is cut there (a browser sends a
/// handful; this bounds the work a hostile header can cause).
pub const ACCEPT_LANGUAGE_ENTRIES_MAX: usize = 32;

/// A language the page speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Russian.
    Ru,
    /// English.
    En,
}

impl Lang {
    /// When neither `?lang=` nor `Accept-Language` names Russian or English (no header,
    /// `*`, or only other languages): Russian. The registry is national: its shops,
    /// labels and most of its shoppers speak Russian, and a browser set to another
    /// language nearly always lists `en` too (then English is chosen by its q-value).
    pub const DEFAULT: Lang = Lang::Ru;

    /// The BCP 47 tag (`ru`, `en`), for `lang=` and `Content-Language`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The language a `?lang=` value names (`ru`, `en`, case-insensitive), if any.
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim();
        if code.eq_ignore_ascii_case("ru") {
            Some(Lang::Ru)
        } else if code.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The other language (the `#lang-switch` link's target).
    pub fn other(self) -> Lang {
        match self {
            Lang::Ru => Lang::En,
            Lang::En => Lang::Ru,
        }
    }

    /// This language's strings.
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }

    /// Chooses the language: a valid `?lang=` wins; else the `Accept-Language` range
    /// with the highest q-value that is Russian or English (`ru`, `ru-RU`, `en-GB`, …;
    /// on a tie the one listed first); else [`Lang::DEFAULT`].
    pub fn negotiate(query_lang: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = query_lang.and_then(Lang::from_code) {
            return l;
        }
        let Some(header) = accept_language else {
            return Lang::DEFAULT;
        };
        let mut best: Option<(u16, Lang)> = None;
        for entry in header.split(',').take(ACCEPT_LANGUAGE_ENTRIES_MAX) {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::from_code(primary) else {
                continue;
            };
            let mut q = 1000u16;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")) {
                    q = parse_q(v).unwrap_or(0);
                }
            }
            if q == 0 {
                continue;
            }
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::DEFAULT, |(_, l)| l)
    }
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0u16,
        "1" => 1000,
        _ => return None,
    };
    let mut f = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        f += u16::from(b - b'0') * [100, 10, 1][i];
    }
    let q = whole + f;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_over_header() {
        assert_eq!(Lang::negotiate(Some("en"), Some("ru")), Lang::En);
        assert_eq!(Lang::negotiate(Some("RU"), Some("en")), Lang::Ru);
        // An unknown ?lang= is ignored, not an error.
        assert_eq!(Lang::negotiate(Some("de"), Some("en")), Lang::En);
    }

    #[test]
    fn q_values_decide() {
        assert_eq!(Lang::negotiate(None, Some("ru;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(
            Lang::negotiate(None, Some("en-US,en;q=0.9,ru;q=0.8")),
            Lang::En
        );
        assert_eq!(
            Lang::negotiate(None, Some("ru-RU,ru;q=0.9,en-US;q=0.8")),
            Lang::Ru
        );
        assert_eq!(
            Lang::negotiate(None, Some("de-DE,de;q=0.9,en-GB;q=0.7,ru;q=0.3")),
            Lang::En
        );
        // A tie goes to the one listed first; q=0 means "not this one".
        assert_eq!(Lang::negotiate(None, Some("en;q=0.5, ru;q=0.5")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("ru;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("en;q=0")), Lang::DEFAULT);
    }

    #[test]
    fn default_when_nothing_matches() {
        assert_eq!(Lang::negotiate(None, None), Lang::Ru);
        assert_eq!(Lang::negotiate(None, Some("")), Lang::Ru);
        assert_eq!(Lang::negotiate(None, Some("*")), Lang::Ru);
        assert_eq!(Lang::negotiate(None, Some("de, fr;q=0.5")), Lang::Ru);
        // Malformed q-values do not choose a language.
        assert_eq!(Lang::negotiate(None, Some("en;q=2, ru;q=abc")), Lang::Ru);
        // A prefix that merely starts like a language is not it.
        assert_eq!(Lang::negotiate(None, Some("eng, rus")), Lang::Ru);
    }

    #[test]
    fn q_parse() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("1.001"), None);
        assert_eq!(parse_q("0.25"), Some(250));
        assert_eq!(parse_q("0.2555"), None);
        assert_eq!(parse_q("2"), None);
    }
}
