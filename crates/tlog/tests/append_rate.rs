//! Appends 1M leaves through a Frontier in group commits and prints the rate.
//! (Run with `cargo test --release -p tlog --test append_rate -- --nocapture`
//! for a meaningful figure; `cargo bench -p tlog` measures more.)

use std::time::Instant;
use tlog::{Frontier, NodeId};

#[test]
fn frontier_appends_one_million_leaves() {
    const N: u64 = 1_000_000;
    const BATCH: u64 = 10_000;
    let mut frontier = Frontier::new();
    let mut out = Vec::with_capacity(2 * BATCH as usize + 64);
    let mut stored = 0u64;
    let mut leaf = [0u8; 64]; // a document-sized leaf: 64 bytes
    let start = Instant::now();
    for batch in 0..N / BATCH {
        out.clear();
        for i in batch * BATCH..(batch + 1) * BATCH {
            leaf[..8].copy_from_slice(&i.to_be_bytes());
            frontier.append(&leaf, &mut out).unwrap();
        }
        stored += out.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let root = frontier.root();
    println!(
        "Frontier: {N} leaves in {secs:.3} s = {:.0} leaves/s ({stored} hashes to store, root {:02x}{:02x}..)",
        N as f64 / secs,
        root[0],
        root[1]
    );
    // One hash per leaf plus one per completed interior node: 2n - popcount(n).
    assert_eq!(stored, 2 * N - u64::from(N.count_ones()));
    assert_eq!(frontier.size(), N);
    // Leaf 999_999 (binary ...0111111) completes six parents, up to level 6.
    assert_eq!(
        out.last().map(|(id, _)| *id),
        Some(NodeId::new(6, 999_999 >> 6))
    );
}
