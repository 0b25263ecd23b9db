//! EPCIS 2.0 support for Tracemark.
//!
//! - [`hash`]: the CBV 2.0 event hash, the `ni:///sha-256;…?ver=CBV2.0` identifier of an
//!   EPCIS event computed from a canonical "pre-hash" string, as the CBV 2.0 standard
//!   (section 8.9, "Event hash ID") and its reference implementation
//!   (`RalphTro/epcis-event-hash-generator`) define it.
//! - [`schema`]: validation of EPCIS 2.0 JSON / JSON-LD documents against GS1's JSON Schema
//!   ([`validate_document`]).
//! - [`capture`]: a capture request's body read (bounds, duplicate keys, schema, events,
//!   hashes).
//! - [`event`]: the canonical event, read from EPCIS 2.0 JSON, its JSON kept whole.
//! - [`native`]: a native document's EPCIS events (docs/epcis.md has the mapping).
//! - [`xml`]: EPCIS XML documents (2.0, 1.x) read as the EPCIS 2.0 JSON-LD documents they are
//!   ([`document_from_xml`]).
//! - [`vocab`]: the CBV and GS1 vocabularies (business steps, dispositions, …), generated
//!   from GS1's artefacts.
#![deny(missing_docs)]

pub mod capture;
pub mod event;
pub mod hash;
pub mod native;
mod normalise;
pub mod schema;
pub mod vocab;
pub mod xml;

pub use hash::{event_hash, pre_hash, HashContext, HashError};
pub use schema::{validate_document, SchemaViolation};
pub use xml::{document_from_xml, XmlError};
