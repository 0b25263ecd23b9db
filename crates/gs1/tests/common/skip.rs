//! `conformance::skip_or_fail`'s rule for gs1's tests (gs1 depends on no crate of
//! the project, so the few lines are here again): a test that needs `../shared` fails
//! naming it, unless `TRACEMARK_ALLOW_SKIP` lists `shared` (or says `all`).

/// Fails saying `why`, or (when `TRACEMARK_ALLOW_SKIP` lists `what`) says it skipped.
pub fn skip_or_fail(what: &str, why: &str) {
    let allowed = std::env::var("TRACEMARK_ALLOW_SKIP").unwrap_or_default();
    if allowed
        .split(',')
        .any(|w| w.trim() == what || w.trim() == "all")
    {
        eprintln!("SKIPPED (TRACEMARK_ALLOW_SKIP={allowed}): {why}");
    } else {
        panic!("{why}: this test needs it; set TRACEMARK_ALLOW_SKIP={what} to skip it instead");
    }
}
