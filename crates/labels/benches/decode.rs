//! Decodes per second: a clean label render, a 640×480 camera frame, a 12-Mpx phone
//! photo, and the worst case (a 12-Mpx photo with no code: every pass runs).
//! `cargo bench -p labels --bench decode` (release).

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use labels::decode::{decode, Limits};
use rand::Rng;
use std::hint::black_box;
use support::*;

fn bench(c: &mut Criterion) {
    let mut r = rng(99);
    let code = codes(Kind::DmSignature, 1, 1).remove(0);
    let label = render(&modules(Kind::DmSignature, &code), 4);
    let clean = png(&label);
    let small = scale_to(&label, 4, 2.5);
    let deg = r.gen_range(0.0..360.0);
    let frame = jpeg(&phone_photo(&small, deg, 640, 480, &mut r), 80);
    let big_label = render(&modules(Kind::DmSignature, &code), 10);
    let photo = jpeg(&phone_photo(&big_label, 37.0, 4000, 3000, &mut r), 85);
    let nothing = jpeg(&busy_background(4000, 3000, &mut r), 85);
    let limits = Limits::default();
    for (name, bytes, expect) in [
        ("clean label PNG", &clean, true),
        ("640x480 camera frame JPEG", &frame, true),
        ("12 Mpx photo JPEG", &photo, true),
        ("12 Mpx photo JPEG, no code", &nothing, false),
    ] {
        assert_eq!(decode(bytes, &limits).is_ok(), expect, "{name}");
        let mut g = c.benchmark_group("decode");
        g.throughput(Throughput::Elements(1));
        g.sample_size(if bytes.len() > 1 << 20 { 10 } else { 30 });
        g.bench_function(name, |b| b.iter(|| decode(black_box(bytes), &limits)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
