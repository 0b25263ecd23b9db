//! `accept`: the receiver takes a shipment, or rejects some of its codes, which go back to
//! the sender.

use super::common::{parse_list, DocContext, Plan, Refusal};
use crate::documents::{stored_body, RawDocument};
use crate::tx::Tx;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use store::Store;
use types::error::{Error, Result};
use types::limits::DOC_CODES_MAX;
use types::model::{CodeKey, CodeState, DocType, FLAG_IN_TRANSIT};
use uuid::Uuid;

/// `accept`: every code of the shipment still in transit becomes the receiver's, but those
/// it rejects (they stay the sender's, out of any package that goes on).
pub(crate) fn plan_accept<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let (ship_id, ship_seq, all) = shipment_of(tx, ctx, raw)?;
    let mut plan = Plan::default();
    let (rejected, parents) = rejections(tx, raw, ship_seq, &all, &mut plan)?;
    let unlinked: HashSet<CodeKey> = plan.unlink.iter().map(|(_, c)| *c).collect();
    let now = tx.now;
    for k in all {
        let Some(mut st) = tx.code(&k)? else { continue };
        if !(st.in_transit() && st.shipment == ship_seq) {
            continue;
        }
        if let Some(ps) = parents.get(&k) {
            st.children = ps.children;
        }
        if unlinked.contains(&k) {
            st.parent = None;
        }
        if !rejected.contains(&k) {
            st.owner = ctx.actor.id;
        }
        st.flags &= !FLAG_IN_TRANSIT;
        st.receiver = 0;
        st.shipment = 0;
        st.changed_at = now;
        plan.changes.push((k, st));
    }
    plan.closes_shipment = Some(ship_id);
    Ok(plan)
}

/// The shipment a document accepts — addressed to the actor, not accepted before — as its
/// id, its sequence number and every code in it now (in-transit codes cannot change).
fn shipment_of<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<(Uuid, u64, Vec<CodeKey>)> {
    let ship_id = raw
        .shipment
        .ok_or_else(|| Error::invalid("`shipment` is required"))?;
    let ship = tx
        .document(&ship_id)?
        .filter(|d| d.doc_type == DocType::Ship)
        .ok_or_else(|| Error::invalid(format!("no ship document {ship_id}")))?;
    let ship_raw = stored_body(&ship.body)?;
    let receiver_tin = ship_raw.receiver.clone().unwrap_or_default();
    if receiver_tin != ctx.actor.tin {
        return Err(Error::Forbidden(format!(
            "shipment {ship_id} is not addressed to you"
        )));
    }
    if let Some(by) = tx.shipment_closed_by(&ship_id)? {
        return Err(Error::Conflict(format!(
            "shipment {ship_id} was already accepted by document {by}"
        )));
    }
    let mut all = Vec::new();
    for item in ship_raw.codes.as_deref().unwrap_or(&[]) {
        if let Ok(p) = &item.parsed {
            all.push(p.key);
            tx.descendants(&p.key, &mut all)?;
        }
    }
    tx.load(&all)?;
    Ok((ship_id, ship.seq, all))
}

/// The codes an acceptance rejects (each must be in the shipment and in transit), with
/// everything they hold; packages that go on lose them (`plan.unlink`, and their new child
/// counts returned).
type Rejected = (HashSet<CodeKey>, HashMap<CodeKey, CodeState>);

fn rejections<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    raw: &RawDocument,
    ship_seq: u64,
    all: &[CodeKey],
    plan: &mut Plan,
) -> Result<Rejected> {
    let in_shipment: HashSet<CodeKey> = all.iter().copied().collect();
    let mut refusal = Refusal { errors: Vec::new() };
    let rejected_listed = match &raw.reject {
        Some(list) if list.len() > DOC_CODES_MAX => {
            return Err(Error::TooLarge("too many codes in `reject`".into()))
        }
        Some(list) => parse_list(list, &mut refusal),
        None => Vec::new(),
    };
    let rejected_keys: HashSet<CodeKey> = rejected_listed.iter().map(|l| l.parsed.key).collect();
    let mut rejected: HashSet<CodeKey> = HashSet::default();
    let mut parents: HashMap<CodeKey, CodeState> = HashMap::default();
    for l in &rejected_listed {
        let k = l.parsed.key;
        match tx.code(&k)? {
            Some(st) if in_shipment.contains(&k) && st.shipment == ship_seq && st.in_transit() => {
                if !rejected.insert(k) {
                    continue;
                }
                let mut sub = Vec::new();
                tx.descendants(&k, &mut sub)?;
                rejected.extend(sub);
                // Taken out of a package that goes on to the receiver.
                if let Some(p) = st.parent.filter(|p| !rejected_keys.contains(p)) {
                    let mut ps = match parents.get(&p) {
                        Some(s) => *s,
                        None => tx.code(&p)?.unwrap_or(st),
                    };
                    ps.children = ps.children.saturating_sub(1);
                    parents.insert(p, ps);
                    plan.unlink.push((p, k));
                }
            }
            _ => refusal.add(&l.text, "not_in_shipment"),
        }
    }
    refusal.check(|_| "rejected codes refused; nothing was changed".into())?;
    Ok((rejected, parents))
}
