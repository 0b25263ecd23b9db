//! The engine-agnostic conformance suite, run against the fjall engine.

use std::sync::Arc;

#[test]
fn conformance_suite() {
    registry::conformance::run_all(&|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_fjall::FjallStore::open(dir.path()).expect("open store");
        (Arc::new(store) as Arc<dyn registry::Store>, Box::new(dir) as Box<dyn std::any::Any>)
    });
}
