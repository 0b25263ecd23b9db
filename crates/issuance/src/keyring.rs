//! The registry's issuing keys: MAC keys, Ed25519 keys and the serial key, with key ids,
//! rotation, persistence and the published key set.

use crate::serial::{SerialGenerator, SerialLen};
use crate::tail::{
    ct_eq, IdCode, Kid, Tail, TailKind, MAC_TAIL_LEN, SHORT_TAIL_LEN, SIGNATURE_TAIL_LEN,
};
use crate::IssuanceError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the keyring file format written by [`Keyring::to_json`].
pub const KEYRING_FORMAT: u32 = 1;

/// Most keys a keyring holds (key ids are 4 decimal digits).
pub const KEYS_MAX: usize = 9999;

/// BLAKE3 key-derivation string for the short-tail key (derived from each MAC key, so
/// a short tail is never a prefix of the same key's 44-char MAC).
const SHORT_KEY_CONTEXT: &[u8] = b"tracemark 2025 issuance short tail (AI 93) key v1";

/// A key algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// Keyed BLAKE3 (32-byte key): MAC tails and short tails.
    #[serde(rename = "mac-blake3")]
    MacBlake3,
    /// Ed25519: signature tails.
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl Algorithm {
    /// The algorithm that issues tails of `kind`.
    pub fn for_tail(kind: TailKind) -> Algorithm {
        match kind {
            TailKind::Mac | TailKind::Short => Algorithm::MacBlake3,
            TailKind::Signature => Algorithm::Ed25519,
        }
    }
}

/// Public facts about a key (no secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id (AI 91).
    pub kid: Kid,
    /// Algorithm.
    pub alg: Algorithm,
    /// Start of validity, unix seconds.
    pub not_before: u64,
    /// End of validity for issuing, unix seconds, if set.
    pub not_after: Option<u64>,
}

/// One entry of `/.well-known/tracemark-keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// Key id: the value of AI 91 of the codes it signed.
    pub kid: String,
    /// Always `"Ed25519"`.
    pub alg: String,
    /// Standard base64 of the 32-byte public key.
    pub public_key: String,
    /// Start of validity, unix seconds.
    pub not_before: u64,
    /// End of validity, unix seconds, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
}

/// The body of `GET /.well-known/tracemark-keys`: `{"keys": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeySet {
    /// Every Ed25519 key ever used, old ones included (their codes stay checkable).
    pub keys: Vec<PublicKeyInfo>,
}

enum Secret {
    Mac { key: [u8; 32], short_key: [u8; 32] },
    Ed25519(Box<SigningKey>),
}

struct Key {
    info: KeyInfo,
    secret: Secret,
}

impl Key {
    fn mac(info: KeyInfo, key: [u8; 32]) -> Key {
        let short_key = *blake3::keyed_hash(&key, SHORT_KEY_CONTEXT).as_bytes();
        Key {
            info,
            secret: Secret::Mac { key, short_key },
        }
    }

    fn secret_bytes(&self) -> [u8; 32] {
        match &self.secret {
            Secret::Mac { key, .. } => *key,
            Secret::Ed25519(signing) => signing.to_bytes(),
        }
    }
}

/// The registry's keys: a serial-generator key, MAC keys and Ed25519 keys, each key with a
/// 4-digit id; one current key per algorithm issues, every key verifies.
///
/// Holds secret material: [`Debug`](core::fmt::Debug) redacts it, [`Keyring::to_json`]
/// and [`Keyring::save`] write it (the file is created with mode 0600).
pub struct Keyring {
    serial_key: [u8; 32],
    serials: SerialGenerator,
    keys: Vec<Key>,
    current_mac: usize,
    current_signature: usize,
    next_kid: u32,
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .field("current_mac", &self.current_kid(Algorithm::MacBlake3))
            .field("current_signature", &self.current_kid(Algorithm::Ed25519))
            .finish_non_exhaustive()
    }
}

/// A code issued by [`Keyring::emit`]: GTIN, counter, serial and tail, inline (no heap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IssuedCode {
    /// GTIN as a number (14 digits at most).
    pub gtin: u64,
    /// The per-GTIN counter the serial was made from.
    pub counter: u64,
    /// The serial (AI 21).
    pub serial: crate::Serial,
    /// The crypto tail.
    pub tail: Tail,
}

impl IssuedCode {
    /// The identification code `01{gtin14}21{serial}`.
    pub fn id_code(&self) -> IdCode {
        IdCode::new(self.gtin, self.serial.as_str()).expect("issued codes have valid parts")
    }

    /// The full element string without FNC1: identification code, GS, tail fields.
    pub fn element_string(&self) -> String {
        let mut out = String::with_capacity(crate::tail::ID_CODE_LEN_MAX + 100);
        out.push_str(self.id_code().as_str());
        self.tail.push_element_string(&mut out);
        out
    }
}

impl Keyring {
    /// A new keyring with a fresh serial key, MAC key `0001` and Ed25519 key `0002`, all
    /// valid from `now` (unix seconds), from the operating system's random source.
    pub fn generate(now: u64) -> Keyring {
        Keyring::generate_with_rng(&mut rand::rngs::OsRng, now)
    }

    /// [`Keyring::generate`] with a caller's random source (deterministic tests).
    pub fn generate_with_rng<R: RngCore + CryptoRng>(rng: &mut R, now: u64) -> Keyring {
        let mut serial_key = [0u8; 32];
        rng.fill_bytes(&mut serial_key);
        let mut ring = Keyring {
            serial_key,
            serials: SerialGenerator::new(serial_key),
            keys: Vec::new(),
            current_mac: 0,
            current_signature: 0,
            next_kid: 1,
        };
        ring.rotate_with_rng(rng, Algorithm::MacBlake3, now)
            .expect("an empty keyring has free key ids");
        ring.rotate_with_rng(rng, Algorithm::Ed25519, now)
            .expect("an empty keyring has free key ids");
        ring
    }

    /// Adds a new key of `alg`, valid from `now`, and makes it the current one for issuing.
    /// Ends nothing old: every earlier key keeps verifying the codes it issued. Returns the
    /// new key id. Save the keyring afterwards.
    pub fn rotate(&mut self, alg: Algorithm, now: u64) -> Result<Kid, IssuanceError> {
        self.rotate_with_rng(&mut rand::rngs::OsRng, alg, now)
    }

    /// [`Keyring::rotate`] with a caller's random source.
    pub fn rotate_with_rng<R: RngCore + CryptoRng>(
        &mut self,
        rng: &mut R,
        alg: Algorithm,
        now: u64,
    ) -> Result<Kid, IssuanceError> {
        if self.keys.len() >= KEYS_MAX {
            return Err(IssuanceError::KidsExhausted);
        }
        let kid = Kid::from_number(self.next_kid).ok_or(IssuanceError::KidsExhausted)?;
        let info = KeyInfo {
            kid,
            alg,
            not_before: now,
            not_after: None,
        };
        let key = match alg {
            Algorithm::MacBlake3 => {
                let mut secret = [0u8; 32];
                rng.fill_bytes(&mut secret);
                Key::mac(info, secret)
            }
            Algorithm::Ed25519 => Key {
                info,
                secret: Secret::Ed25519(Box::new(SigningKey::generate(rng))),
            },
        };
        self.keys.push(key);
        self.next_kid += 1;
        let index = self.keys.len() - 1;
        match alg {
            Algorithm::MacBlake3 => self.current_mac = index,
            Algorithm::Ed25519 => self.current_signature = index,
        }
        Ok(kid)
    }

    /// The serial generator (its key lives in this keyring).
    pub fn serials(&self) -> &SerialGenerator {
        &self.serials
    }

    /// The id of the key currently issuing with `alg`.
    pub fn current_kid(&self, alg: Algorithm) -> Kid {
        self.keys[self.current_index(alg)].info.kid
    }

    /// Public facts about every key, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = KeyInfo> + '_ {
        self.keys.iter().map(|k| k.info)
    }

    fn current_index(&self, alg: Algorithm) -> usize {
        match alg {
            Algorithm::MacBlake3 => self.current_mac,
            Algorithm::Ed25519 => self.current_signature,
        }
    }

    fn key(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.info.kid.as_str() == kid)
    }

    /// Issues a tail of `kind` over the identification code `id_code`
    /// (`01{gtin14}21{serial}`, see [`IdCode`]) with the current key. No heap allocation.
    pub fn issue_tail(&self, kind: TailKind, id_code: &str) -> Tail {
        let key = &self.keys[self.current_index(Algorithm::for_tail(kind))];
        Self::tail_with(key, kind, id_code)
            .expect("current keys match their algorithm (checked on load)")
    }

    /// Issues a tail of `kind` with the key `kid`, current or not: how the registry
    /// reprints the codes of an order made before a rotation. Fails for an unknown key id
    /// or a key of another algorithm.
    pub fn issue_tail_with(
        &self,
        kid: &str,
        kind: TailKind,
        id_code: &str,
    ) -> Result<Tail, IssuanceError> {
        let key = self
            .key(kid)
            .ok_or_else(|| IssuanceError::BadKid(kid.into()))?;
        Self::tail_with(key, kind, id_code).ok_or_else(|| IssuanceError::BadKid(kid.into()))
    }

    fn tail_with(key: &Key, kind: TailKind, id_code: &str) -> Option<Tail> {
        let msg = id_code.as_bytes();
        let mut buf = [0u8; SIGNATURE_TAIL_LEN];
        match (&key.secret, kind) {
            (Secret::Mac { key: k, .. }, TailKind::Mac) => {
                let mac = blake3::keyed_hash(k, msg);
                encode(mac.as_bytes(), &mut buf[..MAC_TAIL_LEN]);
                Some(Tail::from_encoded(kind, key.info.kid, &buf[..MAC_TAIL_LEN]))
            }
            (Secret::Mac { short_key, .. }, TailKind::Short) => {
                let mac = blake3::keyed_hash(short_key, msg);
                encode(&mac.as_bytes()[..3], &mut buf[..SHORT_TAIL_LEN]);
                Some(Tail::from_encoded(
                    kind,
                    key.info.kid,
                    &buf[..SHORT_TAIL_LEN],
                ))
            }
            (Secret::Ed25519(signing), TailKind::Signature) => {
                let signature = signing.sign(msg);
                encode(&signature.to_bytes(), &mut buf);
                Some(Tail::from_encoded(kind, key.info.kid, &buf))
            }
            _ => None,
        }
    }

    /// Checks a tail `value` of `kind` over `id_code`.
    ///
    /// `kid` is AI 91 for MAC and signature tails (required: `None` fails). A short tail
    /// (AI 93) carries no key id: pass the id the registry stored when it issued the code;
    /// `None` checks against the current MAC key only. An unknown key id, a key of the
    /// wrong algorithm or a value of the wrong length fails. MACs compare in constant time;
    /// signatures are checked with `verify_strict`.
    pub fn verify_tail(
        &self,
        kind: TailKind,
        id_code: &str,
        kid: Option<&str>,
        value: &str,
    ) -> bool {
        if value.len() != kind.value_len() {
            return false;
        }
        let key = match (kid, kind) {
            (Some(kid), _) => self.key(kid),
            (None, TailKind::Short) => Some(&self.keys[self.current_mac]),
            (None, TailKind::Mac | TailKind::Signature) => None,
        };
        let Some(key) = key else { return false };
        let msg = id_code.as_bytes();
        let mut buf = [0u8; SIGNATURE_TAIL_LEN];
        match (&key.secret, kind) {
            (Secret::Mac { key: k, .. }, TailKind::Mac) => {
                encode(
                    blake3::keyed_hash(k, msg).as_bytes(),
                    &mut buf[..MAC_TAIL_LEN],
                );
                ct_eq(&buf[..MAC_TAIL_LEN], value.as_bytes())
            }
            (Secret::Mac { short_key, .. }, TailKind::Short) => {
                let mac = blake3::keyed_hash(short_key, msg);
                encode(&mac.as_bytes()[..3], &mut buf[..SHORT_TAIL_LEN]);
                ct_eq(&buf[..SHORT_TAIL_LEN], value.as_bytes())
            }
            (Secret::Ed25519(signing), TailKind::Signature) => {
                // The decoder wants room for its estimate (66 bytes for 88 chars).
                let mut buf = [0u8; 66];
                match STANDARD.decode_slice(value, &mut buf) {
                    Ok(64) => {}
                    _ => return false,
                }
                let mut sig = [0u8; 64];
                sig.copy_from_slice(&buf[..64]);
                let sig = ed25519_dalek::Signature::from_bytes(&sig);
                signing.verifying_key().verify_strict(msg, &sig).is_ok()
            }
            _ => false,
        }
    }

    /// Issues the code `counter` of `gtin`: operator serial of length `len` and a tail of
    /// `kind`. No heap allocation.
    pub fn emit(
        &self,
        gtin: u64,
        counter: u64,
        len: SerialLen,
        kind: TailKind,
    ) -> Result<IssuedCode, IssuanceError> {
        let serial = self.serials.serial(gtin, counter, len)?;
        Ok(self.finish(gtin, counter, serial, kind))
    }

    fn finish(&self, gtin: u64, counter: u64, serial: crate::Serial, kind: TailKind) -> IssuedCode {
        self.finish_with_prefix(&IdCode::prefix(gtin), gtin, counter, serial, kind)
    }

    #[inline]
    fn finish_with_prefix(
        &self,
        prefix: &[u8; 18],
        gtin: u64,
        counter: u64,
        serial: crate::Serial,
        kind: TailKind,
    ) -> IssuedCode {
        let id = IdCode::from_prefix(prefix, serial.as_str());
        IssuedCode {
            gtin,
            counter,
            serial,
            tail: self.issue_tail(kind, id.as_str()),
        }
    }

    /// Issues the codes `counter_start .. counter_start + n` of `gtin` and appends them to
    /// `out` (reserving once). Fails, appending nothing, if a counter would leave the
    /// domain of `len`. The per-GTIN set-up (serial round states, `01{gtin}21` prefix) is
    /// done once per batch.
    pub fn emit_batch(
        &self,
        gtin: u64,
        counter_start: u64,
        n: usize,
        len: SerialLen,
        kind: TailKind,
        out: &mut Vec<IssuedCode>,
    ) -> Result<(), IssuanceError> {
        let sequence = self.serials.sequence(gtin, len)?;
        if n == 0 {
            return Ok(());
        }
        let last =
            counter_start
                .checked_add(n as u64 - 1)
                .ok_or(IssuanceError::CounterOutOfDomain {
                    counter: u64::MAX,
                    len: len.get(),
                    domain: len.domain(),
                })?;
        // Checks the last counter (hence all) before appending anything.
        sequence.serial(last)?;
        let prefix = IdCode::prefix(gtin);
        out.reserve(n);
        for counter in counter_start..=last {
            let serial = sequence.serial_unchecked(counter);
            out.push(self.finish_with_prefix(&prefix, gtin, counter, serial, kind));
        }
        Ok(())
    }

    /// The Ed25519 public keys for `/.well-known/tracemark-keys`, oldest first.
    pub fn public_keys(&self) -> PublicKeySet {
        let keys = self
            .keys
            .iter()
            .filter_map(|k| match &k.secret {
                Secret::Ed25519(signing) => Some(PublicKeyInfo {
                    kid: k.info.kid.to_string(),
                    alg: "Ed25519".into(),
                    public_key: STANDARD.encode(signing.verifying_key().as_bytes()),
                    not_before: k.info.not_before,
                    not_after: k.info.not_after,
                }),
                Secret::Mac { .. } => None,
            })
            .collect();
        PublicKeySet { keys }
    }

    /// The public key with id `kid`, if it is an Ed25519 key of this keyring.
    pub fn verifying_key(&self, kid: &str) -> Option<VerifyingKey> {
        match &self.key(kid)?.secret {
            Secret::Ed25519(signing) => Some(signing.verifying_key()),
            Secret::Mac { .. } => None,
        }
    }

    /// The keyring as JSON, secrets included (standard base64). Never log it.
    pub fn to_json(&self) -> Result<String, IssuanceError> {
        let file = KeyringFile {
            format: KEYRING_FORMAT,
            serial_key: STANDARD.encode(self.serial_key),
            next_kid: self.next_kid,
            current_mac: self.current_kid(Algorithm::MacBlake3).to_string(),
            current_signature: self.current_kid(Algorithm::Ed25519).to_string(),
            keys: self
                .keys
                .iter()
                .map(|k| KeyFile {
                    kid: k.info.kid.to_string(),
                    alg: k.info.alg,
                    secret: STANDARD.encode(k.secret_bytes()),
                    not_before: k.info.not_before,
                    not_after: k.info.not_after,
                })
                .collect(),
        };
        Ok(serde_json::to_string_pretty(&file)?)
    }

    /// Reads a keyring written by [`Keyring::to_json`], checking it whole.
    pub fn from_json(json: &str) -> Result<Keyring, IssuanceError> {
        let file: KeyringFile = serde_json::from_str(json)?;
        let invalid = |why: String| IssuanceError::InvalidKeyring(why);
        if file.format != KEYRING_FORMAT {
            return Err(invalid(format!(
                "format {} (expected {KEYRING_FORMAT})",
                file.format
            )));
        }
        if file.keys.len() > KEYS_MAX {
            return Err(invalid(format!(
                "{} keys (at most {KEYS_MAX})",
                file.keys.len()
            )));
        }
        let serial_key = decode32(&file.serial_key)
            .ok_or_else(|| invalid("serial_key is not 32 bytes of base64".into()))?;
        let mut keys: Vec<Key> = Vec::with_capacity(file.keys.len());
        let mut next_kid = file.next_kid.max(1);
        for k in &file.keys {
            let kid = Kid::new(&k.kid)?;
            if keys.iter().any(|other| other.info.kid == kid) {
                return Err(invalid(format!("key id {kid} appears twice")));
            }
            if let Some(n) = kid.number() {
                next_kid = next_kid.max(n + 1);
            }
            let secret = decode32(&k.secret)
                .ok_or_else(|| invalid(format!("key {kid}: secret is not 32 bytes of base64")))?;
            let info = KeyInfo {
                kid,
                alg: k.alg,
                not_before: k.not_before,
                not_after: k.not_after,
            };
            keys.push(match k.alg {
                Algorithm::MacBlake3 => Key::mac(info, secret),
                Algorithm::Ed25519 => Key {
                    info,
                    secret: Secret::Ed25519(Box::new(SigningKey::from_bytes(&secret))),
                },
            });
        }
        let find = |kid: &str, alg: Algorithm| {
            keys.iter()
                .position(|k| k.info.kid.as_str() == kid && k.info.alg == alg)
                .ok_or_else(|| {
                    invalid(format!(
                        "current key {kid} is not a {alg:?} key of the keyring"
                    ))
                })
        };
        let current_mac = find(&file.current_mac, Algorithm::MacBlake3)?;
        let current_signature = find(&file.current_signature, Algorithm::Ed25519)?;
        Ok(Keyring {
            serial_key,
            serials: SerialGenerator::new(serial_key),
            keys,
            current_mac,
            current_signature,
            next_kid,
        })
    }

    /// Writes the keyring to `path` atomically and durably: a temporary file beside it
    /// (mode 0600 on Unix), fsync, rename over `path`, fsync of the directory. A crash
    /// leaves either the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<(), IssuanceError> {
        let json = self.to_json()?;
        let io = |source: std::io::Error| IssuanceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp_name = path
            .file_name()
            .ok_or_else(|| io(std::io::ErrorKind::InvalidInput.into()))?
            .to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        #[cfg(unix)]
        {
            // A leftover temporary file keeps its old mode: set it explicitly.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        file.write_all(json.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        #[cfg(unix)]
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    /// Reads the keyring at `path`.
    pub fn load(path: &Path) -> Result<Keyring, IssuanceError> {
        let json = std::fs::read_to_string(path).map_err(|source| IssuanceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Keyring::from_json(&json)
    }

    /// Reads the keyring at `path`, or, if there is no file, generates one valid from `now`
    /// and saves it there first.
    pub fn load_or_create(path: &Path, now: u64) -> Result<Keyring, IssuanceError> {
        match std::fs::read_to_string(path) {
            Ok(json) => Keyring::from_json(&json),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let ring = Keyring::generate(now);
                ring.save(path)?;
                Ok(ring)
            }
            Err(source) => Err(IssuanceError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    serial_key: String,
    next_kid: u32,
    current_mac: String,
    current_signature: String,
    keys: Vec<KeyFile>,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    kid: String,
    alg: Algorithm,
    secret: String,
    not_before: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_after: Option<u64>,
}

/// Standard padded base64 of `input` into `out`, which has exactly the encoded length.
#[inline]
fn encode(input: &[u8], out: &mut [u8]) {
    let written = STANDARD
        .encode_slice(input, out)
        .expect("output buffer sized for the encoding");
    debug_assert_eq!(written, out.len());
}

fn decode32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    // Decoding 32 bytes needs a slice with room for the decoder's estimate.
    let mut buf = [0u8; 36];
    match STANDARD.decode_slice(s, &mut buf) {
        Ok(32) => {
            out.copy_from_slice(&buf[..32]);
            Some(out)
        }
        _ => None,
    }
}
