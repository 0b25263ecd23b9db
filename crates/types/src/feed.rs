//! The feed of committed changes: what projections (the risk engine, the analytics) follow.
//!
//! The writer appends one [`Fact`] per accepted change *in the same commit* as the change
//! (a document, a refusal, a complaint, a block), so the feed can never disagree with the
//! registry's state; facts that come from reads (till checks, consumer verifications,
//! failed tail checks) wait in a bounded buffer (`registry::feed::FactBuffer`) and join the next group
//! commit. Each entry gets the next feed sequence number: projections read the feed in
//! that order from their durable checkpoint (`registry::project`).
//!
//! A document's fact carries what the core keeps nowhere else: every *unit* code it changed
//! with its owner and status before and after (packages are not units; their contents are),
//! the fiscal time of a sale (`receipt.at`, not the time it was received), the till checks a
//! sale names, the sender of an accepted shipment. A refusal keeps each refused code's
//! reason *and the state that made it refused* (bounded), so a projection replayed a month
//! later decides exactly as it did live.
//!
//! Records are a version byte and the fact in `postcard` (compact, serde-driven): adding a
//! trailing field means a new version, read alongside the old (version 1 had no network on
//! verifications and no tail flag on complaints: [`v1`]); a new fact kind goes at the end
//! of [`Fact`], which older records never name.

pub use crate::limits::{
    CHECK_IDS_KEPT_MAX, CHECK_ID_LEN_MAX, FACTS_PENDING_CODES_MAX,
    FACTS_PENDING_CODES_PER_SOURCE_MAX, FACTS_PENDING_MAX, FACTS_PENDING_PER_SOURCE_MAX,
    FACTS_PER_COMMIT_MAX, LATE_CODES_KEPT_MAX, TILL_CHECK_CODES_KEPT_MAX,
    TILL_CODES_PER_PARTICIPANT_PER_DAY, TILL_FACTS_PER_PARTICIPANT_PER_DAY,
    VERIFIED_FACTS_PER_SCANNER_PER_SEC_MAX, VERIFIED_FACTS_PER_SEC_MAX,
};
use crate::model::{CodeKey, DocType, ParticipantId, Status};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The record format written now (the first byte of every stored entry).
pub const FEED_VERSION: u8 = 2;

/// A sale's `check_ids` as a fact keeps them.
pub fn kept_check_ids(ids: Option<&Vec<String>>) -> Vec<String> {
    ids.into_iter()
        .flatten()
        .take(CHECK_IDS_KEPT_MAX)
        .map(|s| s.chars().take(CHECK_ID_LEN_MAX).collect())
        .collect()
}

/// A code's key as stored in facts: its bytes (`CodeKey::as_bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FactKey(pub CodeKey);

impl Serialize for FactKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0.as_bytes())
    }
}

impl<'de> Deserialize<'de> for FactKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(FactKeyVisitor)
    }
}

/// Reads a [`FactKey`] from bytes (binary formats such as `postcard`, the feed's) or from a
/// sequence of numbers (self-describing text formats such as JSON, which write bytes as an
/// array: projections' rows are JSON).
struct FactKeyVisitor;

impl<'de> serde::de::Visitor<'de> for FactKeyVisitor {
    type Value = FactKey;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bytes of a code key")
    }

    fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<FactKey, E> {
        CodeKey::from_bytes(b)
            .map(FactKey)
            .ok_or_else(|| E::custom("not a code key"))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<FactKey, A::Error> {
        // A code key is a few dozen bytes: a longer sequence is refused, not collected.
        let mut b = Vec::with_capacity(64);
        while let Some(x) = seq.next_element::<u8>()? {
            if b.len() == 64 {
                return Err(serde::de::Error::custom("not a code key"));
            }
            b.push(x);
        }
        self.visit_bytes(&b)
    }
}

/// A code's state as far as projections care: owner, status (with the retirement reason)
/// and whether it is in transit. Packed in a byte: the status in the low 3 bits, the
/// transit flag in bit 7; the reason in its own byte (0 = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brief {
    /// The owner.
    pub owner: ParticipantId,
    /// Status code (`Status as u8`, 0 = the code did not exist) | 0x80 when in transit.
    pub status: u8,
    /// Retirement or write-off reason (`Reason as u8`), 0 = none.
    pub reason: u8,
}

impl Brief {
    /// The brief of a state (`None`: the code did not exist).
    pub fn of(st: Option<&crate::model::CodeState>) -> Brief {
        match st {
            None => Brief {
                owner: 0,
                status: 0,
                reason: 0,
            },
            Some(s) => Brief {
                owner: s.owner,
                status: s.status as u8 | if s.in_transit() { 0x80 } else { 0 },
                reason: s.reason.map_or(0, |r| r as u8),
            },
        }
    }

    /// The status, `None` when the code did not exist.
    pub fn status(&self) -> Option<Status> {
        Status::ALL
            .get(usize::from(self.status & 0x7f).wrapping_sub(1))
            .copied()
    }

    /// Whether the code was in transit.
    pub fn in_transit(&self) -> bool {
        self.status & 0x80 != 0
    }

    /// Whether the code was sold at a till (RETIRED, reason retail).
    pub fn sold(&self) -> bool {
        self.status() == Some(Status::Retired) && self.reason == crate::model::Reason::Retail as u8
    }

    /// Whether the code was in circulation (INTRODUCED).
    pub fn in_circulation(&self) -> bool {
        self.status() == Some(Status::Introduced)
    }
}

/// One unit code a document changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitChange {
    /// The code.
    pub key: FactKey,
    /// Before the document.
    pub before: Brief,
    /// After it.
    pub after: Brief,
}

/// An accepted document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocFact {
    /// Its global sequence number.
    pub seq: u64,
    /// Its id.
    pub id: Uuid,
    /// Its type (`DocType as u8`).
    pub doc_type: u8,
    /// Who submitted it.
    pub actor: ParticipantId,
    /// A sale's fiscal time (`receipt.at`, Unix seconds); `None` for other documents.
    pub fiscal_at: Option<u64>,
    /// A shipment's receiver.
    pub receiver: Option<ParticipantId>,
    /// An acceptance's sender (who shipped the goods).
    pub sender: Option<ParticipantId>,
    /// The till checks a sale names (`check_ids`, at most [`CHECK_IDS_KEPT_MAX`], each cut
    /// to [`CHECK_ID_LEN_MAX`] characters).
    pub check_ids: Vec<String>,
    /// Every unit code changed (packages expanded; packages themselves are not units).
    pub units: Vec<UnitChange>,
}

impl DocFact {
    /// The document type.
    pub fn doc_type(&self) -> Option<DocType> {
        DocType::from_u8(self.doc_type)
    }
}

/// One refused code of a refused document, with the state that refused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedCode {
    /// The code as presented (at most 200 characters).
    pub code: String,
    /// Its key, when it parsed.
    pub key: Option<FactKey>,
    /// The stable reason word (`not_owner`, `already_sold`, `expired`, …).
    pub reason: String,
    /// The code's state when refused (`status` 0: unknown code).
    pub state: Brief,
    /// Sequence number of the document of the code's last event (0: none): for a sold
    /// code, its sale.
    pub last_event: u64,
    /// Expiry day of the code (days since 1970-01-01; 0 = none).
    pub expiry_day: u32,
    /// The receiver while the code was in transit (0: not in transit).
    pub receiver: ParticipantId,
}

/// A refused document (kept for risk control: the attempt is the signal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedFact {
    /// Who submitted it.
    pub actor: ParticipantId,
    /// Its id.
    pub id: Uuid,
    /// Its type (`DocType as u8`).
    pub doc_type: u8,
    /// A sale's fiscal time, when the receipt was valid.
    pub fiscal_at: Option<u64>,
    /// The till checks a refused sale named (bounded as a document's).
    pub check_ids: Vec<String>,
    /// The refused codes kept (at most `documents::REFUSAL_CODES_KEPT_MAX`).
    pub codes: Vec<RefusedCode>,
    /// How many codes were refused in all.
    pub codes_total: u32,
}

impl RefusedFact {
    /// The document type.
    pub fn doc_type(&self) -> Option<DocType> {
        DocType::from_u8(self.doc_type)
    }
}

/// One code of a till check and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedCode {
    /// The code.
    pub key: FactKey,
    /// Whether it was sellable.
    pub sellable: bool,
}

/// A till check (`POST /api/v1/pos/check`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillCheckFact {
    /// Who asked (a retailer or a fiscal operator).
    pub actor: ParticipantId,
    /// The `request_id` answered.
    pub request_id: Uuid,
    /// When (Unix seconds).
    pub at: u64,
    /// The codes that parsed (at most [`TILL_CHECK_CODES_KEPT_MAX`]).
    pub codes: Vec<CheckedCode>,
}

/// A coarse place: latitude and longitude in tenths of a degree (~11 km), all a consumer's
/// scan keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Latitude × 10.
    pub lat10: i16,
    /// Longitude × 10.
    pub lon10: i16,
}

impl Place {
    /// A place from degrees, rounded to a tenth; `None` outside the globe.
    pub fn from_degrees(lat: f64, lon: f64) -> Option<Place> {
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return None;
        }
        Some(Place {
            lat10: (lat * 10.0).round() as i16,
            lon10: (lon * 10.0).round() as i16,
        })
    }

    /// Great-circle distance to another place, km (haversine; a coarse place needs no
    /// better).
    pub fn distance_km(&self, other: &Place) -> f64 {
        let (la1, lo1) = (
            f64::from(self.lat10).to_radians() / 10.0,
            f64::from(self.lon10).to_radians() / 10.0,
        );
        let (la2, lo2) = (
            f64::from(other.lat10).to_radians() / 10.0,
            f64::from(other.lon10).to_radians() / 10.0,
        );
        let a = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().min(1.0).asin()
    }
}

/// Who checked: a signed-in participant, or an anonymous client (a keyed hash of its
/// address: the registry never keeps consumers' addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Who {
    /// A participant.
    Participant(ParticipantId),
    /// An anonymous client's tag.
    Client(u64),
}

/// A consumer's (or anyone's) verification of a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedFact {
    /// When (Unix seconds).
    pub at: u64,
    /// Who asked.
    pub who: Who,
    /// The code.
    pub key: FactKey,
    /// The verdict answered (`genuine`, `forged`, …).
    pub verdict: String,
    /// Whether a crypto tail was presented and checked (a scanned label, not a typed
    /// number).
    pub tail_checked: bool,
    /// Where, roughly, when the page or app sent it.
    pub place: Option<Place>,
    /// The scanner's network: a keyed hash of its IPv4 /24 or IPv6 /48 (never the
    /// address), `None` for a participant or an unknown peer. Scans from one network are
    /// not independent witnesses (a page's `<img>` tags make its visitors scan).
    pub net: Option<u64>,
}

/// A presented crypto tail that did not match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailFailedFact {
    /// When (Unix seconds).
    pub at: u64,
    /// Who presented it.
    pub who: Who,
    /// The code.
    pub key: FactKey,
    /// Where: `verify` or `till_check`.
    pub via: String,
    /// Whether the presenter holds the code.
    pub holder: bool,
}

/// A consumer's complaint, as projections need it (the text stays with the complaint).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintFact {
    /// Its id.
    pub id: Uuid,
    /// When (Unix seconds).
    pub at: u64,
    /// Its kind (`counterfeit`, `expired`, …).
    pub kind: String,
    /// The code it is about, if any.
    pub key: Option<FactKey>,
    /// The shop it names by the code (its holder or seller), if any.
    pub shop: Option<ParticipantId>,
    /// The complainant: a keyed tag of its address (never the address).
    pub client: String,
    /// Whether the complaint came with the code's crypto tail, and it matched (made from
    /// a scanned label): a printed number alone is something anyone can type.
    pub tail: bool,
}

/// A sale accepted for its receipt's time whose goods had expired by the time it was
/// reported (a receipt dated back, or a till offline for days): recorded with the sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateSaleFact {
    /// The sale's global sequence number.
    pub seq: u64,
    /// The sale's id.
    pub id: Uuid,
    /// The seller.
    pub actor: ParticipantId,
    /// The receipt's time (`receipt.at`, Unix seconds).
    pub fiscal_at: u64,
    /// The till checks the sale names (bounded as a document's).
    pub check_ids: Vec<String>,
    /// Unit codes expired when reported (at most [`LATE_CODES_KEPT_MAX`]).
    pub codes: Vec<FactKey>,
    /// How many in all.
    pub total: u32,
}

/// A block (recall) made or lifted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockFact {
    /// The block's id.
    pub id: u64,
    /// Whether it was lifted (else made).
    pub lifted: bool,
    /// When (Unix seconds).
    pub at: u64,
    /// The regulator.
    pub actor: ParticipantId,
}

/// A regulator acknowledged an alert of the risk engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckFact {
    /// The alert's id.
    pub alert: u64,
    /// The regulator.
    pub by: ParticipantId,
    /// Their note (at most 500 characters).
    pub note: String,
}

/// A product card moved: the card owner's views (analytics) follow it; codes keep their
/// owners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardOwnerFact {
    /// The GTIN.
    pub gtin: u64,
    /// Who held the card.
    pub from: ParticipantId,
    /// Who holds it now.
    pub to: ParticipantId,
}

/// One committed change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fact {
    /// An accepted document.
    Document(DocFact),
    /// A refused document.
    Refused(RefusedFact),
    /// A till check.
    TillCheck(TillCheckFact),
    /// A verification.
    Verified(VerifiedFact),
    /// A failed crypto-tail check.
    TailFailed(TailFailedFact),
    /// A complaint.
    Complaint(ComplaintFact),
    /// A block made or lifted.
    Block(BlockFact),
    /// An alert acknowledged.
    Ack(AckFact),
    /// A product card moved to another participant (operator, or a GS1 prefix granted).
    CardOwner(CardOwnerFact),
    /// A sale of goods that were not sellable any more when it was reported.
    LateSale(LateSaleFact),
}

/// A fact with its place in the feed and the commit's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedEntry {
    /// Feed sequence number (1-based, consecutive).
    pub seq: u64,
    /// When it was committed (Unix seconds, the writer's clock for the batch).
    pub at: u64,
    /// The fact.
    pub fact: Fact,
}

/// Encodes a fact for storage: the version byte, the commit time, then postcard. `None`
/// (logged) when it cannot be: postcard to a Vec fails only when serde does, never for
/// these types; the fact is then left out, not stored as a record no reader could read
/// (which would stop every projection before it).
pub fn encode(at: u64, fact: &Fact) -> Option<Vec<u8>> {
    let out = vec![FEED_VERSION];
    match postcard::to_extend(&(at, fact), out) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!("feed: cannot encode a fact, left out: {e}");
            None
        }
    }
}

/// Decodes a stored record into (commit time, fact); `None` for a record this version
/// cannot read.
pub fn decode(bytes: &[u8]) -> Option<(u64, Fact)> {
    match bytes.split_first() {
        Some((&FEED_VERSION, rest)) => postcard::from_bytes(rest).ok(),
        Some((&v1::VERSION, rest)) => postcard::from_bytes::<(u64, v1::Fact)>(rest)
            .ok()
            .map(|(at, f)| (at, f.into())),
        _ => None,
    }
}

/// A fact's kind (its [`Fact`] variant), as [`peek`] reads it from a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactKind {
    /// [`Fact::Document`].
    Document,
    /// [`Fact::Refused`].
    Refused,
    /// [`Fact::TillCheck`].
    TillCheck,
    /// [`Fact::Verified`].
    Verified,
    /// [`Fact::TailFailed`].
    TailFailed,
    /// [`Fact::Complaint`].
    Complaint,
    /// [`Fact::Block`].
    Block,
    /// [`Fact::Ack`].
    Ack,
    /// [`Fact::CardOwner`].
    CardOwner,
    /// [`Fact::LateSale`].
    LateSale,
}

impl FactKind {
    /// The kind's number: its variant's index in [`Fact`], as records carry it (stable:
    /// variants are only ever added at the end). Stores that keep a fact's kind beside it
    /// (`store::Store::feed_of_kinds`) keep this.
    pub fn code(self) -> u8 {
        // `ALL` lists every kind once, in order; its length fits a u8.
        FactKind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    /// In [`Fact`]'s order: postcard writes the variant's index.
    const ALL: [FactKind; 10] = [
        FactKind::Document,
        FactKind::Refused,
        FactKind::TillCheck,
        FactKind::Verified,
        FactKind::TailFailed,
        FactKind::Complaint,
        FactKind::Block,
        FactKind::Ack,
        FactKind::CardOwner,
        FactKind::LateSale,
    ];
}

/// A record's commit time and fact kind, read without decoding the fact: postcard writes
/// the time and then the variant's index as varints, ahead of the fact's fields. A
/// document's fact holds a change per code (a thousand and more) and is most of the
/// feed; a reader that wants other kinds (the risk engine rebuilding its window of till
/// checks at start) skips them for the price of two varints. `None`: not a record of a
/// known version (then [`decode`] says no as well).
pub fn peek(bytes: &[u8]) -> Option<(u64, FactKind)> {
    let (&v, rest) = bytes.split_first()?;
    // Version 1 had the first eight kinds only.
    let kinds = match v {
        FEED_VERSION => &FactKind::ALL[..],
        v1::VERSION => &FactKind::ALL[..8],
        _ => return None,
    };
    let (at, rest) = varint(rest)?;
    let (kind, _) = varint(rest)?;
    Some((at, *kinds.get(usize::try_from(kind).ok()?)?))
}

/// A postcard (LEB128) unsigned varint of at most 64 bits and what follows it.
fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

/// The first record format, read alongside the current one: verifications without the
/// scanner's network, complaints without the tail flag (read as `None` and `false`: what
/// the registry then knew).
pub mod v1 {
    use super::*;

    /// Its version byte.
    pub const VERSION: u8 = 1;

    /// A verification as version 1 recorded it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct VerifiedFact {
        /// When (Unix seconds).
        pub at: u64,
        /// Who asked.
        pub who: Who,
        /// The code.
        pub key: FactKey,
        /// The verdict answered.
        pub verdict: String,
        /// Whether a crypto tail was presented and checked.
        pub tail_checked: bool,
        /// Where, roughly.
        pub place: Option<Place>,
    }

    /// A complaint as version 1 recorded it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ComplaintFact {
        /// Its id.
        pub id: Uuid,
        /// When (Unix seconds).
        pub at: u64,
        /// Its kind.
        pub kind: String,
        /// The code it is about, if any.
        pub key: Option<FactKey>,
        /// The shop it names, if any.
        pub shop: Option<ParticipantId>,
        /// The complainant's tag.
        pub client: String,
    }

    /// A fact as version 1 recorded it (the same kinds in the same order).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Fact {
        /// An accepted document.
        Document(DocFact),
        /// A refused document.
        Refused(RefusedFact),
        /// A till check.
        TillCheck(TillCheckFact),
        /// A verification.
        Verified(VerifiedFact),
        /// A failed crypto-tail check.
        TailFailed(TailFailedFact),
        /// A complaint.
        Complaint(ComplaintFact),
        /// A block made or lifted.
        Block(BlockFact),
        /// An alert acknowledged.
        Ack(AckFact),
    }

    impl From<Fact> for super::Fact {
        fn from(f: Fact) -> super::Fact {
            match f {
                Fact::Document(d) => super::Fact::Document(d),
                Fact::Refused(r) => super::Fact::Refused(r),
                Fact::TillCheck(t) => super::Fact::TillCheck(t),
                Fact::Verified(v) => super::Fact::Verified(super::VerifiedFact {
                    at: v.at,
                    who: v.who,
                    key: v.key,
                    verdict: v.verdict,
                    tail_checked: v.tail_checked,
                    place: v.place,
                    net: None,
                }),
                Fact::TailFailed(t) => super::Fact::TailFailed(t),
                Fact::Complaint(c) => super::Fact::Complaint(super::ComplaintFact {
                    id: c.id,
                    at: c.at,
                    kind: c.kind,
                    key: c.key,
                    shop: c.shop,
                    client: c.client,
                    tail: false,
                }),
                Fact::Block(b) => super::Fact::Block(b),
                Fact::Ack(a) => super::Fact::Ack(a),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> FactKey {
        FactKey(CodeKey::unit(4_601_234_567_893, s.as_bytes()))
    }

    #[test]
    fn every_fact_round_trips() {
        let b = Brief {
            owner: 7,
            status: Status::Introduced as u8 | 0x80,
            reason: 0,
        };
        let facts = vec![
            Fact::Document(DocFact {
                seq: 9,
                id: Uuid::now_v7(),
                doc_type: DocType::Sell as u8,
                actor: 7,
                fiscal_at: Some(1_700_000_000),
                receiver: None,
                sender: None,
                check_ids: vec![Uuid::now_v7().to_string()],
                units: vec![UnitChange {
                    key: key("abc"),
                    before: b,
                    after: Brief::of(None),
                }],
            }),
            Fact::Refused(RefusedFact {
                actor: 3,
                id: Uuid::now_v7(),
                doc_type: DocType::Sell as u8,
                fiscal_at: None,
                check_ids: vec![],
                codes: vec![RefusedCode {
                    code: "010460123456789321abc".into(),
                    key: Some(key("abc")),
                    reason: "not_owner".into(),
                    state: b,
                    last_event: 4,
                    expiry_day: 20_000,
                    receiver: 0,
                }],
                codes_total: 1,
            }),
            Fact::TillCheck(TillCheckFact {
                actor: 1,
                request_id: Uuid::now_v7(),
                at: 5,
                codes: vec![CheckedCode {
                    key: key("x"),
                    sellable: true,
                }],
            }),
            Fact::Verified(VerifiedFact {
                at: 1,
                who: Who::Client(99),
                key: key("y"),
                verdict: "genuine".into(),
                tail_checked: true,
                place: Place::from_degrees(55.75, 37.62),
                net: Some(42),
            }),
            Fact::TailFailed(TailFailedFact {
                at: 1,
                who: Who::Participant(4),
                key: key("z"),
                via: "till_check".into(),
                holder: false,
            }),
            Fact::Complaint(ComplaintFact {
                id: Uuid::now_v7(),
                at: 3,
                kind: "counterfeit".into(),
                key: None,
                shop: Some(2),
                client: "00ff".into(),
                tail: true,
            }),
            Fact::Block(BlockFact {
                id: 1,
                lifted: false,
                at: 2,
                actor: 5,
            }),
            Fact::Ack(AckFact {
                alert: 3,
                by: 6,
                note: "seen".into(),
            }),
            Fact::CardOwner(CardOwnerFact {
                gtin: 4_619_999_000_012,
                from: 1,
                to: 2,
            }),
            Fact::LateSale(LateSaleFact {
                seq: 10,
                id: Uuid::now_v7(),
                actor: 7,
                fiscal_at: 1_699_000_000,
                check_ids: vec!["c".into()],
                codes: vec![key("late")],
                total: 1,
            }),
        ];
        let mut kinds = Vec::new();
        for f in facts {
            let bytes = encode(1_700_000_000, &f).expect("encodes");
            assert_eq!(bytes[0], FEED_VERSION);
            // The kind read without decoding is the fact's own.
            let (at, kind) = peek(&bytes).expect("a kind");
            assert_eq!(at, 1_700_000_000);
            assert_eq!(kind, FactKind::ALL[kinds.len()], "{f:?}");
            kinds.push(kind);
            assert_eq!(decode(&bytes), Some((1_700_000_000, f)));
        }
        // Every kind, in order (a new variant needs its FactKind).
        assert_eq!(kinds, FactKind::ALL.to_vec());
        assert_eq!(peek(&[9, 0, 0]), None);
        assert_eq!(peek(&[FEED_VERSION]), None);
        assert_eq!(
            decode(&[2, 0, 0]),
            None,
            "an unknown version is not guessed"
        );
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn version_1_records_read_back() {
        let v = v1::Fact::Verified(v1::VerifiedFact {
            at: 1,
            who: Who::Client(9),
            key: key("y"),
            verdict: "genuine".into(),
            tail_checked: true,
            place: None,
        });
        let mut bytes = vec![v1::VERSION];
        bytes.extend(postcard::to_allocvec(&(5u64, &v)).expect("encode"));
        match decode(&bytes) {
            Some((5, Fact::Verified(f))) => assert_eq!((f.who, f.net), (Who::Client(9), None)),
            other => panic!("{other:?}"),
        }
        let c = v1::Fact::Complaint(v1::ComplaintFact {
            id: Uuid::nil(),
            at: 2,
            kind: "counterfeit".into(),
            key: None,
            shop: Some(3),
            client: "ab".into(),
        });
        let mut bytes = vec![v1::VERSION];
        bytes.extend(postcard::to_allocvec(&(6u64, &c)).expect("encode"));
        match decode(&bytes) {
            Some((6, Fact::Complaint(f))) => assert!(!f.tail && f.shop == Some(3)),
            other => panic!("{other:?}"),
        }
    }
    #[test]
    fn a_brief_reads_back_its_state() {
        let b = Brief {
            owner: 1,
            status: Status::Retired as u8,
            reason: crate::model::Reason::Retail as u8,
        };
        assert!(b.sold() && !b.in_transit() && !b.in_circulation());
        assert_eq!(Brief::of(None).status(), None);
    }

    #[test]
    fn places_are_coarse_and_distances_sane() {
        let moscow = Place::from_degrees(55.7558, 37.6173).expect("place");
        assert_eq!((moscow.lat10, moscow.lon10), (558, 376));
        let vladivostok = Place::from_degrees(43.1155, 131.8855).expect("place");
        let d = moscow.distance_km(&vladivostok);
        assert!((6_300.0..6_500.0).contains(&d), "{d}");
        assert!(moscow.distance_km(&moscow) < 0.001);
        assert_eq!(Place::from_degrees(91.0, 0.0), None);
        assert_eq!(Place::from_degrees(f64::NAN, 0.0), None);
    }
}
