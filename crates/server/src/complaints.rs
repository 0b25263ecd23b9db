//! Consumers' complaints over HTTP: `POST /api/v1/complaints` (public, from the
//! verification page), `GET /api/v1/complaints` and `GET /api/v1/complaints/{id}/photo`
//! (regulators).
//!
//! Anyone can complain, so everything a complaint makes the server hold is bounded: the
//! body ([`BODY_COMPLAINT_MAX`]); attempts per client ([`ATTEMPTS_PER_HOUR`], taken first,
//! so that one client's retries cannot drain the shared buckets below); complaints from
//! everyone ([`ALL_PER_SECOND`]) and photos from everyone ([`PHOTOS_PER_MINUTE`]: the disk
//! a botnet with many addresses could fill with 2 MiB photos is ≤ 6 GiB a day); an IPv6
//! /48 — what one subscriber or tunnel broker hands out — as a whole ([`PER_NET48_PER_HOUR`]);
//! and last, so that a refusal by a shared bucket does not cost a shopper their own
//! quota, accepted complaints per client ([`PER_CLIENT_PER_HOUR`] in bursts of
//! [`PER_CLIENT_BURST`]) and photos per client ([`PHOTOS_PER_CLIENT_PER_HOUR`]).

use crate::limit::RateLimit;
use crate::{check_json_type, parse_json, query, AppState, Problem};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use types::complaints::{ComplaintFilter, NewComplaint};

/// A complaint's body: 2 MiB of photo as base64 (2.67 MiB) and the rest.
pub const BODY_COMPLAINT_MAX: usize = 3 * 1024 * 1024;
/// Complaints one client (address; IPv6 /64) may make in an hour.
pub const PER_CLIENT_PER_HOUR: u32 = 10;
/// … of which at most this many at once.
pub const PER_CLIENT_BURST: u32 = 5;
/// Photos one client may attach in an hour (bursts of 2).
pub const PHOTOS_PER_CLIENT_PER_HOUR: u32 = 3;
/// Attempts (accepted or refused) one client may make in an hour (bursts of 10).
pub const ATTEMPTS_PER_HOUR: u32 = 30;
/// Complaints an IPv6 /48 may make in an hour, all its /64s together (bursts of 20).
pub const PER_NET48_PER_HOUR: u32 = 50;
/// Complaints accepted a second from everyone together (bursts of 10×).
pub const ALL_PER_SECOND: u32 = 20;
/// Complaint photos accepted a minute from everyone together (bursts of 100).
pub const PHOTOS_PER_MINUTE: u32 = 2;

/// The complaint limits.
pub struct ComplaintLimits {
    attempts: RateLimit,
    net48: RateLimit,
    all: RateLimit,
    photos: RateLimit,
    per_client: RateLimit,
    photos_per_client: RateLimit,
}

impl Default for ComplaintLimits {
    fn default() -> Self {
        let hour = Duration::from_secs(3600);
        ComplaintLimits {
            attempts: RateLimit::per_period(
                ATTEMPTS_PER_HOUR,
                hour,
                10,
                &format!("at most {ATTEMPTS_PER_HOUR} complaint attempts an hour"),
            ),
            net48: RateLimit::per_period(
                PER_NET48_PER_HOUR,
                hour,
                20,
                &format!("at most {PER_NET48_PER_HOUR} complaints an hour from one IPv6 /48"),
            ),
            all: RateLimit::per_period(
                ALL_PER_SECOND,
                Duration::from_secs(1),
                ALL_PER_SECOND * 10,
                &format!(
                    "the registry takes at most {ALL_PER_SECOND} complaints a second from \
                     everyone together; it is at that now"
                ),
            ),
            photos: RateLimit::per_period(
                PHOTOS_PER_MINUTE,
                Duration::from_secs(60),
                100,
                &format!(
                    "the registry takes at most {PHOTOS_PER_MINUTE} complaint photos a minute \
                     from everyone together; send the complaint without its photo now"
                ),
            ),
            per_client: RateLimit::per_period(
                PER_CLIENT_PER_HOUR,
                hour,
                PER_CLIENT_BURST,
                &format!("at most {PER_CLIENT_PER_HOUR} complaints an hour"),
            ),
            photos_per_client: RateLimit::per_period(
                PHOTOS_PER_CLIENT_PER_HOUR,
                hour,
                2,
                &format!("at most {PHOTOS_PER_CLIENT_PER_HOUR} complaint photos an hour"),
            ),
        }
    }
}

/// The /48 an IPv6 address belongs to, as an address (IPv4: itself).
fn net48(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 80) - 1),
        )),
        other => other,
    }
}

/// Everyone's shared bucket: one key for all clients.
const EVERYONE: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

fn client_ip(ext: &axum::http::Extensions) -> IpAddr {
    crate::peer_ip(ext).unwrap_or(EVERYONE)
}

/// An opaque, stable tag of a client's address (IPv6 by /64) keyed with a secret of this
/// server: the regulator can tell one sender from many, and nobody can read an address
/// back from it (an unkeyed hash of an IPv4 address is reversed by trying all 2^32).
fn client_tag(secret: &[u8; 32], ip: IpAddr) -> String {
    let bytes: Vec<u8> = match crate::limit::Client::of(ip) {
        crate::limit::Client::V4(v4) => v4.octets().to_vec(),
        crate::limit::Client::V6Net(n) => n.to_be_bytes().to_vec(),
    };
    blake3::keyed_hash(secret, &bytes).to_hex()[..16].to_string()
}

fn too_many(p: Problem, retry_s: &'static str) -> Response {
    let mut r = p.into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(retry_s),
    );
    r
}

#[utoipa::path(
    post,
    path = "/api/v1/complaints",
    tag = "verification",
    summary = "A consumer's complaint (public)",
    description = "Access: public. A shopper reports a violation: `kind` one of `counterfeit`, \
        `expired`, `sold_twice`, `no_marking`, `price`, `other`; `text` 1–2,000 characters; \
        optional `code` (any accepted form, the Digital Link included), `shop` (where bought, \
        ≤ 200 characters), `location` (only if the shopper chose to share it) and `photo` \
        (JPEG or PNG, ≤ 2 MiB, base64). The registry links the code's shop (`shop_tin`) and \
        the verdict the shopper saw, and logs the complaint in the transparency log. Limits: \
        10 complaints an hour per address (IPv6: per /64, bursts of 5; 50 per /48), 30 \
        attempts an hour per address, 3 photos an hour per address, 20 complaints a second \
        and 2 photos a minute from everyone (bursts of 200 and 100); body ≤ 3 MiB.",
    security(()),
    request_body = NewComplaint,
    responses(
        (status = 201, description = "Recorded", body = crate::answers::Created),
        (status = 400, response = crate::responses::BadRequest),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_json_type(&headers)?;
    let body = crate::body_bytes(body)?;
    let ip = client_ip(&ext);
    // Parsed before any bucket is taken (JSON that does not parse costs no quota); a
    // complaint refused by the registry's checks does count: no free probing.
    let req: NewComplaint = if body.len() > crate::BODY_INLINE_MAX {
        let b = body.clone();
        s.lane.run(move || parse_json::<NewComplaint>(&b)).await??
    } else {
        parse_json(&body)?
    };
    let l = &s.complaint_limits;
    if let Err(p) = l.attempts.check(ip) {
        return Ok(too_many(p, "120"));
    }
    if matches!(ip, IpAddr::V6(_)) {
        if let Err(p) = l.net48.check(net48(ip)) {
            return Ok(too_many(p, "72"));
        }
    }
    if let Err(p) = l.all.check(EVERYONE) {
        return Ok(too_many(p, "1"));
    }
    if req.photo.is_some() {
        if let Err(p) = l.photos.check(EVERYONE) {
            return Ok(too_many(p, "30"));
        }
        if let Err(p) = l.photos_per_client.check(ip) {
            return Ok(too_many(p, "1200"));
        }
    }
    if let Err(p) = l.per_client.check(ip) {
        return Ok(too_many(p, "360"));
    }
    let tag = client_tag(&s.client_secret, ip);
    let checker = crate::public_checker(&s, &ext);
    let reg = s.registry.clone();
    // A complaint the registry refuses is malformed input: 400, as verification's.
    let c = s
        .blocking(move || reg.complain(req, tag, checker))
        .await
        .map_err(crate::malformed_code)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/complaints/{}", c.id))],
        Json(crate::answers::Created { id: c.id }),
    )
        .into_response())
}

/// Filters of `GET /api/v1/complaints`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only complaints about this code (any accepted form).
    code: Option<String>,
    /// Only complaints linked to this shop (its TIN).
    shop: Option<String>,
    /// Only this kind.
    #[param(schema_with = complaint_kind)]
    kind: Option<String>,
    /// Received at or after (RFC 3339).
    #[param(schema_with = types::apidoc::timestamp)]
    from: Option<String>,
    /// Received before (RFC 3339).
    #[param(schema_with = types::apidoc::timestamp)]
    to: Option<String>,
    /// Continue after this id (the previous page's `next`).
    after: Option<uuid::Uuid>,
    /// Page size, 1–1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

fn complaint_kind() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    types::apidoc::words(&types::complaints::KINDS, "Only this kind").into()
}

#[utoipa::path(
    get,
    path = "/api/v1/complaints",
    tag = "regulator",
    summary = "Consumers' complaints (regulator)",
    description = "Access: a regulator (bearer token). Oldest first, filtered by code, shop \
        (TIN), kind and time; pages of ≤ 1,000 with a `next` cursor (pass it as `after`). A \
        page reads at most 100,000 complaints to fill itself; it may then be short, with `next`.",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of complaints", body = types::complaints::ComplaintPage),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let q: ListQuery = query(uri.query().map(str::to_string))?;
    let f = ComplaintFilter {
        from: crate::request::time_param("from", q.from.as_deref())?,
        to: crate::request::time_param("to", q.to.as_deref())?,
        code: q.code,
        shop: q.shop,
        kind: q.kind,
        after: q.after,
        limit: q.limit.unwrap_or(100),
    };
    let reg = s.registry.clone();
    let page = s
        .read(move || reg.complaints(&p, &f))
        .await
        .map_err(crate::malformed_code)?;
    Ok(Json(page).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/complaints/{id}/photo",
    tag = "regulator",
    summary = "A complaint's photo (regulator)",
    description = "Access: a regulator (bearer token). The image as sent (JPEG or PNG).",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Complaint id")),
    responses(
        (status = 200, description = "The photo", content(
            (crate::responses::Binary = "image/jpeg"),
            (crate::responses::Binary = "image/png"),
        )),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
    )
)]
pub(crate) async fn photo(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| Problem::bad_request("the complaint id must be a UUID"))?;
    let reg = s.registry.clone();
    let (media_type, bytes) = s.read(move || reg.complaint_photo(&p, &id)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
