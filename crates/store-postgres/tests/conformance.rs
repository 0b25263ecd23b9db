//! The engine-agnostic conformance suite, run against PostgreSQL: one `#[test]` per
//! conformance test, each on a fresh schema of the test server
//! (`store_postgres::testing::server`: `TRACEMARK_TEST_POSTGRES`, or a throwaway cluster
//! for this test binary). `cargo test -p store-postgres --test conformance -- NAME` runs one.

use std::sync::Arc;

/// The store as the registry connects it: codes' rows placed by a serial permutation
/// (another key than the registry's: any key places every code somewhere).
fn make_store() -> (Arc<dyn store::Store>, Box<dyn std::any::Any>) {
    let url = store_postgres::testing::fresh_schema(store_postgres::testing::server());
    let store = store_postgres::PgStore::connect_placed(
        &url,
        store_postgres::PgOptions::default(),
        store_postgres::testing::placement(),
    )
    .expect("connect to PostgreSQL");
    (
        Arc::new(store) as Arc<dyn store::Store>,
        Box::new(()) as Box<dyn std::any::Any>,
    )
}

conformance::conformance_tests!(make_store);

/// The same suite on a store connected without a keyring (every code's rows spread).
mod spread {
    use std::sync::Arc;

    fn make_store() -> (Arc<dyn store::Store>, Box<dyn std::any::Any>) {
        let url = store_postgres::testing::fresh_schema(store_postgres::testing::server());
        let store = store_postgres::PgStore::connect(&url).expect("connect to PostgreSQL");
        (
            Arc::new(store) as Arc<dyn store::Store>,
            Box::new(()) as Box<dyn std::any::Any>,
        )
    }

    conformance::conformance_tests!(make_store);
}

/// The same suite through `run_all`, as the Citus test calls it (opt-in, it repeats every
/// test above): `CONFORMANCE_RUN_ALL=1`.
#[test]
fn run_all_names_failures() {
    if std::env::var_os("CONFORMANCE_RUN_ALL").is_some() {
        conformance::run_all(&make_store);
    }
}
