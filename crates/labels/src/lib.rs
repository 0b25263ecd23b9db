//! Labels: what a producer prints and what a phone reads back.
//!
//! - [`symbol`]: a marking code → a GS1 Data Matrix (ECC 200, FNC1 first, GS separators) or a
//!   QR code of its GS1 Digital Link (crypto tail as query attributes), as a module matrix.
//! - [`render`]: a symbol → PNG or SVG with quiet zone and the human-readable GTIN and serial.
//! - [`sheet`]: an order's labels → a printable PDF sheet (A4, documented grid).
//! - [`decode`]: a photo → the codes it shows (Data Matrix and QR), bounded in bytes and pixels.

pub mod decode;
pub mod render;
pub mod sheet;
pub mod symbol;
