//! The README's curl walk-through (`suites/walkthrough.rs`) on the server it starts itself
//! (the embedded store).

#[path = "suites/walkthrough.rs"]
mod suite;

#[test]
fn readme_walkthrough_runs() {
    if suite::tools_present() {
        suite::run(None);
    }
}
