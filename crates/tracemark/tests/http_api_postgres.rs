//! The HTTP suite (`suites/http_api.rs`) on PostgreSQL: each server on a fresh schema of the
//! test cluster (`TRACEMARK_TEST_POSTGRES`, or one this binary starts: `store_postgres::testing`).

#[path = "suites/http_api.rs"]
mod suite;

/// The registry's home: a fresh schema of the test cluster (the directory is not used).
fn home(_dir: &std::path::Path) -> node::Home {
    node::Home::Postgres(store_postgres::testing::fresh_schema(
        store_postgres::testing::server(),
    ))
}
