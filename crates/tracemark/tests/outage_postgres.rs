//! A database outage, end to end (`suites/crash.rs` with the outage fault): `tracemark serve
//! --postgres` on a cluster of this test's own; four client lines stream documents and the
//! database is stopped as in a crash (`pg_ctl stop -m immediate`) mid-stream, five times.
//! While it is down the server answers 503 with `Retry-After` and `/health` says so; when
//! it is back the same server process carries on (no restart); every acknowledged document
//! is there, none is applied twice, every code is as the model says.

#[path = "suites/crash.rs"]
mod suite;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// This test's own cluster: (URL, directory), and the watch's stdin (the cluster goes when
/// this process does).
static CLUSTER: OnceLock<(String, String, Mutex<std::process::ChildStdin>)> = OnceLock::new();

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster")
}

fn cluster() -> &'static (String, String, Mutex<std::process::ChildStdin>) {
    CLUSTER.get_or_init(|| {
        let mut child = Command::new(script())
            .args(["start", "--watch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("scripts/pg-cluster");
        let stdin = child.stdin.take().expect("stdin");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut url, mut dir) = (None, None);
        for line in out.lines() {
            let line = line.expect("pg-cluster output");
            if line == "ready" {
                break;
            }
            if let Some(v) = line.strip_prefix("export TRACEMARK_TEST_POSTGRES=") {
                url = Some(v.to_string());
            }
            if let Some(v) = line.strip_prefix("export TRACEMARK_PG_CLUSTER_DIR=") {
                dir = Some(v.to_string());
            }
        }
        std::mem::forget(child);
        (
            url.expect("a cluster URL"),
            dir.expect("a cluster directory"),
            Mutex::new(stdin),
        )
    })
}

fn pg_cluster(cmd: &str) {
    let status = Command::new(script())
        .args([cmd, &cluster().1])
        .status()
        .expect("scripts/pg-cluster");
    assert!(status.success(), "scripts/pg-cluster {cmd} failed");
}

/// The store's flags: `--postgres` on this test's own cluster.
fn store_args(_tmp: &std::path::Path) -> Vec<String> {
    vec!["--postgres".into(), cluster().0.clone()]
}

/// Each round stops the database under the running server and starts it again.
fn fault() -> suite::Fault {
    suite::Fault::Outage {
        stop: || pg_cluster("down"),
        start: || pg_cluster("up"),
    }
}
