//! Writing stored hashes and computing tree hashes and proofs from them.

use crate::{leaf_hash, node_hash, read, Error, Hash, HashReader, NodeId, EMPTY_ROOT};

/// The largest power of two strictly below `n` (`n >= 2`): RFC 9162's split point `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Appends the ids of the perfect subtrees that make up leaves `[lo, hi)`, left
/// to right, largest first. Every range the RFC 9162 recursion produces starts
/// at a multiple of a power of two at least as large as its length, so each
/// greedy chunk is aligned and therefore stored.
fn range_ids(mut lo: u64, hi: u64, ids: &mut Vec<NodeId>) {
    while lo < hi {
        let level = 63 - (hi - lo).leading_zeros(); // largest 2^level <= hi - lo
        debug_assert_eq!(lo % (1 << level), 0, "unaligned range");
        ids.push(NodeId::new(level as u8, lo >> level));
        lo += 1 << level;
    }
}

/// The number of perfect subtrees [`range_ids`] yields for `[lo, hi)`.
fn range_len(lo: u64, hi: u64) -> usize {
    (hi - lo).count_ones() as usize
}

/// Folds perfect-subtree hashes (left to right) into the hash of their range:
/// `MTH(D[lo:hi])`, since the RFC splits off the largest left subtree first.
fn fold(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => EMPTY_ROOT,
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// Reads every range's subtrees in one batch and returns `MTH` of each range.
fn range_hashes<R: HashReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    let mut ids = Vec::new();
    for &(lo, hi) in ranges {
        range_ids(lo, hi, &mut ids);
    }
    let stored = read(reader, &ids)?;
    let mut rest = stored.as_slice();
    let mut out = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let (these, tail) = rest.split_at(range_len(lo, hi));
        out.push(fold(these));
        rest = tail;
    }
    Ok(out)
}

/// The new stored hashes when appending leaf number `size` (data `leaf`) to a
/// tree of `size` leaves: the leaf hash at (0, size), then each parent the leaf
/// completes, by increasing level. Reads the left siblings of those parents
/// (one per trailing 1 bit of `size`) in one batch.
pub fn append_hashes<R: HashReader + ?Sized>(
    size: u64,
    leaf: &[u8],
    reader: &R,
) -> Result<Vec<(NodeId, Hash)>, Error> {
    if size == u64::MAX {
        return Err(Error::TreeFull);
    }
    let completes = size.trailing_ones();
    let ids: Vec<NodeId> = (0..completes)
        .map(|l| NodeId::new(l as u8, (size >> l) - 1))
        .collect();
    let left = read(reader, &ids)?;
    let mut h = leaf_hash(leaf);
    let mut out = Vec::with_capacity(1 + ids.len());
    out.push((NodeId::new(0, size), h));
    for (l, left) in (1u32..).zip(&left) {
        h = node_hash(left, &h);
        out.push((NodeId::new(l as u8, size >> l), h));
    }
    Ok(out)
}

/// The right edge of the tree: one perfect-subtree root per 1 bit of the size
/// (a "compact range" over `[0, size)`), enough to append leaves and compute
/// the root without reading the store.
///
/// A writer loads it once ([`Frontier::load`]), appends a whole group commit
/// with [`Frontier::append`], writes the emitted `(NodeId, Hash)` pairs, and
/// signs [`Frontier::root`]. It emits exactly what [`append_hashes`] would.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of the perfect subtrees covering `[0, size)`, largest (leftmost) first.
    roots: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the stored tree of `size` leaves: one batch read of at
    /// most 64 hashes.
    pub fn load<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Self, Error> {
        let mut ids = Vec::new();
        range_ids(0, size, &mut ids);
        Ok(Frontier {
            size,
            roots: read(reader, &ids)?,
        })
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree hash (RFC 9162 `MTH`) of the current tree; O(log size).
    pub fn root(&self) -> Hash {
        fold(&self.roots)
    }

    /// Appends one leaf, pushes the hashes to store onto `out` (the leaf hash,
    /// then each completed parent) and returns the leaf's index.
    pub fn append(&mut self, leaf: &[u8], out: &mut Vec<(NodeId, Hash)>) -> Result<u64, Error> {
        let n = self.size;
        self.size = n.checked_add(1).ok_or(Error::TreeFull)?;
        let mut h = leaf_hash(leaf);
        out.push((NodeId::new(0, n), h));
        let mut level = 0;
        // Each trailing 1 bit of n is a left sibling waiting on the stack;
        // n < u64::MAX has a 0 bit, so level stays below 64.
        while (n >> level) & 1 == 1 {
            let Some(left) = self.roots.pop() else {
                unreachable!("frontier holds one root per 1 bit of its size")
            };
            level += 1;
            h = node_hash(&left, &h);
            out.push((NodeId::new(level as u8, n >> level), h));
        }
        self.roots.push(h);
        Ok(n)
    }
}

/// The tree hash (RFC 9162 `MTH`) of the first `size` leaves, from at most
/// 64 stored hashes (one per 1 bit of `size`). `EMPTY_ROOT` for size 0.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, Error> {
    let mut ids = Vec::new();
    range_ids(0, size, &mut ids);
    Ok(fold(&read(reader, &ids)?))
}

/// The RFC 9162 §2.1.3.1 inclusion proof `PATH(index, D[0:size])`, ordered
/// from the leaf's sibling up to the root's child.
///
/// Errors: [`Error::IndexOutOfRange`] if `index >= size`; the reader's error
/// (normally [`Error::MissingHash`]) if `size` exceeds the stored tree.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    // Walk down from the root, noting the subtree not taken at each split.
    let (mut lo, mut hi) = (0, size);
    let mut ranges = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    range_hashes(&ranges, reader)
}

/// The RFC 9162 §2.1.4.1 consistency proof `PROOF(from, D[0:to])`.
///
/// Empty when `from == 0` or `from == to`. Errors: [`Error::InvalidRange`] if
/// `from > to`; the reader's error (normally [`Error::MissingHash`]) if `to`
/// exceeds the stored tree.
pub fn consistency_proof<R: HashReader + ?Sized>(
    from: u64,
    to: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    if from > to {
        return Err(Error::InvalidRange { from, to });
    }
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: lo < from < hi holds in the loop.
    let (mut lo, mut hi, mut whole_old_tree) = (0, to, true);
    let mut ranges = Vec::new();
    while from != hi {
        let k = split(hi - lo);
        if from <= lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        ranges.push((lo, hi));
    }
    ranges.reverse();
    range_hashes(&ranges, reader)
}
