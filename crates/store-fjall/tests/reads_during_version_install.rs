//! Reads do not wait for a flush or compaction installing the tree's next version.
//!
//! lsm-tree persists a new version (with several fsyncs) while it holds the version
//! history's write lock. Under write load that took 30–50 ms here, and every read of the
//! tree waited for it: the till check's tail in the soak. The vendored lsm-tree
//! (vendor/lsm-tree/TRACEMARK.md) lets a read take the latest published version instead.
//! This test holds the lock as such a writer does and reads meanwhile. Without the patch
//! the reads would wait until the holder gives up, and the test fails. Snapshot reads must
//! still wait (the database's visible seqno can pass a version still being installed), and
//! the second test checks that they do.

use fjall::{AnyTree, Database, Keyspace, KeyspaceCreateOptions, Readable};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long the snapshot test holds the lock before it lets go (the read must not return
/// sooner).
const SNAPSHOT_HOLD: Duration = Duration::from_millis(300);

/// How long the holder keeps the lock at most while waiting for the reads (generous: a
/// busy machine).
const HOLD_MAX: Duration = Duration::from_secs(60);

/// A database in a temporary directory (kept while the first item lives) with one table.
fn code_table() -> (tempfile::TempDir, Database, Keyspace) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::builder(dir.path()).open().expect("open");
    let ks = db
        .keyspace("codes", KeyspaceCreateOptions::default)
        .expect("keyspace");
    (dir, db, ks)
}

#[test]
fn reads_go_on_while_a_version_is_being_installed() {
    let (_dir, _db, ks) = code_table();
    for i in 0u32..100 {
        ks.insert(i.to_be_bytes(), b"state").expect("insert");
    }
    // Some in a table, some in the memtable: both are read through the version.
    ks.rotate_memtable_and_wait().expect("flush");
    for i in 100u32..200 {
        ks.insert(i.to_be_bytes(), b"state").expect("insert");
    }
    let AnyTree::Standard(tree) = &ks.tree else {
        panic!("the code table is a standard tree");
    };
    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let read_while_held = std::thread::scope(|s| {
        let holder = s.spawn(move || {
            tree.with_version_history_locked(|| {
                held_tx.send(()).expect("signal");
                done_rx.recv_timeout(HOLD_MAX).is_ok()
            })
        });
        held_rx.recv().expect("the holder took the lock");
        assert_eq!(
            ks.get(5u32.to_be_bytes()).expect("get").as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(
            ks.get(150u32.to_be_bytes()).expect("get").as_deref(),
            Some(&b"state"[..])
        );
        assert!(ks.get(500u32.to_be_bytes()).expect("get").is_none());
        let scanned = ks.range(10u32.to_be_bytes()..20u32.to_be_bytes()).count();
        assert_eq!(scanned, 10);
        let _ = done_tx.send(());
        holder.join().expect("holder")
    });
    assert!(
        read_while_held,
        "the reads waited for the version history's write lock"
    );
}

#[test]
fn a_snapshot_read_waits_for_the_install() {
    let (_dir, db, ks) = code_table();
    ks.insert(b"k", b"v").expect("insert");
    let snapshot = db.snapshot();
    let AnyTree::Standard(tree) = &ks.tree else {
        panic!("the code table is a standard tree");
    };
    let released = AtomicBool::new(false);
    let (held_tx, held_rx) = mpsc::channel();
    std::thread::scope(|s| {
        let released = &released;
        s.spawn(move || {
            tree.with_version_history_locked(|| {
                held_tx.send(()).expect("signal");
                std::thread::sleep(SNAPSHOT_HOLD);
                released.store(true, Ordering::SeqCst);
            })
        });
        held_rx.recv().expect("the holder took the lock");
        let v = snapshot.get(&ks, b"k").expect("snapshot get");
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
        assert!(
            released.load(Ordering::SeqCst),
            "a snapshot read took the published version instead of waiting for the lock"
        );
    });
}
