//! The EPCIS 2.0 repository over the registry (docs/epcis.md): a code has one history
//! whichever way it was reported.
//!
//! - [`view`]: every stored document as its EPCIS events — a native document's mapped
//!   when read ([`epcis::native`]), a captured event as captured.
//! - [`index`]: the query index, a projection of the feed (`epcis_index`).
//! - [`query`]: the standard query parameters, planned on the index, paged, and shown
//!   only to whoever may see each event.
#![deny(missing_docs)]

pub mod index;
pub mod query;
pub mod view;

pub use index::EpcisIndex;
pub use query::{run, Page, Query, QueryError};
