//! What the tests that read `../shared` share: finding its data (or skipping where a clone
//! has none and `TRACEMARK_ALLOW_SKIP` says so), and checking the committed files generated
//! from it (or writing them, with `TRACEMARK_REGENERATE=1`).
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/data` beside the repository, as this crate sees it.
pub const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// `../shared/data/<rel>`, or `None` when it is missing and `TRACEMARK_ALLOW_SKIP` contains
/// `shared` (a clone without `../shared`): then a notice says that `what` is skipped.
/// Missing otherwise, the test fails naming the path.
pub fn shared(rel: &str, what: &str) -> Option<PathBuf> {
    let path = Path::new(SHARED_DATA).join(rel);
    if path.exists() {
        return Some(path);
    }
    let allow = std::env::var("TRACEMARK_ALLOW_SKIP").unwrap_or_default();
    if allow.contains("shared") {
        eprintln!(
            "notice: {} is missing; {what} skipped (TRACEMARK_ALLOW_SKIP)",
            path.display()
        );
        return None;
    }
    panic!(
        "{what}: {} is missing (../shared/data/{rel}); set TRACEMARK_ALLOW_SKIP=shared to skip",
        path.display()
    );
}

/// Every file under `dir` (its folders walked) whose extension is one of `exts`, sorted by
/// path.
pub fn files_with(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Reads a file of `../shared` that [`shared`] found, failing the test with its path.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Parses a JSON file of `../shared`, failing the test with its path.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = read(path);
    // Some of GS1's files start with a byte order mark.
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Whether generated files are to be written rather than compared: `TRACEMARK_REGENERATE`
/// set to anything but empty or `0`.
pub fn regenerating() -> bool {
    std::env::var("TRACEMARK_REGENERATE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compares the committed file `rel` (a path in this crate) with `generated`, what the data
/// in `../shared` gives now; with `TRACEMARK_REGENERATE=1`, writes it instead. `test` is
/// the test binary that generates it, named in the failure's advice.
pub fn check_generated(rel: &str, generated: &[u8], test: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if regenerating() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(&path, generated)
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("notice: regenerated {rel} (TRACEMARK_REGENERATE)");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != generated {
        let line = first_different_line(&committed, generated);
        panic!(
            "crates/epcis/{rel} differs from what ../shared/data gives now (first at line \
             {line}); regenerate it with TRACEMARK_REGENERATE=1 cargo test -p epcis --test {test}"
        );
    }
}

/// The 1-based number of the first line where `a` and `b` differ.
fn first_different_line(a: &[u8], b: &[u8]) -> usize {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    1 + a[..same].iter().filter(|&&c| c == b'\n').count()
}
