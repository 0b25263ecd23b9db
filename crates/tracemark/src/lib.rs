//! The `tracemark` command: the registry served from a data directory, a demo economy,
//! and the benchmark suite. The binary (`main.rs`) is a thin command-line layer over this.
#![deny(missing_docs)]

pub mod app;
pub mod audit;
pub mod bench;
pub mod bench_analytics;
mod bench_control;
pub mod bench_postgres;
pub mod bench_scale;
pub mod client;
pub mod demo;
pub mod export;
pub mod labels;
pub mod lease;
pub mod replay;
pub mod scan;
