//! A pure (no I/O) append-only Merkle transparency log, hashed as RFC 9162 §2.1.
//!
//! The design follows Go's `golang.org/x/mod/sumdb/tlog`: the hash of every
//! *complete perfect subtree* is stored exactly once, addressed by a [`NodeId`]
//! (level, index); node (L, k) covers leaves `[k·2^L, (k+1)·2^L)`. Appending
//! leaf `n` stores the leaf hash at (0, n) plus each parent it completes
//! ([`append_hashes`], or [`Frontier`] for group commits without store reads).
//! Tree hashes ([`tree_hash`]), inclusion proofs ([`inclusion_proof`]) and
//! consistency proofs ([`consistency_proof`]) of any earlier size are then
//! computed from O(log n) stored hashes, fetched through a [`HashReader`].
//!
//! Proofs are checked with [`verify_inclusion`] / [`verify_consistency`], which
//! follow the RFC 9162 §2.1.3.2 / §2.1.4.2 algorithms step by step. Signed tree
//! heads are C2SP checkpoints ([`Checkpoint`], [`verify_note`]).
//!
//! ```
//! use std::collections::HashMap;
//! use tlog::*;
//!
//! // Writer: one group commit of 5 leaves; store what the Frontier emits.
//! let mut store = HashMap::new();
//! let mut frontier = Frontier::load(0, &store)?;
//! let mut new = Vec::new();
//! for doc in ["a", "b", "c", "d", "e"] {
//!     frontier.append(doc.as_bytes(), &mut new)?;
//! }
//! store.extend(new.drain(..));
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let head = Checkpoint { origin: "example.org/log".into(), size: 5, root: frontier.root() };
//! let note = head.sign(&key, "example.org/log")?;
//!
//! // Reader: proofs from O(log n) stored hashes; verifier: offline checks.
//! let proof = inclusion_proof(2, 5, &store)?;
//! let cp = verify_note(&note, "example.org/log", &key.verifying_key())?;
//! verify_inclusion(&leaf_hash(b"c"), 2, cp.size, &proof, &cp.root)?;
//! let older = tree_hash(3, &store)?;
//! verify_consistency(3, 5, &consistency_proof(3, 5, &store)?, &older, &cp.root)?;
//! # Ok::<(), tlog::Error>(())
//! ```
#![deny(missing_docs)]

mod note;
mod tree;
mod verify;

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

pub use note::{
    key_id, open_note, parse_verifier_key, sign_note, verifier_key, verify_note, Checkpoint,
};
pub use tree::{append_hashes, consistency_proof, inclusion_proof, tree_hash, Frontier};
pub use verify::{verify_consistency, verify_inclusion};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree (RFC 9162 §2.1.1: the hash of the empty string).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of a leaf: `SHA-256(0x00 ‖ leaf)` (RFC 9162 §2.1.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// The address of a stored hash: the perfect subtree of `2^level` leaves
/// starting at leaf `index · 2^level`.
///
/// Why a (level, index) pair rather than Go's single dense `StoredHashIndex`:
/// the pair is what the proof arithmetic works with, and its storage key
/// ([`NodeId::key`], 9 bytes) is a total bijection for every u64 index, whereas
/// the dense u64 numbering overflows for large levels/indexes and only pays off
/// for flat-file storage. In a sorted KV store the key orders by level then
/// index, so each level's appends land at the end of its own key range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height of the subtree: 0 for a leaf hash.
    pub level: u8,
    /// Position of the subtree among those of the same level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level`, `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The storage key: `level` byte ‖ `index` as 8 big-endian bytes. Byte
    /// order equals (level, index) order.
    pub fn key(&self) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = self.level;
        k[1..].copy_from_slice(&self.index.to_be_bytes());
        k
    }

    /// The inverse of [`NodeId::key`].
    pub fn from_key(key: &[u8; 9]) -> Self {
        let mut index = [0u8; 8];
        index.copy_from_slice(&key[1..]);
        NodeId {
            level: key[0],
            index: u64::from_be_bytes(index),
        }
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An inclusion proof was asked (or checked) for a leaf outside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked (or checked) from a larger to a smaller tree.
    #[error("consistency range from {from} to {to} is backwards")]
    InvalidRange {
        /// The older tree size.
        from: u64,
        /// The newer tree size.
        to: u64,
    },
    /// The reader has no hash for this node. This is how a tree size beyond
    /// what has been stored shows up: every computation for size `s` reads a
    /// node covering leaf `s - 1`, which only exists once that leaf is stored.
    #[error("no stored hash for node (level {}, index {})", .0.level, .0.index)]
    MissingHash(NodeId),
    /// A [`HashReader`] returned a different number of hashes than asked for.
    #[error("hash reader returned {got} hashes for {expected} nodes")]
    ReaderLength {
        /// Number of nodes asked for.
        expected: usize,
        /// Number of hashes returned.
        got: usize,
    },
    /// The storage behind a [`HashReader`] failed.
    #[error("hash store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree is full")]
    TreeFull,
    /// A proof did not verify.
    #[error("invalid proof: {0}")]
    InvalidProof(&'static str),
    /// A signed note or checkpoint is not in the exact expected format.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A key name is empty or contains a space or `+`.
    #[error("invalid key name")]
    InvalidKeyName,
    /// The note carries no signature by the expected key.
    #[error("note has no signature by key {0:?}")]
    UnknownKey(String),
    /// The note's signature by the expected key does not verify.
    #[error("note signature by key {0:?} does not verify")]
    BadSignature(String),
}

/// Batch read access to stored hashes.
///
/// An implementation must return exactly one hash per id, in the order asked,
/// or an error; an absent node must be an error (normally
/// [`Error::MissingHash`]), never a placeholder hash. The functions of this
/// crate ask for at most about 2·log₂(size) ids per call and make one call per
/// operation (none for trivial cases).
pub trait HashReader {
    /// The stored hashes of `ids`, in the same order.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Error>;
}

impl<S: std::hash::BuildHasher> HashReader for HashMap<NodeId, Hash, S> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Error> {
        ids.iter()
            .map(|id| self.get(id).copied().ok_or(Error::MissingHash(*id)))
            .collect()
    }
}

impl HashReader for BTreeMap<NodeId, Hash> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Error> {
        ids.iter()
            .map(|id| self.get(id).copied().ok_or(Error::MissingHash(*id)))
            .collect()
    }
}

impl<F> HashReader for F
where
    F: Fn(&[NodeId]) -> Result<Vec<Hash>, Error>,
{
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Error> {
        self(ids)
    }
}

/// Reads `ids` and checks the reader kept its side of the contract.
fn read<R: HashReader + ?Sized>(reader: &R, ids: &[NodeId]) -> Result<Vec<Hash>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(ids)?;
    if hashes.len() != ids.len() {
        return Err(Error::ReaderLength {
            expected: ids.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}
