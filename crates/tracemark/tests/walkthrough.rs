//! Keeps the README's curl walk-through honest: runs `scripts/walkthrough.sh` against the
//! built binary and checks the chain ends in a sale, a refused repeat sale and a `sold` verdict.

use std::process::Command;

#[test]
fn readme_walkthrough_runs() {
    for tool in ["curl", "openssl", "python3"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            println!("skipping: {tool} is not installed (scripts/test installs it)");
            return;
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/walkthrough.sh"))
        .env("TRACEMARK_BIN", env!("CARGO_BIN_EXE_tracemark"))
        .output()
        .expect("run walkthrough");
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
}
