//! Placement (schema 10, `types::placement`): code rows keyed by their place, on
//! plain PostgreSQL and on Citus. A schema-9 database's code rows are copied under their
//! places and read back the same; a document's consecutive codes share a place (one
//! index range, one shard); rows written spread move once when a keyring comes; a store
//! without the keyring, or with another, refuses placed rows. Spread codes crafted to
//! share a place scatter over its salted slots (schema 12), and a schema-11 database's
//! spread entries move to them.

use store::{Store, WriteSet};
use store_postgres::{testing, PgOptions, PgStore, SCHEMA_VERSION};
use types::model::{Block, CodeEvent, CodeKey, CodeState, Status};
use types::placement::{self, Placement, Sequences};

const GTIN: u64 = 4_601_234_567_891;

fn placed(url: &str) -> PgStore {
    PgStore::connect_placed(url, PgOptions::default(), testing::placement()).expect("connect")
}

/// Operator serials of counters `from..to` under the tests' keyring (placed), at length 13.
fn serials(from: u64, to: u64) -> Vec<CodeKey> {
    let serials = issuance::SerialGenerator::new([7; 32]);
    let len = issuance::SerialLen::new(13).expect("len");
    (from..to)
        .map(|c| {
            let s = serials.serial(GTIN, c, len).expect("serial");
            CodeKey::unit(GTIN, s.as_str().as_bytes())
        })
        .collect()
}

fn state(i: usize, events: u32) -> CodeState {
    let mut st = CodeState::new(Status::Applied, 1 + i as u32 % 7, 1_764_000_000);
    st.tail_fp = i as u64;
    st.events = events;
    st
}

fn event(doc_seq: u64, prev: u64) -> CodeEvent {
    testing::emit_event(doc_seq, prev)
}

/// Every state through `code_states_after`, in pages of 700, sorted by key.
fn all(store: &PgStore) -> Vec<(CodeKey, CodeState)> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.code_states_after(after.as_ref(), 700).expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.0);
        out.extend(page);
    }
    let n = out.len();
    out.sort_by_key(|(k, _)| *k);
    out.dedup_by_key(|(k, _)| *k);
    assert_eq!(out.len(), n, "each state once in the scan");
    out
}

/// The places of `codes` as stored in `table`'s `column`.
/// Every code's entry in its page (schema 11), for [`stored_places`].
const PAGES: &str = "code_pages CROSS JOIN LATERAL unnest(codes) AS u(code)";

/// Every code's events in its page's runs (schema 11), for [`stored_places`].
const RUNS: &str = "code_events CROSS JOIN LATERAL unnest(codes) AS u(code)";

fn stored_places(url: &str, table: &str, column: &str, codes: &[CodeKey]) -> Vec<i64> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let list: Vec<String> = codes
        .iter()
        .map(|k| format!("'\\x{}'::bytea", hex(k.as_bytes())))
        .collect();
    testing::query(
        url,
        &format!(
            "SELECT DISTINCT place FROM {table} WHERE {column} IN ({}) ORDER BY 1",
            list.join(", ")
        ),
    )
    .expect("places")
    .into_iter()
    .map(|r| r[0].as_deref().expect("place").parse().expect("a number"))
    .collect()
}

fn place(k: &CodeKey) -> i64 {
    i64::from(testing::placement().place(k, &mut Sequences::default()) as i32)
}

/// A schema-9 database with code rows of every kind (placed serials across two runs with
/// events and states in both of schema 9's forms, a self-made serial, an SSCC package with
/// its contents, codes blocked one by one), migrated to 10 by a store with the keyring.
fn schema_9_rows_read_back_the_same_at_10(url: &str) {
    let old = PgStore::connect_at_version(url, 9).expect("a version-9 database");
    assert_eq!(old.schema_version().expect("version"), 9);
    let mut units = serials(0, 1_500);
    let self_made = CodeKey::unit(GTIN, b"A-SELF-MADE-SERIAL!");
    units.push(self_made);
    let sscc = CodeKey::sscc(146_012_345_000_000_017);
    // Two events for the first 300 codes (the state in the last event's row), one event
    // for the next 300 with a state written after it (a `sub` 1 row), states alone after.
    let mut events = Vec::new();
    let mut states = Vec::new();
    for (i, k) in units.iter().enumerate() {
        let n = match i {
            0..300 => 2,
            300..600 => 1,
            _ => 0,
        };
        for seq in 0..n {
            events.push((*k, seq, event(1 + u64::from(seq), u64::from(seq))));
        }
        states.push((*k, state(i, n)));
    }
    states.push((sscc, state(9_999, 0)));
    let mut links: Vec<(CodeKey, CodeKey)> =
        units[1_000..1_040].iter().map(|c| (sscc, *c)).collect();
    links.push((units[0], units[1]));
    let blocked: Vec<(u64, CodeKey)> = [0usize, 700, 1_200, 1_500]
        .iter()
        .map(|&i| (7, units[i]))
        .collect();
    // The registry's other rows through the store, the code rows as schema 9 wrote them.
    old.commit(&WriteSet {
        blocks: vec![Block {
            id: 7,
            gtin: None,
            batch: None,
            codes: 4,
            reason: "recall".into(),
            participant: 1,
            created_at: 1_764_000_000,
            lifted_at: None,
        }],
        counters: vec![("doc_seq".into(), 2)],
        ..WriteSet::default()
    })
    .expect("commit at version 9");
    testing::execute(url, &testing::v9_sql(&events, &states, &links, &blocked))
        .expect("version-9 code rows");
    drop(old);

    let store = placed(url);
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.counter("doc_seq").expect("counter"), 2);
    let keys: Vec<CodeKey> = states.iter().map(|(k, _)| *k).collect();
    let want: Vec<Option<CodeState>> = states.iter().map(|(_, s)| Some(*s)).collect();
    assert_eq!(store.codes(&keys).expect("states"), want, "every state");
    for (k, st) in &states[..1] {
        assert_eq!(store.codes(&[*k]).expect("one state"), vec![Some(*st)]);
    }
    let mut sorted = states.clone();
    sorted.sort_by_key(|(k, _)| *k);
    assert_eq!(all(&store), sorted, "the scan");
    for k in [units[0], units[299], units[300], units[599], self_made] {
        let want: Vec<CodeEvent> = events
            .iter()
            .filter(|(c, _, _)| *c == k)
            .map(|(_, _, e)| *e)
            .collect();
        assert_eq!(store.events(&k).expect("events"), want, "{k}");
    }
    assert!(store.events(&units[900]).expect("events").is_empty());
    let mut contents: Vec<CodeKey> = units[1_000..1_040].to_vec();
    contents.sort_by_key(|k| (k.as_bytes().len(), k.as_bytes().to_vec()));
    assert_eq!(store.children(&sscc).expect("children"), contents);
    assert_eq!(store.children(&units[0]).expect("children"), vec![units[1]]);
    let mut blocked_codes: Vec<CodeKey> = blocked.iter().map(|(_, k)| *k).collect();
    blocked_codes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(store.block_codes(7).expect("block codes"), blocked_codes);
    // Each row under its code's place: a run shares one, the others are spread.
    assert_eq!(
        stored_places(url, PAGES, "u.code", &units[..1_024]),
        vec![place(&units[0])]
    );
    assert_eq!(
        stored_places(url, RUNS, "u.code", &units[..1_024]),
        vec![place(&units[0])],
        "the events of a run's codes under the run's place"
    );
    assert_eq!(
        stored_places(url, PAGES, "u.code", &[self_made]),
        vec![i64::from(placement::spread(&self_made) as i32)]
    );
    assert_eq!(
        stored_places(url, "links", "parent", &[sscc]),
        vec![i64::from(placement::spread(&sscc) as i32)]
    );
    assert_eq!(
        stored_places(url, "block_codes", "code", &[units[700]]),
        vec![place(&units[700])]
    );
    let left = testing::query(
        url,
        "SELECT count(*) FROM pg_class WHERE relname IN ('events_v9', 'links_v9', 'block_codes_v9') \
         AND relnamespace = current_schema()::regnamespace",
    )
    .expect("pg_class");
    assert_eq!(left[0][0].as_deref(), Some("0"), "the old tables are gone");
    let map = testing::query(url, "SELECT count(*) FROM tracemark_code_places").expect("map");
    assert_eq!(map[0][0].as_deref(), Some("0"), "the map is emptied");

    // Written placed from now on: a new event and state, a link removed, a new block entry.
    let mut next = state(0, 3);
    next.status = Status::Introduced;
    store
        .commit(&WriteSet {
            codes: vec![(units[0], next)],
            events: vec![(units[0], 2, event(3, 2))],
            links_removed: vec![(sscc, units[1_000])],
            block_codes: vec![(7, units[1_300])],
            ..WriteSet::default()
        })
        .expect("commit after the migration");
    assert_eq!(store.codes(&units[..1]).expect("state"), vec![Some(next)]);
    assert_eq!(store.events(&units[0]).expect("events").len(), 3);
    assert_eq!(store.children(&sscc).expect("children").len(), 39);
    assert_eq!(store.block_codes(7).expect("block codes").len(), 5);
    drop(store);

    // Connected again: nothing to do. Without the keyring, or with another: refused.
    let again = placed(url);
    assert_eq!(again.codes(&keys).expect("again").len(), keys.len());
    drop(again);
    let bare = PgStore::connect(url).expect("connect without the keyring");
    let e = bare
        .codes(&keys[..1])
        .expect_err("placed rows read without the keyring");
    assert!(e.to_string().contains("keyring"), "{e}");
    assert!(bare.code_states_after(None, 10).is_err());
    assert!(bare.events(&keys[0]).is_err());
    assert!(bare
        .commit(&WriteSet {
            codes: vec![(keys[0], next)],
            ..WriteSet::default()
        })
        .is_err());
    assert_eq!(bare.counter("doc_seq").expect("other reads go on"), 2);
    let other = Placement::new(issuance::SerialGenerator::new([8; 32]));
    let e = PgStore::connect_placed(url, PgOptions::default(), other)
        .err()
        .expect("another keyring refused");
    assert!(e.to_string().contains("another keyring"), "{e}");
}

/// A producer's document of 1,000 consecutive codes of one order: at most two places
/// (one per run of 1,024 it touches), so one or two index ranges and, on Citus, shards.
fn a_documents_consecutive_codes_share_a_place(url: &str, citus: bool) {
    let store = placed(url);
    let doc = serials(3_000, 4_000);
    store
        .commit(&WriteSet {
            codes: doc
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, state(i, 1)))
                .collect(),
            events: doc.iter().map(|k| (*k, 0, event(5, 0))).collect(),
            ..WriteSet::default()
        })
        .expect("commit");
    // Counters 3,000..3,071 and 3,072..3,999: two runs.
    let places = stored_places(url, PAGES, "u.code", &doc);
    assert_eq!(places.len(), 2, "{places:?}");
    assert_eq!(
        places,
        {
            let mut p = vec![place(&doc[0]), place(&doc[999])];
            p.sort_unstable();
            p
        },
        "each code under its run's place"
    );
    assert_eq!(
        stored_places(url, PAGES, "u.code", &doc[72..]),
        vec![place(&doc[72])],
        "counters 3,072..3,999 share one place"
    );
    let read = store.codes(&doc).expect("read");
    assert!(read.iter().all(Option::is_some));
    // Packed (schema 11): a row per page (16 a place) for the states, and one per page
    // for the events, not a row per code.
    for table in ["code_pages", "code_events"] {
        let rows = testing::query(url, &format!("SELECT count(*) FROM {table}")).expect("rows");
        let n: u32 = rows[0][0].as_deref().expect("n").parse().expect("n");
        assert!(
            (17..=32).contains(&n),
            "the document's 1,000 codes are {n} rows of {table}"
        );
    }
    if citus {
        let shards = testing::query(
            url,
            "SELECT count(DISTINCT get_shard_id_for_distribution_column('code_pages', place)) \
             FROM code_pages",
        )
        .expect("shards");
        let n: u32 = shards[0][0].as_deref().expect("n").parse().expect("n");
        assert!(n <= 2, "the document's rows on {n} shards");
    }
}

/// Rows written spread (a store without the keyring) move to their places once, when a
/// store with the keyring connects, and read the same.
fn spread_rows_move_once_when_the_keyring_comes(url: &str) {
    let bare = PgStore::connect(url).expect("connect without the keyring");
    let units = serials(0, 1_100);
    let sscc = CodeKey::sscc(146_012_345_000_000_024);
    let states: Vec<(CodeKey, CodeState)> = units
        .iter()
        .chain([&sscc])
        .enumerate()
        .map(|(i, k)| (*k, state(i, 1)))
        .collect();
    bare.commit(&WriteSet {
        codes: states.clone(),
        events: states.iter().map(|(k, _)| (*k, 0, event(1, 0))).collect(),
        links_added: units[..10].iter().map(|c| (sscc, *c)).collect(),
        block_codes: vec![(3, units[5]), (3, sscc)],
        ..WriteSet::default()
    })
    .expect("commit spread");
    assert!(stored_places(url, PAGES, "u.code", &units[..1_024]).len() > 100);
    drop(bare);
    let store = placed(url);
    let keys: Vec<CodeKey> = states.iter().map(|(k, _)| *k).collect();
    let want: Vec<Option<CodeState>> = states.iter().map(|(_, s)| Some(*s)).collect();
    assert_eq!(store.codes(&keys).expect("states"), want);
    assert_eq!(store.events(&units[7]).expect("events"), vec![event(1, 0)]);
    assert_eq!(store.children(&sscc).expect("children").len(), 10);
    assert_eq!(store.block_codes(3).expect("blocks").len(), 2);
    let mut sorted = states.clone();
    sorted.sort_by_key(|(k, _)| *k);
    assert_eq!(all(&store), sorted, "every state once");
    assert_eq!(
        stored_places(url, PAGES, "u.code", &units[..1_024]),
        vec![place(&units[0])]
    );
    assert_eq!(
        stored_places(url, "block_codes", "code", &units[5..6]),
        vec![place(&units[5])]
    );
    for table in ["code_pages", "code_events"] {
        let rows = testing::query(url, &format!("SELECT sum(cardinality(codes)) FROM {table}"))
            .expect("count");
        assert_eq!(
            rows[0][0].as_deref(),
            Some(states.len().to_string().as_str()),
            "no entry twice in {table}: one per code (its state, its event)"
        );
    }
}

/// A code's rows moved to another place (by SQL; Citus does not update a distribution
/// column, so a copy and a delete): the code reads as unknown, and the audit's scan, clean
/// before, fails naming the code and both places.
fn a_state_moved_to_another_place_fails_the_scan(url: &str) {
    let store = placed(url);
    let units = serials(0, 1_100);
    let states: Vec<(CodeKey, CodeState)> = units
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, state(i, 1)))
        .collect();
    store
        .commit(&WriteSet {
            codes: states.clone(),
            events: units.iter().map(|k| (*k, 0, event(1, 0))).collect(),
            ..WriteSet::default()
        })
        .expect("commit");
    assert_eq!(all(&store).len(), states.len(), "clean before the move");
    let k = units[7];
    let (at, to) = (place(&k), place(&k) ^ 1);
    let code: String = k.as_bytes().iter().map(|x| format!("{x:02x}")).collect();
    testing::execute(
        url,
        &format!(
            "INSERT INTO code_pages (place, slot, codes, states) \
             SELECT {to}, slot, ARRAY[u.c], ARRAY[u.s] \
             FROM code_pages, unnest(codes, states) AS u(c, s) \
             WHERE place = {at} AND u.c = '\\x{code}'; \
             UPDATE code_pages p SET codes = f.codes, states = f.states \
             FROM (SELECT place, slot, array_agg(u.c ORDER BY u.c), array_agg(u.s ORDER BY u.c) \
                   FROM code_pages, unnest(codes, states) AS u(c, s) \
                   WHERE place = {at} AND u.c <> '\\x{code}' GROUP BY place, slot) \
               AS f(place, slot, codes, states) \
             WHERE p.place = {at} AND p.place = f.place AND p.slot = f.slot"
        ),
    )
    .expect("move");
    assert_eq!(
        store.codes(&[k]).expect("read"),
        vec![None],
        "a look-up misses it"
    );
    let e = store
        .code_states_after(None, usize::MAX)
        .map(|all| all.len())
        .expect_err("a moved state scanned")
        .to_string();
    assert!(
        e.contains(&k.to_string())
            && e.contains(&format!("place {to}, "))
            && e.contains(&format!("place {at}, ")),
        "{e}"
    );
}

/// 32 SSCCs whose code keys share one spread place: a folded 32-bit FNV-1a collision,
/// found by brute force over the low four bytes of the number (~4 × 10⁹ hashes a code,
/// ~10 s on one core: what an attacker's laptop does in minutes). Checked below.
const CRAFTED: [u64; 32] = [
    46_012_345_000_000_000,
    46_012_346_513_028_655,
    46_012_351_358_736_060,
    46_012_348_629_348_832,
    46_012_353_506_706_941,
    46_012_349_293_328_938,
    46_012_355_358_911_451,
    46_012_355_987_467_823,
    46_012_361_846_541_463,
    46_012_357_674_503_443,
    46_012_358_015_596_316,
    46_012_368_499_861_187,
    46_012_377_941_402_426,
    46_012_378_148_306_185,
    46_012_404_104_524_485,
    46_012_407_450_710_322,
    46_012_414_357_888_207,
    46_012_416_623_038_192,
    46_012_416_968_829_695,
    46_012_430_114_985_629,
    46_012_436_734_129_092,
    46_012_448_699_655_407,
    46_012_453_225_463_089,
    46_012_455_400_249_625,
    46_012_467_592_105_444,
    46_012_472_406_034_810,
    46_012_469_139_609_308,
    46_012_473_920_276_274,
    46_012_481_082_286_135,
    46_012_478_422_075_836,
    46_012_486_076_014_503,
    46_012_495_791_068_301,
];

/// The crafted SSCCs' keys, each checked to share the first one's spread place.
fn crafted() -> Vec<CodeKey> {
    let keys: Vec<CodeKey> = CRAFTED.iter().map(|n| CodeKey::sscc(*n)).collect();
    for k in &keys {
        assert_eq!(
            placement::spread(k),
            placement::spread(&keys[0]),
            "{k} collides"
        );
    }
    keys
}

/// Per page of `place` in `table`: (rows, the most codes one row holds).
fn pages_at(url: &str, table: &str, place: i64) -> (i64, i64) {
    let r = testing::query(
        url,
        &format!("SELECT count(*), max(cardinality(codes)) FROM {table} WHERE place = {place}"),
    )
    .expect("pages");
    let n = |i: usize| {
        r[0][i]
            .as_deref()
            .expect("a number")
            .parse()
            .expect("a number")
    };
    (n(0), n(1))
}

/// A wholesaler's or a producer's crafted collisions (an attacker's review of schema 11):
/// 32 spread codes sharing one place. At 11 their page was one of that place's 16 slots,
/// from SHA-256 of the key, which the attacker grinds too, so they could pile into one
/// page without end (32 codes shared ≤ 16 pages); now they scatter over the place's
/// 16,384 salted slots (≥ 28 pages and ≤ 3 codes a page: the chance of less is ~10⁻⁸), in
/// the states' pages and the events' runs alike, and read back.
fn crafted_spread_codes_scatter_over_pages(url: &str) -> Vec<i16> {
    let store = placed(url);
    let keys = crafted();
    let place = i64::from(placement::spread(&keys[0]) as i32);
    assert_eq!(place, self::place(&keys[0]), "an SSCC is spread");
    for round in 1..=2u32 {
        let states: Vec<(CodeKey, CodeState)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, state(i, round)))
            .collect();
        store
            .commit(&WriteSet {
                codes: states,
                events: keys
                    .iter()
                    .map(|k| (*k, round - 1, event(u64::from(round), 0)))
                    .collect(),
                ..WriteSet::default()
            })
            .expect("commit");
    }
    let (pages, most) = pages_at(url, "code_pages", place);
    assert!(most <= 3, "at most 3 codes a page, not {most}");
    assert!(pages >= 28, "32 codes over {pages} pages");
    let (runs, most) = pages_at(url, "code_events", place);
    assert!(most <= 3, "at most 3 codes a run, not {most}");
    assert!(runs >= 56, "two commits of 32 codes in {runs} runs");
    let want: Vec<Option<CodeState>> = (0..keys.len()).map(|i| Some(state(i, 2))).collect();
    assert_eq!(store.codes(&keys).expect("states"), want);
    assert_eq!(
        store.events(&keys[9]).expect("events"),
        vec![event(1, 0), event(2, 0)]
    );
    let slots = testing::query(
        url,
        &format!("SELECT slot FROM code_pages WHERE place = {place} ORDER BY slot"),
    )
    .expect("slots");
    slots
        .iter()
        .map(|r| r[0].as_deref().expect("slot").parse().expect("a number"))
        .collect()
}

/// Schema 11's layout rebuilt by SQL from this build's rows: every entry at 11's slot
/// (`get_byte(sha256(code), 0) & 15`), runs with each entry's event (no `idx`), no page
/// salt, version 11. Statement by statement (Citus propagates DDL by a query's text).
const BACK_TO_11: &[&str] = &[
    "CREATE TEMP TABLE e11 AS SELECT place, u.c, u.s FROM code_pages, unnest(codes, states) AS u(c, s)",
    "DELETE FROM code_pages",
    "INSERT INTO code_pages (place, slot, codes, states) \
     SELECT place, (get_byte(sha256(c), 0) & 15)::smallint, array_agg(c ORDER BY c), array_agg(s ORDER BY c) \
     FROM e11 GROUP BY 1, 2",
    "CREATE TEMP TABLE r11 AS SELECT place, gen, o.c, o.q, \
     CASE WHEN idx IS NULL THEN events[o.n] ELSE events[get_byte(idx, o.n::integer - 1) + 1] END AS ev \
     FROM code_events, unnest(codes, seqs) WITH ORDINALITY AS o(c, q, n)",
    "DELETE FROM code_events",
    "ALTER TABLE code_events DROP COLUMN idx",
    "INSERT INTO code_events (place, slot, gen, codes, seqs, events) \
     SELECT place, (get_byte(sha256(c), 0) & 15)::smallint, gen, array_agg(c ORDER BY c, q), \
     array_agg(q ORDER BY c, q), array_agg(ev ORDER BY c, q) FROM r11 GROUP BY 1, 2, 3",
    "DELETE FROM secrets WHERE name = 'store.page_salt'",
    "ALTER TABLE documents DROP COLUMN zstd",
    "ALTER TABLE feed DROP COLUMN zstd",
    "ALTER TABLE feed DROP COLUMN kind",
    "UPDATE tracemark_schema SET version = 11",
];

/// A schema-11 database (its spread codes in 11's slots, its runs' events one an entry)
/// brought to 12: the spread codes' entries move to their salted slots, and everything
/// reads back the same, each entry once.
fn schema_11_spread_entries_move_to_their_salted_slots(url: &str) {
    let now = placed(url);
    // The crafted spread codes, and placed ones whose runs stay as 11 wrote them.
    let mut keys = crafted();
    keys.extend(serials(0, 100));
    let states: Vec<(CodeKey, CodeState)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, state(i, 1)))
        .collect();
    now.commit(&WriteSet {
        codes: states.clone(),
        events: keys.iter().map(|k| (*k, 0, event(1, 0))).collect(),
        ..WriteSet::default()
    })
    .expect("commit");
    drop(now);
    testing::execute_each(url, BACK_TO_11).expect("back to schema 11");
    let place = i64::from(placement::spread(&keys[0]) as i32);
    let before = testing::query(
        url,
        &format!("SELECT slot FROM code_pages WHERE place = {place} ORDER BY slot"),
    )
    .expect("slots");
    assert!(
        before.iter().all(|r| r[0]
            .as_deref()
            .expect("slot")
            .parse::<i16>()
            .expect("a number")
            < 16),
        "at 11's slots"
    );
    let store = placed(url);
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    let after = testing::query(
        url,
        &format!("SELECT slot FROM code_pages WHERE place = {place} ORDER BY slot"),
    )
    .expect("slots");
    assert_ne!(
        before, after,
        "the entries moved to the database's salted slots"
    );
    let want: Vec<Option<CodeState>> = states.iter().map(|(_, s)| Some(*s)).collect();
    assert_eq!(store.codes(&keys).expect("states"), want);
    assert_eq!(store.events(&keys[3]).expect("events"), vec![event(1, 0)]);
    let old_runs =
        testing::query(url, "SELECT count(*) FROM code_events WHERE idx IS NULL").expect("runs");
    assert_ne!(
        old_runs[0][0].as_deref(),
        Some("0"),
        "placed codes' runs as 11 wrote them"
    );
    assert_eq!(store.events(&keys[40]).expect("events"), vec![event(1, 0)]);
    for table in ["code_pages", "code_events"] {
        let rows = testing::query(url, &format!("SELECT sum(cardinality(codes)) FROM {table}"))
            .expect("count");
        assert_eq!(
            rows[0][0].as_deref(),
            Some("132"),
            "each entry once in {table}"
        );
    }
}

#[test]
fn crafted_spread_codes_scatter_over_pages_on_postgres() {
    let a = crafted_spread_codes_scatter_over_pages(&testing::fresh_schema(testing::server()));
    let b = crafted_spread_codes_scatter_over_pages(&testing::fresh_schema(testing::server()));
    assert_ne!(a, b, "each database salts its pages its own way");
}

#[test]
fn crafted_spread_codes_scatter_over_pages_on_citus() {
    if let Some(c) = testing::citus_or_skip() {
        crafted_spread_codes_scatter_over_pages(&testing::fresh_schema(c));
    }
}

#[test]
fn schema_11_spread_entries_move_to_their_salted_slots_on_postgres() {
    schema_11_spread_entries_move_to_their_salted_slots(&testing::fresh_schema(testing::server()));
}

#[test]
fn schema_11_spread_entries_move_to_their_salted_slots_on_citus() {
    if let Some(c) = testing::citus_or_skip() {
        schema_11_spread_entries_move_to_their_salted_slots(&testing::fresh_schema(c));
    }
}

#[test]
fn schema_9_rows_read_back_the_same_at_10_on_postgres() {
    schema_9_rows_read_back_the_same_at_10(&testing::fresh_schema(testing::server()));
}

#[test]
fn schema_9_rows_read_back_the_same_at_10_on_citus() {
    if let Some(c) = testing::citus_or_skip() {
        schema_9_rows_read_back_the_same_at_10(&testing::fresh_schema(c));
    }
}

#[test]
fn a_documents_consecutive_codes_share_a_place_on_postgres() {
    a_documents_consecutive_codes_share_a_place(&testing::fresh_schema(testing::server()), false);
}

#[test]
fn a_documents_consecutive_codes_share_a_place_on_citus() {
    if let Some(c) = testing::citus_or_skip() {
        a_documents_consecutive_codes_share_a_place(&testing::fresh_schema(c), true);
    }
}

#[test]
fn spread_rows_move_once_when_the_keyring_comes_on_postgres() {
    spread_rows_move_once_when_the_keyring_comes(&testing::fresh_schema(testing::server()));
}

#[test]
fn spread_rows_move_once_when_the_keyring_comes_on_citus() {
    if let Some(c) = testing::citus_or_skip() {
        spread_rows_move_once_when_the_keyring_comes(&testing::fresh_schema(c));
    }
}

#[test]
fn a_state_moved_to_another_place_fails_the_scan_on_postgres() {
    a_state_moved_to_another_place_fails_the_scan(&testing::fresh_schema(testing::server()));
}

#[test]
fn a_state_moved_to_another_place_fails_the_scan_on_citus() {
    if let Some(c) = testing::citus_or_skip() {
        a_state_moved_to_another_place_fails_the_scan(&testing::fresh_schema(c));
    }
}
