//! A database outage, end to end (`suites/crash.rs` with the outage fault): `tracemark serve
//! --postgres` on a cluster of this test's own (`store_postgres::testing::own_cluster`);
//! four client lines stream documents and the database is stopped as in a crash
//! (`pg_ctl stop -m immediate`) mid-stream, five times. While it is down the server answers
//! 503 with `Retry-After` and `/health` says so; when it is back the same server process
//! carries on (no restart); every acknowledged document is there, none is applied twice,
//! every code is as the model says.

#[path = "suites/crash.rs"]
mod suite;

use store_postgres::testing::{own_cluster, own_cluster_do};

/// The store's flags: `--postgres` on this test's own cluster.
fn store_args(_tmp: &std::path::Path) -> Vec<String> {
    vec!["--postgres".into(), own_cluster().postgres.clone()]
}

/// Each round stops the database under the running server and starts it again.
fn fault() -> suite::Fault {
    suite::Fault::Outage {
        stop: || own_cluster_do("down"),
        start: || own_cluster_do("up"),
    }
}
