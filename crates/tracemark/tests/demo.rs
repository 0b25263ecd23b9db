//! The demo economy against a real registry over real HTTP: one seed gives one run, every
//! planted kind shows up in a short run and only offenders are ever refused, and the
//! `tracemark demo` binary stops cleanly on Ctrl-C.

#[allow(dead_code)] // Not every test binary uses every shared helper.
mod support;

use demo::{world::kind, Options, Sim};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

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
        assert!(types::regions::region(r).is_some(), "{r} is a known region");
    }

    // What the registry holds agrees: the regulator reads the complaints filed.
    let (tin, token) = sim.regulator();
    let regulator = client::Actor {
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

/// What a run of the binary printed and left.
struct Stopped {
    status: std::process::ExitStatus,
    out: String,
    err: String,
}

/// Runs `tracemark demo` with `args` (plus a free port), sends SIGINT after the first line
/// of standard output for which `ready` holds (within `FIRST_SALE_MAX`), and waits for it
/// to stop (within `STOP_MAX`).
fn run_binary_until(args: &[&std::ffi::OsStr], ready: impl Fn(&str) -> bool) -> Stopped {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .args(args)
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
    let start = Instant::now();
    let mut out = Vec::new();
    loop {
        let left = FIRST_SALE_MAX.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let done = ready(&l);
                out.push(l);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("not ready within {FIRST_SALE_MAX:?}:\n{}", out.join("\n"));
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
    Stopped {
        status,
        out: out.join("\n"),
        err,
    }
}

/// The number before `suffix` in a status line's comma-separated parts (`12 units sold`).
fn status_count(line: &str, singular: &str, plural: &str) -> Option<u64> {
    line.split(", ").find_map(|p| {
        p.strip_suffix(plural)
            .or_else(|| p.strip_suffix(singular))
            .and_then(|n| n.trim().parse::<u64>().ok())
    })
}

/// Every check a stopped run passes whatever it did: exit 0, no error, no Debug dump, no
/// "1 rounds" (a count of one with a plural noun), and no heading without lines under it.
fn assert_clean(r: &Stopped) {
    let (all, err) = (&r.out, &r.err);
    assert!(r.status.success(), "exit {:?}\n{all}\n{err}", r.status);
    for text in [all, err] {
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
    for line in all.lines() {
        let words: Vec<&str> = line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        for w in words.windows(2) {
            assert!(
                !(w[0] == "1"
                    && [
                        "rounds",
                        "documents",
                        "units",
                        "receipts",
                        "regions",
                        "checks",
                        "codes",
                        "complaints",
                        "offences",
                        "were"
                    ]
                    .contains(&w[1])),
                "a plural after 1: {line}\n{all}"
            );
        }
    }
    let lines: Vec<&str> = all.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.ends_with(':') && !l.starts_with(' ') {
            assert!(
                lines.get(i + 1).is_some_and(|n| n.starts_with("  ")),
                "a heading with nothing under it: {l}\n{all}"
            );
        }
    }
}

#[test]
fn the_binary_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().expect("dir");
    // Until it has sold something and planted an offence: its plain status lines say.
    let r = run_binary_until(
        &[
            "--rate".as_ref(),
            "5".as_ref(),
            "--data".as_ref(),
            dir.path().as_os_str(),
        ],
        |l| {
            status_count(l, " unit sold", " units sold").is_some_and(|n| n > 0)
                && status_count(l, " planted offence", " planted offences").is_some_and(|n| n > 0)
        },
    );
    assert_clean(&r);
    let all = &r.out;
    assert!(all.contains(" documents were accepted; "), "{all}");
    assert!(all.contains(" sold "), "{all}");
    assert!(all.contains("The planted offenders:"), "{all}");
    assert!(all.contains("the counterfeiter"), "{all}");
    let truth_path = dir.path().join("demo-truth.json");
    assert!(
        all.contains(&format!(
            "What the analytics must find is in {}",
            truth_path.display()
        )),
        "{all}"
    );
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&truth_path).expect("demo-truth.json written"))
            .expect("json");
    assert!(truth["totals"]["units_sold"]
        .as_u64()
        .is_some_and(|n| n > 0));
    assert!(truth["regulator_tin"].as_str().is_some());
    let keys = std::fs::read_dir(dir.path().join("demo-keys")).expect("demo-keys");
    assert!(keys.count() >= 30, "a key per participant");

    // Who is who, written at start: every participant with its key file, and nothing that
    // gives the planted offenders away.
    let who: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("demo-participants.json"))
            .expect("demo-participants.json written"),
    )
    .expect("json");
    let cards = who["participants"].as_array().expect("participants");
    assert_eq!(
        cards.len(),
        truth["participants"].as_array().map_or(0, Vec::len),
        "every participant"
    );
    assert_eq!(who["regulator_tin"], truth["regulator_tin"]);
    for c in cards {
        assert!(c.get("planted").is_none(), "{c}");
        let key = c["key_file"].as_str().expect("key_file");
        assert!(std::path::Path::new(key).is_file(), "{key}");
        assert!(key.ends_with(&format!("{}.key", c["tin"].as_str().unwrap_or("?"))));
    }
    let raw = std::fs::read_to_string(dir.path().join("demo-participants.json")).expect("read");
    for word in ["planted", "counterfeiter", "offender"] {
        assert!(!raw.contains(word), "{word} in demo-participants.json");
    }
    // The output names a producer, a wholesaler, a shop and the regulator to act as, each
    // in the file with that role.
    let planted: BTreeSet<&str> = truth["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !p["planted"].is_null())
        .filter_map(|p| p["tin"].as_str())
        .collect();
    for (label, role) in [
        ("a producer:", "producer"),
        ("a wholesaler:", "wholesaler"),
        ("a shop:", "retailer"),
        ("the regulator:", "regulator"),
    ] {
        let line = all
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line:\n{all}"));
        let tin = line
            .split("TIN ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_else(|| panic!("no TIN in {line}"));
        let card = cards
            .iter()
            .find(|c| c["tin"] == tin)
            .unwrap_or_else(|| panic!("{tin} is not in demo-participants.json"));
        assert!(
            card["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == role)),
            "{line}: {card}"
        );
        let name = card["name"].as_str().expect("name");
        assert!(line.contains(name), "{line} names {name}");
        assert!(
            !planted.contains(tin),
            "an example is a planted offender: {line}"
        );
        assert!(dir
            .path()
            .join("demo-keys")
            .join(format!("{tin}.key"))
            .is_file());
    }
    // Both example items have a curl line to verify them.
    assert_eq!(
        all.matches("/api/v1/verify?code=").count(),
        2,
        "a curl line for the genuine and the sold item:\n{all}"
    );
}

#[test]
fn a_stop_without_data_keeps_nothing_and_names_no_removed_path() {
    // One round as fast as it goes, then Ctrl-C while it keeps serving.
    let r = run_binary_until(
        &[
            "--rounds".as_ref(),
            "1".as_ref(),
            "--rate".as_ref(),
            "0".as_ref(),
        ],
        |l| l.contains("the economy finished its"),
    );
    assert_clean(&r);
    let all = &r.out;
    assert!(all.contains("the economy finished its 1 round;"), "{all}");
    assert!(all.contains("The economy ran 1 round in"), "{all}");
    let data = all
        .lines()
        .find_map(|l| l.split(", data in ").nth(1))
        .and_then(|t| t.split(" (temporary").next())
        .unwrap_or_else(|| panic!("no temporary data directory named:\n{all}"));
    assert!(
        !std::path::Path::new(data).exists(),
        "{data} is removed at exit"
    );
    let summary = all
        .split("tracemark demo: stopping")
        .nth(1)
        .unwrap_or_else(|| panic!("no stop:\n{all}"));
    assert!(
        !summary.contains(data),
        "the summary names the removed {data}:\n{summary}"
    );
    assert!(
        summary.contains("not kept") && summary.contains("--data DIR"),
        "{summary}"
    );
    // While it ran, it named the participants' file (then in the temporary directory).
    assert!(all.contains("demo-participants.json"), "{all}");
}

#[test]
fn a_stop_while_setting_up_reports_only_what_happened() {
    let dir = tempfile::tempdir().expect("dir");
    // Interrupted as soon as it starts registering: it sets up, then stops before round 1.
    let r = run_binary_until(
        &[
            "--rate".as_ref(),
            "5".as_ref(),
            "--data".as_ref(),
            dir.path().as_os_str(),
        ],
        |l| l.contains("registering participants"),
    );
    assert_clean(&r);
    let all = &r.out;
    assert!(all.contains("The economy ran 0 rounds in"), "{all}");
    assert!(!all.contains("The planted offenders:"), "{all}");
    assert!(!all.contains("nothing yet"), "{all}");
    assert!(all.contains("No offence was planted"), "{all}");
    assert!(all.contains("no unit was sold"), "{all}");
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("demo-truth.json")).expect("demo-truth.json written"),
    )
    .expect("json");
    assert_eq!(truth["rounds"], 0);
    assert_eq!(
        all.contains("The regulator recalled batch"),
        !truth["recall"].is_null(),
        "the recall is announced only when made: {all}"
    );
    assert!(dir.path().join("demo-participants.json").is_file());
}
