//! Codes: a code's card and history, codes queried in bulk, inventory, public verification
//! and the till check.

use crate::caller::Target;
use crate::gates::peer_ip;
use crate::problem::Problem;
use crate::request::{body_bytes, check_json_type, malformed_code, parse_json, query};
use crate::{answers, limit, till, AppState, CODE_TEXT_LEN_MAX};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::{Error, PosItem};
use serde::Deserialize;

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code}",
    tag = "codes",
    summary = "A code's card and full history (owner, producer, regulator)",
    description = "Access: a participant (bearer token). Its owner, producer, receiver in transit, or a regulator (others are 404). A code presented with a tail that is not the one issued is 422 (`bad_crypto_tail`).",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "A code: GS-separated, bracketed (01)…(21)…, or a GS1 Digital Link URI, percent-encoded", min_length = 1),
    ),
    responses(
        (status = 200, description = "The code", body = registry::CodeInfo),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 422, response = crate::responses::Refused),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn get_code(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    // `Path` has percent-decoded the code once already; decoding again would turn a
    // serial's `%41` (CSET 82 allows `%`) into `A` and break encoded Digital Links.
    let reg = s.registry.clone();
    let info = s.read(move || reg.code_info(&p, &code)).await?;
    Ok(Json(info).into_response())
}

/// Codes to look up.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodesBody {
    /// Codes: GS-separated (GS written `\u001d`), bracketed, or GS1 Digital Link URIs.
    #[schema(max_items = 1000)]
    pub(crate) codes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/codes/query",
    tag = "codes",
    summary = "Statuses of up to 1,000 codes",
    description = "Access: a participant (bearer token). A signature is not needed; one that is sent is checked. Codes the caller may not see are `unknown_code`.",
    security(("bearer" = [])),
    params(
        crate::responses::OptionalSignatureHeaders,
    ),
    request_body = CodesBody,
    responses(
        (status = 200, description = "One entry per code, in order", body = crate::answers::CodesAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn query_codes(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req): (_, CodesBody) = s
        .caller_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let codes = s.read(move || reg.query_codes(&p, &req.codes)).await?;
    Ok(Json(answers::CodesAnswer { codes }).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InventoryQuery {
    /// GTIN (8, 12, 13 or 14 digits).
    #[param(pattern = r"^[0-9]{8,14}$")]
    pub(crate) gtin: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/inventory",
    tag = "codes",
    summary = "The caller's stock of ?gtin=",
    description = "Access: a participant (bearer token).",
    security(("bearer" = [])),
    params(
        InventoryQuery,
    ),
    responses(
        (status = 200, description = "The stock", body = registry::Inventory),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 422, response = crate::responses::Refused),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn inventory(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let q: InventoryQuery = query(q)?;
    let reg = s.registry.clone();
    let inv = s.read(move || reg.inventory(&p, &q.gtin)).await?;
    Ok(Json(inv).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct VerifyQuery {
    /// A code: GS-separated (GS written `\u001d`), bracketed (01)…(21)…, or a GS1 Digital
    /// Link URI; at most 512 characters.
    #[param(min_length = 1, max_length = 512, pattern = r"\S")]
    pub(crate) code: String,
    /// Where the scan was made, roughly: `LAT,LON` in degrees (kept to a tenth, ~11 km),
    /// sent by a page or app that may; the risk engine looks for one code scanned far apart.
    #[param(
        pattern = r"^\s*[-+]?(90(\.0+)?|[0-8]?[0-9](\.[0-9]+)?)\s*,\s*[-+]?(180(\.0+)?|(1[0-7][0-9]|[0-9]?[0-9])(\.[0-9]+)?)\s*$"
    )]
    pub(crate) near: Option<String>,
}

/// Parses `near=LAT,LON` into a coarse place (a 400 naming the rule otherwise).
pub(crate) fn near(v: Option<&str>) -> Result<Option<types::feed::Place>, Problem> {
    let Some(v) = v else { return Ok(None) };
    let bad = || {
        Problem::bad_request(format!(
            "`near` must be LAT,LON in degrees (latitude −90…90, longitude −180…180), e.g. 55.75,37.62; got {:?}",
            v.chars().take(40).collect::<String>()
        ))
    };
    let (lat, lon) = v.split_once(',').ok_or_else(bad)?;
    let (lat, lon): (f64, f64) = (
        lat.trim().parse().map_err(|_| bad())?,
        lon.trim().parse().map_err(|_| bad())?,
    );
    types::feed::Place::from_degrees(lat, lon)
        .map(Some)
        .ok_or_else(bad)
}

/// The public checker behind a request: a keyed digest of its address (an IPv6 client by
/// its /64, like the rate limit), for counting failed tail checks and, in the feed, telling
/// one scanner from another. Keyed with the server's secret: an unkeyed hash of an IPv4
/// address is undone by trying all 2³² of them, and the registry keeps no consumer's address.
pub(crate) fn public_checker(
    s: &AppState,
    ext: &axum::http::Extensions,
) -> registry::tailguard::Checker {
    let client = peer_ip(ext).map(limit::Client::of);
    let h = blake3::keyed_hash(&s.client_secret, format!("{client:?}").as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&h.as_bytes()[..8]);
    registry::tailguard::Checker::Public(u64::from_le_bytes(tag))
}

/// The network of a public scanner, as the risk engine weighs witnesses: a keyed digest
/// of its IPv4 /24 or IPv6 /48 (an IPv4-mapped address is IPv4). Scans from one network are
/// one witness, whatever addresses in it they come from; keyed like [`public_checker`], so
/// no address can be read back.
pub(crate) fn public_net(s: &AppState, ext: &axum::http::Extensions) -> Option<u64> {
    let bytes: Vec<u8> = match peer_ip(ext)? {
        std::net::IpAddr::V4(v4) => v4.octets()[..3].to_vec(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets()[..3].to_vec(),
            None => v6.octets()[..6].to_vec(),
        },
    };
    let h = blake3::keyed_hash(&s.client_secret, &[b"net:".as_slice(), &bytes].concat());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&h.as_bytes()[..8]);
    Some(u64::from_le_bytes(tag))
}

#[utoipa::path(
    get,
    path = "/api/v1/verify",
    tag = "verification",
    summary = "Public verification of ?code=",
    description = "Access: public (rate-limited per address). Never `genuine` without a checked crypto tail; never reveals who holds an unsold item. A malformed code is a 400 naming the fault.",
    security(()),
    params(
        VerifyQuery,
    ),
    responses(
        (status = 200, description = "The verdict", body = registry::VerifyAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 413, response = crate::responses::TooLarge),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn verify(State(s): State<AppState>, req: Request) -> Result<Response, Problem> {
    let checker = public_checker(&s, req.extensions());
    let net = public_net(&s, req.extensions());
    let q: VerifyQuery = query(req.uri().query().map(str::to_string))?;
    if q.code.len() > CODE_TEXT_LEN_MAX {
        return Err(Problem::from(Error::TooLarge(format!(
            "a code is at most {CODE_TEXT_LEN_MAX} characters"
        ))));
    }
    if q.code.trim().is_empty() {
        // An empty code is the caller's mistake, not an unknown code.
        return Err(Problem::bad_request(
            "`code` is empty: give a marking code, e.g. ?code=(01)04601234567893(21)abc123(93)Zx9q (GS as %1D, brackets or a GS1 Digital Link all work)",
        ));
    }
    let place = near(q.near.as_deref())?;
    let reg = s.registry.clone();
    let ans = s
        .read(move || reg.verify_from(&q.code, checker, place, net))
        .await
        .map_err(malformed_code)?;
    Ok(Json(ans).into_response())
}

/// The codes at the till.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PosBody {
    /// Codes, each alone or with its price.
    #[schema(min_items = 1, max_items = 1000)]
    pub(crate) codes: Vec<PosItem>,
}

#[utoipa::path(
    post,
    path = "/api/v1/pos/check",
    tag = "till",
    summary = "Till check (permissive mode), up to 1,000 codes",
    description = "Access: a participant (bearer token). A retailer or fiscal operator; a signature is not needed, but one that is sent is checked. The `request_id` goes into the `sell` document's `check_ids`; only a check that answered `sellable` for a code counts as that code's check. Limited per participant (default 20 checks and 200 codes a second, bursts of 40 checks and 2,000 codes): 429 with `Retry-After` beyond; 503 with `Retry-After` when the server has had no free slot for 2 s.",
    security(("bearer" = [])),
    params(
        crate::responses::OptionalSignatureHeaders,
    ),
    request_body = PosBody,
    responses(
        (status = 200, description = "One result per code, in order", body = crate::answers::PosAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn pos_check(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    // Per participant: a shop has so many tills (`till`), and one retailer's flood must
    // not slow everyone's verification nor fill the feed. The checks' bucket first, for
    // the price of a token's MAC: a flood is refused before its body is parsed.
    let c = s.token_claims(&headers)?;
    let grant = c.grant;
    s.till.take_check(grant.id)?;
    // A signed check needs the participant's key first; an unsigned one (the tills') is
    // checked with its participant in one read.
    let signer = if headers.contains_key("signature-input") {
        Some(s.caller(&headers).await?)
    } else {
        None
    };
    let req: PosBody = match &signer {
        Some(p) => {
            s.json_of(p, &Target { method, uri }, &headers, body)
                .await?
        }
        None => {
            check_json_type(&headers)?;
            parse_json(&body_bytes(body)?)?
        }
    };
    s.till.take_codes(grant.id, req.codes.len())?;
    // Up to 1,000 codes read from the store: on the reader threads like every read; a
    // large check holds one of the till's few slots, so that a flood of them leaves most
    // readers to verification and sign-in.
    let slot = if req.codes.len() > till::TILL_SMALL_CODES_MAX {
        match s.till.slot().await {
            Ok(slot) => Some(slot),
            Err(problem) => return Ok(problem.into_response()),
        }
    } else {
        None
    };
    let reg = s.registry.clone();
    let (id, results) = s
        .reads
        .run(move || {
            let p = match signer {
                Some(p) => p,
                None => grant.admit(reg.participant(grant.id).map_err(Problem::from)?)?,
            };
            reg.pos_check(&p, &req.codes).map_err(Problem::from)
        })
        .await??;
    drop(slot);
    Ok(Json(answers::PosAnswer {
        request_id: id,
        results,
    })
    .into_response())
}
