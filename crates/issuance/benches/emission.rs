//! Emission throughput: serials alone and with each kind of tail.
//!
//! `CARGO_TARGET_DIR=/work/target-issuance cargo bench -p issuance`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use issuance::{Keyring, SerialLen, TailKind};
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;

const GTIN: u64 = 4_650_117_240_163;
const BATCH: usize = 10_000;

fn emission(c: &mut Criterion) {
    let ring = Keyring::generate_with_rng(&mut StdRng::seed_from_u64(1), 1_750_000_000);
    let mut group = c.benchmark_group("emission");
    group.throughput(Throughput::Elements(BATCH as u64));

    for len in [SerialLen::L6, SerialLen::L13, SerialLen::L20] {
        group.bench_function(format!("serial_len{}", len.get()), |b| {
            b.iter(|| {
                let g = ring.serials();
                for counter in 0..BATCH as u64 {
                    black_box(g.serial(GTIN, black_box(counter), len).unwrap());
                }
            })
        });
    }

    let mut out = Vec::with_capacity(BATCH);
    for (name, len, kind) in [
        ("serial13_mac", SerialLen::L13, TailKind::Mac),
        ("serial6_short", SerialLen::L6, TailKind::Short),
        ("serial13_signature", SerialLen::L13, TailKind::Signature),
    ] {
        if kind == TailKind::Signature {
            group.sample_size(10);
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                ring.emit_batch(GTIN, 0, BATCH, len, kind, &mut out)
                    .unwrap();
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, emission);
criterion_main!(benches);
