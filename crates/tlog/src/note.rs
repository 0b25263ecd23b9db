//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and the
//! checkpoint body they carry (c2sp.org/tlog-checkpoint).

use crate::{Error, Hash};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Starts every signature line: U+2014 EM DASH, space.
const SIG_PREFIX: &str = "\u{2014} ";
/// The signed-note signature type of Ed25519.
const ED25519: u8 = 0x01;
/// Signature lines accepted in one note (the spec asks for at least 16).
const MAX_SIGNATURES: usize = 100;

/// A signed tree head: the log's origin line, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `tracemark.example/log`: non-empty, no control characters.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 tree hash of those leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// The complete signed note: body, blank line, one signature line by
    /// `key_name`. Fails if the origin or key name is not allowed.
    pub fn sign(&self, key: &SigningKey, key_name: &str) -> Result<String, Error> {
        let body = self.body();
        // Refuse to sign anything a verifier would not parse back to self.
        if Checkpoint::from_body(&body)? != *self {
            return Err(Error::MalformedNote("origin does not survive a round trip"));
        }
        sign_note(&body, key, key_name)
    }

    /// Parses a checkpoint body strictly: exactly three lines, a non-empty
    /// origin, a decimal size without leading zeros, a canonical base64 root
    /// of 32 bytes. Extension lines are rejected (this log writes none).
    pub fn from_body(text: &str) -> Result<Checkpoint, Error> {
        check_chars(text)?;
        let lines = text
            .strip_suffix('\n')
            .ok_or(Error::MalformedNote("no final newline"))?;
        let mut lines = lines.split('\n');
        let (Some(origin), Some(size), Some(root), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::MalformedNote(
                "checkpoint must have exactly three lines",
            ));
        };
        if origin.is_empty() {
            return Err(Error::MalformedNote("empty origin"));
        }
        let decimal = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = match decimal.then(|| size.parse::<u64>()) {
            Some(Ok(size)) => size,
            _ => return Err(Error::MalformedNote("size is not a decimal u64")),
        };
        let bytes = B64
            .decode(root)
            .map_err(|_| Error::MalformedNote("root is not base64"))?;
        let root_hash: Hash = bytes
            .try_into()
            .map_err(|_| Error::MalformedNote("root is not 32 bytes"))?;
        if B64.encode(root_hash) != root {
            return Err(Error::MalformedNote("root is not canonical base64"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root: root_hash,
        })
    }
}

/// Signed notes are UTF-8 (guaranteed by `&str`) without ASCII control
/// characters other than newline.
fn check_chars(text: &str) -> Result<(), Error> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(Error::MalformedNote("control character"));
    }
    Ok(())
}

/// Key names are non-empty, without Unicode spaces or `+`.
fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(Error::InvalidKeyName);
    }
    Ok(())
}

/// The signed-note key id of an Ed25519 key: the first 4 bytes of
/// `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)`.
pub fn key_id(key_name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(key_name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The C2SP verifier key string: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
pub fn verifier_key(key_name: &str, key: &VerifyingKey) -> Result<String, Error> {
    check_name(key_name)?;
    let id: String = key_id(key_name, key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut material = vec![ED25519];
    material.extend_from_slice(key.as_bytes());
    Ok(format!("{key_name}+{id}+{}", B64.encode(material)))
}

/// Signs `text` (which must end in a newline) as a signed note by `key_name`:
/// returns `text`, a blank line and the signature line
/// `— <key_name> <base64(key id ‖ Ed25519 signature of text)>`.
pub fn sign_note(text: &str, key: &SigningKey, key_name: &str) -> Result<String, Error> {
    check_name(key_name)?;
    check_chars(text)?;
    if !text.ends_with('\n') {
        return Err(Error::MalformedNote("text must end with a newline"));
    }
    let mut sig = key_id(key_name, &key.verifying_key()).to_vec();
    sig.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
    Ok(format!(
        "{text}\n{SIG_PREFIX}{key_name} {}\n",
        B64.encode(sig)
    ))
}

/// Checks a signed note and returns its text (up to and including the
/// newline before the blank line).
///
/// Every signature line must be well formed; lines by other keys (another
/// name or key id) are skipped, as the spec requires (cosigners, key
/// rotation). At least one line must be by `key_name` with `key`'s id, and
/// every such line must carry a valid Ed25519 signature of the text.
pub fn open_note<'a>(note: &'a str, key_name: &str, key: &VerifyingKey) -> Result<&'a str, Error> {
    check_name(key_name)?;
    check_chars(note)?;
    let split = note
        .rfind("\n\n")
        .ok_or(Error::MalformedNote("no blank line before signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(Error::MalformedNote(
            "signature block must end with a newline",
        ));
    }
    let want_id = key_id(key_name, key);
    let mut verified = false;
    for (count, line) in sigs.split_terminator('\n').enumerate() {
        if count == MAX_SIGNATURES {
            return Err(Error::MalformedNote("too many signatures"));
        }
        let (name, b64) = line
            .strip_prefix(SIG_PREFIX)
            .and_then(|rest| rest.split_once(' '))
            .ok_or(Error::MalformedNote("bad signature line"))?;
        check_name(name).map_err(|_| Error::MalformedNote("bad key name in signature line"))?;
        let sig = B64
            .decode(b64)
            .map_err(|_| Error::MalformedNote("signature is not base64"))?;
        if sig.len() < 5 {
            return Err(Error::MalformedNote("signature too short"));
        }
        if name != key_name || sig[..4] != want_id {
            continue;
        }
        let sig = Signature::from_slice(&sig[4..])
            .map_err(|_| Error::BadSignature(key_name.to_string()))?;
        key.verify_strict(text.as_bytes(), &sig)
            .map_err(|_| Error::BadSignature(key_name.to_string()))?;
        verified = true;
    }
    if !verified {
        return Err(Error::UnknownKey(key_name.to_string()));
    }
    Ok(text)
}

/// Checks a signed checkpoint: [`open_note`], then [`Checkpoint::from_body`].
pub fn verify_note(note: &str, key_name: &str, key: &VerifyingKey) -> Result<Checkpoint, Error> {
    Checkpoint::from_body(open_note(note, key_name, key)?)
}

/// Parses a verifier key string `<name>+<hex key id>+<base64(0x01 ‖ key)>`
/// (as produced by [`verifier_key`]), checking that the id matches the key.
pub fn parse_verifier_key(vkey: &str) -> Result<(String, VerifyingKey), Error> {
    let bad = Error::MalformedNote("bad verifier key");
    let mut parts = vkey.split('+');
    let (Some(name), Some(id), Some(material), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    check_name(name)?;
    let material = B64
        .decode(material)
        .map_err(|_| Error::MalformedNote("bad verifier key"))?;
    let key = match material.split_first() {
        Some((&ED25519, key)) => <[u8; 32]>::try_from(key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or(Error::MalformedNote("bad verifier key"))?,
        _ => return Err(bad),
    };
    if verifier_key(name, &key)? != vkey || id.len() != 8 {
        return Err(bad);
    }
    Ok((name.to_string(), key))
}
