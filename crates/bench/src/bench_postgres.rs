//! `tracemark bench --postgres URL`: the engine's ceiling, emission, ingest, verify and the
//! till check, and the bytes per code, on PostgreSQL or a Citus coordinator, beside the
//! embedded figures.
//!
//! Each run works in a schema of its own on the server of `URL` (created, then dropped:
//! the database is left as it was found). The registry runs in this process over the
//! database, as `serve --postgres URL` runs it: it takes the writer's lease and fences
//! every commit with it. For the reader's figures a second registry over the same schema
//! (its own connections, its own lease loop, which finds the lease held) is served too.
//! Every commit is durable as the server is configured; the section's header prints
//! `synchronous_commit` and the other settings that matter.

use crate::{
    get_request, http_load, median, populate, post_json_request, report, reported, serve_registry,
    Bed, Scratch,
};
use anyhow::{anyhow, bail, Result};
use client::Client;
use node::Home;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use store_postgres::{Engine, PgStore};

/// The six largest of `tables` (name, bytes; largest first, as `PgStore::table_bytes`
/// answers them), for a report: "code_events 9166.2 MB, …".
pub(crate) fn largest_tables(tables: &[(String, u64)]) -> String {
    let top: Vec<String> = tables
        .iter()
        .take(6)
        .map(|(t, b)| format!("{t} {:.1} MB", *b as f64 / 1e6))
        .collect();
    top.join(", ")
}

/// The parts of the suite that run on PostgreSQL too.
pub const PARTS: &[&str] = &["raw", "emit", "ingest", "http"];

/// Transactions' sizes of the engine's ceiling, in codes: a lone 1,000-code document per
/// commit (as the embedded raw row), and ten documents per group commit (what the writer
/// takes when documents wait while it commits).
const CEILING_BATCHES: [u64; 2] = [1_000, 10_000];

/// The server settings the header prints.
const SETTINGS: &[&str] = &[
    "server_version",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_compression",
    "shared_buffers",
    "wal_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "citus.shard_count",
];

/// Sizes of a run (codes, requests).
struct Sizes {
    raw: u64,
    emit: u32,
    ingest: u32,
    requests: u64,
}

/// Medians' inputs, one value per run.
#[derive(Default)]
struct Figures {
    raw: Vec<Vec<f64>>,
    emit: Vec<f64>,
    apply: Vec<f64>,
    introduce: Vec<f64>,
    batch_codes: Vec<f64>,
    commit_share: Vec<f64>,
    bytes_per_code: Vec<f64>,
    /// (req/s, p50, p99) of verify and the till check, on the writer and on the reader.
    http: [[Vec<f64>; 3]; 4],
}

/// What a run's registry is, for the header and the row names.
pub(crate) fn engine_name(e: &Engine) -> String {
    match e {
        Engine::Postgres { version } => format!("PostgreSQL {version}"),
        // `version` names Citus and PostgreSQL already.
        Engine::Citus { version, workers } => format!("{version}, {workers} workers"),
    }
}

/// A schema name for this process's `n`-th bench schema.
fn schema_name(n: usize) -> String {
    format!("tracemark_bench_{}_{n}", std::process::id())
}

/// A bench schema, dropped with this guard (whatever happened in between).
pub(crate) struct Schema {
    server: String,
    name: String,
    /// The server's URL pointing at the schema (its `search_path`).
    pub(crate) url: String,
}

impl Schema {
    /// Creates this process's `n`-th bench schema on the server of `server` (a URL).
    pub(crate) fn create(server: &str, n: usize) -> Result<Schema> {
        let name = schema_name(n);
        let url =
            store_postgres::bench::create_schema(server, &name).map_err(|e| anyhow!("{e}"))?;
        Ok(Schema {
            server: server.to_string(),
            name,
            url,
        })
    }
}

impl Schema {
    /// Keeps the schema (not dropped with the guard); returns its name.
    pub(crate) fn keep(self) -> String {
        let name = self.name.clone();
        std::mem::forget(self);
        name
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = store_postgres::bench::drop_schema(&self.server, &self.name) {
            eprintln!("bench: could not drop the schema {}: {e}", self.name);
        }
    }
}

/// A registry over a bench schema, as `serve --postgres` opens it: its settings, its lease
/// loop, and a way to stop its server.
struct Process {
    opened: node::Opened,
    lease: Option<node::lease::Running>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Process {
    /// Opens the schema of `url` and runs the lease loop: alone on the database it is the
    /// writer, beside a writer a reader.
    fn open(url: &str, name: &str) -> Result<Process> {
        let opened = node::open_home(&Home::Postgres(url.into()), registry::system_clock())?;
        let lease = node::start_lease(&opened, format!("bench-{name}"))?;
        Ok(Process {
            opened,
            lease,
            stop: None,
        })
    }

    fn is_writer(&self) -> bool {
        self.opened
            .config
            .role
            .as_ref()
            .is_some_and(|r| r.is_writer())
    }

    /// Serves the registry on a free loopback port, as `serve` does but for the till's
    /// per-participant quota (the bench measures the check, not its limit).
    fn serve(&mut self, rt: &tokio::runtime::Runtime) -> Result<String> {
        let c = &self.opened.config;
        let config = server::Config {
            admin_token: c.admin_token.clone(),
            token_key: c.token_key,
            public_rate: None,
            log_key: c.log_key.clone(),
            log_origin: c.log_origin.clone(),
            decoder: c.decoder.clone(),
            analytics: None,
            metrics_allow: c.metrics_allow.clone(),
            till_quota: None,
            public_url: None,
            nonce_journal: None,
            nonce_store: c.nonce_store.clone(),
            role: c.role.clone(),
            reads: server::reads::ReadLimits::default(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.stop = Some(tx);
        serve_registry(self.opened.registry.clone(), config, rt, Some(rx))
    }

    /// Stops its server and its lease loop (the lease released).
    fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(l) = self.lease.take() {
            l.stop();
        }
    }
}

/// Verify (Digital Link, JSON) and the till check (1 code) over HTTP on `base`, 64
/// connections each, over `codes`: (req/s, p50 ms, p99 ms) of each.
fn http_pair(
    rt: &tokio::runtime::Runtime,
    base: &str,
    token: &str,
    codes: &Arc<Vec<String>>,
    requests: u64,
) -> Result<[(f64, f64, f64); 2]> {
    let ids: Arc<Vec<String>> = Arc::new(codes.iter().map(|c| demo::digital_link(c)).collect());
    let b = base.to_string();
    let verify = http_load(
        rt,
        base,
        64,
        requests,
        Arc::new(move |i| {
            // A random stored code each time (a multiplicative hash of the request's number).
            let path = &ids[(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % ids.len() as u64) as usize];
            get_request(&b, path, "application/json")
        }),
    )?;
    let (b, token, codes) = (base.to_string(), token.to_string(), codes.clone());
    let till = http_load(
        rt,
        base,
        64,
        requests,
        Arc::new(move |i| {
            let code =
                &codes[(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % codes.len() as u64) as usize];
            let body = serde_json::to_vec(&json!({"codes": [code]})).expect("JSON");
            post_json_request(&b, "/api/v1/pos/check", &token, &body)
        }),
    )?;
    Ok([verify, till])
}

/// One run on the server of `url`: every figure of [`Figures`] once.
fn one_run(
    url: &str,
    s: &Sizes,
    want: &dyn Fn(&str) -> bool,
    rt: &tokio::runtime::Runtime,
    f: &mut Figures,
    n: &mut usize,
    last_tables: &mut Vec<(String, u64)>,
) -> Result<()> {
    // The ceiling in every run: the ratios of emission and ingest are to it.
    {
        f.raw.resize(CEILING_BATCHES.len(), Vec::new());
        for (k, per) in CEILING_BATCHES.iter().enumerate() {
            *n += 1;
            let schema = Schema::create(url, *n)?;
            let store = PgStore::connect(&schema.url).map_err(|e| anyhow!("{e}"))?;
            f.raw[k].push(
                store
                    .copy_ceiling(s.raw, *per)
                    .map_err(|e| anyhow!("{e}"))?,
            );
        }
    }
    if !(want("emit") || want("ingest") || want("http")) {
        return Ok(());
    }
    *n += 1;
    let schema = Schema::create(url, *n)?;
    let mut writer = Process::open(&schema.url, "writer")?;
    if !writer.is_writer() {
        bail!("the bench's registry did not take the writer's lease");
    }
    let bed = populate(writer.opened.registry.clone(), Scratch::new()?)?;
    let r = measure(&bed, &mut writer, &schema, s, want, rt, f, last_tables);
    drop(bed);
    writer.stop();
    // The registry's threads let go of the schema before it is dropped.
    std::thread::sleep(Duration::from_millis(300));
    r
}

/// The registry's rows of one run, on `bed` (the writer's registry).
#[allow(clippy::too_many_arguments)]
fn measure(
    bed: &Bed,
    writer: &mut Process,
    schema: &Schema,
    s: &Sizes,
    want: &dyn Fn(&str) -> bool,
    rt: &tokio::runtime::Runtime,
    f: &mut Figures,
    last_tables: &mut Vec<(String, u64)>,
) -> Result<()> {
    let (rate, order) = bed.emit(s.emit, "mac")?;
    f.emit.push(rate);
    if !(want("ingest") || want("http")) {
        return Ok(());
    }
    let codes = bed.codes(&order, s.ingest.min(s.emit))?;
    let stats = bed.reg.writer_stats();
    let snapshot = || {
        (
            stats.batches.load(Ordering::Relaxed),
            stats.codes_written.load(Ordering::Relaxed),
            stats.commit_micros.load(Ordering::Relaxed),
        )
    };
    let before = snapshot();
    let t = std::time::Instant::now();
    let (apply, introduce) = bed.apply_and_introduce(&codes)?;
    f.apply.push(apply);
    f.introduce.push(introduce);
    let (secs, after) = (t.elapsed().as_secs_f64(), snapshot());
    let batches = (after.0 - before.0).max(1) as f64;
    f.batch_codes.push((after.1 - before.1) as f64 / batches);
    f.commit_share
        .push((after.2 - before.2) as f64 / 1e6 / secs);
    // Bytes per code: every table of the schema over the codes stored.
    let pg = writer
        .opened
        .postgres
        .clone()
        .ok_or_else(|| anyhow!("no database"))?;
    let tables = pg.table_bytes().map_err(|e| anyhow!("{e}"))?;
    let stored = pg.codes_stored().map_err(|e| anyhow!("{e}"))?.max(1);
    f.bytes_per_code
        .push(tables.iter().map(|(_, b)| *b).sum::<u64>() as f64 / stored as f64);
    *last_tables = tables;
    if !want("http") {
        return Ok(());
    }
    let codes = Arc::new(codes);
    let base = writer.serve(rt)?;
    let retailer = Client::new(&base)?.sign_in(
        "7700000002",
        ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
    )?;
    for (k, (rps, p50, p99)) in http_pair(rt, &base, &retailer.token, &codes, s.requests)?
        .into_iter()
        .enumerate()
    {
        f.http[k][0].push(rps);
        f.http[k][1].push(p50);
        f.http[k][2].push(p99);
    }
    // A reader: a second registry on the same schema, its own connections and lease loop.
    let mut reader = Process::open(&schema.url, "reader")?;
    if reader.is_writer() {
        bail!("the bench's reader took the writer's lease");
    }
    let r = (|| {
        let base = reader.serve(rt)?;
        let answers = http_pair(rt, &base, &retailer.token, &codes, s.requests)?;
        for (k, (rps, p50, p99)) in answers.into_iter().enumerate() {
            f.http[2 + k][0].push(rps);
            f.http[2 + k][1].push(p50);
            f.http[2 + k][2].push(p99);
        }
        Ok(())
    })();
    reader.stop();
    r
}

/// `embedded` → `postgres` as a ratio, when the embedded row was printed.
fn beside(embedded_row: &str, pg: &[f64]) -> String {
    match reported(embedded_row) {
        Some(e) if !pg.is_empty() && e > 0.0 => format!(
            "embedded {:.0} k · pg/embedded {:.2}",
            e / 1e3,
            median(pg.to_vec()) / e
        ),
        _ => String::new(),
    }
}

/// Runs the PostgreSQL rows on the server of `url` (plain PostgreSQL or a Citus
/// coordinator) and prints them, each beside the embedded figure printed before it.
pub fn rows(
    url: &str,
    quick: bool,
    runs: usize,
    want: &dyn Fn(&str) -> bool,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    if !PARTS.iter().any(|p| want(p)) {
        return Ok(());
    }
    let s = if quick {
        Sizes {
            raw: 100_000,
            emit: 100_000,
            ingest: 50_000,
            requests: 20_000,
        }
    } else {
        Sizes {
            raw: 500_000,
            emit: 1_000_000,
            ingest: 200_000,
            requests: 100_000,
        }
    };
    // The engine and its settings, from a schema of its own.
    let (engine, settings) = {
        let schema = Schema::create(url, 0)?;
        let pg = PgStore::connect(&schema.url).map_err(|e| anyhow!("{e}"))?;
        let settings = pg.settings(SETTINGS).map_err(|e| anyhow!("{e}"))?;
        (engine_name(pg.engine()), settings)
    };
    println!(
        "\n{engine} at {} — database and registry on this machine",
        node::redact_url(url)
    );
    println!(
        "{}",
        settings
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut f = Figures::default();
    let mut n = 0;
    let mut tables = Vec::new();
    for run in 0..runs {
        one_run(url, &s, want, rt, &mut f, &mut n, &mut tables)?;
        eprintln!("bench: {engine}: run {} of {runs} done", run + 1);
    }
    let tag = |row: &str| format!("pg: {row}");
    let raw = |k: usize| f.raw.get(k).cloned().unwrap_or_default();
    for (k, per) in CEILING_BATCHES.iter().enumerate() {
        report(
            &tag(&format!(
                "raw: code rows alone (pages + runs), {per} codes/commit"
            )),
            "codes/s",
            &raw(k),
            if k == 0 { "(the ceiling)" } else { "" },
        );
    }
    let ceiling = CEILING_BATCHES
        .iter()
        .enumerate()
        .map(|(k, _)| median(raw(k)))
        .filter(|v| v.is_finite())
        .fold(f64::NAN, f64::max);
    report(
        &tag("emission, MAC tails (order → codes stored)"),
        "codes/s",
        &f.emit,
        &beside("emission, MAC tails (order → codes stored)", &f.emit),
    );
    report(
        &tag("ingest in-process: apply"),
        "code-events/s",
        &f.apply,
        &beside("ingest in-process: apply", &f.apply),
    );
    report(
        &tag("ingest in-process: introduce"),
        "code-events/s",
        &f.introduce,
        &beside("ingest in-process: introduce", &f.introduce),
    );
    if !f.batch_codes.is_empty() {
        println!(
            "{:<46} {:>10} codes per group commit, {:.0} % of the time in Store::commit (median)",
            "  writer during ingest",
            format!("{:.0}", median(f.batch_codes.clone())),
            median(f.commit_share.clone()) * 100.0
        );
    }
    report(
        &tag("bytes per code on disk (all tables)"),
        "bytes/code",
        &f.bytes_per_code,
        "",
    );
    if !tables.is_empty() {
        println!("  last run, largest tables: {}", largest_tables(&tables));
    }
    let names = [
        "verify over HTTP, writer, 64 conns",
        "till check over HTTP, writer, 64 conns",
        "verify over HTTP, reader, 64 conns",
        "till check over HTTP, reader, 64 conns",
    ];
    for (k, name) in names.iter().enumerate() {
        let [rps, p50, p99] = &f.http[k];
        report(
            &tag(name),
            "requests/s",
            rps,
            "target ≥ 20 k/s, p99 ≤ 10 ms",
        );
        if !p50.is_empty() {
            println!(
                "{:<46} {:>10} ms p50, {:.2} ms p99 (median)",
                "  latency",
                format!("{:.2}", median(p50.clone())),
                median(p99.clone())
            );
        }
    }
    if ceiling.is_finite() {
        let ratio = |v: &[f64]| median(v.to_vec()) / ceiling;
        println!(
            "\n{engine}: ÷ best ceiling, the code rows alone ({:.0} k codes/s): apply {:.2}, introduce {:.2}, \
             emission {:.2} — targets ≥ 0.50 (and ingest ≥ 100 k code-events/s)",
            ceiling / 1e3,
            ratio(&f.apply),
            ratio(&f.introduce),
            ratio(&f.emit)
        );
    }
    Ok(())
}
