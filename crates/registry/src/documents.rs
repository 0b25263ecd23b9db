//! Documents as read: the body parsed (its codes parsed too, outside the writer), its
//! type word, what a stored document answers. The rules that check and apply them are in
//! [`crate::rules`].
//!
//! Each document runs as one writer job: it is parsed, checked against the current state
//! (every bad code collected with its reason), and only if nothing is wrong applied in
//! full. Packages listed in a document act on everything they hold; a code listed while
//! inside a package is taken out of it first.

use serde::{Deserialize, Serialize};
use types::codes::{parse_code, ParsedCode};
use types::error::{Error, Result};
pub use types::limits::{
    DOC_CODES_EXPANDED_MAX, DOC_CODES_MAX, RECEIPT_AGE_MAX_SECS, TEXT_LEN_MAX,
};
use types::model::{CodeKey, DocType, SignedRequest, StoredDocument};
use uuid::Uuid;

/// A fiscal receipt of a sale.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Fiscal drive number.
    pub fiscal_drive: String,
    /// Receipt number (fiscal document number).
    #[schema(schema_with = types::apidoc::integer_or_string)]
    pub number: serde_json::Value,
    /// When sold (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
    /// Store (address or id).
    pub store: String,
}

/// A code as listed in a document: the text sent and what it parses to. Parsing happens
/// while the JSON is read, in the submitting thread, not in the single writer.
#[derive(Clone, Debug)]
pub struct CodeText {
    /// The code as sent.
    pub text: String,
    /// The parsed code, or the stable reason it does not parse.
    pub parsed: std::result::Result<ParsedCode, &'static str>,
}

impl<'de> Deserialize<'de> for CodeText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = parse_code(&text).map_err(|(reason, _)| reason);
        Ok(CodeText { text, parsed })
    }
}

/// The body of `POST /api/v1/documents`, all types in one shape: `id` and `type`, then the
/// fields of that type (each field says which types take it; any other is refused). Codes
/// travel as JSON strings: GS written `\u001d`, bracketed `(01)…(21)…`, or GS1 Digital Link
/// URIs.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    /// Client-chosen UUID: the idempotency key.
    pub id: Uuid,
    /// Document type.
    #[serde(rename = "type")]
    #[schema(schema_with = types::apidoc::document_type)]
    pub doc_type: String,
    /// Codes acted on: `apply`, `introduce`, `import`, `ship`, `sell`, `return`,
    /// `write_off`, `withdraw`; `remark`: the damaged ones. Unit codes or packages (acting on
    /// everything inside).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 30000)]
    pub codes: Option<Vec<CodeText>>,
    /// `introduce`: production date.
    #[serde(default)]
    #[schema(format = Date)]
    pub production_date: Option<String>,
    /// `introduce`/`import`: expiry date.
    #[serde(default)]
    #[schema(format = Date)]
    pub expiry_date: Option<String>,
    /// `introduce`/`import`: batch or lot.
    #[serde(default)]
    pub batch: Option<String>,
    /// `import`: customs declaration number.
    #[serde(default)]
    pub customs_declaration: Option<String>,
    /// `aggregate`: the package.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent: Option<CodeText>,
    /// `aggregate`: what goes in.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 30000)]
    pub children: Option<Vec<CodeText>>,
    /// `disaggregate`: packages to dissolve.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 30000)]
    pub parents: Option<Vec<CodeText>>,
    /// `ship`: receiver's TIN.
    #[serde(default)]
    pub receiver: Option<String>,
    /// `accept`: the ship document's id.
    #[serde(default)]
    pub shipment: Option<Uuid>,
    /// `accept`: codes refused.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 30000)]
    pub reject: Option<Vec<CodeText>>,
    /// `sell`: the fiscal receipt.
    #[serde(default)]
    pub receipt: Option<Receipt>,
    /// `sell`: request ids of till checks.
    #[serde(default)]
    pub check_ids: Option<Vec<String>>,
    /// `return`, `write_off`, `withdraw`: reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// `remark`: the new codes, pairwise with `codes` (the damaged ones).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 30000)]
    pub replacements: Option<Vec<CodeText>>,
}

/// The answer to an accepted document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DocAnswer {
    /// Document id.
    pub id: Uuid,
    /// Always `accepted`.
    #[schema(schema_with = types::apidoc::accepted)]
    pub status: &'static str,
    /// Codes changed (packages expanded).
    pub codes: u64,
    /// Global sequence number.
    pub seq: u64,
}

impl DocAnswer {
    /// The answer of a stored document.
    pub fn of(d: &StoredDocument) -> DocAnswer {
        DocAnswer {
            id: d.id,
            status: "accepted",
            codes: d.codes,
            seq: d.seq,
        }
    }
}

/// Parses a document's type word.
pub fn doc_type(word: &str) -> Option<DocType> {
    // Every type but `emit`, which only the registry writes.
    (1..=u8::MAX)
        .map_while(DocType::from_u8)
        .find(|t| t.name() == word)
}

/// A document read and hashed outside the writer, ready to be checked and applied.
pub struct Prepared {
    /// The parsed body (its codes parsed too).
    pub raw: RawDocument,
    /// The exact bytes received.
    pub body: Vec<u8>,
    /// BLAKE3 of the bytes.
    pub body_hash: [u8; 32],
    /// The signed request it came in.
    pub request: SignedRequest,
    /// Its codes' states read ahead of the writer, if they were ([`crate::tx::Prefetched`]).
    pub prefetched: Option<crate::tx::Prefetched>,
    /// The captured EPCIS event it was made from (`crate::capture`), if it was.
    pub epcis: Option<EpcisOrigin>,
}

/// Where a document made from a captured EPCIS event comes from: the capture (its
/// `epcis_capture` document holds the signed body) and the event's place and hash in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpcisOrigin {
    /// The capture's id (its `epcis_capture` document).
    pub capture: Uuid,
    /// The event's index in the capture's event list.
    pub index: u32,
    /// The event's CBV 2.0 event hash.
    pub event_hash: String,
}

/// The stored body of a document made from a captured event: the document the registry
/// made of it and where it comes from. (The documents endpoint reads [`RawDocument`]
/// alone, with unknown fields refused, so no participant can send one.)
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapturedBody {
    epcis: EpcisOrigin,
    document: RawDocument,
}

impl RawDocument {
    /// The keys of every well-formed code the document names (listed, parent, children,
    /// parents, rejected, replacements), for reading their states ahead of the writer.
    pub fn listed_keys(&self) -> Vec<CodeKey> {
        let lists = [
            &self.codes,
            &self.children,
            &self.parents,
            &self.reject,
            &self.replacements,
        ];
        lists
            .into_iter()
            .flatten()
            .flatten()
            .chain(self.parent.iter())
            .filter_map(|c| c.parsed.as_ref().ok().map(|p| p.key))
            .collect()
    }
}

/// Reads a document: JSON, codes, hash. A malformed one is a 400 naming what is wrong.
pub fn prepare(body: Vec<u8>, request: SignedRequest) -> Result<Prepared> {
    let raw = parse_body(&body)?;
    let body_hash = *blake3::hash(&body).as_bytes();
    Ok(Prepared {
        raw,
        body,
        body_hash,
        request,
        prefetched: None,
        epcis: None,
    })
}

/// A participant's document as submitted: [`prepare`], its id not one of the registry's
/// own. Version 8 UUIDs are the ids the registry derives for captures and their events
/// (`crate::capture`): a participant who could choose one could take a capture's place.
pub fn prepare_submitted(body: Vec<u8>, request: SignedRequest) -> Result<Prepared> {
    let p = prepare(body, request)?;
    if p.raw.id.get_version_num() == 8 {
        return Err(Error::BadRequest(format!(
            "document id {} is a version 8 UUID: those are the registry's own (the documents \
             it makes of EPCIS captures); use a random one (version 4)",
            p.raw.id
        )));
    }
    Ok(p)
}

/// A document made from a captured event ([`EpcisOrigin`]): `{"epcis": …, "document": …}`.
pub fn prepare_captured(body: Vec<u8>, request: SignedRequest) -> Result<Prepared> {
    let c: CapturedBody = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("a captured event's document is not valid: {e}")))?;
    let body_hash = *blake3::hash(&body).as_bytes();
    Ok(Prepared {
        raw: c.document,
        body,
        body_hash,
        request,
        prefetched: None,
        epcis: Some(c.epcis),
    })
}

/// Where a stored document made from a captured event comes from (`None` for any other).
pub fn stored_origin(body: &[u8]) -> Option<EpcisOrigin> {
    if !body.starts_with(b"{\"epcis\"") {
        return None;
    }
    serde_json::from_slice::<CapturedBody>(body)
        .ok()
        .map(|c| c.epcis)
}

/// A stored document's body as the document it is: a participant's, or the one the
/// registry made from a captured event (its origin left aside).
pub fn stored_body(body: &[u8]) -> Result<RawDocument> {
    if body.starts_with(b"{\"epcis\"") {
        let c: CapturedBody = serde_json::from_slice(body).map_err(|e| {
            Error::BadRequest(format!("a captured event's document is not valid: {e}"))
        })?;
        return Ok(c.document);
    }
    parse_body(body)
}

/// A stored document's body read again (`audit`'s replay): a participant's document or
/// one made from a captured event.
pub fn prepare_stored(body: Vec<u8>, request: SignedRequest) -> Result<Prepared> {
    if body.starts_with(b"{\"epcis\"") {
        prepare_captured(body, request)
    } else {
        prepare(body, request)
    }
}

/// Parses the body; a malformed one is a 400 naming what is wrong.
pub fn parse_body(body: &[u8]) -> Result<RawDocument> {
    let raw: RawDocument = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("document is not valid: {e}")))?;
    Ok(raw)
}
