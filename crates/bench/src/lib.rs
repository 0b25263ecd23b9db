//! `tracemark bench`: emission, document ingest and verification, in-process and over
//! HTTP, against the raw engine's own ceiling. Each figure is the median of `runs`
//! repetitions; run it in a release build (`cargo run --release -- bench`).

pub mod bench_analytics;
mod bench_control;
mod bench_epcis;
pub mod bench_postgres;
pub mod bench_scale;

use anyhow::{anyhow, bail, Context, Result};
use client::{gtin, Client};
use registry::{NewOrder, NewParticipant, NewProduct, Registry};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use types::model::{OrderStatus, Participant, Role};

/// Codes per document in the ingest benchmarks (the real system allows 30,000).
pub const DOC_CODES: usize = 1_000;

struct Sizes {
    emit_mac: u32,
    emit_sig: u32,
    ingest_codes: u32,
    verify_requests: u64,
    raw_puts: usize,
}

/// The machine a bench runs on: CPU, cores, memory, kernel, and the build's profile.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {} cores, {mem} memory, Linux {}, {} build",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        kernel.trim(),
        if cfg!(debug_assertions) {
            "DEBUG (figures meaningless: use --release)"
        } else {
            "release"
        }
    )
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("(min {} · max {})", human(lo), human(hi))
}

fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Every row [`report`] printed in this process, by name: its median (the PostgreSQL
/// section sets its rows beside the embedded ones).
static REPORTED: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());

/// The median [`report`] printed for the row `name`, if it did.
pub(crate) fn reported(name: &str) -> Option<f64> {
    REPORTED
        .lock()
        .ok()?
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
}

pub(crate) fn report(name: &str, unit: &str, runs: &[f64], target: &str) {
    if runs.is_empty() {
        return;
    }
    if let Ok(mut r) = REPORTED.lock() {
        r.push((name.to_string(), median(runs.to_vec())));
    }
    println!(
        "{name:<46} {:>10} {unit:<14} {:<34} {target}",
        human(median(runs.to_vec())),
        spread(runs)
    );
}

/// A registry in a temp dir with a producer and a product.
pub(crate) struct Bed {
    pub(crate) reg: Registry,
    pub(crate) producer: Participant,
    pub(crate) retailer: Participant,
    gtin: String,
    _dir: Scratch,
}

pub(crate) fn bed() -> Result<Bed> {
    bed_with(registry::tx::StateCache::capacity_from_env())
}

/// A bench's data directory: removed when the process ends, not when its bed is dropped
/// (the writer thread and fjall's workers may still hold it for a moment).
pub(crate) struct Scratch(std::path::PathBuf);

impl Scratch {
    /// A new scratch directory.
    pub(crate) fn new() -> Result<Scratch> {
        Ok(Scratch(tempfile::tempdir()?.keep()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        SCRATCH.lock().map(|mut v| v.push(self.0.clone())).ok();
    }
}

static SCRATCH: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes the data directories of dropped beds, once their threads had time to let go.
fn clean_scratch() {
    std::thread::sleep(Duration::from_millis(500));
    if let Ok(mut v) = SCRATCH.lock() {
        for d in v.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A bed whose writer caches at most `state_cache` states (0: every state is read from the
/// store, as for codes whose last document is long past).
fn bed_with(state_cache: usize) -> Result<Bed> {
    let dir = tempfile::tempdir()?;
    let clock = registry::system_clock();
    // Kept beside the store as `serve` keeps it: the audit's replay recomputes codes with it.
    let keyring = issuance::Keyring::generate(clock());
    let store = store_fjall::FjallStore::open_with_placement(
        dir.path(),
        store_fjall::Placement::new(keyring.serials().clone()),
    )
    .map_err(|e| anyhow!("{e}"))?;
    keyring
        .save(&dir.path().join("keys.json"))
        .map_err(|e| anyhow!("{e}"))?;
    let reg = Registry::open_with(Arc::new(store), keyring, clock, state_cache)
        .map_err(|e| anyhow!("{e}"))?;
    populate(reg, Scratch(dir.keep()))
}

/// A bed over `reg`, an empty registry (the producer, the retailer and the product
/// registered here); `dir` is its scratch directory.
pub(crate) fn populate(reg: Registry, dir: Scratch) -> Result<Bed> {
    let key = |seed: u8| {
        use base64::Engine;
        let k = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
    };
    let producer = reg
        .register_participant(NewParticipant {
            tin: "7700000001".into(),
            name: "Bench producer".into(),
            roles: vec![Role::Producer],
            public_key: key(1),
            region: "RU-MOW".into(),
            gs1_prefixes: vec!["0046501".into()],
        })
        .map_err(|e| anyhow!("{e}"))?;
    let retailer = reg
        .register_participant(NewParticipant {
            tin: "7700000002".into(),
            name: "Bench retailer".into(),
            roles: vec![Role::Retailer],
            public_key: key(2),
            region: "RU-MOW".into(),
            gs1_prefixes: Vec::new(),
        })
        .map_err(|e| anyhow!("{e}"))?;
    let g = gtin(4_650_117_240);
    reg.put_product(
        &producer,
        NewProduct {
            gtin: g.clone(),
            name: "Bench shoes".into(),
            product_group: "shoes".into(),
            brand: None,
            shelf_life_days: None,
            max_retail_price: None,
            attributes: None,
        },
    )
    .map_err(|e| anyhow!("{e}"))?;
    Ok(Bed {
        reg,
        producer,
        retailer,
        gtin: g,
        _dir: dir,
    })
}

impl Bed {
    /// Orders `n` codes and waits until they exist; returns codes/s of emission.
    pub(crate) fn emit(&self, n: u32, tail: &str) -> Result<(f64, uuid::Uuid)> {
        let t = Instant::now();
        let o = self
            .reg
            .create_order(
                &self.producer,
                NewOrder {
                    gtin: self.gtin.clone(),
                    quantity: n,
                    serial_type: types::model::SerialType::Operator,
                    serials: None,
                    tail: tail.into(),
                },
            )
            .map_err(|e| anyhow!("{e}"))?;
        loop {
            let o = self
                .reg
                .order(&self.producer, &o.id)
                .map_err(|e| anyhow!("{e}"))?;
            match o.status {
                OrderStatus::Ready => break,
                OrderStatus::Pending => std::thread::sleep(Duration::from_millis(2)),
                s => bail!("order ended {s:?}: {:?}", o.error),
            }
        }
        Ok((f64::from(n) / t.elapsed().as_secs_f64(), o.id))
    }

    pub(crate) fn codes(&self, order: &uuid::Uuid, n: u32) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(n as usize);
        let mut off = 0;
        while off < n {
            let page = self
                .reg
                .order_codes(&self.producer, order, off, 10_000)
                .map_err(|e| anyhow!("{e}"))?;
            off += page.codes.len() as u32;
            out.extend(page.codes);
            if page.next_offset.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Submits documents of `DOC_CODES` codes, `in_flight` at a time; code-events/s.
    pub(crate) fn ingest(&self, docs: Vec<Vec<u8>>, in_flight: usize) -> Result<f64> {
        self.ingest_as(&self.producer, docs, in_flight)
    }

    /// `codes` applied, then introduced, in documents of [`DOC_CODES`], 64 in flight:
    /// code-events/s of each.
    pub(crate) fn apply_and_introduce(&self, codes: &[String]) -> Result<(f64, f64)> {
        let apply = self.ingest(doc_bodies("apply", codes, json!({})), 64)?;
        let introduce = self.ingest(
            doc_bodies(
                "introduce",
                codes,
                json!({"production_date": "2026-11-01", "expiry_date": "2030-01-01"}),
            ),
            64,
        )?;
        Ok((apply, introduce))
    }

    /// [`Bed::ingest`] as `actor`.
    pub(crate) fn ingest_as(
        &self,
        actor: &Participant,
        docs: Vec<Vec<u8>>,
        in_flight: usize,
    ) -> Result<f64> {
        let total: usize = docs.len() * DOC_CODES;
        let (tx, rx) = std::sync::mpsc::channel::<registry::Result<registry::DocAnswer>>();
        let t = Instant::now();
        let mut pending = 0usize;
        let mut done = 0usize;
        let n = docs.len();
        let mut it = docs.into_iter();
        while done < n {
            while pending < in_flight {
                let Some(body) = it.next() else { break };
                let tx = tx.clone();
                self.reg
                    .submit_document_then(actor, body, Default::default(), move |r| {
                        let _ = tx.send(r);
                    })
                    .map_err(|e| anyhow!("{e}"))?;
                pending += 1;
            }
            let r = rx.recv()?;
            r.map_err(|e| anyhow!("document refused: {e}"))?;
            pending -= 1;
            done += 1;
        }
        Ok(total as f64 / t.elapsed().as_secs_f64())
    }
}

pub(crate) fn doc_bodies(kind: &str, codes: &[String], extra: serde_json::Value) -> Vec<Vec<u8>> {
    codes
        .chunks(DOC_CODES)
        .map(|c| {
            let ids: Vec<&str> = c.iter().map(|s| client::id_code(s)).collect();
            let mut d = json!({"id": uuid::Uuid::new_v4(), "type": kind, "codes": ids});
            if let (Some(o), Some(e)) = (d.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    o.insert(k.clone(), v.clone());
                }
            }
            serde_json::to_vec(&d).unwrap_or_default()
        })
        .collect()
}

fn raw_engine(n: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let db = fjall::Database::builder(dir.path()).open()?;
    let ks = db.keyspace("codes", fjall::KeyspaceCreateOptions::default)?;
    let ev = db.keyspace("events", fjall::KeyspaceCreateOptions::default)?;
    let t = Instant::now();
    let value = [7u8; types::model::CodeState::FIXED_LEN];
    let event = [9u8; types::model::CodeEvent::ENCODED_LEN];
    let mut i = 0u64;
    while (i as usize) < n {
        let mut b = db.batch().durability(Some(fjall::PersistMode::SyncAll));
        // Same keys and bytes as the registry writes (a state per code in key order, the
        // document's events in chunks): the engine at its best.
        let mut states = Vec::with_capacity(DOC_CODES);
        let mut events = Vec::with_capacity(DOC_CODES);
        let doc_seq = i / DOC_CODES as u64 + 1;
        for _ in 0..DOC_CODES {
            let h = blake3::hash(&i.to_le_bytes());
            let serial: Vec<u8> = h.as_bytes()[..13].iter().map(|b| b'A' + b % 26).collect();
            let key = types::model::CodeKey::unit(4_650_117_240_163, &serial);
            states.push(store_fjall::state_key(&key));
            events.push((doc_seq, key, 1, event));
            i += 1;
        }
        states.sort_unstable();
        for k in states {
            b.insert(&ks, k, value);
        }
        for (k, v) in store_fjall::event_chunks(events) {
            b.insert(&ev, k, v);
        }
        b.commit()?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// States in the raw state-read rows.
const STATE_READ_CODES: u64 = 500_000;

/// Reads a document's states from a placed fjall store of [`STATE_READ_CODES`] states of one
/// order: 1,000 consecutive codes in one `Store::codes` call (a dense run: one range scan)
/// and the same codes one call each (a point read each). States a second, (run, one by one).
fn raw_state_reads(docs: usize) -> Result<(f64, f64)> {
    use store::Store;
    use types::model::{CodeKey, CodeState, Status};
    let dir = tempfile::tempdir()?;
    let serials = issuance::SerialGenerator::new([5; 32]);
    let store = store_fjall::FjallStore::open_placed(
        dir.path(),
        false,
        Some(store_fjall::Placement::new(serials.clone())),
    )?;
    let len = issuance::SerialLen::new(13).map_err(|e| anyhow!("{e}"))?;
    let gtin = 4_650_117_240_163;
    let key = |c: u64| -> Result<CodeKey> {
        let s = serials.serial(gtin, c, len).map_err(|e| anyhow!("{e}"))?;
        Ok(CodeKey::unit(gtin, s.as_str().as_bytes()))
    };
    for first in (0..STATE_READ_CODES).step_by(DOC_CODES * 10) {
        let mut codes = Vec::with_capacity(DOC_CODES * 10);
        for c in first..(first + DOC_CODES as u64 * 10).min(STATE_READ_CODES) {
            codes.push((key(c)?, CodeState::new(Status::Applied, 1, 1_764_000_000)));
        }
        store.commit(&store::WriteSet {
            codes,
            ..store::WriteSet::default()
        })?;
    }
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut doc = || -> Result<Vec<CodeKey>> {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let first = x % (STATE_READ_CODES - DOC_CODES as u64);
        (first..first + DOC_CODES as u64).map(&key).collect()
    };
    let (mut run_s, mut one_s) = (0.0, 0.0);
    for _ in 0..docs {
        let keys = doc()?;
        let t = Instant::now();
        let got = store.codes(&keys)?;
        run_s += t.elapsed().as_secs_f64();
        if got.iter().any(Option::is_none) {
            bail!("a state is missing");
        }
        let keys = doc()?;
        let t = Instant::now();
        for k in &keys {
            store.codes(std::slice::from_ref(k))?;
        }
        one_s += t.elapsed().as_secs_f64();
    }
    let n = (docs * DOC_CODES) as f64;
    Ok((n / run_s, n / one_s))
}

/// Serves the bed's registry on a free loopback port as `serve` does (the nonce journal in
/// its data directory: every signed request's nonce durable before it is acted on);
/// returns the base URL.
fn serve(b: &Bed, rt: &tokio::runtime::Runtime) -> Result<String> {
    let config = server::Config {
        admin_token: "bench-admin".into(),
        token_key: [3; 32],
        public_rate: None,
        log_key: ed25519_dalek::SigningKey::from_bytes(&[4; 32]),
        log_origin: server::LOG_ORIGIN_DEFAULT.into(),
        decoder: node::decoder_program(),
        analytics: None,
        metrics_allow: server::METRICS_ALLOW_DEFAULT.to_vec(),
        // The bench measures the till check itself, not its per-participant limit.
        till_quota: None,
        public_url: None,
        nonce_journal: Some(b._dir.0.join("nonces")),
        nonce_store: None,
        role: None,
        reads: server::reads::ReadLimits::default(),
    };
    serve_registry(b.reg.clone(), config, rt, None)
}

/// Serves `reg` with `config` on a free loopback port, within the default serving limits,
/// until `stop` resolves (or for the process's life); returns the base URL.
pub(crate) fn serve_registry(
    reg: Registry,
    config: server::Config,
    rt: &tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<String> {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    match stop {
        None => drop(rt.spawn(node::serve(listener, reg, config))),
        Some(stop) => drop(rt.spawn(node::serve_until(
            listener,
            reg,
            config,
            server::serve::Limits::default(),
            async move {
                let _ = stop.await;
            },
        ))),
    }
    Ok(format!("http://{addr}"))
}

/// A small document's latency (apply, 10 codes) in ms, median: alone, and while 8 orders
/// of 100,000 codes are being produced (emission runs behind documents). On a bed of its
/// own, after the other measurements, so the extra codes do not weigh on them.
fn document_latency() -> Result<(f64, f64)> {
    let bed = bed()?;
    let (doc_idle, doc_busy);
    // A small document's latency (apply, 10 codes), alone and while 8 orders of 100,000
    // codes are being produced: emission runs behind documents.
    {
        let (_, o) = bed.emit(2_000, "mac")?;
        let small = bed.codes(&o, 2_000)?;
        let mut bodies = small.chunks(10).map(|c| {
            let ids: Vec<&str> = c.iter().map(|x| client::id_code(x)).collect();
            serde_json::to_vec(&json!({"id": uuid::Uuid::new_v4(), "type": "apply", "codes": ids}))
        });
        let mut one = || -> Result<f64> {
            let body = bodies.next().ok_or_else(|| anyhow!("out of codes"))??;
            let t = Instant::now();
            bed.reg
                .submit_document(&bed.producer, body, Default::default())
                .map_err(|e| anyhow!("{e}"))?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        };
        let idle: Vec<f64> = (0..40).map(|_| one()).collect::<Result<_>>()?;
        let mut big = Vec::new();
        for _ in 0..8 {
            let o = bed
                .reg
                .create_order(
                    &bed.producer,
                    NewOrder {
                        gtin: bed.gtin.clone(),
                        quantity: 100_000,
                        serial_type: types::model::SerialType::Operator,
                        serials: None,
                        tail: "mac".into(),
                    },
                )
                .map_err(|e| anyhow!("{e}"))?;
            big.push(o.id);
        }
        let busy: Vec<f64> = (0..40).map(|_| one()).collect::<Result<_>>()?;
        // The orders finish before the log is measured (the audit reads a still store).
        for id in big {
            while bed
                .reg
                .order(&bed.producer, &id)
                .map_err(|e| anyhow!("{e}"))?
                .status
                == OrderStatus::Pending
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        doc_idle = median(idle);
        doc_busy = median(busy);
    }
    Ok((doc_idle, doc_busy))
}

/// The trust layer's own costs, in-process: checking an RFC 9421 signature of a
/// 1,000-code document (digest of ~70 KB, Ed25519 verify) and appending to the log's tree.
fn trust_rows(runs: usize) -> Result<()> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let pk = key.verifying_key().to_bytes();
    let codes: Vec<String> = (0..DOC_CODES)
        .map(|i| format!("0104650117240163215{i:012}X"))
        .collect();
    let body =
        serde_json::to_vec(&json!({"id": uuid::Uuid::nil(), "type": "apply", "codes": codes}))?;
    let target = server::httpsig::Target {
        method: "POST",
        path: "/api/v1/documents",
        query: None,
    };
    let mut verified = Vec::new();
    let mut appended = Vec::new();
    for _ in 0..runs {
        let n = 2_000;
        let signed: Vec<_> = (0..n)
            .map(|i| {
                server::httpsig::sign(
                    &key,
                    "7700000001",
                    target,
                    &body,
                    1,
                    &format!("bench-nonce-{i:08}"),
                )
            })
            .collect();
        let t = Instant::now();
        for (digest, input, sig) in &signed {
            let i = server::httpsig::parse_input(input).map_err(|e| anyhow!("{e}"))?;
            let raw =
                server::httpsig::parse_signature(sig, &i.label).map_err(|e| anyhow!("{e}"))?;
            server::httpsig::check_digest(digest, &body).map_err(|e| anyhow!("{e}"))?;
            let base = server::httpsig::signature_base(target, digest, &i.params);
            server::httpsig::verify(&base, &raw, &[pk]).map_err(|e| anyhow!("{e}"))?;
        }
        verified.push(f64::from(n) / t.elapsed().as_secs_f64());
        let leaves = 1_000_000u64;
        let leaf = [7u8; 200];
        let mut f = tlog::Frontier::new();
        let mut out = Vec::with_capacity(4_096);
        let t = Instant::now();
        for _ in 0..leaves {
            out.clear();
            f.append(&leaf, &mut out)?;
        }
        appended.push(leaves as f64 / t.elapsed().as_secs_f64());
    }
    report(
        "RFC 9421 check of a 1,000-code document",
        "requests/s",
        &verified,
        "",
    );
    report(
        "log: leaves appended to the tree (200 B)",
        "leaves/s",
        &appended,
        "",
    );
    Ok(())
}

/// Builds the `i`-th request of a load run: its bytes on the wire ([`get_request`],
/// [`post_json_request`]).
pub(crate) type MakeRequest = Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>;

/// Connections of a load run per client address: within the server's share of requests
/// without sign-in per address (`server::serve::ANONYMOUS_PER_CLIENT_MAX`), as the phones
/// of a real load come from many addresses. On Linux each group of connections leaves from
/// its own loopback address (127.0.2.1, 127.0.2.2, …: all of 127.0.0.0/8 is local there).
const LOAD_CONNECTIONS_PER_ADDRESS: usize = 8;

/// Longest a load run's response may be (headers and body).
const LOAD_RESPONSE_MAX: usize = 1 << 20;

/// An HTTP/1.1 `GET` of `path` on `base` (`http://host:port`) asking for `accept`.
pub(crate) fn get_request(base: &str, path: &str, accept: &str) -> Vec<u8> {
    let host = base.trim_start_matches("http://");
    format!("GET {path} HTTP/1.1\r\nhost: {host}\r\naccept: {accept}\r\n\r\n").into_bytes()
}

/// An HTTP/1.1 `POST` of the JSON `body` to `path` on `base` with a bearer `token`.
pub(crate) fn post_json_request(base: &str, path: &str, token: &str, body: &[u8]) -> Vec<u8> {
    let host = base.trim_start_matches("http://");
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Reads one response from `conn` into `buf` (whatever follows it stays there): its status.
/// Bodies must come with `content-length` (the server's always do).
async fn read_response(conn: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Result<u16> {
    use tokio::io::AsyncReadExt;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = resp.parse(buf)? {
            let status = resp.code.unwrap_or(0);
            let mut length: Option<usize> = None;
            for h in resp.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.parse().ok());
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("a chunked response: the load generator reads content-length only");
                }
            }
            let total =
                head + length.ok_or_else(|| anyhow!("a response without content-length"))?;
            if total > LOAD_RESPONSE_MAX {
                bail!("a response of {total} bytes");
            }
            while buf.len() < total {
                if conn.read_buf(buf).await? == 0 {
                    bail!("the server closed the connection");
                }
            }
            buf.drain(..total);
            return Ok(status);
        }
        if buf.len() > LOAD_RESPONSE_MAX {
            bail!("a response's headers past {LOAD_RESPONSE_MAX} bytes");
        }
        if conn.read_buf(buf).await? == 0 {
            bail!("the server closed the connection");
        }
    }
}

/// Closed-loop HTTP load on `base` (`http://127.0.0.1:port`): `concurrency` keep-alive
/// connections each sending requests made by `req` until `total` are done; every answer
/// must be a 2xx. Returns (requests/s, p50 ms, p99 ms).
///
/// The generator runs on the same cores as the server it measures, so it is as lean as a
/// load generator can be (what `wrk` does): each request's bytes written, the response's
/// head parsed with `httparse` and its body skipped by length, one connection per task
/// and no client library's pool, URL parsing or header maps in between.
pub(crate) fn http_load(
    rt: &tokio::runtime::Runtime,
    base: &str,
    concurrency: usize,
    total: u64,
    req: MakeRequest,
) -> Result<(f64, f64, f64)> {
    let windows = Arc::new(Windows::new(Duration::MAX));
    let secs = load(
        rt,
        base,
        &LoadSpec {
            concurrency,
            stop: LoadStop::Requests(total),
            pace: None,
            source: 2,
        },
        req,
        &windows,
    )?;
    let all = windows.total();
    if let Some(e) = all.first_error {
        bail!("{e}");
    }
    Ok((total as f64 / secs, all.p(0.5), all.p(0.99)))
}

/// When a load run ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LoadStop {
    /// After this many requests (answered or failed).
    Requests(u64),
    /// At this instant (requests in flight then are finished and counted).
    At(Instant),
}

/// A load run's shape.
#[derive(Clone, Debug)]
pub(crate) struct LoadSpec {
    /// Connections, each one request at a time.
    pub(crate) concurrency: usize,
    /// When it ends.
    pub(crate) stop: LoadStop,
    /// At most one request per connection each `pace` (`None`: closed loop, as fast as
    /// answers come).
    pub(crate) pace: Option<Duration>,
    /// The third byte of the loopback addresses the connections leave from (127.0.S.x):
    /// two loads running at once are told apart as two crowds of clients.
    pub(crate) source: u8,
}

/// The answers of a load run in windows of time (one window when its width is
/// `Duration::MAX`): each connection adds its counts and latencies to the window of the
/// moment it got them when it passes into the next window, and at its end, so a window is
/// complete a moment after it closed (a closed loop's next answer, a paced one's next tick).
pub(crate) struct Windows {
    start: Instant,
    width: Duration,
    done: std::sync::Mutex<Vec<Window>>,
}

/// One window's answers.
#[derive(Clone)]
pub(crate) struct Window {
    /// 2xx answers.
    pub(crate) ok: u64,
    /// Other answers and failed connections.
    pub(crate) errors: u64,
    /// The first error's words.
    pub(crate) first_error: Option<String>,
    /// Latencies of the 2xx answers, µs.
    pub(crate) hist: hdrhistogram::Histogram<u64>,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            ok: 0,
            errors: 0,
            first_error: None,
            hist: hdrhistogram::Histogram::<u64>::new(3).expect("histogram"),
        }
    }
}

impl Window {
    /// Adds `other`'s answers to these.
    pub(crate) fn add(&mut self, other: &Window) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        let _ = self.hist.add(&other.hist);
    }

    /// The latency at quantile `q`, ms (0 without answers).
    pub(crate) fn p(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

impl Windows {
    /// Windows of `width` from now.
    pub(crate) fn new(width: Duration) -> Windows {
        Windows {
            start: Instant::now(),
            width,
            done: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The window of the instant `t`.
    fn index(&self, t: Instant) -> usize {
        let e = t.saturating_duration_since(self.start);
        if self.width == Duration::MAX {
            return 0;
        }
        (e.as_nanos() / self.width.as_nanos().max(1)) as usize
    }

    fn merge(&self, i: usize, w: &Window) {
        if let Ok(mut d) = self.done.lock() {
            if d.len() <= i {
                d.resize_with(i + 1, Window::default);
            }
            d[i].add(w);
        }
    }

    /// The `i`-th window as its connections have reported it so far.
    pub(crate) fn window(&self, i: usize) -> Window {
        self.done
            .lock()
            .ok()
            .and_then(|d| d.get(i).cloned())
            .unwrap_or_default()
    }

    /// Every window together.
    pub(crate) fn total(&self) -> Window {
        let mut all = Window::default();
        if let Ok(d) = self.done.lock() {
            for w in d.iter() {
                all.add(w);
            }
        }
        all
    }
}

/// Runs the load `spec` on `base` with requests made by `req`, its answers into `windows`;
/// returns its duration in seconds. Answers other than 2xx and broken connections are
/// counted as errors (a broken connection is opened again after 50 ms), never retried.
pub(crate) fn load(
    rt: &tokio::runtime::Runtime,
    base: &str,
    spec: &LoadSpec,
    req: MakeRequest,
    windows: &Arc<Windows>,
) -> Result<f64> {
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| anyhow!("the load's address {base}: {e}"))?;
    let next = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..spec.concurrency {
            let (next, req, spec, windows) =
                (next.clone(), req.clone(), spec.clone(), windows.clone());
            tasks.push(tokio::spawn(async move {
                connection(addr, i, &spec, &next, &req, &windows).await
            }));
        }
        for t in tasks {
            t.await.map_err(|e| anyhow!("{e}"))?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(t.elapsed().as_secs_f64())
}

/// Opens connection `i` of a load from its loopback address (127.0.S.x, eight
/// connections per address).
async fn connect(
    addr: std::net::SocketAddr,
    i: usize,
    source: u8,
) -> Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    #[cfg(target_os = "linux")]
    socket.bind(std::net::SocketAddr::from((
        [
            127,
            0,
            source,
            1 + ((i / LOAD_CONNECTIONS_PER_ADDRESS) % 250) as u8,
        ],
        0,
    )))?;
    #[cfg(not(target_os = "linux"))]
    let _ = (i, source);
    let conn = socket.connect(addr).await?;
    conn.set_nodelay(true)?;
    Ok(conn)
}

/// One connection of a load: requests until the load ends, answers into `windows`.
async fn connection(
    addr: std::net::SocketAddr,
    i: usize,
    spec: &LoadSpec,
    next: &AtomicU64,
    req: &MakeRequest,
    windows: &Windows,
) {
    use tokio::io::AsyncWriteExt;
    let mut conn: Option<tokio::net::TcpStream> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut current = Window::default();
    let mut at = windows.index(Instant::now());
    let mut due = Instant::now();
    loop {
        let n = match spec.stop {
            LoadStop::Requests(total) => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                n
            }
            LoadStop::At(end) => {
                if Instant::now() >= end {
                    break;
                }
                next.fetch_add(1, Ordering::Relaxed)
            }
        };
        if let Some(pace) = spec.pace {
            // Never in bursts to catch up: a slow answer delays the next request.
            tokio::time::sleep_until(due.into()).await;
            due = due.max(Instant::now()) + pace;
        }
        let s = Instant::now();
        let outcome: Result<u16> = async {
            if conn.is_none() {
                conn = Some(connect(addr, i, spec.source).await?);
            }
            let c = conn.as_mut().ok_or_else(|| anyhow!("no connection"))?;
            c.write_all(&req(n)).await?;
            read_response(c, &mut buf).await
        }
        .await;
        let done = Instant::now();
        let w = windows.index(done);
        if w != at {
            windows.merge(at, &current);
            current = Window::default();
            at = w;
        }
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                current.ok += 1;
                let _ = current
                    .hist
                    .record(done.duration_since(s).as_micros() as u64);
            }
            Ok(status) => {
                current.errors += 1;
                current
                    .first_error
                    .get_or_insert_with(|| format!("HTTP {status}"));
            }
            Err(e) => {
                current.errors += 1;
                current.first_error.get_or_insert_with(|| e.to_string());
                conn = None;
                buf.clear();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    windows.merge(at, &current);
}
/// The parts `--only` chooses, in the order the suite runs them.
pub const PARTS: &[&str] = &[
    "raw",
    "trust",
    "consumer",
    "control",
    "analytics",
    "export",
    "epcis",
    "emit",
    "ingest",
    "http",
    "capture",
];

/// Runs the suite and prints its figures; then, for each URL of `postgres` (a PostgreSQL
/// server or a Citus coordinator), the parts that run there too
/// ([`crate::bench_postgres::PARTS`]), beside the embedded figures.
pub fn run(quick: bool, runs: usize, only: Option<&str>, postgres: &[String]) -> Result<()> {
    let r = run_suite(quick, runs, only).and_then(|()| {
        if postgres.is_empty() {
            return Ok(());
        }
        let want = |part: &str| only.is_none_or(|o| o == part);
        if !crate::bench_postgres::PARTS.iter().any(|p| want(p)) {
            println!(
                "
(--postgres: the part {only:?} runs on the embedded store only)"
            );
            return Ok(());
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        for url in postgres {
            crate::bench_postgres::rows(url, quick, runs, &want, &rt)?;
        }
        Ok(())
    });
    clean_scratch();
    r
}

fn run_suite(quick: bool, runs: usize, only: Option<&str>) -> Result<()> {
    let want = |part: &str| {
        debug_assert!(PARTS.contains(&part), "{part} is missing from PARTS");
        only.is_none_or(|o| o == part)
    };
    let s = if quick {
        Sizes {
            emit_mac: 100_000,
            emit_sig: 10_000,
            ingest_codes: 50_000,
            verify_requests: 20_000,
            raw_puts: 100_000,
        }
    } else {
        Sizes {
            emit_mac: 1_000_000,
            emit_sig: 100_000,
            ingest_codes: 200_000,
            verify_requests: 100_000,
            raw_puts: 500_000,
        }
    };
    println!("tracemark bench — {}", machine());
    println!("median of {runs} runs; documents of {DOC_CODES} codes; every commit fsynced before the answer\n");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let mut raw = Vec::new();
    if want("raw") {
        for _ in 0..runs {
            raw.push(raw_engine(s.raw_puts)?);
        }
        report(
            "raw engine: fjall batches of 1,000 (states+events)",
            "codes/s",
            &raw,
            "(the ceiling)",
        );
        let (mut run, mut one) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (r, o) = raw_state_reads(if quick { 50 } else { 400 })?;
            run.push(r);
            one.push(o);
        }
        report(
            "state reads: a document's 1,000 codes at once",
            "states/s",
            &run,
            "(one range scan a dense run)",
        );
        report(
            "state reads: the same codes one by one",
            "states/s",
            &one,
            "(a point read each)",
        );
    }
    if want("trust") {
        trust_rows(runs)?;
    }
    if want("consumer") {
        consumer_rows(runs, &rt)?;
    }
    if want("control") {
        crate::bench_control::rows(quick, runs)?;
    }
    if want("analytics") {
        crate::bench_analytics::rows(quick)?;
    }
    if want("export") {
        crate::bench_control::export_rows(quick, runs)?;
    }
    if want("epcis") {
        crate::bench_epcis::rows(quick, runs)?;
    }
    if want("capture") {
        crate::bench_epcis::capture_rows(quick, runs)?;
    }
    if !(want("emit") || want("ingest") || want("http")) {
        return Ok(());
    }

    let mut emit_mac = Vec::new();
    let mut emit_sig = Vec::new();
    let mut apply = Vec::new();
    let mut introduce = Vec::new();
    let mut apply_cold = Vec::new();
    let mut verify_inproc = Vec::new();
    let mut proofs = Vec::new();
    let (mut doc_idle, mut doc_busy) = (Vec::new(), Vec::new());
    let mut audit_rate = Vec::new();
    let mut audit_state_rate = Vec::new();
    let mut http_ingest = Vec::new();
    let mut verify_http = Vec::new();
    let mut pos_http = Vec::new();
    let (mut p50v, mut p99v, mut p50p, mut p99p) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let b = bed()?;
        let (rate, order) = b.emit(s.emit_mac, "mac")?;
        emit_mac.push(rate);
        emit_sig.push(b.emit(s.emit_sig, "signature")?.0);
        if only == Some("emit") {
            continue;
        }
        let codes = b.codes(&order, s.ingest_codes.min(s.emit_mac))?;
        let (a, i) = b.apply_and_introduce(&codes)?;
        apply.push(a);
        introduce.push(i);
        {
            // The same, every state read from the store (no writer cache): codes whose
            // previous document is long past.
            let cold = bed_with(0)?;
            let (_, order) = cold.emit(s.emit_mac, "mac")?;
            let codes = cold.codes(&order, s.ingest_codes.min(s.emit_mac))?;
            apply_cold.push(cold.ingest(doc_bodies("apply", &codes, json!({})), 64)?);
        }

        // In-process verification, two threads over random introduced codes.
        let n = s.verify_requests;
        let t = Instant::now();
        std::thread::scope(|sc| {
            for th in 0..2u64 {
                let reg = b.reg.clone();
                let codes = &codes;
                sc.spawn(move || {
                    for i in 0..n / 2 {
                        let c = &codes[((i * 7919 + th * 104_729) % codes.len() as u64) as usize];
                        let _ = reg.verify(c);
                    }
                });
            }
        });
        verify_inproc.push(n as f64 / t.elapsed().as_secs_f64());
        // The transparency log over what this run wrote: inclusion proofs from the store,
        // and a full audit (every leaf rehashed, every document checked).
        let size = b.reg.log_size().map_err(|e| anyhow!("{e}"))?;
        let t = Instant::now();
        let asked = 20_000u64;
        for i in 0..asked {
            b.reg
                .log_inclusion((i * 7919) % size, size)
                .map_err(|e| anyhow!("{e}"))?;
        }
        proofs.push(asked as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let r = audit::audit(&**b.reg.store(), None)?;
        if !r.problems.is_empty() {
            bail!("audit of the bench store: {:?}", r.problems);
        }
        audit_rate.push(r.leaves as f64 / t.elapsed().as_secs_f64());
        // The audit's state proof: the whole log replayed through the rules into a scratch
        // store, and every code, counter and record compared with the stored ones.
        {
            let scratch = tempfile::tempdir()?;
            let replayed = store_fjall::FjallStore::open_with(scratch.path(), false)
                .map_err(|e| anyhow!("{e}"))?;
            let keyring =
                issuance::Keyring::load(&b._dir.0.join("keys.json")).map_err(|e| anyhow!("{e}"))?;
            let mut r = audit::Report::default();
            let t = Instant::now();
            let st = audit::audit_state(&**b.reg.store(), &replayed, keyring, &mut r)?;
            if !r.problems.is_empty() {
                bail!("state audit of the bench store: {:?}", r.problems);
            }
            audit_state_rate.push(st.codes as f64 / t.elapsed().as_secs_f64());
        }
        if !want("http") {
            eprintln!("bench: run {} of {runs} done", run + 1);
            continue;
        }

        // Over HTTP: the same registry served on loopback.
        let base = serve(&b, &rt)?;
        let client = Client::new(&base)?;
        let producer = client
            .sign_in(
                "7700000001",
                ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
            )
            .context("bench sign-in")?;
        let retailer_key = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
        let retailer = client.sign_in("7700000002", retailer_key)?;
        let _ = &b.retailer;
        let (_, o2) = b.emit(s.ingest_codes, "mac")?;
        let codes2 = b.codes(&o2, s.ingest_codes)?;
        let bodies = doc_bodies("apply", &codes2, json!({}));
        let t = Instant::now();
        let queue = Arc::new(std::sync::Mutex::new(bodies));
        std::thread::scope(|sc| -> Result<()> {
            let mut hs = Vec::new();
            for _ in 0..8 {
                let queue = queue.clone();
                let client = client.clone();
                let producer = &producer;
                hs.push(sc.spawn(move || -> Result<()> {
                    loop {
                        let Some(body) = queue.lock().map_err(|_| anyhow!("poisoned"))?.pop()
                        else {
                            return Ok(());
                        };
                        let (st, v) =
                            client.post_signed_bytes(producer, "/api/v1/documents", body)?;
                        if st != 201 {
                            bail!("HTTP ingest: {st} {v}");
                        }
                    }
                }));
            }
            for h in hs {
                h.join().map_err(|_| anyhow!("thread panicked"))??;
            }
            Ok(())
        })?;
        http_ingest.push(codes2.len() as f64 / t.elapsed().as_secs_f64());

        let ids: Arc<Vec<String>> = Arc::new(codes.iter().map(|c| demo::digital_link(c)).collect());
        let verify_base = base.clone();
        let v_ids = ids.clone();
        let (rps, p50, p99) = http_load(
            &rt,
            &base,
            64,
            s.verify_requests,
            Arc::new(move |i| {
                let path = &v_ids[((i * 7919) % v_ids.len() as u64) as usize];
                get_request(&verify_base, path, "application/json")
            }),
        )?;
        verify_http.push(rps);
        p50v.push(p50);
        p99v.push(p99);
        // Till checks: the retailer does not own these codes, so the answer lists reasons;
        // the work (parse, look-up, tail check, rules) is the same.
        let token = retailer.token.clone();
        let full: Arc<Vec<String>> = Arc::new(codes.clone());
        let pos_base = base.clone();
        let (rps, p50, p99) = http_load(
            &rt,
            &base,
            64,
            s.verify_requests,
            Arc::new(move |i| {
                let code = &full[((i * 7919) % full.len() as u64) as usize];
                let body = serde_json::to_vec(&json!({"codes": [code]})).expect("JSON");
                post_json_request(&pos_base, "/api/v1/pos/check", &token, &body)
            }),
        )?;
        pos_http.push(rps);
        p50p.push(p50);
        p99p.push(p99);
        eprintln!("bench: run {} of {runs} done", run + 1);
    }
    if want("ingest") {
        for _ in 0..runs {
            let (idle, busy) = document_latency()?;
            doc_idle.push(idle);
            doc_busy.push(busy);
        }
    }
    report(
        "emission, MAC tails (order → codes stored)",
        "codes/s",
        &emit_mac,
        "target ≥ 1 M/s",
    );
    report(
        "emission, signature tails",
        "codes/s",
        &emit_sig,
        "target ≥ 40 k/s per core",
    );
    report(
        "ingest in-process: apply",
        "code-events/s",
        &apply,
        "target ≥ 300 k/s",
    );
    report(
        "ingest in-process: introduce",
        "code-events/s",
        &introduce,
        "target ≥ 300 k/s",
    );
    report(
        "ingest in-process: apply, states not cached",
        "code-events/s",
        &apply_cold,
        "target ≥ 300 k/s",
    );
    report(
        "ingest over HTTP: apply, 8 clients",
        "code-events/s",
        &http_ingest,
        "target ≥ 300 k/s",
    );
    report(
        "verify in-process, 2 threads",
        "verifies/s",
        &verify_inproc,
        "",
    );
    if !doc_idle.is_empty() {
        println!(
            "{:<46} {:>10} ms p50 alone, {:.2} ms while 8 orders of 100,000 codes are made (median)",
            "document of 10 codes, latency",
            format!("{:.2}", median(doc_idle)),
            median(doc_busy)
        );
    }
    report(
        "log: inclusion proof from the store, 1 thread",
        "proofs/s",
        &proofs,
        "",
    );
    report(
        "audit: leaves rehashed and records checked",
        "leaves/s",
        &audit_rate,
        "",
    );
    report(
        "audit: the state proved (log replayed through the rules, every code compared)",
        "codes/s",
        &audit_state_rate,
        "",
    );
    report(
        "verify over HTTP (Digital Link, JSON), 64 conns",
        "requests/s",
        &verify_http,
        "target ≥ 20 k/s, goal 50 k/s",
    );
    if !p50v.is_empty() {
        println!(
            "{:<46} {:>10} ms p50, {:.2} ms p99 (median)",
            "  latency",
            format!("{:.2}", median(p50v)),
            median(p99v)
        );
    }
    report(
        "till check over HTTP (1 code), 64 conns",
        "requests/s",
        &pos_http,
        "target ≥ 20 k/s, goal 50 k/s",
    );
    if !p50p.is_empty() {
        println!(
            "{:<46} {:>10} ms p50, {:.2} ms p99 (median)",
            "  latency",
            format!("{:.2}", median(p50p)),
            median(p99p)
        );
    }
    if !raw.is_empty() && !http_ingest.is_empty() {
        println!(
            "\ningest / raw engine: {:.2} (in-process apply), {:.2} (HTTP) — target ≥ 0.33",
            median(apply.clone()) / median(raw.clone()),
            median(http_ingest) / median(raw)
        );
    }
    println!("note: the HTTP load generator runs on the same 2 cores as the server.");
    Ok(())
}

/// A camera-like picture: the label `png` pasted on a mid-grey `w` × `h` frame, JPEG at
/// quality 80 (what a phone's page sends from its canvas).
fn frame_with(png: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let label = image::load_from_memory(png)?.to_luma8();
    let mut frame = image::GrayImage::from_pixel(w, h, image::Luma([150u8]));
    let (x, y) = (
        w.saturating_sub(label.width()) / 2,
        h.saturating_sub(label.height()) / 2,
    );
    image::imageops::overlay(&mut frame, &label, i64::from(x), i64::from(y));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&frame)?;
    Ok(out)
}

/// The consumer's side: labels printed, photos read, images verified over HTTP,
/// complaints recorded.
fn consumer_rows(runs: usize, rt: &tokio::runtime::Runtime) -> Result<()> {
    let b = bed()?;
    let (_, order) = b.emit(2_000, "signature")?;
    let codes = b.codes(&order, 2_000)?;
    let ids: Vec<&str> = codes.iter().map(|c| client::id_code(c)).collect();
    for body in [
        json!({"id": uuid::Uuid::new_v4(), "type": "apply", "codes": ids}),
        json!({"id": uuid::Uuid::new_v4(), "type": "introduce", "codes": ids, "production_date": "2026-11-01"}),
    ] {
        b.reg
            .submit_document(&b.producer, serde_json::to_vec(&body)?, Default::default())
            .map_err(|e| anyhow!("{e}"))?;
    }
    let (mut dm_png, mut qr_png, mut sheet) = (Vec::new(), Vec::new(), Vec::new());
    let (mut clean, mut frame, mut photo) = (Vec::new(), Vec::new(), Vec::new());
    let (mut http_p50, mut http_p99, mut complaint_p50) = (Vec::new(), Vec::new(), Vec::new());
    let label = labels::render::png(&labels::symbol::data_matrix(&codes[0])?, 4)?;
    let cam = frame_with(&label, 640, 480)?;
    let big_label = labels::render::png(&labels::symbol::data_matrix(&codes[1])?, 16)?;
    let big = frame_with(&big_label, 4000, 3000)?;
    let base = serve(&b, rt)?;
    let http = reqwest::blocking::Client::new();
    let limits = labels::decode::Limits::default();
    let ms = |t: Instant, n: usize| t.elapsed().as_secs_f64() * 1e3 / n as f64;
    for _ in 0..runs {
        let t = Instant::now();
        for c in &codes[..500] {
            labels::render::png(&labels::symbol::data_matrix(c)?, 4)?;
        }
        dm_png.push(500.0 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for c in &codes[..500] {
            labels::render::png(
                &labels::symbol::digital_link_qr(c, "https://id.example")?,
                4,
            )?;
        }
        qr_png.push(500.0 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        labels::sheet::pdf("bench", &codes, &labels::sheet::Layout::default())?;
        sheet.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        for _ in 0..20 {
            labels::decode::decode(&label, &limits)?;
        }
        clean.push(ms(t, 20) * 1e3);
        let t = Instant::now();
        for _ in 0..20 {
            labels::decode::decode(&cam, &limits)?;
        }
        frame.push(ms(t, 20));
        let t = Instant::now();
        for _ in 0..3 {
            labels::decode::decode(&big, &limits)?;
        }
        photo.push(ms(t, 3));
        // Over HTTP, one camera frame after another, paced as a phone's page sends them
        // (4 a second: under the per-address limit of 5).
        let mut lat = Vec::new();
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(250));
            let t = Instant::now();
            let r = http
                .post(format!("{base}/api/v1/verify/image"))
                .header("content-type", "image/jpeg")
                .body(cam.clone())
                .send()?;
            if r.status() != 200 {
                bail!("verify/image: {}", r.status());
            }
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        http_p50.push(lat[lat.len() / 2]);
        http_p99.push(lat[lat.len() * 99 / 100]);
        let mut lat = Vec::new();
        for (i, c) in codes.iter().take(50).enumerate() {
            let req = types::complaints::NewComplaint {
                code: Some(c.clone()),
                kind: "counterfeit".into(),
                text: "bench complaint".into(),
                shop: None,
                location: None,
                photo: None,
            };
            let t = Instant::now();
            b.reg
                .complain(
                    req,
                    "bench".into(),
                    registry::tailguard::Checker::Public(i as u64),
                )
                .map_err(|e| anyhow!("{e}"))?;
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        complaint_p50.push(median(lat));
    }
    report(
        "label: Data Matrix PNG (signature tail)",
        "labels/s",
        &dm_png,
        "",
    );
    report("label: Digital Link QR PNG", "labels/s", &qr_png, "");
    report(
        "label sheet: PDF of 2,000 labels (50 pages)",
        "ms",
        &sheet,
        "",
    );
    report("scan: decode a clean label PNG", "µs", &clean, "");
    report(
        "scan: decode a 640×480 camera frame (JPEG)",
        "ms",
        &frame,
        "",
    );
    report("scan: decode a 12-Mpx photo (JPEG)", "ms", &photo, "");
    report("POST /api/v1/verify/image frame, p50", "ms", &http_p50, "");
    report("POST /api/v1/verify/image frame, p99", "ms", &http_p99, "");
    report(
        "complaint recorded (durable, logged), p50",
        "µs",
        &complaint_p50,
        "",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers each request with `answers` in turn, each written in two
    /// pieces (a client must read across them), and closes after the last.
    async fn pieces_server(answers: Vec<&'static str>) -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.expect("accept");
            let mut buf = [0u8; 4096];
            for a in answers {
                let _ = s.read(&mut buf).await.expect("read");
                let (x, y) = a.split_at(a.len() / 2);
                s.write_all(x.as_bytes()).await.expect("write");
                s.flush().await.expect("flush");
                tokio::task::yield_now().await;
                s.write_all(y.as_bytes()).await.expect("write");
            }
        });
        addr
    }

    #[tokio::test]
    async fn the_load_generator_reads_responses_by_length() {
        let addr = pieces_server(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ])
        .await;
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut buf = Vec::new();
        let base = format!("http://{addr}");
        for (want, req) in [
            (200, get_request(&base, "/a", "application/json")),
            (404, post_json_request(&base, "/b", "t", b"{}")),
        ] {
            c.write_all(&req).await.expect("send");
            assert_eq!(read_response(&mut c, &mut buf).await.expect("read"), want);
            assert!(buf.is_empty(), "nothing left over: {buf:?}");
        }
        c.write_all(&get_request(&base, "/c", "*/*"))
            .await
            .expect("send");
        let e = read_response(&mut c, &mut buf).await.expect_err("chunked");
        assert!(e.to_string().contains("chunked"), "{e}");
    }

    #[test]
    fn the_load_generator_counts_errors_instead_of_stopping() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = rt.block_on(pieces_server(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
        ]));
        let base = format!("http://{addr}");
        let b = base.clone();
        let windows = Arc::new(Windows::new(Duration::MAX));
        load(
            &rt,
            &base,
            &LoadSpec {
                concurrency: 1,
                stop: LoadStop::Requests(3),
                pace: Some(Duration::from_millis(5)),
                source: 2,
            },
            Arc::new(move |_| get_request(&b, "/x", "*/*")),
            &windows,
        )
        .expect("load");
        let w = windows.total();
        assert_eq!((w.ok, w.errors), (2, 1));
        assert_eq!(w.first_error.as_deref(), Some("HTTP 503"));
        assert_eq!(w.hist.len(), 2);
        assert!(w.p(1.0) >= w.p(0.5));
    }

    #[test]
    fn requests_are_well_formed() {
        let r = post_json_request(
            "http://127.0.0.1:9",
            "/api/v1/pos/check",
            "tok",
            b"{\"a\":1}",
        );
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut headers);
        let head = match req.parse(&r).expect("parse") {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("partial"),
        };
        assert_eq!(req.method, Some("POST"));
        assert_eq!(req.path, Some("/api/v1/pos/check"));
        assert_eq!(&r[head..], b"{\"a\":1}");
        assert!(req
            .headers
            .iter()
            .any(|h| h.name == "authorization" && h.value == b"Bearer tok"));
    }
}
