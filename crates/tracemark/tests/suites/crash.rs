//! Crash durability, end to end: a document is
//! all-or-nothing and durable before it is answered; a `kill -9` at any moment loses
//! nothing acknowledged and leaves nothing half-applied.
//!
//! The test runs the real `tracemark serve` binary on a temporary data directory (or a
//! fresh PostgreSQL schema: `tests/crash_postgres.rs`; the root file names the engine with
//! `super::store_args`). Four
//! client threads ("lines") stream signed documents over disjoint codes: apply and
//! introduce lots of 50–200 codes, then cycle each lot through aggregate (units into
//! boxes, boxes into a pallet), ship the pallet to a wholesaler, accept, ship it back,
//! accept, and disaggregate pallet and boxes in one document. Every document changes
//! many codes at once, so a half-applied one would show: a child pointing at a parent
//! that does not list it, a box in transit inside a pallet that is not, a history with
//! the document on some codes only.
//!
//! After a random delay (very early to late) the server gets SIGKILL; each line then has
//! exactly one document in flight. The server is restarted on the same directory and the
//! test checks, against a model of what it sent:
//! - every acknowledged (201) document is stored with the sequence number it was given;
//! - every in-flight document is either stored or not, and all its codes agree with that
//!   (history and state), the model taking it in only when stored;
//! - every code's state (status, owner, transit, parent, child count) is the model's;
//! - the log: `/health` counts exactly the documents stored, their sequence numbers are
//!   1..=N without a gap, and the chain head is the last document's chain;
//! - re-sending an acknowledged document (same id, same bytes) gives the same answer,
//!   and re-sending an in-flight one gives its stored answer or applies it once.
//!
//! Timing varies from run to run (how many documents are acknowledged, whether the
//! in-flight ones made it); what is asserted does not. Set `TRACEMARK_CRASH_SEED` to
//! replay a run's shapes (lot sizes, box sizes, kill delays), `TRACEMARK_CRASH_KEEP=1` to
//! keep the data directory and the server log.

use client::{gtin, id_code, sscc, Actor, Client};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The admin token the server is started with.
const ADMIN_TOKEN: &str = "crash-test-admin-token-0123456789";
/// Codes ordered for the whole test.
const CODES: usize = 2_400;
/// Client threads streaming documents, each over its own codes.
const LINES: usize = 4;
/// Kill delays (ms, after the lines start): one kill per range, in shuffled order.
const KILL_DELAYS_MS: [(u64, u64); 5] =
    [(0, 25), (25, 250), (250, 1_000), (1_000, 2_500), (0, 2_500)];
/// Lot sizes (codes per apply/introduce document and per aggregation cycle).
const LOT_CODES: (usize, usize) = (50, 200);
/// Box sizes (units per aggregate document).
const BOX_CODES: (usize, usize) = (20, 60);
/// Most codes per `POST /api/v1/codes/query`.
const QUERY_CODES_MAX: usize = 1_000;
/// Longest wait for a started server to answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

// ---- the fault ----

/// What happens to the registry in each round (the root file chooses: `super::fault()`).
#[allow(dead_code)] // Each root file uses one.
pub enum Fault {
    /// SIGKILL, then a restart on the same store.
    Restart,
    /// SIGKILL of the writer; a standby process on the same database takes over, and a new
    /// standby starts for the next round.
    Failover,
    /// The database stops as in a crash under the running server (`stop`) and comes back
    /// (`start`) a few seconds later: the server is not restarted, answers 503 with
    /// `Retry-After` meanwhile, and carries on by itself.
    Outage {
        /// Stops the database (returns once it is down).
        stop: fn(),
        /// Starts it again (returns once it accepts connections).
        start: fn(),
    },
}

/// How long the database stays down in an outage round.
const OUTAGE: Duration = Duration::from_secs(3);

// ---- the server process ----

/// A running `tracemark serve`; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    /// Kept open so the server's later prints do not hit a closed pipe.
    _stdout: BufReader<ChildStdout>,
    base: String,
}

impl Server {
    /// Starts `bin` on `data` (the store's flags: `--data DIR` or `--postgres URL`), on a
    /// port the kernel picks, and waits for `/health` to name it the writer (on a shared
    /// database a restarted process waits for the killed one's lease to run out).
    fn start(bin: &Path, data: &[String], log: &Path) -> Server {
        let server = Server::spawn(bin, data, log);
        server.wait_role(log, "writer");
        server
    }

    /// Starts `bin` on `data` and waits for `/health` (writer or reader).
    fn start_standby(bin: &Path, data: &[String], log: &Path) -> Server {
        let server = Server::spawn(bin, data, log);
        server.wait_role(log, "");
        server
    }

    /// Starts `bin` on `data`, on a port the kernel picks.
    fn spawn(bin: &Path, data: &[String], log: &Path) -> Server {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut child = Command::new(bin)
            .arg("serve")
            .args(data)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("TRACEMARK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning tracemark serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let Some(addr) = line
            .trim()
            .rsplit_once(" on http://")
            .map(|(_, a)| a.to_string())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tracemark serve did not start: stdout {line:?}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        Server {
            child,
            _stdout: stdout,
            base: format!("http://{addr}"),
        }
    }

    /// Waits until `/health` answers 200 with `role` (any role when empty).
    fn wait_role(&self, log: &Path, role: &str) {
        let client = Client::new(&self.base).expect("client");
        let started = Instant::now();
        loop {
            if let Ok((200, h)) = client.get(None, "/health") {
                if role.is_empty() || h["role"] == role {
                    return;
                }
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "no /health {role} from {} within {START_TIMEOUT:?}; log:\n{}",
                self.base,
                std::fs::read_to_string(log).unwrap_or_default()
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

// ---- participants ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Producer,
    Wholesaler,
}

struct Actors {
    producer: Actor,
    wholesaler: Actor,
    regulator: Actor,
}

impl Actors {
    fn get(&self, w: Who) -> &Actor {
        match w {
            Who::Producer => &self.producer,
            Who::Wholesaler => &self.wholesaler,
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
    },
    Accept {
        roots: Vec<String>,
        by: Who,
    },
    Disaggregate {
        parents: Vec<String>,
    },
}

/// A document as sent: its exact bytes are re-sent after a crash.
#[derive(Clone, Debug)]
struct Doc {
    id: String,
    by: Who,
    kind: &'static str,
    body: Vec<u8>,
    effect: Effect,
}

/// What the test expects of one code.
#[derive(Clone, Debug)]
struct CodeModel {
    status: &'static str,
    owner: Who,
    parent: Option<String>,
    children: Vec<String>,
    in_transit: bool,
    /// Ids of the documents that changed it, in order.
    history: Vec<String>,
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

    /// Applies an accepted document; returns the codes it changed (each gets an event).
    fn apply(&mut self, doc: &Doc) -> Vec<String> {
        let touched: Vec<String> = match &doc.effect {
            Effect::Apply(codes) => {
                for c in codes {
                    self.code(c).status = "APPLIED";
                }
                codes.clone()
            }
            Effect::Introduce(codes) => {
                for c in codes {
                    self.code(c).status = "INTRODUCED";
                }
                codes.clone()
            }
            Effect::Aggregate { parent, children } => {
                let p = self.codes.entry(parent.clone()).or_insert(CodeModel {
                    status: "INTRODUCED",
                    owner: doc.by,
                    parent: None,
                    children: Vec::new(),
                    in_transit: false,
                    history: Vec::new(),
                });
                p.children.extend(children.iter().cloned());
                for c in children {
                    self.code(c).parent = Some(parent.clone());
                }
                children.iter().chain([parent]).cloned().collect()
            }
            Effect::Ship { roots } => {
                let all = self.subtree(roots);
                for c in &all {
                    self.code(c).in_transit = true;
                }
                all
            }
            Effect::Accept { roots, by } => {
                let all = self.subtree(roots);
                for c in &all {
                    let m = self.code(c);
                    m.in_transit = false;
                    m.owner = *by;
                }
                all
            }
            Effect::Disaggregate { parents } => {
                let mut seen = HashSet::new();
                let mut all = Vec::new();
                for p in parents {
                    let kids = std::mem::take(&mut self.code(p).children);
                    for k in kids {
                        self.code(&k).parent = None;
                        if seen.insert(k.clone()) {
                            all.push(k);
                        }
                    }
                    if seen.insert(p.clone()) {
                        all.push(p.clone());
                    }
                }
                all
            }
        };
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
    /// Answered 201 to this test (not only found stored after a crash).
    acked: bool,
}

/// One client thread's stream of documents over its own codes.
struct Line {
    n: usize,
    rng: StdRng,
    lots: Vec<Vec<String>>,
    queue: VecDeque<Doc>,
    started: bool,
    next_lot: usize,
    sscc_serial: u64,
    today: String,
    expiry: String,
    model: Model,
    applied: Vec<Applied>,
    /// The document in flight when the server was killed.
    in_flight: Option<Doc>,
    /// Its stored answer, once found applied after a restart.
    in_flight_stored: Option<Value>,
    stats: LineStats,
}

#[derive(Default, Debug, Clone, Copy)]
struct LineStats {
    acked: usize,
    in_flight: usize,
    in_flight_applied: usize,
    in_flight_resent_stored: usize,
    in_flight_resent_applied: usize,
}

impl Line {
    fn new(n: usize, codes: &[String], seed: u64) -> Line {
        let mut rng = StdRng::seed_from_u64(seed ^ (n as u64 + 1).wrapping_mul(0x9e37_79b9));
        let mut lots = Vec::new();
        let mut rest = codes;
        while !rest.is_empty() {
            let k = rng.gen_range(LOT_CODES.0..=LOT_CODES.1).min(rest.len());
            let (lot, tail) = rest.split_at(k);
            lots.push(lot.to_vec());
            rest = tail;
        }
        let mut model = Model::default();
        for c in codes {
            model.codes.insert(
                c.clone(),
                CodeModel {
                    status: "EMITTED",
                    owner: Who::Producer,
                    parent: None,
                    children: Vec::new(),
                    in_transit: false,
                    history: Vec::new(),
                },
            );
        }
        let day = types::time::day_of(registry::system_clock()());
        Line {
            n,
            rng,
            lots,
            queue: VecDeque::new(),
            started: false,
            next_lot: 0,
            sscc_serial: (n as u64 + 1) * 10_000_000,
            today: types::time::format_date(day),
            expiry: types::time::format_date(day + 365),
            model,
            applied: Vec::new(),
            in_flight: None,
            in_flight_stored: None,
            stats: LineStats::default(),
        }
    }

    fn push(&mut self, by: Who, kind: &'static str, mut body: Value, effect: Effect) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        body["id"] = json!(id);
        body["type"] = json!(kind);
        self.queue.push_back(Doc {
            id: id.clone(),
            by,
            kind,
            body: serde_json::to_vec(&body).expect("json"),
            effect,
        });
        id
    }

    fn new_sscc(&mut self) -> String {
        self.sscc_serial += 1;
        // Within the producer's GS1 company prefix 4601234.
        sscc(7, 4_601_234_000_000_000 + self.sscc_serial)
    }

    /// The next document of the stream (the stream never ends).
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
                    json!({"codes": lot, "production_date": today, "expiry_date": expiry, "batch": "CRASH-1"}),
                    Effect::Introduce(lot),
                );
            }
            return;
        }
        // One aggregation cycle of the next lot.
        let lot = self.lots[self.next_lot % self.lots.len()].clone();
        self.next_lot += 1;
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
            },
        );
        self.push(
            Who::Wholesaler,
            "accept",
            json!({"shipment": out}),
            Effect::Accept {
                roots: roots.clone(),
                by: Who::Wholesaler,
            },
        );
        let back = self.push(
            Who::Wholesaler,
            "ship",
            json!({"receiver": PRODUCER_TIN, "codes": roots}),
            Effect::Ship {
                roots: roots.clone(),
            },
        );
        self.push(
            Who::Producer,
            "accept",
            json!({"shipment": back}),
            Effect::Accept {
                roots,
                by: Who::Producer,
            },
        );
        let mut parents = vec![pallet];
        parents.extend(boxes);
        self.push(
            Who::Producer,
            "disaggregate",
            json!({"parents": parents}),
            Effect::Disaggregate { parents },
        );
    }

    /// Streams documents until a request fails (the server was killed: that document is
    /// in flight) or `stop` is set.
    fn stream(&mut self, client: &Client, actors: &Actors, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let resend = self.in_flight.is_some();
            let doc = match self.in_flight.take() {
                Some(d) => d,
                None => self.next_doc(),
            };
            match client.post_signed_bytes(
                actors.get(doc.by),
                "/api/v1/documents",
                doc.body.clone(),
            ) {
                Err(_) => {
                    self.in_flight = Some(doc);
                    self.stats.in_flight += 1;
                    return;
                }
                Ok((201, answer)) => self.answered(doc, answer, resend),
                // The store is down (an outage round): the document may or may not have
                // been committed (a cut connection); resolved once it is back.
                Ok((503, _)) => {
                    self.in_flight = Some(doc);
                    self.stats.in_flight += 1;
                    return;
                }
                Ok((status, v)) => panic!(
                    "line {}: {} document {} refused: {status} {v}",
                    self.n, doc.kind, doc.id
                ),
            }
        }
    }

    /// A 201: the first answer of a document, or the answer to a re-sent in-flight one.
    fn answered(&mut self, doc: Doc, answer: Value, resend: bool) {
        assert_eq!(answer["id"], json!(doc.id), "answer of another document");
        assert_eq!(answer["status"], "accepted");
        if let Some(stored) = self.in_flight_stored.take() {
            // Found applied after a crash: the re-send must give the stored answer.
            assert_eq!(
                answer, stored,
                "line {}: in-flight {} {} re-sent after a restart: answer differs from the stored one",
                self.n, doc.kind, doc.id
            );
            let a = self
                .applied
                .iter_mut()
                .rev()
                .find(|a| a.doc.id == doc.id)
                .expect("recorded when found applied");
            a.acked = true;
            self.stats.in_flight_resent_stored += 1;
        } else {
            let touched = self.model.apply(&doc);
            assert_eq!(
                answer["codes"].as_u64(),
                Some(touched.len() as u64),
                "line {}: {} {} changed another number of codes than expected: {answer}",
                self.n,
                doc.kind,
                doc.id
            );
            if resend {
                self.stats.in_flight_resent_applied += 1;
            }
            self.applied.push(Applied {
                doc,
                answer,
                touched,
                acked: true,
            });
        }
        self.stats.acked += 1;
    }

    /// After a restart: finds out whether the in-flight document was stored, and takes
    /// it into the model if so. Returns the codes to check closely.
    fn resolve_in_flight(&mut self, client: &Client, regulator: &Actor) -> Vec<String> {
        let Some(doc) = self.in_flight.clone() else {
            return Vec::new();
        };
        let (status, v) = client
            .get(Some(regulator), &format!("/api/v1/documents/{}", doc.id))
            .expect("GET document");
        match (status, &self.in_flight_stored) {
            (200, Some(stored)) => {
                // Found applied after an earlier crash, in flight again when re-sent.
                assert_eq!(v["seq"], stored["seq"], "a stored document moved");
                Vec::new()
            }
            (200, None) => {
                let touched = self.model.apply(&doc);
                let answer = json!({"id": v["id"], "status": "accepted", "codes": v["codes"], "seq": v["seq"]});
                assert_eq!(
                    answer["codes"].as_u64(),
                    Some(touched.len() as u64),
                    "in-flight {} {} stored with another number of codes: {v}",
                    doc.kind,
                    doc.id
                );
                self.in_flight_stored = Some(answer.clone());
                self.applied.push(Applied {
                    doc,
                    answer,
                    touched: touched.clone(),
                    acked: false,
                });
                self.stats.in_flight_applied += 1;
                touched
            }
            (404, None) => match &doc.effect {
                // Not stored: none of its codes may show it (checked against the model).
                Effect::Apply(c) | Effect::Introduce(c) => c.clone(),
                Effect::Aggregate { parent, children } => {
                    let mut c = children.clone();
                    if self.model.codes.contains_key(parent) {
                        c.push(parent.clone());
                    } else {
                        // A new box: it must not exist at all.
                        let (s, v) = client
                            .get(Some(regulator), &format!("/api/v1/codes/{parent}"))
                            .expect("GET code");
                        assert_eq!(s, 404, "box {parent} of an unstored aggregate exists: {v}");
                    }
                    c
                }
                Effect::Ship { roots } | Effect::Accept { roots, .. } => self.model.subtree(roots),
                Effect::Disaggregate { parents } => self.model.subtree(parents),
            },
            (s, _) => panic!("in-flight document {}: {s} {v}", doc.id),
        }
    }
}

const PRODUCER_TIN: &str = "7701000001";
const WHOLESALER_TIN: &str = "7701000002";
const REGULATOR_TIN: &str = "7701000003";

fn tin(w: Who) -> &'static str {
    match w {
        Who::Producer => PRODUCER_TIN,
        Who::Wholesaler => WHOLESALER_TIN,
    }
}

// ---- checks ----

/// Every code of every line: state as the model says (one query per 1000 codes).
fn check_states(client: &Client, regulator: &Actor, lines: &[Line]) {
    for line in lines {
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

/// Codes' histories (the documents that changed them) as the model says.
fn check_histories(base: &str, regulator: &Actor, line: &Line, codes: &[String]) {
    let client = Client::new(base).expect("client");
    for c in codes {
        let (s, v) = client
            .get(Some(regulator), &format!("/api/v1/codes/{c}"))
            .expect("GET code");
        assert_eq!(s, 200, "code {c}: {v}");
        let docs: Vec<&str> = v["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter_map(|e| e["document"].as_str())
            .collect();
        let m = &line.model.codes[c];
        assert_eq!(
            docs, m.history,
            "line {}: history of {c} differs from the documents applied to it",
            line.n
        );
        let kids: HashSet<&str> = v["children"]
            .as_array()
            .expect("children")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let want: HashSet<&str> = m.children.iter().map(String::as_str).collect();
        assert_eq!(kids, want, "line {}: children of {c}", line.n);
    }
}

/// One line's stored documents: each there, with the answer it gave; `(seq, chain)`.
fn fetch_documents(base: &str, regulator: &Actor, line: &Line) -> Vec<(u64, String)> {
    let client = Client::new(base).expect("client");
    let mut out = Vec::with_capacity(line.applied.len());
    for a in &line.applied {
        let (s, v) = client
            .get(Some(regulator), &format!("/api/v1/documents/{}", a.doc.id))
            .expect("GET document");
        assert_eq!(
            s, 200,
            "line {}: {} {} (acknowledged: {}) is gone after a restart: {v}",
            line.n, a.doc.kind, a.doc.id, a.acked
        );
        assert_eq!(
            v["seq"], a.answer["seq"],
            "{} {} moved in the log",
            a.doc.kind, a.doc.id
        );
        assert_eq!(v["codes"], a.answer["codes"]);
        assert_eq!(v["type"], a.doc.kind);
        let seq = v["seq"].as_u64().expect("seq");
        out.push((seq, v["chain"].as_str().expect("chain").to_string()));
    }
    out
}

/// Every stored document is there with its answer; the log counts them all, numbers them
/// 1..=N and ends at the last one's chain. Returns N.
fn check_log(base: &str, regulator: &Actor, lines: &[Line]) -> usize {
    let client = Client::new(base).expect("client");
    let (s, health) = client.get(None, "/health").expect("health");
    assert_eq!(s, 200);
    let total: usize = lines.iter().map(|l| l.applied.len()).sum();
    assert_eq!(
        health["documents"].as_u64(),
        Some(total as u64),
        "the log counts another number of documents than were stored: {health}"
    );
    let fetched: Vec<Vec<(u64, String)>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .iter()
            .map(|l| s.spawn(move || fetch_documents(base, regulator, l)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fetch"))
            .collect()
    });
    let mut by_seq: BTreeMap<u64, String> = BTreeMap::new();
    for (seq, chain) in fetched.into_iter().flatten() {
        assert!(
            by_seq.insert(seq, chain).is_none(),
            "sequence number {seq} twice"
        );
    }
    let seqs: Vec<u64> = by_seq.keys().copied().collect();
    assert_eq!(
        seqs,
        (1..=total as u64).collect::<Vec<_>>(),
        "the log has a gap"
    );
    if let Some((_, last)) = by_seq.last_key_value() {
        assert_eq!(
            health["chain_head"].as_str(),
            Some(last.as_str()),
            "chain head"
        );
    }
    total
}

/// Re-sends acknowledged documents: the same id and bytes give the same answer.
fn replay(base: &str, actors: &Actors, docs: &[&Applied]) {
    let client = Client::new(base).expect("client");
    for a in docs {
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
            "re-sent {} {} answered differently",
            a.doc.kind,
            a.doc.id
        );
    }
}

fn set_up(client: &Client) -> (Actors, Vec<String>) {
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
                "Crash Test Producer",
                &["producer"],
                "RU-MOW",
                &["4601234"],
            )
            .expect("register"),
        wholesaler: reg(WHOLESALER_TIN, "Crash Test Wholesaler", "wholesaler"),
        regulator: reg(REGULATOR_TIN, "Crash Test Inspectorate", "regulator"),
    };
    let g = gtin(460_123_456_789);
    let (s, v) = client
        .post_signed(
            &actors.producer,
            "/api/v1/products",
            &json!({"gtin": g, "name": "Crash test boots", "product_group": "shoes", "brand": "Test"}),
        )
        .expect("product");
    assert_eq!(s, 201, "product: {v}");
    let codes = client
        .order_codes(&actors.producer, &g, CODES as u32, "mac")
        .expect("order codes");
    assert_eq!(codes.len(), CODES);
    let codes = codes.iter().map(|c| id_code(c).to_string()).collect();
    (actors, codes)
}

#[test]
fn sigkill_mid_stream_loses_nothing_acknowledged_and_half_applies_nothing() {
    let t0 = Instant::now();
    let seed = std::env::var("TRACEMARK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("crash test: TRACEMARK_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tmp = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("TRACEMARK_CRASH_KEEP").is_some() {
        // Post-mortem: the data directory and the server log stay.
        tmp.disable_cleanup(true);
        println!("crash test: keeping {}", tmp.path().display());
    }
    let data = super::store_args(tmp.path());
    let log = tmp.path().join("server.log");
    // Every restart runs the same binary, even if a build in the shared target directory
    // replaces `target/debug/tracemark` meanwhile.
    let bin = tmp.path().join("tracemark");
    std::fs::copy(env!("CARGO_BIN_EXE_tracemark"), &bin).expect("copying the binary");

    let mut server = Server::start(&bin, &data, &log);
    // With a standby (`super::STANDBY`, a second process on the same database), a kill is
    // a failover: the standby takes the writer's lease and the lines go on with it, and a
    // new standby starts for the next round.
    let fault = super::fault();
    let mut standby =
        matches!(fault, Fault::Failover).then(|| Server::start_standby(&bin, &data, &log));
    let (actors, codes) = set_up(&Client::new(&server.base).expect("client"));
    let mut lines: Vec<Line> = codes
        .chunks(CODES / LINES)
        .enumerate()
        .map(|(n, c)| Line::new(n, c, seed))
        .collect();
    let mut delays: Vec<Duration> = KILL_DELAYS_MS
        .iter()
        .map(|&(lo, hi)| Duration::from_millis(rng.gen_range(lo..=hi)))
        .collect();
    delays.shuffle(&mut rng);
    println!(
        "crash test: set up in {:?}; kills after {delays:?}",
        t0.elapsed()
    );

    for (round, delay) in delays.iter().enumerate() {
        // Stream from every line, kill the server under them.
        let acked_before: usize = lines.iter().map(|l| l.stats.acked).sum();
        let stop = AtomicBool::new(false);
        let base = server.base.clone();
        std::thread::scope(|s| {
            for line in lines.iter_mut() {
                let client = Client::new(&base).expect("client");
                let (actors, stop) = (&actors, &stop);
                s.spawn(move || line.stream(&client, actors, stop));
            }
            std::thread::sleep(*delay);
            match &fault {
                Fault::Outage { stop, .. } => stop(),
                _ => server.kill(),
            }
        });
        let acked: usize = lines.iter().map(|l| l.stats.acked).sum::<usize>() - acked_before;
        assert!(
            lines.iter().all(|l| l.in_flight.is_some()),
            "every line had a document in flight at the kill"
        );

        // Restart on the same data, or fail over to the standby; find out what became of
        // the in-flight documents.
        let killed_at = Instant::now();
        if let Fault::Outage { start, .. } = &fault {
            outage_answers(&server, &actors, killed_at);
            start();
            server.wait_role(&log, "writer");
            println!(
                "crash test: the database back, the server writing again {:?} after the outage began",
                killed_at.elapsed()
            );
        }
        server = match standby.take() {
            Some(next) => {
                next.wait_role(&log, "writer");
                println!(
                    "crash test: the standby took over writing {:?} after the kill",
                    killed_at.elapsed()
                );
                standby = Some(Server::start_standby(&bin, &data, &log));
                next
            }
            None if matches!(fault, Fault::Outage { .. }) => server,
            None => Server::start(&bin, &data, &log),
        };
        let client = Client::new(&server.base).expect("client");
        // Histories checked closely: the in-flight document's codes, and the last
        // acknowledged one's.
        let close: Vec<Vec<String>> = lines
            .iter_mut()
            .map(|l| {
                let mut codes = l.resolve_in_flight(&client, &actors.regulator);
                if let Some(a) = l.applied.iter().rev().find(|a| a.acked) {
                    codes.extend(a.touched.iter().cloned());
                }
                codes
            })
            .collect();
        let stored: Vec<bool> = lines.iter().map(|l| l.in_flight_stored.is_some()).collect();
        let total = check_log(&server.base, &actors.regulator, &lines);
        check_states(&client, &actors.regulator, &lines);
        std::thread::scope(|s| {
            for (line, codes) in lines.iter().zip(&close) {
                let (base, regulator) = (&server.base, &actors.regulator);
                s.spawn(move || check_histories(base, regulator, line, codes));
            }
        });
        // Idempotency across the restart: the last few and a random few acknowledged.
        let mut sample: Vec<&Applied> = Vec::new();
        for l in &lines {
            let acked: Vec<&Applied> = l.applied.iter().filter(|a| a.acked).collect();
            sample.extend(acked.iter().rev().take(3));
            sample.extend(acked.choose_multiple(&mut rng, 5));
        }
        replay(&server.base, &actors, &sample);
        assert_eq!(check_log_count(&client), total, "re-sends added documents");
        println!(
            "crash test: round {round}: killed after {delay:?}, {acked} documents acknowledged, \
             in flight stored: {stored:?}; {total} documents in the log; t = {:?}",
            t0.elapsed()
        );
    }

    // The documents in flight at the last kill: re-sent, they give their stored answer or
    // are applied now, once.
    let client = Client::new(&server.base).expect("client");
    for line in &mut lines {
        let doc = line.in_flight.take().expect("in flight");
        let (s, v) = client
            .post_signed_bytes(actors.get(doc.by), "/api/v1/documents", doc.body.clone())
            .expect("re-send");
        assert_eq!(s, 201, "re-sent in-flight {} {}: {v}", doc.kind, doc.id);
        line.answered(doc, v, true);
    }
    // Everything acknowledged, re-sent once more: same answers, nothing added.
    std::thread::scope(|s| {
        for line in &lines {
            let all: Vec<&Applied> = line.applied.iter().collect();
            assert!(all.iter().all(|a| a.acked));
            let (base, actors) = (&server.base, &actors);
            s.spawn(move || replay(base, actors, &all));
        }
    });
    let total = check_log(&server.base, &actors.regulator, &lines);
    check_states(&client, &actors.regulator, &lines);
    std::thread::scope(|s| {
        for line in &lines {
            let (base, regulator) = (&server.base, &actors.regulator);
            let codes: Vec<String> = line.model.codes.keys().cloned().collect();
            s.spawn(move || check_histories(base, regulator, line, &codes));
        }
    });
    let stats: Vec<LineStats> = lines.iter().map(|l| l.stats).collect();
    let codes_total: usize = lines.iter().map(|l| l.model.codes.len()).sum();
    println!(
        "crash test: {} kills, {total} documents in the log, {codes_total} codes checked; \
         per line {stats:?}; {:?}",
        delays.len(),
        t0.elapsed()
    );
}

/// While the database is down: a change is answered 503 with `Retry-After`, and `/health`
/// says the store is unavailable (within a generous deadline: the probe runs in the
/// background); then waits out the rest of [`OUTAGE`].
fn outage_answers(server: &Server, actors: &Actors, began: Instant) {
    let client = Client::new(&server.base).expect("client");
    let started = Instant::now();
    let (s, v) = client
        .post_signed(
            &actors.producer,
            "/api/v1/products",
            &json!({"gtin": gtin(460_123_456_790), "name": "Outage boots", "product_group": "shoes"}),
        )
        .expect("a change while the database is down");
    assert_eq!(s, 503, "a change while the database is down: {v}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the refusal took {:?}",
        started.elapsed()
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http");
    let r = http
        .get(format!(
            "{}/api/v1/orders/00000000-0000-0000-0000-000000000000",
            server.base
        ))
        .bearer_auth(&actors.producer.token)
        .send()
        .expect("a read while the database is down");
    assert_eq!(r.status(), 503, "a read while the database is down");
    assert!(
        r.headers().contains_key("retry-after"),
        "503 without Retry-After"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = http
            .get(format!("{}/health", server.base))
            .send()
            .expect("health");
        if h.status() == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/health still says ok while the database is down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(OUTAGE.saturating_sub(began.elapsed()));
}

fn check_log_count(client: &Client) -> usize {
    let (_, h) = client.get(None, "/health").expect("health");
    h["documents"].as_u64().expect("documents") as usize
}
