//! Consumers' complaints: a shopper reports a violation (a fake, an expired item, a code
//! already sold, goods without marking, a price above the maximum) from the verification
//! page, and the regulator reads it.
//!
//! A complaint is public input: everything in it is bounded ([`TEXT_CHARS_MAX`],
//! [`SHOP_CHARS_MAX`], [`PHOTO_BYTES_MAX`]), checked before the writer sees it, and kept
//! whole — the record, and the photo under its own key. Each accepted complaint is a leaf
//! of the transparency log (the record with the photo's SHA-256), so an operator cannot
//! quietly drop complaints about a shop. How often one client may complain is the
//! server's business (a rate limit per address); the registry records an opaque tag of
//! the client so that the risk engine can tell one angry person from many.

pub use crate::limits::{
    COMPLAINT_PAGE_MAX as PAGE_MAX, COMPLAINT_PHOTO_BYTES_MAX as PHOTO_BYTES_MAX,
    COMPLAINT_SCAN_MAX as SCAN_MAX, COMPLAINT_SHOP_CHARS_MAX as SHOP_CHARS_MAX,
    COMPLAINT_TEXT_CHARS_MAX as TEXT_CHARS_MAX,
};
use crate::time::format_timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a complaint is about (stable words).
pub const KINDS: [&str; 6] = [
    "counterfeit",
    "expired",
    "sold_twice",
    "no_marking",
    "price",
    "other",
];

/// A place the shopper chose to share (WGS 84 degrees).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude, −90..90.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Longitude, −180..180.
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
    /// Accuracy radius in metres, as the phone reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub accuracy_m: Option<f64>,
}

/// A photo attached to a new complaint.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoUpload {
    /// `image/jpeg` or `image/png`.
    #[serde(rename = "type")]
    #[schema(schema_with = photo_types)]
    pub media_type: String,
    /// The image, standard base64 (≤ 2 MiB decoded).
    #[schema(min_length = 1)]
    pub data: String,
}

fn photo_types() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::apidoc::words(&["image/jpeg", "image/png"], "`image/jpeg` or `image/png`").into()
}

/// `POST /api/v1/complaints`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComplaint {
    /// The code complained about, in any accepted form (element string, brackets, Digital
    /// Link); optional: goods without marking have none.
    #[serde(default)]
    pub code: Option<String>,
    /// One of [`KINDS`].
    #[schema(schema_with = kinds)]
    pub kind: String,
    /// What happened, 1 to 2,000 characters.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub text: String,
    /// Where it was bought, in the shopper's words (≤ 200 characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub shop: Option<String>,
    /// Where the shopper is, only if they chose to share it.
    #[serde(default)]
    pub location: Option<Location>,
    /// A photo of the item or the label.
    #[serde(default)]
    pub photo: Option<PhotoUpload>,
}

fn kinds() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::apidoc::words(&KINDS, "What kind of violation").into()
}

/// A stored photo's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhotoRef {
    /// `image/jpeg` or `image/png`.
    #[serde(rename = "type")]
    pub media_type: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, lowercase hex (what the log leaf names).
    pub sha256: String,
}

/// A complaint as stored and as the regulator reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Complaint {
    /// Id (UUID v7: ordered by time).
    pub id: Uuid,
    /// When received (Unix seconds).
    pub at: u64,
    /// One of [`KINDS`].
    pub kind: String,
    /// The shopper's words.
    pub text: String,
    /// The identification code complained about (element string, no tail), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The verdict the code had when the complaint was made (as `GET /api/v1/verify`
    /// with the tail the shopper's link carried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Where it was bought, in the shopper's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    /// The shop the registry links to the code: the retailer that sold it, or the retailer
    /// holding it when the complaint was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_tin: Option<String>,
    /// The place, if shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The photo, if any (read it at `/api/v1/complaints/{id}/photo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<PhotoRef>,
    /// An opaque tag of the client (a keyed hash of its address): tells one person's many
    /// complaints from many people's, and reveals no address.
    pub client: String,
}

/// Filters of a complaints listing.
#[derive(Clone, Debug, Default)]
pub struct ComplaintFilter {
    /// Only complaints about this code (any accepted form; matched by identification code).
    pub code: Option<String>,
    /// Only complaints linked to this shop (TIN).
    pub shop: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Received at or after (Unix seconds).
    pub from: Option<u64>,
    /// Received before (Unix seconds).
    pub to: Option<u64>,
    /// Continue after this complaint id (the previous page's `next`).
    pub after: Option<Uuid>,
    /// Page size (≤ [`PAGE_MAX`]).
    pub limit: usize,
}

/// A page of complaints.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ComplaintPage {
    /// The complaints, oldest first.
    pub complaints: Vec<ComplaintView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// A complaint as answered: the stored record with its time in RFC 3339.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ComplaintView {
    /// The record.
    #[serde(flatten)]
    pub complaint: Complaint,
    /// When received (RFC 3339).
    pub received_at: String,
    /// Whether a photo is attached.
    pub has_photo: bool,
}

impl From<Complaint> for ComplaintView {
    fn from(c: Complaint) -> Self {
        ComplaintView {
            received_at: format_timestamp(c.at),
            has_photo: c.photo.is_some(),
            complaint: c,
        }
    }
}

/// The smallest UUID v7 of a second: where a time-ordered scan from that second starts.
pub fn id_floor(at_secs: u64) -> Uuid {
    let ms = at_secs.saturating_mul(1000).min((1u64 << 48) - 1);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70;
    b[8] = 0x80;
    Uuid::from_bytes(b)
}
