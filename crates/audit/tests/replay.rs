//! The replay refuses what the live writer refuses: a change asked for by a participant
//! suspended at the time. A real log is made in process (a shop sells, then is suspended)
//! and replayed with those two records swapped — as an edited log would have them — so
//! that the sale comes after the suspension: the replay stops at the sale, naming the
//! suspension. In the log's own order every record replays.

use audit::replay::Replay;
use conformance::World;
use std::sync::Arc;
use store::Store;
use types::log::{self, LeafKind};

/// The seed of the world (its keyring, so its codes' tails, come from it).
const SEED: u64 = 41;

/// Every log record of `store`, with its bytes.
fn leaves(store: &dyn Store) -> Vec<(Vec<u8>, log::Leaf)> {
    let size = store.counter("log_size").expect("log size");
    (0..size)
        .map(|i| {
            let bytes = store.log_leaf(i).expect("read").expect("a record");
            let leaf = log::decode(&bytes).expect("decodes");
            (bytes, leaf)
        })
        .collect()
}

/// Replays the records of `all` in `order` (indices into `all`) as log records 0, 1, …
/// into a fresh scratch store: the first refusal, with its position.
fn replay(
    audited: &dyn Store,
    all: &[(Vec<u8>, log::Leaf)],
    order: &[usize],
) -> Option<(usize, String)> {
    let dir = tempfile::tempdir().expect("tmp");
    let scratch = store_fjall::FjallStore::open_with(dir.path(), false).expect("scratch");
    let mut r = Replay::new(&scratch, conformance::seeded_keyring(SEED)).expect("replay");
    for (at, &i) in order.iter().enumerate() {
        let (bytes, leaf) = &all[i];
        if let Err(p) = r.apply(audited, at as u64, bytes, leaf).expect("storage") {
            return Some((at, p));
        }
    }
    None
}

#[test]
fn a_document_of_a_suspended_participant_does_not_replay() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(store_fjall::FjallStore::open_with(dir.path(), false).expect("store"));
    let w = World::open_seeded(store.clone(), SEED);
    let c = w.at_retailer(1);
    w.sell(&w.retailer, &c).expect("sold");
    w.reg
        .suspend(&w.retailer.tin, "an inspection")
        .expect("suspend");
    let all = leaves(store.as_ref());
    let n = all.len();
    let (sale, suspension) = (n - 2, n - 1);
    assert_eq!(all[sale].1.kind, LeafKind::Document);
    assert_eq!(all[sale].1.actor, w.retailer.id);
    assert_eq!(all[suspension].1.kind, LeafKind::Suspension);

    let as_logged: Vec<usize> = (0..n).collect();
    assert_eq!(
        replay(store.as_ref(), &all, &as_logged),
        None,
        "the log as written replays"
    );

    let mut swapped = as_logged.clone();
    swapped.swap(sale, suspension);
    let (at, why) = replay(store.as_ref(), &all, &swapped).expect("the swapped log is refused");
    assert_eq!(
        at, suspension,
        "stopped at the sale, after the suspension: {why}"
    );
    assert!(
        why.contains(&w.retailer.tin) && why.contains("suspended (an inspection)"),
        "{why}"
    );
}
