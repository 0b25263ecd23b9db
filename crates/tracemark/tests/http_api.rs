//! The HTTP suite (`suites/http_api.rs`) on the embedded store, in a fresh data directory.

#[path = "suites/http_api.rs"]
mod suite;

/// The registry's home: the data directory itself.
fn home(dir: &std::path::Path) -> node::Home {
    node::Home::Dir(dir.to_path_buf())
}
