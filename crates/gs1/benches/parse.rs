//! Throughput of the hot-path operations, without a benchmark framework:
//! `cargo bench -p gs1` prints nanoseconds per operation (release build).

use gs1::ElementString;
use std::hint::black_box;
use std::time::Instant;

const RAW: &str = "0104650117240163215100000005NgF\u{1d}910024\u{1d}92UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==";
const SHORT: &str = "0104680029460908215jcmHzLmkdPML\u{1d}938p9E";

fn measure(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{name:<32} {ns:>8.1} ns/op  {:>10.0} ops/s", 1e9 / ns);
}

fn main() {
    let es = ElementString::parse(RAW).expect("valid");
    let brackets = es.to_brackets();
    let dl = es.to_digital_link("https://id.example").expect("dl");
    let n = 500_000;
    measure("parse gs (01 21 91 92)", n, || {
        black_box(ElementString::parse(black_box(RAW)).is_ok());
    });
    measure("parse gs (01 21 93)", n, || {
        black_box(ElementString::parse(black_box(SHORT)).is_ok());
    });
    measure("parse brackets", n, || {
        black_box(ElementString::parse(black_box(&brackets)).is_ok());
    });
    measure("parse digital link", n, || {
        black_box(ElementString::parse(black_box(&dl)).is_ok());
    });
    measure("identification_code", n, || {
        black_box(es.identification_code());
    });
    measure("to_gs", n, || {
        black_box(es.to_gs());
    });
    measure("to_digital_link", n, || {
        black_box(es.to_digital_link("https://id.example").is_ok());
    });
}
