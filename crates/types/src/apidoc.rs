//! OpenAPI schemas for fields whose Rust type says less than the API does: words kept as
//! `&'static str`, JSON values of a few accepted shapes, free-form objects. The types of
//! the API derive `utoipa::ToSchema` and point here with `#[schema(schema_with = …)]`.

use crate::model::{DocType, Reason};
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;

/// An Ed25519 public key: standard base64 (padded) of 32 bytes.
pub const PUBLIC_KEY_PATTERN: &str = r"^\s*[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\s*$";

/// A GTIN: 8, 12, 13 or 14 digits (the length and the check digit are checked too: a wrong
/// one is refused with 422 naming the fault).
pub const GTIN_PATTERN: &str = r"^\s*[0-9]{8,14}\s*$";

/// A Russian taxpayer identification number: 10 digits (a company) or 12 (a person).
pub const TIN_PATTERN: &str = r"^[0-9]{10}([0-9]{2})?$";

/// An RFC 3339 timestamp the registry takes: 1970 to 9999, `T`, seconds, an optional
/// fraction, `Z` or an offset. (Days 29 to 31 are valid too; the pattern leaves them out
/// so that a generated value is never a 31 February.)
pub const TIMESTAMP_PATTERN: &str = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$";

/// A date `YYYY-MM-DD` (1970 to 9999; see [`TIMESTAMP_PATTERN`] for the days).
pub const DATE_PATTERN: &str =
    r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";

/// A string matching `pattern`.
fn patterned(pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// A GTIN ([`GTIN_PATTERN`]).
pub fn gtin() -> RefOr<Schema> {
    patterned(GTIN_PATTERN, "GTIN: 8, 12, 13 or 14 digits")
}

/// An Ed25519 public key ([`PUBLIC_KEY_PATTERN`]).
pub fn public_key() -> RefOr<Schema> {
    patterned(
        PUBLIC_KEY_PATTERN,
        "Ed25519 public key: standard base64 of 32 bytes",
    )
}

/// An RFC 3339 timestamp ([`TIMESTAMP_PATTERN`]).
pub fn timestamp() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(TIMESTAMP_PATTERN))
        .description(Some("An RFC 3339 timestamp, e.g. 2026-11-29T10:00:00Z"))
        .into()
}

/// GS1 company prefixes: at most 100, each 4 to 12 digits.
pub fn prefixes() -> RefOr<Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*[0-9]{4,12}\s*$")),
        )
        .max_items(Some(100))
        .description(Some(
            "GS1 company prefixes, 4 to 12 digits each (at most 100)",
        ))
        .into()
}

/// A string that is one of `words`.
pub fn words(words: &[&'static str], description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .description(Some(description))
}

/// A free-form JSON object or null (product attributes: the only schema of the API without
/// named properties, marked free-form by `additionalProperties: true`).
pub fn free_form_object_or_null() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Object,
            Type::Null,
        ]))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .description(Some("Free-form JSON object"))
        .into()
}

/// A point in time as Unix seconds or an RFC 3339 timestamp (or null: now).
pub fn unix_or_rfc3339() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
                .maximum(Some(crate::time::TIMESTAMP_MAX as f64))
                .description(Some("Unix seconds (at most 9999-12-31T23:59:59Z)")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some("RFC 3339 timestamp")),
        )
        .description(Some(
            "Accepted from: Unix seconds or RFC 3339; now when absent. The previous key stops \
             when this one starts.",
        ))
        .into()
}

/// A receipt number: the fiscal document number as a number or a string.
pub fn integer_or_string() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(
            "Receipt number (fiscal document number), a number or a string",
        ))
        .into()
}

/// The crypto tail an order asks for.
pub fn order_tail() -> RefOr<Schema> {
    words(
        &["mac", "signature", "short"],
        "Crypto tail: `mac` (AI 91 + 92, registry MAC), `signature` (AI 91 + 92, Ed25519, \
         checkable offline) or `short` (AI 93, 4 characters)",
    )
    .into()
}

/// The type word of a submitted document (every [`DocType`] but `emit`).
pub fn document_type() -> RefOr<Schema> {
    let names: Vec<&'static str> = (1..=u8::MAX)
        .map_while(DocType::from_u8)
        .map(DocType::name)
        .collect();
    words(&names, "Document type").into()
}

/// A public verification verdict.
pub fn verdict() -> RefOr<Schema> {
    words(
        &[
            "genuine",
            "sold",
            "recalled",
            "expired",
            "not_in_circulation",
            "unknown",
            "forged",
            "unverified",
        ],
        "`genuine`, `sold`, `recalled`, `expired`, `not_in_circulation`, `unknown`, \
         `forged`, `unverified` (in circulation, but presented without its crypto tail)",
    )
    .into()
}

/// The status of an accepted document: always `accepted`.
pub fn accepted() -> RefOr<Schema> {
    words(&["accepted"], "Always `accepted`").into()
}

impl utoipa::PartialSchema for Reason {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&'static str> = Reason::ALL.iter().map(|r| r.name()).collect();
        words(
            &names,
            "Why a code left circulation (RETIRED) or was written off",
        )
        .into()
    }
}

/// Named `RetirementReason` in the OpenAPI document: `risk::Reason` (a part of a risk
/// score) is another type of the API with the same Rust name.
impl utoipa::ToSchema for Reason {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("RetirementReason")
    }
}
