//! The nonce journal: every signature that verified (a signed request's nonce, a used
//! sign-in challenge) is written here, durably, before the request is acted on, and read
//! back on a start. So a refused request — whose nonce no log leaf keeps — cannot be
//! replayed after a restart either (issue 14, finding 9), whatever its outcome was.
//!
//! Files `<slot>.nonces` in the journal's directory, one per [`crate::auth::NONCE_TTL_SECS`]
//! slot of time: an entry is needed for one window at most, so a start reads the current
//! and the previous slot's files and every file older than that is deleted. Records are
//! fixed [`RECORD_LEN`] bytes (kind, participant, time, 16-byte hash); a torn last record
//! (a crash mid-write) is ignored. Appends are group-committed: one `fdatasync` covers
//! every record that arrived while the previous one ran, so many concurrent signers share
//! one disk flush.

use parking_lot::{Condvar, Mutex};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where used nonces are made durable: this module's files ([`Journal`], one process's),
/// or a database every process serving it shares (`serve --postgres`: a replay sent to any
/// of them is caught).
pub trait NonceStore: Send + Sync {
    /// Records `r` durably before returning; `Ok(false)` when it was recorded before (a
    /// replay another process saw first).
    fn record(&self, r: Record) -> std::io::Result<bool>;
    /// The records from `since` on (Unix seconds), to remember at a start.
    fn since(&self, since: u64) -> std::io::Result<Vec<Record>>;
}

impl NonceStore for Journal {
    fn record(&self, r: Record) -> std::io::Result<bool> {
        self.append(r).map(|()| true)
    }

    /// Nothing: [`Journal::open`] hands its records over once.
    fn since(&self, _since: u64) -> std::io::Result<Vec<Record>> {
        Ok(Vec::new())
    }
}

/// Bytes of one record: kind (1), participant (4), time (8), hash (16).
pub const RECORD_LEN: usize = 1 + 4 + 8 + 16;

/// What a record remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A signed request's nonce ([`crate::auth::nonce_hash`]).
    RequestNonce = 0,
    /// A used sign-in challenge's MAC.
    Challenge = 1,
}

/// One remembered use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// What it is.
    pub kind: Kind,
    /// Whose.
    pub participant: u32,
    /// When it was seen (Unix seconds, the registry's clock).
    pub at: u64,
    /// The nonce's or challenge's 16 bytes.
    pub hash: [u8; 16],
}

impl Kind {
    /// The kind of a stored byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::RequestNonce),
            1 => Some(Kind::Challenge),
            _ => None,
        }
    }
}

impl Record {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        out.extend_from_slice(&self.participant.to_le_bytes());
        out.extend_from_slice(&self.at.to_le_bytes());
        out.extend_from_slice(&self.hash);
    }

    fn decode(b: &[u8]) -> Option<Record> {
        let b: &[u8; RECORD_LEN] = b.try_into().ok()?;
        let kind = match b[0] {
            0 => Kind::RequestNonce,
            1 => Kind::Challenge,
            _ => return None,
        };
        Some(Record {
            kind,
            participant: u32::from_le_bytes(b[1..5].try_into().ok()?),
            at: u64::from_le_bytes(b[5..13].try_into().ok()?),
            hash: b[13..29].try_into().ok()?,
        })
    }
}

/// The journal (see the module's documentation).
pub struct Journal {
    dir: PathBuf,
    /// Seconds of one file's slot.
    slot_secs: u64,
    state: Mutex<State>,
    flushed: Condvar,
}

#[derive(Default)]
struct State {
    /// Records waiting for the next flush.
    pending: Vec<u8>,
    /// The time of the newest pending record (its slot names the file).
    pending_at: u64,
    /// Tickets handed out and flushed: a record is durable when `flushed ≥ its ticket`.
    issued: u64,
    flushed: u64,
    /// Whether a thread is writing and syncing now (the others wait for it).
    flushing: bool,
    /// The open file and its slot (taken out while a flush runs).
    file: Option<(u64, std::fs::File)>,
    /// The last flush's failure, told to the requests it covered.
    failed_upto: u64,
}

impl Journal {
    /// Opens (creating) the journal in `dir`, deletes files older than a window before
    /// `now`, and returns it with the records of the last `window` seconds, oldest first.
    pub fn open(dir: &Path, window: u64, now: u64) -> std::io::Result<(Journal, Vec<Record>)> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            // Who signed what, when: the operator's to read, nobody else's.
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
        let slot_secs = window.max(1);
        let current = now / slot_secs;
        let mut files: Vec<(u64, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let path = e?.path();
            let slot = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".nonces"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(slot) = slot {
                files.push((slot, path));
            }
        }
        files.sort();
        let mut records = Vec::new();
        for (slot, path) in files {
            if slot + 1 < current {
                // Every record in it is older than a window.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let bytes = std::fs::read(&path)?;
            for chunk in bytes.chunks_exact(RECORD_LEN) {
                if let Some(r) = Record::decode(chunk) {
                    if r.at + window > now {
                        records.push(r);
                    }
                }
            }
        }
        records.sort_by_key(|r| r.at);
        Ok((
            Journal {
                dir: dir.to_path_buf(),
                slot_secs,
                state: Mutex::new(State::default()),
                flushed: Condvar::new(),
            },
            records,
        ))
    }

    fn file_for(&self, slot: u64) -> std::io::Result<std::fs::File> {
        let mut f = std::fs::OpenOptions::new();
        f.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            f.mode(0o600);
        }
        let file = f.open(self.dir.join(format!("{slot}.nonces")))?;
        // A file needs its directory entry durable too (once, when it is made).
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        // Files of slots before the previous one hold nothing a replay could use.
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let p = e.path();
                let old = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".nonces"))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|s| s + 1 < slot);
                if old {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        Ok(file)
    }

    /// Writes `r` and returns once it is on disk (blocking: call it off the async
    /// threads). Concurrent calls share one flush.
    pub fn append(&self, r: Record) -> std::io::Result<()> {
        let mut s = self.state.lock();
        r.encode(&mut s.pending);
        s.pending_at = s.pending_at.max(r.at);
        s.issued += 1;
        let ticket = s.issued;
        loop {
            if s.flushed >= ticket {
                return if s.failed_upto >= ticket {
                    Err(std::io::Error::other(
                        "the nonce journal could not be written",
                    ))
                } else {
                    Ok(())
                };
            }
            if s.flushing {
                self.flushed.wait(&mut s);
                continue;
            }
            // This thread flushes everything pending, its own record among it.
            s.flushing = true;
            let bytes = std::mem::take(&mut s.pending);
            let upto = s.issued;
            let slot = s.pending_at / self.slot_secs;
            let file = s.file.take();
            drop(s);
            let (file, result) = self.flush(file, slot, &bytes);
            s = self.state.lock();
            s.file = file;
            s.flushing = false;
            s.flushed = upto;
            if result.is_err() {
                s.failed_upto = upto;
            }
            self.flushed.notify_all();
        }
    }

    fn flush(
        &self,
        file: Option<(u64, std::fs::File)>,
        slot: u64,
        bytes: &[u8],
    ) -> (Option<(u64, std::fs::File)>, std::io::Result<()>) {
        let mut f = match file {
            Some((s, f)) if s == slot => f,
            _ => match self.file_for(slot) {
                Ok(f) => f,
                Err(e) => return (None, Err(e)),
            },
        };
        let r = f.write_all(bytes).and_then(|()| f.sync_data());
        (Some((slot, f)), r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_reopen_within_the_window_only() {
        let dir = tempfile::tempdir().expect("dir");
        let (j, old) = Journal::open(dir.path(), 600, 10_000).expect("open");
        assert!(old.is_empty());
        let r = |at, p| Record {
            kind: Kind::RequestNonce,
            participant: p,
            at,
            hash: [p as u8; 16],
        };
        std::thread::scope(|s| {
            for p in 0..8u32 {
                let j = &j;
                s.spawn(move || j.append(r(10_000 + p as u64, p)).expect("append"));
            }
        });
        j.append(Record {
            kind: Kind::Challenge,
            ..r(10_700, 9)
        })
        .expect("append");
        drop(j);
        let (_, back) = Journal::open(dir.path(), 600, 10_100).expect("reopen");
        assert_eq!(back.len(), 9);
        assert_eq!(back.last().map(|r| r.kind), Some(Kind::Challenge));
        // A window later, the first eight are gone.
        let (_, back) = Journal::open(dir.path(), 600, 10_650).expect("reopen");
        assert_eq!(back.len(), 1);
        // Two windows later, their file is deleted.
        let (_, back) = Journal::open(dir.path(), 600, 12_000).expect("reopen");
        assert!(back.is_empty());
        assert!(!dir.path().join(format!("{}.nonces", 10_000 / 600)).exists());
    }
}
