//! Test labels and the photo-like damage applied to them (shared by tests/photos.rs and
//! benches/decode.rs). Everything is seeded: the same run makes the same images.
#![allow(dead_code)]

use image::{imageops, GrayImage, Luma};
use imageproc::geometric_transformations::{warp, Border, Interpolation, Projection};
use issuance::{Keyring, SerialLen, TailKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Base of the Digital Links the tests print (any https host: the decoder keeps only the
/// GS1 part).
pub const DL_BASE: &str = "https://tm.example";
/// Quiet zone around a test label, in modules (what the renders use).
pub const QUIET_MODULES: u32 = 2;

/// The three label kinds the tests measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// GS1 Data Matrix, `01 21 GS 91 GS 92` with a 44-char MAC.
    DmMac,
    /// GS1 Data Matrix with an 88-char Ed25519 signature tail.
    DmSignature,
    /// QR code of the Digital Link with the MAC tail as query attributes.
    QrLink,
}

pub const KINDS: [Kind; 3] = [Kind::DmMac, Kind::DmSignature, Kind::QrLink];

/// A label to decode: the expected code (element string, GS-separated) and its image.
pub struct Label {
    pub kind: Kind,
    pub code: String,
    pub image: GrayImage,
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` real codes of `kind` (serials and tails from a seeded issuance keyring).
pub fn codes(kind: Kind, n: usize, seed: u64) -> Vec<String> {
    let mut r = rng(seed);
    let keyring = Keyring::generate_with_rng(&mut r, 1_700_000_000);
    let tail = match kind {
        Kind::DmSignature => TailKind::Signature,
        Kind::DmMac | Kind::QrLink => TailKind::Mac,
    };
    let len = SerialLen::new(13).unwrap();
    (0..n)
        .map(|i| {
            keyring
                .emit(4_650_117_240_163, 1000 + i as u64 * 7919, len, tail)
                .unwrap()
                .element_string()
        })
        .collect()
}

/// The module matrix of a label: `dark[y * width + x]`, no quiet zone.
pub struct Modules {
    pub width: usize,
    pub dark: Vec<bool>,
}

/// The symbol for `code` (GS-separated element string). This is the one place to switch
/// to `labels::symbol` when it lands.
pub fn modules(kind: Kind, code: &str) -> Modules {
    match kind {
        Kind::DmMac | Kind::DmSignature => {
            let dm = datamatrix::DataMatrix::encode_gs1(
                code.as_bytes(),
                datamatrix::SymbolList::default(),
            )
            .unwrap();
            let bm = dm.bitmap();
            let mut dark = vec![false; bm.width() * bm.height()];
            for (x, y) in bm.pixels() {
                dark[y * bm.width() + x] = true;
            }
            Modules {
                width: bm.width(),
                dark,
            }
        }
        Kind::QrLink => {
            let url = gs1::ElementString::parse(code)
                .unwrap()
                .to_digital_link(DL_BASE)
                .unwrap();
            let qr = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M).unwrap();
            let dark = qr
                .to_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect();
            Modules {
                width: qr.width(),
                dark,
            }
        }
    }
}

/// A clean render: `module_px` pixels per module, [`QUIET_MODULES`] of white around.
pub fn render(m: &Modules, module_px: u32) -> GrayImage {
    let h = m.dark.len() / m.width;
    let q = QUIET_MODULES as usize;
    let side_w = ((m.width + 2 * q) as u32) * module_px;
    let side_h = ((h + 2 * q) as u32) * module_px;
    GrayImage::from_fn(side_w, side_h, |x, y| {
        let (mx, my) = ((x / module_px) as usize, (y / module_px) as usize);
        let dark = mx >= q
            && my >= q
            && mx - q < m.width
            && my - q < h
            && m.dark[(my - q) * m.width + mx - q];
        Luma([if dark { 0 } else { 255 }])
    })
}

/// `n` labels of each kind at `module_px`.
pub fn labels(n: usize, module_px: u32, seed: u64) -> Vec<Label> {
    KINDS
        .iter()
        .enumerate()
        .flat_map(|(k, &kind)| {
            codes(kind, n, seed + k as u64)
                .into_iter()
                .map(move |code| Label {
                    kind,
                    image: render(&modules(kind, &code), module_px),
                    code,
                })
        })
        .collect()
}

// ---- damage ------------------------------------------------------------------------

/// Puts `img` on a white canvas `pad` pixels larger on every side.
pub fn pad(img: &GrayImage, pad: u32, fill: u8) -> GrayImage {
    let mut out =
        GrayImage::from_pixel(img.width() + 2 * pad, img.height() + 2 * pad, Luma([fill]));
    imageops::replace(&mut out, img, i64::from(pad), i64::from(pad));
    out
}

/// Rotates by `deg` degrees about the centre on a canvas big enough for any angle.
pub fn rotate(img: &GrayImage, deg: f32) -> GrayImage {
    let diag = ((img.width().pow(2) + img.height().pow(2)) as f32).sqrt();
    let p = ((diag - img.width().min(img.height()) as f32) / 2.0).ceil() as u32 + 2;
    let big = pad(img, p, 255);
    imageproc::geometric_transformations::rotate_about_center(
        &big,
        deg.to_radians(),
        Interpolation::Bilinear,
        Border::Constant(Luma([255])),
    )
}

/// Scales so that one module (of `module_px` now) becomes `target_px` pixels.
pub fn scale_to(img: &GrayImage, module_px: u32, target_px: f32) -> GrayImage {
    let f = target_px / module_px as f32;
    let w = ((img.width() as f32) * f).round() as u32;
    let h = ((img.height() as f32) * f).round() as u32;
    imageops::resize(img, w, h, imageops::FilterType::Triangle)
}

/// A perspective view: the label's corners moved inwards by up to `amount` of its side
/// (a label photographed at an angle), on a margin of white.
pub fn perspective(img: &GrayImage, amount: f32, r: &mut ChaCha8Rng) -> GrayImage {
    let m = (img.width().max(img.height()) as f32 * 0.3) as u32;
    let big = pad(img, m, 255);
    let (w, h) = (big.width() as f32, big.height() as f32);
    let (x0, y0, x1, y1) = (m as f32, m as f32, w - m as f32, h - m as f32);
    let s = (x1 - x0) * amount;
    let mut j = || r.gen_range(-s..=s);
    let from = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
    let to = [
        (x0 + j(), y0 + j()),
        (x1 + j(), y0 + j()),
        (x1 + j(), y1 + j()),
        (x0 + j(), y1 + j()),
    ];
    let p = Projection::from_control_points(from, to).unwrap();
    warp(
        &big,
        p,
        Interpolation::Bilinear,
        Border::Constant(Luma([255])),
    )
}

pub fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    imageproc::filter::gaussian_blur_f32(img, sigma)
}

pub fn gaussian_noise(img: &GrayImage, stddev: f64, seed: u64) -> GrayImage {
    imageproc::noise::gaussian_noise(img, 0.0, stddev, seed)
}

pub fn salt_pepper(img: &GrayImage, rate: f64, seed: u64) -> GrayImage {
    imageproc::noise::salt_and_pepper_noise(img, rate, seed)
}

/// Maps black/white to grey levels `dark`/`light` (30 % contrast: 90 on 167).
pub fn contrast(img: &GrayImage, dark: u8, light: u8) -> GrayImage {
    let (d, l) = (f32::from(dark), f32::from(light));
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let v = f32::from(img.get_pixel(x, y).0[0]) / 255.0;
        Luma([(d + (l - d) * v).round() as u8])
    })
}

/// A `w` × `h` cluttered scene: shaded background, boxes, discs, lines, rows of
/// glyph-like marks (text), speckle.
pub fn busy_background(w: u32, h: u32, r: &mut ChaCha8Rng) -> GrayImage {
    let (g0, g1) = (r.gen_range(120..200u8), r.gen_range(120..230u8));
    let mut img = GrayImage::from_fn(w, h, |x, y| {
        let t = (x + y) as f32 / (w + h) as f32;
        Luma([(f32::from(g0) * (1.0 - t) + f32::from(g1) * t) as u8])
    });
    use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut, draw_line_segment_mut};
    use imageproc::rect::Rect;
    let area = (w * h) as usize;
    for _ in 0..area / 20_000 {
        let (x, y) = (r.gen_range(0..w) as i32, r.gen_range(0..h) as i32);
        let c = Luma([r.gen_range(0..=255)]);
        match r.gen_range(0..3) {
            0 => draw_filled_rect_mut(
                &mut img,
                Rect::at(x, y).of_size(r.gen_range(5..w / 4), r.gen_range(5..h / 4)),
                c,
            ),
            1 => draw_filled_circle_mut(&mut img, (x, y), r.gen_range(3..(w / 10) as i32), c),
            _ => draw_line_segment_mut(
                &mut img,
                (x as f32, y as f32),
                (r.gen_range(0..w) as f32, r.gen_range(0..h) as f32),
                c,
            ),
        }
    }
    // Text-like rows: small dark marks of glyph size, in lines.
    for _ in 0..area / 60_000 {
        let (mut x, y) = (r.gen_range(0..w) as i32, r.gen_range(0..h) as i32);
        let size = r.gen_range(4..12);
        for _ in 0..r.gen_range(5..30) {
            let gw = r.gen_range(size / 2..=size) as u32;
            draw_filled_rect_mut(
                &mut img,
                Rect::at(x, y).of_size(gw, size as u32),
                Luma([r.gen_range(0..60)]),
            );
            x += gw as i32 + r.gen_range(1..4);
        }
    }
    // Speckle on 2 % of the pixels.
    for _ in 0..area / 50 {
        let (x, y) = (r.gen_range(0..w), r.gen_range(0..h));
        img.put_pixel(x, y, Luma([r.gen()]));
    }
    img
}

/// Pastes `label` into `scene` at a random place (wholly inside); the label's white
/// pixels stay (a paper label on a cluttered surface).
pub fn paste_random(scene: &mut GrayImage, label: &GrayImage, r: &mut ChaCha8Rng) {
    let x = r.gen_range(0..=scene.width().saturating_sub(label.width()));
    let y = r.gen_range(0..=scene.height().saturating_sub(label.height()));
    imageops::replace(scene, label, i64::from(x), i64::from(y));
}

/// JPEG bytes at `quality`.
pub fn jpeg(img: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

/// PNG bytes.
pub fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A phone-photo-like scene: the label at `module_px`, rotated by `deg`, mildly skewed,
/// on a `w` × `h` busy background, slightly blurred and noisy.
pub fn phone_photo(label: &GrayImage, deg: f32, w: u32, h: u32, r: &mut ChaCha8Rng) -> GrayImage {
    let seed: u64 = r.gen();
    let skewed = perspective(&rotate(label, deg), 0.04, r);
    // The skewed label's margin is white paper; crop most of it so clutter comes close.
    let m = (skewed.width() as f32 * 0.15) as u32;
    let cropped = imageops::crop_imm(
        &skewed,
        m,
        m,
        skewed.width() - 2 * m,
        skewed.height() - 2 * m,
    )
    .to_image();
    let mut scene = busy_background(w, h, r);
    paste_random(&mut scene, &cropped, r);
    let scene = blur(&scene, 0.8);
    gaussian_noise(&scene, 6.0, seed)
}
