//! The writer's side of the feed ([`types::feed`]): facts from reads wait in a bounded
//! buffer ([`FactBuffer`]) for the next group commit, and a signal ([`FeedSignal`]) wakes
//! projections after every commit that appended to the feed.

pub use types::feed::*;

use parking_lot::Mutex;
use types::model::ParticipantId;

/// The source a fact from a read is counted against in the buffer: who asked.
fn source(fact: &Fact) -> Option<Who> {
    match fact {
        Fact::TillCheck(t) => Some(Who::Participant(t.actor)),
        Fact::Verified(v) => Some(v.who),
        Fact::TailFailed(t) => Some(t.who),
        _ => None,
    }
}

/// Codes a fact holds (what the buffer's code caps count).
fn codes_of(fact: &Fact) -> usize {
    match fact {
        Fact::TillCheck(t) => t.codes.len(),
        _ => 1,
    }
}

/// The facts waiting, and what each source has of them.
#[derive(Default)]
struct Pending {
    facts: Vec<Fact>,
    /// Codes in `facts`.
    codes: usize,
    /// Facts and codes waiting per source (sources with none are removed).
    per: rustc_hash::FxHashMap<Who, (usize, usize)>,
}

/// One participant's till checks recorded today: (UTC day, checks, codes).
type TillDay = (u64, u32, u32);

/// The read side's facts waiting for the next group commit, bounded in all and per source.
#[derive(Default)]
pub struct FactBuffer {
    pending: Mutex<Pending>,
    /// Facts dropped because the buffer (or their source's share of it) was full.
    pub dropped: std::sync::atomic::AtomicU64,
    /// Verifications this second: (second, count, count per scanner).
    verified: Mutex<(u64, u32, rustc_hash::FxHashMap<Who, u32>)>,
    /// Till checks recorded today, per participant.
    till: Mutex<rustc_hash::FxHashMap<ParticipantId, TillDay>>,
    /// Verifications answered but not recorded (over [`VERIFIED_FACTS_PER_SEC_MAX`]).
    pub verified_unrecorded: std::sync::atomic::AtomicU64,
    /// Till checks answered but not recorded (over a participant's daily budget,
    /// [`TILL_FACTS_PER_PARTICIPANT_PER_DAY`], [`TILL_CODES_PER_PARTICIPANT_PER_DAY`]).
    pub till_unrecorded: std::sync::atomic::AtomicU64,
}

impl FactBuffer {
    /// Adds a fact; drops (and counts) it when [`FACTS_PENDING_MAX`] facts (or
    /// [`FACTS_PENDING_CODES_MAX`] codes) are waiting, or its source already has
    /// [`FACTS_PENDING_PER_SOURCE_MAX`] facts (or [`FACTS_PENDING_CODES_PER_SOURCE_MAX`]
    /// codes) waiting: a flooder drops its own facts, not others'.
    pub fn push(&self, fact: Fact) {
        use std::sync::atomic::Ordering::Relaxed;
        let codes = codes_of(&fact);
        let who = source(&fact);
        let mut p = self.pending.lock();
        let mine = who.and_then(|w| p.per.get(&w).copied()).unwrap_or((0, 0));
        if p.facts.len() >= FACTS_PENDING_MAX
            || p.codes + codes > FACTS_PENDING_CODES_MAX
            || mine.0 >= FACTS_PENDING_PER_SOURCE_MAX
            || mine.1 + codes > FACTS_PENDING_CODES_PER_SOURCE_MAX
        {
            drop(p);
            self.dropped.fetch_add(1, Relaxed);
            return;
        }
        if let Some(w) = who {
            p.per.insert(w, (mine.0 + 1, mine.1 + codes));
        }
        p.facts.push(fact);
        p.codes += codes;
    }

    /// Whether one more verification by `who` may be recorded at `now` (Unix seconds);
    /// counts it. Each scanner gets [`VERIFIED_FACTS_PER_SCANNER_PER_SEC_MAX`] of the
    /// second's [`VERIFIED_FACTS_PER_SEC_MAX`], so a few addresses cannot crowd everyone
    /// else's scans out of the feed.
    pub fn verification_allowed(&self, now: u64, who: Who) -> bool {
        let mut w = self.verified.lock();
        if w.0 != now {
            w.0 = now;
            w.1 = 0;
            w.2.clear();
        }
        let mine = w.2.get(&who).copied().unwrap_or(0);
        if w.1 >= VERIFIED_FACTS_PER_SEC_MAX || mine >= VERIFIED_FACTS_PER_SCANNER_PER_SEC_MAX {
            drop(w);
            self.verified_unrecorded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        w.1 += 1;
        w.2.insert(who, mine + 1);
        true
    }

    /// Whether a till check of `codes` codes by `actor` may be recorded at `now` (Unix
    /// seconds); counts it against the participant's day
    /// ([`TILL_FACTS_PER_PARTICIPANT_PER_DAY`], [`TILL_CODES_PER_PARTICIPANT_PER_DAY`]).
    pub fn till_check_allowed(&self, now: u64, actor: ParticipantId, codes: usize) -> bool {
        let day = now / 86_400;
        let codes = u32::try_from(codes).unwrap_or(u32::MAX);
        let mut t = self.till.lock();
        let e = t.entry(actor).or_insert((day, 0, 0));
        if e.0 != day {
            *e = (day, 0, 0);
        }
        if e.1 >= TILL_FACTS_PER_PARTICIPANT_PER_DAY
            || e.2.saturating_add(codes) > TILL_CODES_PER_PARTICIPANT_PER_DAY
        {
            drop(t);
            self.till_unrecorded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        e.1 += 1;
        e.2 += codes;
        true
    }

    /// Takes up to [`FACTS_PER_COMMIT_MAX`] waiting facts, oldest first.
    pub fn take(&self) -> Vec<Fact> {
        let mut p = self.pending.lock();
        let taken = if p.facts.len() <= FACTS_PER_COMMIT_MAX {
            std::mem::take(&mut p.facts)
        } else {
            let rest = p.facts.split_off(FACTS_PER_COMMIT_MAX);
            std::mem::replace(&mut p.facts, rest)
        };
        for f in &taken {
            let codes = codes_of(f);
            p.codes = p.codes.saturating_sub(codes);
            if let Some(w) = source(f) {
                if let Some(e) = p.per.get_mut(&w) {
                    e.0 = e.0.saturating_sub(1);
                    e.1 = e.1.saturating_sub(codes);
                    if e.0 == 0 {
                        p.per.remove(&w);
                    }
                }
            }
        }
        taken
    }

    /// Facts waiting.
    pub fn len(&self) -> usize {
        self.pending.lock().facts.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The feed's head (the last sequence number committed), and a way for projections to wait
/// for it to move without polling.
pub struct FeedSignal {
    head: Mutex<u64>,
    moved: parking_lot::Condvar,
}

impl FeedSignal {
    /// A signal at `head`.
    pub fn new(head: u64) -> FeedSignal {
        FeedSignal {
            head: Mutex::new(head),
            moved: parking_lot::Condvar::new(),
        }
    }

    /// The last committed feed sequence number.
    pub fn head(&self) -> u64 {
        *self.head.lock()
    }

    /// Called by the writer after a commit: the feed now ends at `head`.
    pub fn advance(&self, head: u64) {
        let mut h = self.head.lock();
        if head > *h {
            *h = head;
            self.moved.notify_all();
        }
    }

    /// Wakes every waiter without moving the head (a projection told to stop).
    pub fn wake(&self) {
        let _h = self.head.lock();
        self.moved.notify_all();
    }

    /// Waits until the head passes `seen` or `timeout` elapses (or [`FeedSignal::wake`]);
    /// returns the head.
    pub fn wait_past(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let mut h = self.head.lock();
        if *h <= seen {
            let _ = self.moved.wait_for(&mut h, timeout);
        }
        *h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::model::CodeKey;
    use uuid::Uuid;

    fn key(s: &str) -> FactKey {
        FactKey(CodeKey::unit(4_601_234_567_893, s.as_bytes()))
    }

    fn till(actor: ParticipantId, codes: usize) -> Fact {
        Fact::TillCheck(TillCheckFact {
            actor,
            request_id: Uuid::nil(),
            at: 0,
            codes: (0..codes)
                .map(|i| CheckedCode {
                    key: key(&format!("c{i}")),
                    sellable: true,
                })
                .collect(),
        })
    }

    #[test]
    fn a_flooding_source_drops_only_its_own_facts() {
        let buf = FactBuffer::default();
        for _ in 0..FACTS_PENDING_PER_SOURCE_MAX + 50 {
            buf.push(till(1, 1));
        }
        assert_eq!(buf.len(), FACTS_PENDING_PER_SOURCE_MAX);
        assert_eq!(buf.dropped.load(std::sync::atomic::Ordering::Relaxed), 50);
        buf.push(till(2, 1));
        assert_eq!(
            buf.len(),
            FACTS_PENDING_PER_SOURCE_MAX + 1,
            "another's fact is kept"
        );
        // Codes too: a hundred full checks fill one source's share of codes.
        let buf = FactBuffer::default();
        for _ in 0..(FACTS_PENDING_CODES_PER_SOURCE_MAX / 1_000) + 3 {
            buf.push(till(1, 1_000));
        }
        assert_eq!(buf.len(), FACTS_PENDING_CODES_PER_SOURCE_MAX / 1_000);
        buf.push(till(2, 1_000));
        assert_eq!(buf.len(), FACTS_PENDING_CODES_PER_SOURCE_MAX / 1_000 + 1);
        // Taking frees the share.
        let _ = buf.take();
        buf.push(till(1, 1_000));
        assert_eq!(buf.len(), 1);
    }

    #[test]
    fn a_participants_till_checks_recorded_a_day_are_capped() {
        let buf = FactBuffer::default();
        let day = 20_000 * 86_400;
        let per = (TILL_CODES_PER_PARTICIPANT_PER_DAY / 1_000) as usize;
        let kept = (0..per + 5)
            .filter(|_| buf.till_check_allowed(day, 1, 1_000))
            .count();
        assert_eq!(kept, per, "codes a day");
        assert!(
            buf.till_check_allowed(day, 2, 1_000),
            "another's day is its own"
        );
        assert!(buf.till_check_allowed(day + 86_400, 1, 1_000), "a new day");
        let few = (0..TILL_FACTS_PER_PARTICIPANT_PER_DAY + 3)
            .filter(|_| buf.till_check_allowed(day, 3, 0))
            .count();
        assert_eq!(
            few as u32, TILL_FACTS_PER_PARTICIPANT_PER_DAY,
            "checks a day"
        );
    }

    #[test]
    fn verifications_recorded_a_second_are_capped() {
        let buf = FactBuffer::default();
        let allowed = (0..VERIFIED_FACTS_PER_SEC_MAX + 10)
            .filter(|i| buf.verification_allowed(100, Who::Client(u64::from(*i))))
            .count();
        assert_eq!(allowed, VERIFIED_FACTS_PER_SEC_MAX as usize);
        assert_eq!(
            buf.verified_unrecorded
                .load(std::sync::atomic::Ordering::Relaxed),
            10
        );
        let me = Who::Client(u64::MAX);
        assert!(
            buf.verification_allowed(101, me),
            "a new second, a new allowance"
        );
        let mine = (0..20)
            .filter(|_| buf.verification_allowed(101, me))
            .count();
        assert_eq!(
            mine as u32,
            VERIFIED_FACTS_PER_SCANNER_PER_SEC_MAX - 1,
            "one scanner's share"
        );
        assert!(
            buf.verification_allowed(101, Who::Client(1)),
            "another's is untouched"
        );
    }

    #[test]
    fn the_buffer_is_bounded_and_drains_in_order() {
        let buf = FactBuffer::default();
        for i in 0..(FACTS_PENDING_MAX + 5) {
            buf.push(Fact::Block(BlockFact {
                id: i as u64,
                lifted: false,
                at: 0,
                actor: 0,
            }));
        }
        assert_eq!(buf.len(), FACTS_PENDING_MAX);
        assert_eq!(buf.dropped.load(std::sync::atomic::Ordering::Relaxed), 5);
        let first = buf.take();
        assert_eq!(first.len(), FACTS_PER_COMMIT_MAX);
        assert!(matches!(&first[0], Fact::Block(b) if b.id == 0));
        let second = buf.take();
        assert!(
            matches!(&second[0], Fact::Block(b) if b.id == FACTS_PER_COMMIT_MAX as u64),
            "the rest waits in order"
        );
    }
}
