//! Issue 14, findings 2 and 13, replayed over real HTTP against a served registry.
//!
//! 2. A regulator's bearer token alone (no key, no signature) read the crypto tail of every
//!    applied code: a code's history names its `apply` document, and
//!    `GET /api/v1/documents/{id}` answered the body with up to 30,000 full codes, each of
//!    which then verified `genuine`. Now tails go only to a document's author (and a
//!    shipment's receiver) in a signed request; everyone else reads identification codes;
//!    an order's codes and labels need a signed GET; a log leaf that holds tails is its
//!    author's alone.
//! 13. An importer registered a foreign brand's GTIN (a prefix nobody held) and the brand
//!     owner was locked out for good. Now a prefix granted moves the cards within it to its
//!     holder, the operator can move a card, and every move is a log leaf.
//!
//! Run: `cargo test -p tracemark --test trust_tails`. Each test prints its figures.

mod support;

use base64::Engine as _;
use client::{gtin, id_code, Actor};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The attack's size: an `apply` document of 30,000 full codes (the document limit).
const APPLIED: u32 = 30_000;

/// How long a test waits for the registry (an order's emission on a busy machine).
const WAIT: Duration = Duration::from_secs(300);

/// Whether JSON text holds a crypto tail: AI 91, 92 or 93 after a GS (`\u001d` in JSON).
fn holds_tail(text: &str) -> bool {
    [
        "\\u001d91",
        "\\u001d92",
        "\\u001d93",
        "\u{1d}91",
        "\u{1d}92",
        "\u{1d}93",
    ]
    .iter()
    .any(|t| text.contains(t))
}

/// The strings of a JSON array.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect()
}

fn doc(s: &support::Server, a: &Actor, body: Value) -> String {
    let r = s.c.document(a, body).expect("send");
    let v = r.unwrap_or_else(|(st, v)| panic!("document refused: {st} {v}"));
    v["id"].as_str().expect("id").to_string()
}

/// A GET with the bearer token and a signature made for `signed_path` (another path: a
/// signature that does not cover this request).
fn get_signed_for(s: &support::Server, a: &Actor, path: &str, signed_path: &str) -> (u16, Value) {
    let (d, i, sg) = client::sign_request(a, "GET", signed_path, b"");
    let r = s
        .http
        .get(format!("{}{path}", s.base))
        .bearer_auth(&a.token)
        .header("content-digest", d)
        .header("signature-input", i)
        .header("signature", sg)
        .send()
        .expect("send");
    let st = r.status().as_u16();
    (st, r.json().unwrap_or(Value::Null))
}

fn verdict(s: &support::Server, code: &str) -> String {
    let r = s
        .http
        .get(format!("{}/api/v1/verify", s.base))
        .query(&[("code", code)])
        .send()
        .expect("verify");
    assert_eq!(r.status().as_u16(), 200, "verify {code:?}");
    r.json::<Value>().expect("json")["verdict"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Orders `n` codes and waits until they are ready: the order's id.
fn order(s: &support::Server, a: &Actor, g: &str, n: u32) -> String {
    let (st, o) =
        s.c.post_signed(
            a,
            "/api/v1/orders",
            &json!({"gtin": g, "quantity": n, "serial_type": "operator", "tail": "mac"}),
        )
        .expect("order");
    assert_eq!(st, 202, "order: {o}");
    let id = o["order_id"].as_str().expect("order id").to_string();
    let start = Instant::now();
    loop {
        let (_, o) =
            s.c.get(Some(a), &format!("/api/v1/orders/{id}"))
                .expect("order");
        if o["status"] == "ready" {
            return id;
        }
        assert!(start.elapsed() < WAIT, "order {id} not ready: {o}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log's leaf `index` read by `who` (a participant's token, or the admin token).
fn leaf(s: &support::Server, token: &str, index: u64) -> (u16, Vec<u8>) {
    let r = s
        .http
        .get(format!("{}/api/v1/log/entries/{index}", s.base))
        .bearer_auth(token)
        .send()
        .expect("leaf");
    (r.status().as_u16(), r.bytes().expect("bytes").to_vec())
}

fn log_size(s: &support::Server) -> u64 {
    let note = s
        .http
        .get(format!("{}/api/v1/log/checkpoint", s.base))
        .send()
        .expect("checkpoint")
        .text()
        .expect("text");
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("size line")
}

#[test]
fn tails_only_for_their_holder_in_a_signed_request() {
    let s = support::start();
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            "7790000001",
            "Boot factory",
            &["producer"],
            "RU-MOW",
            &["4607001"],
        )
        .expect("maker");
    let wholesale =
        s.c.register(
            &s.admin,
            "7790000002",
            "Wholesale",
            &["wholesaler"],
            "RU-MOS",
        )
        .expect("wholesale");
    let inspector =
        s.c.register(
            &s.admin,
            "7790000003",
            "Inspector",
            &["regulator"],
            "RU-MOW",
        )
        .expect("inspector");
    let other_inspector =
        s.c.register(
            &s.admin,
            "7790000004",
            "Second inspector",
            &["regulator"],
            "RU-SPE",
        )
        .expect("inspector 2");
    let g = gtin(460_700_100_001);
    s.product(&maker, &g, "Boots", "shoes");

    // The attack's document: 30,000 full codes applied, plus short and signature tails.
    let t = Instant::now();
    let full = s.c.order_codes(&maker, &g, APPLIED, "mac").expect("codes");
    assert_eq!(full.len(), APPLIED as usize);
    assert!(full.iter().all(|c| holds_tail(c)), "codes come with tails");
    let mut others = s.c.order_codes(&maker, &g, 2, "short").expect("short");
    others.extend(s.c.order_codes(&maker, &g, 2, "signature").expect("sig"));
    eprintln!(
        "finding 2: {} codes ordered and fetched with signed GETs in {:.1} s",
        full.len() + others.len(),
        t.elapsed().as_secs_f64()
    );
    let apply = doc(&s, &maker, json!({"type": "apply", "codes": full}));
    let apply_small = doc(&s, &maker, json!({"type": "apply", "codes": others}));
    let intro: Vec<String> = full[..4].iter().map(|c| id_code(c).to_string()).collect();
    doc(
        &s,
        &maker,
        json!({"type": "introduce", "codes": intro, "production_date": "2026-01-01"}),
    );

    // The regulator's token alone: every code by its identification code.
    let path = format!("/api/v1/documents/{apply}");
    let t = Instant::now();
    let (st, d) = s.c.get(Some(&inspector), &path).expect("get");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let apply_index = d["log_index"].as_u64().expect("log index");
    assert_eq!(st, 200, "{d}");
    let codes = strings(&d["body"]["codes"]);
    let tails = codes.iter().filter(|c| holds_tail(c)).count();
    eprintln!(
        "finding 2: regulator's token reads the {}-code apply document: {tails} tails, \
         redacted={} redacted_codes={} ({ms:.0} ms)",
        codes.len(),
        d["redacted"],
        d["redacted_codes"]
    );
    assert_eq!(codes.len(), APPLIED as usize);
    assert_eq!(tails, 0);
    assert!(
        !holds_tail(&d.to_string()),
        "no tail anywhere in the answer"
    );
    assert!(codes
        .iter()
        .zip(&full)
        .all(|(shown, issued)| shown == id_code(issued)));
    assert_eq!(d["redacted"], true);
    assert_eq!(d["redacted_codes"], APPLIED);
    assert!(
        d.get("body_base64").is_none() && d.get("signature").is_none(),
        "{d:.300}"
    );
    assert!(d["redaction"]
        .as_str()
        .is_some_and(|w| w.contains("author")));
    // Short (AI 93) and signature tails go too.
    let (_, d2) =
        s.c.get(
            Some(&inspector),
            &format!("/api/v1/documents/{apply_small}"),
        )
        .expect("get");
    assert_eq!(d2["redacted_codes"], 4, "{d2}");
    assert!(!holds_tail(&d2.to_string()), "{d2}");
    // Signed, the regulator still reads no tail: they are not the holder's.
    let (st, d) = s.c.get_signed(&inspector, &path).expect("get");
    assert_eq!((st, &d["redacted"]), (200, &json!(true)));
    assert!(!holds_tail(&d.to_string()));
    // The author with its token alone: redacted too, told to sign.
    let (st, d) = s.c.get(Some(&maker), &path).expect("get");
    assert_eq!((st, &d["redacted"]), (200, &json!(true)));
    assert!(
        d["redaction"].as_str().is_some_and(|w| w.contains("sign")),
        "{d:.300}"
    );
    // The author, signed: the legal record, tails and exact bytes.
    let (st, d) = s.c.get_signed(&maker, &path).expect("get");
    assert_eq!((st, &d["redacted"]), (200, &json!(false)));
    assert_eq!(strings(&d["body"]["codes"]), full);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(d["body_base64"].as_str().expect("body_base64"))
        .expect("base64");
    assert_eq!(
        serde_json::from_slice::<Value>(&raw).expect("json"),
        d["body"]
    );
    assert!(d["signature"].is_string());
    // A signature that does not cover this request is refused, not ignored.
    let (st, p) = get_signed_for(&s, &maker, &path, "/api/v1/documents");
    assert_eq!(st, 401, "{p}");
    assert_eq!(p["type"], "/problems/bad-signature");

    // What the leaked tail was worth: a redacted code is a printed number, not proof.
    let shown = id_code(&full[0]).to_string();
    assert_eq!(verdict(&s, &shown), "unverified");
    assert_eq!(verdict(&s, &full[0]), "genuine");
    eprintln!("finding 2: verify of a redacted code: unverified; of the full code: genuine");

    // A shipment's receiver reads the tails its sender wrote, when signed.
    let ship = doc(
        &s,
        &maker,
        json!({"type": "ship", "receiver": wholesale.tin, "codes": [full[1], full[2]]}),
    );
    let ship_path = format!("/api/v1/documents/{ship}");
    let (st, d) = s.c.get_signed(&wholesale, &ship_path).expect("get");
    assert_eq!((st, &d["redacted"]), (200, &json!(false)), "{d}");
    assert_eq!(
        strings(&d["body"]["codes"]),
        vec![full[1].clone(), full[2].clone()]
    );
    let (_, d) = s.c.get(Some(&wholesale), &ship_path).expect("get");
    assert_eq!(d["redacted"], true);
    let (_, d) = s.c.get(Some(&inspector), &ship_path).expect("get");
    assert!(d["redacted"] == true && !holds_tail(&d.to_string()), "{d}");
    eprintln!(
        "finding 2: the receiver's signed read of a shipment: tails; unsigned or a regulator: none"
    );

    // An order's codes and label sheet: a signed GET, or 401.
    let oid = order(&s, &maker, &g, 3);
    let codes_path = format!("/api/v1/orders/{oid}/codes");
    let (st, p) = s.c.get(Some(&maker), &codes_path).expect("get");
    assert_eq!(st, 401, "{p}");
    assert_eq!(p["type"], "/problems/bad-signature");
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("sign")),
        "{p}"
    );
    let (st, page) = s.c.get_signed(&maker, &codes_path).expect("get");
    assert_eq!(st, 200, "{page}");
    let page = strings(&page["codes"]);
    assert!(
        page.len() == 3 && page.iter().all(|c| holds_tail(c)),
        "{page:?}"
    );
    let (st, _) = s.c.get_signed(&inspector, &codes_path).expect("get");
    assert_eq!(st, 404, "another participant's order is not there");
    let labels = s
        .http
        .get(format!("{}/api/v1/orders/{oid}/labels", s.base))
        .bearer_auth(&maker.token)
        .send()
        .expect("labels");
    assert_eq!(
        labels.status().as_u16(),
        401,
        "the label sheet holds the tails"
    );
    eprintln!("finding 2: GET an order's codes with the token alone: {st_unsigned}; signed: 200 with tails", st_unsigned = 401);

    // Other reads a regulator makes name codes without tails.
    let (st, card) =
        s.c.get(
            Some(&inspector),
            &format!("/api/v1/codes/{}", id_code(&full[0])),
        )
        .expect("code");
    assert_eq!(st, 200, "{card}");
    assert!(
        card["history"].to_string().contains(&apply),
        "the history names the document"
    );
    assert!(!holds_tail(&card.to_string()), "{card}");
    let (st, q) =
        s.c.post(
            &inspector,
            "/api/v1/codes/query",
            &json!({"codes": [full[0], full[5]]}),
        )
        .expect("query");
    assert_eq!(st, 200, "{q}");
    assert!(!holds_tail(&q.to_string()), "{q}");

    // A shop sells a code it never received, full code and all: refused, and the alert the
    // regulator reads names the code without its tail.
    let shop =
        s.c.register(&s.admin, "7790000005", "Grey shop", &["retailer"], "RU-MOW")
            .expect("shop");
    let at = types::time::format_timestamp(registry::system_clock()());
    let sale = json!({"type": "sell", "codes": [full[10]], "receipt": {
        "fiscal_drive": "9999078900012345", "number": 1, "at": at, "store": "Grey 1"}});
    let r = s.c.document(&shop, sale).expect("send");
    assert!(
        r.is_err(),
        "a sale of goods the shop never received is refused"
    );
    let start = Instant::now();
    let alert = loop {
        let (st, v) = s.c.get(Some(&inspector), "/api/v1/alerts").expect("alerts");
        assert_eq!(st, 200, "{v}");
        let hit = v["alerts"].as_array().into_iter().flatten().find(|a| {
            a["evidence"]["codes"]
                .to_string()
                .contains(id_code(&full[10]))
        });
        if let Some(a) = hit {
            break a.clone();
        }
        assert!(start.elapsed() < WAIT, "no alert for the grey sale: {v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!holds_tail(&alert.to_string()), "{alert}");
    eprintln!(
        "finding 2: the {} alert's evidence names the code without its tail",
        alert["kind"]
    );

    // The log: a document's leaf names its body by hash only.
    let (st, bytes) = leaf(&s, &inspector.token, apply_index);
    assert_eq!(st, 200);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("body_blake3") && !holds_tail(&text), "{text}");
    // But a hash of a body with one or two short tails (24 bits each) gives them away to a
    // search (the redacted body is every other byte): that leaf is its author's alone.
    let small_index = d2["log_index"].as_u64().expect("log index");
    let (st, p) = leaf(&s, &inspector.token, small_index);
    assert_eq!(st, 403, "{}", String::from_utf8_lossy(&p));
    assert_eq!(leaf(&s, &maker.token, small_index).0, 200);
    // A block naming a code as scanned (tail and all) keeps it in its signed request: the
    // leaf is its author's alone.
    let (st, b) =
        s.c.post_signed(
            &inspector,
            "/api/v1/blocks",
            &json!({"codes": [full[3]], "reason": "seized at the border"}),
        )
        .expect("block");
    assert_eq!(st, 201, "{b}");
    let size = log_size(&s);
    let block_leaf = (size.saturating_sub(8)..size)
        .rev()
        .find(|i| {
            let (_, b) = leaf(&s, &s.admin, *i);
            types::log::decode(&b).is_some_and(|l| l.kind == types::log::LeafKind::Block)
        })
        .expect("the block's leaf");
    let (st, p) = leaf(&s, &other_inspector.token, block_leaf);
    assert_eq!(st, 403, "{}", String::from_utf8_lossy(&p));
    let (st, own) = leaf(&s, &inspector.token, block_leaf);
    assert_eq!(st, 200);
    assert!(types::log::holds_tails(
        &types::log::decode(&own).expect("leaf")
    ));
    assert_eq!(
        leaf(&s, &s.admin, block_leaf).0,
        200,
        "the operator reads every leaf"
    );
    eprintln!(
        "finding 2: a block leaf holding a tail: another regulator 403, its author 200; a \
         document leaf: BLAKE3 of the body, no tail (a body with 1-2 short tails: 403)"
    );
}

/// Registers a participant with the admin token and answers what the registry said, with
/// the participant signed in.
fn register_raw(
    s: &support::Server,
    tin: &str,
    roles: &[&str],
    prefixes: &[&str],
) -> (Value, Actor) {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let r = s
        .http
        .post(format!("{}/api/v1/participants", s.base))
        .bearer_auth(&s.admin)
        .json(&json!({
            "tin": tin, "name": format!("Participant {tin}"), "roles": roles, "region": "RU-MOW",
            "public_key": base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
            "gs1_prefixes": prefixes,
        }))
        .send()
        .expect("register");
    assert_eq!(r.status().as_u16(), 201, "register {tin}");
    let v: Value = r.json().expect("json");
    (v, s.c.sign_in(tin, key).expect("sign in"))
}

/// Units of `g` sold in `who`'s analytics once they equal `want` (`None`: once the GTIN is
/// absent), waiting for the projection to catch up; what was last seen otherwise.
fn sales_of(s: &support::Server, who: &Actor, g: &str, want: Option<u64>) -> Option<u64> {
    let start = Instant::now();
    loop {
        let (st, v) =
            s.c.get(Some(who), "/api/v1/analytics/sales?group_by=gtin")
                .expect("analytics");
        assert_eq!(st, 200, "{v}");
        let units = v["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["key"] == g)
            .and_then(|r| r["units"].as_u64());
        if units == want || start.elapsed() > WAIT {
            return units;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn order_status(s: &support::Server, a: &Actor, g: &str) -> u16 {
    s.c.post_signed(
        a,
        "/api/v1/orders",
        &json!({"gtin": g, "quantity": 1, "serial_type": "operator", "tail": "mac"}),
    )
    .expect("order")
    .0
}

fn transfer(s: &support::Server, token: Option<&str>, g: &str, body: &Value) -> (u16, Value) {
    let mut rq = s
        .http
        .post(format!("{}/api/v1/products/{g}/transfer", s.base))
        .json(body);
    if let Some(t) = token {
        rq = rq.bearer_auth(t);
    }
    let r = rq.send().expect("transfer");
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// The leaf at `index` is a card's move to `to` with this GTIN.
fn assert_move_leaf(s: &support::Server, index: u64, g: &str, to: &str) {
    let (st, b) = leaf(s, &s.admin, index);
    assert_eq!(st, 200);
    let l = types::log::decode(&b).expect("a leaf");
    assert_eq!(l.kind, types::log::LeafKind::ProductTransfer, "{:?}", l);
    assert_eq!(
        (l.payload["gtin"].as_str(), l.payload["to_tin"].as_str()),
        (Some(g), Some(to))
    );
}

#[test]
fn a_squatted_gtin_goes_to_its_prefix_holder_and_the_operator_settles_cards() {
    let s = support::start();
    let (_, importer) = register_raw(&s, "7791000001", &["importer"], &[]);
    // The squat: a brand's GTIN registered while nobody held its prefix; codes ordered.
    let g = gtin(461_999_900_001);
    s.product(&importer, &g, "Famous trainers", "shoes");
    let before = s.c.order_codes(&importer, &g, 2, "mac").expect("codes");
    // The squatter's goods are imported and one is sold: as the card's owner, it sees that
    // sale in its analytics.
    let (_, shop1) = register_raw(&s, "7791000006", &["retailer"], &[]);
    let ids: Vec<String> = before.iter().map(|c| id_code(c).to_string()).collect();
    doc(&s, &importer, json!({"type": "apply", "codes": ids}));
    doc(
        &s,
        &importer,
        json!({"type": "import", "codes": ids, "customs_declaration": "10702010/251126/0000001"}),
    );
    let ship = doc(
        &s,
        &importer,
        json!({"type": "ship", "receiver": shop1.tin, "codes": [ids[0]]}),
    );
    doc(&s, &shop1, json!({"type": "accept", "shipment": ship}));
    let at = types::time::format_timestamp(registry::system_clock()());
    doc(
        &s,
        &shop1,
        json!({"type": "sell", "codes": [ids[0]], "receipt": {
            "fiscal_drive": "9999078900012345", "number": 7, "at": at, "store": "Shop 1"}}),
    );
    assert_eq!(sales_of(&s, &importer, &g, Some(1)), Some(1));

    // The brand joins with its prefix (the operator checked it with GS1): the card is its.
    let t = Instant::now();
    let (answer, brand) = register_raw(&s, "7791000002", &["producer"], &["4619999"]);
    let moved = answer["cards_moved"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    eprintln!(
        "finding 13: brand registered with prefix 4619999: {} card(s) moved to it in {:.0} ms: {answer}",
        moved.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(moved.len(), 1, "{answer}");
    assert_eq!(
        (moved[0]["gtin"].as_str(), moved[0]["from"].as_str()),
        (Some(g.as_str()), Some("7791000001"))
    );
    assert_move_leaf(
        &s,
        moved[0]["log_index"].as_u64().expect("log index"),
        &g,
        &brand.tin,
    );
    // The card owner's view of the GTIN's sales moved with the card.
    assert_eq!(sales_of(&s, &brand, &g, Some(1)), Some(1));
    assert_eq!(sales_of(&s, &importer, &g, None), None);
    eprintln!(
        "finding 13: the sale of the GTIN is in the brand's analytics now, not the importer's"
    );
    assert_eq!(
        order_status(&s, &brand, &g),
        202,
        "the brand orders its codes"
    );
    assert_eq!(
        order_status(&s, &importer, &g),
        403,
        "the squatter no longer does"
    );
    let card = json!({"gtin": g, "name": "Famous trainers, genuine", "product_group": "shoes"});
    assert_eq!(
        s.c.post_signed(&importer, "/api/v1/products", &card)
            .expect("card")
            .0,
        403
    );
    assert_eq!(
        s.c.post_signed(&brand, "/api/v1/products", &card)
            .expect("card")
            .0,
        201
    );
    // Codes already issued stay with their holder, history and all.
    let (st, c) =
        s.c.get(
            Some(&importer),
            &format!("/api/v1/codes/{}", id_code(&before[1])),
        )
        .expect("code");
    assert_eq!((st, c["owner"].as_str()), (200, Some("7791000001")), "{c}");
    assert_eq!(c["producer"], "7791000001", "{c}");
    assert_eq!(c["history"].as_array().map(Vec::len), Some(2), "{c}");

    // A prefix added to a registered participant claims the same way.
    let g2 = gtin(461_888_800_001);
    s.product(&importer, &g2, "Other trainers", "shoes");
    let (_, brand2) = register_raw(&s, "7791000003", &["producer"], &[]);
    let r = s
        .http
        .post(format!(
            "{}/api/v1/participants/{}/prefixes",
            s.base, brand2.tin
        ))
        .bearer_auth(&s.admin)
        .json(&json!({"gs1_prefixes": ["4618888"]}))
        .send()
        .expect("prefixes");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().expect("json");
    assert_eq!(v["cards_moved"][0]["gtin"], g2, "{v}");
    assert_move_leaf(
        &s,
        v["cards_moved"][0]["log_index"].as_u64().expect("index"),
        &g2,
        &brand2.tin,
    );
    assert_eq!(order_status(&s, &brand2, &g2), 202);
    eprintln!("finding 13: prefix 4618888 added to a registered brand: its card moved, logged");

    // The operator settles a card outside any held prefix.
    let (_, importer2) = register_raw(&s, "7791000004", &["importer"], &[]);
    let (_, shop) = register_raw(&s, "7791000005", &["retailer"], &[]);
    let g3 = gtin(490_000_000_777);
    s.product(&importer2, &g3, "Imported boots", "shoes");
    let body = json!({"to": importer.tin, "reason": "exclusive distributor since 2026-12-01"});
    assert_eq!(transfer(&s, None, &g3, &body).0, 401, "anonymous");
    assert_eq!(
        transfer(&s, Some(&importer.token), &g3, &body).0,
        403,
        "a participant"
    );
    let (st, m) = transfer(&s, Some(&s.admin), &g3, &body);
    assert_eq!(st, 200, "{m}");
    assert_eq!(
        (m["from"].as_str(), m["to"].as_str()),
        (Some("7791000004"), Some("7791000001"))
    );
    assert_move_leaf(
        &s,
        m["log_index"].as_u64().expect("index"),
        &g3,
        &importer.tin,
    );
    assert_eq!(order_status(&s, &importer, &g3), 202);
    assert_eq!(order_status(&s, &importer2, &g3), 403);
    // Refusals: a card within a held prefix stays with its holder; a shop holds no cards;
    // the card's holder already; no such card; no reason.
    let to = |tin: &str| json!({"to": tin, "reason": "settlement"});
    let (st, p) = transfer(&s, Some(&s.admin), &g, &to(&importer.tin));
    assert_eq!(st, 409, "{p}");
    assert_eq!(transfer(&s, Some(&s.admin), &g3, &to(&shop.tin)).0, 422);
    assert_eq!(transfer(&s, Some(&s.admin), &g3, &to(&importer.tin)).0, 409);
    assert_eq!(
        transfer(
            &s,
            Some(&s.admin),
            &gtin(490_000_000_999),
            &to(&importer.tin)
        )
        .0,
        404
    );
    assert_eq!(
        transfer(
            &s,
            Some(&s.admin),
            &g3,
            &json!({"to": importer2.tin, "reason": " "})
        )
        .0,
        422
    );
    eprintln!(
        "finding 13: operator transfer: 200 and a product_transfer leaf; anonymous 401, a \
         participant 403, into a held prefix 409"
    );
}
