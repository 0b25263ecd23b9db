//! `tracemark bench --scale 1,10,100` and `tracemark bench --soak MINUTES`: the registry
//! as a country grows it, and under a mixed load for a long time.
//!
//! The registry under test is a real `tracemark serve` child process (this executable:
//! `serve --data DIR`, or `serve --postgres URL` on a schema of its own), driven over HTTP
//! by the project's signing client ([`client`]) and the bench's lean load generator
//! (`bench::load`), as a producer's ERP, a wholesaler, a shop and phones drive it.
//!
//! **Scale.** One registry grows through the paths a country uses: a producer orders codes
//! (orders of up to [`ORDER_CODES`], MAC tails), the codes are fetched page by page and
//! streamed into `apply` and `introduce` documents of 1,000 codes by [`INGEST_CLIENTS`]
//! clients, and one document's codes in [`CHAIN_EVERY`] are shipped to a wholesaler,
//! accepted, shipped to a shop, accepted, checked at the till and sold (receipts of
//! [`RECEIPT_CODES`]). No list of every code is held: a reservoir sample of
//! [`SAMPLE_MAX`] codes is kept for verification. At each size (millions of codes) it
//! measures:
//!
//! - ingest of fresh documents (`introduce`, 8 clients) on codes the writer's state cache
//!   does not hold — codes applied at the start of the size's growth — and on codes it
//!   does — applied just before. The writer caches `min(4 M, size / 2)` states
//!   (`TRACEMARK_STATE_CACHE`; the default 4 M from 8 M codes on), so the first set has
//!   left the cache at every size: the table prints the cache beside the figures;
//! - verify (Digital Link, JSON) and the till check (one code) over HTTP on random stored
//!   codes, 64 connections: rate, p50, p99;
//! - emission: codes/s from an order's acceptance to its last code stored (the median of
//!   the size's orders);
//! - bytes per code on disk (the data directory after a clean stop, or the schema's
//!   tables), the server's resident memory (VmRSS, VmHWM), and the start-up time after
//!   `kill -9` (memtables full) and after a clean stop: until `/health` answers 200 (on
//!   PostgreSQL: as the writer) and a verification of a stored code answers.
//!
//! The figures go to stdout and to `scale.md` and `scale.svg` ([`scale_markdown`],
//! [`scale_svg`]: pure functions of the figures) in the output directory.
//!
//! **Soak.** On a registry grown to a base ([`SOAK_BASE_CODES`], or the last `--scale`
//! size), for MINUTES minutes at once: a producer ordering [`SOAK_ORDER_CODES`] codes at a
//! time, [`SOAK_CLIENTS`] clients streaming `apply` and `introduce` documents of 1,000 of
//! them, a shop's till checks ([`SOAK_TILL_PER_SEC`] a second) and
//! [`SOAK_VERIFY_CONNECTIONS`] connections verifying random stored codes. One line a
//! minute: ingest (code-events/s), verify rate and p50/p99, the till's p99, resident
//! memory and the store's bytes; then the first minute against the last. Written to
//! `soak.md` ([`soak_markdown`]).
//!
//! Every failure is counted, not hidden: each row has its HTTP error count.

use crate::{
    doc_bodies, get_request, load, post_json_request, LoadSpec, LoadStop, MakeRequest, Window,
    Windows, DOC_CODES,
};
use anyhow::{anyhow, bail, Context, Result};
use client::{gtin, Actor, Client};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Codes per order while growing (the API allows 2 M; 1 M is a large producer's order).
pub const ORDER_CODES: u64 = 1_000_000;
/// Clients submitting documents at once while growing and measuring ingest.
pub const INGEST_CLIENTS: usize = 8;
/// One document's codes in this many are shipped, accepted and sold while growing.
pub const CHAIN_EVERY: u64 = 10;
/// Codes per fiscal receipt (one till check and one `sell` document) of the codes sold.
pub const RECEIPT_CODES: usize = 100;
/// Codes kept for random verification and till checks: a uniform sample of every code
/// stored (reservoir sampling), never the full list.
pub const SAMPLE_MAX: usize = 200_000;
/// Most codes of each ingest measurement (uncached and cached).
pub const MEASURE_CODES_MAX: u64 = 500_000;
/// Connections of the verify and till-check loads at each size.
pub const LOAD_CONNECTIONS: usize = 64;
/// Requests of each verify and till-check load: below 100 k codes, below 1 M, from 1 M on.
pub const LOAD_REQUESTS: [u64; 3] = [10_000, 30_000, 100_000];
/// The longest wait for the store's compactions after a size's growth, seconds.
pub const SETTLE_MAX_S: f64 = 600.0;
/// The store is settled when it has had no flush or compaction running or waiting for
/// this long (sampled each half second): at 100 M codes a compaction often starts a moment
/// after the last one ended, so two quiet samples were not enough.
pub const SETTLE_QUIET_S: f64 = 5.0;
/// Offered rate of the paced verify and till-check loads whose latency the p99 target is
/// judged on, requests a second: about half what the closed loop reaches at 1 M codes
/// here, the same at every size. A closed loop of 64 connections on two cores measures
/// its own queue (Little's law: 64 in flight at 37 k/s is 1.7 ms each on average), not
/// the registry's latency at a load it carries.
pub const LATENCY_RATE: u64 = 20_000;
/// Seconds of each paced load.
pub const LATENCY_SECS: u64 = 10;
/// The writer's state cache by default (`registry::tx::StateCache::CAPACITY_DEFAULT`).
pub const STATE_CACHE_DEFAULT: u64 = registry::tx::StateCache::CAPACITY_DEFAULT as u64;
/// The soak's base when no `--scale` size was grown first, in codes.
pub const SOAK_BASE_CODES: u64 = 2_000_000;
/// Codes per order of the soak's producer.
pub const SOAK_ORDER_CODES: u64 = 500_000;
/// Clients streaming `apply` and `introduce` documents during the soak.
pub const SOAK_CLIENTS: usize = 4;
/// Connections verifying random stored codes during the soak (closed loop).
pub const SOAK_VERIFY_CONNECTIONS: usize = 16;
/// The soak shop's till checks a second (below the default per-participant limit of 20).
pub const SOAK_TILL_PER_SEC: u64 = 16;
/// A soak shorter than this is marked a sample run in its report.
pub const SOAK_OF_RECORD_MINUTES: f64 = 30.0;
/// Longest wait for a started server to answer (a store's recovery included).
pub const START_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for a server to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(300);

/// What `tracemark bench --scale/--soak` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Sizes to grow to and measure at, in millions of codes (fractions allowed).
    pub sizes: Vec<f64>,
    /// Minutes of mixed load after the sizes (or after growing to [`SOAK_BASE_CODES`]).
    pub soak_minutes: Option<f64>,
    /// A PostgreSQL server (or Citus coordinator) URL: the registry runs
    /// `serve --postgres` on a schema of its own there (dropped at the end) instead of
    /// the embedded store.
    pub postgres: Option<String>,
    /// Where the scratch directory (data directory, server log) is made; default: the
    /// system's temporary directory.
    pub dir: Option<PathBuf>,
    /// Keep the scratch directory (and the PostgreSQL schema) at the end.
    pub keep: bool,
    /// Where `scale.md`, `scale.svg` and `soak.md` are written.
    pub out: PathBuf,
    /// The command line, for the report's header.
    pub command: String,
}

/// One ingest measurement: `introduce` documents of 1,000 codes, [`INGEST_CLIENTS`] at once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ingest {
    /// Codes in the measured documents.
    pub codes: u64,
    /// Code-events accepted a second.
    pub rate: f64,
    /// Documents refused or failed.
    pub errors: u64,
    /// Share of the time the writer spent committing (from `/metrics`), if known.
    pub commit_share: Option<f64>,
    /// Codes written per group commit, if known.
    pub codes_per_commit: Option<f64>,
    /// The store's compaction time over the measurement's (a share of one core; the
    /// embedded store's `/metrics`), if known.
    pub compaction_share: Option<f64>,
}

/// One HTTP load's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Load {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Answers a second (2xx).
    pub rate: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Longest latency, ms: a closed loop's p99 hides a stall of the server (every
    /// connection waits through it, so it delays only a few requests), its maximum does not.
    pub max_ms: f64,
    /// Other answers and broken connections.
    pub errors: u64,
    /// The store's compaction time over the load's (a share of one core; the embedded
    /// store's `/metrics`), if measured.
    pub compaction_share: Option<f64>,
}

/// The figures of one size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SizeFigures {
    /// The size asked for, millions of codes.
    pub millions: f64,
    /// Codes stored when measured.
    pub codes: u64,
    /// The writer's state cache (`TRACEMARK_STATE_CACHE`) while growing to this size.
    pub state_cache: u64,
    /// Whether the uncached set had, by construction, left the cache (enough writes
    /// since); a step too small for that is flagged in the table.
    pub uncached_sure: bool,
    /// Code-events accepted a second while growing (apply, introduce, ship, accept, sell).
    pub growth_rate: f64,
    /// Documents refused or failed while growing.
    pub growth_errors: u64,
    /// Seconds waited after growing for the store's flushes and compactions to finish
    /// (at most [`SETTLE_MAX_S`]), before the measurements.
    pub settle_s: f64,
    /// Seconds waited after the ingest measurements for the store's flushes and
    /// compactions, before verify and the till check.
    pub settle_reads_s: f64,
    /// Ingest on codes the writer's cache does not hold.
    pub uncached: Ingest,
    /// Ingest on codes it holds.
    pub cached: Ingest,
    /// Verify over HTTP.
    pub verify: Load,
    /// The till check over HTTP.
    pub till: Load,
    /// Verify paced at [`LATENCY_RATE`] requests a second (its latency).
    pub verify_paced: Load,
    /// The till check paced at [`LATENCY_RATE`] requests a second (its latency).
    pub till_paced: Load,
    /// Emission, codes a second (median of the size's orders).
    pub emission: f64,
    /// Bytes on disk per code stored.
    pub bytes_per_code: f64,
    /// The server's resident memory at the end of the size, MB.
    pub rss_mb: f64,
    /// Its peak resident memory so far (since its last start), MB.
    pub hwm_mb: f64,
    /// Seconds from SIGTERM to the process's exit.
    pub stop_s: f64,
    /// Seconds from start to answering, after a clean stop.
    pub start_clean_s: f64,
    /// Seconds from start to answering, after `kill -9`.
    pub start_killed_s: f64,
}

/// What a report says about its run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    /// The machine (the bench's `machine` line: CPU, cores, memory, kernel, build).
    pub machine: String,
    /// When (UTC, RFC 3339).
    pub date: String,
    /// The source's commit (`git describe --always --dirty`), or `unknown`.
    pub commit: String,
    /// The command line.
    pub command: String,
    /// The engine: `embedded (fjall)` or the PostgreSQL server's version.
    pub engine: String,
}

/// The scale suite's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleReport {
    /// About the run.
    pub header: Header,
    /// One entry per size, smallest first.
    pub sizes: Vec<SizeFigures>,
}

/// One minute of the soak.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SoakMinute {
    /// Seconds the minute lasted (the last may be shorter).
    pub secs: f64,
    /// Code-events accepted a second.
    pub ingest: f64,
    /// Documents refused or failed.
    pub doc_errors: u64,
    /// Orders whose codes were all stored in the minute.
    pub orders: u64,
    /// Verifications.
    pub verify: Load,
    /// Till checks.
    pub till: Load,
    /// The server's resident memory at the minute's end, MB.
    pub rss_mb: f64,
    /// The store's bytes on disk at the minute's end.
    pub disk_bytes: u64,
    /// Codes stored at the minute's end.
    pub codes: u64,
    /// As the server saw the minute (its `/metrics`), if known.
    pub server: Option<ServerMinute>,
}

/// A soak minute as the server saw it: its own timings, apart from the load generator's
/// (which shares the cores and its own runtime's queues).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerMinute {
    /// Verifications answered (Digital Link routes), and those that took over 5 ms.
    pub verify: (u64, u64),
    /// Till checks answered, and those that took over 5 ms.
    pub till: (u64, u64),
    /// Reader-pool reads, those that waited over 5 ms for a reader, those that ran over 5 ms.
    pub reads: (u64, u64, u64),
}

impl ServerMinute {
    /// The counters now, from `/metrics` text (totals since the server's start).
    fn read(text: &str) -> ServerMinute {
        let sum = |metric: &str, route: &dyn Fn(&str) -> bool| -> u64 {
            text.lines()
                .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with('{'))
                .filter(|l| {
                    l.split("route=\"")
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .is_some_and(route)
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        let verify = |r: &str| r.starts_with("/01/");
        let till = |r: &str| r == "/api/v1/pos/check";
        let (all, slow) = (
            "tracemark_http_requests_total",
            "tracemark_http_slow_requests_total",
        );
        let m = |name: &str| metric_value(text, name).unwrap_or(0.0) as u64;
        ServerMinute {
            verify: (sum(all, &verify), sum(slow, &verify)),
            till: (sum(all, &till), sum(slow, &till)),
            reads: (
                m("tracemark_store_reads_total"),
                m("tracemark_store_read_slow_waits_total"),
                m("tracemark_store_read_slow_runs_total"),
            ),
        }
    }

    /// What happened between `before` and `self`.
    fn since(&self, before: &ServerMinute) -> ServerMinute {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        ServerMinute {
            verify: (
                d(self.verify.0, before.verify.0),
                d(self.verify.1, before.verify.1),
            ),
            till: (d(self.till.0, before.till.0), d(self.till.1, before.till.1)),
            reads: (
                d(self.reads.0, before.reads.0),
                d(self.reads.1, before.reads.1),
                d(self.reads.2, before.reads.2),
            ),
        }
    }

    /// "slow of all (share)" for one of the pairs.
    fn cell(p: (u64, u64)) -> String {
        format!(
            "{} of {} ({:.2} %)",
            p.1,
            human(p.0 as f64),
            p.1 as f64 * 100.0 / p.0.max(1) as f64
        )
    }
}

/// The soak's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SoakReport {
    /// About the run.
    pub header: Header,
    /// Codes stored when the load began.
    pub base_codes: u64,
    /// One entry per minute.
    pub minutes: Vec<SoakMinute>,
}

// ---------------------------------------------------------------------------------------
// The run.

/// Runs the scale suite and the soak as `opts` says, printing the figures and writing the
/// report files; the scratch directory (and schema) is removed at the end unless kept.
pub fn run(opts: &Options) -> Result<()> {
    let mut sizes = opts.sizes.clone();
    if sizes.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        bail!("--scale takes sizes in millions of codes above 0, e.g. 0.2,0.5 or 1,10,100");
    }
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    if let Some(m) = opts.soak_minutes {
        if !m.is_finite() || m <= 0.0 {
            bail!("--soak takes minutes above 0");
        }
    }
    println!("tracemark bench --scale/--soak — {}", crate::machine());
    let parent = opts.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("tracemark-scale-")
        .tempdir_in(&parent)
        .with_context(|| format!("a scratch directory in {}", parent.display()))?;
    println!(
        "scratch directory {} ({}; remove it by hand if the run is interrupted)",
        scratch.path().display(),
        if opts.keep {
            "kept"
        } else {
            "removed at the end"
        }
    );
    let schema = match &opts.postgres {
        Some(url) => Some(crate::bench_postgres::Schema::create(url, 900)?),
        None => None,
    };
    let result = run_in(
        opts,
        &sizes,
        scratch.path(),
        schema.as_ref().map(|s| s.url.clone()),
    );
    if opts.keep {
        let dir = scratch.keep();
        println!("kept {}", dir.display());
        if let Some(s) = schema {
            println!("kept the schema {}", s.keep());
        }
    }
    result
}

fn run_in(opts: &Options, sizes: &[f64], dir: &Path, pg: Option<String>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let spec = ServerSpec::new(dir, pg)?;
    let first_cache = sizes.first().map(|m| state_cache_for(codes_of(*m)));
    let mut reg = Scaled::start(spec, first_cache, &rt)?;
    let mut header = Header {
        machine: crate::machine(),
        date: types::time::format_timestamp(registry::system_clock()()),
        commit: commit(),
        command: opts.command.clone(),
        engine: reg.engine.clone(),
    };
    println!(
        "engine: {}; server log: {}",
        header.engine,
        reg.spec.log.display()
    );
    let mut report = ScaleReport {
        header: header.clone(),
        sizes: Vec::new(),
    };
    for (i, &m) in sizes.iter().enumerate() {
        // The cache of the next size (or, before a soak, the default) from the restart
        // that ends this one.
        let next_cache = sizes.get(i + 1).map(|n| state_cache_for(codes_of(*n)));
        let f = reg.size(m, next_cache)?;
        report.sizes.push(f);
        // Written after every size: a long run's figures survive its interruption.
        write_scale(&opts.out, &report)?;
    }
    if !report.sizes.is_empty() {
        println!("\n{}", scale_markdown(&report));
        println!(
            "(written to {} and {})",
            opts.out.join("scale.md").display(),
            opts.out.join("scale.svg").display()
        );
    }
    if let Some(minutes) = opts.soak_minutes {
        if reg.codes < SOAK_BASE_CODES && sizes.is_empty() {
            eprintln!(
                "soak: growing to the base of {} codes first",
                human(SOAK_BASE_CODES as f64)
            );
            // Every code applied and introduced (no sets kept back for measurement).
            let plan = Plan {
                old: 0,
                new: 0,
                ..reg.plan(SOAK_BASE_CODES)
            };
            reg.grow(SOAK_BASE_CODES, &plan)?;
        }
        header.date = types::time::format_timestamp(registry::system_clock()());
        let s = reg.soak(minutes, header)?;
        let md = soak_markdown(&s);
        println!("\n{md}");
        std::fs::create_dir_all(&opts.out)?;
        std::fs::write(opts.out.join("soak.md"), md)?;
        println!("(written to {})", opts.out.join("soak.md").display());
    }
    reg.server.stop()?;
    Ok(())
}

/// Writes `scale.md` and `scale.svg` into `out`.
fn write_scale(out: &Path, report: &ScaleReport) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("scale.md"), scale_markdown(report))?;
    std::fs::write(out.join("scale.svg"), scale_svg(report))?;
    Ok(())
}

/// Codes of a size in millions.
fn codes_of(millions: f64) -> u64 {
    (millions * 1e6).round() as u64
}

/// The writer's state cache while growing to `codes`: half of them, at most the default,
/// so that codes applied at the start of a size's growth have left it when measured.
pub fn state_cache_for(codes: u64) -> u64 {
    (codes / 2).clamp(1_000, STATE_CACHE_DEFAULT)
}

/// `git describe --always --dirty` of the current directory; outside a repository, the
/// commit the binary was built from (`build.rs`); else `unknown`.
fn commit() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| option_env!("TRACEMARK_BUILD_COMMIT").map(|c| format!("{c} (built from)")))
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------------------------------
// The server process.

/// How to start the registry under test.
struct ServerSpec {
    exe: PathBuf,
    /// `--data DIR` or `--postgres URL`.
    store: Vec<String>,
    /// The data directory (embedded store).
    data: Option<PathBuf>,
    /// The schema's URL (PostgreSQL).
    pg: Option<String>,
    admin: String,
    log: PathBuf,
}

/// A running `tracemark serve`.
struct Server {
    child: Child,
    base: String,
    pid: u32,
}

impl ServerSpec {
    fn new(dir: &Path, pg: Option<String>) -> Result<ServerSpec> {
        let exe = std::env::current_exe().context("this executable's path")?;
        let data = dir.join("data");
        let (store, data) = match &pg {
            Some(url) => (vec!["--postgres".into(), url.clone()], None),
            None => (
                vec!["--data".into(), data.display().to_string()],
                Some(data),
            ),
        };
        Ok(ServerSpec {
            exe,
            store,
            data,
            pg,
            admin: format!("scale-{}", uuid::Uuid::new_v4().simple()),
            log: dir.join("server.log"),
        })
    }

    /// Starts the server (the writer's state cache `cache`, `None`: the default) and
    /// waits until it answers: `/health` 200 (on PostgreSQL: as the writer) and, when
    /// `probe` names a Digital Link path, a verification of it. Returns the server and
    /// the seconds from the start to then.
    fn start(&self, cache: Option<u64>, probe: Option<&str>) -> Result<(Server, f64)> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let t = Instant::now();
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve")
            .args(&self.store)
            .args(["--listen", "127.0.0.1:0", "--public-rate", "0"])
            // The suite measures the till check, not its per-participant limit (the
            // soak's shop keeps within it anyway).
            .arg("--till-unlimited")
            .env("TRACEMARK_ADMIN_TOKEN", &self.admin)
            // Warnings, and where a start spends its time (the start-up rows).
            .env(
                "RUST_LOG",
                "warn,registry::project=info,tracemark::app=info,tracemark::lease=info",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        match cache {
            Some(c) => cmd.env("TRACEMARK_STATE_CACHE", c.to_string()),
            None => cmd.env_remove("TRACEMARK_STATE_CACHE"),
        };
        let mut child = cmd.spawn().context("starting tracemark serve")?;
        let pid = child.id();
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some((_, addr)) = line.trim().rsplit_once(" on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "tracemark serve did not start ({:?}); see {}",
                line.trim(),
                self.log.display()
            );
        };
        let base = format!("http://{addr}");
        let listening = t.elapsed().as_secs_f64();
        // Whatever else it prints, read so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let mut server = Server { child, base, pid };
        let client = Client::new(&server.base)?;
        loop {
            if let Some(code) = server.exited() {
                bail!(
                    "tracemark serve exited ({code}) while starting; see {}",
                    self.log.display()
                );
            }
            if t.elapsed() > START_TIMEOUT {
                bail!("tracemark serve did not answer within {START_TIMEOUT:?}");
            }
            let healthy = match client.get(None, "/health") {
                Ok((200, h)) => self.pg.is_none() || h["role"] == "writer",
                _ => false,
            };
            let probed =
                healthy && probe.is_none_or(|p| matches!(client.get(None, p), Ok((200, _))));
            if probed {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let answered = t.elapsed().as_secs_f64();
        eprintln!(
            "scale: the server listened after {listening:.2} s and answered after {answered:.2} s"
        );
        Ok((server, answered))
    }

    /// Bytes on disk of the store: the data directory's blocks, or the schema's tables.
    fn store_bytes(&self) -> Result<u64> {
        match (&self.data, &self.pg) {
            (Some(d), _) => dir_bytes(d),
            (None, Some(url)) => {
                let tables = node::connect_postgres(url)?
                    .table_bytes()
                    .map_err(|e| anyhow!("{e}"))?;
                // Where the bytes are: the largest tables (with their indexes and TOAST).
                eprintln!(
                    "scale:   the largest tables: {}",
                    crate::bench_postgres::largest_tables(&tables)
                );
                Ok(tables.iter().map(|(_, b)| *b).sum())
            }
            (None, None) => Ok(0),
        }
    }
}

/// Bytes the files under `dir` take on disk (allocated blocks).
fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            // A file compaction removed meanwhile is simply not counted.
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    total += m.blocks() * 512;
                }
                #[cfg(not(unix))]
                {
                    total += m.len();
                }
            }
        }
    }
    Ok(total)
}

impl Server {
    /// The exit status, if it exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    /// (VmRSS, VmHWM) in MB, from `/proc/PID/status` (0 where unknown).
    fn memory(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM, then waits for the exit: the seconds it took.
    fn stop(&mut self) -> Result<f64> {
        let t = Instant::now();
        if self.exited().is_some() {
            return Ok(0.0);
        }
        Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .context("kill -TERM")?;
        while self.exited().is_none() {
            if t.elapsed() > STOP_TIMEOUT {
                self.kill9();
                bail!("tracemark serve did not stop within {STOP_TIMEOUT:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(t.elapsed().as_secs_f64())
    }

    /// SIGKILL, and reaps it.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---------------------------------------------------------------------------------------
// The registry under test and its participants.

/// Failures counted while documents go in: how many, and the first one's words.
#[derive(Default)]
struct Tally {
    events: AtomicU64,
    errors: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.first.lock() {
            if f.is_none() {
                eprintln!("scale: {what}");
                *f = Some(what);
            }
        }
    }
}

/// What a job of up to 1,000 codes goes through.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    /// `apply` only (the codes kept for a later measurement).
    Apply,
    /// `introduce` only (a measurement).
    Introduce,
    /// `apply`, then `introduce`.
    Both,
    /// `apply`, `introduce`, shipped to the wholesaler and accepted, shipped to the shop
    /// and accepted, checked at the till and sold.
    Chain,
}

/// Codes and what to do with them.
struct Job {
    codes: Vec<String>,
    path: Route,
    /// Where to keep the codes after (the sets measured later).
    keep: Option<usize>,
}

/// A uniform sample of every code offered (reservoir sampling).
struct Sample {
    codes: Vec<String>,
    seen: u64,
    rng: rand_chacha::ChaCha8Rng,
}

impl Sample {
    fn offer(&mut self, code: &str) {
        self.seen += 1;
        if self.codes.len() < SAMPLE_MAX {
            self.codes.push(code.to_string());
        } else {
            let j = self.rng.gen_range(0..self.seen);
            if (j as usize) < SAMPLE_MAX {
                self.codes[j as usize] = code.to_string();
            }
        }
    }
}

/// How one size's growth is laid out.
struct Plan {
    /// Codes to add.
    step: u64,
    /// Codes at the step's start kept applied only (the uncached set).
    old: u64,
    /// Codes at the step's end kept applied only (the cached set).
    new: u64,
    /// The writer's state cache during the step.
    cache: u64,
}

/// What growing did.
#[derive(Default)]
struct Growth {
    emission: Vec<f64>,
    events: u64,
    secs: f64,
    errors: u64,
    kept: [Vec<String>; 2],
}

/// The registry under test, its participants, and what the bench knows of it.
struct Scaled<'r> {
    spec: ServerSpec,
    server: Server,
    client: Client,
    engine: String,
    producer: Actor,
    wholesaler: Actor,
    shop: Actor,
    gtin: String,
    /// Codes stored.
    codes: u64,
    /// Codes for verification (offered on the one thread that reads an order's pages).
    sample: Mutex<Sample>,
    /// The writer's state cache now.
    cache: Option<u64>,
    receipts: AtomicU64,
    rt: &'r tokio::runtime::Runtime,
}

impl<'r> Scaled<'r> {
    /// Starts the server on an empty store and registers a producer (with a GS1 prefix
    /// and a product card), a wholesaler and a shop.
    fn start(
        spec: ServerSpec,
        cache: Option<u64>,
        rt: &'r tokio::runtime::Runtime,
    ) -> Result<Scaled<'r>> {
        let (server, _) = spec.start(cache, None)?;
        let client = Client::new(&server.base)?;
        let engine = match &spec.pg {
            None => {
                let b = types::memory::Budget::from_env();
                format!(
                    "embedded (fjall); memory bound {} MiB (`{}`{}): block cache {} MiB, journal {} MiB",
                    b.total >> 20,
                    types::memory::MEMORY_ENV,
                    if std::env::var_os(types::memory::MEMORY_ENV).is_some() {
                        ""
                    } else {
                        " unset: a quarter of memory"
                    },
                    b.block_cache >> 20,
                    b.journal >> 20
                )
            }
            Some(url) => crate::bench_postgres::engine_name(node::connect_postgres(url)?.engine()),
        };
        let prefix = "460000001";
        let producer = client.register_with_prefixes(
            &spec.admin,
            "7700000101",
            "Scale producer",
            &["producer"],
            "RU-MOW",
            &[prefix],
        )?;
        let wholesaler = client.register(
            &spec.admin,
            "7700000102",
            "Scale wholesaler",
            &["wholesaler"],
            "RU-MOW",
        )?;
        let shop = client.register(
            &spec.admin,
            "7700000103",
            "Scale shop",
            &["retailer"],
            "RU-SPE",
        )?;
        let g = gtin(460_000_001_001);
        let (status, v) = client.post_signed(
            &producer,
            "/api/v1/products",
            &json!({"gtin": g, "name": "Scale shoes", "product_group": "shoes", "brand": "Scale"}),
        )?;
        if status != 201 {
            bail!("product card: {status} {v}");
        }
        Ok(Scaled {
            spec,
            server,
            client,
            engine,
            producer,
            wholesaler,
            shop,
            gtin: g,
            codes: 0,
            sample: Mutex::new(Sample {
                codes: Vec::new(),
                seen: 0,
                rng: rand_chacha::ChaCha8Rng::seed_from_u64(16),
            }),
            cache,
            receipts: AtomicU64::new(1),
            rt,
        })
    }

    /// The growth to `to` codes and its measured sets.
    fn plan(&self, to: u64) -> Plan {
        let step = to.saturating_sub(self.codes);
        let cache = self.cache.unwrap_or(STATE_CACHE_DEFAULT);
        let m = (MEASURE_CODES_MAX.min(step / 5).min(cache / 4) / DOC_CODES as u64
            * DOC_CODES as u64)
            .max(DOC_CODES as u64)
            .min(step / 2);
        Plan {
            step,
            old: m,
            new: m,
            cache,
        }
    }

    /// Grows the registry to `millions` and measures it; restarts the server at the end
    /// (after `kill -9`, then after a clean stop) with the state cache `next_cache`.
    fn size(&mut self, millions: f64, next_cache: Option<u64>) -> Result<SizeFigures> {
        let to = codes_of(millions);
        if to <= self.codes {
            bail!(
                "--scale {millions}: the registry holds {} codes already",
                self.codes
            );
        }
        let plan = self.plan(to);
        eprintln!(
            "scale: growing to {} codes (writer's state cache {}; {} codes measured uncached, {} cached)",
            human(to as f64),
            human(plan.cache as f64),
            human(plan.old as f64),
            human(plan.new as f64)
        );
        // Sign in afresh: a long growth outlives no token.
        self.sign_in_again()?;
        let g = self.grow(to, &plan)?;
        let [old, new] = g.kept;
        // Writes since the uncached set was applied: every later code emitted, applied
        // and introduced (the chain's events aside). The cache holds at most `cache`.
        let since = 3 * plan.step.saturating_sub(plan.old + plan.new) + 2 * plan.new;
        let mut f = SizeFigures {
            millions,
            codes: self.codes,
            state_cache: plan.cache,
            uncached_sure: since > plan.cache,
            growth_rate: g.events as f64 / g.secs.max(1e-9),
            growth_errors: g.errors,
            emission: crate::median(g.emission),
            ..SizeFigures::default()
        };
        eprintln!("scale: waiting for the store's flushes and compactions");
        f.settle_s = self.settle();
        eprintln!("scale: ingest on codes just applied (cached)");
        f.cached = self.measure_ingest(new)?;
        eprintln!("scale: ingest on codes applied at the start of the size (not cached)");
        f.uncached = self.measure_ingest(old)?;
        eprintln!("scale: waiting for the store's flushes and compactions");
        f.settle_reads_s = self.settle();
        eprintln!("scale: verify and till check over HTTP");
        let n = LOAD_REQUESTS
            [usize::from(self.codes >= 100_000) + usize::from(self.codes >= 1_000_000)];
        (f.verify, f.till) = self.verify_and_till(n, None)?;
        eprintln!(
            "scale: verify and till check paced at {} requests/s",
            human(LATENCY_RATE as f64)
        );
        (f.verify_paced, f.till_paced) = self.verify_and_till(
            LATENCY_RATE * LATENCY_SECS,
            Some(Duration::from_secs_f64(
                LOAD_CONNECTIONS as f64 / LATENCY_RATE as f64,
            )),
        )?;
        (f.rss_mb, f.hwm_mb) = self.server.memory();
        eprintln!("scale: kill -9, start; SIGTERM, start");
        let probe = self.probe();
        self.server.kill9();
        let (s, killed) = self.spec.start(self.cache, Some(&probe))?;
        self.server = s;
        f.start_killed_s = killed;
        f.stop_s = self.server.stop()?;
        f.bytes_per_code = self.spec.store_bytes()? as f64 / self.codes.max(1) as f64;
        let (s, clean) = self.spec.start(next_cache, Some(&probe))?;
        self.server = s;
        self.cache = next_cache;
        f.start_clean_s = clean;
        self.client = Client::new(&self.server.base)?;
        println!("{}", size_line(&f));
        Ok(f)
    }

    /// A Digital Link path of a stored code, to probe a started server with.
    fn probe(&self) -> String {
        self.sample_codes()
            .first()
            .map(|c| demo::digital_link(c))
            .unwrap_or_else(|| "/health".into())
    }

    /// The sampled codes.
    fn sample_codes(&self) -> Vec<String> {
        self.sample
            .lock()
            .map(|s| s.codes.clone())
            .unwrap_or_default()
    }

    /// New bearer tokens for every participant.
    fn sign_in_again(&mut self) -> Result<()> {
        for a in [&mut self.producer, &mut self.wholesaler, &mut self.shop] {
            let fresh = self.client.sign_in(&a.tin, a.key.clone())?;
            a.token = fresh.token;
        }
        Ok(())
    }

    /// Orders codes until the registry holds `to`, streaming them into documents.
    fn grow(&mut self, to: u64, plan: &Plan) -> Result<Growth> {
        let mut g = Growth::default();
        let start_codes = self.codes;
        let kept: [Mutex<Vec<String>>; 2] = Default::default();
        let tally = Tally::default();
        let mut job_no = 0u64;
        while self.codes < to {
            let n = ORDER_CODES.min(to - self.codes);
            let t = Instant::now();
            let id = self
                .client
                .order(&self.producer, &self.gtin, n as u32, "mac")?;
            self.client.wait_order(
                &self.producer,
                &id,
                Duration::from_millis(5),
                Duration::from_secs(3600),
            )?;
            g.emission.push(n as f64 / t.elapsed().as_secs_f64());
            let first = self.codes - start_codes;
            self.codes += n;
            let t = Instant::now();
            let before = tally.events.load(Ordering::Relaxed);
            let this = &*self;
            let (tx, rx) = mpsc::sync_channel::<Job>(INGEST_CLIENTS * 2);
            let rx = Mutex::new(rx);
            std::thread::scope(|sc| -> Result<()> {
                for _ in 0..INGEST_CLIENTS {
                    let (rx, tally, kept) = (&rx, &tally, &kept);
                    sc.spawn(move || loop {
                        let job = match rx.lock().map(|r| r.recv()) {
                            Ok(Ok(j)) => j,
                            _ => return,
                        };
                        this.run_job(&job, tally);
                        if let Some(k) = job.keep {
                            if let Ok(mut v) = kept[k].lock() {
                                v.extend(job.codes);
                            }
                        }
                    });
                }
                let mut offset = Some(0u64);
                let mut pos = first;
                while let Some(o) = offset {
                    let (codes, next) = this.client.order_page(&this.producer, &id, o)?;
                    offset = next;
                    if let Ok(mut sample) = this.sample.lock() {
                        for c in &codes {
                            sample.offer(c);
                        }
                    }
                    {
                        for chunk in codes.chunks(DOC_CODES) {
                            let (path, keep) = if pos < plan.old {
                                (Route::Apply, Some(0))
                            } else if pos + plan.new >= plan.step {
                                (Route::Apply, Some(1))
                            } else if job_no % CHAIN_EVERY == CHAIN_EVERY - 1 {
                                (Route::Chain, None)
                            } else {
                                (Route::Both, None)
                            };
                            job_no += 1;
                            pos += chunk.len() as u64;
                            tx.send(Job {
                                codes: chunk.to_vec(),
                                path,
                                keep,
                            })
                            .map_err(|_| anyhow!("the document clients stopped"))?;
                        }
                    }
                }
                drop(tx);
                Ok(())
            })?;
            let _ = self.client.close_order(&self.producer, &id);
            g.secs += t.elapsed().as_secs_f64();
            let events = tally.events.load(Ordering::Relaxed) - before;
            eprintln!(
                "scale: {} of {} codes; order of {}: emitted at {}/s, ingested at {} code-events/s ({} errors so far)",
                human(self.codes as f64),
                human(to as f64),
                human(n as f64),
                human(*g.emission.last().unwrap_or(&0.0)),
                human(events as f64 / t.elapsed().as_secs_f64()),
                tally.errors.load(Ordering::Relaxed)
            );
            if let Some(code) = self.server.exited() {
                bail!(
                    "the server exited ({code}); see {}",
                    self.spec.log.display()
                );
            }
        }
        g.events = tally.events.load(Ordering::Relaxed);
        g.errors = tally.errors.load(Ordering::Relaxed);
        let [a, b] = kept;
        g.kept = [
            a.into_inner().unwrap_or_default(),
            b.into_inner().unwrap_or_default(),
        ];
        Ok(g)
    }

    /// Submits one signed document; its answer when accepted (201), else counted.
    fn doc(&self, actor: &Actor, body: Vec<u8>, events: u64, tally: &Tally) -> Option<Value> {
        match self
            .client
            .post_signed_bytes(actor, "/api/v1/documents", body)
        {
            Ok((201, v)) => {
                // The codes it changed, as the registry counts them.
                let events = v["codes"].as_u64().unwrap_or(events);
                tally.events.fetch_add(events, Ordering::Relaxed);
                Some(v)
            }
            Ok((status, v)) => {
                tally.fail(format!("document: {status} {v}"));
                None
            }
            Err(e) => {
                tally.fail(format!("document: {e:#}"));
                None
            }
        }
    }

    /// Runs one job's documents in order (a refused step ends it).
    fn run_job(&self, job: &Job, tally: &Tally) {
        let n = job.codes.len() as u64;
        let body = |kind: &str, extra: Value| {
            doc_bodies(kind, &job.codes, extra)
                .into_iter()
                .next()
                .unwrap_or_default()
        };
        let introduce = || {
            body(
                "introduce",
                json!({"production_date": types::time::format_date(types::time::day_of(registry::system_clock()()))}),
            )
        };
        if matches!(job.path, Route::Apply | Route::Both | Route::Chain)
            && self
                .doc(&self.producer, body("apply", json!({})), n, tally)
                .is_none()
        {
            return;
        }
        if job.path == Route::Apply {
            return;
        }
        if self.doc(&self.producer, introduce(), n, tally).is_none() || job.path != Route::Chain {
            return;
        }
        for (from, to) in [
            (&self.producer, &self.wholesaler),
            (&self.wholesaler, &self.shop),
        ] {
            let Some(ship) = self.doc(from, body("ship", json!({"receiver": to.tin})), n, tally)
            else {
                return;
            };
            let accept =
                json!({"id": uuid::Uuid::new_v4(), "type": "accept", "shipment": ship["id"]});
            if self
                .doc(
                    to,
                    serde_json::to_vec(&accept).unwrap_or_default(),
                    n,
                    tally,
                )
                .is_none()
            {
                return;
            }
        }
        for receipt in job.codes.chunks(RECEIPT_CODES) {
            let check =
                match self
                    .client
                    .post(&self.shop, "/api/v1/pos/check", &json!({"codes": receipt}))
                {
                    Ok((200, v)) => v,
                    Ok((status, v)) => {
                        tally.fail(format!("till check: {status} {v}"));
                        continue;
                    }
                    Err(e) => {
                        tally.fail(format!("till check: {e:#}"));
                        continue;
                    }
                };
            let number = self.receipts.fetch_add(1, Ordering::Relaxed);
            let sell = json!({
                "id": uuid::Uuid::new_v4(),
                "type": "sell",
                "codes": receipt,
                "receipt": {
                    "fiscal_drive": "9999078900000001",
                    "number": number,
                    "at": types::time::format_timestamp(registry::system_clock()()),
                    "store": "Scale shop, RU-SPE",
                },
                "check_ids": [check["request_id"]],
            });
            self.doc(
                &self.shop,
                serde_json::to_vec(&sell).unwrap_or_default(),
                receipt.len() as u64,
                tally,
            );
        }
    }

    /// The server's `/metrics` text (the admin token's).
    fn metrics_text(&self) -> Option<String> {
        let (status, v) = self.client.get(None, "/metrics").ok()?;
        v.as_str().filter(|_| status == 200).map(String::from)
    }

    /// The writer's (commit seconds, group commits, codes written) from `/metrics`.
    fn writer_metrics(&self) -> Option<(f64, f64, f64)> {
        let text = self.metrics_text()?;
        let metric = |name: &str| metric_value(&text, name);
        Some((
            metric("tracemark_writer_commit_seconds_total")?,
            metric("tracemark_writer_batches_total")?,
            metric("tracemark_writer_codes_written_total")?,
        ))
    }

    /// The writer's code reads from `/metrics`: from the store itself, read ahead and
    /// taken, read ahead and stale.
    fn read_metrics(&self) -> Option<[f64; 3]> {
        let text = self.metrics_text()?;
        let metric = |name: &str| metric_value(&text, name);
        Some([
            metric("tracemark_writer_store_reads_total")?,
            metric("tracemark_writer_read_ahead_total")?,
            metric("tracemark_writer_read_ahead_stale_total")?,
        ])
    }

    /// The store's (compactions running, flushes waiting, compaction seconds so far) from
    /// `/metrics` (the embedded store's; `None` for PostgreSQL).
    fn store_metrics(&self) -> Option<(f64, f64, f64)> {
        let text = self.metrics_text()?;
        let metric = |name: &str| metric_value(&text, name);
        Some((
            metric("tracemark_store_compactions_running")?,
            metric("tracemark_store_flushes_waiting")?,
            metric("tracemark_store_compaction_seconds_total")?,
        ))
    }

    /// Waits until the store has no compaction running and no flush waiting, seen twice
    /// in a row, or [`SETTLE_MAX_S`]: the growth's write burst leaves compaction debt
    /// behind it, which would otherwise be measured as the next measurement's cost.
    /// Seconds waited.
    fn settle(&self) -> f64 {
        let t = Instant::now();
        let mut quiet = 0;
        while t.elapsed().as_secs_f64() < SETTLE_MAX_S {
            match self.store_metrics() {
                None => return 0.0,
                Some((running, waiting, _)) if running == 0.0 && waiting == 0.0 => quiet += 1,
                Some(_) => quiet = 0,
            }
            if f64::from(quiet) * 0.5 >= SETTLE_QUIET_S {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        t.elapsed().as_secs_f64()
    }

    /// `introduce` documents of `codes` (applied, not introduced), [`INGEST_CLIENTS`] at once.
    fn measure_ingest(&self, codes: Vec<String>) -> Result<Ingest> {
        let tally = Tally::default();
        let n = codes.len() as u64;
        let jobs: Vec<Job> = codes
            .chunks(DOC_CODES)
            .map(|c| Job {
                codes: c.to_vec(),
                path: Route::Introduce,
                keep: None,
            })
            .collect();
        drop(codes);
        let queue = Mutex::new(jobs);
        let before = self.writer_metrics();
        let reads_before = self.read_metrics();
        let store_before = self.store_metrics();
        let t = Instant::now();
        std::thread::scope(|sc| {
            for _ in 0..INGEST_CLIENTS {
                let (queue, tally) = (&queue, &tally);
                sc.spawn(move || loop {
                    let Some(job) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                        return;
                    };
                    self.run_job(&job, tally);
                });
            }
        });
        let secs = t.elapsed().as_secs_f64();
        let after = self.writer_metrics();
        let compaction_share = match (store_before, self.store_metrics()) {
            (Some(b), Some(a)) => Some((a.2 - b.2) / secs),
            _ => None,
        };
        if let (Some(b), Some(a)) = (&reads_before, self.read_metrics()) {
            println!(
                "scale:   the writer's code reads: {:.0} from the store itself, {:.0} read ahead, {:.0} read ahead but stale",
                a[0] - b[0],
                a[1] - b[1],
                a[2] - b[2]
            );
        }
        let (commit_share, codes_per_commit) = match (before, after) {
            (Some(b), Some(a)) if a.1 > b.1 => {
                (Some((a.0 - b.0) / secs), Some((a.2 - b.2) / (a.1 - b.1)))
            }
            _ => (None, None),
        };
        Ok(Ingest {
            codes: n,
            rate: tally.events.load(Ordering::Relaxed) as f64 / secs,
            errors: tally.errors.load(Ordering::Relaxed),
            commit_share,
            codes_per_commit,
            compaction_share,
        })
    }

    /// Verify (Digital Link, JSON) and the till check (one code, the shop's) over HTTP,
    /// [`LOAD_CONNECTIONS`] connections, `n` requests each, on random sampled codes: a
    /// closed loop (`pace` None: the rate), or each connection paced (the latency at a load
    /// the registry carries: [`LATENCY_RATE`]).
    fn verify_and_till(&self, n: u64, pace: Option<Duration>) -> Result<(Load, Load)> {
        let base = self.server.base.clone();
        let spec = LoadSpec {
            concurrency: LOAD_CONNECTIONS,
            stop: LoadStop::Requests(n),
            pace,
            source: 2,
        };
        let verify = self.run_load(&spec, self.verify_requests(&base))?;
        let till = self.run_load(&spec, self.till_requests(&base))?;
        Ok((verify, till))
    }

    /// Requests verifying random sampled codes.
    fn verify_requests(&self, base: &str) -> MakeRequest {
        let paths: Arc<Vec<String>> = Arc::new(
            self.sample_codes()
                .iter()
                .map(|c| demo::digital_link(c))
                .collect(),
        );
        let base = base.to_string();
        Arc::new(move |i| get_request(&base, &paths[pick(i, paths.len())], "application/json"))
    }

    /// The shop's till checks of one random sampled code.
    fn till_requests(&self, base: &str) -> MakeRequest {
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
            self.sample_codes()
                .iter()
                .map(|c| serde_json::to_vec(&json!({"codes": [c]})).unwrap_or_default())
                .collect(),
        );
        let (base, token) = (base.to_string(), self.shop.token.clone());
        Arc::new(move |i| {
            post_json_request(
                &base,
                "/api/v1/pos/check",
                &token,
                &bodies[pick(i, bodies.len())],
            )
        })
    }

    fn run_load(&self, spec: &LoadSpec, req: MakeRequest) -> Result<Load> {
        let windows = Arc::new(Windows::new(Duration::MAX));
        let store_before = self.store_metrics();
        let secs = load(self.rt, &self.server.base, spec, req, &windows)?;
        let w = windows.total();
        if let Some(e) = &w.first_error {
            eprintln!("scale: load errors ({}), the first: {e}", w.errors);
        }
        let mut l = load_of(&w, secs);
        l.compaction_share = match (store_before, self.store_metrics()) {
            (Some(b), Some(a)) => Some((a.2 - b.2) / secs.max(1e-9)),
            _ => None,
        };
        Ok(l)
    }

    /// The soak: `minutes` of mixed load, one line a minute.
    fn soak(&mut self, minutes: f64, header: Header) -> Result<SoakReport> {
        self.sign_in_again()?;
        let base_codes = self.codes;
        let width = Duration::from_secs(60);
        let total = Duration::from_secs_f64(minutes * 60.0);
        let n_windows = (minutes.ceil() as usize).max(1);
        let verify_w = Arc::new(Windows::new(width));
        let till_w = Arc::new(Windows::new(width));
        let start = Instant::now();
        let end = start + total;
        let window_of = |t: Instant| {
            ((t.saturating_duration_since(start).as_secs_f64() / 60.0) as usize).min(n_windows - 1)
        };
        let per_window = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        let (events, errors, orders) = (
            per_window(n_windows),
            per_window(n_windows),
            per_window(n_windows),
        );
        let emitted = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let base = self.server.base.clone();
        let verify_req = self.verify_requests(&base);
        let till_req = self.till_requests(&base);
        println!(
            "\nsoak: {minutes} min on {} codes — a producer ordering {} codes at a time, {SOAK_CLIENTS} clients applying and introducing them in documents of 1,000, a shop's till checks ({SOAK_TILL_PER_SEC}/s), {SOAK_VERIFY_CONNECTIONS} connections verifying random stored codes",
            human(base_codes as f64),
            human(SOAK_ORDER_CODES as f64)
        );
        let mut rows = Vec::new();
        let this = &*self;
        let (orders_tx, orders_rx) = mpsc::sync_channel::<String>(1);
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Job>(SOAK_CLIENTS * 2);
        let jobs_rx = Mutex::new(jobs_rx);
        std::thread::scope(|sc| -> Result<()> {
            let (stop, events, errors, orders, emitted) =
                (&stop, &events, &errors, &orders, &emitted);
            // The producer: an order of 500 k codes, waited for, handed on; again.
            let producer = sc.spawn(move || -> Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    let id = this.client.order(
                        &this.producer,
                        &this.gtin,
                        SOAK_ORDER_CODES as u32,
                        "mac",
                    )?;
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        let (_, o) = this
                            .client
                            .get(Some(&this.producer), &format!("/api/v1/orders/{id}"))?;
                        match o["status"].as_str() {
                            Some("ready") => break,
                            Some("pending") => std::thread::sleep(Duration::from_millis(20)),
                            _ => bail!("soak order {id}: {o}"),
                        }
                    }
                    orders[window_of(Instant::now())].fetch_add(1, Ordering::Relaxed);
                    emitted.fetch_add(SOAK_ORDER_CODES, Ordering::Relaxed);
                    if !send_until(&orders_tx, id, stop) {
                        break;
                    }
                }
                Ok(())
            });
            // The feeder: each ready order's codes, page by page, into jobs of 1,000.
            let feeder = sc.spawn(move || -> Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(id) = orders_rx.recv_timeout(Duration::from_millis(100)) else {
                        continue;
                    };
                    let mut offset = Some(0u64);
                    while let Some(o) = offset.filter(|_| !stop.load(Ordering::Relaxed)) {
                        let (codes, next) = this.client.order_page(&this.producer, &id, o)?;
                        offset = next;
                        for chunk in codes.chunks(DOC_CODES) {
                            let job = Job {
                                codes: chunk.to_vec(),
                                path: Route::Both,
                                keep: None,
                            };
                            if !send_until(&jobs_tx, job, stop) {
                                break;
                            }
                        }
                    }
                    let _ = this.client.close_order(&this.producer, &id);
                }
                Ok(())
            });
            for _ in 0..SOAK_CLIENTS {
                let jobs_rx = &jobs_rx;
                sc.spawn(move || {
                    // The ingest clients stand for ERPs on other machines: here they share
                    // the two cores with the server and with the clients that measure
                    // verify and the till, which they must not delay (their own
                    // signing and JSON), so they yield as the server's parsing does.
                    registry::emission::background_thread();
                    while !stop.load(Ordering::Relaxed) {
                        let job = match jobs_rx
                            .lock()
                            .map(|r| r.recv_timeout(Duration::from_millis(100)))
                        {
                            Ok(Ok(j)) => j,
                            Ok(Err(_)) => continue,
                            Err(_) => return,
                        };
                        let tally = Tally::default();
                        this.run_job(&job, &tally);
                        let w = window_of(Instant::now());
                        events[w]
                            .fetch_add(tally.events.load(Ordering::Relaxed), Ordering::Relaxed);
                        errors[w]
                            .fetch_add(tally.errors.load(Ordering::Relaxed), Ordering::Relaxed);
                    }
                });
            }
            let (vw, tw) = (verify_w.clone(), till_w.clone());
            let b = base.clone();
            let verifier = sc.spawn(move || {
                load(
                    this.rt,
                    &b,
                    &LoadSpec {
                        concurrency: SOAK_VERIFY_CONNECTIONS,
                        stop: LoadStop::At(end),
                        pace: None,
                        source: 2,
                    },
                    verify_req,
                    &vw,
                )
            });
            let b = base.clone();
            let till = sc.spawn(move || {
                // Its own runtime: paced requests on the verifiers' busy runtime would wait
                // behind their answers' handling, and that wait would count as the till's.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                load(
                    &rt,
                    &b,
                    &LoadSpec {
                        concurrency: 2,
                        stop: LoadStop::At(end),
                        pace: Some(Duration::from_secs_f64(2.0 / SOAK_TILL_PER_SEC as f64)),
                        source: 3,
                    },
                    till_req,
                    &tw,
                )
            });
            // One line a minute, a moment after the minute closed (each connection adds
            // its answers to the window when its next answer comes).
            let mut server_seen = this.metrics_text().map(|t| ServerMinute::read(&t));
            for k in 0..n_windows {
                let w_end = (start + width * (k as u32 + 1)).min(end);
                let secs = (w_end - (start + width * k as u32)).as_secs_f64();
                std::thread::sleep(w_end.saturating_duration_since(Instant::now()));
                let (rss, _) = this.server.memory();
                let disk = this.spec.store_bytes().unwrap_or(0);
                let seen = this.metrics_text().map(|t| ServerMinute::read(&t));
                let server = match (&seen, &server_seen) {
                    (Some(now), Some(before)) => Some(now.since(before)),
                    _ => None,
                };
                server_seen = seen;
                if k + 1 == n_windows {
                    stop.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_secs(2));
                let row = SoakMinute {
                    secs,
                    ingest: events[k].load(Ordering::Relaxed) as f64 / secs,
                    doc_errors: errors[k].load(Ordering::Relaxed),
                    orders: orders[k].load(Ordering::Relaxed),
                    verify: load_of(&verify_w.window(k), secs),
                    till: load_of(&till_w.window(k), secs),
                    rss_mb: rss,
                    disk_bytes: disk,
                    codes: base_codes + emitted.load(Ordering::Relaxed),
                    server,
                };
                println!("{}", soak_line(k + 1, &row));
                rows.push(row);
            }
            stop.store(true, Ordering::Relaxed);
            verifier
                .join()
                .map_err(|_| anyhow!("the verifier panicked"))??;
            till.join().map_err(|_| anyhow!("the till panicked"))??;
            producer
                .join()
                .map_err(|_| anyhow!("the producer panicked"))??;
            feeder
                .join()
                .map_err(|_| anyhow!("the feeder panicked"))??;
            Ok(())
        })?;
        self.codes += emitted.load(Ordering::Relaxed);
        for (k, w) in [("verify", &verify_w), ("till", &till_w)] {
            if let Some(e) = w.total().first_error {
                eprintln!("soak: {k} errors, the first: {e}");
            }
        }
        Ok(SoakReport {
            header,
            base_codes,
            minutes: rows,
        })
    }
}

/// Sends `v` unless `stop` is set first; `false` when it was not sent.
fn send_until<T>(tx: &mpsc::SyncSender<T>, mut v: T, stop: &AtomicBool) -> bool {
    loop {
        match tx.try_send(v) {
            Ok(()) => return true,
            Err(mpsc::TrySendError::Full(back)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                v = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// The `i`-th request's entry among `n`: a multiplicative hash, random enough and the
/// same every run.
fn pick(i: u64, n: usize) -> usize {
    (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % n.max(1) as u64) as usize
}

/// A window's answers as figures, over `secs`.
fn load_of(w: &Window, secs: f64) -> Load {
    Load {
        ok: w.ok,
        rate: w.ok as f64 / secs.max(1e-9),
        p50_ms: w.p(0.5),
        p99_ms: w.p(0.99),
        max_ms: w.p(1.0),
        errors: w.errors,
        compaction_share: None,
    }
}

// ---------------------------------------------------------------------------------------
// The figures in words, tables and a chart (pure functions of the figures).

/// `1.2 M`, `350 k`, `87`.
fn human(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 1e6 {
        let s = format!("{:.2}", v / 1e6);
        format!("{} M", s.trim_end_matches('0').trim_end_matches('.'))
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// A size's name: `0.2 M`, `100 M`.
fn size_name(millions: f64) -> String {
    let s = format!("{millions:.3}");
    format!("{} M", s.trim_end_matches('0').trim_end_matches('.'))
}

/// One line of progress for a size.
fn size_line(f: &SizeFigures) -> String {
    format!(
        "scale {}: ingest {} uncached / {} cached code-events/s; verify {}/s p99 {:.2} ms (paced: p99 {:.2} ms); till {}/s p99 {:.2} ms (paced: p99 {:.2} ms); emission {}/s; {:.0} B/code; RSS {:.0} MB; start {:.2} s (kill -9) / {:.2} s (clean)",
        size_name(f.millions),
        human(f.uncached.rate),
        human(f.cached.rate),
        human(f.verify.rate),
        f.verify.p99_ms,
        f.verify_paced.p99_ms,
        human(f.till.rate),
        f.till.p99_ms,
        f.till_paced.p99_ms,
        human(f.emission),
        f.bytes_per_code,
        f.rss_mb,
        f.start_killed_s,
        f.start_clean_s
    )
}

/// One line of the soak.
fn soak_line(minute: usize, m: &SoakMinute) -> String {
    format!(
        "minute {minute}: ingest {} code-events/s ({} errors), {} orders done; verify {}/s p50 {:.2} p99 {:.2} max {:.0} ms ({} errors); till {}/s p50 {:.2} p99 {:.2} max {:.0} ms ({} errors); RSS {:.0} MB; store {:.2} GB; {} codes{}",
        human(m.ingest),
        m.doc_errors,
        m.orders,
        human(m.verify.rate),
        m.verify.p50_ms,
        m.verify.p99_ms,
        m.verify.max_ms,
        m.verify.errors,
        human(m.till.rate),
        m.till.p50_ms,
        m.till.p99_ms,
        m.till.max_ms,
        m.till.errors,
        m.rss_mb,
        m.disk_bytes as f64 / 1e9,
        human(m.codes as f64),
        match &m.server {
            Some(sv) => format!(
                "; server: verify over 5 ms {}, till {}; reads waited over 5 ms {}, ran over 5 ms {}",
                ServerMinute::cell(sv.verify),
                ServerMinute::cell(sv.till),
                ServerMinute::cell((sv.reads.0, sv.reads.1)),
                ServerMinute::cell((sv.reads.0, sv.reads.2))
            ),
            None => String::new(),
        }
    )
}

/// The size the others are compared with: 1 M if measured, else the smallest.
fn reference(r: &ScaleReport) -> Option<&SizeFigures> {
    r.sizes
        .iter()
        .find(|s| (s.millions - 1.0).abs() < 1e-9)
        .or_else(|| r.sizes.first())
}

/// A rate of a size's figures.
pub type Rate = fn(&SizeFigures) -> f64;

/// The rates the chart draws and the 25 % bound applies to, by name.
pub const RATES: [(&str, Rate); 5] = [
    ("ingest, uncached", |f| f.uncached.rate),
    ("ingest, cached", |f| f.cached.rate),
    ("verify", |f| f.verify.rate),
    ("till check", |f| f.till.rate),
    ("emission", |f| f.emission),
];

/// One target: what, whether met.
fn targets(r: &ScaleReport) -> Vec<(String, bool)> {
    let (Some(last), Some(refr)) = (r.sizes.last(), reference(r)) else {
        return Vec::new();
    };
    let rn = size_name(refr.millions);
    let mut t = vec![
        (
            format!(
                "uncached ingest ≥ 150 k code-events/s: {}",
                human(last.uncached.rate)
            ),
            last.uncached.rate >= 150_000.0,
        ),
        (
            format!(
                "cached ingest no lower than at {rn}: {} against {}",
                human(last.cached.rate),
                human(refr.cached.rate)
            ),
            last.cached.rate >= refr.cached.rate,
        ),
        {
            let (v, t) = (
                latency(&last.verify_paced, &last.verify),
                latency(&last.till_paced, &last.till),
            );
            (
                format!(
                    "verify p99 ≤ 5 ms: {:.2} ms; till check p99 ≤ 5 ms: {:.2} ms ({}; closed loop of {LOAD_CONNECTIONS} connections: {:.2} and {:.2} ms)",
                    v, t, if last.verify_paced.ok > 0 {
                        format!("at {} requests/s", human(LATENCY_RATE as f64))
                    } else {
                        "not paced".to_string()
                    },
                    last.verify.p99_ms, last.till.p99_ms
                ),
                v <= 5.0 && t <= 5.0,
            )
        },
        (
            format!(
                "verify and till check rates no lower than at {rn}: {} and {} against {} and {}",
                human(last.verify.rate),
                human(last.till.rate),
                human(refr.verify.rate),
                human(refr.till.rate)
            ),
            last.verify.rate >= refr.verify.rate && last.till.rate >= refr.till.rate,
        ),
    ];
    let ratios: Vec<String> = RATES
        .iter()
        .map(|(name, f)| format!("{name} {:.2}", ratio(f(last), f(refr))))
        .collect();
    t.push((
        format!(
            "every rate within 25 % of its {rn} figure: {}",
            ratios.join(", ")
        ),
        RATES.iter().all(|(_, f)| ratio(f(last), f(refr)) >= 0.75),
    ));
    t.push((
        format!("≤ 200 bytes per code on disk: {:.0}", last.bytes_per_code),
        last.bytes_per_code <= 200.0,
    ));
    t.push((
        format!(
            "start-up within seconds (≤ 10 s): {:.2} s after kill -9, {:.2} s after a clean stop",
            last.start_killed_s, last.start_clean_s
        ),
        last.start_killed_s <= 10.0 && last.start_clean_s <= 10.0,
    ));
    t
}

/// A load's p50 · p99 · max (ms) · compaction share, as a table's cell.
fn latency_cell(l: &Load) -> String {
    format!(
        "{:.2} · {:.2} · {:.0} · {}",
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        share(l.compaction_share)
    )
}

/// A share of one core as a table's cell (`–` when not measured).
fn share(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{:.0} %", x * 100.0))
}

/// The p99 a latency target is judged on: the paced load's when it ran, else the closed
/// loop's.
fn latency(paced: &Load, closed: &Load) -> f64 {
    if paced.ok > 0 {
        paced.p99_ms
    } else {
        closed.p99_ms
    }
}

/// `a / b`, or 0 when `b` is not a positive figure.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 && a.is_finite() {
        a / b
    } else {
        0.0
    }
}

/// The scale report as markdown: header, one column per size, the targets.
pub fn scale_markdown(r: &ScaleReport) -> String {
    let mut s = String::new();
    let sample = r.sizes.last().is_none_or(|l| l.millions < 1.0);
    let _ = writeln!(s, "# Tracemark at scale\n");
    if sample {
        let _ = writeln!(
            s,
            "**Sample run** (sizes below 1 M codes, a quick look at what the tool prints): not the figures of record.\n"
        );
    }
    let h = &r.header;
    let _ = writeln!(s, "- machine: {}", h.machine);
    let _ = writeln!(s, "- date: {}; commit: {}", h.date, h.commit);
    let _ = writeln!(s, "- command: `{}`", h.command);
    let _ = writeln!(s, "- engine: {}", h.engine);
    let _ = writeln!(
        s,
        "- the registry: a `tracemark serve` process driven over HTTP on loopback by the bench (same machine, same cores); documents of 1,000 codes signed (RFC 9421) by {INGEST_CLIENTS} clients; one document's codes in {CHAIN_EVERY} shipped, accepted, shipped, accepted and sold (receipts of {RECEIPT_CODES} with a till check); verify and till check on a uniform sample of the stored codes, {LOAD_CONNECTIONS} connections"
    );
    let _ = writeln!(
        s,
        "- uncached: `introduce` on codes applied at the start of the size's growth (left the writer's state cache since: the cache holds `min(4 M, size / 2)` states, `TRACEMARK_STATE_CACHE`, the default from 8 M on); cached: on codes applied just before"
    );
    if !h.engine.starts_with("embedded") {
        let _ = writeln!(
            s,
            "- on PostgreSQL: memory is the registry process's alone (the database's own is not counted); start-up after `kill -9` includes the dead writer's lease running out (6 s) before the new process may write; bytes per code are the schema's tables with their indexes"
        );
    }
    let _ = writeln!(s);
    let mut head = String::from("| | ");
    let mut rule = String::from("|---|");
    for f in &r.sizes {
        let _ = write!(head, "{} | ", size_name(f.millions));
        rule.push_str("---:|");
    }
    head.push_str("target |");
    rule.push_str("---|");
    let _ = writeln!(s, "{head}\n{rule}");
    let ingest = |i: &Ingest| {
        let mut c = human(i.rate);
        if i.errors > 0 {
            let _ = write!(c, " ({} errors)", i.errors);
        }
        c
    };
    let writer = |i: &Ingest| {
        let mut c = match (i.commit_share, i.codes_per_commit) {
            (Some(share), Some(per)) => format!("{:.0} % · {}", share * 100.0, human(per)),
            _ => "–".into(),
        };
        if let Some(x) = i.compaction_share {
            let _ = write!(c, " · {:.0} %", x * 100.0);
        }
        c
    };
    let rate_cell = |l: &Load| {
        let mut c = human(l.rate);
        if l.errors > 0 {
            let _ = write!(c, " ({} errors)", l.errors);
        }
        c
    };
    let paced_row = format!(
        "  paced at {} requests/s: p50 · p99 · max (ms) · store's compaction share",
        human(LATENCY_RATE as f64)
    );
    // Name, the cell of a size, the target.
    type Row<'a> = (&'a str, Box<dyn Fn(&SizeFigures) -> String>, &'a str);
    let rows: Vec<Row> = vec![
        ("codes stored", Box::new(|f| human(f.codes as f64)), ""),
        (
            "writer's state cache (states)",
            Box::new(|f| {
                let mut c = human(f.state_cache as f64);
                if f.state_cache == STATE_CACHE_DEFAULT {
                    c.push_str(" (default)");
                }
                c
            }),
            "",
        ),
        (
            "ingest, uncached (code-events/s)",
            Box::new(move |f| {
                let mut c = ingest(&f.uncached);
                if !f.uncached_sure {
                    c.push_str(" (step too small: partly cached)");
                }
                c
            }),
            "≥ 150 k; within 25 % of 1 M",
        ),
        (
            "  writer's commit share · codes per commit · store's compaction share",
            Box::new(move |f| writer(&f.uncached)),
            "",
        ),
        (
            "ingest, cached (code-events/s)",
            Box::new(move |f| ingest(&f.cached)),
            "no lower than at 1 M",
        ),
        (
            "  writer's commit share · codes per commit · store's compaction share",
            Box::new(move |f| writer(&f.cached)),
            "",
        ),
        (
            "ingest while growing (code-events/s)",
            Box::new(|f| {
                let mut c = human(f.growth_rate);
                if f.growth_errors > 0 {
                    let _ = write!(c, " ({} errors)", f.growth_errors);
                }
                c
            }),
            "",
        ),
        (
            "  then waited for the store's compactions (s): after growing · after the ingests",
            Box::new(|f| format!("{:.0} · {:.0}", f.settle_s, f.settle_reads_s)),
            "",
        ),
        (
            "verify over HTTP (requests/s)",
            Box::new(move |f| rate_cell(&f.verify)),
            "no lower than at 1 M",
        ),
        (
            "  closed loop: p50 · p99 · max (ms) · store's compaction share",
            Box::new(|f| latency_cell(&f.verify)),
            "",
        ),
        (
            &paced_row,
            Box::new(|f| latency_cell(&f.verify_paced)),
            "p99 ≤ 5 ms",
        ),
        (
            "till check over HTTP (requests/s)",
            Box::new(move |f| rate_cell(&f.till)),
            "no lower than at 1 M",
        ),
        (
            "  closed loop: p50 · p99 · max (ms) · store's compaction share",
            Box::new(|f| latency_cell(&f.till)),
            "",
        ),
        (
            &paced_row,
            Box::new(|f| latency_cell(&f.till_paced)),
            "p99 ≤ 5 ms",
        ),
        (
            "emission (codes/s)",
            Box::new(|f| human(f.emission)),
            "within 25 % of 1 M",
        ),
        (
            "bytes per code on disk",
            Box::new(|f| format!("{:.0}", f.bytes_per_code)),
            "≤ 200",
        ),
        (
            "server memory: VmRSS · VmHWM (MB)",
            Box::new(|f| format!("{:.0} · {:.0}", f.rss_mb, f.hwm_mb)),
            "",
        ),
        (
            "start-up after kill -9 (s)",
            Box::new(|f| format!("{:.2}", f.start_killed_s)),
            "within seconds",
        ),
        (
            "start-up after a clean stop (s) · the stop (s)",
            Box::new(|f| format!("{:.2} · {:.2}", f.start_clean_s, f.stop_s)),
            "within seconds",
        ),
    ];
    for (name, cell, target) in &rows {
        let mut line = format!("| {name} | ");
        for f in &r.sizes {
            let _ = write!(line, "{} | ", cell(f));
        }
        let _ = writeln!(s, "{line}{target} |");
    }
    if let (Some(last), Some(refr)) = (r.sizes.last(), reference(r)) {
        let _ = writeln!(
            s,
            "\n## Targets at {} (stated for 100 M; compared with {})\n",
            size_name(last.millions),
            size_name(refr.millions)
        );
        for (what, met) in targets(r) {
            let _ = writeln!(s, "- {} {what}", if met { "met:" } else { "**not met:**" });
        }
    }
    let _ = writeln!(
        s,
        "\n![each rate divided by its figure at {}](scale.svg)",
        reference(r).map_or("1 M".into(), |f| size_name(f.millions))
    );
    s
}

/// Text for XML: `&`, `<`, `>` and `"` escaped.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart: each rate (and the bytes per code) divided by its figure at the reference
/// size, against the size on a log axis, with the 0.75 line of the 25 % bound. Hand-written
/// SVG, no script, no external reference.
pub fn scale_svg(r: &ScaleReport) -> String {
    const W: f64 = 800.0;
    const H: f64 = 420.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 250.0;
    const TOP: f64 = 50.0;
    const BOTTOM: f64 = 50.0;
    // No red among them: red is the 25 % bound's.
    const COLOURS: [&str; 6] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#555555",
    ];
    let refr = reference(r);
    // Name, points (size, ratio), dashed.
    type Line = (String, Vec<(f64, f64)>, bool);
    let mut series: Vec<Line> = RATES
        .iter()
        .map(|(name, f)| {
            let points = r
                .sizes
                .iter()
                .map(|s| (s.millions, refr.map_or(0.0, |x| ratio(f(s), f(x)))))
                .collect();
            ((*name).to_string(), points, false)
        })
        .collect();
    series.push((
        "bytes per code (lower is better)".into(),
        r.sizes
            .iter()
            .map(|s| {
                (
                    s.millions,
                    refr.map_or(0.0, |x| ratio(s.bytes_per_code, x.bytes_per_code)),
                )
            })
            .collect(),
        true,
    ));
    let (mut lo, mut hi) = r.sizes.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), s| {
        (lo.min(s.millions), hi.max(s.millions))
    });
    if !(lo.is_finite() && lo > 0.0) {
        (lo, hi) = (1.0, 100.0);
    }
    if hi / lo < 2.0 {
        (lo, hi) = (lo / 1.5, hi * 1.5);
    }
    let y_max = series
        .iter()
        .flat_map(|(_, p, _)| p.iter().map(|(_, y)| *y))
        .filter(|y| y.is_finite())
        .fold(1.5f64, f64::max)
        .min(10.0)
        * 1.05;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |m: f64| LEFT + (m.ln() - lo.ln()) / (hi.ln() - lo.ln()) * pw;
    let y = |v: f64| TOP + ph - v.clamp(0.0, y_max) / y_max * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let title = format!(
        "Tracemark at scale: each figure divided by its figure at {} (flat is good)",
        refr.map_or("1 M".into(), |f| size_name(f.millions))
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="14" font-weight="bold">{}</text>"#,
        xml(&title)
    );
    let sample = if r.sizes.last().is_none_or(|l| l.millions < 1.0) {
        "sample run (below 1 M codes) · "
    } else {
        ""
    };
    // The engine's name only (its settings are in the table's header): the line fits.
    let engine = r.header.engine.split(';').next().unwrap_or_default();
    let sub = format!("{sample}{engine} · {} · {}", r.header.date, r.header.commit);
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" fill="#666">{}</text>"##,
        xml(&sub)
    );
    // Axes, the horizontal grid every 0.25, the 1.0 line and the 0.75 bound.
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
    );
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.2}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0
        );
        v += if y_max > 3.0 { 0.5 } else { 0.25 };
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#333"/>"##,
        y(1.0),
        LEFT + pw
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#d62728" stroke-dasharray="6 4"/><text x="{2:.1}" y="{3:.1}" fill="#d62728">0.75: the 25 % bound</text>"##,
        y(0.75),
        LEFT + pw,
        LEFT + 6.0,
        y(0.75) + 15.0
    );
    for f in &r.sizes {
        let xx = x(f.millions);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{0:.1}" x2="{xx:.1}" y2="{1:.1}" stroke="#999"/><text x="{xx:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            xml(&size_name(f.millions))
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">codes stored (log scale)</text>"#,
        LEFT + pw / 2.0,
        H - 12.0
    );
    for (i, (name, points, dashed)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let dash = if *dashed {
            r#" stroke-dasharray="3 3""#
        } else {
            ""
        };
        let pts: Vec<String> = points
            .iter()
            .map(|(m, v)| format!("{:.1},{:.1}", x(*m), y(*v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
            pts.join(" ")
        );
        for (m, v) in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                x(*m),
                y(*v)
            );
        }
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let lx = LEFT + pw + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            xml(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The soak as markdown: header, one row per minute, the first minute against the last.
pub fn soak_markdown(r: &SoakReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Tracemark soak\n");
    let minutes: f64 = r.minutes.iter().map(|m| m.secs).sum::<f64>() / 60.0;
    if minutes < SOAK_OF_RECORD_MINUTES {
        let _ = writeln!(
            s,
            "**Sample run** ({}, under {SOAK_OF_RECORD_MINUTES:.0} minutes: the caches are still filling and a drift cannot show yet): not the figures of record.\n",
            if minutes < 1.0 {
                format!("{:.0} s", minutes * 60.0)
            } else {
                format!("{minutes:.0} minutes")
            }
        );
    }
    let h = &r.header;
    let _ = writeln!(s, "- machine: {}", h.machine);
    let _ = writeln!(s, "- date: {}; commit: {}", h.date, h.commit);
    let _ = writeln!(s, "- command: `{}`", h.command);
    let _ = writeln!(s, "- engine: {}", h.engine);
    let _ = writeln!(
        s,
        "- load, all at once, on a registry of {} codes: a producer ordering {} codes at a time, {SOAK_CLIENTS} clients applying and introducing them (documents of 1,000), a shop's till checks ({SOAK_TILL_PER_SEC}/s), {SOAK_VERIFY_CONNECTIONS} connections verifying random stored codes",
        human(r.base_codes as f64),
        human(SOAK_ORDER_CODES as f64)
    );
    let _ = writeln!(
        s,
        "- latencies as the clients saw them; verify is a closed loop (a stall of the server delays only the requests in flight: see its max), the till checks are paced (each request on time, so a stall shows in their p99); the last column is the server's own count of requests answered in over 5 ms (below 1 %: its p99 ≤ 5 ms), apart from the load generator, which shares the cores"
    );
    let _ = writeln!(
        s,
        "- resident memory holds the store's block cache, its memtables and the writer's state cache, sized from one bound (`TRACEMARK_MEMORY_MB`, by default a quarter of memory), as they fill: it is flat once they are full; the store's bytes grow with the codes\n"
    );
    let _ = writeln!(
        s,
        "| minute | ingest (code-events/s) | orders done | verify (req/s) | verify p50 · p99 · max (ms) | till p50 · p99 · max (ms) | errors: docs · verify · till | VmRSS (MB) | store (GB) | codes | server: verify · till over 5 ms |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (i, m) in r.minutes.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} · {:.2} · {:.0} | {:.2} · {:.2} · {:.0} | {} · {} · {} | {:.0} | {:.2} | {} | {} |",
            i + 1,
            human(m.ingest),
            m.orders,
            human(m.verify.rate),
            m.verify.p50_ms,
            m.verify.p99_ms,
            m.verify.max_ms,
            m.till.p50_ms,
            m.till.p99_ms,
            m.till.max_ms,
            m.doc_errors,
            m.verify.errors,
            m.till.errors,
            m.rss_mb,
            m.disk_bytes as f64 / 1e9,
            human(m.codes as f64),
            match &m.server {
                Some(sv) => format!(
                    "{:.2} % · {:.2} %",
                    sv.verify.1 as f64 * 100.0 / sv.verify.0.max(1) as f64,
                    sv.till.1 as f64 * 100.0 / sv.till.0.max(1) as f64
                ),
                None => "–".into(),
            }
        );
    }
    if let (Some(first), Some(last), true) =
        (r.minutes.first(), r.minutes.last(), r.minutes.len() > 1)
    {
        let change = |a: f64, b: f64| {
            if a > 0.0 {
                format!("{:+.0} %", (b / a - 1.0) * 100.0)
            } else {
                "–".into()
            }
        };
        let _ = writeln!(
            s,
            "\nFirst minute against the last: ingest {} → {} ({}), verify p99 {:.2} → {:.2} ms ({}), resident memory {:.0} → {:.0} MB ({}).",
            human(first.ingest),
            human(last.ingest),
            change(first.ingest, last.ingest),
            first.verify.p99_ms,
            last.verify.p99_ms,
            change(first.verify.p99_ms, last.verify.p99_ms),
            first.rss_mb,
            last.rss_mb,
            change(first.rss_mb, last.rss_mb)
        );
    }
    s
}

/// A counter's value in Prometheus text (`name value` on a line of its own).
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(millions: f64, k: f64) -> SizeFigures {
        SizeFigures {
            millions,
            codes: codes_of(millions),
            state_cache: state_cache_for(codes_of(millions)),
            uncached_sure: true,
            growth_rate: 200_000.0 * k,
            growth_errors: 0,
            settle_s: 12.0,
            settle_reads_s: 3.0,
            uncached: Ingest {
                codes: 500_000,
                rate: 160_000.0 * k,
                errors: 0,
                commit_share: Some(0.5),
                codes_per_commit: Some(8_000.0),
                compaction_share: Some(0.25),
            },
            cached: Ingest {
                codes: 500_000,
                rate: 250_000.0 * k,
                errors: 2,
                commit_share: None,
                codes_per_commit: None,
                compaction_share: None,
            },
            verify: Load {
                ok: 100_000,
                rate: 15_000.0 * k,
                p50_ms: 1.5,
                p99_ms: 4.0 / k,
                max_ms: 40.0,
                errors: 0,
                compaction_share: Some(0.1),
            },
            till: Load {
                ok: 100_000,
                rate: 14_000.0 * k,
                p50_ms: 1.6,
                p99_ms: 4.5,
                max_ms: 45.0,
                errors: 0,
                compaction_share: None,
            },
            // Paced: the latency target's figures (the closed loop's 7 ms p99 is not).
            verify_paced: Load {
                ok: 200_000,
                rate: 20_000.0,
                p50_ms: 0.8,
                p99_ms: 7.0 * k - 2.5,
                max_ms: 20.0,
                errors: 0,
                compaction_share: Some(0.0),
            },
            till_paced: Load {
                ok: 200_000,
                rate: 20_000.0,
                p50_ms: 0.9,
                p99_ms: 3.0,
                max_ms: 21.0,
                errors: 0,
                compaction_share: None,
            },
            emission: 900_000.0 * k,
            bytes_per_code: 150.0 / k,
            rss_mb: 800.0,
            hwm_mb: 900.0,
            stop_s: 0.2,
            start_clean_s: 0.5,
            start_killed_s: 1.5,
        }
    }

    fn report(sizes: Vec<SizeFigures>) -> ScaleReport {
        ScaleReport {
            header: Header {
                machine: "test machine <2 cores> & more".into(),
                date: "2026-12-06T00:00:00Z".into(),
                commit: "abc1234".into(),
                command: "tracemark bench --scale 1,10,100".into(),
                engine: "PostgreSQL 16 <test> & co".into(),
            },
            sizes,
        }
    }

    /// Checks that `text` is well-formed XML as far as an SVG of ours goes: every tag
    /// closed in order, attributes quoted, no bare `&` or `<` in text.
    fn well_formed(text: &str) -> std::result::Result<(), String> {
        let mut open: Vec<String> = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(['<', '&']) {
            let (before, after) = rest.split_at(i);
            if before.contains('>') {
                return Err(format!("a bare '>' in text: {before:?}"));
            }
            if after.starts_with('&') {
                let end = after.find(';').ok_or("an unterminated entity")?;
                if !["&amp", "&lt", "&gt", "&quot"].contains(&&after[..end]) {
                    return Err(format!("an unknown entity {}", &after[..end]));
                }
                rest = &after[end + 1..];
                continue;
            }
            let end = after.find('>').ok_or("an unterminated tag")?;
            let tag = &after[1..end];
            rest = &after[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(o) if o == name => {}
                    o => return Err(format!("</{name}> closes {o:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().ok_or("an empty tag")?;
            if tag[name.len()..].matches('"').count() % 2 != 0 || tag.contains('<') {
                return Err(format!("bad attributes in <{tag}>"));
            }
            for attr in tag[name.len()..].split('"').step_by(2) {
                let attr = attr.trim();
                if !(attr.is_empty() || attr.ends_with('=')) {
                    return Err(format!("an attribute without quotes in <{tag}>"));
                }
            }
            if !self_closing {
                open.push(name.to_string());
            }
        }
        if rest.contains('>') {
            return Err("a bare '>' at the end".into());
        }
        if open.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed: {open:?}"))
        }
    }

    #[test]
    fn the_table_has_a_column_per_size_and_the_targets() {
        let r = report(vec![
            figures(1.0, 1.0),
            figures(10.0, 0.95),
            figures(100.0, 0.9),
        ]);
        let md = scale_markdown(&r);
        assert!(md.contains("| | 1 M | 10 M | 100 M | target |"), "{md}");
        assert!(!md.contains("Sample run"), "{md}");
        let uncached = md
            .lines()
            .find(|l| l.starts_with("| ingest, uncached"))
            .expect("the uncached row");
        assert!(
            uncached.contains("| 160.0 k | 152.0 k | 144.0 k |"),
            "{uncached}"
        );
        assert!(md.contains("250.0 k (2 errors)"), "{md}");
        assert!(md.contains("4 M (default)"), "{md}");
        assert!(md.contains("500.0 k |"), "{md}");
        assert!(md.contains("## Targets at 100 M (stated for 100 M; compared with 1 M)"));
        // 144 k < 150 k; cached lower than at 1 M; every rate 0.9 of 1 M: within 25 %.
        assert!(md.contains("**not met:** uncached ingest ≥ 150 k code-events/s: 144.0 k"));
        assert!(md.contains("**not met:** cached ingest no lower than at 1 M"));
        assert!(md.contains("met: every rate within 25 % of its 1 M figure: ingest, uncached 0.90"));
        assert!(md.contains("met: ≤ 200 bytes per code on disk: 167"));
        assert!(md.contains("met: start-up within seconds"));
        // Judged on the paced loads (p99 4.5 ms at 1 M: met; 3.8 at 100 M, 0.9 × 7 − 2.5),
        // with the closed loop's shown beside.
        assert!(
            md.contains("met: verify p99 ≤ 5 ms: 3.80 ms; till check p99 ≤ 5 ms: 3.00 ms (at 20.0 k requests/s; closed loop of 64 connections: 4.44 and 4.50 ms)"),
            "{md}"
        );
        assert!(md.contains("| 12 · 3 |"), "{md}");
        assert!(md.contains("0.80 · 4.50 · 20 · 0 %"), "{md}");
        assert!(md.contains("1.50 · 4.00 · 40 · 10 %"), "{md}");
    }

    #[test]
    fn small_runs_are_marked_as_samples_and_compared_with_their_smallest_size() {
        let mut small = figures(0.5, 0.5);
        small.uncached_sure = false;
        let r = report(vec![figures(0.2, 1.0), small]);
        let md = scale_markdown(&r);
        assert!(md.contains("**Sample run**"), "{md}");
        assert!(md.contains("| | 0.2 M | 0.5 M | target |"), "{md}");
        assert!(md.contains("(step too small: partly cached)"), "{md}");
        assert!(md.contains("compared with 0.2 M"), "{md}");
        assert!(
            md.contains("on PostgreSQL: memory is the registry process's alone"),
            "{md}"
        );
        assert!(md.contains("**not met:** every rate within 25 % of its 0.2 M figure"));
    }

    #[test]
    fn the_chart_is_well_formed_svg_with_a_line_per_series() {
        let r = report(vec![
            figures(1.0, 1.0),
            figures(10.0, 0.95),
            figures(100.0, 0.7),
        ]);
        let svg = scale_svg(&r);
        well_formed(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(svg.matches("<polyline").count(), RATES.len() + 1);
        assert_eq!(svg.matches("<circle").count(), (RATES.len() + 1) * 3);
        for (name, _) in RATES {
            assert!(svg.contains(&format!(">{name}</text>")), "{name}");
        }
        assert!(svg.contains("0.75: the 25 % bound"));
        assert!(svg.contains(">100 M</text>"));
        // Escaped, not raw.
        assert!(svg.contains("PostgreSQL 16 &lt;test&gt; &amp; co"), "{svg}");
        assert!(!svg.contains("sample run"), "{svg}");
        // One size only, and none: still a chart.
        for r in [report(vec![figures(0.2, 1.0)]), report(Vec::new())] {
            let svg = scale_svg(&r);
            well_formed(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
            assert!(svg.contains("sample run (below 1 M codes)"), "{svg}");
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
        assert!(well_formed("<a><b x=\"1\"/></a>").is_ok());
        assert!(well_formed("<a><b></a>").is_err());
        assert!(well_formed("<a>x & y</a>").is_err());
        assert!(well_formed("<a x=1></a>").is_err());
    }

    #[test]
    fn the_server_minute_is_read_from_metrics_text() {
        let text = |v: u64, slow: u64, reads: u64| {
            format!(
                "tracemark_http_requests_total{{route=\"/01/{{gtin}}/21/{{serial}}\",method=\"GET\",status=\"200\"}} {v}\n\
                 tracemark_http_requests_total{{route=\"/01/{{gtin}}/21/{{serial}}\",method=\"GET\",status=\"404\"}} 1\n\
                 tracemark_http_requests_total{{route=\"/api/v1/pos/check\",method=\"POST\",status=\"200\"}} 10\n\
                 tracemark_http_requests_total{{route=\"/api/v1/documents\",method=\"POST\",status=\"200\"}} 99\n\
                 tracemark_http_slow_requests_total{{route=\"/01/{{gtin}}/21/{{serial}}\"}} {slow}\n\
                 tracemark_store_reads_total {reads}\n\
                 tracemark_store_read_slow_waits_total 2\n\
                 tracemark_store_read_slow_runs_total 1\n"
            )
        };
        let a = ServerMinute::read(&text(100, 3, 500));
        assert_eq!(a.verify, (101, 3));
        assert_eq!(a.till, (10, 0));
        assert_eq!(a.reads, (500, 2, 1));
        let b = ServerMinute::read(&text(1_100, 13, 2_500));
        let d = b.since(&a);
        assert_eq!(d.verify, (1_000, 10));
        assert_eq!(d.reads, (2_000, 0, 0));
        assert_eq!(ServerMinute::cell(d.verify), "10 of 1.0 k (1.00 %)");
    }

    #[test]
    fn the_soak_table_has_a_row_per_minute_and_the_drift() {
        let minute = |ingest: f64, p99: f64, rss: f64| SoakMinute {
            secs: 60.0,
            ingest,
            doc_errors: 0,
            orders: 2,
            verify: Load {
                ok: 60_000,
                rate: 1_000.0,
                p50_ms: 1.0,
                p99_ms: p99,
                max_ms: 250.0,
                errors: 1,
                compaction_share: None,
            },
            till: Load::default(),
            rss_mb: rss,
            disk_bytes: 2_500_000_000,
            codes: 3_000_000,
            server: Some(ServerMinute {
                verify: (60_000, 60),
                till: (960, 0),
                reads: (61_000, 5, 1),
            }),
        };
        let r = SoakReport {
            header: report(Vec::new()).header,
            base_codes: 2_000_000,
            minutes: vec![minute(100_000.0, 5.0, 800.0), minute(90_000.0, 6.0, 880.0)],
        };
        let md = soak_markdown(&r);
        assert!(md.contains("registry of 2 M codes"), "{md}");
        assert!(
            md.contains("**Sample run** (2 minutes, under 30 minutes"),
            "{md}"
        );
        assert!(
            md.contains("| 1 | 100.0 k | 2 | 1.0 k | 1.00 · 5.00 · 250 | 0.00 · 0.00 · 0 | 0 · 1 · 0 | 800 | 2.50 | 3 M | 0.10 % · 0.00 % |"),
            "{md}"
        );
        assert!(md.contains("| 2 | 90.0 k |"), "{md}");
        assert!(md.contains("ingest 100.0 k → 90.0 k (-10 %)"), "{md}");
        assert!(md.contains("resident memory 800 → 880 MB (+10 %)"), "{md}");
    }

    #[test]
    fn the_state_cache_leaves_the_first_codes_out_and_takes_the_default_from_8_m() {
        assert_eq!(state_cache_for(200_000), 100_000);
        assert_eq!(state_cache_for(8_000_000), STATE_CACHE_DEFAULT);
        assert_eq!(state_cache_for(100_000_000), STATE_CACHE_DEFAULT);
        assert_eq!(human(2_000_000.0), "2 M");
        assert_eq!(human(2_500_000.0), "2.5 M");
        assert_eq!(size_name(0.2), "0.2 M");
        assert_eq!(size_name(100.0), "100 M");
        assert_eq!(pick(5, 0), 0);
    }
}
