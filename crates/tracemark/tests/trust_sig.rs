//! Issue 14, the "sig" slice: signatures as RFC 9421/9530/8941 allow them (from a signer
//! written here, independent of the registry's own `httpsig`, and from Python's
//! `http-message-signatures`), `--public-url` (a request signed for one deployment is
//! refused by another), stateless sign-in challenges (findings 4 and 5), JSON content type
//! only (finding 8), nonces kept across a restart whatever the outcome (finding 9), and
//! one key, one participant (finding 14).
//!
//! Each test replays the attack and prints its figure (`eprintln!`, shown with
//! `--nocapture`).

mod support;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use client::{gtin, Actor, Client};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::Server;

/// The admin token of the servers this file starts as child processes.
const ADMIN: &str = "trust-sig-admin-token";
/// Longest wait for a started `tracemark serve` to answer `/health` (a busy machine).
const START_WAIT: Duration = Duration::from_secs(120);

/// One registry for the tests that need no restart, with a producer and a regulator.
struct World {
    s: Server,
    producer: Actor,
    regulator: Actor,
    retailer: Actor,
    gtin: String,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let s = support::start();
        let producer =
            s.c.register_with_prefixes(
                &s.admin,
                "7790000001",
                "Interop Maker",
                &["producer"],
                "RU-MOW",
                &["4609991"],
            )
            .expect("producer");
        let regulator =
            s.c.register(
                &s.admin,
                "7790000002",
                "Inspectorate",
                &["regulator"],
                "RU-MOW",
            )
            .expect("regulator");
        let retailer =
            s.c.register(&s.admin, "7790000003", "Till", &["retailer"], "RU-MOW")
                .expect("retailer");
        let gtin = gtin(460_999_100_001);
        s.product(&producer, &gtin, "Boots", "shoes");
        World {
            s,
            producer,
            regulator,
            retailer,
            gtin,
        }
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn fresh_nonce() -> String {
    format!("{}", uuid::Uuid::new_v4().simple())
}

/// How a test-side signer varies a request (each is something RFC 9421, 9530 or 8941
/// allows).
#[derive(Clone, Default)]
struct Variant {
    /// Covered components in order (the base is built for them here, by hand).
    components: Vec<&'static str>,
    /// Parameters after the inner list, as the header carries them (`;` + these), and as
    /// they are serialized canonically in the base.
    params_header: String,
    params_canonical: String,
    /// The label.
    label: &'static str,
    /// Whitespace inside the inner list and after `;` in the header (RFC 8941 allows it).
    spaced: bool,
    /// `Signature` without base64 padding.
    unpadded: bool,
    /// Content-Digest with sha-512 too (first).
    sha512: bool,
    /// Extra headers sent (and coverable).
    extra: Vec<(&'static str, String)>,
}

/// A signed request made without the registry's `httpsig`: the base of RFC 9421 §2.5 is
/// built here line by line.
struct Signed {
    headers: Vec<(String, String)>,
}

fn sign_by_hand(
    a: &Actor,
    method: &str,
    authority: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    v: &Variant,
) -> Signed {
    let sha256 = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)));
    let digest = if v.sha512 {
        format!(
            "sha-512=:{}:, {sha256}",
            STANDARD.encode(Sha512::digest(body))
        )
    } else {
        sha256
    };
    let mut headers: Vec<(String, String)> = vec![
        ("authorization".into(), format!("Bearer {}", a.token)),
        ("content-type".into(), "application/json".into()),
        ("content-digest".into(), digest.clone()),
    ];
    for (k, val) in &v.extra {
        headers.push((k.to_string(), val.clone()));
    }
    let header = |name: &str| -> String {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let q = query.map(|q| format!("?{q}")).unwrap_or_default();
    let mut base = String::new();
    for c in &v.components {
        let value = match *c {
            "@method" => method.to_string(),
            "@authority" => authority.to_string(),
            "@path" => path.to_string(),
            "@query" => format!("?{}", query.unwrap_or("")),
            "@target-uri" => format!("http://{authority}{path}{q}"),
            "@request-target" => format!("{path}{q}"),
            "@scheme" => "http".into(),
            field => header(field),
        };
        base.push_str(&format!("\"{c}\": {value}\n"));
    }
    let list: Vec<String> = v.components.iter().map(|c| format!("\"{c}\"")).collect();
    let canonical = format!("({}){}", list.join(" "), v.params_canonical);
    base.push_str(&format!("\"@signature-params\": {canonical}"));
    let sig = a.key.sign(base.as_bytes()).to_bytes();
    let input = if v.spaced {
        format!(
            "{}=(  {} ){}",
            v.label,
            list.join("   "),
            v.params_header.replace(';', "; ")
        )
    } else {
        format!("{}=({}){}", v.label, list.join(" "), v.params_header)
    };
    let sig = if v.unpadded {
        STANDARD_NO_PAD.encode(sig)
    } else {
        STANDARD.encode(sig)
    };
    headers.push(("signature-input".into(), input));
    headers.push(("signature".into(), format!("{}=:{sig}:", v.label)));
    Signed { headers }
}

fn send(
    http: &reqwest::blocking::Client,
    base: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rq = http.request(m, format!("{base}{path_and_query}"));
    for (k, v) in headers {
        rq = rq.header(k.as_str(), v.as_str());
    }
    let r = rq.body(body.to_vec()).send().expect("send");
    let st = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn authority_of(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// The standard parameters, canonical and as sent.
fn params(a: &Actor, created: u64, nonce: &str, extra: &str) -> (String, String) {
    let p = format!(
        ";created={created};nonce=\"{nonce}\";keyid=\"{}\";alg=\"ed25519\"{extra}",
        a.tin
    );
    (p.clone(), p)
}

fn variant(components: &[&'static str], a: &Actor, extra_params: &str) -> Variant {
    let (h, c) = params(a, unix_now(), &fresh_nonce(), extra_params);
    Variant {
        components: components.to_vec(),
        params_header: h,
        params_canonical: c,
        label: "sig1",
        ..Default::default()
    }
}

const FOUR: [&str; 4] = ["@method", "@path", "@query", "content-digest"];

#[test]
fn independent_signers_variations_are_accepted_and_the_profile_still_holds() {
    let w = world();
    let a = &w.producer;
    let auth = authority_of(&w.s.base);
    let body =
        serde_json::to_vec(&json!({"gtin": w.gtin, "name": "Boots", "product_group": "shoes"}))
            .expect("json");
    let post = |v: &Variant| {
        let sd = sign_by_hand(a, "POST", &auth, "/api/v1/products", None, &body, v);
        send(
            &w.s.http,
            &w.s.base,
            "POST",
            "/api/v1/products",
            &sd.headers,
            &body,
        )
    };
    let mut accepted = Vec::new();
    let cases: Vec<(&str, Variant)> = vec![
        ("the four, as API.md shows", variant(&FOUR, a, "")),
        (
            "@authority and content-type too, in another order",
            variant(
                &[
                    "content-type",
                    "@authority",
                    "content-digest",
                    "@query",
                    "@path",
                    "@method",
                ],
                a,
                "",
            ),
        ),
        (
            "@target-uri, @request-target, @scheme and a header of the signer's",
            Variant {
                extra: vec![("x-request-id", "r-42".into())],
                ..variant(
                    &[
                        "@method",
                        "@target-uri",
                        "@request-target",
                        "@scheme",
                        "@path",
                        "@query",
                        "content-digest",
                        "x-request-id",
                    ],
                    a,
                    "",
                )
            },
        ),
        (
            "expires and tag",
            variant(
                &FOUR,
                a,
                &format!(";expires={};tag=\"erp-7\"", unix_now() + 120),
            ),
        ),
        (
            "whitespace after ';' and around the list's items",
            Variant {
                spaced: true,
                ..variant(&FOUR, a, "")
            },
        ),
        (
            "Signature without base64 padding",
            Variant {
                unpadded: true,
                ..variant(&FOUR, a, "")
            },
        ),
        (
            "Content-Digest with sha-512 and sha-256",
            Variant {
                sha512: true,
                ..variant(&FOUR, a, "")
            },
        ),
        ("another label, no alg (the key says it)", {
            let p = format!(
                ";created={};keyid=\"{}\";nonce=\"{}\"",
                unix_now(),
                a.tin,
                fresh_nonce()
            );
            Variant {
                label: "pyhttpsig",
                params_header: p.clone(),
                params_canonical: p,
                components: FOUR.to_vec(),
                ..Default::default()
            }
        }),
    ];
    for (what, v) in &cases {
        let (st, ans) = post(v);
        assert_eq!(st, 201, "{what}: {ans}");
        accepted.push(*what);
    }
    eprintln!(
        "interop: {} of {} signature variations accepted: {}",
        accepted.len(),
        cases.len(),
        accepted.join("; ")
    );

    // What the profile refuses, still refused (401, naming why).
    let other = &w.regulator;
    let mut refused = 0;
    let bad: Vec<(&str, Variant, &str)> = vec![
        (
            "@query left out",
            variant(&["@method", "@path", "content-digest"], a, ""),
            "@query",
        ),
        (
            "content-digest left out",
            variant(&["@method", "@path", "@query", "content-type"], a, ""),
            "content-digest",
        ),
        (
            "alg other than ed25519",
            {
                let (h, _) = params(a, unix_now(), &fresh_nonce(), "");
                let h = h.replace("ed25519", "rsa-pss-sha512");
                Variant {
                    components: FOUR.to_vec(),
                    params_canonical: h.clone(),
                    params_header: h,
                    label: "sig1",
                    ..Default::default()
                }
            },
            "alg",
        ),
        (
            "keyid of another participant",
            {
                let (h, _) = params(other, unix_now(), &fresh_nonce(), "");
                Variant {
                    components: FOUR.to_vec(),
                    params_canonical: h.clone(),
                    params_header: h,
                    label: "sig1",
                    ..Default::default()
                }
            },
            "keyid",
        ),
        (
            "created 301 s ago",
            {
                let (h, c) = params(a, unix_now() - 301, &fresh_nonce(), "");
                Variant {
                    components: FOUR.to_vec(),
                    params_canonical: c,
                    params_header: h,
                    label: "sig1",
                    ..Default::default()
                }
            },
            "created",
        ),
        (
            "expired",
            variant(&FOUR, a, &format!(";expires={}", unix_now() - 1)),
            "expire",
        ),
        (
            "a nonce of 15 characters",
            {
                let (h, c) = params(a, unix_now(), "012345678901234", "");
                Variant {
                    components: FOUR.to_vec(),
                    params_canonical: c,
                    params_header: h,
                    label: "sig1",
                    ..Default::default()
                }
            },
            "nonce",
        ),
    ];
    for (what, v, word) in &bad {
        let (st, ans) = post(v);
        assert_eq!(st, 401, "{what}: {ans}");
        let detail = ans["detail"].as_str().unwrap_or("");
        assert!(detail.contains(word), "{what}: {detail}");
        refused += 1;
    }
    // A wrong sha-512 next to a right sha-256 is refused too.
    let v = Variant {
        sha512: true,
        ..variant(&FOUR, a, "")
    };
    let mut sd = sign_by_hand(a, "POST", &auth, "/api/v1/products", None, &body, &v);
    for (k, val) in &mut sd.headers {
        if k == "content-digest" {
            *val = format!(
                "sha-512=:{}:, sha-256=:{}:",
                STANDARD.encode(Sha512::digest(b"other")),
                STANDARD.encode(Sha256::digest(&body))
            );
        }
    }
    let (st, ans) = send(
        &w.s.http,
        &w.s.base,
        "POST",
        "/api/v1/products",
        &sd.headers,
        &body,
    );
    assert_eq!(st, 401, "{ans}");
    refused += 1;
    // And a replay of an accepted one.
    let v = variant(&FOUR, a, "");
    let sd = sign_by_hand(a, "POST", &auth, "/api/v1/products", None, &body, &v);
    let go = || {
        send(
            &w.s.http,
            &w.s.base,
            "POST",
            "/api/v1/products",
            &sd.headers,
            &body,
        )
    };
    assert_eq!(go().0, 201);
    let (st, ans) = go();
    assert_eq!(st, 401, "{ans}");
    refused += 1;
    eprintln!("interop: {refused} of {refused} requests outside the profile refused (401)");
}

/// Signs with Python's `http-message-signatures` (an RFC 9421 library written by others).
#[test]
fn python_rfc9421_library_is_accepted() {
    let have = std::process::Command::new("python3")
        .args(["-c", "import http_message_signatures, requests"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        conformance::skip_or_fail(
            "python",
            "python3 has no http-message-signatures (scripts/test installs it)",
        );
        return;
    }
    let w = world();
    let a = &w.producer;
    let body =
        serde_json::to_vec(&json!({"gtin": w.gtin, "name": "Boots", "product_group": "shoes"}))
            .expect("json");
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("sign.py");
    std::fs::write(&script, PYTHON_SIGNER).expect("script");
    let mut accepted = 0;
    for covered in [
        "@method @path @query content-digest",
        "@method @authority @path @query content-digest content-type",
        "@method @target-uri @path @query content-digest",
    ] {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .env("URL", format!("{}/api/v1/products", w.s.base))
            .env("KEY", STANDARD.encode(a.key.to_bytes()))
            .env("TIN", &a.tin)
            .env("BODY", String::from_utf8(body.clone()).expect("utf-8"))
            .env("COVERED", covered)
            .env("NONCE", fresh_nonce())
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "python signer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let headers: Value = serde_json::from_slice(&out.stdout).expect("headers JSON");
        let mut hs: Vec<(String, String)> = vec![
            ("authorization".into(), format!("Bearer {}", a.token)),
            ("content-type".into(), "application/json".into()),
        ];
        for (k, v) in headers.as_object().expect("object") {
            hs.push((k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()));
        }
        let (st, ans) = send(&w.s.http, &w.s.base, "POST", "/api/v1/products", &hs, &body);
        assert_eq!(st, 201, "covering {covered}: {ans} (headers {hs:?})");
        accepted += 1;
    }
    eprintln!(
        "interop: http-message-signatures (Python) signed {accepted} of 3 requests, each accepted"
    );
}

/// Signs a request with `http_message_signatures` and prints its headers as JSON.
const PYTHON_SIGNER: &str = r#"
import base64, datetime, json, os
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(os.environ["KEY"]))

class Resolver(HTTPSignatureKeyResolver):
    def resolve_private_key(self, key_id):
        return key

body = os.environ["BODY"].encode()
req = requests.Request("POST", os.environ["URL"], data=body,
                       headers={"Content-Type": "application/json"}).prepare()
signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Resolver())
# body=: the library makes the RFC 9530 Content-Digest and covers it.
covered = tuple(c for c in os.environ["COVERED"].split() if c != "content-digest")
signer.sign(req, key_id=os.environ["TIN"], created=datetime.datetime.now(datetime.timezone.utc),
            nonce=os.environ["NONCE"], covered_component_ids=covered, label="pyhttpsig", body=body)
print(json.dumps({k: req.headers[k] for k in ("Content-Digest", "Signature-Input", "Signature")}))
"#;

#[test]
fn sign_in_challenges_cannot_be_hoarded_or_evicted() {
    let w = world();
    let s = &w.s;
    // Finding 4: a 15.8 KB "TIN" is refused before anything is made.
    let long = "7".repeat(15_800);
    let t = Instant::now();
    let n_long = 200;
    for _ in 0..n_long {
        let (st, v) =
            s.c.get(None, &format!("/api/v1/auth/challenge?tin={long}"))
                .expect("challenge");
        assert_eq!(st, 400, "{v}");
        assert!(
            v["detail"]
                .as_str()
                .unwrap_or("")
                .contains("10 or 12 digits"),
            "{v}"
        );
    }
    for bad in ["770000000", "77000000011", "77000000ab", ""] {
        let (st, _) =
            s.c.get(None, &format!("/api/v1/auth/challenge?tin={bad}"))
                .expect("challenge");
        assert_eq!(st, 400, "tin {bad:?}");
    }
    eprintln!(
        "finding 4: {n_long} challenges for a 15,800-character TIN: 400 each ({:.1} ms each); \
         challenges are stateless, so none is held (was 33 KB each, 100,000 kept)",
        t.elapsed().as_secs_f64() * 1e3 / n_long as f64
    );

    // Finding 5: another address asks thousands of challenges for the victim's TIN…
    let victim = &w.retailer;
    let attacker =
        Client::from_address(&s.base, "127.0.0.77".parse().expect("ip")).expect("attacker client");
    let flood = 3_000;
    let t = Instant::now();
    let mut first_id = None;
    for _ in 0..flood {
        let (st, v) = attacker
            .get(None, &format!("/api/v1/auth/challenge?tin={}", victim.tin))
            .expect("challenge");
        assert_eq!(st, 200, "{v}");
        first_id.get_or_insert(v);
    }
    let rate = flood as f64 / t.elapsed().as_secs_f64();
    // …and the victim signs in every time, while the flood goes on between sign-ins.
    let mut ok = 0;
    for _ in 0..10 {
        for _ in 0..100 {
            attacker
                .get(None, &format!("/api/v1/auth/challenge?tin={}", victim.tin))
                .expect("challenge");
        }
        if s.c.sign_in(&victim.tin, victim.key.clone()).is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 10);
    eprintln!(
        "finding 5: {} challenges for the victim's TIN from another address ({rate:.0}/s); \
         the victim then signed in {ok} of 10",
        flood + 1_000
    );
    // The attacker's challenge is worthless without the key, and a used one is used up.
    let ch = first_id.expect("a challenge");
    let data = ch["data"].as_str().expect("data");
    let forged = SigningKey::generate(&mut rand::rngs::OsRng);
    let token = |id: &Value, sig: String| {
        s.http
            .post(format!("{}/api/v1/auth/token", s.base))
            .json(&json!({"challenge_id": id, "signature": sig}))
            .send()
            .expect("token")
            .status()
            .as_u16()
    };
    assert_eq!(
        token(
            &ch["challenge_id"],
            STANDARD.encode(forged.sign(data.as_bytes()).to_bytes())
        ),
        401
    );
    let good = STANDARD.encode(victim.key.sign(data.as_bytes()).to_bytes());
    assert_eq!(token(&ch["challenge_id"], good.clone()), 200);
    assert_eq!(token(&ch["challenge_id"], good), 401, "single use");
}

#[test]
fn json_routes_refuse_other_content_types() {
    let w = world();
    let s = &w.s;
    let count_complaints = || {
        let (st, v) =
            s.c.get(Some(&w.regulator), "/api/v1/complaints")
                .expect("complaints");
        assert_eq!(st, 200, "{v}");
        v["complaints"].as_array().map_or(0, |a| a.len())
    };
    let before = count_complaints();
    let complaint =
        serde_json::to_vec(&json!({"kind": "counterfeit", "text": "framed by a web page"}))
            .expect("json");
    let mut refused = 0;
    // What a cross-site page can send without a CORS preflight: no Content-Type (a Blob
    // body), text/plain, a form.
    let simple: [Option<&str>; 4] = [
        None,
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
    ];
    for ct in simple {
        let mut rq = s.http.post(format!("{}/api/v1/complaints", s.base));
        if let Some(ct) = ct {
            rq = rq.header("content-type", ct);
        }
        let r = rq.body(complaint.clone()).send().expect("send");
        let st = r.status().as_u16();
        let v: Value = r.json().unwrap_or(Value::Null);
        assert_eq!(st, 415, "complaint with {ct:?}: {v}");
        assert!(
            v["detail"]
                .as_str()
                .unwrap_or("")
                .contains("Content-Type: application/json"),
            "{v}"
        );
        refused += 1;
    }
    assert_eq!(count_complaints(), before, "no complaint recorded");
    // The same complaint as JSON is taken: the count above can move.
    let r = s
        .http
        .post(format!("{}/api/v1/complaints", s.base))
        .header("content-type", "application/json")
        .body(complaint.clone())
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(count_complaints(), before + 1, "the JSON one is recorded");
    // A document, signed, without the type: 415 and not stored.
    let id = uuid::Uuid::new_v4();
    let doc = serde_json::to_vec(&json!({"id": id, "type": "apply", "codes": []})).expect("json");
    let (d, i, sg) = client::sign_request(&w.producer, "POST", "/api/v1/documents", &doc);
    for ct in [None, Some("text/plain")] {
        let mut rq = s
            .http
            .post(format!("{}/api/v1/documents", s.base))
            .bearer_auth(&w.producer.token)
            .header("content-digest", &d)
            .header("signature-input", &i)
            .header("signature", &sg);
        if let Some(ct) = ct {
            rq = rq.header("content-type", ct);
        }
        assert_eq!(rq.body(doc.clone()).send().expect("send").status(), 415);
        refused += 1;
    }
    let (st, _) =
        s.c.get(Some(&w.producer), &format!("/api/v1/documents/{id}"))
            .expect("get");
    assert_eq!(st, 404, "the document was not stored");
    // Sign-in and the till check.
    for (path, body, token) in [
        (
            "/api/v1/auth/token",
            json!({"challenge_id": "x", "signature": "y"}),
            None,
        ),
        (
            "/api/v1/pos/check",
            json!({"codes": []}),
            Some(&w.retailer.token),
        ),
    ] {
        for ct in [None, Some("text/plain")] {
            let mut rq = s
                .http
                .post(format!("{}{path}", s.base))
                .body(serde_json::to_vec(&body).expect("json"));
            if let Some(ct) = ct {
                rq = rq.header("content-type", ct);
            }
            if let Some(t) = token {
                rq = rq.bearer_auth(t);
            }
            assert_eq!(rq.send().expect("send").status(), 415, "{path} {ct:?}");
            refused += 1;
        }
    }
    // JSON with parameters, and a +json type, are JSON.
    for ct in [
        "application/json; charset=utf-8",
        "application/vnd.tracemark+json",
    ] {
        let r = s
            .http
            .post(format!("{}/api/v1/pos/check", s.base))
            .bearer_auth(&w.retailer.token)
            .header("content-type", ct)
            .body(r#"{"codes": []}"#)
            .send()
            .expect("send");
        assert_ne!(r.status().as_u16(), 415, "{ct}");
    }
    eprintln!("finding 8: {refused} of {refused} POSTs a web page can send without a preflight refused (415); complaints before and after: {before}");
}

#[test]
fn a_public_key_belongs_to_one_participant() {
    let w = world();
    let s = &w.s;
    let register = |tin: &str, key: &str| {
        let r = s
            .http
            .post(format!("{}/api/v1/participants", s.base))
            .bearer_auth(&s.admin)
            .json(&json!({"tin": tin, "name": "Twin", "roles": ["retailer"], "public_key": key, "region": "RU-MOW"}))
            .send()
            .expect("register");
        (
            r.status().as_u16(),
            r.json::<Value>().unwrap_or(Value::Null),
        )
    };
    let producer_key = STANDARD.encode(w.producer.key.verifying_key().as_bytes());
    let (_, keys) = s.c.get(None, "/.well-known/tracemark-keys").expect("keys");
    let mut own: Vec<(String, String)> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["use"].as_str().unwrap_or("codes").to_string(),
                k["public_key"].as_str().expect("key").to_string(),
            )
        })
        .collect();
    assert!(own.iter().any(|(u, _)| u == "log"), "{keys}");
    own.insert(0, ("participant 7790000001".into(), producer_key.clone()));
    let mut refused = 0;
    for (whose, key) in &own {
        let (st, v) = register("7790000099", key);
        assert_eq!(st, 409, "{whose}'s key: {v}");
        assert!(
            v["detail"].as_str().unwrap_or("").contains(key.as_str()),
            "{v}"
        );
        refused += 1;
    }
    // At rotation too.
    let fresh = SigningKey::generate(&mut rand::rngs::OsRng);
    let (st, v) = register(
        "7790000098",
        &STANDARD.encode(fresh.verifying_key().as_bytes()),
    );
    assert_eq!(st, 201, "{v}");
    for (whose, key) in &own {
        let r = s
            .http
            .post(format!("{}/api/v1/participants/7790000098/keys", s.base))
            .bearer_auth(&s.admin)
            .json(&json!({"public_key": key}))
            .send()
            .expect("rotate");
        let st = r.status().as_u16();
        let v: Value = r.json().unwrap_or(Value::Null);
        assert_eq!(st, 409, "rotation to {whose}'s key: {v}");
        refused += 1;
    }
    eprintln!(
        "finding 14: {refused} of {refused} registrations and rotations to a key already held \
         (a participant's, the registry's code-signing and log keys) refused (409)"
    );
}

/// A `tracemark serve` child on its own data directory.
struct Child {
    base: String,
    child: std::process::Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn serve(dir: &std::path::Path, port: u16, public_url: Option<&str>) -> Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tracemark"));
    cmd.args(["serve", "--data"])
        .arg(dir)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-rate",
            "0",
        ])
        .env("TRACEMARK_ADMIN_TOKEN", ADMIN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(u) = public_url {
        cmd.args(["--public-url", u]);
    }
    let child = cmd.spawn().expect("tracemark serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + START_WAIT;
    loop {
        if http
            .get(format!("{base}/health"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(Instant::now() < deadline, "{base} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Child { base, child }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The headers of a signed JSON `POST` of `body` to `path` by `who`, to send (and replay)
/// as captured.
fn signed_post_headers(who: &client::Actor, path: &str, body: &[u8]) -> Vec<(String, String)> {
    let (d, i, sg) = client::sign_request(who, "POST", path, body);
    vec![
        ("authorization".into(), format!("Bearer {}", who.token)),
        ("content-type".into(), "application/json".into()),
        ("content-digest".into(), d),
        ("signature-input".into(), i),
        ("signature".into(), sg),
    ]
}

#[test]
fn a_refused_signed_document_does_not_replay_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let srv = serve(dir.path(), port, None);
    let c = Client::new(&srv.base).expect("client");
    let shop = c
        .register_with_prefixes(
            ADMIN,
            "7791000001",
            "Maker",
            &["producer"],
            "RU-MOW",
            &["4609993"],
        )
        .expect("producer");
    // Applying codes nobody issued: refused (422) — and nothing in the log keeps its nonce.
    let doc = serde_json::to_vec(&json!({
        "id": uuid::Uuid::new_v4(),
        "type": "apply",
        "codes": [format!("01{}21UNKNOWN0001", gtin(460_999_300_001))],
    }))
    .expect("json");
    let headers = signed_post_headers(&shop, "/api/v1/documents", &doc);
    let http = reqwest::blocking::Client::new();
    let (st, v) = send(
        &http,
        &srv.base,
        "POST",
        "/api/v1/documents",
        &headers,
        &doc,
    );
    assert_eq!(st, 422, "refused first: {v}");
    let first = st;
    // And an accepted one: a product card, signed and stored (its leaf in the log).
    let card = serde_json::to_vec(&json!({
        "gtin": gtin(460_999_300_001), "name": "Boots", "product_group": "shoes",
    }))
    .expect("json");
    let card_headers = signed_post_headers(&shop, "/api/v1/products", &card);
    let (st, v) = send(
        &http,
        &srv.base,
        "POST",
        "/api/v1/products",
        &card_headers,
        &card,
    );
    assert_eq!(st, 201, "the card is stored: {v}");
    // Killed (as a crash would) and started again on the same directory.
    drop(srv);
    let t = Instant::now();
    let srv = serve(dir.path(), port, None);
    let restart = t.elapsed();
    let (st, v) = send(
        &http,
        &srv.base,
        "POST",
        "/api/v1/documents",
        &headers,
        &doc,
    );
    assert_eq!(st, 401, "the replay after the restart: {v}");
    assert!(v["detail"].as_str().unwrap_or("").contains("nonce"), "{v}");
    // The accepted one's replay too: its nonce comes back from the journal (the log is
    // not read for nonces when the journal was there before the start).
    let (st, v) = send(
        &http,
        &srv.base,
        "POST",
        "/api/v1/products",
        &card_headers,
        &card,
    );
    assert_eq!(st, 401, "the accepted card's replay after the restart: {v}");
    // The same document freshly signed is judged again as before: the server works.
    let (st2, v2) = c
        .post_signed_bytes(&shop, "/api/v1/documents", doc.clone())
        .expect("send");
    assert_eq!(st2, first, "{v2}");
    eprintln!(
        "finding 9: a refused signed document ({first}) replayed after a restart (SIGKILL, back in \
         {:.1} s): 401, replayed nonce",
        restart.as_secs_f64()
    );
}

#[test]
fn a_request_signed_for_one_deployment_is_refused_by_another() {
    let (pa, pb) = (free_port(), free_port());
    let (ua, ub) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let (da, db) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let a = serve(da.path(), pa, Some(&ua));
    let b = serve(db.path(), pb, Some(&ub));
    // The same participant (TIN and key) on both deployments.
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let enrol = |base: &str| {
        let c = Client::new(base).expect("client");
        let r = reqwest::blocking::Client::new()
            .post(format!("{base}/api/v1/participants"))
            .bearer_auth(ADMIN)
            .json(&json!({"tin": "7792000001", "name": "Maker", "roles": ["producer"], "region": "RU-MOW",
                "public_key": STANDARD.encode(key.verifying_key().as_bytes()), "gs1_prefixes": ["4609992"]}))
            .send()
            .expect("register");
        assert_eq!(r.status().as_u16(), 201);
        c.sign_in("7792000001", key.clone()).expect("sign in")
    };
    let on_a = enrol(&a.base);
    let on_b = enrol(&b.base);
    let http = reqwest::blocking::Client::new();
    let body = serde_json::to_vec(
        &json!({"gtin": gtin(460_999_200_001), "name": "Boots", "product_group": "shoes"}),
    )
    .expect("json");
    // Signed for A, covering A's authority: accepted by A…
    let v = variant(
        &["@method", "@authority", "@path", "@query", "content-digest"],
        &on_a,
        "",
    );
    let sd = sign_by_hand(
        &on_a,
        "POST",
        &authority_of(&a.base),
        "/api/v1/products",
        None,
        &body,
        &v,
    );
    let (st, ans) = send(
        &http,
        &a.base,
        "POST",
        "/api/v1/products",
        &sd.headers,
        &body,
    );
    assert_eq!(st, 201, "{ans}");
    // …and refused by B, replayed as captured (with B's token, and with A's Host forced).
    let mut refused = 0;
    let mut on_b_headers = sd.headers.clone();
    on_b_headers[0].1 = format!("Bearer {}", on_b.token);
    let (st, ans) = send(
        &http,
        &b.base,
        "POST",
        "/api/v1/products",
        &on_b_headers,
        &body,
    );
    assert_eq!(st, 401, "{ans}");
    refused += 1;
    let mut forced = on_b_headers.clone();
    forced.push(("host".into(), authority_of(&a.base)));
    let (st, ans) = send(&http, &b.base, "POST", "/api/v1/products", &forced, &body);
    assert_eq!(st, 401, "{ans}");
    assert!(
        ans["detail"].as_str().unwrap_or("").contains("authority"),
        "{ans}"
    );
    refused += 1;
    // B with --public-url wants the authority (or its tag): the bare four are refused…
    let v = variant(&FOUR, &on_b, "");
    let sd = sign_by_hand(&on_b, "POST", "", "/api/v1/products", None, &body, &v);
    let (st, ans) = send(
        &http,
        &b.base,
        "POST",
        "/api/v1/products",
        &sd.headers,
        &body,
    );
    assert_eq!(st, 401, "{ans}");
    assert!(
        ans["detail"].as_str().unwrap_or("").contains("@authority"),
        "{ans}"
    );
    refused += 1;
    // …a tag naming A is refused, a tag naming B accepted, and so is the project's client.
    let v = variant(&FOUR, &on_b, &format!(";tag=\"{ua}\""));
    let sd = sign_by_hand(&on_b, "POST", "", "/api/v1/products", None, &body, &v);
    assert_eq!(
        send(
            &http,
            &b.base,
            "POST",
            "/api/v1/products",
            &sd.headers,
            &body
        )
        .0,
        401
    );
    refused += 1;
    let v = variant(&FOUR, &on_b, &format!(";tag=\"{ub}\""));
    let sd = sign_by_hand(&on_b, "POST", "", "/api/v1/products", None, &body, &v);
    let (st, ans) = send(
        &http,
        &b.base,
        "POST",
        "/api/v1/products",
        &sd.headers,
        &body,
    );
    assert_eq!(st, 201, "{ans}");
    let c = Client::new(&b.base).expect("client");
    let (st, ans) = c
        .post_signed(
            &on_b,
            "/api/v1/products",
            &serde_json::from_slice(&body).expect("json"),
        )
        .expect("send");
    assert_eq!(st, 201, "{ans}");
    // The four required components are still required with @authority.
    let v = variant(
        &["@method", "@authority", "@path", "content-digest"],
        &on_b,
        "",
    );
    let sd = sign_by_hand(
        &on_b,
        "POST",
        &authority_of(&b.base),
        "/api/v1/products",
        None,
        &body,
        &v,
    );
    assert_eq!(
        send(
            &http,
            &b.base,
            "POST",
            "/api/v1/products",
            &sd.headers,
            &body
        )
        .0,
        401
    );
    refused += 1;
    eprintln!(
        "--public-url: a request signed for deployment A replayed on B: refused; \
         {refused} of {refused} requests not made for B refused (401)"
    );
}

#[test]
fn without_its_nonce_journal_a_registry_refuses_signatures_made_before_its_start() {
    // The journal's directory cannot be made (a file stands in its place): the registry
    // serves, but cannot know the nonces seen before this start, so it fails closed.
    let blocker = tempfile::NamedTempFile::new().expect("file");
    let path = blocker.path().to_path_buf();
    let before_start = unix_now();
    let s = support::start_with(move |c| c.nonce_journal = Some(path));
    let a =
        s.c.register_with_prefixes(
            &s.admin,
            "7790000051",
            "Journal-less Maker",
            &["producer"],
            "RU-MOW",
            &["4609995"],
        )
        .expect("producer");
    let g = gtin(460_999_500_001);
    let body = serde_json::to_vec(&json!({"gtin": g, "name": "Boots", "product_group": "shoes"}))
        .expect("json");
    let auth = authority_of(&s.base);
    let post = |created: u64| {
        let (h, c) = params(&a, created, &fresh_nonce(), "");
        let v = Variant {
            components: FOUR.to_vec(),
            params_header: h,
            params_canonical: c,
            label: "sig1",
            ..Default::default()
        };
        let sd = sign_by_hand(&a, "POST", &auth, "/api/v1/products", None, &body, &v);
        send(
            &s.http,
            &s.base,
            "POST",
            "/api/v1/products",
            &sd.headers,
            &body,
        )
    };
    // Made (by its `created`) before the start: within the 300 s window, but perhaps seen
    // before it.
    let (st, v) = post(before_start - 5);
    assert_eq!(st, 401, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("journal"),
        "{v}"
    );
    let (st, v) = post(unix_now());
    assert_eq!(st, 201, "a signature made after the start is taken: {v}");
    eprintln!("no journal: a signature created before the start refused (401), a fresh one taken");
}
