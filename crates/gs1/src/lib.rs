//! GS1 syntax for Tracemark: Application Identifiers, element strings (GS-separated raw
//! data, bracketed form, GS1 Digital Link URIs), check digits, GTIN/SSCC, and EPC
//! (pure identity and tag URIs, SGTIN-96, SSCC-96, SGTIN-198 binary).
//!
//! Pure: no I/O, no `unsafe`. The AI table is generated from the GS1 Barcode Syntax
//! Dictionary (see `tests/generated_table.rs`).
//!
//! ```
//! use gs1::{Ai, ElementString};
//!
//! let raw = "0104650117240163215100000005NgF\u{1d}910024\u{1d}92UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==";
//! let es = ElementString::parse(raw)?;
//! assert_eq!(es.gtin().unwrap().to_string(), "04650117240163");
//! assert_eq!(es.serial(), Some("5100000005NgF"));
//! assert_eq!(es.get(Ai::INTERNAL_91), Some("0024"));
//! assert_eq!(es.identification_code().unwrap(), "0104650117240163215100000005NgF");
//! let dl = es.to_digital_link("https://id.gs1.org")?;
//! assert!(dl.starts_with("https://id.gs1.org/01/04650117240163/21/5100000005NgF?91=0024&92="));
//! assert_eq!(ElementString::parse(&dl)?, es);
//! assert_eq!(ElementString::parse(&es.to_brackets())?, es);
//! # Ok::<(), gs1::Gs1Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ai;
#[rustfmt::skip]
mod ai_table;
mod check;
mod dl;
mod element;
pub mod epc;
mod error;

pub use ai::{Ai, AiSpec, Component, Cset, Temporal};
pub use check::{check_digit, Gtin, Sscc};
pub use dl::percent_encoded;
pub use element::{ElementString, ELEMENTS_MAX, GS, INPUT_LEN_MAX};
pub use error::Gs1Error;

/// Parses any supported form into an [`ElementString`] (see [`ElementString::parse`]).
pub fn parse(input: &str) -> Result<ElementString, Gs1Error> {
    ElementString::parse(input)
}
