//! The transparency log's endpoints: the public keys, the signed checkpoint, entries, and
//! inclusion and consistency proofs.

use crate::problem::Problem;
use crate::request::{malformed_code, query};
use crate::{answers, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::Error;
use serde::Deserialize;
use types::model::Role;

#[utoipa::path(
    get,
    path = "/.well-known/tracemark-keys",
    tag = "verification",
    summary = "Public keys for offline checks of signature tails",
    description = "Access: public. Every Ed25519 key that signs `signature` tails (AI 91 is its `kid`; AI 92 the standard base64 of the signature over the UTF-8 bytes of `01{gtin}21{serial}`), and the transparency log's checkpoint key (`\"use\": \"log\"`).",
    security(()),
    responses(
        (status = 200, description = "The keys", body = crate::answers::KeySet),
    )
)]
pub(crate) async fn keys(State(s): State<AppState>) -> Response {
    use base64::Engine;
    let mut keys: Vec<answers::KeyEntry> = (s.registry.public_keys().keys.into_iter())
        .map(|k| answers::KeyEntry::Tail(k.into()))
        .collect();
    let vk = s.log.key.verifying_key();
    keys.push(answers::KeyEntry::Log(answers::LogKey {
        kid: s.log.origin.clone(),
        alg: "Ed25519",
        usage: "log",
        public_key: base64::engine::general_purpose::STANDARD.encode(vk.as_bytes()),
        note_verifier: tlog::verifier_key(&s.log.origin, &vk).ok(),
    }));
    Json(answers::KeySet { keys }).into_response()
}

/// Signs the log's checkpoints (C2SP signed notes), one signature per tree size.
pub(crate) struct LogSigner {
    pub(crate) key: ed25519_dalek::SigningKey,
    pub(crate) origin: String,
    /// The last note signed: (size, note).
    pub(crate) last: parking_lot::Mutex<Option<(u64, String)>>,
}

#[utoipa::path(
    get,
    path = "/api/v1/log/checkpoint",
    tag = "log",
    summary = "The transparency log's signed checkpoint (C2SP signed note, text/plain)",
    description = "Access: public. `<origin>\\n<size>\\n<base64 root>\\n\\n— <key name> <base64(4-byte key id ‖ Ed25519 signature)>\\n`; its key is in /.well-known/tracemark-keys with `\"use\": \"log\"`.",
    security(()),
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn log_checkpoint(State(s): State<AppState>) -> Result<Response, Problem> {
    let reg = s.registry.clone();
    let signer = s.log.clone();
    let note = s
        .read(move || {
            let size = reg.log_size()?;
            if let Some((n, note)) = signer.last.lock().as_ref() {
                if *n == size {
                    return Ok(note.clone());
                }
            }
            let root = reg.log_root(size)?;
            let note = tlog::Checkpoint {
                origin: signer.origin.clone(),
                size,
                root,
            }
            .sign(&signer.key, &signer.origin)
            .map_err(|e| Error::Unavailable(format!("signing the checkpoint: {e}")))?;
            *signer.last.lock() = Some((size, note.clone()));
            Ok(note)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/log/entries/{index}",
    tag = "log",
    summary = "A log leaf's bytes (application/octet-stream): regulators, and the participant whose change it records",
    description = "Access: a regulator (bearer token) or the operator's admin token reads every entry; a participant (bearer token) the entries of its own changes (others are 404). An entry whose signed request names codes with their crypto tails (a block of codes as scanned), or a document's entry whose body holds one or two short tails (AI 93, 24 bits each: its BLAKE3 would give them away to a search), is read only by the participant that made it and the operator (a regulator gets 403): a token never reveals a tail. Documents' entries name their bodies by BLAKE3 only.",
    security(("bearer" = []), ("admin" = [])),
    params(
        ("index" = u64, Path, description = "The leaf's index"),
    ),
    responses(
        (status = 200, description = "The leaf bytes", body = crate::responses::Binary, content_type = "application/octet-stream"),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn log_entry(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> Result<Response, Problem> {
    let admin = s.is_admin(&headers);
    let caller = if admin {
        None
    } else {
        Some(s.caller(&headers).await?)
    };
    let index: u64 = index
        .parse()
        .map_err(|_| Problem::not_found(format!("no log entry {index}")))?;
    let reg = s.registry.clone();
    let leaf = s.read(move || reg.log_leaf(index)).await?;
    // The regulator reads every entry; a participant the entries of its own changes. A
    // leaf that would reveal a crypto tail (a block naming codes as scanned; a document's
    // BLAKE3 over one or two short tails) is its author's alone: a token never reveals a
    // tail, and the tree's proofs need no leaf bytes.
    if let Some(c) = caller {
        let decoded = types::log::decode(&leaf);
        let own = decoded.as_ref().is_some_and(|l| l.actor == c.id);
        if !c.has(Role::Regulator) && !own {
            return Err(Problem::not_found(format!("no log entry {index} of yours")));
        }
        if let Some(l) = decoded.filter(|_| !own) {
            let reg = s.registry.clone();
            if s.read(move || reg.leaf_reveals_tails(&l)).await? {
                return Err(Problem::from(Error::Forbidden(format!(
                    "log entry {index} holds codes with their crypto tails, or names by its \
                     hash a document whose few short tails (AI 93) a search of that hash would \
                     find; only the participant that made the change reads it. Its hash is in \
                     the tree, and its inclusion proof (/api/v1/log/proof/inclusion) is public"
                ))));
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], leaf).into_response())
}

pub(crate) fn b64_hashes(h: &[tlog::Hash]) -> Vec<String> {
    use base64::Engine;
    h.iter()
        .map(|x| base64::engine::general_purpose::STANDARD.encode(x))
        .collect()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionQuery {
    /// The leaf.
    pub(crate) index: u64,
    /// The tree's size (at most the log's).
    pub(crate) size: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/log/proof/inclusion",
    tag = "log",
    summary = "RFC 9162 inclusion proof of ?index= in the tree of ?size= leaves",
    description = "Access: public. The hashes that prove leaf `index` is in the tree of the first `size` leaves (RFC 9162 §2.1.3).",
    security(()),
    params(
        InclusionQuery,
    ),
    responses(
        (status = 200, description = "The proof", body = crate::answers::InclusionProof),
        (status = 400, response = crate::responses::BadRequest),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn log_inclusion(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let q: InclusionQuery = query(q)?;
    let reg = s.registry.clone();
    let proof = s
        .read(move || reg.log_inclusion(q.index, q.size))
        .await
        .map_err(malformed_code)?;
    Ok(Json(answers::InclusionProof {
        index: q.index,
        size: q.size,
        hashes: b64_hashes(&proof),
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    /// The older tree's size.
    pub(crate) from: u64,
    /// The newer tree's size (at most the log's).
    pub(crate) to: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/log/proof/consistency",
    tag = "log",
    summary = "RFC 9162 consistency proof from the tree of ?from= leaves to that of ?to=",
    description = "Access: public. The hashes that prove the tree of `to` leaves extends that of `from` (RFC 9162 §2.1.4).",
    security(()),
    params(
        ConsistencyQuery,
    ),
    responses(
        (status = 200, description = "The proof", body = crate::answers::ConsistencyProof),
        (status = 400, response = crate::responses::BadRequest),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn log_consistency(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let q: ConsistencyQuery = query(q)?;
    let reg = s.registry.clone();
    let proof = s
        .read(move || reg.log_consistency(q.from, q.to))
        .await
        .map_err(malformed_code)?;
    Ok(Json(answers::ConsistencyProof {
        from: q.from,
        to: q.to,
        hashes: b64_hashes(&proof),
    })
    .into_response())
}
