//! Schema 11's packed code rows written (`src/sql/0011_schema.sql`): a commit's states
//! merged into their pages here, in Rust, and the pages and the events' runs sent by
//! binary `COPY`.
//!
//! Why here and not in one SQL statement (the first cut, `INSERT … SELECT … DISTINCT ON
//! … array_agg … ON CONFLICT`): the server sorted every entry of every page touched and
//! aggregated them again, 15 ms a commit of ~130 pages, and the runs' `array_agg` another
//! 9 ms (`pg_stat_statements` during `bench --scale 1 --postgres`), where the pages read
//! whole cost 0.3 ms and a merge of two sorted lists here next to nothing.

use crate::{pg, Bytes, StoreResult};
use std::collections::BTreeMap;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// A page's key: place, slot.
pub(crate) type Page = (i32, i16);

/// Entries (code, state) by page, each page's sorted by code, a code once.
pub(crate) type PageEntries = BTreeMap<Page, Vec<(Bytes, Bytes)>>;

/// Pages read whole by key (parameters: places, slots), as (place, slot, codes, states).
pub(crate) const READ_PAGES: &str = "SELECT p.place, p.slot, p.codes, p.states \
     FROM unnest($1::integer[], $2::smallint[]) AS t(place, slot) \
     JOIN code_pages p ON p.place = t.place AND p.slot = t.slot";

/// [`READ_PAGES`] on Citus: `place = ANY` prunes the shards to those of the places asked.
pub(crate) const READ_PAGES_CITUS: &str = "SELECT p.place, p.slot, p.codes, p.states \
     FROM unnest($1::integer[], $2::smallint[]) AS t(place, slot) \
     JOIN code_pages p ON p.place = t.place AND p.slot = t.slot \
     WHERE p.place = ANY($1)";

/// Pages deleted by key (parameters: places, slots).
const DELETE_PAGES: &str = "DELETE FROM code_pages p \
     USING unnest($1::integer[], $2::smallint[]) AS t(place, slot) \
     WHERE p.place = t.place AND p.slot = t.slot";

/// [`DELETE_PAGES`] on Citus, which runs no join with a function in a `DELETE`: the
/// places (parameter 1), and each page's (place, slot) as one number (parameter 2).
const DELETE_PAGES_CITUS: &str = "DELETE FROM code_pages \
     WHERE place = ANY($1) AND ((place::bigint << 16) | (slot::bigint & 65535)) = ANY($2)";

/// [`DELETE_PAGES`] for the runs of `code_events`.
const DELETE_RUNS: &str = "DELETE FROM code_events r \
     USING unnest($1::integer[], $2::smallint[]) AS t(place, slot) \
     WHERE r.place = t.place AND r.slot = t.slot";

/// [`DELETE_PAGES_CITUS`] for the runs of `code_events`.
const DELETE_RUNS_CITUS: &str = "DELETE FROM code_events \
     WHERE place = ANY($1) AND ((place::bigint << 16) | (slot::bigint & 65535)) = ANY($2)";

/// Entries (page, code, state) by page, each page's sorted by code. The caller gives each
/// code once.
pub(crate) fn group(entries: Vec<(Page, Bytes, Bytes)>) -> PageEntries {
    let mut pages = PageEntries::new();
    for (page, code, state) in entries {
        pages.entry(page).or_default().push((code, state));
    }
    for list in pages.values_mut() {
        list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    pages
}

/// Deletes the rows of `pages` from `table` (`code_pages` or `code_events`: every run of
/// each page), one statement.
pub(crate) async fn delete_pages(
    tx: &deadpool_postgres::Transaction<'_>,
    table: Table,
    pages: &[Page],
    citus: bool,
) -> StoreResult<()> {
    if pages.is_empty() {
        return Ok(());
    }
    let (places, slots): (Vec<i32>, Vec<i16>) = pages.iter().copied().unzip();
    // On Citus each page's (place, slot) as one number: it runs no join with a function
    // in a `DELETE`.
    let keys: Vec<i64> = match citus {
        true => pages
            .iter()
            .map(|&(p, s)| (i64::from(p) << 16) | (i64::from(s) & 0xffff))
            .collect(),
        false => Vec::new(),
    };
    let (sql, second): (&str, &(dyn ToSql + Sync)) = match (table, citus) {
        (Table::Pages, false) => (DELETE_PAGES, &slots),
        (Table::Runs, false) => (DELETE_RUNS, &slots),
        (Table::Pages, true) => (DELETE_PAGES_CITUS, &keys),
        (Table::Runs, true) => (DELETE_RUNS_CITUS, &keys),
    };
    let del = tx.prepare_cached(sql).await.map_err(pg)?;
    tx.execute(&del, &[&places, second]).await.map_err(pg)?;
    Ok(())
}

/// The packed code tables, for [`delete_pages`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Table {
    /// `code_pages`.
    Pages,
    /// `code_events`.
    Runs,
}

/// A run of `code_events`: a page's events of one commit (`gen`), sorted by (code, seq).
///
/// Its events are kept once each (schema 12): `events` holds the run's distinct events
/// and `idx` names each entry's, one byte an entry (a run's ~64 codes changed by one
/// document share their event but for a few: 1 byte an entry instead of 36 and the
/// array's 4-byte length). A run of more than [`DICTIONARY_MAX`] distinct events, and
/// every run written before 12, has no `idx`: its `events` are parallel to its codes.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub place: i32,
    pub slot: i16,
    pub gen: i64,
    pub codes: Vec<Bytes>,
    pub seqs: Vec<i32>,
    pub events: Vec<Bytes>,
    pub idx: Option<Vec<u8>>,
}

/// The most distinct events a run's dictionary holds (an index is one byte).
pub(crate) const DICTIONARY_MAX: usize = 256;

impl Run {
    /// Keeps each distinct event once, with an index per entry (see [`Run`]); a run past
    /// [`DICTIONARY_MAX`] distinct events stays parallel.
    fn dictionary(&mut self) {
        let mut distinct: Vec<Bytes> = Vec::new();
        let mut idx = Vec::with_capacity(self.events.len());
        for e in &self.events {
            // Linear: a run has a handful of distinct events, most often one.
            let i = match distinct.iter().rposition(|d| d == e) {
                Some(i) => i,
                None if distinct.len() < DICTIONARY_MAX => {
                    distinct.push(e.clone());
                    distinct.len() - 1
                }
                None => return,
            };
            idx.push(i as u8);
        }
        self.events = distinct;
        self.idx = Some(idx);
    }

    /// Entry `i`'s event, either form.
    pub(crate) fn event(&self, i: usize) -> Option<&Bytes> {
        match &self.idx {
            Some(idx) => self.events.get(usize::from(*idx.get(i)?)),
            None => self.events.get(i),
        }
    }
}

/// One entry of each run's events, either form: `events` and `idx` as read from a row of
/// `code_events`, answered parallel to its `n` codes.
pub(crate) fn expand(
    events: Vec<Bytes>,
    idx: Option<Vec<u8>>,
    n: usize,
) -> StoreResult<Vec<Bytes>> {
    let run = Run {
        events,
        idx,
        ..Run::default()
    };
    (0..n)
        .map(|i| {
            run.event(i)
                .cloned()
                .ok_or_else(|| crate::err("a corrupt run: an entry without its event"))
        })
        .collect()
}

/// Events (place, slot, gen, code, seq, event) grouped into runs, one per (place, slot,
/// gen), each sorted by (code, seq), in key order, each event kept once ([`Run`]).
pub(crate) fn runs_of(mut events: Vec<(i32, i16, i64, Bytes, i32, Bytes)>) -> Vec<Run> {
    events.sort_unstable_by(|a, b| (a.0, a.1, a.2, &a.3, a.4).cmp(&(b.0, b.1, b.2, &b.3, b.4)));
    let mut runs: Vec<Run> = Vec::new();
    for (place, slot, gen, code, seq, event) in events {
        match runs.last_mut() {
            Some(r) if (r.place, r.slot, r.gen) == (place, slot, gen) => {}
            _ => runs.push(Run {
                place,
                slot,
                gen,
                ..Run::default()
            }),
        }
        let r = runs.last_mut().expect("pushed");
        r.codes.push(code);
        r.seqs.push(seq);
        r.events.push(event);
    }
    for r in &mut runs {
        r.dictionary();
    }
    runs
}

/// Appends `runs` to `code_events` by binary `COPY`.
pub(crate) async fn copy_runs(
    tx: &deadpool_postgres::Transaction<'_>,
    runs: &[Run],
) -> StoreResult<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(
            "COPY code_events (place, slot, gen, codes, seqs, events, idx) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(pg)?;
    let w = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT4,
            Type::INT2,
            Type::INT8,
            Type::BYTEA_ARRAY,
            Type::INT4_ARRAY,
            Type::BYTEA_ARRAY,
            Type::BYTEA,
        ],
    );
    let mut w = std::pin::pin!(w);
    for r in runs {
        w.as_mut()
            .write(&[
                &r.place, &r.slot, &r.gen, &r.codes, &r.seqs, &r.events, &r.idx,
            ])
            .await
            .map_err(pg)?;
    }
    w.finish().await.map(drop).map_err(pg)
}

/// Merges `new` into the pages it names: each page read whole, the new entries merged in
/// (a code in both: the new one), the page deleted and written again by binary `COPY`.
/// The single writer's transaction: nothing else writes these pages meanwhile.
pub(crate) async fn write_pages(
    tx: &deadpool_postgres::Transaction<'_>,
    new: PageEntries,
    citus: bool,
) -> StoreResult<()> {
    if new.is_empty() {
        return Ok(());
    }
    let (places, slots): (Vec<i32>, Vec<i16>) = new.keys().copied().unzip();
    let read = tx
        .prepare_cached(if citus { READ_PAGES_CITUS } else { READ_PAGES })
        .await
        .map_err(pg)?;
    let rows = tx.query(&read, &[&places, &slots]).await.map_err(pg)?;
    let mut old: BTreeMap<Page, (Vec<Bytes>, Vec<Bytes>)> = BTreeMap::new();
    for r in rows {
        let page: Page = (r.try_get(0).map_err(pg)?, r.try_get(1).map_err(pg)?);
        let codes: Vec<Bytes> = r.try_get(2).map_err(pg)?;
        let states: Vec<Bytes> = r.try_get(3).map_err(pg)?;
        if codes.len() != states.len() {
            return Err(crate::err(
                "a corrupt page: as many codes as states expected",
            ));
        }
        old.insert(page, (codes, states));
    }
    let gone: Vec<Page> = old.keys().copied().collect();
    delete_pages(tx, Table::Pages, &gone, citus).await?;
    let sink = tx
        .copy_in("COPY code_pages (place, slot, codes, states) FROM STDIN (FORMAT binary)")
        .await
        .map_err(pg)?;
    let w = BinaryCopyInWriter::new(
        sink,
        &[Type::INT4, Type::INT2, Type::BYTEA_ARRAY, Type::BYTEA_ARRAY],
    );
    let mut w = std::pin::pin!(w);
    for (page, entries) in new {
        let (codes, states) = match old.remove(&page) {
            None => entries.into_iter().unzip(),
            Some((oc, os)) => merge(oc.into_iter().zip(os), entries),
        };
        let codes: Vec<Bytes> = codes;
        let states: Vec<Bytes> = states;
        w.as_mut()
            .write(&[&page.0, &page.1, &codes, &states])
            .await
            .map_err(pg)?;
    }
    w.finish().await.map(drop).map_err(pg)
}

/// Two lists sorted by code merged into one (a code in both: `new`'s), as parallel lists.
fn merge(
    old: impl Iterator<Item = (Bytes, Bytes)>,
    new: Vec<(Bytes, Bytes)>,
) -> (Vec<Bytes>, Vec<Bytes>) {
    let mut out: (Vec<Bytes>, Vec<Bytes>) = Default::default();
    let mut old = old.peekable();
    let mut new = new.into_iter().peekable();
    loop {
        let take_new = match (old.peek(), new.peek()) {
            (None, None) => return out,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(n)) => match o.0.cmp(&n.0) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => {
                    old.next();
                    true
                }
            },
        };
        let (c, s) = if take_new { new.next() } else { old.next() }.expect("peeked");
        out.0.push(c);
        out.1.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(c: &str, s: &str) -> (Bytes, Bytes) {
        (c.as_bytes().to_vec(), s.as_bytes().to_vec())
    }

    #[test]
    fn a_merge_keeps_the_order_and_the_new_state() {
        let old = vec![e("a", "1"), e("c", "1"), e("e", "1")];
        let new = vec![e("b", "2"), e("c", "2"), e("f", "2")];
        let (codes, states) = merge(old.into_iter(), new);
        let got: Vec<(Bytes, Bytes)> = codes.into_iter().zip(states).collect();
        assert_eq!(
            got,
            vec![
                e("a", "1"),
                e("b", "2"),
                e("c", "2"),
                e("e", "1"),
                e("f", "2")
            ]
        );
    }

    #[test]
    fn runs_group_by_page_and_gen_sorted_by_code_and_seq() {
        let ev =
            |p: i32, g: i64, c: &str, s: i32| (p, 0i16, g, c.as_bytes().to_vec(), s, vec![s as u8]);
        let runs = runs_of(vec![
            ev(2, 5, "b", 1),
            ev(1, 5, "z", 0),
            ev(2, 5, "a", 3),
            ev(2, 5, "b", 0),
        ]);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].place, runs[0].codes.len()), (1, 1));
        assert_eq!(
            runs[1].codes,
            vec![b"a".to_vec(), b"b".to_vec(), b"b".to_vec()]
        );
        assert_eq!(runs[1].seqs, vec![3, 0, 1]);
        // Each distinct event once, an index an entry.
        assert_eq!(runs[1].events, vec![vec![3u8], vec![0], vec![1]]);
        assert_eq!(runs[1].idx, Some(vec![0, 1, 2]));
    }

    #[test]
    fn a_runs_events_are_kept_once_and_read_back_in_either_form() {
        let ev = |c: u8, e: u8| (1, 0i16, 5, vec![c], i32::from(c), vec![e; 36]);
        let runs = runs_of((0..64).map(|c| ev(c, c % 2)).collect());
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.events.len(), 2, "two distinct events");
        assert_eq!(r.idx.as_ref().map(Vec::len), Some(64));
        let all = expand(r.events.clone(), r.idx.clone(), 64).expect("expand");
        assert!(all
            .iter()
            .enumerate()
            .all(|(c, e)| *e == vec![c as u8 % 2; 36]));
        // A run written before schema 12: parallel, no index.
        let old: Vec<Bytes> = (0..3).map(|c| vec![c; 36]).collect();
        assert_eq!(expand(old.clone(), None, 3).expect("expand"), old);
        assert!(
            expand(old, Some(vec![0, 9]), 2).is_err(),
            "an index past the events"
        );
        // More distinct events than an index byte names: parallel.
        let wide = runs_of(
            (0..300u16)
                .map(|c| {
                    (
                        1,
                        0i16,
                        5,
                        c.to_be_bytes().to_vec(),
                        0,
                        c.to_be_bytes().to_vec(),
                    )
                })
                .collect(),
        );
        assert_eq!((wide[0].events.len(), wide[0].idx.is_none()), (300, true));
    }
}
