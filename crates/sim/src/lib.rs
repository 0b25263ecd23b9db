//! The deterministic simulator (issue 17): one seed drives the registry in process — a
//! simulated clock, the producer, the wholesaler and two shops ordering, applying,
//! introducing, shipping and accepting, selling, writing off and checking at the till —
//! over the embedded store wrapped in a fault injector (`conformance::faults::FaultyStore`):
//! commits that fail (plainly, or for a full disk), reads that fail, and restarts of the
//! registry on its store at any step. After every step it checks what must hold against a
//! model of its own; a failing seed says so with the step and replays exactly
//! (`tracemark sim --seed S --steps N`).
//!
//! What is checked after every step (of the codes the step touched; of every code after a
//! restart and every [`FULL_CHECK_EVERY`] steps):
//! - every code's status and owner are the model's (what every acknowledged document left);
//! - every participant's inventory of every GTIN counts the codes the model says it holds,
//!   none in transit;
//! - every acknowledged document is readable, under the sequence number it was given;
//! - a code's events are in the order of their documents, the last one its state;
//! - a document refused for an injected fault changed nothing observable (its codes, every
//!   inventory, the log's head), and an acknowledged one moved the log by one leaf;
//! - at the full checks, the projections (the risk engine, the analytics), followed live
//!   through faults and restarts, store the same rows as fresh ones built from the whole
//!   feed at once.
//!
//! Deterministic: every choice comes from the seed's generator, the keyring from the seed
//! (so the codes are the same), the clock is the world's, and each step waits for its
//! answer. Document ids and participants' keys are random and change nothing checked.
//!
//! A step that hangs (a deadlock, a writer that stopped answering) is caught by a watchdog
//! after [`STEP_DEADLINE`], which names the seed and step and ends the process.

#![deny(missing_docs)]

use conformance::faults::FaultyStore;
use conformance::World;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use store::StoreErrorKind;
use types::model::Participant;

/// Every so many steps, the checks run over every code, not only those a step touched.
pub const FULL_CHECK_EVERY: u64 = 50;

/// Most codes one document carries in the simulation.
pub const DOC_CODES_MAX: usize = 60;

/// A step that has not finished in this long is a hang (a deadlock, a writer that stopped
/// answering): the watchdog prints the seed and step and ends the process with
/// [`HANG_EXIT_CODE`], as a stuck thread cannot be unwound. Steps take milliseconds; a
/// restart a few seconds on a busy machine.
pub const STEP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// The process's exit code when a step hangs past [`STEP_DEADLINE`].
pub const HANG_EXIT_CODE: i32 = 70;

/// Where the model says a code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Emitted,
    Applied,
    /// In circulation, held by the participant of this index ([`Sim::people`]).
    Held(usize),
    /// Sold by the shop of this index.
    Sold(usize),
    WrittenOff(usize),
}

impl Place {
    fn status(self) -> &'static str {
        match self {
            Place::Emitted => "EMITTED",
            Place::Applied => "APPLIED",
            Place::Held(_) => "INTRODUCED",
            Place::Sold(_) => "RETIRED",
            Place::WrittenOff(_) => "WRITTEN_OFF",
        }
    }
}

/// A seed's run, to the end or to the first broken invariant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Steps run.
    pub steps: u64,
    /// Documents acknowledged.
    pub accepted: u64,
    /// Documents refused because of an injected fault (each checked to change nothing).
    pub refused_by_faults: u64,
    /// Restarts of the registry on its store.
    pub restarts: u64,
    /// Codes the model follows.
    pub codes: usize,
    /// Projection rows compared with a rebuild from the feed, at the last full check.
    pub projection_rows: usize,
    /// Documents whose commit landed but was reported failed, sent again and answered
    /// once (one log leaf, the same sequence number).
    pub landed_unanswered: u64,
    /// Times the store lost durability: every write refused after, until a restart.
    pub durability_lost: u64,
    /// Blocks made and lifted by the regulator.
    pub blocks: u64,
    /// Log leaves the audit replayed through the rules at the end (its state compared).
    pub audited_leaves: u64,
}

impl Summary {
    /// Adds another run's counts (the codes and rows of the last run kept).
    pub fn add(&mut self, o: &Summary) {
        self.steps += o.steps;
        self.accepted += o.accepted;
        self.refused_by_faults += o.refused_by_faults;
        self.restarts += o.restarts;
        self.landed_unanswered += o.landed_unanswered;
        self.durability_lost += o.durability_lost;
        self.blocks += o.blocks;
        self.audited_leaves += o.audited_leaves;
        self.codes = o.codes;
        self.projection_rows = o.projection_rows;
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} seed-steps clean: {} documents acknowledged, {} refused under injected faults (each changing nothing), {} answered after their commit's answer was lost, {} times durability lost, {} restarts, {} blocks and lifts, {} log leaves audited",
            self.steps,
            self.accepted,
            self.refused_by_faults,
            self.landed_unanswered,
            self.durability_lost,
            self.restarts,
            self.blocks,
            self.audited_leaves
        )
    }
}

/// A broken invariant: the seed, the step and what broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The step (1-based) after which the check failed.
    pub step: u64,
    /// What the step did.
    pub action: String,
    /// What did not hold.
    pub broken: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} broke at step {} ({}): {}; replay: tracemark sim --seed {} --steps {}",
            self.seed, self.step, self.action, self.broken, self.seed, self.step
        )
    }
}

/// One simulation.
struct Sim {
    seed: u64,
    rng: StdRng,
    dir: tempfile::TempDir,
    /// The store and the world on it (`None` only while restarting).
    live: Option<(Arc<FaultyStore>, World)>,
    /// The projections following the feed live (stopped before a restart).
    followers: Vec<registry::project::Follower>,
    /// Each code's place, by full code.
    codes: BTreeMap<String, Place>,
    /// Acknowledged documents: id → sequence number.
    docs: Vec<(uuid::Uuid, u64)>,
    /// Blocks in force: id → the codes they block.
    blocks: BTreeMap<u64, Vec<String>>,
    /// Complaints acknowledged.
    complaints: usize,
    summary: Summary,
    options: Options,
    /// Rows compared at the last full check ([`Summary::projection_rows`]).
    rows_compared: std::cell::Cell<usize>,
}

/// A step's result: what it did, the codes it touched, or what broke.
type Step = Result<(String, Vec<String>), String>;

/// What a run may do beyond its seed's faults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Every commit tears (`conformance::faults::Faults::torn_commits`): a store that lies,
    /// to prove the checks catch what they are for.
    pub torn_commits: bool,
}

/// Runs `steps` steps from `seed`.
pub fn run(seed: u64, steps: u64) -> Result<Summary, Failure> {
    run_with(seed, steps, Options::default())
}

/// [`run`], with [`Options`].
pub fn run_with(seed: u64, steps: u64, options: Options) -> Result<Summary, Failure> {
    let mut sim = Sim::new(seed);
    sim.options = options;
    let (progress, watched) = std::sync::mpsc::channel::<u64>();
    // Ends when `progress` is dropped, with this function.
    std::thread::spawn(move || watchdog(seed, watched));
    for step in 1..=steps {
        let _ = progress.send(step);
        let outcome = sim.step();
        let checked = outcome.and_then(|(action, touched)| {
            let all = step % FULL_CHECK_EVERY == 0 || step == steps;
            if all {
                sim.store().faults(|f| f.projection_commit = None);
            }
            sim.check(if all { None } else { Some(&touched) })
                .map(|()| action.clone())
                .map_err(|b| format!("{action}: {b}"))
        });
        if let Err(broken) = checked {
            let (action, broken) = broken
                .split_once(": ")
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .unwrap_or((String::new(), broken));
            return Err(Failure {
                seed,
                step,
                action,
                broken,
            });
        }
        sim.summary.steps = step;
    }
    if let Err(broken) = sim.audit() {
        return Err(Failure {
            seed,
            step: steps,
            action: "the audit at the end".into(),
            broken,
        });
    }
    sim.summary.codes = sim.codes.len();
    sim.summary.projection_rows = sim.rows_compared.get();
    Ok(sim.summary)
}

/// Waits for each step's start; a step not followed by another (or by the end) within
/// [`STEP_DEADLINE`] is reported with the command that replays it, and the process ends.
fn watchdog(seed: u64, steps: std::sync::mpsc::Receiver<u64>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut step = 0;
    loop {
        match steps.recv_timeout(STEP_DEADLINE) {
            Ok(s) => step = s,
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                eprintln!(
                    "seed {seed} hung at step {step} (no answer in {} s); replay: \
                     tracemark sim --seed {seed} --steps {step}",
                    STEP_DEADLINE.as_secs()
                );
                std::process::exit(HANG_EXIT_CODE);
            }
        }
    }
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = open_store(dir.path()).expect("the embedded store");
        let w = World::open_seeded(store.clone(), seed);
        let followers = follow(&w);
        Sim {
            seed,
            rng: StdRng::seed_from_u64(seed),
            dir,
            live: Some((store, w)),
            followers,
            codes: BTreeMap::new(),
            docs: Vec::new(),
            blocks: BTreeMap::new(),
            complaints: 0,
            summary: Summary::default(),
            options: Options::default(),
            rows_compared: std::cell::Cell::new(0),
        }
    }

    /// The world (the registry and its participants).
    fn w(&self) -> &World {
        &self.live.as_ref().expect("a registry").1
    }

    /// The fault injector.
    fn store(&self) -> &FaultyStore {
        &self.live.as_ref().expect("a registry").0
    }

    /// The participants that hold codes: producer, wholesaler, two shops.
    fn people(&self) -> [&Participant; 4] {
        let w = self.w();
        [&w.producer, &w.wholesaler, &w.retailer, &w.retailer2]
    }

    fn at(&self, place: Place) -> Vec<String> {
        self.codes
            .iter()
            .filter(|(_, p)| **p == place)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Whether a block in force names `code`.
    fn blocked(&self, code: &str) -> bool {
        self.blocks.values().any(|b| b.iter().any(|c| c == code))
    }

    /// Up to `DOC_CODES_MAX` codes at `place` that no block holds (a blocked code may not
    /// be sold or shipped on), chosen by the seed.
    fn some_free(&mut self, place: Place) -> Vec<String> {
        let mut all: Vec<String> = self
            .at(place)
            .into_iter()
            .filter(|c| !self.blocked(c))
            .collect();
        if all.is_empty() {
            return all;
        }
        all.shuffle(&mut self.rng);
        let n = self.rng.gen_range(1..=all.len().min(DOC_CODES_MAX));
        all.truncate(n);
        all.sort();
        all
    }

    /// Up to `DOC_CODES_MAX` codes at `place`, chosen by the seed.
    fn some(&mut self, place: Place) -> Vec<String> {
        let mut all = self.at(place);
        if all.is_empty() {
            return all;
        }
        all.shuffle(&mut self.rng);
        let n = self.rng.gen_range(1..=all.len().min(DOC_CODES_MAX));
        all.truncate(n);
        all.sort();
        all
    }

    /// One step, chosen by the seed.
    fn step(&mut self) -> Step {
        // Time passes: seconds to minutes a step, now and then hours (the risk engine's
        // one-hour window of till checks is crossed both ways).
        let dt = if self.rng.gen_ratio(4, 5) {
            self.rng.gen_range(1..300)
        } else {
            self.rng.gen_range(300..4 * 3_600)
        };
        self.w().clock.fetch_add(dt, Ordering::SeqCst);
        if self.rng.gen_ratio(1, 40) {
            return self.restart();
        }
        if self.at(Place::Emitted).len() < DOC_CODES_MAX {
            return self.order();
        }
        let roll = self.rng.gen_range(0..100);
        let (who, body, moved, what) = match roll {
            0..=19 => {
                let c = self.some(Place::Emitted);
                let b = json!({"type": "apply", "codes": ids(&c)});
                (0, b, (c, Place::Applied), "apply")
            }
            20..=39 => {
                let c = self.some(Place::Applied);
                let b = json!({"type": "introduce", "codes": ids(&c), "production_date": self.w().today()});
                (0, b, (c, Place::Held(0)), "introduce")
            }
            40..=64 => return self.transfer(),
            65..=76 => {
                let shop = self.rng.gen_range(2..4);
                let c = self.some_free(Place::Held(shop));
                let b = self.w().sell_body(&c);
                (shop, b, (c, Place::Sold(shop)), "sell")
            }
            77..=80 => {
                let shop = self.rng.gen_range(2..4);
                let c = self.some(Place::Sold(shop));
                let b = json!({"type": "return", "codes": ids(&c), "reason": "retail"});
                (shop, b, (c, Place::Held(shop)), "return")
            }
            81..=83 => return self.block_or_lift(),
            84..=85 => return self.complaint(),
            86 => return self.rotate_or_suspend(),
            87..=92 => {
                let who = self.rng.gen_range(0..4);
                let c = self.some(Place::Held(who));
                let b = json!({"type": "write_off", "codes": ids(&c), "reason": "damage"});
                (who, b, (c, Place::WrittenOff(who)), "write_off")
            }
            _ => return self.till_check(),
        };
        let (codes, to) = moved;
        if codes.is_empty() {
            return Ok((format!("{what}: nothing to do"), Vec::new()));
        }
        self.document(who, body, &codes, to, what)
    }

    /// A document by `who` moving `codes` to `to`, perhaps under an injected fault.
    fn document(
        &mut self,
        who: usize,
        body: serde_json::Value,
        codes: &[String],
        to: Place,
        what: &str,
    ) -> Step {
        let fault = match self.rng.gen_range(0..200) {
            0..=11 => Some("commit fails"),
            12..=17 => Some("disk full"),
            18..=21 => Some("reads fail"),
            22..=27 => Some("commit lands, answer lost"),
            28..=33 => Some("projections cannot commit"),
            34 => Some("durability lost"),
            35..=40 => Some("reads slow"),
            _ => None,
        };
        // The document's id is the client's: a resend is the same document.
        let mut body = body;
        body["id"] = json!(uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid());
        let action = format!(
            "{what} of {} codes by {}{}",
            codes.len(),
            self.people()[who].tin,
            fault.map(|f| format!(" ({f})")).unwrap_or_default()
        );
        if fault == Some("commit lands, answer lost") {
            // A till check just before: its fact from a read rides in the same batch.
            self.till_check()?;
        }
        let changes_nothing = matches!(
            fault,
            Some("commit fails" | "disk full" | "reads fail" | "durability lost")
        );
        let before = changes_nothing.then(|| self.w().snapshot(codes));
        let head = self.w().reg.log_head().map_err(|e| e.to_string())?.0;
        match fault {
            Some("commit fails") => self
                .store()
                .faults(|f| f.commit = Some(StoreErrorKind::Failed)),
            Some("disk full") => self
                .store()
                .faults(|f| f.commit = Some(StoreErrorKind::Full)),
            Some("reads fail") => self.store().faults(|f| f.reads_fail = true),
            Some("reads slow") => self
                .store()
                .faults(|f| f.read_delay = Some(std::time::Duration::from_millis(2))),
            Some("commit lands, answer lost") => {
                self.store().faults(|f| f.commits_land_then_fail = true)
            }
            Some("projections cannot commit") => self
                .store()
                .faults(|f| f.projection_commit = Some(StoreErrorKind::Failed)),
            Some(_) => self
                .store()
                .faults(|f| f.commit = Some(StoreErrorKind::Lost)),
            None => {}
        }
        if self.options.torn_commits {
            self.store().faults(|f| f.torn_commits = true);
        }
        let actor = self.people()[who].clone();
        let mut answer = self.w().doc(&actor, body.clone());
        let torn = self.options.torn_commits;
        self.store().faults(|f| {
            // A projection's failing commits last until the next full check (they are
            // stored every half second; a step takes milliseconds).
            let projection_commit = f.projection_commit;
            *f = Default::default();
            f.torn_commits = torn;
            f.projection_commit = projection_commit;
        });
        if fault == Some("durability lost") {
            return self.lost(action, answer, &actor, body, codes, before);
        }
        if fault == Some("commit lands, answer lost") {
            if answer.is_ok() {
                return Err(format!(
                    "{action}: answered though its commit reported failure"
                ));
            }
            // The client sends it again, as it must after a 503: the registry answers the
            // stored document, applying nothing twice.
            answer = self.w().doc(&actor, body);
            if answer.is_ok() {
                self.summary.landed_unanswered += 1;
            }
        }
        let after_head = self.w().reg.log_head().map_err(|e| e.to_string())?.0;
        match (answer, before) {
            (Ok(a), _) => {
                // A read fault may miss a document that needs no read of the failing
                // kind; a commit fault never lets one through.
                if matches!(
                    fault,
                    Some("commit fails" | "disk full" | "durability lost")
                ) {
                    return Err(format!("{action}: acknowledged while every commit failed"));
                }
                if after_head != head + 1 {
                    return Err(format!(
                        "{action}: the log moved from {head} to {after_head} for one document"
                    ));
                }
                self.docs.push((a.id, a.seq));
                self.summary.accepted += 1;
                for c in codes {
                    self.codes.insert(c.clone(), to);
                }
            }
            (Err(e), Some(before)) => {
                if self.w().snapshot(codes) != before {
                    return Err(format!("{action}: refused ({e}) but changed something"));
                }
                self.summary.refused_by_faults += 1;
            }
            (Err(e), None) => return Err(format!("{action}: refused without a fault: {e}")),
        }
        Ok((action, codes.to_vec()))
    }

    /// An order of 100–400 codes, waited for (no fault: emission runs behind the answer).
    fn order(&mut self) -> Step {
        let n = self.rng.gen_range(100..=400);
        let gtin = if self.rng.gen_bool(0.5) {
            self.w().gtin.clone()
        } else {
            self.w().milk.clone()
        };
        let producer = self.w().producer.clone();
        let codes = self.w().order(&producer, &gtin, n, "mac");
        if codes.len() != n as usize {
            return Err(format!("order of {n}: {} codes came", codes.len()));
        }
        for c in &codes {
            if self.codes.insert(c.clone(), Place::Emitted).is_some() {
                return Err(format!("order of {n}: code {c} issued twice"));
            }
        }
        Ok((format!("order of {n} {gtin}"), codes))
    }

    /// A shipment along the chain (producer → wholesaler → a shop), and its acceptance.
    fn transfer(&mut self) -> Step {
        let (from, to) = match self.rng.gen_range(0..3) {
            0 => (0, 1),
            1 => (1, 2),
            _ => (1, 3),
        };
        let codes = self.some_free(Place::Held(from));
        if codes.is_empty() {
            return Ok(("transfer: nothing to do".into(), Vec::new()));
        }
        let receiver = self.people()[to].tin.clone();
        let ship = json!({"type": "ship", "receiver": receiver, "codes": ids(&codes)});
        // In transit between the two: the model holds them at neither until accepted, so
        // the shipment itself is sent without a fault, and the acceptance perhaps with one
        // (then sent again, as a client would).
        let shipped = self
            .w()
            .doc(&self.people()[from].clone(), ship)
            .map_err(|e| format!("ship: refused without a fault: {e}"))?;
        self.docs.push((shipped.id, shipped.seq));
        self.summary.accepted += 1;
        for c in &codes {
            self.codes.remove(c);
        }
        let accept = json!({"type": "accept", "shipment": shipped.id});
        let mut tries = 0;
        loop {
            tries += 1;
            let r = self.document(to, accept.clone(), &codes, Place::Held(to), "accept");
            let accepted = codes
                .iter()
                .all(|c| self.codes.get(c) == Some(&Place::Held(to)));
            match r {
                Ok(_) if accepted => break,
                Ok(_) if tries < 10 => continue,
                Ok(_) => return Err("accept: refused ten times by injected faults".into()),
                Err(e) => return Err(e),
            }
        }
        Ok((
            format!("transfer of {} codes, {from} → {to}", codes.len()),
            codes,
        ))
    }

    /// Till checks of a few codes anywhere: every answer must agree with the model on
    /// whether the shop may sell.
    fn till_check(&mut self) -> Step {
        let shop = self.rng.gen_range(2..4);
        let mut all: Vec<String> = self.codes.keys().cloned().collect();
        all.shuffle(&mut self.rng);
        all.truncate(5);
        let items = all
            .iter()
            .map(|c| registry::PosItem::Code(c.clone()))
            .collect();
        let actor = self.people()[shop].clone();
        let answers = self.w().pos(&actor, items);
        for (c, a) in all.iter().zip(&answers) {
            let may = self.codes[c] == Place::Held(shop) && !self.blocked(c);
            if a.sellable != may {
                return Err(format!(
                    "till check of {c} at shop {shop}: sellable {} ({:?}), the model says {may} ({:?})",
                    a.sellable, a.reasons, self.codes[c]
                ));
            }
        }
        Ok((format!("till check of {} codes", all.len()), Vec::new()))
    }

    /// The store lost durability under a document: it must be refused and change nothing,
    /// every write after it refused too (the same document sent again), and a restart
    /// must bring the registry back whole.
    fn lost(
        &mut self,
        action: String,
        answer: registry::Result<registry::DocAnswer>,
        actor: &Participant,
        body: serde_json::Value,
        codes: &[String],
        before: Option<String>,
    ) -> Step {
        if answer.is_ok() {
            return Err(format!(
                "{action}: acknowledged while the store lost durability"
            ));
        }
        if self.w().reg.writer_stats().lost.get().is_none() {
            return Err(format!(
                "{action}: the writer did not note the lost durability"
            ));
        }
        if self.w().doc(actor, body).is_ok() {
            return Err(format!(
                "{action}: a write acknowledged after the store lost durability"
            ));
        }
        if before.is_some_and(|b| self.w().snapshot(codes) != b) {
            return Err(format!("{action}: refused but changed something"));
        }
        self.summary.durability_lost += 1;
        self.summary.refused_by_faults += 1;
        self.restart()?;
        Ok((format!("{action}, then a restart"), codes.to_vec()))
    }

    /// The regulator blocks a few codes in circulation, or lifts a block in force.
    fn block_or_lift(&mut self) -> Step {
        if !self.blocks.is_empty() && self.rng.gen_bool(0.5) {
            let ids: Vec<u64> = self.blocks.keys().copied().collect();
            let id = *ids.choose(&mut self.rng).expect("a block");
            let w = self.w();
            w.reg
                .lift_block(&w.regulator, id)
                .map_err(|e| format!("lift of block {id}: {e}"))?;
            let codes = self.blocks.remove(&id).unwrap_or_default();
            self.summary.blocks += 1;
            return Ok((format!("lift of block {id}"), codes));
        }
        let who = self.rng.gen_range(0..4);
        let mut codes = self.some(Place::Held(who));
        codes.truncate(5);
        if codes.is_empty() {
            return Ok(("block: nothing to do".into(), Vec::new()));
        }
        let id = self.w().block(None, None, Some(ids(&codes)));
        self.blocks.insert(id, codes.clone());
        self.summary.blocks += 1;
        Ok((format!("block {id} of {} codes", codes.len()), codes))
    }

    /// A participant's key rotated, or a shop suspended — its sale then refused, changing
    /// nothing — and reinstated.
    fn rotate_or_suspend(&mut self) -> Step {
        let who = self.rng.gen_range(0..4);
        let tin = self.people()[who].tin.clone();
        if self.rng.gen_bool(0.5) {
            use base64::Engine;
            let mut seed = [0u8; 32];
            self.rng.fill(&mut seed);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let public_key =
                base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
            self.w()
                .reg
                .add_key(
                    &tin,
                    registry::NewKey {
                        public_key,
                        not_before: None,
                    },
                )
                .map_err(|e| format!("key rotation of {tin}: {e}"))?;
            return Ok((format!("key rotation of {tin}"), Vec::new()));
        }
        let shop = self.rng.gen_range(2..4);
        let tin = self.people()[shop].tin.clone();
        let codes = self.some_free(Place::Held(shop));
        self.w()
            .reg
            .suspend(&tin, "an inspection")
            .map_err(|e| format!("suspension of {tin}: {e}"))?;
        if !codes.is_empty() {
            let before = self.w().snapshot(&codes);
            let body = self.w().sell_body(&codes);
            let actor = self.people()[shop].clone();
            if self.w().doc(&actor, body).is_ok() {
                return Err(format!("a sale by suspended {tin} acknowledged"));
            }
            if self.w().snapshot(&codes) != before {
                return Err(format!(
                    "a refused sale by suspended {tin} changed something"
                ));
            }
        }
        self.w()
            .reg
            .reinstate(&tin)
            .map_err(|e| format!("reinstatement of {tin}: {e}"))?;
        Ok((
            format!("suspension of {tin}, a sale refused, reinstated"),
            codes,
        ))
    }

    /// A shopper's complaint about a code the model knows, perhaps under a failing commit
    /// (then refused, and not counted).
    fn complaint(&mut self) -> Step {
        let all: Vec<String> = self.codes.keys().cloned().collect();
        let Some(code) = all.choose(&mut self.rng).cloned() else {
            return Ok(("complaint: nothing to do".into(), Vec::new()));
        };
        let fault = self.rng.gen_ratio(1, 10);
        if fault {
            self.store()
                .faults(|f| f.commit = Some(StoreErrorKind::Failed));
        }
        let req = types::complaints::NewComplaint {
            code: Some(conformance::id(&code)),
            kind: "counterfeit".into(),
            text: "the label looks printed at home".into(),
            shop: None,
            location: None,
            photo: None,
        };
        let client = format!("sim-{}", self.rng.gen_range(0..8));
        let checker = registry::tailguard::Checker::Public(self.rng.gen_range(0..8));
        let r = self.w().reg.complain(req, client, checker);
        self.store().faults(|f| f.commit = None);
        match (r, fault) {
            (Ok(_), true) => Err("complaint: acknowledged while every commit failed".into()),
            (Ok(_), false) => {
                self.complaints += 1;
                Ok(("complaint".into(), Vec::new()))
            }
            (Err(_), true) => {
                self.summary.refused_by_faults += 1;
                Ok(("complaint (commit fails)".into(), Vec::new()))
            }
            (Err(e), false) => Err(format!("complaint refused without a fault: {e}")),
        }
    }

    /// The regulator reads every acknowledged complaint, and no other.
    fn complaints_listed(&self) -> Result<(), String> {
        let w = self.w();
        let mut n = 0;
        let mut after = None;
        loop {
            let page = w
                .reg
                .complaints(
                    &w.regulator,
                    &types::complaints::ComplaintFilter {
                        code: None,
                        shop: None,
                        kind: None,
                        from: None,
                        to: None,
                        after,
                        limit: types::limits::COMPLAINT_PAGE_MAX,
                    },
                )
                .map_err(|e| format!("complaints: {e}"))?;
            n += page.complaints.len();
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if n != self.complaints {
            return Err(format!(
                "the regulator reads {n} complaints, {} were acknowledged",
                self.complaints
            ));
        }
        Ok(())
    }

    /// The audit of the log: its tree recomputed, every leaf replayed through the rules
    /// into a scratch store, and the state compared with the registry's.
    fn audit(&mut self) -> Result<(), String> {
        let store: Arc<dyn store::Store> = self.live.as_ref().expect("a registry").0.clone();
        let mut r = audit::audit(&*store, None).map_err(|e| format!("audit: {e}"))?;
        let scratch_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let scratch = store_fjall::FjallStore::open_with(scratch_dir.path(), false)
            .map_err(|e| format!("audit's scratch store: {e}"))?;
        let keyring = conformance::seeded_keyring(self.seed);
        let s = audit::audit_state(&*store, &scratch, keyring, &mut r)
            .map_err(|e| format!("audit of the state: {e}"))?;
        if !r.problems.is_empty() {
            return Err(format!("the audit found: {}", r.problems.join("; ")));
        }
        self.summary.audited_leaves = s.replayed;
        Ok(())
    }

    /// Drops the registry and opens it again on the same store.
    fn restart(&mut self) -> Step {
        let (now, sscc) = (self.w().now(), self.w().next_sscc());
        // The projections stop first (writing what they applied), as `serve`'s do.
        self.followers.clear();
        self.live = None;
        // The writer's thread lets the store go as it ends: open again until it has.
        let since = std::time::Instant::now();
        let store = loop {
            match open_store(self.dir.path()) {
                Ok(s) => break s,
                Err(e) if since.elapsed() < std::time::Duration::from_secs(30) => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(format!("restart: the store does not open again: {e}")),
            }
        };
        let w = World::reopen(store.clone(), self.seed, now, sscc);
        self.followers = follow(&w);
        self.live = Some((store, w));
        self.summary.restarts += 1;
        // Everything is checked after a restart.
        Ok(("restart".into(), self.codes.keys().cloned().collect()))
    }

    /// The invariants, over `touched` codes (`None`: every code).
    fn check(&self, touched: Option<&[String]>) -> Result<(), String> {
        let w = self.w();
        let all: Vec<String>;
        let codes = match touched {
            Some(t) => t,
            None => {
                all = self.codes.keys().cloned().collect();
                &all
            }
        };
        for c in codes {
            let Some(place) = self.codes.get(c) else {
                continue;
            };
            let info = w
                .reg
                .code_info(&w.regulator, c)
                .map_err(|e| format!("code {c}: {e}"))?;
            if info.status != place.status() {
                return Err(format!(
                    "code {c} is {}, the model says {place:?}",
                    info.status
                ));
            }
            let owner = match place {
                Place::Held(i) | Place::Sold(i) | Place::WrittenOff(i) => {
                    Some(self.people()[*i].tin.clone())
                }
                _ => Some(w.producer.tin.clone()),
            };
            if info.owner != owner {
                return Err(format!(
                    "code {c} is owned by {:?}, the model says {owner:?}",
                    info.owner
                ));
            }
            let key = registry::code_key(c).map_err(|e| format!("{c}: {e}"))?;
            let events = w
                .reg
                .store()
                .events(&key)
                .map_err(|e| format!("events of {c}: {e}"))?;
            if events.windows(2).any(|e| e[0].doc_seq >= e[1].doc_seq) {
                return Err(format!(
                    "code {c}'s events are out of their documents' order"
                ));
            }
            if let Some(last) = events.last() {
                if last.status.name() != info.status {
                    return Err(format!(
                        "code {c}'s last event says {}, its state {}",
                        last.status.name(),
                        info.status
                    ));
                }
            }
        }
        for (i, p) in self.people().iter().enumerate() {
            for g in [&w.gtin, &w.milk] {
                let want = self
                    .codes
                    .iter()
                    .filter(|(c, place)| **place == Place::Held(i) && c.contains(g.as_str()))
                    .count() as i64;
                let (held, in_transit, _) = w.inv(p, g, "INTRODUCED");
                if (held, in_transit) != (want, 0) {
                    return Err(format!(
                        "{}'s inventory of {g}: {held} in circulation, {in_transit} in transit; the model says {want}, 0",
                        p.tin
                    ));
                }
            }
        }
        if touched.is_none() {
            facts_from_reads_once(w)?;
            self.complaints_listed()?;
            self.projections_rebuild_the_same()?;
            for (id, seq) in &self.docs {
                let d = w
                    .reg
                    .store()
                    .document(id)
                    .map_err(|e| format!("document {id}: {e}"))?
                    .ok_or_else(|| format!("acknowledged document {id} is gone"))?;
                if d.seq != *seq {
                    return Err(format!("document {id} has seq {}, was given {seq}", d.seq));
                }
            }
        }
        Ok(())
    }
}

impl Sim {
    /// The projections followed live store the same rows as fresh ones built from the
    /// feed at once up to the live one's stored checkpoint (each a deterministic function
    /// of the feed).
    fn projections_rebuild_the_same(&self) -> Result<(), String> {
        let w = self.w();
        // The step's facts from reads (till checks, verifications) ride in the writer's
        // next batch: an empty job commits them, so the head below includes them.
        w.reg
            .writer_check(std::time::Duration::from_secs(60))
            .map_err(|e| format!("the writer did not answer: {e}"))?;
        let head = w.reg.feed_signal().head();
        for f in &self.followers {
            if !f.wait_applied(head, std::time::Duration::from_secs(60)) {
                return Err(format!("a projection did not reach the feed's head {head}"));
            }
            f.flush_soon();
            let since = std::time::Instant::now();
            while f.progress.stored.load(Ordering::Relaxed) < head {
                if since.elapsed() > std::time::Duration::from_secs(60) {
                    return Err(format!("a projection did not store its rows up to {head}"));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let n =
            same_rows(w, risk::Risk::default())? + same_rows(w, analytics::Analytics::default())?;
        self.rows_compared.set(n);
        Ok(())
    }
}

/// Every till check is in the feed once: a batch whose commit landed but reported failure
/// must not have its facts from reads recorded again with the next.
fn facts_from_reads_once(w: &World) -> Result<(), String> {
    let store = w.reg.store();
    let mut seen = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let page = store.feed(after, 4_096).map_err(|e| e.to_string())?;
        let Some(&(last, _)) = page.last() else { break };
        for (seq, bytes) in page {
            if let Some((_, types::feed::Fact::TillCheck(t))) = types::feed::decode(&bytes) {
                if !seen.insert(t.request_id) {
                    return Err(format!(
                        "till check {} is in the feed twice (again at entry {seq})",
                        t.request_id
                    ));
                }
            }
        }
        after = last;
    }
    Ok(())
}

/// `fresh` fed the whole feed at once: its rows against those the live one stored.
fn same_rows<P: registry::project::Projection>(w: &World, mut fresh: P) -> Result<usize, String> {
    let store = w.reg.store();
    let name = fresh.name();
    // The rows as stored with their checkpoint: read again if a flush landed meanwhile (a
    // fact from a read, committed after the step, may move the live one on).
    let (checkpoint, stored) = loop {
        let before = store
            .projection_checkpoint(name)
            .map_err(|e| e.to_string())?;
        let rows = stored_rows(w, name)?;
        let after = store
            .projection_checkpoint(name)
            .map_err(|e| e.to_string())?;
        if before == after {
            break (before, rows);
        }
    };
    // A fresh one fed the feed up to that checkpoint, and not one entry further.
    let mut after = 0;
    while after < checkpoint {
        let page = store.feed(after, 4_096).map_err(|e| e.to_string())?;
        let Some(&(last, _)) = page.last() else { break };
        for (seq, bytes) in page.into_iter().filter(|(seq, _)| *seq <= checkpoint) {
            let (at, fact) = types::feed::decode(&bytes)
                .ok_or_else(|| format!("feed entry {seq} does not read"))?;
            fresh
                .apply(&types::feed::FeedEntry { seq, at, fact }, &w.reg)
                .map_err(|e| format!("rebuilding {name} at feed entry {seq}: {e}"))?;
        }
        after = last;
    }
    let mut rebuilt: Rows = fresh
        .take_changes()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    rebuilt.sort();
    if stored != rebuilt {
        let first = stored
            .iter()
            .zip(&rebuilt)
            .position(|(a, b)| a != b)
            .unwrap_or(stored.len().min(rebuilt.len()));
        let show = |row: Option<&(Vec<u8>, Vec<u8>)>| {
            row.map_or_else(
                || "none".to_string(),
                |(k, v)| {
                    format!(
                        "{} = {}",
                        String::from_utf8_lossy(k).escape_debug(),
                        String::from_utf8_lossy(&v[..v.len().min(200)]).escape_debug()
                    )
                },
            )
        };
        return Err(format!(
            "the {name} projection stored {} rows, a rebuild from the feed makes {}; first difference at row {first}: stored {}, rebuilt {}",
            stored.len(),
            rebuilt.len(),
            show(stored.get(first)),
            show(rebuilt.get(first))
        ));
    }
    Ok(stored.len())
}

/// A projection's rows: (key, value), in key order.
type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Every row `name` has stored, in key order.
fn stored_rows(w: &World, name: &str) -> Result<Rows, String> {
    let mut stored = Vec::new();
    let mut start = Vec::new();
    loop {
        let rows = w
            .reg
            .store()
            .projection_rows(name, &start, 10_000)
            .map_err(|e| e.to_string())?;
        let Some((last, _)) = rows.last() else { break };
        start = last.clone();
        start.push(0);
        stored.extend(rows);
    }
    Ok(stored)
}

/// The risk engine and the analytics, following `w`'s feed.
fn follow(w: &World) -> Vec<registry::project::Follower> {
    let risk = Arc::new(parking_lot::RwLock::new(risk::Risk::default()));
    let analytics = Arc::new(parking_lot::RwLock::new(analytics::Analytics::default()));
    vec![
        registry::project::follow(&w.reg, risk).expect("the risk engine follows"),
        registry::project::follow(&w.reg, analytics).expect("the analytics follow"),
    ]
}

/// The embedded store in `dir` (no fsync per commit: the process does not die here, and
/// the simulator wants steps, not disk waits), behind the fault injector.
fn open_store(dir: &std::path::Path) -> Result<Arc<FaultyStore>, store::StoreError> {
    let inner = store_fjall::FjallStore::open_with(dir, false)?;
    Ok(Arc::new(FaultyStore::new(Arc::new(inner))))
}

/// Codes as documents carry them (without crypto tails).
fn ids(codes: &[String]) -> Vec<String> {
    conformance::ids(codes)
}
