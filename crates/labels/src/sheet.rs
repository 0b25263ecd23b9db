//! An order's labels → a printable PDF: A4 pages of GS1 Data Matrix labels on a grid of
//! standard label stock, vector modules, human-readable GTIN and serial, and a footer
//! with the sheet's title and the page number.
//!
//! The default [`Layout`] is A4 mini-label stock of 4 × 10 = 40 labels of 45.7 × 25.4 mm
//! (the Avery L7654 / 3657 grid): columns every 48.3 mm from 9.7 mm, rows every 25.4 mm
//! from 21.5 mm, so the page keeps 21.5 mm top and bottom for the footer. Labels are
//! filled left to right, then top to bottom, in the order of the codes. Each label holds
//! the Data Matrix on its left (quiet zone included, modules at most
//! [`MODULE_MM_MAX`]) and the caption lines on its right in Courier-Bold (one of the
//! PDF base-14 fonts: nothing embedded), split `(01)` / value when a line would fall
//! below [`TEXT_PT_MIN`]. The crypto tail is in the symbol only, never in the text.
//!
//! Limits: [`LABELS_MAX`] labels (100 pages of the default layout) per PDF; a layout
//! holds at most [`LABELS_PER_PAGE_MAX`] labels per page. A larger order is printed in
//! parts ([`pdf_part`]) numbered as one sheet.

use std::fmt::Write as _;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::symbol::data_matrix;
use crate::{LabelError, Symbol};

/// Most labels in one PDF: 4,000 is 100 pages of the default layout, about 1.5 MB,
/// made in about 4.5 s on one core (the Data Matrix encoder's search for the densest
/// encodation is most of it). A larger order is printed in parts ([`pdf_part`]).
pub const LABELS_MAX: usize = 4_000;

/// Most labels on one page of any layout.
pub const LABELS_PER_PAGE_MAX: usize = 400;

/// Largest Data Matrix module on a label, in millimetres (a short code would otherwise
/// fill the label with 1 mm modules and leave no room for text).
pub const MODULE_MM_MAX: f64 = 0.5;

/// Largest caption text, in points.
pub const TEXT_PT_MAX: f32 = 7.0;

/// Smallest caption text before a line is split into its AI and its value, in points.
pub const TEXT_PT_MIN: f32 = 6.0;

/// Footer text size, in points.
const FOOTER_PT: f32 = 8.0;

/// Courier's advance width, in em (every glyph).
const COURIER_ADVANCE: f32 = 0.6;

/// Gap between the symbol and the text, in millimetres.
const TEXT_GAP_MM: f64 = 1.0;

/// Points per millimetre.
const PT_PER_MM: f64 = 72.0 / 25.4;

/// Where the labels sit on a page. All lengths in millimetres, from the page's top left.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Page width (A4: 210).
    pub page_width: f64,
    /// Page height (A4: 297).
    pub page_height: f64,
    /// Labels across.
    pub columns: usize,
    /// Labels down.
    pub rows: usize,
    /// Width of one label.
    pub label_width: f64,
    /// Height of one label.
    pub label_height: f64,
    /// Distance between the left edges of two neighbouring labels in a row.
    pub pitch_x: f64,
    /// Distance between the top edges of two neighbouring labels in a column.
    pub pitch_y: f64,
    /// Left edge of the first column.
    pub margin_left: f64,
    /// Top edge of the first row.
    pub margin_top: f64,
    /// Blank border inside each label (what a die cut or a printer's drift may eat).
    pub padding: f64,
}

impl Default for Layout {
    /// A4, 4 × 10 labels of 45.7 × 25.4 mm (Avery L7654 / 3657 mini labels).
    fn default() -> Self {
        Layout {
            page_width: 210.0,
            page_height: 297.0,
            columns: 4,
            rows: 10,
            label_width: 45.7,
            label_height: 25.4,
            pitch_x: 48.3,
            pitch_y: 25.4,
            margin_left: 9.7,
            margin_top: 21.5,
            padding: 1.5,
        }
    }
}

impl Layout {
    /// Labels on one page.
    pub fn per_page(&self) -> usize {
        self.columns * self.rows
    }

    /// The rectangle of label `slot` (0-based, left to right then top to bottom) on its
    /// page: `[left, top, width, height]` in millimetres from the page's top left.
    pub fn cell(&self, slot: usize) -> [f64; 4] {
        let i = slot % self.per_page().max(1);
        let (c, r) = (i % self.columns.max(1), i / self.columns.max(1));
        [
            self.margin_left + c as f64 * self.pitch_x,
            self.margin_top + r as f64 * self.pitch_y,
            self.label_width,
            self.label_height,
        ]
    }

    /// Checks the grid fits the page and leaves room for a symbol.
    pub fn validate(&self) -> Result<(), LabelError> {
        let range = |what, v: f64, min: f64, max: f64| {
            if (min..=max).contains(&v) {
                Ok(())
            } else {
                Err(LabelError::OutOfRange {
                    what,
                    min,
                    max,
                    got: v,
                })
            }
        };
        range("page width (mm)", self.page_width, 50.0, 2000.0)?;
        range("page height (mm)", self.page_height, 50.0, 2000.0)?;
        let per_page = LABELS_PER_PAGE_MAX as f64;
        range("columns", self.columns as f64, 1.0, per_page)?;
        range("rows", self.rows as f64, 1.0, per_page)?;
        range("labels per page", self.per_page() as f64, 1.0, per_page)?;
        range(
            "label height (mm)",
            self.label_height,
            8.0,
            self.page_height,
        )?;
        range(
            "label width (mm)",
            self.label_width,
            self.label_height,
            self.page_width,
        )?;
        range(
            "pitch x (mm)",
            self.pitch_x,
            self.label_width,
            self.page_width,
        )?;
        range(
            "pitch y (mm)",
            self.pitch_y,
            self.label_height,
            self.page_height,
        )?;
        range("padding (mm)", self.padding, 0.0, self.label_height / 4.0)?;
        let right = self.margin_left + (self.columns - 1) as f64 * self.pitch_x + self.label_width;
        range(
            "right edge of the last column (mm)",
            right,
            0.0,
            self.page_width,
        )?;
        let bottom = self.margin_top + (self.rows - 1) as f64 * self.pitch_y + self.label_height;
        range(
            "bottom edge of the last row (mm)",
            bottom,
            0.0,
            self.page_height,
        )?;
        range("left margin (mm)", self.margin_left, 0.0, self.page_width)?;
        range("top margin (mm)", self.margin_top, 0.0, self.page_height)?;
        Ok(())
    }
}

/// A PDF of one GS1 Data Matrix label per code, laid out on `layout` in the order of
/// `codes`; `title` goes in the document's metadata and in every page's footer (non-ASCII
/// characters are shown as `?` in the footer, which uses a base-14 font).
///
/// Fails on an empty list or more than [`LABELS_MAX`] codes, a bad layout, or a code
/// that is not a valid marking code (naming its position).
///
/// ```
/// use labels::sheet::{pdf, Layout};
/// let codes = vec!["(01)04601234567893(21)abc123(93)Zx9q".to_owned(); 41];
/// let doc = pdf("Order 42", &codes, &Layout::default())?;
/// assert!(doc.starts_with(b"%PDF-"));
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn pdf(title: &str, codes: &[String], layout: &Layout) -> Result<Vec<u8>, LabelError> {
    pdf_part(title, codes, 0, codes.len(), layout)
}

/// One part of a sheet too large for one PDF: `codes` are the labels `first ..
/// first + codes.len()` (0-based) of a sheet of `total` labels. Pages and labels are
/// numbered as in the whole sheet ("page 101 of 2500 | labels 4001-4040 of 100000"), so
/// the parts print as one run. `first` must be a multiple of the layout's labels per
/// page (a part starts on a fresh page). [`pdf`] is `pdf_part(title, codes, 0,
/// codes.len(), layout)`.
///
/// ```
/// use labels::sheet::{pdf_part, Layout};
/// let codes = vec!["(01)04601234567893(21)abc123(93)Zx9q".to_owned(); 40];
/// let doc = pdf_part("Order 42", &codes, 4000, 100_000, &Layout::default())?;
/// assert!(doc.starts_with(b"%PDF-"));
/// assert!(pdf_part("Order 42", &codes, 4001, 100_000, &Layout::default()).is_err());
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn pdf_part(
    title: &str,
    codes: &[String],
    first: usize,
    total: usize,
    layout: &Layout,
) -> Result<Vec<u8>, LabelError> {
    if codes.is_empty() || codes.len() > LABELS_MAX {
        return Err(LabelError::SheetSize {
            got: codes.len(),
            max: LABELS_MAX,
        });
    }
    layout.validate()?;
    let per_page = layout.per_page();
    if !first.is_multiple_of(per_page) || first.saturating_add(codes.len()) > total {
        return Err(LabelError::SheetPart {
            first,
            count: codes.len(),
            total,
            per_page,
        });
    }
    let symbols = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            data_matrix(c).map_err(|e| LabelError::SheetLabel {
                index: first + i,
                source: Box::new(e),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pages = symbols.len().div_ceil(per_page);
    let first_page = first / per_page;
    let total_pages = total.div_ceil(per_page);

    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let helvetica_id = Ref::new(3);
    let courier_id = Ref::new(4);
    let info_id = Ref::new(5);
    // Pages and their content streams take ids from 6 on; LABELS_MAX bounds them.
    let page_id = |p: usize| Ref::new((6 + 2 * p) as i32);
    let content_id = |p: usize| Ref::new((6 + 2 * p + 1) as i32);

    let mut doc = Pdf::new();
    doc.catalog(catalog_id).pages(tree_id);
    doc.pages(tree_id)
        .kids((0..pages).map(page_id))
        .count(pages as i32);
    doc.type1_font(helvetica_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    doc.type1_font(courier_id)
        .base_font(Name(b"Courier-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    doc.document_info(info_id)
        .title(TextStr(title))
        .creator(TextStr("Tracemark labels"))
        .producer(TextStr("Tracemark labels (pdf-writer)"));

    let (w_pt, h_pt) = (mm(layout.page_width), mm(layout.page_height));
    let footer_title = ascii_only(title);
    for p in 0..pages {
        let mut page = doc.page(page_id(p));
        page.media_box(Rect::new(0.0, 0.0, w_pt, h_pt))
            .parent(tree_id)
            .contents(content_id(p));
        page.resources()
            .fonts()
            .pair(Name(b"F1"), helvetica_id)
            .pair(Name(b"F2"), courier_id);
        page.finish();

        let mut content = Content::new();
        let start = p * per_page;
        let end = (start + per_page).min(symbols.len());
        for (slot, symbol) in symbols[start..end].iter().enumerate() {
            draw_label(&mut content, layout, slot, symbol);
        }
        let mut footer = String::new();
        let _ = write!(
            footer,
            "{footer_title} | page {} of {total_pages} | labels {}-{} of {total}",
            first_page + p + 1,
            first + start + 1,
            first + end,
        );
        content
            .begin_text()
            .set_font(Name(b"F1"), FOOTER_PT)
            .next_line(
                mm(layout.margin_left),
                mm(layout.margin_top.min(20.0) / 2.0),
            )
            .show(Str(footer.as_bytes()))
            .end_text();
        let raw = content.finish();
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
        doc.stream(content_id(p), &packed)
            .filter(Filter::FlateDecode);
    }
    Ok(doc.finish())
}

/// Millimetres (from any origin) to points, as the PDF's `f32`.
fn mm(v: f64) -> f32 {
    (v * PT_PER_MM) as f32
}

/// `text` with every character outside printable ASCII shown as `?`.
fn ascii_only(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// Draws one label: the symbol on the left, the caption on the right.
fn draw_label(content: &mut Content, layout: &Layout, slot: usize, symbol: &Symbol) {
    let [left, top, width, height] = layout.cell(slot);
    let pad = layout.padding;
    let q = symbol.quiet_zone();
    let n = symbol.width() + 2 * q;
    let side_max = height - 2.0 * pad;
    let module = (side_max / n as f64).min(MODULE_MM_MAX);
    let side = module * n as f64;
    // Symbol box: from (left + pad, top + pad + centring), quiet zone included.
    let sx = left + pad;
    let sy = top + (height - side) / 2.0;
    // Module grid: PDF y runs upwards, so the matrix [m 0 0 -m x y] puts module (0, 0)
    // at the symbol's top left and lets every rectangle be written in whole modules.
    let ph = layout.page_height;
    content.save_state();
    content.transform([
        mm(module),
        0.0,
        0.0,
        -mm(module),
        mm(sx + q as f64 * module),
        mm(ph - (sy + q as f64 * module)),
    ]);
    for (x, y, len) in symbol.dark_runs() {
        content.rect(x as f32, y as f32, len as f32, 1.0);
    }
    content.set_fill_gray(0.0).fill_nonzero();
    content.restore_state();

    // Caption: one size for the label, the largest up to TEXT_PT_MAX that fits every
    // line; lines that would need less than TEXT_PT_MIN are split after the AI.
    let tx = sx + side + TEXT_GAP_MM;
    let text_w = mm((left + width - pad) - tx).max(0.0);
    let fit = |s: &str| text_w / (s.len().max(1) as f32 * COURIER_ADVANCE);
    let mut lines: Vec<&str> = Vec::with_capacity(symbol.caption().len() * 2);
    for line in symbol.caption() {
        match line.split_once(' ') {
            Some((ai, value)) if fit(line) < TEXT_PT_MIN => {
                lines.push(ai);
                lines.push(value);
            }
            _ => lines.push(line),
        }
    }
    let size = lines
        .iter()
        .map(|l| fit(l))
        .fold(TEXT_PT_MAX, f32::min)
        .max(1.0);
    let leading = size * 1.25;
    let block = leading * lines.len() as f32;
    let mid = mm(ph - (top + height / 2.0));
    let mut y = mid + block / 2.0 - size;
    content.begin_text().set_font(Name(b"F2"), size);
    for line in lines {
        content
            .set_text_matrix([1.0, 0.0, 0.0, 1.0, mm(tx), y])
            .show(Str(line.as_bytes()));
        y -= leading;
    }
    content.end_text();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("(01)04601234567893(21)s{i:05}(93)Zx9q"))
            .collect()
    }

    #[test]
    fn default_layout_is_a4_and_fits() {
        let l = Layout::default();
        l.validate().unwrap();
        assert_eq!(l.per_page(), 40);
        let [x, y, w, h] = l.cell(39);
        assert!((x + w - (210.0 - 9.7)).abs() < 0.01, "{}", x + w);
        assert!((y + h - (297.0 - 21.5)).abs() < 0.01, "{}", y + h);
        assert_eq!(l.cell(40), l.cell(0));
    }

    #[test]
    fn pages_and_limits() {
        let doc = pdf("order 1", &codes(81), &Layout::default()).unwrap();
        let text = String::from_utf8_lossy(&doc);
        assert!(text.contains("/Count 3"), "3 pages for 81 labels");
        assert!(matches!(
            pdf("x", &[], &Layout::default()),
            Err(LabelError::SheetSize { .. })
        ));
        let too_many = vec![codes(1)[0].clone(); LABELS_MAX + 1];
        assert!(matches!(
            pdf("x", &too_many, &Layout::default()),
            Err(LabelError::SheetSize { .. })
        ));
        let mut bad = codes(3);
        bad[2] = "(01)04601234567894(21)x".into();
        assert!(matches!(
            pdf("x", &bad, &Layout::default()),
            Err(LabelError::SheetLabel { index: 2, .. })
        ));
        let wide = Layout {
            columns: 5,
            ..Layout::default()
        };
        assert!(matches!(
            pdf("x", &codes(1), &wide),
            Err(LabelError::OutOfRange { .. })
        ));
    }

    #[test]
    fn parts_are_numbered_as_one_sheet() {
        let doc = pdf_part("o", &codes(41), 4000, 100_000, &Layout::default()).unwrap();
        assert!(String::from_utf8_lossy(&doc).contains("/Count 2"));
        // The footers (in deflated content streams) are checked with pdftotext in
        // tests/independent.rs.
        for (first, count, total) in [(4001, 41, 100_000), (40, 41, 80), (0, 2, 1)] {
            assert!(
                matches!(
                    pdf_part("o", &codes(count), first, total, &Layout::default()),
                    Err(LabelError::SheetPart { .. })
                ),
                "{first} {count} {total}"
            );
        }
        let mut bad = codes(3);
        bad[1] = "(01)04601234567894(21)x".into();
        assert!(matches!(
            pdf_part("o", &bad, 40, 100, &Layout::default()),
            Err(LabelError::SheetLabel { index: 41, .. })
        ));
    }

    #[test]
    fn ascii_footer() {
        assert_eq!(ascii_only("Заказ 7"), "????? 7");
    }
}
