//! The GS1 Digital Link resolver: `GET /01/{gtin}/21/{serial}?91=…&92=…`.
//!
//! JSON (the verify answer) when the client asks for `application/json`; otherwise a
//! small HTML verification page (the full consumer page is built on this later).

use crate::{AppState, Problem};
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json = accept.find("application/json");
    let html = accept.find("text/html");
    match (json, html) {
        (Some(_), None) => true,
        (Some(j), Some(h)) => j < h,
        _ => false,
    }
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Resolves a Digital Link URI to the verification of its code.
#[utoipa::path(
    get,
    path = "/01/{gtin}/21/{serial}",
    tag = "verification",
    summary = "GS1 Digital Link resolver: HTML page, or the verify answer as JSON",
    description = "Access: public (rate-limited per address). The verification of the code \
        this GS1 Digital Link names: a small HTML page, or the verify answer (as \
        `GET /api/v1/verify`) when `Accept` prefers `application/json`. A path that is no \
        Digital Link of a marking code is a 400 (a problem when JSON is asked for, else an \
        HTML page).",
    security(()),
    params(
        ("gtin" = String, Path, description = "GTIN, 14 digits (AI 01)"),
        ("serial" = String, Path, description = "Serial (AI 21), percent-encoded"),
        ("91" = Option<String>, Query, description = "Crypto tail: key id (AI 91)"),
        ("92" = Option<String>, Query, description = "Crypto tail: MAC or signature (AI 92)"),
        ("93" = Option<String>, Query, description = "Short crypto tail (AI 93)"),
    ),
    responses(
        (status = 200, description = "The verification", content(
            (String = "text/html"),
            (registry::VerifyAnswer = "application/json"),
        )),
        (status = 400, description = "Not a GS1 Digital Link of a marking code", content(
            (Problem = "application/problem+json"),
            (String = "text/html"),
        )),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn resolve(
    State(s): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ext: axum::http::Extensions,
) -> Response {
    let checker = crate::public_checker(&ext);
    let link = format!(
        "https://resolver{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    // A path that is no Digital Link of a code is the caller's fault: 400, not a verdict.
    if let Err(registry::Error::Invalid { errors, .. }) = registry::code_key(&link) {
        let reason = errors.first().map_or("bad_format", |e| e.reason);
        let detail = format!("not a GS1 Digital Link of a marking code ({reason})");
        if wants_json(&headers) {
            let mut p = crate::Problem::bad_request(detail);
            p.errors = errors;
            return p.into_response();
        }
        let html = format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Tracemark: not a code</title></head>\
             <body style='font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem'>\
             <h1>Not a valid code</h1><p>{}</p></body></html>",
            escape(&detail)
        );
        return (
            axum::http::StatusCode::BAD_REQUEST,
            [(header::VARY, "Accept")],
            Html(html),
        )
            .into_response();
    }
    let reg = s.registry.clone();
    let ans = match crate::fast(move || reg.verify_as(&link, checker)) {
        Ok(a) => a,
        Err(p) => return p.into_response(),
    };
    if wants_json(&headers) {
        return Json(ans).into_response();
    }
    let (headline, colour) = match ans.verdict {
        "genuine" => ("Genuine: in circulation", "#1b7f3b"),
        "sold" => ("Genuine, already sold", "#8a6d00"),
        "recalled" => ("Recalled: do not buy or use", "#b00020"),
        "expired" => ("Expired", "#b00020"),
        "not_in_circulation" => ("Not in circulation: must not be on sale", "#b00020"),
        "forged" => ("Forged code: the crypto tail does not match", "#b00020"),
        "unverified" => (
            "Not verified: this number alone proves nothing. Scan the label's code with your camera",
            "#555555",
        ),
        _ => ("Unknown code: not issued by the registry", "#b00020"),
    };
    let product = ans
        .product
        .as_ref()
        .map(|p| escape(&p.name))
        .unwrap_or_default();
    let producer = ans
        .producer
        .as_ref()
        .map(|p| escape(&p.name))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>Tracemark: {verdict}</title></head>\
         <body style='font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem'>\
         <h1 style='color:{colour}'>{headline}</h1>\
         <p><b>{product}</b></p><p>{producer}</p>\
         <p><code>{code}</code></p><p>Checked {checked}</p></body></html>",
        verdict = ans.verdict,
        code = escape(&ans.code),
        checked = ans.checked_at,
    );
    ([(header::VARY, "Accept")], Html(html)).into_response()
}
