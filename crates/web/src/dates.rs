//! Dates and times as a person reads them, in the page's language. The registry's dates
//! are `YYYY-MM-DD` and its times RFC 3339 in UTC (`…Z`); anything else is shown as it
//! came, never dropped.

use crate::strings::Strings;

fn ymd(text: &str) -> Option<(u32, usize, u32)> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: u32 = text.get(0..4)?.parse().ok()?;
    let m: usize = text.get(5..7)?.parse().ok()?;
    let d: u32 = text.get(8..10)?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// `2027-05-31` → "31 May 2027" / "31 мая 2027".
pub fn date(s: &Strings, text: &str) -> String {
    match ymd(text) {
        Some((y, m, d)) if text.len() == 10 => format!("{d} {} {y}", s.months[m - 1]),
        _ => text.to_string(),
    }
}

/// `2026-11-29T17:09:25Z` → "29 November 2026, 17:09 UTC".
pub fn time(s: &Strings, text: &str) -> String {
    let hm = text.get(11..16).filter(|hm| {
        let b = hm.as_bytes();
        b[2] == b':'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 2 || c.is_ascii_digit())
    });
    match (ymd(text), hm, text.as_bytes().get(10), text.ends_with('Z')) {
        (Some((y, m, d)), Some(hm), Some(b'T'), true) => {
            format!("{d} {} {y}, {hm} {}", s.months[m - 1], s.utc)
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strings::{EN, RU};

    #[test]
    fn dates_read_as_words() {
        assert_eq!(date(&EN, "2027-05-31"), "31 May 2027");
        assert_eq!(date(&RU, "2027-05-31"), "31 мая 2027");
        assert_eq!(
            time(&EN, "2026-11-29T17:09:25Z"),
            "29 November 2026, 17:09 UTC"
        );
        assert_eq!(
            time(&RU, "2026-11-29T07:09:25Z"),
            "29 ноября 2026, 07:09 UTC"
        );
        // Not the expected shape: shown as it came.
        assert_eq!(date(&EN, "2027-13-01"), "2027-13-01");
        assert_eq!(time(&EN, "yesterday"), "yesterday");
        assert_eq!(
            time(&EN, "2026-11-29T17:09:25+03:00"),
            "2026-11-29T17:09:25+03:00"
        );
    }
}
