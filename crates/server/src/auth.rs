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
use registry::model::Participant;
use std::collections::HashMap;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_SECS: u64 = 300;
/// Most challenges outstanding at once (oldest are dropped first).
pub const CHALLENGES_MAX: usize = 100_000;
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

struct Challenge {
    tin: String,
    data: String,
    expires: u64,
}

/// Sign-in state: outstanding challenges and the token key.
pub struct Auth {
    key: [u8; 32],
    challenges: Mutex<Challenges>,
}

/// Outstanding challenges: by id, in order of issue (oldest dropped first, in O(1)), and
/// per TIN (at most [`CHALLENGES_PER_TIN_MAX`]: a flood for one TIN evicts only that TIN's).
#[derive(Default)]
struct Challenges {
    by_id: HashMap<String, Challenge>,
    order: std::collections::VecDeque<String>,
    per_tin: HashMap<String, std::collections::VecDeque<String>>,
}

/// Most challenges outstanding for one TIN (a participant signs in from a few systems).
pub const CHALLENGES_PER_TIN_MAX: usize = 8;

impl Challenges {
    fn remove(&mut self, id: &str) -> Option<Challenge> {
        let c = self.by_id.remove(id)?;
        if let Some(q) = self.per_tin.get_mut(&c.tin) {
            q.retain(|x| x != id);
            if q.is_empty() {
                self.per_tin.remove(&c.tin);
            }
        }
        Some(c)
    }
}

impl Auth {
    /// With the token key (32 secret bytes kept by the operator).
    pub fn new(key: [u8; 32]) -> Auth {
        Auth {
            key,
            challenges: Mutex::new(Challenges::default()),
        }
    }

    /// A fresh challenge for `tin`: `(challenge_id, data)`.
    pub fn challenge(&self, tin: &str, now: u64) -> (String, String) {
        let mut rnd = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut rnd);
        let id = uuid::Uuid::new_v4().to_string();
        let data = format!(
            "tracemark-signin:{tin}:{now}:{}",
            URL_SAFE_NO_PAD.encode(rnd)
        );
        let mut ch = self.challenges.lock();
        // This TIN's oldest goes first; then, past the global cap, the oldest of all
        // (ids of challenges already taken are skipped as they come up).
        let mine = ch.per_tin.get(tin).map_or(0, |q| q.len());
        if mine >= CHALLENGES_PER_TIN_MAX {
            if let Some(old) = ch.per_tin.get(tin).and_then(|q| q.front().cloned()) {
                ch.remove(&old);
            }
        }
        while ch.by_id.len() >= CHALLENGES_MAX {
            match ch.order.pop_front() {
                Some(old) => {
                    ch.remove(&old);
                }
                None => break,
            }
        }
        // Expired and taken ones leave from the front (issue order is expiry order)…
        while let Some(f) = ch.order.front().cloned() {
            match ch.by_id.get(&f) {
                Some(c) if c.expires > now => break,
                Some(_) => {
                    ch.remove(&f);
                    ch.order.pop_front();
                }
                None => {
                    ch.order.pop_front();
                }
            }
        }
        // …and ids of taken ones behind a live front are compacted away now and then.
        if ch.order.len() > 2 * CHALLENGES_MAX {
            let Challenges { by_id, order, .. } = &mut *ch;
            order.retain(|id| by_id.contains_key(id));
        }
        ch.by_id.insert(
            id.clone(),
            Challenge {
                tin: tin.to_string(),
                data: data.clone(),
                expires: now + CHALLENGE_TTL_SECS,
            },
        );
        ch.order.push_back(id.clone());
        ch.per_tin
            .entry(tin.to_string())
            .or_default()
            .push_back(id.clone());
        (id, data)
    }

    /// Takes a challenge (single use): the TIN it was for and its data.
    pub fn take_challenge(&self, id: &str, now: u64) -> Option<(String, String)> {
        let c = self.challenges.lock().remove(id)?;
        // (its id leaves the issue order when it reaches the front)
        (c.expires > now).then_some((c.tin, c.data))
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
/// captured request cannot be sent again. A nonce is kept as 16 bytes of its BLAKE3 hash
/// (about 60 bytes an entry with the map and the queue), at most
/// [`NONCES_PER_PARTICIPANT_MAX`] per participant and [`NONCES_MAX`] in all.
#[derive(Default)]
pub struct Nonces {
    seen: Mutex<NonceTable>,
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

impl Nonces {
    /// Remembers `nonce` of `participant` at `now`; `Err` if it was seen within the window.
    pub fn take(&self, participant: u32, nonce: &str, now: u64) -> Result<(), Problem> {
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
        let mut h = [0u8; 16];
        h.copy_from_slice(&blake3::hash(nonce.as_bytes()).as_bytes()[..16]);
        let key = (participant, h);
        if t.by_key.get(&key).is_some_and(|exp| *exp > now) {
            // The caller is signed in; it is the request's signature that is refused.
            return Err(Problem::new(
                401,
                "bad-signature",
                "Bad request signature",
                "this signature's nonce was used already: a request is signed once, with a fresh nonce",
            ));
        }
        if t.per_participant.get(&participant).copied().unwrap_or(0) >= NONCES_PER_PARTICIPANT_MAX {
            return Err(Problem::new(
                429,
                "too-many",
                "Too many requests",
                format!(
                    "more than {NONCES_PER_PARTICIPANT_MAX} signed requests of yours in ten minutes; slow down"
                ),
            ));
        }
        if t.by_key.len() >= NONCES_MAX {
            return Err(Problem::new(
                503,
                "unavailable",
                "Service unavailable",
                "too many signed requests in the last ten minutes; retry shortly",
            ));
        }
        let exp = now + NONCE_TTL_SECS;
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
    TIN you asked the challenge for; that challenge is used up, ask for a new one";

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
    fn a_flood_of_challenges_for_one_tin_evicts_only_its_own() {
        let a = Auth::new([1; 32]);
        let (theirs, _) = a.challenge("7700000002", 100);
        let mine: Vec<String> = (0..CHALLENGES_PER_TIN_MAX + 5)
            .map(|_| a.challenge("7700000001", 100).0)
            .collect();
        assert!(
            a.take_challenge(&theirs, 101).is_some(),
            "another TIN's survives"
        );
        assert!(
            a.take_challenge(&mine[0], 101).is_none(),
            "the oldest of mine went"
        );
        assert!(a.take_challenge(&mine[mine.len() - 1], 101).is_some());
        assert!(a.challenges.lock().by_id.len() <= CHALLENGES_PER_TIN_MAX);
    }

    #[test]
    fn challenges_are_single_use_and_expire() {
        let a = Auth::new([1; 32]);
        let (id, data) = a.challenge("7700000001", 100);
        assert_eq!(
            a.take_challenge(&id, 101),
            Some(("7700000001".into(), data))
        );
        assert_eq!(a.take_challenge(&id, 101), None);
        let (id, _) = a.challenge("7700000001", 100);
        assert_eq!(a.take_challenge(&id, 100 + CHALLENGE_TTL_SECS), None);
    }
}
