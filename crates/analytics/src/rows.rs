//! The projection's stored rows: the cached look-ups first (their keys sort first, so
//! loading meets them before the cells that need them), then the base cells. Roll-ups are
//! not stored: loading rebuilds them from the base, as applying built them.
//!
//! | key | value |
//! |---|---|
//! | `0` ‖ participant id (u32 BE) | version ‖ region length (u8) ‖ region ‖ TIN |
//! | `1` ‖ GTIN (u64 BE) | version ‖ card owner (u32 BE) ‖ product group |
//! | `f` ‖ sender ‖ receiver (u32 BE) ‖ GTIN ‖ local day (i32, sign-flipped BE) | units (u64 LE) |
//! | `k` ‖ holder ‖ GTIN | units in circulation (i64 LE) |
//! | `r` ‖ seller ‖ GTIN ‖ local hour | units returned (u64 LE) |
//! | `s` ‖ seller ‖ GTIN ‖ local hour | units sold (u64 LE) |

use crate::{time, Analytics};
use registry::project::RowChange;

/// The format of the look-up rows.
const ROW_VERSION: u8 = 1;

/// A stored row this version cannot read.
#[derive(Debug, thiserror::Error)]
#[error("analytics row {key:02x?}: {why}")]
pub(crate) struct RowError {
    key: Vec<u8>,
    why: &'static str,
}

/// A time index, sign-flipped so that byte order is numeric order.
fn t_bytes(t: i32) -> [u8; 4] {
    ((t as u32) ^ 0x8000_0000).to_be_bytes()
}

fn t_of(b: [u8; 4]) -> i32 {
    (u32::from_be_bytes(b) ^ 0x8000_0000) as i32
}

fn cell_key(tag: u8, a: u32, gtin: u64, t: i32) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(tag);
    k.extend_from_slice(&a.to_be_bytes());
    k.extend_from_slice(&gtin.to_be_bytes());
    k.extend_from_slice(&t_bytes(t));
    k
}

struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (h, t) = self.b.split_at_checked(N)?;
        self.b = t;
        h.try_into().ok()
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_be_bytes)
    }
    fn t(&mut self) -> Option<i32> {
        self.take::<4>().map(t_of)
    }
    fn done(&self) -> bool {
        self.b.is_empty()
    }
}

fn value_u64(v: &[u8]) -> Option<u64> {
    v.try_into().ok().map(u64::from_le_bytes)
}

/// Takes one stored row.
pub(crate) fn load(a: &mut Analytics, key: &[u8], value: &[u8]) -> Result<(), RowError> {
    let err = |why| RowError {
        key: key.to_vec(),
        why,
    };
    let (&tag, rest) = key.split_first().ok_or_else(|| err("empty key"))?;
    let mut k = Reader { b: rest };
    match tag {
        b'0' => {
            let id = k.u32().ok_or_else(|| err("short key"))?;
            let (&ver, v) = value.split_first().ok_or_else(|| err("empty value"))?;
            if ver != ROW_VERSION {
                return Err(err("unknown version"));
            }
            let (&n, v) = v.split_first().ok_or_else(|| err("short value"))?;
            let (region, tin) = v
                .split_at_checked(usize::from(n))
                .ok_or_else(|| err("short value"))?;
            let region = std::str::from_utf8(region).map_err(|_| err("region not UTF-8"))?;
            let tin = std::str::from_utf8(tin).map_err(|_| err("TIN not UTF-8"))?;
            a.put_part(id, tin, region);
        }
        b'1' => {
            let gtin = k.u64().ok_or_else(|| err("short key"))?;
            let (&ver, v) = value.split_first().ok_or_else(|| err("empty value"))?;
            if ver != ROW_VERSION {
                return Err(err("unknown version"));
            }
            let (owner, group) = v.split_at_checked(4).ok_or_else(|| err("short value"))?;
            let owner = u32::from_be_bytes(owner.try_into().map_err(|_| err("short value"))?);
            let group = std::str::from_utf8(group).map_err(|_| err("group not UTF-8"))?;
            a.put_prod(gtin, group, owner);
        }
        b's' | b'r' => {
            let (seller, gtin, hour) = match (k.u32(), k.u64(), k.t()) {
                (Some(s), Some(g), Some(h)) if k.done() => (s, g, h),
                _ => return Err(err("bad key")),
            };
            let n = value_u64(value).ok_or_else(|| err("bad value"))?;
            let region = a
                .parts
                .get(&seller)
                .ok_or_else(|| err("seller not loaded"))?
                .region;
            let prod = *a.prods.get(&gtin).ok_or_else(|| err("GTIN not loaded"))?;
            let utc = time::utc_hour_of_local(&a.regions[usize::from(region)].tz, hour);
            let cube = if tag == b's' {
                &mut a.sales
            } else {
                &mut a.returns
            };
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            cube.add(seller, region, gtin, prod, hour, utc, n);
        }
        b'k' => {
            let (holder, gtin) = match (k.u32(), k.u64()) {
                (Some(h), Some(g)) if k.done() => (h, g),
                _ => return Err(err("bad key")),
            };
            let n = value_u64(value).ok_or_else(|| err("bad value"))? as i64;
            let region = a
                .parts
                .get(&holder)
                .ok_or_else(|| err("holder not loaded"))?
                .region;
            let prod = *a.prods.get(&gtin).ok_or_else(|| err("GTIN not loaded"))?;
            a.stock.add(holder, region, gtin, prod, n);
        }
        b'f' => {
            let (sender, receiver, gtin, day) = match (k.u32(), k.u32(), k.u64(), k.t()) {
                (Some(s), Some(r), Some(g), Some(d)) if k.done() => (s, r, g, d),
                _ => return Err(err("bad key")),
            };
            let n = value_u64(value).ok_or_else(|| err("bad value"))?;
            let owner = a
                .prods
                .get(&gtin)
                .ok_or_else(|| err("GTIN not loaded"))?
                .owner;
            let (Some(from), Some(to)) = (a.parts.get(&sender), a.parts.get(&receiver)) else {
                return Err(err("participant not loaded"));
            };
            let (from, to) = (from.region, to.region);
            a.flows.add(
                (sender, receiver, gtin),
                owner,
                from,
                to,
                day,
                u32::try_from(n).unwrap_or(u32::MAX),
            );
        }
        _ => return Err(err("unknown row kind")),
    }
    Ok(())
}

/// The rows changed since the last call: new look-ups, then changed cells (a stock cell
/// back at zero is deleted).
pub(crate) fn take_changes(a: &mut Analytics) -> Vec<RowChange> {
    let mut out = Vec::new();
    for id in std::mem::take(&mut a.new_parts) {
        let Some(p) = a.parts.get(&id) else { continue };
        let region = &a.regions[usize::from(p.region)].code;
        let mut k = vec![b'0'];
        k.extend_from_slice(&id.to_be_bytes());
        let mut v = vec![ROW_VERSION, region.len().min(255) as u8];
        v.extend_from_slice(&region.as_bytes()[..region.len().min(255)]);
        v.extend_from_slice(p.tin.as_bytes());
        out.push((k, Some(v)));
    }
    for gtin in std::mem::take(&mut a.new_prods) {
        let Some(p) = a.prods.get(&gtin) else {
            continue;
        };
        let mut k = vec![b'1'];
        k.extend_from_slice(&gtin.to_be_bytes());
        let mut v = vec![ROW_VERSION];
        v.extend_from_slice(&p.owner.to_be_bytes());
        v.extend_from_slice(a.groups[usize::from(p.group)].as_bytes());
        out.push((k, Some(v)));
    }
    for (tag, cube) in [(b's', &mut a.sales), (b'r', &mut a.returns)] {
        for (seller, gtin, hour) in std::mem::take(&mut cube.dirty) {
            let n = cube
                .base
                .get(&seller)
                .and_then(|g| g.get(&gtin))
                .map_or(0, |s| s.get(hour));
            let k = cell_key(tag, seller, gtin, hour);
            out.push((k, (n > 0).then(|| n.to_le_bytes().to_vec())));
        }
    }
    for (holder, gtin) in std::mem::take(&mut a.stock.dirty) {
        let n = a
            .stock
            .base
            .get(&holder)
            .and_then(|g| g.get(&gtin))
            .copied()
            .unwrap_or(0);
        let mut k = vec![b'k'];
        k.extend_from_slice(&holder.to_be_bytes());
        k.extend_from_slice(&gtin.to_be_bytes());
        out.push((k, (n != 0).then(|| n.to_le_bytes().to_vec())));
    }
    for ((sender, receiver, gtin), day) in std::mem::take(&mut a.flows.dirty) {
        let n = a
            .flows
            .base
            .get(&(sender, receiver, gtin))
            .map_or(0, |s| s.get(day));
        let mut k = vec![b'f'];
        k.extend_from_slice(&sender.to_be_bytes());
        k.extend_from_slice(&receiver.to_be_bytes());
        k.extend_from_slice(&gtin.to_be_bytes());
        k.extend_from_slice(&t_bytes(day));
        out.push((k, (n > 0).then(|| n.to_le_bytes().to_vec())));
    }
    out
}
