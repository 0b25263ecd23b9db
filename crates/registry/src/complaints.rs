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

use crate::error::{Error, Result};
use crate::model::{ParticipantId, Role};
use crate::tailguard::Checker;
use crate::time::format_timestamp;
use crate::Registry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest complaint text, in characters.
pub const TEXT_CHARS_MAX: usize = 2_000;
/// Longest shop description (where the item was bought), in characters.
pub const SHOP_CHARS_MAX: usize = 200;
/// Largest photo, in bytes once decoded from base64: a phone photo downscaled to
/// 1,600 px as the page does it is ~300 KB.
pub const PHOTO_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Most complaints one listing answers.
pub const PAGE_MAX: usize = 1_000;
/// Most complaints one listing reads to find its page (filters are applied on a scan in
/// time order): a listing that reads this many answers what it found and a `next` cursor.
pub const SCAN_MAX: usize = 100_000;

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

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The image types a complaint's photo may have, by their magic bytes.
fn photo_type_ok(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        _ => false,
    }
}

fn trimmed(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c.is_control())
}

fn has_bad_controls(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}

impl Registry {
    /// Records a consumer's complaint; `client` is an opaque tag of who sent it (see
    /// [`Complaint::client`]), `checker` who verifies the code's tail. Answers the stored
    /// complaint once durable.
    pub fn complain(
        &self,
        req: NewComplaint,
        client: String,
        checker: Checker,
    ) -> Result<Complaint> {
        if !KINDS.contains(&req.kind.as_str()) {
            return Err(Error::invalid(format!(
                "`kind` must be one of {}; got {:?}",
                KINDS.join(", "),
                req.kind.chars().take(40).collect::<String>()
            )));
        }
        let text = trimmed(&req.text);
        let chars = text.chars().count();
        if chars == 0 || chars > TEXT_CHARS_MAX {
            return Err(Error::invalid(format!(
                "`text` must be 1 to {TEXT_CHARS_MAX} characters (it has {chars})"
            )));
        }
        if has_bad_controls(text) {
            return Err(Error::invalid("`text` holds control characters"));
        }
        let shop = req.shop.as_deref().map(trimmed).filter(|s| !s.is_empty());
        if let Some(s) = shop {
            if s.chars().count() > SHOP_CHARS_MAX || has_bad_controls(s) {
                return Err(Error::invalid(format!(
                    "`shop` must be at most {SHOP_CHARS_MAX} characters of text"
                )));
            }
        }
        if let Some(l) = &req.location {
            let ok = l.lat.is_finite()
                && l.lon.is_finite()
                && (-90.0..=90.0).contains(&l.lat)
                && (-180.0..=180.0).contains(&l.lon)
                && l.accuracy_m.is_none_or(|a| a.is_finite() && a >= 0.0);
            if !ok {
                return Err(Error::invalid(
                    "`location` must be {\"lat\": −90..90, \"lon\": −180..180, \"accuracy_m\"?: ≥ 0}",
                ));
            }
        }
        let photo = match &req.photo {
            None => None,
            Some(p) => {
                use base64::Engine;
                // Base64 is 4/3 of the bytes: refuse before decoding anything larger.
                if p.data.len() > PHOTO_BYTES_MAX / 3 * 4 + 4 {
                    return Err(Error::TooLarge(format!(
                        "the photo must be at most {} MiB",
                        PHOTO_BYTES_MAX >> 20
                    )));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(p.data.as_bytes())
                    .map_err(|_| Error::invalid("`photo.data` is not standard base64"))?;
                if bytes.len() > PHOTO_BYTES_MAX {
                    return Err(Error::TooLarge(format!(
                        "the photo must be at most {} MiB",
                        PHOTO_BYTES_MAX >> 20
                    )));
                }
                if !photo_type_ok(&p.media_type, &bytes) {
                    return Err(Error::invalid(
                        "`photo` must be a JPEG (`image/jpeg`) or PNG (`image/png`) image of that type",
                    ));
                }
                Some((p.media_type.clone(), bytes))
            }
        };
        let mut code = None;
        let mut verdict = None;
        let mut shop_tin = None;
        let mut shop_id = None;
        let mut key = None;
        let mut tail = false;
        if let Some(c) = req.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            let parsed = parse_code_field(c)?;
            code = Some(parsed.key.to_string());
            // The verdict as the shopper saw it; a throttled tail check leaves it out.
            // Not recorded as a scan: the shopper's scan before the complaint was.
            let answer = self.verify_inner(c, checker, &mut None).ok();
            // Made from a scanned label: the tail was presented and matched.
            tail = answer
                .as_ref()
                .is_some_and(|a| a.tail_checked && a.verdict != "forged");
            verdict = answer.map(|a| a.verdict.to_string());
            if let Some(st) = self
                .inner
                .ranges
                .states(&*self.inner.store, &[parsed.key])?
                .pop()
                .flatten()
            {
                shop_tin = self.shop_of(st.owner)?;
                shop_id = shop_tin.as_ref().map(|_| st.owner);
            }
            key = Some(parsed.key);
        }
        let now = self.now();
        let mut complaint = Complaint {
            id: Uuid::nil(),
            at: now,
            kind: req.kind,
            text: text.to_string(),
            code,
            verdict,
            shop: shop.map(str::to_string),
            shop_tin,
            location: req.location,
            photo: photo.as_ref().map(|(t, b)| PhotoRef {
                media_type: t.clone(),
                bytes: b.len() as u64,
                sha256: sha256_hex(b),
            }),
            client,
        };
        self.write(move |tx| {
            // Assigned in the writer, so ids grow with commit order (a listing's cursor
            // never skips one committed later with a smaller id).
            complaint.id = Uuid::now_v7();
            complaint.at = tx.now;
            let payload = serde_json::to_value(&complaint)
                .map_err(|e| Error::Unavailable(format!("complaint: {e}")))?;
            tx.append_log(crate::log::LeafKind::Complaint, 0, &payload);
            tx.put_complaint(complaint.clone(), photo.map(|(_, b)| b));
            tx.record(&crate::feed::Fact::Complaint(crate::feed::ComplaintFact {
                id: complaint.id,
                at: tx.now,
                kind: complaint.kind.clone(),
                key: key.map(crate::feed::FactKey),
                shop: shop_id,
                client: complaint.client.clone(),
                tail,
            }));
            Ok(complaint)
        })
    }

    /// The retailer a code points at: its owner when that is a shop (the seller, for a
    /// sold code).
    fn shop_of(&self, owner: ParticipantId) -> Result<Option<String>> {
        Ok(self
            .participant(owner)?
            .filter(|p| p.has(Role::Retailer))
            .map(|p| p.tin))
    }

    /// Complaints for a regulator, oldest first, filtered (see [`ComplaintFilter`]).
    pub fn complaints(
        &self,
        actor: &crate::model::Participant,
        f: &ComplaintFilter,
    ) -> Result<ComplaintPage> {
        if !actor.has(Role::Regulator) {
            return Err(Error::Forbidden("only regulators read complaints".into()));
        }
        let code = match f.code.as_deref() {
            Some(c) => Some(parse_code_field(c)?.key.to_string()),
            None => None,
        };
        if let Some(k) = &f.kind {
            if !KINDS.contains(&k.as_str()) {
                return Err(Error::invalid(format!(
                    "`kind` must be one of {}",
                    KINDS.join(", ")
                )));
            }
        }
        if f.limit == 0 || f.limit > PAGE_MAX {
            return Err(Error::invalid(format!(
                "`limit` must be 1 to {PAGE_MAX} complaints"
            )));
        }
        let limit = f.limit;
        let mut start = id_floor(f.from.unwrap_or(0));
        if let Some(after) = f.after {
            match next_id(&after) {
                Some(n) => start = start.max(n),
                // Nothing comes after the largest id.
                None => {
                    return Ok(ComplaintPage {
                        complaints: Vec::new(),
                        next: None,
                    })
                }
            }
        }
        let mut out = Vec::new();
        let mut read = 0usize;
        loop {
            const CHUNK: usize = 1_000;
            let batch = self.inner.store.complaints(&start, CHUNK)?;
            let n = batch.len();
            for c in batch {
                read += 1;
                start = next_id(&c.id).unwrap_or(c.id);
                if f.to.is_some_and(|to| c.at >= to) {
                    return Ok(ComplaintPage {
                        complaints: out,
                        next: None,
                    });
                }
                let id = c.id;
                let keep = code.as_ref().is_none_or(|k| c.code.as_ref() == Some(k))
                    && f.shop
                        .as_ref()
                        .is_none_or(|s| c.shop_tin.as_ref() == Some(s))
                    && f.kind.as_ref().is_none_or(|k| &c.kind == k)
                    && f.from.is_none_or(|from| c.at >= from);
                if keep {
                    out.push(ComplaintView::from(c));
                    if out.len() == limit {
                        return Ok(ComplaintPage {
                            complaints: out,
                            next: Some(id),
                        });
                    }
                }
                if read >= SCAN_MAX {
                    return Ok(ComplaintPage {
                        complaints: out,
                        next: Some(id),
                    });
                }
            }
            if n < CHUNK {
                return Ok(ComplaintPage {
                    complaints: out,
                    next: None,
                });
            }
        }
    }

    /// A complaint's photo (regulators): its type and bytes.
    pub fn complaint_photo(
        &self,
        actor: &crate::model::Participant,
        id: &Uuid,
    ) -> Result<(String, Vec<u8>)> {
        if !actor.has(Role::Regulator) {
            return Err(Error::Forbidden("only regulators read complaints".into()));
        }
        let not_found = || Error::NotFound(format!("no photo of complaint {id}"));
        let c = self.inner.store.complaint(id)?.ok_or_else(not_found)?;
        let p = c.photo.ok_or_else(not_found)?;
        let bytes = self
            .inner
            .store
            .complaint_photo(id)?
            .ok_or_else(not_found)?;
        Ok((p.media_type, bytes))
    }
}

/// A request's `code` field, parsed; a malformed one is named with its fault.
fn parse_code_field(c: &str) -> Result<crate::codes::ParsedCode> {
    crate::codes::parse_code(c).map_err(|(reason, detail)| Error::Invalid {
        detail: format!("`code` is not a valid marking code: {detail}"),
        errors: vec![crate::CodeError {
            code: c.chars().take(200).collect(),
            reason,
        }],
    })
}

/// The id right after `id` (where a scan continues); `None` after the largest.
fn next_id(id: &Uuid) -> Option<Uuid> {
    id.as_u128().checked_add(1).map(Uuid::from_u128)
}
