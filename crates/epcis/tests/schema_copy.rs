//! `schema/EPCIS-JSON-Schema.json`, the schema `epcis::schema` embeds, is a byte-for-byte
//! copy of GS1's `EPCIS-JSON-Schema.json` in `../shared/data/gs1/epcis` (`SOURCE.txt` there
//! says which commit of gs1/EPCIS); `TRACEMARK_REGENERATE=1` copies it again.

mod common;

#[test]
fn the_embedded_schema_is_gs1s() {
    let Some(path) = common::shared(
        "gs1/epcis/EPCIS-JSON-Schema.json",
        "the embedded schema's check",
    ) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    common::check_generated("schema/EPCIS-JSON-Schema.json", &bytes, "schema_copy");
    assert_eq!(
        epcis::schema::EPCIS_JSON_SCHEMA.as_bytes(),
        bytes.as_slice()
    );
}
