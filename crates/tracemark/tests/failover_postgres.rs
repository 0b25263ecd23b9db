//! Failover, end to end (`suites/crash.rs` with a standby): two `tracemark serve --postgres`
//! processes on one fresh schema, one the writer and one a reader; four client lines stream
//! documents to the writer and it gets SIGKILL mid-stream; the reader takes the writer's
//! lease, the lines go on with it, and a new reader starts for the next round. Every
//! acknowledged document is there, none is applied twice, every code is as the model says.

#[path = "suites/crash.rs"]
mod suite;

/// The store's flags: `--postgres` with a fresh schema, for every process.
fn store_args(_tmp: &std::path::Path) -> Vec<String> {
    vec![
        "--postgres".into(),
        store_postgres::testing::fresh_schema(store_postgres::testing::server()),
    ]
}

/// Kills are failovers to a standby process on the same database.
fn fault() -> suite::Fault {
    suite::Fault::Failover
}
