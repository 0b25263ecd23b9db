//! The engine on Citus: a coordinator and two workers on this machine
//! (`TRACEMARK_TEST_CITUS`, or `scripts/pg-cluster start --citus` when `../shared/citus`
//! is there; otherwise each test says why and passes). The schema must come out
//! distributed as designed, and the whole conformance suite must pass on the coordinator.

use std::collections::HashMap;
use std::sync::Arc;
use store_postgres::testing;
use store_postgres::{Engine, PgOptions, PgStore};

#[test]
fn schema_is_distributed_as_designed() {
    let Some(url) = testing::citus_or_skip() else {
        return;
    };
    let url = testing::fresh_schema(url);
    let store = PgStore::connect(&url).expect("connect to the coordinator");
    let Engine::Citus { workers, .. } = store.engine() else {
        panic!("a Citus coordinator seen as {:?}", store.engine());
    };
    assert_eq!(*workers, 2);
    let rows = testing::query(
        &url,
        "SELECT c.relname, p.partmethod, \
           coalesce(column_to_column_name(p.logicalrelid, p.partkey), ''), p.colocationid \
         FROM pg_dist_partition p \
         JOIN pg_class c ON c.oid = p.logicalrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema()",
    )
    .expect("pg_dist_partition");
    let tables: HashMap<String, (String, String, String)> = rows
        .into_iter()
        .map(|r| {
            let s = |i: usize| r[i].clone().unwrap_or_default();
            (s(0), (s(1), s(2), s(3)))
        })
        .collect();
    let dist = |t: &str, col: &str| {
        let (method, column, _) = tables
            .get(t)
            .unwrap_or_else(|| panic!("{t} is not distributed: {tables:?}"));
        assert_eq!(
            (method.as_str(), column.as_str()),
            ("h", col),
            "{t} should be hash-distributed by {col}"
        );
    };
    let reference = |t: &str| {
        let (method, _, _) = tables
            .get(t)
            .unwrap_or_else(|| panic!("{t} is not a reference table: {tables:?}"));
        assert_eq!(method, "n", "{t} should be a reference table");
    };
    let colocation = |t: &str| tables[t].2.clone();
    // The code-keyed tables are distributed by the code's place (schema 10), states and
    // events packed by page (schema 11); the old ones gone.
    for t in ["codes", "events", "events_v9", "links_v9", "block_codes_v9"] {
        assert!(!tables.contains_key(t), "{t} is gone: {tables:?}");
    }
    dist("code_pages", "place");
    dist("code_events", "place");
    dist("links", "place");
    dist("block_codes", "place");
    for t in ["code_events", "links", "block_codes"] {
        assert_eq!(
            colocation(t),
            colocation("code_pages"),
            "{t} co-located with code_pages"
        );
    }
    dist("documents", "id");
    dist("shipments", "ship");
    assert_eq!(colocation("shipments"), colocation("documents"));
    dist("document_seqs", "seq");
    dist("document_ids", "id");
    assert_eq!(colocation("document_ids"), colocation("documents"));
    // documents is partitioned by seq; its partitions are distributed with it.
    let parts: Vec<&String> = tables
        .keys()
        .filter(|t| t.starts_with("documents_0"))
        .collect();
    assert!(!parts.is_empty(), "no partition of documents: {tables:?}");
    for t in parts {
        dist(t, "id");
        assert_eq!(colocation(t), colocation("documents"), "{t}");
    }
    dist("orders", "id");
    dist("order_serials", "order_id");
    assert_eq!(colocation("order_serials"), colocation("orders"));
    dist("complaints", "id");
    dist("complaint_photos", "id");
    assert_eq!(colocation("complaint_photos"), colocation("complaints"));
    dist("inventory", "owner");
    dist("projection_rows", "name");
    dist("projection_checkpoints", "name");
    assert_eq!(
        colocation("projection_checkpoints"),
        colocation("projection_rows")
    );
    for t in [
        "participants",
        "products",
        "blocks",
        "secrets",
        "tracemark_code_places",
    ] {
        reference(t);
    }
    // The writer's sequential tables stay plain tables on the coordinator.
    for t in [
        "counters",
        "refusals",
        "feed",
        "log_leaves",
        "log_hashes",
        "tracemark_schema",
        "tracemark_partitions",
        "tracemark_placement",
    ] {
        assert!(
            !tables.contains_key(t),
            "{t} should stay on the coordinator"
        );
    }
    assert!(
        !tables
            .keys()
            .any(|t| t.starts_with("feed_") || t.starts_with("log_leaves_")),
        "the feed's and the log's partitions should stay on the coordinator: {tables:?}"
    );
    // Partitioned by time: documents, feed, log_leaves.
    let kinds = testing::query(
        &url,
        "SELECT relname FROM pg_class WHERE relkind = 'p' \
         AND relnamespace = current_schema()::regnamespace ORDER BY relname",
    )
    .expect("pg_class");
    assert_eq!(
        kinds,
        vec![
            vec![Some("documents".to_string())],
            vec![Some("feed".to_string())],
            vec![Some("log_leaves".to_string())],
        ]
    );
    // Shards really are on the workers.
    let placed = testing::query(
        &url,
        "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'code_pages'::regclass",
    )
    .expect("citus_shards");
    assert_eq!(
        placed[0][0].as_deref(),
        Some("2"),
        "code_pages' shards on both workers"
    );
}

/// The store as the registry connects it: codes' rows placed by a keyring.
fn make_store() -> (Arc<dyn store::Store>, Box<dyn std::any::Any>) {
    let url = testing::fresh_schema(testing::citus().expect("a Citus cluster"));
    let store = PgStore::connect_placed(&url, PgOptions::default(), testing::placement())
        .expect("connect to the coordinator");
    assert!(matches!(store.engine(), Engine::Citus { .. }));
    (
        Arc::new(store) as Arc<dyn store::Store>,
        Box::new(()) as Box<dyn std::any::Any>,
    )
}

/// Every conformance test on the coordinator (`CONFORMANCE_FILTER=name` runs some).
#[test]
fn conformance_on_citus() {
    if testing::citus_or_skip().is_none() {
        return;
    }
    conformance::run_all(&make_store);
}
