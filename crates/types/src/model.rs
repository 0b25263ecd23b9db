//! The registry's records: participants, products, codes and their state, events,
//! documents, orders and blocks, with the compact binary form of the hot records.
//!
//! Hot records (a code's state, its events) have a fixed binary layout so that the
//! embedded engine stores them without a serialisation framework and a code's state
//! costs ~80 bytes; cold records (participants, products, orders, document metadata)
//! are JSON, since they are few and read rarely.

pub use crate::limits::SERIAL_LEN_MAX;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Internal id of a participant: small, dense, stored in every code's state.
pub type ParticipantId = u32;

/// A participant's role: what it may do (docs/domain.md, "Who uses it").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registers products, orders codes, introduces goods made in the country.
    Producer,
    /// Like a producer, for goods brought in from abroad.
    Importer,
    /// Buys and sells on.
    Wholesaler,
    /// Sells to consumers at the till.
    Retailer,
    /// Forwards fiscal receipts of cash registers.
    FiscalOperator,
    /// Watches, blocks, recalls.
    Regulator,
}

/// A registered participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Internal id.
    pub id: ParticipantId,
    /// Taxpayer identification number: the participant's public identity.
    pub tin: String,
    /// Legal name.
    pub name: String,
    /// What the participant may do.
    pub roles: Vec<Role>,
    /// Ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    /// ISO 3166-2 region, e.g. `RU-MOW`.
    pub region: String,
    /// When registered (Unix seconds).
    pub registered_at: u64,
    /// Keys added after registration, oldest first: each is accepted from its `not_before`
    /// and ends the previous one then (the registration key is the first, from
    /// `registered_at`).
    #[serde(default)]
    pub keys: Vec<ParticipantKey>,
    /// Why the participant is suspended, if it is: its tokens, sign-ins and signatures are
    /// refused until it is reinstated.
    #[serde(default)]
    pub suspended: Option<String>,
    /// GS1 company prefixes the participant holds (products and SSCCs only within them).
    #[serde(default)]
    pub gs1_prefixes: Vec<String>,
    /// Generation of the participant's bearer tokens: raised when it is suspended and when
    /// it is reinstated, so a token issued before either (a stolen one) never comes back.
    #[serde(default)]
    pub token_generation: u32,
}

/// A key added to a participant (rotation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantKey {
    /// Ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    /// Accepted from (Unix seconds).
    pub not_before: u64,
}

impl Participant {
    /// The key that signs at `now`: the one with the latest start not after `now` (a new
    /// key ends the previous one when it starts).
    pub fn key_at(&self, now: u64) -> [u8; 32] {
        self.keys
            .iter()
            .filter(|k| k.not_before <= now)
            .max_by_key(|k| k.not_before)
            .map_or(self.public_key, |k| k.public_key)
    }

    /// Which key signs at `now`: 0 for the registration key, n for the n-th added key.
    pub fn key_epoch_at(&self, now: u64) -> u32 {
        self.keys.iter().filter(|k| k.not_before <= now).count() as u32
    }

    /// Whether a GTIN (14 digits) lies within one of the participant's GS1 company prefixes:
    /// its 13 digits after the indicator digit start with the prefix.
    pub fn holds_gtin(&self, gtin: u64) -> bool {
        let g = format!("{gtin:014}");
        self.gs1_prefixes
            .iter()
            .any(|p| g[1..].starts_with(p.as_str()))
    }

    /// Whether an SSCC (18 digits) lies within one of the participant's prefixes: its 17
    /// digits after the extension digit start with the prefix.
    pub fn holds_sscc(&self, sscc: u64) -> bool {
        let s = format!("{sscc:018}");
        self.gs1_prefixes
            .iter()
            .any(|p| s[1..].starts_with(p.as_str()))
    }
}

impl Role {
    /// The API word.
    pub fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Importer => "importer",
            Role::Wholesaler => "wholesaler",
            Role::Retailer => "retailer",
            Role::FiscalOperator => "fiscal_operator",
            Role::Regulator => "regulator",
        }
    }
}

impl Participant {
    /// Whether the participant has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A product group: how long its serials are and how long unused codes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProductGroup {
    /// Stable name used in the API (`milk`, `shoes`, …).
    pub name: &'static str,
    /// Length of operator-generated serials.
    pub serial_len: u8,
    /// Days after which an EMITTED code not yet applied expires.
    pub emitted_ttl_days: u32,
}

/// The product groups the registry knows, serial length by group (listed in
/// docs/api-guide.md, "Product cards and code orders").
pub const PRODUCT_GROUPS: &[ProductGroup] = &[
    ProductGroup {
        name: "clothes",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "shoes",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "tyres",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "medicines",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "perfume",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "bicycles",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "textiles",
        serial_len: 13,
        emitted_ttl_days: 60,
    },
    ProductGroup {
        name: "cameras",
        serial_len: 20,
        emitted_ttl_days: 90,
    },
    ProductGroup {
        name: "phones",
        serial_len: 20,
        emitted_ttl_days: 90,
    },
    ProductGroup {
        name: "tobacco",
        serial_len: 7,
        emitted_ttl_days: 30,
    },
    ProductGroup {
        name: "beer",
        serial_len: 7,
        emitted_ttl_days: 30,
    },
    ProductGroup {
        name: "milk",
        serial_len: 6,
        emitted_ttl_days: 30,
    },
    ProductGroup {
        name: "dairy",
        serial_len: 6,
        emitted_ttl_days: 30,
    },
    ProductGroup {
        name: "water",
        serial_len: 6,
        emitted_ttl_days: 30,
    },
    ProductGroup {
        name: "meat",
        serial_len: 6,
        emitted_ttl_days: 30,
    },
    ProductGroup {
        name: "food",
        serial_len: 6,
        emitted_ttl_days: 30,
    },
];

/// Looks a product group up by name.
pub fn product_group(name: &str) -> Option<&'static ProductGroup> {
    PRODUCT_GROUPS.iter().find(|g| g.name == name)
}

/// A product card (GTIN).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// 14-digit GTIN.
    pub gtin: String,
    /// Name shown to consumers.
    pub name: String,
    /// Product group name (see [`PRODUCT_GROUPS`]).
    pub product_group: String,
    /// Brand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Shelf life in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shelf_life_days: Option<u32>,
    /// Maximum retail price, in minor currency units (kopecks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retail_price: Option<u64>,
    /// Free-form attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Value>,
    /// The producer or importer that owns the card.
    pub owner: ParticipantId,
}

/// Status of a code (docs/domain.md, "A code's life").
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum Status {
    /// Issued by the registry, not yet on a product.
    Emitted = 1,
    /// Printed and applied to a product.
    Applied = 2,
    /// In circulation.
    Introduced = 3,
    /// Out of circulation (sold, exported, …): see the reason.
    Retired = 4,
    /// Written off (damaged, lost, destroyed, remarked).
    WrittenOff = 5,
}

impl Status {
    /// All statuses in order.
    pub const ALL: [Status; 5] = [
        Status::Emitted,
        Status::Applied,
        Status::Introduced,
        Status::Retired,
        Status::WrittenOff,
    ];

    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Emitted => "EMITTED",
            Status::Applied => "APPLIED",
            Status::Introduced => "INTRODUCED",
            Status::Retired => "RETIRED",
            Status::WrittenOff => "WRITTEN_OFF",
        }
    }

    fn from_u8(v: u8) -> Option<Status> {
        Status::ALL.get(usize::from(v).wrapping_sub(1)).copied()
    }
}

macro_rules! reasons {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:literal => $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $n,)* }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// The stable API word.
            pub fn name(self) -> &'static str { match self { $($name::$v => $s,)* } }
            /// Parses the API word.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some($name::$v),)* _ => None } }
            /// From the stored byte.
            pub fn from_u8(v: u8) -> Option<Self> { match v { $($n => Some($name::$v),)* _ => None } }
        }
    };
}

reasons! {
    /// Why a code left circulation (RETIRED) or was written off.
    Reason {
        /// Sold at a till (fiscal receipt).
        Retail = 1 => "retail",
        /// Distance (online) sale.
        Distance = 2 => "distance",
        /// Exported.
        Export = 3 => "export",
        /// Lost.
        Loss = 4 => "loss",
        /// Destroyed.
        Destruction = 5 => "destruction",
        /// Expired goods taken out.
        Expiry = 6 => "expiry",
        /// Recalled.
        Recall = 7 => "recall",
        /// Confiscated by authorities.
        Confiscation = 8 => "confiscation",
        /// Donated.
        Donation = 9 => "donation",
        /// Own use of the business.
        OwnUse = 10 => "own_use",
        /// Used as samples.
        Samples = 11 => "samples",
        /// Damaged (write-off).
        Damage = 12 => "damage",
        /// Label damaged and replaced by a new code (write-off).
        Remark = 13 => "remark",
        /// Defective (write-off).
        Defect = 14 => "defect",
    }
}

impl Reason {
    /// Reasons a `withdraw` document may give (retail goes through `sell`).
    pub fn withdrawable(self) -> bool {
        !matches!(
            self,
            Reason::Retail | Reason::Damage | Reason::Remark | Reason::Defect
        )
    }
    /// Reasons that put goods in a buyer's hands: refused for expired goods.
    pub fn sale_like(self) -> bool {
        matches!(
            self,
            Reason::Retail
                | Reason::Distance
                | Reason::Export
                | Reason::Donation
                | Reason::OwnUse
                | Reason::Samples
        )
    }
    /// Withdrawal reasons allowed for blocked (recalled) goods: they leave circulation
    /// under control, never towards a buyer.
    pub fn allowed_when_blocked(self) -> bool {
        matches!(
            self,
            Reason::Destruction | Reason::Recall | Reason::Confiscation
        )
    }
    /// Reasons a `write_off` document may give.
    pub fn write_off_allowed(self) -> bool {
        matches!(
            self,
            Reason::Damage
                | Reason::Loss
                | Reason::Destruction
                | Reason::Expiry
                | Reason::Remark
                | Reason::Defect
                | Reason::Confiscation
                | Reason::Samples
        )
    }
    /// Retirements a `return` can undo (the return's reason must equal this one).
    pub fn returnable(self) -> bool {
        matches!(self, Reason::Retail | Reason::Distance)
    }
}

/// Kind of crypto tail a code was issued with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum TailKind {
    /// No tail (SSCC packages, self-made codes before issue).
    None = 0,
    /// AI 91 + 92 (44 chars): registry MAC.
    Mac = 1,
    /// AI 91 + 92 (88 chars): Ed25519 signature, checkable offline.
    Signature = 2,
    /// AI 93 (4 chars): short MAC.
    Short = 3,
}

impl TailKind {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(TailKind::None),
            1 => Some(TailKind::Mac),
            2 => Some(TailKind::Signature),
            3 => Some(TailKind::Short),
            _ => None,
        }
    }
}

const KEY_CAP: usize = 31;
const TAG_SSCC: u8 = 0;
const TAG_GTIN: u8 = 1;

/// A code's compact, fixed-size identity: `01{gtin}21{serial}` or `00{sscc}`.
///
/// Layout: tag byte, then the GTIN as 7 big-endian bytes and the serial's bytes, or the
/// SSCC as 8 big-endian bytes. `Copy`, so hot paths never allocate for a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeKey {
    len: u8,
    bytes: [u8; KEY_CAP],
}

impl CodeKey {
    /// A unit or group code: GTIN (14 digits as a number) and serial (1..=20 bytes of CSET 82).
    pub fn unit(gtin: u64, serial: &[u8]) -> CodeKey {
        debug_assert!(!serial.is_empty() && serial.len() <= SERIAL_LEN_MAX);
        debug_assert!(gtin < 100_000_000_000_000);
        let mut bytes = [0u8; KEY_CAP];
        bytes[0] = TAG_GTIN;
        bytes[1..8].copy_from_slice(&gtin.to_be_bytes()[1..8]);
        let n = serial.len().min(SERIAL_LEN_MAX);
        bytes[8..8 + n].copy_from_slice(&serial[..n]);
        CodeKey {
            len: (8 + n) as u8,
            bytes,
        }
    }

    /// The SSCC's 18 digits as a number, for an SSCC key.
    pub fn sscc_number(&self) -> Option<u64> {
        self.is_sscc()
            .then(|| u64::from_be_bytes(self.bytes[1..9].try_into().unwrap_or([0; 8])))
    }

    /// A transport package (SSCC, 18 digits as a number).
    pub fn sscc(sscc: u64) -> CodeKey {
        let mut bytes = [0u8; KEY_CAP];
        bytes[0] = TAG_SSCC;
        bytes[1..9].copy_from_slice(&sscc.to_be_bytes());
        CodeKey { len: 9, bytes }
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Rebuilds a key from [`CodeKey::as_bytes`]; `None` if malformed.
    pub fn from_bytes(b: &[u8]) -> Option<CodeKey> {
        match *b.first()? {
            TAG_SSCC if b.len() == 9 => {
                Some(CodeKey::sscc(u64::from_be_bytes(b[1..9].try_into().ok()?)))
            }
            TAG_GTIN if b.len() > 8 && b.len() <= 8 + SERIAL_LEN_MAX => {
                let mut g = [0u8; 8];
                g[1..8].copy_from_slice(&b[1..8]);
                Some(CodeKey::unit(u64::from_be_bytes(g), &b[8..]))
            }
            _ => None,
        }
    }

    /// Whether this is an SSCC (transport package) rather than a GTIN-based code.
    pub fn is_sscc(&self) -> bool {
        self.bytes[0] == TAG_SSCC
    }

    /// The GTIN, for GTIN-based codes.
    pub fn gtin(&self) -> Option<u64> {
        if self.is_sscc() {
            return None;
        }
        let mut g = [0u8; 8];
        g[1..8].copy_from_slice(&self.bytes[1..8]);
        Some(u64::from_be_bytes(g))
    }

    /// The serial, for GTIN-based codes.
    pub fn serial(&self) -> Option<&str> {
        if self.is_sscc() {
            return None;
        }
        std::str::from_utf8(&self.bytes[8..usize::from(self.len)]).ok()
    }

    /// Length-prefixed encoding used inside composite storage keys, so that no key is a
    /// prefix of another.
    pub fn prefixed(&self) -> ([u8; KEY_CAP + 1], usize) {
        let mut out = [0u8; KEY_CAP + 1];
        out[0] = self.len;
        out[1..1 + usize::from(self.len)].copy_from_slice(self.as_bytes());
        (out, 1 + usize::from(self.len))
    }

    /// Reads a length-prefixed key from the front of `b`, returning it and the rest.
    pub fn read_prefixed(b: &[u8]) -> Option<(CodeKey, &[u8])> {
        let n = usize::from(*b.first()?);
        let key = CodeKey::from_bytes(b.get(1..1 + n)?)?;
        Some((key, &b[1 + n..]))
    }
}

impl fmt::Display for CodeKey {
    /// The identification code: `01{gtin:014}21{serial}` or `00{sscc:018}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.gtin(), self.serial()) {
            (Some(g), Some(s)) => write!(f, "01{g:014}21{s}"),
            _ => {
                let v = u64::from_be_bytes(self.bytes[1..9].try_into().unwrap_or([0; 8]));
                write!(f, "00{v:018}")
            }
        }
    }
}

impl fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeKey({self})")
    }
}

/// Flag: the code is in transit to `receiver`.
pub const FLAG_IN_TRANSIT: u8 = 1;

/// The state of one code: a fixed binary record of [`CodeState::ENCODED_LEN_MAX`] bytes at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeState {
    /// Life-cycle status.
    pub status: Status,
    /// Why RETIRED / WRITTEN_OFF, if so.
    pub reason: Option<Reason>,
    /// Tail kind the code was issued with.
    pub tail: TailKind,
    /// Flags ([`FLAG_IN_TRANSIT`]).
    pub flags: u8,
    /// The one owner.
    pub owner: ParticipantId,
    /// Who ordered (emitted) the code; for SSCC packages, who formed it.
    pub producer: ParticipantId,
    /// Receiver while in transit, else 0.
    pub receiver: ParticipantId,
    /// Index of the key that issued the tail.
    pub key_index: u16,
    /// Number of active code-level blocks.
    pub blocks: u16,
    /// Events recorded so far: the next event's sequence number.
    pub events: u32,
    /// Day of emission (days since 1970-01-01).
    pub emitted_day: u32,
    /// Production date (day), 0 if unknown.
    pub production_day: u32,
    /// Expiry date (day), 0 if none.
    pub expiry_day: u32,
    /// Sequence number of the ship document while in transit, else 0.
    pub shipment: u64,
    /// Hash of the batch/lot (0 = none).
    pub batch: u64,
    /// Fingerprint of the tail issued (0 = none).
    pub tail_fp: u64,
    /// When the status last changed (Unix seconds): the sale time for sold codes.
    pub changed_at: u64,
    /// Number of direct children (a package when > 0).
    pub children: u32,
    /// Document sequence number of the code's last event (0 = none): the head of its
    /// history, which engines may keep as a list linked through [`CodeEvent::prev`].
    pub last_event: u64,
    /// The package this code is in.
    pub parent: Option<CodeKey>,
    /// Remarking: for a written-off code (reason `remark`) the code that replaced it; for its
    /// replacement, the code it replaced.
    pub twin: Option<CodeKey>,
}

const TAG_PARENT: u8 = b'P';
const TAG_TWIN: u8 = b'T';

impl CodeState {
    /// Size of the fixed part of the encoding, its version byte included.
    pub const FIXED_LEN: usize = 81;
    /// Largest encoding (with a parent and a twin, each a tag byte and a prefixed key).
    pub const ENCODED_LEN_MAX: usize = Self::FIXED_LEN + 2 * (2 + KEY_CAP);
    /// The record format written now (the first byte): a later field is a new version,
    /// read alongside the old, never a rewrite of stored states.
    pub const VERSION: u8 = 1;

    /// A fresh state.
    pub fn new(status: Status, owner: ParticipantId, now: u64) -> CodeState {
        CodeState {
            status,
            reason: None,
            tail: TailKind::None,
            flags: 0,
            owner,
            producer: owner,
            receiver: 0,
            key_index: 0,
            blocks: 0,
            events: 0,
            emitted_day: crate::time::day_of(now),
            production_day: 0,
            expiry_day: 0,
            shipment: 0,
            batch: 0,
            tail_fp: 0,
            changed_at: now,
            children: 0,
            last_event: 0,
            parent: None,
            twin: None,
        }
    }

    /// Whether the code is in transit.
    pub fn in_transit(&self) -> bool {
        self.flags & FLAG_IN_TRANSIT != 0
    }

    /// Encodes into `out`, returning the length used.
    pub fn encode(&self, out: &mut [u8; Self::ENCODED_LEN_MAX]) -> usize {
        out[0] = Self::VERSION;
        let o = &mut out[1..];
        o[0] = self.status as u8;
        o[1] = self.reason.map_or(0, |r| r as u8);
        o[2] = self.tail as u8;
        o[3] = self.flags;
        o[4..8].copy_from_slice(&self.owner.to_le_bytes());
        o[8..12].copy_from_slice(&self.producer.to_le_bytes());
        o[12..16].copy_from_slice(&self.receiver.to_le_bytes());
        o[16..18].copy_from_slice(&self.key_index.to_le_bytes());
        o[18..20].copy_from_slice(&self.blocks.to_le_bytes());
        o[20..24].copy_from_slice(&self.events.to_le_bytes());
        o[24..28].copy_from_slice(&self.emitted_day.to_le_bytes());
        o[28..32].copy_from_slice(&self.production_day.to_le_bytes());
        o[32..36].copy_from_slice(&self.expiry_day.to_le_bytes());
        o[36..44].copy_from_slice(&self.shipment.to_le_bytes());
        o[44..52].copy_from_slice(&self.batch.to_le_bytes());
        o[52..60].copy_from_slice(&self.tail_fp.to_le_bytes());
        o[60..68].copy_from_slice(&self.changed_at.to_le_bytes());
        o[68..72].copy_from_slice(&self.children.to_le_bytes());
        o[72..80].copy_from_slice(&self.last_event.to_le_bytes());
        let mut at = Self::FIXED_LEN - 1;
        for (tag, key) in [(TAG_PARENT, &self.parent), (TAG_TWIN, &self.twin)] {
            if let Some(k) = key {
                let (b, n) = k.prefixed();
                o[at] = tag;
                o[at + 1..at + 1 + n].copy_from_slice(&b[..n]);
                at += 1 + n;
            }
        }
        at + 1
    }

    /// Encodes into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = [0u8; Self::ENCODED_LEN_MAX];
        let n = self.encode(&mut buf);
        buf[..n].to_vec()
    }

    /// Decodes; `None` if the bytes are not a state record.
    pub fn decode(b: &[u8]) -> Option<CodeState> {
        if b.len() < Self::FIXED_LEN || b[0] != Self::VERSION {
            return None;
        }
        let b = &b[1..];
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let (mut parent, mut twin) = (None, None);
        let mut rest = &b[Self::FIXED_LEN - 1..];
        while let Some((&tag, tail)) = rest.split_first() {
            let (k, after) = CodeKey::read_prefixed(tail)?;
            match tag {
                TAG_PARENT if parent.is_none() => parent = Some(k),
                TAG_TWIN if twin.is_none() => twin = Some(k),
                _ => return None,
            }
            rest = after;
        }
        Some(CodeState {
            status: Status::from_u8(b[0])?,
            reason: if b[1] == 0 {
                None
            } else {
                Some(Reason::from_u8(b[1])?)
            },
            tail: TailKind::from_u8(b[2])?,
            flags: b[3],
            owner: u32_at(4),
            producer: u32_at(8),
            receiver: u32_at(12),
            key_index: u16_at(16),
            blocks: u16_at(18),
            events: u32_at(20),
            emitted_day: u32_at(24),
            production_day: u32_at(28),
            expiry_day: u32_at(32),
            shipment: u64_at(36),
            batch: u64_at(44),
            tail_fp: u64_at(52),
            changed_at: u64_at(60),
            children: u32_at(68),
            last_event: u64_at(72),
            parent,
            twin,
        })
    }
}

/// Document types (docs/api-guide.md, "Documents"), plus `emit`, the registry's own record
/// of an order's codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum DocType {
    /// Codes issued for an order (written by the registry).
    Emit = 0,
    /// EMITTED → APPLIED.
    Apply = 1,
    /// APPLIED → INTRODUCED (made here).
    Introduce = 2,
    /// APPLIED → INTRODUCED (imported).
    Import = 3,
    /// Package formed.
    Aggregate = 4,
    /// Packages dissolved.
    Disaggregate = 5,
    /// In transit to a receiver.
    Ship = 6,
    /// Receiver takes (or rejects) a shipment.
    Accept = 7,
    /// Retail sale from a fiscal receipt.
    Sell = 8,
    /// Return of a sold item.
    Return = 9,
    /// Written off.
    WriteOff = 10,
    /// Out of circulation for another reason.
    Withdraw = 11,
    /// A damaged label replaced: the old code written off, a new one in its place.
    Remark = 12,
    /// An EPCIS event captured on identifiers the registry did not issue, or on its codes
    /// by their holder without changing them (a visibility event: recorded, no code moves).
    EpcisEvent = 13,
    /// An EPCIS capture: the signed document as received and its job's outcome (written by
    /// the registry; its events are the documents after it that name it).
    EpcisCapture = 14,
}

impl DocType {
    /// The API word.
    pub fn name(self) -> &'static str {
        match self {
            DocType::Emit => "emit",
            DocType::Apply => "apply",
            DocType::Introduce => "introduce",
            DocType::Import => "import",
            DocType::Aggregate => "aggregate",
            DocType::Disaggregate => "disaggregate",
            DocType::Ship => "ship",
            DocType::Accept => "accept",
            DocType::Sell => "sell",
            DocType::Return => "return",
            DocType::WriteOff => "write_off",
            DocType::Withdraw => "withdraw",
            DocType::Remark => "remark",
            DocType::EpcisEvent => "epcis_event",
            DocType::EpcisCapture => "epcis_capture",
        }
    }

    /// From the stored byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        use DocType::*;
        [
            Emit,
            Apply,
            Introduce,
            Import,
            Aggregate,
            Disaggregate,
            Ship,
            Accept,
            Sell,
            Return,
            WriteOff,
            Withdraw,
            Remark,
            EpcisEvent,
            EpcisCapture,
        ]
        .get(usize::from(v))
        .copied()
    }
}

/// One entry of a code's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeEvent {
    /// Global sequence number of the document that caused it.
    pub doc_seq: u64,
    /// When (Unix seconds).
    pub at: u64,
    /// Document type.
    pub doc_type: DocType,
    /// Status after the event.
    pub status: Status,
    /// Reason after the event, if any.
    pub reason: Option<Reason>,
    /// Owner after the event.
    pub owner: ParticipantId,
    /// Who submitted the document.
    pub actor: ParticipantId,
    /// Document sequence number of the code's previous event (0 = this is the first).
    pub prev: u64,
}

impl CodeEvent {
    /// Encoded size, the version byte included.
    pub const ENCODED_LEN: usize = 36;
    /// The record format written now (the first byte).
    pub const VERSION: u8 = 1;

    /// Fixed binary encoding: the version byte, then the fields.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[0] = Self::VERSION;
        let o = &mut out[1..];
        o[0..8].copy_from_slice(&self.doc_seq.to_le_bytes());
        o[8..16].copy_from_slice(&self.at.to_le_bytes());
        o[16] = self.doc_type as u8;
        o[17] = self.status as u8;
        o[18] = self.reason.map_or(0, |r| r as u8);
        o[19..23].copy_from_slice(&self.owner.to_le_bytes());
        o[23..27].copy_from_slice(&self.actor.to_le_bytes());
        o[27..35].copy_from_slice(&self.prev.to_le_bytes());
        out
    }

    /// Decodes; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<CodeEvent> {
        if b.len() != Self::ENCODED_LEN || b[0] != Self::VERSION {
            return None;
        }
        let b = &b[1..];
        Some(CodeEvent {
            doc_seq: u64::from_le_bytes(b[0..8].try_into().ok()?),
            at: u64::from_le_bytes(b[8..16].try_into().ok()?),
            doc_type: DocType::from_u8(b[16])?,
            status: Status::from_u8(b[17])?,
            reason: if b[18] == 0 {
                None
            } else {
                Some(Reason::from_u8(b[18])?)
            },
            owner: u32::from_le_bytes(b[19..23].try_into().ok()?),
            actor: u32::from_le_bytes(b[23..27].try_into().ok()?),
            prev: u64::from_le_bytes(b[27..35].try_into().ok()?),
        })
    }
}

/// A document as kept forever: the legal record (body bytes and signature) and the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDocument {
    /// Client-chosen id (UUID).
    pub id: uuid::Uuid,
    /// Global sequence number (order of acceptance).
    pub seq: u64,
    /// Type.
    pub doc_type: DocType,
    /// Submitter.
    pub participant: ParticipantId,
    /// Receipt time (Unix seconds).
    pub received_at: u64,
    /// Number of codes the document changed (packages expanded).
    pub codes: u64,
    /// BLAKE3 of the body, for idempotency.
    pub body_hash: [u8; 32],
    /// Hash chain value after this document: BLAKE3(previous chain ‖ seq ‖ body hash ‖ signature).
    pub chain: [u8; 32],
    /// The `Signature` header it came with (RFC 9421), as received.
    pub signature: String,
    /// The whole signed request (method, path, query, signature input and signature): with
    /// the body, what anyone re-verifies the signature from.
    #[serde(default)]
    pub request: SignedRequest,
    /// Its leaf in the transparency log.
    #[serde(default)]
    pub log_index: Option<u64>,
    /// The exact body bytes (UTF-8 JSON).
    #[serde(with = "body_text")]
    pub body: Vec<u8>,
}

mod body_text {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

/// Status of a code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Codes being produced.
    Pending,
    /// All codes produced; fetch them in pages.
    Ready,
    /// Refused (e.g. a self-made serial already exists).
    Rejected,
    /// Closed by the orderer.
    Closed,
}

/// How serials are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SerialType {
    /// The registry generates unguessable serials.
    Operator,
    /// The producer supplies serials.
    SelfMade,
}

/// A code order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Order id.
    pub id: uuid::Uuid,
    /// Who ordered.
    pub participant: ParticipantId,
    /// GTIN as 14 digits.
    pub gtin: String,
    /// Number of codes.
    pub quantity: u32,
    /// Serial type.
    pub serial_type: SerialType,
    /// Tail kind.
    pub tail: TailKind,
    /// Index of the issuing key.
    pub key_index: u16,
    /// Serial length (operator serials).
    pub serial_len: u8,
    /// First counter value (operator serials).
    pub counter_start: u64,
    /// Status.
    pub status: OrderStatus,
    /// Codes produced so far.
    pub produced: u32,
    /// When created (Unix seconds).
    pub created_at: u64,
    /// Why rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Codes emitted as a range: the operator serials of counters `counter_lo ..
/// counter_lo + count` of one GTIN at one serial length, issued together by one emission
/// chunk of an order.
///
/// A code nobody has touched yet has no state record of its own: its state is derived from
/// its range (`registry::ranges`: the serial maps back to its counter through the issuing
/// permutation, the tail's fingerprint is recomputed with the issuing key) until the first
/// change writes one. Both forms read the same through the registry. One record of
/// [`CodeRange::ENCODED_LEN`] bytes stands for up to [`crate::limits::RANGE_CHUNK`] codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeRange {
    /// The GTIN (14 digits as a number).
    pub gtin: u64,
    /// The serials' length.
    pub serial_len: u8,
    /// The first counter.
    pub counter_lo: u64,
    /// How many codes.
    pub count: u32,
    /// Who ordered them (owner and producer of every code of the range).
    pub owner: ParticipantId,
    /// Their tails' kind (never a signature: see `registry::ranges::ranged`).
    pub tail: TailKind,
    /// Index of the issuing key.
    pub key_index: u16,
    /// When they were emitted (Unix seconds).
    pub at: u64,
    /// The order they belong to.
    pub order: uuid::Uuid,
}

impl CodeRange {
    /// Size of the binary record, its version byte included.
    pub const ENCODED_LEN: usize = 53;
    /// The record format written now (the first byte).
    pub const VERSION: u8 = 1;

    /// Whether the range holds counter `c`.
    pub fn contains(&self, c: u64) -> bool {
        c >= self.counter_lo && c - self.counter_lo < u64::from(self.count)
    }

    /// The state every code of the range has until its first change, but for the tail's
    /// fingerprint (which is each code's own).
    pub fn state(&self) -> CodeState {
        let mut st = CodeState::new(Status::Emitted, self.owner, self.at);
        st.tail = self.tail;
        st.key_index = self.key_index;
        st
    }

    /// The storage key of the range: GTIN (u64 BE) ‖ serial length ‖ first counter (u64 BE),
    /// so that the range holding a counter is the last key at or before (GTIN, length,
    /// counter).
    pub fn key(gtin: u64, serial_len: u8, counter: u64) -> [u8; 17] {
        let mut k = [0u8; 17];
        k[..8].copy_from_slice(&gtin.to_be_bytes());
        k[8] = serial_len;
        k[9..].copy_from_slice(&counter.to_be_bytes());
        k
    }

    /// This range's storage key ([`CodeRange::key`]).
    pub fn storage_key(&self) -> [u8; 17] {
        Self::key(self.gtin, self.serial_len, self.counter_lo)
    }

    /// The binary record: version ‖ GTIN ‖ length ‖ first counter ‖ count ‖ owner ‖ tail ‖
    /// key index ‖ time ‖ order id (little-endian numbers).
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut o = [0u8; Self::ENCODED_LEN];
        o[0] = Self::VERSION;
        o[1..9].copy_from_slice(&self.gtin.to_le_bytes());
        o[9] = self.serial_len;
        o[10..18].copy_from_slice(&self.counter_lo.to_le_bytes());
        o[18..22].copy_from_slice(&self.count.to_le_bytes());
        o[22..26].copy_from_slice(&self.owner.to_le_bytes());
        o[26] = self.tail as u8;
        o[27..29].copy_from_slice(&self.key_index.to_le_bytes());
        o[29..37].copy_from_slice(&self.at.to_le_bytes());
        o[37..53].copy_from_slice(self.order.as_bytes());
        o
    }

    /// Decodes [`CodeRange::encode`]; `None` if malformed or of an unknown version.
    pub fn decode(b: &[u8]) -> Option<CodeRange> {
        if b.len() != Self::ENCODED_LEN || b[0] != Self::VERSION {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
        Some(CodeRange {
            gtin: u64_at(1),
            serial_len: b[9],
            counter_lo: u64_at(10),
            count: u32_at(18),
            owner: u32_at(22),
            tail: TailKind::from_u8(b[26])?,
            key_index: u16::from_le_bytes([b[27], b[28]]),
            at: u64_at(29),
            order: uuid::Uuid::from_slice(&b[37..53]).ok()?,
        })
    }
}

/// A regulator's block (or recall).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Block {
    /// Block id.
    pub id: u64,
    /// Blocked GTIN (whole product), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    /// Blocked batch (with `gtin` if given), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Number of codes blocked one by one.
    pub codes: u64,
    /// Why.
    pub reason: String,
    /// Who blocked (the regulator's internal participant id).
    #[schema(value_type = u32)]
    pub participant: ParticipantId,
    /// When (Unix seconds).
    pub created_at: u64,
    /// When lifted, if lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<u64>,
}

/// Hash of a batch string under a GTIN (what code states store).
pub fn batch_hash(batch: &str) -> u64 {
    if batch.is_empty() {
        return 0;
    }
    let h = blake3::hash(batch.as_bytes());
    u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8])).max(1)
}

/// Inventory bucket: codes in a status, or in transit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// Owned codes in this status.
    Status(Status),
    /// Owned codes shipped and not yet accepted.
    InTransitOut,
    /// Codes shipped to the participant, not yet accepted.
    InTransitIn,
}

impl Bucket {
    /// Stored byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Bucket::Status(s) => s as u8,
            Bucket::InTransitOut => 0x10,
            Bucket::InTransitIn => 0x11,
        }
    }
    /// From the stored byte.
    pub fn from_u8(v: u8) -> Option<Bucket> {
        match v {
            0x10 => Some(Bucket::InTransitOut),
            0x11 => Some(Bucket::InTransitIn),
            _ => Status::from_u8(v).map(Bucket::Status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_key_round_trips() {
        let k = CodeKey::unit(4_650_117_240_163, b"5100000005NgF");
        assert_eq!(k.to_string(), "0104650117240163215100000005NgF");
        assert_eq!(CodeKey::from_bytes(k.as_bytes()), Some(k));
        assert_eq!(k.gtin(), Some(4_650_117_240_163));
        assert_eq!(k.serial(), Some("5100000005NgF"));
        let s = CodeKey::sscc(106_141_412_345_678_908);
        assert_eq!(s.to_string(), "00106141412345678908");
        assert!(s.is_sscc());
        let (p, n) = k.prefixed();
        assert_eq!(CodeKey::read_prefixed(&p[..n]).map(|x| x.0), Some(k));
    }

    #[test]
    fn state_round_trips() {
        let mut st = CodeState::new(Status::Introduced, 7, 1_800_000_000);
        st.reason = Some(Reason::Export);
        st.tail = TailKind::Signature;
        st.parent = Some(CodeKey::sscc(1));
        st.twin = Some(CodeKey::unit(4_650_117_240_163, b"TWIN"));
        st.tail_fp = 42;
        st.children = 3;
        assert_eq!(CodeState::decode(&st.to_vec()), Some(st));
        st.parent = None;
        assert_eq!(CodeState::decode(&st.to_vec()), Some(st));
        st.twin = None;
        assert_eq!(st.to_vec().len(), CodeState::FIXED_LEN);
        assert_eq!(CodeState::decode(&st.to_vec()), Some(st));
        assert_eq!(CodeState::decode(&[9; 80]), None);
        // A record of another version is not read as this one.
        let mut v2 = st.to_vec();
        assert_eq!(v2[0], CodeState::VERSION);
        v2[0] = 2;
        assert_eq!(CodeState::decode(&v2), None);
    }

    #[test]
    fn event_round_trips() {
        let e = CodeEvent {
            doc_seq: 5,
            at: 6,
            doc_type: DocType::Sell,
            status: Status::Retired,
            reason: Some(Reason::Retail),
            owner: 3,
            actor: 3,
            prev: 4,
        };
        assert_eq!(CodeEvent::decode(&e.encode()), Some(e));
        let mut v2 = e.encode();
        assert_eq!(v2[0], CodeEvent::VERSION);
        v2[0] = 2;
        assert_eq!(CodeEvent::decode(&v2), None);
    }
}

/// A signed request as received (RFC 9421): with its body, the legal record of the change it
/// asked for. Every state-changing request of a participant carries one; the registry's own
/// changes (operator actions, emission) carry none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    /// HTTP method (`POST`, `DELETE`).
    pub method: String,
    /// The request path as sent (`@path`).
    pub path: String,
    /// The query as sent, without `?` (`@query` is `?` plus it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// The `Signature-Input` header value.
    pub signature_input: String,
    /// The `Signature` header value.
    pub signature: String,
}

impl SignedRequest {
    /// Its JSON with its body, for a log leaf's payload (`body: None` for a document,
    /// whose body is stored with it and named in the leaf by its hash).
    pub fn to_json(&self, body: Option<&[u8]>) -> serde_json::Value {
        use base64::Engine;
        let mut v = serde_json::json!({
            "method": self.method, "path": self.path, "query": self.query,
            "signature_input": self.signature_input, "signature": self.signature,
        });
        if let Some(b) = body {
            v["body"] = base64::engine::general_purpose::STANDARD.encode(b).into();
        }
        v
    }
}

/// A signed request with its body: what a change's log leaf keeps as its legal record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signed {
    /// The request's signature and target.
    pub request: SignedRequest,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

impl Signed {
    /// The leaf JSON of the signed request (`null` for the registry's own changes).
    pub fn leaf_json(&self) -> serde_json::Value {
        if self.request.signature.is_empty() {
            serde_json::Value::Null
        } else {
            self.request.to_json(Some(&self.body))
        }
    }
}
