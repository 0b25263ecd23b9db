// The fuzz body, shared by the `cargo fuzz` target `parse` (fuzz_targets/parse.rs) and
// the plain test `tests/fuzz_body.rs` (both `include!` this file).

/// Parses `data` as every supported form and checks that whatever parses prints back to
/// text that re-parses to the same thing. Panics on any inconsistency.
pub fn fuzz_parse(data: &[u8]) {
    match std::str::from_utf8(data) {
        Ok(s) => fuzz_parse_str(s),
        Err(_) => fuzz_parse_str(&String::from_utf8_lossy(data)),
    }
}

fn fuzz_parse_str(s: &str) {
    use gs1::ElementString;
    type Parser = fn(&str) -> Result<ElementString, gs1::Gs1Error>;
    let parsers: [Parser; 4] = [
        ElementString::parse,
        ElementString::parse_gs,
        ElementString::parse_brackets,
        ElementString::parse_digital_link,
    ];
    for parse in parsers {
        match parse(s) {
            Ok(es) => check_element_string(&es),
            Err(e) => check_error(&e),
        }
    }
    match gs1::epc::EpcTag::from_hex(s) {
        Ok(tag) => check_tag(&tag),
        Err(e) => check_error(&e),
    }
    match gs1::epc::EpcTag::parse_tag_uri(s) {
        Ok(tag) => check_tag(&tag),
        Err(e) => check_error(&e),
    }
    match gs1::epc::EpcId::parse_pure_uri(s) {
        Ok(id) => {
            assert_eq!(
                gs1::epc::EpcId::parse_pure_uri(&id.to_pure_uri()),
                Ok(id.clone())
            );
            let es = id.to_element_string();
            assert_eq!(
                gs1::epc::EpcId::from_element_string(&es, id.company_prefix_len()),
                Ok(id)
            );
        }
        Err(e) => check_error(&e),
    }
    match gs1::Gtin::parse(s) {
        Ok(g) => assert_eq!(gs1::Gtin::parse(&g.to_string()), Ok(g)),
        Err(e) => check_error(&e),
    }
    let _ = gs1::check_digit(s.as_bytes());
}

fn check_error(e: &gs1::Gs1Error) {
    assert!(!e.reason().is_empty());
    assert!(!e.to_string().is_empty());
}

fn sorted(es: &gs1::ElementString) -> Vec<(gs1::Ai, String)> {
    let mut v: Vec<(gs1::Ai, String)> = es.iter().map(|(a, v)| (a, v.to_owned())).collect();
    v.sort();
    v
}

fn check_element_string(es: &gs1::ElementString) {
    use gs1::ElementString;
    assert!(!es.is_empty());
    let gs = es.to_gs();
    assert_eq!(ElementString::parse_gs(&gs).as_ref(), Ok(es), "gs {gs:?}");
    assert_eq!(ElementString::parse(&gs).as_ref(), Ok(es), "gs {gs:?}");
    let br = es.to_brackets();
    assert_eq!(
        ElementString::parse_brackets(&br).as_ref(),
        Ok(es),
        "brackets {br:?}"
    );
    assert_eq!(
        ElementString::parse(&br).as_ref(),
        Ok(es),
        "brackets {br:?}"
    );
    if let Ok(dl) = es.to_digital_link("https://example.com/stem") {
        let back = ElementString::parse_digital_link(&dl)
            .unwrap_or_else(|e| panic!("printed DL {dl:?} does not parse: {e}"));
        // The DL puts key and qualifiers first: same elements, maybe another order.
        assert_eq!(sorted(&back), sorted(es), "dl {dl:?}");
        assert_eq!(
            back.to_digital_link("https://example.com/stem").as_ref(),
            Ok(&dl)
        );
    }
    if let Some(code) = es.identification_code() {
        let id = ElementString::parse_gs(&code).expect("identification code parses");
        assert_eq!(id.gtin(), es.gtin());
        assert_eq!(id.serial(), es.serial());
    }
}

fn check_tag(tag: &gs1::epc::EpcTag) {
    use gs1::epc::EpcTag;
    assert_eq!(EpcTag::from_hex(&tag.to_hex()).as_ref(), Ok(tag));
    assert_eq!(EpcTag::parse_tag_uri(&tag.to_tag_uri()).as_ref(), Ok(tag));
    let id = tag.id();
    assert_eq!(
        gs1::epc::EpcId::parse_pure_uri(&id.to_pure_uri()).as_ref(),
        Ok(id)
    );
}
