//! The transparency log over real HTTP: every accepted change is a leaf; the signed
//! checkpoints, inclusion and consistency proofs the server hands out verify in an
//! independent implementation (Python, standard library: `tests/support/log_check.py`) and
//! the checkpoint signature with openssl; entries are readable by the regulator and by the
//! participant whose change they record; a code's history names its log indexes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use client::{gtin, id_code, Actor};
use serde_json::{json, Value};
use std::io::Write;

mod support;
use support::{start, Server};

impl Server {
    fn get(&self, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().expect("get");
        (r.status().as_u16(), r.bytes().expect("body").to_vec())
    }
    fn json(&self, path: &str) -> Value {
        let (st, b) = self.get(path, None);
        assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&b));
        serde_json::from_slice(&b).expect("json")
    }
    /// The current checkpoint, checked with the log key the registry publishes.
    fn checkpoint(&self) -> (String, tlog::Checkpoint) {
        let (st, b) = self.get("/api/v1/log/checkpoint", None);
        assert_eq!(st, 200);
        let note = String::from_utf8(b).expect("utf8");
        let keys = self.json("/.well-known/tracemark-keys");
        let k = keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["use"] == "log")
            .expect("a log key")
            .clone();
        let pk: [u8; 32] = B64
            .decode(k["public_key"].as_str().expect("b64"))
            .expect("b64")
            .try_into()
            .expect("32 bytes");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("key");
        let cp = tlog::verify_note(&note, k["kid"].as_str().expect("kid"), &vk)
            .expect("the checkpoint verifies");
        (note, cp)
    }
}

fn doc(s: &Server, a: &Actor, body: Value) -> Value {
    match s.c.document(a, body).expect("send") {
        Ok(v) => v,
        Err((st, v)) => panic!("document refused: {st} {v}"),
    }
}

/// openssl checks the checkpoint's Ed25519 signature over its body, independently.
fn openssl_verifies(note: &str, public_key: &[u8; 32]) -> bool {
    let dir = tempfile::tempdir().expect("tmp");
    let (body, sigline) = note.split_once("\n\n").expect("a signed note");
    let sig_b64 = sigline.trim_end().rsplit(' ').next().expect("signature");
    let sig = B64.decode(sig_b64).expect("b64");
    let mut der = hex_decode("302a300506032b6570032100");
    der.extend_from_slice(public_key);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(&der)
    );
    let w = |name: &str, b: &[u8]| {
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .and_then(|mut f| f.write_all(b))
            .expect("write");
        p
    };
    let key = w("key.pem", pem.as_bytes());
    let bodyf = w("body", format!("{body}\n").as_bytes());
    let sigf = w("sig", &sig[4..]);
    std::process::Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&key)
        .arg("-rawin")
        .arg("-in")
        .arg(&bodyf)
        .arg("-sigfile")
        .arg(&sigf)
        .output()
        .expect("openssl must be installed (scripts/test installs it)")
        .status
        .success()
}

fn hex_decode(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn every_change_is_a_leaf_and_the_proofs_verify_independently() {
    let s = start();
    let mut checkpoints = Vec::new();
    let (_, cp0) = s.checkpoint();
    assert_eq!(cp0.size, 0);
    checkpoints.push(cp0.clone());
    let p =
        s.c.register_with_prefixes(
            &s.admin,
            "7750000001",
            "Maker",
            &["producer"],
            "RU-MOW",
            &["4607777"],
        )
        .expect("producer");
    let shop =
        s.c.register(&s.admin, "7750000002", "Shop", &["retailer"], "RU-MOW")
            .expect("shop");
    let reg =
        s.c.register(
            &s.admin,
            "7750000003",
            "Inspectorate",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let (_, cp) = s.checkpoint();
    assert_eq!(cp.size, 3, "three registrations, three leaves");
    checkpoints.push(cp);
    let g = gtin(460_777_700_001);
    s.product(&p, &g, "Boots", "shoes");
    let codes = s.c.order_codes(&p, &g, 3, "mac").expect("codes");
    let ids: Vec<&str> = codes.iter().map(|c| id_code(c)).collect();
    doc(&s, &p, json!({"type": "apply", "codes": ids}));
    doc(
        &s,
        &p,
        json!({"type": "introduce", "codes": ids, "production_date": "2026-01-01"}),
    );
    // A refused document appends nothing.
    let before = s.checkpoint().1.size;
    assert!(s
        .c
        .document(
            &shop,
            json!({"type": "write_off", "codes": ids, "reason": "loss"})
        )
        .expect("send")
        .is_err());
    let (_, cp) = s.checkpoint();
    assert_eq!(cp.size, before, "a refused document is no leaf");
    checkpoints.push(cp);
    let (_, b) =
        s.c.post_signed(
            &reg,
            "/api/v1/blocks",
            &json!({"codes": [ids[0]], "reason": "lab test"}),
        )
        .expect("block");
    let bid = b["id"].as_u64().expect("block id");
    assert_eq!(
        s.c.delete_signed(&reg, &format!("/api/v1/blocks/{bid}"))
            .expect("lift")
            .0,
        200
    );
    let (note, last) = s.checkpoint();
    checkpoints.push(last.clone());
    // product + order + emission chunk + apply + introduce + block + lift
    assert_eq!(last.size, before + 2, "block and lift are leaves");
    assert!(last.size >= 3 + 5, "{}", last.size);

    // The checkpoint's signature verifies in openssl too.
    let keys = s.json("/.well-known/tracemark-keys");
    let pk: [u8; 32] = B64
        .decode(
            keys["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .find(|k| k["use"] == "log")
                .expect("log key")["public_key"]
                .as_str()
                .expect("b64"),
        )
        .expect("b64")
        .try_into()
        .expect("32");
    assert!(
        openssl_verifies(&note, &pk),
        "openssl verifies the checkpoint"
    );
    assert!(!openssl_verifies(
        &note.replacen(&last.size.to_string(), &(last.size + 1).to_string(), 1),
        &pk
    ));

    // Entries: the regulator reads all; the producer its own changes only; nobody anonymous.
    let mut leaves = Vec::new();
    for i in 0..last.size {
        let (st, leaf) = s.get(&format!("/api/v1/log/entries/{i}"), Some(&reg.token));
        assert_eq!(st, 200, "entry {i}");
        let l = types::log::decode(&leaf).expect("a versioned leaf");
        assert_eq!(l.version, types::log::LEAF_VERSION);
        let (st_p, _) = s.get(&format!("/api/v1/log/entries/{i}"), Some(&p.token));
        let mine = l.actor != 0
            && s.c
                .get(Some(&p), &format!("/api/v1/participants/{}", p.tin))
                .expect("me")
                .1["id"]
                == json!(l.actor);
        assert_eq!(
            st_p == 200,
            mine,
            "entry {i} ({:?}) to its maker only",
            l.kind
        );
        leaves.push(leaf);
    }
    assert_eq!(s.get("/api/v1/log/entries/0", None).0, 401);
    assert_eq!(
        s.get(
            &format!("/api/v1/log/entries/{}", last.size),
            Some(&reg.token)
        )
        .0,
        404
    );
    // A code's history names each event's leaf, and that leaf is the document's.
    let card =
        s.c.get(Some(&p), &format!("/api/v1/codes/{}", ids[1]))
            .expect("card")
            .1;
    for e in card["history"].as_array().expect("history") {
        let i = e["log_index"].as_u64().expect("log_index") as usize;
        let l = types::log::decode(&leaves[i]).expect("leaf");
        assert_eq!(l.kind, types::log::LeafKind::Document, "{e}");
        assert_eq!(l.payload["id"], e["document"], "{e}");
        assert_eq!(
            l.payload["request"]["signature"]
                .as_str()
                .map(|s| s.starts_with("sig1=:")),
            Some(true)
        );
    }
    // Proofs for every leaf at every checkpoint, and consistency between all checkpoints.
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for cp in &checkpoints {
        for i in 0..cp.size {
            let v = s.json(&format!(
                "/api/v1/log/proof/inclusion?index={i}&size={}",
                cp.size
            ));
            assert_eq!(
                (v["index"].as_u64(), v["size"].as_u64()),
                (Some(i), Some(cp.size))
            );
            // And with the crate's own verifier against the signed root.
            let hashes: Vec<tlog::Hash> = v["hashes"]
                .as_array()
                .expect("hashes")
                .iter()
                .map(|h| {
                    B64.decode(h.as_str().expect("b64"))
                        .expect("b64")
                        .try_into()
                        .expect("32")
                })
                .collect();
            tlog::verify_inclusion(
                &tlog::leaf_hash(&leaves[i as usize]),
                i,
                cp.size,
                &hashes,
                &cp.root,
            )
            .expect("inclusion verifies against the signed checkpoint");
            inclusion.push(v);
        }
        for later in &checkpoints {
            if later.size >= cp.size {
                consistency.push(s.json(&format!(
                    "/api/v1/log/proof/consistency?from={}&to={}",
                    cp.size, later.size
                )));
            }
        }
    }
    let input = json!({
        "leaves": leaves.iter().map(|l| B64.encode(l)).collect::<Vec<_>>(),
        "checkpoints": checkpoints.iter().map(|c| json!({"size": c.size, "root": B64.encode(c.root)})).collect::<Vec<_>>(),
        "inclusion": inclusion,
        "consistency": consistency,
    });
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/log_check.py");
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 must be installed (scripts/test installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "independent check failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    // Out-of-range questions are 400 problems.
    assert_eq!(
        s.get(
            &format!("/api/v1/log/proof/inclusion?index=0&size={}", last.size + 1),
            None
        )
        .0,
        400
    );
    assert_eq!(
        s.get(
            &format!("/api/v1/log/proof/inclusion?index={0}&size={0}", last.size),
            None
        )
        .0,
        400
    );
    assert_eq!(
        s.get("/api/v1/log/proof/consistency?from=5&to=4", None).0,
        400
    );
    assert_eq!(
        s.get("/api/v1/log/proof/inclusion?index=x&size=1", None).0,
        400
    );
}
