//! `tracemark bench --only analytics`: the analytics projection loaded in process with
//! synthetic facts (no HTTP, no store), then every query kind timed.
//!
//! The load: [`SALE_UNITS`] sale units in receipts of [`RECEIPT_UNITS`], over [`SHOPS`]
//! shops in [`REGIONS`] regions, [`GTINS`] GTINs of [`PRODUCERS`] producers, [`DAYS`] days
//! of fiscal times (in order, with the jitter of tills that report late); before each
//! receipt an acceptance of goods into the shop (so stock is real), and a shipment between
//! regions every [`SHIP_EVERY`] receipts (so flows are).

use analytics::{Analytics, Directory, SalesGroup, Scope, StockGroup, Window};
use std::time::Instant;
use types::feed::{Brief, DocFact, Fact, FactKey, UnitChange};
use types::model::{CodeKey, DocType, Reason, Status};

/// Sale units loaded (the target: every query ≤ 50 ms p99 at this size).
pub const SALE_UNITS: u64 = 10_000_000;
/// Units per receipt.
pub const RECEIPT_UNITS: usize = 10;
/// Shops.
pub const SHOPS: u32 = 1_000;
/// Regions.
pub const REGIONS: u32 = 85;
/// GTINs.
pub const GTINS: u64 = 2_000;
/// Producers owning the GTINs' cards.
pub const PRODUCERS: u32 = 100;
/// Days of sales.
pub const DAYS: u64 = 90;
/// A shipment between regions every this many receipts.
pub const SHIP_EVERY: u64 = 10;
/// Repetitions of each query (p99 of 200 is its second-worst).
pub const QUERY_RUNS: usize = 200;

/// 2026-01-01T00:00:00Z: the first day of sales.
const START: u64 = 1_767_225_600;
const PRODUCER0: u32 = 10_000;
const GTIN0: u64 = 4_600_000_000_000;

struct Synthetic;

fn region_code(i: u32) -> String {
    let known = types::regions::REGIONS;
    match known.get(i as usize) {
        Some(r) => r.code.to_string(),
        None => format!("RU-Z{i:02}"),
    }
}

impl Directory for Synthetic {
    fn participant(&self, id: u32) -> Result<Option<(String, String)>, String> {
        Ok(Some((
            format!("{:010}", 7_700_000_000u64 + u64::from(id)),
            region_code(id % REGIONS),
        )))
    }
    fn product(&self, gtin: u64) -> Result<Option<(String, u32)>, String> {
        let i = gtin - GTIN0;
        Ok(Some((
            format!("group{}", i % 12),
            PRODUCER0 + (i % u64::from(PRODUCERS)) as u32,
        )))
    }
    fn document_time(&self, id: &uuid::Uuid) -> Result<Option<u64>, String> {
        // Shipments carry their time in their id here.
        Ok(Some((id.as_u128() >> 64) as u64))
    }
}

/// xorshift64*: a fixed stream, so every run loads the same facts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn brief(owner: u32, status: Status, transit: bool) -> Brief {
    Brief {
        owner,
        status: status as u8 | if transit { 0x80 } else { 0 },
        reason: if status == Status::Retired {
            Reason::Retail as u8
        } else {
            0
        },
    }
}

fn doc(seq: u64, t: DocType, actor: u32, units: Vec<UnitChange>) -> DocFact {
    DocFact {
        seq,
        id: uuid::Uuid::from_u128(u128::from(seq)),
        doc_type: t as u8,
        actor,
        fiscal_at: None,
        receiver: None,
        sender: None,
        check_ids: Vec::new(),
        units,
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn time<T>(name: &str, runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f());
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = (pct(&mut ms, 0.50), pct(&mut ms, 0.99));
    println!("  {name:<58} p50 {p50:>8.3} ms   p99 {p99:>8.3} ms");
    (p50, p99)
}

/// Loads the projection and times the queries; prints the figures.
pub fn rows(quick: bool) -> anyhow::Result<()> {
    let units_total = if quick { SALE_UNITS / 10 } else { SALE_UNITS };
    let runs = if quick { QUERY_RUNS / 4 } else { QUERY_RUNS };
    println!(
        "analytics: {} sale units, {SHOPS} shops, {REGIONS} regions, {GTINS} GTINs, {DAYS} days; applied in process",
        units_total
    );
    let dir = Synthetic;
    let mut a = Analytics::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut seq, mut serial, mut sold) = (0u64, 0u64, 0u64);
    let span = DAYS * 86_400;
    let started = Instant::now();
    let mut window_start = (Instant::now(), 0u64);
    let mut last_million = f64::NAN;
    let mut next_flush = 100_000u64;
    while sold < units_total {
        let shop = 1 + rng.below(u64::from(SHOPS)) as u32;
        // Fiscal times run forward through the 90 days, each up to an hour late.
        let at = START + sold * span / units_total + rng.below(3_600);
        let mut accept = Vec::with_capacity(RECEIPT_UNITS + 2);
        let mut sale = Vec::with_capacity(RECEIPT_UNITS);
        for i in 0..RECEIPT_UNITS + 2 {
            serial += 1;
            let gtin = GTIN0 + rng.below(GTINS);
            let key = FactKey(CodeKey::unit(gtin, &serial.to_be_bytes()));
            let producer = PRODUCER0 + ((gtin - GTIN0) % u64::from(PRODUCERS)) as u32;
            accept.push(UnitChange {
                key,
                before: brief(producer, Status::Introduced, true),
                after: brief(shop, Status::Introduced, false),
            });
            if i < RECEIPT_UNITS {
                sale.push(UnitChange {
                    key,
                    before: brief(shop, Status::Introduced, false),
                    after: brief(shop, Status::Retired, false),
                });
            }
        }
        seq += 1;
        a.apply_fact(
            &Fact::Document(doc(seq, DocType::Accept, shop, accept)),
            &dir,
        )
        .expect("the synthetic directory answers");
        seq += 1;
        let mut d = doc(seq, DocType::Sell, shop, sale);
        d.fiscal_at = Some(at);
        a.apply_fact(&Fact::Document(d), &dir)
            .expect("the synthetic directory answers");
        if seq % (2 * SHIP_EVERY) == 0 {
            let to = 1 + rng.below(u64::from(SHOPS)) as u32;
            let from = PRODUCER0 + rng.below(u64::from(PRODUCERS)) as u32;
            let units = (0..RECEIPT_UNITS)
                .map(|_| {
                    serial += 1;
                    let gtin = GTIN0 + rng.below(GTINS);
                    UnitChange {
                        key: FactKey(CodeKey::unit(gtin, &serial.to_be_bytes())),
                        before: brief(from, Status::Introduced, false),
                        after: brief(from, Status::Introduced, true),
                    }
                })
                .collect();
            seq += 1;
            let mut d = doc(seq, DocType::Ship, from, units);
            d.id = uuid::Uuid::from_u128((u128::from(at) << 64) | u128::from(seq));
            d.receiver = Some(to);
            a.apply_fact(&Fact::Document(d), &dir)
                .expect("the synthetic directory answers");
        }
        sold += RECEIPT_UNITS as u64;
        // The follower writes changed rows every 500 ms; here every 100,000 sale units.
        if sold >= next_flush {
            std::hint::black_box(registry::project::Projection::take_changes(&mut a));
            next_flush += 100_000;
        }
        if sold % 1_000_000 == 0 {
            let dt = window_start.0.elapsed().as_secs_f64();
            last_million = (sold - window_start.1) as f64 / dt;
            window_start = (Instant::now(), sold);
        }
    }
    let total_s = started.elapsed().as_secs_f64();
    println!(
        "  applying: {:.1} s for {} sale units (+ as many accepted, + shipments): {:.2} M sale units/s overall; the last million: {:.2} M units/s",
        total_s,
        sold,
        sold as f64 / total_s / 1e6,
        last_million / 1e6
    );
    let all = Window::all();
    let month = Window::parse(Some("2026-02-01"), Some("2026-03-01"))?;
    let hours = Window::parse(
        Some("2026-02-01T09:00:00+03:00"),
        Some("2026-03-01T18:00:00+03:00"),
    )?;
    let producer = Scope::Participant(PRODUCER0 + 7);
    let shop = Scope::Participant(42);
    let mut worst: f64 = 0.0;
    for &g in SalesGroup::ALL {
        for (who, scope) in [
            ("regulator", Scope::All),
            ("producer", producer),
            ("shop", shop),
        ] {
            for (wn, w) in [
                ("all time", &all),
                ("dates", &month),
                ("timestamps", &hours),
            ] {
                let name = format!("sales by {} · {who} · {wn}", g.name());
                worst = worst.max(time(&name, runs, || a.sales(scope, g, w)).1);
            }
        }
    }
    for &g in StockGroup::ALL {
        for (who, scope) in [
            ("regulator", Scope::All),
            ("producer", producer),
            ("shop", shop),
        ] {
            let name = format!("stock by {} · {who}", g.name());
            worst = worst.max(time(&name, runs, || a.stock(scope, g)).1);
        }
    }
    for (wn, w) in [
        ("all time", &all),
        ("dates", &month),
        ("timestamps", &hours),
    ] {
        worst = worst.max(
            time(&format!("flows · regulator · {wn}"), runs, || {
                a.flows(Scope::All, w)
            })
            .1,
        );
    }
    let check = a.sales(Scope::All, SalesGroup::Region, &all);
    if check.total != sold {
        anyhow::bail!(
            "analytics bench: {} units counted, {sold} sold",
            check.total
        );
    }
    println!("  worst p99 of any query: {worst:.3} ms (target ≤ 50 ms)\n");
    Ok(())
}
