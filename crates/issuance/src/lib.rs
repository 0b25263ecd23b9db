//! Tracemark issuance: operator serials, crypto tails, and the registry's keys.
//!
//! * [`SerialGenerator`] turns a per-GTIN counter into a fixed-length alphanumeric serial
//!   through a keyed pseudo-random permutation (10-round Feistel with a SipHash-2-4 round
//!   function, tweaked by GTIN and length, cycle-walked onto `[0, 62^len)`): unique by
//!   construction, unguessable without the key, and invertible (serial → counter). See
//!   [`serial`] for the construction and the unguessability table.
//! * [`Keyring`] holds the serial key, keyed-BLAKE3 MAC keys and Ed25519 keys with 4-digit
//!   key ids; it issues and verifies the three tails ([`TailKind`]), rotates keys, saves
//!   itself atomically, and lists the public keys for `/.well-known/tracemark-keys`.
//! * [`tail_fingerprint`] lets the registry check tails it issued without a signature
//!   verification per till check.
//!
//! ```
//! use issuance::{IdCode, Keyring, SerialLen, TailKind};
//!
//! let ring = Keyring::generate(1_750_000_000);
//! let gtin = 4_650_117_240_163;
//! let serial = ring.serials().serial(gtin, 0, SerialLen::L13)?;
//! let id = IdCode::new(gtin, serial.as_str())?;
//! let tail = ring.issue_tail(TailKind::Signature, id.as_str());
//! assert!(ring.verify_tail(TailKind::Signature, id.as_str(), tail.ai91(), tail.value()));
//! assert_eq!(ring.serials().counter(gtin, serial.as_str())?, 0);
//!
//! let mut code = id.to_string();
//! tail.push_element_string(&mut code); // "01…21…<GS>91kid<GS>92signature"
//! # Ok::<(), issuance::IssuanceError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod keyring;
pub mod serial;
pub mod tail;

pub use keyring::{
    Algorithm, IssuedCode, KeyInfo, Keyring, PublicKeyInfo, PublicKeySet, KEYRING_FORMAT, KEYS_MAX,
};
pub use serial::{Sequences, Serial, SerialGenerator, SerialLen, SerialSequence};
pub use tail::{tail_fingerprint, IdCode, Kid, Tail, TailKind, GS};

/// What can go wrong while issuing, verifying or storing keys.
#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    /// A serial length outside `1..=20`.
    #[error("serial length {0} is outside 1..=20")]
    BadSerialLength(usize),
    /// A counter at or past the number of serials of that length.
    #[error("counter {counter} is outside the {domain} serials of length {len}")]
    CounterOutOfDomain {
        /// The counter asked for.
        counter: u64,
        /// The serial length.
        len: usize,
        /// `62^len`.
        domain: u128,
    },
    /// A GTIN of more than 14 digits.
    #[error("GTIN {0} has more than 14 digits")]
    BadGtin(u64),
    /// A serial with a character outside the alphabet, or not made from a counter.
    #[error("serial {0:?} is not an operator serial of this registry")]
    BadSerial(String),
    /// A tail kind other than `mac`, `signature`, `short`.
    #[error("unknown tail kind {0:?} (expected mac, signature or short)")]
    BadTailKind(String),
    /// A key id that is not 4 characters of CSET 82.
    #[error("key id {0:?} is not 4 characters of GS1 CSET 82")]
    BadKid(String),
    /// All 9999 key ids are used.
    #[error("no key id left (at most 9999 keys)")]
    KidsExhausted,
    /// The keyring file could not be read or written.
    #[error("keyring file {path}: {source}")]
    Io {
        /// The keyring file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The keyring JSON does not parse.
    #[error("keyring JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The keyring JSON parses but is inconsistent.
    #[error("invalid keyring: {0}")]
    InvalidKeyring(String),
}
