//! EPCIS 2.0 queries: the `SimpleEventQuery` parameters of the REST binding
//! (`/events?EQ_bizStep=shipping|receiving&GE_eventTime=…`), planned on the most selective
//! index given, answered in record order, a page at a time, each event shown only to
//! whoever may see it.
//!
//! Who sees what: a regulator sees every event; a participant the events of the documents
//! it submitted or captured, of shipments addressed to it, and of documents moving codes
//! it holds or held (the first [`VISIBILITY_CODES_CHECKED`] codes a document names are
//! looked at); a visibility event is its capturer's (and the regulators') alone.

use crate::index::{self, NAME};
use crate::view::{Captures, View};
use epcis::event::{cbv_word, Action, Event, EventType};
use epcis::hash::canonical_identifier;
use jiff::Timestamp;
use registry::Registry;
use serde_json::Value;
use std::collections::BTreeSet;
use types::model::{CodeKey, DocType, Participant, Role, StoredDocument};

/// Events a page holds when `perPage` is not given (the standard's default).
pub const PER_PAGE_DEFAULT: usize = 30;
/// The most events a page holds, whatever `perPage` asks.
pub const PER_PAGE_MAX: usize = 1_000;
/// Documents one page reads at most: a query whose conditions match few of the documents
/// its index gives answers a short page and a `nextPageToken` to read on from.
pub const DOCUMENTS_READ_MAX: usize = 5_000;
/// The time a page may take reading documents; then it ends short, with a `Link` to read
/// on (a query's work is bounded whatever its conditions match).
pub const QUERY_TIME_MAX: std::time::Duration = std::time::Duration::from_secs(2);
/// Codes of a document looked at to decide whether a participant held any of them.
pub const VISIBILITY_CODES_CHECKED: usize = 16;
/// Values one parameter lists at most (`EQ_bizStep=a|b|…`).
pub const PARAMETER_VALUES_MAX: usize = 64;

/// Why a query is refused (400, `epcisException:QueryParameterException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// A query, read from its parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// `eventType`.
    pub event_types: Option<Vec<EventType>>,
    /// `GE_eventTime`, `LT_eventTime`.
    pub event_time: (Option<Timestamp>, Option<Timestamp>),
    /// `GE_recordTime`, `LT_recordTime`.
    pub record_time: (Option<Timestamp>, Option<Timestamp>),
    /// `EQ_action`.
    pub actions: Option<Vec<Action>>,
    /// `EQ_bizStep` (CBV words as bare words, others as written).
    pub biz_steps: Option<Vec<String>>,
    /// `EQ_disposition`.
    pub dispositions: Option<Vec<String>>,
    /// `EQ_bizLocation`.
    pub biz_locations: Option<Vec<String>>,
    /// `EQ_readPoint`.
    pub read_points: Option<Vec<String>>,
    /// `MATCH_epc` (canonical identifiers).
    pub match_epc: Option<Vec<String>>,
    /// `MATCH_parentID`.
    pub match_parent: Option<Vec<String>>,
    /// `MATCH_inputEPC`.
    pub match_input: Option<Vec<String>>,
    /// `MATCH_outputEPC`.
    pub match_output: Option<Vec<String>>,
    /// `MATCH_anyEPC`.
    pub match_any: Option<Vec<String>>,
    /// `eventID` (`EQ_eventID`).
    pub event_ids: Option<Vec<String>>,
    /// `perPage`.
    pub per_page: usize,
    /// Where the previous page ended: (document, event index) read last.
    pub after: Option<(u64, usize)>,
    /// Whom the page token was given to (checked by [`run`]).
    pub token_viewer: Option<u32>,
}

fn values(name: &str, v: &str) -> Result<Vec<String>, QueryError> {
    let out: Vec<String> = v.split('|').map(str::to_string).collect();
    if out.len() > PARAMETER_VALUES_MAX || out.iter().any(String::is_empty) {
        return Err(QueryError(format!(
            "`{name}` lists 1 to {PARAMETER_VALUES_MAX} values separated by `|`, none empty"
        )));
    }
    Ok(out)
}

fn time(name: &str, v: &str) -> Result<Timestamp, QueryError> {
    v.parse::<Timestamp>().map_err(|_| {
        QueryError(format!(
            "`{name}` is a date and time with its offset (RFC 3339), not {v:?}"
        ))
    })
}

fn words(
    name: &str,
    v: &str,
    vocabulary: &epcis::vocab::Vocabulary,
) -> Result<Vec<String>, QueryError> {
    values(name, v)?
        .iter()
        .map(|w| cbv_word(vocabulary, w).map_err(|e| QueryError(format!("`{name}`: {e}"))))
        .collect()
}

fn ids(name: &str, v: &str) -> Result<Vec<String>, QueryError> {
    Ok(values(name, v)?
        .iter()
        .map(|i| canonical_identifier(i))
        .collect())
}

/// A page token: where the page ended, for whom, bound to the query it belongs to, sealed
/// with a key of this process (a token is good until the server restarts: EPCIS lets a
/// repository expire them). Sealed, not only signed: the position may be a document the
/// caller cannot see (a page that read its budget of documents ends there), and an open
/// position would tell whether such documents exist.
pub fn token(q: &Query, viewer: u32, at: (u64, usize)) -> String {
    use base64::Engine;
    let mut plain = Vec::with_capacity(36);
    plain.extend_from_slice(&at.0.to_le_bytes());
    plain.extend_from_slice(&(at.1 as u64).to_le_bytes());
    plain.extend_from_slice(&viewer.to_le_bytes());
    plain.extend_from_slice(&fingerprint(q));
    let nonce: [u8; 16] = rand::random();
    let mut out = nonce.to_vec();
    out.extend(seal(&nonce, &plain));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

/// The key tokens are sealed with, made at the first token.
fn token_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// Encrypts and authenticates `plain` (encrypt-then-MAC): BLAKE3 in keyed mode as the PRF
/// of both, a stream from its extendable output and a tag over nonce and ciphertext.
/// Written here, not taken from an AEAD crate, because BLAKE3 is already the project's hash
/// and a token is 36 bytes: this is the whole construction.
fn seal(nonce: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let mut stream = vec![0u8; plain.len()];
    let mut h = blake3::Hasher::new_derive_key("tracemark epcis page token stream");
    h.update(token_key());
    h.update(nonce);
    h.finalize_xof().fill(&mut stream);
    let mut out: Vec<u8> = plain.iter().zip(&stream).map(|(a, b)| a ^ b).collect();
    out.extend_from_slice(&tag(nonce, &out));
    out
}

fn tag(nonce: &[u8; 16], cipher: &[u8]) -> [u8; 16] {
    let mut h = blake3::Hasher::new_keyed(token_key());
    h.update(b"tracemark epcis page token tag");
    h.update(nonce);
    h.update(cipher);
    let mut t = [0u8; 16];
    t.copy_from_slice(&h.finalize().as_bytes()[..16]);
    t
}

/// What ties a token to its query (the parameters other than the page's).
fn fingerprint(q: &Query) -> [u8; 16] {
    let mut q = q.clone();
    q.after = None;
    q.token_viewer = None;
    q.per_page = 0;
    let h = blake3::hash(format!("{q:?}").as_bytes());
    let mut f = [0u8; 16];
    f.copy_from_slice(&h.as_bytes()[..16]);
    f
}

impl Query {
    /// Reads the query parameters (`nextPageToken` included), refusing an unknown one.
    pub fn parse(params: &[(String, String)]) -> Result<Query, QueryError> {
        let mut q = Query {
            per_page: PER_PAGE_DEFAULT,
            ..Query::default()
        };
        let mut page_token = None;
        let mut seen = BTreeSet::new();
        for (k, v) in params {
            if !seen.insert(k.as_str()) {
                return Err(QueryError(format!("`{k}` is given twice")));
            }
            let k = k.as_str();
            match k {
                "eventType" => {
                    q.event_types = Some(
                        values(k, v)?
                            .iter()
                            .map(|t| {
                                EventType::parse(t).ok_or_else(|| {
                                    QueryError(format!("`eventType`: {t:?} is no event type"))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    )
                }
                "GE_eventTime" => q.event_time.0 = Some(time(k, v)?),
                "LT_eventTime" => q.event_time.1 = Some(time(k, v)?),
                "GE_recordTime" => q.record_time.0 = Some(time(k, v)?),
                "LT_recordTime" => q.record_time.1 = Some(time(k, v)?),
                "EQ_action" => {
                    q.actions = Some(
                        values(k, v)?
                            .iter()
                            .map(|a| {
                                Action::parse(a).ok_or_else(|| {
                                    QueryError(format!(
                                        "`EQ_action`: {a:?} is ADD, OBSERVE or DELETE"
                                    ))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    )
                }
                "EQ_bizStep" => q.biz_steps = Some(words(k, v, &epcis::vocab::BIZ_STEP)?),
                "EQ_disposition" => q.dispositions = Some(words(k, v, &epcis::vocab::DISPOSITION)?),
                "EQ_bizLocation" => q.biz_locations = Some(values(k, v)?),
                "EQ_readPoint" => q.read_points = Some(values(k, v)?),
                "MATCH_epc" => q.match_epc = Some(ids(k, v)?),
                "MATCH_parentID" => q.match_parent = Some(ids(k, v)?),
                "MATCH_inputEPC" => q.match_input = Some(ids(k, v)?),
                "MATCH_outputEPC" => q.match_output = Some(ids(k, v)?),
                "MATCH_anyEPC" => q.match_any = Some(ids(k, v)?),
                "eventID" | "EQ_eventID" => q.event_ids = Some(values(k, v)?),
                "perPage" => {
                    q.per_page = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=PER_PAGE_MAX).contains(n))
                        .ok_or_else(|| {
                            QueryError(format!("`perPage` is a number from 1 to {PER_PAGE_MAX}"))
                        })?
                }
                "nextPageToken" => page_token = Some(v.clone()),
                other => {
                    return Err(QueryError(format!(
                        "`{other}` is not a query parameter this repository takes (eventType, \
                         GE_/LT_eventTime, GE_/LT_recordTime, EQ_action, EQ_bizStep, \
                         EQ_disposition, EQ_bizLocation, EQ_readPoint, MATCH_epc, \
                         MATCH_parentID, MATCH_inputEPC, MATCH_outputEPC, MATCH_anyEPC, \
                         eventID, perPage, nextPageToken)"
                    )))
                }
            }
        }
        if let Some(t) = page_token {
            let at = q.read_token(&t)?;
            q.after = Some(at);
        }
        Ok(q)
    }

    fn read_token(&mut self, t: &str) -> Result<(u64, usize), QueryError> {
        use base64::Engine;
        let bad = || {
            QueryError(
                "`nextPageToken` is not one this query gave (or the server restarted since)".into(),
            )
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .map_err(|_| bad())?;
        if raw.len() != 16 + 36 + 16 {
            return Err(bad());
        }
        let (nonce, rest) = raw.split_at(16);
        let nonce: [u8; 16] = nonce.try_into().map_err(|_| bad())?;
        let (cipher, got) = rest.split_at(36);
        if tag(&nonce, cipher) != got {
            return Err(bad());
        }
        let mut stream = [0u8; 36];
        let mut h = blake3::Hasher::new_derive_key("tracemark epcis page token stream");
        h.update(token_key());
        h.update(&nonce);
        h.finalize_xof().fill(&mut stream);
        let plain: Vec<u8> = cipher.iter().zip(stream).map(|(a, b)| a ^ b).collect();
        let u64_at = |i: usize| u64::from_le_bytes(plain[i..i + 8].try_into().unwrap_or([0; 8]));
        let viewer = u32::from_le_bytes(plain[16..20].try_into().unwrap_or([0; 4]));
        if plain[20..36] != fingerprint(self) {
            return Err(bad());
        }
        self.token_viewer = Some(viewer);
        Ok((u64_at(0), usize::try_from(u64_at(8)).unwrap_or(usize::MAX)))
    }

    /// Whether an event meets every condition.
    pub fn matches(&self, e: &Value) -> bool {
        let Ok(ev) = Event::from_json(e) else {
            return false;
        };
        let any = |want: &Option<Vec<String>>, got: Option<&String>| {
            want.as_ref()
                .is_none_or(|w| got.is_some_and(|g| w.contains(g)))
        };
        fn ids<'a>(want: &Option<Vec<String>>, mut got: impl Iterator<Item = &'a String>) -> bool {
            want.as_ref()
                .is_none_or(|w| got.any(|g| w.contains(&canonical_identifier(g))))
        }
        let within =
            |(ge, lt): (Option<Timestamp>, Option<Timestamp>), t: Option<Timestamp>| match t {
                Some(t) => ge.is_none_or(|g| t >= g) && lt.is_none_or(|l| t < l),
                None => ge.is_none() && lt.is_none(),
            };
        let record = e
            .get("recordTime")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok());
        let o = &ev.objects;
        self.event_types
            .as_ref()
            .is_none_or(|t| t.contains(&ev.event_type))
            && self
                .actions
                .as_ref()
                .is_none_or(|a| ev.action.is_some_and(|x| a.contains(&x)))
            && within(self.event_time, Some(ev.event_time))
            && within(self.record_time, record)
            && any(&self.biz_steps, ev.biz_step.as_ref())
            && any(&self.dispositions, ev.disposition.as_ref())
            && any(&self.biz_locations, ev.biz_location.as_ref())
            && any(&self.read_points, ev.read_point.as_ref())
            && ids(&self.match_epc, o.epcs.iter())
            && ids(&self.match_parent, o.parent.iter())
            && ids(&self.match_input, o.inputs.iter())
            && ids(&self.match_output, o.outputs.iter())
            && ids(
                &self.match_any,
                o.epcs
                    .iter()
                    .chain(&o.inputs)
                    .chain(&o.outputs)
                    .chain(o.parent.iter()),
            )
            && self.event_ids.as_ref().is_none_or(|w| {
                e.get("eventID")
                    .and_then(Value::as_str)
                    .is_some_and(|i| w.iter().any(|x| x == i))
            })
    }
}

/// A page of an answer.
#[derive(Debug, Default)]
pub struct Page {
    /// The events, in record order.
    pub events: Vec<Value>,
    /// The answer's `@context`: GS1's, then their captures' own entries.
    pub context: Vec<Value>,
    /// Where to read on (`None`: this was the last page).
    pub next: Option<(u64, usize)>,
    /// Each event's (document, index), for the page's end.
    positions: Vec<(u64, usize)>,
    /// Each event's capture's own `@context` entries (shared).
    owned: Vec<std::sync::Arc<Vec<Value>>>,
}

impl Page {
    /// The page's `@context` (GS1's, then the captures' own entries), its events' prefixes
    /// renamed where two would clash ([`crate::view::merge_contexts`]).
    fn finish(mut self) -> Page {
        self.context = crate::view::merge_contexts(&mut self.events, &self.owned);
        self
    }
}

/// A code of this registry named by an identifier, if it is one.
fn registry_code(reg: &Registry, id: &str) -> Result<Option<CodeKey>, String> {
    let text = if id.starts_with("urn:epc:id:") {
        match gs1_text(id) {
            Some(t) => t,
            None => return Ok(None),
        }
    } else {
        id.to_string()
    };
    let Ok(key) = registry::code_key(&text) else {
        return Ok(None);
    };
    // A code with a history (one only emitted has no events to answer).
    let known = !reg
        .store()
        .events(&key)
        .map_err(|e| e.to_string())?
        .is_empty();
    Ok(known.then_some(key))
}

fn gs1_text(uri: &str) -> Option<String> {
    let id = gs1::epc::EpcId::parse_pure_uri(uri).ok()?;
    Some(id.to_element_string().to_brackets())
}

/// The candidate documents, in sequence order from `from`, at most `limit`, and whether
/// the list is complete (`false`: more may follow the last).
fn candidates(
    reg: &Registry,
    viewer: &Participant,
    q: &Query,
    from: u64,
    limit: usize,
    by_code: &mut BTreeSet<u64>,
) -> Result<(Vec<u64>, bool), String> {
    let matched = [
        &q.match_epc,
        &q.match_parent,
        &q.match_input,
        &q.match_output,
        &q.match_any,
    ]
    .into_iter()
    .find_map(|m| m.as_ref());
    if let Some(ids) = matched {
        let mut seqs = BTreeSet::new();
        let mut complete = true;
        for id in ids {
            if let Some(key) = registry_code(reg, id)? {
                // A code of this registry: its own history, all of it for whoever held it.
                let events = reg.store().events(&key).map_err(|e| e.to_string())?;
                let holder = viewer.roles.contains(&Role::Regulator)
                    || events
                        .iter()
                        .any(|e| e.owner == viewer.id || e.actor == viewer.id);
                for e in events.iter().filter(|e| e.doc_seq >= from) {
                    seqs.insert(e.doc_seq);
                    if holder {
                        by_code.insert(e.doc_seq);
                    }
                }
            }
            // Visibility events name it too (by its canonical identifier).
            complete &= rows(reg, b'e', id, from, limit, &mut seqs)?;
        }
        return Ok(cut(seqs, limit, complete));
    }
    let indexed: [(u8, &Option<Vec<String>>); 4] = [
        (b'l', &q.biz_locations),
        (b'r', &q.read_points),
        (b's', &q.biz_steps),
        (b'd', &q.dispositions),
    ];
    let types = q
        .event_types
        .as_ref()
        .map(|t| t.iter().map(|t| t.name().to_string()).collect::<Vec<_>>());
    // An index is used only if it holds every value asked (one too long is not indexed:
    // then the next condition's, or every document, is read).
    let indexable = |tag: u8, v: &[String]| v.iter().all(|x| index::prefix(tag, x).is_some());
    let chosen = indexed
        .into_iter()
        .find_map(|(tag, v)| {
            v.as_ref()
                .filter(|v| indexable(tag, v))
                .map(|v| (tag, v.clone()))
        })
        .or_else(|| {
            q.event_ids
                .clone()
                .filter(|v| indexable(b'i', v))
                .map(|v| (b'i', v))
        })
        .or_else(|| types.map(|v| (b'y', v)));
    if let Some((tag, values)) = chosen {
        let mut seqs = BTreeSet::new();
        let mut complete = true;
        for v in &values {
            if tag == b'i' {
                if let Some(doc) = native_event_document(reg, v)? {
                    if doc >= from {
                        seqs.insert(doc);
                    }
                }
            }
            complete &= rows(reg, tag, v, from, limit, &mut seqs)?;
        }
        return Ok(cut(seqs, limit, complete));
    }
    // No index: every document from `from`.
    let last = reg
        .store()
        .counter("doc_seq")
        .map_err(|e| e.to_string())?
        .saturating_sub(1);
    let end = last.min(from.saturating_add(limit as u64).saturating_sub(1));
    Ok(((from.max(1)..=end).collect(), end >= last))
}

/// `urn:uuid:<document id>`: a native document's first event.
fn native_event_document(reg: &Registry, id: &str) -> Result<Option<u64>, String> {
    let Some(u) = id
        .strip_prefix("urn:uuid:")
        .and_then(|u| u.parse::<uuid::Uuid>().ok())
    else {
        return Ok(None);
    };
    Ok(reg
        .store()
        .document(&u)
        .map_err(|e| e.to_string())?
        .map(|d| d.seq))
}

fn cut(seqs: BTreeSet<u64>, limit: usize, complete: bool) -> (Vec<u64>, bool) {
    let all = seqs.len() <= limit && complete;
    (seqs.into_iter().take(limit).collect(), all)
}

/// The documents of `value`'s index rows from `from`, at most `limit`: whether all were read.
fn rows(
    reg: &Registry,
    tag: u8,
    value: &str,
    from: u64,
    limit: usize,
    out: &mut BTreeSet<u64>,
) -> Result<bool, String> {
    let Some(prefix) = index::prefix(tag, value) else {
        return Ok(true);
    };
    let Some(start) = index::key(tag, value, from) else {
        return Ok(true);
    };
    let got = reg
        .store()
        .projection_rows(NAME, &start, limit + 1)
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for (k, _) in &got {
        if !k.starts_with(&prefix) {
            return Ok(true);
        }
        if let Some(s) = index::seq_of(k) {
            out.insert(s);
            n += 1;
        }
        if n >= limit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `viewer` may see the events of `doc` (the module's documentation says who).
pub fn visible(reg: &Registry, viewer: &Participant, doc: &StoredDocument) -> Result<bool, String> {
    if viewer.roles.contains(&Role::Regulator) || doc.participant == viewer.id {
        return Ok(true);
    }
    if matches!(doc.doc_type, DocType::EpcisEvent | DocType::EpcisCapture) {
        return Ok(false);
    }
    let Ok(raw) = registry::documents::stored_body(&doc.body) else {
        return Ok(false);
    };
    if raw.receiver.as_deref() == Some(viewer.tin.as_str()) {
        return Ok(true);
    }
    // An acceptance names its shipment, not its codes: the shipment's sender sees it, and
    // whoever held the shipment's codes.
    let mut raw = raw;
    if let Some(ship) = raw.shipment {
        let Some(s) = reg.store().document(&ship).map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        if s.participant == viewer.id {
            return Ok(true);
        }
        match registry::documents::stored_body(&s.body) {
            Ok(r) => raw = r,
            Err(_) => return Ok(false),
        }
    }
    let lists = [&raw.codes, &raw.children, &raw.parents];
    let named = lists
        .into_iter()
        .flatten()
        .flatten()
        .chain(raw.parent.iter())
        .take(VISIBILITY_CODES_CHECKED);
    for c in named {
        let Ok(key) = registry::code_key(&c.text) else {
            continue;
        };
        if held(reg, viewer, &key)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `viewer` holds or held a code, or acted on it.
pub fn held(reg: &Registry, viewer: &Participant, key: &CodeKey) -> Result<bool, String> {
    Ok(reg
        .store()
        .events(key)
        .map_err(|e| e.to_string())?
        .iter()
        .any(|e| e.owner == viewer.id || e.actor == viewer.id))
}

/// Runs a query for `viewer`: one page.
pub fn run(reg: &Registry, viewer: &Participant, q: &Query) -> Result<Page, QueryFailure> {
    if q.token_viewer.is_some_and(|v| v != viewer.id) {
        return Err(QueryFailure::Query(QueryError(
            "`nextPageToken` is not one this query gave".into(),
        )));
    }
    read_page(reg, viewer, q)
        .map(Page::finish)
        .map_err(QueryFailure::Store)
}

/// Why a query has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryFailure {
    /// The query is refused (400 `QueryParameterException`).
    #[error(transparent)]
    Query(QueryError),
    /// The store failed (503).
    #[error("{0}")]
    Store(String),
}

fn read_page(reg: &Registry, viewer: &Participant, q: &Query) -> Result<Page, String> {
    let mut page = Page::default();
    let mut captures = Captures::default();
    let mut from = q.after.map_or(1, |a| a.0);
    let mut budget = DOCUMENTS_READ_MAX;
    let started = std::time::Instant::now();
    let mut by_code = BTreeSet::new();
    while budget > 0 {
        let (seqs, complete) = candidates(reg, viewer, q, from, budget, &mut by_code)?;

        if seqs.is_empty() {
            return Ok(page);
        }
        for seq in &seqs {
            if started.elapsed() > QUERY_TIME_MAX {
                // Out of time: the page ends before this document (a short page, a `Link`).
                page.next =
                    Some((seq.saturating_sub(1), usize::MAX)).max(page.positions.last().copied());
                return Ok(page);
            }
            budget = budget.saturating_sub(1);
            let Some(id) = reg
                .store()
                .document_id_by_seq(*seq)
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            let Some(doc) = reg.store().document(&id).map_err(|e| e.to_string())? else {
                continue;
            };
            if !by_code.contains(seq) && !visible(reg, viewer, &doc)? {
                continue;
            }
            let events = View::new(reg, &mut captures).events(&doc)?;
            for (i, e) in events.events.into_iter().enumerate() {
                if q.after.is_some_and(|a| (*seq, i) <= a) {
                    continue;
                }
                if !q.matches(&e) {
                    continue;
                }

                if page.events.len() == q.per_page {
                    // One more matches: the page ends before it.
                    page.next = Some(last_of(&page, q));
                    return Ok(page);
                }
                page.events.push(e);
                page.owned.push(events.context.clone());
                page.positions.push((*seq, i));
            }
        }
        let last = *seqs.last().unwrap_or(&from);
        if complete {
            return Ok(page);
        }
        from = last + 1;
        if budget == 0 {
            // Read as much as a page may: read on from here next time.
            page.next = Some((last, usize::MAX));
        }
    }
    Ok(page)
}

fn last_of(page: &Page, q: &Query) -> (u64, usize) {
    page.positions.last().copied().or(q.after).unwrap_or((0, 0))
}
