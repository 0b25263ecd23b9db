//! Real-time analytics: sales, returns, stock in circulation and inter-regional flows, kept
//! as aggregates of the registry's feed (`types::feed`) by a projection
//! (`registry::project`).
//!
//! # What is counted
//!
//! - **Sales**: every unit of an accepted `sell` document whose state after it is sold,
//!   keyed by the seller (the document's actor), the GTIN and the *fiscal* time
//!   (`receipt.at`) in the seller's region's local time, to the hour. **Returns** are
//!   counted apart (never subtracted), at the return document's registration time.
//! - **Stock in circulation**: per (owner, GTIN), the units in circulation; a unit in
//!   transit still counts for its owner and moves to the receiver when accepted.
//! - **Flows**: units shipped (`ship`) from the sender's region to the receiver's region,
//!   by the sender's local day of the shipment's registration.
//!
//! A participant's region is `Participant.region` (ISO 3166-2), its zone
//! `types::regions::region(code).tz` (an unknown region counts in UTC); a GTIN's product
//! group and brand owner come from its card. These look-ups are cached.
//!
//! # Time windows ([`Window`])
//!
//! Sales are counted by the **local hour** of the seller's region. `from` (inclusive) and
//! `to` (exclusive) are either both dates `YYYY-MM-DD` or both RFC 3339 timestamps (one may
//! be absent):
//! - a date is the local midnight starting that day *in each seller's region* (so
//!   `from=2026-03-01&to=2026-03-02` is 1 March in Kaliningrad and in Vladivostok alike);
//! - a timestamp is an instant; a sale counts when the local hour it falls in *starts* at or
//!   after `from` and before `to`. Windows therefore have an hour's resolution: a bound
//!   inside an hour is moved up to the next whole hour. (Exact for zones whole hours from
//!   UTC, as all Russian zones are.)
//!
//! Flows are counted by local day, so a timestamp bound moves up to the next local midnight.
//!
//! # Scope ([`Scope`])
//!
//! A regulator sees everything. Any other participant sees a sale or stock row only when it
//! is the seller or holder, or when it owns the GTIN's product card: a producer sees where
//! its own goods are and sell; a shop sees its own; nobody sees a competitor's goods.
//!
//! # Cost
//!
//! Nothing is kept per sale. The base is one series per (seller, GTIN): a sorted vector of
//! (local hour, units), ~8 bytes per non-empty hour. Regulators read roll-ups (per region,
//! participant, GTIN, product group) and everybody else reads only the base series they
//! may see, found through an index by seller and by card owner. The stored rows are the
//! base cells, stock cells, flow cells and the cached look-ups; the roll-ups are rebuilt
//! from them on load.

#![deny(missing_docs)]

mod rows;
mod series;
#[cfg(test)]
mod tests;
mod time;

use registry::project::{Projection, RowChange};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use series::{Mixed, Series};
use std::sync::Arc;
pub use time::{Bound, Window};
use types::feed::{DocFact, Fact, FeedEntry};
use types::model::{DocType, ParticipantId};

/// Most rows one answer carries: a regulator grouping a national market by GTIN or shop
/// could ask for hundreds of thousands, which no dashboard shows; the rest are cut (in the
/// answer's order, so the largest stay) and `truncated` says so. Totals count everything.
pub const ROWS_MAX: usize = 10_000;

/// Region code used for a participant whose region is not in `types::regions` (counted
/// in UTC).
pub const UNKNOWN: &str = "unknown";

/// The projection's name: the namespace of its rows.
pub const NAME: &str = "analytics";

/// The shared handle the server reads and the follower writes.
pub type Handle = Arc<parking_lot::RwLock<Analytics>>;

/// A bad query: the field and what it takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `group_by` is not one of the allowed words.
    #[error("`group_by` must be one of {allowed}, not {given:?}")]
    GroupBy {
        /// What was given.
        given: String,
        /// The allowed values, `|`-separated.
        allowed: &'static str,
    },
    /// A time bound does not parse.
    #[error("`{field}` must be a date YYYY-MM-DD (local day) or an RFC 3339 timestamp such as 2026-03-01T10:00:00+03:00, not {given:?}")]
    Time {
        /// `from` or `to`.
        field: &'static str,
        /// What was given.
        given: String,
    },
    /// One bound is a date and the other a timestamp.
    #[error("`from` and `to` must both be dates (YYYY-MM-DD) or both RFC 3339 timestamps")]
    MixedBounds,
}

impl QueryError {
    /// The query parameter at fault.
    pub fn field(&self) -> &'static str {
        match self {
            QueryError::GroupBy { .. } => "group_by",
            QueryError::Time { field, .. } => field,
            QueryError::MixedBounds => "from",
        }
    }
}

/// What the projection needs to know of participants, products and documents (the
/// registry in production; a table in tests and the bench). `Ok(None)`: there is none;
/// `Err`: the read failed, and the fact must be applied again later (never taken for
/// "none", or the rows would depend on when a fact was applied).
pub trait Directory {
    /// A participant's TIN and region code.
    fn participant(&self, id: ParticipantId) -> Result<Option<(String, String)>, String>;
    /// A GTIN's product group and card owner.
    fn product(&self, gtin: u64) -> Result<Option<(String, ParticipantId)>, String>;
    /// When a document was registered (Unix seconds).
    fn document_time(&self, id: &uuid::Uuid) -> Result<Option<u64>, String>;
}

/// The registry as a [`Directory`].
pub struct RegistryDirectory<'a>(pub &'a registry::Registry);

impl Directory for RegistryDirectory<'_> {
    fn participant(&self, id: ParticipantId) -> Result<Option<(String, String)>, String> {
        let p = self.0.participant(id).map_err(|e| e.to_string())?;
        Ok(p.map(|p| (p.tin, p.region)))
    }
    fn product(&self, gtin: u64) -> Result<Option<(String, ParticipantId)>, String> {
        let p = self.0.product(gtin).map_err(|e| e.to_string())?;
        Ok(p.map(|p| (p.product_group, p.owner)))
    }
    fn document_time(&self, id: &uuid::Uuid) -> Result<Option<u64>, String> {
        let d = self.0.store().document(id).map_err(|e| e.to_string())?;
        Ok(d.map(|d| d.received_at))
    }
}

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A regulator: everything.
    All,
    /// Any other participant: its own sales and stock, and its own goods anywhere.
    Participant(ParticipantId),
}

/// An enum of API words, each variant written once with its word: `ALL`, `ALLOWED` (the
/// words joined by `|`, for error messages), `parse` and `name` follow from the one list.
macro_rules! api_words {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$vdoc:meta])* $v:ident => $s:literal ),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $( $(#[$vdoc])* $v, )+ }

        impl $name {
            /// Every value, in the order of the words.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The allowed words.
            pub const ALLOWED: &'static str = api_words!(@join $($s),+);

            /// Parses the API word.
            pub fn parse(s: &str) -> Result<$name, QueryError> {
                match s {
                    $($s => Ok($name::$v),)+
                    _ => Err(QueryError::GroupBy {
                        given: s.chars().take(64).collect(),
                        allowed: Self::ALLOWED,
                    }),
                }
            }

            /// The API word.
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $s,)+ }
            }
        }
    };
    (@join $first:literal $(, $rest:literal)*) => { concat!($first $(, "|", $rest)*) };
}

api_words! {
    /// How sales are grouped.
    SalesGroup {
        /// By the seller's region (ISO 3166-2).
        Region => "region",
        /// By the product group of the GTIN's card.
        ProductGroup => "product_group",
        /// By local day `YYYY-MM-DD`.
        Day => "day",
        /// By local hour `YYYY-MM-DDTHH`.
        Hour => "hour",
        /// By GTIN (14 digits).
        Gtin => "gtin",
        /// By seller (TIN).
        Participant => "participant",
    }
}

api_words! {
    /// How stock is grouped.
    StockGroup {
        /// By the holder's region.
        Region => "region",
        /// By product group.
        ProductGroup => "product_group",
        /// By GTIN.
        Gtin => "gtin",
        /// By holder (TIN).
        Participant => "participant",
    }
}

/// One row of a sales answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesRow {
    /// The group: a region code, product group, `YYYY-MM-DD`, `YYYY-MM-DDTHH`, GTIN or TIN.
    pub key: String,
    /// Units sold.
    pub units: u64,
    /// Units returned (counted apart, not subtracted).
    pub returns: u64,
}

/// `GET /api/v1/analytics/sales`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesAnswer {
    /// The grouping asked for.
    pub group_by: String,
    /// Sorted by key for `day` and `hour`, else by units, largest first (then by key).
    pub rows: Vec<SalesRow>,
    /// Units sold in the window and scope (all rows, even cut ones).
    pub total: u64,
    /// Units returned.
    pub returns: u64,
    /// Whether rows beyond [`ROWS_MAX`] were cut.
    pub truncated: bool,
}

/// One row of a stock answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockRow {
    /// The group: a region code, product group, GTIN or TIN.
    pub key: String,
    /// Units in circulation (in transit included, for the sender until accepted).
    pub units: u64,
}

/// `GET /api/v1/analytics/stock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockAnswer {
    /// The grouping asked for.
    pub group_by: String,
    /// By units, largest first (then by key).
    pub rows: Vec<StockRow>,
    /// Units in circulation in scope.
    pub total: u64,
    /// Whether rows beyond [`ROWS_MAX`] were cut.
    pub truncated: bool,
}

/// One row of a flows answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FlowRow {
    /// The sender's region.
    pub from: String,
    /// The receiver's region.
    pub to: String,
    /// Units shipped.
    pub units: u64,
}

/// `GET /api/v1/analytics/flows`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FlowsAnswer {
    /// By units, largest first (then by regions).
    pub rows: Vec<FlowRow>,
    /// Units shipped in the window and scope.
    pub total: u64,
    /// Whether rows beyond [`ROWS_MAX`] were cut.
    pub truncated: bool,
}

/// A region as the projection knows it: code and zone.
pub(crate) struct RegionInfo {
    pub(crate) code: String,
    pub(crate) tz: jiff::tz::TimeZone,
}

/// A participant as cached.
#[derive(Clone)]
pub(crate) struct PartInfo {
    pub(crate) tin: String,
    pub(crate) region: u16,
}

/// A product as cached.
#[derive(Clone, Copy)]
pub(crate) struct ProdInfo {
    pub(crate) group: u16,
    pub(crate) owner: ParticipantId,
}

/// One measure (sales or returns) per (seller, GTIN, local hour), with its roll-ups.
#[derive(Default)]
pub(crate) struct Cube {
    /// seller → GTIN → local hour → units: the base, stored as rows.
    pub(crate) base: FxHashMap<ParticipantId, FxHashMap<u64, Series>>,
    /// card owner → (seller, GTIN) pairs of the base (each once).
    pub(crate) by_owner: FxHashMap<ParticipantId, Vec<(ParticipantId, u64)>>,
    /// region → local hour → units.
    pub(crate) region: FxHashMap<u16, Series>,
    /// seller → local hour → units.
    pub(crate) seller: FxHashMap<ParticipantId, Series>,
    /// GTIN → local day and UTC hour.
    pub(crate) gtin: FxHashMap<u64, Mixed>,
    /// product group → local day and UTC hour.
    pub(crate) group: FxHashMap<u16, Mixed>,
    /// Base cells changed since the last `take_changes`.
    pub(crate) dirty: FxHashSet<(ParticipantId, u64, i32)>,
}

/// Stock per (holder, GTIN), with its roll-ups.
#[derive(Default)]
pub(crate) struct Stock {
    pub(crate) base: FxHashMap<ParticipantId, FxHashMap<u64, i64>>,
    pub(crate) by_owner: FxHashMap<ParticipantId, Vec<(ParticipantId, u64)>>,
    pub(crate) region: FxHashMap<u16, i64>,
    pub(crate) group: FxHashMap<u16, i64>,
    pub(crate) gtin: FxHashMap<u64, i64>,
    pub(crate) holder: FxHashMap<ParticipantId, i64>,
    pub(crate) dirty: FxHashSet<(ParticipantId, u64)>,
}

/// A flow cell's identity: sender, receiver, GTIN.
pub(crate) type FlowKey = (ParticipantId, ParticipantId, u64);

/// Shipments per (sender, receiver, GTIN, sender's local day), with the regional roll-up.
#[derive(Default)]
pub(crate) struct Flows {
    pub(crate) base: FxHashMap<FlowKey, Series>,
    /// participant → the flow keys it may see (as sender, receiver or card owner; once each).
    pub(crate) visible: FxHashMap<ParticipantId, Vec<FlowKey>>,
    /// (sender's region, receiver's region) → local day → units.
    pub(crate) regions: FxHashMap<(u16, u16), Series>,
    pub(crate) dirty: FxHashSet<(FlowKey, i32)>,
}

/// The analytics projection. Build with [`Analytics::default`], follow the feed with
/// `registry::project::follow`, query with [`Analytics::sales`], [`Analytics::stock`],
/// [`Analytics::flows`].
#[derive(Default)]
pub struct Analytics {
    pub(crate) regions: Vec<RegionInfo>,
    pub(crate) region_ids: FxHashMap<String, u16>,
    pub(crate) groups: Vec<String>,
    pub(crate) group_ids: FxHashMap<String, u16>,
    pub(crate) parts: FxHashMap<ParticipantId, PartInfo>,
    pub(crate) prods: FxHashMap<u64, ProdInfo>,
    /// Look-ups cached since the last `take_changes` (stored so that loading needs no
    /// registry, and a replay sees the same dimensions).
    pub(crate) new_parts: Vec<ParticipantId>,
    pub(crate) new_prods: Vec<u64>,
    pub(crate) sales: Cube,
    pub(crate) returns: Cube,
    pub(crate) stock: Stock,
    pub(crate) flows: Flows,
}

impl Analytics {
    /// The region index of a code (interned).
    pub(crate) fn region_id(&mut self, code: &str) -> u16 {
        if let Some(&i) = self.region_ids.get(code) {
            return i;
        }
        let tz = types::regions::region(code)
            .and_then(|r| jiff::tz::TimeZone::get(r.tz).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let i = self.regions.len() as u16;
        self.regions.push(RegionInfo {
            code: code.to_string(),
            tz,
        });
        self.region_ids.insert(code.to_string(), i);
        i
    }

    /// The product group index of a name (interned).
    pub(crate) fn group_id(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.group_ids.get(name) {
            return i;
        }
        let i = self.groups.len() as u16;
        self.groups.push(name.to_string());
        self.group_ids.insert(name.to_string(), i);
        i
    }

    /// Caches a participant as loaded or looked up.
    pub(crate) fn put_part(&mut self, id: ParticipantId, tin: &str, region: &str) -> PartInfo {
        let region = self.region_id(region);
        let info = PartInfo {
            tin: tin.to_string(),
            region,
        };
        self.parts.insert(id, info.clone());
        info
    }

    /// Caches a product as loaded or looked up.
    pub(crate) fn put_prod(&mut self, gtin: u64, group: &str, owner: ParticipantId) -> ProdInfo {
        let info = ProdInfo {
            group: self.group_id(group),
            owner,
        };
        self.prods.insert(gtin, info);
        info
    }

    fn part(&mut self, id: ParticipantId, dir: &dyn Directory) -> Result<PartInfo, String> {
        if let Some(p) = self.parts.get(&id) {
            return Ok(p.clone());
        }
        let (tin, region) = dir
            .participant(id)?
            .unwrap_or_else(|| (format!("#{id}"), UNKNOWN.to_string()));
        self.new_parts.push(id);
        Ok(self.put_part(id, &tin, &region))
    }

    fn prod(&mut self, gtin: u64, dir: &dyn Directory) -> Result<ProdInfo, String> {
        if let Some(p) = self.prods.get(&gtin) {
            return Ok(*p);
        }
        let (group, owner) = dir
            .product(gtin)?
            .unwrap_or_else(|| (UNKNOWN.to_string(), 0));
        self.new_prods.push(gtin);
        Ok(self.put_prod(gtin, &group, owner))
    }

    /// Applies one fact, looking participants, products and documents up in `dir`. An
    /// `Err` is a failed look-up: the fact may be half applied, and the projection is to
    /// be rebuilt from its checkpoint (as the projection runtime does).
    pub fn apply_fact(&mut self, fact: &Fact, dir: &dyn Directory) -> Result<(), String> {
        if let Fact::CardOwner(c) = fact {
            self.move_card(c.gtin, c.to);
            return Ok(());
        }
        let Fact::Document(d) = fact else {
            return Ok(());
        };
        match d.doc_type() {
            Some(DocType::Sell) => self.apply_sale(d, dir)?,
            Some(DocType::Return) => self.apply_return(d, dir)?,
            Some(DocType::Ship) => self.apply_ship(d, dir)?,
            _ => {}
        }
        self.apply_stock(d, dir)
    }

    /// A product card moved: what its owner sees (sales, returns, stock and flows of the
    /// GTIN by everyone) follows the card. A GTIN not seen yet needs nothing: its first
    /// look-up finds the new owner.
    fn move_card(&mut self, gtin: u64, to: ParticipantId) {
        let Some(p) = self.prods.get_mut(&gtin) else {
            return;
        };
        let from = p.owner;
        if from == to {
            return;
        }
        p.owner = to;
        // Stored again, so that a reload indexes the cells under the new owner.
        self.new_prods.push(gtin);
        for by_owner in [
            &mut self.sales.by_owner,
            &mut self.returns.by_owner,
            &mut self.stock.by_owner,
        ] {
            move_pairs(by_owner, gtin, from, to);
        }
        let keys: FxHashSet<FlowKey> = self
            .flows
            .base
            .keys()
            .filter(|k| k.2 == gtin)
            .copied()
            .collect();
        // The old owner keeps the flows it sent or received.
        if let Some(v) = self.flows.visible.get_mut(&from) {
            v.retain(|k| !keys.contains(k) || k.0 == from || k.1 == from);
        }
        let v = self.flows.visible.entry(to).or_default();
        let seen: FxHashSet<FlowKey> = v.iter().filter(|k| k.2 == gtin).copied().collect();
        v.extend(keys.into_iter().filter(|k| !seen.contains(k)));
    }

    fn apply_sale(&mut self, d: &DocFact, dir: &dyn Directory) -> Result<(), String> {
        // A sale without a fiscal time is refused by the registry; nothing to count.
        let Some(at) = d.fiscal_at else {
            return Ok(());
        };
        self.count_units(d, at, true, dir)
    }

    fn apply_return(&mut self, d: &DocFact, dir: &dyn Directory) -> Result<(), String> {
        // A return carries no receipt: its registration time, from the stored document.
        let Some(at) = dir.document_time(&d.id)? else {
            return Ok(());
        };
        self.count_units(d, at, false, dir)
    }

    /// Counts a sale's sold units or a return's returned units, grouped by GTIN.
    fn count_units(
        &mut self,
        d: &DocFact,
        at: u64,
        sale: bool,
        dir: &dyn Directory,
    ) -> Result<(), String> {
        let mut per_gtin: Vec<(u64, u32)> = Vec::new();
        for u in &d.units {
            let counted = if sale {
                u.after.sold()
            } else {
                u.before.sold() && !u.after.sold()
            };
            let Some(gtin) = u.key.0.gtin() else { continue };
            if !counted {
                continue;
            }
            match per_gtin.iter_mut().find(|(g, _)| *g == gtin) {
                Some((_, n)) => *n += 1,
                None => per_gtin.push((gtin, 1)),
            }
        }
        if per_gtin.is_empty() {
            return Ok(());
        }
        let seller = self.part(d.actor, dir)?;
        let tz = &self.regions[usize::from(seller.region)].tz;
        let hour = time::local_hour(tz, at as i64);
        for (gtin, n) in per_gtin {
            let prod = self.prod(gtin, dir)?;
            let utc = time::utc_hour_of_local(&self.regions[usize::from(seller.region)].tz, hour);
            let cube = if sale {
                &mut self.sales
            } else {
                &mut self.returns
            };
            cube.add(d.actor, seller.region, gtin, prod, hour, utc, n);
        }
        Ok(())
    }

    fn apply_ship(&mut self, d: &DocFact, dir: &dyn Directory) -> Result<(), String> {
        let Some(receiver) = d.receiver else {
            return Ok(());
        };
        let Some(at) = dir.document_time(&d.id)? else {
            return Ok(());
        };
        let sender = self.part(d.actor, dir)?;
        let to = self.part(receiver, dir)?;
        let day = time::local_hour(&self.regions[usize::from(sender.region)].tz, at as i64)
            .div_euclid(24);
        let mut per_gtin: Vec<(u64, u32)> = Vec::new();
        for u in &d.units {
            let Some(gtin) = u.key.0.gtin() else { continue };
            match per_gtin.iter_mut().find(|(g, _)| *g == gtin) {
                Some((_, n)) => *n += 1,
                None => per_gtin.push((gtin, 1)),
            }
        }
        for (gtin, n) in per_gtin {
            let owner = self.prod(gtin, dir)?.owner;
            self.flows.add(
                (d.actor, receiver, gtin),
                owner,
                sender.region,
                to.region,
                day,
                n,
            );
        }
        Ok(())
    }

    fn apply_stock(&mut self, d: &DocFact, dir: &dyn Directory) -> Result<(), String> {
        // Net change per (holder, GTIN) first: a document of 1,000 codes of one GTIN is
        // one map update, not a thousand.
        let mut delta: Vec<(ParticipantId, u64, i64)> = Vec::new();
        let mut bump = |holder: ParticipantId, gtin: u64, n: i64| match delta
            .iter_mut()
            .find(|(h, g, _)| *h == holder && *g == gtin)
        {
            Some((_, _, v)) => *v += n,
            None => delta.push((holder, gtin, n)),
        };
        for u in &d.units {
            let Some(gtin) = u.key.0.gtin() else { continue };
            let (b, a) = (u.before.in_circulation(), u.after.in_circulation());
            if b && a && u.before.owner == u.after.owner {
                continue;
            }
            if b {
                bump(u.before.owner, gtin, -1);
            }
            if a {
                bump(u.after.owner, gtin, 1);
            }
        }
        for (holder, gtin, n) in delta {
            if n == 0 {
                continue;
            }
            let h = self.part(holder, dir)?;
            let p = self.prod(gtin, dir)?;
            self.stock.add(holder, h.region, gtin, p, n);
        }
        Ok(())
    }
}

impl Cube {
    /// Adds `n` units of `gtin` sold (or returned) by `seller` at local hour `hour`
    /// (`utc`: the UTC hour that local hour starts in).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        seller: ParticipantId,
        region: u16,
        gtin: u64,
        prod: ProdInfo,
        hour: i32,
        utc: i32,
        n: u32,
    ) {
        let by_gtin = self.base.entry(seller).or_default();
        let series = by_gtin.entry(gtin).or_insert_with(|| {
            self.by_owner
                .entry(prod.owner)
                .or_default()
                .push((seller, gtin));
            Series::default()
        });
        series.add(hour, n);
        self.dirty.insert((seller, gtin, hour));
        self.region.entry(region).or_default().add(hour, n);
        self.seller.entry(seller).or_default().add(hour, n);
        self.gtin
            .entry(gtin)
            .or_default()
            .add(hour.div_euclid(24), utc, n);
        self.group
            .entry(prod.group)
            .or_default()
            .add(hour.div_euclid(24), utc, n);
    }
}

impl Flows {
    /// Adds `n` units shipped on the sender's local day `day`.
    pub(crate) fn add(
        &mut self,
        key: FlowKey,
        owner: ParticipantId,
        from: u16,
        to: u16,
        day: i32,
        n: u32,
    ) {
        let visible = &mut self.visible;
        let series = self.base.entry(key).or_insert_with(|| {
            let mut seen: Vec<ParticipantId> = Vec::with_capacity(3);
            for p in [key.0, key.1, owner] {
                if !seen.contains(&p) {
                    seen.push(p);
                    visible.entry(p).or_default().push(key);
                }
            }
            Series::default()
        });
        series.add(day, n);
        self.regions.entry((from, to)).or_default().add(day, n);
        self.dirty.insert((key, day));
    }
}

impl Stock {
    pub(crate) fn add(
        &mut self,
        holder: ParticipantId,
        region: u16,
        gtin: u64,
        prod: ProdInfo,
        n: i64,
    ) {
        let cell = self
            .base
            .entry(holder)
            .or_default()
            .entry(gtin)
            .or_insert_with(|| {
                self.by_owner
                    .entry(prod.owner)
                    .or_default()
                    .push((holder, gtin));
                0
            });
        *cell += n;
        *self.region.entry(region).or_default() += n;
        *self.group.entry(prod.group).or_default() += n;
        *self.gtin.entry(gtin).or_default() += n;
        *self.holder.entry(holder).or_default() += n;
        self.dirty.insert((holder, gtin));
    }
}

/// Moves a card owner's (holder, GTIN) pairs of `gtin` from `from` to `to`.
fn move_pairs(
    by_owner: &mut FxHashMap<ParticipantId, Vec<(ParticipantId, u64)>>,
    gtin: u64,
    from: ParticipantId,
    to: ParticipantId,
) {
    let Some(pairs) = by_owner.get_mut(&from) else {
        return;
    };
    let (moving, staying): (Vec<_>, Vec<_>) = pairs.drain(..).partition(|p| p.1 == gtin);
    *pairs = staying;
    // Each (holder, GTIN) pair is indexed once, under the card's owner: none of these is
    // under `to` already.
    by_owner.entry(to).or_default().extend(moving);
}

impl Projection for Analytics {
    fn name(&self) -> &'static str {
        NAME
    }

    fn load_row(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        rows::load(self, key, value).map_err(|e| e.to_string())
    }

    fn apply(&mut self, entry: &FeedEntry, reg: &registry::Registry) -> Result<(), String> {
        self.apply_fact(&entry.fact, &RegistryDirectory(reg))
    }

    fn take_changes(&mut self) -> Vec<RowChange> {
        rows::take_changes(self)
    }
}

mod query;
