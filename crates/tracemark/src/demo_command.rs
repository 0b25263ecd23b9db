//! The `tracemark demo` command: a registry on a data directory, the simulated economy
//! (`demo`) driving it over HTTP, a status line, and a clean stop on Ctrl-C —
//! the economy first (its request in flight finishes), then the server, then a summary in
//! words and `demo-truth.json`. Once the cast is registered it writes each participant's
//! key to `demo-keys/<tin>.key` and who is who to `demo-participants.json`, and names a
//! producer, a wholesaler, a shop and the regulator to act as. On a temporary data
//! directory (no `--data`) nothing is kept, and the summary says so instead of naming a
//! file about to be removed.

use anyhow::{Context, Result};
use client::Client;
use demo::{count, digital_link, Live, Options, Sim};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command's flags.
pub struct Args {
    /// Data directory (a temporary one when absent).
    pub data: Option<PathBuf>,
    /// The registry's database instead of the embedded store in the data directory.
    pub postgres: Option<String>,
    /// Address to listen on.
    pub listen: String,
    /// Rounds before the economy stops (the server keeps serving).
    pub rounds: Option<u64>,
    /// Target receipts a second.
    pub rate: f64,
    /// The seed.
    pub seed: u64,
}

/// How often the status line is redrawn.
const STATUS_EVERY: Duration = Duration::from_millis(250);
/// How often a plain progress line is printed when standard error is not a terminal (a
/// log or a test reading the output has no status line to look at).
const PLAIN_STATUS_EVERY: Duration = Duration::from_secs(2);
/// How long the server may take to finish its requests in flight once told to stop.
const SERVER_STOP_MAX: Duration = Duration::from_secs(10);
/// The file counting runs on a data directory: the next run's salt.
const RUNS_FILE: &str = "demo-runs";
/// A signal this soon after the first is the same Ctrl-C delivered twice, not a second one.
const SECOND_SIGNAL_AFTER: Duration = Duration::from_millis(500);
/// The file naming every participant, its roles, region and key file (written at start).
pub const PARTICIPANTS_FILE: &str = "demo-participants.json";
/// The file of what the analytics must find (written at exit).
pub const TRUTH_FILE: &str = "demo-truth.json";
/// The directory of the participants' secret keys.
pub const KEYS_DIR: &str = "demo-keys";

/// This run's salt: how many demo runs this data directory has seen (the count is kept
/// in [`RUNS_FILE`]), so identifiers never repeat on it and a fresh one starts at 0.
fn next_salt(dir: &Path) -> Result<u32> {
    let path = dir.join(RUNS_FILE);
    let runs = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse::<u32>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    std::fs::write(&path, format!("{}\n", runs + 1))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(runs)
}

fn status(live: &Live, started: Instant) -> String {
    format!(
        "{} s: {} done, {}, {} sold, {} refused, {}",
        started.elapsed().as_secs(),
        count(live.rounds.load(Ordering::Relaxed), "round", "rounds"),
        count(
            live.documents.load(Ordering::Relaxed),
            "document",
            "documents"
        ),
        count(live.units_sold.load(Ordering::Relaxed), "unit", "units"),
        live.refusals.load(Ordering::Relaxed),
        count(
            live.planted.load(Ordering::Relaxed),
            "planted offence",
            "planted offences"
        ),
    )
}

/// Prints a line above the status line, or plainly when there is none.
fn say(bar: &indicatif::ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

/// Sets `stop` on SIGINT or SIGTERM; a second one leaves at once. The handlers are in
/// place when this returns (not when the task first runs), so a Ctrl-C right after the
/// first line printed still stops cleanly.
fn on_interrupt(rt: &tokio::runtime::Runtime, stop: Arc<AtomicBool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let _in_rt = rt.enter();
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            rt.spawn(async move {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
                stop.store(true, Ordering::Relaxed);
                // One Ctrl-C may arrive twice (to the process and to its group, as
                // `timeout` sends it): only a second one a moment later means "now".
                let first = Instant::now();
                loop {
                    tokio::select! {
                        _ = int.recv() => {},
                        _ = term.recv() => {},
                    }
                    if first.elapsed() >= SECOND_SIGNAL_AFTER {
                        break;
                    }
                }
                eprintln!("tracemark demo: interrupted again; leaving without the summary");
                std::process::exit(130);
            });
            return;
        }
    }
    rt.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.store(true, Ordering::Relaxed);
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("tracemark demo: interrupted again; leaving without the summary");
        std::process::exit(130);
    });
}

/// Runs the demo until interrupted.
pub fn run(rt: &tokio::runtime::Runtime, args: Args) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (dir, temporary) = match args.data {
        Some(d) => (d, false),
        None => (tmp.path().to_path_buf(), true),
    };
    let opened = match &args.postgres {
        Some(url) => {
            node::make_data_dir(&dir)?;
            node::open_home(&node::Home::Postgres(url.clone()), registry::system_clock())?
        }
        None => node::open(&dir, registry::system_clock())?,
    };
    let salt = next_salt(&dir)?;
    let admin = opened.config.admin_token.clone();
    let listener = node::bind(rt, &args.listen)?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let lease = node::start_lease(&opened, base.clone())?;
    let (down, down_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(node::serve_until(
        listener,
        opened.registry,
        opened.config,
        server::serve::Limits::default(),
        async {
            let _ = down_rx.await;
        },
    ));
    let stop = Arc::new(AtomicBool::new(false));
    on_interrupt(rt, stop.clone());

    println!(
        "tracemark demo: registry on {base}, data in {}{}",
        dir.display(),
        if temporary {
            " (temporary, removed at exit; --data DIR keeps it)"
        } else {
            ""
        }
    );
    println!(
        "  seed {} (--seed), run {salt} on this data directory, {} receipts a second (--rate)",
        args.seed, args.rate
    );
    println!("  scan a label with a phone:  {base}/scan");
    println!("  API: {base}/openapi.json · {base}/health · {base}/metrics");
    println!("  admin token: {admin}");
    println!("tracemark demo: registering participants, product cards and the first batches; Ctrl-C stops");

    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let live = Arc::new(Live::default());
    let mut opts = Options::new(args.seed, salt, args.rate);
    opts.live = live.clone();
    let client = Client::new(&base)?;
    let keys_dir = dir.join(KEYS_DIR);
    let participants = dir.join(PARTICIPANTS_FILE);
    let economy = {
        let (stop, bar, base, rounds) = (stop.clone(), bar.clone(), base.clone(), args.rounds);
        std::thread::spawn(move || -> (Option<Sim>, Result<()>) {
            let mut sim = match Sim::set_up(client, &admin, opts) {
                Ok(s) => s,
                Err(e) => return (None, Err(e)),
            };
            let r = (|| -> Result<()> {
                sim.write_keys(&keys_dir)?;
                sim.write_participants(&participants, &keys_dir)?;
                if stop.load(Ordering::Relaxed) {
                    // Interrupted while setting up: no pages to open on a server stopping.
                    return sim.run(rounds, &stop);
                }
                let (_, token) = sim.regulator();
                say(&bar, format!(
                    "  act as a participant: its Ed25519 secret key (base64) is in {}/<tin>.key; who is who (TIN, name, roles, region, key file): {}",
                    keys_dir.display(),
                    participants.display()
                ));
                for (role, what) in [
                    ("producer", "a producer:    "),
                    ("wholesaler", "a wholesaler:  "),
                    ("retailer", "a shop:        "),
                    ("regulator", "the regulator: "),
                ] {
                    if let Some((tin, name)) = sim.example(role) {
                        say(&bar, format!("    {what}TIN {tin} ({name})"));
                    }
                }
                // A token in a URL's fragment never reaches a server or its logs; the page
                // moves it into the tab's session storage and out of the address bar.
                say(
                    &bar,
                    format!(
                    "  the regulator's dashboard (signed in):\n    {base}/dashboard#token={token}"
                ),
                );
                for (tin, name, t) in sim.businesses() {
                    say(
                        &bar,
                        format!("  {name}'s cabinet (TIN {tin}):\n    {base}/cabinet#token={t}"),
                    );
                }
                say(&bar, format!(
                    "  the regulator's alerts (its token lasts 10 h):\n    curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/alerts"
                ));
                sim.round(&stop)?;
                let (genuine, sold) = sim.examples();
                if let Some(g) = genuine {
                    say(
                        &bar,
                        format!("  verify a genuine item:  {base}{}", digital_link(&g)),
                    );
                    say(
                        &bar,
                        format!(
                            "    curl -s '{base}/api/v1/verify?code={}'",
                            gs1::percent_encoded(&g)
                        ),
                    );
                }
                if let Some(s) = sold {
                    say(
                        &bar,
                        format!("  verify a sold item:     {base}{}", digital_link(&s)),
                    );
                    say(
                        &bar,
                        format!(
                            "    curl -s '{base}/api/v1/verify?code={}'",
                            gs1::percent_encoded(&s)
                        ),
                    );
                }
                sim.run(rounds, &stop)
            })();
            (Some(sim), r)
        })
    };

    // The status line, until the economy stops.
    let started = Instant::now();
    let mut plain_at = Instant::now();
    while !economy.is_finished() {
        bar.set_message(status(&live, started));
        if bar.is_hidden() && plain_at.elapsed() >= PLAIN_STATUS_EVERY {
            println!("tracemark demo: {}", status(&live, started));
            plain_at = Instant::now();
        }
        std::thread::sleep(STATUS_EVERY);
    }
    let (sim, outcome) = economy
        .join()
        .unwrap_or_else(|_| (None, Err(anyhow::anyhow!("the economy's thread panicked"))));
    bar.finish_and_clear();
    if let Err(e) = &outcome {
        println!("tracemark demo: the economy stopped on an error: {e:#}");
    } else if !stop.load(Ordering::Relaxed) {
        println!(
            "tracemark demo: the economy finished its {}; still serving on {base}; Ctrl-C stops",
            count(args.rounds.unwrap_or_default(), "round", "rounds")
        );
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(STATUS_EVERY);
        }
    }
    println!("tracemark demo: stopping");
    // On a temporary directory the file would be removed with it at once: not written.
    let summary = match &sim {
        Some(sim) => {
            let truth = (!temporary).then(|| dir.join(TRUTH_FILE));
            if let Some(t) = &truth {
                sim.write_truth(t)?;
            }
            Some((sim.summary(), truth))
        }
        None => None,
    };
    // The client's pooled connections close with it, before the server stops.
    drop(sim);
    let _ = down.send(());
    match rt.block_on(async { tokio::time::timeout(SERVER_STOP_MAX, server).await }) {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => println!("tracemark demo: the server stopped on an error: {e:#}"),
        Ok(Err(_)) => println!("tracemark demo: the server's task failed"),
        Err(_) => println!(
            "tracemark demo: the server did not stop within {} s",
            SERVER_STOP_MAX.as_secs()
        ),
    }
    if let Some(lease) = lease {
        lease.stop();
    }
    if let Some((text, truth)) = summary {
        println!();
        print!("{text}");
        match truth {
            Some(t) => println!("What the analytics must find is in {}", t.display()),
            None => println!(
                "What the analytics must find is not kept (the data directory was temporary): run with --data DIR to keep the data, the keys and {TRUTH_FILE}"
            ),
        }
    }
    outcome
}
