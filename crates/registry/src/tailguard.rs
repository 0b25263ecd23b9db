//! Counting failed crypto-tail checks, so a tail cannot be guessed through the registry.
//!
//! A `short` tail (AI 93) has 24 bits: answered freely, 2²⁴ guesses are a few minutes of
//! till checks. So every failed tail check (till check, verification, a code query) is
//! counted per checker (a participant, or a public client's address) within a window, and
//! per checker *and code* within a day; past [`FAILURES_PER_CHECKER_MAX`] (fiscal
//! operators, who check for every shop they serve: [`FAILURES_PER_OPERATOR_MAX`]) the
//! checker's tail checks are refused (429) until the window passes, and past
//! [`FAILURES_PER_CHECKER_CODE_MAX`] that checker gets no more answers about that code's
//! tail that day (429). Locks are per checker, so nobody can lock a genuine code for its
//! shoppers or its shops by guessing at it. A guesser gets 5 guesses per code per identity
//! per day: a 24-bit tail takes millions of identity-days. Every counted failure is also
//! recorded through the writer for the risk engine (`forged_tail`).

use parking_lot::RwLock;
use std::collections::HashMap;
pub use types::limits::{
    CHECKER_WINDOW_SECS, CODE_WINDOW_SECS, FAILURES_PER_CHECKER_CODE_MAX, FAILURES_PER_CHECKER_MAX,
    FAILURES_PER_OPERATOR_MAX, TRACKED_MAX,
};
use types::model::{CodeKey, ParticipantId};

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
    codes: HashMap<(Checker, CodeKey), (u64, u32)>,
}

/// The counts.
#[derive(Default)]
pub struct TailGuard {
    /// Read on every tail check (shared), written only on a failure.
    counts: RwLock<Counts>,
}

/// Why a tail check was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttled {
    /// The checker failed too often lately.
    Checker,
    /// The checker failed on this code too often today.
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
    /// Whether `checker` may have `code`'s tail checked now (`owner`: it holds the code;
    /// `operator`: a fiscal operator, with the larger budget).
    pub fn may_check(
        &self,
        checker: Checker,
        code: &CodeKey,
        owner: bool,
        operator: bool,
        now: u64,
    ) -> Result<(), Throttled> {
        let c = self.counts.read();
        if c.checkers.is_empty() {
            return Ok(());
        }
        let max = if operator {
            FAILURES_PER_OPERATOR_MAX
        } else {
            FAILURES_PER_CHECKER_MAX
        };
        if over(&c.checkers, &checker, now, CHECKER_WINDOW_SECS, max) {
            return Err(Throttled::Checker);
        }
        if !owner
            && over(
                &c.codes,
                &(checker, *code),
                now,
                CODE_WINDOW_SECS,
                FAILURES_PER_CHECKER_CODE_MAX,
            )
        {
            return Err(Throttled::Code);
        }
        Ok(())
    }

    /// Counts a failed check.
    pub fn failed(&self, checker: Checker, code: &CodeKey, owner: bool, now: u64) {
        let mut c = self.counts.write();
        bump(&mut c.checkers, checker, now, CHECKER_WINDOW_SECS);
        if !owner {
            bump(&mut c.codes, (checker, *code), now, CODE_WINDOW_SECS);
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
        // One code: five wrong tails, then that checker is done with it for the day.
        for _ in 0..FAILURES_PER_CHECKER_CODE_MAX {
            assert!(g.may_check(me, &code, false, false, 0).is_ok());
            g.failed(me, &code, false, 0);
        }
        assert_eq!(
            g.may_check(me, &code, false, false, 1),
            Err(Throttled::Code)
        );
        // …but not anyone else: nobody locks a code for its shoppers and shops.
        assert!(g
            .may_check(Checker::Public(9), &code, false, false, 1)
            .is_ok());
        assert!(g
            .may_check(Checker::Participant(7), &code, true, false, 1)
            .is_ok());
        // Many codes: twenty failures in ten minutes, then the checker waits.
        for i in 0..FAILURES_PER_CHECKER_MAX - FAILURES_PER_CHECKER_CODE_MAX {
            let other = CodeKey::unit(4_600_000_000_001, format!("B{i}").as_bytes());
            g.failed(me, &other, false, 2);
        }
        let fresh = CodeKey::unit(4_600_000_000_001, b"FRESH");
        assert_eq!(
            g.may_check(me, &fresh, false, false, 3),
            Err(Throttled::Checker)
        );
        assert!(
            g.may_check(me, &fresh, false, true, 3).is_ok(),
            "an operator's budget"
        );
        assert!(g
            .may_check(me, &fresh, false, false, CHECKER_WINDOW_SECS + 2)
            .is_ok());
    }
}
