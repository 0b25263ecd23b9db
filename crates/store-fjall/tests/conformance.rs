//! The engine-agnostic conformance suite, run against the fjall engine: one `#[test]` per
//! conformance test (`cargo test -p store-fjall --test conformance -- NAME` runs one).

use std::sync::Arc;

/// The store as `serve` opens it: codes' states placed by a serial permutation (another
/// key than the registry's: any key places every code somewhere, in some order).
fn make_store() -> (Arc<dyn store::Store>, Box<dyn std::any::Any>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let placement = store_fjall::Placement::new(issuance::SerialGenerator::new([7; 32]));
    let store =
        store_fjall::FjallStore::open_with_placement(dir.path(), placement).expect("open store");
    (
        Arc::new(store) as Arc<dyn store::Store>,
        Box::new(dir) as Box<dyn std::any::Any>,
    )
}

conformance::conformance_tests!(make_store);

/// The same suite on a store opened without placement (every state spread by a hash).
mod spread {
    use std::sync::Arc;

    fn make_store() -> (Arc<dyn store::Store>, Box<dyn std::any::Any>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_fjall::FjallStore::open(dir.path()).expect("open store");
        (
            Arc::new(store) as Arc<dyn store::Store>,
            Box::new(dir) as Box<dyn std::any::Any>,
        )
    }

    conformance::conformance_tests!(make_store);
}

/// The same suite through `run_all`, as other engines' harnesses call it (opt-in, it
/// repeats every test above): `CONFORMANCE_RUN_ALL=1`.
#[test]
fn run_all_names_failures() {
    if std::env::var_os("CONFORMANCE_RUN_ALL").is_some() {
        conformance::run_all(&make_store);
    }
}
