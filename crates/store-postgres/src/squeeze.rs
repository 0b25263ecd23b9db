//! Schema 13's compressed values (`src/sql/0013_schema.sql`): documents' bodies and the
//! feed's facts are compressed here with zstd before they are sent, and a row's `zstd`
//! column says so.
//!
//! Why here and not PostgreSQL's own compression: PostgreSQL 15 offers pglz and lz4 for
//! a column, and both leave most of a body of codes: a 1,000-code document's 34 kB of
//! JSON kept 0.51 of its size under pglz (0.47 under lz4) and 0.30 under zstd, near the
//! serials' own entropy; a feed fact kept 0.57 under pglz and 0.36 under zstd.
//! At 100 M codes the two tables were 91 of 227 bytes a code (schema 11).

use crate::{err, StoreResult};

/// Values shorter than this are stored as they are: too short to gain.
pub const FROM: usize = 256;

/// zstd's level: 1, its fastest. On these values it also compresses best (a 1,000-code
/// body: 10,106 bytes at 1, 10,179 at 3, 10,209 at 5): random serials leave the higher
/// levels' longer searches nothing to find.
pub const LEVEL: i32 = 1;

/// The largest value a stored frame may expand to (a corrupt or hostile row is refused,
/// not allocated): far above any body the server takes.
pub const UNPACKED_MAX: usize = 256 << 20;

/// The value to store and whether it is compressed: compressed when it is at least
/// [`FROM`] bytes long and compression saves at least a tenth of it.
pub fn pack(value: &[u8]) -> (Vec<u8>, bool) {
    if value.len() >= FROM {
        let z = COMPRESSOR.with_borrow_mut(|slot| {
            let c = match slot {
                Some(c) => c,
                None => slot.insert(zstd::bulk::Compressor::new(LEVEL).ok()?),
            };
            c.compress(value).ok()
        });
        if let Some(z) = z.filter(|z| z.len() <= value.len() - value.len() / 10) {
            return (z, true);
        }
    }
    (value.to_vec(), false)
}

thread_local! {
    /// Each thread's zstd contexts, made once: made per value they took a third of the
    /// time zstd had of the server (`perf` at 70 M codes in `bench --scale --postgres`:
    /// making contexts 0.7 % of the server's samples, compressing and decompressing 1.4 %).
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// A stored value read back: decompressed when its row says `zstd`.
pub fn unpack(stored: Vec<u8>, zstd: bool) -> StoreResult<Vec<u8>> {
    if !zstd {
        return Ok(stored);
    }
    // The frame states its size (`bulk::compress` writes it); a frame without one, or
    // over the cap, is a corrupt row.
    let size = zstd::zstd_safe::get_frame_content_size(&stored)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= UNPACKED_MAX)
        .ok_or_else(|| err("a compressed value without a size, or over the cap"))?;
    let out = DECOMPRESSOR
        .with_borrow_mut(|slot| {
            let d = match slot {
                Some(d) => d,
                None => slot.insert(zstd::bulk::Decompressor::new()?),
            };
            d.decompress(&stored, size)
        })
        .map_err(|e| err(format!("a compressed value that does not decompress: {e}")))?;
    if out.len() != size {
        return Err(err("a compressed value shorter than its frame says"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_incompressible_values_stay_raw_and_others_round_trip() {
        assert_eq!(pack(b"{}"), (b"{}".to_vec(), false));
        // Random bytes gain nothing.
        use sha2::Digest;
        let noise: Vec<u8> = (0u32..128)
            .flat_map(|i| sha2::Sha256::digest(i.to_le_bytes()))
            .collect();
        assert_eq!(pack(&noise), (noise.clone(), false));
        let body = br#"{"codes":["0104600000001001421NesqDGrwkfou5"]}"#.repeat(100);
        let (stored, z) = pack(&body);
        assert!(z && stored.len() < body.len() / 4);
        assert_eq!(unpack(stored, true).expect("round trip"), body);
        assert_eq!(unpack(body.clone(), false).expect("raw"), body);
    }

    #[test]
    fn corrupt_frames_are_refused() {
        let (mut stored, _) = pack(&b"0104600000001001421".repeat(100));
        stored.truncate(stored.len() / 2);
        assert!(unpack(stored, true).is_err());
        assert!(unpack(b"not a frame".to_vec(), true).is_err());
    }
}
