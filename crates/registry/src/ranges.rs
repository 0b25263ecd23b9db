//! Codes emitted as ranges: an emitted code that nobody has touched yet costs no state
//! record of its own.
//!
//! An order of operator serials with a MAC or short tail is stored, chunk by chunk, as
//! [`CodeRange`]s (GTIN, serial length, counter range, owner, key, time): one record of
//! 53 bytes for up to [`RANGE_CHUNK`] codes, written by the writer in O(1) whatever the
//! chunk's size. Each code's state is derived from its range until the first change writes
//! the code's own state (`Tx::put_code`): the serial maps back to its counter through the
//! issuing permutation (`issuance::SerialGenerator::counter`, invertible by construction),
//! the counter finds its range (`Store::code_range`: the last range at or before it), and
//! the tail's fingerprint is recomputed with the issuing key (one keyed BLAKE3).
//!
//! Both forms read the same: every state read of the registry — the writer's overlay
//! (`Tx::load`), verify, the till check, the resolver, code cards, complaints — goes through
//! [`Ranges::fill`] after the store's own states, and the audit replays an emission leaf
//! into the form it names. Signature tails are not ranged (an Ed25519 signing costs ~50 µs,
//! too dear on every read), nor self-made serials (no permutation maps them back).

use parking_lot::RwLock;
use std::sync::Arc;
use store::{Store, StoreResult};
use types::model::{CodeKey, CodeRange, CodeState, Order, SerialType, TailKind};

pub use types::limits::RANGE_CHUNK;

/// Ranges a derivation remembers while it runs (a document's codes come from a few).
const RECENT_RANGES: usize = 16;

/// Whether an order's codes are emitted as ranges: operator serials with a MAC or short
/// tail (see the [module documentation](self)).
pub fn ranged(order: &Order) -> bool {
    order.serial_type == SerialType::Operator
        && matches!(order.tail, TailKind::Mac | TailKind::Short)
}

/// The keys of the operator serials of counters `counter_lo .. counter_lo + n` of `gtin` at
/// serial length `serial_len`, in counter order: a ranged emission chunk's codes (its log
/// leaf hashes them), computed without their tails.
pub fn range_keys(
    serials: &issuance::SerialGenerator,
    gtin: u64,
    serial_len: u8,
    counter_lo: u64,
    n: u32,
) -> Result<impl Iterator<Item = Result<CodeKey, issuance::IssuanceError>>, issuance::IssuanceError>
{
    let seq = serials.sequence(gtin, issuance::SerialLen::new(usize::from(serial_len))?)?;
    Ok(
        (counter_lo..counter_lo.saturating_add(u64::from(n))).map(move |c| {
            seq.serial(c)
                .map(|s| CodeKey::unit(gtin, s.as_str().as_bytes()))
        }),
    )
}

/// The issuance crate's tail kind for a stored one (`None` for no tail).
pub fn issuance_kind(t: TailKind) -> Option<issuance::TailKind> {
    match t {
        TailKind::Mac => Some(issuance::TailKind::Mac),
        TailKind::Signature => Some(issuance::TailKind::Signature),
        TailKind::Short => Some(issuance::TailKind::Short),
        TailKind::None => None,
    }
}

/// Derives the states of codes that live in ranges, with the issuing keyring.
#[derive(Clone)]
pub struct Ranges {
    keyring: Arc<RwLock<issuance::Keyring>>,
}

impl std::fmt::Debug for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ranges { keyring: <redacted> }")
    }
}

impl Ranges {
    /// Derivation with the registry's keyring.
    pub fn new(keyring: Arc<RwLock<issuance::Keyring>>) -> Ranges {
        Ranges { keyring }
    }

    /// States of `keys`: the store's own, then, for codes without one, the state derived
    /// from their range. The one read every part of the registry uses.
    pub fn states<S: Store + ?Sized>(
        &self,
        store: &S,
        keys: &[CodeKey],
    ) -> StoreResult<Vec<Option<CodeState>>> {
        let mut states = store.codes(keys)?;
        self.fill(store, &[], keys, &mut states)?;
        Ok(states)
    }

    /// Fills each `None` of `states` (one per key of `keys`) whose code belongs to a range —
    /// of `pending` (written in the batch, not yet committed) or stored — with the state
    /// derived from it; leaves the others.
    pub fn fill<S: Store + ?Sized>(
        &self,
        store: &S,
        pending: &[CodeRange],
        keys: &[CodeKey],
        states: &mut [Option<CodeState>],
    ) -> StoreResult<()> {
        if states.iter().all(Option::is_some) {
            return Ok(());
        }
        let kr = self.keyring.read();
        let mut sequences = issuance::Sequences::default();
        let mut recent: Vec<CodeRange> = Vec::new();
        for (k, st) in keys.iter().zip(states.iter_mut()) {
            if st.is_some() {
                continue;
            }
            let (Some(gtin), Some(serial)) = (k.gtin(), k.serial()) else {
                continue;
            };
            let len8 = serial.len() as u8;
            let Some(seq) = sequences.get(kr.serials(), gtin, len8) else {
                continue;
            };
            let Ok(counter) = seq.counter(serial) else {
                continue;
            };
            let found = recent
                .iter()
                .chain(pending)
                .find(|r| r.gtin == gtin && r.serial_len == len8 && r.contains(counter))
                .copied();
            let range = match found {
                Some(r) => r,
                None => match store.code_range(gtin, len8, counter)? {
                    Some(r) if r.contains(counter) => {
                        if recent.len() == RECENT_RANGES {
                            recent.remove(0);
                        }
                        recent.push(r);
                        r
                    }
                    _ => continue,
                },
            };
            *st = derive(&kr, &range, gtin, serial);
        }
        Ok(())
    }
}

/// The state of code (`gtin`, `serial`) of `range`: the range's, with the fingerprint of
/// the tail its key issues for the code. `None` when the key or the code cannot be had
/// (a keyring without the range's key: the code cannot be judged, so it is not vouched for).
fn derive(kr: &issuance::Keyring, range: &CodeRange, gtin: u64, serial: &str) -> Option<CodeState> {
    let kind = issuance_kind(range.tail)?;
    let id = issuance::IdCode::new(gtin, serial).ok()?;
    let tail = kr
        .issue_tail_with(&format!("{:04}", range.key_index), kind, id.as_str())
        .ok()?;
    let mut st = range.state();
    st.tail_fp = tail.fingerprint();
    Some(st)
}
