//! Reading state: a code's card and history, inventory, public verification and the till
//! check. Reads go straight to the committed store.

use crate::rules::is_blocked;
use crate::tailguard::{Checker, Throttled};
use crate::{visible, Registry};
use serde::{Deserialize, Serialize};
use types::codes::{parse_code, ParsedCode, PresentedTail};
use types::error::{Error, Result};
pub use types::limits::QUERY_CODES_MAX;
use types::model::{Bucket, CodeKey, CodeState, Participant, Reason, Role, Status};
use types::time::{day_of, format_date, format_timestamp};

/// One event of a code's history, as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Document id.
    pub document: Option<uuid::Uuid>,
    /// Document type.
    #[serde(rename = "type")]
    #[schema(value_type = types::model::DocType)]
    pub doc_type: &'static str,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
    /// Status after.
    #[schema(value_type = Status)]
    pub status: &'static str,
    /// Reason after.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Reason>)]
    pub reason: Option<&'static str>,
    /// Owner's TIN after.
    pub owner: Option<String>,
    /// The document's leaf in the transparency log.
    pub log_index: Option<u64>,
}

/// A code as its owner, producer or a regulator sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CodeInfo {
    /// Identification code.
    pub code: String,
    /// Status.
    #[schema(value_type = Status)]
    pub status: &'static str,
    /// Reason (RETIRED / WRITTEN_OFF).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Reason>)]
    pub reason: Option<&'static str>,
    /// Owner's TIN.
    pub owner: Option<String>,
    /// Producer's TIN.
    pub producer: Option<String>,
    /// GTIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    /// Product card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductCard>,
    /// In transit to this TIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_transit_to: Option<String>,
    /// The package it is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Direct children, for packages.
    pub children: Vec<String>,
    /// The code that replaced this one (its label was damaged and remarked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// The damaged code this one replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Active code-level blocks.
    pub blocks: u16,
    /// Whether blocked (code, batch or GTIN).
    pub blocked: bool,
    /// Tail kind.
    pub tail: types::model::TailKind,
    /// Emission day.
    #[schema(format = Date)]
    pub emitted: String,
    /// Production date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub production_date: Option<String>,
    /// Expiry date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub expiry_date: Option<String>,
    /// Last status change (RFC 3339).
    #[schema(format = DateTime)]
    pub changed_at: String,
    /// Full history, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Inventory of one GTIN for one participant.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Inventory {
    /// GTIN.
    pub gtin: String,
    /// Owned codes by status (`EMITTED`, `APPLIED`, `INTRODUCED`, …): a count per status.
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub by_status: std::collections::BTreeMap<&'static str, i64>,
    /// Owned codes shipped, not yet accepted.
    pub in_transit: i64,
    /// Codes shipped to the caller, not yet accepted.
    pub incoming: i64,
}

/// The public verification answer (`GET /api/v1/verify`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyAnswer {
    /// `genuine`, `sold`, `recalled`, `expired`, `not_in_circulation`, `unknown`, `forged`,
    /// `unverified` (in circulation, but presented without its crypto tail).
    #[schema(schema_with = types::apidoc::verdict)]
    pub verdict: &'static str,
    /// The identification code, or the input when it did not parse.
    pub code: String,
    /// Product card (public part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductCard>,
    /// Producer's name and TIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerRef>,
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Status>)]
    pub status: Option<&'static str>,
    /// Production date, when the producer reported it on introduction.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub production_date: Option<String>,
    /// Expiry date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub expiry_date: Option<String>,
    /// When sold (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub sold_at: Option<String>,
    /// Whether the crypto tail was presented and checked.
    pub tail_checked: bool,
    /// When the answer was given (RFC 3339).
    #[schema(format = DateTime)]
    pub checked_at: String,
    /// Why the verdict, in words (unparsable input, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One item of a till check: a code, with the price if the till knows it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PosItem {
    /// Just the code.
    Code(String),
    /// Code and price (minor units).
    Priced {
        /// The code.
        code: String,
        /// Price in minor units (kopecks).
        #[serde(default)]
        price: Option<u64>,
    },
}

impl PosItem {
    fn parts(&self) -> (&str, Option<u64>) {
        match self {
            PosItem::Code(c) => (c, None),
            PosItem::Priced { code, price } => (code, *price),
        }
    }
}

/// The till's answer for one code.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PosResult {
    /// The code as sent.
    pub code: String,
    /// Whether the till may sell it.
    pub sellable: bool,
    /// Every reason it may not (stable snake_case words: `unknown_code`, `no_crypto_tail`,
    /// `bad_crypto_tail`, `tail_checks_locked`, `already_sold`, `not_in_circulation`,
    /// `blocked`, `expired`, `not_owner`, `in_transit`, `price_above_max`, or why the code
    /// does not parse).
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<&'static str>,
}

/// A product card as the API shows it: the public part, no internal ids. Absent optional
/// fields are `null`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProductCard {
    /// 14-digit GTIN.
    pub gtin: String,
    /// Name shown to consumers.
    pub name: String,
    /// Brand.
    pub brand: Option<String>,
    /// Product group name.
    pub product_group: String,
    /// Shelf life in days.
    pub shelf_life_days: Option<u32>,
    /// Maximum retail price, in minor currency units (kopecks).
    pub max_retail_price: Option<u64>,
    /// Free-form attributes.
    #[schema(schema_with = types::apidoc::free_form_object_or_null)]
    pub attributes: Option<serde_json::Value>,
}

impl From<&types::model::Product> for ProductCard {
    fn from(p: &types::model::Product) -> ProductCard {
        ProductCard {
            gtin: p.gtin.clone(),
            name: p.name.clone(),
            brand: p.brand.clone(),
            product_group: p.product_group.clone(),
            shelf_life_days: p.shelf_life_days,
            max_retail_price: p.max_retail_price,
            attributes: p.attributes.clone(),
        }
    }
}

/// A code's producer as public verification names it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProducerRef {
    /// Legal name.
    pub name: String,
    /// Taxpayer identification number.
    pub tin: String,
}

/// One code of a status look-up (`POST /api/v1/codes/query`): its state, or why not.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CodeStatus {
    /// A code the caller may see, with a tail that matches (or none presented).
    Known {
        /// Identification code.
        code: String,
        /// Status.
        #[schema(value_type = Status)]
        status: &'static str,
        /// Reason (RETIRED / WRITTEN_OFF), `null` otherwise.
        #[schema(value_type = Option<Reason>)]
        reason: Option<&'static str>,
        /// Owner's TIN.
        owner: Option<String>,
        /// Shipped, not yet accepted.
        in_transit: bool,
        /// The package it is in.
        parent: Option<String>,
        /// Number of direct children (a package when > 0).
        children: u32,
        /// Whether blocked (code, batch or GTIN).
        blocked: bool,
        /// Expiry date.
        #[schema(format = Date)]
        expiry_date: Option<String>,
    },
    /// A code that does not parse, is not visible to the caller (`unknown_code`), or was
    /// presented with a crypto tail that is not the one issued (`bad_crypto_tail`).
    Refused {
        /// The code as sent (or its identification code once parsed).
        code: String,
        /// Stable snake_case reason.
        #[schema(value_type = String)]
        error: &'static str,
    },
}

/// The public part of a product card (no internal ids).
fn public_card(p: &types::model::Product) -> ProductCard {
    ProductCard::from(p)
}

impl Registry {
    fn tin(&self, id: u32) -> Option<String> {
        self.participant(id).ok().flatten().map(|p| p.tin)
    }

    fn code_for(&self, actor: &Participant, text: &str) -> Result<(ParsedCode, CodeState)> {
        let parsed = parse_code(text).map_err(|(r, d)| Error::Invalid {
            detail: d,
            errors: vec![crate::CodeError {
                code: text.to_string(),
                reason: r,
            }],
        })?;
        let st = self
            .inner
            .ranges
            .states(&*self.inner.store, &[parsed.key])?
            .pop()
            .flatten();
        match st {
            Some(st) if visible(actor, &st) => {
                // A code read with a tail that is not the one issued is a forgery: say so
                // rather than show the genuine code's card (counted like any tail check
                // when the reader does not hold the code: a regulator's token is no oracle).
                if !self.reader_tail_ok(actor, &st, &parsed)? {
                    return Err(Error::Invalid {
                        detail: format!(
                            "the crypto tail presented for {} is not the one issued",
                            parsed.key
                        ),
                        errors: vec![crate::CodeError {
                            code: text.to_string(),
                            reason: "bad_crypto_tail",
                        }],
                    });
                }
                Ok((parsed, st))
            }
            _ => Err(Error::NotFound(format!(
                "no code {} visible to you",
                parsed.key
            ))),
        }
    }

    /// Whether the tail a reader presented is right, counting a wrong one against readers
    /// who do not hold the code (its owner, receiver in transit or producer).
    fn reader_tail_ok(&self, actor: &Participant, st: &CodeState, p: &ParsedCode) -> Result<bool> {
        if p.tail == PresentedTail::None {
            return Ok(true);
        }
        let holder = st.owner == actor.id
            || st.producer == actor.id
            || (st.in_transit() && st.receiver == actor.id);
        let me = Checker::Participant(actor.id);
        self.inner
            .tail_guard
            .may_check(me, &p.key, holder, false, self.now())
            .map_err(Self::tail_throttled)?;
        let ok = self.tail_ok(st, &p.tail);
        if !ok {
            self.tail_failed(me, &p.key, holder, "code_query");
        }
        Ok(ok)
    }

    /// A code's card and full history (owner, producer, receiver in transit, regulator).
    pub fn code_info(&self, actor: &Participant, text: &str) -> Result<CodeInfo> {
        let (parsed, st) = self.code_for(actor, text)?;
        let key = parsed.key;
        let mut history = Vec::new();
        for e in self.inner.store.events(&key)? {
            history.push(HistoryEntry {
                document: self.inner.store.document_id_by_seq(e.doc_seq)?,
                doc_type: e.doc_type.name(),
                at: format_timestamp(e.at),
                status: e.status.name(),
                reason: e.reason.map(Reason::name),
                owner: self.tin(e.owner),
                log_index: self.inner.store.document_log_index(e.doc_seq)?,
            });
        }
        let children = if st.children > 0 {
            self.inner
                .store
                .children(&key)?
                .iter()
                .map(CodeKey::to_string)
                .collect()
        } else {
            Vec::new()
        };
        let blocked = is_blocked(&self.inner.blocks.read(), &key, &st);
        Ok(CodeInfo {
            code: key.to_string(),
            status: st.status.name(),
            reason: st.reason.map(Reason::name),
            owner: self.tin(st.owner),
            producer: self.tin(st.producer),
            gtin: key.gtin().map(|g| format!("{g:014}")),
            product: key
                .gtin()
                .and_then(|g| self.product(g).ok().flatten())
                .map(|p| public_card(&p)),
            in_transit_to: st.in_transit().then(|| self.tin(st.receiver)).flatten(),
            parent: st.parent.map(|p| p.to_string()),
            children,
            replaced_by: st
                .twin
                .filter(|_| st.reason == Some(Reason::Remark))
                .map(|k| k.to_string()),
            replaces: st
                .twin
                .filter(|_| st.reason != Some(Reason::Remark))
                .map(|k| k.to_string()),
            blocks: st.blocks,
            blocked,
            tail: st.tail,
            emitted: format_date(st.emitted_day),
            production_date: (st.production_day != 0).then(|| format_date(st.production_day)),
            expiry_date: (st.expiry_day != 0).then(|| format_date(st.expiry_day)),
            changed_at: format_timestamp(st.changed_at),
            history,
        })
    }

    /// Statuses of up to [`QUERY_CODES_MAX`] codes; codes not visible are `unknown`.
    pub fn query_codes(&self, actor: &Participant, codes: &[String]) -> Result<Vec<CodeStatus>> {
        if codes.len() > QUERY_CODES_MAX {
            return Err(Error::TooLarge(format!(
                "at most {QUERY_CODES_MAX} codes per query"
            )));
        }
        let parsed: Vec<_> = codes.iter().map(|c| parse_code(c)).collect();
        let keys: Vec<CodeKey> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.key))
            .collect();
        let states = self.inner.ranges.states(&*self.inner.store, &keys)?;
        let mut states = states.into_iter();
        let mut out = Vec::with_capacity(codes.len());
        for (text, p) in codes.iter().zip(parsed) {
            let v = match p {
                Err((reason, _)) => CodeStatus::Refused {
                    code: text.clone(),
                    error: reason,
                },
                Ok(p) => match states.next().flatten() {
                    Some(st) if visible(actor, &st) && !self.reader_tail_ok(actor, &st, &p)? => {
                        CodeStatus::Refused {
                            code: p.key.to_string(),
                            error: "bad_crypto_tail",
                        }
                    }
                    Some(st) if visible(actor, &st) => CodeStatus::Known {
                        code: p.key.to_string(),
                        status: st.status.name(),
                        reason: st.reason.map(Reason::name),
                        owner: self.tin(st.owner),
                        in_transit: st.in_transit(),
                        parent: st.parent.map(|k| k.to_string()),
                        children: st.children,
                        blocked: is_blocked(&self.inner.blocks.read(), &p.key, &st),
                        expiry_date: (st.expiry_day != 0).then(|| format_date(st.expiry_day)),
                    },
                    _ => CodeStatus::Refused {
                        code: p.key.to_string(),
                        error: "unknown_code",
                    },
                },
            };
            out.push(v);
        }
        Ok(out)
    }

    /// The caller's stock of one GTIN.
    pub fn inventory(&self, actor: &Participant, gtin: &str) -> Result<Inventory> {
        let g = crate::parse_gtin(gtin)?;
        let mut inv = Inventory {
            gtin: format!("{g:014}"),
            by_status: Status::ALL.iter().map(|s| (s.name(), 0)).collect(),
            in_transit: 0,
            incoming: 0,
        };
        for (b, n) in self.inner.store.inventory(actor.id, g)? {
            match b {
                Bucket::Status(s) => {
                    inv.by_status.insert(s.name(), n);
                }
                Bucket::InTransitOut => inv.in_transit = n,
                Bucket::InTransitIn => inv.incoming = n,
            }
        }
        Ok(inv)
    }

    /// Public verification of a code by an anonymous checker (tests, tools).
    pub fn verify(&self, text: &str) -> Result<VerifyAnswer> {
        self.verify_as(text, Checker::Public(0))
    }

    /// Records a failed tail check for the risk engine and counts it against guessing.
    fn tail_failed(&self, checker: Checker, key: &CodeKey, owner: bool, via: &'static str) {
        let now = self.now();
        self.inner.tail_guard.failed(checker, key, owner, now);
        self.note(crate::feed::Fact::TailFailed(crate::feed::TailFailedFact {
            at: now,
            who: who(checker),
            key: crate::feed::FactKey(*key),
            via: via.to_string(),
            holder: owner,
        }));
    }

    fn tail_throttled(t: Throttled) -> Error {
        Error::TooMany(match t {
            Throttled::Checker => format!(
                "too many failed crypto-tail checks from you ({} in {} minutes); wait",
                crate::tailguard::FAILURES_PER_CHECKER_MAX,
                crate::tailguard::CHECKER_WINDOW_SECS / 60
            ),
            Throttled::Code => format!(
                "you presented wrong crypto tails for this code {} times today; no more \
                 answers about its tail today",
                crate::tailguard::FAILURES_PER_CHECKER_CODE_MAX
            ),
        })
    }

    /// Public verification of a code: never reveals who holds an unsold item. Failed tail
    /// checks count against `checker` and the code ([`crate::tailguard`]).
    pub fn verify_as(&self, text: &str, checker: Checker) -> Result<VerifyAnswer> {
        self.verify_at(text, checker, None)
    }

    /// [`Registry::verify_as`], recording the verification in the feed with the coarse
    /// place the page or app sent (the risk engine looks for one code scanned far apart).
    pub fn verify_at(
        &self,
        text: &str,
        checker: Checker,
        place: Option<crate::feed::Place>,
    ) -> Result<VerifyAnswer> {
        self.verify_from(text, checker, place, None)
    }

    /// [`Registry::verify_at`] by a scanner on network `net` (a keyed hash of its IPv4 /24
    /// or IPv6 /48, see [`crate::feed::VerifiedFact::net`]): the risk engine weighs scans
    /// from one network as one witness.
    pub fn verify_from(
        &self,
        text: &str,
        checker: Checker,
        place: Option<crate::feed::Place>,
        net: Option<u64>,
    ) -> Result<VerifyAnswer> {
        let mut key = None;
        let ans = self.verify_inner(text, checker, &mut key)?;
        let now = self.now();
        if let Some(key) = key.filter(|_| self.inner.facts.verification_allowed(now, who(checker)))
        {
            self.note(crate::feed::Fact::Verified(crate::feed::VerifiedFact {
                at: self.now(),
                who: who(checker),
                key: crate::feed::FactKey(key),
                verdict: ans.verdict.to_string(),
                tail_checked: ans.tail_checked,
                place,
                net,
            }));
        }
        Ok(ans)
    }

    pub(crate) fn verify_inner(
        &self,
        text: &str,
        checker: Checker,
        key_out: &mut Option<CodeKey>,
    ) -> Result<VerifyAnswer> {
        let now = self.now();
        let mut ans = VerifyAnswer {
            verdict: "unknown",
            code: text.chars().take(200).collect(),
            product: None,
            producer: None,
            status: None,
            production_date: None,
            expiry_date: None,
            sold_at: None,
            tail_checked: false,
            checked_at: format_timestamp(now),
            detail: None,
        };
        // A malformed code is the caller's fault (a 400 naming it), not a verdict.
        let parsed = parse_code(text).map_err(|(reason, detail)| Error::Invalid {
            detail: format!("not a valid marking code: {detail}"),
            errors: vec![crate::CodeError {
                code: ans.code.clone(),
                reason,
            }],
        })?;
        ans.code = parsed.key.to_string();
        let Some(st) = self
            .inner
            .ranges
            .states(&*self.inner.store, &[parsed.key])?
            .pop()
            .flatten()
        else {
            return Ok(ans);
        };
        // Recorded only for codes the registry issued: anyone can make up a million codes
        // that parse, and the feed keeps what it records.
        *key_out = Some(parsed.key);
        if let Some(g) = parsed.key.gtin() {
            if let Some(p) = self.product(g)? {
                ans.product = Some(public_card(&p));
            }
        }
        // The producer of a product code; an SSCC's "producer" is whoever packed it, often
        // the holder of an unsold item, which verification never reveals.
        if let Some(p) = self
            .participant(st.producer)?
            .filter(|_| parsed.key.gtin().is_some())
        {
            ans.producer = Some(ProducerRef {
                name: p.name,
                tin: p.tin,
            });
        }
        ans.status = Some(st.status.name());
        ans.production_date = (st.production_day != 0).then(|| format_date(st.production_day));
        ans.expiry_date = (st.expiry_day != 0).then(|| format_date(st.expiry_day));
        if parsed.tail != PresentedTail::None {
            self.inner
                .tail_guard
                .may_check(checker, &parsed.key, false, false, now)
                .map_err(Self::tail_throttled)?;
            ans.tail_checked = true;
            if !self.tail_ok(&st, &parsed.tail) {
                self.tail_failed(checker, &parsed.key, false, "verify");
                ans.verdict = "forged";
                return Ok(ans);
            }
        }
        let sold = st.status == Status::Retired && st.reason == Some(Reason::Retail);
        if sold {
            ans.sold_at = Some(format_timestamp(st.changed_at));
        }
        ans.verdict = if is_blocked(&self.inner.blocks.read(), &parsed.key, &st) {
            "recalled"
        } else if sold {
            "sold"
        } else if st.status == Status::Introduced
            && st.expiry_day != 0
            && st.expiry_day < day_of(now)
        {
            "expired"
        } else if st.status == Status::Introduced && ans.tail_checked {
            "genuine"
        } else if st.status == Status::Introduced {
            // A printed number proves nothing: only a matching tail makes a unit genuine.
            ans.detail = Some(
                "presented without its crypto tail: scan the label's Data Matrix or QR code".into(),
            );
            "unverified"
        } else {
            "not_in_circulation"
        };
        Ok(ans)
    }

    /// The till check (permissive mode): every reason a code may not be sold by `actor`.
    pub fn pos_check(
        &self,
        actor: &Participant,
        items: &[PosItem],
    ) -> Result<(uuid::Uuid, Vec<PosResult>)> {
        if !(actor.has(Role::Retailer) || actor.has(Role::FiscalOperator)) {
            return Err(Error::Forbidden(
                "only retailers and fiscal operators check at the till".into(),
            ));
        }
        if items.is_empty() {
            return Err(Error::invalid("`codes` is empty"));
        }
        if items.len() > QUERY_CODES_MAX {
            return Err(Error::TooLarge(format!(
                "at most {QUERY_CODES_MAX} codes per check"
            )));
        }
        let now = self.now();
        let today = day_of(now);
        let me = Checker::Participant(actor.id);
        let parsed: Vec<_> = items.iter().map(|i| parse_code(i.parts().0)).collect();
        let keys: Vec<CodeKey> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.key))
            .collect();
        let mut states = self
            .inner
            .ranges
            .states(&*self.inner.store, &keys)?
            .into_iter();
        let blocks = self.inner.blocks.read().clone();
        let mut out = Vec::with_capacity(items.len());
        let mut checked = Vec::with_capacity(items.len());
        for (item, p) in items.iter().zip(parsed) {
            let key = p.as_ref().ok().map(|p| p.key);
            let (text, price) = item.parts();
            let mut reasons = Vec::new();
            let mut known = false;
            match p {
                Err((r, _)) => reasons.push(r),
                Ok(p) => match states.next().flatten() {
                    None => reasons.push("unknown_code"),
                    Some(st) => {
                        known = true;
                        // Whether a tail is right is told only to the code's owner or its
                        // receiver in transit (and fiscal operators, who check for every
                        // shop); every failure counts against the checker and the code.
                        let holder =
                            st.owner == actor.id || (st.in_transit() && st.receiver == actor.id);
                        let told = holder || actor.has(Role::FiscalOperator);
                        match &p.tail {
                            PresentedTail::None => reasons.push("no_crypto_tail"),
                            t => match self.inner.tail_guard.may_check(
                                me,
                                &p.key,
                                holder,
                                actor.has(Role::FiscalOperator),
                                now,
                            ) {
                                Err(Throttled::Checker) => {
                                    return Err(Self::tail_throttled(Throttled::Checker))
                                }
                                Err(Throttled::Code) => reasons.push("tail_checks_locked"),
                                Ok(()) if !self.tail_ok(&st, t) => {
                                    self.tail_failed(me, &p.key, holder, "till_check");
                                    if told {
                                        reasons.push("bad_crypto_tail");
                                    }
                                }
                                Ok(()) => {}
                            },
                        }
                        if st.status == Status::Retired && st.reason == Some(Reason::Retail) {
                            reasons.push("already_sold");
                        } else if st.status != Status::Introduced {
                            reasons.push("not_in_circulation");
                        }
                        if is_blocked(&blocks, &p.key, &st) {
                            reasons.push("blocked");
                        }
                        if st.expiry_day != 0 && st.expiry_day < today {
                            reasons.push("expired");
                        }
                        if actor.has(Role::Retailer)
                            && !actor.has(Role::FiscalOperator)
                            && st.owner != actor.id
                        {
                            reasons.push("not_owner");
                        }
                        if st.in_transit() {
                            reasons.push("in_transit");
                        }
                        if let Some(price) = price {
                            let max = p.max_price.or_else(|| {
                                p.key
                                    .gtin()
                                    .and_then(|g| self.product(g).ok().flatten())
                                    .and_then(|pr| pr.max_retail_price)
                            });
                            if max.is_some_and(|m| price > m) {
                                reasons.push("price_above_max");
                            }
                        }
                    }
                },
            }
            // Kept for codes the registry knows: a sale names only those (and made-up
            // codes would only fill the risk engine's memory).
            if let (Some(key), true) = (key, known) {
                if checked.len() < crate::feed::TILL_CHECK_CODES_KEPT_MAX {
                    checked.push(crate::feed::CheckedCode {
                        key: crate::feed::FactKey(key),
                        sellable: reasons.is_empty(),
                    });
                }
            }
            out.push(PosResult {
                code: text.to_string(),
                sellable: reasons.is_empty(),
                reasons,
            });
        }
        let request_id = uuid::Uuid::now_v7();
        // Recorded so that a sale's `check_ids` can be checked against what was asked,
        // within the participant's daily budget of the feed (beyond it a sale naming this
        // check is unchecked: against this participant alone).
        if self
            .inner
            .facts
            .till_check_allowed(now, actor.id, checked.len())
        {
            self.note(crate::feed::Fact::TillCheck(crate::feed::TillCheckFact {
                actor: actor.id,
                request_id,
                at: now,
                codes: checked,
            }));
        }
        Ok((request_id, out))
    }
}

/// Who checked, as the feed records it.
fn who(c: Checker) -> crate::feed::Who {
    match c {
        Checker::Participant(p) => crate::feed::Who::Participant(p),
        Checker::Public(t) => crate::feed::Who::Client(t),
    }
}
