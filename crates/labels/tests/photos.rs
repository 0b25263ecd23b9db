//! Decode rates on photo-like images derived from real labels (Data Matrix with a MAC tail,
//! Data Matrix with an 88-char signature tail, QR Digital Link), per kind of damage.
//!
//! Every image goes through [`labels::decode::decode`] as file bytes (PNG, or JPEG where
//! the damage is JPEG), and counts only when it yields the EXACT code. The table is
//! printed and written to `target/decode-rates.md`; each category asserts a minimum rate
//! a little below the measured one (one miss in nine allowed where all nine decode), so
//! a regression fails. Blur of σ ≥ ⅝ module is past what the decoder reads (0 %: the
//! cliff lies between ½ and ⅝ module): kept in the table as the known limit. Seeded: reproducible.

mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use labels::decode::{decode, Limits};
use rand::Rng;
use support::*;

/// Samples per label kind (3 kinds → 3 × this labels per category).
const PER_KIND: usize = 3;
/// Module size of the base renders, in pixels (a label photographed from ~20 cm).
const MODULE_PX: u32 = 4;

struct Row {
    category: String,
    ok: usize,
    total: usize,
    min_share: f64,
    slowest: Duration,
    failed: Vec<String>,
}

struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// Decodes every `(label, bytes)` and records the share read to the exact code.
    fn run(&mut self, category: &str, min_share: f64, cases: Vec<(&Label, Vec<u8>)>) {
        let mut row = Row {
            category: category.into(),
            ok: 0,
            total: 0,
            min_share,
            slowest: Duration::ZERO,
            failed: Vec::new(),
        };
        for (i, (label, bytes)) in cases.into_iter().enumerate() {
            let t = Instant::now();
            let got = decode(&bytes, &Limits::default());
            row.slowest = row.slowest.max(t.elapsed());
            row.total += 1;
            match got {
                Ok(codes) if codes.iter().any(|d| d.code == label.code) => row.ok += 1,
                other => row.failed.push(format!(
                    "#{i} {:?}: {}",
                    label.kind,
                    match other {
                        Ok(c) => format!("wrong code {:?}", c.first().map(|d| &d.code)),
                        Err(e) => e.reason().to_string(),
                    }
                )),
            }
        }
        eprintln!(
            "{:<44} {:>3}/{:<3} {:>5.1} %  slowest {:>5} ms {}",
            row.category,
            row.ok,
            row.total,
            100.0 * row.ok as f64 / row.total as f64,
            row.slowest.as_millis(),
            if row.failed.is_empty() {
                String::new()
            } else {
                format!("{:?}", row.failed)
            }
        );
        self.rows.push(row);
    }
}

#[test]
fn decode_rates_on_damaged_photos() {
    let started = Instant::now();
    let labels = support::labels(PER_KIND, MODULE_PX, 6);
    let mut r = rng(2026);
    let mut t = Table { rows: Vec::new() };

    t.run(
        "clean render, 4 px/module",
        1.0,
        labels.iter().map(|l| (l, png(&l.image))).collect(),
    );

    // Every 15°, plus odd angles; labels taken in turn.
    let mut angles: Vec<f32> = (0..24).map(|k| k as f32 * 15.0).collect();
    angles.extend([7.0, 22.5, 33.3, 71.0, 122.0, 199.9, 287.0, 341.5, 3.0]);
    t.run(
        "rotated (every 15° and 9 odd angles)",
        0.9,
        angles
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let l = &labels[i % labels.len()];
                (l, png(&rotate(&l.image, a)))
            })
            .collect(),
    );

    for (px, min) in [(2.0, 0.85), (1.5, 0.85)] {
        t.run(
            &format!("scaled down to {px} px/module"),
            min,
            labels
                .iter()
                .map(|l| (l, png(&scale_to(&l.image, MODULE_PX, px))))
                .collect(),
        );
    }

    for (amount, min) in [(0.08, 0.85), (0.15, 0.75)] {
        t.run(
            &format!("perspective (corners moved ≤ {:.0} %)", amount * 100.0),
            min,
            labels
                .iter()
                .map(|l| (l, png(&perspective(&l.image, amount, &mut r))))
                .collect(),
        );
    }

    for (sigma, min) in [(1.0, 0.85), (2.0, 0.85), (2.5, 0.0), (3.0, 0.0)] {
        t.run(
            &format!(
                "gaussian blur σ = {sigma} px ({} module)",
                sigma / MODULE_PX as f32
            ),
            min,
            labels
                .iter()
                .map(|l| (l, png(&blur(&l.image, sigma))))
                .collect(),
        );
    }

    for (sd, min) in [(25.0, 0.85), (50.0, 0.85)] {
        t.run(
            &format!("gaussian noise σ = {sd}"),
            min,
            labels
                .iter()
                .map(|l| (l, png(&gaussian_noise(&l.image, sd, r.gen()))))
                .collect(),
        );
    }
    for (rate, min) in [(0.05, 0.85), (0.15, 0.85)] {
        t.run(
            &format!("salt-and-pepper noise {:.0} %", rate * 100.0),
            min,
            labels
                .iter()
                .map(|l| (l, png(&salt_pepper(&l.image, rate, r.gen()))))
                .collect(),
        );
    }

    for (q, min) in [(50, 0.85), (25, 0.85), (10, 0.85)] {
        t.run(
            &format!("JPEG quality {q}"),
            min,
            labels.iter().map(|l| (l, jpeg(&l.image, q))).collect(),
        );
    }

    for (dark, light, name, min) in [
        (90, 167, "low contrast 30 % (90 on 167)", 0.85),
        (110, 148, "low contrast 15 % (110 on 148)", 0.85),
        (40, 80, "dark grey on grey (40 on 80)", 0.85),
    ] {
        t.run(
            name,
            min,
            labels
                .iter()
                .map(|l| (l, png(&contrast(&l.image, dark, light))))
                .collect(),
        );
    }

    t.run(
        "busy background 1280×960, label at an offset",
        0.85,
        labels
            .iter()
            .map(|l| {
                let mut scene = busy_background(1280, 960, &mut r);
                paste_random(&mut scene, &l.image, &mut r);
                (l, png(&scene))
            })
            .collect(),
    );

    // Combination: a phone frame. Label at 3 px/module, any angle, slight skew, on clutter,
    // blurred, noisy, JPEG 70.
    let small = support::labels(PER_KIND, 3, 7);
    t.run(
        "phone frame 1280×960: 3 px/module, rotated, skewed, clutter, blur, noise, JPEG 70",
        0.85,
        small
            .iter()
            .map(|l| {
                let deg = r.gen_range(0.0..360.0);
                (l, jpeg(&phone_photo(&l.image, deg, 1280, 960, &mut r), 70))
            })
            .collect(),
    );
    // The same in a 640×480 camera frame with a 2.5 px/module label.
    t.run(
        "camera frame 640×480: 2.5 px/module, rotated, skewed, clutter, blur, noise, JPEG 80",
        0.85,
        labels
            .iter()
            .map(|l| {
                let deg = r.gen_range(0.0..360.0);
                let lab = scale_to(&l.image, MODULE_PX, 2.5);
                (l, jpeg(&phone_photo(&lab, deg, 640, 480, &mut r), 80))
            })
            .collect(),
    );
    // A 12-Mpx photo (4000 × 3000): label at 10 px/module somewhere in the scene.
    let big = support::labels(1, 10, 8);
    t.run(
        "12-Mpx photo 4000×3000: 10 px/module, rotated, skewed, clutter, JPEG 85",
        0.66,
        big.iter()
            .map(|l| {
                let deg = r.gen_range(0.0..360.0);
                (l, jpeg(&phone_photo(&l.image, deg, 4000, 3000, &mut r), 85))
            })
            .collect(),
    );

    let mut md = String::from("| category | decoded / total | share |\n|---|---:|---:|\n");
    let (mut ok, mut total) = (0, 0);
    for row in &t.rows {
        ok += row.ok;
        total += row.total;
        let _ = writeln!(
            md,
            "| {} | {}/{} | {:.0} % |",
            row.category,
            row.ok,
            row.total,
            100.0 * row.ok as f64 / row.total as f64
        );
    }
    let _ = writeln!(
        md,
        "| **all** | {ok}/{total} | {:.0} % |",
        100.0 * ok as f64 / total as f64
    );
    eprintln!("\n{md}\n({} s in all)", started.elapsed().as_secs());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("decode-rates.md"), &md).unwrap();

    let below: Vec<String> = t
        .rows
        .iter()
        .filter(|r| (r.ok as f64) < r.min_share * r.total as f64)
        .map(|r| {
            format!(
                "{}: {}/{} < {:.0} %",
                r.category,
                r.ok,
                r.total,
                r.min_share * 100.0
            )
        })
        .collect();
    assert!(
        below.is_empty(),
        "decode rates below their floor: {below:#?}"
    );
}
