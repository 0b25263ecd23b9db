//! The CBV 2.0 event hash against the reference implementation's published vectors
//! (`RalphTro/epcis-event-hash-generator` commit 5d2f1c3, `tests/examples`, in
//! `../shared/data/epcis-tests/event-hash`): for every JSON-LD document with expected
//! pre-hashes (`X.prehashes`) or hashes (`X.hashes`), one line per event, in order.

use epcis::hash::{event_hash, pre_hash, HashContext};
use std::path::{Path, PathBuf};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/epcis-tests/event-hash/tests/examples"
);

/// Pre-hash vectors known not to match, `(file, event index)`. Any other mismatch fails
/// the test, and so does a known failure that starts to match (then remove it). Each of
/// these expected lines is defective upstream (identical in the reference repository at
/// 5d2f1c3, whose own tests check `.hashes` only): the line does not hash to the file's
/// `.hashes` line for the event, which we do match.
const KNOWN_FAILURES: &[(&str, usize)] = &[
    // the line is garbled (text spliced into itself: `epc=httpspc=https://…`)
    ("epcisDocWithAllGS1Keys", 0),
    // the line is a copy of event 0's (the document's second event has other values)
    ("epcisDocWithCustomSchemaInContext", 1),
    // the line is cut off mid-identifier at event 0's length (`…:bt:06141410734`)
    ("epcisDocWithDefaultSchemaInContext", 1),
];

/// The vector directory, or `None` when it is missing and `TRACEMARK_ALLOW_SKIP` allows
/// skipping tests that need `../shared` (a clone without it).
fn vectors() -> Option<PathBuf> {
    let dir = Path::new(VECTORS);
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    let allow = std::env::var("TRACEMARK_ALLOW_SKIP").unwrap_or_default();
    if allow.contains("shared") {
        eprintln!(
            "notice: {} is missing; event hash vectors skipped (TRACEMARK_ALLOW_SKIP)",
            dir.display()
        );
        return None;
    }
    panic!(
        "the event hash vectors are missing: {} (../shared/data/epcis-tests/event-hash); \
         set TRACEMARK_ALLOW_SKIP=shared to skip",
        dir.display()
    );
}

fn expected_lines(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

#[test]
fn event_hash_vectors() {
    let Some(dir) = vectors() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read the vector directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonld"))
        .collect();
    files.sort();
    let (mut pre_ok, mut pre_total, mut hash_ok, mut hash_total) = (0, 0, 0, 0);
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).expect("read a vector document");
        let document: serde_json::Value = serde_json::from_str(&text).expect("JSON vector");
        let context = HashContext::from_document(&document);
        let events = HashContext::events(&document);
        for (ext, is_hash) in [("prehashes", false), ("hashes", true)] {
            let Some(expected) = expected_lines(&file.with_extension(ext)) else {
                continue;
            };
            for (i, want) in expected.iter().enumerate() {
                let got = match events.get(i) {
                    Some(event) if is_hash => {
                        event_hash(event, &context).map_err(|e| e.to_string())
                    }
                    Some(event) => pre_hash(event, &context).map_err(|e| e.to_string()),
                    None => Err("no such event".to_string()),
                };
                let ok = got.as_deref() == Ok(want.as_str());
                if is_hash {
                    hash_total += 1;
                    hash_ok += usize::from(ok);
                } else {
                    pre_total += 1;
                    pre_ok += usize::from(ok);
                }
                let known = !is_hash && KNOWN_FAILURES.contains(&(stem.as_str(), i));
                if !ok && !known {
                    unexpected.push(format!(
                        "{stem}.{ext} event {i}:\n  expected {want}\n  got      {got:?}"
                    ));
                }
                if ok && known {
                    now_passing.push(format!("{stem} event {i}"));
                }
            }
            if events.len() != expected.len() {
                unexpected.push(format!(
                    "{stem}.{ext}: {} events, {} expected lines",
                    events.len(),
                    expected.len()
                ));
            }
        }
    }
    println!(
        "event hash: {pre_ok} of {pre_total} events match (pre-hash), {hash_ok} of {hash_total} (hash)"
    );
    assert!(
        pre_total > 0 && hash_total > 0,
        "no vectors found in {}",
        dir.display()
    );
    assert!(
        unexpected.is_empty(),
        "{} unexpected mismatches:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        now_passing.is_empty(),
        "known failures that now pass (remove them from KNOWN_FAILURES): {now_passing:?}"
    );
}
