//! One named bound on the registry's resident memory: `TRACEMARK_MEMORY_MB`.
//!
//! What a registry holds in memory beyond a fixed part is three caches that fill as it
//! works and would otherwise grow with the codes it has seen: the store's block cache,
//! its memtables (bounded by the journal they mirror) and the writer's state cache. The
//! [`Budget`] splits one figure between them, so that resident memory reaches the
//! setting and stays there however many codes are stored; the store's files beyond it
//! are cached by the operating system's page cache, which is not the process's memory.
//! Everything else the process holds has a named limit of its own (the risk engine's
//! `CHECKS_KEPT_MAX` and the like, the documents' size limits), counted in
//! [`Budget::fixed`].
//!
//! The older per-cache settings still win where given (`TRACEMARK_CACHE_MB`,
//! `TRACEMARK_STATE_CACHE`): what they take is taken from the budget first.

pub use crate::limits::{FIXED_MB_MAX, MEMORY_MB_MIN};
use crate::model::{CodeKey, CodeState};

/// The environment variable naming the bound, in MiB.
pub const MEMORY_ENV: &str = "TRACEMARK_MEMORY_MB";
/// fjall's smallest journal (MiB).
const JOURNAL_MB_MIN: u64 = 64;
/// fjall's default journal (MiB), the most this budget gives it.
const JOURNAL_MB_MAX: u64 = 512;

const MIB: u64 = 1024 * 1024;

/// How the bound is split (bytes, and the state cache in entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The bound itself.
    pub total: u64,
    /// Kept for the rest of the process.
    pub fixed: u64,
    /// The store's journal; its memtables hold what it holds, counted at 1.5× in
    /// [`Budget::memtables`] for their index.
    pub journal: u64,
    /// Memory the memtables may take.
    pub memtables: u64,
    /// The writer's state cache, in entries.
    pub state_cache_entries: usize,
    /// The state cache's memory at its fullest ([`state_cache_bytes`]).
    pub state_cache: u64,
    /// The store's block cache.
    pub block_cache: u64,
}

impl Budget {
    /// The budget from the environment: `TRACEMARK_MEMORY_MB`, else a quarter of the
    /// machine's memory; `TRACEMARK_STATE_CACHE` (entries) and `TRACEMARK_CACHE_MB` taken
    /// from it first where set.
    pub fn from_env() -> Budget {
        let num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let total = num(MEMORY_ENV)
            .map(|mb| mb * MIB)
            .unwrap_or_else(|| physical_memory() / 4);
        Budget::split(
            total,
            num("TRACEMARK_STATE_CACHE").map(|n| n as usize),
            num("TRACEMARK_CACHE_MB").map(|mb| mb.max(16) * MIB),
        )
    }

    /// Splits `total` bytes (raised to [`MEMORY_MB_MIN`]): the fixed part, the journal
    /// (an eighth, within fjall's 64–512 MiB), then the state cache (`state_cache`
    /// entries if given, else the default capacity or as many as a third of the rest
    /// holds) and the block cache (`block_cache` bytes if given, else the rest).
    pub fn split(total: u64, state_cache: Option<usize>, block_cache: Option<u64>) -> Budget {
        let total = total.max(MEMORY_MB_MIN * MIB);
        let fixed = (total / 4).min(FIXED_MB_MAX * MIB);
        let journal = (total / 8).clamp(JOURNAL_MB_MIN * MIB, JOURNAL_MB_MAX * MIB);
        let memtables = journal + journal / 2;
        let rest = total.saturating_sub(fixed + memtables);
        let entries = state_cache.unwrap_or_else(|| {
            crate::limits::STATE_CACHE_ENTRIES_DEFAULT.min(state_cache_fitting(rest / 3))
        });
        let state = state_cache_bytes(entries);
        let block = block_cache.unwrap_or_else(|| rest.saturating_sub(state).max(16 * MIB));
        Budget {
            total,
            fixed,
            journal,
            memtables,
            state_cache_entries: entries,
            state_cache: state,
            block_cache: block,
        }
    }
}

/// The state cache's memory at its fullest with `entries`: two generations of a
/// hashbrown map of `entries / 2` each, a table being a power of two of buckets at most
/// 7/8 full, each bucket an entry and a control byte.
pub fn state_cache_bytes(entries: usize) -> u64 {
    if entries == 0 {
        return 0;
    }
    let per = (std::mem::size_of::<(CodeKey, CodeState)>() + 1) as u64;
    let half = entries.div_ceil(2) as u64;
    let buckets = (half * 8).div_ceil(7).next_power_of_two();
    2 * buckets * per
}

/// The most entries whose state cache fits in `bytes`.
fn state_cache_fitting(bytes: u64) -> usize {
    let per = (std::mem::size_of::<(CodeKey, CodeState)>() + 1) as u64;
    let buckets = bytes / 2 / per;
    if buckets < 8 {
        return 0;
    }
    let pow = 1u64 << (63 - buckets.leading_zeros());
    ((pow * 7 / 8) * 2) as usize
}

/// The machine's memory (`MemTotal`), or 4 GiB where it cannot be read.
pub fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(4096 * MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_add_up_to_at_most_the_bound() {
        for mb in [256u64, 512, 1024, 2048, 4096, 6144, 16384, 65536] {
            let b = Budget::split(mb * MIB, None, None);
            assert_eq!(b.total, mb * MIB);
            let sum = b.fixed + b.memtables + b.state_cache + b.block_cache;
            assert!(sum <= b.total, "{mb} MiB: {b:?} sums to {sum}");
            assert!(b.block_cache >= 16 * MIB, "{b:?}");
            assert!(b.journal >= JOURNAL_MB_MIN * MIB, "{b:?}");
        }
    }

    #[test]
    fn a_small_bound_shrinks_the_state_cache_and_a_large_one_keeps_the_default() {
        let small = Budget::split(1024 * MIB, None, None);
        assert!(small.state_cache_entries > 100_000, "{small:?}");
        assert!(small.state_cache_entries < crate::limits::STATE_CACHE_ENTRIES_DEFAULT);
        let large = Budget::split(8192 * MIB, None, None);
        assert_eq!(
            large.state_cache_entries,
            crate::limits::STATE_CACHE_ENTRIES_DEFAULT
        );
        // Below the minimum, the minimum.
        assert_eq!(Budget::split(0, None, None).total, MEMORY_MB_MIN * MIB);
    }

    #[test]
    fn given_caches_are_taken_first() {
        let b = Budget::split(4096 * MIB, Some(1000), Some(100 * MIB));
        assert_eq!(b.state_cache_entries, 1000);
        assert_eq!(b.block_cache, 100 * MIB);
        let b = Budget::split(4096 * MIB, Some(0), None);
        assert_eq!(b.state_cache, 0);
    }

    #[test]
    fn the_fitting_cache_fits() {
        for bytes in [10 * MIB, 100 * MIB, 333 * MIB, 1000 * MIB] {
            let n = state_cache_fitting(bytes);
            assert!(state_cache_bytes(n) <= bytes, "{bytes}: {n}");
            // And it is not far below: twice as many would not fit.
            assert!(state_cache_bytes(n * 2 + 2) > bytes, "{bytes}: {n}");
        }
    }
}
