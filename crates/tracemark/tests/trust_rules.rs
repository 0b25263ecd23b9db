//! Issue 14's findings about the registry's rules, replayed over real HTTP as the attacker
//! did and shown refused or bounded, with the figures printed: a retailer's token flooding
//! the till check (6), an expired code sold on a backdated receipt naming the failed check
//! (7), one bought label scanned from two addresses far apart (10). Each test starts its own registry (a registry kept in a `static` would leave its
//! data directory behind).

#[allow(dead_code)] // Not every test binary uses every shared helper.
mod support;

use client::{gtin, id_code, Actor};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(6);
/// Flooding threads (the attack's three).
const FLOODERS: usize = 3;
/// Codes in each flooding check (the attack's 1,000: the most a check takes).
const FLOOD_CODES: u32 = 1_000;
/// How long public verification is measured idle.
const IDLE: Duration = Duration::from_secs(3);
/// How long the risk engine may take to show an alert on a busy machine.
const ALERT_WAIT: Duration = Duration::from_secs(60);

fn today() -> String {
    types::time::format_date(types::time::day_of(registry::system_clock()()))
}

fn days_ago(n: u32) -> String {
    types::time::format_date(types::time::day_of(registry::system_clock()()) - n)
}

fn doc(s: &support::Server, a: &Actor, body: Value) -> Value {
    match s.c.document(a, body.clone()).expect("send") {
        Ok(v) => v,
        Err((st, v)) => panic!("{body} → {st} {v}"),
    }
}

fn ids(codes: &[String]) -> Vec<&str> {
    codes.iter().map(|c| id_code(c)).collect()
}

/// `n` codes of `g` applied and introduced by `maker` (made `made_days_ago`, expiring on
/// `expiry` when given).
fn introduced(
    s: &support::Server,
    maker: &Actor,
    g: &str,
    n: u32,
    made: &str,
    expiry: Option<&str>,
) -> Vec<String> {
    let codes = s.c.order_codes(maker, g, n, "mac").expect("codes");
    doc(s, maker, json!({"type": "apply", "codes": ids(&codes)}));
    let mut intro = json!({"type": "introduce", "codes": ids(&codes), "production_date": made});
    if let Some(e) = expiry {
        intro["expiry_date"] = json!(e);
    }
    doc(s, maker, intro);
    codes
}

fn transfer(s: &support::Server, from: &Actor, to: &Actor, codes: &[String]) {
    let ship = doc(
        s,
        from,
        json!({"type": "ship", "receiver": to.tin, "codes": ids(codes)}),
    );
    doc(s, to, json!({"type": "accept", "shipment": ship["id"]}));
}

fn receipt(at: u64, n: u64) -> Value {
    json!({"fiscal_drive": "9999078900001234", "number": n,
        "at": types::time::format_timestamp(at), "store": "Test shop"})
}

/// The regulator's alerts.
fn alerts(s: &support::Server, regulator: &Actor) -> Vec<Value> {
    let (st, v) =
        s.c.get(Some(regulator), "/api/v1/alerts?limit=1000")
            .expect("alerts");
    assert_eq!(st, 200, "{v}");
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// Waits until an alert of `kind` about `tin` shows (the risk engine follows the feed).
fn wait_alert(s: &support::Server, regulator: &Actor, kind: &str, tin: &str) -> Value {
    let end = Instant::now() + ALERT_WAIT;
    loop {
        if let Some(a) = alerts(s, regulator)
            .into_iter()
            .find(|a| a["kind"] == kind && a["participant"] == tin)
        {
            return a;
        }
        assert!(Instant::now() < end, "no {kind} alert about {tin}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// Bytes on disk of every file under `dir` (blocks allocated: the store's journal is
/// preallocated, so its length says nothing of what was written).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => n += dir_bytes(&e.path()),
            Ok(m) => n += m.blocks() * 512,
            Err(_) => {}
        }
    }
    n
}

/// Verifies `code` in a loop until `stop`: each latency in ms.
fn measure_verify(s: &support::Server, code: &str, stop: &AtomicBool, max: Duration) -> Vec<f64> {
    let url = format!(
        "{}/api/v1/verify?code={}",
        s.base,
        gs1::percent_encoded(code)
    );
    let start = Instant::now();
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < max {
        let t = Instant::now();
        let r = s.http.get(&url).send().expect("verify");
        assert_eq!(r.status().as_u16(), 200);
        let _ = r.bytes();
        out.push(t.elapsed().as_secs_f64() * 1_000.0);
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

#[test]
fn a_retailers_token_cannot_flood_the_till_check() {
    // Finding 6: one retailer's token, three threads of 1,000-code till checks.
    let s = &support::start();
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            "7730000001",
            "Flood maker",
            &["producer"],
            "RU-MOW",
            &["4603001"],
        )
        .expect("maker");
    let honest =
        s.c.register(
            &s.admin,
            "7730000002",
            "Honest shop",
            &["retailer"],
            "RU-MOW",
        )
        .expect("honest");
    let flooder =
        s.c.register(
            &s.admin,
            "7730000003",
            "Flooding shop",
            &["retailer"],
            "RU-MOW",
        )
        .expect("flooder");
    let regulator =
        s.c.register(
            &s.admin,
            "7730000004",
            "Inspectorate",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_300_100_001);
    s.product(&maker, &g, "Shoes", "shoes");
    let codes = introduced(s, &maker, &g, FLOOD_CODES + 3, &today(), None);
    let (shelf, flood_codes) = codes.split_at(3);
    transfer(s, &maker, &honest, shelf);
    let body = serde_json::to_vec(&json!({ "codes": flood_codes })).expect("json");

    // Public verification, idle.
    let idle = measure_verify(s, &shelf[2], &AtomicBool::new(false), IDLE);
    let data = s.data_dir().to_path_buf();
    let before = dir_bytes(&data);

    // The flood, with verification measured during it; half-way, the honest shop checks
    // and sells.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, limited, other) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let started = Instant::now();
    let (busy, honest_sale) = std::thread::scope(|sc| {
        for _ in 0..FLOODERS {
            let (stop, ok, limited, other) =
                (stop.clone(), ok.clone(), limited.clone(), other.clone());
            let (body, token) = (body.clone(), flooder.token.clone());
            sc.spawn(move || {
                let url = format!("{}/api/v1/pos/check", s.base);
                while !stop.load(Ordering::Relaxed) {
                    let r = s
                        .http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .expect("till check");
                    match r.status().as_u16() {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            assert!(
                                r.headers().get("retry-after").is_some(),
                                "a 429 says when to retry"
                            );
                            limited.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                    let _ = r.bytes();
                }
            });
        }
        let measured = {
            let stop = stop.clone();
            let code = shelf[2].clone();
            sc.spawn(move || measure_verify(s, &code, &stop, FLOOD * 2))
        };
        std::thread::sleep(FLOOD / 2);
        // The honest shop's till: a check, then the sale naming it.
        let (st, chk) =
            s.c.post(&honest, "/api/v1/pos/check", &json!({"codes": [shelf[0]]}))
                .expect("honest check");
        assert_eq!(
            st, 200,
            "the honest shop is not limited by another's flood: {chk}"
        );
        assert_eq!(chk["results"][0]["sellable"], true, "{chk}");
        let now = registry::system_clock()();
        let sale = doc(
            s,
            &honest,
            json!({"type": "sell", "codes": [id_code(&shelf[0])], "receipt": receipt(now, 1),
                "check_ids": [chk["request_id"]]}),
        );
        std::thread::sleep(FLOOD.saturating_sub(started.elapsed()));
        stop.store(true, Ordering::Relaxed);
        (measured.join().expect("measure"), sale)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let grown = dir_bytes(&data).saturating_sub(before);
    let (ok, limited, other) = (
        ok.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    let (idle_p99, busy_p99) = (p99(idle.clone()), p99(busy.clone()));
    eprintln!(
        "finding 6: {FLOODERS} threads of {FLOOD_CODES}-code till checks for {elapsed:.1} s: \
         {ok} answered ({:.1}/s), {limited} refused 429, {other} other; the data directory \
         grew {:.2} MB (the attack: 68 MB in 20 s; a participant's till checks are kept in \
         the feed up to {} checks and {} codes a day, ~{} MB); public verify p99 idle \
         {idle_p99:.1} ms ({} samples), during the flood {busy_p99:.1} ms ({} samples)",
        ok as f64 / elapsed,
        grown as f64 / 1e6,
        types::feed::TILL_FACTS_PER_PARTICIPANT_PER_DAY,
        types::feed::TILL_CODES_PER_PARTICIPANT_PER_DAY,
        (u64::from(types::feed::TILL_FACTS_PER_PARTICIPANT_PER_DAY) * 40
            + u64::from(types::feed::TILL_CODES_PER_PARTICIPANT_PER_DAY) * 35)
            / 1_000_000,
        idle.len(),
        busy.len(),
    );
    assert!(limited > 0, "the flooder is limited");
    assert_eq!(other, 0, "no other answer than 200 and 429");
    // The codes' bucket: two full checks at once, then one every five seconds (200 codes
    // a second), and a margin for timing.
    let allowed = 2.0 + elapsed * f64::from(server::till::TILL_CODES_PER_SEC) / 1_000.0;
    assert!(
        (ok as f64) <= allowed + 2.0,
        "{ok} full checks answered, the bucket allows {allowed:.1}"
    );
    // A few full checks' facts, not the attack's 68 MB in 20 s.
    assert!(grown < 8_000_000, "the data directory grew {grown} bytes");
    assert!(
        busy_p99 < (idle_p99 * 20.0).max(500.0),
        "verify p99 {busy_p99:.1} ms during the flood vs {idle_p99:.1} ms idle"
    );

    // The honest shop's sale was checked: no `unchecked_sale` about it. A refused sale by
    // the flooder afterwards (the honest shop's code: a grey sale) marks the feed's
    // progress: once the engine raised it, it has weighed the honest sale before it.
    let now = registry::system_clock()();
    let (st, _) =
        s.c.document(
            &flooder,
            json!({"type": "sell", "codes": [id_code(&shelf[1])], "receipt": receipt(now, 2)}),
        )
        .expect("send")
        .expect_err("not the flooder's code");
    assert_eq!(st, 422);
    wait_alert(s, &regulator, "grey_sale", &flooder.tin);
    let about_honest: Vec<Value> = alerts(s, &regulator)
        .into_iter()
        .filter(|a| a["participant"] == honest.tin.as_str())
        .collect();
    assert!(
        about_honest.is_empty(),
        "the honest shop's checked sale {} raised {about_honest:#?}",
        honest_sale["id"]
    );
}

#[test]
fn expired_goods_sold_on_a_backdated_receipt_raise_late_sale() {
    // Finding 7: a farm shop's code expired yesterday; the till says `expired`; the shop
    // sells it with `receipt.at` three days back, naming the failed check.
    let s = &support::start();
    let farm =
        s.c.register_with_prefixes(
            &s.admin,
            "7730000011",
            "Farm shop",
            &["producer", "retailer"],
            "RU-VLG",
            &["4603002"],
        )
        .expect("farm");
    let regulator =
        s.c.register(
            &s.admin,
            "7730000012",
            "Inspectorate 2",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_300_200_001);
    s.product(&farm, &g, "Kefir", "milk");
    let codes = introduced(s, &farm, &g, 2, &days_ago(10), Some(&days_ago(1)));
    let (st, chk) =
        s.c.post(&farm, "/api/v1/pos/check", &json!({"codes": [codes[0]]}))
            .expect("check");
    assert_eq!(st, 200, "{chk}");
    assert_eq!(chk["results"][0]["sellable"], false, "{chk}");
    assert_eq!(chk["results"][0]["reasons"], json!(["expired"]), "{chk}");
    let now = registry::system_clock()();
    // Dated today: refused `expired`.
    let (st, v) =
        s.c.document(
            &farm,
            json!({"type": "sell", "codes": [id_code(&codes[1])], "receipt": receipt(now, 1)}),
        )
        .expect("send")
        .expect_err("expired");
    assert_eq!(st, 422);
    assert_eq!(v["errors"][0]["reason"], "expired", "{v}");
    // Older than the fiscal window: refused.
    let (st, v) =
        s.c.document(
            &farm,
            json!({"type": "sell", "codes": [id_code(&codes[1])],
                "receipt": receipt(now - 31 * 86_400, 2)}),
        )
        .expect("send")
        .expect_err("too old");
    assert_eq!(st, 422, "{v}");
    // Three days back, naming the check that said `expired`: the sale may have happened
    // before the expiry, so it is accepted, and the risk engine raises it.
    let sale = doc(
        s,
        &farm,
        json!({"type": "sell", "codes": [id_code(&codes[0])], "receipt": receipt(now - 3 * 86_400, 3),
            "check_ids": [chk["request_id"]]}),
    );
    let late = wait_alert(s, &regulator, "late_sale", &farm.tin);
    eprintln!("finding 7: backdated sale of an expired code → {late}");
    assert_eq!(
        late["severity"], "high",
        "told at the till, sold anyway: {late}"
    );
    assert!(
        late["evidence"]["documents"]
            .as_array()
            .is_some_and(|d| d.contains(&sale["id"])),
        "{late}"
    );
    // The failed check is no check of the sale.
    let unchecked = wait_alert(s, &regulator, "unchecked_sale", &farm.tin);
    eprintln!("finding 7: and the check that said expired does not count → {unchecked}");
}

/// A phone on the loopback address `local` (Linux routes all of 127.0.0.0/8 here) scans
/// `code` near `near`.
fn scan_from(s: &support::Server, local: [u8; 4], code: &str, near: &str) {
    let phone = client::Client::from_address(&s.base, std::net::Ipv4Addr::from(local).into())
        .expect("phone");
    let path = format!(
        "/api/v1/verify?code={}&near={near}",
        gs1::percent_encoded(code)
    );
    let (st, v) = phone.get(None, &path).expect("verify");
    assert_eq!(st, 200, "{v}");
}

const MOSCOW: &str = "55.75,37.62";
const MOSCOW_2: &str = "55.70,37.50";
const VLADIVOSTOK: &str = "43.12,131.89";
const VLADIVOSTOK_2: &str = "43.10,131.90";

#[test]
fn one_label_and_two_addresses_raise_no_clone_alert() {
    // Finding 10: one bought label, scans from two addresses 6,400 km apart within a
    // second (an `<img>` tag on a page makes its visitors' browsers send them).
    let s = &support::start();
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            "7730000021",
            "Clone maker",
            &["producer"],
            "RU-MOW",
            &["4603003"],
        )
        .expect("maker");
    let regulator =
        s.c.register(
            &s.admin,
            "7730000022",
            "Inspectorate 3",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_300_300_001);
    s.product(&maker, &g, "Bag", "shoes");
    let codes = introduced(s, &maker, &g, 3, &today(), None);
    // The replay: two addresses (two /24s), one label, two cities.
    scan_from(s, [127, 0, 50, 2], &codes[0], MOSCOW);
    scan_from(s, [127, 0, 51, 2], &codes[0], VLADIVOSTOK);
    // Many addresses of one /24, in both cities: one network, no witness.
    for (i, near) in [MOSCOW, VLADIVOSTOK, MOSCOW_2, VLADIVOSTOK_2]
        .into_iter()
        .enumerate()
    {
        scan_from(s, [127, 0, 52, 2 + i as u8], &codes[1], near);
    }
    // A genuine clone pattern: four networks, two in each city.
    for (net, near) in [
        (53, MOSCOW),
        (54, MOSCOW_2),
        (55, VLADIVOSTOK),
        (56, VLADIVOSTOK_2),
    ] {
        scan_from(s, [127, 0, net, 2], &codes[2], near);
    }
    // Alerts follow the feed in order: once the third code's alert counts its fourth
    // network (it is raised at the third, medium, and grows with the fourth scan), every
    // scan before it was weighed.
    let end = Instant::now() + ALERT_WAIT;
    let about = |all: &[Value], code: &str| -> Vec<Value> {
        all.iter()
            .filter(|a| a["kind"] == "clone_scans" && a["subject"]["value"] == id_code(code))
            .cloned()
            .collect()
    };
    let all = loop {
        let all = alerts(s, &regulator);
        if about(&all, &codes[2])
            .first()
            .is_some_and(|a| a["evidence"]["networks"] == 4)
        {
            break all;
        }
        assert!(
            Instant::now() < end,
            "no clone alert counting four networks for the genuine pattern: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let genuine = &about(&all, &codes[2])[0];
    eprintln!(
        "finding 10: one label, two addresses: {} alerts; one /24 in both cities: {} alerts; \
         four networks, two per city: {} ({} networks)",
        about(&all, &codes[0]).len(),
        about(&all, &codes[1]).len(),
        genuine["severity"],
        genuine["evidence"]["networks"]
    );
    assert!(about(&all, &codes[0]).is_empty(), "{all:#?}");
    assert!(about(&all, &codes[1]).is_empty(), "{all:#?}");
    assert_eq!(genuine["severity"], "high", "{genuine}");
    assert_eq!(genuine["evidence"]["networks"], 4, "{genuine}");
}
