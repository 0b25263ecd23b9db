//! Per-client rate limits on the public endpoints (verification, the resolver, sign-in): a
//! GCRA bucket per client on `governor`, refused with a 429 problem.
//!
//! A client is an IPv4 address or an IPv6 /64 (one subscriber's usual allocation: keying
//! each IPv6 address apart would give a single host 2^64 buckets). An IPv4-mapped IPv6
//! address (`::ffff:a.b.c.d`, what a dual-stack socket reports) is its IPv4 address.
//!
//! Memory is bounded. A bucket that has refilled is indistinguishable from a new one, so
//! every [`SWEEP_INTERVAL`] one `check` forgets all of those (`retain_recent`) and hands
//! the freed capacity back (`shrink_to_fit`). The table therefore holds only the clients
//! seen in the last `burst / rate + SWEEP_INTERVAL` (3 s at the defaults), which the
//! server's own request rate bounds: tens of thousands of entries of about 50 bytes each
//! at full load. [`CLIENTS_MAX`] is the backstop past that: should the table still be
//! over it after a sweep, it starts afresh. That only gives every client one more burst,
//! which a flood of that many distinct /64s has anyway.

use crate::problem::Problem;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::RwLock;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Most clients tracked at once (about 50 bytes each: 25 MB); past it, after a sweep,
/// the table starts afresh. Far over the clients a server sees within a few seconds.
pub const CLIENTS_MAX: usize = 500_000;

/// How often stale buckets are forgotten: often enough that the table holds a few
/// seconds of clients, rarely enough that the O(table) sweep costs nothing measurable.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Every this many checks, the table's size is compared with [`CLIENTS_MAX`] even
/// between sweeps, so a flood cannot grow it past the cap by more than this.
const SIZE_CHECK_EVERY: u64 = 1_024;

/// Whom a bucket belongs to: an IPv4 address or an IPv6 /64 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 address (IPv4-mapped IPv6 addresses included).
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6Net(u64),
}

impl Client {
    /// The client `ip` belongs to.
    pub fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4),
                None => Client::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

type Limiter<C> =
    RateLimiter<Client, DefaultKeyedStateStore<Client>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// GCRA buckets by client: `per_second` requests a second, bursts of twice that.
pub struct RateLimit<C: Clock = DefaultClock> {
    /// The quota in words, for the 429's detail ("at most 100 requests a second").
    quota_words: String,
    quota: Quota,
    clock: C,
    /// Replaced whole only at the [`CLIENTS_MAX`] backstop.
    limiter: RwLock<Limiter<C>>,
    start: C::Instant,
    /// When the next sweep is due, in nanoseconds since `start`.
    sweep_due_ns: AtomicU64,
    checks: AtomicU64,
}

impl RateLimit {
    /// `per_second` requests a second per client, with bursts of twice that.
    pub fn new(per_second: u32) -> RateLimit {
        RateLimit::with_clock(per_second, DefaultClock::default())
    }

    /// `count` requests per `period` per client, in bursts of up to `burst`;
    /// `quota_words` says it in the 429's detail ("at most 10 complaints an hour").
    pub fn per_period(count: u32, period: Duration, burst: u32, quota_words: &str) -> RateLimit {
        let count = count.max(1);
        let replenish = period / count;
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(replenish)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        RateLimit::with_quota(quota, quota_words.to_string(), DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimit<C> {
    /// As [`RateLimit::new`], on another clock (tests use a fake one).
    pub fn with_clock(per_second: u32, clock: C) -> RateLimit<C> {
        let per_second = per_second.max(1);
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
        let quota = Quota::per_second(rate).allow_burst(burst);
        RateLimit::with_quota(
            quota,
            format!("at most {per_second} requests a second"),
            clock,
        )
    }

    /// Any GCRA quota, described in words for the 429.
    pub fn with_quota(quota: Quota, quota_words: String, clock: C) -> RateLimit<C> {
        RateLimit {
            quota_words,
            quota,
            limiter: RwLock::new(Limiter::dashmap_with_clock(quota, clock.clone())),
            start: clock.now(),
            clock,
            sweep_due_ns: AtomicU64::new(duration_ns(SWEEP_INTERVAL)),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a cell of `ip`'s client's bucket, or refuses with a 429 problem saying how
    /// long to wait (at most one replenish interval, 1 s at the slowest rate).
    pub fn check(&self, ip: IpAddr) -> Result<(), Problem> {
        self.housekeep();
        let client = Client::of(ip);
        let refused = self.limiter.read().check_key(&client);
        match refused {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(Problem::new(
                    429,
                    "too-many",
                    "Too many requests",
                    format!(
                        "{} from one address (IPv6: one /64); retry in {} s",
                        self.quota_words,
                        retry_after_s(wait)
                    ),
                ))
            }
        }
    }

    /// Clients tracked now (buckets not yet refilled, plus those since the last sweep).
    pub fn len(&self) -> usize {
        self.limiter.read().len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sweeps when due; enforces [`CLIENTS_MAX`].
    fn housekeep(&self) {
        let now_ns = duration_ns(self.clock.now().duration_since(self.start).into());
        let due = self.sweep_due_ns.load(Ordering::Relaxed);
        let checks = self.checks.fetch_add(1, Ordering::Relaxed);
        let sweep = now_ns >= due
            && self
                .sweep_due_ns
                .compare_exchange(
                    due,
                    now_ns + duration_ns(SWEEP_INTERVAL),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        let size_check = checks % SIZE_CHECK_EVERY == SIZE_CHECK_EVERY - 1;
        if !sweep && !size_check {
            return;
        }
        {
            let limiter = self.limiter.read();
            if sweep || limiter.len() > CLIENTS_MAX {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            if limiter.len() <= CLIENTS_MAX {
                return;
            }
        }
        let mut limiter = self.limiter.write();
        if limiter.len() > CLIENTS_MAX {
            tracing::warn!(
                clients = limiter.len(),
                "rate limiter over {CLIENTS_MAX} clients after a sweep: starting afresh"
            );
            *limiter = Limiter::dashmap_with_clock(self.quota, self.clock.clone());
        }
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Whole seconds to wait, rounded up, at least 1 (`Retry-After` has whole seconds).
fn retry_after_s(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn limit(per_second: u32) -> (RateLimit<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (RateLimit::with_clock(per_second, clock.clone()), clock)
    }

    #[test]
    fn bursts_then_refuses_then_refills() {
        let (l, clock) = limit(10);
        let a = ip("192.0.2.1");
        for i in 0..20 {
            assert!(l.check(a).is_ok(), "burst cell {i}");
        }
        let e = l.check(a).expect_err("over the burst");
        assert_eq!(e.status, 429);
        assert_eq!(e.kind, "/problems/too-many");
        assert!(e.detail.contains("retry in 1 s"), "{}", e.detail);
        // Another address has its own bucket.
        assert!(l.check(ip("192.0.2.2")).is_ok());
        // One cell comes back every 100 ms at 10/s.
        clock.advance(Duration::from_millis(99));
        assert!(l.check(a).is_err(), "not yet");
        clock.advance(Duration::from_millis(1));
        assert!(l.check(a).is_ok(), "one cell refilled");
        assert!(l.check(a).is_err(), "only one");
        // After 2 s the whole burst is back.
        clock.advance(Duration::from_secs(2));
        for i in 0..20 {
            assert!(l.check(a).is_ok(), "refilled burst cell {i}");
        }
        assert!(l.check(a).is_err());
    }

    #[test]
    fn one_ipv6_64_shares_a_bucket() {
        let (l, _) = limit(1);
        assert!(l.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(l.check(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).is_ok());
        assert!(
            l.check(ip("2001:db8:1:2:1234::99")).is_err(),
            "third address of the same /64: the /64's burst of 2 is spent"
        );
        // The neighbouring /64 is another client.
        assert!(l.check(ip("2001:db8:1:3::1")).is_ok());
        assert_eq!(
            Client::of(ip("2001:db8:1:2::1")),
            Client::of(ip("2001:db8:1:2:abcd::"))
        );
        assert_ne!(
            Client::of(ip("2001:db8:1:2::1")),
            Client::of(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn ipv4_mapped_is_ipv4() {
        assert_eq!(
            Client::of(ip("::ffff:192.0.2.7")),
            Client::of(ip("192.0.2.7"))
        );
        let (l, _) = limit(1);
        assert!(l.check(ip("192.0.2.7")).is_ok());
        assert!(l.check(ip("::ffff:192.0.2.7")).is_ok());
        assert!(l.check(ip("::ffff:192.0.2.7")).is_err(), "one bucket of 2");
        assert!(l.check(ip("192.0.2.7")).is_err());
        // Other IPv4 addresses are other clients, whatever their /64 would be.
        assert!(l.check(ip("192.0.2.8")).is_ok());
    }

    #[test]
    fn stale_buckets_are_forgotten() {
        let (l, clock) = limit(10);
        for i in 0..5_000u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.check(a).is_ok());
        }
        assert_eq!(l.len(), 5_000);
        // Past a full refill and the sweep interval, the next check sweeps them all.
        clock.advance(Duration::from_secs(3));
        assert!(l.check(ip("192.0.2.1")).is_ok());
        assert_eq!(l.len(), 1, "only the client just seen");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_s(Duration::ZERO), 1);
        assert_eq!(retry_after_s(Duration::from_millis(100)), 1);
        assert_eq!(retry_after_s(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_s(Duration::from_millis(1_001)), 2);
    }
}
