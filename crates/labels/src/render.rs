//! A [`Symbol`] → a PNG (1-bit grey) or an SVG, with its quiet zone and the
//! human-readable lines ([`Symbol::caption`]) centred under it.
//!
//! PNG: `module_px` pixels per module (1..=[`MODULE_PX_MAX`]); every module is a whole
//! number of pixels, so the image is crisp black and white (1-bit greyscale, no
//! anti-aliasing). The caption uses the 6×10 and 10×20 monospace bitmap fonts compiled
//! into `embedded-graphics`, scaled by whole pixels to about the symbol's width.
//!
//! SVG: one `<path>` of dark modules in a `viewBox` counted in modules, its size given
//! in millimetres or CSS pixels ([`Unit`]); `shape-rendering="crispEdges"`. The caption
//! is `<text>` in a monospace font, at least [`TEXT_MIN_MM`] high.

use std::convert::Infallible;
use std::fmt::Write as _;

use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_6X10};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};

use crate::{LabelError, Symbol};

/// Most pixels per module in a PNG: 32 px is 2.7 mm at 300 dpi, larger than any label
/// needs; it bounds the image at about 4,800 px square for the largest Data Matrix.
pub const MODULE_PX_MAX: u32 = 32;

/// Most pixels in one PNG (width × height), checked before anything is drawn.
pub const PIXELS_MAX: usize = 40_000_000;

/// Smallest and largest SVG module size, in the chosen [`Unit`].
pub const SVG_MODULE_MIN: f64 = 0.01;
/// See [`SVG_MODULE_MIN`].
pub const SVG_MODULE_MAX: f64 = 100.0;

/// Smallest caption text in an SVG, in millimetres (about 7 pt: readable on a label).
pub const TEXT_MIN_MM: f64 = 2.5;

/// Caption text size in an SVG, in modules, when that is larger than [`TEXT_MIN_MM`].
const TEXT_MODULES: f64 = 2.0;

/// The unit of an SVG's width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Millimetres: the module size is printed as given.
    Mm,
    /// CSS pixels (1/96 in): for screens and web pages.
    Px,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Mm => "mm",
            Unit::Px => "px",
        }
    }

    fn per_mm(self) -> f64 {
        match self {
            Unit::Mm => 1.0,
            Unit::Px => 96.0 / 25.4,
        }
    }
}

/// Largest whole-pixel scale of the caption font.
const FONT_SCALE_MAX: usize = 8;

/// The caption's monospace font and whole-pixel scale: the largest of 6×10, then 10×20
/// at scales 1..=[`FONT_SCALE_MAX`], whose widest line fits the symbol's width (quiet zone
/// included) and whose height is at most a sixth of the symbol's; 6×10 when none does
/// (the image then grows wider than the symbol).
fn caption_font(chars: usize, sym_w: usize, sym_h: usize) -> (&'static MonoFont<'static>, usize) {
    let mut best: (&'static MonoFont<'static>, usize) = (&FONT_6X10, 1);
    let candidates =
        std::iter::once((&FONT_6X10, 1)).chain((1..=FONT_SCALE_MAX).map(|k| (&FONT_10X20, k)));
    for (font, k) in candidates {
        let w = chars * font.character_size.width as usize * k;
        let h = font.character_size.height as usize * k;
        if w <= sym_w && h * 6 <= sym_h {
            best = (font, k);
        }
    }
    best
}

/// A 1-bit canvas, `true` for black.
struct Canvas {
    width: usize,
    height: usize,
    dark: Vec<bool>,
}

impl Canvas {
    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize) {
        for row in y..(y + h).min(self.height) {
            let start = row * self.width;
            let x1 = (x + w).min(self.width);
            if x < x1 {
                self.dark[start + x..start + x1].fill(true);
            }
        }
    }

    /// 1-bit greyscale PNG (0 black, 1 white), rows packed most significant bit first.
    fn to_png(&self) -> Result<Vec<u8>, LabelError> {
        let row_bytes = self.width.div_ceil(8);
        let mut packed = vec![0u8; row_bytes * self.height];
        for y in 0..self.height {
            let row = &self.dark[y * self.width..(y + 1) * self.width];
            let out = &mut packed[y * row_bytes..(y + 1) * row_bytes];
            for (x, &d) in row.iter().enumerate() {
                if !d {
                    out[x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        let mut bytes = Vec::with_capacity(packed.len() / 4 + 128);
        {
            // Both sides are bounded by PIXELS_MAX, far below u32::MAX.
            let mut enc = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::One);
            let mut w = enc.write_header()?;
            w.write_image_data(&packed)?;
            w.finish()?;
        }
        Ok(bytes)
    }
}

/// Draws glyphs into a [`Canvas`] at an offset, each font pixel a `scale`² block.
struct Scaled<'a> {
    canvas: &'a mut Canvas,
    x: usize,
    y: usize,
    scale: usize,
}

impl OriginDimensions for Scaled<'_> {
    fn size(&self) -> Size {
        // Bounded by PIXELS_MAX.
        Size::new(self.canvas.width as u32, self.canvas.height as u32)
    }
}

impl DrawTarget for Scaled<'_> {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, c) in pixels {
            if c.is_on() && p.x >= 0 && p.y >= 0 {
                let (px, py) = (p.x as usize, p.y as usize);
                let s = self.scale;
                self.canvas.fill(self.x + px * s, self.y + py * s, s, s);
            }
        }
        Ok(())
    }
}

/// The symbol as a PNG of `module_px` pixels per module (1..=[`MODULE_PX_MAX`]), with
/// its quiet zone and the caption centred under it.
///
/// ```
/// let s = labels::symbol::data_matrix("(01)04601234567893(21)abc123")?;
/// let png = labels::render::png(&s, 10)?;
/// assert_eq!(&png[1..4], b"PNG");
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn png(symbol: &Symbol, module_px: u32) -> Result<Vec<u8>, LabelError> {
    if !(1..=MODULE_PX_MAX).contains(&module_px) {
        return Err(LabelError::OutOfRange {
            what: "PNG module size (px)",
            min: 1.0,
            max: f64::from(MODULE_PX_MAX),
            got: f64::from(module_px),
        });
    }
    let n = module_px as usize;
    let q = symbol.quiet_zone();
    let lines = symbol.caption();
    let chars = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    let sym_w = (symbol.width() + 2 * q) * n;
    let sym_h = (symbol.height() + 2 * q) * n;
    let (font, scale) = caption_font(chars, sym_w, sym_h);
    let glyph_w = font.character_size.width as usize * scale;
    let glyph_h = font.character_size.height as usize * scale;
    let line_gap = glyph_h / 4;
    let text_w = chars * glyph_w;
    let width = sym_w.max(text_w + 2 * q * n);
    let text_h = if lines.is_empty() {
        0
    } else {
        lines.len() * (glyph_h + line_gap) + q * n
    };
    let height = sym_h + text_h;
    if width.saturating_mul(height) > PIXELS_MAX {
        return Err(LabelError::OutOfRange {
            what: "PNG pixels (width × height)",
            min: 1.0,
            max: PIXELS_MAX as f64,
            got: width as f64 * height as f64,
        });
    }
    let mut canvas = Canvas {
        width,
        height,
        dark: vec![false; width * height],
    };
    let x0 = (width - symbol.width() * n) / 2;
    let y0 = q * n;
    for (x, y, len) in symbol.dark_runs() {
        canvas.fill(x0 + x * n, y0 + y * n, len * n, n);
    }
    let style = MonoTextStyle::new(font, BinaryColor::On);
    for (i, line) in lines.iter().enumerate() {
        let mut target = Scaled {
            x: (width - line.len() * glyph_w) / 2,
            y: sym_h + i * (glyph_h + line_gap),
            canvas: &mut canvas,
            scale,
        };
        // Drawing into memory cannot fail (Infallible).
        let _ = Text::with_baseline(line, Point::zero(), style, Baseline::Top).draw(&mut target);
    }
    canvas.to_png()
}

/// The symbol as an SVG document, `module` units per module
/// ([`SVG_MODULE_MIN`]..=[`SVG_MODULE_MAX`]), with its quiet zone and the caption centred
/// under it.
///
/// ```
/// use labels::render::{svg, Unit};
/// let s = labels::symbol::data_matrix("(01)04601234567893(21)a&b")?;
/// let doc = svg(&s, 0.5, Unit::Mm)?;
/// assert!(doc.starts_with("<svg"));
/// assert!(doc.contains("(21) a&amp;b"));
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn svg(symbol: &Symbol, module: f64, unit: Unit) -> Result<String, LabelError> {
    if !(SVG_MODULE_MIN..=SVG_MODULE_MAX).contains(&module) {
        return Err(LabelError::OutOfRange {
            what: "SVG module size",
            min: SVG_MODULE_MIN,
            max: SVG_MODULE_MAX,
            got: module,
        });
    }
    let q = symbol.quiet_zone();
    let lines = symbol.caption();
    // Text size in modules: TEXT_MODULES, or TEXT_MIN_MM when modules are small.
    let font = TEXT_MODULES.max(TEXT_MIN_MM * unit.per_mm() / module);
    let line_h = font * 1.25;
    // Monospace advance is about 0.6 em in DejaVu Sans Mono, Liberation Mono, Courier.
    let text_w = lines.iter().map(|l| l.len()).max().unwrap_or(0) as f64 * font * 0.6;
    let sym_w = (symbol.width() + 2 * q) as f64;
    let sym_h = (symbol.height() + 2 * q) as f64;
    // One character's width of margin on each side of the text.
    let width = sym_w.max(text_w + 2.0 * (q as f64 + font * 0.6));
    let text_h = if lines.is_empty() {
        0.0
    } else {
        lines.len() as f64 * line_h + q as f64
    };
    let height = sym_h + text_h;
    let x0 = (width - symbol.width() as f64) / 2.0;
    let y0 = q as f64;
    let u = unit.suffix();
    let mut s = String::with_capacity(512 + symbol.modules().len() * 4);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}{u}" height="{h}{u}" viewBox="0 0 {width} {height}" shape-rendering="crispEdges"><rect width="{width}" height="{height}" fill="#fff"/><path fill="#000" d=""##,
        w = fmt_num(width * module),
        h = fmt_num(height * module),
        width = fmt_num(width),
        height = fmt_num(height),
    );
    for (x, y, len) in symbol.dark_runs() {
        let _ = write!(
            s,
            "M{} {}h{}v1h-{}z",
            fmt_num(x0 + x as f64),
            fmt_num(y0 + y as f64),
            len,
            len
        );
    }
    s.push_str("\"/>");
    for (i, line) in lines.iter().enumerate() {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-family="DejaVu Sans Mono, Liberation Mono, Courier New, monospace" font-size="{}" text-anchor="middle" fill="#000" xml:space="preserve">"##,
            fmt_num(width / 2.0),
            fmt_num(sym_h + i as f64 * line_h + font),
            fmt_num(font),
        );
        escape_xml(&mut s, line);
        s.push_str("</text>");
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// A number with at most 3 decimals and no trailing zeros.
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn escape_xml(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbol::{data_matrix, digital_link_qr};

    fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<bool>) {
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().unwrap();
        let info = r.info().clone();
        assert_eq!(info.bit_depth, png::BitDepth::One);
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        r.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let rb = w.div_ceil(8);
        let dark = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| buf[y * rb + x / 8] & (0x80 >> (x % 8)) == 0)
            .collect();
        (w, h, dark)
    }

    #[test]
    fn png_modules_are_whole_pixels_with_a_quiet_zone() {
        let s = data_matrix("(01)04601234567893(21)abc123(93)Zx9q").unwrap();
        for n in [1u32, 3, 8, 13] {
            let (w, h, dark) = decode_png(&png(&s, n).unwrap());
            let n = n as usize;
            let q = s.quiet_zone();
            let x0 = (w - s.width() * n) / 2;
            let y0 = q * n;
            for y in 0..s.height() * n {
                for x in 0..s.width() * n {
                    assert_eq!(
                        dark[(y0 + y) * w + x0 + x],
                        s.is_dark(x / n, y / n),
                        "module ({}, {}) at {n} px",
                        x / n,
                        y / n
                    );
                }
            }
            // The quiet zone is white all round.
            for y in 0..(s.height() + 2 * q) * n {
                for x in 0..w {
                    let inside = (y0..y0 + s.height() * n).contains(&y)
                        && (x0..x0 + s.width() * n).contains(&x);
                    if !inside && x + q * n >= x0 && x < x0 + (s.width() + q) * n {
                        assert!(!dark[y * w + x], "quiet zone pixel ({x}, {y}) at {n} px");
                    }
                }
            }
            // Something is drawn under the symbol (the caption).
            let below = &dark[(s.height() + 2 * q) * n * w..];
            assert!(below.iter().any(|&d| d));
            assert!(h > (s.height() + 2 * q) * n);
        }
    }

    #[test]
    fn qr_has_four_modules_of_quiet_zone() {
        let s =
            digital_link_qr("(01)04601234567893(21)abc123(93)Zx9q", "https://t.example").unwrap();
        let (w, _, dark) = decode_png(&png(&s, 4).unwrap());
        // The top 4 modules (16 px) are white, and the finder pattern starts at 16 px.
        assert!(dark[..16 * w].iter().all(|&d| !d));
        let x0 = (w - s.width() * 4) / 2;
        assert!(dark[16 * w + x0]);
        assert!(x0 >= 16);
    }

    #[test]
    fn limits_are_refused() {
        let s = data_matrix("(01)04601234567893(21)abc123").unwrap();
        assert!(matches!(png(&s, 0), Err(LabelError::OutOfRange { .. })));
        assert!(matches!(
            png(&s, MODULE_PX_MAX + 1),
            Err(LabelError::OutOfRange { .. })
        ));
        assert!(matches!(
            svg(&s, 0.0, Unit::Mm),
            Err(LabelError::OutOfRange { .. })
        ));
        assert!(matches!(
            svg(&s, f64::NAN, Unit::Mm),
            Err(LabelError::OutOfRange { .. })
        ));
    }

    #[test]
    fn svg_escapes_and_sizes() {
        let s = data_matrix("(01)04601234567893(21)<&\"'>").unwrap();
        let doc = svg(&s, 0.5, Unit::Mm).unwrap();
        assert!(doc.contains("(21) &lt;&amp;&quot;&apos;&gt;"));
        assert!(!doc.contains("(9"));
        // Module 0.5 mm → width (w + 2q) * 0.5 mm at least.
        let want = (s.width() + 2 * s.quiet_zone()) as f64 * 0.5;
        let w: f64 = doc
            .split("width=\"")
            .nth(1)
            .and_then(|r| r.split("mm\"").next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(w >= want, "{w} < {want}");
    }
}
