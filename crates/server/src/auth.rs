//! Sign-in as the real system does it (challenge, Ed25519 signature, bearer token) and
//! the nonces of signed requests (RFC 9421, see [`crate::httpsig`]).
//!
//! Tokens are stateless: `base64url(participant id ‖ expiry ‖ MAC)`, the MAC a keyed
//! BLAKE3 of the rest under a key kept in the data directory, so tokens survive restarts
//! and checking one costs a hash, not a look-up.

use crate::problem::Problem;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use parking_lot::Mutex;
use rand::RngCore;
use std::collections::HashMap;
use types::model::Participant;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_SECS: u64 = 300;
/// How long a token lives.
pub const TOKEN_TTL_SECS: u64 = 10 * 3600;
const TOKEN_LEN: usize = 4 + 8 + 4 + 4 + 16;
/// Bytes of a token the MAC covers: participant id, expiry, key epoch, token generation.
const TOKEN_SIGNED_LEN: usize = 4 + 8 + 4 + 4;
/// How long a request's nonce is remembered: a signature is accepted while its `created`
/// is within [`crate::httpsig::CREATED_SKEW_SECS_MAX`] of the clock either way, so twice that.
pub const NONCE_TTL_SECS: u64 = 2 * crate::httpsig::CREATED_SKEW_SECS_MAX;
/// Most nonces remembered at once, over all participants (~60 bytes each); past it, signed
/// requests are refused with 503 until old ones expire — it takes eight participants at
/// their own limit to fill it.
pub const NONCES_MAX: usize = 4_000_000;
/// Most sign-ins one participant may make within [`CHALLENGE_TTL_SECS`] (each used
/// challenge is remembered that long, so it is bounded): a few systems signing in now and
/// then need far fewer; beyond it that participant is told to slow down (429).
pub const SIGN_INS_PER_PARTICIPANT_MAX: usize = 10_000;
/// Most used challenges remembered over all participants (~60 bytes each, 60 MB at most):
/// only successful sign-ins add to it, which takes a participant's key.
pub const SIGN_INS_MAX: usize = 1_000_000;
/// A TIN is 10 digits (an organisation) or 12 (an individual entrepreneur); nothing else is
/// given a challenge, so a request cannot make the server sign or hold anything large.
pub const TIN_LENGTHS: [usize; 2] = [10, 12];
/// Bytes of a challenge id: version, TIN length, TIN (up to 12 digits), issue time,
/// random nonce, MAC.
const CHALLENGE_ID_LEN_MAX: usize = 1 + 1 + 12 + 8 + CHALLENGE_NONCE_LEN + CHALLENGE_MAC_LEN;
const CHALLENGE_NONCE_LEN: usize = 16;
const CHALLENGE_MAC_LEN: usize = 16;
const CHALLENGE_VERSION: u8 = 1;

/// Whether `tin` is a TIN: 10 or 12 ASCII digits.
pub fn valid_tin(tin: &str) -> bool {
    TIN_LENGTHS.contains(&tin.len()) && tin.bytes().all(|b| b.is_ascii_digit())
}

/// Sign-in state: the token key, the challenge key, and the challenges already used.
///
/// Challenges are stateless: the id carries the TIN, the issue time and a random nonce
/// under a MAC (keyed BLAKE3 with a key derived from the token key, which the data
/// directory keeps), and the `data` to sign is rebuilt from it. Nothing is stored when a
/// challenge is asked for, so nobody can fill memory with them or push a participant's
/// own challenge out (issue 14, findings 4 and 5); a challenge is single-use because its
/// MAC is remembered once a signature over it has verified — which takes the key.
pub struct Auth {
    key: [u8; 32],
    challenge_key: [u8; 32],
    used: Nonces,
}

/// A challenge whose MAC checked: what the token step needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChallenge {
    /// The TIN it was asked for.
    pub tin: String,
    /// The exact `data` the participant signs.
    pub data: String,
    /// Its MAC: remembered once used.
    pub mac: [u8; 16],
}

impl Auth {
    /// With the token key (32 secret bytes kept by the operator).
    pub fn new(key: [u8; 32]) -> Auth {
        Auth {
            key,
            challenge_key: blake3::derive_key("tracemark 2026 sign-in challenge", &key),
            used: Nonces::with_ttl(
                CHALLENGE_TTL_SECS,
                SIGN_INS_PER_PARTICIPANT_MAX,
                SIGN_INS_MAX,
                "this challenge was used already: ask for a new one",
            ),
        }
    }

    fn challenge_mac(&self, tin: &str, issued: u64, nonce: &[u8]) -> [u8; 16] {
        let mut h = blake3::Hasher::new_keyed(&self.challenge_key);
        h.update(&[CHALLENGE_VERSION, tin.len() as u8]);
        h.update(tin.as_bytes());
        h.update(&issued.to_le_bytes());
        h.update(nonce);
        let mut mac = [0u8; 16];
        mac.copy_from_slice(&h.finalize().as_bytes()[..16]);
        mac
    }

    fn challenge_data(tin: &str, issued: u64, nonce: &[u8]) -> String {
        format!(
            "tracemark-signin:{tin}:{issued}:{}",
            URL_SAFE_NO_PAD.encode(nonce)
        )
    }

    /// A fresh challenge for `tin` (10 or 12 digits, else a 400): `(challenge_id, data)`.
    /// Nothing is kept.
    pub fn challenge(&self, tin: &str, now: u64) -> Result<(String, String), Problem> {
        if !valid_tin(tin) {
            return Err(Problem::bad_request(format!(
                "`tin` must be 10 or 12 digits ({} characters given)",
                tin.chars().count()
            )));
        }
        let mut nonce = [0u8; CHALLENGE_NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mac = self.challenge_mac(tin, now, &nonce);
        let mut raw = Vec::with_capacity(CHALLENGE_ID_LEN_MAX);
        raw.extend_from_slice(&[CHALLENGE_VERSION, tin.len() as u8]);
        raw.extend_from_slice(tin.as_bytes());
        raw.extend_from_slice(&now.to_le_bytes());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&mac);
        Ok((
            URL_SAFE_NO_PAD.encode(raw),
            Self::challenge_data(tin, now, &nonce),
        ))
    }

    /// Opens a challenge id: the TIN, the data to sign and the MAC, if this registry issued
    /// it within [`CHALLENGE_TTL_SECS`]. Whether it was used is told by
    /// [`Auth::use_challenge`], after the signature verified.
    pub fn open_challenge(&self, id: &str, now: u64) -> Result<OpenChallenge, Problem> {
        let unknown = || Problem::unauthorized("unknown or expired challenge; ask for a new one");
        if id.len() > 2 * CHALLENGE_ID_LEN_MAX {
            return Err(unknown());
        }
        let raw = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| unknown())?;
        if raw.len() < 2 {
            return Err(unknown());
        }
        let (version, n, rest) = (raw[0], raw[1] as usize, &raw[2..]);
        if version != CHALLENGE_VERSION
            || !TIN_LENGTHS.contains(&n)
            || rest.len() != n + 8 + CHALLENGE_NONCE_LEN + CHALLENGE_MAC_LEN
        {
            return Err(unknown());
        }
        let (tin, rest) = rest.split_at(n);
        let (issued, rest) = rest.split_at(8);
        let (nonce, mac) = rest.split_at(CHALLENGE_NONCE_LEN);
        let tin = std::str::from_utf8(tin).map_err(|_| unknown())?;
        let issued = u64::from_le_bytes(issued.try_into().map_err(|_| unknown())?);
        let want = self.challenge_mac(tin, issued, nonce);
        if !constant_eq(&want, mac) || !valid_tin(tin) {
            return Err(unknown());
        }
        // Issued by this clock, so never later than now (a second of leeway for a clock
        // read on another thread); answered within the TTL.
        if issued > now + 1 || issued + CHALLENGE_TTL_SECS <= now {
            return Err(unknown());
        }
        Ok(OpenChallenge {
            tin: tin.to_string(),
            data: Self::challenge_data(tin, issued, nonce),
            mac: want,
        })
    }

    /// Marks a challenge whose signature verified as used by `participant`: `Err` (401) if
    /// it was used already, 429 past [`SIGN_INS_PER_PARTICIPANT_MAX`].
    pub fn use_challenge(&self, participant: u32, mac: &[u8; 16], now: u64) -> Result<(), Problem> {
        self.used.take_hash(participant, *mac, now)
    }

    /// A token for a participant signed in with key number `epoch` (0: the registration
    /// key, n: the n-th added key) in token generation `generation`: `(token, expires_at)`.
    /// The token dies with that key, and with a suspension or reinstatement.
    pub fn token(&self, participant: u32, epoch: u32, generation: u32, now: u64) -> (String, u64) {
        let exp = now + TOKEN_TTL_SECS;
        let mut raw = [0u8; TOKEN_LEN];
        raw[..4].copy_from_slice(&participant.to_le_bytes());
        raw[4..12].copy_from_slice(&exp.to_le_bytes());
        raw[12..16].copy_from_slice(&epoch.to_le_bytes());
        raw[16..20].copy_from_slice(&generation.to_le_bytes());
        let mac = blake3::keyed_hash(&self.key, &raw[..TOKEN_SIGNED_LEN]);
        raw[TOKEN_SIGNED_LEN..].copy_from_slice(&mac.as_bytes()[..16]);
        (URL_SAFE_NO_PAD.encode(raw), exp)
    }

    /// The participant id, key epoch and token generation of a valid, unexpired token.
    pub fn check_token(&self, token: &str, now: u64) -> Result<(u32, u32, u32), Problem> {
        let mut raw = [0u8; TOKEN_LEN + 2];
        let n = URL_SAFE_NO_PAD
            .decode_slice(token.as_bytes(), &mut raw)
            .map_err(|_| Problem::unauthorized("the bearer token is malformed"))?;
        if n != TOKEN_LEN {
            return Err(Problem::unauthorized("the bearer token is malformed"));
        }
        let mac = blake3::keyed_hash(&self.key, &raw[..TOKEN_SIGNED_LEN]);
        if !constant_eq(&mac.as_bytes()[..16], &raw[TOKEN_SIGNED_LEN..TOKEN_LEN]) {
            return Err(Problem::unauthorized(
                "the bearer token is not one this registry issued",
            ));
        }
        let exp = u64::from_le_bytes(raw[4..12].try_into().unwrap_or([0; 8]));
        if exp <= now {
            return Err(Problem::unauthorized(
                "the bearer token has expired; sign in again",
            ));
        }
        Ok((
            u32::from_le_bytes(raw[..4].try_into().unwrap_or([0; 4])),
            u32::from_le_bytes(raw[12..16].try_into().unwrap_or([0; 4])),
            u32::from_le_bytes(raw[16..20].try_into().unwrap_or([0; 4])),
        ))
    }
}

/// The nonces of signed requests seen within [`NONCE_TTL_SECS`], per participant: a
/// captured request cannot be sent again (and, with another TTL, the challenges used to
/// sign in). A nonce is kept as 16 bytes of its BLAKE3 hash (about 60 bytes an entry with
/// the map and the queue), at most a set number per participant and in all.
pub struct Nonces {
    seen: Mutex<NonceTable>,
    ttl: u64,
    per_participant_max: usize,
    max: usize,
    replayed: &'static str,
}

impl Default for Nonces {
    /// The request nonces' table: [`NONCE_TTL_SECS`], [`NONCES_PER_PARTICIPANT_MAX`],
    /// [`NONCES_MAX`].
    fn default() -> Self {
        Nonces::with_ttl(
            NONCE_TTL_SECS,
            NONCES_PER_PARTICIPANT_MAX,
            NONCES_MAX,
            "this signature's nonce was used already: a request is signed once, with a fresh nonce",
        )
    }
}

type NonceKey = (u32, [u8; 16]);

#[derive(Default)]
struct NonceTable {
    by_key: HashMap<NonceKey, u64>,
    /// (expiry, key) in insertion order: expiries only grow, so the front expires first.
    order: std::collections::VecDeque<(u64, NonceKey)>,
    per_participant: HashMap<u32, usize>,
}

/// Most nonces remembered for one participant: a participant signing more requests than
/// this in ten minutes is told to slow down (429), and nobody else is affected.
pub const NONCES_PER_PARTICIPANT_MAX: usize = 500_000;

/// The 16 bytes a nonce is remembered by.
pub fn nonce_hash(nonce: &str) -> [u8; 16] {
    let mut h = [0u8; 16];
    h.copy_from_slice(&blake3::hash(nonce.as_bytes()).as_bytes()[..16]);
    h
}

impl Nonces {
    /// A table remembering each entry `ttl` seconds, at most `per_participant_max` per
    /// participant and `max` in all; `replayed` is what a second use is told.
    pub fn with_ttl(
        ttl: u64,
        per_participant_max: usize,
        max: usize,
        replayed: &'static str,
    ) -> Nonces {
        Nonces {
            seen: Mutex::new(NonceTable::default()),
            ttl,
            per_participant_max,
            max,
            replayed,
        }
    }

    /// Remembers `nonce` of `participant` at `now`; `Err` if it was seen within the window.
    pub fn take(&self, participant: u32, nonce: &str, now: u64) -> Result<(), Problem> {
        self.take_hash(participant, nonce_hash(nonce), now)
    }

    /// As [`Nonces::take`], with the nonce's hash ([`nonce_hash`]).
    pub fn take_hash(&self, participant: u32, h: [u8; 16], now: u64) -> Result<(), Problem> {
        let mut t = self.seen.lock();
        while t.order.front().is_some_and(|(exp, _)| *exp <= now) {
            if let Some((exp, k)) = t.order.pop_front() {
                if t.by_key.get(&k) == Some(&exp) {
                    t.by_key.remove(&k);
                    if let Some(n) = t.per_participant.get_mut(&k.0) {
                        *n -= 1;
                        if *n == 0 {
                            t.per_participant.remove(&k.0);
                        }
                    }
                }
            }
        }
        let key = (participant, h);
        if t.by_key.get(&key).is_some_and(|exp| *exp > now) {
            // The caller is signed in; it is the request's signature that is refused.
            return Err(Problem::new(
                401,
                "bad-signature",
                "Bad request signature",
                self.replayed,
            ));
        }
        if t.per_participant.get(&participant).copied().unwrap_or(0) >= self.per_participant_max {
            return Err(Problem::new(
                429,
                "too-many",
                "Too many requests",
                format!(
                    "more than {} signed requests or sign-ins of yours in {} s; slow down",
                    self.per_participant_max, self.ttl
                ),
            ));
        }
        if t.by_key.len() >= self.max {
            return Err(Problem::new(
                503,
                "unavailable",
                "Service unavailable",
                "too many signed requests or sign-ins in the last minutes; retry shortly",
            ));
        }
        let exp = now + self.ttl;
        t.by_key.insert(key, exp);
        t.order.push_back((exp, key));
        *t.per_participant.entry(participant).or_insert(0) += 1;
        Ok(())
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a base64 Ed25519 signature by `p`'s key at `now` over `bytes` (sign-in).
pub fn verify_signature(
    p: &Participant,
    now: u64,
    bytes: &[u8],
    signature_b64: &str,
) -> Result<(), Problem> {
    let sig = STANDARD
        .decode(signature_b64.trim())
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .ok_or_else(|| Problem::unauthorized("the signature is not base64 of 64 bytes"))?;
    let key = VerifyingKey::from_bytes(&p.key_at(now))
        .map_err(|_| Problem::unauthorized("the participant's key is unusable"))?;
    key.verify_strict(bytes, &Signature::from_bytes(&sig))
        .map_err(|_| Problem::unauthorized(SIGNATURE_DOES_NOT_VERIFY))
}

/// What a sign-in whose signature does not verify is told — also for a TIN nobody holds, so
/// that sign-in does not tell who is registered.
pub const SIGNATURE_DOES_NOT_VERIFY: &str = "the signature does not verify: sign the \
    challenge's `data` (its UTF-8 bytes, exactly as received) with the registered key of the \
    TIN you asked the challenge for";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_check_and_expire() {
        let a = Auth::new([7; 32]);
        let (t, exp) = a.token(42, 3, 5, 1000);
        assert_eq!(exp, 1000 + TOKEN_TTL_SECS);
        assert_eq!(a.check_token(&t, 1001).ok(), Some((42, 3, 5)));
        assert!(a.check_token(&t, exp).is_err());
        let other = Auth::new([8; 32]);
        assert!(other.check_token(&t, 1001).is_err());
        let mut bad = t.clone().into_bytes();
        bad[0] = if bad[0] == b'A' { b'B' } else { b'A' };
        assert!(a
            .check_token(std::str::from_utf8(&bad).unwrap_or(""), 1001)
            .is_err());
        assert!(a.check_token("", 1001).is_err());
    }

    #[test]
    fn nonces_are_single_use_within_the_window() {
        let n = Nonces::default();
        assert!(n.take(1, "abcdefghijklmnop", 100).is_ok());
        assert!(n.take(1, "abcdefghijklmnop", 101).is_err());
        assert!(
            n.take(2, "abcdefghijklmnop", 101).is_ok(),
            "per participant"
        );
        assert!(n.take(1, "abcdefghijklmnop", 100 + NONCE_TTL_SECS).is_ok());
    }

    #[test]
    fn challenges_are_stateless_checked_and_single_use() {
        let a = Auth::new([1; 32]);
        assert!(a.challenge("77000000011", 100).is_err(), "11 digits");
        assert!(a.challenge(&"7".repeat(15_800), 100).is_err());
        assert!(a.challenge("77000000ab", 100).is_err());
        let (id, data) = a.challenge("7700000001", 100).expect("challenge");
        let o = a.open_challenge(&id, 101).expect("opens");
        assert_eq!(
            (o.tin.as_str(), o.data.as_str()),
            ("7700000001", data.as_str())
        );
        // Another registry's key, a changed byte, expiry: unknown.
        assert!(Auth::new([2; 32]).open_challenge(&id, 101).is_err());
        let mut raw = URL_SAFE_NO_PAD.decode(&id).expect("b64");
        raw[3] ^= 1;
        assert!(a
            .open_challenge(&URL_SAFE_NO_PAD.encode(&raw), 101)
            .is_err());
        assert!(a.open_challenge(&id, 100 + CHALLENGE_TTL_SECS).is_err());
        assert!(a.open_challenge("", 101).is_err());
        // Single use, once the signature verified.
        assert!(a.use_challenge(7, &o.mac, 101).is_ok());
        assert!(a.use_challenge(7, &o.mac, 102).is_err());
        // A flood of challenges for one TIN holds nothing and takes nothing from another's.
        let (theirs, _) = a.challenge("7700000002", 100).expect("challenge");
        for _ in 0..1_000 {
            a.challenge("7700000002", 100).expect("challenge");
        }
        assert!(a.open_challenge(&theirs, 101).is_ok());
    }
}
