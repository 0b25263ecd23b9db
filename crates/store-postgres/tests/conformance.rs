//! The engine-agnostic conformance suite, run against PostgreSQL: one `#[test]` per
//! conformance test, each on a fresh schema of the test server
//! (`store_postgres::testing::server`: `TRACEMARK_TEST_POSTGRES`, or a throwaway cluster
//! for this test binary). `cargo test -p store-postgres --test conformance -- NAME` runs one.

use std::sync::Arc;

fn make_store() -> (Arc<dyn registry::Store>, Box<dyn std::any::Any>) {
    let url = store_postgres::testing::fresh_schema(store_postgres::testing::server());
    let store = store_postgres::PgStore::connect(&url).expect("connect to PostgreSQL");
    (
        Arc::new(store) as Arc<dyn registry::Store>,
        Box::new(()) as Box<dyn std::any::Any>,
    )
}

registry::conformance_tests!(make_store);
