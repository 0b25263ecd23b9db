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

/// Median and max milliseconds per decode over varied images of one kind (each label
/// kind, random angles and places; the last `misses` images hold no code): what a
/// server sees, not one image repeated.
fn spread(name: &str, images: &[Vec<u8>]) {
    let limits = Limits::default();
    let mut ms: Vec<f64> = images
        .iter()
        .map(|b| {
            let t = std::time::Instant::now();
            let _ = black_box(decode(b, &limits));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    eprintln!(
        "spread {name}: {} images, median {:.1} ms, max {:.1} ms",
        ms.len(),
        ms[ms.len() / 2],
        ms[ms.len() - 1]
    );
}

fn spreads() {
    let mut r = rng(5);
    let mut frames = Vec::new();
    let mut photos = Vec::new();
    for kind in KINDS {
        for (i, code) in codes(kind, 3, 2).into_iter().enumerate() {
            let label = render(&modules(kind, &code), 4);
            let deg = r.gen_range(0.0..360.0);
            let small = scale_to(&label, 4, 2.5);
            frames.push(jpeg(&phone_photo(&small, deg, 640, 480, &mut r), 80));
            if i < 2 {
                let big = render(&modules(kind, &code), 10);
                photos.push(jpeg(&phone_photo(&big, deg, 4000, 3000, &mut r), 85));
            }
        }
    }
    frames.push(jpeg(&busy_background(640, 480, &mut r), 80));
    photos.push(jpeg(&busy_background(4000, 3000, &mut r), 85));
    spread("640x480 camera frames (9 labels + 1 without)", &frames);
    spread("12 Mpx photos (6 labels + 1 without)", &photos);
}

fn bench(c: &mut Criterion) {
    spreads();
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
