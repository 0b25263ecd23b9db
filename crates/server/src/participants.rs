//! Participants: registration, sign-in (challenge and token), keys, suspension, prefixes.

use crate::auth::verify_signature;
use crate::problem::Problem;
use crate::request::{admin_json, body_bytes, check_json_type, parse_json, query, Empty};
use crate::{answers, journal, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::{Error, NewParticipant};
use serde::Deserialize;
use types::model::Role;

#[utoipa::path(
    post,
    path = "/api/v1/participants",
    tag = "participants",
    summary = "Register a participant (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). A participant's valid token is refused with 403.",
    security(("admin" = [])),
    request_body = NewParticipant,
    responses(
        (status = 201, description = "Registered", body = crate::answers::CreatedParticipant),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn register_participant(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    if !s.is_admin(&headers) {
        // A participant's valid token is a credential, just not this one: 403, not 401.
        if s.caller(&headers).await.is_ok() {
            return Err(Problem::from(Error::Forbidden(
                "registering participants needs the operator's admin token".into(),
            )));
        }
        return Err(Problem::unauthorized(
            "registering participants needs the operator's admin token",
        ));
    }
    check_json_type(&headers)?;
    let req: NewParticipant = parse_json(&body_bytes(body)?)?;
    s.not_the_log_key(&req.public_key)?;
    let reg = s.registry.clone();
    let (p, cards_moved) = s
        .blocking(move || reg.register_participant_moving(req))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(answers::CreatedParticipant {
            id: p.id,
            tin: p.tin,
            cards_moved,
        }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/participants/{tin}",
    tag = "participants",
    summary = "A participant (operator, itself, regulators)",
    description = "Access: the operator's admin token, the participant itself or a regulator (bearer token); to anyone else it is 404.",
    security(("bearer" = []), ("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    responses(
        (status = 200, description = "The participant", body = crate::answers::ParticipantView),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn get_participant(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
) -> Result<Response, Problem> {
    let admin = s.is_admin(&headers);
    let caller = if admin {
        None
    } else {
        Some(s.caller(&headers).await?)
    };
    let reg = s.registry.clone();
    let t = tin.clone();
    let p = s.read(move || reg.participant_by_tin(&t)).await?;
    match (p, caller) {
        (Some(p), None) => Ok(Json(answers::ParticipantView::from(&p)).into_response()),
        (Some(p), Some(c)) if c.id == p.id || c.has(Role::Regulator) => {
            Ok(Json(answers::ParticipantView::from(&p)).into_response())
        }
        _ => Err(Problem::not_found(format!("no participant {tin}"))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    summary = "Who the bearer token is for",
    description = "Access: a participant (bearer token). The caller's own record: a page \
        given only a token (the dashboard's `#token=` link) learns its TIN, name and roles.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = crate::answers::ParticipantView),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn me(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    Ok(Json(answers::ParticipantView::from(&p)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ChallengeQuery {
    /// The participant's taxpayer identification number: 10 or 12 digits.
    #[param(pattern = "^([0-9]{10}|[0-9]{12})$", min_length = 10, max_length = 12)]
    pub(crate) tin: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/challenge",
    tag = "auth",
    summary = "Sign-in challenge for ?tin=",
    description = "Access: public (rate-limited per address). Sign `data` (its UTF-8 bytes exactly as received) with the participant's key and send it to /api/v1/auth/token. Any well-formed TIN (10 or 12 digits; anything else is a 400) gets a challenge (the answer does not say who is registered); an unknown one fails at the token step as a wrong signature does. Challenges are stateless (the id carries the TIN and time under the registry's MAC): nothing is stored until a sign-in succeeds, and each is valid once, for 300 s.",
    security(()),
    params(
        ChallengeQuery,
    ),
    responses(
        (status = 200, description = "The challenge", body = crate::answers::Challenge),
        (status = 400, response = crate::responses::BadRequest),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn challenge(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let q: ChallengeQuery = query(q)?;
    // The same answer whether or not the TIN is registered: a 404 here would list who is
    // (and who is not) a participant to anyone asking. An unknown TIN fails at the
    // signature step, exactly as a wrong key does.
    // Checked before anything else: a challenge is for a TIN (10 or 12 digits), and
    // nothing is kept for it (stateless, see `auth::Auth`).
    let (id, data) = s.auth.challenge(&q.tin, s.registry.now())?;
    Ok(Json(answers::Challenge {
        challenge_id: id,
        data,
    })
    .into_response())
}

/// A signed sign-in challenge.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// From /api/v1/auth/challenge.
    pub(crate) challenge_id: String,
    /// Base64 Ed25519 over the UTF-8 bytes of the challenge's `data`.
    pub(crate) signature: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    summary = "Bearer token for a signed challenge",
    description = "Access: public (rate-limited per address). Then `Authorization: Bearer <token>`.",
    security(()),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The token", body = crate::answers::Token),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_json_type(&headers)?;
    let req: TokenRequest = parse_json(&body_bytes(body)?)?;
    let now = s.registry.now();
    let challenge = s.auth.open_challenge(&req.challenge_id, now)?;
    let (tin, data) = (challenge.tin.clone(), challenge.data.clone());
    let reg = s.registry.clone();
    let p = s
        .read(move || reg.participant_by_tin(&tin))
        .await?
        // Said as a wrong signature is: the answer does not tell whether the TIN exists.
        .ok_or_else(|| Problem::unauthorized(crate::auth::SIGNATURE_DOES_NOT_VERIFY))?;
    // The signature first: only the key's holder learns that the participant is suspended.
    verify_signature(&p, now, data.as_bytes(), &req.signature)?;
    // Single use: remembered only now that the key's holder answered it, so nobody else
    // can use up (or evict) a participant's challenges.
    s.auth.use_challenge(p.id, &challenge.mac, now)?;
    s.remember(journal::Record {
        kind: journal::Kind::Challenge,
        participant: p.id,
        at: now,
        hash: challenge.mac,
    })
    .await?;
    if let Some(why) = &p.suspended {
        return Err(Problem::unauthorized(format!(
            "participant {} is suspended ({why}); ask the operator",
            p.tin
        )));
    }
    let (token, exp) = s
        .auth
        .token(p.id, p.key_epoch_at(now), p.token_generation, now);
    Ok(Json(answers::Token {
        token,
        expires_at: types::time::format_timestamp(exp),
    })
    .into_response())
}

/// Why a participant is suspended.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuspendBody {
    /// Why, 1 to 1,024 bytes.
    #[schema(min_length = 1, max_length = 1024, pattern = r"\S")]
    pub(crate) reason: String,
}

/// GS1 company prefixes to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrefixesBody {
    /// Prefixes of 4 to 12 digits (at most 100).
    #[schema(schema_with = types::apidoc::prefixes)]
    pub(crate) gs1_prefixes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/keys",
    tag = "participants",
    summary = "Add a key (operator): accepted from not_before, ending the previous key then",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). Sign-in and signatures accept the key from its `not_before`; the previous key stops then.",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = registry::NewKey,
    responses(
        (status = 201, description = "The participant with its new key", body = crate::answers::ParticipantView),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn add_key(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: registry::NewKey = admin_json(&s, &headers, body).await?;
    s.not_the_log_key(&req.public_key)?;
    let reg = s.registry.clone();
    let p = s.blocking(move || reg.add_key(&tin, req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(answers::ParticipantView::from(&p)),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/suspend",
    tag = "participants",
    summary = "Suspend a participant (operator): tokens, sign-ins and signatures refused at once",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`).",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = SuspendBody,
    responses(
        (status = 200, description = "The participant, suspended", body = crate::answers::ParticipantView),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn suspend(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: SuspendBody = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let p = s.blocking(move || reg.suspend(&tin, &req.reason)).await?;
    Ok(Json(answers::ParticipantView::from(&p)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/reinstate",
    tag = "participants",
    summary = "Lift a suspension (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). The body is empty or `{}`.",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = Option<Empty>,
    responses(
        (status = 200, description = "The participant, reinstated", body = crate::answers::ParticipantView),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn reinstate(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    // No body, `{}` or `null` (the document's `Option<Empty>`).
    let _: Option<Empty> = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let p = s.blocking(move || reg.reinstate(&tin)).await?;
    Ok(Json(answers::ParticipantView::from(&p)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/prefixes",
    tag = "participants",
    summary = "Add GS1 company prefixes to a participant (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). A prefix belongs to one participant. Product cards that others (importers) registered within the prefix while nobody held it move to its holder, each a `product_transfer` log leaf, listed in `cards_moved`; codes already issued keep their owners.",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = PrefixesBody,
    responses(
        (status = 200, description = "The participant with its prefixes", body = crate::answers::ParticipantView),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn add_prefixes(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: PrefixesBody = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let (p, cards_moved) = s
        .blocking(move || reg.add_prefixes(&tin, &req.gs1_prefixes))
        .await?;
    let mut view = answers::ParticipantView::from(&p);
    view.cards_moved = cards_moved;
    Ok(Json(view).into_response())
}
