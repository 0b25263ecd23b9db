//! Label throughput: a signature-tail code (the largest the registry issues: 13-char
//! serial, 88-char Ed25519 tail, a 44×44 Data Matrix) from the code string to the bytes
//! of the file, symbol encoding included.
//!
//! `CARGO_TARGET_DIR=/work/target-a cargo bench -p labels --bench render`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use issuance::{IdCode, Keyring, SerialLen, TailKind};
use labels::render::{png, svg, Unit};
use labels::sheet::{pdf, Layout};
use labels::symbol::{data_matrix, digital_link_qr};
use std::hint::black_box;

const GTIN: u64 = 4_601_234_567_893;

fn codes(n: usize) -> Vec<String> {
    let ring = Keyring::generate(1_750_000_000);
    (0..n as u64)
        .map(|i| {
            let serial = ring.serials().serial(GTIN, i, SerialLen::L13).unwrap();
            let id = IdCode::new(GTIN, serial.as_str()).unwrap();
            let mut code = id.as_str().to_owned();
            ring.issue_tail(TailKind::Signature, id.as_str())
                .push_element_string(&mut code);
            code
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let codes = codes(40);
    let mut g = c.benchmark_group("labels");
    g.throughput(Throughput::Elements(1));
    g.bench_function("data_matrix_png_10px", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % codes.len();
            black_box(png(&data_matrix(&codes[i]).unwrap(), 10).unwrap())
        })
    });
    g.bench_function("qr_png_10px", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % codes.len();
            let s = digital_link_qr(&codes[i], "https://registry.example").unwrap();
            black_box(png(&s, 10).unwrap())
        })
    });
    g.bench_function("data_matrix_svg", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % codes.len();
            black_box(svg(&data_matrix(&codes[i]).unwrap(), 0.5, Unit::Mm).unwrap())
        })
    });
    g.throughput(Throughput::Elements(codes.len() as u64));
    g.bench_function("pdf_page_40_labels", |b| {
        b.iter(|| black_box(pdf("bench", &codes, &Layout::default()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
