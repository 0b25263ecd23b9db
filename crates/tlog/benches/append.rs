//! Throughput of appends and proofs, without a benchmark framework:
//! `cargo bench -p tlog` prints the figures (release build).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;
use tlog::{consistency_proof, inclusion_proof, tree_hash, Frontier, Hash, NodeId};

fn measure(name: &str, iterations: u64, mut f: impl FnMut(u64)) {
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
    println!("{name:<44} {ns:>9.1} ns/op  {:>12.0} ops/s", 1e9 / ns);
}

fn main() {
    const N: u64 = 1 << 20;
    let mut leaf = [0u8; 64];
    let mut frontier = Frontier::new();
    let mut out: Vec<(NodeId, Hash)> = Vec::with_capacity(2 * N as usize);
    measure("Frontier::append (64-byte leaves, 2^20)", N, |i| {
        leaf[..8].copy_from_slice(&i.to_be_bytes());
        frontier.append(&leaf, &mut out).expect("append");
    });
    let store: HashMap<NodeId, Hash> = out.into_iter().collect();
    let mut reload = Frontier::default();
    measure("Frontier::load (in-memory map)", 10_000, |i| {
        reload = Frontier::load(N - i, &store).expect("load");
    });
    measure("tree_hash (in-memory map)", 100_000, |i| {
        black_box(tree_hash(N - i % 1000, &store).expect("tree hash"));
    });
    measure("inclusion_proof (in-memory map)", 100_000, |i| {
        let size = N - i % 1000;
        black_box(inclusion_proof((i * 7919) % size, size, &store).expect("proof"));
    });
    measure("consistency_proof (in-memory map)", 100_000, |i| {
        black_box(
            consistency_proof(1 + (i * 7919) % (N - 1000), N - i % 1000, &store).expect("proof"),
        );
    });
}
