//! Property tests: random valid marking codes survive every printed form, and random
//! input never panics a parser.

use gs1::{Ai, ElementString, Gtin};
use proptest::prelude::*;

const CSET82: &str = "[!\"%&'()*+,\\-./0-9:;<=>?A-Z_a-z]";

fn gtin() -> impl Strategy<Value = Gtin> {
    (0u64..10_000_000_000_000).prop_map(|body| Gtin::from_body(body).expect("13-digit body"))
}

fn x(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("{CSET82}{{{min},{max}}}")).expect("regex")
}

fn date() -> impl Strategy<Value = String> {
    (0u32..100, 1u32..13, 0u32..29).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

fn base64(len: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9+/]{{{}}}==", len - 2)).expect("regex")
}

/// A marking code in Digital Link order: 01, [10], 21, then [17], [91], [92], [93].
fn code() -> impl Strategy<Value = ElementString> {
    (
        gtin(),
        proptest::option::of(x(1, 20)),
        x(1, 20),
        proptest::option::of(date()),
        proptest::option::of(x(4, 4)),
        proptest::option::of(prop_oneof![base64(44), base64(88)]),
        proptest::option::of(x(4, 4)),
    )
        .prop_map(|(g, batch, serial, exp, k91, k92, k93)| {
            let mut es = ElementString::new();
            es.push(Ai::GTIN, &g.to_string()).unwrap();
            if let Some(b) = batch {
                es.push(Ai::BATCH, &b).unwrap();
            }
            es.push(Ai::SERIAL, &serial).unwrap();
            for (ai, v) in [
                (Ai::EXPIRY, exp),
                (Ai::INTERNAL_91, k91),
                (Ai::INTERNAL_92, k92),
                (Ai::INTERNAL_93, k93),
            ] {
                if let Some(v) = v {
                    es.push(ai, &v).unwrap();
                }
            }
            es
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_form_parses_back(es in code()) {
        let gs = es.to_gs();
        prop_assert_eq!(&ElementString::parse(&gs)?, &es);
        prop_assert_eq!(&ElementString::parse(&format!("]d2{gs}"))?, &es);
        prop_assert_eq!(&ElementString::parse(&format!("\u{1d}{gs}"))?, &es);
        prop_assert_eq!(&ElementString::parse(&es.to_brackets())?, &es);
        let dl = es.to_digital_link("https://t.example/some/stem")?;
        prop_assert_eq!(&ElementString::parse(&dl)?, &es);
        let id = es.identification_code().unwrap();
        prop_assert_eq!(id, format!("01{}21{}", es.gtin().unwrap(), es.serial().unwrap()));
    }

    #[test]
    fn any_order_round_trips_in_gs_and_brackets(es in code(), seed in any::<u64>()) {
        // Shuffle the elements deterministically from the seed.
        let mut pairs: Vec<(Ai, String)> = es.iter().map(|(a, v)| (a, v.to_owned())).collect();
        let mut s = seed;
        for i in (1..pairs.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            pairs.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut shuffled = ElementString::new();
        for (a, v) in &pairs {
            shuffled.push(*a, v)?;
        }
        prop_assert_eq!(&ElementString::parse(&shuffled.to_gs())?, &shuffled);
        prop_assert_eq!(&ElementString::parse(&shuffled.to_brackets())?, &shuffled);
        // The DL form puts key and qualifiers first (in the dictionary's order), then the
        // data attributes in element order: the same elements, maybe reordered.
        let dl = shuffled.to_digital_link("https://t.example")?;
        let back = ElementString::parse(&dl)?;
        let sorted = |e: &ElementString| {
            let mut v: Vec<(Ai, String)> = e.iter().map(|(a, v)| (a, v.to_owned())).collect();
            v.sort();
            v
        };
        prop_assert_eq!(sorted(&back), sorted(&es));
        prop_assert_eq!(back.iter().next().map(|(a, _)| a), Some(Ai::GTIN));
    }

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&b);
        let _ = ElementString::parse(&s);
        let _ = ElementString::parse_gs(&s);
        let _ = ElementString::parse_brackets(&s);
        let _ = ElementString::parse_digital_link(&s);
        let _ = gs1::epc::EpcTag::from_hex(&s);
        let _ = gs1::epc::EpcTag::parse_tag_uri(&s);
        let _ = gs1::epc::EpcId::parse_pure_uri(&s);
    }

    #[test]
    fn gtin_forms_agree(body in 0u64..10_000_000_000_000) {
        let g = Gtin::from_body(body)?;
        let s = g.to_string();
        prop_assert_eq!(s.len(), 14);
        prop_assert_eq!(Gtin::parse(&s)?, g);
        prop_assert_eq!(Gtin::new(g.as_u64())?, g);
        if let Some(gtin13) = s.strip_prefix('0') {
            prop_assert_eq!(Gtin::parse(gtin13)?, g);
        }
    }
}

/// A corrupted check digit is always reported as such.
#[test]
fn every_wrong_check_digit_is_caught() {
    let good = "0104650117240163215100000005NgF";
    for d in b'0'..=b'9' {
        let mut bad = good.as_bytes().to_vec();
        bad[15] = d;
        let s = String::from_utf8(bad).unwrap();
        match ElementString::parse(&s) {
            Ok(_) => assert_eq!(d, b'3'),
            Err(e) => assert_eq!(e.reason(), "bad_check_digit", "{e}"),
        }
    }
}
