//! The till check's limits (`POST /api/v1/pos/check`): per participant, not per address.
//!
//! A till check needs only a bearer token, and a retailer's token alone once made 300–400
//! checks of 1,000 codes a second: it grew the feed by 68 MB in 20 s, slowed everyone's
//! verification and pushed an honest shop's check out of the risk engine. A shop has a
//! known number of tills, so a participant gets a bucket of checks and a bucket of codes
//! (GCRA on `governor`, keyed by the participant: participants are registered, so the
//! table is bounded by their number), and a 429 with `Retry-After` beyond them. The check
//! itself runs on the store's reader threads (`crate::reads`), as every read does; a check
//! of more than [`TILL_SMALL_CODES_MAX`] codes also holds one of a few slots (at most
//! [`TILL_CHECKS_IN_FLIGHT_MAX`], and half the readers), waiting for one at most
//! [`TILL_QUEUE_WAIT`] (503 with `Retry-After` after that), so a burst of large checks
//! queues instead of taking every reader that `verify` needs.

use crate::problem::Problem;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;
use types::model::ParticipantId;

/// Till checks a second one participant may make, sustained: forty tills each asking every
/// two seconds at the busiest (a cashier scans an item every 2–3 s).
pub const TILL_CHECKS_PER_SEC: u32 = 20;
/// Till checks one participant may make at once, beyond the sustained rate: every till
/// of a busy shop asking in the same second.
pub const TILL_CHECKS_BURST: u32 = 40;
/// Codes a second one participant may ask about, sustained: a receipt holds a few marked
/// items, so 20 checks a second average well under 10 codes each.
pub const TILL_CODES_PER_SEC: u32 = 200;
/// Codes one participant may ask about at once: two full checks of 1,000 codes (a goods
/// receipt checked at the back door), so one full check always fits.
pub const TILL_CODES_BURST: u32 = 2_000;
/// Large till checks (over [`TILL_SMALL_CODES_MAX`] codes) answered at once, everyone
/// together: each reads up to 1,000 codes from the store; more at once only queue for the
/// same two or four cores. Also at most half the store's reader threads
/// (`crate::reads::ReadLimits::threads`).
pub const TILL_CHECKS_IN_FLIGHT_MAX: usize = 8;
/// A check of at most this many codes (a receipt's few items) takes no slot: a few point
/// reads, like a verification, and the per-participant limit above bounds how many a shop
/// sends. Larger checks (up to 1,000 codes, a millisecond or more of reads) wait for a slot.
pub const TILL_SMALL_CODES_MAX: usize = 8;
/// How long a till check waits for a slot before it is answered 503 (a till retries): the
/// checks ahead of it take milliseconds each, so a wait this long means an overload.
pub const TILL_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// A participant's quota of till checks (see the constants for the defaults' reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TillQuota {
    /// Checks a second, sustained.
    pub checks_per_sec: u32,
    /// Checks at once.
    pub checks_burst: u32,
    /// Codes a second, sustained.
    pub codes_per_sec: u32,
    /// Codes at once (at least a full check of 1,000 codes).
    pub codes_burst: u32,
}

impl TillQuota {
    /// The quota `tracemark serve` applies.
    pub const DEFAULT: TillQuota = TillQuota {
        checks_per_sec: TILL_CHECKS_PER_SEC,
        checks_burst: TILL_CHECKS_BURST,
        codes_per_sec: TILL_CODES_PER_SEC,
        codes_burst: TILL_CODES_BURST,
    };
}

type Limiter = RateLimiter<
    ParticipantId,
    DefaultKeyedStateStore<ParticipantId>,
    DefaultClock,
    governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>,
>;

/// The till check's per-participant buckets and the large checks' slots.
pub struct TillLimits {
    quota: Option<(TillQuota, Limiter, Limiter)>,
    clock: DefaultClock,
    slots: tokio::sync::Semaphore,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(per_sec)).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

impl TillLimits {
    /// Limits with `quota` per participant; `None`: no per-participant limit (the bench
    /// measures the check itself), slots still bounded ([`TILL_CHECKS_IN_FLIGHT_MAX`]).
    pub fn new(quota_of: Option<TillQuota>) -> TillLimits {
        TillLimits::with_slots(quota_of, TILL_CHECKS_IN_FLIGHT_MAX)
    }

    /// [`TillLimits::new`] with `slots` large checks at once (at least one).
    pub fn with_slots(quota_of: Option<TillQuota>, slots: usize) -> TillLimits {
        let clock = DefaultClock::default();
        TillLimits {
            quota: quota_of.map(|q| {
                (
                    q,
                    Limiter::dashmap_with_clock(
                        quota(q.checks_per_sec, q.checks_burst),
                        clock.clone(),
                    ),
                    Limiter::dashmap_with_clock(
                        quota(q.codes_per_sec, q.codes_burst),
                        clock.clone(),
                    ),
                )
            }),
            clock,
            slots: tokio::sync::Semaphore::new(slots.max(1)),
        }
    }

    /// Takes one check from `who`'s bucket of checks, or the 429 problem with the seconds
    /// to wait (its `retry_after`).
    pub fn take_check(&self, who: ParticipantId) -> Result<(), Problem> {
        let Some((q, checks, _)) = &self.quota else {
            return Ok(());
        };
        checks.check_key(&who).map_err(|n| {
            refused(
                n.wait_time_from(self.clock.now()),
                format!(
                    "at most {} till checks a second per participant (bursts of {})",
                    q.checks_per_sec, q.checks_burst
                ),
            )
        })
    }

    /// Takes `codes` codes from `who`'s bucket of codes, or the 429 problem with the
    /// seconds to wait (its `retry_after`).
    pub fn take_codes(&self, who: ParticipantId, codes: usize) -> Result<(), Problem> {
        let Some((q, _, bucket)) = &self.quota else {
            return Ok(());
        };
        let words = || {
            format!(
                "at most {} codes a second in till checks per participant (bursts of {})",
                q.codes_per_sec, q.codes_burst
            )
        };
        let n =
            NonZeroU32::new(u32::try_from(codes).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        match bucket.check_key_n(&who, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(refused(not_until.wait_time_from(self.clock.now()), words())),
            // More codes than a burst holds never fit (the route takes at most 1,000 and
            // the default burst holds two such checks).
            Err(_) => Err(refused(Duration::from_secs(1), words())),
        }
    }

    /// Waits for a large check's slot (at most [`TILL_QUEUE_WAIT`]).
    pub async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Problem> {
        match tokio::time::timeout(TILL_QUEUE_WAIT, self.slots.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Problem::new(
                503,
                "unavailable",
                "Service unavailable",
                format!(
                    "the till check is overloaded: no slot within {} s; retry",
                    TILL_QUEUE_WAIT.as_secs()
                ),
            )),
        }
    }
}

/// A 429 problem saying `what` and when to retry, its `Retry-After` those seconds.
fn refused(wait: Duration, what: String) -> Problem {
    let s = retry_after_s(wait);
    let mut p = Problem::new(
        429,
        "too-many",
        "Too many requests",
        format!("{what}; retry in {s} s"),
    );
    p.retry_after = Some(u32::try_from(s).unwrap_or(u32::MAX));
    p
}

/// Whole seconds to wait, rounded up, at least 1 (`Retry-After` has whole seconds).
fn retry_after_s(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_has_its_own_buckets() {
        let l = TillLimits::new(Some(TillQuota::DEFAULT));
        let ok = (0..TILL_CHECKS_BURST + 10)
            .filter(|_| l.take_check(1).is_ok())
            .count();
        assert!(
            (TILL_CHECKS_BURST as usize..TILL_CHECKS_BURST as usize + 3).contains(&ok),
            "{ok}"
        );
        let p = l.take_check(1).expect_err("over the burst");
        assert_eq!((p.status, p.retry_after), (429, Some(1)));
        assert!(p.detail.contains("till checks a second"), "{}", p.detail);
        assert!(l.take_check(2).is_ok(), "another participant is untouched");
        // Codes: two full checks, then the third waits.
        assert!(l.take_codes(3, 1_000).is_ok() && l.take_codes(3, 1_000).is_ok());
        let p = l.take_codes(3, 1_000).expect_err("over the codes' burst");
        assert!(p.detail.contains("codes a second"), "{}", p.detail);
        assert!(p.retry_after >= Some(1));
        let unlimited = TillLimits::new(None);
        assert!(unlimited.take_check(3).is_ok() && unlimited.take_codes(3, 1_000).is_ok());
    }
}
