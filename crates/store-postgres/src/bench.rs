//! Support for `tracemark bench --postgres URL`: a schema of its own per measurement, the
//! engine's ceiling (a group commit's code rows, nothing else) and
//! the bytes the tables take on disk.
//!
//! A bench schema is made with [`create_schema`] and removed with [`drop_schema`]; the
//! URL [`create_schema`] answers points the connection's `search_path` at it, so
//! [`PgStore::connect`] creates the registry's tables there (distributed on a Citus
//! coordinator, as for any schema).

use crate::{err, pg, PgOptions, PgStore};
use std::time::Instant;
use store::{Store, StoreResult, WriteSet};
use types::model::{CodeEvent, CodeKey, CodeState, DocType, Status};

/// A GTIN for the ceiling's codes (any 14-digit number: only the key's bytes matter).
const CEILING_GTIN: u64 = 4_650_117_240_163;

/// Runs `sql` (statements separated by `;`) on `url`, on a connection of its own.
fn execute(url: &str, sql: String) -> StoreResult<()> {
    let store = PgStore::open(
        url,
        PgOptions {
            pool_size: 1,
            ..PgOptions::default()
        },
    )?;
    store.call(move |c| Box::pin(async move { c.batch_execute(&sql).await.map_err(pg) }))
}

/// `url` with `options=-c search_path=SCHEMA` (its other parameters kept).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Creates the empty schema `name` (lower-case letters, digits and `_`) on the server of
/// `url`, and answers `url` pointing at it. On a Citus coordinator the schema is created
/// on every worker too.
pub fn create_schema(url: &str, name: &str) -> StoreResult<String> {
    check_name(name)?;
    execute(url, format!("CREATE SCHEMA {name}"))?;
    Ok(with_search_path(url, name))
}

/// Drops the schema `name` and everything in it (on a Citus coordinator, its shards on the
/// workers too).
pub fn drop_schema(url: &str, name: &str) -> StoreResult<()> {
    check_name(name)?;
    execute(
        url,
        format!("SET client_min_messages = warning; DROP SCHEMA IF EXISTS {name} CASCADE"),
    )
}

fn check_name(name: &str) -> StoreResult<()> {
    let ok = !name.is_empty()
        && name.len() < 60
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(err(format!("not a bench schema name: {name:?}")))
    }
}

/// A well-mixed 64-bit hash (splitmix64): the ceiling's serials, spread over the key
/// space as real serials are.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of the ceiling's `i`-th code: a unit of 13 random capital letters, the length
/// of the registry's shoe serials.
fn ceiling_key(i: u64) -> CodeKey {
    let (a, b) = (mix(i), mix(i ^ 0x5555_5555_5555_5555));
    let serial: Vec<u8> = (0..13)
        .map(|n| {
            let v = if n < 8 {
                a >> (n * 8)
            } else {
                b >> ((n - 8) * 8)
            };
            b'A' + (v & 0xff) as u8 % 26
        })
        .collect();
    CodeKey::unit(CEILING_GTIN, &serial)
}

impl PgStore {
    /// The engine's ceiling: `codes` new codes written as a group commit writes a
    /// document's codes (schema 11: each code's state merged into its page, its event
    /// appended to its page's run), `per_commit` codes per transaction, through
    /// [`Store::commit`] with nothing else in the set, committed durably
    /// (`synchronous_commit` as the server has it: on by default). Answers codes per
    /// second. Run it on a bench schema of its own ([`create_schema`]): the rows stay.
    pub fn copy_ceiling(&self, codes: u64, per_commit: u64) -> StoreResult<f64> {
        let state = CodeState::new(Status::Applied, 1, 1_700_000_000);
        let per_commit = per_commit.max(1);
        let t = Instant::now();
        let mut i = 0u64;
        while i < codes {
            let n = per_commit.min(codes - i);
            let mut set = WriteSet::default();
            for k in i..i + n {
                let key = ceiling_key(k);
                let event = CodeEvent {
                    doc_seq: k + 1,
                    at: 1_700_000_000,
                    doc_type: DocType::Apply,
                    status: Status::Applied,
                    reason: None,
                    owner: 1,
                    actor: 1,
                    prev: 0,
                };
                set.codes.push((key, state));
                set.events.push((key, 0, event));
            }
            i += n;
            self.commit(&set)?;
        }
        Ok(codes as f64 / t.elapsed().as_secs_f64())
    }

    /// The bytes on disk of every table of the connection's schema, indexes and TOAST
    /// included (`pg_total_relation_size`; on Citus `citus_total_relation_size` for the
    /// distributed and reference tables: every shard on every node), largest first.
    pub fn table_bytes(&self) -> StoreResult<Vec<(String, u64)>> {
        let citus = matches!(self.engine, crate::Engine::Citus { .. });
        let sql: &'static str = if citus {
            "SELECT c.relname::text, CASE WHEN EXISTS \
               (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid) \
               THEN citus_total_relation_size(c.oid) ELSE pg_total_relation_size(c.oid) END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             ORDER BY 2 DESC, 1"
        } else {
            "SELECT c.relname::text, pg_total_relation_size(c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             ORDER BY 2 DESC, 1"
        };
        self.all(sql, vec![], |r| {
            Ok((crate::get(r, 0)?, crate::u(crate::get(r, 1)?)))
        })
    }

    /// The server's settings `names`, in that order (`None` for one the server does not
    /// know, such as `citus.shard_count` without Citus).
    pub fn settings(&self, names: &[&str]) -> StoreResult<Vec<(String, Option<String>)>> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        self.all(
            "SELECT n, current_setting(n, true) \
             FROM unnest($1::text[]) WITH ORDINALITY AS t(n, o) ORDER BY o",
            vec![Box::new(names)],
            |r| Ok((crate::get(r, 0)?, crate::get(r, 1)?)),
        )
    }

    /// The codes stored (those with a state of their own: entries of `code_pages`).
    pub fn codes_stored(&self) -> StoreResult<u64> {
        Ok(self
            .one(
                "SELECT coalesce(sum(cardinality(codes)), 0)::bigint FROM code_pages",
                vec![],
                |r| crate::get::<i64>(r, 0).map(crate::u),
            )?
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_keys_are_distinct_units_of_13_capitals() {
        let keys: std::collections::HashSet<Vec<u8>> = (0..10_000)
            .map(|i| ceiling_key(i).as_bytes().to_vec())
            .collect();
        assert_eq!(keys.len(), 10_000);
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(check_name("bench_1_2").is_ok());
        for bad in ["", "1a", "a-b", "a;drop", "A"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
