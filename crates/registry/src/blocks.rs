//! Regulators' blocks of whole GTINs and batches, held in memory for the till's hot path.
//! Blocks of single codes live in the codes' states (`CodeState::blocks`).

use std::collections::HashMap;
use types::model::{batch_hash, Block};

/// Active GTIN- and batch-level blocks: a look-up costs one hash probe.
#[derive(Clone, Debug, Default)]
pub struct BlockIndex {
    /// GTIN → number of active whole-GTIN blocks.
    gtins: HashMap<u64, u32>,
    /// (GTIN, batch hash) → number of active batch blocks.
    batches: HashMap<(u64, u64), u32>,
}

impl BlockIndex {
    /// Builds the index from all blocks.
    pub fn from_blocks<'a>(blocks: impl IntoIterator<Item = &'a Block>) -> BlockIndex {
        let mut ix = BlockIndex::default();
        for b in blocks {
            if b.lifted_at.is_none() {
                ix.add(b);
            }
        }
        ix
    }

    fn target(b: &Block) -> Option<(u64, Option<u64>)> {
        let gtin: u64 = b.gtin.as_deref()?.parse().ok()?;
        Some((gtin, b.batch.as_deref().map(batch_hash)))
    }

    /// Counts an active block in.
    pub fn add(&mut self, b: &Block) {
        match Self::target(b) {
            Some((g, None)) => *self.gtins.entry(g).or_default() += 1,
            Some((g, Some(h))) => *self.batches.entry((g, h)).or_default() += 1,
            None => {}
        }
    }

    /// Counts a lifted block out.
    pub fn remove(&mut self, b: &Block) {
        fn dec<K: std::hash::Hash + Eq>(m: &mut HashMap<K, u32>, k: K) {
            if let Some(n) = m.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&k);
                }
            }
        }
        match Self::target(b) {
            Some((g, None)) => dec(&mut self.gtins, g),
            Some((g, Some(h))) => dec(&mut self.batches, (g, h)),
            None => {}
        }
    }

    /// Whether a code of `gtin` in batch `batch` (hash, 0 = none) is blocked.
    pub fn blocks(&self, gtin: u64, batch: u64) -> bool {
        (!self.gtins.is_empty() && self.gtins.contains_key(&gtin))
            || (batch != 0 && !self.batches.is_empty() && self.batches.contains_key(&(gtin, batch)))
    }
}
