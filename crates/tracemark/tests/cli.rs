//! The command line as a newcomer meets it: every command's help has an example, and a
//! forgotten required option is a usage error from the parser (exit code 2), not a failure
//! at run time.

use std::process::Command;

fn tracemark(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(args)
        .output()
        .expect("run tracemark");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let (code, top) = tracemark(&["--help"]);
    assert_eq!(code, 0, "{top}");
    assert!(
        top.contains("Examples:") && top.contains("tracemark demo"),
        "{top}"
    );
    for cmd in ["serve", "demo", "audit", "export", "label", "scan", "bench"] {
        let (code, help) = tracemark(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}: {help}");
        assert!(
            help.contains("Example"),
            "`tracemark {cmd} --help` has no example:\n{help}"
        );
    }
}

#[test]
fn a_missing_data_directory_is_a_usage_error() {
    for cmd in [&["serve"][..], &["audit"], &["export", "--parquet", "out"]] {
        let (code, text) = tracemark(cmd);
        assert_eq!(code, 2, "{cmd:?}: {text}");
        assert!(
            text.contains("--data <DIR>"),
            "{cmd:?} names what is missing: {text}"
        );
        assert!(text.contains("Usage:"), "{text}");
    }
}

/// Runs `tracemark` with `RUST_BACKTRACE=1` (as many developers have it set): exit code and
/// standard error.
fn tracemark_backtrace_on(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run tracemark");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn mistakes_at_run_time_say_what_to_do_in_one_line_without_a_backtrace() {
    // A database that is not there: said in words (which one, password hidden), exit 1,
    // no stack, within the connect timeout.
    let (code, err) = tracemark_backtrace_on(&[
        "serve",
        "--postgres",
        "postgres://someone:secret@127.0.0.1:1/registry",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("tracemark: "), "{err}");
    assert!(
        err.contains(
            "cannot open the registry's database postgres://someone:***@127.0.0.1:1/registry"
        ),
        "{err}"
    );
    assert!(!err.contains("secret"), "the password shown: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // Both homes, or none: said so.
    let (code, err) = tracemark_backtrace_on(&["audit"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        !err.contains("backtrace") && !err.contains("Backtrace"),
        "{err}"
    );
    // A data directory a running registry holds: named as in use, with what to do.
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_str().expect("utf-8");
    let mut first = Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["serve", "--data", data, "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let stdout = first.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("on http://")
                .map(|(_, a)| a.trim().to_string())
        })
        .expect("the first server says where it listens");
    let (code, err) = tracemark_backtrace_on(&["serve", "--data", data, "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("in use by another process") && err.contains("stop it first"),
        "{err}"
    );
    assert!(!err.contains("backtrace"), "{err}");
    let (code, err) = tracemark_backtrace_on(&["audit", "--data", data]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("in use by another process"), "{err}");
    // A port in use: the address named, and the flag that chooses another.
    let other = tempfile::tempdir().expect("tmp");
    let (code, err) = tracemark_backtrace_on(&[
        "serve",
        "--data",
        other.path().to_str().expect("utf-8"),
        "--listen",
        &addr,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("--listen ADDR"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(other.path())
            .expect("dir")
            .next()
            .is_none(),
        "a port in use leaves no data behind"
    );
    let _ = first.kill();
    let _ = first.wait();
}

/// `bench --scale` and `--soak` end to end on a tiny registry (5,000 codes, a 6-second
/// soak; a debug build's figures mean nothing): a `serve` child grown through orders,
/// documents and sales, measured, killed and restarted, then loaded; every row filled, no
/// HTTP error, the report files written and the scratch directory gone.
#[test]
fn bench_scale_and_soak_grow_measure_and_clean_up() {
    let out = tempfile::tempdir().expect("tempdir");
    let scratch = tempfile::tempdir().expect("tempdir");
    let (code, text) = tracemark(&[
        "bench",
        "--scale",
        "0.005",
        "--soak",
        "0.1",
        "--scale-out",
        &out.path().display().to_string(),
        "--scale-dir",
        &scratch.path().display().to_string(),
    ]);
    assert_eq!(code, 0, "{text}");
    let md = std::fs::read_to_string(out.path().join("scale.md")).expect("scale.md");
    assert!(md.contains("**Sample run**"), "{md}");
    assert!(md.contains("| | 0.005 M | target |"), "{md}");
    assert!(md.contains("| codes stored | 5.0 k |"), "{md}");
    assert!(
        !md.contains("errors"),
        "an HTTP error in the run:\n{md}\n{text}"
    );
    for row in [
        "ingest, uncached",
        "verify over HTTP",
        "start-up after kill -9",
    ] {
        let line = md.lines().find(|l| l.starts_with(&format!("| {row}")));
        let line = line.unwrap_or_else(|| panic!("no row {row}:\n{md}"));
        assert!(
            !line.contains("| 0 |") && !line.contains("| 0.00 |"),
            "{line}"
        );
    }
    let svg = std::fs::read_to_string(out.path().join("scale.svg")).expect("scale.svg");
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    let soak = std::fs::read_to_string(out.path().join("soak.md")).expect("soak.md");
    let minute = soak.lines().find(|l| l.starts_with("| 1 |"));
    let minute = minute.unwrap_or_else(|| panic!("no minute in soak.md:\n{soak}"));
    // Docs, verify and till errors: none.
    assert!(minute.contains("| 0 · 0 · 0 |"), "{minute}");
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("scratch")
        .collect();
    assert!(left.is_empty(), "the scratch directory was left: {left:?}");
}
