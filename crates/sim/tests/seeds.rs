//! The simulator in CI: seeds from 1 on, 200 steps each, for about a minute
//! (`SIM_BUDGET_SECS`, at least three seeds); a failing seed fails the test, naming itself
//! and how to replay it. `SIM_SEED` runs one seed (with `SIM_STEPS`).

use std::time::{Duration, Instant};

/// Steps per seed.
const STEPS: u64 = 200;

#[test]
fn seeds_run_clean_for_a_minute() {
    let steps = std::env::var("SIM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(STEPS);
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        match sim::run(seed, steps) {
            Ok(s) => println!("seed {seed}: {s:?}"),
            Err(f) => panic!("{f}"),
        }
        return;
    }
    let budget = Duration::from_secs(
        std::env::var("SIM_BUDGET_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let started = Instant::now();
    let mut seed = 0;
    let mut total = sim::Summary::default();
    while seed < 3 || started.elapsed() < budget {
        seed += 1;
        match sim::run(seed, steps) {
            Ok(s) => total.add(&s),
            Err(f) => panic!("{f}"),
        }
    }
    println!(
        "simulator: {seed} seeds × {steps} steps in {:.0} s: {total}",
        started.elapsed().as_secs_f64()
    );
}

/// The same seed runs the same way.
#[test]
fn a_seed_replays_exactly() {
    assert_eq!(sim::run(7, 120), sim::run(7, 120));
}

/// The checks see what they are for: under a store whose commits tear (half a batch's
/// code states lost while it says all landed), a seed fails within its steps, naming a
/// code whose state is not the model's.
#[test]
fn a_store_that_tears_its_commits_is_caught() {
    let f = sim::run_with(3, 200, sim::Options { torn_commits: true })
        .expect_err("torn commits went unseen");
    println!("{f}");
    assert!(f.broken.contains("the model says"), "{f}");
}

/// The full checks compare the projections' rows with a rebuild from the feed: there are
/// rows to compare.
#[test]
fn the_projections_are_compared_with_a_rebuild() {
    let s = sim::run(1, 100).unwrap_or_else(|f| panic!("{f}"));
    assert!(s.projection_rows > 0, "{s:?}");
    println!(
        "seed 1, 100 steps: {} projection rows compared",
        s.projection_rows
    );
}
