//! Placement: codes' states kept in counter order by the issuing serial permutation. A
//! store written spread moves its states once when opened with a placement, reads the same
//! codes after, and a placed store opened without the keyring refuses to read states
//! rather than answer "unknown".

use store::{Store, WriteSet};
use store_fjall::{FjallStore, Placement};
use types::model::{CodeKey, CodeState, Status};

const GTIN: u64 = 4_601_234_567_891;

fn placement() -> Placement {
    Placement::new(issuance::SerialGenerator::new([9; 32]))
}

/// Codes of three kinds: operator serials (placed), a serial too long to map back to a
/// counter (spread), an SSCC (spread).
fn codes() -> Vec<CodeKey> {
    let serials = issuance::SerialGenerator::new([9; 32]);
    let len = issuance::SerialLen::new(13).expect("len");
    let mut out: Vec<CodeKey> = (0..2_500u64)
        .map(|c| {
            let s = serials.serial(GTIN, c, len).expect("serial");
            CodeKey::unit(GTIN, s.as_str().as_bytes())
        })
        .collect();
    out.push(CodeKey::unit(GTIN, b"A-SELF-MADE-SERIAL!"));
    out.push(CodeKey::sscc(146_012_345_000_000_017));
    out
}

fn state(i: usize) -> CodeState {
    let mut st = CodeState::new(Status::Applied, 1 + i as u32 % 7, 1_764_000_000);
    st.tail_fp = i as u64;
    st
}

/// Commits state `i` for the `i`-th of `keys`.
fn write_states(s: &FjallStore, keys: &[CodeKey]) {
    s.commit(&WriteSet {
        codes: keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, state(i)))
            .collect(),
        ..WriteSet::default()
    })
    .expect("commit");
}

fn all(store: &FjallStore) -> Vec<(CodeKey, CodeState)> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.code_states_after(after.as_ref(), 700).expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.0);
        out.extend(page);
    }
    out.sort_by_key(|(k, _)| *k);
    out
}

#[test]
fn a_spread_store_moves_its_states_once_and_reads_the_same() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys = codes();
    let want: Vec<(CodeKey, CodeState)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, state(i)))
        .collect();
    {
        let s = FjallStore::open(dir.path()).expect("open");
        s.commit(&WriteSet {
            codes: want.clone(),
            ..WriteSet::default()
        })
        .expect("commit");
    }
    let s = FjallStore::open_with_placement(dir.path(), placement()).expect("placed");
    let got = s.codes(&keys).expect("read");
    for ((k, st), g) in want.iter().zip(&got) {
        assert_eq!(g.as_ref(), Some(st), "{k}");
    }
    let mut sorted = want.clone();
    sorted.sort_by_key(|(k, _)| *k);
    assert_eq!(all(&s), sorted, "every state once in the scan");
    // Written placed from now on, overwriting in place.
    let mut moved = state(0);
    moved.status = Status::Introduced;
    s.commit(&WriteSet {
        codes: vec![(keys[0], moved)],
        ..WriteSet::default()
    })
    .expect("commit");
    assert_eq!(s.codes(&keys[..1]).expect("read")[0], Some(moved));
    assert_eq!(all(&s).len(), keys.len(), "no second copy");
    drop(s);
    // Opened again placed: nothing to move; opened without the keyring: refused.
    let s = FjallStore::open_with_placement(dir.path(), placement()).expect("again");
    assert_eq!(all(&s).len(), keys.len());
    drop(s);
    let s = FjallStore::open(dir.path()).expect("open unplaced");
    let e = s
        .codes(&keys[..1])
        .expect_err("a placed store read without its keyring");
    assert!(e.to_string().contains("keyring"), "{e}");
    assert!(s.code_states_after(None, 10).is_err());
}

#[test]
fn an_orders_states_sit_together_in_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = FjallStore::open_with_placement(dir.path(), placement()).expect("placed");
    let keys = codes();
    write_states(&s, &keys);
    // In scan order, counters 0..1,024 come as one run, in counter order.
    let scan = s.code_states_after(None, usize::MAX).expect("scan");
    let pos = |k: &CodeKey| scan.iter().position(|(x, _)| x == k).expect("scanned");
    let run: Vec<usize> = keys[..1_024].iter().map(pos).collect();
    assert!(
        run.windows(2).all(|w| w[1] == w[0] + 1),
        "the first 1,024 counters are adjacent and in order"
    );
}

/// Moves the value at `from` to `to` in the `codes` keyspace of the closed store in `dir`,
/// by fjall itself, as an edit of the files would: the store's own writes cannot.
fn move_raw(dir: &std::path::Path, from: &[u8], to: &[u8]) {
    let db = fjall::Database::builder(dir).open().expect("fjall");
    let ks = db
        .keyspace("codes", fjall::KeyspaceCreateOptions::default)
        .expect("codes");
    let v = ks.get(from).expect("get").expect("a state at its key");
    let mut b = db.batch().durability(Some(fjall::PersistMode::SyncAll));
    b.remove(&ks, from);
    b.insert(&ks, to, v.to_vec());
    b.commit().expect("move");
}

/// A state moved to another key (a placed code's to its spread key; an SSCC's to another
/// spread prefix) reads as unknown, and the audit's scan, clean before, fails naming the
/// code and both keys.
#[test]
fn a_state_moved_to_another_key_fails_the_scan() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys = codes();
    {
        let s = FjallStore::open_with_placement(dir.path(), placement()).expect("placed");
        write_states(&s, &keys);
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let (placed, sscc) = (keys[5], keys[keys.len() - 1]);
    let placed_at = placement().key(&placed, &mut types::placement::Sequences::default());
    let sscc_at = store_fjall::state_key(&sscc);
    let mut elsewhere = sscc_at.clone();
    elsewhere[0] ^= 0xff;
    for (k, at, to) in [
        (placed, placed_at, store_fjall::state_key(&placed)),
        (sscc, sscc_at, elsewhere),
    ] {
        let s = FjallStore::open_with_placement(dir.path(), placement()).expect("placed");
        assert_eq!(all(&s).len(), keys.len(), "clean before the move");
        drop(s);
        move_raw(dir.path(), &at, &to);
        let s = FjallStore::open_with_placement(dir.path(), placement()).expect("placed");
        assert_eq!(
            s.codes(&[k]).expect("read")[0],
            None,
            "a look-up misses {k}"
        );
        let e = s
            .code_states_after(None, usize::MAX)
            .map(|all| all.len())
            .expect_err("a moved state scanned")
            .to_string();
        assert!(
            e.contains(&k.to_string()) && e.contains(&hex(&to)) && e.contains(&hex(&at)),
            "{e}"
        );
        drop(s);
        move_raw(dir.path(), &to, &at);
    }
}

/// Many states read at once: dense runs of counters (read with one scan each), sparse
/// ones, codes without a state inside a run, keys asked twice, spread codes — each answer
/// is what a read of that key alone gives.
#[test]
fn many_states_read_at_once_as_one_by_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = FjallStore::open_with_placement(dir.path(), placement()).expect("placed");
    let keys = codes();
    // Every state but each fifth, and none past counter 2,000.
    let stored: Vec<(CodeKey, CodeState)> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 != 2 && !(2_000..2_500).contains(i))
        .map(|(i, k)| (*k, state(i)))
        .collect();
    s.commit(&WriteSet {
        codes: stored.clone(),
        ..WriteSet::default()
    })
    .expect("commit");
    let mut asks: Vec<Vec<CodeKey>> = vec![
        keys.clone(),
        keys.iter().rev().copied().collect(),
        keys.iter().step_by(37).copied().collect(),
        keys[1_990..2_010].to_vec(),
        keys[..9].iter().chain(&keys[..9]).copied().collect(),
    ];
    // Two dense runs interleaved, with the spread codes between.
    let mut mixed = Vec::new();
    for i in 0..300 {
        mixed.push(keys[i]);
        mixed.push(keys[1_500 + i]);
        if i == 150 {
            mixed.extend_from_slice(&keys[2_500..]);
        }
    }
    asks.push(mixed);
    for ask in &asks {
        let got = s.codes(ask).expect("read");
        assert_eq!(got.len(), ask.len());
        for (k, g) in ask.iter().zip(&got) {
            let alone = s.codes(std::slice::from_ref(k)).expect("alone")[0];
            assert_eq!(g, &alone, "{k}");
            let want = stored.iter().find(|(x, _)| x == k).map(|(_, st)| *st);
            assert_eq!(*g, want, "{k}");
        }
    }
}
