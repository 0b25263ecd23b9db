//! The one error type of the encoding side (symbols, renders, sheets).

use crate::symbol::Symbology;

/// What can go wrong while making a symbol, rendering it or laying out a sheet.
///
/// Messages follow the `std::error::Error` convention: a variant that wraps another error
/// names it as its `source()` and does not repeat it in its own message (print the chain,
/// e.g. with `anyhow`'s `{:#}`, to see both).
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The marking code is not a valid GS1 element string, bracketed string or Digital
    /// Link URI (the `gs1` crate names the fault: check digit, length, character, …).
    #[error("not a valid marking code")]
    Code(#[from] gs1::Gs1Error),
    /// The code has neither a GTIN (AI 01) nor an SSCC (AI 00): nothing to label.
    #[error("the code has no GTIN (01) or SSCC (00) to print")]
    NoKey,
    /// The data does not fit the largest symbol allowed.
    #[error("the code does not fit a {symbology} symbol ({len} bytes of data)")]
    TooLong {
        /// Data Matrix or QR.
        symbology: Symbology,
        /// Bytes of data that were to be encoded.
        len: usize,
    },
    /// The Digital Link base is not `http(s)://host[/stem]`.
    #[error("bad Digital Link base {base:?}: {what}")]
    BadBase {
        /// The base given.
        base: String,
        /// What is wrong with it.
        what: &'static str,
    },
    /// A render or layout parameter outside its documented range.
    #[error("{what} must be in {min}..={max}, got {got}")]
    OutOfRange {
        /// The parameter.
        what: &'static str,
        /// Smallest value allowed.
        min: f64,
        /// Largest value allowed.
        max: f64,
        /// The value given.
        got: f64,
    },
    /// A sheet with no labels, or more than the limit.
    #[error("a sheet holds 1..={max} labels, got {got}")]
    SheetSize {
        /// Labels asked for.
        got: usize,
        /// [`crate::sheet::LABELS_MAX`].
        max: usize,
    },
    /// A part of a sheet that does not start on a page boundary or overruns the sheet.
    #[error("a part of {count} labels from label {first} (0-based) must start a page (a multiple of {per_page}) and end within the sheet of {total} labels")]
    SheetPart {
        /// Index of the part's first label in the sheet.
        first: usize,
        /// Labels in the part.
        count: usize,
        /// Labels in the whole sheet.
        total: usize,
        /// Labels per page of the layout.
        per_page: usize,
    },
    /// A label of a sheet failed; `index` is its position in the input.
    #[error("label {index} of the sheet (counting from 0)")]
    SheetLabel {
        /// Position of the failing code in the sheet (0-based; for [`crate::sheet::pdf_part`]
        /// counted from the sheet's first label).
        index: usize,
        /// Why it failed.
        source: Box<LabelError>,
    },
    /// The PNG encoder failed (it writes to memory, so this is not expected).
    #[error("PNG encoding failed")]
    Png(#[from] png::EncodingError),
}
