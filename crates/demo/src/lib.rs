//! `tracemark demo`: a simulated national economy flowing through the registry's public
//! HTTP API, with planted offenders, for the risk engine and the analytics to find.
//!
//! Seven makers (a dairy, a tobacco factory, a shoe factory, a water bottler, a brewery and
//! two importers of foreign brands) register product cards under their own GS1 prefixes,
//! order codes, apply them, introduce or import batches with production and expiry dates,
//! pack them into SSCC boxes and ship them to four wholesalers, who ship boxes on to shops
//! in a dozen regions from Kaliningrad to Vladivostok. Shops unpack, ask the till check,
//! sell what it says is sellable with a fiscal receipt naming the check, now and then take
//! a return or write a damaged item off; shoppers verify some of what they bought. Every
//! request is signed as a real participant's would be.
//!
//! Six planted participants each do one kind of wrong at a low steady rate (see
//! [`world::kind`]); every honest participant does none, so every refused document of a
//! run is an offender's. The simulator keeps the ledger of offences ([`Sim::planted`]) and
//! the sales totals ([`Sim::totals`]) the analytics must match, written to
//! `demo-truth.json` ([`Sim::truth`]).
//!
//! **Reproducible.** Every choice (who sells what, when an offender strikes, which box
//! goes where) comes from one `ChaCha8Rng` seeded with the seed, and never from the codes'
//! text (the registry's serials are its own), so one seed and one number of rounds give
//! the same sequence of document types and code counts, the same ledger and the same
//! totals against any fresh registry. Two exceptions depend on the wall clock, because the
//! registry's rate limits do: tail guesses ([`TAIL_GUESSES_PER_WINDOW`]) and complaints
//! after the first cluster ([`COMPLAINT_SPACING_SECS`]) are skipped (and counted as
//! `throttled`) when they would be refused; runs shorter than a few minutes never skip.
//!
//! **The salt.** TINs, GS1 prefixes and GTINs are drawn from the seed and a per-run salt
//! (`Options::salt`): a data directory keeps what earlier runs registered, and the
//! registry refuses a second participant with the same TIN or prefix. `tracemark demo`
//! takes the salt from a run counter kept in the data directory (`demo-runs`: 0 for a
//! fresh directory), so a fresh directory and a seed always give the same identifiers.
//! The salt is three decimal digits of every TIN and prefix: a directory reused 1,000
//! times wraps around.

mod truth;
pub mod world;

pub use truth::{
    Activity, ParticipantCard, ParticipantTruth, ParticipantsFile, Planted, ProductTruth,
    RecallTruth, Totals, Truth,
};

use anyhow::{anyhow, bail, Context, Result};
use client::{id_code, sscc, Actor, Client};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use world::{kind, MakerKind, ProductSpec};

/// Fiscal receipts per round: a round is this many sales plus the deliveries that refill
/// the shelves and the offences due; `--rounds` counts these.
pub const RECEIPTS_PER_ROUND: u64 = 20;
/// Codes per production batch (one order, one introduction).
const BATCH_UNITS: u32 = 30;
/// Units per SSCC box: a batch is three boxes, so a wholesaler can serve three shops.
const BOX_UNITS: usize = 10;
/// A shop gets a new box when its shelf holds fewer units than this.
const LOW_STOCK: usize = 6;
/// Most items on one receipt.
const ITEMS_PER_RECEIPT_MAX: usize = 3;
/// Share of receipts after which the shopper verifies one item on the phone.
const VERIFY_SHARE: f64 = 0.25;
/// Share of receipts followed by the return of one item.
const RETURN_SHARE: f64 = 0.03;
/// Share of receipts after which the shop writes a damaged item off.
const WRITE_OFF_SHARE: f64 = 0.02;
/// Spare labels of one order the shoe factory never applies (they leak to the
/// counterfeiter).
const LEAKED_CODES: u32 = 20;
/// Units of the farm shop's one expired batch.
const FARM_BATCH: u32 = 20;
/// How old the farm's expired batch is: made this many days ago, expired yesterday.
const FARM_BATCH_AGE_DAYS: u32 = 10;
/// Honest shipments the grey seller receives (loose units of one product).
const GREY_SHIPMENTS: usize = 2;
/// Loose units in each: with [`GREY_CODES_PER_ATTEMPT`] above their sum, its first
/// attempt already offers more of the GTIN than it ever received.
const GREY_UNITS_PER_SHIPMENT: usize = 1;
/// Codes on each of the grey seller's receipts of goods it never received.
const GREY_CODES_PER_ATTEMPT: usize = 3;
/// Tail guesses a window: below the registry's 20 failed tail checks per checker per
/// `tailguard::CHECKER_WINDOW_SECS`, so the guesser is never throttled (429) and every
/// guess the ledger counts reached the registry's records.
pub const TAIL_GUESSES_PER_WINDOW: usize = 15;
/// Complaints in the first cluster: within the per-client burst the server allows (5), so
/// all of them are accepted at once.
const COMPLAINT_CLUSTER: u32 = 4;
/// Seconds between later complaints: the server refills a client's complaints at 10 an
/// hour (one per 360 s); a margin keeps every one accepted.
pub const COMPLAINT_SPACING_SECS: u64 = 420;
/// Rounds between later complaints (when the spacing allows one).
const COMPLAINT_PERIOD_ROUNDS: u64 = 25;
/// How far (degrees) a shopper's reported position is from the region's centre at most:
/// a coarse place, never a precise one.
const NEAR_JITTER_DEG: f64 = 0.05;
/// The longest the pacing sleeps between looks at the stop flag.
const PACE_SLICE: Duration = Duration::from_millis(50);

/// How the simulation runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The seed of every choice.
    pub seed: u64,
    /// The run's salt for identifiers (see the module documentation).
    pub salt: u32,
    /// Target fiscal receipts a second across all shops; 0: as fast as the registry answers.
    pub rate: f64,
    /// Counters for a status line (read from another thread while it runs).
    pub live: Arc<Live>,
}

impl Options {
    /// Options with fresh counters.
    pub fn new(seed: u64, salt: u32, rate: f64) -> Options {
        Options {
            seed,
            salt,
            rate,
            live: Arc::default(),
        }
    }
}

/// Counters the status line reads while the economy runs.
#[derive(Debug, Default)]
pub struct Live {
    /// Rounds completed.
    pub rounds: AtomicU64,
    /// Accepted documents.
    pub documents: AtomicU64,
    /// Units sold.
    pub units_sold: AtomicU64,
    /// Refused documents.
    pub refusals: AtomicU64,
    /// Planted offences so far.
    pub planted: AtomicU64,
}

/// A participant the simulator acts for.
struct Party {
    tin: String,
    name: String,
    roles: Vec<&'static str>,
    region: &'static str,
    /// Its part when planted.
    planted: Option<&'static str>,
    actor: Actor,
    /// Its GS1 company prefix (9 digits), if it makes goods.
    prefix: Option<u64>,
    /// Next SSCC serial reference within its prefix.
    next_sscc: u64,
    /// Next fiscal receipt number.
    next_receipt: u64,
}

/// A product card.
struct Product {
    gtin: String,
    spec: ProductSpec,
    /// The maker (party index).
    maker: usize,
    importer: bool,
    /// Batches made so far.
    batches: u32,
}

/// A unit on a shelf: its full code (with tail) and product.
#[derive(Clone)]
struct Unit {
    code: String,
    product: usize,
}

/// An SSCC box at a wholesaler.
struct Case {
    sscc: String,
    product: usize,
    /// Its batch (AI 10).
    batch: String,
    units: Vec<Unit>,
}

/// A shop with a shelf.
struct Shop {
    party: usize,
    /// Products it orders when its shelf runs low.
    assortment: Vec<usize>,
    shelf: Vec<Unit>,
    /// Whether it is refilled (the grey seller only gets its first few units).
    refilled: bool,
}

/// A unit sold by a shop and not returned.
struct SoldUnit {
    code: String,
    shop: usize,
}

/// The simulated economy.
pub struct Sim {
    c: Client,
    /// Shoppers' phones: clients from distinct loopback addresses when the registry is on
    /// this machine (else the one client), so scans and complaints come from many people.
    shoppers: Vec<Client>,
    opts: Options,
    rng: ChaCha8Rng,
    parties: Vec<Party>,
    products: Vec<Product>,
    wholesalers: Vec<usize>,
    /// Boxes held, per wholesaler (same order as `wholesalers`).
    boxes: Vec<Vec<Case>>,
    shops: Vec<Shop>,
    regulator: usize,
    counterfeiter: usize,
    grey_seller: usize,
    tail_guesser: usize,
    recall_ignorer: usize,
    complained_shop: usize,
    farm: usize,
    /// Honest sales not returned (codes the counterfeiter clones).
    sold: Vec<SoldUnit>,
    /// Codes honest shoppers verified (never cloned, so a clone's scans are its own).
    verified: HashSet<String>,
    /// Codes the counterfeiter cloned, and the latest.
    cloned: HashSet<String>,
    last_cloned: Option<String>,
    /// Codes of the order the shoe factory never applied.
    leaked: Vec<String>,
    /// The recall ignorer's units of the recalled batch.
    recalled_shelf: Vec<Unit>,
    /// The farm shop's expired units.
    farm_stock: Vec<String>,
    /// The grey seller's units received and sale attempts, per product.
    grey_received: BTreeMap<usize, u64>,
    grey_attempted: BTreeMap<usize, u64>,
    /// The product the grey seller received.
    grey_product: usize,
    /// Offences: (kind, party) → attempts.
    ledger: BTreeMap<(&'static str, usize), u64>,
    totals: Totals,
    activity: Activity,
    recall: Option<RecallTruth>,
    trace: blake3::Hasher,
    rounds: u64,
    started: Instant,
    /// When the economy stopped ([`Sim::run`] returned).
    stopped: Option<Instant>,
    started_at: String,
    /// Receipts paced so far, and since when.
    paced: u64,
    pace_start: Instant,
    tail_guesses: VecDeque<Instant>,
    last_complaint: Option<Instant>,
    next_uses: usize,
    live: Arc<Live>,
}

/// Distinct shoppers the demo simulates (each its own loopback address, on its own /24: the
/// risk engine counts a network, not an address, as one witness).
const SHOPPERS: u8 = 16;

/// Shoppers who scan a cloned label, half near each of two far-apart places: each place
/// gets two independent networks, what makes a `clone_scans` alert high.
const CLONE_SCANNERS: usize = 4;

/// The shoppers' clients: one per address 127.0.1.2, 127.0.2.2, … (each its own /24) when
/// `c` talks to a loopback address (Linux routes all of 127.0.0.0/8 to this machine), else
/// `c` alone.
fn shoppers(c: &Client) -> Vec<Client> {
    let host = c
        .base
        .split("://")
        .nth(1)
        .and_then(|h| h.rsplit_once(':').map(|(h, _)| h.to_string()))
        .unwrap_or_default();
    let loopback = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() && ip.is_ipv4())
        || host == "localhost";
    let many: Option<Vec<Client>> = loopback
        .then(|| {
            (0..SHOPPERS)
                .map(|i| {
                    Client::from_address(&c.base, std::net::Ipv4Addr::new(127, 0, 1 + i, 2).into())
                        .ok()
                })
                .collect()
        })
        .flatten();
    many.unwrap_or_else(|| vec![c.clone()])
}

fn now_secs() -> u64 {
    registry::system_clock()()
}

fn today() -> u32 {
    types::time::day_of(now_secs())
}

/// The check digit of a 10-digit Russian TIN of a legal entity (weights of the Federal
/// Tax Service).
fn tin_check_digit(first9: &str) -> u32 {
    const WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    let sum: u32 = first9
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    sum % 11 % 10
}

/// The code with the value of its crypto tail (AI 92 or 93) replaced by as many random
/// characters: a real code with a guessed tail. `None` when the code has no tail.
fn forge_tail(full: &str, rng: &mut impl Rng) -> Option<String> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut parts: Vec<String> = full.split('\u{1d}').map(str::to_string).collect();
    let i = (1..parts.len()).find(|&i| parts[i].starts_with("92") || parts[i].starts_with("93"))?;
    let ai = parts[i][..2].to_string();
    let real = parts[i][2..].to_string();
    loop {
        let guess: String = (0..real.len())
            .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
            .collect();
        if guess != real {
            parts[i] = format!("{ai}{guess}");
            return Some(parts.join("\u{1d}"));
        }
    }
}

/// The reasons of a refusal problem, or its status when it names none.
fn reasons_of(status: u16, v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(format!("http_{status}"));
    }
    out
}

impl Sim {
    /// Registers the cast, the product cards, the first batch of every product, the
    /// offenders' goods, and the recall, through the API at `c` with the admin token.
    pub fn set_up(c: Client, admin: &str, opts: Options) -> Result<Sim> {
        let rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let shoppers = shoppers(&c);
        let mut sim = Sim {
            c,
            shoppers,
            rng,
            parties: Vec::new(),
            products: Vec::new(),
            wholesalers: Vec::new(),
            boxes: Vec::new(),
            shops: Vec::new(),
            regulator: 0,
            counterfeiter: 0,
            grey_seller: 0,
            tail_guesser: 0,
            recall_ignorer: 0,
            complained_shop: 0,
            farm: 0,
            sold: Vec::new(),
            verified: HashSet::new(),
            cloned: HashSet::new(),
            last_cloned: None,
            leaked: Vec::new(),
            recalled_shelf: Vec::new(),
            farm_stock: Vec::new(),
            grey_received: BTreeMap::new(),
            grey_attempted: BTreeMap::new(),
            grey_product: 0,
            ledger: BTreeMap::new(),
            totals: Totals::default(),
            activity: Activity::default(),
            recall: None,
            trace: blake3::Hasher::new(),
            rounds: 0,
            started: Instant::now(),
            stopped: None,
            started_at: types::time::format_timestamp(now_secs()),
            paced: 0,
            pace_start: Instant::now(),
            tail_guesses: VecDeque::new(),
            last_complaint: None,
            next_uses: 0,
            live: opts.live.clone(),
            opts,
        };
        sim.register_cast(admin)?;
        sim.register_products()?;
        // The first batch of every product, so the wholesalers hold something of each.
        for p in 0..sim.products.len() {
            sim.produce_batch(p)?;
        }
        sim.plant_goods()?;
        sim.recall_batch()?;
        // Fill every shelf once before the first sale.
        for s in 0..sim.shops.len() {
            if sim.shops[s].refilled {
                sim.deliver_box(s)?;
            }
        }
        sim.pace_start = Instant::now();
        Ok(sim)
    }

    /// A fresh participant: its TIN, and its GS1 prefix when it makes goods.
    fn register(
        &mut self,
        admin: &str,
        name: &str,
        roles: &[&'static str],
        region: &'static str,
        prefix: bool,
        planted: Option<&'static str>,
    ) -> Result<usize> {
        let salt = self.opts.salt % 1_000;
        let index = self.parties.len();
        let first9 = format!("{:02}{salt:03}{index:04}", self.rng.gen_range(10..100u32));
        let tin = format!("{first9}{}", tin_check_digit(&first9));
        let prefix = prefix.then(|| {
            // "46" (GS1 Russia), the salt, and four digits unique in this run.
            loop {
                let p = 460_000_000 + u64::from(salt) * 10_000 + self.rng.gen_range(0..10_000u64);
                if !self.parties.iter().any(|x| x.prefix == Some(p)) {
                    break p;
                }
            }
        });
        let prefixes: Vec<String> = prefix.iter().map(|p| p.to_string()).collect();
        let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let actor = self
            .c
            .register_with_prefixes(admin, &tin, name, roles, region, &prefixes)
            .with_context(|| format!("registering {name}"))?;
        self.parties.push(Party {
            tin,
            name: name.to_string(),
            roles: roles.to_vec(),
            region,
            planted,
            actor,
            prefix,
            next_sscc: 1,
            next_receipt: 1,
        });
        Ok(index)
    }

    fn register_cast(&mut self, admin: &str) -> Result<()> {
        for m in &world::MAKERS {
            let role = match m.kind {
                MakerKind::Producer => "producer",
                MakerKind::Importer => "importer",
            };
            // Registered first, in order: maker `i` of `world::MAKERS` is party `i`.
            self.register(admin, m.name, &[role], m.region, true, None)?;
        }
        for (name, region) in world::WHOLESALERS {
            let i = self.register(admin, name, &["wholesaler"], region, false, None)?;
            self.wholesalers.push(i);
            self.boxes.push(Vec::new());
        }
        for (name, region) in world::SHOPS {
            let i = self.register(admin, name, &["retailer"], region, false, None)?;
            self.shops.push(Shop {
                party: i,
                assortment: Vec::new(),
                shelf: Vec::new(),
                refilled: true,
            });
        }
        let mut offender = Vec::new();
        for o in &world::OFFENDERS {
            offender.push(self.register(
                admin,
                o.name,
                &["retailer"],
                o.region,
                false,
                Some(o.label),
            )?);
        }
        self.counterfeiter = offender[0];
        self.grey_seller = offender[1];
        self.tail_guesser = offender[2];
        self.recall_ignorer = offender[3];
        self.complained_shop = offender[4];
        let f = &world::FARM_SHOP;
        self.farm = self.register(
            admin,
            f.name,
            &["producer", "retailer"],
            f.region,
            true,
            Some(f.label),
        )?;
        let (name, region) = world::REGULATOR;
        self.regulator = self.register(admin, name, &["regulator"], region, false, None)?;
        // Offenders with shelves: the grey seller (its few honest units), the recall
        // ignorer and the complained-about shop (sell like any shop).
        for (party, refilled) in [
            (self.grey_seller, false),
            (self.recall_ignorer, true),
            (self.complained_shop, true),
        ] {
            self.shops.push(Shop {
                party,
                assortment: Vec::new(),
                shelf: Vec::new(),
                refilled,
            });
        }
        Ok(())
    }

    fn register_products(&mut self) -> Result<()> {
        let salt = u64::from(self.opts.salt % 1_000);
        let mut item_refs = HashSet::new();
        for (mi, m) in world::MAKERS.iter().enumerate() {
            let maker = mi; // makers are registered first, in order
            for spec in m.products {
                let importer = m.kind == MakerKind::Importer;
                let number = if importer {
                    // A foreign brand's GTIN: a Japanese (49) or French (30) prefix that no
                    // participant holds, the salt, and seven digits.
                    let country = if spec.group == "cameras" { 49 } else { 30 };
                    loop {
                        let n = country * 10_000_000_000
                            + salt * 10_000_000
                            + self.rng.gen_range(0..10_000_000u64);
                        if item_refs.insert(n) {
                            break n;
                        }
                    }
                } else {
                    let prefix = self.parties[maker]
                        .prefix
                        .ok_or_else(|| anyhow!("maker without a prefix"))?;
                    loop {
                        let n = prefix * 1_000 + self.rng.gen_range(0..1_000u64);
                        if item_refs.insert(n) {
                            break n;
                        }
                    }
                };
                self.add_product(maker, *spec, importer, number)?;
            }
        }
        let farm_prefix = self.parties[self.farm]
            .prefix
            .ok_or_else(|| anyhow!("farm without a prefix"))?;
        let n = farm_prefix * 1_000 + self.rng.gen_range(0..1_000u64);
        self.add_product(self.farm, world::FARM_PRODUCT, false, n)?;
        // Shops' assortments: a handful of products each (never the farm's own kefir).
        let sellable = self.products.len() - 1;
        for s in 0..self.shops.len() {
            let n = self.rng.gen_range(5..=9usize);
            let mut all: Vec<usize> = (0..sellable).collect();
            all.shuffle(&mut self.rng);
            all.truncate(n);
            all.sort_unstable();
            self.shops[s].assortment = all;
        }
        Ok(())
    }

    fn add_product(
        &mut self,
        maker: usize,
        spec: ProductSpec,
        importer: bool,
        number: u64,
    ) -> Result<()> {
        let gtin = client::gtin(number);
        let mut card = json!({
            "gtin": gtin, "name": spec.name, "product_group": spec.group, "brand": spec.brand,
        });
        if let Some(d) = spec.shelf_life_days {
            card["shelf_life_days"] = json!(d);
        }
        if let Some(p) = spec.max_retail_price {
            card["max_retail_price"] = json!(p);
        }
        let (status, v) =
            self.c
                .post_signed(&self.parties[maker].actor, "/api/v1/products", &card)?;
        if status != 201 {
            bail!("product card {gtin} ({}): {status} {v}", spec.name);
        }
        self.products.push(Product {
            gtin,
            spec,
            maker,
            importer,
            batches: 0,
        });
        Ok(())
    }

    // ---- requests ----

    fn step(&mut self, what: &str, codes: usize, ok: bool) {
        self.trace
            .update(format!("{what}:{codes}:{}\n", u8::from(ok)).as_bytes());
    }

    /// Signs `who` in again (its token expired).
    fn sign_in_again(&mut self, who: usize) -> Result<()> {
        let p = &self.parties[who];
        let actor = self.c.sign_in(&p.tin, p.actor.key.clone())?;
        self.parties[who].actor = actor;
        Ok(())
    }

    /// Submits a document for `who`: the answer when accepted, `None` (counted) when
    /// refused. A 5xx is an error: the registry is failing, not the participant.
    fn doc(&mut self, who: usize, body: Value) -> Result<Option<Value>> {
        let t = body["type"].as_str().unwrap_or("unknown").to_string();
        let n = ["codes", "children", "parents"]
            .iter()
            .filter_map(|k| body[*k].as_array().map(Vec::len))
            .sum::<usize>();
        let mut answer = self.c.document(&self.parties[who].actor, body.clone())?;
        if matches!(answer, Err((401, _))) {
            // Tokens last 10 hours; a long demo signs in again.
            self.sign_in_again(who)?;
            answer = self.c.document(&self.parties[who].actor, body)?;
        }
        match answer {
            Ok(v) => {
                *self.activity.accepted.entry(t.clone()).or_default() += 1;
                self.live.documents.fetch_add(1, Ordering::Relaxed);
                self.step(&t, n, true);
                Ok(Some(v))
            }
            Err((status, v)) if status >= 500 => {
                bail!(
                    "the registry failed a {t} document of {}: {status} {v}",
                    self.parties[who].name
                )
            }
            Err((status, v)) => {
                for r in reasons_of(status, &v) {
                    *self.activity.refused_reasons.entry(r).or_default() += 1;
                }
                let p = &self.parties[who];
                *self.activity.refused_by.entry(p.tin.clone()).or_default() += 1;
                if p.planted.is_none() {
                    self.activity.honest_refusals += 1;
                    tracing::warn!(
                        "an honest {t} document of {} was refused: {status} {v}",
                        p.name
                    );
                }
                self.live.refusals.fetch_add(1, Ordering::Relaxed);
                self.step(&t, n, false);
                Ok(None)
            }
        }
    }

    /// A till check by `who`: the request id and, per code, whether it is sellable and why
    /// not; `None` when throttled (429).
    #[allow(clippy::type_complexity)]
    fn till_check(
        &mut self,
        who: usize,
        codes: &[String],
    ) -> Result<Option<(Value, Vec<(bool, Vec<String>)>)>> {
        let body = json!({ "codes": codes });
        let mut answer = self
            .c
            .post(&self.parties[who].actor, "/api/v1/pos/check", &body)?;
        if answer.0 == 401 {
            self.sign_in_again(who)?;
            answer = self
                .c
                .post(&self.parties[who].actor, "/api/v1/pos/check", &body)?;
        }
        let (status, v) = answer;
        self.activity.till_checks += 1;
        self.step("pos_check", codes.len(), status == 200);
        match status {
            200 => {}
            429 => {
                self.activity.throttled += 1;
                return Ok(None);
            }
            _ => bail!("till check of {}: {status} {v}", self.parties[who].name),
        }
        let results = v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let reasons = r["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                (r["sellable"] == true, reasons)
            })
            .collect::<Vec<_>>();
        if results.len() != codes.len() {
            bail!(
                "till check answered {} results for {} codes",
                results.len(),
                codes.len()
            );
        }
        Ok(Some((v["request_id"].clone(), results)))
    }

    /// A shopper near `region`'s centre verifies `code`: the verdict.
    fn verify(&mut self, code: &str, region: &str) -> Result<String> {
        let phone = self.rng.gen_range(0..self.shoppers.len());
        self.verify_by(code, region, phone)
    }

    /// Shopper `phone` near `region`'s centre verifies `code`: the verdict.
    fn verify_by(&mut self, code: &str, region: &str, phone: usize) -> Result<String> {
        let (lat, lon) = types::regions::region(region).map_or((55.76, 37.62), |r| (r.lat, r.lon));
        let lat = lat + self.rng.gen_range(-NEAR_JITTER_DEG..NEAR_JITTER_DEG);
        let lon = lon + self.rng.gen_range(-NEAR_JITTER_DEG..NEAR_JITTER_DEG);
        let path = format!(
            "/api/v1/verify?code={}&near={lat:.3},{lon:.3}",
            gs1::percent_encoded(code)
        );
        let (status, v) = self.shoppers[phone % self.shoppers.len()].get(None, &path)?;
        self.activity.verifications += 1;
        self.step("verify", 1, status == 200);
        if status != 200 {
            bail!("verify: {status} {v}");
        }
        Ok(v["verdict"].as_str().unwrap_or_default().to_string())
    }

    fn offence(&mut self, k: &'static str, who: usize, n: u64) {
        *self.ledger.entry((k, who)).or_default() += n;
        self.live.planted.fetch_add(n, Ordering::Relaxed);
    }

    fn receipt_for(&mut self, shop: usize) -> Value {
        let p = &mut self.parties[shop];
        let n = p.next_receipt;
        p.next_receipt += 1;
        // A fiscal drive number of 16 digits, one per shop.
        let drive = format!("99990789{:08}", (shop as u64 * 7_919) % 100_000_000);
        json!({
            "fiscal_drive": drive,
            "number": n,
            "at": types::time::format_timestamp(now_secs()),
            "store": format!("{}, {}", p.name, p.region),
        })
    }

    // ---- the supply chain ----

    fn batch_label(&mut self, product: usize) -> String {
        let p = &mut self.products[product];
        p.batches += 1;
        // The production day and a number: at most 20 characters (GS1 AI 10).
        let day = types::time::format_date(today()).replace('-', "");
        format!("{}-{:03}-{:03}", &day[2..], product, p.batches)
    }

    fn next_sscc(&mut self, maker: usize) -> Result<String> {
        let p = &mut self.parties[maker];
        let prefix = p
            .prefix
            .ok_or_else(|| anyhow!("{} has no GS1 prefix", p.name))?;
        let n = p.next_sscc;
        p.next_sscc += 1;
        // Extension digit, the 9-digit prefix, a 7-digit serial reference.
        Ok(sscc(1, prefix * 10_000_000 + n % 10_000_000))
    }

    /// The maker makes one batch of `product`, packs it and ships it to a wholesaler:
    /// the wholesaler's index, or `None` if a step was refused.
    fn produce_batch(&mut self, product: usize) -> Result<Option<usize>> {
        let maker = self.products[product].maker;
        let (gtin, tail) = (
            self.products[product].gtin.clone(),
            self.products[product].spec.tail,
        );
        let codes = self
            .c
            .order_codes(&self.parties[maker].actor, &gtin, BATCH_UNITS, tail)?;
        self.step("order", codes.len(), true);
        let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
        if self
            .doc(maker, json!({"type": "apply", "codes": ids}))?
            .is_none()
        {
            return Ok(None);
        }
        let batch = self.batch_label(product);
        let day = today();
        let mut intro = if self.products[product].importer {
            json!({
                "type": "import", "codes": ids, "batch": batch,
                "customs_declaration": format!("10702010/{}/{:07}", types::time::format_date(day).replace('-', ""), self.rng.gen_range(0..10_000_000u32)),
                "production_date": types::time::format_date(day),
            })
        } else {
            json!({"type": "introduce", "codes": ids, "batch": batch, "production_date": types::time::format_date(day)})
        };
        if let Some(d) = self.products[product].spec.shelf_life_days {
            intro["expiry_date"] = json!(types::time::format_date(day + d));
        }
        if self.doc(maker, intro)?.is_none() {
            return Ok(None);
        }
        let mut cases = Vec::new();
        for chunk in codes.chunks(BOX_UNITS) {
            let b = self.next_sscc(maker)?;
            let children: Vec<&str> = chunk.iter().map(|c| id_code(c)).collect();
            if self
                .doc(
                    maker,
                    json!({"type": "aggregate", "parent": b, "children": children}),
                )?
                .is_none()
            {
                return Ok(None);
            }
            cases.push(Case {
                sscc: b,
                product,
                batch: batch.clone(),
                units: chunk
                    .iter()
                    .map(|c| Unit {
                        code: c.clone(),
                        product,
                    })
                    .collect(),
            });
        }
        let w = self.rng.gen_range(0..self.wholesalers.len());
        let ssccs: Vec<&str> = cases.iter().map(|c| c.sscc.as_str()).collect();
        let receiver = self.parties[self.wholesalers[w]].tin.clone();
        let Some(ship) = self.doc(
            maker,
            json!({"type": "ship", "receiver": receiver, "codes": ssccs}),
        )?
        else {
            return Ok(None);
        };
        if self
            .doc(
                self.wholesalers[w],
                json!({"type": "accept", "shipment": ship["id"]}),
            )?
            .is_none()
        {
            return Ok(None);
        }
        self.boxes[w].extend(cases);
        Ok(Some(w))
    }

    /// A box of `product` from the first wholesaler holding one (a new batch when none
    /// does): (wholesaler index, box).
    fn take_box(&mut self, product: usize) -> Result<Option<(usize, Case)>> {
        let found = (0..self.wholesalers.len()).find_map(|w| {
            self.boxes[w]
                .iter()
                .position(|c| c.product == product)
                .map(|i| (w, i))
        });
        let (w, i) = match found {
            Some(x) => x,
            None => {
                let Some(w) = self.produce_batch(product)? else {
                    return Ok(None);
                };
                match self.boxes[w].iter().position(|c| c.product == product) {
                    Some(i) => (w, i),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some((w, self.boxes[w].remove(i))))
    }

    /// Ships `case` from wholesaler `w` to `shop` (party), who accepts and unpacks it.
    fn ship_box(&mut self, w: usize, case: &Case, shop: usize) -> Result<bool> {
        let receiver = self.parties[shop].tin.clone();
        let Some(ship) = self.doc(
            self.wholesalers[w],
            json!({"type": "ship", "receiver": receiver, "codes": [case.sscc]}),
        )?
        else {
            return Ok(false);
        };
        if self
            .doc(shop, json!({"type": "accept", "shipment": ship["id"]}))?
            .is_none()
        {
            return Ok(false);
        }
        Ok(self
            .doc(
                shop,
                json!({"type": "disaggregate", "parents": [case.sscc]}),
            )?
            .is_some())
    }

    /// Refills shop `s` with a box of one of its products.
    fn deliver_box(&mut self, s: usize) -> Result<()> {
        let a = &self.shops[s].assortment;
        if a.is_empty() {
            return Ok(());
        }
        let product = a[self.rng.gen_range(0..a.len())];
        let Some((w, case)) = self.take_box(product)? else {
            return Ok(());
        };
        let party = self.shops[s].party;
        if self.ship_box(w, &case, party)? {
            self.shops[s].shelf.extend(case.units);
        }
        Ok(())
    }

    fn shop_index(&self, party: usize) -> Option<usize> {
        self.shops.iter().position(|s| s.party == party)
    }

    /// The offenders' goods: the grey seller's few honest units, the shoe factory's
    /// never-applied order, the farm shop's expired batch.
    fn plant_goods(&mut self) -> Result<()> {
        // The grey seller receives two small honest shipments of loose units of one product.
        let candidates: Vec<usize> = (0..self.products.len() - 1)
            .filter(|&p| p != self.recalled_product())
            .collect();
        self.grey_product = candidates[self.rng.gen_range(0..candidates.len())];
        let grey_shop = self
            .shop_index(self.grey_seller)
            .ok_or_else(|| anyhow!("the grey seller has no shelf"))?;
        for _ in 0..GREY_SHIPMENTS {
            let Some((w, mut case)) = self.take_box(self.grey_product)? else {
                continue;
            };
            let loose: Vec<Unit> = case.units.drain(..GREY_UNITS_PER_SHIPMENT).collect();
            let ids: Vec<&str> = loose.iter().map(|u| id_code(&u.code)).collect();
            let receiver = self.parties[self.grey_seller].tin.clone();
            let ship = self.doc(
                self.wholesalers[w],
                json!({"type": "ship", "receiver": receiver, "codes": ids}),
            )?;
            self.boxes[w].insert(0, case);
            let Some(ship) = ship else { continue };
            if self
                .doc(
                    self.grey_seller,
                    json!({"type": "accept", "shipment": ship["id"]}),
                )?
                .is_some()
            {
                *self.grey_received.entry(self.grey_product).or_default() += loose.len() as u64;
                self.shops[grey_shop].shelf.extend(loose);
            }
        }
        self.shops[grey_shop].assortment = vec![self.grey_product];

        // Spare labels the shoe factory ordered and never applied.
        let shoes = self
            .products
            .iter()
            .position(|p| p.maker == world::LEAKING_MAKER)
            .ok_or_else(|| anyhow!("no shoes"))?;
        let (gtin, tail) = (
            self.products[shoes].gtin.clone(),
            self.products[shoes].spec.tail,
        );
        self.leaked = self.c.order_codes(
            &self.parties[world::LEAKING_MAKER].actor,
            &gtin,
            LEAKED_CODES,
            tail,
        )?;
        self.step("order", self.leaked.len(), true);

        // The farm's batch: made ten days ago, expired yesterday.
        let farm_product = self.products.len() - 1;
        let (gtin, tail) = (
            self.products[farm_product].gtin.clone(),
            self.products[farm_product].spec.tail,
        );
        let codes = self
            .c
            .order_codes(&self.parties[self.farm].actor, &gtin, FARM_BATCH, tail)?;
        self.step("order", codes.len(), true);
        let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
        let day = today();
        let batch = self.batch_label(farm_product);
        if self
            .doc(self.farm, json!({"type": "apply", "codes": ids}))?
            .is_some()
            && self
                .doc(
                    self.farm,
                    json!({
                        "type": "introduce", "codes": ids, "batch": batch,
                        "production_date": types::time::format_date(day - FARM_BATCH_AGE_DAYS),
                        "expiry_date": types::time::format_date(day - 1),
                    }),
                )?
                .is_some()
        {
            self.farm_stock = codes;
        }
        Ok(())
    }

    /// The product whose first batch is recalled.
    fn recalled_product(&self) -> usize {
        world::MAKERS[..world::RECALLED_MAKER]
            .iter()
            .map(|m| m.products.len())
            .sum::<usize>()
            + world::RECALLED_PRODUCT
    }

    /// The kefir's first batch: one box to the recall ignorer, one to an honest shop, the
    /// rest at the wholesaler; then the regulator blocks the batch, and the wholesaler
    /// sends its boxes back to the dairy, which destroys them.
    fn recall_batch(&mut self) -> Result<()> {
        let product = self.recalled_product();
        let mut batch = None;
        if let Some((w, case)) = self.take_box(product)? {
            batch = Some(case.batch.clone());
            if self.ship_box(w, &case, self.recall_ignorer)? {
                self.recalled_shelf.extend(case.units);
            }
        }
        let honest = self.rng.gen_range(0..world::SHOPS.len());
        if let Some((w, case)) = self.take_box(product)? {
            if self.ship_box(w, &case, self.shops[honest].party)? {
                self.shops[honest].shelf.extend(case.units);
            }
        }
        let batch = batch.ok_or_else(|| anyhow!("no batch of the recalled product"))?;
        let gtin = self.products[product].gtin.clone();
        let (status, v) = self.c.post_signed(
            &self.parties[self.regulator].actor,
            "/api/v1/blocks",
            &json!({"gtin": gtin, "batch": batch, "reason": "Recall: kefir batch failed a laboratory check (coliform bacteria)"}),
        )?;
        self.step("block", 0, status == 201);
        if status != 201 {
            bail!("the recall block: {status} {v}");
        }
        self.recall = Some(RecallTruth {
            block_id: v["id"].as_u64().unwrap_or_default(),
            gtin,
            batch: batch.clone(),
        });
        // The boxes of that batch still at wholesalers go back to the dairy (shipping
        // blocked goods back to their producer is allowed), which writes them off.
        let maker = self.products[product].maker;
        let producer_tin = self.parties[maker].tin.clone();
        for w in 0..self.wholesalers.len() {
            let (back, keep): (Vec<Case>, Vec<Case>) = std::mem::take(&mut self.boxes[w])
                .into_iter()
                .partition(|c| c.product == product && c.batch == batch);
            self.boxes[w] = keep;
            for case in back {
                let Some(ship) = self.doc(
                    self.wholesalers[w],
                    json!({"type": "ship", "receiver": producer_tin, "codes": [case.sscc]}),
                )?
                else {
                    continue;
                };
                if self
                    .doc(maker, json!({"type": "accept", "shipment": ship["id"]}))?
                    .is_some()
                {
                    let ids: Vec<&str> = case.units.iter().map(|u| id_code(&u.code)).collect();
                    self.doc(
                        maker,
                        json!({"type": "write_off", "codes": ids, "reason": "destruction"}),
                    )?;
                }
            }
        }
        Ok(())
    }

    // ---- the shops ----

    /// Waits until the next receipt is due at the target rate; `false` if told to stop.
    fn pace(&mut self, stop: &AtomicBool) -> bool {
        if self.opts.rate > 0.0 {
            let due = self.pace_start + Duration::from_secs_f64(self.paced as f64 / self.opts.rate);
            loop {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(PACE_SLICE));
            }
        }
        self.paced += 1;
        !stop.load(Ordering::Relaxed)
    }

    /// Shop `s` sells one to three items: till check, then a sale of what it allows.
    fn sell_at(&mut self, s: usize) -> Result<()> {
        let shop = self.shops[s].party;
        let n = self
            .rng
            .gen_range(1..=ITEMS_PER_RECEIPT_MAX)
            .min(self.shops[s].shelf.len());
        if n == 0 {
            return Ok(());
        }
        let mut units = Vec::with_capacity(n);
        for _ in 0..n {
            let i = self.rng.gen_range(0..self.shops[s].shelf.len());
            units.push(self.shops[s].shelf.swap_remove(i));
        }
        let codes: Vec<String> = units.iter().map(|u| u.code.clone()).collect();
        let Some((request_id, results)) = self.till_check(shop, &codes)? else {
            self.shops[s].shelf.extend(units);
            return Ok(());
        };
        let mut to_sell = Vec::new();
        let mut recalled = Vec::new();
        let mut expired = Vec::new();
        for (u, (sellable, reasons)) in units.into_iter().zip(results) {
            if sellable {
                to_sell.push(u);
            } else if reasons.iter().any(|r| r == "blocked") {
                recalled.push(u);
            } else if reasons.iter().any(|r| r == "expired") {
                // Perishables outlive their date only in a demo left running for days.
                expired.push(u);
            } else {
                // Not expected of an honest shop's shelf; the item is set aside unsold.
                tracing::warn!("the till check refused a unit on an honest shelf: {reasons:?}");
            }
        }
        if shop == self.grey_seller {
            for u in &to_sell {
                *self.grey_attempted.entry(u.product).or_default() += 1;
            }
        }
        if !to_sell.is_empty() {
            let receipt = self.receipt_for(shop);
            let codes: Vec<&str> = to_sell.iter().map(|u| u.code.as_str()).collect();
            let sold = self.doc(
                shop,
                json!({"type": "sell", "codes": codes, "receipt": receipt, "check_ids": [request_id]}),
            )?;
            if sold.is_some() {
                self.record_sale(s, &to_sell);
                if self.rng.gen_bool(VERIFY_SHARE) {
                    let u = &to_sell[self.rng.gen_range(0..to_sell.len())];
                    let region = self.parties[shop].region;
                    self.verified.insert(u.code.clone());
                    let code = u.code.clone();
                    self.verify(&code, region)?;
                }
                if self.rng.gen_bool(RETURN_SHARE) {
                    let u = to_sell[self.rng.gen_range(0..to_sell.len())].clone();
                    if self
                        .doc(
                            shop,
                            json!({"type": "return", "codes": [u.code], "reason": "retail"}),
                        )?
                        .is_some()
                    {
                        self.totals.units_returned += 1;
                        self.sold.retain(|x| x.code != u.code);
                        self.shops[s].shelf.push(u);
                    }
                }
            }
        }
        // Recalled goods found at the till are destroyed, expired ones written off: an
        // honest shop never sells either.
        for (units, reason) in [(recalled, "destruction"), (expired, "expiry")] {
            if !units.is_empty() {
                let ids: Vec<&str> = units.iter().map(|u| id_code(&u.code)).collect();
                self.doc(
                    shop,
                    json!({"type": "write_off", "codes": ids, "reason": reason}),
                )?;
            }
        }
        if !self.shops[s].shelf.is_empty() && self.rng.gen_bool(WRITE_OFF_SHARE) {
            let i = self.rng.gen_range(0..self.shops[s].shelf.len());
            let u = self.shops[s].shelf.swap_remove(i);
            self.doc(
                shop,
                json!({"type": "write_off", "codes": [id_code(&u.code)], "reason": "damage"}),
            )?;
        }
        Ok(())
    }

    fn record_sale(&mut self, s: usize, units: &[Unit]) {
        let shop = self.shops[s].party;
        let (tin, region) = (self.parties[shop].tin.clone(), self.parties[shop].region);
        self.totals.receipts += 1;
        for u in units {
            let p = &self.products[u.product];
            self.totals.add_sale(&tin, region, p.spec.group, &p.gtin, 1);
            self.sold.push(SoldUnit {
                code: u.code.clone(),
                shop,
            });
        }
        self.live
            .units_sold
            .fetch_add(units.len() as u64, Ordering::Relaxed);
    }

    /// One receipt at a shop drawn at random among those with goods.
    fn receipt(&mut self) -> Result<()> {
        let open: Vec<usize> = (0..self.shops.len())
            .filter(|&s| !self.shops[s].shelf.is_empty())
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let s = open[self.rng.gen_range(0..open.len())];
        self.sell_at(s)
    }

    // ---- the offences ----

    fn repeat_sale(&mut self) -> Result<()> {
        // A code sold by an honest shop, never verified by its buyer: the counterfeiter
        // prints its label again and sells the copy.
        let fresh: Vec<usize> = (0..self.sold.len())
            .filter(|&i| {
                !self.verified.contains(&self.sold[i].code)
                    && !self.cloned.contains(&self.sold[i].code)
                    && self.parties[self.sold[i].shop].planted.is_none()
            })
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let code = self.sold[fresh[self.rng.gen_range(0..fresh.len())]]
            .code
            .clone();
        let receipt = self.receipt_for(self.counterfeiter);
        self.doc(
            self.counterfeiter,
            json!({"type": "sell", "codes": [code], "receipt": receipt}),
        )?;
        self.offence(kind::REPEAT_SALE, self.counterfeiter, 1);
        self.cloned.insert(code.clone());
        self.last_cloned = Some(code);
        Ok(())
    }

    fn not_introduced_sale(&mut self) -> Result<()> {
        if self.leaked.is_empty() {
            return Ok(());
        }
        let code = self.leaked[self.next_uses % self.leaked.len()].clone();
        self.next_uses += 1;
        let receipt = self.receipt_for(self.counterfeiter);
        self.doc(
            self.counterfeiter,
            json!({"type": "sell", "codes": [code], "receipt": receipt}),
        )?;
        self.offence(kind::NOT_INTRODUCED_SALE, self.counterfeiter, 1);
        Ok(())
    }

    fn clone_scans(&mut self) -> Result<()> {
        let Some(code) = self.last_cloned.clone() else {
            return Ok(());
        };
        // Shoppers with copies of one label, ~6,400 km apart, within seconds: two near
        // each place, each phone on its own network (one network in both places would be
        // a spoof, not a witness).
        let mut phones: Vec<usize> = (0..self.shoppers.len()).collect();
        phones.shuffle(&mut self.rng);
        for (i, phone) in phones.into_iter().cycle().take(CLONE_SCANNERS).enumerate() {
            let region = world::CLONE_SCAN_REGIONS[i % world::CLONE_SCAN_REGIONS.len()];
            self.verify_by(&code, region, phone)?;
        }
        self.offence(kind::CLONE_SCANS, self.counterfeiter, 1);
        Ok(())
    }

    fn grey_sale(&mut self) -> Result<()> {
        // Codes in circulation held by wholesalers or other shops, of the product the grey
        // seller received, then of any product.
        let mut picks: Vec<Unit> = Vec::new();
        for pass in [true, false] {
            for w in 0..self.boxes.len() {
                for case in &self.boxes[w] {
                    for u in &case.units {
                        if picks.len() < GREY_CODES_PER_ATTEMPT
                            && (u.product == self.grey_product) == pass
                        {
                            picks.push(u.clone());
                        }
                    }
                }
            }
        }
        if picks.is_empty() {
            return Ok(());
        }
        for u in &picks {
            *self.grey_attempted.entry(u.product).or_default() += 1;
        }
        let codes: Vec<&str> = picks.iter().map(|u| u.code.as_str()).collect();
        let receipt = self.receipt_for(self.grey_seller);
        self.doc(
            self.grey_seller,
            json!({"type": "sell", "codes": codes, "receipt": receipt}),
        )?;
        self.offence(kind::GREY_SALE, self.grey_seller, 1);
        // Attempts beyond what it received, over every GTIN.
        let beyond: u64 = self
            .grey_attempted
            .iter()
            .map(|(p, n)| n.saturating_sub(self.grey_received.get(p).copied().unwrap_or(0)))
            .sum();
        let before = self
            .ledger
            .get(&(kind::SALES_EXCEED_RECEIPTS, self.grey_seller))
            .copied()
            .unwrap_or(0);
        if beyond > before {
            self.offence(
                kind::SALES_EXCEED_RECEIPTS,
                self.grey_seller,
                beyond - before,
            );
        }
        Ok(())
    }

    fn forged_tail(&mut self) -> Result<()> {
        let window = Duration::from_secs(registry::tailguard::CHECKER_WINDOW_SECS);
        while self
            .tail_guesses
            .front()
            .is_some_and(|t| t.elapsed() > window)
        {
            self.tail_guesses.pop_front();
        }
        if self.tail_guesses.len() >= TAIL_GUESSES_PER_WINDOW {
            self.activity.throttled += 1;
            return Ok(());
        }
        let open: Vec<usize> = (0..world::SHOPS.len())
            .filter(|&s| !self.shops[s].shelf.is_empty())
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let s = open[self.rng.gen_range(0..open.len())];
        let i = self.rng.gen_range(0..self.shops[s].shelf.len());
        let real = self.shops[s].shelf[i].code.clone();
        let Some(guess) = forge_tail(&real, &mut self.rng) else {
            return Ok(());
        };
        self.tail_guesses.push_back(Instant::now());
        if self.till_check(self.tail_guesser, &[guess])?.is_some() {
            self.offence(kind::FORGED_TAIL, self.tail_guesser, 1);
        }
        Ok(())
    }

    fn expired_sale(&mut self) -> Result<()> {
        if self.farm_stock.is_empty() {
            return Ok(());
        }
        let code = self.farm_stock[self.next_uses % self.farm_stock.len()].clone();
        self.next_uses += 1;
        // The farm shop asks the till, is told the kefir is expired, and sells it anyway.
        let check = self.till_check(self.farm, std::slice::from_ref(&code))?;
        let receipt = self.receipt_for(self.farm);
        let mut sell = json!({"type": "sell", "codes": [code], "receipt": receipt});
        if let Some((id, _)) = check {
            sell["check_ids"] = json!([id]);
        }
        self.doc(self.farm, sell)?;
        self.offence(kind::EXPIRED_SALE, self.farm, 1);
        Ok(())
    }

    fn recalled_sale(&mut self) -> Result<()> {
        if self.recalled_shelf.is_empty() {
            return Ok(());
        }
        let code = self.recalled_shelf[self.next_uses % self.recalled_shelf.len()]
            .code
            .clone();
        self.next_uses += 1;
        // No till check: it would have said `blocked`.
        let receipt = self.receipt_for(self.recall_ignorer);
        self.doc(
            self.recall_ignorer,
            json!({"type": "sell", "codes": [code], "receipt": receipt}),
        )?;
        self.offence(kind::RECALLED_SALE, self.recall_ignorer, 1);
        Ok(())
    }

    fn complaints(&mut self, n: u32) -> Result<()> {
        let s = self
            .shop_index(self.complained_shop)
            .ok_or_else(|| anyhow!("the complained-about shop has no shelf"))?;
        // Complaints name an item the shop sold: make sure it has sold one.
        if !self.sold.iter().any(|u| u.shop == self.complained_shop) {
            if self.shops[s].shelf.is_empty() {
                self.deliver_box(s)?;
            }
            self.sell_at(s)?;
        }
        let items: Vec<String> = self
            .sold
            .iter()
            .filter(|u| u.shop == self.complained_shop)
            .map(|u| u.code.clone())
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        let shop = format!(
            "{}, {}",
            self.parties[self.complained_shop].name, self.parties[self.complained_shop].region
        );
        for _ in 0..n {
            let code = &items[self.rng.gen_range(0..items.len())];
            let (k, text) = if self.rng.gen_bool(0.5) {
                (
                    "counterfeit",
                    "The label looks reprinted and the packaging is not the brand's.",
                )
            } else {
                (
                    "expired",
                    "The date on the pack had passed when I bought it.",
                )
            };
            let phone = self.rng.gen_range(0..self.shoppers.len());
            let r = self.shoppers[phone].post_public(
                "/api/v1/complaints",
                &json!({"code": code, "kind": k, "text": text, "shop": shop}),
            )?;
            self.step("complaint", 1, r.0 == 201);
            match r {
                (201, _) => {
                    self.activity.complaints += 1;
                    self.offence(kind::COMPLAINT_CLUSTER, self.complained_shop, 1);
                }
                (429, _) => self.activity.throttled += 1,
                (status, v) => bail!("complaint: {status} {v}"),
            }
        }
        self.last_complaint = Some(Instant::now());
        Ok(())
    }

    /// The offences due in round `r`: each offender strikes in round 1 and then every few
    /// rounds, so a short run shows every kind and a long one a low steady rate.
    fn offences(&mut self, r: u64, stop: &AtomicBool) -> Result<()> {
        type Offence = fn(&mut Sim) -> Result<()>;
        let due: [(u64, Offence); 7] = [
            (3, Sim::repeat_sale),
            (6, Sim::not_introduced_sale),
            (6, Sim::clone_scans),
            (4, Sim::grey_sale),
            (2, Sim::forged_tail),
            (5, Sim::expired_sale),
            (5, Sim::recalled_sale),
        ];
        for (every, f) in due {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if (r - 1).is_multiple_of(every) {
                f(self)?;
            }
        }
        if r == 1 {
            self.complaints(COMPLAINT_CLUSTER)?;
        } else if r.is_multiple_of(COMPLAINT_PERIOD_ROUNDS)
            && self
                .last_complaint
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(COMPLAINT_SPACING_SECS))
        {
            self.complaints(1)?;
        }
        Ok(())
    }

    // ---- driving ----

    /// One round: shelves refilled, [`RECEIPTS_PER_ROUND`] receipts paced at the target
    /// rate, then the offences due. Returns early (after the request in flight) when
    /// `stop` is set; a round cut short is not counted.
    pub fn round(&mut self, stop: &AtomicBool) -> Result<()> {
        let r = self.rounds + 1;
        self.step("round", r as usize, true);
        for s in 0..self.shops.len() {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if self.shops[s].refilled && self.shops[s].shelf.len() < LOW_STOCK {
                self.deliver_box(s)?;
            }
        }
        for _ in 0..RECEIPTS_PER_ROUND {
            if !self.pace(stop) {
                return Ok(());
            }
            self.receipt()?;
        }
        self.offences(r, stop)?;
        if !stop.load(Ordering::Relaxed) {
            self.rounds = r;
            self.live.rounds.store(r, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs rounds until `stop` is set or `rounds` are done.
    pub fn run(&mut self, rounds: Option<u64>, stop: &AtomicBool) -> Result<()> {
        while !stop.load(Ordering::Relaxed) && rounds.is_none_or(|n| self.rounds < n) {
            self.round(stop)?;
        }
        self.stopped = Some(Instant::now());
        Ok(())
    }

    // ---- what it did ----

    /// Counters for a status line, shared with another thread.
    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    /// Rounds completed.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// The planted ledger: offending attempts by kind and offender, in a stable order.
    pub fn planted(&self) -> Vec<Planted> {
        self.ledger
            .iter()
            .map(|((k, who), n)| Planted {
                kind: k,
                participant_tin: self.parties[*who].tin.clone(),
                count: *n,
            })
            .collect()
    }

    /// Units sold, by region, product group, GTIN and shop.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Requests made and how they were answered.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// The TINs of the planted offenders, with their part (`counterfeiter`, …).
    pub fn offenders(&self) -> Vec<(String, &'static str)> {
        self.parties
            .iter()
            .filter_map(|p| p.planted.map(|k| (p.tin.clone(), k)))
            .collect()
    }

    /// The regulator's TIN and bearer token (valid for the token's lifetime, 10 hours).
    pub fn regulator(&self) -> (&str, &str) {
        let p = &self.parties[self.regulator];
        (&p.tin, &p.actor.token)
    }

    /// An honest shop's and an honest maker's TIN and bearer token (for the business
    /// cabinet's link).
    pub fn businesses(&self) -> Vec<(&str, &str, &str)> {
        let shop = self.shops.first().map(|s| &self.parties[s.party]);
        let maker = self
            .parties
            .iter()
            .find(|p| p.planted.is_none() && p.prefix.is_some() && !p.roles.contains(&"retailer"));
        [shop, maker]
            .into_iter()
            .flatten()
            .map(|p| (p.tin.as_str(), p.name.as_str(), p.actor.token.as_str()))
            .collect()
    }

    /// A full code on an honest shelf (genuine, for the verification page) and one sold.
    pub fn examples(&self) -> (Option<String>, Option<String>) {
        let genuine = self.shops[..world::SHOPS.len()]
            .iter()
            .flat_map(|s| s.shelf.iter())
            .find(|u| u.product != self.recalled_product())
            .map(|u| u.code.clone());
        (genuine, self.sold.last().map(|u| u.code.clone()))
    }

    /// Everything the analytics and the risk engine must find.
    pub fn truth(&self) -> Truth {
        Truth {
            seed: self.opts.seed,
            salt: self.opts.salt,
            rounds: self.rounds,
            started_at: self.started_at.clone(),
            stopped_at: types::time::format_timestamp(now_secs()),
            regulator_tin: self.parties[self.regulator].tin.clone(),
            participants: self
                .parties
                .iter()
                .map(|p| ParticipantTruth {
                    tin: p.tin.clone(),
                    name: p.name.clone(),
                    roles: p.roles.clone(),
                    region: p.region,
                    planted: p.planted,
                })
                .collect(),
            products: self
                .products
                .iter()
                .map(|p| ProductTruth {
                    gtin: p.gtin.clone(),
                    name: p.spec.name,
                    product_group: p.spec.group,
                    maker_tin: self.parties[p.maker].tin.clone(),
                })
                .collect(),
            recall: self.recall.clone(),
            planted: self.planted(),
            totals: self.totals.clone(),
            activity: self.activity.clone(),
            trace: self.trace.clone().finalize().to_hex().to_string(),
        }
    }

    /// Writes [`Sim::truth`] as JSON to `path` (whole or not at all).
    pub fn write_truth(&self, path: &std::path::Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.truth())?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Writes each participant's Ed25519 secret key (base64 of its 32 bytes) to
    /// `dir/<tin>.key` (0600), so a person can act as any of them.
    pub fn write_keys(&self, dir: &std::path::Path) -> Result<()> {
        use base64::Engine;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for p in &self.parties {
            let path = key_file(dir, &p.tin);
            let mut f = std::fs::OpenOptions::new();
            f.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                f.mode(0o600);
            }
            let mut f = f
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            use std::io::Write;
            writeln!(
                f,
                "{}",
                base64::engine::general_purpose::STANDARD.encode(p.actor.key.to_bytes())
            )?;
        }
        Ok(())
    }

    /// Every participant with its key's file in `keys_dir` (see [`Sim::write_keys`]), and
    /// not whether it is planted.
    pub fn participants(&self, keys_dir: &std::path::Path) -> ParticipantsFile {
        ParticipantsFile {
            regulator_tin: self.parties[self.regulator].tin.clone(),
            participants: self
                .parties
                .iter()
                .map(|p| ParticipantCard {
                    tin: p.tin.clone(),
                    name: p.name.clone(),
                    roles: p.roles.clone(),
                    region: p.region,
                    key_file: key_file(keys_dir, &p.tin).display().to_string(),
                })
                .collect(),
        }
    }

    /// Writes [`Sim::participants`] as JSON to `path` (whole or not at all).
    pub fn write_participants(
        &self,
        path: &std::path::Path,
        keys_dir: &std::path::Path,
    ) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&self.participants(keys_dir))?,
        )
        .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// An honest participant whose only role is `role` (`producer`, `wholesaler`,
    /// `retailer`, …): its TIN and name, the first registered.
    pub fn example(&self, role: &str) -> Option<(&str, &str)> {
        self.parties
            .iter()
            .find(|p| p.planted.is_none() && p.roles == [role])
            .map(|p| (p.tin.as_str(), p.name.as_str()))
    }

    /// What the demo did, in words: documents, sales, refusals by reason, the offenders
    /// who struck and the recall. Only what happened: no heading without lines under it.
    pub fn summary(&self) -> String {
        let a = &self.activity;
        let t = &self.totals;
        let mut s = String::new();
        let elapsed = self
            .stopped
            .map_or_else(|| self.started.elapsed(), |t| t - self.started)
            .as_secs();
        s.push_str(&format!(
            "The economy ran {} in {} min {} s.\n",
            count(self.rounds, "round", "rounds"),
            elapsed / 60,
            elapsed % 60
        ));
        let docs = a.documents();
        s.push_str(&format!(
            "{} {} accepted",
            count(docs, "document", "documents"),
            if docs == 1 { "was" } else { "were" }
        ));
        if t.receipts == 0 {
            s.push_str("; no unit was sold.\n");
        } else {
            s.push_str(&format!(
                "; {} sold {} in {} ({} returned).\n",
                count(t.receipts, "fiscal receipt", "fiscal receipts"),
                count(t.units_sold, "unit", "units"),
                count(t.by_region.len() as u64, "region", "regions"),
                t.units_returned
            ));
        }
        if a.till_checks + a.verifications + a.complaints > 0 {
            s.push_str(&format!(
                "Tills made {}; shoppers verified {} and filed {}.\n",
                count(a.till_checks, "check", "checks"),
                count(a.verifications, "code", "codes"),
                count(a.complaints, "complaint", "complaints")
            ));
        }
        let refused = a.refused();
        if refused == 0 {
            s.push_str("No document was refused.\n");
        } else {
            let reasons: Vec<String> = a
                .refused_reasons
                .iter()
                .map(|(r, n)| format!("{n} {}", r.replace('_', " ")))
                .collect();
            s.push_str(&format!(
                "{} {} refused, for {}: {}.\n",
                count(refused, "document", "documents"),
                if refused == 1 { "was" } else { "were" },
                if reasons.len() == 1 {
                    "this reason"
                } else {
                    "these reasons"
                },
                reasons.join(", ")
            ));
        }
        if a.honest_refusals > 0 {
            s.push_str(&format!(
                "Warning: {} of them came from honest participants (a fault in the demo or the registry).\n",
                a.honest_refusals
            ));
        }
        let planted = self.planted();
        if planted.iter().all(|x| x.count == 0) {
            s.push_str(
                "No offence was planted: the economy stopped before its offenders struck.\n",
            );
        } else {
            s.push_str("The planted offenders:\n");
            for p in self.parties.iter().filter(|p| p.planted.is_some()) {
                let mine: Vec<String> = planted
                    .iter()
                    .filter(|x| x.participant_tin == p.tin && x.count > 0)
                    .map(|x| describe(x.kind, x.count))
                    .collect();
                s.push_str(&format!(
                    "  {} (TIN {}, {}), the {}: {}\n",
                    p.name,
                    p.tin,
                    p.region,
                    part_in_words(p.planted.unwrap_or_default()),
                    if mine.is_empty() {
                        "nothing yet".to_string()
                    } else {
                        mine.join(", ")
                    }
                ));
            }
        }
        // Made while setting up (before the first round), so present whenever it happened.
        if let Some(r) = &self.recall {
            s.push_str(&format!(
                "The regulator recalled batch {} of GTIN {} (block {}).\n",
                r.batch, r.gtin, r.block_id
            ));
        }
        s
    }
}

/// A participant's secret key's file: `dir/<tin>.key`.
pub fn key_file(dir: &std::path::Path, tin: &str) -> std::path::PathBuf {
    dir.join(format!("{tin}.key"))
}

/// `n` and the noun, singular for 1: `1 round`, `2 rounds`, `0 rounds`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An offender's part in the story, in words.
fn part_in_words(label: &str) -> String {
    match label {
        "recall_ignorer" => "shop ignoring the recall".into(),
        "complained_shop" => "shop drawing complaints".into(),
        "expired_seller" => "farm shop selling expired goods".into(),
        other => other.replace('_', " "),
    }
}

/// `n` offences of kind `k` in words.
fn describe(k: &str, n: u64) -> String {
    let (one, many) = match k {
        kind::REPEAT_SALE => ("sale of a code sold before", "sales of codes sold before"),
        kind::NOT_INTRODUCED_SALE => (
            "sale of a code never introduced",
            "sales of codes never introduced",
        ),
        kind::CLONE_SCANS => (
            "pair of scans of one code far apart",
            "pairs of scans of one code far apart",
        ),
        kind::GREY_SALE => (
            "sale of goods it never received",
            "sales of goods it never received",
        ),
        kind::SALES_EXCEED_RECEIPTS => (
            "unit offered beyond what it received",
            "units offered beyond what it received",
        ),
        kind::FORGED_TAIL => (
            "till check with a guessed tail",
            "till checks with guessed tails",
        ),
        kind::EXPIRED_SALE => ("sale of expired goods", "sales of expired goods"),
        kind::RECALLED_SALE => (
            "sale of recalled goods without a till check",
            "sales of recalled goods without a till check",
        ),
        kind::COMPLAINT_CLUSTER => ("complaint about it", "complaints about it"),
        other => (other, other),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The Digital Link path of a full code: `/01/{gtin}/21/{serial}?91=…&92=…` (or `?93=…`);
/// empty if `full` is not a code.
pub fn digital_link(full: &str) -> String {
    gs1::ElementString::parse(full)
        .and_then(|es| es.to_digital_link(""))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tin_check_digits_match_known_tins() {
        // Sberbank's TIN 7707083893 and Gazprom's 7736050003.
        assert_eq!(tin_check_digit("770708389"), 3);
        assert_eq!(tin_check_digit("773605000"), 3);
    }

    #[test]
    fn a_forged_tail_keeps_its_length_and_changes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let real = "0104601234567893215abc12\u{1d}93Zx9q";
        let f = forge_tail(real, &mut rng).expect("a tail");
        assert_eq!(f.len(), real.len());
        assert!(f.starts_with("0104601234567893215abc12\u{1d}93"));
        assert_ne!(f, real);
        let long = format!(
            "0104601234567893215abc12\u{1d}910024\u{1d}92{}",
            "A".repeat(44)
        );
        let f = forge_tail(&long, &mut rng).expect("a tail");
        assert_eq!(f.len(), long.len());
        assert!(f.contains("\u{1d}910024\u{1d}92"));
        assert!(forge_tail("0104601234567893215abc12", &mut rng).is_none());
    }
}
