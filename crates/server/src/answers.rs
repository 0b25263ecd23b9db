//! The JSON answers the handlers build, as types: what is serialised is what the OpenAPI
//! document describes (`utoipa::ToSchema`). Field names and values are the API's (see
//! docs/api-guide.md).

use base64::Engine;
use registry::{CodeStatus, PosResult};
use serde::Serialize;
use types::model::{Block, OrderStatus, Participant, Role, SerialType, TailKind};
use types::time::format_timestamp;
use utoipa::ToSchema;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /health`: `ok` only when an empty job went through the single writer and a read of
/// the store answered within the last few seconds (both probed in the background).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` (a projection is not running) or `unavailable` (with 503).
    #[schema(schema_with = status_words)]
    pub status: &'static str,
    /// Documents accepted so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<u64>,
    /// Head of the document hash chain (64 hex digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_head: Option<String>,
    /// Why unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `writer` (this process commits: the embedded store's only process, or the holder of
    /// a shared database's lease) or `reader` (it answers reads; changes go to the writer).
    #[schema(schema_with = role_words)]
    pub role: &'static str,
    /// On a reader: the address of the writer, as its lease names it (when one holds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer_address: Option<String>,
    /// The single writer.
    pub writer: HealthWriter,
    /// The projections that follow the committed feed.
    pub projections: HealthProjections,
    /// `ok` when a read of the store answered within the last few seconds, else
    /// `unavailable` (with 503; `detail` says why).
    #[schema(schema_with = store_words)]
    pub store: &'static str,
    /// The store's reader threads (every read of a request runs on them).
    pub reads: HealthReads,
    /// The data directory's disk (the embedded store; absent on PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<HealthDisk>,
}

fn store_words() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    types::apidoc::words(
        &["ok", "unavailable"],
        "`ok` (a read of the store answered within the last few seconds) or `unavailable` \
         (reads fail or hang; the answer is a 503)",
    )
    .into()
}

/// The store's reader pool, in `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReads {
    /// Reader threads.
    pub threads: usize,
    /// Reads waiting for a reader now.
    pub queue: usize,
    /// Reads that may wait; past it a request is answered 503 with `Retry-After`.
    pub queue_max: usize,
    /// Requests refused so far because the queue was full.
    pub shed: u64,
    /// Requests whose read did not answer in time so far.
    pub timed_out: u64,
    /// How long the health probe's last read of the store took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_ms: Option<f64>,
}

fn status_words() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    types::apidoc::words(
        &["ok", "degraded", "unavailable"],
        "`ok`; `degraded` (200: documents are taken, but a projection — the risk engine or the \
         analytics — is not running, `detail` says which); or `unavailable` (503)",
    )
    .into()
}

fn role_words() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    types::apidoc::words(
        &["writer", "reader"],
        "`writer`: this process commits changes; `reader`: it answers reads from a database \
         another process writes, and refuses changes with 503 `/problems/not-writer`",
    )
    .into()
}

/// The projections' part of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthProjections {
    /// Whether the risk engine runs (alerts and risk scores answer 503 when it does not).
    pub risk_engine: bool,
    /// Whether the analytics run (their endpoints answer 503 when they do not).
    pub analytics: bool,
    /// Each projection this process follows the feed with: how far it has got, and
    /// whether it is failed or behind (then `status` is `degraded`).
    pub states: Vec<HealthProjection>,
}

/// One projection in `GET /health` (`registry::project`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthProjection {
    /// `risk` or `analytics`.
    pub name: &'static str,
    /// The last feed sequence number it applied.
    pub applied: u64,
    /// Feed entries committed and not yet applied.
    pub lag: u64,
    /// Seconds behind the feed (0 when it has applied all of it); over
    /// `registry::project::BEHIND_MAX_SECS` (60) it is reported behind.
    pub behind_secs: u64,
    /// Times it failed (a panic, a feed entry it cannot read) and started again.
    pub restarts: u64,
    /// Why it is failed now: it starts again from its checkpoint after a back-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The writer's part of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthWriter {
    /// Jobs waiting for the writer.
    pub queue: usize,
    /// Jobs that panicked (each refused, the writer went on).
    pub job_panics: u64,
    /// Times the writer thread was restarted.
    pub restarts: u64,
    /// How long the empty job took, in milliseconds (when it went through).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_ms: Option<f64>,
    /// Since when (Unix seconds) commits have been refused for a full disk (503
    /// `storage-full`); absent when the last commit went through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_since: Option<u64>,
    /// Said when the store lost durability (a failed write or fsync: the server's log says
    /// which): the writer writes nothing more and the process stops; a start recovers
    /// from the journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
}

/// The data directory's disk in `GET /health` (the embedded store). How many bytes are
/// free is in `/metrics` (`tracemark_store_disk_free_bytes`), for the operator only.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDisk {
    /// Less is free than the reserve kept (`TRACEMARK_DISK_RESERVE_MB`): writes are
    /// refused (503 `storage-full`) until there is room again.
    pub below_reserve: bool,
}

/// `GET /.well-known/tracemark-keys`: the keys that sign codes' tails, then the log's key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeySet {
    /// Every Ed25519 tail key ever used, oldest first (their codes stay checkable), then
    /// the transparency log's checkpoint key (`"use": "log"`).
    pub keys: Vec<KeyEntry>,
}

/// A key of `KeySet`: a tail key or the log's key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum KeyEntry {
    /// A key that signs codes' crypto tails.
    Tail(TailKey),
    /// The key that signs the log's checkpoints.
    Log(LogKey),
}

/// A key that signs `signature` tails: AI 92 is the standard base64 of the Ed25519
/// signature over the UTF-8 bytes of `01{gtin}21{serial}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TailKey {
    /// Key id: the value of AI 91 of the codes it signed.
    pub kid: String,
    /// Always `Ed25519`.
    #[schema(schema_with = ed25519_word)]
    pub alg: String,
    /// Standard base64 of the 32-byte public key.
    pub public_key: String,
    /// Start of validity, Unix seconds.
    pub not_before: u64,
    /// End of validity, Unix seconds, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
}

impl From<issuance::PublicKeyInfo> for TailKey {
    fn from(k: issuance::PublicKeyInfo) -> TailKey {
        TailKey {
            kid: k.kid,
            alg: k.alg,
            public_key: k.public_key,
            not_before: k.not_before,
            not_after: k.not_after,
        }
    }
}

/// The transparency log's checkpoint key.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogKey {
    /// The log's origin (its checkpoints' first line and key name).
    pub kid: String,
    /// Always `Ed25519`.
    #[schema(schema_with = ed25519_word)]
    pub alg: &'static str,
    /// Always `log`.
    #[serde(rename = "use")]
    #[schema(schema_with = log_word)]
    pub usage: &'static str,
    /// Standard base64 of the 32-byte public key.
    pub public_key: String,
    /// The C2SP note verifier key (`<name>+<hex id>+<base64 key>`).
    pub note_verifier: Option<String>,
}

fn ed25519_word() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    types::apidoc::words(&["Ed25519"], "Always `Ed25519`").into()
}

fn log_word() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    types::apidoc::words(&["log"], "Always `log`: the key of the log's checkpoints").into()
}

/// `GET /api/v1/log/proof/inclusion`: RFC 9162 §2.1.3.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProof {
    /// The leaf.
    pub index: u64,
    /// The tree's size.
    pub size: u64,
    /// The proof's hashes (base64 SHA-256), leaf side first.
    pub hashes: Vec<String>,
}

/// `GET /api/v1/log/proof/consistency`: RFC 9162 §2.1.4.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub from: u64,
    /// The newer tree's size.
    pub to: u64,
    /// The proof's hashes (base64 SHA-256).
    pub hashes: Vec<String>,
}

/// `POST /api/v1/participants`: the participant registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedParticipant {
    /// Internal id.
    pub id: u32,
    /// Taxpayer identification number.
    pub tin: String,
    /// Product cards that others (importers) registered within its GS1 company prefixes
    /// while nobody held them, moved to it (each a `product_transfer` log leaf).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cards_moved: Vec<registry::CardMove>,
}

/// A participant as the operator, itself and regulators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// Internal id.
    pub id: u32,
    /// Taxpayer identification number.
    pub tin: String,
    /// Legal name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// ISO 3166-2 region.
    pub region: String,
    /// The registration key: base64 Ed25519 public key, 32 bytes.
    pub public_key: String,
    /// Keys added after registration, oldest first: each accepted from its `not_before`,
    /// ending the previous one then.
    pub keys: Vec<ParticipantKeyView>,
    /// Whether suspended (tokens, sign-ins and signatures refused).
    pub suspended: bool,
    /// Why suspended, `null` when not.
    pub suspension_reason: Option<String>,
    /// GS1 company prefixes held.
    pub gs1_prefixes: Vec<String>,
    /// Product cards this request moved to the participant (a prefix granted over cards
    /// that others registered while nobody held it); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cards_moved: Vec<registry::CardMove>,
}

/// A key added to a participant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantKeyView {
    /// Base64 Ed25519 public key, 32 bytes.
    pub public_key: String,
    /// Accepted from (RFC 3339).
    #[schema(format = DateTime)]
    pub not_before: String,
}

impl From<&Participant> for ParticipantView {
    fn from(p: &Participant) -> ParticipantView {
        ParticipantView {
            id: p.id,
            tin: p.tin.clone(),
            name: p.name.clone(),
            roles: p.roles.clone(),
            region: p.region.clone(),
            public_key: b64(&p.public_key),
            keys: p
                .keys
                .iter()
                .map(|k| ParticipantKeyView {
                    public_key: b64(&k.public_key),
                    not_before: format_timestamp(k.not_before),
                })
                .collect(),
            suspended: p.suspended.is_some(),
            suspension_reason: p.suspended.clone(),
            gs1_prefixes: p.gs1_prefixes.clone(),
            cards_moved: Vec::new(),
        }
    }
}

/// `GET /api/v1/auth/challenge`: sign `data` to get a token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Challenge {
    /// Send back with the signature.
    pub challenge_id: String,
    /// What to sign: its UTF-8 bytes exactly as received.
    pub data: String,
}

/// `POST /api/v1/auth/token`: a bearer token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops being accepted (RFC 3339).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// A code order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// Order id.
    pub order_id: uuid::Uuid,
    /// Status.
    pub status: OrderStatus,
    /// GTIN as 14 digits.
    pub gtin: String,
    /// Number of codes ordered.
    pub quantity: u32,
    /// Codes produced so far.
    pub produced: u32,
    /// How serials are chosen.
    pub serial_type: SerialType,
    /// Crypto tail kind.
    pub tail: TailKind,
    /// When created (RFC 3339).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Why rejected, `null` otherwise.
    pub error: Option<String>,
}

impl From<&types::model::Order> for OrderView {
    fn from(o: &types::model::Order) -> OrderView {
        OrderView {
            order_id: o.id,
            status: o.status,
            gtin: o.gtin.clone(),
            quantity: o.quantity,
            produced: o.produced,
            serial_type: o.serial_type,
            tail: o.tail,
            created_at: format_timestamp(o.created_at),
            error: o.error.clone(),
        }
    }
}

/// `GET /api/v1/documents/{id}`: a document with its legal record.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentRecord {
    /// Document id.
    pub id: uuid::Uuid,
    /// Global sequence number (order of acceptance).
    pub seq: u64,
    /// Document type.
    #[serde(rename = "type")]
    #[schema(value_type = types::model::DocType)]
    pub doc_type: &'static str,
    /// Always `accepted`.
    #[schema(schema_with = types::apidoc::accepted)]
    pub status: &'static str,
    /// Codes changed (packages expanded).
    pub codes: u64,
    /// When received (RFC 3339).
    #[schema(format = DateTime)]
    pub received_at: String,
    /// The `Signature` header sent (RFC 9421); absent when `redacted` (without the exact
    /// bytes it cannot be checked, and it would let a reader test guesses at a short tail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The `Signature-Input` header sent.
    pub signature_input: String,
    /// The request the signature covers.
    pub request: SignedRequestView,
    /// Its leaf in the transparency log.
    pub log_index: Option<u64>,
    /// The document as JSON (re-serialised: verify the signature over `body_base64`).
    /// When `redacted`, every code in it is shown without its crypto tail (AI 91/92/93).
    #[schema(value_type = registry::documents::RawDocument)]
    pub body: serde_json::Value,
    /// The exact body bytes the signature covers, base64; absent when `redacted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Hash chain value after this document (64 hex digits).
    pub chain: String,
    /// Whether the codes in `body` are shown without their crypto tails: tails are
    /// returned only to the document's author (and a shipment's receiver) in a signed
    /// request (RFC 9421); a bearer token alone never reveals one. `false` when the body
    /// is shown as stored (it may hold no tails at all).
    pub redacted: bool,
    /// How many codes lost their tail, when `redacted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_codes: Option<u64>,
    /// Why the tails were removed and how to read them, when `redacted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction: Option<String>,
}

/// What a request signature covered besides the body.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedRequestView {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string (without `?`; empty when none).
    pub query: String,
}

impl From<&registry::DocumentView> for DocumentRecord {
    fn from(v: &registry::DocumentView) -> DocumentRecord {
        let d = &v.doc;
        let r = v.redacted.as_ref();
        DocumentRecord {
            id: d.id,
            seq: d.seq,
            doc_type: d.doc_type.name(),
            status: "accepted",
            codes: d.codes,
            received_at: format_timestamp(d.received_at),
            signature: r.is_none().then(|| d.signature.clone()),
            signature_input: d.request.signature_input.clone(),
            request: SignedRequestView {
                method: d.request.method.clone(),
                path: d.request.path.clone(),
                query: d.request.query.clone(),
            },
            log_index: d.log_index,
            body: match r {
                Some(r) => r.body.clone(),
                None => serde_json::from_slice(&d.body).unwrap_or(serde_json::Value::Null),
            },
            // The exact bytes the signature covers (`body` is re-serialised JSON).
            body_base64: r.is_none().then(|| b64(&d.body)),
            chain: hex(&d.chain),
            redacted: r.is_some(),
            redacted_codes: r.map(|r| r.codes),
            redaction: r.map(|r| r.why.to_string()),
        }
    }
}

/// `POST /api/v1/codes/query`: one entry per code asked, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodesAnswer {
    /// The codes' states, or why not.
    pub codes: Vec<CodeStatus>,
}

/// `POST /api/v1/pos/check`: the till's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PosAnswer {
    /// Id of this check: goes into the `sell` document's `check_ids`.
    pub request_id: uuid::Uuid,
    /// One result per code sent, in order.
    pub results: Vec<PosResult>,
}

/// `GET /api/v1/blocks`: every block, lifted ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockList {
    /// The blocks.
    pub blocks: Vec<Block>,
}

/// The chain head as hex (for `/health`).
pub fn chain_hex(chain: &[u8]) -> String {
    hex(chain)
}

/// `{"id"}` of something just recorded.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    /// Its id.
    pub id: uuid::Uuid,
}
