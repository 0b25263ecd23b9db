//! Emission throughput: serials alone and with each kind of tail.
//!
//! `CARGO_TARGET_DIR=/work/target-issuance cargo bench -p issuance`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use issuance::{tail_fingerprint, IdCode, Keyring, SerialLen, TailKind};
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;

const GTIN: u64 = 4_650_117_240_163;
const BATCH: usize = 10_000;

fn emission(c: &mut Criterion) {
    let ring = Keyring::generate_with_rng(&mut StdRng::seed_from_u64(1), 1_750_000_000);
    let mut group = c.benchmark_group("emission");
    group.throughput(Throughput::Elements(BATCH as u64));

    for len in [SerialLen::L6, SerialLen::L7, SerialLen::L13, SerialLen::L20] {
        group.bench_function(format!("serial_len{}", len.get()), |b| {
            b.iter(|| {
                let sequence = ring.serials().sequence(GTIN, len).unwrap();
                for counter in 0..BATCH as u64 {
                    black_box(sequence.serial(black_box(counter)).unwrap());
                }
            })
        });
    }
    // One call per serial, set-up included (what a look-up pays).
    group.bench_function("serial_len13_single_calls", |b| {
        b.iter(|| {
            let g = ring.serials();
            for counter in 0..BATCH as u64 {
                black_box(g.serial(GTIN, black_box(counter), SerialLen::L13).unwrap());
            }
        })
    });

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

/// The parts of one code, to see where the time goes.
fn parts(c: &mut Criterion) {
    let ring = Keyring::generate_with_rng(&mut StdRng::seed_from_u64(1), 1_750_000_000);
    let serial = ring.serials().serial(GTIN, 1, SerialLen::L13).unwrap();
    let id = IdCode::new(GTIN, serial.as_str()).unwrap();
    let mut group = c.benchmark_group("parts");
    group.bench_function("id_code", |b| {
        b.iter(|| IdCode::new(black_box(GTIN), black_box(serial.as_str())))
    });
    group.bench_function("blake3_keyed_hash", |b| {
        b.iter(|| blake3::keyed_hash(&[1u8; 32], black_box(id.as_str()).as_bytes()))
    });
    for kind in [TailKind::Mac, TailKind::Short] {
        group.bench_function(format!("issue_tail_{}", kind.as_str()), |b| {
            b.iter(|| ring.issue_tail(kind, black_box(id.as_str())))
        });
    }
    let mac = ring.issue_tail(TailKind::Mac, id.as_str());
    group.bench_function("verify_mac", |b| {
        b.iter(|| {
            ring.verify_tail(
                TailKind::Mac,
                black_box(id.as_str()),
                mac.ai91(),
                mac.value(),
            )
        })
    });
    group.bench_function("fingerprint", |b| {
        b.iter(|| tail_fingerprint(black_box(mac.value())))
    });
    group.finish();
}

criterion_group!(benches, emission, parts);
criterion_main!(benches);
