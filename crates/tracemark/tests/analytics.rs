//! Analytics end to end: sales in two regions through signed documents over real HTTP,
//! read back grouped and scoped with exact totals; refusals as problems; and the numbers
//! surviving restarts of `tracemark serve` on the same data directory (a clean stop and a
//! SIGKILL) without counting anything twice.

use client::{gtin, id_code, Actor, Client};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "analytics-test-admin-token";

/// A running `tracemark serve` on a data directory.
struct Serve {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    c: Client,
}

impl Serve {
    fn start(data: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("TRACEMARK_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawning tracemark serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .trim()
            .rsplit_once(" on http://")
            .map(|(_, a)| a.to_string())
            .unwrap_or_else(|| panic!("tracemark serve did not start: {line:?}"));
        let c = Client::new(&format!("http://{addr}")).expect("client");
        let t = Instant::now();
        while !matches!(c.get(None, "/health"), Ok((200, _))) {
            assert!(t.elapsed() < Duration::from_secs(30), "no /health");
            std::thread::sleep(Duration::from_millis(20));
        }
        Serve {
            child,
            _stdout: stdout,
            c,
        }
    }

    /// SIGTERM: stop accepting, finish, write the projection's rows.
    fn stop(mut self) {
        // SAFETY: signalling our own child process by its id.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "no clean stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: nothing written after the last flush.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping");
    }

    fn doc(&self, a: &Actor, body: Value) -> Value {
        match self.c.document(a, body).expect("http") {
            Ok(v) => v,
            Err((st, v)) => panic!("document refused: {st} {v}"),
        }
    }

    fn get(&self, a: Option<&Actor>, path: &str) -> (u16, Value) {
        self.c.get(a, path).expect("http")
    }

    /// An analytics answer as the rows' (key, units), after the projection has caught up
    /// with `total` units sold (it follows the feed on its own thread).
    fn sales(&self, a: &Actor, query: &str) -> Vec<(String, u64)> {
        let (st, v) = self.get(Some(a), &format!("/api/v1/analytics/sales?{query}"));
        assert_eq!(st, 200, "{query}: {v}");
        let rows: Vec<(String, u64)> = v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().expect("key").to_string(),
                    r["units"].as_u64().expect("units"),
                )
            })
            .collect();
        assert_eq!(
            rows.iter().map(|r| r.1).sum::<u64>(),
            v["total"].as_u64().expect("total"),
            "the total adds the rows up: {v}"
        );
        rows
    }

    fn stock(&self, a: &Actor, query: &str) -> Vec<(String, u64)> {
        let (st, v) = self.get(Some(a), &format!("/api/v1/analytics/stock?{query}"));
        assert_eq!(st, 200, "{query}: {v}");
        v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().expect("key").to_string(),
                    r["units"].as_u64().expect("units"),
                )
            })
            .collect()
    }

    /// Waits until the regulator sees `total` units sold.
    fn caught_up(&self, reg: &Actor, total: u64) {
        let t = Instant::now();
        loop {
            let (st, v) = self.get(Some(reg), "/api/v1/analytics/sales?group_by=region");
            if st == 200 && v["total"].as_u64() == Some(total) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the projection did not reach {total} units: {st} {v}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Serve {
    /// A failing test leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|&(k, n)| (k.to_string(), n)).collect()
}

struct World {
    reg: Actor,
    a: Actor,
    b: Actor,
    far: Actor,
    west: Actor,
    ga: String,
    gb: String,
}

fn introduced(s: &Serve, who: &Actor, g: &str, n: u32) -> Vec<String> {
    let codes = s.c.order_codes(who, g, n, "mac").expect("order");
    let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
    s.doc(who, json!({"type": "apply", "codes": ids}));
    let today = types::time::format_date(types::time::day_of(now()));
    s.doc(
        who,
        json!({"type": "introduce", "codes": ids, "production_date": today, "batch": "B1"}),
    );
    codes.iter().map(|c| id_code(c).to_string()).collect()
}

fn deliver(s: &Serve, from: &Actor, to: &Actor, ids: &[String]) {
    let ship = s.doc(
        from,
        json!({"type": "ship", "receiver": to.tin, "codes": ids}),
    );
    s.doc(to, json!({"type": "accept", "shipment": ship["id"]}));
}

fn sell(s: &Serve, shop: &Actor, ids: &[String], at: u64) {
    s.doc(
        shop,
        json!({"type": "sell", "codes": ids, "receipt": {
            "fiscal_drive": "9999078900012345", "number": 1,
            "at": types::time::format_timestamp(at), "store": "s"}}),
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[test]
fn sales_in_two_regions_read_back_scoped_and_survive_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Serve::start(dir.path());
    let reg = |tin: &str, role: &str, region: &str, prefixes: &[&str]| {
        s.c.register_with_prefixes(ADMIN, tin, tin, &[role], region, prefixes)
            .expect("register")
    };
    let w = World {
        reg: reg("7700000009", "regulator", "RU-MOW", &[]),
        a: reg("7700000001", "producer", "RU-MOW", &["4600000"]),
        b: reg("7700000002", "producer", "RU-MOW", &["4800000"]),
        far: reg("2500000003", "retailer", "RU-PRI", &[]),
        west: reg("3900000004", "retailer", "RU-KGD", &[]),
        ga: gtin(460_000_000_001),
        gb: gtin(480_000_000_001),
    };
    for (who, g, group) in [(&w.a, &w.ga, "shoes"), (&w.b, &w.gb, "tyres")] {
        let (st, v) =
            s.c.post_signed(
                who,
                "/api/v1/products",
                &json!({"gtin": g, "name": "n", "product_group": group}),
            )
            .expect("product");
        assert_eq!(st, 201, "{v}");
    }
    let a_codes = introduced(&s, &w.a, &w.ga, 6);
    let b_codes = introduced(&s, &w.b, &w.gb, 2);
    deliver(&s, &w.a, &w.far, &a_codes[0..3]);
    deliver(&s, &w.a, &w.west, &a_codes[3..6]);
    deliver(&s, &w.b, &w.far, &b_codes[0..2]);
    // 21:30 UTC two days ago: the next morning in Vladivostok, the same evening in
    // Kaliningrad.
    let day0 = now() / 86_400 - 2;
    let at = day0 * 86_400 + 21 * 3_600 + 1_800;
    let date = |d: u64| types::time::format_date(d as u32);
    sell(
        &s,
        &w.far,
        &[a_codes[0].clone(), a_codes[1].clone(), b_codes[0].clone()],
        at,
    );
    sell(&s, &w.west, &a_codes[3..4], at);
    s.caught_up(&w.reg, 4);

    let (far, west) = (w.far.tin.as_str(), w.west.tin.as_str());
    let check = |s: &Serve, sold_west: u64| {
        let r = &w.reg;
        assert_eq!(
            s.sales(r, "group_by=region"),
            owned(&[("RU-PRI", 3), ("RU-KGD", sold_west)])
        );
        assert_eq!(
            s.sales(r, "group_by=day"),
            owned(&[(&date(day0), sold_west), (&date(day0 + 1), 3)]),
            "local days"
        );
        assert_eq!(
            s.sales(
                r,
                &format!("group_by=gtin&from={}&to={}", date(day0), date(day0 + 2))
            ),
            owned(&[(&w.ga, 2 + sold_west), (&w.gb, 1)])
        );
        assert_eq!(
            s.sales(r, "group_by=participant"),
            owned(&[(far, 3), (west, sold_west)])
        );
        assert_eq!(
            s.sales(r, &format!("group_by=region&from={}", date(day0 + 1))),
            owned(&[("RU-PRI", 3)]),
            "a date is each region's own local day"
        );
        let ts = types::time::format_timestamp(at - 1_800);
        assert_eq!(
            s.sales(r, &format!("group_by=hour&from={ts}")),
            owned(&[
                (&format!("{}T23", date(day0)), sold_west),
                (&format!("{}T07", date(day0 + 1)), 3)
            ])
        );
        // Scoped: producer A sees its goods at both shops, B only its own, a shop its own.
        assert_eq!(
            s.sales(&w.a, "group_by=participant"),
            owned(&[(far, 2), (west, sold_west)])
        );
        assert_eq!(s.sales(&w.b, "group_by=participant"), owned(&[(far, 1)]));
        assert_eq!(
            s.sales(&w.west, "group_by=gtin"),
            owned(&[(&w.ga, sold_west)])
        );
        assert_eq!(
            s.sales(&w.far, "group_by=gtin"),
            owned(&[(&w.ga, 2), (&w.gb, 1)])
        );
        // Stock: 3 + 2 received by the far shop, 3 sold; 3 by the western, `sold_west` sold.
        assert_eq!(
            s.stock(r, "group_by=participant"),
            owned(&[(far, 2), (west, 3 - sold_west)])
        );
        assert_eq!(s.stock(&w.b, "group_by=region"), owned(&[("RU-PRI", 1)]));
        let (st, f) = s.get(Some(r), "/api/v1/analytics/flows");
        assert_eq!(st, 200);
        assert_eq!(f["total"], 8, "{f}");
        assert_eq!(
            f["rows"][0],
            json!({"from": "RU-MOW", "to": "RU-PRI", "units": 5})
        );
    };
    check(&s, 1);

    // Refusals: RFC 9457 problems naming the field and what it takes.
    let problem = |path: &str, who: Option<&Actor>, status: u16, needle: &[&str]| {
        let mut rq = reqwest::blocking::Client::new().get(format!("{}{path}", s.c.base));
        if let Some(a) = who {
            rq = rq.bearer_auth(&a.token);
        }
        let r = rq.send().expect("http");
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let v: Value = r.json().expect("json");
        let detail = v["detail"].as_str().expect("detail");
        for n in needle {
            assert!(detail.contains(n), "{path}: {detail:?} lacks {n:?}");
        }
    };
    problem(
        "/api/v1/analytics/sales?group_by=week",
        Some(&w.a),
        400,
        &["group_by", "region|product_group|day|hour|gtin|participant"],
    );
    problem("/api/v1/analytics/sales", Some(&w.a), 400, &["group_by"]);
    problem(
        "/api/v1/analytics/sales?group_by=day&from=yesterday",
        Some(&w.a),
        400,
        &["`from`", "YYYY-MM-DD", "RFC 3339"],
    );
    problem(
        "/api/v1/analytics/sales?group_by=day&from=2026-01-01&to=2026-01-02T00:00:00Z",
        Some(&w.reg),
        400,
        &["both be dates"],
    );
    problem(
        "/api/v1/analytics/stock?group_by=day",
        Some(&w.far),
        400,
        &["region|product_group|gtin|participant"],
    );
    problem("/api/v1/analytics/flows", Some(&w.a), 403, &["regulators"]);
    problem("/api/v1/analytics/sales?group_by=region", None, 401, &[]);

    // A clean restart: the same numbers, loaded from the stored rows.
    s.stop();
    let s = Serve::start(dir.path());
    s.caught_up(&w.reg, 4);
    check(&s, 1);
    // One more sale is counted once.
    sell(&s, &w.west, &a_codes[4..5], at);
    s.caught_up(&w.reg, 5);
    check(&s, 2);
    // A crash: the rows stored at the last flush, the rest replayed from the feed.
    s.kill();
    let s = Serve::start(dir.path());
    s.caught_up(&w.reg, 5);
    check(&s, 2);
    s.stop();
}
