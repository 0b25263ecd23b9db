//! Checkpoints: exact format, signing, strict verification.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tlog::{key_id, parse_verifier_key, verifier_key, verify_note, Checkpoint, Error};

const NAME: &str = "tracemark.example/log";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: NAME.to_string(),
        size: 1234567,
        root: tlog::leaf_hash(b"root"),
    }
}

fn signed() -> (String, SigningKey) {
    let k = key(7);
    (checkpoint().sign(&k, NAME).unwrap(), k)
}

#[test]
fn body_and_signed_note_format() {
    let c = checkpoint();
    let root = B64.encode(c.root);
    assert_eq!(c.body(), format!("{NAME}\n1234567\n{root}\n"));
    let (note, k) = signed();
    let (body, sig_line) = note.split_once("\n\n").unwrap();
    assert_eq!(format!("{body}\n"), c.body());
    let sig_b64 = sig_line
        .strip_prefix("\u{2014} tracemark.example/log ")
        .unwrap();
    let sig = B64.decode(sig_b64.strip_suffix('\n').unwrap()).unwrap();
    assert_eq!(sig.len(), 4 + 64);
    // key id = SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4]
    let mut pre = format!("{NAME}\n").into_bytes();
    pre.push(0x01);
    pre.extend_from_slice(k.verifying_key().as_bytes());
    assert_eq!(sig[..4], Sha256::digest(&pre)[..4]);
    assert_eq!(sig[..4], key_id(NAME, &k.verifying_key()));
    let ed = ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap();
    k.verifying_key()
        .verify_strict(c.body().as_bytes(), &ed)
        .unwrap();

    assert_eq!(verify_note(&note, NAME, &k.verifying_key()).unwrap(), c);
    let vkey = verifier_key(NAME, &k.verifying_key()).unwrap();
    assert!(vkey.starts_with(&format!("{NAME}+{}+", common_hex(&sig[..4]))));
    assert_eq!(
        parse_verifier_key(&vkey).unwrap(),
        (NAME.to_string(), k.verifying_key())
    );
}

fn common_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn edge_sizes_round_trip() {
    let k = key(1);
    for size in [0, 1, u64::MAX] {
        let c = Checkpoint {
            origin: "o".into(),
            size,
            root: tlog::EMPTY_ROOT,
        };
        let note = c.sign(&k, "o").unwrap();
        assert_eq!(verify_note(&note, "o", &k.verifying_key()).unwrap(), c);
    }
}

/// Re-signs an arbitrary body, so that only the body format is under test.
fn resigned(body: &str) -> Result<Checkpoint, Error> {
    let k = key(7);
    let note = tlog::sign_note(body, &k, NAME)?;
    verify_note(&note, NAME, &k.verifying_key())
}

#[test]
fn malformed_bodies_are_rejected() {
    let root = B64.encode(tlog::leaf_hash(b"root"));
    let root31 = B64.encode([7u8; 31]);
    let root33 = B64.encode([7u8; 33]);
    let noncanonical = format!("{}F=", &root[..42]); // same length, nonzero padding bits
    assert!(resigned(&format!("o\n5\n{root}\n")).is_ok());
    for body in [
        format!("o\n5\n{root}\nextension\n"),
        "o\n5\n".to_string(),
        format!("\n5\n{root}\n"),
        format!("o\n05\n{root}\n"),
        format!("o\n+5\n{root}\n"),
        format!("o\n 5\n{root}\n"),
        format!("o\n5 \n{root}\n"),
        format!("o\n5a\n{root}\n"),
        format!("o\n\n{root}\n"),
        format!("o\n-1\n{root}\n"),
        format!("o\n18446744073709551616\n{root}\n"),
        format!("o\n5\n{root31}\n"),
        format!("o\n5\n{root33}\n"),
        format!("o\n5\n{noncanonical}\n"),
        format!("o\n5\n{}\n", root.trim_end_matches('=')),
        format!("o\n5\n{root} \n"),
        format!("o\n5\n\n{root}\n"),
    ] {
        assert!(
            matches!(resigned(&body), Err(Error::MalformedNote(_))),
            "accepted {body:?}"
        );
    }
}

#[test]
fn malformed_notes_are_rejected() {
    let (note, k) = signed();
    let vk = k.verifying_key();
    let (body, sig) = note.split_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let other = key(9);
    let unknown = tlog::sign_note(&body, &other, "witness.example").unwrap();
    let unknown_line = unknown.split_once("\n\n").unwrap().1;
    // Well-formed: an extra signature by an unknown key is skipped (C2SP).
    assert!(verify_note(&format!("{body}\n{sig}{unknown_line}"), NAME, &vk).is_ok());
    assert!(verify_note(&format!("{body}\n{unknown_line}{sig}"), NAME, &vk).is_ok());
    for bad in [
        format!("{body}{sig}"),                                  // no blank line
        format!("{body}\n{}", sig.trim_end()),                   // no final newline
        format!("{body}\n{sig}\n"),                              // trailing blank line
        format!("{body}\n{sig}garbage\n"),                       // extra line
        format!("{body}\n{}", sig.replacen('\u{2014}', "-", 1)), // hyphen, not em dash
        format!("{body}\n{}", sig.replacen(' ', "  ", 1)),       // two spaces
        format!("{body}\n{}", sig.replacen(NAME, "", 1)),        // no name
        format!("{body}\n{}", sig.replacen('=', "", 1)),         // unpadded base64
        format!("{body}\n\u{2014} {NAME} AAAA\n"),               // signature too short
        format!("{body}\n\r{sig}"),                              // control character
        format!("{body}extension\n\n{sig}"),                     // extension line
    ] {
        assert!(verify_note(&bad, NAME, &vk).is_err(), "accepted {bad:?}");
    }
    // Wrong key, wrong name, no signature by the key.
    assert!(matches!(
        verify_note(&note, NAME, &other.verifying_key()),
        Err(Error::UnknownKey(_))
    ));
    assert!(matches!(
        verify_note(&note, "tracemark.example/other", &vk),
        Err(Error::UnknownKey(_))
    ));
    assert!(matches!(
        verify_note(&unknown, NAME, &vk),
        Err(Error::UnknownKey(_))
    ));
    // A flipped body byte or signature byte.
    let tampered = note.replacen("1234567", "1234568", 1);
    assert!(matches!(
        verify_note(&tampered, NAME, &vk),
        Err(Error::BadSignature(_))
    ));
    let mut raw = B64
        .decode(sig.rsplit(' ').next().unwrap().trim_end())
        .unwrap();
    raw[10] ^= 1;
    let flipped = format!("{body}\n\u{2014} {NAME} {}\n", B64.encode(&raw));
    assert!(matches!(
        verify_note(&flipped, NAME, &vk),
        Err(Error::BadSignature(_))
    ));
    // The known key's signature must be 64 bytes.
    let short = format!("{body}\n\u{2014} {NAME} {}\n", B64.encode(&raw[..67]));
    assert!(matches!(
        verify_note(&short, NAME, &vk),
        Err(Error::BadSignature(_))
    ));
    // Too many signatures.
    let many = format!("{body}\n{sig}{}", unknown_line.repeat(100));
    assert!(matches!(
        verify_note(&many, NAME, &vk),
        Err(Error::MalformedNote(_))
    ));
}

#[test]
fn bad_names_and_origins_are_refused() {
    let k = key(3);
    let c = checkpoint();
    for name in ["", "a b", "a+b", "a\tb", "a\u{a0}b"] {
        assert!(
            matches!(c.sign(&k, name), Err(Error::InvalidKeyName)),
            "{name:?}"
        );
        assert!(verifier_key(name, &k.verifying_key()).is_err());
        assert!(verify_note("x\n\n", name, &k.verifying_key()).is_err());
    }
    for origin in ["", "a\nb", "a\rb", "a\u{0}b"] {
        let c = Checkpoint {
            origin: origin.into(),
            ..checkpoint()
        };
        assert!(
            matches!(c.sign(&k, NAME), Err(Error::MalformedNote(_))),
            "{origin:?}"
        );
    }
    assert!(tlog::sign_note("no final newline", &k, NAME).is_err());
}
