//! `aggregate` and `disaggregate`: packages formed and dissolved (docs/domain.md,
//! "Aggregation").

use super::common::{
    codes_refused, common_checks, parse_list, require_list, sscc_prefix_ok, DocContext, Plan,
    Refusal,
};
use crate::documents::RawDocument;
use crate::tx::Tx;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use store::Store;
use types::error::{Error, Result};
use types::model::{CodeKey, CodeState, Status};

pub(crate) fn plan_aggregate<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let parent_item = raw
        .parent
        .as_ref()
        .ok_or_else(|| Error::invalid("`parent` is required"))?;
    let parent_text = parent_item.text.clone();
    let list = require_list("children", &raw.children)?;
    let mut refusal = Refusal { errors: Vec::new() };
    let parent = match &parent_item.parsed {
        Ok(p) => Some(p.clone()),
        Err(r) => {
            refusal.add(&parent_text, r);
            None
        }
    };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let child_set: HashSet<CodeKey> = keys.iter().copied().collect();
    let mut status = None;
    let mut expiry = 0u32;
    let mut states = Vec::with_capacity(listed.len());
    for l in &listed {
        let Some(st) = common_checks(tx, ctx, l, &mut refusal)? else {
            continue;
        };
        if parent.as_ref().is_some_and(|p| p.key == l.parsed.key) {
            refusal.add(&l.text, "cycle");
            continue;
        }
        if st.parent.is_some() {
            refusal.add(&l.text, "in_aggregate");
            continue;
        }
        if !matches!(st.status, Status::Applied | Status::Introduced) {
            refusal.add(&l.text, "wrong_status");
            continue;
        }
        match status {
            None => status = Some(st.status),
            Some(s) if s != st.status => {
                refusal.add(&l.text, "status_mismatch");
                continue;
            }
            _ => {}
        }
        if st.expiry_day != 0 && (expiry == 0 || st.expiry_day < expiry) {
            expiry = st.expiry_day;
        }
        states.push((l.parsed.key, st));
    }
    let mut parent_state = None;
    if let Some(p) = &parent {
        let pk = p.key;
        match tx.code(&pk)? {
            None if pk.is_sscc() && !sscc_prefix_ok(ctx, &pk) => {
                refusal.add(&parent_text, "foreign_prefix");
            }
            None if pk.is_sscc() => {
                let mut st =
                    CodeState::new(status.unwrap_or(Status::Introduced), ctx.actor.id, tx.now);
                st.producer = ctx.actor.id;
                parent_state = Some(st);
            }
            None => refusal.add(&parent_text, "unknown_code"),
            Some(st) => {
                if st.owner != ctx.actor.id {
                    refusal.add(&parent_text, "not_owner");
                } else if st.in_transit() {
                    refusal.add(&parent_text, "in_transit");
                } else if status.is_some_and(|s| s != st.status) {
                    refusal.add(&parent_text, "status_mismatch");
                } else {
                    // The parent may not sit inside one of its new children.
                    let mut anc = st.parent;
                    let mut cycle = false;
                    while let Some(a) = anc {
                        if child_set.contains(&a) {
                            cycle = true;
                            break;
                        }
                        anc = tx.code(&a)?.and_then(|s| s.parent);
                    }
                    if cycle {
                        refusal.add(&parent_text, "cycle");
                    } else {
                        parent_state = Some(st);
                    }
                }
            }
        }
    }
    refusal.check(|n| codes_refused(n, None))?;
    let (Some(p), Some(mut ps)) = (parent, parent_state) else {
        return Err(Error::invalid("`parent` is required"));
    };
    let mut plan = Plan::default();
    ps.children += states.len() as u32;
    if expiry != 0 && (ps.expiry_day == 0 || expiry < ps.expiry_day) {
        ps.expiry_day = expiry;
    }
    ps.changed_at = tx.now;
    // The packages holding the parent hold the new contents too: their expiry is the
    // earliest of everything inside.
    let mut anc = ps.parent;
    while let Some(a) = anc {
        let Some(mut st) = tx.code(&a)? else { break };
        anc = st.parent;
        if expiry != 0 && (st.expiry_day == 0 || expiry < st.expiry_day) {
            st.expiry_day = expiry;
            plan.touched.push((a, st));
        }
    }
    for (k, mut st) in states {
        st.parent = Some(p.key);
        plan.link.push((p.key, k));
        plan.changes.push((k, st));
    }
    plan.changes.push((p.key, ps));
    Ok(plan)
}

pub(crate) fn plan_disaggregate<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let list = require_list("parents", &raw.parents)?;
    let mut refusal = Refusal { errors: Vec::new() };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let mut plan = Plan::default();
    // A package listed with the package holding it changes once, with both effects.
    let mut index: HashMap<CodeKey, usize> = HashMap::default();
    let mut change = |plan: &mut Plan, k: CodeKey, st: CodeState, f: &dyn Fn(&mut CodeState)| {
        match index.get(&k) {
            Some(&i) => f(&mut plan.changes[i].1),
            None => {
                let mut st = st;
                f(&mut st);
                index.insert(k, plan.changes.len());
                plan.changes.push((k, st));
            }
        }
    };
    for l in &listed {
        let Some(st) = common_checks(tx, ctx, l, &mut refusal)? else {
            continue;
        };
        if st.children == 0 {
            refusal.add(&l.text, "not_a_package");
            continue;
        }
        let kids = tx.children(&l.parsed.key)?;
        tx.load(&kids)?;
        for c in kids {
            if let Some(cs) = tx.code(&c)? {
                plan.unlink.push((l.parsed.key, c));
                change(&mut plan, c, cs, &|s| s.parent = None);
            }
        }
        change(&mut plan, l.parsed.key, st, &|s| s.children = 0);
    }
    refusal.check(|_| "packages refused; nothing was changed".into())?;
    let now = tx.now;
    for (_, st) in &mut plan.changes {
        st.changed_at = now;
    }
    Ok(plan)
}
