//! The `tracemark` command's own parts: label sheets and photo scans from the command line.
//! The binary (`main.rs`) is a thin command-line layer over the crates that do the work:
//! `node` (the process), `demo`, `bench`, `audit`, `export`, `client`, `sim`.
#![deny(missing_docs)]

pub mod labels;
pub mod scan;
