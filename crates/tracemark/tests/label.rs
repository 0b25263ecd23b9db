//! `tracemark label` as a user runs it: the files it writes are read back by independent
//! decoders (`dmtxread` from Debian's dmtx-utils, `zbarimg` from zbar-tools, SVG through
//! `rsvg-convert` from librsvg2-bin), and mistakes get usage errors that say what to do.

use std::path::Path;
use std::process::{Command, Output};

const GS: char = '\u{1d}';
/// A code with an 88-character signature tail: '+', '/' and '=' in it.
const TAIL: &str =
    "Uj+fAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ0Uj+fAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==";

fn code() -> String {
    format!("010460123456789321ab!c%&'*+-./:;<=>?_{GS}910024{GS}92{TAIL}")
}

fn tracemark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run tracemark")
}

fn tool(name: &str, package: &str, args: &[&str]) -> Vec<u8> {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{name} could not be run ({e}): install the Debian package {package}")
        })
        .stdout
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn png_data_matrix_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("label.png");
    let code = code();
    let r = tracemark(&["label", &code, "--out", path(&out), "--module", "6"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let said = String::from_utf8_lossy(&r.stdout);
    assert!(said.contains("GS1 Data Matrix"), "{said}");
    assert!(said.contains("(01) 04601234567893"), "{said}");
    assert!(!said.contains(TAIL), "the tail is not printed: {said}");
    let read = tool("dmtxread", "dmtx-utils", &["-N1", path(&out)]);
    assert_eq!(String::from_utf8(read).unwrap(), code);
    // FNC1 first (shown as '~' with -G 126), GS separators after.
    let read = tool("dmtxread", "dmtx-utils", &["-N1", "-G", "126", path(&out)]);
    assert_eq!(String::from_utf8(read).unwrap(), format!("~{code}"));
}

#[test]
fn bracketed_input_and_svg_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("label.svg");
    let png = dir.path().join("label-svg.png");
    let r = tracemark(&[
        "label",
        "(01)04601234567893(21)abc123(93)Zx9q",
        "--out",
        path(&svg),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    tool(
        "rsvg-convert",
        "librsvg2-bin",
        &["-d", "300", "-p", "300", "-o", path(&png), path(&svg)],
    );
    let read = tool("dmtxread", "dmtx-utils", &["-N1", path(&png)]);
    assert_eq!(
        String::from_utf8(read).unwrap(),
        format!("010460123456789321abc123{GS}93Zx9q")
    );
}

#[test]
fn qr_holds_the_digital_link_with_the_tail_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qr.png");
    let code = code();
    let r = tracemark(&[
        "label",
        &code,
        "--qr",
        "--base",
        "https://registry.example",
        "--out",
        path(&out),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let read = tool("zbarimg", "zbar-tools", &["--raw", "-q", path(&out)]);
    let tail = TAIL
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(
        String::from_utf8(read).unwrap().trim_end(),
        format!(
            "https://registry.example/01/04601234567893/21/ab%21c%25%26%27%2A%2B-.%2F%3A%3B%3C%3D%3E%3F_?91=0024&92={tail}"
        )
    );
}

#[test]
fn mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // Another extension: a usage error from the parser (exit 2), naming the formats.
    let r = tracemark(&["label", &code(), "--out", path(&dir.path().join("x.jpg"))]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains(".png or .svg"), "{err}");
    // A bad check digit: exit 1 with the expected digit.
    let r = tracemark(&[
        "label",
        "(01)04601234567894(21)abc",
        "--out",
        path(&dir.path().join("x.png")),
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("not a valid marking code"), "{err}");
    assert!(err.contains("expected 3"), "{err}");
    assert!(!dir.path().join("x.png").exists());
    // A fractional PNG module size.
    let r = tracemark(&[
        "label",
        &code(),
        "--module",
        "2.5",
        "--out",
        path(&dir.path().join("x.png")),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("whole number of pixels"));
    // The help has an example.
    let r = tracemark(&["label", "--help"]);
    assert!(String::from_utf8_lossy(&r.stdout).contains("Example: tracemark label"));
}
