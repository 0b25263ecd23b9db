//! Crypto tails and the keyring, as the registry and a consumer use them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use issuance::{
    tail_fingerprint, Algorithm, IdCode, IssuanceError, Keyring, SerialLen, TailKind, GS,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

const NOW: u64 = 1_750_000_000;
const GTIN: u64 = 4_650_117_240_163;
const KINDS: [TailKind; 3] = [TailKind::Mac, TailKind::Signature, TailKind::Short];

fn ring() -> Keyring {
    Keyring::generate_with_rng(&mut StdRng::seed_from_u64(42), NOW)
}

fn code_id(ring: &Keyring, counter: u64) -> IdCode {
    let serial = ring
        .serials()
        .serial(GTIN, counter, SerialLen::L13)
        .unwrap();
    IdCode::new(GTIN, serial.as_str()).unwrap()
}

/// The check a registry makes with what it reads from a code: AI 91 (if any) and 92/93.
fn verify(ring: &Keyring, kind: TailKind, id: &IdCode, tail: &issuance::Tail) -> bool {
    let stored_kid = tail.kid();
    let kid = match kind {
        TailKind::Short => Some(stored_kid.as_str()), // stored by the registry
        TailKind::Mac | TailKind::Signature => tail.ai91(),
    };
    ring.verify_tail(kind, id.as_str(), kid, tail.value())
}

#[test]
fn every_tail_kind_verifies() {
    let ring = ring();
    for kind in KINDS {
        for counter in 0..50 {
            let id = code_id(&ring, counter);
            let tail = ring.issue_tail(kind, id.as_str());
            assert_eq!(tail.kind(), kind);
            assert!(verify(&ring, kind, &id, &tail), "{kind:?} {id}");
        }
    }
}

#[test]
fn tail_lengths_and_characters_follow_the_domain() {
    let ring = ring();
    let id = code_id(&ring, 7);
    let mac = ring.issue_tail(TailKind::Mac, id.as_str());
    let sig = ring.issue_tail(TailKind::Signature, id.as_str());
    let short = ring.issue_tail(TailKind::Short, id.as_str());
    assert_eq!(mac.ai91().unwrap().len(), 4);
    assert_eq!(mac.ai92().unwrap().len(), 44);
    assert!(mac.ai92().unwrap().ends_with('='));
    assert_eq!(sig.ai91().unwrap().len(), 4);
    assert_eq!(sig.ai92().unwrap().len(), 88);
    assert!(sig.ai92().unwrap().ends_with("=="));
    assert_eq!(short.ai93().unwrap().len(), 4);
    assert_eq!((short.ai91(), short.ai92()), (None, None));
    assert_eq!((mac.ai93(), sig.ai93()), (None, None));
    for tail in [mac, sig, short] {
        assert!(
            tail.value().bytes().all(issuance::tail::is_cset82),
            "{tail:?}"
        );
        assert!(tail.kid().as_str().bytes().all(issuance::tail::is_cset82));
    }
    // Standard base64 of exactly 32 and 64 bytes.
    assert_eq!(STANDARD.decode(mac.value()).unwrap().len(), 32);
    assert_eq!(STANDARD.decode(sig.value()).unwrap().len(), 64);
}

#[test]
fn element_strings() {
    let ring = ring();
    let id = IdCode::new(GTIN, "5100000005NgF").unwrap();
    let mut s = String::new();
    let mac = ring.issue_tail(TailKind::Mac, id.as_str());
    mac.push_element_string(&mut s);
    assert_eq!(s, format!("{GS}910001{GS}92{}", mac.value()));
    let mut s = String::new();
    let short = ring.issue_tail(TailKind::Short, id.as_str());
    short.push_element_string(&mut s);
    assert_eq!(s, format!("{GS}93{}", short.value()));

    let code = ring
        .emit(GTIN, 3, SerialLen::L13, TailKind::Signature)
        .unwrap();
    let text = code.element_string();
    assert!(text.starts_with("010465011724016321"));
    assert_eq!(text.len(), 2 + 14 + 2 + 13 + 1 + 2 + 4 + 1 + 2 + 88);
    assert_eq!(text.matches(GS).count(), 2);
}

#[test]
fn tampered_tails_fail() {
    let ring = ring();
    let id = code_id(&ring, 1);
    let other = code_id(&ring, 2);
    for kind in KINDS {
        let tail = ring.issue_tail(kind, id.as_str());
        let issuer = tail.kid();
        let kid = Some(issuer.as_str());
        // Every single-character change of the value fails.
        let value = tail.value().as_bytes();
        for i in 0..value.len() {
            let mut bad = value.to_vec();
            bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bad).unwrap();
            assert!(
                !ring.verify_tail(kind, id.as_str(), kid, &bad),
                "{kind:?} pos {i}"
            );
        }
        // The tail of one code does not fit another.
        assert!(!ring.verify_tail(kind, other.as_str(), kid, tail.value()));
        // Wrong lengths, empty values, junk.
        assert!(!ring.verify_tail(kind, id.as_str(), kid, ""));
        assert!(!ring.verify_tail(kind, id.as_str(), kid, &tail.value()[1..]));
        assert!(!ring.verify_tail(kind, id.as_str(), kid, &format!("{}=", tail.value())));
        // The right value under another kind fails.
        for wrong in KINDS.into_iter().filter(|k| *k != kind) {
            assert!(!ring.verify_tail(wrong, id.as_str(), kid, tail.value()));
        }
    }
}

#[test]
fn wrong_or_missing_kid_fails() {
    let ring = ring();
    let id = code_id(&ring, 1);
    let mac = ring.issue_tail(TailKind::Mac, id.as_str());
    let sig = ring.issue_tail(TailKind::Signature, id.as_str());
    // 0001 is the MAC key, 0002 the Ed25519 key; swap them, use unknown ones, omit them.
    assert!(!ring.verify_tail(TailKind::Mac, id.as_str(), Some("0002"), mac.value()));
    assert!(!ring.verify_tail(TailKind::Signature, id.as_str(), Some("0001"), sig.value()));
    assert!(!ring.verify_tail(TailKind::Mac, id.as_str(), Some("0003"), mac.value()));
    assert!(!ring.verify_tail(TailKind::Mac, id.as_str(), Some("zzzzzz"), mac.value()));
    assert!(!ring.verify_tail(TailKind::Mac, id.as_str(), None, mac.value()));
    assert!(!ring.verify_tail(TailKind::Signature, id.as_str(), None, sig.value()));
}

#[test]
fn rotation_keeps_old_codes_checkable_and_issues_with_the_new_kid() {
    let mut ring = ring();
    let id = code_id(&ring, 9);
    let old: Vec<_> = KINDS
        .iter()
        .map(|&k| ring.issue_tail(k, id.as_str()))
        .collect();
    assert_eq!(old[0].kid().as_str(), "0001");
    assert_eq!(old[1].kid().as_str(), "0002");

    let new_mac = ring.rotate(Algorithm::MacBlake3, NOW + 100).unwrap();
    let new_sig = ring.rotate(Algorithm::Ed25519, NOW + 100).unwrap();
    assert_eq!((new_mac.as_str(), new_sig.as_str()), ("0003", "0004"));
    assert_eq!(ring.current_kid(Algorithm::MacBlake3), new_mac);

    for (kind, tail) in KINDS.iter().zip(&old) {
        assert!(
            verify(&ring, *kind, &id, tail),
            "old {kind:?} tail still checks"
        );
        let fresh = ring.issue_tail(*kind, id.as_str());
        let expected = if *kind == TailKind::Signature {
            new_sig
        } else {
            new_mac
        };
        assert_eq!(fresh.kid(), expected);
        assert_ne!(fresh.value(), tail.value());
        assert!(verify(&ring, *kind, &id, &fresh));
    }
    // A short tail checked without its stored kid uses the current key only.
    assert!(!ring.verify_tail(TailKind::Short, id.as_str(), None, old[2].value()));
    let fresh_short = ring.issue_tail(TailKind::Short, id.as_str());
    assert!(ring.verify_tail(TailKind::Short, id.as_str(), None, fresh_short.value()));

    // Old keys still issue on demand: the same tails as before the rotation.
    for (kind, tail) in KINDS.iter().zip(&old) {
        let again = ring
            .issue_tail_with(tail.kid().as_str(), *kind, id.as_str())
            .unwrap();
        assert_eq!(
            again.value(),
            tail.value(),
            "{kind:?} reissued with its old key"
        );
    }
    assert!(ring
        .issue_tail_with("0009", TailKind::Mac, id.as_str())
        .is_err());
    assert!(
        ring.issue_tail_with("0002", TailKind::Mac, id.as_str())
            .is_err(),
        "wrong algorithm"
    );

    // Both Ed25519 keys are published, nothing old ended.
    let published = ring.public_keys();
    let kids: Vec<_> = published.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["0002", "0004"]);
    assert!(published.keys.iter().all(|k| k.not_after.is_none()));
    assert!(ring.keys().all(|k| k.not_after.is_none()));
}

#[test]
fn signature_checks_offline_with_only_the_published_key() {
    let ring = ring();
    let code = ring
        .emit(GTIN, 11, SerialLen::L20, TailKind::Signature)
        .unwrap();
    let element_string = code.element_string();

    // A consumer holds the JSON of /.well-known/tracemark-keys and the scanned code.
    let well_known = serde_json::to_string(&ring.public_keys()).unwrap();
    drop(ring);
    let keys: serde_json::Value = serde_json::from_str(&well_known).unwrap();
    let fields: Vec<&str> = element_string.split(GS).collect();
    let id_code = fields[0];
    let kid = fields[1].strip_prefix("91").unwrap();
    let signature_b64 = fields[2].strip_prefix("92").unwrap();
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap();
    assert_eq!(key["alg"], "Ed25519");
    assert!(key["not_before"].is_u64());
    assert!(key.get("not_after").is_none());
    let public: [u8; 32] = STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = VerifyingKey::from_bytes(&public).unwrap();
    let signature: [u8; 64] = STANDARD.decode(signature_b64).unwrap().try_into().unwrap();
    let signature = Signature::from_bytes(&signature);
    assert!(public.verify(id_code.as_bytes(), &signature).is_ok());
    assert!(public
        .verify(b"0104650117240163210000000000000", &signature)
        .is_err());
}

#[test]
fn keyring_json_round_trip() {
    let mut ring = ring();
    ring.rotate(Algorithm::Ed25519, NOW + 5).unwrap();
    let json = ring.to_json().unwrap();
    let back = Keyring::from_json(&json).unwrap();
    assert_eq!(back.to_json().unwrap(), json);
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        ring.keys().collect::<Vec<_>>()
    );
    assert_eq!(back.public_keys(), ring.public_keys());
    for kind in KINDS {
        let id = code_id(&ring, 5);
        // Same serials, same deterministic tails (MAC, short, and Ed25519 is deterministic).
        assert_eq!(id, code_id(&back, 5));
        assert_eq!(
            ring.issue_tail(kind, id.as_str()),
            back.issue_tail(kind, id.as_str())
        );
    }
    // Key ids keep counting after a reload.
    let mut back = back;
    assert_eq!(
        back.rotate(Algorithm::MacBlake3, NOW + 6).unwrap().as_str(),
        "0004"
    );
    // Debug output carries no secret.
    let debug = format!("{back:?}");
    let file: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!debug.contains(file["serial_key"].as_str().unwrap()));
    assert!(!debug.contains(file["keys"][0]["secret"].as_str().unwrap()));
}

#[test]
fn broken_keyring_json_is_refused() {
    let json = ring().to_json().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (pointer, bad) in [
        ("/format", serde_json::json!(2)),
        ("/serial_key", serde_json::json!("AAAA")),
        ("/current_mac", serde_json::json!("0002")),
        ("/current_signature", serde_json::json!("0009")),
        ("/keys/1/kid", serde_json::json!("0001")),
        ("/keys/0/secret", serde_json::json!("not base64")),
        ("/keys/0/alg", serde_json::json!("rsa")),
    ] {
        let mut broken = v.clone();
        *broken.pointer_mut(pointer).unwrap() = bad;
        assert!(
            Keyring::from_json(&broken.to_string()).is_err(),
            "{pointer}"
        );
    }
    *v.pointer_mut("/keys/0/kid").unwrap() = serde_json::json!("ab");
    assert!(matches!(
        Keyring::from_json(&v.to_string()),
        Err(IssuanceError::BadKid(_))
    ));
    assert!(matches!(
        Keyring::from_json("{"),
        Err(IssuanceError::Json(_))
    ));
}

#[test]
fn save_and_load_or_create() {
    let dir = std::env::temp_dir().join(format!("issuance-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keyring.json");
    let _ = std::fs::remove_file(&path);

    let created = Keyring::load_or_create(&path, NOW).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = Keyring::load_or_create(&path, NOW + 1).unwrap();
    assert_eq!(loaded.to_json().unwrap(), created.to_json().unwrap());

    let mut rotated = loaded;
    rotated.rotate(Algorithm::MacBlake3, NOW + 2).unwrap();
    rotated.save(&path).unwrap();
    assert_eq!(
        Keyring::load(&path).unwrap().to_json().unwrap(),
        rotated.to_json().unwrap()
    );
    assert!(!dir.join("keyring.json.tmp").exists());

    assert!(matches!(
        Keyring::load(&dir.join("missing.json")),
        Err(IssuanceError::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn emit_batch_matches_single_emission_and_checks_bounds() {
    let ring = ring();
    let mut out = Vec::new();
    ring.emit_batch(GTIN, 100, 20, SerialLen::L7, TailKind::Short, &mut out)
        .unwrap();
    assert_eq!(out.len(), 20);
    for (i, code) in out.iter().enumerate() {
        assert_eq!(code.counter, 100 + i as u64);
        assert_eq!(
            *code,
            ring.emit(GTIN, 100 + i as u64, SerialLen::L7, TailKind::Short)
                .unwrap()
        );
        assert!(verify(&ring, TailKind::Short, &code.id_code(), &code.tail));
    }
    let len2 = SerialLen::new(2).unwrap();
    let before = out.len();
    assert!(ring
        .emit_batch(GTIN, 3840, 5, len2, TailKind::Mac, &mut out)
        .is_err());
    assert!(ring
        .emit_batch(GTIN, u64::MAX, 2, SerialLen::L20, TailKind::Mac, &mut out)
        .is_err());
    assert_eq!(out.len(), before, "a refused batch appends nothing");
    ring.emit_batch(GTIN, 3840, 4, len2, TailKind::Mac, &mut out)
        .unwrap();
    ring.emit_batch(GTIN, 0, 0, len2, TailKind::Mac, &mut out)
        .unwrap();
    assert_eq!(out.len(), before + 4);
}

#[test]
fn fingerprints() {
    let ring = ring();
    let id = code_id(&ring, 1);
    let a = ring.issue_tail(TailKind::Signature, id.as_str());
    let b = ring.issue_tail(TailKind::Signature, code_id(&ring, 2).as_str());
    assert_eq!(a.fingerprint(), tail_fingerprint(a.value()));
    assert_ne!(a.fingerprint(), b.fingerprint());
    let expected = u64::from_le_bytes(
        blake3::hash(a.value().as_bytes()).as_bytes()[..8]
            .try_into()
            .unwrap(),
    );
    assert_eq!(a.fingerprint(), expected);
}

#[test]
fn shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Keyring>();
    assert_send_sync::<issuance::SerialSequence>();
    assert_send_sync::<issuance::IssuedCode>();
}

#[test]
fn well_known_document_shape() {
    let mut ring = ring();
    ring.rotate(Algorithm::Ed25519, NOW + 1).unwrap();
    let v = serde_json::to_value(ring.public_keys()).unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        let mut fields: Vec<_> = k.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(fields, ["alg", "kid", "not_before", "public_key"]);
        assert_eq!(
            STANDARD
                .decode(k["public_key"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }
    assert_eq!(keys[1]["not_before"], NOW + 1);
}
