//! A document's way through the writer: its rule found, its plan made and applied, its
//! facts recorded; a refusal recorded (bounded) and nothing else changed.

use super::common::{DocContext, Plan};
use crate::documents::{doc_type, DocAnswer, Prepared, RawDocument};
use crate::feed::{
    kept_check_ids, Brief, DocFact, Fact, FactKey, LateSaleFact, RefusedCode, RefusedFact,
    UnitChange, LATE_CODES_KEPT_MAX,
};
use crate::tx::Tx;
use rustc_hash::FxHashSet as HashSet;
use store::Store;
use types::codes::parse_code;
use types::error::{CodeError, Error, Result};
use types::limits::REFUSAL_CODES_KEPT_MAX;
use types::model::{CodeKey, DocType, StoredDocument};
use types::time::parse_timestamp;

/// Runs one document against the overlay. On `Err` nothing was changed but a refusal record.
pub fn submit(
    tx: &mut Tx<'_, dyn Store>,
    ctx: &DocContext<'_>,
    doc: Prepared,
) -> Result<DocAnswer> {
    let Prepared {
        raw,
        body,
        body_hash,
        request,
        prefetched,
        epcis,
    } = doc;
    if let Some(p) = prefetched {
        tx.prefetched(p);
    }
    if let Some(existing) = tx.document(&raw.id)? {
        if existing.body_hash == body_hash && existing.participant == ctx.actor.id {
            return Ok(DocAnswer::of(&existing));
        }
        return Err(Error::Conflict(format!(
            "document {} exists with another body; a document id is used once",
            raw.id
        )));
    }
    let t = allowed_type(ctx, &raw)?;
    if t == DocType::EpcisEvent && epcis.is_none() {
        return Err(Error::Forbidden(
            "`epcis_event` documents are made from EPCIS captures (POST /epcis/capture)".into(),
        ));
    }
    let plan = match super::plan(tx, ctx, t, &raw) {
        Ok(p) => p,
        Err(e) => {
            if let Error::Invalid { errors, .. } = &e {
                record_refusal(tx, ctx, t, &raw, errors)?;
            }
            return Err(e);
        }
    };
    // Every package list the plan edits is read now: applying it must not fail half-way.
    let mut lists: HashSet<CodeKey> = HashSet::default();
    for (p, _) in plan.unlink.iter().chain(&plan.link) {
        if lists.insert(*p) {
            tx.children(p)?;
        }
    }
    let seq = tx.next_seq();
    tx.collect_units();
    let applied = plan.apply(tx, seq, t, ctx.actor.id);
    let units = tx.take_units();
    let codes = applied?;
    applied_as_planned(tx, &plan, seq)?;
    let doc = tx.put_document(StoredDocument {
        id: raw.id,
        seq,
        doc_type: t,
        participant: ctx.actor.id,
        received_at: tx.now,
        codes,
        body_hash,
        chain: [0; 32],
        signature: request.signature.clone(),
        request,
        log_index: None,
        body,
    });
    record_facts(tx, ctx, t, &raw, &plan, seq, units)?;
    Ok(DocAnswer::of(&doc))
}

/// The document's type, if the actor may send it.
fn allowed_type(ctx: &DocContext<'_>, raw: &RawDocument) -> Result<DocType> {
    let t = doc_type(&raw.doc_type).ok_or_else(|| {
        Error::BadRequest(format!(
            "unknown document type `{}`; one of apply, introduce, import, aggregate, \
             disaggregate, ship, accept, sell, return, write_off, withdraw, remark",
            raw.doc_type
        ))
    })?;
    if !super::rule_of(t).allows(ctx.actor) {
        let roles: Vec<&str> = ctx.actor.roles.iter().map(|r| r.name()).collect();
        return Err(Error::Forbidden(format!(
            "a participant with roles {} may not submit `{}` documents",
            roles.join(", "),
            t.name()
        )));
    }
    Ok(t)
}

/// The writer's paired assertion on a document: what the plan expected is what a read
/// returns after applying it — the planned status, owner, reason and flags, one event
/// more, the last this document's (checked on the first and the last change: a plan
/// applied in part, or an overlay that answers other than it was told, panics the job,
/// which fails its batch before the commit).
fn applied_as_planned(tx: &mut Tx<'_, dyn Store>, plan: &Plan, seq: u64) -> Result<()> {
    for (k, want) in [plan.changes.first(), plan.changes.last()]
        .into_iter()
        .flatten()
    {
        let got = tx.code(k)?;
        assert!(
            got.is_some_and(|g| g.status == want.status
                && g.owner == want.owner
                && g.reason == want.reason
                && g.flags == want.flags
                && g.events == want.events + 1
                && g.last_event == seq),
            "a code's state after its document is not the planned one: {k:?}"
        );
    }
    Ok(())
}

/// A refused document's records, bounded: a refused 30,000-code document costs a few KiB
/// of record, not its whole size (kept for risk control).
fn record_refusal(
    tx: &mut Tx<'_, dyn Store>,
    ctx: &DocContext<'_>,
    t: DocType,
    raw: &RawDocument,
    errors: &[CodeError],
) -> Result<()> {
    let kept: Vec<_> = errors.iter().take(REFUSAL_CODES_KEPT_MAX).collect();
    let summary = serde_json::json!({
        "document": raw.id, "type": t.name(), "errors": kept,
        "errors_total": errors.len(),
    });
    tx.refuse(ctx.actor.id, summary.to_string());
    let fact = refused_fact(tx, ctx, t, raw, errors)?;
    tx.record(&fact);
    Ok(())
}

/// An applied document's facts for the feed: the document (with every unit it changed),
/// and a sale's late codes.
fn record_facts(
    tx: &mut Tx<'_, dyn Store>,
    ctx: &DocContext<'_>,
    t: DocType,
    raw: &RawDocument,
    plan: &Plan,
    seq: u64,
    units: Vec<UnitChange>,
) -> Result<()> {
    let mut sender = None;
    if let Some(ship) = plan.closes_shipment {
        sender = tx.document(&ship)?.map(|d| d.participant);
        tx.close_shipment(ship, raw.id);
    }
    let receiver = match (t, &raw.receiver) {
        (DocType::Ship, Some(tin)) => (ctx.participant_by_tin)(tin)?.map(|p| p.id),
        _ => None,
    };
    tx.record(&Fact::Document(DocFact {
        seq,
        id: raw.id,
        doc_type: t as u8,
        actor: ctx.actor.id,
        fiscal_at: fiscal_time(t, raw),
        receiver,
        sender,
        check_ids: kept_check_ids(raw.check_ids.as_ref()),
        units,
    }));
    if !plan.late.is_empty() {
        tx.record(&Fact::LateSale(LateSaleFact {
            seq,
            id: raw.id,
            actor: ctx.actor.id,
            fiscal_at: fiscal_time(t, raw).unwrap_or(tx.now),
            check_ids: kept_check_ids(raw.check_ids.as_ref()),
            codes: plan
                .late
                .iter()
                .take(LATE_CODES_KEPT_MAX)
                .map(|k| FactKey(*k))
                .collect(),
            total: u32::try_from(plan.late.len()).unwrap_or(u32::MAX),
        }));
    }
    Ok(())
}

/// A sale's fiscal time (`receipt.at`), for its feed fact; `None` for other documents or a
/// receipt whose time does not parse (such a sale is refused anyway).
fn fiscal_time(t: DocType, raw: &RawDocument) -> Option<u64> {
    (t == DocType::Sell)
        .then(|| raw.receipt.as_ref().and_then(|r| parse_timestamp(&r.at)))
        .flatten()
}

/// The feed's record of a refused document: each refused code kept (bounded) with the state
/// that refused it, read through the overlay as the document saw it.
fn refused_fact<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    t: DocType,
    raw: &RawDocument,
    errors: &[CodeError],
) -> Result<Fact> {
    let mut codes = Vec::with_capacity(errors.len().min(REFUSAL_CODES_KEPT_MAX));
    for e in errors.iter().take(REFUSAL_CODES_KEPT_MAX) {
        let key = parse_code(&e.code).ok().map(|p| p.key);
        let st = match &key {
            Some(k) => tx.code(k)?,
            None => None,
        };
        codes.push(RefusedCode {
            code: e.code.chars().take(200).collect(),
            key: key.map(FactKey),
            reason: e.reason.to_string(),
            state: Brief::of(st.as_ref()),
            last_event: st.map_or(0, |s| s.last_event),
            expiry_day: st.map_or(0, |s| s.expiry_day),
            receiver: st.filter(|s| s.in_transit()).map_or(0, |s| s.receiver),
        });
    }
    Ok(Fact::Refused(RefusedFact {
        actor: ctx.actor.id,
        id: raw.id,
        doc_type: t as u8,
        fiscal_at: fiscal_time(t, raw),
        check_ids: kept_check_ids(raw.check_ids.as_ref()),
        codes,
        codes_total: u32::try_from(errors.len()).unwrap_or(u32::MAX),
    }))
}
