//! The writer's lease: one process among those serving a database commits.
//!
//! A row of `writer_lease` names the holder (a random id per process start), the address
//! it serves on, an **epoch** that grows each time the lease changes hands, and when it
//! runs out (the database's clock, so the processes' clocks do not matter). A process
//! takes the lease when it has run out (or is its own) and renews it well before.
//!
//! Fencing: once a process enables the lease ([`crate::PgStore::enable_lease`]) every
//! commit of its (the registry's write sets and the projections' rows) first reads the
//! lease row `FOR SHARE` inside the commit's own transaction and goes on only if the row
//! still names this holder and the epoch it took. A process that lost the lease — paused
//! longer than the lease, cut off from the database while another took over — can
//! therefore never commit again, whatever it believes; and a process taking the lease
//! waits for a commit in flight to end (the row lock), so no commit of the old holder
//! lands after the new one begins. A store that never enabled the lease (the tests, the
//! export, the audit) is not fenced.

use crate::{get, pg, PgStore};
use std::time::Duration;
use store::{StoreError, StoreResult};

/// Who holds the lease, as the database says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holder's id.
    pub holder: String,
    /// The address the holder serves on (for readers to name the writer).
    pub address: Option<String>,
    /// How many times the lease has changed hands.
    pub epoch: u64,
    /// Whether it has run out (a reader may take it).
    pub expired: bool,
}

/// A recorded nonce: (participant, kind, hash, at).
pub type NonceRow = (u32, u8, [u8; 16], u64);

/// This process's part in the lease.
#[derive(Clone, Debug, Default)]
pub(crate) enum Fence {
    /// Not fenced: the only process on its database (tests, export, audit).
    #[default]
    Off,
    /// Fenced: commits only while holding the lease at `epoch` (`None`: not held).
    Lease {
        /// This process's holder id.
        holder: String,
        /// The epoch it holds the lease at.
        epoch: Option<i64>,
    },
}

/// The statement every fenced commit runs first, in its own transaction.
pub(crate) const FENCE_SQL: &str =
    "SELECT 1 FROM writer_lease WHERE id = 1 AND holder = $1 AND epoch = $2 FOR SHARE";

/// What a commit must check: `None` for an unfenced store, else (holder, epoch).
pub(crate) fn fence_for_commit(fence: &Fence) -> StoreResult<Option<(String, i64)>> {
    match fence {
        Fence::Off => Ok(None),
        Fence::Lease {
            holder,
            epoch: Some(e),
        } => Ok(Some((holder.clone(), *e))),
        Fence::Lease { epoch: None, .. } => Err(StoreError::new(
            "not the writer: this process does not hold the database's writer lease; nothing was changed",
        )),
    }
}

/// Runs the fence check in `tx`: an error if the lease is no longer this holder's.
pub(crate) async fn check_fence(
    tx: &deadpool_postgres::Transaction<'_>,
    fence: &Option<(String, i64)>,
) -> StoreResult<()> {
    if let Some((holder, epoch)) = fence {
        let s = tx.prepare_cached(FENCE_SQL).await.map_err(pg)?;
        if tx
            .query_opt(&s, &[holder, epoch])
            .await
            .map_err(pg)?
            .is_none()
        {
            return Err(StoreError::new(
                "the writer's lease was taken by another process: this one may not commit; nothing was changed",
            ));
        }
    }
    Ok(())
}

impl PgStore {
    /// Fences this store's commits with the writer lease, as `holder` (a random id per
    /// process start): from now on it commits only while [`PgStore::lease_try`] says it
    /// holds the lease. A reader's projections are then kept in memory only (their rows
    /// are the writer's to store): `commit_projection` does nothing until it holds it.
    pub fn enable_lease(&self, holder: &str) {
        *self.fence.lock().unwrap_or_else(|p| p.into_inner()) = Fence::Lease {
            holder: holder.to_string(),
            epoch: None,
        };
    }

    /// Whether this process is fenced and does not hold the lease (a reader).
    pub(crate) fn reading_only(&self) -> bool {
        matches!(
            *self.fence.lock().unwrap_or_else(|p| p.into_inner()),
            Fence::Lease { epoch: None, .. }
        )
    }

    /// Takes the writer lease for `holder` (serving on `address`) for `ttl`, or renews it
    /// if it is already `holder`'s: `true` if `holder` holds it now. Another holder's
    /// lease is taken only once it has run out (by the database's clock); taking it moves
    /// the epoch on, which fences the old holder's commits.
    pub fn lease_try(&self, holder: &str, address: &str, ttl: Duration) -> StoreResult<bool> {
        // A cheap look first: while another holder's lease runs, no row lock is taken
        // (the writer's commits read the row FOR SHARE).
        if let Some(h) = self.lease_holder()? {
            if h.holder != holder && !h.expired {
                self.set_epoch(holder, None);
                return Ok(false);
            }
        }
        let ttl_ms = ttl.as_secs_f64() * 1e3;
        let rows = self.query(
            "INSERT INTO writer_lease AS l (id, holder, address, epoch, expires_at) \
             VALUES (1, $1, $2, 1, clock_timestamp() + $3::float8 * interval '1 millisecond') \
             ON CONFLICT (id) DO UPDATE SET \
               holder = excluded.holder, address = excluded.address, \
               epoch = CASE WHEN l.holder = excluded.holder THEN l.epoch ELSE l.epoch + 1 END, \
               expires_at = excluded.expires_at \
             WHERE l.holder = excluded.holder OR l.expires_at < clock_timestamp() \
             RETURNING epoch",
            vec![
                Box::new(holder.to_string()),
                Box::new(address.to_string()),
                Box::new(ttl_ms),
            ],
        )?;
        let epoch = match rows.first() {
            Some(r) => Some(get::<i64>(r, 0)?),
            None => None,
        };
        self.set_epoch(holder, epoch);
        Ok(epoch.is_some())
    }

    fn set_epoch(&self, holder: &str, epoch: Option<i64>) {
        let mut f = self.fence.lock().unwrap_or_else(|p| p.into_inner());
        if let Fence::Lease {
            holder: h,
            epoch: e,
        } = &mut *f
        {
            if h == holder {
                *e = epoch;
            }
        }
    }

    /// Who holds the lease (`None`: nobody ever took it).
    pub fn lease_holder(&self) -> StoreResult<Option<LeaseHolder>> {
        let rows = self.query(
            "SELECT holder, address, epoch, expires_at < clock_timestamp() FROM writer_lease WHERE id = 1",
            vec![],
        )?;
        match rows.first() {
            None => Ok(None),
            Some(r) => Ok(Some(LeaseHolder {
                holder: get(r, 0)?,
                address: get(r, 1)?,
                epoch: get::<i64>(r, 2)? as u64,
                expired: get(r, 3)?,
            })),
        }
    }

    /// Gives the lease up at once (a clean stop: a reader takes over without waiting for
    /// it to run out). This store commits nothing more until it takes it again.
    pub fn lease_release(&self, holder: &str) -> StoreResult<()> {
        self.set_epoch(holder, None);
        self.query(
            "UPDATE writer_lease SET expires_at = clock_timestamp() - interval '1 second' \
             WHERE id = 1 AND holder = $1",
            vec![Box::new(holder.to_string())],
        )
        .map(drop)
    }

    /// Records a used nonce (a verified signature's, or a used sign-in challenge's):
    /// `kind` and `hash` as the server's nonce journal has them, `at` Unix seconds. Durable
    /// before it returns; `Ok(false)` when it was recorded before, by any process (a replay).
    pub fn nonce_record(
        &self,
        participant: u32,
        kind: u8,
        hash: [u8; 16],
        at: u64,
    ) -> StoreResult<bool> {
        let rows = self.query(
            "INSERT INTO nonces (participant, kind, hash, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING RETURNING 1",
            vec![
                Box::new(i64::from(participant)),
                Box::new(i16::from(kind)),
                Box::new(hash.to_vec()),
                Box::new(at as i64),
            ],
        )?;
        Ok(!rows.is_empty())
    }

    /// The nonces recorded at or after `since`: (participant, kind, hash, at).
    pub fn nonces_since(&self, since: u64) -> StoreResult<Vec<NonceRow>> {
        let rows = self.query(
            "SELECT participant, kind, hash, at FROM nonces WHERE at >= $1",
            vec![Box::new(since as i64)],
        )?;
        rows.iter()
            .map(|r| {
                let hash: Vec<u8> = get(r, 2)?;
                Ok((
                    u32::try_from(get::<i64>(r, 0)?).map_err(StoreError::new)?,
                    u8::try_from(get::<i16>(r, 1)?).map_err(StoreError::new)?,
                    hash.try_into()
                        .map_err(|_| StoreError::new("a nonce of another length"))?,
                    get::<i64>(r, 3)? as u64,
                ))
            })
            .collect()
    }

    /// Deletes the nonces recorded before `before` (outside every signature's window).
    pub fn nonces_forget(&self, before: u64) -> StoreResult<()> {
        self.query(
            "DELETE FROM nonces WHERE at < $1",
            vec![Box::new(before as i64)],
        )
        .map(drop)
    }

    /// A secret by name, if stored (see [`PgStore::secret`]).
    pub fn secret_get(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let rows = self.query(
            "SELECT value FROM secrets WHERE name = $1",
            vec![Box::new(name.to_string())],
        )?;
        rows.first().map(|r| get(r, 0)).transpose()
    }
}
