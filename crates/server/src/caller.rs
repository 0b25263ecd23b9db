//! Who is calling: a participant's bearer token checked without the store, a request's
//! signature (RFC 9421) checked and its nonce remembered, and the JSON body of a signed or
//! authenticated request.

use crate::gates::SIGNED_IN;
use crate::problem::Problem;
use crate::request::{bearer, body_bytes, check_json_type, parse_json};
use crate::{auth, httpsig, journal, AppState, BODY_INLINE_MAX};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, Method, Uri};
use registry::Error;
use serde::de::DeserializeOwned;
use types::model::{Participant, Signed, SignedRequest};

impl AppState {
    /// Runs a registry read on the store's reader threads ([`crate::reads::ReadPool`]), never on
    /// the async thread: 503 `busy` with `Retry-After` when they are saturated.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> registry::Result<T> + Send + 'static,
    ) -> Result<T, Problem> {
        self.reads.run(f).await?.map_err(Problem::from)
    }

    /// Runs a write (which waits for the writer's commit) or heavy work on tokio's blocking
    /// pool, within [`crate::reads::ReadLimits::blocking_max`] at once.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> registry::Result<T> + Send + 'static,
    ) -> Result<T, Problem> {
        self.lane.run(f).await?.map_err(Problem::from)
    }

    /// A participant's bearer token, checked without the store (its MAC and expiry, not
    /// the admin token): the token, the participant's id, the key epoch and token
    /// generation it was issued under, and the time checked.
    pub(crate) fn token_claims<'h>(&self, headers: &'h HeaderMap) -> Result<Claims<'h>, Problem> {
        let token = bearer(headers).ok_or_else(|| {
            // Say what came, not only what is expected: a token without its scheme is the
            // commonest slip.
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::trim);
            Problem::unauthorized(match sent {
                None => "no Authorization header: sign in (GET /api/v1/auth/challenge?tin=…, then POST /api/v1/auth/token) and send `Authorization: Bearer <token>`"
                    .to_string(),
                Some(v) if !v.contains(' ') => format!(
                    "the Authorization header holds a bare value ({} characters) without its scheme: send `Authorization: Bearer <token>`",
                    v.chars().count()
                ),
                Some(v) => format!(
                    "the Authorization header's scheme is `{}`; send `Authorization: Bearer <token>`",
                    v.split(' ').next().unwrap_or_default().chars().take(20).collect::<String>()
                ),
            })
        })?;
        if self.is_admin(headers) {
            // Not a participant's credential, so no participant is signed in: 401 (the
            // authorization matrix of tests/http_api.rs), with words saying which token.
            return Err(Problem::unauthorized(
                "this is the operator's admin token, which only the operator's endpoints (/api/v1/participants…) take; participants' endpoints take a participant's token from sign-in (GET /api/v1/auth/challenge?tin=…, POST /api/v1/auth/token)",
            ));
        }
        let now = self.registry.now();
        let (id, epoch, generation) = self.auth.check_token(token, now)?;
        Ok(Claims {
            token,
            grant: Grant {
                id,
                epoch,
                generation,
                now,
            },
        })
    }

    /// The signed-in participant.
    pub(crate) async fn caller(&self, headers: &HeaderMap) -> Result<Participant, Problem> {
        let c = self.token_claims(headers)?;
        // Checked already for this request, before its body was read.
        if let Ok(Some(p)) = SIGNED_IN.try_with(|(t, p)| (t == c.token).then(|| p.clone())) {
            return Ok(p);
        }
        let reg = self.registry.clone();
        let id = c.grant.id;
        let p = self.read(move || reg.participant(id)).await?;
        c.grant.admit(p)
    }

    /// The signed-in participant whose RFC 9421 signature covers this request exactly:
    /// method, path, query and the body's `Content-Digest`, within the `created` window,
    /// with a nonce not seen before. Returns the signed request, the legal record.
    pub(crate) async fn signer(
        &self,
        t: &Target,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Participant, SignedRequest), Problem> {
        let p = self.caller(headers).await?;
        let r = self
            .check_signature(&p, t, headers, body)
            .await?
            .ok_or_else(|| {
                sig_problem(
                    "this request must be signed: Content-Digest, Signature-Input and Signature \
                 headers (RFC 9421, see /openapi.json)",
                )
            })?;
        Ok((p, r))
    }

    /// The signed-in participant of a read that returns crypto tails (an order's codes,
    /// its label sheet): the request must be signed (RFC 9421, the profile of POSTs, the
    /// Content-Digest of the empty body), so that a leaked bearer token alone never
    /// reveals a tail.
    pub(crate) async fn tail_reader(
        &self,
        t: &Target,
        headers: &HeaderMap,
    ) -> Result<Participant, Problem> {
        let p = self.caller(headers).await?;
        match self.check_signature(&p, t, headers, b"").await? {
            Some(_) => Ok(p),
            None => Err(sig_problem(
                "this read returns crypto tails, which a bearer token alone never reveals: sign \
                 the GET as a POST is signed (RFC 9421: Content-Digest of the empty body, \
                 Signature-Input, Signature; see /openapi.json)",
            )),
        }
    }

    /// Checks the request's signature if it has one (`None`: no `Signature-Input`).
    pub(crate) async fn check_signature(
        &self,
        p: &Participant,
        t: &Target,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<SignedRequest>, Problem> {
        let h = |name: &str| -> Result<Option<&str>, Problem> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map_err(|_| sig_problem(format!("{name} is not ASCII")))
                })
                .transpose()
        };
        let Some(input) = h("signature-input")? else {
            return Ok(None);
        };
        let sig = h("signature")?.ok_or_else(|| sig_problem("Signature is missing"))?;
        h("content-digest")?.ok_or_else(|| sig_problem("Content-Digest is missing"))?;
        // Every Content-Digest line, as the signature base covers them (RFC 9421 §2.1).
        let digest = &headers
            .get_all("content-digest")
            .iter()
            .map(|v| v.to_str().unwrap_or("").trim())
            .collect::<Vec<_>>()
            .join(", ");
        let i = httpsig::parse_input(input).map_err(|e| sig_problem(e.0))?;
        let raw = httpsig::parse_signature(sig, &i.label).map_err(|e| sig_problem(e.0))?;
        if i.keyid != p.tin {
            return Err(sig_problem(format!(
                "keyid {:?} is not the signed-in participant {}",
                i.keyid, p.tin
            )));
        }
        let now = self.registry.now();
        let skew = httpsig::CREATED_SKEW_SECS_MAX;
        if i.created + skew < now || i.created > now + skew {
            return Err(sig_problem(format!(
                "created {} is more than {skew} s from the registry's clock ({now})",
                i.created
            )));
        }
        if i.created < self.created_not_before {
            return Err(sig_problem(format!(
                "created {} is before the registry's start ({}), whose nonce journal could not \
                 be read: sign the request again",
                i.created, self.created_not_before
            )));
        }
        if let Some(exp) = i.expires {
            if exp <= now {
                return Err(sig_problem(format!(
                    "the signature expired at {exp} (the registry's clock: {now})"
                )));
            }
        }
        let authority = t
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
        if let Some(public) = &self.public_url {
            public.check(&i, authority).map_err(|e| sig_problem(e.0))?;
        }
        if body.len() > BODY_INLINE_MAX {
            // Hashing megabytes would hold an async thread (and every request queued on it).
            let (d, b) = (digest.to_string(), body.to_vec());
            self.lane.run(move || httpsig::check_digest(&d, &b)).await?
        } else {
            httpsig::check_digest(digest, body)
        }
        .map_err(|e| sig_problem(e.0))?;
        let message = httpsig::Message {
            target: httpsig::Target {
                method: t.method.as_str(),
                path: t.uri.path(),
                query: t.uri.query(),
            },
            scheme: self
                .public_url
                .as_ref()
                .map_or("http", |u| u.scheme.as_str()),
            authority,
            headers,
        };
        let base = httpsig::base(&message, &i).map_err(|e| sig_problem(e.0))?;
        httpsig::verify(&base, &raw, &[p.key_at(now)]).map_err(|e| sig_problem(e.0))?;
        let hash = auth::nonce_hash(&i.nonce);
        self.nonces.take_hash(p.id, hash, now)?;
        self.remember(journal::Record {
            kind: journal::Kind::RequestNonce,
            participant: p.id,
            at: now,
            hash,
        })
        .await?;
        Ok(Some(SignedRequest {
            method: t.method.to_string(),
            path: t.uri.path().to_string(),
            query: t.uri.query().unwrap_or("").to_string(),
            signature_input: input.to_string(),
            signature: sig.to_string(),
        }))
    }

    /// Makes a verified nonce or used challenge durable before the request is acted on
    /// (one group-committed flush, off the async threads); without a journal, nothing.
    pub(crate) async fn remember(&self, r: journal::Record) -> Result<(), Problem> {
        let Some(j) = self.journal.clone() else {
            return Ok(());
        };
        match self.lane.run(move || j.record(r)).await? {
            Ok(true) => Ok(()),
            // Another process serving the same database saw it first.
            Ok(false) => Err(sig_problem(
                "this signature's nonce was used before (a replayed request); sign afresh",
            )),
            Err(e) => {
                tracing::error!("nonce journal: {e}");
                Err(Problem::from(Error::Unavailable(
                    "the registry cannot record this signature's nonce now; retry shortly".into(),
                )))
            }
        }
    }

    /// A JSON request of a signed-in participant (reads and till checks: a signature is
    /// not needed, but one that is sent is checked).
    pub(crate) async fn caller_json<T: DeserializeOwned>(
        &self,
        t: &Target,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(Participant, T), Problem> {
        check_json_type(headers)?;
        let p = self.caller(headers).await?;
        let v = self.json_of(&p, t, headers, body).await?;
        Ok((p, v))
    }

    /// The JSON body of a request of `p`, already signed in: content type, body, a
    /// signature if one was sent, then the parsed body.
    pub(crate) async fn json_of<T: DeserializeOwned>(
        &self,
        p: &Participant,
        t: &Target,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<T, Problem> {
        check_json_type(headers)?;
        let body = body_bytes(body)?;
        self.check_signature(p, t, headers, &body).await?;
        parse_json(&body)
    }

    /// A signed JSON request: content type, body, signer, then the parsed body, with the
    /// signed request and body for the log.
    pub(crate) async fn signed_json<T: DeserializeOwned>(
        &self,
        t: &Target,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(Participant, T, Signed), Problem> {
        check_json_type(headers)?;
        let body = body_bytes(body)?;
        let (p, request) = self.signer(t, headers, &body).await?;
        let v = parse_json(&body)?;
        Ok((
            p,
            v,
            Signed {
                request,
                body: body.to_vec(),
            },
        ))
    }

    /// Refuses (409) the log's checkpoint key as a participant's key: a key belongs to one
    /// holder, and this one is the registry's (the registry checks its other keys and
    /// every participant's).
    pub(crate) fn not_the_log_key(&self, public_key_b64: &str) -> Result<(), Problem> {
        use base64::Engine;
        let log = self.log.key.verifying_key();
        let given = base64::engine::general_purpose::STANDARD.decode(public_key_b64.trim());
        if given.is_ok_and(|k| k.as_slice() == log.as_bytes()) {
            return Err(Problem::from(Error::Conflict(format!(
                "public key {} is the registry's transparency-log key; every participant needs a key of its own",
                public_key_b64.trim()
            ))));
        }
        Ok(())
    }

    pub(crate) fn is_admin(&self, headers: &HeaderMap) -> bool {
        bearer(headers).is_some_and(|t| {
            let (a, b) = (t.as_bytes(), self.admin_token.as_bytes());
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        })
    }
}

/// A participant's bearer token, checked without the store ([`AppState::token_claims`]).
pub(crate) struct Claims<'h> {
    pub(crate) token: &'h str,
    pub(crate) grant: Grant,
}

/// What a token grants: its participant's id, the key epoch and token generation it was
/// issued under, and the time it was checked.
#[derive(Clone, Copy)]
pub(crate) struct Grant {
    pub(crate) id: types::model::ParticipantId,
    pub(crate) epoch: u32,
    pub(crate) generation: u32,
    pub(crate) now: u64,
}

impl Grant {
    /// The token's participant as the store has it (`p`), if it may still use the token:
    /// it exists, is not suspended, and neither its token generation nor its key changed
    /// since the token was issued.
    pub(crate) fn admit(&self, p: Option<Participant>) -> Result<Participant, Problem> {
        let p =
            p.ok_or_else(|| Problem::unauthorized("the token's participant no longer exists"))?;
        if let Some(why) = &p.suspended {
            return Err(Problem::unauthorized(format!(
                "participant {} is suspended ({why}); ask the operator",
                p.tin
            )));
        }
        if self.generation != p.token_generation {
            return Err(Problem::unauthorized(
                "this token was issued before the participant's suspension or reinstatement; \
                 sign in again",
            ));
        }
        if p.key_epoch_at(self.now) != self.epoch {
            return Err(Problem::unauthorized(
                "your key was rotated since this token was issued; sign in again with the new key",
            ));
        }
        Ok(p)
    }
}

/// What a request signature covers besides the body.
pub(crate) struct Target {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
}

pub(crate) fn sig_problem(detail: impl Into<String>) -> Problem {
    Problem::new(401, "bad-signature", "Bad request signature", detail)
}
