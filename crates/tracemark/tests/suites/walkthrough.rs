//! Keeps the README's curl walk-through honest: runs `scripts/walkthrough.sh` against the
//! built binary and checks the chain ends in a sale, a refused repeat sale and a `sold` verdict.
//! `tests/walkthrough.rs` runs it on the server the script starts (embedded store);
//! `tests/walkthrough_postgres.rs` against servers on PostgreSQL and on Citus.

use std::process::Command;

/// Whether the walk-through's tools are here; a missing one fails the test unless
/// `TRACEMARK_ALLOW_SKIP` lists `tools` (then `false`, the reason said).
pub fn tools_present() -> bool {
    for tool in ["curl", "openssl", "python3"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            conformance::skip_or_fail(
                "tools",
                &format!("{tool} is not installed (scripts/test installs it)"),
            );
            return false;
        }
    }
    true
}

/// Runs the walk-through: on a server of its own, or against `(base URL, admin token)`;
/// checks every step and returns what it printed: (answers, requests).
pub fn run(against: Option<(&str, &str)>) -> (String, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/walkthrough.sh"))
        .env("TRACEMARK_BIN", env!("CARGO_BIN_EXE_tracemark"));
    if let Some((base, admin)) = against {
        cmd.arg(base).env("TRACEMARK_ADMIN_TOKEN", admin);
    }
    let out = cmd.output().expect("run walkthrough");
    let text = String::from_utf8_lossy(&out.stdout);
    let requests = String::from_utf8_lossy(&out.stderr);
    // Every step shows its request.
    for needle in [
        "> POST /api/v1/documents",
        "> POST /api/v1/pos/check",
        "> GET /01/",
    ] {
        assert!(
            requests.contains(needle),
            "no `{needle}` request printed:\n{requests}"
        );
    }
    assert!(
        out.status.success(),
        "walkthrough failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "\"status\": \"accepted\",\n  \"codes\": 4,\n  \"seq\": 1",
        "\"sellable\": true",
        "\"reason\": \"already_sold\"",
        "\"verdict\": \"sold\"",
        "\"type\": \"sell\"",
        "\"INTRODUCED\": 3,\n    \"RETIRED\": 1",
    ] {
        assert!(
            text.contains(needle),
            "walkthrough output lacks {needle}:\n{text}"
        );
    }
    (text.into_owned(), requests.into_owned())
}
