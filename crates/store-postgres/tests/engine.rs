//! What the conformance suite cannot see of the PostgreSQL engine: migrations, racing
//! starts, all-or-nothing commits, durability across reconnects, secrets, calls from
//! inside a tokio runtime, and bounded waits. Each test on a fresh schema of the test
//! server (`store_postgres::testing::server`).

use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Store, WriteSet};
use store_postgres::{testing, Engine, PgOptions, PgStore, SCHEMA_VERSION};
use types::model::{Bucket, CodeEvent, CodeKey, CodeState, Status};

fn fresh() -> String {
    testing::fresh_schema(testing::server())
}

fn event(doc_seq: u64, prev: u64) -> CodeEvent {
    testing::emit_event(doc_seq, prev)
}

fn some_writes(seq: u64) -> WriteSet {
    WriteSet {
        events: vec![(CodeKey::unit(4_600_000_000_017, b"ABC"), 0, event(seq, 0))],
        inventory: vec![(1, 4_600_000_000_017, Bucket::Status(Status::Emitted), 1)],
        counters: vec![("doc_seq".into(), seq)],
        feed: vec![(seq, b"fact".to_vec())],
        ..WriteSet::default()
    }
}

#[test]
fn a_fresh_database_gets_the_whole_schema() {
    let url = fresh();
    let store = PgStore::connect(&url).expect("connect");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert!(matches!(store.engine(), Engine::Postgres { .. }));
    store.ping().expect("ping");
    // The packed rows' arrays stay in their row (schema 12: compressed there from 128
    // bytes on, never moved to the TOAST table while the row fits a page).
    let storage = testing::query(
        &url,
        "SELECT string_agg(attname || ' ' || attstorage::text, ', ' ORDER BY attname) \
         FROM pg_attribute WHERE attrelid = 'code_events'::regclass AND attnum > 0 \
         AND atttypid = ANY ('{bytea,_bytea,_int4}'::regtype[])",
    )
    .expect("storage");
    assert_eq!(
        storage[0][0].as_deref(),
        Some("codes m, events m, idx m, seqs m")
    );
    let target = testing::query(
        &url,
        "SELECT reloptions FROM pg_class WHERE oid = 'code_events'::regclass",
    )
    .expect("options");
    assert!(target[0][0]
        .as_deref()
        .is_some_and(|o| o.contains("toast_tuple_target=128")));
}

#[test]
fn an_older_schema_is_migrated_and_keeps_its_data() {
    let url = fresh();
    let old = PgStore::connect_at_version(&url, 1).expect("a version-1 database");
    assert_eq!(old.schema_version().expect("version"), 1);
    // Events and states as version 1 stored them (this build's commit writes version 8's
    // layout): a code with an event and its state, a code with a state only; the feed's
    // fact likewise (from 13 on a row says whether it is compressed).
    let mut w = some_writes(1);
    let events = std::mem::take(&mut w.events);
    w.feed.clear();
    old.commit(&w).expect("commit at version 1");
    // A record `types::feed::peek` reads (version 2, time 100, kind 2: a till check),
    // and bytes it cannot.
    testing::execute(
        &url,
        "INSERT INTO feed (seq, fact) VALUES (1, 'fact'), (2, '\\x026402')",
    )
    .expect("version-1 facts");
    let (abc, emitted) = (
        CodeKey::unit(4_600_000_000_017, b"ABC"),
        CodeKey::unit(4_600_000_000_017, b"NEW"),
    );
    let mut applied = CodeState::new(Status::Applied, 1, 5);
    applied.events = 1;
    let fresh_state = CodeState::new(Status::Emitted, 1, 4);
    testing::execute(
        &url,
        &testing::pre_v8_sql(&events, &[(abc, applied), (emitted, fresh_state)]),
    )
    .expect("version-1 events and states");
    // Version 1 has no secrets table.
    assert!(old.secret("k", &|| vec![1]).is_err());
    drop(old);

    let store = PgStore::connect(&url).expect("connect upgrades");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.counter("doc_seq").expect("counter"), 1);
    assert_eq!(
        store.feed(0, 10).expect("feed"),
        vec![(1, b"fact".to_vec()), (2, vec![2, 100, 2])]
    );
    // Migration 14's step wrote the kind of the fact it could read.
    let kinds = testing::query(&url, "SELECT kind FROM feed ORDER BY seq").expect("kinds");
    assert_eq!(kinds, vec![vec![None], vec![Some("2".to_string())]]);
    assert_eq!(
        store
            .feed_of_kinds(0, 2, 10, &[types::feed::FactKind::Verified])
            .expect("kinds"),
        vec![(1, b"fact".to_vec())],
        "a fact of no known kind is handed over, one of another kind is not"
    );
    assert_eq!(
        store
            .events(&CodeKey::unit(4_600_000_000_017, b"ABC"))
            .expect("events"),
        vec![event(1, 0)]
    );
    assert_eq!(
        store.codes(&[abc, emitted]).expect("states"),
        vec![Some(applied), Some(fresh_state)]
    );
    // In the scan's own order (place, then code: spread places here).
    let mut scan = store.code_states_after(None, 10).expect("scan");
    scan.sort_by_key(|(k, _)| *k);
    assert_eq!(scan, vec![(abc, applied), (emitted, fresh_state)]);
    // New states after the migrated ones: an event's, a state without one.
    let mut next = applied;
    next.events = 2;
    next.status = Status::Introduced;
    let mut later = fresh_state;
    later.owner = 2;
    store
        .commit(&WriteSet {
            codes: vec![(abc, next), (emitted, later)],
            events: vec![(abc, 1, event(2, 1))],
            ..WriteSet::default()
        })
        .expect("commit after the migration");
    assert_eq!(
        store.codes(&[emitted, abc]).expect("states"),
        vec![Some(later), Some(next)]
    );
    assert_eq!(store.codes(&[abc]).expect("state"), vec![Some(next)]);
    assert_eq!(
        store.events(&abc).expect("events"),
        vec![event(1, 0), event(2, 1)]
    );
    assert_eq!(store.secret("k", &|| vec![7]).expect("secret"), vec![7]);
    // A second connect finds nothing to do.
    drop(store);
    let again = PgStore::connect(&url).expect("connect again");
    assert_eq!(again.schema_version().expect("version"), SCHEMA_VERSION);
    let rows = testing::query(&url, "SELECT count(*) FROM tracemark_schema").expect("query");
    assert_eq!(rows[0][0].as_deref(), Some("1"));
}

#[test]
fn a_newer_schema_is_refused() {
    let url = fresh();
    drop(PgStore::connect(&url).expect("connect"));
    testing::execute(
        &url,
        &format!(
            "UPDATE tracemark_schema SET version = {}",
            SCHEMA_VERSION + 1
        ),
    )
    .expect("bump");
    let e = PgStore::connect(&url).err().expect("refused");
    assert!(e.to_string().contains("newer"), "{e}");
}

#[test]
fn racing_connects_on_an_empty_database_create_the_schema_once() {
    let url = fresh();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::connect(&url).map(|s| s.schema_version()))
        })
        .collect();
    for t in threads {
        let v = t
            .join()
            .expect("thread")
            .expect("connect")
            .expect("version");
        assert_eq!(v, SCHEMA_VERSION);
    }
    let rows = testing::query(&url, "SELECT count(*) FROM tracemark_schema").expect("query");
    assert_eq!(rows[0][0].as_deref(), Some("1"));
}

#[test]
fn a_commit_that_fails_midway_leaves_nothing() {
    let store = PgStore::connect(&fresh()).expect("connect");
    store.commit(&some_writes(1)).expect("first commit");
    // Events, inventory and the feed are written before the counters; a counter name
    // PostgreSQL cannot store (a NUL byte) fails the transaction after them.
    let mut bad = some_writes(2);
    bad.events = vec![(CodeKey::unit(4_600_000_000_017, b"XYZ"), 0, event(2, 0))];
    bad.counters.push(("bad\0name".into(), 9));
    assert!(store.commit(&bad).is_err(), "the bad set was accepted");
    assert_eq!(store.counter("doc_seq").expect("counter"), 1);
    assert_eq!(store.feed(0, 10).expect("feed").len(), 1);
    assert!(store
        .events(&CodeKey::unit(4_600_000_000_017, b"XYZ"))
        .expect("events")
        .is_empty());
    assert_eq!(
        store.inventory(1, 4_600_000_000_017).expect("inventory"),
        vec![(Bucket::Status(Status::Emitted), 1)]
    );
    // A state merged into its page, then the same failure: the page is as it was.
    let abc = CodeKey::unit(4_600_000_000_017, b"ABC");
    let mut first = some_writes(1);
    first.events.clear();
    first.codes = vec![(abc, CodeState::new(Status::Applied, 1, 1))];
    first.feed.clear();
    first.inventory.clear();
    store.commit(&first).expect("a state");
    let mut bad = some_writes(2);
    bad.feed = vec![(2, b"two".to_vec())];
    bad.codes = vec![(abc, CodeState::new(Status::Retired, 9, 9))];
    bad.counters.push(("bad\0name".into(), 9));
    assert!(store.commit(&bad).is_err(), "the bad set was accepted");
    assert_eq!(
        store.codes(&[abc]).expect("read"),
        vec![Some(CodeState::new(Status::Applied, 1, 1))],
        "the page is as it was"
    );
    assert_eq!(store.feed(0, 10).expect("feed").len(), 1);
    // The store carries on.
    let mut next = some_writes(2);
    next.events = vec![(CodeKey::unit(4_600_000_000_017, b"ABC"), 1, event(2, 1))];
    store
        .commit(&next)
        .expect("a good commit after the failures");
    assert_eq!(store.counter("doc_seq").expect("counter"), 2);
    assert_eq!(
        store.inventory(1, 4_600_000_000_017).expect("inventory"),
        vec![(Bucket::Status(Status::Emitted), 2)]
    );
}

#[test]
fn a_commit_cut_off_by_a_killed_connection_leaves_nothing() {
    let url = fresh();
    // Its own application name: the killer must not touch other tests' connections.
    let app = format!("tm_cut_{}", std::process::id());
    let store = PgStore::connect(&format!("{url}&application_name={app}")).expect("connect");
    // A big set keeps the transaction open long enough to kill its connection.
    let mut big = WriteSet::default();
    for n in 0..200_000u32 {
        let serial = format!("S{n:07}");
        big.events.push((
            CodeKey::unit(4_600_000_000_017, serial.as_bytes()),
            0,
            event(1, 0),
        ));
    }
    big.counters.push(("doc_seq".into(), 1));
    let killer = {
        let url = url.clone();
        std::thread::spawn(move || {
            // Kill the store's backend while it is in a transaction.
            let kill = format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = '{app}' AND xact_start IS NOT NULL"
            );
            for _ in 0..400 {
                let rows = testing::query(&url, &kill).expect("terminate");
                if rows[0][0].as_deref() != Some("0") {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        })
    };
    let r = store.commit(&big);
    let killed = killer.join().expect("killer");
    if killed {
        assert!(
            r.is_err(),
            "a commit whose connection was killed reported success"
        );
        assert_eq!(store.counter("doc_seq").expect("counter"), 0);
        let rows = testing::query(&url, "SELECT count(*) FROM code_events").expect("count");
        assert_eq!(rows[0][0].as_deref(), Some("0"), "half a commit is stored");
    } else {
        eprintln!("note: the commit finished before its connection could be killed");
        assert!(r.is_ok());
    }
    // The pool replaces the dead connection.
    store.commit(&some_writes(2)).expect("commit after");
    assert_eq!(store.counter("doc_seq").expect("counter"), 2);
}

#[test]
fn data_survives_a_reconnect() {
    let url = fresh();
    let store = PgStore::connect(&url).expect("connect");
    store.commit(&some_writes(1)).expect("commit");
    store
        .commit_projection("alerts", 5, &[(b"k".to_vec(), Some(b"v".to_vec()))])
        .expect("projection");
    drop(store);
    let store = PgStore::connect(&url).expect("reconnect");
    assert_eq!(store.counter("doc_seq").expect("counter"), 1);
    assert_eq!(
        store.feed(0, 10).expect("feed"),
        vec![(1, b"fact".to_vec())]
    );
    assert_eq!(
        store.projection_checkpoint("alerts").expect("checkpoint"),
        5
    );
    assert_eq!(
        store.projection_rows("alerts", b"", 10).expect("rows"),
        vec![(b"k".to_vec(), b"v".to_vec())]
    );
}

#[test]
fn a_secret_is_made_once_and_shared() {
    let url = fresh();
    let a = Arc::new(PgStore::connect(&url).expect("connect"));
    let b = Arc::new(PgStore::connect(&url).expect("connect"));
    // Racing makers: everyone gets the value stored first.
    let threads: Vec<_> = (0..8u8)
        .map(|n| {
            let s = if n % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || s.secret("token key", &|| vec![n; 32]).expect("secret"))
        })
        .collect();
    let got: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().expect("t")).collect();
    assert!(got.iter().all(|v| v == &got[0]), "{got:?}");
    assert_eq!(a.secret("token key", &|| vec![99]).expect("again"), got[0]);
    drop((a, b));
    let c = PgStore::connect(&url).expect("reconnect");
    assert_eq!(
        c.secret("token key", &|| panic!("made twice"))
            .expect("kept"),
        got[0]
    );
}

#[test]
fn calls_from_inside_a_tokio_runtime_do_not_panic() {
    let url = fresh();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = tokio::spawn(async move {
            let store = PgStore::connect(&url).expect("connect inside a runtime");
            store.commit(&some_writes(1)).expect("commit inside");
            assert_eq!(store.counter("doc_seq").expect("counter"), 1);
            store
        })
        .await
        .expect("task");
        // Dropped on a worker thread.
        tokio::spawn(async move { drop(store) })
            .await
            .expect("drop");
    });
}

#[test]
fn an_unreachable_server_is_an_error_soon() {
    let opts = PgOptions {
        connect_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let t0 = Instant::now();
    // Port 1: nothing listens there.
    let r = PgStore::connect_with("postgres://postgres@127.0.0.1:1/postgres", opts);
    assert!(r.is_err());
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

#[test]
fn statements_are_bounded_by_the_statement_timeout() {
    let url = fresh();
    let opts = PgOptions {
        statement_timeout: Duration::from_millis(300),
        ..PgOptions::default()
    };
    let store = PgStore::connect_with(&url, opts).expect("connect");
    // Another session holds a lock the commit needs: the commit gives up, it does not hang.
    let holder = {
        let url = url.clone();
        std::thread::spawn(move || {
            testing::execute(
                &url,
                "BEGIN; LOCK TABLE counters IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT",
            )
        })
    };
    // Wait until the other session holds the lock (not a fixed time: a busy machine).
    let held = Instant::now();
    loop {
        let rows = testing::query(
            &url,
            "SELECT count(*) FROM pg_locks WHERE relation = 'counters'::regclass \
             AND mode = 'AccessExclusiveLock' AND granted",
        )
        .expect("pg_locks");
        if rows[0][0].as_deref() == Some("1") {
            break;
        }
        assert!(
            held.elapsed() < Duration::from_secs(30),
            "the lock was never taken"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t0 = Instant::now();
    let r = store.commit(&some_writes(1));
    assert!(r.is_err(), "a commit waited past the lock");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    holder.join().expect("holder").expect("lock");
    store
        .commit(&some_writes(1))
        .expect("commit once the lock is gone");
}

#[test]
fn the_fact_inbox_hands_each_fact_to_one_commit() {
    let url = fresh();
    let reader = PgStore::connect(&url).expect("reader's store");
    let writer = PgStore::connect(&url).expect("writer's store");
    assert_eq!(writer.inbox_take(10).expect("take"), vec![]);
    let facts: Vec<Vec<u8>> = (0..5u8).map(|n| vec![n; 3]).collect();
    assert_eq!(reader.inbox_put(&facts[..3]).expect("put"), 3);
    assert_eq!(reader.inbox_put(&facts[3..]).expect("put"), 2);
    let taken = writer.inbox_take(4).expect("take");
    assert_eq!(
        taken.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
        facts[..4].to_vec(),
        "the oldest first"
    );
    // Taken but not committed: still there for the next take.
    assert_eq!(writer.inbox_take(10).expect("take").len(), 5);
    // The commit that appends them to the feed removes them, and only them.
    let upto = taken.last().map(|(id, _)| *id);
    let mut set = some_writes(1);
    set.inbox_upto = upto;
    writer.commit(&set).expect("commit");
    let left = writer.inbox_take(10).expect("take");
    assert_eq!(
        left.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
        facts[4..].to_vec()
    );
    // A commit that fails removes nothing: this one names a counter PostgreSQL cannot
    // store (a NUL byte), after its facts and events are written.
    let mut bad = some_writes(2);
    bad.counters.push(("bad\0name".into(), 9));
    bad.inbox_upto = left.last().map(|(id, _)| *id);
    assert!(writer.commit(&bad).is_err());
    assert_eq!(writer.inbox_take(10).expect("take").len(), 1);
}

#[test]
fn a_full_inbox_refuses_more() {
    let url = fresh();
    let store = PgStore::connect(&url).expect("store");
    let batch: Vec<Vec<u8>> = vec![b"f".to_vec(); 10_000];
    let mut kept = 0;
    while kept < store_postgres::INBOX_ROWS_MAX {
        let n = store.inbox_put(&batch).expect("put");
        assert_eq!(n, batch.len(), "all of a batch or none");
        kept += n;
    }
    assert_eq!(kept, store_postgres::INBOX_ROWS_MAX);
    assert_eq!(store.inbox_put(&batch).expect("put when full"), 0);
    // Not one over the bound either.
    assert_eq!(store.inbox_put(&batch[..1]).expect("put one"), 0);
    assert_eq!(
        store.inbox_take(usize::MAX).expect("take").len(),
        store_postgres::INBOX_ROWS_MAX
    );
}

#[test]
fn the_writer_takes_only_read_facts_from_the_inbox() {
    use types::feed::{self, BlockFact, Fact, FactKey, TailFailedFact, Who};
    let url = fresh();
    let store = Arc::new(PgStore::connect(&url).expect("store"));
    let w = conformance::World::open(store.clone());
    let read = Fact::TailFailed(TailFailedFact {
        at: 1,
        who: Who::Client(7),
        key: FactKey(CodeKey::unit(4_600_000_000_017, b"ABC")),
        via: "verify".into(),
        holder: false,
    });
    // What no reader makes: a row someone put there by hand.
    let forged = Fact::Block(BlockFact {
        id: 1,
        lifted: true,
        at: 1,
        actor: 1,
    });
    let head = store.counter("feed_seq").expect("head").max(1) - 1;
    let rows = [feed::encode(0, &forged), feed::encode(0, &read)].map(|r| r.expect("encodes"));
    assert_eq!(store.inbox_put(&rows).expect("put"), 2);
    assert_eq!(w.reg.take_inbox().expect("take"), 1);
    let facts: Vec<Fact> = w
        .reg
        .feed(head, 100)
        .expect("feed")
        .into_iter()
        .map(|e| e.fact)
        .collect();
    assert!(facts.contains(&read), "{facts:?}");
    assert!(
        !facts.iter().any(|f| matches!(f, Fact::Block(_))),
        "{facts:?}"
    );
    assert_eq!(store.inbox_take(10).expect("take"), vec![], "both removed");
}

/// Schema 13: a long body and a long fact are stored compressed (`zstd`), short ones as
/// they are, and both read back byte for byte; so does a body that does not compress.
#[test]
fn long_bodies_and_facts_are_stored_compressed_and_read_back_exact() {
    use types::model::{DocType, StoredDocument};
    let url = fresh();
    let store = PgStore::connect(&url).expect("connect");
    let codes: Vec<String> = (0..1000)
        .map(|n| format!("\"0104600000001001421S{:08x}\"", n * 2_654_435_761u64))
        .collect();
    let long = format!("{{\"codes\":[{}]}}", codes.join(",")).into_bytes();
    // Bytes that do not compress (a SHA-256 chain), over the size from which it is tried.
    let noise: Vec<u8> = (0u32..64)
        .flat_map(|i| {
            use sha2::Digest;
            sha2::Sha256::digest(i.to_le_bytes())
        })
        .collect();
    let doc = |n: u128, body: &[u8]| StoredDocument {
        id: uuid::Uuid::from_u128(n),
        seq: n as u64,
        doc_type: DocType::Emit,
        participant: 1,
        received_at: 1_740_830_400,
        codes: 1,
        body_hash: [n as u8; 32],
        chain: [7; 32],
        signature: format!("sig{n}"),
        request: Default::default(),
        log_index: None,
        body: body.to_vec(),
    };
    let docs = vec![doc(1, &long), doc(2, b"{\"n\":2}"), doc(3, &noise)];
    store
        .commit(&WriteSet {
            documents: docs.clone(),
            feed: vec![(1, long.clone()), (2, b"fact".to_vec()), (3, noise.clone())],
            ..WriteSet::default()
        })
        .expect("commit");
    for d in &docs {
        assert_eq!(store.document(&d.id).expect("read").as_ref(), Some(d));
    }
    assert_eq!(
        store.feed(0, 10).expect("feed"),
        vec![(1, long.clone()), (2, b"fact".to_vec()), (3, noise.clone())]
    );
    let stored = |table: &str| {
        let column = if table == "documents" { "body" } else { "fact" };
        testing::query(
            &url,
            &format!("SELECT zstd, octet_length({column}) FROM {table} ORDER BY seq"),
        )
        .expect("rows")
        .into_iter()
        .map(|r| {
            (
                r[0].as_deref() == Some("t"),
                r[1].as_deref()
                    .expect("a length")
                    .parse::<usize>()
                    .expect("n"),
            )
        })
        .collect::<Vec<_>>()
    };
    for table in ["documents", "feed"] {
        let rows = stored(table);
        assert!(rows[0].0 && rows[0].1 < long.len() / 2, "{table}: {rows:?}");
        assert_eq!(
            rows[1..],
            [(false, rows[1].1), (false, noise.len())],
            "{table}"
        );
    }
}
