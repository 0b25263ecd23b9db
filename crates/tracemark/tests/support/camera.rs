//! What a phone camera would see, for Chromium's fake capture device: a label (a GS1 Data
//! Matrix of a marking code, or a QR code of its Digital Link) on a grey table, written as
//! a YUV4MPEG2 (Y4M) video that `--use-file-for-fake-video-capture` plays in a loop.
//!
//! The labels are made here with the `datamatrix` (GS1 mode: FNC1 first, GS separators) and
//! `qrcode` crates, so the camera test does not depend on the code under test to print them.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// A greyscale picture, one byte a pixel (0 black, 255 white).
#[derive(Clone, Debug)]
pub struct Gray {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// Row-major pixels.
    pub px: Vec<u8>,
}

/// Quiet zone around a symbol, in modules (Data Matrix needs 1, QR 4; 4 for both).
pub const QUIET_MODULES: usize = 4;

impl Gray {
    /// A `w`×`h` picture of one shade.
    pub fn filled(w: usize, h: usize, shade: u8) -> Gray {
        Gray {
            w,
            h,
            px: vec![shade; w * h],
        }
    }

    /// A symbol as a picture: dark modules `module` pixels square, on white with a
    /// [`QUIET_MODULES`] quiet zone.
    pub fn from_modules(
        width: usize,
        height: usize,
        dark: impl Fn(usize, usize) -> bool,
        module: usize,
    ) -> Gray {
        let q = QUIET_MODULES;
        let mut g = Gray::filled((width + 2 * q) * module, (height + 2 * q) * module, 255);
        for y in 0..height {
            for x in 0..width {
                if dark(x, y) {
                    for dy in 0..module {
                        let row = (y + q) * module + dy;
                        let start = row * g.w + (x + q) * module;
                        g.px[start..start + module].fill(0);
                    }
                }
            }
        }
        g
    }

    /// Draws `other` with its top-left corner at (`x`, `y`) (clipped).
    pub fn paste(&mut self, other: &Gray, x: usize, y: usize) {
        for oy in 0..other.h {
            let ty = y + oy;
            if ty >= self.h {
                break;
            }
            for ox in 0..other.w {
                let tx = x + ox;
                if tx < self.w {
                    self.px[ty * self.w + tx] = other.px[oy * other.w + ox];
                }
            }
        }
    }

    /// Writes the picture as an 8-bit greyscale PNG.
    pub fn write_png(&self, path: &Path) {
        let f = std::fs::File::create(path).expect("create png");
        let mut e = png::Encoder::new(std::io::BufWriter::new(f), self.w as u32, self.h as u32);
        e.set_color(png::ColorType::Grayscale);
        e.set_depth(png::BitDepth::Eight);
        let mut w = e.write_header().expect("png header");
        w.write_image_data(&self.px).expect("png data");
    }
}

/// The GS1 Data Matrix of a full marking code (`01…21…<GS>91…<GS>92…`): FNC1 first, the
/// element strings with their ASCII 29 separators as printed on a pack.
pub fn data_matrix(full_code: &str, module: usize) -> Gray {
    let dm = datamatrix::DataMatrix::encode_gs1(
        full_code.as_bytes(),
        datamatrix::SymbolList::default().enforce_square(),
    )
    .unwrap_or_else(|e| panic!("data matrix of {full_code:?}: {e:?}"));
    let bm = dm.bitmap();
    let dark: std::collections::HashSet<(usize, usize)> = bm.pixels().collect();
    Gray::from_modules(
        bm.width(),
        bm.height(),
        |x, y| dark.contains(&(x, y)),
        module,
    )
}

/// The QR code of a text (a GS1 Digital Link URI).
pub fn qr(text: &str, module: usize) -> Gray {
    let q = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .unwrap_or_else(|e| panic!("qr of {text:?}: {e:?}"));
    let w = q.width();
    let colors = q.to_colors();
    Gray::from_modules(
        w,
        w,
        |x, y| colors[y * w + x] == qrcode::Color::Dark,
        module,
    )
}

/// A camera frame: the label in the middle of a grey (`shade`) `w`×`h` background, with a
/// faint deterministic texture so the frame is not a flat synthetic image.
pub fn frame(label: &Gray, w: usize, h: usize, shade: u8) -> Gray {
    let mut f = Gray::filled(w, h, shade);
    for (i, p) in f.px.iter_mut().enumerate() {
        let (x, y) = (i % w, i / w);
        // ±6 levels of a fixed pattern.
        *p = p.saturating_add((((x * 7 + y * 13) % 13) as u8).saturating_sub(6));
    }
    assert!(
        label.w <= w && label.h <= h,
        "label {}×{} does not fit a {w}×{h} frame",
        label.w,
        label.h
    );
    f.paste(label, (w - label.w) / 2, (h - label.h) / 2);
    f
}

/// Writes `frames` as a Y4M video (4:2:0, `C420jpeg`, 10 frames a second): luma from the
/// greyscale pixels, neutral chroma. All frames must be the same size, even in both sides.
pub fn write_y4m(path: &Path, frames: &[Gray]) {
    let first = frames.first().expect("at least one frame");
    let (w, h) = (first.w, first.h);
    assert!(w % 2 == 0 && h % 2 == 0, "4:2:0 needs even sides: {w}×{h}");
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create y4m"));
    writeln!(out, "YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg").expect("y4m header");
    let chroma = vec![128u8; (w / 2) * (h / 2)];
    for f in frames {
        assert_eq!((f.w, f.h), (w, h), "frames differ in size");
        out.write_all(b"FRAME\n").expect("y4m frame");
        out.write_all(&f.px).expect("y4m luma");
        out.write_all(&chroma).expect("y4m cb");
        out.write_all(&chroma).expect("y4m cr");
    }
    out.flush().expect("y4m flush");
}
