//! Code rows put at their places (schema 10, `src/sql/0010_schema.sql`): the step of the
//! migration SQL cannot do, and the layout check of every connect.
//!
//! A code's place comes from `types::placement` (the key design the embedded engine
//! shares): its run's hash when the issuing keyring's serial permutation maps its serial
//! back to a counter, the spread hash of its key otherwise (and for every code when the
//! store has no [`Placement`]). Computing it needs the keyring, so the store writes the
//! places of the codes to move into `tracemark_code_places` (read through a cursor,
//! written by binary `COPY`, [`BATCH`] at a time) and the rows follow by one
//! `INSERT … SELECT … JOIN tracemark_code_places` per table, on the server (on Citus
//! distributed: the rows never pass through the registry). Everything runs in the
//! migration's transaction, under its advisory lock: all or nothing.
//!
//! `tracemark_placement.fingerprint` records the layout: the placing keyring's
//! [`Placement::fingerprint`], or NULL for rows placed spread (by a store without a
//! keyring). At every connect of schema 10 ([`check`]): a store with a keyring on spread
//! rows moves the codes it places elsewhere, once, and records its fingerprint; a store
//! without one on placed rows is *unplaceable* (it refuses code reads and writes); a store
//! with another keyring is refused.

use crate::pages::{copy_runs, delete_pages, group, runs_of, write_pages, Page, Table};
use crate::{err, pg};
use deadpool_postgres::Transaction;
use std::collections::BTreeMap;
use store::StoreResult;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use types::model::CodeKey;
use types::placement::{self, Placement, Sequences};

/// Codes read and placed at a time.
pub const BATCH: i32 = 10_000;

/// Schema 10's copy of the version-9 rows (the tables 0010_schema.sql renamed `*_v9`)
/// into the new tables, each row under its code's place; then the old tables go.
const COPY_V9: &[&str] = &[
    "INSERT INTO events (place, code, seq, sub, event, state) \
     SELECT m.place, e.code, e.seq, e.sub, e.event, e.state \
     FROM events_v9 e JOIN tracemark_code_places m ON m.code = e.code",
    "INSERT INTO links (place, parent, child) \
     SELECT m.place, l.parent, l.child \
     FROM links_v9 l JOIN tracemark_code_places m ON m.code = l.parent",
    "INSERT INTO block_codes (block, place, code) \
     SELECT b.block, m.place, b.code \
     FROM block_codes_v9 b JOIN tracemark_code_places m ON m.code = b.code",
    "TRUNCATE tracemark_code_places",
    "DROP TABLE events_v9, links_v9, block_codes_v9",
];

/// Every code of the version-9 tables, once.
const CODES_V9: &str = "SELECT code FROM events_v9 \
     UNION SELECT parent FROM links_v9 UNION SELECT code FROM block_codes_v9";

/// Spread event rows (schema 10) of the codes in `tracemark_code_places` moved to their
/// places: a copy at the new place, then the rows elsewhere deleted (on Citus `place` is
/// the distribution column, which no `UPDATE` may change). [`MOVE_LINKS`] follows.
const MOVE_EVENTS: &[&str] = &[
    "INSERT INTO events (place, code, seq, sub, event, state) \
     SELECT m.place, e.code, e.seq, e.sub, e.event, e.state \
     FROM events e JOIN tracemark_code_places m ON m.code = e.code AND m.place <> e.place",
    "DELETE FROM events e USING tracemark_code_places m \
     WHERE e.code = m.code AND e.place <> m.place",
];

/// Every code of the placed tables, once (schema 10).
const CODES: &str = "SELECT code FROM events \
     UNION SELECT parent FROM links UNION SELECT code FROM block_codes";

/// The package contents and block entries of the codes in `tracemark_code_places` moved
/// to their places, the same way, then the map emptied: after [`MOVE_EVENTS`] at schema
/// 10; at 11 the pages and runs are moved by [`move_packed`].
const MOVE_LINKS: &[&str] = &[
    "INSERT INTO links (place, parent, child) \
     SELECT m.place, l.parent, l.child \
     FROM links l JOIN tracemark_code_places m ON m.code = l.parent AND m.place <> l.place",
    "DELETE FROM links l USING tracemark_code_places m \
     WHERE l.parent = m.code AND l.place <> m.place",
    "INSERT INTO block_codes (block, place, code) \
     SELECT b.block, m.place, b.code \
     FROM block_codes b JOIN tracemark_code_places m ON m.code = b.code AND m.place <> b.place",
    "DELETE FROM block_codes b USING tracemark_code_places m \
     WHERE b.code = m.code AND b.place <> m.place",
    "TRUNCATE tracemark_code_places",
];

/// Every code of the packed tables, once (schema 11).
const CODES_PACKED: &str = "SELECT unnest(codes) FROM code_pages \
     UNION SELECT unnest(codes) FROM code_events \
     UNION SELECT parent FROM links UNION SELECT code FROM block_codes";

/// Page keys read at a time by [`repage`].
const PAGES: i64 = 500;

/// A code's page (place, slot) after a move, from its key and the place it is stored at.
type PageOf<'a> = dyn FnMut(&[u8], i32) -> StoreResult<Page> + Send + 'a;

/// Schema 11's move of spread entries to their places when a keyring arrives: [`repage`]
/// with each code's place under `placement` and its slot there.
async fn move_packed(
    tx: &Transaction<'_>,
    placement: &Placement,
    salt: &[u8; 16],
    citus: bool,
) -> StoreResult<()> {
    let mut seqs = Sequences::default();
    let mut page_of = |code: &[u8], _: i32| -> StoreResult<Page> {
        let k = CodeKey::from_bytes(code).ok_or_else(|| err("a corrupt code key"))?;
        let place = placement::place_of(Some(placement), &k, &mut seqs) as i32;
        Ok((place, crate::slot(code, place, salt)))
    };
    repage(tx, &mut page_of, citus).await
}

/// Schema 12's step (`src/sql/0012_schema.sql`): the database's page salt made (16 random
/// bytes in `secrets`, kept if there), then every spread code's entries moved to their
/// salted slots in the same place ([`crate::slot`]). Answers the salt.
pub(crate) async fn salt_pages(tx: &Transaction<'_>, citus: bool) -> StoreResult<[u8; 16]> {
    let fresh = uuid::Uuid::new_v4().into_bytes().to_vec();
    tx.execute(
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&SALT, &fresh],
    )
    .await
    .map_err(pg)?;
    let salt = read_salt(tx)
        .await?
        .ok_or_else(|| err("the page salt was not stored"))?;
    let mut page_of = |code: &[u8], place: i32| Ok((place, crate::slot(code, place, &salt)));
    repage(tx, &mut page_of, citus).await?;
    Ok(salt)
}

/// The name of the page salt in `secrets`.
const SALT: &str = "store.page_salt";

/// The database's page salt, if made (schema 12 on).
pub(crate) async fn read_salt(tx: &Transaction<'_>) -> StoreResult<Option<[u8; 16]>> {
    let row = tx
        .query_opt("SELECT value FROM secrets WHERE name = $1", &[&SALT])
        .await
        .map_err(pg)?;
    let Some(row) = row else { return Ok(None) };
    let v: Vec<u8> = row.try_get(0).map_err(pg)?;
    v.try_into()
        .map(Some)
        .map_err(|_| err("the page salt is not 16 bytes"))
}

/// Every page of `code_pages` and `code_events`, [`PAGES`] page keys at a time in key
/// order, read; a page with entries whose page under `page_of` is another is deleted and
/// its entries written again, each in its own page, as a commit writes them
/// (`src/pages.rs`: merged into a destination page's entries; runs keep their `gen`).
/// Each batch is a fresh statement, so it sees the entries earlier batches moved in
/// (already in place: kept). In Rust because a page's arrays are regrouped entry by
/// entry, which the unpacked tables' `MOVE_EVENTS` SQL cannot say in a way Citus runs on
/// its shards.
async fn repage(tx: &Transaction<'_>, page_of: &mut PageOf<'_>, citus: bool) -> StoreResult<()> {
    let mut after = (i32::MIN, i16::MIN);
    let mut first = true;
    loop {
        let rows = tx
            .query(
                "SELECT place, slot, codes, states FROM code_pages \
                 WHERE $3 OR (place, slot) > ($1, $2) ORDER BY place, slot LIMIT $4",
                &[&after.0, &after.1, &first, &PAGES],
            )
            .await
            .map_err(pg)?;
        first = false;
        let Some(last) = rows.last() else { break };
        after = (last.try_get(0).map_err(pg)?, last.try_get(1).map_err(pg)?);
        let mut entries: Vec<(Page, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut gone: Vec<Page> = Vec::new();
        for r in &rows {
            let page: Page = (r.try_get(0).map_err(pg)?, r.try_get(1).map_err(pg)?);
            let codes: Vec<Vec<u8>> = r.try_get(2).map_err(pg)?;
            let states: Vec<Vec<u8>> = r.try_get(3).map_err(pg)?;
            let to: Vec<Page> = codes
                .iter()
                .map(|c| page_of(c, page.0))
                .collect::<StoreResult<_>>()?;
            if to.iter().all(|&p| p == page) {
                continue;
            }
            gone.push(page);
            for ((c, st), p) in codes.into_iter().zip(states).zip(to) {
                entries.push((p, c, st));
            }
        }
        // The pages left, then their entries written again (merged into their
        // destinations' as a commit merges).
        delete_pages(tx, Table::Pages, &gone, citus).await?;
        write_pages(tx, group(entries), citus).await?;
    }
    // Runs: several rows per page; a batch is every row of PAGES page keys.
    let mut after = (i32::MIN, i16::MIN);
    let mut first = true;
    loop {
        let keys = tx
            .query(
                "SELECT DISTINCT place, slot FROM code_events \
                 WHERE $3 OR (place, slot) > ($1, $2) ORDER BY place, slot LIMIT $4",
                &[&after.0, &after.1, &first, &PAGES],
            )
            .await
            .map_err(pg)?;
        let Some(last) = keys.last() else { break };
        let upto: Page = (last.try_get(0).map_err(pg)?, last.try_get(1).map_err(pg)?);
        let rows = tx
            .query(
                "SELECT place, slot, gen, codes, seqs, events, idx FROM code_events \
                 WHERE ($5 OR (place, slot) > ($1, $2)) AND (place, slot) <= ($3, $4) \
                 ORDER BY place, slot, gen",
                &[&after.0, &after.1, &upto.0, &upto.1, &first],
            )
            .await
            .map_err(pg)?;
        first = false;
        after = upto;
        // Every entry of the batch's pages, under its page; the pages with a moved one.
        let mut by_page: BTreeMap<Page, (bool, Vec<Event>)> = BTreeMap::new();
        for r in &rows {
            let page: Page = (r.try_get(0).map_err(pg)?, r.try_get(1).map_err(pg)?);
            let gen: i64 = r.try_get(2).map_err(pg)?;
            let codes: Vec<Vec<u8>> = r.try_get(3).map_err(pg)?;
            let seqs: Vec<i32> = r.try_get(4).map_err(pg)?;
            let events = crate::pages::expand(
                r.try_get(5).map_err(pg)?,
                r.try_get(6).map_err(pg)?,
                codes.len(),
            )?;
            let (moved, list) = by_page.entry(page).or_default();
            for ((c, seq), e) in codes.into_iter().zip(seqs).zip(events) {
                let to = page_of(&c, page.0)?;
                *moved |= to != page;
                list.push((to.0, to.1, gen, c, seq, e));
            }
        }
        let mut again: Vec<Event> = Vec::new();
        let mut gone: Vec<Page> = Vec::new();
        for (page, (moved, list)) in by_page {
            if moved {
                gone.push(page);
                again.extend(list);
            }
        }
        delete_pages(tx, Table::Runs, &gone, citus).await?;
        copy_runs(tx, &runs_of(again)).await?;
    }
    Ok(())
}

/// An event of a run, under its (new) place: place, slot, gen, code, seq, event.
type Event = (i32, i16, i64, Vec<u8>, i32, Vec<u8>);

/// Writes every code `codes_sql` answers into `tracemark_code_places` with its place
/// under `placement` (spread without one); `moved_only`: only the codes whose place is not
/// their spread one. Answers how many it wrote.
async fn map_codes(
    tx: &Transaction<'_>,
    codes_sql: &str,
    placement: Option<&Placement>,
    moved_only: bool,
) -> StoreResult<u64> {
    let stmt = tx.prepare(codes_sql).await.map_err(pg)?;
    let portal = tx.bind(&stmt, &[]).await.map_err(pg)?;
    let mut seqs = Sequences::default();
    let mut n = 0u64;
    loop {
        let rows = tx.query_portal(&portal, BATCH).await.map_err(pg)?;
        let mut batch: Vec<(&[u8], i32)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let code: &[u8] = r.try_get(0).map_err(pg)?;
            let k = CodeKey::from_bytes(code).ok_or_else(|| err("a corrupt code key"))?;
            let place = placement::place_of(placement, &k, &mut seqs);
            if !(moved_only && place == placement::spread(&k)) {
                batch.push((code, place as i32));
            }
        }
        if !batch.is_empty() {
            let sink = tx
                .copy_in("COPY tracemark_code_places (code, place) FROM STDIN (FORMAT binary)")
                .await
                .map_err(pg)?;
            let w = BinaryCopyInWriter::new(sink, &[Type::BYTEA, Type::INT4]);
            let mut w = std::pin::pin!(w);
            for (code, place) in &batch {
                w.as_mut().write(&[code, place]).await.map_err(pg)?;
            }
            w.finish().await.map_err(pg)?;
            n += batch.len() as u64;
        }
        if rows.len() < BATCH as usize {
            return Ok(n);
        }
    }
}

async fn run(tx: &Transaction<'_>, statements: &[&str]) -> StoreResult<()> {
    for s in statements {
        tx.batch_execute(s).await.map_err(pg)?;
    }
    Ok(())
}

async fn set_fingerprint(tx: &Transaction<'_>, placement: Option<&Placement>) -> StoreResult<()> {
    let fp = placement.map(|p| p.fingerprint().to_vec());
    tx.execute("UPDATE tracemark_placement SET fingerprint = $1", &[&fp])
        .await
        .map(drop)
        .map_err(pg)
}

/// Schema 10's step after its SQL: the version-9 rows copied under their places (spread
/// without a `placement`), the old tables dropped, the layout recorded.
pub(crate) async fn copy_v9(
    tx: &Transaction<'_>,
    placement: Option<&Placement>,
) -> StoreResult<()> {
    let n = map_codes(tx, CODES_V9, placement, false).await?;
    run(tx, COPY_V9).await?;
    set_fingerprint(tx, placement).await?;
    if n > 0 {
        eprintln!("store: the rows of {n} codes copied under their places (schema 10)");
    }
    Ok(())
}

/// The layout check of a connect at schema 10 (see the [module documentation](self)):
/// answers whether the store is unplaceable (placed rows, no keyring); moves spread rows
/// once when the store has a keyring.
pub(crate) async fn check(
    tx: &Transaction<'_>,
    placement: Option<&Placement>,
    citus: bool,
    packed: bool,
    salt: &[u8; 16],
) -> StoreResult<bool> {
    let fp: Option<Vec<u8>> = tx
        .query_one("SELECT fingerprint FROM tracemark_placement LIMIT 1", &[])
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    match (placement, fp) {
        (None, None) => Ok(false),
        (None, Some(_)) => Ok(true),
        (Some(p), Some(fp)) if fp == p.fingerprint() => Ok(false),
        (Some(_), Some(_)) => Err(err(
            "this database's code rows are placed by another keyring's serial permutation \
             than the one this store was given: connect with the issuing keys stored in it",
        )),
        (Some(p), None) => {
            if citus {
                // As the migrations: the reference table's writes and the distributed
                // inserts over one connection per node.
                tx.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
                    .await
                    .map_err(pg)?;
            }
            let codes = if packed { CODES_PACKED } else { CODES };
            let n = map_codes(tx, codes, Some(p), true).await?;
            if n > 0 {
                if packed {
                    move_packed(tx, p, salt, citus).await?;
                } else {
                    run(tx, MOVE_EVENTS).await?;
                }
                run(tx, MOVE_LINKS).await?;
                eprintln!("store: the rows of {n} codes moved to their placed places");
            }
            set_fingerprint(tx, Some(p)).await?;
            Ok(false)
        }
    }
}
