//! EPCIS 2.0 support for Tracemark.
//!
//! For now one piece of it: the CBV 2.0 event hash ([`hash`]), the
//! `ni:///sha-256;…?ver=CBV2.0` identifier of an EPCIS event computed from a canonical
//! "pre-hash" string, as the CBV 2.0 standard (section 8.9, "Event hash ID") and its
//! reference implementation (`RalphTro/epcis-event-hash-generator`) define it.
#![deny(missing_docs)]

pub mod event;
pub mod hash;
pub mod native;
mod normalise;

pub use hash::{event_hash, pre_hash, HashContext, HashError};
