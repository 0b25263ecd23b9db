//! Where a code's rows live: the key design both storage engines share (issue 16).
//!
//! A code has a **place**, a `u32` both engines put first in the keys of its rows, so that
//! the codes one document names — consecutive counters of one order, as a producer's
//! document lists them — sit together, and a code's state, history, package contents and
//! blocks sit on one shard:
//!
//! - a code whose serial the issuing keyring's serial permutation maps back to a counter
//!   (every operator serial, and any alphanumeric serial short enough) is **placed**: its
//!   place is a hash of (GTIN, serial length, counter ÷ [`RUN`]), so a run of 1,024
//!   consecutive counters of one GTIN shares one place, and runs are spread over the
//!   whole `u32` range;
//! - any other code (a long self-made serial, an SSCC) is **spread**: its place is a hash
//!   of its key ([`spread`]).
//!
//! The hash is 64-bit FNV-1a folded to 32 bits (`h ^ h >> 32`): cheap, and its bytes are
//! stored, so it never changes.
//!
//! How each engine uses it:
//!
//! - fjall (`store-fjall`) keys a placed code's state by [`placed_key`]: place (4 bytes,
//!   big-endian) ‖ [`PLACED`] ‖ GTIN (7 bytes) ‖ serial length ‖ counter (u64 BE), so one
//!   order's states lie in counter order within a run; a spread code's by [`spread_key`]:
//!   place ‖ code key. [`Placement::code`] reads either back.
//! - PostgreSQL (`store-postgres`, schema 10) puts a `place` column first in the keys of
//!   `events`, `links` (the parent's place) and `block_codes`; on Citus the three tables
//!   are distributed by it: a run of an order's codes is one shard, and one index range.
//!
//! A store opened without a [`Placement`] (no keyring at hand) places every code spread;
//! an engine records which layout its rows have and refuses to read placed rows without
//! the placement that wrote them.

use crate::model::CodeKey;

/// Serial sequences per (GTIN, length), cached while placing many codes (setting up a
/// sequence costs twenty SipHash rounds; placing a code with it, a few).
pub type Sequences = issuance::Sequences;

/// Consecutive counters that share one place.
pub const RUN: u64 = 1_024;

/// The fifth byte of a placed fjall state key (a code key's first byte, its tag, is 0 or
/// 1, so the two forms never meet).
pub const PLACED: u8 = 2;

/// 64-bit FNV-1a over `bytes`, folded to 32 bits.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// The spread place of a code: a hash of its key (see the [module documentation](self)).
///
/// fjall also starts every other code-keyed key with it (events, package contents): codes
/// of one GTIN share their first 8 key bytes, and fjall compares a 4-byte inline prefix
/// before dereferencing a key.
pub fn spread(k: &CodeKey) -> u32 {
    fnv(k.as_bytes().iter().copied())
}

/// The place of counter `counter` of `gtin` at serial length `len`: a hash of its run.
pub fn run_place(gtin: u64, len: u8, counter: u64) -> u32 {
    fnv(gtin
        .to_be_bytes()
        .into_iter()
        .chain([len])
        .chain((counter / RUN).to_be_bytes()))
}

/// fjall's state key of a spread code: place (BE) ‖ code key.
pub fn spread_key(k: &CodeKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + k.as_bytes().len());
    key.extend_from_slice(&spread(k).to_be_bytes());
    key.extend_from_slice(k.as_bytes());
    key
}

/// fjall's state key of a placed code: place (BE) ‖ [`PLACED`] ‖ GTIN (7 bytes) ‖ length ‖
/// counter (u64 BE).
pub fn placed_key(gtin: u64, len: u8, counter: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(21);
    k.extend_from_slice(&run_place(gtin, len, counter).to_be_bytes());
    k.push(PLACED);
    k.extend_from_slice(&gtin.to_be_bytes()[1..]);
    k.push(len);
    k.extend_from_slice(&counter.to_be_bytes());
    k
}

/// Where codes go: the issuing keyring's serial permutation, which maps an operator
/// serial back to its counter (see the [module documentation](self)).
#[derive(Clone, Debug)]
pub struct Placement {
    serials: issuance::SerialGenerator,
}

impl Placement {
    /// Placement by the keyring's serial permutation (`Keyring::serials`).
    pub fn new(serials: issuance::SerialGenerator) -> Placement {
        Placement { serials }
    }

    /// (GTIN, serial length, counter) of a code whose serial maps back to a counter.
    pub fn counter(&self, k: &CodeKey, seqs: &mut Sequences) -> Option<(u64, u8, u64)> {
        let (g, s) = (k.gtin()?, k.serial()?);
        let len = s.len() as u8;
        let seq = seqs.get(&self.serials, g, len)?;
        seq.counter(s).ok().map(|c| (g, len, c))
    }

    /// The place of `k`: its run's when its serial maps back to a counter, else spread.
    pub fn place(&self, k: &CodeKey, seqs: &mut Sequences) -> u32 {
        match self.counter(k, seqs) {
            Some((g, len, c)) => run_place(g, len, c),
            None => spread(k),
        }
    }

    /// fjall's state key of `k`: [`placed_key`] when its serial maps back to a counter,
    /// else [`spread_key`].
    pub fn key(&self, k: &CodeKey, seqs: &mut Sequences) -> Vec<u8> {
        match self.counter(k, seqs) {
            Some((g, len, c)) => placed_key(g, len, c),
            None => spread_key(k),
        }
    }

    /// The code of a stored fjall state key, either form.
    pub fn code(&self, key: &[u8], seqs: &mut Sequences) -> Option<CodeKey> {
        if key.get(4) != Some(&PLACED) {
            return CodeKey::from_bytes(key.get(4..)?);
        }
        let b = key.get(5..21)?;
        let mut g = [0u8; 8];
        g[1..].copy_from_slice(&b[..7]);
        let (g, len) = (u64::from_be_bytes(g), b[7]);
        let c = u64::from_be_bytes(b[8..16].try_into().ok()?);
        let serial = seqs.get(&self.serials, g, len)?.serial(c).ok()?;
        Some(CodeKey::unit(g, serial.as_str().as_bytes()))
    }

    /// Eight bytes that tell placements apart (a BLAKE3 of a few serials of a GTIN no one
    /// is given): an engine keeps them with its placed rows and refuses a store opened
    /// with another keyring, whose places would all be wrong. They reveal nothing of the
    /// key.
    pub fn fingerprint(&self) -> [u8; 8] {
        let mut h = blake3::Hasher::new_derive_key("tracemark 2025 placement fingerprint v1");
        let mut seqs = Sequences::default();
        if let Some(seq) = seqs.get(&self.serials, 0, 20) {
            for c in 0..4 {
                if let Ok(s) = seq.serial(c) {
                    h.update(s.as_str().as_bytes());
                }
            }
        }
        let mut out = [0u8; 8];
        out.copy_from_slice(&h.finalize().as_bytes()[..8]);
        out
    }
}

/// The place of `k` under `placement`, or spread without one.
pub fn place_of(placement: Option<&Placement>, k: &CodeKey, seqs: &mut Sequences) -> u32 {
    match placement {
        Some(p) => p.place(k, seqs),
        None => spread(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GTIN: u64 = 4_601_234_567_891;

    fn placement() -> Placement {
        Placement::new(issuance::SerialGenerator::new([9; 32]))
    }

    fn serial(c: u64) -> CodeKey {
        let len = issuance::SerialLen::new(13).expect("len");
        let s = issuance::SerialGenerator::new([9; 32])
            .serial(GTIN, c, len)
            .expect("serial");
        CodeKey::unit(GTIN, s.as_str().as_bytes())
    }

    #[test]
    fn a_run_of_consecutive_counters_shares_one_place() {
        let p = placement();
        let mut seqs = Sequences::default();
        let places: Vec<u32> = (0..2_048).map(|c| p.place(&serial(c), &mut seqs)).collect();
        assert!(places[..1_024].iter().all(|&x| x == places[0]));
        assert!(places[1_024..].iter().all(|&x| x == places[1_024]));
        assert_ne!(places[0], places[1_024], "runs are spread");
        assert_eq!(places[0], run_place(GTIN, 13, 0));
    }

    #[test]
    fn other_codes_are_spread_and_keys_read_back() {
        let p = placement();
        let mut seqs = Sequences::default();
        let long = CodeKey::unit(GTIN, b"A-SELF-MADE-SERIAL!");
        let sscc = CodeKey::sscc(146_012_345_000_000_017);
        for k in [long, sscc] {
            assert_eq!(p.place(&k, &mut seqs), spread(&k));
            assert_eq!(p.key(&k, &mut seqs), spread_key(&k));
            assert_eq!(place_of(None, &k, &mut seqs), spread(&k));
        }
        for k in [serial(5), serial(70_000), long, sscc] {
            let key = p.key(&k, &mut seqs);
            assert_eq!(key[..4], p.place(&k, &mut seqs).to_be_bytes());
            assert_eq!(p.code(&key, &mut seqs), Some(k));
        }
    }

    /// The bytes fjall has on disk, fixed once and for all (computed apart, in Python, from
    /// the formula above).
    #[test]
    fn keys_are_the_stored_bytes() {
        let k = CodeKey::unit(GTIN, b"ABC");
        assert_eq!(spread(&k), 0xc6a7_6b75);
        assert_eq!(
            spread_key(&k),
            [&[0xc6, 0xa7, 0x6b, 0x75][..], k.as_bytes()].concat()
        );
        assert_eq!(
            placed_key(GTIN, 13, 1_025),
            [0x2d, 0x70, 0xe6, 0xa3, 2, 0, 4, 47, 78, 243, 178, 211, 13, 0, 0, 0, 0, 0, 0, 4, 1]
        );
    }

    #[test]
    fn fingerprints_tell_keyrings_apart() {
        let a = placement().fingerprint();
        assert_eq!(a, placement().fingerprint());
        let b = Placement::new(issuance::SerialGenerator::new([8; 32])).fingerprint();
        assert_ne!(a, b);
    }
}
