//! Per-client rate limits on the public endpoints (verification, the resolver, sign-in):
//! a token bucket per IP address, refused with a 429 problem and `Retry-After`.

use crate::problem::Problem;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Most clients tracked at once; past it the table starts afresh (a flood of addresses
/// then gets one fresh bucket each, which still bounds every one of them).
pub const CLIENTS_MAX: usize = 100_000;

/// Token buckets by client address.
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_second` requests a second per address, with bursts of twice that.
    pub fn new(per_second: u32) -> RateLimit {
        let per_second = f64::from(per_second.max(1));
        RateLimit {
            per_second,
            burst: per_second * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip`, or says how long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Problem> {
        let now = Instant::now();
        let mut b = self.buckets.lock();
        if b.len() >= CLIENTS_MAX && !b.contains_key(&ip) {
            b.clear();
        }
        let (tokens, last) = b.entry(ip).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64;
        Err(Problem::new(
            429,
            "too-many",
            "Too many requests",
            format!(
                "at most {} requests a second from one address; retry in {wait} s",
                self.per_second
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_then_refills() {
        let l = RateLimit::new(10);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..20 {
            assert!(l.check(ip).is_ok());
        }
        let e = l.check(ip).expect_err("over the burst");
        assert_eq!(e.status, 429);
        // Another address has its own bucket.
        assert!(l.check("192.0.2.2".parse().expect("ip")).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(l.check(ip).is_ok(), "refilled at 10/s");
    }
}
