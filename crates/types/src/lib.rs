//! Tracemark's types: the registry's records (participants, products, codes and their
//! states, events, documents, orders, blocks, complaints), the facts of the feed that
//! projections follow, the limits in one place ([`limits`]), the memory budget, and the
//! registry's refusals in the domain's words. Nothing here knows HTTP, a storage engine or
//! a thread: the rules and the writer (`registry`), the storage trait (`store`), the
//! engines and the server all speak these types.
#![deny(missing_docs)]

pub mod apidoc;
pub mod codes;
pub mod complaints;
pub mod error;
pub mod feed;
pub mod limits;
pub mod log;
pub mod memory;
pub mod model;
pub mod placement;
pub mod redact;
pub mod regions;
pub mod time;

pub use error::{CodeError, Error, Result, StoreError, StoreErrorKind, StoreResult};
