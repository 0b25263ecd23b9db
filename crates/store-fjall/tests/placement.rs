//! Placement: codes' states kept in counter order by the issuing serial permutation. A
//! store written spread moves its states once when opened with a placement, reads the same
//! codes after, and a placed store opened without the keyring refuses to read states
//! rather than answer "unknown".

use registry::model::{CodeKey, CodeState, Status};
use registry::{Store, WriteSet};
use store_fjall::{FjallStore, Placement};

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
    s.commit(&WriteSet {
        codes: keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, state(i)))
            .collect(),
        ..WriteSet::default()
    })
    .expect("commit");
    // In scan order, counters 0..1,024 come as one run, in counter order.
    let scan = s.code_states_after(None, usize::MAX).expect("scan");
    let pos = |k: &CodeKey| scan.iter().position(|(x, _)| x == k).expect("scanned");
    let run: Vec<usize> = keys[..1_024].iter().map(pos).collect();
    assert!(
        run.windows(2).all(|w| w[1] == w[0] + 1),
        "the first 1,024 counters are adjacent and in order"
    );
}
