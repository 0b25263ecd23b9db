//! The demo economy against a real registry over real HTTP: one seed gives one run, every
//! planted kind shows up in a short run and only offenders are ever refused, and the
//! `tracemark demo` binary stops cleanly on Ctrl-C.

#[allow(dead_code)] // Not every test binary uses every shared helper.
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tracemark::demo::{world::kind, Options, Sim};

/// Rounds of the library runs: round 1 has every offender strike once (the grey seller
/// offering more than it received included); the next rounds show the steady state.
const ROUNDS: u64 = 3;
/// The seed of the library runs.
const SEED: u64 = 7;
/// How long the binary may take to set up and sell its first units (a debug build on two
/// cores sets up in about 5 s).
const FIRST_SALE_MAX: Duration = Duration::from_secs(60);
/// How long the binary may take to stop once interrupted.
const STOP_MAX: Duration = Duration::from_secs(30);

/// A full run of `ROUNDS` rounds, as fast as the registry answers, on a fresh registry.
fn run(seed: u64) -> (support::Server, Sim) {
    let srv = support::start();
    let mut sim = Sim::set_up(srv.c.clone(), &srv.admin, Options::new(seed, 0, 0.0))
        .expect("the demo sets up");
    sim.run(Some(ROUNDS), &AtomicBool::new(false))
        .expect("the demo runs");
    assert_eq!(sim.rounds(), ROUNDS);
    (srv, sim)
}

#[test]
fn one_seed_one_run_every_planted_kind_and_only_offenders_refused() {
    // Two fresh registries, one seed: the same actions, ledger and totals (the codes
    // themselves differ: each registry draws its own serials).
    let (a, b, other) = std::thread::scope(|s| {
        let a = s.spawn(|| run(SEED));
        let b = s.spawn(|| run(SEED));
        let other = s.spawn(|| run(SEED + 1));
        (
            a.join().expect("run a"),
            b.join().expect("run b"),
            other.join().expect("another seed"),
        )
    });
    let (srv, sim) = a;
    let (_srv_b, sim_b) = b;
    let (ta, tb) = (sim.truth(), sim_b.truth());
    assert_eq!(ta.trace, tb.trace, "the same sequence of actions");
    assert_eq!(sim.planted(), sim_b.planted());
    assert_eq!(sim.totals(), sim_b.totals());
    assert_eq!(sim.activity(), sim_b.activity());
    assert_eq!(
        ta.participants.iter().map(|p| &p.tin).collect::<Vec<_>>(),
        tb.participants.iter().map(|p| &p.tin).collect::<Vec<_>>(),
        "the same TINs from the same seed and salt"
    );
    // Another seed, another run.
    let to = other.1.truth();
    assert_ne!(ta.trace, to.trace);
    assert_ne!(ta.participants[0].tin, to.participants[0].tin);

    // Every planted kind, at least once.
    let planted = sim.planted();
    let kinds: BTreeSet<&str> = planted
        .iter()
        .filter(|p| p.count > 0)
        .map(|p| p.kind)
        .collect();
    for k in [
        kind::REPEAT_SALE,
        kind::NOT_INTRODUCED_SALE,
        kind::CLONE_SCANS,
        kind::GREY_SALE,
        kind::SALES_EXCEED_RECEIPTS,
        kind::FORGED_TAIL,
        kind::EXPIRED_SALE,
        kind::RECALLED_SALE,
        kind::COMPLAINT_CLUSTER,
    ] {
        assert!(kinds.contains(k), "{k} was planted: {planted:?}");
    }
    // Each kind is one offender's.
    let offenders: BTreeSet<String> = sim.offenders().into_iter().map(|(t, _)| t).collect();
    for p in &planted {
        assert!(offenders.contains(&p.participant_tin), "{p:?}");
    }

    // Refusals: only offenders', and each offence that is a document was refused.
    let act = sim.activity();
    assert_eq!(act.honest_refusals, 0, "{act:?}");
    for tin in act.refused_by.keys() {
        assert!(
            offenders.contains(tin),
            "an honest participant {tin} was refused: {act:?}"
        );
    }
    let documents_planted: u64 = planted
        .iter()
        .filter(|p| {
            [
                kind::REPEAT_SALE,
                kind::NOT_INTRODUCED_SALE,
                kind::GREY_SALE,
                kind::EXPIRED_SALE,
                kind::RECALLED_SALE,
            ]
            .contains(&p.kind)
        })
        .map(|p| p.count)
        .sum();
    assert_eq!(act.refused(), documents_planted, "{act:?}");
    for reason in act.refused_reasons.keys() {
        assert!(
            ["not_owner", "already_sold", "blocked", "expired"].contains(&reason.as_str()),
            "refused for {reason}"
        );
    }
    assert_eq!(act.throttled, 0, "a short run is never throttled");

    // The totals add up, and something of every kind of shop was sold.
    let t = sim.totals();
    assert!(t.units_sold > 0 && t.receipts > 0);
    for by in [
        &t.by_region,
        &t.by_product_group,
        &t.by_gtin,
        &t.by_participant,
    ] {
        assert_eq!(by.values().sum::<u64>(), t.units_sold);
    }
    assert!(
        t.by_region.len() >= 8,
        "sales in many regions: {:?}",
        t.by_region
    );
    for r in t.by_region.keys() {
        assert!(
            registry::regions::region(r).is_some(),
            "{r} is a known region"
        );
    }

    // What the registry holds agrees: the regulator reads the complaints filed.
    let (tin, token) = sim.regulator();
    let regulator = tracemark::client::Actor {
        tin: tin.to_string(),
        key: ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
        token: token.to_string(),
    };
    let (status, v) = srv
        .c
        .get(Some(&regulator), "/api/v1/complaints")
        .expect("complaints");
    assert_eq!(status, 200, "{v}");
    let complaints = v["complaints"].as_array().map_or(0, Vec::len) as u64;
    let cluster = planted
        .iter()
        .find(|p| p.kind == kind::COMPLAINT_CLUSTER)
        .map_or(0, |p| p.count);
    assert_eq!(complaints, cluster);
    // The registry links each complaint to the shop that sold the item: the planted one.
    let complained = sim
        .offenders()
        .into_iter()
        .find(|(_, part)| *part == "complained_shop")
        .map(|(tin, _)| tin)
        .expect("a complained-about shop");
    for c in v["complaints"].as_array().into_iter().flatten() {
        assert_eq!(c["shop_tin"], complained.as_str(), "{c}");
    }

    // The risk engine raised every kind planted, about the planted offender, and nothing
    // else: honest traffic is silent.
    let wanted: BTreeSet<&str> = kinds.clone();
    let end = Instant::now() + Duration::from_secs(10);
    let alerts = loop {
        let (status, v) = srv
            .c
            .get(Some(&regulator), "/api/v1/alerts?limit=1000")
            .expect("alerts");
        assert_eq!(status, 200, "{v}");
        let all = v["alerts"].as_array().cloned().unwrap_or_default();
        let seen: BTreeSet<&str> = all.iter().filter_map(|a| a["kind"].as_str()).collect();
        if seen.is_superset(&wanted) || Instant::now() > end {
            break all;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let seen: BTreeSet<String> = alerts
        .iter()
        .filter_map(|a| a["kind"].as_str().map(str::to_string))
        .collect();
    let wanted_owned: BTreeSet<String> = wanted.iter().map(|k| k.to_string()).collect();
    assert_eq!(seen, wanted_owned, "alert kinds raised vs planted");
    for a in &alerts {
        let kind = a["kind"].as_str().unwrap_or_default();
        if let Some(who) = a["participant"].as_str() {
            assert!(
                planted
                    .iter()
                    .any(|p| p.kind == kind && p.participant_tin == who),
                "a {kind} alert about {who}, who did not plant it: {a}"
            );
        }
    }

    // The analytics hold exactly the sales the economy made, by every grouping.
    let head = srv.c.get(None, "/health").expect("health");
    assert_eq!(head.0, 200);
    let end = Instant::now() + Duration::from_secs(10);
    let t = sim.totals();
    for (group, want) in [
        ("region", &t.by_region),
        ("product_group", &t.by_product_group),
        ("gtin", &t.by_gtin),
        ("participant", &t.by_participant),
    ] {
        let got = loop {
            let (status, v) = srv
                .c
                .get(
                    Some(&regulator),
                    &format!("/api/v1/analytics/sales?group_by={group}"),
                )
                .expect("analytics");
            assert_eq!(status, 200, "{v}");
            let got: std::collections::BTreeMap<String, u64> = v["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| Some((r["key"].as_str()?.to_string(), r["units"].as_u64()?)))
                .collect();
            if &got == want || Instant::now() > end {
                break got;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(&got, want, "sales by {group}: analytics vs the economy");
    }

    // The examples the demo prints verify as it says.
    let (genuine, sold) = sim.examples();
    for (code, verdict) in [(genuine, "genuine"), (sold, "sold")] {
        let code = code.expect("an example");
        let v: serde_json::Value = srv
            .http
            .get(format!(
                "{}/api/v1/verify?code={}",
                srv.base,
                gs1::percent_encoded(&code)
            ))
            .send()
            .and_then(|r| r.json())
            .expect("verify");
        assert_eq!(v["verdict"], verdict, "{v}");
    }

    // The truth file is JSON with the ledger in it.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("demo-truth.json");
    sim.write_truth(&path).expect("truth");
    let back: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_eq!(
        back["planted"].as_array().map(Vec::len),
        Some(planted.len())
    );
    assert_eq!(back["totals"]["units_sold"], t.units_sold);
    assert_eq!(back["seed"], SEED);
}

#[test]
fn the_binary_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["demo", "--listen", "127.0.0.1:0", "--rate", "5", "--data"])
        .arg(dir.path())
        .env("RUST_LOG", "info,lsm_tree=warn,fjall=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let out_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Wait until it has sold something: its plain status lines say how many units.
    let start = Instant::now();
    let mut out = Vec::new();
    let sold = |l: &str| {
        l.split(", ")
            .find_map(|p| p.strip_suffix(" units sold"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    };
    loop {
        let left = FIRST_SALE_MAX.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let done = sold(&l);
                out.push(l);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no sale within {FIRST_SALE_MAX:?}:\n{}", out.join("\n"));
            }
        }
    }
    // SAFETY: signalling our own child by its pid.
    let pid = i32::try_from(child.id()).expect("pid");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if stopped.elapsed() > STOP_MAX {
            let _ = child.kill();
            panic!("still running {STOP_MAX:?} after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    out_reader.join().expect("stdout reader");
    out.extend(rx.try_iter());
    let err = err_reader.join().expect("stderr reader");
    let all = out.join("\n");
    assert!(status.success(), "exit {status:?}\n{all}\n{err}");
    assert!(all.contains("documents were accepted"), "{all}");
    assert!(all.contains("units in"), "{all}");
    assert!(all.contains("The planted offenders:"), "{all}");
    assert!(all.contains("the counterfeiter"), "{all}");
    for text in [&all, &err] {
        for line in text.lines() {
            let l = line.to_lowercase();
            assert!(
                !l.contains("connection refused") && !l.contains("error"),
                "{line}\n--- stdout:\n{all}\n--- stderr:\n{err}"
            );
            assert!(
                !line.contains("Sim {") && !line.contains("Tally {"),
                "a Debug dump: {line}"
            );
        }
    }
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("demo-truth.json")).expect("demo-truth.json written"),
    )
    .expect("json");
    assert!(truth["totals"]["units_sold"]
        .as_u64()
        .is_some_and(|n| n > 0));
    assert!(truth["regulator_tin"].as_str().is_some());
    let keys = std::fs::read_dir(dir.path().join("demo-keys")).expect("demo-keys");
    assert!(keys.count() >= 30, "a key per participant");
}
