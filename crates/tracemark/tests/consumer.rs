//! The consumer's side over real HTTP: complaints (limits, the regulator's reading), the
//! photo decoding endpoint and the printable label sheet.

use base64::Engine;
use client::gtin;
use serde_json::{json, Value};

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
        &client::id_code(&codes[0])[2..16],
        &client::id_code(&codes[0])[18..]
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
    assert_eq!(
        announced_status(&s, "/api/v1/complaints", 3 * 1024 * 1024 + 1),
        413,
        "refused on the announced length, before the body is read"
    );
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
        gs1::percent_encoded(&codes[0])
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
    assert_eq!(c["code"], client::id_code(&codes[0]));
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

/// A producer with `n` introduced codes (signature tails) of a fresh GTIN.
fn introduced(
    s: &support::Server,
    tin: &str,
    prefix: &str,
    n: u32,
) -> (client::Actor, Vec<String>) {
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            tin,
            "Shoe factory",
            &["producer"],
            "RU-MOW",
            &[prefix],
        )
        .expect("producer");
    let g = gtin(format!("{prefix}00001").parse().expect("digits"));
    s.product(&maker, &g, "Running shoe", "shoes");
    let codes = s.c.order_codes(&maker, &g, n, "signature").expect("codes");
    let ids: Vec<&str> = codes.iter().map(|c| client::id_code(c)).collect();
    for body in [
        json!({"type": "apply", "codes": ids}),
        json!({"type": "introduce", "codes": ids, "production_date": "2026-11-01"}),
    ] {
        s.c.document(&maker, body).expect("send").expect("accepted");
    }
    (maker, codes)
}

#[test]
fn a_photo_of_a_label_verifies_and_garbage_is_a_clear_4xx() {
    let s = start();
    let (_, codes) = introduced(&s, "7751000001", "4608888", 1);
    let send = |body: &[u8], ctype: &str| post_json(&s, "/api/v1/verify/image", body, ctype);
    // A Data Matrix label and a Digital Link QR of the same code both verify as genuine,
    // and the answer links to the code's page, tail included.
    let dm =
        labels::render::png(&labels::symbol::data_matrix(&codes[0]).expect("dm"), 6).expect("png");
    let (st, v, _) = send(&dm, "image/png");
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["verdict"].as_str(), v["scanned"]["symbology"].as_str()),
        (Some("genuine"), Some("datamatrix")),
        "{v}"
    );
    assert_eq!(v["production_date"], "2026-11-01");
    let link = v["scanned"]["link"].as_str().expect("link");
    assert!(link.starts_with("/01/") && link.contains("92="), "{link}");
    let r = s
        .http
        .get(format!("{}{link}", s.base))
        .header("accept", "application/json")
        .send()
        .expect("link");
    assert_eq!(
        r.json::<Value>().expect("json")["verdict"],
        "genuine",
        "the link carries the tail"
    );
    let qr = labels::render::png(
        &labels::symbol::digital_link_qr(&codes[0], "https://id.example").expect("qr"),
        6,
    )
    .expect("png");
    let (st, v, _) = send(&qr, "image/png");
    assert_eq!(
        (
            st,
            v["verdict"].as_str(),
            v["scanned"]["symbology"].as_str()
        ),
        (200, Some("genuine"), Some("qr")),
        "{v}"
    );
    // Garbage: each a 4xx problem that says what is wrong.
    let (st, v, _) = send(b"this is not an image", "image/png");
    assert!(st == 415 || st == 400, "{st} {v}");
    let (st, v, _) = send(&dm, "text/plain");
    assert_eq!(st, 415, "{v}");
    let mut blank = Vec::new();
    {
        // A clean white picture: an image, but no code in it.
        let mut e = png::Encoder::new(&mut blank, 200, 200);
        e.set_color(png::ColorType::Grayscale);
        let mut w = e.write_header().expect("header");
        w.write_image_data(&vec![255u8; 200 * 200]).expect("data");
    }
    let (st, v, _) = send(&blank, "image/png");
    assert_eq!(
        (st, v["errors"][0]["reason"].as_str()),
        (422, Some("no_code_found")),
        "{v}"
    );
    let mut strip = Vec::new();
    {
        // 13,000 × 1 pixels: a tiny file whose header asks for more than a photo's side.
        let mut e = png::Encoder::new(&mut strip, 13_000, 1);
        e.set_color(png::ColorType::Grayscale);
        e.set_depth(png::BitDepth::One);
        let mut w = e.write_header().expect("header");
        w.write_image_data(&vec![0u8; 13_000usize.div_ceil(8)])
            .expect("data");
    }
    let (st, v, _) = send(&strip, "image/png");
    assert_eq!(
        (st, v["errors"][0]["reason"].as_str()),
        (413, Some("image_too_many_pixels")),
        "{v}"
    );
    // One address sending frames faster than a camera page does is slowed down: 429.
    let refused = std::thread::scope(|sc| {
        let sends: Vec<_> = (0..20)
            .map(|_| sc.spawn(|| send(&blank, "image/png").0))
            .collect();
        sends.into_iter().any(|t| t.join().expect("send") == 429)
    });
    assert!(refused, "a flood of images from one address is refused");
    // 9 MiB announced: refused on the length, before a byte of the body is read.
    assert_eq!(announced_status(&s, "/api/v1/verify/image", 9 << 20), 413);
}

/// The status answered to a request head that announces `len` body bytes and sends none
/// (a client about to upload too much): the answer must come before the body.
fn announced_status(s: &support::Server, path: &str, len: usize) -> u16 {
    use std::io::{Read, Write};
    let mut tcp =
        std::net::TcpStream::connect(s.base.trim_start_matches("http://")).expect("connect");
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
    .expect("send");
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).expect("answer");
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn an_orders_label_sheet_is_a_pdf_for_its_owner_only() {
    let s = start();
    let maker =
        s.c.register_with_prefixes(
            &s.admin,
            "7752000001",
            "Maker",
            &["producer"],
            "RU-MOW",
            &["4609999"],
        )
        .expect("producer");
    let other =
        s.c.register(&s.admin, "7752000002", "Other", &["producer"], "RU-MOW")
            .expect("other");
    let g = gtin(460_999_900_001);
    s.product(&maker, &g, "Boots", "shoes");
    let (st, o) =
        s.c.post_signed(
            &maker,
            "/api/v1/orders",
            &json!({"gtin": g, "quantity": 45, "serial_type": "operator", "tail": "signature"}),
        )
        .expect("order");
    assert_eq!(st, 202, "{o}");
    let id = o["order_id"].as_str().expect("order id").to_string();
    let codes = loop {
        let (st, page) =
            s.c.get_signed(&maker, &format!("/api/v1/orders/{id}/codes?limit=100"))
                .expect("codes");
        if st == 200 && page["codes"].as_array().is_some_and(|c| c.len() == 45) {
            break page["codes"]
                .as_array()
                .expect("codes")
                .iter()
                .map(|c| c.as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The symbols hold the crypto tails: the sheet is read with a signed GET.
    let get = |who: Option<&client::Actor>, q: &str| {
        let path = format!("/api/v1/orders/{id}/labels{q}");
        let mut rq = s.http.get(format!("{}{path}", s.base));
        if let Some(a) = who {
            let (d, i, sg) = client::sign_request(a, "GET", &path, b"");
            rq = rq
                .bearer_auth(&a.token)
                .header("content-digest", d)
                .header("signature-input", i)
                .header("signature", sg);
        }
        rq.send().expect("labels")
    };
    assert_eq!(get(None, "").status().as_u16(), 401);
    let unsigned = s
        .http
        .get(format!("{}/api/v1/orders/{id}/labels", s.base))
        .bearer_auth(&maker.token)
        .send()
        .expect("labels");
    assert_eq!(
        unsigned.status().as_u16(),
        401,
        "a token alone reads no tail"
    );
    assert_eq!(
        get(Some(&other), "").status().as_u16(),
        404,
        "not the owner: as if absent"
    );
    assert_eq!(get(Some(&maker), "?limit=0").status().as_u16(), 400);
    assert_eq!(get(Some(&maker), "?limit=2001").status().as_u16(), 400);
    let first = get(Some(&maker), "?limit=40");
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(first.headers()["content-type"], "application/pdf");
    let next = first.headers()["link"].to_str().expect("link").to_string();
    assert!(
        next.contains("offset=40") && next.contains("rel=\"next\""),
        "{next}"
    );
    // The next part is numbered as a page of the whole order's sheet.
    let part = get(Some(&maker), "?offset=40")
        .bytes()
        .expect("part")
        .to_vec();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("part.pdf"), &part).expect("write");
    let text = std::process::Command::new("pdftotext")
        .arg(dir.path().join("part.pdf"))
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("page 2 of 2"), "{text}");
    let all = get(Some(&maker), "");
    assert_eq!(all.status().as_u16(), 200);
    assert!(all.headers().get("link").is_none(), "the whole order fits");
    let pdf = all.bytes().expect("pdf").to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    // An independent reader: poppler renders the pages, libdmtx reads the first label.
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let info = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (Debian poppler-utils; scripts/test installs it)");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 2")),
        "45 labels, 40 a page: {info}"
    );
    let st = std::process::Command::new("pdftoppm")
        .args(["-r", "300", "-gray", "-png", "-f", "1", "-l", "1"])
        .arg(&path)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm");
    assert!(st.success());
    let page = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .expect("a page image");
    let out = std::process::Command::new("dmtxread")
        .args(["-N", "1", "-m", "20000"])
        .arg(&page)
        .output()
        .expect("dmtxread (Debian dmtx-utils; scripts/test installs it)");
    let read = String::from_utf8_lossy(&out.stdout);
    assert!(
        codes.iter().any(|c| c == read.trim_end_matches('\n')),
        "libdmtx read {read:?}: not exactly one of the order's codes"
    );
}

/// A picture of tiled QR finder patterns (7 × 7 and a white module, repeated), `m` pixels a
/// module: a few KB of PNG that sends a barcode reader's finder search combinatorial.
fn finder_tiles(side: u32, m: u32) -> Vec<u8> {
    let pat: [[u8; 8]; 8] = [
        [1, 1, 1, 1, 1, 1, 1, 0],
        [1, 0, 0, 0, 0, 0, 1, 0],
        [1, 0, 1, 1, 1, 0, 1, 0],
        [1, 0, 1, 1, 1, 0, 1, 0],
        [1, 0, 1, 1, 1, 0, 1, 0],
        [1, 0, 0, 0, 0, 0, 1, 0],
        [1, 1, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ];
    let mut px = Vec::with_capacity((side * side) as usize);
    for y in 0..side {
        for x in 0..side {
            let dark = pat[((y / m) % 8) as usize][((x / m) % 8) as usize] == 1;
            px.push(if dark { 0 } else { 255 });
        }
    }
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, side, side);
        e.set_color(png::ColorType::Grayscale);
        e.set_compression(png::Compression::High);
        let mut w = e.write_header().expect("header");
        w.write_image_data(&px).expect("data");
    }
    out
}

#[test]
fn a_pathological_picture_costs_at_most_the_decoders_limit() {
    let s = start();
    let evil = finder_tiles(1024, 1);
    assert!(
        evil.len() < 16 * 1024,
        "a small upload: {} bytes",
        evil.len()
    );
    let t = std::time::Instant::now();
    let (st, v) = std::thread::scope(|sc| {
        let slow: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(|| {
                    let (st, v, _) = post_json(&s, "/api/v1/verify/image", &evil, "image/png");
                    (st, v)
                })
            })
            .collect();
        // Meanwhile the registry answers as usual (decoders are niced child processes),
        // and the same address gets no third decoder. Both run first (waited for, as
        // child processes of this test's server, not slept for).
        let seen = std::time::Instant::now();
        while decoders_running() < 2 {
            assert!(
                seen.elapsed() < std::time::Duration::from_secs(30),
                "the two decoders never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let h = std::time::Instant::now();
        let (st, _) = s.c.get(None, "/health").expect("health");
        assert_eq!(st, 200);
        assert!(
            h.elapsed() < std::time::Duration::from_secs(1),
            "/health took {:?}",
            h.elapsed()
        );
        let (st, _, _) = post_json(&s, "/api/v1/verify/image", &evil, "image/png");
        assert_eq!(st, 429, "two images at a time from one address");
        let mut answers: Vec<_> = slow.into_iter().map(|t| t.join().expect("slow")).collect();
        answers.pop().expect("an answer")
    });
    let took = t.elapsed();
    assert_eq!(st, 422, "{v}");
    let reason = v["errors"][0]["reason"].as_str().unwrap_or("");
    assert!(["decode_timeout", "no_code_found"].contains(&reason), "{v}");
    assert!(
        took < std::time::Duration::from_secs(8),
        "the decode was not cut at its limit: {took:?}"
    );
    println!("pathological picture: {reason} after {took:?}");
}

#[test]
fn one_address_attaches_only_a_few_photos_an_hour() {
    let s = start();
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nrest");
    let with_photo = |n: u32| {
        json!({"kind": "counterfeit", "text": format!("photo {n}"),
               "photo": {"type": "image/png", "data": png}})
        .to_string()
    };
    // Two at once (the burst), then 429 naming the photo quota …
    for n in 0..2 {
        let (st, v, _) = post_json(
            &s,
            "/api/v1/complaints",
            with_photo(n).as_bytes(),
            "application/json",
        );
        assert_eq!(st, 201, "{v}");
    }
    let (st, v, h) = post_json(
        &s,
        "/api/v1/complaints",
        with_photo(2).as_bytes(),
        "application/json",
    );
    assert_eq!(st, 429, "{v}");
    assert!(v["detail"].as_str().unwrap_or("").contains("photos"), "{v}");
    assert!(h.contains_key("retry-after"));
    // … which costs the shopper nothing of their own quota: a complaint without a photo
    // still lands.
    let (st, v, _) = post_json(
        &s,
        "/api/v1/complaints",
        json!({"kind": "counterfeit", "text": "no photo this time"})
            .to_string()
            .as_bytes(),
        "application/json",
    );
    assert_eq!(st, 201, "{v}");
}

/// Decoder processes running now: this process's children that run the `tracemark`
/// binary (the in-process server starts one per picture it decodes).
fn decoders_running() -> usize {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid …: comm may hold spaces, so split after its ')'.
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            head.ends_with("(tracemark") && rest.split(' ').nth(1) == Some(me.as_str())
        })
        .count()
}
