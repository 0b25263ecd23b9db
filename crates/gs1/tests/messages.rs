//! Error messages read well and carry context; `reason()` words are stable.

use gs1::ElementString;

fn err(s: &str) -> (String, &'static str) {
    let e = ElementString::parse(s).unwrap_err();
    (e.to_string(), e.reason())
}

#[test]
fn messages_name_the_ai_and_position() {
    let cases = [
        ("", "empty", "empty input"),
        (
            "0104650117240164215100000005NgF",
            "bad_check_digit",
            "AI (01): bad check digit 4 at character 16, expected 3",
        ),
        (
            "0104650117240",
            "bad_length",
            "AI (01) at character 3: value has 11 characters, expected exactly 14",
        ),
        (
            "0104650117240163210123456789012345678901",
            "bad_length",
            "AI (21) at character 19: value has 22 characters, expected 1 to 20",
        ),
        (
            "010465011724016321abc d",
            "bad_character",
            "AI (21): ' ' at character 22 is not allowed (expected GS1 character set 82)",
        ),
        (
            "0104650117240163230",
            "unknown_ai",
            "unknown application identifier (230) at character 17",
        ),
        (
            "(01)04650117240163(17)260230",
            "bad_date",
            "AI (17): \"260230\" at character 23 is not a valid date/time",
        ),
        (
            "(01)04650117240163(21)a(21)b",
            "duplicate_ai",
            "AI (21) occurs more than once (again at character 28)",
        ),
        (
            "https://a/gtin/04650117240163",
            "bad_format",
            "bad format at character 10: no GS1 primary key",
        ),
        (
            "https://a/01/04650117240163?99=a b",
            "bad_character",
            "input: ' ' at character 33",
        ),
    ];
    for (input, reason, msg) in cases {
        let (m, r) = err(input);
        assert_eq!(r, reason, "{input:?}: {m}");
        assert!(m.starts_with(msg), "{input:?}: got {m:?}, want {msg:?}");
    }
}
