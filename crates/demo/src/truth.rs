//! What the demo did, as the analytics and the risk engine must find it: the planted
//! ledger and the sales totals, written to `DATA_DIR/demo-truth.json` when the demo stops.

use serde::Serialize;
use std::collections::BTreeMap;

/// How many offending attempts of one kind one planted participant made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Planted {
    /// The kind of wrong, as the expected alert's kind (`repeat_sale`, `grey_sale`, …).
    pub kind: &'static str,
    /// The offender's TIN (the alert's participant).
    pub participant_tin: String,
    /// Attempts: sale documents (or, for `forged_tail`, till checks; `clone_scans`, pairs
    /// of far-apart verifications; `complaint_cluster`, complaints accepted;
    /// `sales_exceed_receipts`, codes attempted beyond what the shop received of their GTIN).
    pub count: u64,
}

/// Units sold: the unit codes of accepted `sell` documents (packages are not counted;
/// the demo sells only units). Returns are counted apart and not subtracted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Accepted `sell` documents (fiscal receipts).
    pub receipts: u64,
    /// Units sold.
    pub units_sold: u64,
    /// Units returned (accepted `return` documents' codes).
    pub units_returned: u64,
    /// Units sold by the selling shop's region (ISO 3166-2).
    pub by_region: BTreeMap<String, u64>,
    /// Units sold by product group.
    pub by_product_group: BTreeMap<String, u64>,
    /// Units sold by GTIN (14 digits).
    pub by_gtin: BTreeMap<String, u64>,
    /// Units sold by the selling shop's TIN.
    pub by_participant: BTreeMap<String, u64>,
}

impl Totals {
    /// Counts `units` sold of `gtin` (of `group`) by the shop `tin` in `region`.
    pub(crate) fn add_sale(
        &mut self,
        tin: &str,
        region: &str,
        group: &str,
        gtin: &str,
        units: u64,
    ) {
        self.units_sold += units;
        *self.by_region.entry(region.to_string()).or_default() += units;
        *self.by_product_group.entry(group.to_string()).or_default() += units;
        *self.by_gtin.entry(gtin.to_string()).or_default() += units;
        *self.by_participant.entry(tin.to_string()).or_default() += units;
    }
}

/// A participant of the demo, as the truth file lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ParticipantTruth {
    /// TIN.
    pub tin: String,
    /// Legal name.
    pub name: String,
    /// Roles.
    pub roles: Vec<&'static str>,
    /// ISO 3166-2 region.
    pub region: &'static str,
    /// Its part in the story when planted (`counterfeiter`, …); none when honest.
    pub planted: Option<&'static str>,
}

/// A participant as `demo-participants.json` lists it while the demo runs: who it is and
/// where its secret key is. Whether it is a planted offender is not said (finding them is
/// the regulator's job; `demo-truth.json` tells at the end).
#[derive(Clone, Debug, Serialize)]
pub struct ParticipantCard {
    /// TIN.
    pub tin: String,
    /// Legal name.
    pub name: String,
    /// Roles (`producer`, `importer`, `wholesaler`, `retailer`, `regulator`).
    pub roles: Vec<&'static str>,
    /// ISO 3166-2 region.
    pub region: &'static str,
    /// Its Ed25519 secret key's file (base64 of the 32 bytes), as `Sim::write_keys` wrote it.
    pub key_file: String,
}

/// The file `demo-participants.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ParticipantsFile {
    /// The regulator's TIN.
    pub regulator_tin: String,
    /// Every participant, in registration order.
    pub participants: Vec<ParticipantCard>,
}

/// A product card of the demo.
#[derive(Clone, Debug, Serialize)]
pub struct ProductTruth {
    /// GTIN, 14 digits.
    pub gtin: String,
    /// Name.
    pub name: &'static str,
    /// Product group.
    pub product_group: &'static str,
    /// The maker's TIN.
    pub maker_tin: String,
}

/// The recall the regulator made.
#[derive(Clone, Debug, Serialize)]
pub struct RecallTruth {
    /// The block's id.
    pub block_id: u64,
    /// GTIN.
    pub gtin: String,
    /// Batch.
    pub batch: String,
}

/// Requests the demo made and how they were answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Accepted documents by type.
    pub accepted: BTreeMap<String, u64>,
    /// Refused documents by the reasons the registry gave (each reason of each document).
    pub refused_reasons: BTreeMap<String, u64>,
    /// Refused documents by the submitting participant's TIN.
    pub refused_by: BTreeMap<String, u64>,
    /// Refused documents (and other 4xx answers) of honest participants: always zero
    /// unless something is wrong with the demo or the registry.
    pub honest_refusals: u64,
    /// Till checks made.
    pub till_checks: u64,
    /// Public verifications made by shoppers.
    pub verifications: u64,
    /// Complaints accepted.
    pub complaints: u64,
    /// Actions skipped because the registry's rate limits would refuse them (tail guesses,
    /// complaints): they depend on wall time, so a long run may skip some.
    pub throttled: u64,
}

impl Activity {
    /// Accepted documents, all types.
    pub fn documents(&self) -> u64 {
        self.accepted.values().sum()
    }

    /// Refused documents, all participants.
    pub fn refused(&self) -> u64 {
        self.refused_by.values().sum()
    }
}

/// The file `demo-truth.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    /// The seed.
    pub seed: u64,
    /// The run's salt (see the module documentation of `demo`).
    pub salt: u32,
    /// Rounds completed.
    pub rounds: u64,
    /// When the economy started and stopped (RFC 3339).
    pub started_at: String,
    /// When the economy stopped (RFC 3339).
    pub stopped_at: String,
    /// The regulator's TIN.
    pub regulator_tin: String,
    /// Every participant.
    pub participants: Vec<ParticipantTruth>,
    /// Every product card.
    pub products: Vec<ProductTruth>,
    /// The recall, once made.
    pub recall: Option<RecallTruth>,
    /// The planted ledger.
    pub planted: Vec<Planted>,
    /// Sales totals.
    pub totals: Totals,
    /// Requests and answers.
    pub activity: Activity,
    /// BLAKE3 (hex) of the sequence of actions (kind, codes, outcome): two runs with one
    /// seed and one number of rounds have the same.
    pub trace: String,
}
