//! The rules of consumers' complaints ([`types::complaints`] holds the records): a
//! complaint is checked and bounded before the writer sees it, and kept whole.

pub use types::complaints::*;

use crate::tailguard::Checker;
use crate::Registry;
use types::error::{Error, Result};
use types::model::{ParticipantId, Role};
use uuid::Uuid;

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
            tx.append_log(types::log::LeafKind::Complaint, 0, &payload);
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
        actor: &types::model::Participant,
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
        actor: &types::model::Participant,
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
fn parse_code_field(c: &str) -> Result<types::codes::ParsedCode> {
    types::codes::parse_code(c).map_err(|(reason, detail)| Error::Invalid {
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
