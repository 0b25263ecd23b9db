//! `aggregate` and `disaggregate`: packages formed and dissolved (docs/domain.md,
//! "Aggregation").

use super::common::{
    codes_refused, common_checks, parse_list, require_list, sscc_prefix_ok, DocContext, Listed,
    Plan, Refusal,
};
use crate::documents::RawDocument;
use crate::tx::Tx;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use store::Store;
use types::error::{Error, Result};
use types::model::{CodeKey, CodeState, Status};

/// `aggregate`: the listed children go into the parent (an SSCC formed here, or a package
/// the actor holds), all of one status, none already packed; the parent's expiry, and its
/// own packages', become the earliest inside.
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
        Ok(p) => Some(p.key),
        Err(r) => {
            refusal.add(&parent_text, r);
            None
        }
    };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let children = children_of(tx, ctx, &listed, parent, &mut refusal)?;
    let mut parent_state = None;
    if let Some(pk) = parent {
        let child_set: HashSet<CodeKey> = keys.iter().copied().collect();
        match parent_of(tx, ctx, pk, children.status, &child_set)? {
            Ok(st) => parent_state = Some(st),
            Err(reason) => refusal.add(&parent_text, reason),
        }
    }
    refusal.check(|n| codes_refused(n, None))?;
    let (Some(pk), Some(mut ps)) = (parent, parent_state) else {
        return Err(Error::invalid("`parent` is required"));
    };
    let (states, expiry) = (children.states, children.expiry);
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
        st.parent = Some(pk);
        plan.link.push((pk, k));
        plan.changes.push((k, st));
    }
    plan.changes.push((pk, ps));
    Ok(plan)
}

/// The children of an aggregation as checked: their states, their one status, and the
/// earliest expiry among them.
struct Children {
    states: Vec<(CodeKey, CodeState)>,
    status: Option<Status>,
    expiry: u32,
}

/// Checks each listed child: the actor's, not in transit, not the parent, in no package,
/// applied or introduced, all of one status.
fn children_of<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    listed: &[Listed],
    parent: Option<CodeKey>,
    refusal: &mut Refusal,
) -> Result<Children> {
    let mut c = Children {
        states: Vec::with_capacity(listed.len()),
        status: None,
        expiry: 0,
    };
    for l in listed {
        let Some(st) = common_checks(tx, ctx, l, refusal)? else {
            continue;
        };
        let bad = if parent == Some(l.parsed.key) {
            Some("cycle")
        } else if st.parent.is_some() {
            Some("in_aggregate")
        } else if !matches!(st.status, Status::Applied | Status::Introduced) {
            Some("wrong_status")
        } else if c.status.is_some_and(|s| s != st.status) {
            Some("status_mismatch")
        } else {
            None
        };
        if let Some(r) = bad {
            refusal.add(&l.text, r);
            continue;
        }
        c.status = Some(st.status);
        if st.expiry_day != 0 && (c.expiry == 0 || st.expiry_day < c.expiry) {
            c.expiry = st.expiry_day;
        }
        c.states.push((l.parsed.key, st));
    }
    Ok(c)
}

/// The parent's state for an aggregation of children of `status`, or why it may not be
/// one: a new SSCC (within the actor's prefixes), or a package the actor holds, not in
/// transit, of the same status, and not inside one of its new children.
fn parent_of<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    pk: CodeKey,
    status: Option<Status>,
    children: &HashSet<CodeKey>,
) -> Result<std::result::Result<CodeState, &'static str>> {
    let Some(st) = tx.code(&pk)? else {
        if !pk.is_sscc() {
            return Ok(Err("unknown_code"));
        }
        if !sscc_prefix_ok(ctx, &pk) {
            return Ok(Err("foreign_prefix"));
        }
        let mut st = CodeState::new(status.unwrap_or(Status::Introduced), ctx.actor.id, tx.now);
        st.producer = ctx.actor.id;
        return Ok(Ok(st));
    };
    if st.owner != ctx.actor.id {
        return Ok(Err("not_owner"));
    }
    if st.in_transit() {
        return Ok(Err("in_transit"));
    }
    if status.is_some_and(|s| s != st.status) {
        return Ok(Err("status_mismatch"));
    }
    let mut anc = st.parent;
    while let Some(a) = anc {
        if children.contains(&a) {
            return Ok(Err("cycle"));
        }
        anc = tx.code(&a)?.and_then(|s| s.parent);
    }
    Ok(Ok(st))
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
