//! The risk engine: every signal of risk-oriented control, raised from the registry's feed.
//!
//! A projection (`registry::project`): it follows committed facts in feed order, so an
//! alert is raised within the follower's wake-up of the document that causes it, and
//! never slows the writer. Each alert is an *incident*: the first signal of a kind about a
//! subject (a participant, an anonymous client, a code) opens it, later signals of the same
//! kind and subject within [`INCIDENT_WINDOW_SECS`] add their codes and documents to it
//! (bounded) and count — a retried document or a flood of guesses is one alert, not
//! thousands. An acknowledged incident stays closed: the next signal opens a new one.
//!
//! Deterministic by construction (the feed is the only input; times come from facts; an
//! alert's id is the feed sequence number of the fact that opened it × 16 + the kind's
//! index), so replaying the feed after a crash rebuilds exactly the alerts that were stored
//! or were about to be.
//!
//! | kind | signal (docs/domain.md, "Risk signals") | subject | severity |
//! |---|---|---|---|
//! | `repeat_sale` | a sale refused because the code was sold already (a cloned label: the second shop is the suspect) | the selling shop | high |
//! | `grey_sale` | a sale of a code in circulation that another participant owns (goods without documents) | the selling shop | high |
//! | `not_introduced_sale` | a sale of a code unknown, never introduced, written off or retired otherwise | the selling shop | high |
//! | `forged_tail` | a crypto tail that does not match, at a till, in a sale, or at verification (guessing included) | the presenter (participant or anonymous client) | high at a till, medium elsewhere |
//! | `clone_scans` | one code scanned from [`CLONE_NETWORKS_MIN`] independent networks or more (IPv4 /24, IPv6 /48), two of them farther apart than anyone travels in the time between; a network that claims far-apart places for the code is no witness | the code | high when both places have two networks or more, else medium |
//! | `sales_exceed_receipts` | a shop's sales (and attempts) of a GTIN exceed the units it received | the shop | medium |
//! | `expired_sale` | a sale refused because the goods expired | the shop | medium |
//! | `recalled_sale` | a sale refused because the goods are blocked (recalled) | the shop | high |
//! | `unchecked_sale` | a sale whose codes no till check it names said were sellable (a check that said *not* sellable does not count) | the shop | low |
//! | `complaint_cluster` | complaints about one shop from people (by their address's keyed tag) weighing [`COMPLAINT_CLUSTER_MIN`] or more within [`COMPLAINT_WINDOW_SECS`]: one made from a scanned label (its crypto tail matched) weighs 1, one with a printed number or no code [`COMPLAINT_UNPROVEN_WEIGHT`] | the shop | medium |
//! | `late_sale` | a sale accepted for its receipt's time whose goods had expired when it was reported (a receipt reported late or dated back) | the shop | high when a till check it names said the goods were not sellable, else medium |
#![deny(missing_docs)]

use registry::project::{Projection, RowChange};
use registry::Registry;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use types::feed::{Fact, FactKey, FeedEntry, Place, Who};
use types::model::{DocType, ParticipantId, Status};

/// How long an incident stays open to later signals of its kind about its subject.
pub const INCIDENT_WINDOW_SECS: u64 = 86_400;
/// Most codes an alert keeps as evidence (its `count` keeps counting).
pub const EVIDENCE_CODES_MAX: usize = 100;
/// Most documents (and complaints) an alert keeps as evidence.
pub const EVIDENCE_DOCUMENTS_MAX: usize = 50;
/// How long a till check is remembered for the sales that name it: a sale follows its check
/// within minutes at a real till.
pub const CHECK_WINDOW_SECS: u64 = 3_600;
/// Most till checks remembered, all participants together: ~100 bytes each plus their
/// codes. Past it (or [`CHECK_CODES_KEPT_MAX`]) the participant holding the most loses its
/// oldest: a flooder forgets its own checks, never an honest shop's.
pub const CHECKS_KEPT_MAX: usize = 500_000;
/// Most codes of remembered till checks, all checks together (~60 bytes each: ~120 MB).
pub const CHECK_CODES_KEPT_MAX: usize = 2_000_000;
/// Most till checks remembered of one participant (its oldest forgotten first): an hour
/// of checks at the till check's rate limit (`server::till`) fits.
pub const CHECKS_KEPT_PER_PARTICIPANT_MAX: usize = 100_000;
/// Most codes of one participant's remembered till checks: a quarter of
/// [`CHECK_CODES_KEPT_MAX`], so a flooder cannot fill the engine's memory alone.
pub const CHECK_CODES_KEPT_PER_PARTICIPANT_MAX: usize = 500_000;
/// How long consumers' scans of a code are compared with later ones.
pub const CLONE_WINDOW_SECS: u64 = 6 * 3_600;
/// Scans this close are one place (coarse places are ~11 km cells; a city is wider).
pub const CLONE_DISTANCE_KM_MIN: f64 = 300.0;
/// Faster than this between two scans of one label, it is two labels: an airliner's speed.
pub const CLONE_SPEED_KMH_MAX: f64 = 900.0;
/// Most recent scans with a place kept per code.
pub const SCANS_PER_CODE_MAX: usize = 16;
/// Most recent scans of one code kept per network: one network (a household, an office,
/// a page's visitors behind one provider) cannot flush the others' scans out.
pub const SCANS_PER_NETWORK_MAX: usize = 2;
/// Independent networks (IPv4 /24, IPv6 /48, a participant) whose scans of one code a
/// clone alert needs: one bought label and a few addresses (an `<img>` tag on a page makes
/// its visitors' browsers scan) are not a clone.
pub const CLONE_NETWORKS_MIN: usize = 3;
/// Networks on *each* of the two far-apart places that make a clone alert high: the copy
/// is corroborated on both sides.
pub const CLONE_NETWORKS_PER_PLACE_HIGH: usize = 2;
/// Most codes whose recent scans are kept (oldest forgotten first).
pub const SCANNED_CODES_MAX: usize = 1_000_000;
/// The window complaints about one shop are counted in.
pub const COMPLAINT_WINDOW_SECS: u64 = 7 * 86_400;
/// The weight of complainants about one shop within the window that makes a cluster.
pub const COMPLAINT_CLUSTER_MIN: f64 = 3.0;
/// What a complainant weighs whose complaints carried no matching crypto tail (a printed
/// number alone, which anyone can type, or no code): half of one made from a scanned
/// label, so framing a shop by numbers takes twice the people.
pub const COMPLAINT_UNPROVEN_WEIGHT: f64 = 0.5;
/// Most open-ended alerts about no participant (a code's clone scans, an anonymous
/// client's forged tails): anyone holding labels can make them, so past this many they are
/// counted (`Risk::suppressed`) and not kept. ~3 KB each: ~300 MB at the cap.
pub const ANONYMOUS_ALERTS_MAX: u64 = 100_000;
/// Most alerts listed in one answer.
pub const ALERTS_PAGE_MAX: usize = 1_000;

macro_rules! kinds {
    ($($v:ident = $n:literal => $s:literal, $sev:ident;)*) => {
        /// An alert's kind: which risk signal raised it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[repr(u8)]
        pub enum Kind { $(#[doc = $s] $v = $n,)* }
        impl Kind {
            /// Every kind.
            pub const ALL: &'static [Kind] = &[$(Kind::$v,)*];
            /// The stable word.
            pub fn name(self) -> &'static str { match self { $(Kind::$v => $s,)* } }
            /// Parses the word.
            pub fn parse(s: &str) -> Option<Kind> { match s { $($s => Some(Kind::$v),)* _ => None } }
            /// How bad it is, by default.
            pub fn severity(self) -> Severity { match self { $(Kind::$v => Severity::$sev,)* } }
        }
    };
}

kinds! {
    RepeatSale = 1 => "repeat_sale", High;
    GreySale = 2 => "grey_sale", High;
    NotIntroducedSale = 3 => "not_introduced_sale", High;
    ForgedTail = 4 => "forged_tail", Medium;
    CloneScans = 5 => "clone_scans", High;
    SalesExceedReceipts = 6 => "sales_exceed_receipts", Medium;
    ExpiredSale = 7 => "expired_sale", Medium;
    RecalledSale = 8 => "recalled_sale", High;
    UncheckedSale = 9 => "unchecked_sale", Low;
    ComplaintCluster = 10 => "complaint_cluster", Medium;
    LateSale = 11 => "late_sale", Medium;
}

/// How bad an alert is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Look now.
    High,
    /// Look today.
    Medium,
    /// Worth a look.
    Low,
}

impl Severity {
    /// Points toward a participant's risk score.
    pub fn weight(self) -> f64 {
        match self {
            Severity::High => 10.0,
            Severity::Medium => 5.0,
            Severity::Low => 1.0,
        }
    }
}

/// What an incident is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    /// A participant.
    Participant(ParticipantId),
    /// An anonymous client (a keyed hash of its address).
    Client(u64),
    /// A code.
    Code(FactKey),
}

/// A regulator's acknowledgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The regulator.
    pub by: ParticipantId,
    /// When (Unix seconds).
    pub at: u64,
    /// Their note.
    pub note: String,
}

/// An alert: one incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its id: the opening fact's feed sequence number × 16 + the kind's index.
    pub id: u64,
    /// Its kind.
    pub kind: Kind,
    /// How bad.
    pub severity: Severity,
    /// What it is about.
    pub subject: Subject,
    /// When it was opened (Unix seconds, the opening fact's time).
    pub at: u64,
    /// When its last signal came.
    pub updated_at: u64,
    /// Signals counted (codes, attempts, scans, complaints).
    pub count: u64,
    /// Codes involved, as identification codes (at most [`EVIDENCE_CODES_MAX`]).
    pub codes: Vec<String>,
    /// Documents (and complaints) involved, by id (at most [`EVIDENCE_DOCUMENTS_MAX`]).
    pub documents: Vec<String>,
    /// What else the kind keeps as evidence (TINs of other parties, places, counts).
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The acknowledgement, once given.
    pub ack: Option<Ack>,
}

impl Alert {
    /// The participant the alert is about, if it is about one.
    pub fn participant(&self) -> Option<ParticipantId> {
        match self.subject {
            Subject::Participant(p) => Some(p),
            _ => None,
        }
    }
}

/// A signal, before it becomes or joins an alert.
struct Signal {
    kind: Kind,
    subject: Subject,
    severity: Severity,
    at: u64,
    count: u64,
    codes: Vec<String>,
    documents: Vec<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

impl Signal {
    fn new(kind: Kind, subject: Subject, at: u64) -> Signal {
        Signal {
            kind,
            subject,
            severity: kind.severity(),
            at,
            count: 0,
            codes: Vec::new(),
            documents: Vec::new(),
            details: serde_json::Map::new(),
        }
    }
}

/// A complaint about a shop in the window: (time, id, code, complainant's tag, whether it
/// was made from a scanned label).
type RecentComplaint = (u64, String, Option<String>, String, bool);

/// A complaint as rows of the first version kept it (no tail flag: read as `false`).
type RecentComplaintV1 = (u64, String, Option<String>, String);

/// A till check as remembered for the sales that name it.
struct Check {
    seq: u64,
    actor: ParticipantId,
    /// Each code asked about, and whether the answer was sellable.
    codes: HashMap<FactKey, bool>,
}

/// One participant's remembered till checks, oldest first, and their codes.
#[derive(Default)]
struct ActorChecks {
    order: VecDeque<String>,
    codes: usize,
}

impl ActorChecks {
    /// What the participant holds of the engine's memory (checks and codes).
    fn weight(&self) -> usize {
        self.order.len() + self.codes
    }
}

/// A recent scan of a code: (time, place, scanner, network).
type Scan = (u64, Place, u64, u64);

/// A participant's risk score and what makes it up.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Score {
    /// The participant (internal id).
    #[serde(skip)]
    pub participant: ParticipantId,
    /// The score: Σ over its alerts of severity weight × (1 + log₂ count).
    pub score: f64,
    /// Its parts, by kind.
    pub reasons: Vec<Reason>,
}

/// One kind's part of a score (`ScoreReason` in the OpenAPI document: the registry's
/// `Reason` is why a code was retired).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ScoreReason)]
pub struct Reason {
    /// The alert kind.
    pub kind: Kind,
    /// Alerts of this kind.
    pub alerts: u64,
    /// Signals counted in them.
    pub signals: u64,
    /// Points.
    pub points: f64,
}

/// The risk engine's state.
#[derive(Default)]
pub struct Risk {
    alerts: BTreeMap<u64, Alert>,
    /// The latest alert of each (kind, subject).
    open: HashMap<(Kind, Subject), u64>,
    /// Units received and sales attempted by (shop, GTIN).
    ledger: HashMap<(ParticipantId, u64), (u64, u64)>,
    checks: HashMap<String, Check>,
    /// Every remembered check in feed order (with ids already forgotten, skipped).
    checks_order: VecDeque<(u64, String)>,
    /// Each participant's checks.
    by_actor: HashMap<ParticipantId, ActorChecks>,
    /// Participants by what they hold ([`ActorChecks::weight`]): the heaviest loses first.
    heaviest: BTreeSet<(usize, ParticipantId)>,
    /// Codes in `checks`.
    check_codes: usize,
    /// Recent scans with a place of each code.
    scans: HashMap<FactKey, VecDeque<Scan>>,
    /// Codes with recent scans by their latest scan's time: the oldest is forgotten first
    /// (and every one whose window has passed).
    scans_order: BTreeSet<(u64, FactKey)>,
    /// Alerts by kind (kept as alerts come, so `/metrics` does not walk them all).
    by_kind: BTreeMap<Kind, u64>,
    /// Alerts about no participant (a code, an anonymous client).
    anonymous: u64,
    /// Signals dropped because [`ANONYMOUS_ALERTS_MAX`] such alerts are open.
    pub suppressed: u64,
    /// Complaints about each shop in the window: (time, id, code, complainant).
    complaints: HashMap<ParticipantId, VecDeque<RecentComplaint>>,
    dirty_alerts: BTreeSet<u64>,
    dirty_ledger: HashSet<(ParticipantId, u64)>,
    dirty_scans: HashSet<FactKey>,
    dirty_complaints: HashSet<ParticipantId>,
    tins: HashMap<ParticipantId, String>,
    /// The first feed sequence number whose till check may still be named by a sale, as
    /// of the loaded checkpoint (checks are rebuilt from the feed, not stored).
    warm_mark: u64,
    /// The latest fact time seen.
    last_at: u64,
}

fn code_text(k: &FactKey) -> String {
    k.0.to_string()
}

fn push_bounded(v: &mut Vec<String>, items: impl IntoIterator<Item = String>, max: usize) {
    for i in items {
        if v.len() >= max {
            break;
        }
        if !v.contains(&i) {
            v.push(i);
        }
    }
}

impl Risk {
    /// An empty engine.
    pub fn new() -> Risk {
        Risk::default()
    }

    /// A participant's TIN for evidence (`#id` if there is none); `Err`: the read failed,
    /// and the fact is to be applied again (see [`Projection::apply`]).
    fn tin(&mut self, reg: &Registry, id: ParticipantId) -> Result<String, String> {
        if let Some(t) = self.tins.get(&id) {
            return Ok(t.clone());
        }
        let t = reg
            .participant(id)
            .map_err(|e| format!("participant {id}: {e}"))?
            .map_or_else(|| format!("#{id}"), |p| p.tin);
        self.tins.insert(id, t.clone());
        Ok(t)
    }

    /// Opens an incident or adds to the open one of its kind and subject.
    fn raise(&mut self, seq: u64, s: Signal) {
        let key = (s.kind, s.subject);
        if let Some(a) = self.open.get(&key).and_then(|id| self.alerts.get_mut(id)) {
            if a.ack.is_none() && s.at <= a.updated_at + INCIDENT_WINDOW_SECS {
                a.count += s.count;
                a.updated_at = a.updated_at.max(s.at);
                push_bounded(&mut a.codes, s.codes, EVIDENCE_CODES_MAX);
                push_bounded(&mut a.documents, s.documents, EVIDENCE_DOCUMENTS_MAX);
                for (k, v) in s.details {
                    merge_detail(&mut a.details, k, v);
                }
                if s.severity < a.severity {
                    a.severity = s.severity;
                }
                self.dirty_alerts.insert(a.id);
                return;
            }
        }
        let anonymous = !matches!(s.subject, Subject::Participant(_));
        if anonymous && self.anonymous >= ANONYMOUS_ALERTS_MAX {
            // Anyone who holds a label can make these: past the cap they are counted, not
            // kept, so the public cannot grow the engine without bound.
            self.suppressed += 1;
            return;
        }
        self.anonymous += u64::from(anonymous);
        *self.by_kind.entry(s.kind).or_default() += 1;
        let id = seq * 16 + u64::from(s.kind as u8);
        let mut a = Alert {
            id,
            kind: s.kind,
            severity: s.severity,
            subject: s.subject,
            at: s.at,
            updated_at: s.at,
            count: s.count,
            codes: Vec::new(),
            documents: Vec::new(),
            details: serde_json::Map::new(),
            ack: None,
        };
        push_bounded(&mut a.codes, s.codes, EVIDENCE_CODES_MAX);
        push_bounded(&mut a.documents, s.documents, EVIDENCE_DOCUMENTS_MAX);
        for (k, v) in s.details {
            merge_detail(&mut a.details, k, v);
        }
        self.alerts.insert(id, a);
        self.open.insert(key, id);
        self.dirty_alerts.insert(id);
    }

    fn ledger(&mut self, shop: ParticipantId, gtin: u64) -> &mut (u64, u64) {
        self.dirty_ledger.insert((shop, gtin));
        self.ledger.entry((shop, gtin)).or_default()
    }

    /// After sales (or attempts) of a GTIN by a shop: a signal when they exceed receipts.
    fn check_receipts(
        &mut self,
        reg: &Registry,
        seq: u64,
        at: u64,
        shop: ParticipantId,
        gtins: &BTreeSet<u64>,
        doc: &str,
    ) -> Result<(), String> {
        let mut s = Signal::new(Kind::SalesExceedReceipts, Subject::Participant(shop), at);
        let mut over = serde_json::Map::new();
        for g in gtins {
            let (received, attempted) = self.ledger.get(&(shop, *g)).copied().unwrap_or_default();
            if attempted > received {
                over.insert(
                    format!("{g:014}"),
                    serde_json::json!({"received": received, "sold_or_attempted": attempted}),
                );
            }
        }
        if over.is_empty() {
            return Ok(());
        }
        s.count = over.len() as u64;
        s.documents.push(doc.to_string());
        s.details
            .insert("gtins".into(), serde_json::Value::Object(over));
        s.details
            .insert("shop_tin".into(), self.tin(reg, shop)?.into());
        self.raise(seq, s);
        Ok(())
    }

    fn document(
        &mut self,
        e: &FeedEntry,
        d: &types::feed::DocFact,
        reg: &Registry,
    ) -> Result<(), String> {
        let Some(t) = d.doc_type() else {
            return Ok(());
        };
        match t {
            DocType::Accept | DocType::Introduce | DocType::Import | DocType::Return => {
                for u in &d.units {
                    let inflow = u.after.owner == d.actor
                        && u.after.in_circulation()
                        && (u.before.owner != d.actor || !u.before.in_circulation());
                    if let (true, Some(g)) = (inflow, u.key.0.gtin()) {
                        self.ledger(d.actor, g).0 += 1;
                    }
                }
            }
            DocType::Sell => {
                let mut gtins = BTreeSet::new();
                let mut unchecked = Vec::new();
                let mut refused_at_till = Vec::new();
                for u in d.units.iter().filter(|u| u.after.sold()) {
                    if let Some(g) = u.key.0.gtin() {
                        self.ledger(d.actor, g).1 += 1;
                        gtins.insert(g);
                    }
                    // Only a check that said *sellable* counts: naming a check that said
                    // `expired` or `blocked` is no check of a sale.
                    match self.till_answer(&d.check_ids, &u.key) {
                        Some(true) => {}
                        Some(false) => {
                            unchecked.push(u.key);
                            refused_at_till.push(u.key);
                        }
                        None => unchecked.push(u.key),
                    }
                }
                let doc = d.id.to_string();
                self.check_receipts(reg, e.seq, e.at, d.actor, &gtins, &doc)?;
                if !unchecked.is_empty() {
                    let mut s =
                        Signal::new(Kind::UncheckedSale, Subject::Participant(d.actor), e.at);
                    s.count = unchecked.len() as u64;
                    s.codes = unchecked.iter().map(code_text).collect();
                    s.documents.push(doc);
                    s.details
                        .insert("check_ids".into(), serde_json::json!(d.check_ids));
                    if !refused_at_till.is_empty() {
                        let refused: Vec<String> = refused_at_till
                            .iter()
                            .take(EVIDENCE_CODES_MAX)
                            .map(code_text)
                            .collect();
                        s.details
                            .insert("not_sellable_at_till".into(), serde_json::json!(refused));
                    }
                    self.raise(e.seq, s);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// What the till checks named said of a code: `Some(true)` when one said sellable,
    /// `Some(false)` when they asked about it and none did, `None` when none asked.
    fn till_answer(&self, check_ids: &[String], key: &FactKey) -> Option<bool> {
        let mut asked = None;
        for c in check_ids {
            match self.checks.get(c).and_then(|ch| ch.codes.get(key)) {
                Some(true) => return Some(true),
                Some(false) => asked = Some(false),
                None => {}
            }
        }
        asked
    }

    /// A sale accepted for its receipt's time whose goods had expired when reported.
    fn late_sale(
        &mut self,
        e: &FeedEntry,
        l: &types::feed::LateSaleFact,
        reg: &Registry,
    ) -> Result<(), String> {
        let mut s = Signal::new(Kind::LateSale, Subject::Participant(l.actor), e.at);
        s.count = u64::from(l.total);
        s.codes = l.codes.iter().map(code_text).collect();
        s.documents.push(l.id.to_string());
        // The shop was told at its till that the goods were not sellable, and sold them
        // with a receipt dated before the expiry: deliberate.
        let told: Vec<String> = l
            .codes
            .iter()
            .filter(|k| self.till_answer(&l.check_ids, k) == Some(false))
            .map(code_text)
            .collect();
        if !told.is_empty() {
            s.severity = Severity::High;
            s.details
                .insert("not_sellable_at_till".into(), serde_json::json!(told));
        }
        s.details.insert(
            "receipt_at".into(),
            types::time::format_timestamp(l.fiscal_at).into(),
        );
        s.details.insert(
            "reported_at".into(),
            types::time::format_timestamp(e.at).into(),
        );
        s.details.insert(
            "days_late".into(),
            serde_json::json!(e.at.saturating_sub(l.fiscal_at) / 86_400),
        );
        s.details
            .insert("check_ids".into(), serde_json::json!(l.check_ids));
        s.details
            .insert("shop_tin".into(), self.tin(reg, l.actor)?.into());
        self.raise(e.seq, s);
        Ok(())
    }

    fn refused(
        &mut self,
        e: &FeedEntry,
        r: &types::feed::RefusedFact,
        reg: &Registry,
    ) -> Result<(), String> {
        if r.doc_type() != Some(DocType::Sell) {
            return Ok(());
        }
        let shop = Subject::Participant(r.actor);
        let doc = r.id.to_string();
        let mut by_kind: BTreeMap<Kind, Signal> = BTreeMap::new();
        let mut gtins = BTreeSet::new();
        for c in &r.codes {
            let Some(key) = c.key else { continue };
            let st = c.state;
            let status = st.status();
            let kind = if st.sold() {
                Kind::RepeatSale
            } else if st.in_transit() && c.receiver == r.actor {
                // Goods on their way to this shop, sold before it accepted them: a clumsy
                // order of documents, not goods from nowhere.
                continue;
            } else if status == Some(Status::Introduced) && st.owner != r.actor {
                Kind::GreySale
            } else if !matches!(status, Some(Status::Introduced)) {
                Kind::NotIntroducedSale
            } else {
                match c.reason.as_str() {
                    "expired" => Kind::ExpiredSale,
                    "blocked" => Kind::RecalledSale,
                    "bad_crypto_tail" => Kind::ForgedTail,
                    // in transit, package inconsistent, duplicates: a clumsy document.
                    _ => continue,
                }
            };
            // Goods offered that another holds count against receipts; a cloned label's
            // code is the repeat sale's signal, not a volume one.
            if kind == Kind::GreySale {
                if let Some(g) = key.0.gtin() {
                    self.ledger(r.actor, g).1 += 1;
                    gtins.insert(g);
                }
            }
            let s = by_kind
                .entry(kind)
                .or_insert_with(|| Signal::new(kind, shop, e.at));
            s.count += 1;
            if s.codes.len() < EVIDENCE_CODES_MAX {
                s.codes.push(code_text(&key));
            }
            match kind {
                Kind::RepeatSale => {
                    let first = reg
                        .store()
                        .document_id_by_seq(c.last_event)
                        .map_err(|e| format!("the document of event {}: {e}", c.last_event))?;
                    if let Some(first) = first {
                        push_bounded(
                            &mut s.documents,
                            [first.to_string()],
                            EVIDENCE_DOCUMENTS_MAX,
                        );
                    }
                    let tin = self.tin(reg, st.owner)?;
                    merge_detail(
                        &mut s.details,
                        "first_sellers".into(),
                        serde_json::json!([tin]),
                    );
                }
                Kind::GreySale => {
                    let tin = self.tin(reg, st.owner)?;
                    merge_detail(&mut s.details, "owners".into(), serde_json::json!([tin]));
                }
                Kind::NotIntroducedSale => {
                    let word = status.map_or("UNKNOWN", Status::name);
                    merge_detail(&mut s.details, "statuses".into(), serde_json::json!([word]));
                }
                Kind::ForgedTail => {
                    s.severity = Severity::High;
                    merge_detail(&mut s.details, "via".into(), serde_json::json!(["sale"]));
                }
                _ => {}
            }
        }
        for (_, mut s) in by_kind {
            s.documents.insert(0, doc.clone());
            self.raise(e.seq, s);
        }
        self.check_receipts(reg, e.seq, e.at, r.actor, &gtins, &doc)
    }

    fn remember_check(&mut self, e: &FeedEntry, t: &types::feed::TillCheckFact) {
        let id = t.request_id.to_string();
        if self.checks.contains_key(&id) {
            return;
        }
        let mut codes: HashMap<FactKey, bool> = HashMap::default();
        for c in &t.codes {
            // Asked twice in one check: sellable only if every answer said so.
            *codes.entry(c.key).or_insert(c.sellable) &= c.sellable;
        }
        let n = codes.len();
        self.checks.insert(
            id.clone(),
            Check {
                seq: e.seq,
                actor: t.actor,
                codes,
            },
        );
        self.checks_order.push_back((t.at, id.clone()));
        self.check_codes += n;
        self.reweigh(t.actor, |a| {
            a.order.push_back(id);
            a.codes += n;
        });
        // The window first, for everyone.
        while let Some((at, id)) = self.checks_order.front() {
            if at + CHECK_WINDOW_SECS >= t.at {
                break;
            }
            let id = id.clone();
            self.checks_order.pop_front();
            self.forget_check(&id);
        }
        // Then the participant's own share, then everyone's: the heaviest loses first.
        loop {
            let mine = self.by_actor.get(&t.actor);
            let over_mine = mine.is_some_and(|a| {
                a.order.len() > CHECKS_KEPT_PER_PARTICIPANT_MAX
                    || a.codes > CHECK_CODES_KEPT_PER_PARTICIPANT_MAX
            });
            let who = if over_mine {
                t.actor
            } else if self.checks.len() > CHECKS_KEPT_MAX || self.check_codes > CHECK_CODES_KEPT_MAX
            {
                match self.heaviest.last() {
                    Some(&(_, p)) => p,
                    None => break,
                }
            } else {
                break;
            };
            let oldest = self
                .by_actor
                .get(&who)
                .and_then(|a| a.order.front().cloned());
            match oldest {
                Some(id) => self.forget_check(&id),
                None => break,
            }
        }
    }

    /// Changes a participant's checks, keeping [`Risk::heaviest`] in step.
    fn reweigh(&mut self, actor: ParticipantId, f: impl FnOnce(&mut ActorChecks)) {
        let a = self.by_actor.entry(actor).or_default();
        self.heaviest.remove(&(a.weight(), actor));
        f(a);
        if a.order.is_empty() {
            self.by_actor.remove(&actor);
        } else {
            self.heaviest.insert((a.weight(), actor));
        }
    }

    /// Forgets a remembered check (its entry in `checks_order` is skipped when reached).
    fn forget_check(&mut self, id: &str) {
        let Some(c) = self.checks.remove(id) else {
            return;
        };
        self.check_codes -= c.codes.len();
        self.reweigh(c.actor, |a| {
            // Checks are forgotten oldest first, so it is (almost always) at the front.
            if a.order.front().is_some_and(|x| x == id) {
                a.order.pop_front();
            } else if let Some(i) = a.order.iter().position(|x| x == id) {
                a.order.remove(i);
            }
            a.codes -= c.codes.len();
        });
    }

    /// Remembers a scan with a place; a signal when independent witnesses saw one label in
    /// places farther apart than anyone travels in the time between.
    ///
    /// Only scans of a label (a crypto tail presented and not forged) count: a typed number
    /// proves no one held the item. `near=` is the client's word and an address is cheap,
    /// so scans are weighed by how independent they are: a witness is a *network* (the
    /// scanner's IPv4 /24 or IPv6 /48, a participant), and a network that claims far-apart
    /// places for one code witnesses nothing (a VPN, a spoofed place, or a web page whose
    /// `<img>` tags make every visitor scan from wherever the page says). A clone needs
    /// [`CLONE_NETWORKS_MIN`] witnessing networks, two of them far apart too fast; it is
    /// high when each of the two places has [`CLONE_NETWORKS_PER_PLACE_HIGH`] of them.
    /// A network repeating itself at one place adds nothing, and one network keeps at most
    /// [`SCANS_PER_NETWORK_MAX`] of a code's recent scans, so nobody can flush the others'.
    fn scan(&mut self, e: &FeedEntry, v: &types::feed::VerifiedFact) {
        let Some(place) = v.place else { return };
        if !v.tail_checked || v.verdict == "forged" {
            return;
        }
        let scanner = match v.who {
            Who::Participant(p) => u64::from(p) | 1 << 63,
            Who::Client(c) => c & !(1 << 63),
        };
        // A participant is its own network; a scan recorded without one, its scanner.
        let net = match (v.who, v.net) {
            (Who::Client(_), Some(n)) => n & !(1 << 63),
            _ => scanner,
        };
        // Forget codes whose window has passed, and the least recently scanned beyond the cap.
        while let Some(&(last, k)) = self.scans_order.first() {
            if last + CLONE_WINDOW_SECS >= v.at && self.scans_order.len() < SCANNED_CODES_MAX {
                break;
            }
            self.scans_order.pop_first();
            self.scans.remove(&k);
            self.dirty_scans.insert(k);
        }
        let recent = self.scans.entry(v.key).or_default();
        if let Some(&(last, ..)) = recent.back() {
            self.scans_order.remove(&(last, v.key));
        }
        while recent
            .front()
            .is_some_and(|(at, ..)| at + CLONE_WINDOW_SECS < v.at)
        {
            recent.pop_front();
        }
        let repeat = recent
            .iter()
            .any(|&(_, p, _, n)| n == net && p.distance_km(&place) < CLONE_DISTANCE_KM_MIN);
        let mut added = false;
        if !repeat {
            let of_net = recent.iter().filter(|s| s.3 == net).count();
            if of_net >= SCANS_PER_NETWORK_MAX {
                if let Some(i) = recent.iter().position(|s| s.3 == net) {
                    recent.remove(i);
                }
            }
            recent.push_back((v.at, place, scanner, net));
            if recent.len() > SCANS_PER_CODE_MAX {
                recent.pop_front();
            }
            self.dirty_scans.insert(v.key);
            added = true;
        }
        let newest = recent.back().map_or(v.at, |s| s.0);
        self.scans_order.insert((newest, v.key));
        if !added {
            return;
        }
        let Some(evidence) = clone_evidence(recent) else {
            return;
        };
        let mut s = Signal::new(Kind::CloneScans, Subject::Code(v.key), v.at);
        if evidence.per_place.0.min(evidence.per_place.1) < CLONE_NETWORKS_PER_PLACE_HIGH {
            s.severity = Severity::Medium;
        }
        s.count = 1;
        s.codes.push(code_text(&v.key));
        let spot = |p: &Place, at: u64| serde_json::json!({"lat": f64::from(p.lat10) / 10.0, "lon": f64::from(p.lon10) / 10.0, "at": at});
        let ((t1, p1), (t2, p2)) = evidence.pair;
        s.details.insert(
            "scans".into(),
            serde_json::json!([spot(&p1, t1), spot(&p2, t2)]),
        );
        s.details.insert(
            "distance_km".into(),
            serde_json::json!(p1.distance_km(&p2).round()),
        );
        s.details
            .insert("networks".into(), serde_json::json!(evidence.networks));
        // An object (merged key by key into the incident), not a list (merged as a union).
        s.details.insert(
            "networks_per_place".into(),
            serde_json::json!({"first": evidence.per_place.0, "second": evidence.per_place.1}),
        );
        s.details.insert(
            "networks_ignored".into(),
            serde_json::json!(evidence.ignored),
        );
        self.raise(e.seq, s);
    }

    fn complaint(
        &mut self,
        e: &FeedEntry,
        c: &types::feed::ComplaintFact,
        reg: &Registry,
    ) -> Result<(), String> {
        let Some(shop) = c.shop else {
            return Ok(());
        };
        let recent = self.complaints.entry(shop).or_default();
        recent.push_back((
            c.at,
            c.id.to_string(),
            c.key.as_ref().map(code_text),
            c.client.clone(),
            c.tail,
        ));
        while recent
            .front()
            .is_some_and(|(at, ..)| at + COMPLAINT_WINDOW_SECS < c.at)
        {
            recent.pop_front();
        }
        self.dirty_complaints.insert(shop);
        // People, not complaints: one person filing three is no cluster (anyone can file).
        // A person who scanned the label (its tail matched) weighs 1; one who typed a
        // printed number, or named no code, weighs less: anyone can type a number.
        let mut people: HashMap<&str, bool> = HashMap::default();
        for (.., who, tail) in recent.iter() {
            *people.entry(who.as_str()).or_default() |= *tail;
        }
        let scanned = people.values().filter(|t| **t).count();
        let weight = scanned as f64 + (people.len() - scanned) as f64 * COMPLAINT_UNPROVEN_WEIGHT;
        if weight < COMPLAINT_CLUSTER_MIN {
            return Ok(());
        }
        let people = people.len();
        let mut s = Signal::new(Kind::ComplaintCluster, Subject::Participant(shop), c.at);
        s.count = 1;
        let n = recent.len();
        s.documents = recent.iter().map(|(_, id, ..)| id.clone()).collect();
        s.codes = recent
            .iter()
            .filter_map(|(_, _, k, ..)| k.clone())
            .collect();
        s.details.insert("complaints_in_window".into(), n.into());
        s.details.insert("complainants".into(), people.into());
        s.details
            .insert("complainants_with_label".into(), scanned.into());
        s.details.insert("weight".into(), serde_json::json!(weight));
        s.details
            .insert("shop_tin".into(), self.tin(reg, shop)?.into());
        self.raise(e.seq, s);
        Ok(())
    }

    /// The first feed sequence number of a till check a sale may still name.
    fn warm_seq(&self) -> u64 {
        self.checks_order
            .iter()
            .filter(|(at, _)| at + CHECK_WINDOW_SECS >= self.last_at)
            .find_map(|(_, id)| self.checks.get(id))
            .map_or(u64::MAX, |c| c.seq)
    }

    /// Alerts, newest first, filtered; `before`: only ids below it (paging).
    pub fn alerts(&self, filter: &AlertFilter) -> Vec<&Alert> {
        self.alerts
            .range(..filter.before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, a)| a)
            .filter(|a| filter.kinds.is_empty() || filter.kinds.contains(&a.kind))
            .filter(|a| filter.since.is_none_or(|s| a.updated_at >= s))
            .filter(|a| {
                filter
                    .participant
                    .is_none_or(|p| a.participant() == Some(p))
            })
            .filter(|a| filter.open.is_none_or(|o| o == a.ack.is_none()))
            .take(filter.limit.min(ALERTS_PAGE_MAX))
            .collect()
    }

    /// One alert.
    pub fn alert(&self, id: u64) -> Option<&Alert> {
        self.alerts.get(&id)
    }

    /// Alerts by kind (for metrics and the dashboard); kept as they come.
    pub fn counts(&self) -> &BTreeMap<Kind, u64> {
        &self.by_kind
    }

    /// Participants by risk score, highest first.
    pub fn scores(&self, limit: usize) -> Vec<Score> {
        let mut by: HashMap<ParticipantId, BTreeMap<Kind, Reason>> = HashMap::default();
        for a in self.alerts.values() {
            let Some(p) = a.participant() else { continue };
            let r = by.entry(p).or_default().entry(a.kind).or_insert(Reason {
                kind: a.kind,
                alerts: 0,
                signals: 0,
                points: 0.0,
            });
            r.alerts += 1;
            r.signals += a.count;
            r.points += a.severity.weight() * (1.0 + (a.count.max(1) as f64).log2());
        }
        let mut out: Vec<Score> = by
            .into_iter()
            .map(|(participant, reasons)| {
                let mut reasons: Vec<Reason> = reasons.into_values().collect();
                reasons.sort_by(|a, b| b.points.total_cmp(&a.points));
                Score {
                    participant,
                    score: (reasons.iter().map(|r| r.points).sum::<f64>() * 10.0).round() / 10.0,
                    reasons,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.participant.cmp(&b.participant))
        });
        out.truncate(limit);
        out
    }
}

/// What a code's recent scans say of a clone (see `Risk::scan`).
struct CloneEvidence {
    /// Two scans, (time, place), far apart too fast, from different witnessing networks.
    pair: ((u64, Place), (u64, Place)),
    /// Witnessing networks.
    networks: usize,
    /// Witnessing networks near each place of the pair.
    per_place: (usize, usize),
    /// Networks that claimed far-apart places themselves (no witnesses).
    ignored: usize,
}

/// The evidence of a clone in a code's recent scans, if there is enough of it.
fn clone_evidence(recent: &VecDeque<Scan>) -> Option<CloneEvidence> {
    let far = |a: &Place, b: &Place| a.distance_km(b) >= CLONE_DISTANCE_KM_MIN;
    let mut liars: HashSet<u64> = HashSet::default();
    for (i, a) in recent.iter().enumerate() {
        for b in recent.iter().skip(i + 1) {
            if a.3 == b.3 && far(&a.1, &b.1) {
                liars.insert(a.3);
            }
        }
    }
    let witnesses: Vec<&Scan> = recent.iter().filter(|s| !liars.contains(&s.3)).collect();
    let networks = witnesses
        .iter()
        .map(|s| s.3)
        .collect::<HashSet<u64>>()
        .len();
    if networks < CLONE_NETWORKS_MIN {
        return None;
    }
    let near = |p: &Place| {
        witnesses
            .iter()
            .filter(|s| !far(&s.1, p))
            .map(|s| s.3)
            .collect::<HashSet<u64>>()
            .len()
    };
    let mut best: Option<(&Scan, &Scan, (usize, usize))> = None;
    for (i, a) in witnesses.iter().enumerate() {
        for b in witnesses.iter().skip(i + 1) {
            let km = a.1.distance_km(&b.1);
            let hours = (a.0.abs_diff(b.0) as f64 / 3_600.0).max(1.0 / 60.0);
            if a.3 == b.3 || km < CLONE_DISTANCE_KM_MIN || km / hours <= CLONE_SPEED_KMH_MAX {
                continue;
            }
            let per = (near(&a.1), near(&b.1));
            if best.is_none_or(|(.., q)| per.0.min(per.1) > q.0.min(q.1)) {
                best = Some((a, b, per));
            }
        }
    }
    let (a, b, per_place) = best?;
    Some(CloneEvidence {
        pair: ((a.0, a.1), (b.0, b.1)),
        networks,
        per_place,
        ignored: liars.len(),
    })
}

/// Which alerts to list.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    /// Only these kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// Only alerts updated at or after (Unix seconds).
    pub since: Option<u64>,
    /// Only about this participant.
    pub participant: Option<ParticipantId>,
    /// Only open (`true`) or acknowledged (`false`) ones.
    pub open: Option<bool>,
    /// Only ids below this (the previous page's last id).
    pub before: Option<u64>,
    /// At most this many (≤ [`ALERTS_PAGE_MAX`]).
    pub limit: usize,
}

/// Merges a detail: arrays are unions (bounded), objects merge, anything else is replaced.
fn merge_detail(
    map: &mut serde_json::Map<String, serde_json::Value>,
    k: String,
    v: serde_json::Value,
) {
    use serde_json::Value;
    match (map.get_mut(&k), v) {
        (Some(Value::Array(old)), Value::Array(new)) => {
            for x in new {
                if old.len() < EVIDENCE_DOCUMENTS_MAX && !old.contains(&x) {
                    old.push(x);
                }
            }
        }
        (Some(Value::Object(old)), Value::Object(new)) => {
            for (k2, v2) in new {
                old.insert(k2, v2);
            }
        }
        (_, v) => {
            map.insert(k, v);
        }
    }
}

const ROW_ALERT: u8 = b'a';
const ROW_LEDGER: u8 = b'l';
const ROW_WARM: u8 = b'w';
const ROW_SCANS: u8 = b's';
const ROW_COMPLAINTS: u8 = b'k';
const ROW_VERSION: u8 = 1;

fn versioned(v: &impl Serialize) -> Vec<u8> {
    let mut out = vec![ROW_VERSION];
    // Serialising plain lists of numbers and strings cannot fail.
    let _ = serde_json::to_writer(&mut out, v);
    out
}

fn unversioned<T: serde::de::DeserializeOwned>(v: &[u8]) -> Result<T, String> {
    match v.split_first() {
        Some((&ROW_VERSION, json)) => serde_json::from_slice(json).map_err(|e| e.to_string()),
        _ => Err("a row of an unknown version".into()),
    }
}

impl Projection for Risk {
    fn name(&self) -> &'static str {
        "risk"
    }

    fn load_row(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        match key.split_first() {
            Some((&ROW_ALERT, _)) => {
                let a: Alert = match value.split_first() {
                    Some((&ROW_VERSION, json)) => {
                        serde_json::from_slice(json).map_err(|e| e.to_string())?
                    }
                    _ => return Err("an alert row of an unknown version".into()),
                };
                let latest = self.open.entry((a.kind, a.subject)).or_insert(a.id);
                *latest = (*latest).max(a.id);
                *self.by_kind.entry(a.kind).or_default() += 1;
                self.anonymous += u64::from(a.participant().is_none());
                self.alerts.insert(a.id, a);
            }
            Some((&ROW_LEDGER, k)) if k.len() == 12 && value.len() == 16 => {
                let shop = u32::from_be_bytes(k[..4].try_into().map_err(|_| "key")?);
                let gtin = u64::from_be_bytes(k[4..].try_into().map_err(|_| "key")?);
                let r = u64::from_le_bytes(value[..8].try_into().map_err(|_| "value")?);
                let s = u64::from_le_bytes(value[8..].try_into().map_err(|_| "value")?);
                self.ledger.insert((shop, gtin), (r, s));
            }
            Some((&ROW_WARM, _)) => {
                self.warm_mark = value
                    .try_into()
                    .map(u64::from_le_bytes)
                    .map_err(|_| "a warm row of the wrong size")?;
            }
            Some((&ROW_SCANS, k)) => {
                let key = types::model::CodeKey::from_bytes(k).ok_or("a scan row's key")?;
                // (time, lat, lon, scanner, network); rows of the first version had no
                // network: the scanner stands for it, as for a scan recorded without one.
                let list: Vec<(u64, i16, i16, u64, u64)> =
                    match unversioned::<Vec<(u64, i16, i16, u64, u64)>>(value) {
                        Ok(l) => l,
                        Err(_) => unversioned::<Vec<(u64, i16, i16, u64)>>(value)?
                            .into_iter()
                            .map(|(at, la, lo, who)| (at, la, lo, who, who))
                            .collect(),
                    };
                let recent: VecDeque<Scan> = list
                    .into_iter()
                    .map(|(at, lat10, lon10, who, net)| (at, Place { lat10, lon10 }, who, net))
                    .collect();
                if let Some(last) = recent.back() {
                    self.scans_order.insert((last.0, FactKey(key)));
                }
                self.scans.insert(FactKey(key), recent);
            }
            Some((&ROW_COMPLAINTS, k)) if k.len() == 4 => {
                let shop = u32::from_be_bytes(k.try_into().map_err(|_| "key")?);
                // Rows of the first version had no tail flag: read as no label.
                let list: VecDeque<RecentComplaint> = match unversioned(value) {
                    Ok(l) => l,
                    Err(_) => unversioned::<VecDeque<RecentComplaintV1>>(value)?
                        .into_iter()
                        .map(|(at, id, code, who)| (at, id, code, who, false))
                        .collect(),
                };
                self.complaints.insert(shop, list);
            }
            _ => return Err("a row of an unknown kind".into()),
        }
        Ok(())
    }

    fn apply(&mut self, e: &FeedEntry, reg: &Registry) -> Result<(), String> {
        self.last_at = self.last_at.max(e.at);
        match &e.fact {
            Fact::Document(d) => self.document(e, d, reg)?,
            Fact::Refused(r) => self.refused(e, r, reg)?,
            Fact::TillCheck(t) => self.remember_check(e, t),
            Fact::Verified(v) => self.scan(e, v),
            Fact::TailFailed(t) => {
                let (subject, severity) = match t.who {
                    Who::Participant(p) => (Subject::Participant(p), Severity::High),
                    Who::Client(c) => (Subject::Client(c), Severity::Medium),
                };
                let mut s = Signal::new(Kind::ForgedTail, subject, t.at);
                s.severity = if t.via == "till_check" {
                    severity
                } else {
                    Severity::Medium
                };
                s.count = 1;
                s.codes.push(code_text(&t.key));
                s.details.insert("via".into(), serde_json::json!([t.via]));
                if let Who::Client(c) = t.who {
                    s.details
                        .insert("client".into(), format!("{c:016x}").into());
                }
                self.raise(e.seq, s);
            }
            Fact::Complaint(c) => self.complaint(e, c, reg)?,
            Fact::LateSale(l) => self.late_sale(e, l, reg)?,
            Fact::Ack(a) => {
                if let Some(al) = self.alerts.get_mut(&a.alert) {
                    if al.ack.is_none() {
                        al.ack = Some(Ack {
                            by: a.by,
                            at: e.at,
                            note: a.note.clone(),
                        });
                        self.dirty_alerts.insert(a.alert);
                    }
                }
            }
            Fact::Block(_) | Fact::CardOwner(_) => {}
        }
        Ok(())
    }

    fn take_changes(&mut self) -> Vec<RowChange> {
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.dirty_alerts) {
            if let Some(a) = self.alerts.get(&id) {
                let mut v = vec![ROW_VERSION];
                if serde_json::to_writer(&mut v, a).is_ok() {
                    let mut k = vec![ROW_ALERT];
                    k.extend_from_slice(&id.to_be_bytes());
                    out.push((k, Some(v)));
                }
            }
        }
        for (shop, gtin) in std::mem::take(&mut self.dirty_ledger) {
            let (r, s) = self.ledger.get(&(shop, gtin)).copied().unwrap_or_default();
            let mut k = vec![ROW_LEDGER];
            k.extend_from_slice(&shop.to_be_bytes());
            k.extend_from_slice(&gtin.to_be_bytes());
            let mut v = r.to_le_bytes().to_vec();
            v.extend_from_slice(&s.to_le_bytes());
            out.push((k, Some(v)));
        }
        for key in std::mem::take(&mut self.dirty_scans) {
            let mut k = vec![ROW_SCANS];
            k.extend_from_slice(key.0.as_bytes());
            let v = self.scans.get(&key).map(|r| {
                let list: Vec<(u64, i16, i16, u64, u64)> = r
                    .iter()
                    .map(|(at, p, who, net)| (*at, p.lat10, p.lon10, *who, *net))
                    .collect();
                versioned(&list)
            });
            out.push((k, v));
        }
        for shop in std::mem::take(&mut self.dirty_complaints) {
            let mut k = vec![ROW_COMPLAINTS];
            k.extend_from_slice(&shop.to_be_bytes());
            out.push((k, self.complaints.get(&shop).map(versioned)));
        }
        // With every flush, even one of till checks alone: they change no row but move
        // the checkpoint past themselves, and a restart must replay them.
        out.push((vec![ROW_WARM], Some(self.warm_seq().to_le_bytes().to_vec())));
        out
    }

    fn warm_from(&self) -> Option<u64> {
        (self.warm_mark != u64::MAX && self.warm_mark != 0).then_some(self.warm_mark)
    }

    fn warm_kinds(&self) -> Option<&'static [types::feed::FactKind]> {
        Some(&[types::feed::FactKind::TillCheck])
    }

    fn warm_time(&mut self, at: u64) {
        self.last_at = self.last_at.max(at);
    }

    fn warm(&mut self, e: &FeedEntry, _: &Registry) {
        self.last_at = self.last_at.max(e.at);
        if let Fact::TillCheck(t) = &e.fact {
            self.remember_check(e, t);
        }
    }
}
