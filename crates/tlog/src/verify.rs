//! Proof verification, transcribed from the RFC 9162 algorithms (not derived
//! from the proof generators, so that the two check each other in tests).

use crate::{node_hash, Error, Hash, EMPTY_ROOT};

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash
/// `leaf_hash` is leaf number `index` of the tree of `size` leaves whose root
/// is `root`.
///
/// Errors: [`Error::IndexOutOfRange`] if `index >= size`;
/// [`Error::InvalidProof`] if the proof does not verify.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    // 1. If leaf_index >= tree_size, fail.
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    // 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf_hash;
    // 4. For each value p in inclusion_path:
    for p in proof {
        // a. If sn is 0, fail.
        if s == 0 {
            return Err(Error::InvalidProof("inclusion proof has too many hashes"));
        }
        // b. If LSB(fn) is set, or fn == sn:
        if f & 1 == 1 || f == s {
            // i. r = HASH(0x01 || p || r)
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, shift both until LSB(fn) is set or fn is 0.
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            // Otherwise: r = HASH(0x01 || r || p)
            r = node_hash(&r, p);
        }
        // c. Shift both once.
        f >>= 1;
        s >>= 1;
    }
    // 5. Success iff sn == 0 and r == root_hash.
    if s != 0 {
        return Err(Error::InvalidProof("inclusion proof has too few hashes"));
    }
    if r != *root {
        return Err(Error::InvalidProof(
            "inclusion proof does not lead to the root",
        ));
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `to`
/// leaves with root `to_root` extends the tree of `from` leaves with root
/// `from_root`.
///
/// Cases the RFC algorithm leaves out: `from == to` needs an empty proof and
/// equal roots; `from == 0` needs an empty proof and `from_root ==
/// EMPTY_ROOT` (and `to_root == EMPTY_ROOT` if `to == 0` too).
/// Errors: [`Error::InvalidRange`] if `from > to`; [`Error::InvalidProof`] if
/// the proof does not verify.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<(), Error> {
    if from > to {
        return Err(Error::InvalidRange { from, to });
    }
    if from == 0 {
        if !proof.is_empty() {
            return Err(Error::InvalidProof(
                "proof from the empty tree must be empty",
            ));
        }
        if *from_root != EMPTY_ROOT || (to == 0 && *to_root != EMPTY_ROOT) {
            return Err(Error::InvalidProof("wrong root for the empty tree"));
        }
        return Ok(());
    }
    if from == to {
        if !proof.is_empty() {
            return Err(Error::InvalidProof(
                "proof between equal sizes must be empty",
            ));
        }
        if from_root != to_root {
            return Err(Error::InvalidProof("different roots for the same size"));
        }
        return Ok(());
    }
    // 1. If consistency_path is empty, fail.
    if proof.is_empty() {
        return Err(Error::InvalidProof("empty consistency proof"));
    }
    // 2. If first is an exact power of 2, prepend first_hash to the path.
    let seed = from.is_power_of_two().then_some(from_root);
    let mut path = seed.into_iter().chain(proof);
    // 3. fn = first - 1, sn = second - 1.
    let (mut f, mut s) = (from - 1, to - 1);
    // 4. If LSB(fn) is set, shift both until LSB(fn) is not set.
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // 5. fr = sr = the first value of the path.
    let Some(first) = path.next() else {
        return Err(Error::InvalidProof("empty consistency proof"));
    };
    let (mut fr, mut sr) = (*first, *first);
    // 6. For each subsequent value c in the path:
    for c in path {
        // a. If sn is 0, fail.
        if s == 0 {
            return Err(Error::InvalidProof("consistency proof has too many hashes"));
        }
        // b. If LSB(fn) is set, or fn == sn:
        if f & 1 == 1 || f == s {
            // i. fr = HASH(0x01 || c || fr)  ii. sr = HASH(0x01 || c || sr)
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // iii. If LSB(fn) is not set, shift both until LSB(fn) is set or fn is 0.
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            // Otherwise: sr = HASH(0x01 || sr || c)
            sr = node_hash(&sr, c);
        }
        // c. Shift both once.
        f >>= 1;
        s >>= 1;
    }
    // 7. Success iff fr == first_hash, sr == second_hash and sn == 0.
    if s != 0 {
        return Err(Error::InvalidProof("consistency proof has too few hashes"));
    }
    if fr != *from_root {
        return Err(Error::InvalidProof(
            "consistency proof does not lead to the old root",
        ));
    }
    if sr != *to_root {
        return Err(Error::InvalidProof(
            "consistency proof does not lead to the new root",
        ));
    }
    Ok(())
}
