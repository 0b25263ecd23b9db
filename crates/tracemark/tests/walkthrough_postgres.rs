//! The README's walk-through over HTTP (`suites/walkthrough.rs`: a producer → wholesaler →
//! retailer → sale, a refused repeat sale, a `sold` verdict) against `tracemark serve
//! --postgres` on plain PostgreSQL and on a Citus coordinator with two workers, each with a
//! second process on the same database as a reader: it refuses changes naming the writer,
//! answers reads with what the writer wrote, hands its verifications to the writer's feed,
//! and takes over when the writer is killed.

#[path = "support/process.rs"]
mod process;
#[path = "suites/walkthrough.rs"]
mod suite;

use process::Serve;
use serde_json::Value;

const ADMIN: &str = "walkthrough-postgres-admin-token";

/// The walk-through on `url`, with a reader beside the writer.
fn walk(url: &str) {
    let args = ["--postgres", url];
    let writer = Serve::start(&args, ADMIN);
    writer.wait_role("writer");
    let mut reader = Serve::start(&args, ADMIN);
    reader.wait_role("reader");
    let h = reader.health().expect("reader health");
    assert_eq!(h["writer_address"], writer.base.as_str(), "{h}");

    let (_, requests) = suite::run(Some((&writer.base, ADMIN)));
    // The code the walk-through sold, as the reader sees it (its Digital Link).
    let link = requests
        .lines()
        .find_map(|l| l.strip_prefix("> GET /01/"))
        .and_then(|l| l.split_whitespace().next())
        .map(|rest| format!("/01/{rest}"))
        .expect("the walk-through's Digital Link request");
    let db = store_postgres::PgStore::connect(url).expect("the database");
    let head = store::Store::counter(&db, "feed_seq").expect("feed head");
    let http = reqwest::blocking::Client::new();
    let v: Value = http
        .get(format!("{}{link}", reader.base))
        .header("accept", "application/json")
        .send()
        .expect("resolve on the reader")
        .json()
        .expect("JSON");
    assert_eq!(v["verdict"], "sold", "the reader's answer for {link}: {v}");
    // A verification on the reader, from a place of its own, reaches the writer's feed
    // (through the database's inbox), for the risk engine, within a few seconds.
    let v: Value = http
        .get(format!("{}/api/v1/verify", reader.base))
        .query(&[
            ("code", format!("https://id.gs1.org{link}").as_str()),
            ("near", "12.3,45.6"),
        ])
        .send()
        .expect("verify on the reader")
        .json()
        .expect("JSON");
    assert_eq!(
        v["verdict"], "sold",
        "the reader's verification of {link}: {v}"
    );
    let place = types::feed::Place::from_degrees(12.3, 45.6);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let entries = store::Store::feed(&db, head.saturating_sub(1), 10_000).expect("feed");
        let seen = entries.iter().any(|(_, b)| {
            matches!(
                types::feed::decode(b),
                Some((_, types::feed::Fact::Verified(f))) if f.place == place
            )
        });
        if seen {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reader's verification never reached the feed ({} entries after {head})",
            entries.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A change sent to the reader: 503, naming the writer.
    let r = http
        .post(format!("{}/api/v1/participants", reader.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .expect("post to the reader");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let p: Value = r.json().expect("problem");
    assert_eq!(p["type"], "/problems/not-writer");
    assert_eq!(p["writer"], writer.base.as_str());
    // Documents the writer accepted, counted by the reader.
    let docs = |s: &Serve| s.health().map(|h| h["documents"].clone());
    assert_eq!(docs(&reader), docs(&writer));
    // The audit replays the database's log through the rules, with the registry running;
    // the export reads its feed.
    let audit = std::process::Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["audit", "--postgres", url])
        .output()
        .expect("tracemark audit");
    let said = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.status.success() && said.contains("every record matches"),
        "audit --postgres: {said}{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let out = tempfile::tempdir().expect("temp dir");
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["export", "--postgres", url, "--parquet"])
        .arg(out.path())
        .output()
        .expect("tracemark export");
    assert!(
        export.status.success() && out.path().join("sales.parquet").is_file(),
        "export --postgres: {}",
        String::from_utf8_lossy(&export.stderr)
    );
    // The writer dies: the reader takes over and writes.
    drop(writer);
    let took = reader.wait_role("writer");
    println!("the reader took over {took:?} after the writer's kill");
    reader.kill();
}

#[test]
fn walkthrough_on_postgres_with_a_reader() {
    if !suite::tools_present() {
        return;
    }
    walk(&store_postgres::testing::fresh_schema(
        store_postgres::testing::server(),
    ));
}

#[test]
fn walkthrough_on_citus_with_a_reader() {
    if !suite::tools_present() {
        return;
    }
    match store_postgres::testing::citus() {
        Ok(url) => walk(&store_postgres::testing::fresh_schema(url)),
        Err(why) => conformance::skip_or_fail(
            "citus",
            &format!("no Citus cluster for the walk-through: {why}"),
        ),
    }
}
