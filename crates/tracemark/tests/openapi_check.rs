//! The served OpenAPI document against the running registry, by an independent tool:
//! schemathesis (Python) through `scripts/schemathesis`, with every check and requests
//! signed as API.md's "Identity and signatures" says (`scripts/schemathesis_hooks.py`).
//! Every operation of the document must be reached and no failure of any kind found:
//! no 5xx, no status, content type, header or body outside the document, no schema-valid
//! request refused (but for the reasons `scripts/schemathesis.toml` gives), no
//! schema-violating one accepted, no operation that ignores its authentication.
//!
//! A small, seeded budget (a few examples per operation, at most 90 s of generation) keeps
//! it to about two minutes; `scripts/schemathesis` alone runs the larger one. Without
//! schemathesis (scripts/test installs it) the test says so and passes, except under CI.

use std::path::PathBuf;
use std::process::Command;

/// `Selected: 53/53` and `Tested: 53` of schemathesis's summary.
fn reached(out: &str) -> Option<(usize, usize)> {
    let mut total = None;
    let mut tested = None;
    for line in out.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Selected:") {
            total = rest
                .trim()
                .split('/')
                .nth(1)
                .and_then(|t| t.trim().parse().ok());
        } else if let Some(rest) = line.strip_prefix("Tested:") {
            tested = rest.trim().parse().ok();
        }
    }
    Some((tested?, total?))
}

#[test]
fn schemathesis_with_signing_finds_nothing() {
    let have = Command::new("python3")
        .args(["-c", "import schemathesis, cryptography"])
        .output();
    match have {
        Ok(o) if o.status.success() => {}
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => format!("no python3: {e}"),
            };
            conformance::skip_or_fail(
                "python",
                &format!("python3 has no schemathesis (scripts/test installs it): {why}"),
            );
            return;
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let reports = std::env::temp_dir().join(format!("tracemark-st-{}", std::process::id()));
    let out = Command::new(root.join("scripts/schemathesis"))
        .args(["--max-examples", "5", "--max-time", "90", "--seed", "1405"])
        .args(["--", "--generation-deterministic"])
        .env("TRACEMARK_BIN", env!("CARGO_BIN_EXE_tracemark"))
        .env("ST_REPORT_DIR", &reports)
        .output()
        .expect("run scripts/schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (tested, total) = reached(&text).unwrap_or_else(|| panic!("no summary:\n{text}"));
    assert!(total >= 50, "{total} operations in the document\n{text}");
    assert_eq!(tested, total, "operations reached\n{text}");
    assert!(
        out.status.success(),
        "schemathesis found failures (reports in {}):\n{text}",
        reports.display()
    );
    let _ = std::fs::remove_dir_all(&reports);
}
