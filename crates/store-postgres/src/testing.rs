//! Test support (feature `testing`): a real PostgreSQL server for the tests, and a fresh
//! schema per test.
//!
//! [`server`] answers `TRACEMARK_TEST_POSTGRES` when it is set (an existing server: the
//! tests then leave it as they found it, apart from their schemas), else starts one
//! throwaway cluster for the test binary with `scripts/pg-cluster start --watch`. That
//! script runs in its own process group with its stdin a pipe from this process: when the
//! test process exits in any way (kill -9 included), the pipe closes and the script stops
//! the cluster and deletes its directory. [`citus`] does the same for a Citus coordinator
//! and two workers (`TRACEMARK_TEST_CITUS`, or `scripts/pg-cluster start --citus`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// A cluster this process started: its URLs, its directory, and the pipe whose closing
/// stops it.
pub struct Cluster {
    /// The plain PostgreSQL database's URL.
    pub postgres: String,
    /// The Citus coordinator's URL, when started with Citus.
    pub citus: Option<String>,
    /// The cluster's directory (for `scripts/pg-cluster down|up|stop DIR`).
    pub dir: String,
    _watch: Mutex<ChildStdin>,
}

static PLAIN: OnceLock<Result<Cluster, String>> = OnceLock::new();
static CITUS: OnceLock<Result<Cluster, String>> = OnceLock::new();
static OWN: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// A plain cluster of this test process alone, even when `TRACEMARK_TEST_POSTGRES` is set:
/// for a test that stops and starts the database under a server (the shared one serves
/// other tests meanwhile). Panics if none can be started.
pub fn own_cluster() -> &'static Cluster {
    match OWN.get_or_init(|| start(false)) {
        Ok(c) => c,
        Err(e) => panic!("no PostgreSQL cluster of this test's own: {e}"),
    }
}

/// Runs `scripts/pg-cluster CMD DIR` on [`own_cluster`]: `down` stops its servers as a
/// crash would, `up` starts them again. Panics if it fails.
pub fn own_cluster_do(cmd: &str) {
    let script = repo_root().join("scripts/pg-cluster");
    let status = Command::new("bash")
        .arg(&script)
        .args([cmd, &own_cluster().dir])
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(status.success(), "scripts/pg-cluster {cmd} failed");
}

/// The repository's root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the Citus build for the tests lives (`../shared/citus` beside the repository),
/// if it is there.
pub fn citus_dir() -> Option<PathBuf> {
    let d = repo_root().join("../shared/citus");
    d.join("install").exists().then_some(d)
}

fn start(citus: bool) -> Result<Cluster, String> {
    use std::os::unix::process::CommandExt;
    let script = repo_root().join("scripts/pg-cluster");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg("start").arg("--watch");
    if citus {
        cmd.arg("--citus");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (mut postgres, mut citus_url, mut dir) = (None, None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line == "ready" {
            break;
        }
        if let Some(v) = line.strip_prefix("export TRACEMARK_TEST_POSTGRES=") {
            postgres = Some(v.to_string());
        }
        if let Some(v) = line.strip_prefix("export TRACEMARK_TEST_CITUS=") {
            citus_url = Some(v.to_string());
        }
        if let Some(v) = line.strip_prefix("export TRACEMARK_PG_CLUSTER_DIR=") {
            dir = Some(v.to_string());
        }
    }
    // The script keeps running (the watch); it is never waited for.
    std::mem::forget(child);
    let postgres = postgres.ok_or("scripts/pg-cluster did not start a server (see above)")?;
    Ok(Cluster {
        postgres,
        citus: citus_url,
        dir: dir.ok_or("scripts/pg-cluster did not name its directory")?,
        _watch: Mutex::new(stdin),
    })
}

/// The URL of a PostgreSQL server for tests: `TRACEMARK_TEST_POSTGRES`, or a cluster
/// started for this test process. Panics if none can be had (tests need one).
pub fn server() -> &'static str {
    if let Ok(url) = std::env::var("TRACEMARK_TEST_POSTGRES") {
        static URL: OnceLock<String> = OnceLock::new();
        return URL.get_or_init(|| url);
    }
    match PLAIN.get_or_init(|| start(false)) {
        Ok(c) => &c.postgres,
        Err(e) => panic!("no PostgreSQL for the tests: {e}"),
    }
}

/// The URL of a Citus coordinator (with two workers) for tests: `TRACEMARK_TEST_CITUS`,
/// or a cluster started for this test process when `../shared/citus` is there. `Err`
/// says why there is none.
pub fn citus() -> Result<&'static str, String> {
    if let Ok(url) = std::env::var("TRACEMARK_TEST_CITUS") {
        static URL: OnceLock<String> = OnceLock::new();
        return Ok(URL.get_or_init(|| url));
    }
    if citus_dir().is_none() {
        return Err(format!(
            "TRACEMARK_TEST_CITUS is not set and {} is not there",
            repo_root().join("../shared/citus").display()
        ));
    }
    match CITUS.get_or_init(|| start(true)) {
        Ok(Cluster {
            citus: Some(url), ..
        }) => Ok(url),
        Ok(_) => Err("scripts/pg-cluster --citus printed no TRACEMARK_TEST_CITUS".into()),
        Err(e) => Err(e.clone()),
    }
}

/// [`citus`]'s URL; without one the test fails, unless `TRACEMARK_ALLOW_SKIP` lists
/// `citus` (`conformance::skip_or_fail`): then `None`, the reason said.
pub fn citus_or_skip() -> Option<&'static str> {
    match citus() {
        Ok(url) => Some(url),
        Err(why) => {
            conformance::skip_or_fail("citus", &format!("no Citus cluster: {why}"));
            None
        }
    }
}

/// An emission event of document `doc_seq` (the code's previous event: `prev`), for tests
/// that write events.
pub fn emit_event(doc_seq: u64, prev: u64) -> types::model::CodeEvent {
    use types::model::{DocType, Status};
    types::model::CodeEvent {
        doc_seq,
        at: 1_740_830_400,
        doc_type: DocType::Emit,
        status: Status::Emitted,
        reason: None,
        owner: 1,
        actor: 1,
        prev,
    }
}

/// SQL that writes events and code states as schemas before version 8 stored them
/// (`events (code, seq, event)`, `codes (code, state)`), which this build's commit cannot
/// write: for tests of the migrations.
pub fn pre_v8_sql(
    events: &[(types::model::CodeKey, u32, types::model::CodeEvent)],
    codes: &[(types::model::CodeKey, types::model::CodeState)],
) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut sql = String::new();
    for (k, seq, e) in events {
        sql += &format!(
            "INSERT INTO events (code, seq, event) VALUES ('\\x{}', {seq}, '\\x{}');",
            hex(k.as_bytes()),
            hex(&e.encode())
        );
    }
    for (k, st) in codes {
        sql += &format!(
            "INSERT INTO codes (code, state) VALUES ('\\x{}', '\\x{}');",
            hex(k.as_bytes()),
            hex(&st.to_vec())
        );
    }
    sql
}

/// The placement the tests connect with (`PgStore::connect_placed`): a serial permutation
/// of a fixed test key.
pub fn placement() -> types::placement::Placement {
    types::placement::Placement::new(issuance::SerialGenerator::new([7; 32]))
}

/// SQL that writes code rows as schema 9 stored them (`events (code, seq, sub, event,
/// state)`, `links (parent, child)`, `block_codes (block, code)`: no place), which this
/// build's commit cannot write: for tests of migration 10. As schema 9's commit did, a
/// state goes into the row of its code's event it follows (`CodeState::events` = that
/// event's number + 1), else into a row of its own (`sub` 1) after the code's last event.
pub fn v9_sql(
    events: &[(types::model::CodeKey, u32, types::model::CodeEvent)],
    codes: &[(types::model::CodeKey, types::model::CodeState)],
    links: &[(types::model::CodeKey, types::model::CodeKey)],
    blocks: &[(u64, types::model::CodeKey)],
) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut sql = String::new();
    for (k, seq, e) in events {
        let state = codes
            .iter()
            .find(|(c, st)| c == k && i64::from(st.events) - 1 == i64::from(*seq))
            .map_or("NULL".to_string(), |(_, st)| {
                format!("'\\x{}'", hex(&st.to_vec()))
            });
        sql += &format!(
            "INSERT INTO events (code, seq, sub, event, state) \
             VALUES ('\\x{}', {seq}, 0, '\\x{}', {state});",
            hex(k.as_bytes()),
            hex(&e.encode())
        );
    }
    for (k, st) in codes {
        let after = i64::from(st.events) - 1;
        if events
            .iter()
            .any(|(c, seq, _)| c == k && i64::from(*seq) == after)
        {
            continue;
        }
        sql += &format!(
            "INSERT INTO events (code, seq, sub, state) VALUES ('\\x{}', {after}, 1, '\\x{}');",
            hex(k.as_bytes()),
            hex(&st.to_vec())
        );
    }
    for (p, c) in links {
        sql += &format!(
            "INSERT INTO links (parent, child) VALUES ('\\x{}', '\\x{}');",
            hex(p.as_bytes()),
            hex(c.as_bytes())
        );
    }
    for (b, k) in blocks {
        sql += &format!(
            "INSERT INTO block_codes (block, code) VALUES ({}, '\\x{}');",
            *b as i64,
            hex(k.as_bytes())
        );
    }
    sql
}

/// `url` with `options=-c search_path=SCHEMA` (the other parameters kept).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Creates a new, empty schema on the server of `url` and returns `url` pointing at it:
/// every test gets an empty store without a database of its own.
pub fn fresh_schema(url: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!(
        "t{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    execute(url, &format!("CREATE SCHEMA {schema}")).expect("create a schema");
    with_search_path(url, &schema)
}

/// Runs SQL statements on `url` (its own connection, on its own thread: callable
/// anywhere), and returns the rows they answer, as text.
pub fn query(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    session(url, &[sql])
}

/// Runs SQL statements on `url`, rows ignored.
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    query(url, sql).map(drop)
}

/// Runs `statements` one query each, in order, on one connection (a temporary table
/// lives on from one to the next; Citus propagates DDL by a query's text, which it
/// cannot do when that text holds several statements).
pub fn execute_each(url: &str, statements: &[&str]) -> Result<(), String> {
    session(url, statements).map(drop)
}

/// Sends each of `queries` (each one or more statements) as a simple query, in order, on
/// one connection of its own, on a thread of its own; answers every row, as text. A
/// failure names its query when there were several.
fn session(url: &str, queries: &[&str]) -> Result<Vec<Vec<Option<String>>>, String> {
    let url = url.to_string();
    let queries: Vec<String> = queries.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let mut rows = Vec::new();
            for q in &queries {
                let msgs = client
                    .simple_query(q)
                    .await
                    .map_err(|e| match queries.len() {
                        1 => crate::pg(e).message().to_string(),
                        _ => format!("{q}: {}", crate::pg(e).message()),
                    })?;
                for m in msgs {
                    if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                        rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
                    }
                }
            }
            Ok(rows)
        })
    })
    .join()
    .map_err(|_| "the query thread panicked".to_string())?
}
