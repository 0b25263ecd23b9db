//! The conformance suite every storage engine runs (placeholder, filled below).

use crate::store::Store;
use std::sync::Arc;

/// Makes a fresh, empty store; the second value keeps its resources (a temp dir) alive.
pub type MakeStore<'a> = &'a dyn Fn() -> (Arc<dyn Store>, Box<dyn std::any::Any>);

/// Runs every conformance test against stores made by `make`.
pub fn run_all(make: MakeStore<'_>) {
    let _ = make;
}
