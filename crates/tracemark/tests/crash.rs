//! The SIGKILL crash test (`suites/crash.rs`) on the embedded store.

#[path = "suites/crash.rs"]
mod suite;

/// The store's flags: a data directory in the test's temporary directory.
fn store_args(tmp: &std::path::Path) -> Vec<String> {
    vec![
        "--data".into(),
        tmp.join("data").to_string_lossy().into_owned(),
    ]
}

/// Kills are restarts on the same store.
fn fault() -> suite::Fault {
    suite::Fault::Restart
}
