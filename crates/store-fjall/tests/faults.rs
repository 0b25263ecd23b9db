//! The fjall engine with faults injected (`conformance::faults::FaultyStore`): what the
//! registry does when a read fails in the middle of a document, when the disk is full, and
//! when the store loses durability (a failed fsync).

use conformance::faults::FaultyStore;
use conformance::World;
use registry::Error;
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use store::StoreErrorKind;

fn world() -> (tempfile::TempDir, Arc<FaultyStore>, World) {
    let dir = tempfile::tempdir().expect("temp dir");
    let inner = Arc::new(store_fjall::FjallStore::open(dir.path()).expect("open store"));
    let store = Arc::new(FaultyStore::new(inner));
    let w = World::open(store.clone());
    (dir, store, w)
}

fn write_off(w: &World, code: &str) -> registry::Result<registry::DocAnswer> {
    w.doc(
        &w.producer,
        json!({"type": "write_off", "codes": [code], "reason": "damage"}),
    )
}

/// A document whose application hits a store error is refused whole: nothing it began to
/// change reaches the store.
#[test]
fn a_store_error_while_applying_leaves_nothing_half_done() {
    let (_dir, store, w) = world();
    let c = w.introduced(4);
    let (b1, b2) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b1, &c[0..2]);
    w.aggregate(&w.producer, &b2, &c[2..4]);
    let (n, head) = w.reg.log_head().expect("log head");
    // Reading the second box's contents fails while the document is applied.
    let b2_key = registry::code_key(&b2).expect("sscc");
    store.faults(|f| f.children_of = Some(b2_key));
    let r = w.doc(
        &w.producer,
        json!({"type": "write_off", "codes": [c[0], c[2]], "reason": "damage"}),
    );
    assert!(r.is_err(), "{r:?}");
    store.faults(|f| f.children_of = None);
    let mut kids = w.children(&b1);
    kids.sort();
    let mut want: Vec<String> = c[0..2]
        .iter()
        .map(|x| registry::code_key(x).expect("code").to_string())
        .collect();
    want.sort();
    assert_eq!(
        kids, want,
        "a refused document changed a package's contents"
    );
    assert_eq!(w.state(&c[0]).parent.as_deref(), Some(b1.as_str()));
    assert_eq!(w.reg.log_head().expect("log head"), (n, head));
}

/// A full disk refuses writes with 503 `storage-full` (the writer says since when), changes
/// nothing, and writes go through again by themselves once there is room.
#[test]
fn a_full_disk_refuses_writes_until_there_is_room() {
    let (_dir, store, w) = world();
    let c = w.introduced(3);
    let (n, head) = w.reg.log_head().expect("log head");
    let status = w.state(&c[0]).status;
    store.faults(|f| f.commit = Some(StoreErrorKind::Full));
    let r = write_off(&w, &c[0]);
    assert!(matches!(r, Err(Error::StorageFull(_))), "{r:?}");
    assert_ne!(w.reg.writer_stats().full_since.load(Relaxed), 0);
    assert_eq!(
        w.reg.log_head().expect("log head"),
        (n, head),
        "nothing changed"
    );
    assert_eq!(w.state(&c[0]).status, status, "nothing changed");
    // Room again: the same document goes through, and the writer forgets the full disk.
    store.faults(|f| f.commit = None);
    write_off(&w, &c[0]).expect("accepted once there is room");
    assert_eq!(w.reg.writer_stats().full_since.load(Relaxed), 0);
    assert_eq!(w.reg.log_head().expect("log head").0, n + 1);
}

/// After a commit fails for a lost durability (a failed fsync), the writer writes nothing
/// more, even if the store would take writes again: the page cache cannot be trusted, and
/// the process exits (`serve`) to recover from its journal.
#[test]
fn after_the_store_loses_durability_the_writer_writes_nothing_more() {
    let (_dir, store, w) = world();
    let c = w.introduced(3);
    let (n, head) = w.reg.log_head().expect("log head");
    let lost = Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = lost.clone();
    w.reg
        .on_store_lost(move |why| *seen.lock().expect("lock") = Some(why.to_string()));
    store.faults(|f| f.commit = Some(StoreErrorKind::Lost));
    let r = write_off(&w, &c[0]);
    assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    let why = w
        .reg
        .writer_stats()
        .lost
        .get()
        .cloned()
        .expect("the loss is kept");
    assert!(why.contains("injected"), "{why}");
    // The store would write again; the writer does not try.
    store.faults(|f| f.commit = None);
    let tried = store.commit_attempts.load(Relaxed);
    let r = write_off(&w, &c[1]);
    assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    assert_eq!(
        store.commit_attempts.load(Relaxed),
        tried,
        "no commit after the loss"
    );
    assert_eq!(
        w.reg.log_head().expect("log head"),
        (n, head),
        "nothing changed"
    );
    // The watcher `serve` exits from is told, once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while lost.lock().expect("lock").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(lost.lock().expect("lock").as_deref(), Some(why.as_str()));
}
