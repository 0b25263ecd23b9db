//! Known-answer tests against published vectors.
//!
//! Merkle tree: the 8-leaf Certificate Transparency test tree, from
//! github.com/transparency-dev/merkle, files `testonly/constants.go`
//! (LeafInputs, NodeHashes, RootHashes) and `proof/verify_test.go`
//! (inclusionProofs, consistencyProofs; leaf numbers there are 1-based).
//!
//! Signed notes: github.com/golang/mod `sumdb/note/note_test.go` (TestSign,
//! TestOpen, TestNewVerifier: the PeterNeumann and EnochRoot keys) and the
//! example in github.com/C2SP/C2SP `signed-note.md` (example.com/foo).

mod common;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use common::{unhex, unhex32};
use ed25519_dalek::SigningKey;
use std::collections::HashMap;
use tlog::{
    append_hashes, consistency_proof, inclusion_proof, key_id, open_note, parse_verifier_key,
    sign_note, tree_hash, verifier_key, verify_consistency, verify_inclusion, Error, Frontier,
    Hash, NodeId,
};

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// NodeHashes(): level, then index within the level.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// RootHashes(), by tree size 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// inclusionProofs: (0-based leaf index, tree size, audit path).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// consistencyProofs: (size1, size2, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn hashes(hex: &[&str]) -> Vec<Hash> {
    hex.iter().map(|h| unhex32(h)).collect()
}

fn ct_store() -> HashMap<NodeId, Hash> {
    let mut store = HashMap::new();
    for (i, leaf) in LEAVES.iter().enumerate() {
        store.extend(append_hashes(i as u64, &unhex(leaf), &store).unwrap());
    }
    store
}

#[test]
fn stored_hashes_are_exactly_the_published_node_hashes() {
    let want: HashMap<NodeId, Hash> = NODES
        .iter()
        .enumerate()
        .flat_map(|(level, row)| {
            row.iter()
                .enumerate()
                .map(move |(i, h)| (NodeId::new(level as u8, i as u64), unhex32(h)))
        })
        .collect();
    assert_eq!(ct_store(), want);
}

#[test]
fn roots_for_sizes_0_to_8() {
    let store = ct_store();
    let mut frontier = Frontier::new();
    let mut out = Vec::new();
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            tree_hash(size as u64, &store).unwrap(),
            unhex32(root),
            "size {size}"
        );
        assert_eq!(frontier.root(), unhex32(root), "frontier size {size}");
        if let Some(leaf) = LEAVES.get(size) {
            frontier.append(&unhex(leaf), &mut out).unwrap();
        }
    }
}

#[test]
fn published_inclusion_proofs() {
    let store = ct_store();
    for (index, size, path) in INCLUSION {
        let want = hashes(path);
        assert_eq!(
            inclusion_proof(index, size, &store).unwrap(),
            want,
            "{index}/{size}"
        );
        let leaf = tlog::leaf_hash(&unhex(LEAVES[index as usize]));
        verify_inclusion(&leaf, index, size, &want, &unhex32(ROOTS[size as usize])).unwrap();
    }
}

#[test]
fn published_consistency_proofs() {
    let store = ct_store();
    for (from, to, path) in CONSISTENCY {
        let want = hashes(path);
        assert_eq!(
            consistency_proof(from, to, &store).unwrap(),
            want,
            "{from}->{to}"
        );
        let (r1, r2) = (unhex32(ROOTS[from as usize]), unhex32(ROOTS[to as usize]));
        verify_consistency(from, to, &want, &r1, &r2).unwrap();
    }
}

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; // 0x01 ‖ seed
const PETER_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> SigningKey {
    let bytes = B64.decode(PETER_SKEY).unwrap();
    assert_eq!(bytes[0], 0x01);
    SigningKey::from_bytes(&bytes[1..].try_into().unwrap())
}

#[test]
fn go_note_sign_is_byte_identical() {
    let key = peter();
    assert_eq!(
        verifier_key("PeterNeumann", &key.verifying_key()).unwrap(),
        PETER_VKEY
    );
    assert_eq!(
        key_id("PeterNeumann", &key.verifying_key()),
        [0xc7, 0x4f, 0x20, 0xa3]
    );
    let note = sign_note(PETER_TEXT, &key, "PeterNeumann").unwrap();
    assert_eq!(note, format!("{PETER_TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_note_open_with_one_known_and_one_unknown_signer() {
    let (name, peter) = parse_verifier_key(PETER_VKEY).unwrap();
    let (enoch_name, enoch) = parse_verifier_key(ENOCH_VKEY).unwrap();
    let note = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(open_note(&note, &name, &peter).unwrap(), PETER_TEXT);
    assert_eq!(open_note(&note, &enoch_name, &enoch).unwrap(), PETER_TEXT);
    // Peter's key under Enoch's name: no signature with that (name, id).
    assert!(matches!(
        open_note(&note, "EnochRoot", &peter),
        Err(Error::UnknownKey(_))
    ));
    let bad = note.replace("problem,", "problem;");
    assert!(matches!(
        open_note(&bad, &name, &peter),
        Err(Error::BadSignature(_))
    ));
}

#[test]
fn c2sp_signed_note_example() {
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let (name, key) = parse_verifier_key(vkey).unwrap();
    assert_eq!(name, "example.com/foo");
    assert_eq!(
        open_note(note, &name, &key).unwrap(),
        "This is an example message.\n"
    );
    // Not a checkpoint: one line.
    assert!(matches!(
        tlog::verify_note(note, &name, &key),
        Err(Error::MalformedNote(_))
    ));
}

#[test]
fn verifier_keys_reject_manglings() {
    assert!(parse_verifier_key(PETER_VKEY).is_ok());
    let b = PETER_VKEY.as_bytes();
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            assert!(parse_verifier_key(s).is_err(), "{s}");
        }
        let cut = std::str::from_utf8(&b[..i]).unwrap();
        assert!(parse_verifier_key(cut).is_err(), "{cut}");
    }
}
