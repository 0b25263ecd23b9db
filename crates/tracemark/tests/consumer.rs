//! The consumer's side over real HTTP: complaints (limits, the regulator's reading), the
//! photo decoding endpoint and the printable label sheet.

use base64::Engine;
use serde_json::{json, Value};
use tracemark::client::gtin;

mod support;
use support::start;

fn post_json(
    s: &support::Server,
    path: &str,
    body: &[u8],
    ctype: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = s
        .http
        .post(format!("{}{path}", s.base))
        .header("content-type", ctype)
        .body(body.to_vec())
        .send()
        .expect("send");
    let st = r.status().as_u16();
    let h = r.headers().clone();
    (st, r.json().unwrap_or(Value::Null), h)
}

#[test]
fn complaints_land_with_the_regulator_and_cannot_flood() {
    let s = start();
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            "7750000001",
            "Dairy",
            &["producer"],
            "RU-MOW",
            &["4607777"],
        )
        .expect("producer");
    let shop =
        s.c.register(&s.admin, "7750000002", "Shop", &["retailer"], "RU-MOW")
            .expect("shop");
    let inspector =
        s.c.register(
            &s.admin,
            "7750000003",
            "Inspector",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_777_700_001);
    s.product(&maker, &g, "Milk 3.2%", "milk");
    let codes = s.c.order_codes(&maker, &g, 2, "signature").expect("codes");
    let dl = format!(
        "https://id.example/01/{}/21/{}",
        &tracemark::client::id_code(&codes[0])[2..16],
        &tracemark::client::id_code(&codes[0])[18..]
    );
    // A shopper's complaint with a photo and a shared place: 201, its id, where to read it.
    let png = b"\x89PNG\r\n\x1a\nnot really the rest of a png".to_vec();
    let body = json!({
        "code": dl, "kind": "counterfeit", "text": "Label peels off, print is blurry",
        "shop": "Kiosk at the station",
        "location": {"lat": 55.7558, "lon": 37.6173, "accuracy_m": 35.0},
        "photo": {"type": "image/png", "data": base64::engine::general_purpose::STANDARD.encode(&png)},
    });
    let (st, v, h) = post_json(
        &s,
        "/api/v1/complaints",
        body.to_string().as_bytes(),
        "application/json",
    );
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(h["location"], format!("/api/v1/complaints/{id}").as_str());
    // Garbage is a 400 naming the fault, and a body over 3 MiB is refused before it is read.
    let (st, v, _) = post_json(&s, "/api/v1/complaints", b"{not json", "application/json");
    assert_eq!((st, v["status"].as_u64()), (400, Some(400)), "{v}");
    let (st, v, _) = post_json(
        &s,
        "/api/v1/complaints",
        json!({"kind": "counterfeit", "text": "x", "photo": {"type": "image/gif", "data": "R0lGODlh"}}).to_string().as_bytes(),
        "application/json",
    );
    assert_eq!(st, 400, "{v}");
    assert!(v["detail"].as_str().unwrap_or("").contains("JPEG"), "{v}");
    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let (st, v, _) = post_json(&s, "/api/v1/complaints", &big, "application/json");
    assert_eq!(st, 413, "{v}");
    let (st, _, _) = post_json(
        &s,
        "/api/v1/complaints",
        b"kind=x",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(st, 415);
    // Only a regulator reads them: nobody signed in gets 401, a shop 403.
    let (st, _) = s.c.get(None, "/api/v1/complaints").expect("get");
    assert_eq!(st, 401);
    let (st, _) = s.c.get(Some(&shop), "/api/v1/complaints").expect("get");
    assert_eq!(st, 403);
    let q = format!(
        "/api/v1/complaints?code={}&kind=counterfeit",
        urlencode(&codes[0])
    );
    let (st, page) = s.c.get(Some(&inspector), &q).expect("get");
    assert_eq!(st, 200, "{page}");
    let list = page["complaints"].as_array().expect("complaints");
    assert_eq!(list.len(), 1, "{page}");
    let c = &list[0];
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["text"], "Label peels off, print is blurry");
    assert_eq!(
        c["verdict"], "not_in_circulation",
        "emitted, never introduced: {c}"
    );
    assert_eq!(c["code"], tracemark::client::id_code(&codes[0]));
    assert_eq!(c["location"]["lat"], 55.7558);
    assert_eq!(c["has_photo"], true);
    assert!(
        c["received_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{c}"
    );
    let (st, other) =
        s.c.get(Some(&inspector), "/api/v1/complaints?kind=price")
            .expect("get");
    assert_eq!(
        (st, other["complaints"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (st, bad) =
        s.c.get(Some(&inspector), "/api/v1/complaints?from=yesterday")
            .expect("get");
    assert_eq!(st, 400, "{bad}");
    let photo = s
        .http
        .get(format!("{}/api/v1/complaints/{id}/photo", s.base))
        .bearer_auth(&inspector.token)
        .send()
        .expect("photo");
    assert_eq!(photo.status().as_u16(), 200);
    assert_eq!(photo.headers()["content-type"], "image/png");
    assert_eq!(photo.bytes().expect("bytes").to_vec(), png);
    // One address cannot flood: after a burst of five complaints (the refused one above
    // counted too), 429 with a Retry-After, and nothing more is stored.
    let mut refused_at = None;
    for n in 0..10 {
        let (st, _, h) = post_json(
            &s,
            "/api/v1/complaints",
            json!({"kind": "other", "text": format!("spam {n}")})
                .to_string()
                .as_bytes(),
            "application/json",
        );
        if st == 429 {
            assert!(h.contains_key("retry-after"));
            refused_at = Some(n);
            break;
        }
        assert_eq!(st, 201);
    }
    let n = refused_at.expect("a flood is refused");
    assert!(n <= 3, "refused after {n} more");
    let (_, all) =
        s.c.get(Some(&inspector), "/api/v1/complaints?limit=1000")
            .expect("get");
    assert_eq!(
        all["complaints"].as_array().map(Vec::len),
        Some(1 + n),
        "{all}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
