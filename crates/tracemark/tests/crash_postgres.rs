//! The SIGKILL crash test (`suites/crash.rs`) on PostgreSQL: every restart on the same fresh
//! schema of the test cluster; a restarted server waits for the killed one's lease to run
//! out before it writes.

#[path = "suites/crash.rs"]
mod suite;

/// The store's flags: `--postgres` with a fresh schema.
fn store_args(_tmp: &std::path::Path) -> Vec<String> {
    vec![
        "--postgres".into(),
        store_postgres::testing::fresh_schema(store_postgres::testing::server()),
    ]
}

/// Kills are restarts on the same store.
fn fault() -> suite::Fault {
    suite::Fault::Restart
}
