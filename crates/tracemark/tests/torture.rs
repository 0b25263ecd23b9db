//! The torture run (issue 17, item 6): `tracemark serve` on the embedded store is killed
//! (SIGKILL) K times under mixed load, restarted on the same data directory each time, and
//! after every restart the registry is checked against a model of what it answered.
//!
//! The load, from eight client threads for a seeded 0–1.5 s a round:
//! - three document lines, each over its own codes: apply and introduce, then cycles of
//!   aggregate (units into boxes, boxes into a pallet), ship to the wholesaler, accept,
//!   disaggregate, ship the units to the line's shop, accept (sometimes rejecting a few,
//!   shipped again), till checks and sales on fiscal receipts, returns, and the shop
//!   shipping everything back to the producer, who accepts;
//! - code orders: order, wait until ready, fetch the codes, close;
//! - a regulator blocking single codes, a batch or the whole GTIN of a pool of codes in a
//!   shop, and lifting the blocks;
//! - consumers' complaints (public, each from its own loopback address);
//! - sign-ins (challenge, token) and a read with the new token.
//!
//! What the server acknowledged goes into the model; what was in flight at the kill is
//! resolved after the restart: a document by reading it, then re-sending it with its id
//! (the stored answer again, or applied now, once); an order, a block or a complaint by the
//! log's new leaves (each names the signed request, or the text, it came from); a lift or an
//! order's close by reading it; a sign-in by sending the same answer to its challenge again
//! (refused as used: it landed).
//!
//! After each restart:
//! - the log: its new leaves are exactly the changes the model says landed (none
//!   acknowledged missing, none unexplained, none twice); documents numbered on without a
//!   gap; the chain head is the last document's; the signed checkpoint extends the one
//!   before (a consistency proof); `/health` counts the documents;
//! - documents: each one landed this round is readable with its sequence number, and a
//!   sample of older ones;
//! - codes: every line's code has the model's status, owner, transit, parent and child
//!   count; the histories of the codes changed last, and of a sample, name exactly the
//!   model's documents; the inventory counters of every participant are the model's
//!   counts; till checks before sales say sellable;
//! - orders: each exists with its quantity and becomes ready, its codes are EMITTED, the
//!   producer's inventory counts them all, fetched codes are the same after restarts;
//! - blocks: the regulator's list is exactly the model's, lifted as the model says, and a
//!   till check of the pool says `blocked` exactly for the codes an active block covers;
//! - complaints: the regulator's list is exactly the complaints that landed;
//! - sign-ins: tokens issued before the kill still work; a used challenge, and a signed
//!   order, close, block or lift acknowledged before the kill, replayed after it, are
//!   refused.
//!
//! Every `TRACEMARK_TORTURE_AUDIT_EVERY`-th kill (default 50; 0: only at the end) and after
//! the last, `tracemark audit` runs on the killed server's data directory with the last
//! checkpoint the test saw.
//!
//! The server runs with a small memory bound and small memtables
//! (`TRACEMARK_TORTURE_MEMORY_MB`, default 256, and `TRACEMARK_TORTURE_MEMTABLE_MB`, default
//! 4; `0` leaves the server's default): the store flushes and compacts during the run, and
//! is killed doing so, and a start replays a journal of about 64 MiB at most.
//!
//! `TRACEMARK_TORTURE_KILLS` sets K (default 4); `TRACEMARK_TORTURE_MINUTES` a time after
//! which no more kills start (the final checks and audit still run; default none);
//! `TRACEMARK_CRASH_SEED` replays a run's shapes (lot and box sizes, load durations, what
//! each thread does and when), printed at the start; `TRACEMARK_CRASH_KEEP=1` keeps the
//! data directory and the server log (both are kept anyway when the test fails; their
//! path is printed at the start).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use client::{gtin, id_code, sign_request, sscc, Actor, Client};
use ed25519_dalek::Signer;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The admin token the server is started with.
const ADMIN_TOKEN: &str = "torture-test-admin-token-0123456789";
/// Kills when `TRACEMARK_TORTURE_KILLS` is not set: a CI run of well under a minute.
const KILLS_DEFAULT: usize = 4;
/// `tracemark audit` every this many kills when `TRACEMARK_TORTURE_AUDIT_EVERY` is not set.
const AUDIT_EVERY_DEFAULT: usize = 50;
/// Document lines (client threads streaming documents over codes of their own).
const LINES: usize = 3;
/// Codes of each line.
const LINE_CODES: usize = 120;
/// Lot sizes (codes per apply/introduce document and per cycle).
const LOT_CODES: (usize, usize) = (20, 60);
/// Box sizes (units per aggregate document).
const BOX_CODES: (usize, usize) = (6, 20);
/// Units per fiscal receipt.
const RECEIPT_CODES: (usize, usize) = (1, 3);
/// The pool of codes the regulator blocks: its batches, and codes per batch.
const POOL_BATCHES: [&str; 3] = ["TORTURE-A", "TORTURE-B", "TORTURE-C"];
const POOL_PER_BATCH: usize = 8;
/// Most active blocks at once (the regulator lifts one rather than block more).
const ACTIVE_BLOCKS_MAX: usize = 4;
/// Codes per order.
const ORDER_CODES: (u32, u32) = (1, 40);
/// How long the load runs before each kill, ms.
const LOAD_MS: (u64, u64) = (0, 1_500);
/// The server's memory bound (`TRACEMARK_MEMORY_MB`) when `TRACEMARK_TORTURE_MEMORY_MB` is
/// not set: the smallest, whose 64 MiB journal bounds what a start replays (the default
/// bound of a quarter of memory gives it 512 MiB: a debug build's start after many kills
/// then replays for minutes).
const MEMORY_MB_DEFAULT: &str = "256";
/// The store's memtables (`TRACEMARK_MEMTABLE_MB`) when `TRACEMARK_TORTURE_MEMTABLE_MB` is
/// not set: small, so that flushes and compactions run, and are killed, during the run.
const MEMTABLE_MB_DEFAULT: &str = "4";
/// Longest wait for a started server's `/health` (a busy machine starts slowly).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest wait for anything else that must come (an order ready, say).
const WAIT: Duration = Duration::from_secs(60);
/// Most codes per `POST /api/v1/codes/query`.
const QUERY_CODES_MAX: usize = 1_000;
/// Signed changes older than this are not replayed (a replay must be refused for its
/// nonce, not because its `created` is past the registry's 300 s window).
const REPLAY_AGE_MAX: Duration = Duration::from_secs(240);
/// Complaint kinds.
const KINDS: [&str; 6] = [
    "counterfeit",
    "expired",
    "sold_twice",
    "no_marking",
    "price",
    "other",
];

const PRODUCER_TIN: &str = "7702000001";
const WHOLESALER_TIN: &str = "7702000002";
const REGULATOR_TIN: &str = "7702000003";
const POOL_SHOP_TIN: &str = "7702000004";
const SIGNER_TIN: &str = "7702000005";

fn shop_tin(n: usize) -> String {
    format!("77020001{n:02}")
}

/// The lines' units, the pool's and the orders' GTINs (within the producer's prefix).
fn gtin_lines() -> String {
    gtin(460_123_400_001)
}
fn gtin_pool() -> String {
    gtin(460_123_400_002)
}
fn gtin_orders() -> String {
    gtin(460_123_400_003)
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

// ---- the server process ----

/// A running `tracemark serve`; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    /// Kept open so the server's later prints do not hit a closed pipe.
    _stdout: BufReader<ChildStdout>,
    base: String,
}

impl Server {
    /// Starts `bin` on `data` on a port the kernel picks and waits until `/health` answers
    /// 200; returns it and how long the start took.
    fn start(bin: &Path, data: &Path, log: &Path, env: &[(&str, String)]) -> (Server, Duration) {
        let t = Instant::now();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .env("TRACEMARK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning tracemark serve");
        // The address line, read on a thread of its own so that a hung start fails the
        // test within the deadline instead of blocking it.
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send((line, out));
        });
        let log_text = || std::fs::read_to_string(log).unwrap_or_default();
        let Ok((line, stdout)) = rx.recv_timeout(START_TIMEOUT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tracemark serve printed no address within {START_TIMEOUT:?}; log:\n{}",
                log_text()
            );
        };
        let Some(addr) = line
            .trim()
            .rsplit_once(" on http://")
            .map(|(_, a)| a.to_string())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tracemark serve did not start: stdout {line:?}; log:\n{}",
                log_text()
            );
        };
        let server = Server {
            child,
            _stdout: stdout,
            base: format!("http://{addr}"),
        };
        let client = Client::new(&server.base).expect("client");
        loop {
            if let Ok((200, h)) = client.get(None, "/health") {
                if h["role"] == "writer" {
                    return (server, t.elapsed());
                }
            }
            assert!(
                t.elapsed() < START_TIMEOUT,
                "no /health from {} within {START_TIMEOUT:?}; log:\n{}",
                server.base,
                log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL (`Child::kill` on Unix), then reaps the process.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping the server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- HTTP ----

type Http = reqwest::blocking::Client;

fn http() -> Http {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        // Below the server's 10 s idle timeout.
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("http client")
}

fn answer(r: reqwest::blocking::Response) -> reqwest::Result<(u16, Value)> {
    let status = r.status().as_u16();
    let text = r.text()?;
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, v))
}

/// A POST of exact JSON bytes without a signature (sign-in).
fn post_bytes(http: &Http, url: &str, body: Vec<u8>) -> reqwest::Result<(u16, Value)> {
    answer(
        http.post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()?,
    )
}

/// A GET with the admin token (log entries).
fn admin_get(http: &Http, url: &str) -> (u16, Vec<u8>) {
    let r = http
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.bytes().expect("body").to_vec())
}

/// A signed change as sent, kept whole so that it can be replayed byte for byte.
#[derive(Clone, Debug)]
struct SignedReq {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    token: String,
    digest: String,
    input: String,
    signature: String,
    signed_at: Instant,
}

impl SignedReq {
    /// Signs without `@authority`: every restart has another port, and a replay must be
    /// refused for its nonce, not for its address.
    fn new(actor: &Actor, method: &'static str, path: &str, body: Vec<u8>) -> SignedReq {
        let (digest, input, signature) = sign_request(actor, method, path, &body);
        SignedReq {
            method,
            path: path.to_string(),
            body,
            token: actor.token.clone(),
            digest,
            input,
            signature,
            signed_at: Instant::now(),
        }
    }

    /// The nonce (unique to this request: the log's leaf names it).
    fn nonce(&self) -> String {
        self.input
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a nonce in Signature-Input")
            .to_string()
    }

    /// Whether a leaf's signed request is this one.
    fn is(&self, leaf_input: &str) -> bool {
        leaf_input.contains(&format!("nonce=\"{}\"", self.nonce()))
    }

    fn send(&self, http: &Http, base: &str) -> reqwest::Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).expect("method");
        let mut rq = http
            .request(method, format!("{base}{}", self.path))
            .bearer_auth(&self.token)
            .header("content-digest", &self.digest)
            .header("signature-input", &self.input)
            .header("signature", &self.signature);
        if !self.body.is_empty() {
            rq = rq
                .header("content-type", "application/json")
                .body(self.body.clone());
        }
        answer(rq.send()?)
    }
}

// ---- participants ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Who {
    Producer,
    Wholesaler,
    /// A line's shop.
    Shop(usize),
}

fn tin(w: Who) -> String {
    match w {
        Who::Producer => PRODUCER_TIN.into(),
        Who::Wholesaler => WHOLESALER_TIN.into(),
        Who::Shop(n) => shop_tin(n),
    }
}

struct Actors {
    producer: Actor,
    wholesaler: Actor,
    shops: Vec<Actor>,
    regulator: Actor,
    pool_shop: Actor,
    signer: Actor,
}

impl Actors {
    fn get(&self, w: Who) -> &Actor {
        match w {
            Who::Producer => &self.producer,
            Who::Wholesaler => &self.wholesaler,
            Who::Shop(n) => &self.shops[n],
        }
    }
}

// ---- documents and the model of what they do ----

#[derive(Clone, Debug)]
enum Effect {
    Apply(Vec<String>),
    Introduce(Vec<String>),
    Aggregate {
        parent: String,
        children: Vec<String>,
    },
    Ship {
        roots: Vec<String>,
        to: Who,
    },
    Accept {
        roots: Vec<String>,
        by: Who,
        reject: Vec<String>,
    },
    Disaggregate {
        parents: Vec<String>,
    },
    Sell(Vec<String>),
    Return(Vec<String>),
}

/// A document; its exact bytes are re-sent after a crash.
#[derive(Clone, Debug)]
struct Doc {
    id: String,
    by: Who,
    kind: &'static str,
    /// The body before it is first sent (a sale's receipt time and till check are filled
    /// in then).
    template: Value,
    /// The bytes sent; empty until first sent.
    body: Vec<u8>,
    effect: Effect,
    /// A sale preceded by a till check.
    till_check: bool,
}

/// What the test expects of one code.
#[derive(Clone, Debug)]
struct CodeModel {
    status: &'static str,
    owner: Who,
    parent: Option<String>,
    children: Vec<String>,
    in_transit: bool,
    receiver: Option<Who>,
    /// Ids of the documents that changed it, in order.
    history: Vec<String>,
}

impl CodeModel {
    fn new(status: &'static str, owner: Who) -> CodeModel {
        CodeModel {
            status,
            owner,
            parent: None,
            children: Vec::new(),
            in_transit: false,
            receiver: None,
            history: Vec::new(),
        }
    }
}

#[derive(Default)]
struct Model {
    codes: BTreeMap<String, CodeModel>,
}

impl Model {
    fn code(&mut self, c: &str) -> &mut CodeModel {
        self.codes
            .get_mut(c)
            .unwrap_or_else(|| panic!("model: unknown code {c}"))
    }

    /// Roots and everything inside them, each once.
    fn subtree(&self, roots: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack: Vec<String> = roots.iter().rev().cloned().collect();
        while let Some(c) = stack.pop() {
            stack.extend(self.codes[&c].children.iter().rev().cloned());
            out.push(c);
        }
        out
    }

    /// The codes a document changes (each gets an event), without changing them.
    fn touches(&self, effect: &Effect) -> Vec<String> {
        match effect {
            Effect::Apply(c) | Effect::Introduce(c) | Effect::Sell(c) | Effect::Return(c) => {
                c.clone()
            }
            Effect::Aggregate { parent, children } => {
                children.iter().chain([parent]).cloned().collect()
            }
            Effect::Ship { roots, .. } | Effect::Accept { roots, .. } => self.subtree(roots),
            Effect::Disaggregate { parents } => {
                let mut seen = HashSet::new();
                let mut all = Vec::new();
                for p in parents {
                    for k in &self.codes[p].children {
                        if seen.insert(k.clone()) {
                            all.push(k.clone());
                        }
                    }
                    if seen.insert(p.clone()) {
                        all.push(p.clone());
                    }
                }
                all
            }
        }
    }

    /// Applies an accepted document; returns the codes it changed.
    fn apply(&mut self, doc: &Doc) -> Vec<String> {
        let touched = if let Effect::Aggregate { parent, .. } = &doc.effect {
            self.codes
                .entry(parent.clone())
                .or_insert_with(|| CodeModel::new("INTRODUCED", doc.by));
            self.touches(&doc.effect)
        } else {
            self.touches(&doc.effect)
        };
        match &doc.effect {
            Effect::Apply(codes) => codes.iter().for_each(|c| self.code(c).status = "APPLIED"),
            Effect::Introduce(codes) | Effect::Return(codes) => codes
                .iter()
                .for_each(|c| self.code(c).status = "INTRODUCED"),
            Effect::Sell(codes) => codes.iter().for_each(|c| self.code(c).status = "RETIRED"),
            Effect::Aggregate { parent, children } => {
                self.code(parent).children.extend(children.iter().cloned());
                for c in children {
                    self.code(c).parent = Some(parent.clone());
                }
            }
            Effect::Ship { to, .. } => {
                for c in &touched {
                    let m = self.code(c);
                    m.in_transit = true;
                    m.receiver = Some(*to);
                }
            }
            Effect::Accept { by, reject, .. } => {
                let rejected: HashSet<String> = self.subtree(reject).into_iter().collect();
                for c in &touched {
                    let m = self.code(c);
                    m.in_transit = false;
                    m.receiver = None;
                    if !rejected.contains(c) {
                        m.owner = *by;
                    }
                }
            }
            Effect::Disaggregate { parents } => {
                for p in parents {
                    for k in std::mem::take(&mut self.code(p).children) {
                        self.code(&k).parent = None;
                    }
                }
            }
        }
        for c in &touched {
            self.code(c).history.push(doc.id.clone());
        }
        touched
    }
}

/// A document the registry holds, with the answer it gave (or gives on a re-send).
struct Applied {
    doc: Doc,
    answer: Value,
    /// The codes it changed.
    touched: Vec<String>,
    /// Answered 201 (not only found stored after a crash and not yet re-sent).
    acked: bool,
    /// The round it landed in.
    round: usize,
    /// Its leaf was seen in the log.
    logged: bool,
}

#[derive(Default, Debug, Clone, Copy)]
struct LineStats {
    acked: usize,
    in_flight: usize,
    landed: usize,
    not_landed: usize,
    till_checks: usize,
    till_throttled: usize,
}

/// One client thread's stream of documents over its own codes.
struct Line {
    n: usize,
    rng: StdRng,
    lots: Vec<Vec<String>>,
    /// Full codes (with tails) by identification code, for till checks.
    full: HashMap<String, String>,
    queue: VecDeque<Doc>,
    started: bool,
    next_lot: usize,
    sscc_serial: u64,
    receipt_no: u64,
    today: String,
    expiry: String,
    model: Model,
    applied: Vec<Applied>,
    /// The document in flight when the server was killed (sent, no answer).
    in_flight: Option<Doc>,
    /// An in-flight document found stored after a restart (its index in `applied`): re-sent
    /// once the round's checks are done, it must answer as stored.
    landed: Option<usize>,
    stats: LineStats,
}

impl Line {
    fn new(n: usize, codes: &[String], seed: u64) -> Line {
        let mut rng = StdRng::seed_from_u64(seed ^ (n as u64 + 1).wrapping_mul(0x9e37_79b9));
        let ids: Vec<String> = codes.iter().map(|c| id_code(c).to_string()).collect();
        let mut lots = Vec::new();
        let mut rest = &ids[..];
        while !rest.is_empty() {
            let k = rng.gen_range(LOT_CODES.0..=LOT_CODES.1).min(rest.len());
            let (lot, tail) = rest.split_at(k);
            lots.push(lot.to_vec());
            rest = tail;
        }
        let mut model = Model::default();
        for c in &ids {
            model
                .codes
                .insert(c.clone(), CodeModel::new("EMITTED", Who::Producer));
        }
        let day = types::time::day_of(registry::system_clock()());
        Line {
            n,
            rng,
            lots,
            full: codes
                .iter()
                .map(|c| (id_code(c).to_string(), c.clone()))
                .collect(),
            queue: VecDeque::new(),
            started: false,
            next_lot: 0,
            sscc_serial: (n as u64 + 1) * 10_000_000,
            receipt_no: 0,
            today: types::time::format_date(day),
            expiry: types::time::format_date(day + 365),
            model,
            applied: Vec::new(),
            in_flight: None,
            landed: None,
            stats: LineStats::default(),
        }
    }

    fn shop(&self) -> Who {
        Who::Shop(self.n)
    }

    fn push(&mut self, by: Who, kind: &'static str, mut body: Value, effect: Effect) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        body["id"] = json!(id);
        body["type"] = json!(kind);
        self.queue.push_back(Doc {
            id: id.clone(),
            by,
            kind,
            template: body,
            body: Vec::new(),
            effect,
            till_check: false,
        });
        id
    }

    fn new_sscc(&mut self) -> String {
        self.sscc_serial += 1;
        // Within the producer's GS1 company prefix 4601234.
        sscc(7, 4_601_234_000_000_000 + self.sscc_serial)
    }

    fn next_doc(&mut self) -> Doc {
        if self.queue.is_empty() {
            self.refill();
        }
        self.queue.pop_front().expect("refilled")
    }

    fn refill(&mut self) {
        if !self.started {
            self.started = true;
            for lot in self.lots.clone() {
                self.push(
                    Who::Producer,
                    "apply",
                    json!({"codes": lot}),
                    Effect::Apply(lot.clone()),
                );
                let (today, expiry) = (self.today.clone(), self.expiry.clone());
                self.push(
                    Who::Producer,
                    "introduce",
                    json!({"codes": lot, "production_date": today, "expiry_date": expiry,
                        "batch": format!("LINE-{}", self.n)}),
                    Effect::Introduce(lot),
                );
            }
            return;
        }
        let lot = self.lots[self.next_lot % self.lots.len()].clone();
        self.next_lot += 1;
        self.cycle(lot);
    }

    /// One cycle of a lot: into boxes and a pallet, to the wholesaler and unpacked, to the
    /// shop, partly sold and returned, and back to the producer.
    fn cycle(&mut self, lot: Vec<String>) {
        let shop = self.shop();
        let mut boxes = Vec::new();
        let mut rest = &lot[..];
        while !rest.is_empty() {
            let k = self
                .rng
                .gen_range(BOX_CODES.0..=BOX_CODES.1)
                .min(rest.len());
            let (units, tail) = rest.split_at(k);
            let b = self.new_sscc();
            self.push(
                Who::Producer,
                "aggregate",
                json!({"parent": b, "children": units}),
                Effect::Aggregate {
                    parent: b.clone(),
                    children: units.to_vec(),
                },
            );
            boxes.push(b);
            rest = tail;
        }
        let pallet = self.new_sscc();
        self.push(
            Who::Producer,
            "aggregate",
            json!({"parent": pallet, "children": boxes}),
            Effect::Aggregate {
                parent: pallet.clone(),
                children: boxes.clone(),
            },
        );
        let roots = vec![pallet.clone()];
        let out = self.push(
            Who::Producer,
            "ship",
            json!({"receiver": WHOLESALER_TIN, "codes": roots}),
            Effect::Ship {
                roots: roots.clone(),
                to: Who::Wholesaler,
            },
        );
        self.push(
            Who::Wholesaler,
            "accept",
            json!({"shipment": out}),
            Effect::Accept {
                roots,
                by: Who::Wholesaler,
                reject: Vec::new(),
            },
        );
        let mut parents = vec![pallet];
        parents.extend(boxes);
        self.push(
            Who::Wholesaler,
            "disaggregate",
            json!({"parents": parents}),
            Effect::Disaggregate { parents },
        );
        // To the shop, which sometimes turns a few units away: they are shipped again.
        let to_shop = self.push(
            Who::Wholesaler,
            "ship",
            json!({"receiver": tin(shop), "codes": lot}),
            Effect::Ship {
                roots: lot.clone(),
                to: shop,
            },
        );
        let reject: Vec<String> = if self.rng.gen_bool(0.3) {
            let k = self.rng.gen_range(1..=3);
            lot.choose_multiple(&mut self.rng, k).cloned().collect()
        } else {
            Vec::new()
        };
        let mut accept = json!({"shipment": to_shop});
        if !reject.is_empty() {
            accept["reject"] = json!(reject);
        }
        self.push(
            shop,
            "accept",
            accept,
            Effect::Accept {
                roots: lot.clone(),
                by: shop,
                reject: reject.clone(),
            },
        );
        if !reject.is_empty() {
            let again = self.push(
                Who::Wholesaler,
                "ship",
                json!({"receiver": tin(shop), "codes": reject}),
                Effect::Ship {
                    roots: reject.clone(),
                    to: shop,
                },
            );
            self.push(
                shop,
                "accept",
                json!({"shipment": again}),
                Effect::Accept {
                    roots: reject,
                    by: shop,
                    reject: Vec::new(),
                },
            );
        }
        // Sales on receipts of a few units, some after a till check; then every receipt
        // returned, in another order.
        let k = self.rng.gen_range(1..=lot.len() / 2);
        let sold: Vec<String> = lot.choose_multiple(&mut self.rng, k).cloned().collect();
        let mut receipts = Vec::new();
        let mut rest = &sold[..];
        while !rest.is_empty() {
            let k = self
                .rng
                .gen_range(RECEIPT_CODES.0..=RECEIPT_CODES.1)
                .min(rest.len());
            let (units, tail) = rest.split_at(k);
            receipts.push(units.to_vec());
            rest = tail;
        }
        for units in &receipts {
            self.receipt_no += 1;
            let receipt = json!({
                "fiscal_drive": format!("99990789{:08}", self.n),
                "number": self.receipt_no,
                "store": format!("Torture shop {}", self.n),
            });
            self.push(
                shop,
                "sell",
                json!({"codes": units, "receipt": receipt}),
                Effect::Sell(units.clone()),
            );
            let check = self.rng.gen_bool(0.5);
            self.queue.back_mut().expect("pushed").till_check = check;
        }
        receipts.shuffle(&mut self.rng);
        for units in receipts {
            self.push(
                shop,
                "return",
                json!({"codes": units, "reason": "retail"}),
                Effect::Return(units),
            );
        }
        let back = self.push(
            shop,
            "ship",
            json!({"receiver": PRODUCER_TIN, "codes": lot}),
            Effect::Ship {
                roots: lot.clone(),
                to: Who::Producer,
            },
        );
        self.push(
            Who::Producer,
            "accept",
            json!({"shipment": back}),
            Effect::Accept {
                roots: lot,
                by: Who::Producer,
                reject: Vec::new(),
            },
        );
    }

    /// Makes a document's bytes before it is first sent: a sale gets its receipt's time
    /// and, if it asks for one, a till check first (which must say every unit may be sold).
    /// `false` when the server went away during the till check.
    fn prepare(&mut self, doc: &mut Doc, client: &Client, actors: &Actors) -> bool {
        if doc.kind == "sell" {
            let at = types::time::format_timestamp(registry::system_clock()());
            doc.template["receipt"]["at"] = json!(at);
            if doc.till_check {
                let Effect::Sell(units) = &doc.effect else {
                    unreachable!("a sale sells")
                };
                let codes: Vec<&String> = units.iter().map(|u| &self.full[u]).collect();
                match client.post(
                    actors.get(doc.by),
                    "/api/v1/pos/check",
                    &json!({"codes": codes}),
                ) {
                    Err(_) | Ok((503, _)) => return false,
                    Ok((200, v)) => {
                        let results = v["results"].as_array().expect("results");
                        assert_eq!(results.len(), units.len(), "till check: {v}");
                        for r in results {
                            assert_eq!(
                                r["sellable"], true,
                                "line {}: the till check refuses a unit the shop holds: {v}",
                                self.n
                            );
                        }
                        doc.template["check_ids"] = json!([v["request_id"]]);
                        self.stats.till_checks += 1;
                    }
                    // The shop's till checks are rate-limited: sold without one.
                    Ok((429, _)) => self.stats.till_throttled += 1,
                    Ok((s, v)) => panic!("line {}: till check: {s} {v}", self.n),
                }
            }
        }
        doc.body = serde_json::to_vec(&doc.template).expect("json");
        true
    }

    /// Streams documents until a request fails (the server was killed: that document is
    /// in flight) or `stop` is set.
    fn stream(&mut self, client: &Client, actors: &Actors, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let mut doc = match self.in_flight.take() {
                Some(d) => d,
                None => self.next_doc(),
            };
            if doc.body.is_empty() && !self.prepare(&mut doc, client, actors) {
                // Never sent: the first of the queue again.
                self.queue.push_front(doc);
                return;
            }
            match client.post_signed_bytes(
                actors.get(doc.by),
                "/api/v1/documents",
                doc.body.clone(),
            ) {
                Err(_) | Ok((503, _)) => {
                    self.in_flight = Some(doc);
                    self.stats.in_flight += 1;
                    return;
                }
                Ok((201, answer)) => self.answered(doc, answer, usize::MAX),
                Ok((status, v)) => panic!(
                    "line {}: {} document {} refused: {status} {v}",
                    self.n, doc.kind, doc.id
                ),
            }
        }
    }

    /// A 201 to a document sent (or re-sent after it was found not stored).
    fn answered(&mut self, doc: Doc, answer: Value, round: usize) {
        assert_eq!(answer["id"], json!(doc.id), "answer of another document");
        assert_eq!(answer["status"], "accepted");
        let touched = self.model.apply(&doc);
        assert_eq!(
            answer["codes"].as_u64(),
            Some(touched.len() as u64),
            "line {}: {} {} changed another number of codes than expected: {answer}",
            self.n,
            doc.kind,
            doc.id
        );
        self.applied.push(Applied {
            doc,
            answer,
            touched,
            acked: true,
            round,
            logged: false,
        });
        self.stats.acked += 1;
    }

    /// After a restart: whether the in-flight document was stored (read back, and its leaf
    /// in the log, or neither); stored, it is taken into the model. Returns the codes whose
    /// histories are checked closely (they show it, or must not).
    fn resolve_in_flight(
        &mut self,
        client: &Client,
        regulator: &Actor,
        leaves: &NewLeaves,
        round: usize,
    ) -> Vec<String> {
        let Some(doc) = self.in_flight.clone() else {
            return Vec::new();
        };
        let (status, v) = client
            .get(Some(regulator), &format!("/api/v1/documents/{}", doc.id))
            .expect("GET document");
        let in_log = leaves.docs.iter().any(|(id, _, _)| *id == doc.id);
        match status {
            200 => {
                assert!(
                    in_log,
                    "line {}: in-flight {} {} is stored but has no leaf in the log's new entries",
                    self.n, doc.kind, doc.id
                );
                let touched = self.model.apply(&doc);
                let answer = json!({"id": v["id"], "status": "accepted", "codes": v["codes"], "seq": v["seq"]});
                assert_eq!(
                    answer["codes"].as_u64(),
                    Some(touched.len() as u64),
                    "in-flight {} {} stored with another number of codes: {v}",
                    doc.kind,
                    doc.id
                );
                self.applied.push(Applied {
                    doc,
                    answer,
                    touched: touched.clone(),
                    acked: false,
                    round,
                    logged: false,
                });
                self.landed = Some(self.applied.len() - 1);
                self.in_flight = None;
                self.stats.landed += 1;
                touched
            }
            404 => {
                assert!(
                    !in_log,
                    "line {}: in-flight {} {} is in the log but cannot be read",
                    self.n, doc.kind, doc.id
                );
                self.stats.not_landed += 1;
                // Not stored: none of its codes may show it (checked against the model).
                if let Effect::Aggregate { parent, children } = &doc.effect {
                    if !self.model.codes.contains_key(parent) {
                        // A new box: it must not exist at all.
                        let (s, v) = client
                            .get(Some(regulator), &format!("/api/v1/codes/{parent}"))
                            .expect("GET code");
                        assert_eq!(s, 404, "box {parent} of an unstored aggregate exists: {v}");
                        return children.clone();
                    }
                }
                self.model.touches(&doc.effect)
            }
            s => panic!("in-flight document {}: {s} {v}", doc.id),
        }
    }

    /// Re-sends the in-flight document found stored: it must answer as stored, and add
    /// nothing.
    fn resend_landed(&mut self, client: &Client, actors: &Actors) {
        let Some(i) = self.landed.take() else { return };
        let a = &mut self.applied[i];
        let (s, v) = client
            .post_signed_bytes(
                actors.get(a.doc.by),
                "/api/v1/documents",
                a.doc.body.clone(),
            )
            .expect("re-send");
        assert_eq!(
            (s, &v),
            (201, &a.answer),
            "line {}: in-flight {} {} re-sent after a restart: answer differs from the stored one",
            self.n,
            a.doc.kind,
            a.doc.id
        );
        a.acked = true;
    }
}

// ---- code orders ----

struct OrderModel {
    id: String,
    quantity: u32,
    /// Acknowledged (202), not only found in the log after a crash.
    acked: bool,
    logged: bool,
    /// Codes emitted, by the log's emission leaves.
    emitted: u64,
    /// Identification codes, once fetched.
    codes: Vec<String>,
    closed: bool,
    close_logged: bool,
    /// The last round it changed in.
    round: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderPhase {
    Wait,
    Fetch,
    Close,
}

enum OrderInFlight {
    Create(SignedReq, u32),
    Close(usize, SignedReq),
}

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    acked: usize,
    landed: usize,
    not_landed: usize,
}

struct Orders {
    rng: StdRng,
    orders: Vec<OrderModel>,
    current: Option<(usize, OrderPhase)>,
    in_flight: Option<OrderInFlight>,
    /// The last order and close acknowledged, to replay after the next kill.
    replay: Vec<(&'static str, SignedReq)>,
    created: Tally,
    closes: Tally,
}

impl Orders {
    fn run(&mut self, http: &Http, client: &Client, producer: &Actor, stop: &AtomicBool) {
        let base = client.base.clone();
        while !stop.load(Ordering::Relaxed) {
            match self.current {
                None => {
                    std::thread::sleep(Duration::from_millis(self.rng.gen_range(0..40)));
                    let q = self.rng.gen_range(ORDER_CODES.0..=ORDER_CODES.1);
                    let tail = *["mac", "signature"].choose(&mut self.rng).expect("tail");
                    let body = json!({"gtin": gtin_orders(), "quantity": q,
                        "serial_type": "operator", "tail": tail});
                    let req = SignedReq::new(
                        producer,
                        "POST",
                        "/api/v1/orders",
                        serde_json::to_vec(&body).expect("json"),
                    );
                    match req.send(http, &base) {
                        Err(_) | Ok((503, _)) => {
                            self.in_flight = Some(OrderInFlight::Create(req, q));
                            return;
                        }
                        Ok((202, v)) => {
                            self.orders.push(OrderModel {
                                id: v["order_id"].as_str().expect("order_id").to_string(),
                                quantity: q,
                                acked: true,
                                logged: false,
                                emitted: 0,
                                codes: Vec::new(),
                                closed: false,
                                close_logged: false,
                                round: usize::MAX,
                            });
                            self.created.acked += 1;
                            self.current = Some((self.orders.len() - 1, OrderPhase::Wait));
                            keep_replay(&mut self.replay, "order", req);
                        }
                        Ok((s, v)) => panic!("order refused: {s} {v}"),
                    }
                }
                Some((i, OrderPhase::Wait)) => {
                    let id = self.orders[i].id.clone();
                    let Ok((s, v)) = client.get(Some(producer), &format!("/api/v1/orders/{id}"))
                    else {
                        return;
                    };
                    match (s, v["status"].as_str()) {
                        (200, Some("ready")) => self.current = Some((i, OrderPhase::Fetch)),
                        (200, Some("pending")) => std::thread::sleep(Duration::from_millis(5)),
                        (503, _) => return,
                        _ => panic!("order {id}: {s} {v}"),
                    }
                }
                Some((i, OrderPhase::Fetch)) => {
                    let o = &mut self.orders[i];
                    let Ok((s, v)) = client.get_signed(
                        producer,
                        &format!("/api/v1/orders/{}/codes?offset=0&limit=10000", o.id),
                    ) else {
                        return;
                    };
                    if s == 503 {
                        return;
                    }
                    assert_eq!(s, 200, "order {} codes: {v}", o.id);
                    let codes: Vec<String> = v["codes"]
                        .as_array()
                        .expect("codes")
                        .iter()
                        .map(|c| id_code(c.as_str().expect("code")).to_string())
                        .collect();
                    assert_eq!(codes.len(), o.quantity as usize, "order {}: {v}", o.id);
                    assert_eq!(
                        codes.iter().collect::<HashSet<_>>().len(),
                        codes.len(),
                        "order {}: a code twice",
                        o.id
                    );
                    if !o.codes.is_empty() {
                        assert_eq!(
                            codes, o.codes,
                            "order {}: other codes on a fetch again",
                            o.id
                        );
                    }
                    o.codes = codes;
                    self.current = Some((i, OrderPhase::Close));
                }
                Some((i, OrderPhase::Close)) => {
                    let path = format!("/api/v1/orders/{}/close", self.orders[i].id);
                    let req = SignedReq::new(producer, "POST", &path, Vec::new());
                    match req.send(http, &base) {
                        Err(_) | Ok((503, _)) => {
                            self.in_flight = Some(OrderInFlight::Close(i, req));
                            return;
                        }
                        Ok((200, v)) => {
                            assert_eq!(v["status"], "closed", "{v}");
                            self.orders[i].closed = true;
                            self.orders[i].round = usize::MAX;
                            self.closes.acked += 1;
                            self.current = None;
                            keep_replay(&mut self.replay, "order close", req);
                        }
                        Ok((s, v)) => panic!("closing order {}: {s} {v}", self.orders[i].id),
                    }
                }
            }
        }
    }

    /// After a restart: an order in flight landed if the log has its leaf; a close in
    /// flight landed if the order reads closed.
    fn resolve(&mut self, client: &Client, producer: &Actor, leaves: &NewLeaves, round: usize) {
        match self.in_flight.take() {
            None => {}
            Some(OrderInFlight::Create(req, q)) => {
                let found = leaves.orders.iter().find(|(_, _, input)| req.is(input));
                match found {
                    Some((id, quantity, _)) => {
                        assert_eq!(*quantity, q, "order {id} stored with another quantity");
                        keep_replay(&mut self.replay, "order", req.clone());
                        self.orders.push(OrderModel {
                            id: id.clone(),
                            quantity: q,
                            acked: false,
                            logged: false,
                            emitted: 0,
                            codes: Vec::new(),
                            closed: false,
                            close_logged: false,
                            round,
                        });
                        self.current = Some((self.orders.len() - 1, OrderPhase::Wait));
                        self.created.landed += 1;
                    }
                    None => {
                        self.current = None;
                        self.created.not_landed += 1;
                    }
                }
            }
            Some(OrderInFlight::Close(i, req)) => {
                let o = &mut self.orders[i];
                let (s, v) = client
                    .get(Some(producer), &format!("/api/v1/orders/{}", o.id))
                    .expect("GET order");
                assert_eq!(s, 200, "order {}: {v}", o.id);
                let in_log = leaves.closes.contains(&o.id);
                match v["status"].as_str() {
                    Some("closed") => {
                        assert!(in_log, "order {} closed without a leaf in the log", o.id);
                        o.closed = true;
                        o.round = round;
                        self.current = None;
                        self.closes.landed += 1;
                        // Accepted before the kill: a replay must be refused.
                        keep_replay(&mut self.replay, "order close", req);
                    }
                    Some("ready") => {
                        assert!(!in_log, "order {} has a close leaf but is not closed", o.id);
                        self.current = Some((i, OrderPhase::Close));
                        self.closes.not_landed += 1;
                    }
                    _ => panic!("order {} after its close was cut off: {v}", o.id),
                }
            }
        }
    }
}

// ---- the regulator's blocks ----

#[derive(Clone, Debug)]
enum Target {
    /// Pool codes by index.
    Codes(Vec<usize>),
    /// A batch of the pool (index into [`POOL_BATCHES`]).
    Batch(usize),
    /// The pool's whole GTIN.
    Gtin,
}

struct BlockModel {
    id: u64,
    reason: String,
    target: Target,
    acked: bool,
    logged: bool,
    lifted: bool,
    lift_logged: bool,
    round: usize,
}

enum BlockInFlight {
    Create(SignedReq, String, Target),
    Lift(usize, SignedReq),
}

/// A code of the pool: identification code, full code, batch index.
struct PoolCode {
    id: String,
    full: String,
    batch: usize,
}

struct Regulator {
    rng: StdRng,
    blocks: Vec<BlockModel>,
    in_flight: Option<BlockInFlight>,
    replay: Vec<(&'static str, SignedReq)>,
    created: Tally,
    lifts: Tally,
}

impl Regulator {
    fn active(&self) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&i| !self.blocks[i].lifted)
            .collect()
    }

    /// Whether an active block covers pool code `i`.
    fn blocked(&self, pool: &[PoolCode], i: usize) -> bool {
        self.blocks
            .iter()
            .filter(|b| !b.lifted)
            .any(|b| match &b.target {
                Target::Codes(c) => c.contains(&i),
                Target::Batch(k) => pool[i].batch == *k,
                Target::Gtin => true,
            })
    }

    fn run(
        &mut self,
        http: &Http,
        base: &str,
        regulator: &Actor,
        pool: &[PoolCode],
        stop: &AtomicBool,
    ) {
        loop {
            std::thread::sleep(Duration::from_millis(self.rng.gen_range(10..100)));
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let active = self.active();
            if active.is_empty() || (active.len() < ACTIVE_BLOCKS_MAX && self.rng.gen_bool(0.55)) {
                let reason = format!("torture recall {}", uuid::Uuid::new_v4());
                let roll: f64 = self.rng.gen();
                let (target, body) = if roll < 0.5 {
                    let k = self.rng.gen_range(1..=5);
                    let idx: Vec<usize> =
                        rand::seq::index::sample(&mut self.rng, pool.len(), k).into_vec();
                    let codes: Vec<&str> = idx.iter().map(|&i| pool[i].id.as_str()).collect();
                    (
                        Target::Codes(idx.clone()),
                        json!({"codes": codes, "reason": reason}),
                    )
                } else if roll < 0.85 {
                    let b = self.rng.gen_range(0..POOL_BATCHES.len());
                    (
                        Target::Batch(b),
                        json!({"gtin": gtin_pool(), "batch": POOL_BATCHES[b], "reason": reason}),
                    )
                } else {
                    (Target::Gtin, json!({"gtin": gtin_pool(), "reason": reason}))
                };
                let req = SignedReq::new(
                    regulator,
                    "POST",
                    "/api/v1/blocks",
                    serde_json::to_vec(&body).expect("json"),
                );
                match req.send(http, base) {
                    Err(_) | Ok((503, _)) => {
                        self.in_flight = Some(BlockInFlight::Create(req, reason, target));
                        return;
                    }
                    Ok((201, v)) => {
                        assert_eq!(v["reason"], json!(reason), "{v}");
                        self.blocks.push(BlockModel {
                            id: v["id"].as_u64().expect("block id"),
                            reason,
                            target,
                            acked: true,
                            logged: false,
                            lifted: false,
                            lift_logged: false,
                            round: usize::MAX,
                        });
                        self.created.acked += 1;
                        keep_replay(&mut self.replay, "block", req);
                    }
                    Ok((s, v)) => panic!("block refused: {s} {v}"),
                }
            } else {
                let i = *active.choose(&mut self.rng).expect("an active block");
                let path = format!("/api/v1/blocks/{}", self.blocks[i].id);
                let req = SignedReq::new(regulator, "DELETE", &path, Vec::new());
                match req.send(http, base) {
                    Err(_) | Ok((503, _)) => {
                        self.in_flight = Some(BlockInFlight::Lift(i, req));
                        return;
                    }
                    Ok((200, v)) => {
                        assert!(v["lifted_at"].is_u64(), "lift answered: {v}");
                        self.blocks[i].lifted = true;
                        self.blocks[i].round = usize::MAX;
                        self.lifts.acked += 1;
                        keep_replay(&mut self.replay, "lift", req);
                    }
                    Ok((s, v)) => panic!("lift of block {} refused: {s} {v}", self.blocks[i].id),
                }
            }
        }
    }

    /// After a restart: a block in flight landed if the log has its leaf; a lift in flight
    /// landed if the list says the block is lifted.
    fn resolve(&mut self, client: &Client, regulator: &Actor, leaves: &NewLeaves, round: usize) {
        match self.in_flight.take() {
            None => {}
            Some(BlockInFlight::Create(req, reason, target)) => {
                match leaves.blocks.iter().find(|(_, input)| req.is(input)) {
                    Some((id, _)) => {
                        keep_replay(&mut self.replay, "block", req);
                        self.blocks.push(BlockModel {
                            id: *id,
                            reason,
                            target,
                            acked: false,
                            logged: false,
                            lifted: false,
                            lift_logged: false,
                            round,
                        });
                        self.created.landed += 1;
                    }
                    None => self.created.not_landed += 1,
                }
            }
            Some(BlockInFlight::Lift(i, req)) => {
                let b = &mut self.blocks[i];
                let listed = list_blocks(client, regulator);
                let lifted = listed
                    .get(&b.id)
                    .unwrap_or_else(|| panic!("block {} is not listed", b.id))
                    .1;
                let in_log = leaves.lifts.contains(&b.id);
                assert_eq!(
                    lifted, in_log,
                    "block {}: lifted {lifted} after its lift was cut off, its lift leaf in the log {in_log}",
                    b.id
                );
                if lifted {
                    b.lifted = true;
                    b.round = round;
                    self.lifts.landed += 1;
                    keep_replay(&mut self.replay, "lift", req);
                } else {
                    self.lifts.not_landed += 1;
                }
            }
        }
    }
}

fn keep_replay(list: &mut Vec<(&'static str, SignedReq)>, what: &'static str, req: SignedReq) {
    list.retain(|(w, _)| *w != what);
    list.push((what, req));
}

/// The regulator's list of blocks: id → (reason, lifted).
fn list_blocks(client: &Client, regulator: &Actor) -> HashMap<u64, (String, bool)> {
    let (s, v) = client
        .get(Some(regulator), "/api/v1/blocks")
        .expect("GET blocks");
    assert_eq!(s, 200, "blocks: {v}");
    v["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .map(|b| {
            (
                b["id"].as_u64().expect("id"),
                (
                    b["reason"].as_str().expect("reason").to_string(),
                    b.get("lifted_at").is_some_and(|t| !t.is_null()),
                ),
            )
        })
        .collect()
}

// ---- complaints ----

struct ComplaintModel {
    id: String,
    text: String,
    acked: bool,
    logged: bool,
}

struct Complaints {
    rng: StdRng,
    /// The next loopback address to complain from (each complaint from its own: the
    /// per-address limits are not what is tested here).
    next_addr: u32,
    list: Vec<ComplaintModel>,
    in_flight: Option<String>,
    tally: Tally,
    rate_limited: usize,
}

impl Complaints {
    fn address(&mut self) -> std::net::IpAddr {
        self.next_addr += 1;
        let n = self.next_addr;
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            127,
            1 + (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ))
    }

    fn run(&mut self, base: &str, codes: &[String], stop: &AtomicBool) {
        loop {
            std::thread::sleep(Duration::from_millis(self.rng.gen_range(20..150)));
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let text = format!("torture complaint {}", uuid::Uuid::new_v4());
            let mut body =
                json!({"kind": KINDS.choose(&mut self.rng).expect("kind"), "text": text});
            if self.rng.gen_bool(0.5) {
                body["code"] = json!(codes.choose(&mut self.rng).expect("code"));
            }
            let client = Client::from_address(base, self.address()).expect("client");
            match client.post_public("/api/v1/complaints", &body) {
                Err(_) | Ok((503, _)) => {
                    self.in_flight = Some(text);
                    return;
                }
                Ok((201, v)) => {
                    self.list.push(ComplaintModel {
                        id: v["id"].as_str().expect("complaint id").to_string(),
                        text,
                        acked: true,
                        logged: false,
                    });
                    self.tally.acked += 1;
                }
                // Everyone's complaints together are limited too.
                Ok((429, _)) => self.rate_limited += 1,
                Ok((s, v)) => panic!("complaint refused: {s} {v}"),
            }
        }
    }

    /// After a restart: a complaint in flight landed if the log has its leaf.
    fn resolve(&mut self, leaves: &NewLeaves) {
        let Some(text) = self.in_flight.take() else {
            return;
        };
        match leaves.complaints.iter().find(|(_, t)| *t == text) {
            Some((id, _)) => {
                self.list.push(ComplaintModel {
                    id: id.clone(),
                    text,
                    acked: false,
                    logged: false,
                });
                self.tally.landed += 1;
            }
            None => self.tally.not_landed += 1,
        }
    }
}

// ---- sign-ins ----

struct Signins {
    rng: StdRng,
    /// Tokens issued.
    tokens: Vec<String>,
    /// The last answer to a challenge that gave a token (a replay must be refused).
    last_used: Option<Vec<u8>>,
    in_flight: Option<Vec<u8>>,
    tally: Tally,
}

impl Signins {
    fn run(&mut self, http: &Http, base: &str, signer: &Actor, stop: &AtomicBool) {
        let client = Client::new(base).expect("client");
        loop {
            std::thread::sleep(Duration::from_millis(self.rng.gen_range(10..80)));
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Ok((s, ch)) = client.get(None, &format!("/api/v1/auth/challenge?tin={SIGNER_TIN}"))
            else {
                return;
            };
            if s == 503 {
                return;
            }
            assert_eq!(s, 200, "challenge: {ch}");
            let data = ch["data"].as_str().expect("data");
            let body = serde_json::to_vec(&json!({
                "challenge_id": ch["challenge_id"],
                "signature": B64.encode(signer.key.sign(data.as_bytes()).to_bytes()),
            }))
            .expect("json");
            match post_bytes(http, &format!("{base}/api/v1/auth/token"), body.clone()) {
                Err(_) | Ok((503, _)) => {
                    self.in_flight = Some(body);
                    return;
                }
                Ok((200, t)) => {
                    let token = t["token"].as_str().expect("token").to_string();
                    self.tokens.push(token.clone());
                    self.last_used = Some(body);
                    self.tally.acked += 1;
                    let token_actor = Actor {
                        tin: SIGNER_TIN.into(),
                        key: signer.key.clone(),
                        token,
                    };
                    let Ok((s, me)) = client.get(Some(&token_actor), "/api/v1/auth/me") else {
                        return;
                    };
                    if s == 503 {
                        return;
                    }
                    assert_eq!((s, &me["tin"]), (200, &json!(SIGNER_TIN)), "me: {me}");
                }
                Ok((s, v)) => panic!("sign-in refused: {s} {v}"),
            }
        }
    }

    /// After a restart: the same answer to the challenge again; refused as used, the
    /// sign-in in flight landed; a token, it had not (and now has).
    fn resolve(&mut self, http: &Http, base: &str) {
        let Some(body) = self.in_flight.take() else {
            return;
        };
        let (s, v) = post_bytes(http, &format!("{base}/api/v1/auth/token"), body.clone())
            .expect("sign-in again");
        match s {
            401 => {
                assert!(
                    v["detail"].as_str().is_some_and(|d| d.contains("used")),
                    "the sign-in in flight, sent again: {v}"
                );
                self.tally.landed += 1;
            }
            200 => {
                self.tokens
                    .push(v["token"].as_str().expect("token").to_string());
                self.last_used = Some(body);
                self.tally.not_landed += 1;
            }
            _ => panic!("the sign-in in flight, sent again: {s} {v}"),
        }
    }
}

// ---- the log ----

/// The log's leaves from one index to another, by kind, as the model needs them.
#[derive(Default)]
struct NewLeaves {
    from: u64,
    to: u64,
    /// Documents: id, sequence number, chain.
    docs: Vec<(String, u64, String)>,
    /// Orders: id, quantity, signature input.
    orders: Vec<(String, u32, String)>,
    /// Emissions: order id, codes.
    emissions: Vec<(String, u64)>,
    /// Orders closed.
    closes: Vec<String>,
    /// Blocks: id, signature input.
    blocks: Vec<(u64, String)>,
    /// Blocks lifted.
    lifts: Vec<u64>,
    /// Complaints: id, text.
    complaints: Vec<(String, String)>,
}

/// What the test keeps of the log between rounds.
struct LogState {
    /// The last checkpoint seen: its note and what it says.
    note: String,
    checkpoint: tlog::Checkpoint,
    /// The log key: its name and public key.
    key: (String, ed25519_dalek::VerifyingKey),
    /// Documents in the log, and the last one's chain.
    docs: u64,
    chain_head: Option<String>,
}

impl LogState {
    fn first(http: &Http, base: &str) -> LogState {
        let (s, b) = admin_get(http, &format!("{base}/.well-known/tracemark-keys"));
        assert_eq!(s, 200);
        let keys: Value = serde_json::from_slice(&b).expect("keys");
        let k = keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["use"] == "log")
            .expect("a log key")
            .clone();
        let pk: [u8; 32] = B64
            .decode(k["public_key"].as_str().expect("b64"))
            .expect("b64")
            .try_into()
            .expect("32 bytes");
        let key = (
            k["kid"].as_str().expect("kid").to_string(),
            ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("key"),
        );
        let (note, checkpoint) = signed_checkpoint(http, base, &key);
        let (docs, chain_head) = health_docs(http, base);
        LogState {
            note,
            checkpoint,
            key,
            docs,
            chain_head,
        }
    }
}

/// The current checkpoint, its signature checked with the log key.
fn signed_checkpoint(
    http: &Http,
    base: &str,
    key: &(String, ed25519_dalek::VerifyingKey),
) -> (String, tlog::Checkpoint) {
    let (s, b) = admin_get(http, &format!("{base}/api/v1/log/checkpoint"));
    assert_eq!(s, 200, "checkpoint");
    let note = String::from_utf8(b).expect("utf8");
    let cp = tlog::verify_note(&note, &key.0, &key.1).expect("the checkpoint verifies");
    (note, cp)
}

/// `/health`'s document count and chain head (waiting for a 200: on a busy machine its
/// probe may be late).
fn health_docs(http: &Http, base: &str) -> (u64, Option<String>) {
    let t = Instant::now();
    loop {
        let (s, b) = admin_get(http, &format!("{base}/health"));
        let h: Value = serde_json::from_slice(&b).expect("health");
        if s == 200 {
            return (
                h["documents"].as_u64().expect("documents"),
                h["chain_head"].as_str().map(str::to_string),
            );
        }
        assert!(t.elapsed() < WAIT, "/health: {s} {h}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The new checkpoint (which must extend the last one: a consistency proof) and the leaves
/// since the last one, decoded.
fn read_new_leaves(http: &Http, base: &str, log: &mut LogState) -> NewLeaves {
    let (note, cp) = signed_checkpoint(http, base, &log.key);
    let from = log.checkpoint.size;
    assert!(
        cp.size >= from,
        "the log shrank: {from} leaves before, {} now",
        cp.size
    );
    if cp.size == from {
        assert_eq!(cp.root, log.checkpoint.root, "the same size, another root");
    } else {
        let (s, b) = admin_get(
            http,
            &format!(
                "{base}/api/v1/log/proof/consistency?from={from}&to={}",
                cp.size
            ),
        );
        assert_eq!(s, 200, "consistency proof");
        let p: Value = serde_json::from_slice(&b).expect("proof");
        let hashes: Vec<tlog::Hash> = p["hashes"]
            .as_array()
            .expect("hashes")
            .iter()
            .map(|h| {
                B64.decode(h.as_str().expect("b64"))
                    .expect("b64")
                    .try_into()
                    .expect("32 bytes")
            })
            .collect();
        tlog::verify_consistency(from, cp.size, &hashes, &log.checkpoint.root, &cp.root)
            .unwrap_or_else(|e| {
                panic!(
                    "the log of {} leaves does not extend the one of {from} seen before: {e}",
                    cp.size
                )
            });
    }
    // Leaves read by a few threads.
    let indexes: Vec<u64> = (from..cp.size).collect();
    let chunks: Vec<&[u64]> = indexes.chunks(indexes.len().div_ceil(4).max(1)).collect();
    let raw: Vec<(u64, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&i| {
                            let (st, b) =
                                admin_get(http, &format!("{base}/api/v1/log/entries/{i}"));
                            assert_eq!(st, 200, "log entry {i}: {}", String::from_utf8_lossy(&b));
                            (i, b)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("leaves"))
            .collect()
    });
    let mut out = NewLeaves {
        from,
        to: cp.size,
        ..NewLeaves::default()
    };
    let s = |v: &Value| v.as_str().map(str::to_string).expect("a string");
    for (i, bytes) in raw {
        let leaf =
            types::log::decode(&bytes).unwrap_or_else(|| panic!("log entry {i} does not decode"));
        let p = &leaf.payload;
        let input = || s(&p["request"]["signature_input"]);
        match leaf.kind.name() {
            "document" => {
                out.docs
                    .push((s(&p["id"]), p["seq"].as_u64().expect("seq"), s(&p["chain"])))
            }
            "order" => out.orders.push((
                s(&p["order_id"]),
                p["quantity"].as_u64().expect("quantity") as u32,
                input(),
            )),
            "emission" => out
                .emissions
                .push((s(&p["order_id"]), p["count"].as_u64().expect("count"))),
            "order_close" => out.closes.push(s(&p["order_id"])),
            "block" => out
                .blocks
                .push((p["block_id"].as_u64().expect("block_id"), input())),
            "lift" => out.lifts.push(p["block_id"].as_u64().expect("block_id")),
            "complaint" => out.complaints.push((s(&p["id"]), s(&p["text"]))),
            other => panic!("log entry {i}: a {other} leaf nobody asked for: {p}"),
        }
    }
    log.note = note;
    log.checkpoint = cp;
    out
}

// ---- the world: everything the load did, and the checks ----

struct World {
    lines: Vec<Line>,
    orders: Orders,
    regulator: Regulator,
    complaints: Complaints,
    signins: Signins,
    pool: Vec<PoolCode>,
    /// Codes complaints name.
    complaint_codes: Vec<String>,
    log: LogState,
}

/// Round figures for the summary.
#[derive(Default)]
struct Figures {
    restarts: Vec<Duration>,
    checks: Vec<Duration>,
    audits: Vec<Duration>,
    replays_refused: usize,
}

impl World {
    /// Every new leaf is a change the model says landed, and every change that landed has
    /// its leaf: documents numbered on without a gap.
    fn account(&mut self, leaves: &NewLeaves) {
        // Documents.
        let mut unlogged: HashMap<String, (usize, usize)> = HashMap::new();
        for (n, l) in self.lines.iter().enumerate() {
            for (i, a) in l.applied.iter().enumerate().filter(|(_, a)| !a.logged) {
                unlogged.insert(a.doc.id.clone(), (n, i));
            }
        }
        for (id, seq, chain) in &leaves.docs {
            let (n, i) = unlogged
                .remove(id)
                .unwrap_or_else(|| panic!("document {id} in the log is no document that landed"));
            let a = &mut self.lines[n].applied[i];
            assert_eq!(
                a.answer["seq"].as_u64(),
                Some(*seq),
                "{} {id}: answered {}, logged as {seq}",
                a.doc.kind,
                a.answer
            );
            assert_eq!(
                *seq,
                self.log.docs + 1,
                "the log's documents have a gap: {} then {seq}",
                self.log.docs
            );
            a.logged = true;
            self.log.docs = *seq;
            self.log.chain_head = Some(chain.clone());
        }
        if let Some((id, (n, i))) = unlogged.iter().next() {
            let a = &self.lines[*n].applied[*i];
            panic!(
                "line {n}: {} {id} (acknowledged: {}) has no leaf in the log (leaves {}..{})",
                a.doc.kind, a.acked, leaves.from, leaves.to
            );
        }
        // Orders, their emissions and closes.
        let by_id: HashMap<String, usize> = self
            .orders
            .orders
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.clone(), i))
            .collect();
        let order = |id: &str| -> usize {
            *by_id
                .get(id)
                .unwrap_or_else(|| panic!("order {id} in the log is no order that landed"))
        };
        for (id, q, _) in &leaves.orders {
            let o = &mut self.orders.orders[order(id)];
            assert!(!o.logged, "order {id} logged twice");
            assert_eq!(o.quantity, *q, "order {id}");
            o.logged = true;
        }
        for (id, n) in &leaves.emissions {
            let o = &mut self.orders.orders[order(id)];
            assert!(
                o.logged,
                "codes of order {id} emitted before its order leaf"
            );
            o.emitted += n;
            assert!(
                o.emitted <= u64::from(o.quantity),
                "order {id}: {} codes emitted for {} ordered",
                o.emitted,
                o.quantity
            );
        }
        for id in &leaves.closes {
            let o = &mut self.orders.orders[order(id)];
            assert!(
                o.closed && !o.close_logged,
                "order {id}: a close leaf, closed in the model {}, logged before {}",
                o.closed,
                o.close_logged
            );
            o.close_logged = true;
        }
        for o in &self.orders.orders {
            assert!(
                o.logged,
                "order {} (acknowledged: {}) has no leaf",
                o.id, o.acked
            );
            assert!(
                !o.closed || o.close_logged,
                "the close of order {} has no leaf",
                o.id
            );
        }
        // Blocks and lifts.
        let by_id: HashMap<u64, usize> = self
            .regulator
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id, i))
            .collect();
        let block = |id: u64| -> usize {
            *by_id
                .get(&id)
                .unwrap_or_else(|| panic!("block {id} in the log is no block that landed"))
        };
        for (id, _) in &leaves.blocks {
            let b = &mut self.regulator.blocks[block(*id)];
            assert!(!b.logged, "block {id} logged twice");
            b.logged = true;
        }
        for id in &leaves.lifts {
            let b = &mut self.regulator.blocks[block(*id)];
            assert!(
                b.lifted && !b.lift_logged,
                "block {id}: a lift leaf, lifted in the model {}, logged before {}",
                b.lifted,
                b.lift_logged
            );
            b.lift_logged = true;
        }
        for b in &self.regulator.blocks {
            assert!(
                b.logged,
                "block {} (acknowledged: {}) has no leaf",
                b.id, b.acked
            );
            assert!(
                !b.lifted || b.lift_logged,
                "the lift of block {} has no leaf",
                b.id
            );
        }
        // Complaints.
        let mut unlogged: HashMap<&str, usize> = self
            .complaints
            .list
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.logged)
            .map(|(i, c)| (c.text.as_str(), i))
            .collect();
        let mut found = Vec::new();
        for (id, text) in &leaves.complaints {
            let i = unlogged.remove(text.as_str()).unwrap_or_else(|| {
                panic!("complaint {id} ({text:?}) in the log is no complaint that landed")
            });
            assert_eq!(&self.complaints.list[i].id, id, "complaint {text:?}");
            found.push(i);
        }
        if let Some((text, i)) = unlogged.iter().next() {
            panic!(
                "complaint {} ({text:?}, acknowledged: {}) has no leaf",
                self.complaints.list[*i].id, self.complaints.list[*i].acked
            );
        }
        for i in found {
            self.complaints.list[i].logged = true;
        }
    }

    /// Documents: `/health` counts them all and names the last one's chain; each one landed
    /// this round, and a sample of older ones, reads back with its answer (all of them when
    /// `all`).
    fn check_documents(
        &self,
        client: &Client,
        http: &Http,
        regulator: &Actor,
        round: usize,
        all: bool,
        rng: &mut StdRng,
    ) {
        let (docs, head) = health_docs(http, &client.base);
        assert_eq!(
            docs, self.log.docs,
            "/health counts another number of documents than the log"
        );
        assert_eq!(
            head, self.log.chain_head,
            "/health's chain head is not the last document's"
        );
        std::thread::scope(|s| {
            for l in &self.lines {
                let mut pick: Vec<&Applied> = if all {
                    l.applied.iter().collect()
                } else {
                    let mut p: Vec<&Applied> =
                        l.applied.iter().filter(|a| a.round == round).collect();
                    let older: Vec<&Applied> =
                        l.applied.iter().filter(|a| a.round != round).collect();
                    p.extend(older.choose_multiple(rng, 5));
                    p
                };
                pick.dedup_by_key(|a| a.doc.id.clone());
                let base = client.base.clone();
                s.spawn(move || {
                    let client = Client::new(&base).expect("client");
                    for a in pick {
                        let (s, v) = client
                            .get(Some(regulator), &format!("/api/v1/documents/{}", a.doc.id))
                            .expect("GET document");
                        assert_eq!(
                            s, 200,
                            "line {}: {} {} (acknowledged: {}) is gone after a restart: {v}",
                            l.n, a.doc.kind, a.doc.id, a.acked
                        );
                        assert_eq!(
                            v["seq"], a.answer["seq"],
                            "{} {} moved",
                            a.doc.kind, a.doc.id
                        );
                        assert_eq!(v["codes"], a.answer["codes"]);
                        assert_eq!(v["type"], a.doc.kind);
                    }
                });
            }
        });
    }

    /// Every line's code as the model says (status, owner, transit, parent, children).
    fn check_states(&self, client: &Client, regulator: &Actor) {
        for line in &self.lines {
            let codes: Vec<&String> = line.model.codes.keys().collect();
            for chunk in codes.chunks(QUERY_CODES_MAX) {
                let (s, v) = client
                    .post(regulator, "/api/v1/codes/query", &json!({"codes": chunk}))
                    .expect("query codes");
                assert_eq!(s, 200, "query: {v}");
                let got = v["codes"].as_array().expect("codes");
                assert_eq!(got.len(), chunk.len());
                for (c, g) in chunk.iter().zip(got) {
                    let m = &line.model.codes[*c];
                    let want = json!({
                        "status": m.status,
                        "owner": tin(m.owner),
                        "in_transit": m.in_transit,
                        "parent": m.parent,
                        "children": m.children.len(),
                    });
                    let have = json!({
                        "status": g["status"],
                        "owner": g["owner"],
                        "in_transit": g["in_transit"],
                        "parent": g["parent"],
                        "children": g["children"],
                    });
                    assert_eq!(
                        have, want,
                        "line {}: code {c} differs from the model",
                        line.n
                    );
                }
            }
        }
    }

    /// Inventory counters: per participant and status, in transit and incoming, the model's
    /// counts of the lines' units; the pool in its shop; the orders' codes at the producer.
    fn check_inventory(&self, client: &Client, actors: &Actors) {
        let mut want: BTreeMap<Who, BTreeMap<String, i64>> = BTreeMap::new();
        let mut who = vec![Who::Producer, Who::Wholesaler];
        who.extend((0..LINES).map(Who::Shop));
        for w in &who {
            want.insert(*w, BTreeMap::new());
        }
        for line in &self.lines {
            for (c, m) in &line.model.codes {
                if !c.starts_with("01") {
                    continue; // a box or pallet
                }
                let mut count = |w: Who, k: &str| {
                    *want
                        .get_mut(&w)
                        .expect("a participant")
                        .entry(k.to_string())
                        .or_default() += 1;
                };
                count(m.owner, m.status);
                if m.in_transit {
                    count(m.owner, "in_transit");
                    count(m.receiver.expect("a receiver in transit"), "incoming");
                }
            }
        }
        let g = gtin_lines();
        for w in who {
            let (s, v) = client
                .get(Some(actors.get(w)), &format!("/api/v1/inventory?gtin={g}"))
                .expect("inventory");
            assert_eq!(s, 200, "inventory: {v}");
            assert_eq!(
                inventory_counts(&v),
                want[&w],
                "inventory of {} ({w:?}): {v}",
                tin(w)
            );
        }
        let (s, v) = client
            .get(
                Some(&actors.pool_shop),
                &format!("/api/v1/inventory?gtin={}", gtin_pool()),
            )
            .expect("inventory");
        assert_eq!(s, 200, "inventory: {v}");
        assert_eq!(
            inventory_counts(&v),
            BTreeMap::from([("INTRODUCED".to_string(), self.pool.len() as i64)]),
            "the pool shop's inventory: {v}"
        );
    }

    /// Histories of `codes` of each line name exactly the model's documents.
    /// Each event names its document's type and its leaf, the leaves in log order, and the
    /// last event leaves the code in its status.
    fn check_histories(&self, base: &str, regulator: &Actor, codes: &[Vec<String>]) {
        std::thread::scope(|s| {
            for (line, codes) in self.lines.iter().zip(codes) {
                s.spawn(move || {
                    let client = Client::new(base).expect("client");
                    let kinds: HashMap<&str, &str> = line
                        .applied
                        .iter()
                        .map(|a| (a.doc.id.as_str(), a.doc.kind))
                        .collect();
                    for c in codes {
                        let (s, v) = client
                            .get(Some(regulator), &format!("/api/v1/codes/{c}"))
                            .expect("GET code");
                        assert_eq!(s, 200, "code {c}: {v}");
                        let events: Vec<&Value> = v["history"]
                            .as_array()
                            .expect("history")
                            .iter()
                            .filter(|e| e["document"].is_string())
                            .collect();
                        let docs: Vec<&str> = events
                            .iter()
                            .filter_map(|e| e["document"].as_str())
                            .collect();
                        let m = &line.model.codes[c];
                        assert_eq!(
                            docs, m.history,
                            "line {}: history of {c} differs from the documents applied to it",
                            line.n
                        );
                        let mut last_leaf = None;
                        for e in &events {
                            let d = e["document"].as_str().expect("document");
                            assert_eq!(e["type"], kinds[d], "code {c}: event of {d}: {e}");
                            let leaf = e["log_index"].as_u64();
                            assert!(
                                leaf.is_some() && leaf > last_leaf,
                                "code {c}: events' leaves out of order at {d}: {v}"
                            );
                            last_leaf = leaf;
                        }
                        if let Some(e) = events.last() {
                            assert_eq!(e["status"], v["status"], "code {c}: last event: {v}");
                        }
                        let kids: HashSet<&str> = v["children"]
                            .as_array()
                            .expect("children")
                            .iter()
                            .filter_map(Value::as_str)
                            .collect();
                        let want: HashSet<&str> = m.children.iter().map(String::as_str).collect();
                        assert_eq!(kids, want, "line {}: children of {c}", line.n);
                    }
                });
            }
        });
    }

    /// Orders: each one changed this round and a sample (all when `all`) exists with its
    /// quantity and becomes ready (or is closed, as the model says); once none is pending,
    /// the producer's inventory counts every code ordered, and fetched codes are EMITTED.
    fn check_orders(
        &self,
        client: &Client,
        producer: &Actor,
        round: usize,
        all: bool,
        rng: &mut StdRng,
    ) {
        let orders = &self.orders.orders;
        let mut pick: Vec<usize> = if all {
            (0..orders.len()).collect()
        } else {
            let mut p: Vec<usize> = (0..orders.len())
                .filter(|&i| orders[i].round == round || orders[i].round == usize::MAX)
                .collect();
            p.extend(rand::seq::index::sample(rng, orders.len(), orders.len().min(5)).into_vec());
            p.sort_unstable();
            p.dedup();
            p
        };
        // The current order first (it may still be being made).
        if let Some((i, _)) = self.orders.current {
            pick.retain(|&j| j != i);
            pick.insert(0, i);
        }
        for i in pick {
            let o = &orders[i];
            let t = Instant::now();
            loop {
                let (s, v) = client
                    .get(Some(producer), &format!("/api/v1/orders/{}", o.id))
                    .expect("GET order");
                assert_eq!(
                    s, 200,
                    "order {} (acknowledged: {}) is gone after a restart: {v}",
                    o.id, o.acked
                );
                assert_eq!(v["quantity"], o.quantity, "order {}: {v}", o.id);
                match (o.closed, v["status"].as_str()) {
                    (true, Some("closed")) | (false, Some("ready")) => {
                        assert_eq!(v["produced"], o.quantity, "order {}: {v}", o.id);
                        break;
                    }
                    (false, Some("pending")) if t.elapsed() < WAIT => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => panic!("order {} (closed in the model: {}): {v}", o.id, o.closed),
                }
            }
            if !o.codes.is_empty() {
                let (s, v) = client
                    .post(producer, "/api/v1/codes/query", &json!({"codes": o.codes}))
                    .expect("query codes");
                assert_eq!(s, 200, "query: {v}");
                for (c, g) in o.codes.iter().zip(v["codes"].as_array().expect("codes")) {
                    assert_eq!(
                        (&g["status"], &g["owner"]),
                        (&json!("EMITTED"), &json!(PRODUCER_TIN)),
                        "code {c} of order {}: {g}",
                        o.id
                    );
                }
            }
        }
        // Every order not pending: the producer holds every code ordered.
        let ordered: u64 = orders.iter().map(|o| u64::from(o.quantity)).sum();
        let t = Instant::now();
        loop {
            let (s, v) = client
                .get(
                    Some(producer),
                    &format!("/api/v1/inventory?gtin={}", gtin_orders()),
                )
                .expect("inventory");
            assert_eq!(s, 200, "inventory: {v}");
            let emitted = v["by_status"]["EMITTED"].as_u64().unwrap_or(0);
            if emitted == ordered {
                break;
            }
            assert!(
                emitted < ordered && t.elapsed() < WAIT,
                "the producer holds {emitted} codes of {} orders of {ordered} codes in all: {v}",
                orders.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Blocks: the regulator's list is the model's; a till check of the pool says `blocked`
    /// exactly for the codes an active block covers.
    fn check_blocks(&self, client: &Client, actors: &Actors) {
        let listed = list_blocks(client, &actors.regulator);
        let want: HashMap<u64, (String, bool)> = self
            .regulator
            .blocks
            .iter()
            .map(|b| (b.id, (b.reason.clone(), b.lifted)))
            .collect();
        assert_eq!(
            listed, want,
            "the regulator's blocks differ from the model's"
        );
        let codes: Vec<&str> = self.pool.iter().map(|p| p.full.as_str()).collect();
        let (s, v) = client
            .post(
                &actors.pool_shop,
                "/api/v1/pos/check",
                &json!({"codes": codes}),
            )
            .expect("till check");
        assert_eq!(s, 200, "till check of the pool: {v}");
        let results = v["results"].as_array().expect("results");
        assert_eq!(results.len(), self.pool.len());
        for (i, r) in results.iter().enumerate() {
            let reasons: Vec<&str> = r["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let blocked = self.regulator.blocked(&self.pool, i);
            assert_eq!(
                reasons.contains(&"blocked"),
                blocked,
                "pool code {} (batch {}): the till says {reasons:?}; active blocks: {:?}",
                self.pool[i].id,
                POOL_BATCHES[self.pool[i].batch],
                self.regulator
                    .blocks
                    .iter()
                    .filter(|b| !b.lifted)
                    .map(|b| (b.id, &b.target))
                    .collect::<Vec<_>>()
            );
            assert_eq!(
                reasons.is_empty(),
                !blocked,
                "pool code {}: the till says {reasons:?}",
                self.pool[i].id
            );
        }
    }

    /// Complaints: the regulator's list is exactly those that landed.
    fn check_complaints(&self, client: &Client, regulator: &Actor) {
        let mut listed: HashMap<String, String> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                None => "/api/v1/complaints?limit=1000".to_string(),
                Some(a) => format!("/api/v1/complaints?limit=1000&after={a}"),
            };
            let (s, v) = client.get(Some(regulator), &path).expect("complaints");
            assert_eq!(s, 200, "complaints: {v}");
            for c in v["complaints"].as_array().expect("complaints") {
                listed.insert(
                    c["id"].as_str().expect("id").to_string(),
                    c["text"].as_str().expect("text").to_string(),
                );
            }
            match v["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        let want: HashMap<String, String> = self
            .complaints
            .list
            .iter()
            .map(|c| (c.id.clone(), c.text.clone()))
            .collect();
        if listed != want {
            let missing: Vec<_> = want.keys().filter(|k| !listed.contains_key(*k)).collect();
            let extra: Vec<_> = listed.keys().filter(|k| !want.contains_key(*k)).collect();
            panic!("complaints listed differ from those that landed: missing {missing:?}, unexplained {extra:?}");
        }
    }

    /// Sign-ins: tokens issued before the kill still work; the last used answer to a
    /// challenge, sent again, is refused.
    fn check_signins(&self, client: &Client, http: &Http, signer: &Actor, rng: &mut StdRng) {
        let t = &self.signins.tokens;
        let mut pick: Vec<&String> = t.iter().rev().take(2).collect();
        pick.extend(t.choose_multiple(rng, 3));
        for token in pick {
            let a = Actor {
                tin: SIGNER_TIN.into(),
                key: signer.key.clone(),
                token: token.clone(),
            };
            let (s, v) = client.get(Some(&a), "/api/v1/auth/me").expect("me");
            assert_eq!(
                (s, &v["tin"]),
                (200, &json!(SIGNER_TIN)),
                "a token issued before a kill no longer works: {v}"
            );
        }
        if let Some(body) = &self.signins.last_used {
            let (s, v) = post_bytes(
                http,
                &format!("{}/api/v1/auth/token", client.base),
                body.clone(),
            )
            .expect("sign-in replay");
            assert_eq!(
                s, 401,
                "a used challenge's answer, sent again after a kill: {v}"
            );
        }
    }

    /// Signed changes acknowledged before the kill (the last order, close, block, lift),
    /// replayed byte for byte: refused for their nonce. Returns how many were replayed.
    fn check_replays(&self, http: &Http, base: &str) -> usize {
        let mut n = 0;
        for (what, req) in self.orders.replay.iter().chain(&self.regulator.replay) {
            if req.signed_at.elapsed() > REPLAY_AGE_MAX {
                continue;
            }
            let (s, v) = req.send(http, base).expect("replay");
            assert_eq!(
                s, 401,
                "a signed {what} acknowledged before the kill, replayed after it: {v}"
            );
            assert!(
                v["detail"].as_str().is_some_and(|d| d.contains("nonce")),
                "a replayed {what} refused for another reason than its nonce: {v}"
            );
            n += 1;
        }
        n
    }
}

/// An inventory answer as its counts other than zero: statuses, `in_transit`, `incoming`.
fn inventory_counts(v: &Value) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (s, n) in v["by_status"].as_object().expect("by_status") {
        out.insert(s.clone(), n.as_i64().expect("a count"));
    }
    for k in ["in_transit", "incoming"] {
        out.insert(k.to_string(), v[k].as_i64().expect("a count"));
    }
    out.retain(|_, n| *n != 0);
    out
}

// ---- setup ----

struct Setup {
    actors: Actors,
    /// Full codes of each line.
    line_codes: Vec<Vec<String>>,
    pool: Vec<PoolCode>,
}

fn set_up(base: &str) -> Setup {
    let client = Client::new(base).expect("client");
    let reg = |tin: &str, name: &str, role: &str| {
        client
            .register(ADMIN_TOKEN, tin, name, &[role], "RU-MOW")
            .expect("register")
    };
    let actors = Actors {
        producer: client
            .register_with_prefixes(
                ADMIN_TOKEN,
                PRODUCER_TIN,
                "Torture Producer",
                &["producer"],
                "RU-MOW",
                &["4601234"],
            )
            .expect("register"),
        wholesaler: reg(WHOLESALER_TIN, "Torture Wholesaler", "wholesaler"),
        shops: (0..LINES)
            .map(|n| reg(&shop_tin(n), &format!("Torture shop {n}"), "retailer"))
            .collect(),
        regulator: reg(REGULATOR_TIN, "Torture Inspectorate", "regulator"),
        pool_shop: reg(POOL_SHOP_TIN, "Torture pool shop", "retailer"),
        signer: reg(SIGNER_TIN, "Torture signing-in shop", "retailer"),
    };
    for (g, name) in [
        (gtin_lines(), "Torture boots"),
        (gtin_pool(), "Torture recalled boots"),
        (gtin_orders(), "Torture ordered boots"),
    ] {
        let (s, v) = client
            .post_signed(
                &actors.producer,
                "/api/v1/products",
                &json!({"gtin": g, "name": name, "product_group": "shoes", "brand": "Test"}),
            )
            .expect("product");
        assert_eq!(s, 201, "product: {v}");
    }
    let codes = client
        .order_codes(
            &actors.producer,
            &gtin_lines(),
            (LINES * LINE_CODES) as u32,
            "mac",
        )
        .expect("order codes");
    let line_codes: Vec<Vec<String>> = codes.chunks(LINE_CODES).map(<[String]>::to_vec).collect();
    // The pool: introduced in three batches and shipped to the pool shop.
    let full = client
        .order_codes(
            &actors.producer,
            &gtin_pool(),
            (POOL_BATCHES.len() * POOL_PER_BATCH) as u32,
            "mac",
        )
        .expect("order codes");
    let pool: Vec<PoolCode> = full
        .iter()
        .enumerate()
        .map(|(i, c)| PoolCode {
            id: id_code(c).to_string(),
            full: c.clone(),
            batch: i / POOL_PER_BATCH,
        })
        .collect();
    let ids: Vec<&str> = pool.iter().map(|p| p.id.as_str()).collect();
    let doc = |a: &Actor, body: Value| -> Value {
        match client.document(a, body).expect("send") {
            Ok(v) => v,
            Err((s, v)) => panic!("setup document refused: {s} {v}"),
        }
    };
    doc(&actors.producer, json!({"type": "apply", "codes": ids}));
    let today = types::time::format_date(types::time::day_of(registry::system_clock()()));
    for (b, batch) in POOL_BATCHES.iter().enumerate() {
        let codes = &ids[b * POOL_PER_BATCH..(b + 1) * POOL_PER_BATCH];
        doc(
            &actors.producer,
            json!({"type": "introduce", "codes": codes, "production_date": today, "batch": batch}),
        );
    }
    let ship = doc(
        &actors.producer,
        json!({"type": "ship", "codes": ids, "receiver": POOL_SHOP_TIN}),
    );
    doc(
        &actors.pool_shop,
        json!({"type": "accept", "shipment": ship["id"]}),
    );
    Setup {
        actors,
        line_codes,
        pool,
    }
}

/// `tracemark audit` of the data directory (the server stopped), with the last checkpoint.
fn audit(bin: &Path, data: &Path, dir: &Path, note: &str) -> Duration {
    let t = Instant::now();
    let cp = dir.join("checkpoint.txt");
    std::fs::write(&cp, note).expect("writing the checkpoint");
    let out = Command::new(bin)
        .arg("audit")
        .arg("--data")
        .arg(data)
        .arg("--checkpoint")
        .arg(&cp)
        .arg("--scratch")
        .arg(dir)
        .output()
        .expect("running tracemark audit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tracemark audit failed:\n{text}");
    assert!(
        text.contains("every record matches"),
        "tracemark audit:\n{text}"
    );
    t.elapsed()
}

/// The store's journal files as the kill left them (what the next start replays): how
/// many, and their bytes.
fn journals(data: &Path) -> (usize, u64) {
    let Ok(dir) = std::fs::read_dir(data.join("store")) else {
        return (0, 0);
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jnl"))
        .fold((0, 0), |(n, b), e| {
            (n + 1, b + e.metadata().map_or(0, |m| m.len()))
        })
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[test]
fn kill_9_under_mixed_load_loses_nothing_acknowledged() {
    let t0 = Instant::now();
    let kills = env_usize("TRACEMARK_TORTURE_KILLS", KILLS_DEFAULT);
    let audit_every = env_usize("TRACEMARK_TORTURE_AUDIT_EVERY", AUDIT_EVERY_DEFAULT);
    // A time budget: no kill starts past it (the final checks and audit still run).
    let budget = match env_usize("TRACEMARK_TORTURE_MINUTES", 0) {
        0 => None,
        m => Some(Duration::from_secs(60 * m as u64)),
    };
    let seed = std::env::var("TRACEMARK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!(
        "torture: TRACEMARK_CRASH_SEED={seed} TRACEMARK_TORTURE_KILLS={kills} \
         TRACEMARK_TORTURE_AUDIT_EVERY={audit_every} TRACEMARK_TORTURE_MINUTES={}",
        budget.map_or(0, |b| b.as_secs() / 60)
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let keep = std::env::var_os("TRACEMARK_CRASH_KEEP").is_some();
    let mut tmp = tempfile::Builder::new()
        .prefix("tracemark-torture-")
        .tempdir()
        .expect("temp dir");
    // Kept when the test fails (a panic leaves it), removed at the end otherwise.
    tmp.disable_cleanup(true);
    let dir: PathBuf = tmp.path().to_path_buf();
    println!(
        "torture: data directory and server log in {} (kept if the test fails)",
        dir.display()
    );
    let data = dir.join("data");
    let log = dir.join("server.log");
    // Every restart runs the same binary, even if a build replaces the target's meanwhile.
    let bin = dir.join("tracemark");
    std::fs::copy(env!("CARGO_BIN_EXE_tracemark"), &bin).expect("copying the binary");

    // The store's sizes: "0" leaves the server's own default.
    let server_env: Vec<(&str, String)> = [
        (
            "TRACEMARK_MEMORY_MB",
            "TRACEMARK_TORTURE_MEMORY_MB",
            MEMORY_MB_DEFAULT,
        ),
        (
            "TRACEMARK_MEMTABLE_MB",
            "TRACEMARK_TORTURE_MEMTABLE_MB",
            MEMTABLE_MB_DEFAULT,
        ),
    ]
    .into_iter()
    .map(|(var, ours, default)| (var, std::env::var(ours).unwrap_or_else(|_| default.into())))
    .filter(|(_, v)| v != "0")
    .collect();
    println!("torture: the server runs with {server_env:?}");
    let http = http();
    let (mut server, first_start) = Server::start(&bin, &data, &log, &server_env);
    let setup = set_up(&server.base);
    let actors = setup.actors;
    let mut complaint_codes: Vec<String> = setup.pool.iter().map(|p| p.id.clone()).collect();
    complaint_codes.extend(
        setup
            .line_codes
            .iter()
            .flatten()
            .map(|c| id_code(c).to_string()),
    );
    let sub = |k: u64| StdRng::seed_from_u64(seed ^ k.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut world = World {
        lines: setup
            .line_codes
            .iter()
            .enumerate()
            .map(|(n, c)| Line::new(n, c, seed))
            .collect(),
        orders: Orders {
            rng: sub(101),
            orders: Vec::new(),
            current: None,
            in_flight: None,
            replay: Vec::new(),
            created: Tally::default(),
            closes: Tally::default(),
        },
        regulator: Regulator {
            rng: sub(102),
            blocks: Vec::new(),
            in_flight: None,
            replay: Vec::new(),
            created: Tally::default(),
            lifts: Tally::default(),
        },
        complaints: Complaints {
            rng: sub(103),
            next_addr: 0,
            list: Vec::new(),
            in_flight: None,
            tally: Tally::default(),
            rate_limited: 0,
        },
        signins: Signins {
            rng: sub(104),
            tokens: Vec::new(),
            last_used: None,
            in_flight: None,
            tally: Tally::default(),
        },
        pool: setup.pool,
        complaint_codes,
        log: LogState::first(&http, &server.base),
    };
    let mut fig = Figures {
        restarts: vec![first_start],
        ..Figures::default()
    };
    println!(
        "torture: started in {first_start:?}, set up in {:?}; {} leaves, {} documents in the log",
        t0.elapsed(),
        world.log.checkpoint.size,
        world.log.docs
    );

    let mut done = 0;
    for round in 0..kills {
        if budget.is_some_and(|b| t0.elapsed() >= b) {
            println!("torture: the time budget ends the run after {round} of {kills} kills");
            break;
        }
        done = round + 1;
        // Mixed load, then SIGKILL under it.
        let delay = Duration::from_millis(rng.gen_range(LOAD_MS.0..=LOAD_MS.1));
        let stop = AtomicBool::new(false);
        let base = server.base.clone();
        let w = &mut world;
        std::thread::scope(|s| {
            for line in w.lines.iter_mut() {
                let client = Client::new(&base).expect("client");
                let (actors, stop) = (&actors, &stop);
                s.spawn(move || line.stream(&client, actors, stop));
            }
            let (actors, stop, http, base) = (&actors, &stop, &http, base.as_str());
            let orders = &mut w.orders;
            s.spawn(move || {
                let client = Client::new(base).expect("client");
                orders.run(http, &client, &actors.producer, stop)
            });
            let (regulator, pool) = (&mut w.regulator, &w.pool);
            s.spawn(move || regulator.run(http, base, &actors.regulator, pool, stop));
            let (complaints, codes) = (&mut w.complaints, &w.complaint_codes);
            s.spawn(move || complaints.run(base, codes, stop));
            let signins = &mut w.signins;
            s.spawn(move || signins.run(http, base, &actors.signer, stop));
            std::thread::sleep(delay);
            // No request starts after this; those under way are cut off by the kill.
            stop.store(true, Ordering::Relaxed);
            server.kill();
        });

        // The data directory as the kill left it, audited now and then.
        if audit_every > 0 && (round + 1) % audit_every == 0 && round + 1 < kills {
            fig.audits.push(audit(&bin, &data, &dir, &world.log.note));
        }

        // Restart, resolve what was in flight, check.
        let (jnl_files, jnl_bytes) = journals(&data);
        let (next, took) = Server::start(&bin, &data, &log, &server_env);
        server = next;
        fig.restarts.push(took);
        let t = Instant::now();
        let client = Client::new(&server.base).expect("client");
        check_round(&mut world, &client, &http, &actors, round, false, &mut rng);
        fig.replays_refused += world.check_replays(&http, &server.base);
        for line in &mut world.lines {
            line.resend_landed(&client, &actors);
        }
        fig.checks.push(t.elapsed());
        let docs: usize = world.lines.iter().map(|l| l.applied.len()).sum();
        println!(
            "torture: round {round}: load {delay:?}, restart {took:?} ({jnl_files} journals, \
             {:.1} MiB), checks {:?}; {docs} documents, \
             {} orders, {} blocks, {} complaints, {} sign-ins; {} leaves; t = {:?}",
            jnl_bytes as f64 / (1 << 20) as f64,
            t.elapsed(),
            world.orders.orders.len(),
            world.regulator.blocks.len(),
            world.complaints.list.len(),
            world.signins.tokens.len(),
            world.log.checkpoint.size,
            t0.elapsed()
        );
    }

    // The end: what was in flight at the last kill re-sent (documents: applied now, once),
    // the orders finished, and everything checked in full.
    let client = Client::new(&server.base).expect("client");
    for line in &mut world.lines {
        if let Some(doc) = line.in_flight.take() {
            let (s, v) = client
                .post_signed_bytes(actors.get(doc.by), "/api/v1/documents", doc.body.clone())
                .expect("re-send");
            assert_eq!(s, 201, "re-sent in-flight {} {}: {v}", doc.kind, doc.id);
            line.answered(doc, v, done);
        }
    }
    check_round(&mut world, &client, &http, &actors, done, true, &mut rng);
    // Every order ready now: its codes' leaves are all in.
    let leaves = read_new_leaves(&http, &server.base, &mut world.log);
    world.account(&leaves);
    for o in &world.orders.orders {
        assert_eq!(
            o.emitted,
            u64::from(o.quantity),
            "order {}: the log's emission leaves count another number of codes",
            o.id
        );
    }
    server.kill();
    fig.audits.push(audit(&bin, &data, &dir, &world.log.note));

    let docs: usize = world.lines.iter().map(|l| l.applied.len()).sum();
    let ls = world
        .lines
        .iter()
        .fold(LineStats::default(), |a, l| LineStats {
            acked: a.acked + l.stats.acked,
            in_flight: a.in_flight + l.stats.in_flight,
            landed: a.landed + l.stats.landed,
            not_landed: a.not_landed + l.stats.not_landed,
            till_checks: a.till_checks + l.stats.till_checks,
            till_throttled: a.till_throttled + l.stats.till_throttled,
        });
    let (o, c, b, f, cm, si) = (
        world.orders.created,
        world.orders.closes,
        world.regulator.created,
        world.regulator.lifts,
        world.complaints.tally,
        world.signins.tally,
    );
    let landed = ls.landed + o.landed + c.landed + b.landed + f.landed + cm.landed + si.landed;
    let not = ls.not_landed
        + o.not_landed
        + c.not_landed
        + b.not_landed
        + f.not_landed
        + cm.not_landed
        + si.not_landed;
    println!(
        "torture: {done} kills in {:?} (seed {seed}): documents {docs} in the log ({} answered 201, \
         {} landed in flight, {} not), {} till checks ({} throttled); orders {} ({} acked, {} landed, \
         {} not; closes {} acked, {} landed, {} not; {} codes); blocks {} ({} acked, {} landed, {} not), \
         lifts {} acked, {} landed, {} not; complaints {} ({} acked, {} landed, {} not, {} rate-limited); \
         sign-ins {} acked, {} landed, {} not; in flight resolved: {landed} landed, {not} not; \
         {} replays refused; log {} leaves; restart median {:?} (max {:?}), checks median {:?}, \
         audits {:?}",
        t0.elapsed(),
        ls.acked,
        ls.landed,
        ls.not_landed,
        ls.till_checks,
        ls.till_throttled,
        world.orders.orders.len(),
        o.acked,
        o.landed,
        o.not_landed,
        c.acked,
        c.landed,
        c.not_landed,
        world.orders.orders.iter().map(|o| u64::from(o.quantity)).sum::<u64>(),
        world.regulator.blocks.len(),
        b.acked,
        b.landed,
        b.not_landed,
        f.acked,
        f.landed,
        f.not_landed,
        world.complaints.list.len(),
        cm.acked,
        cm.landed,
        cm.not_landed,
        world.complaints.rate_limited,
        si.acked,
        si.landed,
        si.not_landed,
        fig.replays_refused,
        world.log.checkpoint.size,
        median(&fig.restarts),
        fig.restarts.iter().max().copied().unwrap_or_default(),
        median(&fig.checks),
        fig.audits,
    );
    drop(server);
    if keep {
        println!("torture: kept {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).expect("removing the temporary directory");
    }
}

/// After a restart: the in-flight requests resolved, the log accounted for, everything
/// checked (in full when `all`).
fn check_round(
    world: &mut World,
    client: &Client,
    http: &Http,
    actors: &Actors,
    round: usize,
    all: bool,
    rng: &mut StdRng,
) {
    // When all is checked, every order first finishes (its emission leaves then all in).
    if all {
        world.check_orders(client, &actors.producer, round, true, rng);
    }
    let leaves = read_new_leaves(http, &client.base, &mut world.log);
    let close: Vec<Vec<String>> = world
        .lines
        .iter_mut()
        .map(|l| {
            let mut codes = l.resolve_in_flight(client, &actors.regulator, &leaves, round);
            if let Some(a) = l.applied.iter().rev().find(|a| a.acked) {
                codes.extend(a.touched.iter().cloned());
            }
            codes
        })
        .collect();
    world
        .orders
        .resolve(client, &actors.producer, &leaves, round);
    world
        .regulator
        .resolve(client, &actors.regulator, &leaves, round);
    world.complaints.resolve(&leaves);
    world.signins.resolve(http, &client.base);
    // Acknowledged this round: the round they count in.
    for l in &mut world.lines {
        for a in l
            .applied
            .iter_mut()
            .rev()
            .take_while(|a| a.round == usize::MAX || a.round == round)
        {
            a.round = round;
        }
    }
    for o in &mut world.orders.orders {
        if o.round == usize::MAX {
            o.round = round;
        }
    }
    for b in &mut world.regulator.blocks {
        if b.round == usize::MAX {
            b.round = round;
        }
    }
    world.account(&leaves);
    world.check_documents(client, http, &actors.regulator, round, all, rng);
    world.check_states(client, &actors.regulator);
    let histories: Vec<Vec<String>> = if all {
        world
            .lines
            .iter()
            .map(|l| l.model.codes.keys().cloned().collect())
            .collect()
    } else {
        world
            .lines
            .iter()
            .zip(close)
            .map(|(l, mut codes)| {
                let all: Vec<&String> = l.model.codes.keys().collect();
                codes.extend(all.choose_multiple(rng, 8).map(|c| (*c).clone()));
                codes.sort_unstable();
                codes.dedup();
                codes
            })
            .collect()
    };
    world.check_histories(&client.base, &actors.regulator, &histories);
    world.check_inventory(client, actors);
    world.check_orders(client, &actors.producer, round, all, rng);
    world.check_blocks(client, actors);
    world.check_complaints(client, &actors.regulator);
    world.check_signins(client, http, &actors.signer, rng);
}
