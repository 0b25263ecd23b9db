//! Proofs from stored hashes against the naive RFC 9162 definitions, the
//! verifiers against tampering, and the Frontier against one-at-a-time appends.

mod common;

use common::{build, leaf, leaves, mth};
use proptest::prelude::*;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use tlog::{
    append_hashes, consistency_proof, inclusion_proof, leaf_hash, tree_hash, verify_consistency,
    verify_inclusion, Error, Frontier, Hash, HashReader, NodeId, EMPTY_ROOT,
};

const N: u64 = 300;

/// The stored hashes of N leaves and the naive MTH of every prefix.
fn fixture() -> &'static (HashMap<NodeId, Hash>, Vec<Hash>) {
    static F: OnceLock<(HashMap<NodeId, Hash>, Vec<Hash>)> = OnceLock::new();
    F.get_or_init(|| {
        let all = leaves(N);
        let roots = (0..=N as usize).map(|n| mth(&all[..n])).collect();
        (build(N), roots)
    })
}

fn store() -> &'static HashMap<NodeId, Hash> {
    &fixture().0
}

fn root(n: u64) -> Hash {
    fixture().1[n as usize]
}

/// Every way to spoil an inclusion claim that must make verification fail.
fn inclusion_spoiled(index: u64, size: u64, proof: &[Hash]) {
    let lh = leaf_hash(&leaf(index));
    let r = root(size);
    let fails = |lh: &Hash, i: u64, s: u64, p: &[Hash], r: &Hash| {
        assert!(
            verify_inclusion(lh, i, s, p, r).is_err(),
            "accepted i={i} s={s} (real {index}/{size})"
        )
    };
    fails(&leaf_hash(&leaf(index + 1)), index, size, proof, &r);
    fails(&lh, index + 1, size, proof, &r);
    if index > 0 {
        fails(&lh, index - 1, size, proof, &r);
    }
    // Another size is checked against that size's real root: a proof alone
    // does not pin the size, the signed (size, root) pair does. E.g. the
    // proof of leaf 0 in a 3-leaf tree also "verifies" for size 4 against
    // the 3-leaf root, as that root is a possible 4-leaf root too.
    if size < N {
        fails(&lh, index, size + 1, proof, &root(size + 1));
    }
    fails(&lh, index, size - 1, proof, &root(size - 1));
    fails(&lh, index, size, proof, &root(size - 1));
    if let Some((_, shorter)) = proof.split_last() {
        fails(&lh, index, size, shorter, &r);
    }
    let mut longer = proof.to_vec();
    longer.push(r);
    fails(&lh, index, size, &longer, &r);
}

fn consistency_spoiled(from: u64, to: u64, proof: &[Hash]) {
    let (r1, r2) = (root(from), root(to));
    let fails = |f: u64, t: u64, p: &[Hash], a: &Hash, b: &Hash| {
        assert!(
            verify_consistency(f, t, p, a, b).is_err(),
            "accepted {f}->{t} (real {from}->{to})"
        )
    };
    // Other sizes are checked against their real roots (see inclusion_spoiled).
    // (Pairs with from = 0 or from = to need no proof, so those are skipped.)
    if from > 0 && to > from + 1 {
        fails(from + 1, to, proof, &root(from + 1), &r2);
        fails(from, to - 1, proof, &r1, &root(to - 1));
    }
    if from > 0 && to > from {
        fails(from, to, proof, &r2, &r1);
    }
    if to < N && from > 0 {
        fails(from, to + 1, proof, &r1, &root(to + 1));
    }
    if from > 1 {
        fails(from - 1, to, proof, &root(from - 1), &r2);
    }
    fails(from, to, proof, &leaf_hash(b"x"), &r2);
    if from > 0 || to == 0 {
        // (Every tree extends the empty one, whatever its root.)
        fails(from, to, proof, &r1, &leaf_hash(b"x"));
    }
    if let Some((_, shorter)) = proof.split_last() {
        fails(from, to, shorter, &r1, &r2);
    }
    let mut longer = proof.to_vec();
    longer.push(r2);
    fails(from, to, &longer, &r1, &r2);
}

fn flipped(proof: &[Hash], which: usize, byte: usize, bit: u8) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[which][byte] ^= 1 << bit;
    p
}

#[test]
fn tree_hash_is_naive_mth_for_every_size() {
    for n in 0..=N {
        assert_eq!(tree_hash(n, store()).unwrap(), root(n), "size {n}");
    }
    assert_eq!(root(0), EMPTY_ROOT);
}

#[test]
fn inclusion_every_index_of_every_size() {
    let all = leaves(N);
    for size in 1..=N {
        for index in 0..size {
            let proof = inclusion_proof(index, size, store()).unwrap();
            if size <= 64 {
                assert_eq!(proof, common::path(index as usize, &all[..size as usize]));
            }
            verify_inclusion(&leaf_hash(&leaf(index)), index, size, &proof, &root(size))
                .unwrap_or_else(|e| panic!("{index}/{size}: {e}"));
            // All spoilings up to 100 leaves; a sample beyond (debug-build time).
            if size <= 100 || index % 7 == 0 || index + 1 == size {
                inclusion_spoiled(index, size, &proof);
            }
        }
    }
}

#[test]
fn inclusion_fails_for_every_flipped_byte() {
    for size in 1..=33 {
        for index in 0..size {
            let proof = inclusion_proof(index, size, store()).unwrap();
            let lh = leaf_hash(&leaf(index));
            for which in 0..proof.len() {
                for byte in 0..32 {
                    let bad = flipped(&proof, which, byte, (byte % 8) as u8);
                    assert!(verify_inclusion(&lh, index, size, &bad, &root(size)).is_err());
                }
            }
        }
    }
}

#[test]
fn consistency_every_pair_of_small_sizes() {
    let all = leaves(N);
    for to in 0..=64 {
        for from in 0..=to {
            let proof = consistency_proof(from, to, store()).unwrap();
            if from == 0 || from == to {
                assert!(proof.is_empty());
            } else {
                assert_eq!(proof, common::proof(from as usize, &all[..to as usize]));
            }
            verify_consistency(from, to, &proof, &root(from), &root(to))
                .unwrap_or_else(|e| panic!("{from}->{to}: {e}"));
            consistency_spoiled(from, to, &proof);
            if to <= 24 {
                for which in 0..proof.len() {
                    for byte in 0..32 {
                        let bad = flipped(&proof, which, byte, (byte % 8) as u8);
                        let r = verify_consistency(from, to, &bad, &root(from), &root(to));
                        assert!(r.is_err(), "{from}->{to} hash {which} byte {byte}");
                    }
                }
            }
        }
    }
}

#[test]
fn errors_are_typed() {
    let s = store();
    assert!(matches!(
        inclusion_proof(5, 5, s),
        Err(Error::IndexOutOfRange { index: 5, size: 5 })
    ));
    assert!(matches!(
        consistency_proof(6, 5, s),
        Err(Error::InvalidRange { from: 6, to: 5 })
    ));
    assert!(matches!(
        verify_inclusion(&EMPTY_ROOT, 0, 0, &[], &EMPTY_ROOT),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        verify_consistency(2, 1, &[], &EMPTY_ROOT, &EMPTY_ROOT),
        Err(Error::InvalidRange { .. })
    ));
    // Sizes beyond the stored tree: the node covering the last leaf is absent.
    let small = build(5);
    for size in [6, 7, 8, 100] {
        assert!(matches!(
            tree_hash(size, &small),
            Err(Error::MissingHash(_))
        ));
        assert!(matches!(
            inclusion_proof(0, size, &small),
            Err(Error::MissingHash(_))
        ));
        assert!(matches!(
            consistency_proof(3, size, &small),
            Err(Error::MissingHash(_))
        ));
        assert!(matches!(
            Frontier::load(size, &small),
            Err(Error::MissingHash(_))
        ));
    }
    assert!(matches!(
        append_hashes(7, b"x", &small),
        Err(Error::MissingHash(_))
    ));
    // Trivial cases need no hashes at all.
    assert_eq!(tree_hash(0, &small).unwrap(), EMPTY_ROOT);
    assert!(consistency_proof(0, 100, &small).unwrap().is_empty());
    assert!(consistency_proof(100, 100, &small).unwrap().is_empty());
    // A reader that breaks its contract.
    let short = |ids: &[NodeId]| Ok(vec![EMPTY_ROOT; ids.len() - 1]);
    assert!(matches!(
        tree_hash(3, &short),
        Err(Error::ReaderLength {
            expected: 2,
            got: 1
        })
    ));
    let failing = |_: &[NodeId]| Err(Error::Store("disk on fire".into()));
    assert!(matches!(
        inclusion_proof(1, 3, &failing),
        Err(Error::Store(_))
    ));
    // Empty-tree consistency edge cases.
    let r5 = root(5);
    verify_consistency(0, 5, &[], &EMPTY_ROOT, &r5).unwrap();
    verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT).unwrap();
    assert!(verify_consistency(0, 5, &[], &r5, &r5).is_err());
    assert!(verify_consistency(0, 0, &[], &EMPTY_ROOT, &r5).is_err());
    assert!(verify_consistency(0, 5, &[r5], &EMPTY_ROOT, &r5).is_err());
    assert!(verify_consistency(5, 5, &[r5], &r5, &r5).is_err());
    assert!(verify_consistency(5, 6, &[], &r5, &root(6)).is_err());
}

#[test]
fn readers_map_btreemap_closure_agree() {
    let map = store();
    let btree: BTreeMap<NodeId, Hash> = map.iter().map(|(k, v)| (*k, *v)).collect();
    let closure = |ids: &[NodeId]| map.read_hashes(ids);
    let dynamic: &dyn HashReader = map;
    for size in [1, 2, 3, 7, 8, 9, 100, 257, 300] {
        let want = root(size);
        assert_eq!(tree_hash(size, &btree).unwrap(), want);
        assert_eq!(tree_hash(size, &closure).unwrap(), want);
        assert_eq!(tree_hash(size, dynamic).unwrap(), want);
    }
}

#[test]
fn reads_are_logarithmic() {
    let reads = Cell::new(0usize);
    let counting = |ids: &[NodeId]| {
        reads.set(reads.get() + ids.len());
        store().read_hashes(ids)
    };
    let bound = |n: u64| 2 * (64 - n.leading_zeros() as usize) + 2;
    for size in 1..=N {
        reads.set(0);
        tree_hash(size, &counting).unwrap();
        assert_eq!(reads.get(), size.count_ones() as usize);
        for index in [0, size / 3, size / 2, size - 1] {
            reads.set(0);
            inclusion_proof(index, size, &counting).unwrap();
            assert!(
                reads.get() <= bound(size),
                "inclusion {index}/{size}: {}",
                reads.get()
            );
        }
        for from in [1, size / 3, size / 2, size - 1] {
            reads.set(0);
            consistency_proof(from, size, &counting).unwrap();
            assert!(
                reads.get() <= bound(size),
                "consistency {from}->{size}: {}",
                reads.get()
            );
        }
    }
}

#[test]
fn node_keys_round_trip_and_sort_by_level_then_index() {
    let ids = [
        NodeId::new(0, 0),
        NodeId::new(0, 1),
        NodeId::new(0, u64::MAX),
        NodeId::new(1, 0),
        NodeId::new(63, 1),
    ];
    for w in ids.windows(2) {
        assert!(w[0].key() < w[1].key());
    }
    for id in ids {
        assert_eq!(NodeId::from_key(&id.key()), id);
    }
    // Every stored node (L, k) is complete: (k+1)·2^L <= size.
    assert_eq!(store().len() as u64, 2 * N - u64::from(N.count_ones()));
    for id in store().keys() {
        assert!((id.index + 1) << id.level <= N);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_inclusion_proofs_verify_and_resist_bit_flips(
        size in 1..=N, index_seed in any::<u64>(), pick in any::<(usize, usize, u8)>()
    ) {
        let index = index_seed % size;
        let proof = inclusion_proof(index, size, store()).unwrap();
        let lh = leaf_hash(&leaf(index));
        prop_assert!(verify_inclusion(&lh, index, size, &proof, &root(size)).is_ok());
        if !proof.is_empty() {
            let bad = flipped(&proof, pick.0 % proof.len(), pick.1 % 32, pick.2 % 8);
            prop_assert!(verify_inclusion(&lh, index, size, &bad, &root(size)).is_err());
        }
        inclusion_spoiled(index, size, &proof);
    }

    #[test]
    fn random_consistency_proofs_verify_and_resist_bit_flips(
        to in 0..=N, from_seed in any::<u64>(), pick in any::<(usize, usize, u8)>()
    ) {
        let from = from_seed % (to + 1);
        let proof = consistency_proof(from, to, store()).unwrap();
        prop_assert!(verify_consistency(from, to, &proof, &root(from), &root(to)).is_ok());
        if !proof.is_empty() {
            let bad = flipped(&proof, pick.0 % proof.len(), pick.1 % 32, pick.2 % 8);
            prop_assert!(verify_consistency(from, to, &bad, &root(from), &root(to)).is_err());
        }
        consistency_spoiled(from, to, &proof);
    }

    /// The Frontier, reloaded from the store at arbitrary sizes, emits exactly
    /// the stored hashes of the one-at-a-time path, and the right root.
    #[test]
    fn frontier_equals_one_at_a_time(
        n in 0..=N, mut cuts in proptest::collection::vec(0..=N, 0..5)
    ) {
        cuts.retain(|&c| c <= n);
        cuts.sort_unstable();
        let mut one_at_a_time = HashMap::new();
        let mut emitted = Vec::new();
        let mut frontier = Frontier::new();
        let mut out = Vec::new();
        for i in 0..n {
            if cuts.contains(&i) {
                let reloaded = Frontier::load(i, &one_at_a_time).unwrap();
                prop_assert_eq!(&reloaded, &frontier);
                frontier = reloaded;
            }
            let new = append_hashes(i, &leaf(i), &one_at_a_time).unwrap();
            emitted.extend(new.iter().copied());
            one_at_a_time.extend(new);
            prop_assert_eq!(frontier.append(&leaf(i), &mut out).unwrap(), i);
            prop_assert_eq!(frontier.size(), i + 1);
            prop_assert_eq!(frontier.root(), root(i + 1));
        }
        prop_assert_eq!(out, emitted);
        prop_assert_eq!(Frontier::load(n, store()).unwrap().root(), root(n));
    }
}
