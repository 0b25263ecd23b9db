//! What a phone camera would see, for Chromium's fake capture device: a label (a GS1 Data
//! Matrix of a marking code, or a QR code of its Digital Link) on a grey table, written as
//! a YUV4MPEG2 (Y4M) video that `--use-file-for-fake-video-capture` plays in a loop.
//!
//! The labels are the ones a producer prints: the `labels` crate's PNG (symbol, quiet zone,
//! caption), read back into pixels here.

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

impl Gray {
    /// A `w`×`h` picture of one shade.
    pub fn filled(w: usize, h: usize, shade: u8) -> Gray {
        Gray {
            w,
            h,
            px: vec![shade; w * h],
        }
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

impl Gray {
    /// Reads a PNG (any colour type and depth) as greyscale.
    pub fn from_png(bytes: &[u8]) -> Gray {
        let mut d = png::Decoder::new(std::io::Cursor::new(bytes));
        d.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut r = d.read_info().expect("png header");
        let mut buf = vec![0; r.output_buffer_size().expect("png size")];
        let info = r.next_frame(&mut buf).expect("png data");
        let (w, h) = (info.width as usize, info.height as usize);
        let channels = info.color_type.samples();
        let px = (0..w * h)
            .map(|i| {
                let p = &buf[i * channels..(i + 1) * channels];
                match channels {
                    1 | 2 => p[0],
                    // RGB(A): luma (BT.601).
                    _ => {
                        ((299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]))
                            / 1000) as u8
                    }
                }
            })
            .collect();
        Gray { w, h, px }
    }
}

/// A printed label of `symbol` at `module` pixels a module, as the `labels` crate renders it.
pub fn label(symbol: &labels::symbol::Symbol, module: u32) -> Gray {
    Gray::from_png(&labels::render::png(symbol, module).expect("label png"))
}

/// The GS1 Data Matrix label of a full marking code (`01…21…<GS>91…<GS>92…`).
pub fn data_matrix(full_code: &str, module: u32) -> Gray {
    let s = labels::symbol::data_matrix(full_code)
        .unwrap_or_else(|e| panic!("data matrix of {full_code:?}: {e}"));
    label(&s, module)
}

/// The QR label of a full marking code's GS1 Digital Link under `base` (`http://host:port`).
pub fn qr(full_code: &str, base: &str, module: u32) -> Gray {
    let s = labels::symbol::digital_link_qr(full_code, base)
        .unwrap_or_else(|e| panic!("QR of {full_code:?}: {e}"));
    label(&s, module)
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
