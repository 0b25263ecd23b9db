//! Fair emission: orders' codes are produced by a bounded pool, one chunk at a time, taking
//! participants in turn, and their writes go to the writer's bulk lane, behind documents.
//!
//! Before this, every order had a thread of its own pushing 50,000-code chunks at the
//! writer as fast as it could: eight orders of 2,000,000 codes held 2 GB and made another
//! participant's documents wait seconds. Now at most [`EMISSION_WORKERS`] chunks are in the
//! making at once (memory is bounded by that, not by the number of orders), a producer
//! with eight orders gets one turn in the rotation like a producer with one, and the writer
//! takes at most one chunk per group commit, after every document waiting.

use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
pub use types::limits::PENDING_CODES_PER_PARTICIPANT_MAX;
use types::model::{Order, ParticipantId};

/// Threads producing codes. One, pipelined: it computes the next chunk while the writer
/// commits the previous one, and the writer takes every other job before each chunk (two
/// workers kept the writer busy with chunks back to back: another participant's document
/// p50 went from 10 to 180 ms in the debug build's test).
pub const EMISSION_WORKERS: usize = 1;
/// Pause before a chunk whose commit failed is tried again.
pub const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
struct Queue {
    /// Orders waiting, by participant, in order of arrival.
    by_participant: HashMap<ParticipantId, VecDeque<Order>>,
    /// Participants with orders waiting, in turn.
    turns: VecDeque<ParticipantId>,
    stopped: bool,
}

/// The pool's shared state.
#[derive(Default)]
pub struct Emitter {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Emitter {
    /// Queues an order (or the rest of one) for its participant's next turn.
    pub fn enqueue(&self, order: Order) {
        let mut q = self.queue.lock();
        let p = order.participant;
        let list = q.by_participant.entry(p).or_default();
        let was_empty = list.is_empty();
        list.push_back(order);
        if was_empty {
            q.turns.push_back(p);
        }
        drop(q);
        self.ready.notify_one();
    }

    /// Re-queues a partly produced order at the back of its participant's list, which goes
    /// to the back of the rotation.
    fn requeue(&self, order: Order) {
        self.enqueue(order);
    }

    /// The next order without waiting (`None`: none queued, or stopped).
    fn try_next(&self) -> Option<Order> {
        let mut q = self.queue.lock();
        if q.stopped {
            return None;
        }
        Self::pop(&mut q)
    }

    fn pop(q: &mut Queue) -> Option<Order> {
        while let Some(p) = q.turns.pop_front() {
            let (order, more) = match q.by_participant.get_mut(&p) {
                Some(list) => (list.pop_front(), !list.is_empty()),
                None => (None, false),
            };
            if more {
                q.turns.push_back(p);
            } else {
                q.by_participant.remove(&p);
            }
            if order.is_some() {
                return order;
            }
        }
        None
    }

    /// The next order to make a chunk of: the first participant in turn, its oldest order;
    /// waits for one (`None`: stopped).
    fn next(&self) -> Option<Order> {
        let mut q = self.queue.lock();
        loop {
            if q.stopped {
                return None;
            }
            if let Some(o) = Self::pop(&mut q) {
                return Some(o);
            }
            self.ready.wait(&mut q);
        }
    }

    /// Stops the workers (the registry is gone).
    pub fn stop(&self) {
        self.queue.lock().stopped = true;
        self.ready.notify_all();
    }
}

/// Starts the pool's workers. They hold the registry weakly: when the last handle to it is
/// dropped, they stop and the writer and store can close.
pub(crate) fn start(emitter: &Arc<Emitter>, reg: Weak<crate::Inner>) {
    for i in 0..EMISSION_WORKERS {
        let em = emitter.clone();
        let reg = reg.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("tracemark-emit-{i}"))
            .spawn(move || {
                lower_priority();
                work(&em, &reg);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start an emission worker: {e}");
        }
    }
}

/// A worker's loop, pipelined: while one chunk is committed, the next is computed (the
/// order is put back in the rotation as soon as its chunk is handed over, its progress
/// counted as made; a chunk computed ahead of a failed one is skipped by the writer and
/// the order resumes from what is stored).
fn work(em: &Emitter, reg: &Weak<crate::Inner>) {
    type InFlight = (
        Order,
        crossbeam_channel::Receiver<crate::Result<Option<Order>>>,
    );
    let mut in_flight: Option<InFlight> = None;
    loop {
        let next = if in_flight.is_some() {
            em.try_next()
        } else {
            em.next()
        };
        let Some(inner) = reg.upgrade() else { return };
        let registry = crate::Registry { inner };
        match next {
            Some(order) => {
                let chunk = registry.make_chunk(&order);
                if let Some(done) = in_flight.take() {
                    finish(em, &registry, done);
                }
                match chunk {
                    Ok(Some(chunk)) => {
                        let n = chunk.count;
                        match registry.submit_chunk(&order, chunk) {
                            Ok(rx) => {
                                let mut ahead = order.clone();
                                ahead.produced += n;
                                if ahead.produced < ahead.quantity {
                                    em.requeue(ahead);
                                }
                                in_flight = Some((order, rx));
                            }
                            Err(e) => tracing::error!("order {}: {e}", order.id),
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!("order {} stopped: {e}", order.id),
                }
            }
            None => match in_flight.take() {
                Some(done) => finish(em, &registry, done),
                None => return,
            },
        }
    }
}

/// Waits for a chunk's commit; after a failed one, puts the order back as stored.
fn finish(
    em: &Emitter,
    registry: &crate::Registry,
    (order, rx): (
        Order,
        crossbeam_channel::Receiver<crate::Result<Option<Order>>>,
    ),
) {
    match rx.recv() {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!("order {}: {e}; resuming from what is stored", order.id);
            std::thread::sleep(RETRY_PAUSE);
            match registry.inner.store.order(&order.id) {
                Ok(Some(o)) if o.status == types::model::OrderStatus::Pending => em.requeue(o),
                Ok(_) => {}
                Err(e) => tracing::error!("order {}: {e}", order.id),
            }
        }
        Err(_) => tracing::error!("order {}: the writer stopped", order.id),
    }
}

/// Niceness of the emission workers: when the CPU is contended (two cores serve tills,
/// shoppers and documents too), the scheduler gives them about a tenth of the time of a
/// normal thread; alone, they run at full speed.
pub const EMISSION_NICE: i32 = 10;

/// Niceness of the threads that parse documents, follow the feed (projections) and do
/// other heavy work behind requests: public answers (verify, the till check: the reader
/// pool and the async workers, niceness 0) come first when the cores are contended, and
/// ingest takes what they leave (about three quarters of a contended core at niceness 5).
pub const BACKGROUND_NICE: i32 = 5;

/// Lowers the calling thread's scheduling priority to [`EMISSION_NICE`] (Linux: niceness is
/// per thread).
fn lower_priority() {
    set_thread_nice(EMISSION_NICE);
}

/// Sets the calling thread's niceness (Linux: niceness is per thread; elsewhere nothing).
/// Lowering is always allowed; a failure is logged and changes nothing.
pub fn set_thread_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is shared.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, nice) != 0 {
            tracing::warn!("cannot set a thread's niceness to {nice}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// [`set_thread_nice`] to [`BACKGROUND_NICE`], once per thread (a pool's thread runs many
/// jobs; the system call is made for its first).
pub fn background_thread() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|d| {
        if !d.get() {
            d.set(true);
            set_thread_nice(BACKGROUND_NICE);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::model::{OrderStatus, SerialType, TailKind};

    fn order(p: ParticipantId, n: u128) -> Order {
        Order {
            id: uuid::Uuid::from_u128(n),
            participant: p,
            gtin: "04600000000015".into(),
            quantity: 10,
            serial_type: SerialType::Operator,
            tail: TailKind::Mac,
            key_index: 1,
            serial_len: 13,
            counter_start: 0,
            status: OrderStatus::Pending,
            produced: 0,
            created_at: 0,
            error: None,
        }
    }

    #[test]
    fn participants_take_turns_whatever_their_number_of_orders() {
        let e = Emitter::default();
        for n in 0..8 {
            e.enqueue(order(1, n));
        }
        e.enqueue(order(2, 100));
        let first: Vec<ParticipantId> = (0..2)
            .filter_map(|_| e.next())
            .map(|o| o.participant)
            .collect();
        assert_eq!(
            first,
            vec![1, 2],
            "the second participant's order goes second, not ninth"
        );
        e.stop();
        assert!(e.next().is_none());
    }
}
