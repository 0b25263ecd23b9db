//! The rules of a code's life (docs/domain.md, "A code's life"): one [`Rule`] per document
//! type in [`RULES`], the whole state machine in one table. A rule says who may send the
//! document and how it is planned: most types move every listed code (and everything its
//! packages hold) alike, and their rule is a `Move` (`rules/moves.rs`) — the document's own fields,
//! the check of each code, its new state — while packages, acceptance and re-marking have
//! planners of their own. Adding a document type is one row here and its functions.
//!
//! A plan reads through the writer's overlay and writes nothing; [`submit`] applies it
//! whole, or records the refusal and changes nothing else.

mod accept;
mod common;
mod moves;
mod packages;
mod remark;
mod submit;

pub use common::{is_blocked, DocContext};
pub use submit::submit;

use crate::documents::RawDocument;
use crate::tx::Tx;
use common::Plan;
use store::Store;
use types::error::Result;
use types::model::{DocType, Participant, Role};

/// A planner of its own: checks a document and plans its changes.
type Planner = for<'a, 'b, 'c, 'd> fn(
    &'a mut Tx<'b, dyn Store>,
    &'c DocContext<'d>,
    &RawDocument,
) -> Result<Plan>;

/// How a document type is planned.
pub(crate) enum Plans {
    /// Only the registry writes it (`emit`): no participant may send it.
    Registry,
    /// Every listed code, and everything its packages hold, moves alike.
    Moves(&'static moves::Move),
    /// A planner of its own (packages, acceptance, re-marking).
    Own(Planner),
}

/// One document type's rule.
pub struct Rule {
    /// The type it is the rule of (its index in [`RULES`]).
    pub doc_type: DocType,
    /// The roles that may send it (any one of them).
    pub roles: &'static [Role],
    /// How it is planned.
    pub(crate) plans: Plans,
}

impl Rule {
    /// Whether `a` may send this type of document.
    pub fn allows(&self, a: &Participant) -> bool {
        self.roles.iter().any(|r| a.has(*r))
    }
}

use Role::{Importer, Producer, Retailer, Wholesaler};
/// Everyone who holds goods: makes, imports, sells on or sells at retail.
const HOLDERS: &[Role] = &[Producer, Importer, Wholesaler, Retailer];

/// The rules, indexed by `DocType as usize`.
pub const RULES: &[Rule] = &[
    rule(DocType::Emit, &[], Plans::Registry),
    rule(
        DocType::Apply,
        &[Producer, Importer],
        Plans::Moves(&moves::APPLY),
    ),
    rule(
        DocType::Introduce,
        &[Producer],
        Plans::Moves(&moves::INTRODUCE),
    ),
    rule(DocType::Import, &[Importer], Plans::Moves(&moves::IMPORT)),
    rule(
        DocType::Aggregate,
        HOLDERS,
        Plans::Own(packages::plan_aggregate::<dyn Store>),
    ),
    rule(
        DocType::Disaggregate,
        HOLDERS,
        Plans::Own(packages::plan_disaggregate::<dyn Store>),
    ),
    rule(DocType::Ship, HOLDERS, Plans::Moves(&moves::SHIP)),
    rule(
        DocType::Accept,
        HOLDERS,
        Plans::Own(accept::plan_accept::<dyn Store>),
    ),
    rule(DocType::Sell, &[Retailer], Plans::Moves(&moves::SELL)),
    rule(DocType::Return, &[Retailer], Plans::Moves(&moves::RETURN)),
    rule(DocType::WriteOff, HOLDERS, Plans::Moves(&moves::WRITE_OFF)),
    rule(DocType::Withdraw, HOLDERS, Plans::Moves(&moves::WITHDRAW)),
    rule(
        DocType::Remark,
        HOLDERS,
        Plans::Own(remark::plan_remark::<dyn Store>),
    ),
    // A visibility event: recorded, no code changes (`crate::capture` decides which
    // captured events are one; none comes through the documents endpoint).
    rule(DocType::EpcisEvent, HOLDERS, Plans::Own(plan_observation)),
    rule(DocType::EpcisCapture, &[], Plans::Registry),
];

/// A visibility event's plan: nothing changes.
fn plan_observation(
    _: &mut Tx<'_, dyn Store>,
    _: &DocContext<'_>,
    _: &RawDocument,
) -> Result<Plan> {
    Ok(Plan::default())
}

const fn rule(doc_type: DocType, roles: &'static [Role], plans: Plans) -> Rule {
    Rule {
        doc_type,
        roles,
        plans,
    }
}

// Every document type has its row, at its index.
const _: () = {
    assert!(RULES.len() == DocType::EpcisCapture as usize + 1);
    let mut i = 0;
    while i < RULES.len() {
        assert!(RULES[i].doc_type as usize == i);
        i += 1;
    }
};

/// The rule of `t`.
pub fn rule_of(t: DocType) -> &'static Rule {
    &RULES[t as usize]
}

/// Checks a document of type `t` and plans its changes, reading through the overlay but
/// writing nothing.
fn plan(
    tx: &mut Tx<'_, dyn Store>,
    ctx: &DocContext<'_>,
    t: DocType,
    raw: &RawDocument,
) -> Result<Plan> {
    match &rule_of(t).plans {
        Plans::Registry => Err(types::error::Error::Forbidden(format!(
            "`{}` documents are written by the registry only",
            t.name()
        ))),
        Plans::Moves(m) => moves::plan(tx, ctx, t, m, raw),
        Plans::Own(p) => p(tx, ctx, raw),
    }
}
