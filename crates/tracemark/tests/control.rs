//! The regulator's alerts over real HTTP: a grey sale through the public API raises an
//! alert within a second, visible only to regulators, acknowledged with a signed request.

mod support;

use client::{gtin, id_code, Actor};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::start;

fn urlencode(code: &str) -> String {
    gs1::percent_encoded(code)
}

fn alerts(s: &support::Server, who: &Actor, query: &str) -> (u16, Value) {
    s.c.get(Some(who), &format!("/api/v1/alerts{query}"))
        .expect("alerts")
}

fn wait_alert(s: &support::Server, who: &Actor, kind: &str, within: Duration) -> Value {
    let end = Instant::now() + within;
    loop {
        let (st, v) = alerts(s, who, &format!("?kind={kind}"));
        assert_eq!(st, 200, "{v}");
        if let Some(a) = v["alerts"].as_array().and_then(|a| a.first()) {
            return a.clone();
        }
        assert!(Instant::now() < end, "no {kind} alert within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_grey_sale_is_an_alert_for_regulators_within_a_second() {
    let s = start();
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            "7760000001",
            "Shoe factory",
            &["producer"],
            "RU-MOW",
            &["4606666"],
        )
        .expect("producer");
    let shop =
        s.c.register(
            &s.admin,
            "7760000002",
            "Honest shop",
            &["retailer"],
            "RU-MOW",
        )
        .expect("shop");
    let grey =
        s.c.register(&s.admin, "7760000003", "Grey shop", &["retailer"], "RU-SPE")
            .expect("grey");
    let inspector =
        s.c.register(
            &s.admin,
            "7760000004",
            "Inspector",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_666_600_001);
    s.product(&maker, &g, "Running shoe", "shoes");
    let codes = s.c.order_codes(&maker, &g, 3, "mac").expect("codes");
    let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
    for body in [
        json!({"type": "apply", "codes": ids}),
        json!({"type": "introduce", "codes": ids, "production_date": "2026-11-01"}),
        json!({"type": "ship", "codes": ids, "receiver": shop.tin}),
    ] {
        s.c.document(&maker, body).expect("send").expect("accepted");
    }
    // Clean traffic first: nothing is raised.
    let (st, v) = alerts(&s, &inspector, "");
    assert_eq!(
        (st, v["alerts"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    // The grey shop sells goods it never received.
    let receipt = json!({"fiscal_drive": "9999078900012345", "number": 1,
        "at": types::time::format_timestamp(registry::system_clock()()), "store": "Nevsky 1"});
    let sent = Instant::now();
    let refused =
        s.c.document(
            &grey,
            json!({"type": "sell", "codes": [ids[0]], "receipt": receipt}),
        )
        .expect("send");
    assert!(refused.is_err(), "{refused:?}");
    let a = wait_alert(&s, &inspector, "grey_sale", Duration::from_secs(1));
    println!("alert raised {:?} after the refusal", sent.elapsed());
    assert_eq!(a["participant"], grey.tin);
    assert_eq!(a["severity"], "high");
    assert_eq!(a["evidence"]["codes"], json!([ids[0]]));
    assert_eq!(a["evidence"]["owners"], json!([maker.tin]));
    assert_eq!(a["acknowledged"], Value::Null);
    // A token without its scheme, or the admin token, is told apart from a bad token.
    let bare = s
        .http
        .get(format!("{}/api/v1/alerts", s.base))
        .header("authorization", inspector.token.clone())
        .send()
        .expect("alerts");
    assert_eq!(bare.status(), 401);
    let p: Value = bare.json().expect("problem");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("without its scheme")),
        "{p}"
    );
    let admin = s
        .http
        .get(format!("{}/api/v1/alerts", s.base))
        .bearer_auth(&s.admin)
        .send()
        .expect("alerts");
    // Not a participant's credential: 401, the words saying which token it is.
    assert_eq!(admin.status(), 401);
    let p: Value = admin.json().expect("problem");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("admin token")),
        "{p}"
    );
    // Only regulators read alerts; bad filters are named.
    let (st, p) = alerts(&s, &grey, "");
    assert_eq!(st, 403, "{p}");
    let (st, p) = alerts(&s, &inspector, "?kind=pickpocketing");
    assert_eq!(st, 400);
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("repeat_sale")),
        "{p}"
    );
    let (st, _) = alerts(&s, &inspector, "?limit=0");
    assert_eq!(st, 400);
    // The riskiest participant is the grey shop, for its grey sale.
    let (st, r) =
        s.c.get(Some(&inspector), "/api/v1/risk/participants")
            .expect("scores");
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["participants"][0]["tin"], grey.tin);
    assert!(r["participants"][0]["reasons"]
        .as_array()
        .is_some_and(|x| x.iter().any(|k| k["kind"] == "grey_sale")));
    // Acknowledged with a signed request; twice is a conflict; another's ack is 403.
    let id = a["id"].as_u64().expect("id");
    let path = format!("/api/v1/alerts/{id}/ack");
    let (st, v) =
        s.c.post_signed(&grey, &path, &json!({"note": "me"}))
            .expect("ack");
    assert_eq!(st, 403, "{v}");
    let (st, v) =
        s.c.post_signed(&inspector, &path, &json!({"note": "inspection sent"}))
            .expect("ack");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["acknowledged"]["by"], inspector.tin);
    assert_eq!(v["acknowledged"]["note"], "inspection sent");
    let (st, _) = s.c.post_signed(&inspector, &path, &json!({})).expect("ack");
    assert_eq!(st, 409);
    let (st, _) =
        s.c.post_signed(&inspector, "/api/v1/alerts/999/ack", &json!({}))
            .expect("ack");
    assert_eq!(st, 404);
    // One label scanned in Moscow and in Vladivostok a moment later, by phones on four
    // networks (two in each city; Linux routes all of 127.0.0.0/8 here): a cloned label.
    let verify = |near: &str| {
        s.c.get(
            None,
            &format!("/api/v1/verify?code={}&near={near}", urlencode(&codes[1])),
        )
        .expect("verify")
    };
    for (i, near) in ["55.75,37.62", "55.70,37.50", "43.12,131.89", "43.10,131.90"]
        .into_iter()
        .enumerate()
    {
        let local = std::net::Ipv4Addr::new(127, 0, 20 + i as u8, 2);
        let phone = client::Client::from_address(&s.base, local.into()).expect("phone");
        let path = format!("/api/v1/verify?code={}&near={near}", urlencode(&codes[1]));
        assert_eq!(phone.get(None, &path).expect("verify").0, 200);
    }
    // A wrong check digit is told in the same words on verify and on the Digital Link
    // route, with the digit expected, and the route names the path that was sent.
    let (st, by_query) =
        s.c.get(None, "/api/v1/verify?code=(01)04601234567890(21)abc")
            .expect("verify");
    assert_eq!(st, 400, "{by_query}");
    let r = s
        .http
        .get(format!("{}/01/04601234567890/21/abc", s.base))
        .header("accept", "application/json")
        .send()
        .expect("resolver");
    assert_eq!(r.status(), 400);
    let by_link: Value = r.json().expect("problem");
    // Positions count in what each caller sent: the query's `(01)`… and the route's path.
    assert_eq!(
        by_query["detail"],
        "not a valid marking code: AI (01): bad check digit 0 at character 18, expected 3"
    );
    assert_eq!(
        by_link["detail"],
        "not a valid marking code: AI (01): bad check digit 0 at character 18, expected 3"
    );
    assert_eq!(by_link["errors"][0]["code"], "/01/04601234567890/21/abc");
    assert_eq!(by_link["errors"][0]["reason"], "bad_check_digit");
    // An empty code is a 400, not an unknown code.
    let (st, p) = s.c.get(None, "/api/v1/verify?code=").expect("verify");
    assert_eq!(st, 400, "{p}");
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("empty")),
        "{p}"
    );
    let (st, p) = verify("91,0");
    assert_eq!(st, 400);
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("LAT,LON")),
        "{p}"
    );
    let c = wait_alert(&s, &inspector, "clone_scans", Duration::from_secs(1));
    assert_eq!(c["subject"]["type"], "code");
    assert_eq!(c["evidence"]["codes"], json!([ids[1]]));
    assert_eq!(c["participant"], Value::Null);
    // The OpenAPI document describes the routes.
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.base))
        .send()
        .and_then(|r| r.json())
        .expect("openapi");
    for p in [
        "/api/v1/alerts",
        "/api/v1/alerts/{id}/ack",
        "/api/v1/risk/participants",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from /openapi.json"
        );
    }
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .and_then(|r| r.text())
        .expect("metrics");
    for line in [
        "tracemark_alerts{kind=\"grey_sale\"} 1",
        "tracemark_projection_lag{projection=\"risk\"} ",
        "tracemark_feed_head ",
        "tracemark_feed_facts_dropped_total 0",
    ] {
        assert!(metrics.contains(line), "{line} missing from /metrics");
    }
    let (st, open) = alerts(&s, &inspector, "?open=true&kind=grey_sale");
    assert_eq!(
        (st, open["alerts"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{open}"
    );
}

#[test]
fn metrics_are_the_operators_with_a_prefix_and_a_help_line_each() {
    // Nobody may read them without the admin token: not even this machine.
    let s = support::start_with(|c| c.metrics_allow.clear());
    let url = format!("{}/metrics", s.base);
    let r = s.http.get(&url).send().expect("metrics");
    assert_eq!(r.status(), 403);
    let p: Value = r.json().expect("problem");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--metrics-allow")),
        "{p}"
    );
    // The admin token without its scheme is told so.
    let r = s
        .http
        .get(&url)
        .header("authorization", s.admin.clone())
        .send()
        .expect("metrics");
    assert_eq!(r.status(), 403);
    let p: Value = r.json().expect("problem");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("without its `Bearer ` scheme")),
        "{p}"
    );
    // Some traffic, so that every kind of series exists.
    let _ = s.c.get(None, "/health");
    let text = s
        .http
        .get(&url)
        .bearer_auth(&s.admin)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .expect("metrics with the admin token");
    let mut helped = std::collections::BTreeSet::new();
    let mut typed = std::collections::BTreeSet::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap_or_default().to_string());
        } else if let Some(rest) = l.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap_or_default().to_string());
        } else if !l.is_empty() {
            let name = l.split(['{', ' ']).next().unwrap_or_default();
            assert!(name.starts_with("tracemark_"), "an unprefixed metric: {l}");
        }
    }
    assert!(typed.len() >= 10, "{typed:?}");
    for t in &typed {
        assert!(helped.contains(t), "{t} has no # HELP line");
    }
}

#[test]
fn health_says_degraded_when_the_risk_engine_cannot_start() {
    // A risk row this build cannot read (as from a newer build): the engine does not start.
    let s = support::start_prepared(
        |reg| {
            reg.store()
                .commit_projection("risk", 1, &[(b"?unknown".to_vec(), Some(vec![0]))])
                .expect("a row");
        },
        |_| {},
    );
    let (st, h) = s.c.get(None, "/health").expect("health");
    assert_eq!(st, 200, "documents are still taken: {h}");
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["projections"]["risk_engine"], false, "{h}");
    assert_eq!(h["projections"]["analytics"], true, "{h}");
    assert!(
        h["detail"]
            .as_str()
            .is_some_and(|d| d.contains("the risk engine is not running")),
        "{h}"
    );
    let regulator =
        s.c.register(
            &s.admin,
            "7790000001",
            "Inspectorate",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let (st, p) = alerts(&s, &regulator, "");
    assert_eq!(st, 503, "{p}");
    // A registry whose projections run says ok.
    let fine = start();
    let (_, h) = fine.c.get(None, "/health").expect("health");
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["projections"]["risk_engine"], true, "{h}");
}
