//! Answers from the aggregates: a pure function of the projection's state and the query.
//!
//! A regulator's query reads a roll-up (at most one series per region, seller, GTIN or
//! product group); anyone else's reads only the base series it may see (its own sales, and
//! its own goods at every shop), found through the seller and owner indexes.

use crate::series::{Mixed, Series};
use crate::time::{self, MixedRange};
use crate::{
    Analytics, Cube, FlowRow, FlowsAnswer, SalesAnswer, SalesGroup, SalesRow, Scope, StockAnswer,
    StockGroup, StockRow, Window, ROWS_MAX,
};
use rustc_hash::FxHashMap;
use types::model::ParticipantId;

/// Local-hour bounds per region index.
type Bounds = Vec<(Option<i32>, Option<i32>)>;

fn mixed_sum(m: &Mixed, r: &MixedRange) -> u64 {
    match *r {
        MixedRange::All => m.days.total(),
        MixedRange::Days(lo, hi) => m.days.sum(lo, hi),
        MixedRange::UtcHours(lo, hi) => m.utc_hours.sum(lo, hi),
    }
}

/// Sorts rows (by key for time groupings, else by units descending then key) and cuts them
/// at [`ROWS_MAX`]; whether it cut.
fn sort_cut<T>(
    rows: &mut Vec<T>,
    by_key: bool,
    key: impl Fn(&T) -> &str,
    units: impl Fn(&T) -> u64,
) -> bool {
    if by_key {
        rows.sort_by(|a, b| key(a).cmp(key(b)));
    } else {
        rows.sort_by(|a, b| units(b).cmp(&units(a)).then_with(|| key(a).cmp(key(b))));
    }
    let cut = rows.len() > ROWS_MAX;
    rows.truncate(ROWS_MAX);
    cut
}

impl Analytics {
    fn bounds(&self, w: &Window) -> Bounds {
        self.regions.iter().map(|r| w.local_hours(&r.tz)).collect()
    }

    fn region_of(&self, p: ParticipantId) -> u16 {
        self.parts.get(&p).map_or(0, |i| i.region)
    }

    /// Adds one measure of `cube` into `acc` (keyed by the group's internal value).
    fn measure(
        &self,
        cube: &Cube,
        scope: Scope,
        group: SalesGroup,
        w: &Window,
        bounds: &Bounds,
        mut add: impl FnMut(i64, u64),
    ) {
        let b = |r: u16| bounds.get(usize::from(r)).copied().unwrap_or((None, None));
        match scope {
            Scope::All => match group {
                SalesGroup::Region => {
                    for (&r, s) in &cube.region {
                        let (lo, hi) = b(r);
                        add(i64::from(r), s.sum(lo, hi));
                    }
                }
                SalesGroup::Participant => {
                    for (&p, s) in &cube.seller {
                        let (lo, hi) = b(self.region_of(p));
                        add(i64::from(p), s.sum(lo, hi));
                    }
                }
                SalesGroup::Gtin => {
                    let r = w.mixed();
                    for (&g, m) in &cube.gtin {
                        add(g as i64, mixed_sum(m, &r));
                    }
                }
                SalesGroup::ProductGroup => {
                    let r = w.mixed();
                    for (&g, m) in &cube.group {
                        add(i64::from(g), mixed_sum(m, &r));
                    }
                }
                SalesGroup::Day | SalesGroup::Hour => {
                    let day = group == SalesGroup::Day;
                    for (&r, s) in &cube.region {
                        let (lo, hi) = b(r);
                        for &(h, n) in s.range(lo, hi) {
                            add(
                                i64::from(if day { h.div_euclid(24) } else { h }),
                                u64::from(n),
                            );
                        }
                    }
                }
            },
            Scope::Participant(me) => {
                let mut visit = |seller: ParticipantId, gtin: u64, s: &Series| {
                    let region = self.region_of(seller);
                    let (lo, hi) = b(region);
                    let key = match group {
                        SalesGroup::Region => i64::from(region),
                        SalesGroup::ProductGroup => {
                            i64::from(self.prods.get(&gtin).map_or(0, |p| p.group))
                        }
                        SalesGroup::Gtin => gtin as i64,
                        SalesGroup::Participant => i64::from(seller),
                        SalesGroup::Day | SalesGroup::Hour => {
                            let day = group == SalesGroup::Day;
                            for &(h, n) in s.range(lo, hi) {
                                add(
                                    i64::from(if day { h.div_euclid(24) } else { h }),
                                    u64::from(n),
                                );
                            }
                            return;
                        }
                    };
                    add(key, s.sum(lo, hi));
                };
                if let Some(mine) = cube.base.get(&me) {
                    for (&g, s) in mine {
                        visit(me, g, s);
                    }
                }
                for &(seller, g) in cube.by_owner.get(&me).map_or(&[][..], |v| v.as_slice()) {
                    // Its own sales of its own goods were counted above.
                    if seller == me {
                        continue;
                    }
                    if let Some(s) = cube.base.get(&seller).and_then(|m| m.get(&g)) {
                        visit(seller, g, s);
                    }
                }
            }
        }
    }

    /// The words of a group's internal key.
    fn key_text(&self, group: SalesGroup, k: i64) -> String {
        match group {
            SalesGroup::Region => self
                .regions
                .get(k as usize)
                .map_or_else(|| crate::UNKNOWN.to_string(), |r| r.code.clone()),
            SalesGroup::ProductGroup => self
                .groups
                .get(k as usize)
                .cloned()
                .unwrap_or_else(|| crate::UNKNOWN.to_string()),
            SalesGroup::Gtin => format!("{k:014}"),
            SalesGroup::Participant => self
                .parts
                .get(&(k as u32))
                .map_or_else(|| format!("#{k}"), |p| p.tin.clone()),
            SalesGroup::Day => time::day_key(k as i32),
            SalesGroup::Hour => time::hour_key(k as i32),
        }
    }

    /// Units sold (and returned) in `w` that `scope` may see, grouped by `group`.
    pub fn sales(&self, scope: Scope, group: SalesGroup, w: &Window) -> SalesAnswer {
        let bounds = self.bounds(w);
        let mut acc: FxHashMap<i64, (u64, u64)> = FxHashMap::default();
        self.measure(&self.sales, scope, group, w, &bounds, |k, n| {
            if n > 0 {
                acc.entry(k).or_default().0 += n;
            }
        });
        self.measure(&self.returns, scope, group, w, &bounds, |k, n| {
            if n > 0 {
                acc.entry(k).or_default().1 += n;
            }
        });
        let (mut total, mut returns) = (0u64, 0u64);
        let mut rows: Vec<SalesRow> = acc
            .into_iter()
            .map(|(k, (units, r))| {
                total += units;
                returns += r;
                SalesRow {
                    key: self.key_text(group, k),
                    units,
                    returns: r,
                }
            })
            .collect();
        let by_key = matches!(group, SalesGroup::Day | SalesGroup::Hour);
        let truncated = sort_cut(&mut rows, by_key, |r| r.key.as_str(), |r| r.units);
        SalesAnswer {
            group_by: group.name().to_string(),
            rows,
            total,
            returns,
            truncated,
        }
    }

    /// Units in circulation that `scope` may see, grouped by `group`.
    pub fn stock(&self, scope: Scope, group: StockGroup) -> StockAnswer {
        let st = &self.stock;
        let sg = match group {
            StockGroup::Region => SalesGroup::Region,
            StockGroup::ProductGroup => SalesGroup::ProductGroup,
            StockGroup::Gtin => SalesGroup::Gtin,
            StockGroup::Participant => SalesGroup::Participant,
        };
        let mut acc: FxHashMap<i64, i64> = FxHashMap::default();
        match scope {
            Scope::All => {
                let it: Box<dyn Iterator<Item = (i64, i64)>> = match group {
                    StockGroup::Region => {
                        Box::new(st.region.iter().map(|(&k, &v)| (i64::from(k), v)))
                    }
                    StockGroup::ProductGroup => {
                        Box::new(st.group.iter().map(|(&k, &v)| (i64::from(k), v)))
                    }
                    StockGroup::Gtin => Box::new(st.gtin.iter().map(|(&k, &v)| (k as i64, v))),
                    StockGroup::Participant => {
                        Box::new(st.holder.iter().map(|(&k, &v)| (i64::from(k), v)))
                    }
                };
                acc.extend(it);
            }
            Scope::Participant(me) => {
                let mut visit = |holder: ParticipantId, gtin: u64, n: i64| {
                    let key = match group {
                        StockGroup::Region => i64::from(self.region_of(holder)),
                        StockGroup::ProductGroup => {
                            i64::from(self.prods.get(&gtin).map_or(0, |p| p.group))
                        }
                        StockGroup::Gtin => gtin as i64,
                        StockGroup::Participant => i64::from(holder),
                    };
                    *acc.entry(key).or_default() += n;
                };
                if let Some(mine) = st.base.get(&me) {
                    for (&g, &n) in mine {
                        visit(me, g, n);
                    }
                }
                for &(holder, g) in st.by_owner.get(&me).map_or(&[][..], |v| v.as_slice()) {
                    if holder == me {
                        continue;
                    }
                    if let Some(&n) = st.base.get(&holder).and_then(|m| m.get(&g)) {
                        visit(holder, g, n);
                    }
                }
            }
        }
        let mut total = 0u64;
        // A count below zero means the feed began after goods were in circulation (a
        // registry older than its feed): shown as none, never as negative stock.
        let mut rows: Vec<StockRow> = acc
            .into_iter()
            .filter(|&(_, v)| v > 0)
            .map(|(k, v)| {
                total += v as u64;
                StockRow {
                    key: self.key_text(sg, k),
                    units: v as u64,
                }
            })
            .collect();
        let truncated = sort_cut(&mut rows, false, |r| r.key.as_str(), |r| r.units);
        StockAnswer {
            group_by: group.name().to_string(),
            rows,
            total,
            truncated,
        }
    }

    /// Units shipped in `w` (the sender's local days) from region to region that `scope`
    /// may see (as sender, receiver or card owner).
    pub fn flows(&self, scope: Scope, w: &Window) -> FlowsAnswer {
        let days: Bounds = self.regions.iter().map(|r| w.local_days(&r.tz)).collect();
        let b = |r: u16| days.get(usize::from(r)).copied().unwrap_or((None, None));
        let mut acc: FxHashMap<(u16, u16), u64> = FxHashMap::default();
        match scope {
            Scope::All => {
                for (&(f, t), s) in &self.flows.regions {
                    let (lo, hi) = b(f);
                    *acc.entry((f, t)).or_default() += s.sum(lo, hi);
                }
            }
            Scope::Participant(me) => {
                for key in self
                    .flows
                    .visible
                    .get(&me)
                    .map_or(&[][..], |v| v.as_slice())
                {
                    let Some(s) = self.flows.base.get(key) else {
                        continue;
                    };
                    let (f, t) = (self.region_of(key.0), self.region_of(key.1));
                    let (lo, hi) = b(f);
                    *acc.entry((f, t)).or_default() += s.sum(lo, hi);
                }
            }
        }
        let code = |r: u16| {
            self.regions
                .get(usize::from(r))
                .map_or_else(|| crate::UNKNOWN.to_string(), |r| r.code.clone())
        };
        let mut total = 0;
        let mut rows: Vec<FlowRow> = acc
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|((f, t), units)| {
                total += units;
                FlowRow {
                    from: code(f),
                    to: code(t),
                    units,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.units
                .cmp(&a.units)
                .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
        });
        let truncated = rows.len() > ROWS_MAX;
        rows.truncate(ROWS_MAX);
        FlowsAnswer {
            rows,
            total,
            truncated,
        }
    }
}
