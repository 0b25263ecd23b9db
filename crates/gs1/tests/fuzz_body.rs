//! Runs the body of the `cargo fuzz` target `parse` over a few thousand generated
//! inputs, so that CI exercises it without nightly tooling.

include!("../fuzz/body.rs");

use proptest::prelude::*;

/// Inputs near the grammar: fragments of every form glued together.
fn near_miss() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "01",
        "04650117240163",
        "0104650117240163",
        "21",
        "10",
        "17",
        "261231",
        "91",
        "92",
        "93",
        "8005",
        "000350",
        "00",
        "106141412345678908",
        "\u{1d}",
        "]d2",
        "]C1",
        "]Q3",
        "(",
        ")",
        "(01)",
        "(21)",
        "\\(",
        "https://",
        "http://",
        "HTTPS://",
        "a",
        "/",
        "?",
        "&",
        "=",
        "%2F",
        "%",
        "%zz",
        "#",
        "urn:epc:id:sgtin:",
        "urn:epc:id:sscc:",
        "urn:epc:tag:sgtin-96:",
        "urn:epc:tag:sgtin-198:",
        "urn:epc:tag:sscc-96:",
        ".",
        "0614141",
        "812345",
        "6789",
        "3074257BF7194E4000001A85",
        "36",
        "30",
        "31",
        "é",
        "+",
        "ABC",
        "253",
        "8200",
        "414",
        "254",
        "7040",
        "8018",
        "8019",
        "3103",
        "x",
    ]);
    prop::collection::vec(pieces, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn fuzz_body_on_near_misses(s in near_miss()) {
        fuzz_parse(s.as_bytes());
    }

    #[test]
    fn fuzz_body_on_random_bytes(b in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_parse(&b);
    }
}
