//! The HTTP API (docs/api-guide.md), end to end: a real server on 127.0.0.1:0 over a real data
//! directory (or a fresh PostgreSQL schema: `tests/http_api_postgres.rs`; the root file names
//! the engine with `super::home`), spoken to with real HTTP. No mocks.
//!
//! 1. Bad input of every kind is a 4xx RFC 9457 problem and changes nothing; thousands of
//!    mutated bodies never produce a 5xx.
//! 2. Authorization as a table: endpoint × role (× owner / non-owner) → exact status.
//! 3. The contract: sign-in, idempotent documents, the legal record, the resolver, offline
//!    checks with the published keys, OpenAPI, metrics and health.

#[path = "epcis.rs"]
mod epcis;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use client::{gtin, id_code, sscc, Actor, Client};
use ed25519_dalek::{Signer, SigningKey};
use gs1::percent_encoded as pct;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A registry served in-process from a fresh data directory, with a clock the test moves.
struct Server {
    base: String,
    c: Client,
    http: reqwest::blocking::Client,
    admin: String,
    clock: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
    /// The writer's lease on a shared database (held while the server runs).
    _lease: Option<Lease>,
}

/// Stops a lease loop when dropped.
struct Lease(Option<node::lease::Running>);

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(l) = self.0.take() {
            l.stop();
        }
    }
}

/// SSCC serials within the test producer's GS1 company prefix 4600000.
const P_SSCC: u64 = 4_600_000_000_000_000;

fn start() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let clock = Arc::new(AtomicU64::new(now));
    let c2 = clock.clone();
    let opened = node::open_home(
        &super::home(dir.path()),
        Arc::new(move || c2.load(Ordering::SeqCst)),
    )
    .expect("open the registry's home");
    let admin = opened.config.admin_token.clone();
    let lease = node::start_lease(&opened, "http://test".into())
        .expect("lease")
        .map(|l| Lease(Some(l)));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("send addr");
            let _ = node::serve(l, opened.registry, opened.config).await;
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("server up");
    let base = format!("http://{addr}");
    Server {
        c: Client::new(&base).expect("client"),
        http: reqwest::blocking::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http"),
        base,
        admin,
        clock,
        _dir: dir,
        _lease: lease,
    }
}

/// A raw answer.
#[derive(Debug)]
struct Resp {
    status: u16,
    ct: String,
    www_auth: Option<String>,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }
}

/// A request as the tests build it.
#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req {
    fn new(method: &'static str, path: impl Into<String>) -> Req {
        Req {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }
    fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }
    fn body(mut self, b: impl Into<Vec<u8>>) -> Req {
        self.body = Some(b.into());
        self
    }
    fn json(self, v: &Value) -> Req {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(v).expect("json"))
    }
    /// Bearer token of `a` and its RFC 9421 signature of this request.
    fn signed_by(self, a: &Actor) -> Req {
        let token = a.token.clone();
        self.sig(a).bearer(&token)
    }
    /// `a`'s RFC 9421 signature headers of this request (method, path, query, body).
    fn sig(self, a: &Actor) -> Req {
        let (d, i, sg) = client::sign_request(
            a,
            self.method,
            &self.path,
            self.body.as_deref().unwrap_or(b""),
        );
        self.header("content-digest", &d)
            .header("signature-input", &i)
            .header("signature", &sg)
    }
}

impl Server {
    /// Sends a request's head announcing a body of `len` bytes and none of it (a client
    /// about to upload too much): the answer must come before any body byte.
    fn send_announced(&self, r: Req, len: usize) -> Resp {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let mut sock = std::net::TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
            r.method, r.path
        );
        for (k, v) in r.headers.iter().filter(|(k, _)| k != "content-length") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
        sock.write_all(head.as_bytes()).expect("write");
        let mut raw = Vec::new();
        let _ = sock.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let ct = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Resp {
            status,
            ct,
            www_auth: None,
            text: body.to_string(),
        }
    }

    fn send(&self, r: Req) -> Resp {
        let m = reqwest::Method::from_bytes(r.method.as_bytes()).expect("method");
        let mut rq = self.http.request(m, format!("{}{}", self.base, r.path));
        for (k, v) in &r.headers {
            rq = rq.header(k.as_str(), v.as_str());
        }
        if let Some(b) = r.body {
            rq = rq.body(b);
        }
        let resp = rq.send().expect("request");
        let status = resp.status().as_u16();
        let h = resp.headers();
        let ct = h
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let www_auth = h
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().expect("body");
        Resp {
            status,
            ct,
            www_auth,
            text,
        }
    }
    fn get(&self, path: &str, a: Option<&Actor>) -> Resp {
        let mut r = Req::new("GET", path);
        if let Some(a) = a {
            r = r.bearer(&a.token);
        }
        self.send(r)
    }
    fn post_signed(&self, a: &Actor, path: &str, body: &Value) -> Resp {
        self.send(Req::new("POST", path).json(body).signed_by(a))
    }
    fn post_bearer(&self, a: &Actor, path: &str, body: &Value) -> Resp {
        self.send(Req::new("POST", path).json(body).bearer(&a.token))
    }
    fn doc(&self, a: &Actor, mut body: Value) -> Resp {
        if body.get("id").is_none() {
            body["id"] = json!(uuid::Uuid::new_v4());
        }
        self.post_signed(a, "/api/v1/documents", &body)
    }
    fn ok_doc(&self, a: &Actor, body: Value) -> Value {
        let r = self.doc(a, body.clone());
        assert_eq!(r.status, 201, "document {body}: {}", r.text);
        r.json()
    }
    fn documents(&self) -> u64 {
        self.get("/health", None).json()["documents"]
            .as_u64()
            .expect("documents")
    }
}

/// Asserts an RFC 9457 problem of `status` and returns it.
#[track_caller]
fn problem(r: &Resp, status: u16) -> Value {
    assert_eq!(
        r.status, status,
        "expected {status}, got {}: {}",
        r.status, r.text
    );
    assert!(
        r.ct.starts_with("application/problem+json"),
        "content-type {:?} for {} {}",
        r.ct,
        r.status,
        r.text
    );
    let v = r.json();
    assert!(
        v["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/")),
        "type: {v}"
    );
    assert!(
        v["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title: {v}"
    );
    assert_eq!(v["status"].as_u64(), Some(u64::from(status)), "status: {v}");
    assert!(
        v["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "detail: {v}"
    );
    if status == 401 {
        assert!(
            r.www_auth
                .as_deref()
                .is_some_and(|w| w.starts_with("Bearer")),
            "401 without WWW-Authenticate: {r:?}"
        );
    }
    v
}

/// The `reason` of every entry of a problem's `errors`, by code.
fn reasons(p: &Value) -> HashMap<String, String> {
    p["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {p}"))
        .iter()
        .map(|e| {
            (
                e["code"].as_str().expect("code").to_string(),
                e["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect()
}

/// GTIN and serial of a full or identification code (`01` GTIN `21` serial [GS tail]).
fn gtin_serial(code: &str) -> (&str, &str) {
    let id = id_code(code);
    assert!(id.starts_with("01") && &id[16..18] == "21", "{id}");
    (&id[2..16], &id[18..])
}

/// The tail AIs of a full code: (AI 91, AI 92).
fn tail_91_92(code: &str) -> (String, String) {
    let mut kid = None;
    let mut value = None;
    for part in code.split('\u{1d}').skip(1) {
        if let Some(k) = part.strip_prefix("91") {
            kid = Some(k.to_string());
        } else if let Some(v) = part.strip_prefix("92") {
            value = Some(v.to_string());
        }
    }
    (kid.expect("AI 91"), value.expect("AI 92"))
}

fn today(s: &Server) -> String {
    types::time::format_date(types::time::day_of(s.clock.load(Ordering::SeqCst)))
}

// ---------------------------------------------------------------------------------------
// A small world: one of each role, two product cards, codes in every state
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Producer,
    Importer,
    Wholesaler,
    Retailer,
    /// Another retailer: the non-owner.
    Retailer2,
    Fiscal,
    Regulator,
    Anonymous,
    Admin,
}

const WHO: [Who; 9] = [
    Who::Producer,
    Who::Importer,
    Who::Wholesaler,
    Who::Retailer,
    Who::Retailer2,
    Who::Fiscal,
    Who::Regulator,
    Who::Anonymous,
    Who::Admin,
];

struct World {
    s: Server,
    producer: Actor,
    importer: Actor,
    wholesaler: Actor,
    retailer: Actor,
    retailer2: Actor,
    fiscal: Actor,
    regulator: Actor,
    /// The producer's GTIN (shoes).
    shoes: String,
    /// The importer's GTIN (cameras).
    cameras: String,
}

impl World {
    fn new() -> World {
        let s = start();
        let reg = |tin: &str, name: &str, role: &str| {
            s.c.register(&s.admin, tin, name, &[role], "RU-MOW")
                .expect("register")
        };
        let producer =
            s.c.register_with_prefixes(
                &s.admin,
                "7700000001",
                "Fabrika",
                &["producer"],
                "RU-MOW",
                &["4600000", "4700000"],
            )
            .expect("register");
        let importer = reg("7700000002", "Importer", "importer");
        let wholesaler = reg("7700000003", "Wholesale", "wholesaler");
        let retailer = reg("7700000004", "Shop One", "retailer");
        let retailer2 = reg("7700000005", "Shop Two", "retailer");
        let fiscal = reg("7700000006", "OFD", "fiscal_operator");
        let regulator = reg("7700000007", "Inspectorate", "regulator");
        let shoes = gtin(460_000_000_001);
        // A foreign brand's GTIN (a prefix nobody holds).
        let cameras = gtin(490_000_000_002);
        for (a, g, group) in [
            (&producer, &shoes, "shoes"),
            (&importer, &cameras, "cameras"),
        ] {
            let r = s.post_signed(
                a,
                "/api/v1/products",
                &json!({"gtin": g, "name": format!("{group} item"), "product_group": group, "max_retail_price": 100_000}),
            );
            assert_eq!(r.status, 201, "{}", r.text);
        }
        World {
            s,
            producer,
            importer,
            wholesaler,
            retailer,
            retailer2,
            fiscal,
            regulator,
            shoes,
            cameras,
        }
    }

    fn actor(&self, w: Who) -> Option<&Actor> {
        match w {
            Who::Producer => Some(&self.producer),
            Who::Importer => Some(&self.importer),
            Who::Wholesaler => Some(&self.wholesaler),
            Who::Retailer => Some(&self.retailer),
            Who::Retailer2 => Some(&self.retailer2),
            Who::Fiscal => Some(&self.fiscal),
            Who::Regulator => Some(&self.regulator),
            Who::Anonymous | Who::Admin => None,
        }
    }

    /// Fresh EMITTED codes of the producer's (or importer's) GTIN, full with tails.
    fn emitted(&self, by: Who, n: u32) -> Vec<String> {
        let (a, g) = match by {
            Who::Importer => (&self.importer, &self.cameras),
            _ => (&self.producer, &self.shoes),
        };
        self.s.c.order_codes(a, g, n, "signature").expect("order")
    }

    fn applied(&self, by: Who, n: u32) -> Vec<String> {
        let codes = self.emitted(by, n);
        let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
        let a = self.actor(by).expect("actor");
        self.s.ok_doc(a, json!({"type": "apply", "codes": ids}));
        codes
    }

    fn introduced(&self, by: Who, n: u32) -> Vec<String> {
        let codes = self.applied(by, n);
        let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
        let a = self.actor(by).expect("actor");
        let body = if by == Who::Importer {
            json!({"type": "import", "codes": ids, "customs_declaration": "10702010/251126/0012345"})
        } else {
            json!({"type": "introduce", "codes": ids, "production_date": today(&self.s), "batch": "B1"})
        };
        self.s.ok_doc(a, body);
        codes
    }

    /// Ships `codes` from the producer to `to`; returns the ship document id.
    fn ship(&self, codes: &[String], to: &Actor) -> String {
        let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
        let a = self.s.ok_doc(
            &self.producer,
            json!({"type": "ship", "receiver": to.tin, "codes": ids}),
        );
        a["id"].as_str().expect("id").to_string()
    }

    /// Introduced codes owned by the retailer.
    fn at_retailer(&self, n: u32) -> Vec<String> {
        let codes = self.introduced(Who::Producer, n);
        let ship = self.ship(&codes, &self.retailer);
        self.s
            .ok_doc(&self.retailer, json!({"type": "accept", "shipment": ship}));
        codes
    }

    fn sell_body(&self, codes: &[&str]) -> Value {
        json!({"type": "sell", "codes": codes, "receipt": {
            "fiscal_drive": "9999078900012345", "number": 17,
            "at": types::time::format_timestamp(self.s.clock.load(Ordering::SeqCst)),
            "store": "Tverskaya 1"}})
    }

    /// A code's card as the regulator sees it (status, owner, history…).
    fn card(&self, code: &str) -> Value {
        let r = self.s.get(
            &format!("/api/v1/codes/{}", pct(id_code(code))),
            Some(&self.regulator),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    /// Everything a refused request must leave as it was.
    fn snapshot(&self, codes: &[String]) -> Value {
        let inv = |a: &Actor, g: &str| {
            self.s
                .get(&format!("/api/v1/inventory?gtin={g}"), Some(a))
                .json()
        };
        json!({
            "documents": self.s.documents(),
            "chain": self.s.get("/health", None).json()["chain_head"],
            "cards": codes.iter().map(|c| self.card(c)).collect::<Vec<_>>(),
            "producer": inv(&self.producer, &self.shoes),
            "importer": inv(&self.importer, &self.cameras),
            "retailer": inv(&self.retailer, &self.shoes),
            "blocks": self.s.get("/api/v1/blocks", Some(&self.regulator)).json(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// 1. Bad input: a clear 4xx problem, and nothing changes
// ---------------------------------------------------------------------------------------

#[test]
fn bad_input_is_a_problem_and_changes_nothing() {
    let w = World::new();
    let s = &w.s;
    let intro = w.introduced(Who::Producer, 3);
    let emitted = w.emitted(Who::Producer, 2);
    let sold = w.at_retailer(2);
    w.s.ok_doc(&w.retailer, w.sell_body(&[id_code(&sold[0])]));
    let mut watched: Vec<String> = intro.clone();
    watched.extend(emitted.iter().cloned());
    watched.extend(sold.iter().cloned());
    let before = w.snapshot(&watched);
    let p = &w.producer;
    let (g, serial) = gtin_serial(&intro[0]);
    let mut checked = 0;
    macro_rules! refused {
        ($r:expr, $status:expr $(,)?) => {{
            checked += 1;
            problem(&$r, $status)
        }};
    }

    // -- malformed documents: 400 --
    let good = json!({"id": uuid::Uuid::new_v4(), "type": "ship", "receiver": w.wholesaler.tin, "codes": [id_code(&intro[0])]});
    let good_bytes = serde_json::to_vec(&good).expect("json");
    let post_doc = |bytes: Vec<u8>| {
        s.send(
            Req::new("POST", "/api/v1/documents")
                .header("content-type", "application/json")
                .body(bytes)
                .signed_by(p),
        )
    };
    for bytes in [
        b"{\"id\":".to_vec(),
        good_bytes[..good_bytes.len() / 2].to_vec(),
        good_bytes[..good_bytes.len() - 1].to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"ship\"".to_vec(),
        b"{}".to_vec(),
        vec![0xff, 0xfe, 0x00],
        b"{\"id\": 5, \"type\": \"apply\", \"codes\": []}".to_vec(),
    ] {
        refused!(post_doc(bytes), 400);
    }
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        v["id"] = json!(uuid::Uuid::new_v4());
        f(&mut v);
        v
    };
    // Wrong types, unknown fields, missing id/type.
    for v in [
        mutate(&|v| v["codes"] = json!(id_code(&intro[0]))),
        mutate(&|v| v["codes"] = json!([1, 2])),
        mutate(&|v| v["receiver"] = json!(7_700_000_003u64)),
        mutate(&|v| v["id"] = json!("not-a-uuid")),
        mutate(&|v| v["type"] = json!(["ship"])),
        mutate(&|v| v["colour"] = json!("red")),
        mutate(&|v| {
            v.as_object_mut().expect("obj").remove("id");
        }),
        mutate(&|v| {
            v.as_object_mut().expect("obj").remove("type");
        }),
        mutate(&|v| v["type"] = json!("teleport")),
        mutate(&|v| {
            v["receipt"] =
                json!({"fiscal_drive": "1", "number": 1, "at": "x", "store": "s", "extra": 1})
        }),
    ] {
        refused!(post_doc(serde_json::to_vec(&v).expect("json")), 400);
    }
    // Missing or empty fields the type needs: 422 without code errors.
    for v in [
        mutate(&|v| {
            v.as_object_mut().expect("obj").remove("codes");
        }),
        mutate(&|v| v["codes"] = json!([])),
        mutate(&|v| {
            v.as_object_mut().expect("obj").remove("receiver");
        }),
        mutate(&|v| v["receiver"] = json!("0000000000")),
        json!({"type": "introduce", "codes": [id_code(&emitted[0])]}),
        json!({"type": "introduce", "codes": [id_code(&emitted[0])], "production_date": "2024-13-45"}),
        json!({"type": "write_off", "codes": [id_code(&intro[0])], "reason": "boredom"}),
        json!({"type": "accept", "shipment": uuid::Uuid::new_v4()}),
    ] {
        let pr = refused!(s.doc(p, v.clone()), 422);
        assert!(pr.get("errors").is_none(), "{v} → {pr}");
    }

    refused!(
        s.doc(
            &w.importer,
            json!({"type": "import", "codes": [id_code(&emitted[0])]})
        ),
        422
    );

    // -- bad codes: 422 naming every bad code with its reason --
    let bad_check = format!(
        "01{}{}21{serial}",
        &g[..13],
        (g.as_bytes()[13] - b'0' + 1) % 10
    );
    let short_gtin = format!("01{}21{serial}", &g[..12]);
    let bad_char = format!("01{g}21ab~c");
    let non_ascii = format!("01{g}21abé");
    let (kid, sig) = tail_91_92(&intro[1]);
    let mut forged_sig = sig.clone().into_bytes();
    forged_sig[0] = if forged_sig[0] == b'A' { b'B' } else { b'A' };
    let forged = format!(
        "{}\u{1d}91{kid}\u{1d}92{}",
        id_code(&intro[1]),
        String::from_utf8(forged_sig).expect("utf8")
    );
    let unknown = format!("01{g}21ZZZZZZZZZZZZZ");
    let dup = id_code(&intro[2]).to_string();
    let dup_bracketed = format!("(01){g}(21){}", gtin_serial(&intro[2]).1);
    let bad = [
        bad_check.clone(),
        short_gtin.clone(),
        bad_char.clone(),
        non_ascii.clone(),
        forged.clone(),
        unknown.clone(),
        dup.clone(),
        dup_bracketed.clone(),
        "".to_string(),
        "https://id.example/01/garbage".to_string(),
    ];
    let pr = refused!(
        s.doc(
            p,
            json!({"type": "ship", "receiver": w.wholesaler.tin, "codes": bad}),
        ),
        422,
    );
    let rs = reasons(&pr);
    assert_eq!(
        rs.get(&bad_check).map(String::as_str),
        Some("bad_check_digit"),
        "{pr}"
    );
    assert_eq!(
        rs.get(&forged).map(String::as_str),
        Some("bad_crypto_tail"),
        "{pr}"
    );
    assert_eq!(
        rs.get(&unknown).map(String::as_str),
        Some("unknown_code"),
        "{pr}"
    );
    assert_eq!(
        rs.get(&dup_bracketed).map(String::as_str),
        Some("duplicate_in_document"),
        "{pr}"
    );
    for b in &bad {
        if b != &dup {
            assert!(rs.contains_key(b), "{b:?} not named in {pr}");
        }
    }
    assert!(
        !rs.contains_key(&dup),
        "the first of two duplicates is fine: {pr}"
    );
    assert_eq!(rs.len(), bad.len() - 1, "{pr}");
    // Status errors: every code named.
    let pr = refused!(
        s.doc(p, json!({"type": "apply", "codes": [id_code(&intro[0]), id_code(&emitted[0]), id_code(&sold[0])]})),
        422,
    );
    let rs = reasons(&pr);
    assert_eq!(rs.len(), 2, "{pr}");
    assert_eq!(
        rs.get(id_code(&intro[0])).map(String::as_str),
        Some("wrong_status"),
        "{pr}"
    );
    assert_eq!(
        rs.get(id_code(&sold[0])).map(String::as_str),
        Some("not_owner"),
        "{pr}"
    );
    // Repeat sale: refused with already_sold.
    let pr = refused!(s.doc(&w.retailer, w.sell_body(&[id_code(&sold[0])])), 422);
    assert_eq!(
        reasons(&pr).get(id_code(&sold[0])).map(String::as_str),
        Some("already_sold"),
        "{pr}"
    );

    // -- sizes --
    let many: Vec<String> = (0..30_001).map(|i| format!("01{g}21x{i}")).collect();
    refused!(s.doc(p, json!({"type": "apply", "codes": many})), 413);
    refused!(
        s.doc(
            p,
            json!({"type": "aggregate", "parent": sscc(3, P_SSCC + 3), "children": many})
        ),
        413
    );
    refused!(
        s.doc(p, json!({"type": "disaggregate", "parents": many})),
        413
    );
    refused!(
        s.post_signed(
            &w.regulator,
            "/api/v1/blocks",
            &json!({"codes": many, "reason": "x"})
        ),
        413
    );
    // Too large: refused on the announced length, before a byte of the body is read.
    refused!(
        s.send_announced(
            Req::new("POST", "/api/v1/documents")
                .header("content-type", "application/json")
                .signed_by(p),
            server::BODY_LEN_MAX + 10
        ),
        413
    );
    let q1001: Vec<String> = (0..1_001).map(|_| id_code(&intro[0]).to_string()).collect();
    refused!(
        s.post_bearer(p, "/api/v1/codes/query", &json!({"codes": q1001})),
        413,
    );
    refused!(
        s.post_bearer(&w.retailer, "/api/v1/pos/check", &json!({"codes": q1001})),
        413,
    );
    refused!(
        s.post_bearer(&w.retailer, "/api/v1/pos/check", &json!({"codes": []})),
        422,
    );
    refused!(
        s.get(&format!("/api/v1/verify?code={}", "1".repeat(600)), None),
        413,
    );
    refused!(
        s.send_announced(
            Req::new("POST", "/api/v1/products")
                .header("content-type", "application/json")
                .signed_by(p),
            server::BODY_PRODUCT_MAX + 1,
        ),
        413,
    );

    // -- credentials --
    let doc_req = || Req::new("POST", "/api/v1/documents").json(&good);
    refused!(s.send(doc_req()), 401);
    refused!(s.send(doc_req().sig(p)), 401);
    refused!(s.send(doc_req().bearer("garbage").sig(p)), 401,);
    refused!(s.send(doc_req().bearer("").sig(p)), 401,);
    refused!(
        s.send(
            doc_req()
                .header("authorization", &format!("Basic {}", p.token))
                .sig(p),
        ),
        401,
    );
    refused!(s.send(doc_req().bearer(&w.s.admin).sig(p),), 401,);
    let other = start();
    let stranger = other
        .c
        .register(&other.admin, &p.tin, "Fabrika", &["producer"], "RU-MOW")
        .expect("other");
    refused!(s.send(doc_req().bearer(&stranger.token).sig(p),), 401,);
    let mut tampered = p.token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    refused!(
        s.send(
            doc_req()
                .bearer(std::str::from_utf8(&tampered).expect("utf8"))
                .sig(p),
        ),
        401,
    );
    refused!(s.send(doc_req().bearer(&p.token)), 401);
    // The old body-only X-Signature is replayable and no longer accepted.
    refused!(
        s.send(
            doc_req().bearer(&p.token).header(
                "x-signature",
                &B64.encode(
                    p.key
                        .sign(&serde_json::to_vec(&good).expect("json"))
                        .to_bytes()
                ),
            )
        ),
        401,
    );
    let (d, i, _) = client::sign_request(
        p,
        "POST",
        "/api/v1/documents",
        &serde_json::to_vec(&good).expect("json"),
    );
    refused!(
        s.send(
            doc_req()
                .bearer(&p.token)
                .header("content-digest", &d)
                .header("signature-input", &i)
                .header("signature", "sig1=:not base64!:")
        ),
        401,
    );
    // Signed by another key under this TIN: refused.
    let forger = Actor {
        tin: p.tin.clone(),
        key: w.importer.key.clone(),
        token: p.token.clone(),
    };
    refused!(s.send(doc_req().signed_by(&forger)), 401);
    refused!(
        s.send(Req::new("DELETE", "/api/v1/blocks/1").bearer(&w.regulator.token)),
        401,
    );
    for path in [
        "/api/v1/inventory?gtin=1",
        "/api/v1/orders/00000000-0000-0000-0000-000000000000",
        "/api/v1/blocks",
    ] {
        refused!(s.get(path, None), 401);
        refused!(s.send(Req::new("GET", path).bearer("x")), 401);
    }
    refused!(
        s.send(Req::new("POST", "/api/v1/participants").json(&json!({}))),
        401,
    );
    refused!(
        s.send(
            Req::new("POST", "/api/v1/participants")
                .bearer("wrong-admin-token")
                .json(&json!({})),
        ),
        401,
    );

    // -- content type --
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let r = Req::new("POST", "/api/v1/documents")
            .header("content-type", ct)
            .body(good_bytes.clone())
            .signed_by(p);
        refused!(s.send(r), 415);
        let r = Req::new("POST", "/api/v1/codes/query")
            .header("content-type", ct)
            .body(b"{\"codes\":[]}".to_vec())
            .bearer(&p.token);
        refused!(s.send(r), 415);
    }

    // -- unknown paths and wrong methods --
    for path in [
        "/nope",
        "/api/v1",
        "/api/v2/documents",
        "/api/v1/documentz",
        "/api/v1/codes",
        "/problems/nope",
        "/01",
    ] {
        let pr = refused!(s.get(path, Some(p)), 404);
        assert_eq!(pr["type"], "/problems/not-found");
    }
    for (m, path) in [
        ("GET", "/api/v1/documents"),
        ("DELETE", "/api/v1/documents"),
        ("PUT", "/api/v1/products"),
        ("POST", "/health"),
        ("POST", "/api/v1/verify"),
        ("GET", "/api/v1/pos/check"),
        ("PATCH", "/api/v1/blocks/1"),
        ("POST", "/01/04600000000010/21/abc"),
    ] {
        let pr = refused!(s.send(Req::new(m, path).bearer(&p.token)), 405);
        assert_eq!(pr["type"], "/problems/method-not-allowed");
    }

    // -- other endpoints' bad input --
    let ps = |v: Value| s.post_signed(p, "/api/v1/products", &v);
    refused!(
        ps(json!({"gtin": &g[..13], "name": "x", "product_group": "shoes"})),
        422,
    );
    refused!(
        ps(json!({"gtin": bad_check[2..16].to_string(), "name": "x", "product_group": "shoes"})),
        422,
    );
    refused!(
        ps(json!({"gtin": g, "name": "x", "product_group": "spaceships"})),
        422,
    );
    refused!(
        ps(json!({"gtin": g, "name": "", "product_group": "shoes"})),
        422,
    );
    refused!(
        ps(json!({"gtin": g, "name": "x", "product_group": "shoes", "colour": 1})),
        400,
    );
    refused!(ps(json!({"gtin": g, "name": "x"})), 400);
    refused!(
        ps(json!({"gtin": 4600000000010u64, "name": "x", "product_group": "shoes"})),
        400,
    );
    refused!(
        ps(json!({"gtin": g, "name": "x", "product_group": "shoes", "max_retail_price": -1})),
        400,
    );
    let po = |v: Value| s.post_signed(p, "/api/v1/orders", &v);
    refused!(
        po(json!({"gtin": g, "quantity": 0, "serial_type": "operator", "tail": "mac"})),
        422,
    );
    refused!(
        po(json!({"gtin": g, "quantity": -1, "serial_type": "operator", "tail": "mac"})),
        400,
    );
    refused!(
        po(json!({"gtin": g, "quantity": 1e30, "serial_type": "operator", "tail": "mac"})),
        400,
    );
    refused!(
        po(json!({"gtin": g, "quantity": 2_000_001, "serial_type": "operator", "tail": "mac"})),
        422,
    );
    refused!(
        po(json!({"gtin": g, "quantity": 1, "serial_type": "martian", "tail": "mac"})),
        400,
    );
    refused!(
        po(json!({"gtin": g, "quantity": 1, "serial_type": "operator", "tail": "long"})),
        422,
    );
    refused!(
        po(
            json!({"gtin": g, "quantity": 2, "serial_type": "self_made", "serials": ["a", "a"], "tail": "mac"}),
        ),
        422,
    );
    refused!(
        po(
            json!({"gtin": g, "quantity": 1, "serial_type": "self_made", "serials": ["a~"], "tail": "mac"}),
        ),
        422,
    );
    refused!(
        po(
            json!({"gtin": gtin(460_000_000_099), "quantity": 1, "serial_type": "operator", "tail": "mac"}),
        ),
        422,
    );
    let part = |v: Value| {
        s.send(
            Req::new("POST", "/api/v1/participants")
                .bearer(&s.admin)
                .json(&v),
        )
    };
    let key = B64.encode(SigningKey::from_bytes(&[9; 32]).verifying_key().as_bytes());
    refused!(
        part(
            json!({"tin": "1", "name": "x", "roles": ["producer"], "public_key": "AAAA", "region": "RU-MOW"}),
        ),
        422,
    );
    refused!(
        part(
            json!({"tin": "1", "name": "x", "roles": ["producer"], "public_key": key, "region": "Moscow"}),
        ),
        422,
    );
    refused!(
        part(
            json!({"tin": "1", "name": "x", "roles": ["king"], "public_key": key, "region": "RU-MOW"}),
        ),
        400,
    );
    refused!(
        part(json!({"tin": "1", "name": "x", "roles": [], "public_key": key, "region": "RU-MOW"})),
        422,
    );
    refused!(
        part(
            json!({"tin": p.tin, "name": "x", "roles": ["producer"], "public_key": key, "region": "RU-MOW"}),
        ),
        409,
    );
    refused!(
        part(
            json!({"tin": "1 2", "name": "x", "roles": ["producer"], "public_key": key, "region": "RU-MOW"}),
        ),
        422,
    );
    refused!(s.get("/api/v1/auth/challenge", None), 400);
    // A TIN is 10 or 12 digits: anything else is refused before a challenge is made.
    refused!(s.get("/api/v1/auth/challenge?tin=0000", None), 400);
    // An unknown TIN gets a challenge like anyone (a 404 would list who is registered) and
    // fails at the signature, in the words a wrong key gets.
    let stranger = s.get("/api/v1/auth/challenge?tin=0000000000", None);
    assert_eq!(stranger.status, 200, "{}", stranger.text);
    let r = s.send(Req::new("POST", "/api/v1/auth/token").json(&json!({
        "challenge_id": stranger.json()["challenge_id"],
        "signature": base64::engine::general_purpose::STANDARD.encode([7u8; 64]),
    })));
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("does not verify"), "{}", r.text);
    refused!(
        s.send(
            Req::new("POST", "/api/v1/auth/token")
                .json(&json!({"challenge_id": "nope", "signature": "AAAA"})),
        ),
        401,
    );
    refused!(
        s.send(Req::new("POST", "/api/v1/auth/token").json(&json!({"challenge_id": "nope"}))),
        400,
    );
    refused!(s.get("/api/v1/inventory", Some(p)), 400);
    refused!(s.get("/api/v1/inventory?gtin=123", Some(p)), 422);
    refused!(s.get("/api/v1/verify", None), 400);
    refused!(s.get("/api/v1/products/123", None), 422);
    refused!(
        s.get(&format!("/api/v1/products/{}", gtin(460_000_000_099)), None),
        404,
    );
    refused!(s.get("/api/v1/orders/not-a-uuid", Some(p)), 404);
    refused!(
        s.get(&format!("/api/v1/orders/{}", uuid::Uuid::new_v4()), Some(p)),
        404,
    );
    refused!(
        s.send(
            Req::new(
                "GET",
                format!("/api/v1/orders/{}/codes?offset=-1", uuid::Uuid::new_v4()),
            )
            .signed_by(p),
        ),
        400,
    );
    refused!(
        s.get(
            &format!("/api/v1/documents/{}", uuid::Uuid::new_v4()),
            Some(p),
        ),
        404,
    );
    refused!(s.get("/api/v1/documents/zzz", Some(p)), 404);
    for c in [&bad_check, &bad_char, &non_ascii, "garbage"] {
        refused!(s.get(&format!("/api/v1/codes/{}", pct(c)), Some(p)), 422);
    }
    refused!(
        s.get(&format!("/api/v1/codes/{}", pct(&unknown)), Some(p)),
        404,
    );
    let pb = |v: Value| s.post_signed(&w.regulator, "/api/v1/blocks", &v);
    refused!(pb(json!({"reason": "x"})), 422);
    refused!(pb(json!({"codes": [unknown], "reason": "x"})), 422);
    refused!(pb(json!({"codes": [bad_check], "reason": "x"})), 422);
    refused!(pb(json!({"codes": [id_code(&intro[0])]})), 400);
    refused!(
        pb(json!({"gtin": g, "codes": [id_code(&intro[0])], "reason": "x"})),
        422,
    );
    refused!(
        s.send(Req::new("DELETE", "/api/v1/blocks/999").signed_by(&w.regulator)),
        404,
    );
    refused!(
        s.send(Req::new("DELETE", "/api/v1/blocks/x").signed_by(&w.regulator)),
        404,
    );
    refused!(
        s.post_bearer(p, "/api/v1/codes/query", &json!({"codes": "x"})),
        400,
    );
    refused!(
        s.post_bearer(p, "/api/v1/codes/query", &json!({"codes": [], "more": 1})),
        400,
    );
    refused!(
        s.post_bearer(
            &w.retailer,
            "/api/v1/pos/check",
            &json!({"codes": [{"price": 1}]}),
        ),
        400,
    );
    // A Digital Link that is not one: 400, as a problem when JSON is asked for.
    for path in [
        "/01/garbage",
        "/01/123/21/x",
        "/01/%FF%FE/21/%00",
        &format!("/01/{}/21/{serial}", &bad_check[2..16]),
    ] {
        refused!(
            s.send(Req::new("GET", path).header("accept", "application/json")),
            400,
        );
        let r = s.get(path, None);
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert!(r.ct.starts_with("text/html"), "{path}: {}", r.ct);
    }

    // Refusals are recorded for risk control but change no state.
    assert_eq!(w.snapshot(&watched), before);
    assert!(checked >= 130, "{checked}");
}

/// Codes in every accepted form, and percent-encoded in paths, name the same code.
#[test]
fn code_forms_and_percent_encoded_paths() {
    let w = World::new();
    let s = &w.s;
    let p = &w.producer;
    // Serials with characters that need encoding in a URL path: % / ? & + and a quote.
    let serials = ["p%41/?&+x\"1ab", "plain00000001", "%25%25%25%25%"];
    let r = s.post_signed(
        p,
        "/api/v1/orders",
        &json!({"gtin": w.shoes, "quantity": serials.len(), "serial_type": "self_made", "serials": serials, "tail": "mac"}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json()["order_id"].as_str().expect("id").to_string();
    let mut codes = Vec::new();
    for _ in 0..500 {
        let r = s.send(Req::new("GET", format!("/api/v1/orders/{id}/codes")).signed_by(p));
        if r.status == 200
            && r.json()["codes"]
                .as_array()
                .is_some_and(|c| c.len() == serials.len())
        {
            codes = r.json()["codes"]
                .as_array()
                .expect("codes")
                .iter()
                .map(|c| c.as_str().expect("code").to_string())
                .collect();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(codes.len(), serials.len());
    for (full, serial) in codes.iter().zip(serials) {
        let plain = format!("01{}21{serial}", w.shoes);
        assert_eq!(id_code(full), plain);
        let dl_serial = pct(serial);
        let forms = [
            plain.clone(),
            full.clone(),
            format!("(01){}(21){serial}", w.shoes),
            format!("https://id.example.org/01/{}/21/{dl_serial}", w.shoes),
        ];
        for f in &forms {
            let r = s.get(&format!("/api/v1/codes/{}", pct(f)), Some(p));
            assert_eq!(r.status, 200, "{f}: {}", r.text);
            assert_eq!(r.json()["code"], json!(plain), "{f}");
            let r = s.post_bearer(p, "/api/v1/codes/query", &json!({"codes": [f]}));
            assert_eq!(
                r.json()["codes"][0]["code"],
                json!(plain),
                "{f}: {}",
                r.text
            );
            assert_eq!(r.json()["codes"][0]["status"], "EMITTED", "{f}: {}", r.text);
            let r = s.get(&format!("/api/v1/verify?code={}", pct(f)), None);
            assert_eq!(r.json()["code"], json!(plain), "{f}: {}", r.text);
            assert_eq!(r.json()["verdict"], "not_in_circulation", "{f}: {}", r.text);
        }
        // The resolver takes the Digital Link path itself.
        let r = s.send(
            Req::new("GET", format!("/01/{}/21/{dl_serial}", w.shoes))
                .header("accept", "application/json"),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["code"], json!(plain));
    }
    // Documents take every form too; GS as \u001d in JSON.
    let a = s.ok_doc(
        p,
        json!({"type": "apply", "codes": [codes[0].clone(), format!("(01){}(21){}", w.shoes, serials[1]), format!("https://x.example/01/{}/21/{}", w.shoes, pct(serials[2]))]}),
    );
    assert_eq!(a["codes"], 3);
}

// ---------------------------------------------------------------------------------------
// 1b. No input produces a 5xx
// ---------------------------------------------------------------------------------------

fn mutate_bytes(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.gen_range(0..10) {
        0 => {
            // Flip bytes.
            for _ in 0..rng.gen_range(1..4) {
                if !b.is_empty() {
                    let i = rng.gen_range(0..b.len());
                    b[i] ^= 1 << rng.gen_range(0..8);
                }
            }
        }
        1 => {
            let n = rng.gen_range(0..=b.len());
            b.truncate(n);
        }
        2 => {
            // Random bytes.
            let n = rng.gen_range(0..200);
            b = (0..n).map(|_| rng.gen()).collect();
        }
        3 => {
            // Deep nesting.
            let d = rng.gen_range(100..20_000);
            b = [vec![b'['; d], vec![b']'; d]].concat();
            if rng.gen_bool(0.5) {
                b = [b"{\"codes\":".to_vec(), b, b"}".to_vec()].concat();
            }
        }
        // Replace a byte with a structural character.
        4 if !b.is_empty() => {
            let i = rng.gen_range(0..b.len());
            b[i] = *[b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', 0, 0x1d]
                .get(rng.gen_range(0..10))
                .unwrap_or(&b'"');
        }
        5 => {
            // Insert a random byte run.
            let i = rng.gen_range(0..=b.len());
            let run: Vec<u8> = (0..rng.gen_range(1..16)).map(|_| rng.gen()).collect();
            b.splice(i..i, run);
        }
        _ => {}
    }
    b
}

/// Mutates a JSON value structurally: swapped types, huge numbers, strange strings.
fn mutate_json(rng: &mut StdRng, v: &Value, depth: u32) -> Value {
    let weird = |rng: &mut StdRng| -> Value {
        match rng.gen_range(0..14) {
            0 => json!(null),
            1 => json!(true),
            2 => json!(-1),
            3 => json!(u64::MAX),
            4 => json!(1e300),
            5 => json!(i64::MIN),
            6 => json!(""),
            7 => json!("\u{0}\u{1d}\u{1d}"),
            8 => json!("x".repeat(rng.gen_range(0..5000))),
            9 => json!([]),
            10 => json!({}),
            11 => json!(["(01)00000000000000(21)", "https://x/01/1/21/%", "00123"]),
            12 => json!("9999-99-99T99:99:99Z"),
            _ => json!(uuid::Uuid::new_v4()),
        }
    };
    if depth > 3 || rng.gen_bool(0.15) {
        return if rng.gen_bool(0.5) {
            weird(rng)
        } else {
            v.clone()
        };
    }
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                match rng.gen_range(0..8) {
                    0 => {}
                    1 => {
                        out.insert(k.clone(), weird(rng));
                    }
                    2 => {
                        out.insert(format!("{k}_"), x.clone());
                    }
                    _ => {
                        out.insert(k.clone(), mutate_json(rng, x, depth + 1));
                    }
                }
            }
            out.into()
        }
        Value::Array(a) => {
            let mut a: Vec<Value> = a.iter().map(|x| mutate_json(rng, x, depth + 1)).collect();
            if rng.gen_bool(0.2) {
                let extra = a.first().cloned().unwrap_or(json!("x"));
                a.extend(std::iter::repeat_n(extra, rng.gen_range(0..50)));
            }
            a.into()
        }
        Value::String(s) if rng.gen_bool(0.5) => {
            let mut b = s.clone().into_bytes();
            if !b.is_empty() {
                let i = rng.gen_range(0..b.len());
                b[i] = rng.gen_range(0x20..0x7f);
            }
            Value::String(String::from_utf8_lossy(&b).into_owned())
        }
        _ => weird(rng),
    }
}

#[test]
fn fuzz_never_5xx() {
    let w = World::new();
    let s = &w.s;
    let intro = w.introduced(Who::Producer, 4);
    let at_shop = w.at_retailer(2);
    let ids: Vec<&str> = intro.iter().map(|c| id_code(c)).collect();
    let doc_seeds = [
        json!({"id": uuid::Uuid::new_v4(), "type": "ship", "receiver": w.wholesaler.tin, "codes": ids}),
        json!({"id": uuid::Uuid::new_v4(), "type": "aggregate", "parent": sscc(1, P_SSCC + 42), "children": [ids[0], ids[1]]}),
        json!({"id": uuid::Uuid::new_v4(), "type": "introduce", "codes": [intro[2]], "production_date": today(s), "expiry_date": "2099-01-01", "batch": "B"}),
        json!({"id": uuid::Uuid::new_v4(), "type": "write_off", "codes": [intro[3]], "reason": "damage"}),
        json!({"id": uuid::Uuid::new_v4(), "type": "accept", "shipment": uuid::Uuid::new_v4(), "reject": [ids[0]]}),
        json!({"id": uuid::Uuid::new_v4(), "type": "withdraw", "codes": [ids[1]], "reason": "export"}),
    ];
    let retail_seeds = [
        json!({"id": uuid::Uuid::new_v4(), "type": "sell", "codes": [id_code(&at_shop[0])], "receipt": {"fiscal_drive": "1", "number": 1, "at": "2025-01-01T00:00:00Z", "store": "s"}, "check_ids": ["x"]}),
        json!({"id": uuid::Uuid::new_v4(), "type": "return", "codes": [id_code(&at_shop[1])], "reason": "retail"}),
        json!({"id": uuid::Uuid::new_v4(), "type": "disaggregate", "parents": [sscc(1, P_SSCC + 42)]}),
    ];
    let pos_seed = json!({"codes": [at_shop[0], {"code": at_shop[1], "price": 100}]});
    let query_seed = json!({"codes": [intro[0], ids[1], format!("(01){}(21)x", w.shoes)]});
    let order_seed = json!({"gtin": w.shoes, "quantity": 1, "serial_type": "self_made", "serials": ["fz10000000001"], "tail": "short"});
    let product_seed = json!({"gtin": w.shoes, "name": "shoes item", "product_group": "shoes", "brand": "B", "shelf_life_days": 30, "max_retail_price": 100_000, "attributes": {"size": 42}});
    let mut rng = StdRng::seed_from_u64(0x7ac3_3a11);
    let mut n = 0;
    let mut check = |r: Resp, what: &str| {
        n += 1;
        assert!(r.status < 500, "{what} → {} {}", r.status, r.text);
        if r.ct.starts_with("text/html") {
            assert!(r.text.starts_with("<!doctype html>"), "{what}: {}", r.text);
        } else {
            let v: Value = serde_json::from_str(&r.text)
                .unwrap_or_else(|e| panic!("{what} → {} not JSON ({e}): {}", r.status, r.text));
            if r.status >= 400 {
                problem(&r, r.status);
                assert_eq!(v["status"], r.status);
            }
        }
    };
    let body_of = |rng: &mut StdRng, seed: &Value| -> Vec<u8> {
        let v = if rng.gen_bool(0.6) {
            mutate_json(rng, seed, 0)
        } else {
            seed.clone()
        };
        let bytes = serde_json::to_vec(&v).expect("json");
        if rng.gen_bool(0.5) {
            mutate_bytes(rng, &bytes)
        } else {
            bytes
        }
    };
    for i in 0..1_500 {
        let (who, path, seed): (&Actor, &str, &Value) = match i % 8 {
            0 | 1 => (
                &w.producer,
                "/api/v1/documents",
                &doc_seeds[i % doc_seeds.len()],
            ),
            2 => (
                &w.retailer,
                "/api/v1/documents",
                &retail_seeds[i % retail_seeds.len()],
            ),
            3 => (&w.retailer, "/api/v1/pos/check", &pos_seed),
            4 => (&w.regulator, "/api/v1/codes/query", &query_seed),
            5 => (&w.producer, "/api/v1/orders", &order_seed),
            6 => (&w.producer, "/api/v1/products", &product_seed),
            _ => (
                &w.regulator,
                "/api/v1/blocks",
                &json!({"codes": [ids[0]], "reason": "fuzz"}),
            ),
        };
        let body = body_of(&mut rng, seed);
        let r = Req::new("POST", path)
            .header("content-type", "application/json")
            .body(body.clone());
        let r = if rng.gen_bool(0.95) {
            r.signed_by(who)
        } else {
            r
        };
        check(
            s.send(r),
            &format!("POST {path} {}", String::from_utf8_lossy(&body)),
        );
        // Free the active-order slots the fuzz may fill.
        if i % 300 == 299 {
            let _ = s.c.order_codes(&w.producer, &w.shoes, 1, "mac");
        }
    }
    // Verify and the resolver, with mutated codes in every form.
    let code_seeds: Vec<String> = vec![
        intro[0].clone(),
        format!("(01){}(21){}", w.shoes, gtin_serial(&intro[1]).1),
        format!(
            "https://id.example/01/{}/21/{}?91=x&92=y",
            w.shoes,
            pct(gtin_serial(&intro[2]).1)
        ),
        sscc(1, P_SSCC + 1),
    ];
    for i in 0..1_000 {
        let seed = &code_seeds[i % code_seeds.len()];
        let mut b = mutate_bytes(&mut rng, seed.as_bytes());
        b.truncate(2_000);
        let text = String::from_utf8_lossy(&b).into_owned();
        check(
            s.get(&format!("/api/v1/verify?code={}", pct(&text)), None),
            &format!("verify {text:?}"),
        );
        // The resolver path: raw characters where URLs allow them, encoded otherwise.
        let path: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@%".contains(c) {
                    c.to_string()
                } else {
                    pct(&c.to_string())
                }
            })
            .collect();
        let (gt, sr) = gtin_serial(&intro[i % intro.len()]);
        let link = match i % 3 {
            0 => format!("/01/{path}"),
            1 => format!("/01/{gt}/21/{path}"),
            _ => format!("/01/{gt}/21/{}?91={path}&92={path}", pct(sr)),
        };
        let accept = if i % 2 == 0 {
            "application/json"
        } else {
            "text/html"
        };
        check(
            s.send(Req::new("GET", link.clone()).header("accept", accept)),
            &format!("resolver {link}"),
        );
    }
    // Codes in the path of GET /api/v1/codes/{code}.
    for i in 0..500 {
        let seed = &code_seeds[i % code_seeds.len()];
        let mut b = mutate_bytes(&mut rng, seed.as_bytes());
        b.truncate(2_000);
        let text = String::from_utf8_lossy(&b).into_owned();
        check(
            s.get(&format!("/api/v1/codes/{}", pct(&text)), Some(&w.regulator)),
            &format!("code {text:?}"),
        );
    }
    assert!(n >= 4_000, "{n}");
    // The registry still works and its state is consistent.
    let h = s.get("/health", None);
    assert_eq!(h.status, 200);
    let more = w.introduced(Who::Producer, 1);
    assert_eq!(w.card(&more[0])["status"], "INTRODUCED");
}

// ---------------------------------------------------------------------------------------
// 2. Authorization matrix
// ---------------------------------------------------------------------------------------

/// What a cell of the matrix sends.
struct Call {
    req: Req,
    /// Whether to sign the body (participants only).
    signed: bool,
}

fn get(path: impl Into<String>) -> Call {
    Call {
        req: Req::new("GET", path),
        signed: false,
    }
}
/// A GET signed as a POST is (the reads that return crypto tails).
fn get_signed(path: impl Into<String>) -> Call {
    Call {
        req: Req::new("GET", path),
        signed: true,
    }
}
fn post(path: &str, body: Value) -> Call {
    Call {
        req: Req::new("POST", path).json(&body),
        signed: false,
    }
}
fn post_signed(path: &str, body: Value) -> Call {
    Call {
        req: Req::new("POST", path).json(&body),
        signed: true,
    }
}
fn delete_signed(path: impl Into<String>) -> Call {
    Call {
        req: Req::new("DELETE", path),
        signed: true,
    }
}

impl World {
    fn call_as(&self, who: Who, call: Call) -> Resp {
        let mut r = call.req;
        match (who, self.actor(who)) {
            (_, Some(a)) if call.signed => r = r.signed_by(a),
            (_, Some(a)) => r = r.bearer(&a.token),
            (Who::Admin, None) => r = r.bearer(&self.s.admin),
            _ => {}
        }
        self.s.send(r)
    }
}

type Make<'a> = Box<dyn Fn(Who) -> Call + 'a>;

#[test]
fn authorization_matrix() {
    let w = World::new();
    let s = &w.s;
    // Subjects of the owner / non-owner rows.
    let p_emitted = w.emitted(Who::Producer, 1);
    let p_applied = w.applied(Who::Producer, 1);
    let i_applied = w.applied(Who::Importer, 1);
    let p_intro = w.introduced(Who::Producer, 6);
    let p_box = sscc(1, P_SSCC + 1);
    s.ok_doc(
        &w.producer,
        json!({"type": "aggregate", "parent": p_box, "children": [id_code(&p_intro[4])]}),
    );
    let r_codes = w.at_retailer(3);
    s.ok_doc(&w.retailer, w.sell_body(&[id_code(&r_codes[2])]));
    let to_retailer = w.introduced(Who::Producer, 1);
    let ship_doc = w.ship(&to_retailer, &w.retailer);
    let order = {
        let r = s.post_signed(
            &w.producer,
            "/api/v1/orders",
            &json!({"gtin": w.shoes, "quantity": 2, "serial_type": "operator", "tail": "mac"}),
        );
        assert_eq!(r.status, 202, "{}", r.text);
        r.json()["order_id"].as_str().expect("id").to_string()
    };
    let closable = {
        let r = s.post_signed(
            &w.producer,
            "/api/v1/orders",
            &json!({"gtin": w.shoes, "quantity": 1, "serial_type": "operator", "tail": "mac"}),
        );
        r.json()["order_id"].as_str().expect("id").to_string()
    };
    for id in [&order, &closable] {
        for _ in 0..500 {
            if s.get(&format!("/api/v1/orders/{id}"), Some(&w.producer))
                .json()["status"]
                == "ready"
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let receiver =
        s.c.register(
            &s.admin,
            "7700000008",
            "Wholesale Two",
            &["wholesaler"],
            "RU-MOW",
        )
        .expect("register");
    let block_id = {
        let r = s.post_signed(
            &w.regulator,
            "/api/v1/blocks",
            &json!({"codes": [id_code(&p_intro[5])], "reason": "sample"}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_u64().expect("id")
    };
    let counter = std::cell::Cell::new(0u64);
    let fresh = || {
        counter.set(counter.get() + 1);
        counter.get()
    };
    let key = B64.encode(SigningKey::from_bytes(&[3; 32]).verifying_key().as_bytes());
    let r0 = id_code(&r_codes[0]).to_string();
    let doc = |body: Value| -> Make<'static> {
        Box::new(move |_| {
            post_signed("/api/v1/documents", {
                let mut b = body.clone();
                b["id"] = json!(uuid::Uuid::new_v4());
                b
            })
        })
    };
    let ids = |c: &[String]| c.iter().map(|c| id_code(c).to_string()).collect::<Vec<_>>();

    // Columns: producer, importer, wholesaler, retailer (owner), retailer2 (non-owner),
    // fiscal operator, regulator, anonymous, admin.
    #[rustfmt::skip]
    let table: Vec<(&str, [u16; 9], Make)> = vec![
        // endpoint                                  prod  imp  whole ret  ret2 fisc reg  anon admin
        ("GET /health",                             [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get("/health"))),
        ("GET /metrics",                            [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get("/metrics"))),
        ("GET /openapi.json",                       [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get("/openapi.json"))),
        ("GET /problems/{slug}",                    [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get("/problems/refused"))),
        ("GET /.well-known/tracemark-keys",         [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get("/.well-known/tracemark-keys"))),
        ("GET /api/v1/verify (public)",             [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get(format!("/api/v1/verify?code={}", pct(&r_codes[0]))))),
        ("GET /01/{gtin}/21/{serial} (public)",     [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| { let (g, sr) = gtin_serial(&r_codes[0]); get(format!("/01/{g}/21/{}", pct(sr))) })),
        ("GET /api/v1/products/{gtin} (public)",    [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get(format!("/api/v1/products/{}", w.shoes)))),
        ("GET /api/v1/auth/challenge (public)",     [200, 200, 200, 200, 200, 200, 200, 200, 200], Box::new(|_| get(format!("/api/v1/auth/challenge?tin={}", w.retailer.tin)))),
        ("POST /api/v1/participants (admin)",       [403, 403, 403, 403, 403, 403, 403, 401, 201], Box::new(|_| post("/api/v1/participants", json!({"tin": format!("99{}", fresh()), "name": "New", "roles": ["retailer"], "public_key": key, "region": "RU-SPE"})))),
        ("GET /api/v1/participants/{retailer}",     [404, 404, 404, 200, 404, 404, 200, 401, 200], Box::new(|_| get(format!("/api/v1/participants/{}", w.retailer.tin)))),
        ("POST /api/v1/products (new GTIN)",        [201, 201, 403, 403, 403, 403, 403, 401, 401], Box::new(|who| post_signed("/api/v1/products", json!({"gtin": gtin(if matches!(who, Who::Importer) { 490_000_000_000 } else { 470_000_000_000 } + fresh()), "name": "n", "product_group": "shoes"})))),
        ("POST /api/v1/products (producer's GTIN)", [201, 403, 403, 403, 403, 403, 403, 401, 401], Box::new(|_| post_signed("/api/v1/products", json!({"gtin": w.shoes, "name": "shoes item", "product_group": "shoes", "max_retail_price": 100_000})))),
        ("POST /api/v1/orders (producer's GTIN)",   [202, 403, 403, 403, 403, 403, 403, 401, 401], Box::new(|_| post_signed("/api/v1/orders", json!({"gtin": w.shoes, "quantity": 1, "serial_type": "operator", "tail": "mac"})))),
        ("GET /api/v1/orders/{producer's}",         [200, 404, 404, 404, 404, 404, 404, 401, 401], Box::new(|_| get(format!("/api/v1/orders/{order}")))),
        ("GET /api/v1/orders/{producer's}/codes",   [200, 404, 404, 404, 404, 404, 404, 401, 401], Box::new(|_| get_signed(format!("/api/v1/orders/{order}/codes")))),
        ("POST /api/v1/orders/{producer's}/close",  [200, 404, 404, 404, 404, 404, 404, 401, 401], Box::new(|_| post_signed(&format!("/api/v1/orders/{closable}/close"), json!({})))),
        ("document apply (producer's code)",        [201, 422, 403, 403, 403, 403, 403, 401, 401], doc(json!({"type": "apply", "codes": ids(&p_emitted)}))),
        ("document introduce (producer's code)",    [201, 403, 403, 403, 403, 403, 403, 401, 401], doc(json!({"type": "introduce", "codes": ids(&p_applied), "production_date": today(s)}))),
        ("document import (importer's code)",       [403, 201, 403, 403, 403, 403, 403, 401, 401], doc(json!({"type": "import", "codes": ids(&i_applied), "customs_declaration": "10702010/251126/0000001"}))),
        ("document aggregate (producer's code)",    [201, 422, 422, 422, 422, 403, 403, 401, 401], Box::new(|_| post_signed("/api/v1/documents", json!({"id": uuid::Uuid::new_v4(), "type": "aggregate", "parent": sscc(2, P_SSCC + fresh()), "children": [id_code(&p_intro[0])]})))),
        ("document disaggregate (producer's box)",  [201, 422, 422, 422, 422, 403, 403, 401, 401], doc(json!({"type": "disaggregate", "parents": [p_box]}))),
        ("document ship (producer's code)",         [201, 422, 422, 422, 422, 403, 403, 401, 401], doc(json!({"type": "ship", "receiver": receiver.tin, "codes": [id_code(&p_intro[1])]}))),
        ("document accept (shipment to retailer)",  [403, 403, 403, 201, 403, 403, 403, 401, 401], doc(json!({"type": "accept", "shipment": ship_doc}))),
        ("document sell (retailer's code)",         [403, 403, 403, 201, 422, 403, 403, 401, 401], doc(w.sell_body(&[r0.as_str()]))),
        ("document return (retailer's sold code)",  [403, 403, 403, 201, 422, 403, 403, 401, 401], doc(json!({"type": "return", "codes": [id_code(&r_codes[2])], "reason": "retail"}))),
        ("document write_off (producer's code)",    [201, 422, 422, 422, 422, 403, 403, 401, 401], doc(json!({"type": "write_off", "codes": [id_code(&p_intro[2])], "reason": "damage"}))),
        ("document withdraw (producer's code)",     [201, 422, 422, 422, 422, 403, 403, 401, 401], doc(json!({"type": "withdraw", "codes": [id_code(&p_intro[3])], "reason": "export"}))),
        ("GET /api/v1/documents/{ship to retailer}",[200, 404, 404, 200, 404, 404, 200, 401, 401], Box::new(|_| get(format!("/api/v1/documents/{ship_doc}")))),
        ("GET /api/v1/codes/{retailer's code}",     [200, 404, 404, 200, 404, 404, 200, 401, 401], Box::new(|_| get(format!("/api/v1/codes/{}", pct(&r_codes[1]))))),
        ("POST /api/v1/codes/query",                [200, 200, 200, 200, 200, 200, 200, 401, 401], Box::new(|_| post("/api/v1/codes/query", json!({"codes": [r_codes[1]]})))),
        ("GET /api/v1/inventory",                   [200, 200, 200, 200, 200, 200, 200, 401, 401], Box::new(|_| get(format!("/api/v1/inventory?gtin={}", w.shoes)))),
        ("POST /api/v1/pos/check",                  [403, 403, 403, 200, 200, 200, 403, 401, 401], Box::new(|_| post("/api/v1/pos/check", json!({"codes": [r_codes[1]]})))),
        ("POST /api/v1/blocks",                     [403, 403, 403, 403, 403, 403, 201, 401, 401], Box::new(|_| post_signed("/api/v1/blocks", json!({"gtin": w.cameras, "reason": "recall"})))),
        ("GET /api/v1/blocks",                      [403, 403, 403, 403, 403, 403, 200, 401, 401], Box::new(|_| get("/api/v1/blocks"))),
        ("DELETE /api/v1/blocks/{id}",              [403, 403, 403, 403, 403, 403, 200, 401, 401], Box::new(|_| delete_signed(format!("/api/v1/blocks/{block_id}")))),
        ("GET /api/v1/analytics/sales",             [200, 200, 200, 200, 200, 200, 200, 401, 401], Box::new(|_| get("/api/v1/analytics/sales?group_by=region"))),
        ("GET /api/v1/analytics/stock",             [200, 200, 200, 200, 200, 200, 200, 401, 401], Box::new(|_| get("/api/v1/analytics/stock?group_by=gtin"))),
        ("GET /api/v1/analytics/flows",             [403, 403, 403, 403, 403, 403, 200, 401, 401], Box::new(|_| get("/api/v1/analytics/flows"))),
    ];
    let mut cells = 0;
    let mut failures = Vec::new();
    for (name, expected, make) in &table {
        // Refusals first, then the successes (which may change what the row acts on).
        let mut order: Vec<usize> = (0..WHO.len()).collect();
        order.sort_by_key(|&i| expected[i] < 300);
        for i in order {
            let who = WHO[i];
            let r = w.call_as(who, make(who));
            cells += 1;
            if r.status != expected[i] {
                failures.push(format!(
                    "{name} as {who:?}: expected {}, got {} {}",
                    expected[i], r.status, r.text
                ));
                continue;
            }
            if r.status >= 400 {
                let pr = problem(&r, r.status);
                if r.status == 422 && name.starts_with("document") {
                    assert!(
                        reasons(&pr)
                            .values()
                            .all(|r| r == "not_owner" || r == "foreign_prefix"),
                        "{name} as {who:?}: {pr}"
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(cells, table.len() * WHO.len());

    // What the status look-up reveals: only codes the caller may see.
    for who in WHO.iter().take(7) {
        let a = w.actor(*who).expect("actor");
        let r = s.post_bearer(a, "/api/v1/codes/query", &json!({"codes": [r_codes[1]]}));
        let v = &r.json()["codes"][0];
        let sees = matches!(who, Who::Producer | Who::Retailer | Who::Regulator);
        assert_eq!(v.get("status").is_some(), sees, "{who:?}: {v}");
        if !sees {
            assert_eq!(v["error"], "unknown_code", "{who:?}: {v}");
        }
    }
    // Public verification reveals no owner of an unsold item.
    let v = s
        .get(&format!("/api/v1/verify?code={}", pct(&r_codes[1])), None)
        .json();
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert!(!v.to_string().contains(&w.retailer.tin), "{v}");
    // The receiver of a shipment in transit sees its codes; a stranger does not.
    let moving = w.introduced(Who::Producer, 1);
    w.ship(&moving, &w.wholesaler);
    let path = format!("/api/v1/codes/{}", pct(id_code(&moving[0])));
    assert_eq!(s.get(&path, Some(&w.wholesaler)).status, 200);
    assert_eq!(s.get(&path, Some(&w.retailer)).status, 404);
}

// ---------------------------------------------------------------------------------------
// 3. The API's contract (docs/api-guide.md)
// ---------------------------------------------------------------------------------------

#[test]
fn sign_in_contract() {
    let s = start();
    let key = SigningKey::from_bytes(&[11; 32]);
    let r = s.send(
        Req::new("POST", "/api/v1/participants")
            .bearer(&s.admin)
            .json(&json!({
                "tin": "7800000001", "name": "Shop", "roles": ["retailer"], "region": "RU-SPE",
                "public_key": B64.encode(key.verifying_key().as_bytes()),
            })),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json()["id"].is_u64(), "{}", r.text);
    let challenge = || {
        let r = s.get("/api/v1/auth/challenge?tin=7800000001", None);
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        (
            v["challenge_id"].as_str().expect("id").to_string(),
            v["data"].as_str().expect("data").to_string(),
        )
    };
    let token = |id: &str, sig: &[u8]| {
        s.send(
            Req::new("POST", "/api/v1/auth/token")
                .json(&json!({"challenge_id": id, "signature": B64.encode(sig)})),
        )
    };
    // The signature is over exactly the data string.
    let (id, data) = challenge();
    problem(
        &token(&id, &key.sign(format!("{data}\n").as_bytes()).to_bytes()),
        401,
    );
    // A challenge answered wrongly stays good for the key's holder: a stranger cannot use
    // up a participant's challenges (issue 14, finding 5); once answered right, it is used.
    let r = token(&id, &key.sign(data.as_bytes()).to_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    problem(&token(&id, &key.sign(data.as_bytes()).to_bytes()), 401);
    let (id, data) = challenge();
    problem(
        &token(
            &id,
            &SigningKey::from_bytes(&[12; 32])
                .sign(data.as_bytes())
                .to_bytes(),
        ),
        401,
    );
    let (id, data) = challenge();
    let r = token(&id, &key.sign(data.as_bytes()).to_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let tok = v["token"].as_str().expect("token").to_string();
    let exp = types::time::parse_timestamp(v["expires_at"].as_str().expect("expires_at"))
        .expect("RFC 3339");
    let now = s.clock.load(Ordering::SeqCst);
    assert!(exp > now && exp <= now + 24 * 3600, "{v}");
    // A reused challenge fails.
    problem(&token(&id, &key.sign(data.as_bytes()).to_bytes()), 401);
    // The token works, until it expires.
    let me = s.get("/api/v1/participants/7800000001", None);
    problem(&me, 401);
    let me = s.send(Req::new("GET", "/api/v1/participants/7800000001").bearer(&tok));
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json()["public_key"],
        B64.encode(key.verifying_key().as_bytes())
    );
    s.clock.store(exp, Ordering::SeqCst);
    let pr = problem(
        &s.send(Req::new("GET", "/api/v1/participants/7800000001").bearer(&tok)),
        401,
    );
    assert!(
        pr["detail"].as_str().unwrap_or("").contains("expired"),
        "{pr}"
    );
    // So does a challenge left too long.
    let (id, data) = challenge();
    s.clock
        .fetch_add(server::auth::CHALLENGE_TTL_SECS, Ordering::SeqCst);
    problem(&token(&id, &key.sign(data.as_bytes()).to_bytes()), 401);
}

#[test]
fn documents_are_idempotent_and_kept_as_signed() {
    let w = World::new();
    let s = &w.s;
    let codes = w.emitted(Who::Producer, 2);
    let id = uuid::Uuid::new_v4();
    // Exact bytes, with whitespace and key order a re-serialisation would not keep.
    let body = format!(
        "{{ \"type\": \"apply\",\n  \"id\": \"{id}\", \"codes\": [\"{}\"] }}",
        id_code(&codes[0])
    );
    let send = |b: &str, a: &Actor| {
        s.send(
            Req::new("POST", "/api/v1/documents")
                .header("content-type", "application/json; charset=utf-8")
                .body(b.as_bytes().to_vec())
                .signed_by(a),
        )
    };
    let docs = s.documents();
    let first = send(&body, &w.producer);
    assert_eq!(first.status, 201, "{}", first.text);
    let a = first.json();
    assert_eq!(a["id"], json!(id));
    assert_eq!(a["status"], "accepted");
    assert_eq!(a["codes"], 1);
    // Same id, same body: the same answer, nothing new.
    let again = send(&body, &w.producer);
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json(), a);
    assert_eq!(s.documents(), docs + 1);
    // Same id, another body (even one byte, even the same meaning): 409.
    problem(&send(&body.replace(",\n", ","), &w.producer), 409);
    let other = body.replace(id_code(&codes[0]), id_code(&codes[1]));
    problem(&send(&other, &w.producer), 409);
    // Same id and body from someone else: 409 too.
    problem(&send(&body, &w.importer), 409);
    assert_eq!(s.documents(), docs + 1);
    assert_eq!(w.card(&codes[1])["status"], "EMITTED");
    // The legal record: body and signature as received.
    let r = s.get(&format!("/api/v1/documents/{id}"), Some(&w.producer));
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.json();
    // Re-verified from the record alone, with a signature base built here from RFC 9421's
    // text (not the server's code): the record proves who asked for exactly this.
    let input = d["signature_input"].as_str().expect("signature_input");
    let params = input.strip_prefix("sig1=").expect("sig1");
    assert!(
        params.contains(&format!("keyid=\"{}\"", w.producer.tin)),
        "{params}"
    );
    let digest = {
        use sha2::Digest;
        B64.encode(sha2::Sha256::digest(body.as_bytes()))
    };
    let base = format!(
        "\"@method\": POST\n\"@path\": /api/v1/documents\n\"@query\": ?\n\"content-digest\": sha-256=:{digest}:\n\"@signature-params\": {params}"
    );
    let sig = d["signature"]
        .as_str()
        .and_then(|s| s.strip_prefix("sig1=:"))
        .and_then(|s| s.strip_suffix(':'))
        .and_then(|s| B64.decode(s).ok())
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .expect("a Signature header value");
    w.producer
        .key
        .verifying_key()
        .verify_strict(base.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
        .expect("the stored signature verifies over the stored request");
    assert_eq!(d["request"]["method"], "POST");
    assert!(d["log_index"].is_u64(), "{d}");
    assert_eq!(d["type"], "apply");
    assert_eq!(
        d["body"],
        serde_json::from_str::<Value>(&body).expect("json")
    );
    let raw = B64
        .decode(d["body_base64"].as_str().expect("body_base64"))
        .expect("base64");
    assert_eq!(raw, body.as_bytes(), "the exact bytes signed are kept");
    // Anyone holding the participant's public key can check the record.
    let pk = s
        .get(
            &format!("/api/v1/participants/{}", w.producer.tin),
            Some(&w.regulator),
        )
        .json()["public_key"]
        .as_str()
        .expect("public_key")
        .to_string();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        &B64.decode(pk).expect("b64").try_into().expect("32 bytes"),
    )
    .expect("key");
    vk.verify_strict(base.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
        .expect("the registered key verifies the record");
    // The code's history names the document.
    let card = w.card(&codes[0]);
    assert!(
        card["history"]
            .as_array()
            .expect("history")
            .iter()
            .any(|e| e["document"] == json!(id)),
        "{card}"
    );
    // A refused document can be fixed and resent under the same id.
    let id2 = uuid::Uuid::new_v4();
    problem(
        &s.doc(
            &w.producer,
            json!({"id": id2, "type": "apply", "codes": ["0100000000000000210"]}),
        ),
        422,
    );
    let ok = s.doc(
        &w.producer,
        json!({"id": id2, "type": "apply", "codes": [id_code(&codes[1])]}),
    );
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[test]
fn verify_resolver_and_offline_keys() {
    let w = World::new();
    let s = &w.s;
    let codes = w.introduced(Who::Producer, 2);
    let full = &codes[0];
    let (g, serial) = gtin_serial(full);
    let (kid, tail) = tail_91_92(full);
    // Verify: genuine with the tail, forged with another.
    let v = s
        .get(&format!("/api/v1/verify?code={}", pct(full)), None)
        .json();
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(v["tail_checked"], true);
    assert_eq!(v["producer"]["tin"], w.producer.tin);
    assert_eq!(v["product"]["gtin"], g);
    assert!(v["checked_at"].is_string());
    let (_, other_tail) = tail_91_92(&codes[1]);
    let forged = format!("{}\u{1d}91{kid}\u{1d}92{other_tail}", id_code(full));
    let f = s
        .get(&format!("/api/v1/verify?code={}", pct(&forged)), None)
        .json();
    assert_eq!(f["verdict"], "forged", "{f}");
    let u = s
        .get(
            &format!(
                "/api/v1/verify?code={}",
                pct(&format!("01{g}21nosuchserial"))
            ),
            None,
        )
        .json();
    assert_eq!(u["verdict"], "unknown", "{u}");
    // The printed number alone, without its tail, is never genuine.
    let bare = s
        .get(&format!("/api/v1/verify?code={}", pct(id_code(full))), None)
        .json();
    assert_eq!(bare["verdict"], "unverified", "{bare}");
    assert_eq!(bare["tail_checked"], false, "{bare}");
    let page = s.get(&format!("/01/{g}/21/{}?lang=en", pct(serial)), None);
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("data-verdict=\"unverified\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("Not verified"), "{}", page.text);
    assert!(
        page.text.contains("Scan the code on the label"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("Genuine"), "{}", page.text);
    // A malformed code is a 400 problem naming the fault, not a verdict.
    let mut bad_check = g.as_bytes().to_vec();
    bad_check[13] = if bad_check[13] == b'9' {
        b'0'
    } else {
        bad_check[13] + 1
    };
    let bad_check = String::from_utf8(bad_check).expect("ascii");
    for (bad, reason) in [
        (format!("01{bad_check}21ABC"), "bad_check_digit"),
        (format!("01{}21ABC", &g[..13]), ""),
        (String::new(), ""),
    ] {
        let r = s.get(&format!("/api/v1/verify?code={}", pct(&bad)), None);
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text);
        assert!(r.ct.starts_with("application/problem+json"), "{}", r.ct);
        if !reason.is_empty() {
            assert_eq!(r.json()["errors"][0]["reason"], reason, "{}", r.text);
        }
    }
    // The resolver: JSON when asked for, HTML otherwise; the same answer as verify.
    let link = format!("/01/{g}/21/{}?91={kid}&92={}", pct(serial), pct(&tail));
    let j = s.send(Req::new("GET", link.clone()).header("accept", "application/json"));
    assert_eq!(j.status, 200, "{}", j.text);
    assert!(j.ct.starts_with("application/json"), "{}", j.ct);
    let mut jv = j.json();
    let mut vv = v.clone();
    jv["checked_at"] = Value::Null;
    vv["checked_at"] = Value::Null;
    assert_eq!(jv, vv);
    for accept in [
        None,
        Some("text/html"),
        Some("text/html,application/json;q=0.9"),
        Some("*/*"),
    ] {
        let mut r = Req::new("GET", link.clone()).header("accept-language", "en");
        if let Some(a) = accept {
            r = r.header("accept", a);
        }
        let h = s.send(r);
        assert_eq!(h.status, 200, "{accept:?}");
        assert!(h.ct.starts_with("text/html"), "{accept:?}: {}", h.ct);
        assert!(h.text.contains("data-verdict=\"genuine\""), "{}", h.text);
        assert!(h.text.contains("Genuine"), "{}", h.text);
        assert!(h.text.contains("shoes item"), "{}", h.text);
    }
    // Without Accept-Language the page is in Russian (the national default).
    let h = s.get(&link, None);
    assert!(h.text.contains("<html lang=\"ru\">") && h.text.contains("Подлинный"));
    let fl = format!(
        "/01/{g}/21/{}?91={kid}&92={}",
        pct(serial),
        pct(&other_tail)
    );
    assert!(s.get(&fl, None).text.contains("data-verdict=\"forged\""));
    assert_eq!(
        s.send(Req::new("GET", fl).header("accept", "application/json"))
            .json()["verdict"],
        "forged"
    );
    // A name in HTML is escaped.
    let r = s.post_signed(
        &w.producer,
        "/api/v1/products",
        &json!({"gtin": w.shoes, "name": "<script>x</script>", "product_group": "shoes"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let h = s.get(&link, None).text;
    // (The page escapes with numeric references: `&#60;` for `<`.)
    assert!(
        !h.contains("<script>") && h.contains("&#60;script&#62;x&#60;/script&#62;"),
        "{h}"
    );

    // Offline: the published keys alone check a signature tail.
    let keys = s.get("/.well-known/tracemark-keys", None);
    assert_eq!(keys.status, 200);
    assert!(keys.ct.starts_with("application/json"));
    let keys = keys.json();
    let k = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .unwrap_or_else(|| panic!("no key {kid} in {keys}"));
    assert_eq!(k["alg"], "Ed25519");
    assert!(k.get("not_before").is_some());
    let pk: [u8; 32] = B64
        .decode(k["public_key"].as_str().expect("public_key"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("key");
    assert_eq!(tail.len(), 88, "{tail}");
    let sig =
        ed25519_dalek::Signature::from_slice(&B64.decode(&tail).expect("base64")).expect("sig");
    let msg = format!("01{g}21{serial}");
    vk.verify_strict(msg.as_bytes(), &sig)
        .expect("the tail is the registry's signature");
    assert!(vk
        .verify_strict(format!("01{g}21{serial}x").as_bytes(), &sig)
        .is_err());
    let sig2 =
        ed25519_dalek::Signature::from_slice(&B64.decode(&other_tail).expect("b64")).expect("sig");
    assert!(
        vk.verify_strict(msg.as_bytes(), &sig2).is_err(),
        "another code's tail fails offline"
    );
}

/// `(method, path)` of every `.route(…)` in the server's router, read from its source.
fn router_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../../server/src/lib.rs");
    // Whitespace folded, so a `.route(` call split over lines by rustfmt reads as one.
    let flat: String = src
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(");
    let mut out = BTreeSet::new();
    for (at, _) in flat.match_indices(".route(\"") {
        let rest = &flat[at + ".route(\"".len()..];
        let (path, after) = rest.split_once('"').expect("route path");
        // The handlers: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(after.len(), |(i, _)| i);
        let handlers = &after[..end];
        for m in ["get", "post", "put", "delete", "patch", "options"] {
            let direct = handlers.contains(&format!(", {m}("))
                || handlers.contains(&format!("routing::{m}("));
            if direct || handlers.contains(&format!(".{m}(")) {
                out.insert((m.to_string(), path.to_string()));
            }
        }
    }
    out
}

/// A router path with a catch-all (`{*rest}`) documents as the path with named segments.
fn documents_route(doc_path: &str, route: &str) -> bool {
    match route.split_once("{*") {
        Some((prefix, _)) => doc_path.starts_with(prefix) && doc_path.len() > prefix.len(),
        None => doc_path == route,
    }
}

#[test]
fn openapi_metrics_and_health() {
    let w = World::new();
    let s = &w.s;
    let r = s.get("/openapi.json", None);
    assert_eq!(r.status, 200);
    assert!(r.ct.starts_with("application/json"), "{}", r.ct);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    // The document lists exactly server::openapi::paths()…
    let mut listed = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (m, op) in ops.as_object().expect("ops") {
            assert!(op["responses"].is_object(), "{m} {path}");
            let summary = op["summary"].as_str().unwrap_or("");
            assert!(!summary.trim().is_empty(), "{m} {path} has no summary");
            listed.insert((m.clone(), path.clone()));
        }
    }
    // No schema is a bare object: every object names its properties, or is marked free-form
    // (`additionalProperties: true`, product attributes), or closed (`additionalProperties:
    // false`, an empty body), or is a map (`additionalProperties` a schema).
    fn bare_objects(at: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                let object = match o.get("type") {
                    Some(Value::String(t)) => t == "object",
                    Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
                    _ => false,
                };
                let composed = [
                    "properties",
                    "additionalProperties",
                    "oneOf",
                    "anyOf",
                    "allOf",
                    "$ref",
                ]
                .iter()
                .any(|k| o.contains_key(*k));
                if object && !composed {
                    out.push(at.to_string());
                }
                for (k, x) in o {
                    bare_objects(&format!("{at}/{k}"), x, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    bare_objects(&format!("{at}/{i}"), x, out);
                }
            }
            _ => {}
        }
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.len() >= 40, "{}", schemas.len());
    let mut bare = Vec::new();
    bare_objects(
        "#/components/schemas",
        &doc["components"]["schemas"],
        &mut bare,
    );
    bare_objects("#/paths", &doc["paths"], &mut bare);
    assert!(bare.is_empty(), "bare objects: {bare:?}");
    // Every $ref resolves.
    let text = doc.to_string();
    for (at, _) in text.match_indices("\"$ref\":\"#/components/") {
        let rest = &text[at + "\"$ref\":\"#/components/".len()..];
        let target = &rest[..rest.find('"').expect("ref end")];
        let (kind, name) = target.split_once('/').expect("kind/name");
        assert!(
            doc["components"][kind][name].is_object(),
            "unresolved $ref {target}"
        );
    }
    let table: BTreeSet<(String, String)> = server::openapi::paths()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, table);
    // …every (method, path) the router serves is in it, and everything in it is served.
    let routes = router_routes();
    assert!(routes.len() >= 20, "{routes:?}");
    for (m, route) in &routes {
        assert!(
            listed
                .iter()
                .any(|(lm, lp)| lm == m && documents_route(lp, route)),
            "{m} {route} is served but not in /openapi.json"
        );
    }
    for (m, p) in &listed {
        assert!(
            routes
                .iter()
                .any(|(rm, rp)| rm == m && documents_route(p, rp)),
            "{m} {p} is in /openapi.json but not served"
        );
    }
    // Every documented path answers something other than the fallback 404.
    let codes = w.introduced(Who::Producer, 1);
    let (g, serial) = gtin_serial(&codes[0]);
    for (m, p) in &listed {
        let path = p
            .replace("{slug}", "bad-request")
            .replace("{tin}", &w.producer.tin)
            .replace("{gtin}", g)
            .replace("{serial}", &pct(serial))
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{code}", &pct(id_code(&codes[0])));
        let req = Req::new(
            match m.as_str() {
                "get" => "GET",
                "post" => "POST",
                "delete" => "DELETE",
                "put" => "PUT",
                "options" => "OPTIONS",
                other => panic!("method {other}"),
            },
            path.clone(),
        )
        .json(&json!({}))
        .signed_by(&w.producer);
        let r = s.send(req);
        assert!(r.status < 500, "{m} {path}: {} {}", r.status, r.text);
        if r.status == 404 || r.status == 405 {
            let v = r.json();
            assert!(
                !v["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no such endpoint")
                    && v["type"] != "/problems/method-not-allowed",
                "{m} {path} falls through: {v}"
            );
        }
    }
    // Every problem type the API answers with is documented at its URI.
    for (slug, status, _) in server::problem::KINDS {
        let r = s.get(&format!("/problems/{slug}"), None);
        assert_eq!(r.status, 200, "{slug}");
        assert!(r.text.contains(&status.to_string()));
    }
    // Metrics: Prometheus text with the request counters.
    let m = s.get("/metrics", None);
    assert_eq!(m.status, 200);
    assert!(m.ct.starts_with("text/plain"), "{}", m.ct);
    assert!(
        m.text
            .contains("# TYPE tracemark_http_requests_total counter"),
        "{}",
        m.text
    );
    for line in m
        .text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().expect("value");
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
    assert!(m.text.contains("route=\"/api/v1/documents\""), "{}", m.text);
    // The writer's counters: documents were accepted above, so batches and codes moved.
    let sample = |name: &str| -> f64 {
        m.text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in {}", m.text))
    };
    assert!(sample("tracemark_writer_batches_total ") >= 1.0);
    assert!(sample("tracemark_writer_jobs_total ") >= sample("tracemark_writer_batches_total "));
    assert!(sample("tracemark_writer_codes_written_total ") >= 1.0);
    assert!(sample("tracemark_writer_commit_seconds_total ") > 0.0);
    assert_eq!(sample("tracemark_writer_commit_failures_total "), 0.0);
    assert_eq!(sample("tracemark_writer_queue "), 0.0);
    // Health: JSON with the document count and chain head.
    let h = s.get("/health", None);
    assert_eq!(h.status, 200);
    assert!(h.ct.starts_with("application/json"));
    let v = h.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["documents"], 2);
    assert_eq!(v["chain_head"].as_str().map(str::len), Some(64), "{v}");
}

/// Many clients at once: one document id is accepted once; one code is sold once.
#[test]
fn concurrent_submissions() {
    let w = World::new();
    let s = &w.s;
    let codes = w.at_retailer(2);
    let docs = s.documents();
    let body = serde_json::to_vec(&w.sell_body(&[id_code(&codes[0])])).expect("json");
    let mut same = serde_json::from_slice::<Value>(&body).expect("json");
    same["id"] = json!(uuid::Uuid::new_v4());
    let same = serde_json::to_vec(&same).expect("json");
    // Eight copies of one document, and eight different documents selling one code.
    let answers: Vec<(u16, Value)> = std::thread::scope(|sc| {
        let mut hs = Vec::new();
        for i in 0..16 {
            let bytes = if i % 2 == 0 {
                same.clone()
            } else {
                let mut v: Value = serde_json::from_slice(&body).expect("json");
                v["id"] = json!(uuid::Uuid::new_v4());
                v["codes"] = json!([id_code(&codes[1])]);
                serde_json::to_vec(&v).expect("json")
            };
            let r = &w.retailer;
            hs.push(sc.spawn(move || {
                let a = s.send(
                    Req::new("POST", "/api/v1/documents")
                        .header("content-type", "application/json")
                        .body(bytes)
                        .signed_by(r),
                );
                (a.status, a.json())
            }));
        }
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let copies: Vec<&(u16, Value)> = answers.iter().step_by(2).collect();
    assert!(
        copies.iter().all(|a| a.0 == 201 && a.1 == copies[0].1),
        "{copies:?}"
    );
    let sales: Vec<&(u16, Value)> = answers.iter().skip(1).step_by(2).collect();
    assert_eq!(sales.iter().filter(|a| a.0 == 201).count(), 1, "{sales:?}");
    for (st, v) in sales.iter().filter(|a| a.0 != 201) {
        assert_eq!(*st, 422, "{v}");
        assert_eq!(v["errors"][0]["reason"], "already_sold", "{v}");
    }
    assert_eq!(s.documents(), docs + 2);
    assert_eq!(w.card(&codes[0])["status"], "RETIRED");
    assert_eq!(
        w.card(&codes[1])["history"].as_array().map(Vec::len),
        Some(5)
    );
}
