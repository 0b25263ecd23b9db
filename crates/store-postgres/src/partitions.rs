//! Time partitions (schema version 4, `src/sql/0004_schema.sql`): `documents`, `feed` and
//! `log_leaves` are range-partitioned by a key that grows with time (the document's and
//! the feed's `seq`, the leaf's `idx`), in partitions of `width` keys.
//!
//! Partitions are made ahead of the keys, by the writer, never inside a commit: before a
//! commit, the store compares the set's largest key of each table with the end of that
//! table's last partition, as it last read it (integers in memory: nothing on the hot
//! path). Only when a key comes within half a partition of the end — once per `width`
//! keys — does it run `tracemark_extend_partitions` in a short transaction of its own,
//! which adds the next partition (made empty, then attached: reads and writes of the
//! table go on meanwhile), and reads the ends again.
//!
//! That maintenance waits at most [`LOCK_WAIT`] for its lock while there is room left
//! (a long-running reader of the table holds it up); if it cannot get it, the commit goes
//! on in the room there is and the next try is [`RETRY_AFTER`] later. Only a key past the
//! end (no room at all) makes a commit wait for the lock, bounded by `statement_timeout`,
//! and fail with the error if it cannot get it (the registry answers 503; nothing is
//! changed).

use crate::{get, pg, PgStore};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use store::{StoreResult, WriteSet};

/// The tables partitioned by time, and the column they are partitioned by.
pub const PARTITIONED: [(&str, &str); 3] =
    [("documents", "seq"), ("feed", "seq"), ("log_leaves", "idx")];

/// Longest wait for the partition lock while a commit still has room.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);

/// After a maintenance that could not get its lock, the next try (unless a key runs out
/// of room before).
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The ends of the partitioned tables, as the store last read them.
#[derive(Debug, Default)]
pub(crate) struct Ends {
    /// Table → (width, end of its last partition, exclusive). Empty below version 4.
    tables: HashMap<String, (i64, i64)>,
    /// Not before this, unless a key has no room.
    retry_at: Option<Instant>,
}

/// The largest key a write set writes to each partitioned table.
fn keys(set: &WriteSet) -> [(&'static str, Option<u64>); 3] {
    [
        ("documents", set.documents.iter().map(|d| d.seq).max()),
        ("feed", set.feed.iter().map(|(s, _)| *s).max()),
        ("log_leaves", set.log_leaves.iter().map(|(n, _)| *n).max()),
    ]
}

/// What to extend before `set` is committed: (table, key to cover), and whether a key has
/// no room at all.
fn due(ends: &Ends, set: &WriteSet, now: Instant) -> Option<(Vec<(String, i64)>, bool)> {
    let mut due = Vec::new();
    let mut hard = false;
    for (table, key) in keys(set) {
        let (Some(key), Some(&(width, end))) = (key, ends.tables.get(table)) else {
            continue;
        };
        // Beyond bigint: no partition can hold it (the commit says so).
        let Ok(key) = i64::try_from(key) else {
            continue;
        };
        let want = key.saturating_add(width / 2);
        if want >= end {
            due.push((table.to_string(), want));
            hard |= key >= end;
        }
    }
    let waiting = ends.retry_at.is_some_and(|t| now < t);
    (!due.is_empty() && (hard || !waiting)).then_some((due, hard))
}

async fn read_ends(
    tx: &deadpool_postgres::Transaction<'_>,
) -> StoreResult<HashMap<String, (i64, i64)>> {
    let rows = tx
        .query("SELECT tbl, width, upto FROM tracemark_partitions", &[])
        .await
        .map_err(pg)?;
    rows.iter()
        .map(|r| Ok((get(r, 0)?, (get(r, 1)?, get(r, 2)?))))
        .collect()
}

impl PgStore {
    /// Reads the partitioned tables' ends (at connect, schema version 4 and later).
    pub(crate) fn load_partition_ends(&self) -> StoreResult<()> {
        let tables = self.call(|c| {
            Box::pin(async move {
                let tx = c.transaction().await.map_err(pg)?;
                read_ends(&tx).await
            })
        })?;
        self.ends.lock().unwrap_or_else(|p| p.into_inner()).tables = tables;
        Ok(())
    }

    /// Makes the partitions `set` needs, ahead (see the module's documentation). Called
    /// by `commit` before its transaction; does nothing on almost every call.
    pub(crate) fn make_room(&self, set: &WriteSet) -> StoreResult<()> {
        let now = Instant::now();
        let Some((due, hard)) = due(
            &self.ends.lock().unwrap_or_else(|p| p.into_inner()),
            set,
            now,
        ) else {
            return Ok(());
        };
        let r = self.call(move |c| {
            Box::pin(async move {
                let tx = c.transaction().await.map_err(pg)?;
                if !hard {
                    tx.batch_execute(&format!(
                        "SET LOCAL lock_timeout = {}",
                        LOCK_WAIT.as_millis()
                    ))
                    .await
                    .map_err(pg)?;
                }
                for (table, key) in &due {
                    tx.query_one("SELECT tracemark_extend_partitions($1, $2)", &[table, key])
                        .await
                        .map_err(pg)?;
                }
                let ends = read_ends(&tx).await?;
                tx.commit().await.map_err(pg)?;
                Ok(ends)
            })
        });
        let mut ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        match r {
            Ok(tables) => {
                ends.tables = tables;
                ends.retry_at = None;
                Ok(())
            }
            // There is room still: the commit goes on, the next try later.
            Err(_) if !hard => {
                ends.retry_at = Some(now + RETRY_AFTER);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The partitions of the time-partitioned tables, oldest first: (table, partition,
    /// its bounds as PostgreSQL prints them). For operators and tests.
    pub fn partitions(&self) -> StoreResult<Vec<(String, String, String)>> {
        let rows = self.query(
            "SELECT p.relname::text, c.relname::text, pg_get_expr(c.relpartbound, c.oid) \
             FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent \
             WHERE p.oid IN ('documents'::regclass, 'feed'::regclass, 'log_leaves'::regclass) \
             ORDER BY p.relname, c.relname",
            vec![],
        )?;
        rows.iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u64]) -> WriteSet {
        WriteSet {
            feed: seqs.iter().map(|s| (*s, vec![])).collect(),
            ..WriteSet::default()
        }
    }

    fn ends(width: i64, end: i64) -> Ends {
        Ends {
            tables: [("feed".to_string(), (width, end))].into(),
            retry_at: None,
        }
    }

    #[test]
    fn room_is_made_half_a_partition_ahead() {
        let now = Instant::now();
        let e = ends(100, 200);
        assert_eq!(due(&e, &feed(&[1, 149]), now), None);
        assert_eq!(
            due(&e, &feed(&[150]), now),
            Some((vec![("feed".into(), 200)], false))
        );
        assert_eq!(
            due(&e, &feed(&[10, 200]), now),
            Some((vec![("feed".into(), 250)], true))
        );
        // Tables without partitions (an older schema), keys beyond bigint: nothing.
        assert_eq!(due(&Ends::default(), &feed(&[1 << 40]), now), None);
        assert_eq!(due(&e, &feed(&[u64::MAX]), now), None);
    }

    #[test]
    fn a_failed_try_waits_unless_there_is_no_room() {
        let now = Instant::now();
        let mut e = ends(100, 200);
        e.retry_at = Some(now + RETRY_AFTER);
        assert_eq!(due(&e, &feed(&[150]), now), None);
        assert!(due(&e, &feed(&[150]), now + RETRY_AFTER).is_some());
        assert_eq!(
            due(&e, &feed(&[205]), now),
            Some((vec![("feed".into(), 255)], true))
        );
    }
}
