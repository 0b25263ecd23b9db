//! Documents: parsing, the rules of a code's life (docs/domain.md) per type, and their
//! application.
//!
//! Each document runs as one writer job: it is parsed, checked against the current state
//! (every bad code collected with its reason), and only if nothing is wrong applied in
//! full. Packages listed in a document act on everything they hold; a code listed while
//! inside a package is taken out of it first.

use crate::blocks::BlockIndex;
use crate::feed::{
    kept_check_ids, Brief, DocFact, Fact, FactKey, LateSaleFact, RefusedCode, RefusedFact,
    LATE_CODES_KEPT_MAX,
};
use crate::tx::Tx;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::{Deserialize, Serialize};
use store::Store;
use types::codes::{parse_code, ParsedCode, PresentedTail};
use types::error::{CodeError, Error, Result};
pub use types::limits::{
    DOC_CODES_EXPANDED_MAX, DOC_CODES_MAX, RECEIPT_AGE_MAX_SECS, REFUSAL_CODES_KEPT_MAX,
    TEXT_LEN_MAX,
};
use types::model::{
    batch_hash, CodeKey, CodeState, DocType, Participant, ParticipantId, Reason, Role,
    SignedRequest, Status, StoredDocument, FLAG_IN_TRANSIT,
};
use types::time::{day_of, parse_date, parse_timestamp};
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
    })
}

/// Parses the body; a malformed one is a 400 naming what is wrong.
pub fn parse_body(body: &[u8]) -> Result<RawDocument> {
    let raw: RawDocument = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("document is not valid: {e}")))?;
    Ok(raw)
}

/// Context a document job needs besides the overlay.
pub struct DocContext<'r> {
    /// The submitter.
    pub actor: &'r Participant,
    /// Registry blocks (GTIN and batch level).
    pub blocks: &'r BlockIndex,
    /// Emission time-to-live in days by GTIN's product group, looked up by the caller.
    pub emitted_ttl_days: &'r dyn Fn(u64) -> Option<u32>,
    /// Participants by TIN (for `ship`).
    pub participant_by_tin: &'r dyn Fn(&str) -> Result<Option<Participant>>,
    /// Whether a presented tail matches the one issued for a code.
    pub tail_ok: &'r dyn Fn(&CodeState, &PresentedTail) -> bool,
    /// The participant holding the GS1 company prefix that starts these digits (a GTIN's 13
    /// after its indicator, an SSCC's 17 after its extension digit).
    pub prefix_holder: &'r dyn Fn(&str) -> Option<ParticipantId>,
}

struct Listed {
    text: String,
    parsed: ParsedCode,
}

struct Refusal {
    errors: Vec<CodeError>,
}

/// The detail of a refused document: `n` codes refused, of `of` listed when known, in
/// words that agree in number.
fn codes_refused(n: usize, of: Option<usize>) -> String {
    let what = match (n, of) {
        (1, Some(1)) => "the code was refused".to_string(),
        (n, Some(of)) if n == of => format!("all {of} codes were refused"),
        (1, Some(of)) => format!("1 of {of} codes was refused"),
        (n, Some(of)) => format!("{n} of {of} codes were refused"),
        (1, None) => "1 code was refused".to_string(),
        (n, None) => format!("{n} codes were refused"),
    };
    format!("{what}; nothing was changed")
}

impl Refusal {
    /// `Err` naming every bad code so far (the detail made from their number), else `Ok`.
    fn check(&mut self, detail: impl FnOnce(usize) -> String) -> Result<()> {
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(Error::Invalid {
            detail: detail(self.errors.len()),
            errors: std::mem::take(&mut self.errors),
        })
    }

    fn add(&mut self, code: &str, reason: &'static str) {
        self.errors.push(CodeError {
            code: code.to_string(),
            reason,
        });
    }
}

fn text_field(name: &str, v: &Option<String>, required: bool) -> Result<Option<String>> {
    match v {
        None if required => Err(Error::invalid(format!("`{name}` is required"))),
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Err(Error::invalid(format!("`{name}` is empty"))),
        Some(s) if s.len() > TEXT_LEN_MAX => Err(Error::invalid(format!(
            "`{name}` is longer than {TEXT_LEN_MAX} bytes"
        ))),
        Some(s) => Ok(Some(s.clone())),
    }
}

fn require_list<'a>(name: &str, v: &'a Option<Vec<CodeText>>) -> Result<&'a [CodeText]> {
    let list = v
        .as_deref()
        .ok_or_else(|| Error::invalid(format!("`{name}` is required")))?;
    if list.is_empty() {
        return Err(Error::invalid(format!("`{name}` is empty")));
    }
    if list.len() > DOC_CODES_MAX {
        return Err(Error::TooLarge(format!(
            "`{name}` lists {} codes; at most {DOC_CODES_MAX} per document",
            list.len()
        )));
    }
    Ok(list)
}

/// Parses a list of codes, collecting format errors and duplicates.
fn parse_list(list: &[CodeText], refusal: &mut Refusal) -> Vec<Listed> {
    let mut out = Vec::with_capacity(list.len());
    let mut seen = HashSet::with_capacity_and_hasher(list.len(), Default::default());
    for item in list {
        match &item.parsed {
            Ok(parsed) => {
                if seen.insert(parsed.key) {
                    out.push(Listed {
                        text: item.text.clone(),
                        parsed: parsed.clone(),
                    });
                } else {
                    refusal.add(&item.text, "duplicate_in_document");
                }
            }
            Err(reason) => refusal.add(&item.text, reason),
        }
    }
    out
}

fn role_for(t: DocType, a: &Participant) -> bool {
    use Role::*;
    let any = |rs: &[Role]| rs.iter().any(|r| a.has(*r));
    match t {
        DocType::Emit => false,
        DocType::Apply => any(&[Producer, Importer]),
        DocType::Introduce => any(&[Producer]),
        DocType::Import => any(&[Importer]),
        DocType::Aggregate | DocType::Disaggregate | DocType::Ship | DocType::Accept => {
            any(&[Producer, Importer, Wholesaler, Retailer])
        }
        DocType::Sell | DocType::Return => any(&[Retailer]),
        DocType::WriteOff | DocType::Withdraw | DocType::Remark => {
            any(&[Producer, Importer, Wholesaler, Retailer])
        }
    }
}

/// The checks every acting document makes on a code it changes.
fn common_checks<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    l: &Listed,
    refusal: &mut Refusal,
) -> store::StoreResult<Option<CodeState>> {
    let Some(st) = tx.code(&l.parsed.key)? else {
        refusal.add(&l.text, "unknown_code");
        return Ok(None);
    };
    // Ownership first: whether a tail is right is told only to the code's owner, so a
    // document cannot be used to guess another's tails.
    if st.owner != ctx.actor.id {
        refusal.add(&l.text, "not_owner");
        return Ok(None);
    }
    if l.parsed.tail != PresentedTail::None && !(ctx.tail_ok)(&st, &l.parsed.tail) {
        refusal.add(&l.text, "bad_crypto_tail");
        return Ok(None);
    }
    if st.in_transit() {
        refusal.add(&l.text, "in_transit");
        return Ok(None);
    }
    Ok(Some(st))
}

/// Whether a code (with its batch) is blocked at registry level or one by one.
pub fn is_blocked(blocks: &BlockIndex, key: &CodeKey, st: &CodeState) -> bool {
    st.blocks > 0 || key.gtin().is_some_and(|g| blocks.blocks(g, st.batch))
}

/// Runs one document against the overlay. On `Err` nothing was changed but a refusal record.
pub fn submit<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    doc: Prepared,
) -> Result<DocAnswer> {
    let Prepared {
        raw,
        body,
        body_hash,
        request,
        prefetched,
    } = doc;
    if let Some(p) = prefetched {
        tx.prefetched(p);
    }
    let body = &body[..];
    if let Some(existing) = tx.document(&raw.id)? {
        if existing.body_hash == body_hash && existing.participant == ctx.actor.id {
            return Ok(DocAnswer::of(&existing));
        }
        return Err(Error::Conflict(format!(
            "document {} exists with another body; a document id is used once",
            raw.id
        )));
    }
    let t = doc_type(&raw.doc_type).ok_or_else(|| {
        Error::BadRequest(format!(
            "unknown document type `{}`; one of apply, introduce, import, aggregate, \
             disaggregate, ship, accept, sell, return, write_off, withdraw, remark",
            raw.doc_type
        ))
    })?;
    if !role_for(t, ctx.actor) {
        let roles: Vec<&str> = ctx.actor.roles.iter().map(|r| r.name()).collect();
        return Err(Error::Forbidden(format!(
            "a participant with roles {} may not submit `{}` documents",
            roles.join(", "),
            t.name()
        )));
    }
    let result = plan(tx, ctx, t, &raw);
    let plan = match result {
        Ok(p) => p,
        Err(e) => {
            if let Error::Invalid { errors, .. } = &e {
                // Kept for risk control, bounded: a refused 30,000-code document costs a
                // few KiB of record, not its whole size.
                let kept: Vec<_> = errors.iter().take(REFUSAL_CODES_KEPT_MAX).collect();
                let summary = serde_json::json!({
                    "document": raw.id, "type": t.name(), "errors": kept,
                    "errors_total": errors.len(),
                });
                tx.refuse(ctx.actor.id, summary.to_string());
                let fact = refused_fact(tx, ctx, t, &raw, errors)?;
                tx.record(&fact);
            }
            return Err(e);
        }
    };
    // Every package list the plan edits is read now: applying it must not fail half-way.
    let mut lists: HashSet<CodeKey> = HashSet::default();
    for (p, _) in plan.unlink.iter().chain(&plan.link) {
        if lists.insert(*p) {
            tx.children(p)?;
        }
    }
    let seq = tx.next_seq();
    tx.collect_units();
    let applied = plan.apply(tx, seq, t, ctx.actor.id);
    let units = tx.take_units();
    let codes = applied?;
    let doc = tx.put_document(StoredDocument {
        id: raw.id,
        seq,
        doc_type: t,
        participant: ctx.actor.id,
        received_at: tx.now,
        codes,
        body_hash,
        chain: [0; 32],
        signature: request.signature.clone(),
        request,
        log_index: None,
        body: body.to_vec(),
    });
    let mut sender = None;
    if let Some(ship) = plan.closes_shipment {
        sender = tx.document(&ship)?.map(|d| d.participant);
        tx.close_shipment(ship, raw.id);
    }
    let receiver = match (t, &raw.receiver) {
        (DocType::Ship, Some(tin)) => (ctx.participant_by_tin)(tin)?.map(|p| p.id),
        _ => None,
    };
    tx.record(&Fact::Document(DocFact {
        seq,
        id: raw.id,
        doc_type: t as u8,
        actor: ctx.actor.id,
        fiscal_at: fiscal_time(t, &raw),
        receiver,
        sender,
        check_ids: kept_check_ids(raw.check_ids.as_ref()),
        units,
    }));
    if !plan.late.is_empty() {
        tx.record(&Fact::LateSale(LateSaleFact {
            seq,
            id: raw.id,
            actor: ctx.actor.id,
            fiscal_at: fiscal_time(t, &raw).unwrap_or(tx.now),
            check_ids: kept_check_ids(raw.check_ids.as_ref()),
            codes: plan
                .late
                .iter()
                .take(LATE_CODES_KEPT_MAX)
                .map(|k| FactKey(*k))
                .collect(),
            total: u32::try_from(plan.late.len()).unwrap_or(u32::MAX),
        }));
    }
    Ok(DocAnswer::of(&doc))
}

/// A sale's fiscal time (`receipt.at`), for its feed fact; `None` for other documents or a
/// receipt whose time does not parse (such a sale is refused anyway).
fn fiscal_time(t: DocType, raw: &RawDocument) -> Option<u64> {
    (t == DocType::Sell)
        .then(|| raw.receipt.as_ref().and_then(|r| parse_timestamp(&r.at)))
        .flatten()
}

/// The feed's record of a refused document: each refused code kept (bounded) with the state
/// that refused it, read through the overlay as the document saw it.
fn refused_fact<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    t: DocType,
    raw: &RawDocument,
    errors: &[CodeError],
) -> Result<Fact> {
    let mut codes = Vec::with_capacity(errors.len().min(REFUSAL_CODES_KEPT_MAX));
    for e in errors.iter().take(REFUSAL_CODES_KEPT_MAX) {
        let key = parse_code(&e.code).ok().map(|p| p.key);
        let st = match &key {
            Some(k) => tx.code(k)?,
            None => None,
        };
        codes.push(RefusedCode {
            code: e.code.chars().take(200).collect(),
            key: key.map(FactKey),
            reason: e.reason.to_string(),
            state: Brief::of(st.as_ref()),
            last_event: st.map_or(0, |s| s.last_event),
            expiry_day: st.map_or(0, |s| s.expiry_day),
            receiver: st.filter(|s| s.in_transit()).map_or(0, |s| s.receiver),
        });
    }
    Ok(Fact::Refused(RefusedFact {
        actor: ctx.actor.id,
        id: raw.id,
        doc_type: t as u8,
        fiscal_at: fiscal_time(t, raw),
        check_ids: kept_check_ids(raw.check_ids.as_ref()),
        codes,
        codes_total: u32::try_from(errors.len()).unwrap_or(u32::MAX),
    }))
}

/// What a checked document will do.
#[derive(Default)]
struct Plan {
    /// Codes changing state: key → new state (without event bookkeeping).
    changes: Vec<(CodeKey, CodeState)>,
    /// Links to remove before the changes (listed codes taken out of their packages).
    unlink: Vec<(CodeKey, CodeKey)>,
    /// Links to add.
    link: Vec<(CodeKey, CodeKey)>,
    /// Packages whose child count changes but which get no event: key → new state.
    touched: Vec<(CodeKey, CodeState)>,
    /// Shipment this document closes.
    closes_shipment: Option<Uuid>,
    /// Codes to record under blocks (a replacement under its damaged code's blocks).
    block_codes: Vec<(u64, CodeKey)>,
    /// A sale's unit codes that were sellable at the receipt's time but had expired by the
    /// time it was reported (accepted: the sale happened before; recorded for risk control).
    late: Vec<CodeKey>,
}

impl Plan {
    fn apply<S: Store + ?Sized>(
        &self,
        tx: &mut Tx<'_, S>,
        seq: u64,
        t: DocType,
        actor: u32,
    ) -> Result<u64> {
        for (p, c) in &self.unlink {
            tx.unlink(*p, *c)?;
        }
        for (p, c) in &self.link {
            tx.link(*p, *c)?;
        }
        for (k, st) in &self.touched {
            tx.put_code(*k, *st);
        }
        for (k, st) in &self.changes {
            tx.transition(*k, *st, seq, t, actor);
        }
        for (b, k) in &self.block_codes {
            tx.put_block_code(*b, *k);
        }
        Ok(self.changes.len() as u64)
    }
}

/// Whether the actor may form a new SSCC: a producer only within its own GS1 company
/// prefixes; anyone else not within a prefix another participant holds.
fn sscc_prefix_ok(ctx: &DocContext<'_>, key: &CodeKey) -> bool {
    let Some(n) = key.sscc_number() else {
        return true;
    };
    let digits = format!("{n:018}");
    match (ctx.prefix_holder)(&digits[1..]) {
        Some(h) => h == ctx.actor.id,
        None => !ctx.actor.has(Role::Producer),
    }
}

/// Why a blocked (recalled) or expired code may not be shipped or withdrawn, if it may not
/// (docs/domain.md, "A code's life"): such goods may only be written off, or shipped back to
/// their producer; a blocked code is withdrawn only for destruction, recall or confiscation,
/// and an expired one never in a sale-like way (distance sale, export, donation, own use,
/// samples).
fn movement_ban(
    ctx: &DocContext<'_>,
    t: DocType,
    key: &CodeKey,
    st: &CodeState,
    receiver: Option<ParticipantId>,
    reason: Option<Reason>,
    today: u32,
) -> Option<&'static str> {
    let expired = st.expiry_day != 0 && st.expiry_day < today;
    let blocked = is_blocked(ctx.blocks, key, st);
    match t {
        DocType::Ship if receiver == Some(st.producer) => None,
        DocType::Ship if blocked => Some("blocked"),
        DocType::Ship if expired => Some("expired"),
        DocType::Withdraw => {
            let r = reason?;
            if blocked && !r.allowed_when_blocked() {
                Some("blocked")
            } else if expired && r.sale_like() {
                Some("expired")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Checks a document and plans its changes, reading through the overlay but writing nothing.
fn plan<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    t: DocType,
    raw: &RawDocument,
) -> Result<Plan> {
    match t {
        DocType::Aggregate => return plan_aggregate(tx, ctx, raw),
        DocType::Disaggregate => return plan_disaggregate(tx, ctx, raw),
        DocType::Accept => return plan_accept(tx, ctx, raw),
        DocType::Remark => return plan_remark(tx, ctx, raw),
        _ => {}
    }
    let list = require_list("codes", &raw.codes)?;
    let now = tx.now;
    let today = day_of(now);
    // Document-level fields first: a bad field refuses before any code is looked at.
    let mut receiver = None;
    let mut reason = None;
    let mut intro = (0u32, 0u32, 0u64);
    let mut sold_at = now;
    match t {
        DocType::Introduce | DocType::Import => {
            if t == DocType::Import {
                text_field("customs_declaration", &raw.customs_declaration, true)?;
            }
            let prod = match &raw.production_date {
                Some(d) => parse_date(d).ok_or_else(|| {
                    Error::invalid(format!("`production_date` {d:?} is not a date YYYY-MM-DD"))
                })?,
                None if t == DocType::Introduce => {
                    return Err(Error::invalid("`production_date` is required"))
                }
                None => 0,
            };
            if prod > today + 1 {
                return Err(Error::invalid("`production_date` is in the future"));
            }
            let exp = match &raw.expiry_date {
                Some(d) => parse_date(d).ok_or_else(|| {
                    Error::invalid(format!("`expiry_date` {d:?} is not a date YYYY-MM-DD"))
                })?,
                None => 0,
            };
            if exp != 0 && exp < prod {
                return Err(Error::invalid("`expiry_date` is before `production_date`"));
            }
            let batch = text_field("batch", &raw.batch, false)?;
            intro = (prod, exp, batch.as_deref().map_or(0, batch_hash));
        }
        DocType::Ship => {
            let tin = text_field("receiver", &raw.receiver, true)?.unwrap_or_default();
            let r = (ctx.participant_by_tin)(&tin)?
                .ok_or_else(|| Error::invalid(format!("receiver {tin} is not a participant")))?;
            if r.id == ctx.actor.id {
                return Err(Error::invalid("a participant cannot ship to itself"));
            }
            if !role_for(DocType::Accept, &r) {
                return Err(Error::invalid(format!(
                    "receiver {tin} cannot accept goods"
                )));
            }
            receiver = Some(r.id);
        }
        DocType::Sell => {
            let rc = raw
                .receipt
                .as_ref()
                .ok_or_else(|| Error::invalid("`receipt` is required"))?;
            text_field("receipt.fiscal_drive", &Some(rc.fiscal_drive.clone()), true)?;
            text_field("receipt.store", &Some(rc.store.clone()), true)?;
            if !(rc.number.is_u64() || rc.number.as_str().is_some_and(|s| !s.is_empty())) {
                return Err(Error::invalid(
                    "`receipt.number` must be a number or a string",
                ));
            }
            sold_at = parse_timestamp(&rc.at).ok_or_else(|| {
                Error::invalid(format!(
                    "`receipt.at` {:?} is not an RFC 3339 timestamp",
                    rc.at
                ))
            })?;
            if sold_at > now + 3600 {
                return Err(Error::invalid("`receipt.at` is in the future"));
            }
            if sold_at + RECEIPT_AGE_MAX_SECS < now {
                return Err(Error::invalid(format!(
                    "`receipt.at` is more than {} days old: fiscal receipts are reported within that",
                    RECEIPT_AGE_MAX_SECS / 86_400
                )));
            }
            if let Some(ids) = &raw.check_ids {
                if ids.len() > DOC_CODES_MAX {
                    return Err(Error::TooLarge("too many `check_ids`".into()));
                }
            }
        }
        DocType::Return => {
            let w = text_field("reason", &raw.reason, true)?.unwrap_or_default();
            let r = Reason::parse(&w)
                .filter(|r| r.returnable())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "return `reason` {w:?} is not one of retail, distance"
                    ))
                })?;
            reason = Some(r);
        }
        DocType::WriteOff | DocType::Withdraw => {
            let w = text_field("reason", &raw.reason, true)?.unwrap_or_default();
            let ok = |r: &Reason| {
                if t == DocType::WriteOff {
                    r.write_off_allowed()
                } else {
                    r.withdrawable()
                }
            };
            let allowed: Vec<&str> = Reason::ALL
                .iter()
                .filter(|r| ok(r))
                .map(|r| r.name())
                .collect();
            reason = Some(Reason::parse(&w).filter(ok).ok_or_else(|| {
                Error::invalid(format!(
                    "`reason` {w:?} is not allowed for {}; one of {}",
                    t.name(),
                    allowed.join(", ")
                ))
            })?);
        }
        _ => {}
    }

    let mut refusal = Refusal { errors: Vec::new() };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let listed_set: HashSet<CodeKey> = keys.iter().copied().collect();
    let mut plan = Plan::default();
    let mut expanded: Vec<CodeKey> = Vec::new();
    let mut parents: HashMap<CodeKey, CodeState> = HashMap::default();
    for l in &listed {
        let Some(st) = common_checks(tx, ctx, l, &mut refusal)? else {
            continue;
        };
        let bad = match t {
            DocType::Apply => {
                if st.status != Status::Emitted {
                    Some("wrong_status")
                } else if l
                    .parsed
                    .key
                    .gtin()
                    .and_then(|g| (ctx.emitted_ttl_days)(g))
                    .is_some_and(|ttl| st.emitted_day.saturating_add(ttl) < today)
                {
                    Some("expired")
                } else {
                    None
                }
            }
            DocType::Introduce | DocType::Import => {
                (st.status != Status::Applied).then_some("wrong_status")
            }
            DocType::Ship | DocType::Withdraw => {
                if st.status != Status::Introduced {
                    Some("wrong_status")
                } else {
                    movement_ban(ctx, t, &l.parsed.key, &st, receiver, reason, today)
                }
            }
            DocType::Sell => {
                if st.status == Status::Retired && st.reason == Some(Reason::Retail) {
                    Some("already_sold")
                } else if st.status != Status::Introduced {
                    Some("not_in_circulation")
                } else if is_blocked(ctx.blocks, &l.parsed.key, &st) {
                    Some("blocked")
                } else if st.expiry_day != 0 && st.expiry_day < day_of(sold_at) {
                    Some("expired")
                } else {
                    None
                }
            }
            DocType::Return => {
                if st.status != Status::Retired || !st.reason.is_some_and(Reason::returnable) {
                    Some("wrong_status")
                } else if st.reason != reason {
                    Some("reason_mismatch")
                } else {
                    None
                }
            }
            DocType::WriteOff => (!matches!(st.status, Status::Applied | Status::Introduced))
                .then_some("wrong_status"),
            _ => None,
        };
        if let Some(r) = bad {
            refusal.add(&l.text, r);
            continue;
        }
        // A code inside a package that is itself listed acts twice.
        let mut anc = st.parent;
        let mut nested = false;
        while let Some(p) = anc {
            if listed_set.contains(&p) {
                nested = true;
                break;
            }
            anc = tx.code(&p)?.and_then(|s| s.parent);
        }
        if nested {
            refusal.add(&l.text, "duplicate_in_document");
            continue;
        }
        if let Some(p) = st.parent {
            let mut ps = match parents.get(&p) {
                Some(s) => *s,
                None => tx.code(&p)?.unwrap_or(st),
            };
            ps.children = ps.children.saturating_sub(1);
            parents.insert(p, ps);
            plan.unlink.push((p, l.parsed.key));
        }
        let before = expanded.len();
        expanded.push(l.parsed.key);
        tx.descendants(&l.parsed.key, &mut expanded)?;
        if expanded.len() > DOC_CODES_EXPANDED_MAX {
            return Err(Error::TooLarge(format!(
                "the document would change more than {DOC_CODES_EXPANDED_MAX} codes"
            )));
        }
        // The contents of a package share its status and owner; check them all the same.
        tx.load(&expanded[before + 1..])?;
        for k in &expanded[before + 1..] {
            let ok = tx
                .code(k)?
                .is_some_and(|c| c.owner == st.owner && c.status == st.status && !c.in_transit());
            if !ok {
                refusal.add(&l.text, "package_inconsistent");
                break;
            }
            if matches!(t, DocType::Sell | DocType::Ship | DocType::Withdraw) {
                if let Some(c) = tx.code(k)? {
                    let ban = if t == DocType::Sell {
                        if is_blocked(ctx.blocks, k, &c) {
                            Some("blocked")
                        } else {
                            (c.expiry_day != 0 && c.expiry_day < day_of(sold_at))
                                .then_some("expired")
                        }
                    } else {
                        movement_ban(ctx, t, k, &c, receiver, reason, today)
                    };
                    if let Some(r) = ban {
                        refusal.add(&l.text, r);
                        break;
                    }
                }
            }
        }
    }
    refusal.check(|n| codes_refused(n, Some(list.len())))?;
    // `parents`: packages losing listed codes, with their new child count (hash look-ups:
    // a document may take 30,000 units out of as many boxes).
    let listed_keys: HashSet<CodeKey> = listed_set;
    let mut changed: HashSet<CodeKey> = HashSet::default();
    for k in expanded {
        let Some(mut st) = tx.code(&k)? else { continue };
        changed.insert(k);
        if t == DocType::Sell && st.expiry_day != 0 && st.expiry_day < today {
            // Not expired at the receipt's time (that is refused above), expired now: a
            // receipt reported late, or dated back to get past the expiry.
            plan.late.push(k);
        }
        if listed_keys.contains(&k) {
            st.parent = None;
        }
        if let Some(touched) = parents.get(&k) {
            st.children = touched.children;
        }
        match t {
            DocType::Apply => st.status = Status::Applied,
            DocType::Introduce | DocType::Import => {
                st.status = Status::Introduced;
                st.production_day = intro.0;
                st.expiry_day = intro.1;
                st.batch = intro.2;
            }
            DocType::Ship => {
                st.flags |= FLAG_IN_TRANSIT;
                st.receiver = receiver.unwrap_or(0);
                st.shipment = 0; // set below, once the sequence number is known
            }
            DocType::Sell => {
                st.status = Status::Retired;
                st.reason = Some(Reason::Retail);
            }
            DocType::Return => {
                st.status = Status::Introduced;
                st.reason = None;
            }
            DocType::WriteOff => {
                st.status = Status::WrittenOff;
                st.reason = reason;
            }
            DocType::Withdraw => {
                st.status = Status::Retired;
                st.reason = reason;
            }
            _ => {}
        }
        st.changed_at = if t == DocType::Sell { sold_at } else { now };
        plan.changes.push((k, st));
    }
    // Packages that lost codes but do not change themselves get their new child count alone
    // (those that change carry it in `changes`).
    plan.touched = parents
        .into_iter()
        .filter(|(p, _)| !changed.contains(p))
        .collect();
    if t == DocType::Ship {
        let seq = tx.state.next_seq;
        for (_, st) in &mut plan.changes {
            st.shipment = seq;
        }
    }
    Ok(plan)
}

fn plan_aggregate<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let parent_item = raw
        .parent
        .as_ref()
        .ok_or_else(|| Error::invalid("`parent` is required"))?;
    let parent_text = parent_item.text.clone();
    let list = require_list("children", &raw.children)?;
    let mut refusal = Refusal { errors: Vec::new() };
    let parent = match &parent_item.parsed {
        Ok(p) => Some(p.clone()),
        Err(r) => {
            refusal.add(&parent_text, r);
            None
        }
    };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let child_set: HashSet<CodeKey> = keys.iter().copied().collect();
    let mut status = None;
    let mut expiry = 0u32;
    let mut states = Vec::with_capacity(listed.len());
    for l in &listed {
        let Some(st) = common_checks(tx, ctx, l, &mut refusal)? else {
            continue;
        };
        if parent.as_ref().is_some_and(|p| p.key == l.parsed.key) {
            refusal.add(&l.text, "cycle");
            continue;
        }
        if st.parent.is_some() {
            refusal.add(&l.text, "in_aggregate");
            continue;
        }
        if !matches!(st.status, Status::Applied | Status::Introduced) {
            refusal.add(&l.text, "wrong_status");
            continue;
        }
        match status {
            None => status = Some(st.status),
            Some(s) if s != st.status => {
                refusal.add(&l.text, "status_mismatch");
                continue;
            }
            _ => {}
        }
        if st.expiry_day != 0 && (expiry == 0 || st.expiry_day < expiry) {
            expiry = st.expiry_day;
        }
        states.push((l.parsed.key, st));
    }
    let mut parent_state = None;
    if let Some(p) = &parent {
        let pk = p.key;
        match tx.code(&pk)? {
            None if pk.is_sscc() && !sscc_prefix_ok(ctx, &pk) => {
                refusal.add(&parent_text, "foreign_prefix");
            }
            None if pk.is_sscc() => {
                let mut st =
                    CodeState::new(status.unwrap_or(Status::Introduced), ctx.actor.id, tx.now);
                st.producer = ctx.actor.id;
                parent_state = Some(st);
            }
            None => refusal.add(&parent_text, "unknown_code"),
            Some(st) => {
                if st.owner != ctx.actor.id {
                    refusal.add(&parent_text, "not_owner");
                } else if st.in_transit() {
                    refusal.add(&parent_text, "in_transit");
                } else if status.is_some_and(|s| s != st.status) {
                    refusal.add(&parent_text, "status_mismatch");
                } else {
                    // The parent may not sit inside one of its new children.
                    let mut anc = st.parent;
                    let mut cycle = false;
                    while let Some(a) = anc {
                        if child_set.contains(&a) {
                            cycle = true;
                            break;
                        }
                        anc = tx.code(&a)?.and_then(|s| s.parent);
                    }
                    if cycle {
                        refusal.add(&parent_text, "cycle");
                    } else {
                        parent_state = Some(st);
                    }
                }
            }
        }
    }
    refusal.check(|n| codes_refused(n, None))?;
    let (Some(p), Some(mut ps)) = (parent, parent_state) else {
        return Err(Error::invalid("`parent` is required"));
    };
    let mut plan = Plan::default();
    ps.children += states.len() as u32;
    if expiry != 0 && (ps.expiry_day == 0 || expiry < ps.expiry_day) {
        ps.expiry_day = expiry;
    }
    ps.changed_at = tx.now;
    // The packages holding the parent hold the new contents too: their expiry is the
    // earliest of everything inside.
    let mut anc = ps.parent;
    while let Some(a) = anc {
        let Some(mut st) = tx.code(&a)? else { break };
        anc = st.parent;
        if expiry != 0 && (st.expiry_day == 0 || expiry < st.expiry_day) {
            st.expiry_day = expiry;
            plan.touched.push((a, st));
        }
    }
    for (k, mut st) in states {
        st.parent = Some(p.key);
        plan.link.push((p.key, k));
        plan.changes.push((k, st));
    }
    plan.changes.push((p.key, ps));
    Ok(plan)
}

fn plan_disaggregate<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let list = require_list("parents", &raw.parents)?;
    let mut refusal = Refusal { errors: Vec::new() };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let mut plan = Plan::default();
    // A package listed with the package holding it changes once, with both effects.
    let mut index: HashMap<CodeKey, usize> = HashMap::default();
    let mut change = |plan: &mut Plan, k: CodeKey, st: CodeState, f: &dyn Fn(&mut CodeState)| {
        match index.get(&k) {
            Some(&i) => f(&mut plan.changes[i].1),
            None => {
                let mut st = st;
                f(&mut st);
                index.insert(k, plan.changes.len());
                plan.changes.push((k, st));
            }
        }
    };
    for l in &listed {
        let Some(st) = common_checks(tx, ctx, l, &mut refusal)? else {
            continue;
        };
        if st.children == 0 {
            refusal.add(&l.text, "not_a_package");
            continue;
        }
        let kids = tx.children(&l.parsed.key)?;
        tx.load(&kids)?;
        for c in kids {
            if let Some(cs) = tx.code(&c)? {
                plan.unlink.push((l.parsed.key, c));
                change(&mut plan, c, cs, &|s| s.parent = None);
            }
        }
        change(&mut plan, l.parsed.key, st, &|s| s.children = 0);
    }
    refusal.check(|_| "packages refused; nothing was changed".into())?;
    let now = tx.now;
    for (_, st) in &mut plan.changes {
        st.changed_at = now;
    }
    Ok(plan)
}

fn plan_accept<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let ship_id = raw
        .shipment
        .ok_or_else(|| Error::invalid("`shipment` is required"))?;
    let ship = tx
        .document(&ship_id)?
        .filter(|d| d.doc_type == DocType::Ship)
        .ok_or_else(|| Error::invalid(format!("no ship document {ship_id}")))?;
    let ship_raw = parse_body(&ship.body)?;
    let receiver_tin = ship_raw.receiver.clone().unwrap_or_default();
    if receiver_tin != ctx.actor.tin {
        return Err(Error::Forbidden(format!(
            "shipment {ship_id} is not addressed to you"
        )));
    }
    if let Some(by) = tx.shipment_closed_by(&ship_id)? {
        return Err(Error::Conflict(format!(
            "shipment {ship_id} was already accepted by document {by}"
        )));
    }
    // Everything in the shipment, as it is now (in-transit codes cannot change).
    let mut all = Vec::new();
    for item in ship_raw.codes.as_deref().unwrap_or(&[]) {
        if let Ok(p) = &item.parsed {
            all.push(p.key);
            tx.descendants(&p.key, &mut all)?;
        }
    }
    tx.load(&all)?;
    let in_shipment: HashSet<CodeKey> = all.iter().copied().collect();
    let mut refusal = Refusal { errors: Vec::new() };
    let rejected_listed = match &raw.reject {
        Some(list) if list.len() > DOC_CODES_MAX => {
            return Err(Error::TooLarge("too many codes in `reject`".into()))
        }
        Some(list) => parse_list(list, &mut refusal),
        None => Vec::new(),
    };
    let rejected_keys: HashSet<CodeKey> = rejected_listed.iter().map(|l| l.parsed.key).collect();
    let mut rejected: HashSet<CodeKey> = HashSet::default();
    let mut plan = Plan::default();
    let mut parents: HashMap<CodeKey, CodeState> = HashMap::default();
    for l in &rejected_listed {
        let k = l.parsed.key;
        let st = tx.code(&k)?;
        match st {
            Some(st) if in_shipment.contains(&k) && st.shipment == ship.seq && st.in_transit() => {
                if rejected.contains(&k) {
                    continue;
                }
                rejected.insert(k);
                let mut sub = Vec::new();
                tx.descendants(&k, &mut sub)?;
                rejected.extend(sub);
                // Taken out of a package that goes on to the receiver.
                if let Some(p) = st.parent {
                    if !rejected_keys.contains(&p) {
                        let mut ps = match parents.get(&p) {
                            Some(s) => *s,
                            None => tx.code(&p)?.unwrap_or(st),
                        };
                        ps.children = ps.children.saturating_sub(1);
                        parents.insert(p, ps);
                        plan.unlink.push((p, k));
                    }
                }
            }
            _ => refusal.add(&l.text, "not_in_shipment"),
        }
    }
    refusal.check(|_| "rejected codes refused; nothing was changed".into())?;
    let unlinked: HashSet<CodeKey> = plan.unlink.iter().map(|(_, c)| *c).collect();
    let now = tx.now;
    for k in all {
        let Some(mut st) = tx.code(&k)? else { continue };
        if !(st.in_transit() && st.shipment == ship.seq) {
            continue;
        }
        if let Some(ps) = parents.get(&k) {
            st.children = ps.children;
        }
        if unlinked.contains(&k) {
            st.parent = None;
        }
        if !rejected.contains(&k) {
            st.owner = ctx.actor.id;
        }
        st.flags &= !FLAG_IN_TRANSIT;
        st.receiver = 0;
        st.shipment = 0;
        st.changed_at = now;
        plan.changes.push((k, st));
    }
    plan.closes_shipment = Some(ship_id);
    Ok(plan)
}

/// `remark` (a damaged label, docs/domain.md "A code's life"): each old code is written off
/// (reason `remark`) and the new code at the same position of `replacements` takes its
/// place — its status, dates, batch and package — with both linked (`twin`).
fn plan_remark<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let olds = require_list("codes", &raw.codes)?;
    let news = require_list("replacements", &raw.replacements)?;
    if olds.len() != news.len() {
        return Err(Error::invalid(format!(
            "`replacements` pairs with `codes`: {} new codes for {} damaged ones",
            news.len(),
            olds.len()
        )));
    }
    let mut refusal = Refusal { errors: Vec::new() };
    let mut all: Vec<&CodeText> = olds.iter().collect();
    all.extend(news.iter());
    let owned: Vec<CodeText> = all.into_iter().cloned().collect();
    let listed = parse_list(&owned, &mut refusal);
    refusal.check(|_| "codes refused; nothing was changed".into())?;
    let (old_l, new_l) = listed.split_at(olds.len());
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let mut plan = Plan::default();
    let now = tx.now;
    for (o, n) in old_l.iter().zip(new_l) {
        let Some(mut os) = common_checks(tx, ctx, o, &mut refusal)? else {
            continue;
        };
        if o.parsed.key.is_sscc() || os.children > 0 {
            refusal.add(&o.text, "is_package");
            continue;
        }
        if !matches!(os.status, Status::Applied | Status::Introduced) {
            refusal.add(&o.text, "wrong_status");
            continue;
        }
        let Some(mut ns) = common_checks(tx, ctx, n, &mut refusal)? else {
            continue;
        };
        if n.parsed.key.gtin() != o.parsed.key.gtin() {
            refusal.add(&n.text, "gtin_mismatch");
            continue;
        }
        if !matches!(ns.status, Status::Emitted | Status::Applied) {
            refusal.add(&n.text, "wrong_status");
            continue;
        }
        if ns.parent.is_some() || ns.children > 0 {
            refusal.add(&n.text, "in_aggregate");
            continue;
        }
        ns.status = os.status;
        ns.production_day = os.production_day;
        ns.expiry_day = os.expiry_day;
        ns.batch = os.batch;
        // The replacement stays under the damaged code's blocks, and is lifted with them.
        if os.blocks > 0 {
            for b in tx.store().blocks()? {
                let active = tx.block(b.id)?.is_some_and(|b| b.lifted_at.is_none());
                if active && tx.store().block_codes(b.id)?.contains(&o.parsed.key) {
                    plan.block_codes.push((b.id, n.parsed.key));
                    ns.blocks = ns.blocks.saturating_add(1);
                }
            }
            ns.blocks = ns.blocks.max(os.blocks);
        }
        ns.parent = os.parent;
        ns.twin = Some(o.parsed.key);
        ns.changed_at = now;
        if let Some(p) = os.parent {
            plan.unlink.push((p, o.parsed.key));
            plan.link.push((p, n.parsed.key));
        }
        os.status = Status::WrittenOff;
        os.reason = Some(Reason::Remark);
        os.parent = None;
        os.twin = Some(n.parsed.key);
        os.changed_at = now;
        plan.changes.push((o.parsed.key, os));
        plan.changes.push((n.parsed.key, ns));
    }
    refusal.check(|n| codes_refused(n, None))?;
    Ok(plan)
}
