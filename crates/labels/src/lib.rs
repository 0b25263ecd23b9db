//! Labels: what a producer prints and what a phone reads back.
//!
//! - [`symbol`]: a marking code → a GS1 Data Matrix (ECC 200, FNC1 first, GS separators) or a
//!   QR code of its GS1 Digital Link (crypto tail as query attributes), as a module matrix.
//! - [`render`]: a symbol → PNG or SVG with quiet zone and the human-readable GTIN and serial.
//! - [`sheet`]: an order's labels → a printable PDF sheet (A4, documented grid).
//! - [`decode`]: a photo → the codes it shows (Data Matrix and QR), bounded in bytes and pixels.
//!
//! ```
//! let code = "010460123456789321abc123\u{1d}93Zx9q";
//! let dm = labels::symbol::data_matrix(code)?;
//! let png = labels::render::png(&dm, 8)?;
//! assert!(png.starts_with(b"\x89PNG"));
//! let svg = labels::render::svg(&dm, 0.5, labels::render::Unit::Mm)?;
//! assert!(svg.contains("(01) 04601234567893"));
//! let pdf = labels::sheet::pdf("order 42", &[code.to_owned()], &labels::sheet::Layout::default())?;
//! assert!(pdf.starts_with(b"%PDF"));
//! # Ok::<(), labels::LabelError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod decode;
mod error;
pub mod render;
pub mod sheet;
pub mod symbol;

pub use error::LabelError;
pub use symbol::{Symbol, Symbology};
