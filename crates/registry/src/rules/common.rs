//! What every rule shares: the context a document is checked in, its listed codes parsed,
//! the refusal that collects every bad code, the checks every acting document makes, and
//! the [`Plan`] a rule makes and the writer applies.

use crate::blocks::BlockIndex;
use crate::documents::CodeText;
use crate::tx::Tx;
use rustc_hash::FxHashSet as HashSet;
use store::Store;
use types::codes::{ParsedCode, PresentedTail};
use types::error::{CodeError, Error, Result};
use types::limits::{DOC_CODES_MAX, TEXT_LEN_MAX};
use types::model::{CodeKey, CodeState, DocType, Participant, ParticipantId, Reason, Role};
use uuid::Uuid;

/// Context a document job needs besides the overlay.
pub struct DocContext<'r> {
    /// The submitter.
    pub actor: &'r Participant,
    /// Registry blocks (GTIN and batch level).
    pub blocks: &'r BlockIndex,
    /// Emission time-to-live in days by GTIN's product group, looked up by the caller.
    pub emitted_ttl_days: &'r dyn Fn(u64) -> Option<u32>,
    /// Participants by TIN (for `ship`).
    pub participant_by_tin: &'r dyn Fn(&str) -> Result<Option<Participant>>,
    /// Whether a presented tail matches the one issued for a code.
    pub tail_ok: &'r dyn Fn(&CodeState, &PresentedTail) -> bool,
    /// The participant holding the GS1 company prefix that starts these digits (a GTIN's 13
    /// after its indicator, an SSCC's 17 after its extension digit).
    pub prefix_holder: &'r dyn Fn(&str) -> Option<ParticipantId>,
}

pub(crate) struct Listed {
    pub(crate) text: String,
    pub(crate) parsed: ParsedCode,
}

pub(crate) struct Refusal {
    pub(crate) errors: Vec<CodeError>,
}

/// The detail of a refused document: `n` codes refused, of `of` listed when known, in
/// words that agree in number.
pub(crate) fn codes_refused(n: usize, of: Option<usize>) -> String {
    let what = match (n, of) {
        (1, Some(1)) => "the code was refused".to_string(),
        (n, Some(of)) if n == of => format!("all {of} codes were refused"),
        (1, Some(of)) => format!("1 of {of} codes was refused"),
        (n, Some(of)) => format!("{n} of {of} codes were refused"),
        (1, None) => "1 code was refused".to_string(),
        (n, None) => format!("{n} codes were refused"),
    };
    format!("{what}; nothing was changed")
}

impl Refusal {
    /// `Err` naming every bad code so far (the detail made from their number), else `Ok`.
    pub(crate) fn check(&mut self, detail: impl FnOnce(usize) -> String) -> Result<()> {
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(Error::Invalid {
            detail: detail(self.errors.len()),
            errors: std::mem::take(&mut self.errors),
        })
    }

    pub(crate) fn add(&mut self, code: &str, reason: &'static str) {
        self.errors.push(CodeError {
            code: code.to_string(),
            reason,
        });
    }
}

pub(crate) fn text_field(name: &str, v: &Option<String>, required: bool) -> Result<Option<String>> {
    match v {
        None if required => Err(Error::invalid(format!("`{name}` is required"))),
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Err(Error::invalid(format!("`{name}` is empty"))),
        Some(s) if s.len() > TEXT_LEN_MAX => Err(Error::invalid(format!(
            "`{name}` is longer than {TEXT_LEN_MAX} bytes"
        ))),
        Some(s) => Ok(Some(s.clone())),
    }
}

pub(crate) fn require_list<'a>(name: &str, v: &'a Option<Vec<CodeText>>) -> Result<&'a [CodeText]> {
    let list = v
        .as_deref()
        .ok_or_else(|| Error::invalid(format!("`{name}` is required")))?;
    if list.is_empty() {
        return Err(Error::invalid(format!("`{name}` is empty")));
    }
    if list.len() > DOC_CODES_MAX {
        return Err(Error::TooLarge(format!(
            "`{name}` lists {} codes; at most {DOC_CODES_MAX} per document",
            list.len()
        )));
    }
    Ok(list)
}

/// Parses a list of codes, collecting format errors and duplicates.
pub(crate) fn parse_list(list: &[CodeText], refusal: &mut Refusal) -> Vec<Listed> {
    let mut out = Vec::with_capacity(list.len());
    let mut seen = HashSet::with_capacity_and_hasher(list.len(), Default::default());
    for item in list {
        match &item.parsed {
            Ok(parsed) => {
                if seen.insert(parsed.key) {
                    out.push(Listed {
                        text: item.text.clone(),
                        parsed: parsed.clone(),
                    });
                } else {
                    refusal.add(&item.text, "duplicate_in_document");
                }
            }
            Err(reason) => refusal.add(&item.text, reason),
        }
    }
    out
}

/// The checks every acting document makes on a code it changes.
pub(crate) fn common_checks<S: Store + ?Sized>(
    tx: &mut Tx<'_, S>,
    ctx: &DocContext<'_>,
    l: &Listed,
    refusal: &mut Refusal,
) -> store::StoreResult<Option<CodeState>> {
    let Some(st) = tx.code(&l.parsed.key)? else {
        refusal.add(&l.text, "unknown_code");
        return Ok(None);
    };
    // Ownership first: whether a tail is right is told only to the code's owner, so a
    // document cannot be used to guess another's tails.
    if st.owner != ctx.actor.id {
        refusal.add(&l.text, "not_owner");
        return Ok(None);
    }
    if l.parsed.tail != PresentedTail::None && !(ctx.tail_ok)(&st, &l.parsed.tail) {
        refusal.add(&l.text, "bad_crypto_tail");
        return Ok(None);
    }
    if st.in_transit() {
        refusal.add(&l.text, "in_transit");
        return Ok(None);
    }
    Ok(Some(st))
}

/// Whether a code (with its batch) is blocked at registry level or one by one.
pub fn is_blocked(blocks: &BlockIndex, key: &CodeKey, st: &CodeState) -> bool {
    st.blocks > 0 || key.gtin().is_some_and(|g| blocks.blocks(g, st.batch))
}

/// What a checked document will do.
#[derive(Default)]
pub(crate) struct Plan {
    /// Codes changing state: key → new state (without event bookkeeping).
    pub(crate) changes: Vec<(CodeKey, CodeState)>,
    /// Links to remove before the changes (listed codes taken out of their packages).
    pub(crate) unlink: Vec<(CodeKey, CodeKey)>,
    /// Links to add.
    pub(crate) link: Vec<(CodeKey, CodeKey)>,
    /// Packages whose child count changes but which get no event: key → new state.
    pub(crate) touched: Vec<(CodeKey, CodeState)>,
    /// Shipment this document closes.
    pub(crate) closes_shipment: Option<Uuid>,
    /// Codes to record under blocks (a replacement under its damaged code's blocks).
    pub(crate) block_codes: Vec<(u64, CodeKey)>,
    /// A sale's unit codes that were sellable at the receipt's time but had expired by the
    /// time it was reported (accepted: the sale happened before; recorded for risk control).
    pub(crate) late: Vec<CodeKey>,
}

impl Plan {
    pub(crate) fn apply<S: Store + ?Sized>(
        &self,
        tx: &mut Tx<'_, S>,
        seq: u64,
        t: DocType,
        actor: u32,
    ) -> Result<u64> {
        for (p, c) in &self.unlink {
            tx.unlink(*p, *c)?;
        }
        for (p, c) in &self.link {
            tx.link(*p, *c)?;
        }
        for (k, st) in &self.touched {
            tx.put_code(*k, *st);
        }
        for (k, st) in &self.changes {
            tx.transition(*k, *st, seq, t, actor);
        }
        for (b, k) in &self.block_codes {
            tx.put_block_code(*b, *k);
        }
        Ok(self.changes.len() as u64)
    }
}

/// Whether the actor may form a new SSCC: a producer only within its own GS1 company
/// prefixes; anyone else not within a prefix another participant holds.
pub(crate) fn sscc_prefix_ok(ctx: &DocContext<'_>, key: &CodeKey) -> bool {
    let Some(n) = key.sscc_number() else {
        return true;
    };
    let digits = format!("{n:018}");
    match (ctx.prefix_holder)(&digits[1..]) {
        Some(h) => h == ctx.actor.id,
        None => !ctx.actor.has(Role::Producer),
    }
}

/// Why a blocked (recalled) or expired code may not be shipped or withdrawn, if it may not
/// (docs/domain.md, "A code's life"): such goods may only be written off, or shipped back to
/// their producer; a blocked code is withdrawn only for destruction, recall or confiscation,
/// and an expired one never in a sale-like way (distance sale, export, donation, own use,
/// samples).
pub(crate) fn movement_ban(
    ctx: &DocContext<'_>,
    t: DocType,
    key: &CodeKey,
    st: &CodeState,
    receiver: Option<ParticipantId>,
    reason: Option<Reason>,
    today: u32,
) -> Option<&'static str> {
    let expired = st.expiry_day != 0 && st.expiry_day < today;
    let blocked = is_blocked(ctx.blocks, key, st);
    match t {
        DocType::Ship if receiver == Some(st.producer) => None,
        DocType::Ship if blocked => Some("blocked"),
        DocType::Ship if expired => Some("expired"),
        DocType::Withdraw => {
            let r = reason?;
            if blocked && !r.allowed_when_blocked() {
                Some("blocked")
            } else if expired && r.sale_like() {
                Some("expired")
            } else {
                None
            }
        }
        _ => None,
    }
}
