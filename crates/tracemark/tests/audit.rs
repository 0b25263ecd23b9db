//! `tracemark audit` on a real data directory made by the real server (the release of this
//! build, run as a process): clean, it says every record matches; with one stored record
//! tampered with — a flipped byte in a log leaf, a log hash, a document body or a product
//! card, a removed log record, two log records swapped, the log cut back under a kept
//! checkpoint — it exits 1 naming the record.

use client::{gtin, id_code, Client};
use fjall::{Database, KeyspaceCreateOptions, PersistMode};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const ADMIN: &str = "audit-test-admin-token";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tracemark")
}

/// Makes a data directory with a little of everything, through the real server; returns
/// it and a checkpoint kept at the end.
fn make_data() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(bin())
        .args(["serve", "--data"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TRACEMARK_ADMIN_TOKEN", ADMIN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let c = Client::new(&base).expect("client");
    let up = std::time::Instant::now();
    while c.get(None, "/health").map(|r| r.0).ok() != Some(200) {
        assert!(up.elapsed().as_secs() < 30, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let p = c
        .register_with_prefixes(
            ADMIN,
            "7760000001",
            "Maker",
            &["producer"],
            "RU-MOW",
            &["4608888"],
        )
        .expect("producer");
    let reg = c
        .register(
            ADMIN,
            "7760000002",
            "Inspectorate",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    let g = gtin(460_888_800_001);
    let (st, v) = c
        .post_signed(
            &p,
            "/api/v1/products",
            &json!({"gtin": g, "name": "Boots", "product_group": "shoes"}),
        )
        .expect("product");
    assert_eq!(st, 201, "{v}");
    let codes = c.order_codes(&p, &g, 4, "mac").expect("codes");
    let ids: Vec<&str> = codes.iter().map(|x| id_code(x)).collect();
    for body in [
        json!({"type": "apply", "codes": ids}),
        json!({"type": "introduce", "codes": ids, "production_date": "2026-01-01"}),
    ] {
        assert!(c.document(&p, body).expect("doc").is_ok());
    }
    let (_, b) = c
        .post_signed(
            &reg,
            "/api/v1/blocks",
            &json!({"codes": [ids[0]], "reason": "test"}),
        )
        .expect("block");
    let bid = b["id"].as_u64().expect("id");
    assert_eq!(
        c.delete_signed(&reg, &format!("/api/v1/blocks/{bid}"))
            .expect("lift")
            .0,
        200
    );
    let note = reqwest::blocking::get(format!("{base}/api/v1/log/checkpoint"))
        .and_then(|r| r.text())
        .expect("checkpoint");
    // SIGTERM: a graceful stop; the store is closed when the process has exited.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    (dir, note)
}

fn audit(dir: &Path, checkpoint: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new(bin());
    cmd.args(["audit", "--data"]).arg(dir);
    if let Some(cp) = checkpoint {
        cmd.arg("--checkpoint").arg(cp);
    }
    let out = cmd.output().expect("audit");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A copy of the data directory, changed by `f` on the raw store.
fn tampered(src: &Path, f: impl FnOnce(&Database)) -> tempfile::TempDir {
    let dst = tempfile::tempdir().expect("tmp");
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(dst.path())
        .status()
        .expect("cp")
        .success();
    assert!(ok);
    {
        let db = Database::builder(dst.path().join("store"))
            .open()
            .expect("open raw");
        f(&db);
        db.persist(PersistMode::SyncAll).expect("persist");
    }
    dst
}

/// A change made to the raw store.
type Tamper = Box<dyn FnOnce(&Database)>;

fn ks(db: &Database, name: &str) -> fjall::Keyspace {
    db.keyspace(name, KeyspaceCreateOptions::default)
        .expect("keyspace")
}

fn flip(db: &Database, name: &str, key: &[u8], at: impl Fn(usize) -> usize) {
    let k = ks(db, name);
    let mut v = k.get(key).expect("get").expect("record").to_vec();
    let i = at(v.len());
    v[i] ^= 0x01;
    k.insert(key, v).expect("insert");
}

fn first_key(db: &Database, name: &str) -> Vec<u8> {
    let k = ks(db, name);
    let g = k.first_key_value().expect("a record");
    g.key().expect("key").to_vec()
}

#[test]
fn audit_finds_every_kind_of_tampering() {
    let (data, note) = make_data();
    let cp: PathBuf = data.path().join("kept-checkpoint.txt");
    std::fs::write(&cp, &note).expect("write checkpoint");
    let (ok, out) = audit(data.path(), Some(&cp));
    assert!(ok, "a clean store audits clean: {out}");
    assert!(out.contains("every record matches"), "{out}");

    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a flipped byte in a log leaf",
            Box::new(|db| flip(db, "log", &3u64.to_be_bytes(), |n| n - 2)),
            "log record 3",
        ),
        (
            "a flipped byte in a stored tree hash",
            Box::new(|db| flip(db, "log_hashes", &tlog::NodeId::new(0, 5).key(), |_| 7)),
            "log record 5",
        ),
        (
            "a flipped byte in a document's body",
            Box::new(|db| {
                let k = first_key(db, "docs");
                flip(db, "docs", &k, |n| n - 3)
            }),
            "its body does not hash",
        ),
        (
            "a product card changed",
            Box::new(|db| {
                let k = first_key(db, "products");
                let ksp = ks(db, "products");
                let v = ksp.get(&k).expect("get").expect("product").to_vec();
                let s = String::from_utf8(v)
                    .expect("json")
                    .replace("Boots", "Boats");
                ksp.insert(&k, s.into_bytes()).expect("insert");
            }),
            "product",
        ),
        (
            "a removed log record",
            Box::new(|db| ks(db, "log").remove(4u64.to_be_bytes()).expect("remove")),
            "log record 4 is missing",
        ),
        (
            "two log records swapped",
            Box::new(|db| {
                let k = ks(db, "log");
                let a = k.get(2u64.to_be_bytes()).expect("get").expect("2").to_vec();
                let b = k.get(3u64.to_be_bytes()).expect("get").expect("3").to_vec();
                k.insert(2u64.to_be_bytes(), b).expect("insert");
                k.insert(3u64.to_be_bytes(), a).expect("insert");
            }),
            "log record 2",
        ),
    ];
    for (what, f, expect) in cases {
        let t = tampered(data.path(), f);
        let (ok, out) = audit(t.path(), None);
        assert!(!ok, "{what}: the audit passed:\n{out}");
        assert!(
            out.contains(expect),
            "{what}: expected {expect:?} in:\n{out}"
        );
        println!(
            "{what}: {}",
            out.lines()
                .find(|l| l.starts_with("MISMATCH"))
                .unwrap_or("")
        );
    }
    // The last record cut off, the size rolled back: consistent inside, but not with the
    // checkpoint someone kept.
    let t = tampered(data.path(), |db| {
        let meta = ks(db, "meta");
        let n = u64::from_le_bytes(
            meta.get(b"log_size").expect("get").expect("size")[..8]
                .try_into()
                .expect("8"),
        );
        ks(db, "log").remove((n - 1).to_be_bytes()).expect("remove");
        meta.insert(b"log_size", (n - 1).to_le_bytes())
            .expect("insert");
    });
    let (ok, out) = audit(t.path(), Some(&cp));
    assert!(!ok, "{out}");
    assert!(out.contains("checkpoint"), "{out}");
}
