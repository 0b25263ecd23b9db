//! The projections survive `kill -9`: the real `tracemark serve` binary is killed three
//! times while shops sell and grey shops try to sell goods they never received; after the
//! last restart the risk engine has lost no alert and counted no offence or sale twice.
//!
//! What is checked, against what the clients were answered:
//! - each grey shop has exactly one `grey_sale` alert (one incident across all restarts),
//!   whose count lies between the refusals it was answered and those plus the attempts in
//!   flight at the kills;
//! - the honest shop, which sells exactly what it received (with till checks), has no
//!   alert at all: a sale counted twice after a replay would exceed its receipts;
//! - the analytics count exactly the units the honest shop sold.

use client::{gtin, id_code, Actor, Client};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "crash-control-admin-token-0123456789";
const GREY_SHOPS: usize = 3;
const HONEST_UNITS: usize = 240;
const KILLS: usize = 3;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("TRACEMARK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let addr = line
            .trim()
            .rsplit_once(" on http://")
            .map(|(_, a)| a.to_string())
            .unwrap_or_else(|| panic!("serve did not start: {line:?}"));
        // Keep reading so the server never writes to a closed pipe.
        std::thread::spawn(move || for _ in out.lines() {});
        let base = format!("http://{addr}");
        let c = Client::new(&base).expect("client");
        let t = Instant::now();
        while !matches!(c.get(None, "/health"), Ok((200, _))) {
            assert!(t.elapsed() < Duration::from_secs(30), "no /health");
            std::thread::sleep(Duration::from_millis(10));
        }
        Server { child, base }
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn receipt() -> Value {
    json!({"fiscal_drive": "9999078900012345", "number": 1,
        "at": types::time::format_timestamp(registry::system_clock()()), "store": "s"})
}

/// Refusals answered, and attempts whose answer the kill cut off.
#[derive(Default)]
struct Tally {
    refused: AtomicU64,
    unknown: AtomicU64,
}

#[test]
fn no_alert_lost_and_no_sale_counted_twice_across_kills() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(dir.path());
    let c = Client::new(&server.base).expect("client");
    let maker = c
        .register_with_prefixes(
            ADMIN_TOKEN,
            "7790000001",
            "Factory",
            &["producer"],
            "RU-MOW",
            &["4605555"],
        )
        .expect("producer");
    let shop = c
        .register(
            ADMIN_TOKEN,
            "7790000002",
            "Honest shop",
            &["retailer"],
            "RU-MOW",
        )
        .expect("shop");
    let greys: Vec<Actor> = (0..GREY_SHOPS)
        .map(|i| {
            c.register(
                ADMIN_TOKEN,
                &format!("77900001{i:02}"),
                "Grey shop",
                &["retailer"],
                "RU-SPE",
            )
            .expect("grey")
        })
        .collect();
    let inspector = c
        .register(
            ADMIN_TOKEN,
            "7790000009",
            "Inspector",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_555_500_001);
    let (st, v) = c
        .post_signed(
            &maker,
            "/api/v1/products",
            &json!({"gtin": g, "name": "Shoe", "product_group": "shoes"}),
        )
        .expect("product");
    assert_eq!(st, 201, "{v}");
    let codes = c
        .order_codes(&maker, &g, (HONEST_UNITS * 2) as u32, "mac")
        .expect("codes");
    let ids: Vec<String> = codes.iter().map(|c| id_code(c).to_string()).collect();
    let (honest, stray) = ids.split_at(HONEST_UNITS);
    for body in [
        json!({"type": "apply", "codes": ids}),
        json!({"type": "introduce", "codes": ids, "production_date": "2026-11-01"}),
    ] {
        c.document(&maker, body).expect("send").expect("accepted");
    }
    let ship = c
        .document(
            &maker,
            json!({"type": "ship", "codes": honest, "receiver": shop.tin}),
        )
        .expect("send")
        .expect("accepted");
    c.document(&shop, json!({"type": "accept", "shipment": ship["id"]}))
        .expect("send")
        .expect("accepted");

    let tallies: Vec<Tally> = (0..GREY_SHOPS).map(|_| Tally::default()).collect();
    let next_sale = AtomicU64::new(0);
    let unsure_sale = AtomicBool::new(false);
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        std::env::var("TRACEMARK_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7),
    );
    for round in 0..=KILLS {
        let c = Client::new(&server.base).expect("client");
        let shop = c.sign_in(&shop.tin, shop.key.clone()).expect("sign in");
        let greys: Vec<Actor> = greys
            .iter()
            .map(|a| c.sign_in(&a.tin, a.key.clone()).expect("sign in"))
            .collect();
        let stop = AtomicBool::new(false);
        std::thread::scope(|sc| {
            // The honest shop: a till check, then the sale naming it, one unit at a time. A
            // sale cut off by a kill is looked up after the restart, as a till does: sold
            // means done; otherwise check again and sell.
            sc.spawn(|| {
                // Carried over rounds: the last sale before a kill is unsure.
                let mut unsure = unsure_sale.load(Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    let i = next_sale.load(Ordering::SeqCst) as usize;
                    if i >= HONEST_UNITS {
                        break;
                    }
                    if unsure {
                        let Ok((200, info)) =
                            c.get(Some(&shop), &format!("/api/v1/codes/{}", honest[i]))
                        else {
                            continue;
                        };
                        unsure = false;
                        if info["status"] == "RETIRED" {
                            next_sale.fetch_add(1, Ordering::SeqCst);
                            continue;
                        }
                    }
                    // The till scans the label: the full code, its crypto tail with it (a
                    // check that says "not sellable" is no check of the sale).
                    let Ok((200, chk)) =
                        c.post(&shop, "/api/v1/pos/check", &json!({"codes": [codes[i]]}))
                    else {
                        unsure = true;
                        continue;
                    };
                    let body = json!({"type": "sell", "codes": [honest[i]], "receipt": receipt(),
                        "check_ids": [chk["request_id"]]});
                    match c.document(&shop, body) {
                        Ok(Ok(_)) => {
                            next_sale.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Err((s, v))) => panic!("honest sale refused: {s} {v}"),
                        // The server went away: look the code up after the restart.
                        Err(_) => unsure = true,
                    }
                }
                unsure_sale.store(unsure, Ordering::SeqCst);
            });
            for (gi, grey) in greys.iter().enumerate() {
                let (c, stray, stop, t) = (&c, &stray, &stop, &tallies[gi]);
                sc.spawn(move || {
                    let mut k = gi;
                    while !stop.load(Ordering::Relaxed) {
                        let code = &stray[k % stray.len()];
                        k += GREY_SHOPS;
                        match c.document(
                            grey,
                            json!({"type": "sell", "codes": [code], "receipt": receipt()}),
                        ) {
                            Ok(Err(_)) => t.refused.fetch_add(1, Ordering::SeqCst),
                            Ok(Ok(v)) => panic!("a grey sale was accepted: {v}"),
                            Err(_) => {
                                t.unknown.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                        };
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
            }
            if round < KILLS {
                std::thread::sleep(Duration::from_millis(rng.gen_range(300..1_500)));
                server.kill();
            } else {
                // The last round runs until the honest shop has sold everything.
                let t = Instant::now();
                while (next_sale.load(Ordering::SeqCst) as usize) < HONEST_UNITS {
                    assert!(
                        t.elapsed() < Duration::from_secs(120),
                        "honest sales stalled"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        if round < KILLS {
            server = Server::start(dir.path());
        }
    }
    let c = Client::new(&server.base).expect("client");
    let inspector = c
        .sign_in(&inspector.tin, inspector.key.clone())
        .expect("sign in");
    // Wait until every refusal answered is counted (the engine catches up after a restart).
    let t = Instant::now();
    let alerts = loop {
        let (st, v) = c
            .get(Some(&inspector), "/api/v1/alerts?limit=1000")
            .expect("alerts");
        assert_eq!(st, 200, "{v}");
        let all = v["alerts"].as_array().cloned().unwrap_or_default();
        let counted = |tin: &str| -> u64 {
            all.iter()
                .filter(|a| a["kind"] == "grey_sale" && a["participant"] == tin)
                .map(|a| a["evidence"]["count"].as_u64().unwrap_or(0))
                .sum()
        };
        let caught_up = greys
            .iter()
            .zip(&tallies)
            .all(|(g, t)| counted(&g.tin) >= t.refused.load(Ordering::SeqCst));
        if caught_up || t.elapsed() > Duration::from_secs(10) {
            break all;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for (g, t) in greys.iter().zip(&tallies) {
        let mine: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["kind"] == "grey_sale" && a["participant"] == g.tin)
            .collect();
        assert_eq!(mine.len(), 1, "one incident per grey shop: {mine:#?}");
        let n = mine[0]["evidence"]["count"].as_u64().expect("count");
        let (refused, unknown) = (
            t.refused.load(Ordering::SeqCst),
            t.unknown.load(Ordering::SeqCst),
        );
        println!(
            "grey shop {}: {refused} refusals answered, {unknown} cut off, {n} counted",
            g.tin
        );
        assert!(
            (refused..=refused + unknown).contains(&n),
            "{n} counted for {refused} refusals answered and {unknown} cut off"
        );
    }
    // The analytics count every honest sale once: none lost, none counted twice.
    let t = Instant::now();
    let sold = loop {
        let (st, v) = c
            .get(
                Some(&inspector),
                "/api/v1/analytics/sales?group_by=participant",
            )
            .expect("analytics");
        assert_eq!(st, 200, "{v}");
        let sold = v["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["key"] == shop.tin)
            .and_then(|r| r["units"].as_u64())
            .unwrap_or(0);
        if sold == HONEST_UNITS as u64 || t.elapsed() > Duration::from_secs(10) {
            break sold;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        sold, HONEST_UNITS as u64,
        "units sold by the honest shop, in the analytics"
    );
    let honest_alerts: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["participant"] == shop.tin)
        .collect();
    assert!(
        honest_alerts.is_empty(),
        "the honest shop: {honest_alerts:#?}"
    );
}
