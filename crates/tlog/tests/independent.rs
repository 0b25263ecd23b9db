//! Cross-checks against implementations that share no code with the crate:
//! `tests/independent.py` (Python standard library) for roots and proofs, and
//! the `openssl` command line for checkpoint signatures. Both tools are
//! required: a missing tool fails the test, it does not skip it.

mod common;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use common::{hex, leaf};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tlog::{consistency_proof, inclusion_proof, tree_hash, Checkpoint, Frontier, Hash, NodeId};

fn b64s(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// A deterministic pseudo-random stream for picking what to tamper with.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

fn flip(hashes: &[Hash], rng: &mut Lcg) -> Vec<Hash> {
    let mut bad = hashes.to_vec();
    let (which, byte, bit) = (rng.next(bad.len()), rng.next(32), rng.next(8));
    bad[which][byte] ^= 1 << bit;
    bad
}

fn inclusion(
    store: &HashMap<NodeId, Hash>,
    n: u64,
    index: u64,
    size: u64,
    tamper: bool,
    rng: &mut Lcg,
    out: &mut Vec<Value>,
) {
    let proof = inclusion_proof(index, size, store).unwrap();
    let entry = |index: u64, size: u64, leaf: u64, hashes: &[Hash], valid: bool| json!({"index": index, "size": size, "leaf": leaf, "hashes": b64s(hashes), "valid": valid});
    out.push(entry(index, size, index, &proof, true));
    if !tamper {
        return;
    }
    let mut longer = proof.clone();
    longer.push(tree_hash(size, store).unwrap());
    out.push(entry(index, size, index, &longer, false));
    out.push(entry(index + 1, size, index, &proof, false));
    if index > 0 {
        out.push(entry(index - 1, size, index, &proof, false));
    }
    if size < n {
        out.push(entry(index, size + 1, index, &proof, false));
    }
    out.push(entry(index, size - 1, index, &proof, false));
    if n > 1 {
        out.push(entry(index, size, (index + 1) % n, &proof, false));
    }
    if !proof.is_empty() {
        out.push(entry(index, size, index, &flip(&proof, rng), false));
        out.push(entry(index, size, index, &proof[..proof.len() - 1], false));
    }
}

fn consistency(
    store: &HashMap<NodeId, Hash>,
    n: u64,
    from: u64,
    to: u64,
    rng: &mut Lcg,
    out: &mut Vec<Value>,
) {
    let proof = consistency_proof(from, to, store).unwrap();
    let entry = |from: u64, to: u64, roots: (u64, u64), hashes: &[Hash], valid: bool| {
        json!({"from": from, "to": to, "from_root_size": roots.0, "to_root_size": roots.1,
               "hashes": b64s(hashes), "valid": valid})
    };
    out.push(entry(from, to, (from, to), &proof, true));
    let mut longer = proof.clone();
    longer.push(tree_hash(to, store).unwrap());
    out.push(entry(from, to, (from, to), &longer, false));
    if from == to && to > 0 {
        out.push(entry(from, to, (from, to - 1), &proof, false));
    }
    if from == 0 || from == to {
        return;
    }
    out.push(entry(from, to, (to, from), &proof, false));
    out.push(entry(from, to, (from, to), &flip(&proof, rng), false));
    out.push(entry(
        from,
        to,
        (from, to),
        &proof[..proof.len() - 1],
        false,
    ));
    if from + 1 < to {
        out.push(entry(from + 1, to, (from + 1, to), &proof, false));
        out.push(entry(from, to - 1, (from, to - 1), &proof, false));
    }
    if to < n {
        out.push(entry(from, to + 1, (from, to + 1), &proof, false));
    }
    if from > 1 {
        out.push(entry(from - 1, to, (from - 1, to), &proof, false));
    }
}

fn tree_json(n: u64) -> Value {
    let mut store = HashMap::new();
    let mut frontier = Frontier::new();
    let mut new = Vec::new();
    for i in 0..n {
        frontier.append(&leaf(i), &mut new).unwrap();
    }
    store.extend(new);
    let roots: Vec<String> = (0..=n)
        .map(|s| B64.encode(tree_hash(s, &store).unwrap()))
        .collect();
    assert_eq!(roots[n as usize], B64.encode(frontier.root()));

    let mut rng = Lcg(n);
    let (mut incl, mut cons) = (Vec::new(), Vec::new());
    let sizes: Vec<u64> = match n {
        0..=9 => (1..=n).collect(),
        100 => vec![1, 2, 3, 31, 32, 33, 63, 64, 65, 99, 100],
        _ => vec![511, 512, 513, n - 1, n],
    };
    for &size in &sizes {
        for index in 0..size {
            let tamper = n <= 100 || index % 10 == 0 || index + 1 == size;
            inclusion(&store, n, index, size, tamper, &mut rng, &mut incl);
        }
    }
    let pairs: Vec<(u64, u64)> = match n {
        0..=9 => (0..=n)
            .flat_map(|to| (0..=to).map(move |from| (from, to)))
            .collect(),
        100 => [33, 64, 65, 99, 100]
            .iter()
            .flat_map(|&to| (0..=to).map(move |from| (from, to)))
            .collect(),
        _ => {
            let froms = [0, 1, 2, 3, 255, 256, 257, 500, 511, 512, 513, 999, 1000];
            [512, 513, 999, 1000]
                .iter()
                .flat_map(|&to| {
                    froms
                        .iter()
                        .filter(move |&&f| f <= to)
                        .map(move |&f| (f, to))
                })
                .collect()
        }
    };
    for (from, to) in pairs {
        consistency(&store, n, from, to, &mut rng, &mut cons);
    }
    let leaves: Vec<String> = (0..n).map(|i| hex(&leaf(i))).collect();
    json!({"leaves": leaves, "roots": roots, "inclusion": incl, "consistency": cons})
}

fn run(tool: &str, cmd: &mut Command, stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{tool}` ({e}): this test requires it (CI installs it) and does not skip")
        });
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("wait")
}

#[test]
fn python_recomputes_roots_and_checks_every_proof() {
    let trees: Vec<Value> = [1, 2, 3, 7, 8, 9, 100, 1000]
        .into_iter()
        .map(tree_json)
        .collect();
    let input = serde_json::to_vec(&json!({ "trees": trees })).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent.py");
    let out = run(
        "python3",
        Command::new("python3").arg(&script),
        Some(&input),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "independent.py failed: {stdout}{stderr}"
    );
    assert!(stdout.contains("independent.py: OK"), "{stdout}");

    // The checker itself must be able to fail: a wrong root is caught.
    let mut doc: Value = serde_json::from_slice(&input).unwrap();
    doc["trees"][2]["roots"][3] = json!(B64.encode([0u8; 32]));
    let out = run(
        "python3",
        Command::new("python3").arg(&script),
        Some(&serde_json::to_vec(&doc).unwrap()),
    );
    assert!(
        !out.status.success(),
        "independent.py accepted a wrong root"
    );
    // ... and so is a tampered proof marked valid.
    let mut doc: Value = serde_json::from_slice(&input).unwrap();
    doc["trees"][6]["inclusion"][1]["valid"] = json!(true);
    let out = run(
        "python3",
        Command::new("python3").arg(&script),
        Some(&serde_json::to_vec(&doc).unwrap()),
    );
    assert!(
        !out.status.success(),
        "independent.py accepted a tampered proof"
    );
}

fn tmp_dir() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tlog-openssl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn openssl_verifies_checkpoint_signature() {
    let key = SigningKey::from_bytes(&[42; 32]);
    let mut frontier = Frontier::new();
    let mut sink = Vec::new();
    for i in 0..1000 {
        frontier.append(&leaf(i), &mut sink).unwrap();
    }
    let cp = Checkpoint {
        origin: "tracemark.example/log".into(),
        size: frontier.size(),
        root: frontier.root(),
    };
    let note = cp.sign(&key, "tracemark.example/log").unwrap();

    // Take the note apart by hand, per the signed-note format.
    let split = note.rfind("\n\n").expect("blank line");
    let body = &note[..split + 1];
    let line = note[split + 2..].strip_suffix('\n').expect("final newline");
    let b64 = line
        .strip_prefix("\u{2014} tracemark.example/log ")
        .expect("signature line");
    let raw = B64.decode(b64).expect("base64");
    assert_eq!(raw.len(), 68);
    assert_eq!(
        body,
        format!(
            "tracemark.example/log\n1000\n{}\n",
            B64.encode(frontier.root())
        )
    );

    let dir = tmp_dir();
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key.verifying_key().as_bytes());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(&der)
    );
    std::fs::write(dir.join("key.pem"), pem).unwrap();
    std::fs::write(dir.join("sig"), &raw[4..]).unwrap();
    std::fs::write(dir.join("body"), body).unwrap();
    let mut flipped = body.as_bytes().to_vec();
    flipped[30] ^= 1;
    std::fs::write(dir.join("body-flipped"), flipped).unwrap();

    let verify = |file: &str| {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", file, "-sigfile",
            "sig",
        ])
        .current_dir(&dir);
        run("openssl", &mut cmd, None)
    };
    let ok = verify("body");
    assert!(
        ok.status.success(),
        "openssl rejected the checkpoint signature: {}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !verify("body-flipped").status.success(),
        "openssl accepted a flipped body byte"
    );
    std::fs::remove_dir_all(&dir).ok();
}
