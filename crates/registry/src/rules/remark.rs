//! `remark`: a damaged label replaced.

use super::common::{
    codes_refused, common_checks, parse_list, require_list, DocContext, Plan, Refusal,
};
use crate::documents::{CodeText, RawDocument};
use crate::tx::Tx;
use store::Store;
use types::error::{Error, Result};
use types::model::{CodeKey, Reason, Status};

/// `remark` (a damaged label, docs/domain.md "A code's life"): each old code is written off
/// (reason `remark`) and the new code at the same position of `replacements` takes its
/// place — its status, dates, batch and package — with both linked (`twin`).
pub(crate) fn plan_remark<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    raw: &RawDocument,
) -> Result<Plan> {
    let olds = require_list("codes", &raw.codes)?;
    let news = require_list("replacements", &raw.replacements)?;
    if olds.len() != news.len() {
        return Err(Error::invalid(format!(
            "`replacements` pairs with `codes`: {} new codes for {} damaged ones",
            news.len(),
            olds.len()
        )));
    }
    let mut refusal = Refusal { errors: Vec::new() };
    let mut all: Vec<&CodeText> = olds.iter().collect();
    all.extend(news.iter());
    let owned: Vec<CodeText> = all.into_iter().cloned().collect();
    let listed = parse_list(&owned, &mut refusal);
    refusal.check(|_| "codes refused; nothing was changed".into())?;
    let (old_l, new_l) = listed.split_at(olds.len());
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let mut plan = Plan::default();
    let now = tx.now;
    for (o, n) in old_l.iter().zip(new_l) {
        let Some(mut os) = common_checks(tx, ctx, o, &mut refusal)? else {
            continue;
        };
        if o.parsed.key.is_sscc() || os.children > 0 {
            refusal.add(&o.text, "is_package");
            continue;
        }
        if !matches!(os.status, Status::Applied | Status::Introduced) {
            refusal.add(&o.text, "wrong_status");
            continue;
        }
        let Some(mut ns) = common_checks(tx, ctx, n, &mut refusal)? else {
            continue;
        };
        if n.parsed.key.gtin() != o.parsed.key.gtin() {
            refusal.add(&n.text, "gtin_mismatch");
            continue;
        }
        if !matches!(ns.status, Status::Emitted | Status::Applied) {
            refusal.add(&n.text, "wrong_status");
            continue;
        }
        if ns.parent.is_some() || ns.children > 0 {
            refusal.add(&n.text, "in_aggregate");
            continue;
        }
        ns.status = os.status;
        ns.production_day = os.production_day;
        ns.expiry_day = os.expiry_day;
        ns.batch = os.batch;
        // The replacement stays under the damaged code's blocks, and is lifted with them.
        if os.blocks > 0 {
            for b in tx.store().blocks()? {
                let active = tx.block(b.id)?.is_some_and(|b| b.lifted_at.is_none());
                if active && tx.store().block_codes(b.id)?.contains(&o.parsed.key) {
                    plan.block_codes.push((b.id, n.parsed.key));
                    ns.blocks = ns.blocks.saturating_add(1);
                }
            }
            ns.blocks = ns.blocks.max(os.blocks);
        }
        ns.parent = os.parent;
        ns.twin = Some(o.parsed.key);
        ns.changed_at = now;
        if let Some(p) = os.parent {
            plan.unlink.push((p, o.parsed.key));
            plan.link.push((p, n.parsed.key));
        }
        os.status = Status::WrittenOff;
        os.reason = Some(Reason::Remark);
        os.parent = None;
        os.twin = Some(n.parsed.key);
        os.changed_at = now;
        plan.changes.push((o.parsed.key, os));
        plan.changes.push((n.parsed.key, ns));
    }
    refusal.check(|n| codes_refused(n, None))?;
    Ok(plan)
}
