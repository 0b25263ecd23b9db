//! Test helpers: distinct leaves, a store built one leaf at a time, and a
//! naive recursive RFC 9162 reference (MTH, PATH, PROOF) over all leaves.
#![allow(dead_code)]

use std::collections::HashMap;
use tlog::{append_hashes, leaf_hash, node_hash, Hash, NodeId};

/// Leaf `i`'s data; all distinct, so no two leaves share a hash.
pub fn leaf(i: u64) -> Vec<u8> {
    format!("tracemark test leaf {i}").into_bytes()
}

/// The stored hashes of a tree of `n` leaves, appended one at a time through
/// `append_hashes` reading the map itself.
pub fn build(n: u64) -> HashMap<NodeId, Hash> {
    let mut store = HashMap::new();
    for i in 0..n {
        let new = append_hashes(i, &leaf(i), &store).expect("append");
        store.extend(new);
    }
    store
}

fn k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.1 MTH over the leaf data, straight from the definition.
pub fn mth(leaves: &[Vec<u8>]) -> Hash {
    match leaves.len() {
        0 => tlog::EMPTY_ROOT,
        1 => leaf_hash(&leaves[0]),
        n => node_hash(&mth(&leaves[..k(n)]), &mth(&leaves[k(n)..])),
    }
}

/// RFC 9162 §2.1.3.1 PATH(m, D_n).
pub fn path(m: usize, leaves: &[Vec<u8>]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = k(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 PROOF(m, D_n) for 0 < m <= n.
pub fn proof(m: usize, leaves: &[Vec<u8>]) -> Vec<Hash> {
    fn sub(m: usize, leaves: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = sub(m, &leaves[..k], b);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = sub(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }
    sub(m, leaves, true)
}

pub fn leaves(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(leaf).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn unhex32(s: &str) -> Hash {
    unhex(s).try_into().expect("32 bytes")
}
