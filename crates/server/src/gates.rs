//! The layers every request passes: the peer's address and rate limits, the early length check, the
//! admin, token and participant gates, a handler's panic as a 500 problem, the metrics of each
//! request, and the problems for unknown routes and methods.

use crate::problem::{self, Problem};
use crate::request::bearer;
use crate::{limit, reads, route_body_max, AppState, BODY_EMPTY_MAX};
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use registry::Error;
use std::time::Instant;
use types::model::Participant;

/// The peer's address, as the serving loop recorded it (`None` for in-process requests).
pub(crate) fn peer_ip(ext: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The 429 (with `Retry-After: 1`) when `ip`'s bucket in `limit` is empty, else takes a cell.
pub(crate) fn throttled(limit: &limit::RateLimit, ip: std::net::IpAddr) -> Option<Response> {
    let p = limit.check(ip).err()?;
    let mut r = p.into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    Some(r)
}

pub(crate) async fn rate_limited(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limit), Some(ip)) = (&s.public_limit, peer_ip(req.extensions())) {
        if let Some(r) = throttled(limit, ip) {
            return r;
        }
    }
    next.run(req).await
}

/// Refuses a body announced larger than its route takes, before reading it.
pub(crate) async fn early_length(req: Request, next: Next) -> Response {
    let max = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(BODY_EMPTY_MAX, |m| route_body_max(m.as_str()));
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        let epcis = req.uri().path() == "/epcis/capture";
        let mut r = if epcis {
            let mut r = crate::epcis_rest::exception(
                413,
                "CaptureLimitExceededException",
                format!("a capture holds at most {max} bytes"),
            );
            crate::epcis_rest::limit_headers(&mut r);
            r
        } else {
            Problem::from(Error::TooLarge(format!(
                "this endpoint takes a body of at most {max} bytes"
            )))
            .into_response()
        };
        r.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return r;
    }
    next.run(req).await
}

pub(crate) async fn require_admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.is_admin(req.headers()) {
        return next.run(req).await;
    }
    // A participant's valid token is a credential, just not this one: 403, not 401.
    if s.caller(req.headers()).await.is_ok() {
        return Problem::from(Error::Forbidden(
            "this needs the operator's admin token".into(),
        ))
        .into_response();
    }
    Problem::unauthorized(
        "this needs the operator's admin token (Authorization: Bearer <admin token>)",
    )
    .into_response()
}

/// Refuses a request without a participant's token that checks out (its MAC and expiry:
/// no store read) before its body is read; the handler checks the participant.
pub(crate) async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.token_claims(req.headers()) {
        Ok(_) => next.run(req).await,
        Err(p) => p.into_response(),
    }
}

tokio::task_local! {
    /// The participant [`require_participant`] signed in for this request, with its bearer
    /// token: the handler's own token check reuses it instead of reading the participant
    /// again (one hand-off to the reader threads per request, not two).
    pub(crate) static SIGNED_IN: (String, Participant);
}

pub(crate) async fn require_participant(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match s.caller(req.headers()).await {
        Ok(p) => {
            let token = bearer(req.headers()).unwrap_or_default().to_string();
            SIGNED_IN.scope((token, p), next.run(req)).await
        }
        Err(p) => p.into_response(),
    }
}

pub(crate) fn panic_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    Problem::new(
        500,
        "internal",
        "Internal error",
        "a bug: nothing was changed",
    )
    .into_response()
}

/// Counts and times every request. Every label has a fixed set of values, so no client
/// can grow the metrics: the route is the router's own pattern (or "unmatched"), the
/// method one of seven names (any other is "other"), the status a code the handlers give.
pub(crate) async fn observe(State(_): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("tracemark_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    let took = start.elapsed();
    if took > reads::SLOW_READ {
        // Past the public answers' p99 budget: counted apart, so a minute's stalls show.
        metrics::counter!("tracemark_http_slow_requests_total", "route" => route.clone())
            .increment(1);
    }
    metrics::histogram!("tracemark_http_request_duration_seconds", "route" => route)
        .record(took.as_secs_f64());
    resp
}

pub(crate) async fn not_found() -> Problem {
    Problem::not_found("no such endpoint; see /openapi.json")
}

pub(crate) async fn method_not_allowed() -> Problem {
    Problem::new(
        405,
        "method-not-allowed",
        "Method not allowed",
        "this path does not take this method; see /openapi.json",
    )
}

#[utoipa::path(
    get,
    path = "/problems/{slug}",
    tag = "meta",
    summary = "What a problem type means",
    description = "Access: public. The text of a problem type named by a problem's `type` URI.",
    security(()),
    params(
        ("slug" = String, Path, description = "The problem type, e.g. `refused`"),
    ),
    responses(
        (status = 200, description = "`<slug> (<status>): <meaning>`", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, response = crate::responses::NotFound),
    )
)]
pub(crate) async fn problem_doc(Path(slug): Path<String>) -> Response {
    match problem::KINDS.iter().find(|k| k.0 == slug) {
        Some((s, status, text)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{s} ({status}): {text}\n"),
        )
            .into_response(),
        None => Problem::not_found(format!("no problem kind {slug}")).into_response(),
    }
}
