//! Leaves of the transparency log: every accepted state change, as bytes.
//!
//! A leaf is `version (1) ‖ kind (1) ‖ at (u64 BE, Unix s) ‖ actor (u32 BE, 0 = the operator
//! or the registry itself) ‖ payload (UTF-8 JSON object)`. The version byte comes first so
//! that later fields (EPCIS dimensions, say) are a new version, never a rewrite of stored
//! leaves; the payload carries the signed request (the legal record) and what the registry
//! decided (ids it assigned). A document's leaf names its body by BLAKE3 (hashed when the body was read, not by the writer) (the body itself
//! is stored with the document), so the log stays small and an audit checks one against
//! the other.

use crate::model::ParticipantId;
use serde_json::Value;

/// The leaf format written now.
pub const LEAF_VERSION: u8 = 1;
/// Bytes before the payload.
pub const LEAF_HEADER_LEN: usize = 1 + 1 + 8 + 4;

macro_rules! kinds {
    ($($(#[$m:meta])* $v:ident = $n:literal => $s:literal,)*) => {
        /// What a leaf records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum LeafKind { $($(#[$m])* $v = $n,)* }
        impl LeafKind {
            /// The stable word.
            pub fn name(self) -> &'static str { match self { $(LeafKind::$v => $s,)* } }
            /// From the stored byte.
            pub fn from_u8(v: u8) -> Option<Self> { match v { $($n => Some(LeafKind::$v),)* _ => None } }
        }
    };
}

kinds! {
    /// An accepted document.
    Document = 1 => "document",
    /// A participant registered (operator).
    Participant = 2 => "participant",
    /// A key added to a participant (operator).
    ParticipantKey = 3 => "participant_key",
    /// A participant suspended (operator).
    Suspension = 4 => "suspension",
    /// A participant reinstated (operator).
    Reinstatement = 5 => "reinstatement",
    /// GS1 company prefixes added to a participant (operator).
    Prefixes = 6 => "prefixes",
    /// A product card registered or changed.
    Product = 7 => "product",
    /// A code order accepted.
    Order = 8 => "order",
    /// An order closed.
    OrderClose = 9 => "order_close",
    /// Codes emitted for an order (one leaf per chunk the writer stores).
    Emission = 10 => "emission",
    /// A block (recall) made.
    Block = 11 => "block",
    /// A block lifted.
    Lift = 12 => "lift",
    /// A consumer's complaint (the record; the photo by its SHA-256).
    Complaint = 13 => "complaint",
    /// A regulator acknowledged a risk alert.
    AlertAck = 14 => "alert_ack",
    /// A product card moved to another participant (operator): settled by the operator, or
    /// to the holder of a GS1 company prefix granted over it.
    ProductTransfer = 15 => "product_transfer",
}

/// A decoded leaf.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    /// Format version.
    pub version: u8,
    /// What it records.
    pub kind: LeafKind,
    /// When (Unix seconds).
    pub at: u64,
    /// Who asked (0: the operator or the registry).
    pub actor: ParticipantId,
    /// The record.
    pub payload: Value,
}

/// Encodes a leaf.
pub fn encode(kind: LeafKind, at: u64, actor: ParticipantId, payload: &Value) -> Vec<u8> {
    let json = payload.to_string();
    let mut out = Vec::with_capacity(LEAF_HEADER_LEN + json.len());
    out.push(LEAF_VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&at.to_be_bytes());
    out.extend_from_slice(&actor.to_be_bytes());
    out.extend_from_slice(json.as_bytes());
    out
}

/// Decodes a leaf; `None` when it is not one of a known version.
pub fn decode(b: &[u8]) -> Option<Leaf> {
    if b.len() < LEAF_HEADER_LEN || b[0] != LEAF_VERSION {
        return None;
    }
    Some(Leaf {
        version: b[0],
        kind: LeafKind::from_u8(b[1])?,
        at: u64::from_be_bytes(b[2..10].try_into().ok()?),
        actor: u32::from_be_bytes(b[10..14].try_into().ok()?),
        payload: serde_json::from_slice(&b[LEAF_HEADER_LEN..]).ok()?,
    })
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether a leaf holds a code with its crypto tail (in its payload, or in the body of
/// the signed request it keeps: a regulator's block may name codes as scanned, tails and
/// all). Such a leaf's bytes are for the participant that made the change alone: the
/// tree holds its hash, so it cannot be redacted without breaking every proof.
pub fn holds_tails(leaf: &Leaf) -> bool {
    use base64::Engine;
    if crate::redact::has_tails(&leaf.payload) {
        return true;
    }
    leaf.payload
        .get("request")
        .and_then(|r| r.get("body"))
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|v| crate::redact::has_tails(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SignedRequest;
    use serde_json::json;

    #[test]
    fn leaves_round_trip_and_refuse_unknown_versions() {
        let b = encode(LeafKind::Block, 1_700_000_000, 7, &json!({"id": 3}));
        let l = decode(&b).expect("decodes");
        assert_eq!(
            (l.version, l.kind, l.at, l.actor),
            (1, LeafKind::Block, 1_700_000_000, 7)
        );
        assert_eq!(l.payload, json!({"id": 3}));
        let mut v2 = b.clone();
        v2[0] = 2;
        assert!(decode(&v2).is_none());
        assert!(decode(&b[..5]).is_none());
    }

    #[test]
    fn a_leaf_with_a_scanned_code_holds_tails() {
        use base64::Engine;
        let r = SignedRequest::default();
        let body =
            |c: &str| serde_json::to_vec(&json!({"codes": [c], "reason": "recall"})).expect("json");
        let leaf = |c: &str| {
            let p = json!({"block_id": 1, "request": r.to_json(Some(&body(c)))});
            decode(&encode(LeafKind::Block, 1, 7, &p)).expect("leaf")
        };
        assert!(holds_tails(&leaf("0104601234567893215Zx!q\u{1d}93Ab/+")));
        assert!(!holds_tails(&leaf("0104601234567893215Zx!q")));
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"not json");
        let odd = decode(&encode(
            LeafKind::Block,
            1,
            7,
            &json!({"request": {"body": b64}}),
        ))
        .expect("leaf");
        assert!(!holds_tails(&odd));
    }
}
