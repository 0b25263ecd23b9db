//! Schema version 4's time partitions, on plain PostgreSQL and on a Citus coordinator
//! (skipped, with the reason, when there is none): a version-3 database with data is
//! migrated and keeps all of it; partitions are made ahead as the keys grow (and one for
//! a gap when a key jumps far ahead); an old partition can be detached for archiving and
//! attached again.

use store::{encode_document_meta, Store, WriteSet};
use store_postgres::{testing, PgStore, SCHEMA_VERSION};
use types::model::{CodeEvent, CodeKey, DocType, StoredDocument};
use uuid::Uuid;

fn doc(seq: u64) -> StoredDocument {
    StoredDocument {
        id: Uuid::from_u128(0x1000 + u128::from(seq)),
        seq,
        doc_type: DocType::Emit,
        participant: 1,
        received_at: 1_740_830_400 + seq,
        codes: 1,
        body_hash: [seq as u8; 32],
        chain: [7; 32],
        signature: format!("sig{seq}"),
        request: Default::default(),
        log_index: Some(seq),
        body: format!("{{\"n\":{seq}}}").into_bytes(),
    }
}

fn event(doc_seq: u64) -> CodeEvent {
    testing::emit_event(doc_seq, 0)
}

fn code(n: u64) -> CodeKey {
    CodeKey::unit(4_600_000_000_017, format!("S{n}").as_bytes())
}

/// What a commit of the registry writes for document `seq`: the document, its leaf, a
/// fact, an event (`feed` and `leaf`: those rows' keys).
fn writes(seq: u64, feed: u64, leaf: u64) -> WriteSet {
    WriteSet {
        documents: vec![doc(seq)],
        events: vec![(code(seq), 0, event(seq))],
        counters: vec![("doc_seq".into(), seq)],
        feed: vec![(feed, format!("fact{feed}").into_bytes())],
        log_leaves: vec![(leaf, format!("leaf{leaf}").into_bytes())],
        ..WriteSet::default()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Document `seq` as the version-3 store wrote it (its `documents` table is keyed by id
/// alone, which the version-4 commit cannot write into).
fn v3_document_sql(d: &StoredDocument) -> String {
    format!(
        "INSERT INTO documents (id, seq, meta, body) VALUES ('{}', {}, '\\x{}', '\\x{}'); \
         INSERT INTO document_seqs (seq, id, log_index) VALUES ({}, '{}', {});",
        d.id,
        d.seq,
        hex(&encode_document_meta(d).expect("meta")),
        hex(&d.body),
        d.seq,
        d.id,
        d.log_index.expect("log index"),
    )
}

/// Feed and leaf keys of the version-3 data: some beyond the first partition (2^24).
const OLD: [(u64, u64); 4] = [(1, 1), (2, 2), (3, 20_000_000), (4, 40_000_000)];

fn a_version_3_database_keeps_its_data(url: &str) {
    let old = PgStore::connect_at_version(url, 3).expect("a version-3 database");
    assert_eq!(old.schema_version().expect("version"), 3);
    for (seq, key) in OLD {
        let mut w = writes(seq, key, key);
        w.documents.clear();
        let events = std::mem::take(&mut w.events);
        // The fact as version 3 wrote it too (from 13 on a row says whether it is
        // compressed, which the version-3 table has no column for).
        let facts = std::mem::take(&mut w.feed);
        old.commit(&w).expect("commit at version 3");
        for (n, fact) in facts {
            testing::execute(
                url,
                &format!(
                    "INSERT INTO feed (seq, fact) VALUES ({n}, '\\x{}')",
                    hex(&fact)
                ),
            )
            .expect("a version-3 fact");
        }
        testing::execute(url, &v3_document_sql(&doc(seq))).expect("a version-3 document");
        testing::execute(url, &testing::pre_v8_sql(&events, &[])).expect("version-3 events");
    }
    drop(old);

    let store = PgStore::connect(url).expect("connect migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    for (seq, key) in OLD {
        assert_eq!(
            store.document(&doc(seq).id).expect("document"),
            Some(doc(seq))
        );
        assert_eq!(
            store.document_id_by_seq(seq).expect("by seq"),
            Some(doc(seq).id)
        );
        assert_eq!(store.document_log_index(seq).expect("log index"), Some(seq));
        assert_eq!(
            store.log_leaf(key).expect("leaf"),
            Some(format!("leaf{key}").into_bytes())
        );
        assert_eq!(store.events(&code(seq)).expect("events"), vec![event(seq)]);
    }
    assert_eq!(
        store.feed(0, 100).expect("feed"),
        OLD.iter()
            .map(|(_, k)| (*k, format!("fact{k}").into_bytes()))
            .collect::<Vec<_>>()
    );
    assert_eq!(store.counter("doc_seq").expect("counter"), 4);
    // Partitions for the rows there were, and half a partition beyond: the feed's
    // 40,000,000 is in its third partition of 2^24.
    let parts = store.partitions().expect("partitions");
    let of = |t: &str| parts.iter().filter(|p| p.0 == t).count();
    assert_eq!(
        (of("documents"), of("feed"), of("log_leaves")),
        (1, 3, 3),
        "{parts:?}"
    );
    // The old tables are gone; the store goes on writing.
    let rows = testing::query(
        url,
        "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_v3' \
         AND relnamespace = current_schema()::regnamespace",
    )
    .expect("query");
    assert_eq!(rows[0][0].as_deref(), Some("0"));
    store
        .commit(&writes(5, 40_000_001, 40_000_001))
        .expect("commit at version 4");
    assert_eq!(store.document(&doc(5).id).expect("document"), Some(doc(5)));
    assert_eq!(store.feed(40_000_000, 10).expect("feed").len(), 1);
}

#[test]
fn a_version_3_database_is_partitioned_and_keeps_its_data() {
    a_version_3_database_keeps_its_data(&testing::fresh_schema(testing::server()));
}

#[test]
fn a_version_3_citus_database_is_partitioned_and_keeps_its_data() {
    let Some(url) = testing::citus_or_skip() else {
        return;
    };
    a_version_3_database_keeps_its_data(&testing::fresh_schema(url));
}

/// Where each table's first partition ends (the widths 0004 sets).
const DOCS_END: u64 = 1 << 22;
const FEED_END: u64 = 1 << 24;

fn partitions_grow_ahead(url: &str) {
    let store = PgStore::connect(url).expect("connect");
    // Small partitions from here on (the first ones keep their widths).
    testing::execute(url, "UPDATE tracemark_partitions SET width = 8").expect("widths");
    drop(store);
    let store = PgStore::connect(url).expect("reconnect");
    let count = |t: &str| {
        store
            .partitions()
            .expect("partitions")
            .iter()
            .filter(|p| p.0 == t)
            .count()
    };
    assert_eq!((count("documents"), count("feed")), (1, 1));

    // Keys from 6 below the first partition's end to 40 beyond it.
    for n in 0..46 {
        store
            .commit(&writes(
                DOCS_END - 6 + n,
                FEED_END - 6 + n,
                FEED_END - 6 + n,
            ))
            .expect("commit");
    }
    // Made ahead, half a partition (4) beyond the last key: 2^24 + 39 + 4 → 6 more.
    assert_eq!(count("feed"), 7);
    assert_eq!(count("log_leaves"), 7);
    assert_eq!(count("documents"), 7);
    let ends = testing::query(
        url,
        "SELECT tbl, upto FROM tracemark_partitions ORDER BY tbl",
    )
    .expect("ends");
    assert_eq!(
        ends,
        vec![
            vec![Some("documents".into()), Some((DOCS_END + 48).to_string())],
            vec![Some("feed".into()), Some((FEED_END + 48).to_string())],
            vec![Some("log_leaves".into()), Some((FEED_END + 48).to_string())],
        ]
    );
    for n in 0..46 {
        let seq = DOCS_END - 6 + n;
        assert_eq!(
            store.document(&doc(seq).id).expect("document"),
            Some(doc(seq))
        );
        assert!(store.log_leaf(FEED_END - 6 + n).expect("leaf").is_some());
    }
    assert_eq!(store.feed(0, 100).expect("feed").len(), 46);

    // A key far ahead (no room at all): one partition for the gap, one for the key.
    let far = FEED_END + 10_000;
    store
        .commit(&writes(DOCS_END + 10_000, far, far))
        .expect("a commit far ahead");
    assert_eq!(count("feed"), 9);
    assert_eq!(
        store.feed(FEED_END + 39, 10).expect("feed"),
        vec![(far, format!("fact{far}").into_bytes())]
    );

    // Archiving: the oldest feed partition detached, the rest read on; attached again.
    testing::execute(url, "ALTER TABLE feed DETACH PARTITION feed_000000000000").expect("detach");
    let rest = store.feed(0, 100).expect("feed");
    assert_eq!(rest.first().map(|r| r.0), Some(FEED_END));
    assert_eq!(rest.len(), 41);
    store
        .commit(&writes(DOCS_END + 10_001, far + 1, far + 1))
        .expect("a commit with a partition detached");
    testing::execute(
        url,
        &format!(
            "ALTER TABLE feed ATTACH PARTITION feed_000000000000 \
             FOR VALUES FROM (MINVALUE) TO ({FEED_END})"
        ),
    )
    .expect("attach again");
    assert_eq!(store.feed(0, 100).expect("feed").len(), 48);
}

#[test]
fn partitions_are_made_ahead_as_keys_grow() {
    partitions_grow_ahead(&testing::fresh_schema(testing::server()));
}

#[test]
fn partitions_are_made_ahead_as_keys_grow_on_citus() {
    let Some(url) = testing::citus_or_skip() else {
        return;
    };
    partitions_grow_ahead(&testing::fresh_schema(url));
}
