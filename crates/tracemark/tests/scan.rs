//! `tracemark scan FILE` on generated photos of labels: the built binary reads the exact
//! code, prints it bracketed and with <GS>, as JSON with --json, and exits 1 with a
//! clear message when there is no code or no image.

#[path = "../../labels/tests/support/mod.rs"]
mod photo;

use rand::Rng;
use std::process::Command;

fn scan(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .arg("scan")
        .args(args)
        .output()
        .expect("running tracemark scan")
}

#[test]
fn scan_reads_a_photo_of_a_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = photo::rng(11);
    for kind in photo::KINDS {
        let code = photo::codes(kind, 1, 3).remove(0);
        let label = photo::render(&photo::modules(kind, &code), 4);
        let deg = r.gen_range(0.0..360.0);
        let jpg = photo::jpeg(&photo::phone_photo(&label, deg, 1280, 960, &mut r), 75);
        let file = dir.path().join(format!("{kind:?}.jpg"));
        std::fs::write(&file, jpg).unwrap();

        let out = scan(&[file.as_os_str()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kind:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let es = gs1::ElementString::parse(&code).unwrap();
        assert!(stdout.contains(&es.to_brackets()), "{kind:?}: {stdout}");
        assert!(
            stdout.contains(&code.replace('\u{1d}', "<GS>")),
            "{kind:?}: {stdout}"
        );
        let symbology = if kind == photo::Kind::QrLink {
            "qr"
        } else {
            "data_matrix"
        };
        assert!(stdout.starts_with(symbology), "{stdout}");

        let out = scan(&[file.as_os_str(), "--json".as_ref()]);
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["codes"][0]["code"], code.as_str(), "{v}");
        assert_eq!(v["codes"][0]["symbology"], symbology);
        assert_eq!(v["codes"][0]["brackets"], es.to_brackets().as_str());
    }
}

#[test]
fn scan_fails_clearly_without_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = photo::rng(12);
    let blank = dir.path().join("clutter.png");
    std::fs::write(
        &blank,
        photo::png(&photo::busy_background(640, 480, &mut r)),
    )
    .unwrap();
    let out = scan(&[blank.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no_code_found") && err.contains("clutter.png"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let out = scan(&[text.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("image_unsupported") && err.contains("PNG or JPEG"),
        "{err}"
    );

    let help = Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["scan", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("Example: tracemark scan"));
}
