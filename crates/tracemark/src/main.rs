//! `tracemark`: serve, demo, audit, export, bench, label, scan.

mod demo_command;

/// jemalloc, not glibc's malloc: glibc keeps freed memory in per-thread arenas (up to eight
/// a core) that the store's background workers, the reader pool and the async workers
/// fragment, so the process outgrew its `TRACEMARK_MEMORY_MB` bound while its named caches
/// stayed within theirs. Side by side under the same soak (5 M codes, a 1,024 MiB bound,
/// 12 minutes): 1.27–1.53 GB and creeping with glibc, 1.03–1.16 GB and flat with
/// jemalloc, ingest no lower (docs/performance.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tracemark",
    version,
    about = "National track-and-trace registry of marked goods",
    after_help = "Examples:\n  tracemark demo                                   a registry with a simulated economy; prints where to look\n  tracemark serve --data ./data --listen 127.0.0.1:8080\n  tracemark label '(01)04601234567893(21)abc123(93)Zx9q' --out label.png\n  tracemark help serve                             every option of one command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry over HTTP, its data in the embedded store in the directory given
    /// by --data (created on first start, with the admin token in DIR/admin.token, unless
    /// the environment variable TRACEMARK_ADMIN_TOKEN gives it). Ctrl-C or SIGTERM stops
    /// it: requests in flight are finished, and every acknowledged write is already on disk.
    ///
    /// Example: tracemark serve --data ./data --listen 127.0.0.1:8080
    Serve {
        /// Data directory (created if new).
        #[arg(long, value_name = "DIR", required_unless_present = "postgres")]
        data: Option<PathBuf>,
        /// PostgreSQL URL instead of --data (plain PostgreSQL or a Citus coordinator;
        /// postgres://user:password@host:port/db). The schema is created or migrated at
        /// start.
        #[arg(long)]
        postgres: Option<String>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Requests a second one address may make to the public endpoints (verification,
        /// the Digital Link resolver, sign-in); 0: unlimited.
        #[arg(long, default_value_t = 100)]
        public_rate: u32,
        /// Most client connections open at once; at the cap the longest-idle one makes
        /// room, and when none is idle a newcomer is answered 503.
        #[arg(long, default_value_t = server::serve::CONNECTIONS_MAX)]
        connections_max: usize,
        /// Addresses that may read /metrics without the admin token (a Prometheus
        /// scraper's), comma-separated; everyone else needs the admin token.
        #[arg(long, value_delimiter = ',', default_values_t = server::METRICS_ALLOW_DEFAULT)]
        metrics_allow: Vec<std::net::IpAddr>,
        /// The registry's public address (https://registry.example): every request
        /// signature must then cover "@authority" equal to its host (or carry
        /// tag="<this URL>"), so a request signed for one deployment is refused by another.
        #[arg(long, value_name = "URL", value_parser = server::httpsig::PublicUrl::parse)]
        public_url: Option<server::httpsig::PublicUrl>,
        /// No per-participant limit on till checks (by default 20 checks and 200 codes a
        /// second, bursts of 40 and 2,000): for a fiscal data operator checking for many
        /// tills under one TIN, and for `bench --scale`, which measures the check itself.
        #[arg(long)]
        till_unlimited: bool,
    },
    /// Start a registry with a simulated economy flowing through it (producers, importers,
    /// wholesalers, shops, shoppers and planted offenders, through the public API); prints
    /// the pages to open and how to act as a participant. Ctrl-C stops it.
    ///
    /// Example: tracemark demo --rate 20 --seed 7
    Demo {
        /// Data directory: the registry's store, demo-keys/<tin>.key (each participant's
        /// secret key), demo-participants.json (who is who: TIN, name, roles, region, key
        /// file) and, at exit, demo-truth.json (what the analytics must find). Default: a
        /// fresh temporary one, removed at exit with all of these.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Run the registry on this PostgreSQL database instead of the embedded store (the
        /// demo's files still go to --data, or a temporary directory).
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Stop the economy after this many rounds (of 20 receipts each) and keep serving
        /// until interrupted (default: run until interrupted).
        #[arg(long)]
        rounds: Option<u64>,
        /// Target fiscal receipts a second across all shops (0: as fast as it goes).
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// Seed of every choice the economy makes: one seed, one sequence of actions.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Recompute the transparency log from the stored records and check every record it
    /// vouches for; exits 1 naming the first records that do not match.
    ///
    /// Example: tracemark audit --data ./data --checkpoint kept-checkpoint.txt
    Audit {
        /// Data directory of the embedded store (the registry must not be running on it).
        #[arg(long, value_name = "DIR", required_unless_present = "postgres")]
        data: Option<PathBuf>,
        /// PostgreSQL URL instead of --data (plain PostgreSQL or a Citus coordinator;
        /// postgres://user:password@host:port/db). The schema is created or migrated at
        /// start.
        #[arg(long)]
        postgres: Option<String>,
        /// A signed checkpoint kept earlier (GET /api/v1/log/checkpoint): the store's tree
        /// of that size must have its root.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Where the replay of the log builds its temporary store (removed at exit; about
        /// the size of the registry's own). Default: the system's temporary directory.
        #[arg(long, value_name = "DIR")]
        scratch: Option<PathBuf>,
    },
    /// Export the registry's history (its feed of committed facts) as Parquet files that
    /// DuckDB, pandas and Spark open directly: sales.parquet, movements.parquet,
    /// refusals.parquet and checks.parquet in DIR (replaced if there). The registry must
    /// be stopped.
    ///
    /// Example: tracemark export --parquet ./history --data ./data
    ///
    /// Incrementally: tracemark export --parquet ./history/from-1001 --data ./data --from-seq 1001
    /// (the previous export printed its last feed sequence number, 1000).
    Export {
        /// The directory to write the files in (created if missing).
        #[arg(long, value_name = "DIR")]
        parquet: PathBuf,
        /// Data directory of the embedded store (the registry must not be running on it).
        #[arg(long, value_name = "DIR", required_unless_present = "postgres")]
        data: Option<PathBuf>,
        /// PostgreSQL URL instead of --data (plain PostgreSQL or a Citus coordinator;
        /// postgres://user:password@host:port/db). The schema is created or migrated at
        /// start.
        #[arg(long)]
        postgres: Option<String>,
        /// Export the feed from this sequence number on (default: from the start). To
        /// add to an earlier export, give its last sequence number plus one and another
        /// DIR: readers take a glob over the directories.
        #[arg(long, value_name = "N", default_value_t = 1)]
        from_seq: u64,
    },
    /// Write a printable label for one marking code: a GS1 Data Matrix (ECC 200, FNC1
    /// first, GS separators) or, with --qr, a QR code of its GS1 Digital Link (the crypto
    /// tail as query attributes), with a quiet zone and the GTIN and serial printed under
    /// it. The format follows the file name: .png or .svg.
    ///
    /// Example: tracemark label '(01)04601234567893(21)abc123(93)Zx9q' --out label.png --module 8
    ///
    /// Example: tracemark label "$CODE" --qr --base https://registry.example --out label.svg
    Label {
        /// The marking code: GS-separated (ASCII 29), bracketed `(01)…(21)…`, or a GS1
        /// Digital Link URI; `-` reads it from standard input.
        code: String,
        /// The file to write; its extension picks the format (.png or .svg).
        #[arg(long, value_parser = tracemark::labels::parse_out)]
        out: PathBuf,
        /// A QR code of the code's GS1 Digital Link instead of a Data Matrix.
        #[arg(long)]
        qr: bool,
        /// Module size: whole pixels for .png (default 10), millimetres for .svg
        /// (default 0.5).
        #[arg(long, value_name = "N")]
        module: Option<f64>,
        /// The registry's public address, the Digital Link's base for --qr.
        #[arg(long, value_name = "URL", default_value = tracemark::labels::DEFAULT_BASE)]
        base: String,
    },
    /// Read the marking codes (GS1 Data Matrix, Digital Link QR) in a photo or scan
    /// (PNG or JPEG, at most 8 MiB and 24 Mpx); prints each code's bracketed form and its
    /// element string (GS shown as <GS>). Exits 1 when no code is read.
    ///
    /// Example: tracemark scan label-photo.jpg --json
    Scan {
        /// The image file.
        file: PathBuf,
        /// Print JSON: {"codes": [{"symbology", "code", "brackets", "text"}]}.
        #[arg(long)]
        json: bool,
    },
    /// Run the deterministic simulator: the registry in process, driven from one seed
    /// (orders, documents along the chain, sales, write-offs, till checks, restarts) over
    /// the embedded store with storage faults injected (failed commits, a full disk,
    /// failing reads), every invariant checked after each step. A failing seed prints
    /// itself and how to replay it, and the command exits 1.
    ///
    /// Example: tracemark sim --seeds 1..100 --steps 200
    Sim {
        /// One seed to run (its summary is printed).
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Seeds A..B (B excluded) to run one after another.
        #[arg(long, value_name = "A..B")]
        seeds: Option<String>,
        /// Steps per seed.
        #[arg(long, default_value_t = 200)]
        steps: u64,
    },
    /// Decode one photo from standard input and print the codes as JSON (the server's
    /// isolated photo decoder; not for people).
    #[command(hide = true)]
    DecodeWorker,
    /// Run the benchmark suite (use a release build) and print its figures.
    ///
    /// Example: cargo run --release -- bench --only control --runs 3
    Bench {
        /// Smaller sizes, for a quick look (figures not comparable with full runs).
        #[arg(long)]
        quick: bool,
        /// Repetitions per measurement (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Only one part: raw, trust (signature checks, log appends), emit, ingest
        /// (in-process), http, consumer (labels, photos, complaints), control (the
        /// projections' cost to ingest, alert latency), analytics (the projection loaded
        /// with 10 M sales) or export (Parquet rows written from an economy's feed).
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(bench::PARTS))]
        only: Option<String>,
        /// Also run raw, emit, ingest and http on this PostgreSQL server or Citus
        /// coordinator (repeat for several), each run in a schema of its own (dropped
        /// after), and print them beside the embedded figures.
        #[arg(long = "postgres", value_name = "URL")]
        postgres: Vec<String>,
        /// The scale suite instead: one registry (a `tracemark serve` process, driven over
        /// HTTP) grown to each size in millions of codes — 1,10,100, or fractions such as
        /// 0.2,0.5 for a quick look — measuring ingest (cached and not), verify and the
        /// till check, emission, bytes per code, memory and start-up at each; prints a
        /// table and writes scale.md and scale.svg (see --scale-out). With --postgres URL
        /// the registry runs on that server instead of the embedded store.
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        scale: Vec<f64>,
        /// Mixed load for MINUTES (after the --scale sizes, or on a registry grown to 2 M
        /// codes): a producer ordering, four clients applying and introducing, a shop's
        /// till checks and 16 connections verifying; one line a minute (ingest, verify
        /// p99, resident memory), written to soak.md.
        #[arg(long, value_name = "MINUTES")]
        soak: Option<f64>,
        /// Where --scale and --soak make their scratch directory (the registry's data and
        /// log; removed at the end unless --keep). Default: the system's temporary
        /// directory. 100 M codes take about 20 GB.
        #[arg(long, value_name = "DIR")]
        scale_dir: Option<PathBuf>,
        /// Keep the scratch directory (and the PostgreSQL schema) of --scale and --soak.
        #[arg(long)]
        keep: bool,
        /// Where --scale writes scale.md and scale.svg and --soak soak.md. Default: docs/
        /// when the current directory has one (a checkout), else the current directory.
        #[arg(long, value_name = "DIR")]
        scale_out: Option<PathBuf>,
    },
}

use node::Home;

fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    let cli = Cli::parse();
    // The simulator injects faults on purpose: the registry's logs of them are noise there
    // (RUST_LOG still turns them on).
    let quiet = matches!(cli.command, Command::Sim { .. });
    let default = if quiet {
        "off"
    } else {
        "info,lsm_tree=warn,fjall=warn,tokio_postgres=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, plain text for a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The causes in one line (`{:#}`), not anyhow's Debug form: a mistake on the
            // command line is not a crash, and gets no backtrace even with RUST_BACKTRACE=1.
            eprintln!("tracemark: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs one command.
fn run(cli: Cli) -> Result<()> {
    if let Command::DecodeWorker = cli.command {
        // Before any runtime: the worker is one short-lived process per photo.
        std::process::exit(server::scan::worker_main());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Audit {
            data,
            postgres,
            checkpoint,
            scratch,
        } => {
            let home = Home::from_flags(data, postgres)?;
            // A missing store is refused, never created (as export does).
            let store = export::open_home_store(&home)?;
            let (keyring, log_key) = export::audit_keys(&home)?;
            let note = checkpoint.map(std::fs::read_to_string).transpose()?;
            let key = log_key.map(|k| ed25519_dalek::SigningKey::from_bytes(&k).verifying_key());
            let origin = node::log_origin();
            let kept = match (&note, &key) {
                (Some(n), Some(k)) => Some((n.as_str(), origin.as_str(), k)),
                (Some(_), None) => bail!(
                    "no log.key in {} to check the checkpoint with",
                    home.describe()
                ),
                _ => None,
            };
            let mut r = audit::audit(&*store, kept)?;
            use base64::Engine;
            println!(
                "tracemark audit: {} log records, {} documents; root {}",
                r.leaves,
                r.documents,
                base64::engine::general_purpose::STANDARD.encode(r.root)
            );
            let scratch_dir = match &scratch {
                Some(d) => tempfile::Builder::new()
                    .prefix("tracemark-audit-")
                    .tempdir_in(d),
                None => tempfile::Builder::new()
                    .prefix("tracemark-audit-")
                    .tempdir(),
            }
            .context("making the replay's temporary store")?;
            let replayed = store_fjall::FjallStore::open_with(scratch_dir.path(), false)
                .map_err(|e| anyhow::anyhow!("the replay's temporary store: {e}"))?;
            let s = audit::audit_state(&*store, &replayed, keyring, &mut r)?;
            println!(
                "tracemark audit: state replayed from {} log records ({} unsigned, taken as stored) in {:.1} s; {} code states, {} ranges of emitted codes and {} inventory counters compared in {:.1} s: {:.0} codes/s",
                s.replayed,
                s.unsigned,
                s.replay_secs,
                s.codes,
                s.ranges,
                s.inventory,
                s.compare_secs,
                s.codes_per_sec()
            );
            drop(replayed);
            drop(scratch_dir);
            if r.problems.is_empty() {
                println!("tracemark audit: every record matches");
                return Ok(());
            }
            for p in &r.problems {
                println!("MISMATCH: {p}");
            }
            std::process::exit(1);
        }
        Command::Export {
            parquet,
            data,
            postgres,
            from_seq,
        } => {
            let home = Home::from_flags(data, postgres)?;
            let store = export::open_home_store(&home)?;
            let s = export::export(&*store, &parquet, from_seq)?;
            for (file, rows) in &s.rows {
                println!("tracemark export: {file}: {rows} rows");
            }
            match s.range {
                Some((first, last)) => println!(
                    "tracemark export: feed {first}..={last} ({} entries) into {} in {:.2} s; next: --from-seq {}",
                    s.entries,
                    parquet.display(),
                    s.elapsed.as_secs_f64(),
                    last + 1
                ),
                None => println!(
                    "tracemark export: no feed entries from {from_seq} on; empty files in {} ({:.2} s)",
                    parquet.display(),
                    s.elapsed.as_secs_f64()
                ),
            }
            if s.not_exported > 0 {
                println!(
                    "tracemark export: {} complaint and block entries not exported",
                    s.not_exported
                );
            }
            if s.unreadable > 0 {
                println!(
                    "tracemark export: {} entries of a record format this build cannot read were skipped",
                    s.unreadable
                );
            }
            Ok(())
        }
        Command::Serve {
            data,
            postgres,
            listen,
            public_rate,
            connections_max,
            metrics_allow,
            public_url,
            till_unlimited,
        } => {
            let home = Home::from_flags(data, postgres)?;
            // The address first: a port in use leaves no new data directory behind.
            let listener = node::bind(&rt, &listen)?;
            let mut opened = node::open_home(&home, registry::system_clock())?;
            opened.config.public_rate = (public_rate > 0).then_some(public_rate);
            opened.config.metrics_allow = metrics_allow;
            if till_unlimited {
                opened.config.till_quota = None;
            }
            let address = match &public_url {
                Some(u) => u.url.clone(),
                None => format!("http://{}", listener.local_addr()?),
            };
            opened.config.public_url = public_url;
            // On a shared database: the writer's lease, taken before the first request.
            let lease = node::start_lease(&opened, address)?;
            let role = opened.config.role.clone();
            rt.block_on(async move {
                let addr = listener.local_addr()?;
                println!("tracemark: serving {} on http://{addr}", home.describe());
                match &role {
                    Some(r) if r.is_writer() => {
                        println!("tracemark: the writer (this process holds the database's lease)")
                    }
                    Some(_) => println!(
                        "tracemark: a reader (another process holds the database's lease; this one takes it if that one stops)"
                    ),
                    None => {}
                }
                match &opened.admin_token_file {
                    Some(f) if opened.admin_token_new => println!(
                        "tracemark: admin token (generated, kept in {}): {}",
                        f.display(),
                        opened.config.admin_token
                    ),
                    Some(f) => println!("tracemark: admin token in {}", f.display()),
                    None if opened.admin_token_new => println!(
                        "tracemark: admin token (generated, kept in the database): {}",
                        opened.config.admin_token
                    ),
                    None if opened.postgres.is_some()
                        && std::env::var("TRACEMARK_ADMIN_TOKEN").is_err() =>
                    {
                        println!("tracemark: admin token in the database (tracemark_secrets, admin.token)")
                    }
                    None => println!("tracemark: admin token from TRACEMARK_ADMIN_TOKEN"),
                }
                let limits = server::serve::Limits {
                    connections_max,
                    ..Default::default()
                };
                node::serve_with(listener, opened.registry, opened.config, limits)
                    .await?;
                if let Some(lease) = lease {
                    // Released at once: a reader takes over without waiting for it to run out.
                    tokio::task::spawn_blocking(move || lease.stop()).await?;
                }
                println!("tracemark: stopped; every acknowledged write is durable");
                Ok(())
            })
        }
        Command::Demo {
            data,
            postgres,
            listen,
            rounds,
            rate,
            seed,
        } => demo_command::run(
            &rt,
            demo_command::Args {
                data,
                postgres,
                listen,
                rounds,
                rate,
                seed,
            },
        ),
        Command::Label {
            code,
            out,
            qr,
            module,
            base,
        } => {
            let req = tracemark::labels::LabelRequest {
                code,
                out,
                qr,
                module,
                base,
            };
            println!("tracemark label: {}", tracemark::labels::run(&req)?);
            Ok(())
        }
        Command::DecodeWorker => unreachable!("handled before the runtime"),
        Command::Sim { seed, seeds, steps } => sim_command(seed, seeds.as_deref(), steps),
        Command::Scan { file, json } => {
            tracemark::scan::run(&file, json, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Command::Bench {
            quick,
            runs,
            only,
            postgres,
            scale,
            soak,
            scale_dir,
            keep,
            scale_out,
        } => {
            if scale.is_empty() && soak.is_none() {
                return bench::run(quick, runs.max(1), only.as_deref(), &postgres);
            }
            if postgres.len() > 1 {
                bail!("--scale and --soak run on one engine: give one --postgres URL at most");
            }
            if quick || only.is_some() {
                bail!("--quick and --only choose parts of the suite, not of --scale or --soak");
            }
            let out = scale_out.unwrap_or_else(|| {
                let docs = PathBuf::from("docs");
                if docs.is_dir() {
                    docs
                } else {
                    PathBuf::from(".")
                }
            });
            bench::bench_scale::run(&bench::bench_scale::Options {
                sizes: scale,
                soak_minutes: soak,
                postgres: postgres.into_iter().next(),
                dir: scale_dir,
                keep,
                out,
                command: std::env::args()
                    .enumerate()
                    // A database URL's password stays out of the report.
                    .map(|(i, a)| {
                        if i == 0 {
                            "tracemark".to_string()
                        } else {
                            node::redact_url(&a)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            })
        }
    }
}

/// `tracemark sim`: one seed, or a range of them, each run to its end or to its first
/// broken invariant (then an error naming the seed and how to replay it).
fn sim_command(seed: Option<u64>, seeds: Option<&str>, steps: u64) -> Result<()> {
    let range = match (seed, seeds) {
        (Some(s), _) => s..s.saturating_add(1),
        (None, Some(r)) => {
            let (a, b) = r
                .split_once("..")
                .ok_or_else(|| anyhow::anyhow!("--seeds takes A..B, as in 1..100"))?;
            let (a, b): (u64, u64) = (
                a.trim().parse().context("--seeds: the first seed")?,
                b.trim().parse().context("--seeds: the end")?,
            );
            if b <= a {
                bail!("--seeds {r}: the end must be past the start, as in 1..100");
            }
            a..b
        }
        (None, None) => 1..2,
    };
    let started = std::time::Instant::now();
    let mut total = sim::Summary::default();
    let n = range.end - range.start;
    for s in range {
        let summary = sim::run(s, steps).map_err(|f| anyhow::anyhow!("{f}"))?;
        if n == 1 {
            println!("seed {s}: {summary}; {} codes", summary.codes);
        }
        total.add(&summary);
    }
    println!(
        "{n} seeds × {steps} steps in {:.1} s: {total}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
