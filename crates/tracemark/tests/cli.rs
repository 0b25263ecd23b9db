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
