//! Counting failed crypto-tail checks, so a tail cannot be guessed through the registry.
//!
//! A `short` tail (AI 93) has 24 bits: answered freely, 2²⁴ guesses are a few minutes of
//! till checks. So every failed tail check (till check, verification, a document naming a
//! code with a wrong tail) is counted per checker (a participant, or a public client's
//! address) and per code within a window; past [`FAILURES_PER_CHECKER_MAX`] the checker's
//! tail checks are refused (429) until the window passes, and past
//! [`FAILURES_PER_CODE_MAX`] the code's tail is no longer checked for anyone but its owner
//! (429 too). At those limits a guesser gets 20 guesses per ten minutes per identity and 50
//! per code per day: the expected time to hit a 24-bit tail is years, not seconds. Every
//! counted failure is also recorded through the writer for the risk engine (`forged_tail`).

use crate::model::{CodeKey, ParticipantId};
use parking_lot::Mutex;
use std::collections::HashMap;

/// Window of the per-checker count, seconds.
pub const CHECKER_WINDOW_SECS: u64 = 600;
/// Failed tail checks one checker may make within [`CHECKER_WINDOW_SECS`].
pub const FAILURES_PER_CHECKER_MAX: u32 = 20;
/// Window of the per-code count, seconds.
pub const CODE_WINDOW_SECS: u64 = 86_400;
/// Failed tail checks of one code (by anyone but its owner) within [`CODE_WINDOW_SECS`].
pub const FAILURES_PER_CODE_MAX: u32 = 50;
/// Most checkers and codes tracked at once: past it expired entries are dropped, then
/// the oldest (memory stays bounded under a flood of identities).
pub const TRACKED_MAX: usize = 200_000;

/// Who checked a tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Checker {
    /// A signed-in participant.
    Participant(ParticipantId),
    /// A public client, by a 64-bit digest of its address (IPv6 by /64).
    Public(u64),
}

#[derive(Default)]
struct Counts {
    checkers: HashMap<Checker, (u64, u32)>,
    codes: HashMap<CodeKey, (u64, u32)>,
}

/// The counts.
#[derive(Default)]
pub struct TailGuard {
    counts: Mutex<Counts>,
}

/// Why a tail check was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttled {
    /// The checker failed too often lately.
    Checker,
    /// The code's tail was guessed at too often lately.
    Code,
}

fn bump<K: std::hash::Hash + Eq + Copy>(
    m: &mut HashMap<K, (u64, u32)>,
    k: K,
    now: u64,
    window: u64,
) -> u32 {
    if m.len() >= TRACKED_MAX && !m.contains_key(&k) {
        m.retain(|_, (start, _)| *start + window > now);
        if m.len() >= TRACKED_MAX {
            if let Some(oldest) = m.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k) {
                m.remove(&oldest);
            }
        }
    }
    let e = m.entry(k).or_insert((now, 0));
    if e.0 + window <= now {
        *e = (now, 0);
    }
    e.1 += 1;
    e.1
}

fn over<K: std::hash::Hash + Eq>(
    m: &HashMap<K, (u64, u32)>,
    k: &K,
    now: u64,
    window: u64,
    max: u32,
) -> bool {
    m.get(k)
        .is_some_and(|(start, n)| *start + window > now && *n >= max)
}

impl TailGuard {
    /// Whether `checker` may have `code`'s tail checked now (`owner`: it owns the code).
    pub fn may_check(
        &self,
        checker: Checker,
        code: &CodeKey,
        owner: bool,
        now: u64,
    ) -> Result<(), Throttled> {
        let c = self.counts.lock();
        if over(
            &c.checkers,
            &checker,
            now,
            CHECKER_WINDOW_SECS,
            FAILURES_PER_CHECKER_MAX,
        ) {
            return Err(Throttled::Checker);
        }
        if !owner && over(&c.codes, code, now, CODE_WINDOW_SECS, FAILURES_PER_CODE_MAX) {
            return Err(Throttled::Code);
        }
        Ok(())
    }

    /// Counts a failed check.
    pub fn failed(&self, checker: Checker, code: &CodeKey, owner: bool, now: u64) {
        let mut c = self.counts.lock();
        bump(&mut c.checkers, checker, now, CHECKER_WINDOW_SECS);
        if !owner {
            bump(&mut c.codes, *code, now, CODE_WINDOW_SECS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_checkers_and_codes_then_forgets() {
        let g = TailGuard::default();
        let code = CodeKey::unit(4_600_000_000_001, b"A");
        let me = Checker::Participant(1);
        for _ in 0..FAILURES_PER_CHECKER_MAX {
            assert!(g.may_check(me, &code, false, 0).is_ok());
            g.failed(me, &code, false, 0);
        }
        assert_eq!(g.may_check(me, &code, false, 1), Err(Throttled::Checker));
        assert!(g.may_check(me, &code, false, CHECKER_WINDOW_SECS).is_ok());
        // Many identities on one code: the code closes for all but its owner.
        for i in 0..FAILURES_PER_CODE_MAX {
            g.failed(Checker::Public(u64::from(i)), &code, false, 10);
        }
        assert_eq!(
            g.may_check(Checker::Public(999), &code, false, 11),
            Err(Throttled::Code)
        );
        assert!(g
            .may_check(Checker::Participant(7), &code, true, 11)
            .is_ok());
    }
}
