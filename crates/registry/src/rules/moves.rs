//! Documents that move every listed code, and everything its packages hold, alike:
//! `apply`, `introduce`, `import`, `ship`, `sell`, `return`, `write_off`, `withdraw`. Each
//! is a [`Move`]: its own fields read first (a bad field refuses before any code is looked
//! at), then each code checked, then each code's new state. [`plan`] does the rest the
//! same way for all of them: codes taken out of packages, packages expanded and their
//! contents checked, child counts kept.

use super::common::{
    codes_refused, common_checks, is_blocked, movement_ban, parse_list, require_list, text_field,
    DocContext, Plan, Refusal,
};
use crate::documents::RawDocument;
use crate::tx::Tx;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use store::Store;
use types::error::{Error, Result};
use types::limits::{DOC_CODES_EXPANDED_MAX, DOC_CODES_MAX, RECEIPT_AGE_MAX_SECS};
use types::model::{
    batch_hash, CodeKey, CodeState, DocType, ParticipantId, Reason, Status, FLAG_IN_TRANSIT,
};
use types::time::{day_of, parse_date, parse_timestamp};

/// One moving document type's rule.
pub struct Move {
    /// Reads and checks the document's own fields.
    fields: fn(&DocContext<'_>, &RawDocument, &mut Fields) -> Result<()>,
    /// Why a listed code may not move, if it may not.
    check: fn(&Code<'_>) -> Option<&'static str>,
    /// Why a code inside a listed package may not, if it may not (beyond sharing the
    /// package's status and owner, which every move asks).
    contents: fn(&Code<'_>) -> Option<&'static str>,
    /// The code's new state.
    change: fn(&Fields, &mut CodeState),
    /// Whether a code already expired now (though not at the document's time) is recorded
    /// as late: a sale reported after the goods expired.
    late_if_expired: bool,
}

/// A document's own fields, as its [`Move::fields`] read them.
pub struct Fields {
    /// The document type.
    doc_type: DocType,
    /// The writer's time, and its UTC day.
    now: u64,
    today: u32,
    /// When the change happened: a sale's fiscal time, otherwise `now`.
    at: u64,
    /// A shipment's receiver.
    receiver: Option<ParticipantId>,
    /// A return's, write-off's or withdrawal's reason.
    reason: Option<Reason>,
    /// An introduction's production day, expiry day and batch hash.
    intro: (u32, u32, u64),
    /// A shipment's sequence number (the document's own).
    shipment: u64,
}

impl Fields {
    fn new(doc_type: DocType, now: u64, seq: u64) -> Fields {
        Fields {
            doc_type,
            now,
            today: day_of(now),
            at: now,
            receiver: None,
            reason: None,
            intro: (0, 0, 0),
            shipment: seq,
        }
    }
}

/// One code as a move's checks see it.
pub struct Code<'a> {
    ctx: &'a DocContext<'a>,
    f: &'a Fields,
    key: &'a CodeKey,
    st: &'a CodeState,
}

impl Code<'_> {
    fn expired_on(&self, day: u32) -> bool {
        self.st.expiry_day != 0 && self.st.expiry_day < day
    }

    fn movement_ban(&self) -> Option<&'static str> {
        let f = self.f;
        movement_ban(
            self.ctx, f.doc_type, self.key, self.st, f.receiver, f.reason, f.today,
        )
    }
}

fn no_fields(_: &DocContext<'_>, _: &RawDocument, _: &mut Fields) -> Result<()> {
    Ok(())
}

fn nothing_more(_: &Code<'_>) -> Option<&'static str> {
    None
}

// ---- apply: EMITTED → APPLIED ----

/// `apply`: codes printed and put on the goods.
pub static APPLY: Move = Move {
    fields: no_fields,
    check: |c| {
        if c.st.status != Status::Emitted {
            Some("wrong_status")
        } else if c
            .key
            .gtin()
            .and_then(|g| (c.ctx.emitted_ttl_days)(g))
            .is_some_and(|ttl| c.st.emitted_day.saturating_add(ttl) < c.f.today)
        {
            Some("expired")
        } else {
            None
        }
    },
    contents: nothing_more,
    change: |_, st| st.status = Status::Applied,
    late_if_expired: false,
};

// ---- introduce, import: APPLIED → INTRODUCED ----

/// `introduce`: goods made here put into circulation.
pub static INTRODUCE: Move = Move {
    fields: |_, raw, f| intro_fields(raw, f, false),
    ..INTRODUCED
};

/// `import`: imported goods put into circulation (a customs declaration named).
pub static IMPORT: Move = Move {
    fields: |_, raw, f| intro_fields(raw, f, true),
    ..INTRODUCED
};

const INTRODUCED: Move = Move {
    fields: no_fields,
    check: |c| (c.st.status != Status::Applied).then_some("wrong_status"),
    contents: nothing_more,
    change: |f, st| {
        st.status = Status::Introduced;
        (st.production_day, st.expiry_day, st.batch) = f.intro;
    },
    late_if_expired: false,
};

/// An introduction's dates and batch: a production date (required unless imported), not
/// in the future; an expiry date not before it.
fn intro_fields(raw: &RawDocument, f: &mut Fields, imported: bool) -> Result<()> {
    if imported {
        text_field("customs_declaration", &raw.customs_declaration, true)?;
    }
    let prod = match &raw.production_date {
        Some(d) => parse_date(d).ok_or_else(|| {
            Error::invalid(format!("`production_date` {d:?} is not a date YYYY-MM-DD"))
        })?,
        None if !imported => return Err(Error::invalid("`production_date` is required")),
        None => 0,
    };
    if prod > f.today + 1 {
        return Err(Error::invalid("`production_date` is in the future"));
    }
    let exp = match &raw.expiry_date {
        Some(d) => parse_date(d).ok_or_else(|| {
            Error::invalid(format!("`expiry_date` {d:?} is not a date YYYY-MM-DD"))
        })?,
        None => 0,
    };
    if exp != 0 && exp < prod {
        return Err(Error::invalid("`expiry_date` is before `production_date`"));
    }
    let batch = text_field("batch", &raw.batch, false)?;
    f.intro = (prod, exp, batch.as_deref().map_or(0, batch_hash));
    Ok(())
}

// ---- ship: INTRODUCED, in transit to a receiver ----

/// `ship`: goods on their way to another participant, who accepts them.
pub static SHIP: Move = Move {
    fields: |ctx, raw, f| {
        let tin = text_field("receiver", &raw.receiver, true)?.unwrap_or_default();
        let r = (ctx.participant_by_tin)(&tin)?
            .ok_or_else(|| Error::invalid(format!("receiver {tin} is not a participant")))?;
        if r.id == ctx.actor.id {
            return Err(Error::invalid("a participant cannot ship to itself"));
        }
        if !super::rule_of(DocType::Accept).allows(&r) {
            return Err(Error::invalid(format!(
                "receiver {tin} cannot accept goods"
            )));
        }
        f.receiver = Some(r.id);
        Ok(())
    },
    check: in_circulation_and_movable,
    contents: |c| c.movement_ban(),
    change: |f, st| {
        st.flags |= FLAG_IN_TRANSIT;
        st.receiver = f.receiver.unwrap_or(0);
        st.shipment = f.shipment;
    },
    late_if_expired: false,
};

fn in_circulation_and_movable(c: &Code<'_>) -> Option<&'static str> {
    if c.st.status != Status::Introduced {
        Some("wrong_status")
    } else {
        c.movement_ban()
    }
}

// ---- sell: INTRODUCED → RETIRED (retail), at the receipt's time ----

/// `sell`: a retail sale from a fiscal receipt.
pub static SELL: Move = Move {
    fields: |_, raw, f| {
        f.at = receipt_time(raw, f.now)?;
        if let Some(ids) = &raw.check_ids {
            if ids.len() > DOC_CODES_MAX {
                return Err(Error::TooLarge("too many `check_ids`".into()));
            }
        }
        Ok(())
    },
    check: |c| {
        if c.st.status == Status::Retired && c.st.reason == Some(Reason::Retail) {
            Some("already_sold")
        } else if c.st.status != Status::Introduced {
            Some("not_in_circulation")
        } else {
            sale_ban(c)
        }
    },
    contents: sale_ban,
    change: |_, st| {
        st.status = Status::Retired;
        st.reason = Some(Reason::Retail);
    },
    late_if_expired: true,
};

/// Why a code may not be sold at the receipt's time: blocked (recalled), or expired.
fn sale_ban(c: &Code<'_>) -> Option<&'static str> {
    if is_blocked(c.ctx.blocks, c.key, c.st) {
        Some("blocked")
    } else {
        c.expired_on(day_of(c.f.at)).then_some("expired")
    }
}

/// A receipt's fiscal time: well-formed fields, not in the future, not older than
/// [`RECEIPT_AGE_MAX_SECS`].
fn receipt_time(raw: &RawDocument, now: u64) -> Result<u64> {
    let rc = raw
        .receipt
        .as_ref()
        .ok_or_else(|| Error::invalid("`receipt` is required"))?;
    text_field("receipt.fiscal_drive", &Some(rc.fiscal_drive.clone()), true)?;
    text_field("receipt.store", &Some(rc.store.clone()), true)?;
    if !(rc.number.is_u64() || rc.number.as_str().is_some_and(|s| !s.is_empty())) {
        return Err(Error::invalid(
            "`receipt.number` must be a number or a string",
        ));
    }
    let at = parse_timestamp(&rc.at).ok_or_else(|| {
        Error::invalid(format!(
            "`receipt.at` {:?} is not an RFC 3339 timestamp",
            rc.at
        ))
    })?;
    if at > now + 3600 {
        return Err(Error::invalid("`receipt.at` is in the future"));
    }
    if at + RECEIPT_AGE_MAX_SECS < now {
        return Err(Error::invalid(format!(
            "`receipt.at` is more than {} days old: fiscal receipts are reported within that",
            RECEIPT_AGE_MAX_SECS / 86_400
        )));
    }
    Ok(at)
}

// ---- return: RETIRED (retail or distance) → INTRODUCED ----

/// `return`: a sold item brought back.
pub static RETURN: Move = Move {
    fields: |_, raw, f| {
        let w = text_field("reason", &raw.reason, true)?.unwrap_or_default();
        let r = Reason::parse(&w)
            .filter(|r| r.returnable())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "return `reason` {w:?} is not one of retail, distance"
                ))
            })?;
        f.reason = Some(r);
        Ok(())
    },
    check: |c| {
        if c.st.status != Status::Retired || !c.st.reason.is_some_and(Reason::returnable) {
            Some("wrong_status")
        } else if c.st.reason != c.f.reason {
            Some("reason_mismatch")
        } else {
            None
        }
    },
    contents: nothing_more,
    change: |_, st| {
        st.status = Status::Introduced;
        st.reason = None;
    },
    late_if_expired: false,
};

// ---- write_off: APPLIED or INTRODUCED → WRITTEN_OFF; withdraw: INTRODUCED → RETIRED ----

/// `write_off`: goods destroyed, lost, confiscated...
pub static WRITE_OFF: Move = Move {
    fields: |_, raw, f| reason_field(raw, f, |r| r.write_off_allowed()),
    check: |c| {
        (!matches!(c.st.status, Status::Applied | Status::Introduced)).then_some("wrong_status")
    },
    contents: nothing_more,
    change: |f, st| {
        st.status = Status::WrittenOff;
        st.reason = f.reason;
    },
    late_if_expired: false,
};

/// `withdraw`: goods out of circulation another way (export, distance sale, own use...).
pub static WITHDRAW: Move = Move {
    fields: |_, raw, f| reason_field(raw, f, |r| r.withdrawable()),
    check: in_circulation_and_movable,
    contents: |c| c.movement_ban(),
    change: |f, st| {
        st.status = Status::Retired;
        st.reason = f.reason;
    },
    late_if_expired: false,
};

/// A write-off's or withdrawal's reason, one of those `ok` allows.
fn reason_field(raw: &RawDocument, f: &mut Fields, ok: fn(&Reason) -> bool) -> Result<()> {
    let w = text_field("reason", &raw.reason, true)?.unwrap_or_default();
    let allowed: Vec<&str> = Reason::ALL
        .iter()
        .filter(|r| ok(r))
        .map(|r| r.name())
        .collect();
    f.reason = Some(Reason::parse(&w).filter(ok).ok_or_else(|| {
        Error::invalid(format!(
            "`reason` {w:?} is not allowed for {}; one of {}",
            f.doc_type.name(),
            allowed.join(", ")
        ))
    })?);
    Ok(())
}

// ---- what every move does ----

/// Plans a moving document: its fields, each listed code checked, packages expanded (their
/// contents checked too), and every code's new state.
pub fn plan(
    tx: &mut Tx<'_, dyn Store>,
    ctx: &DocContext<'_>,
    t: DocType,
    m: &Move,
    raw: &RawDocument,
) -> Result<Plan> {
    let list = require_list("codes", &raw.codes)?;
    let now = tx.now;
    // The document's sequence number: the plan reads and writes nothing before it.
    let mut f = Fields::new(t, now, tx.state.next_seq);
    (m.fields)(ctx, raw, &mut f)?;

    let mut refusal = Refusal { errors: Vec::new() };
    let listed = parse_list(list, &mut refusal);
    let keys: Vec<CodeKey> = listed.iter().map(|l| l.parsed.key).collect();
    tx.load(&keys)?;
    let listed_set: HashSet<CodeKey> = keys.iter().copied().collect();
    let mut plan = Plan::default();
    let mut expanded: Vec<CodeKey> = Vec::new();
    let mut parents: HashMap<CodeKey, CodeState> = HashMap::default();
    for l in &listed {
        let Some(st) = common_checks(tx, ctx, l, &mut refusal)? else {
            continue;
        };
        let key = &l.parsed.key;
        let bad = (m.check)(&Code {
            ctx,
            f: &f,
            key,
            st: &st,
        });
        let bad = match bad {
            Some(r) => Some(r),
            None => nested_in_listed(tx, &st, &listed_set)?,
        };
        if let Some(r) = bad {
            refusal.add(&l.text, r);
            continue;
        }
        if let Some(p) = st.parent {
            let mut ps = match parents.get(&p) {
                Some(s) => *s,
                None => tx.code(&p)?.unwrap_or(st),
            };
            ps.children = ps.children.saturating_sub(1);
            parents.insert(p, ps);
            plan.unlink.push((p, *key));
        }
        let before = expanded.len();
        expanded.push(*key);
        tx.descendants(key, &mut expanded)?;
        if expanded.len() > DOC_CODES_EXPANDED_MAX {
            return Err(Error::TooLarge(format!(
                "the document would change more than {DOC_CODES_EXPANDED_MAX} codes"
            )));
        }
        if let Some(r) = contents_refused(tx, ctx, m, &f, &st, &expanded[before + 1..])? {
            refusal.add(&l.text, r);
        }
    }
    refusal.check(|n| codes_refused(n, Some(list.len())))?;
    changes(tx, m, &f, expanded, &listed_set, &parents, &mut plan)?;
    Ok(plan)
}

/// `duplicate_in_document` when a package holding the code is itself listed: the code
/// would act twice.
fn nested_in_listed(
    tx: &mut Tx<'_, dyn Store>,
    st: &CodeState,
    listed: &HashSet<CodeKey>,
) -> Result<Option<&'static str>> {
    let mut anc = st.parent;
    while let Some(p) = anc {
        if listed.contains(&p) {
            return Ok(Some("duplicate_in_document"));
        }
        anc = tx.code(&p)?.and_then(|s| s.parent);
    }
    Ok(None)
}

/// Why the contents of a listed package (in state `st`) may not move with it, if they may
/// not: each shares the package's status and owner and is not in transit, and passes the
/// move's [`Move::contents`].
fn contents_refused(
    tx: &mut Tx<'_, dyn Store>,
    ctx: &DocContext<'_>,
    m: &Move,
    f: &Fields,
    st: &CodeState,
    contents: &[CodeKey],
) -> Result<Option<&'static str>> {
    tx.load(contents)?;
    for k in contents {
        let Some(c) = tx.code(k)? else {
            return Ok(Some("package_inconsistent"));
        };
        if c.owner != st.owner || c.status != st.status || c.in_transit() {
            return Ok(Some("package_inconsistent"));
        }
        if let Some(r) = (m.contents)(&Code {
            ctx,
            f,
            key: k,
            st: &c,
        }) {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// Every expanded code's new state into `plan`; packages that lose codes but do not change
/// themselves get their new child count alone (those that change carry it).
fn changes(
    tx: &mut Tx<'_, dyn Store>,
    m: &Move,
    f: &Fields,
    expanded: Vec<CodeKey>,
    listed: &HashSet<CodeKey>,
    parents: &HashMap<CodeKey, CodeState>,
    plan: &mut Plan,
) -> Result<()> {
    let mut changed: HashSet<CodeKey> = HashSet::default();
    for k in expanded {
        let Some(mut st) = tx.code(&k)? else { continue };
        changed.insert(k);
        if m.late_if_expired && st.expiry_day != 0 && st.expiry_day < f.today {
            // Not expired at the document's time (that is refused), expired now: a receipt
            // reported late, or dated back to get past the expiry.
            plan.late.push(k);
        }
        if listed.contains(&k) {
            st.parent = None;
        }
        if let Some(touched) = parents.get(&k) {
            st.children = touched.children;
        }
        (m.change)(f, &mut st);
        st.changed_at = f.at;
        plan.changes.push((k, st));
    }
    plan.touched = parents
        .iter()
        .filter(|(p, _)| !changed.contains(*p))
        .map(|(p, s)| (*p, *s))
        .collect();
    Ok(())
}
