//! The GS1 Digital Link resolver (`GET /01/{gtin}/21/{serial}?91=…&92=…`) and the
//! consumer page's other routes (`/scan`, `/offline`, `/sw.js`, `/static/{file}`).
//!
//! JSON (the verify answer) when the client asks for `application/json`; otherwise the
//! verification page, rendered by the `web` crate in the language the request asks for
//! (`?lang=`, then `Accept-Language`). This module only does HTTP.

use crate::{AppState, Problem};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
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

/// The page's language: `?lang=ru|en`, else `Accept-Language`, else the default.
fn page_lang(headers: &HeaderMap, uri: &Uri) -> web::Lang {
    let query = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("lang=")));
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    web::Lang::negotiate(query, accept)
}

fn with_headers(
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    r
}

/// A rendered page with its headers (security policy, language, `Vary`).
fn page(status: StatusCode, lang: web::Lang, html: Result<String, web::Error>) -> Response {
    match html {
        Ok(html) => with_headers(status, web::page_headers(lang), html),
        Err(e) => {
            tracing::error!("{e}");
            Problem::new(
                500,
                "internal",
                "Internal error",
                "the page could not be rendered",
            )
            .into_response()
        }
    }
}

fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// Resolves a Digital Link URI to the verification of its code.
/// The origin put before a request's path to parse it as a Digital Link URI.
const RESOLVER_ORIGIN: &str = "https://resolver";

/// A parser's message about the URI, its `at character N` counted in the path the caller sent
/// (the URI has [`RESOLVER_ORIGIN`] before it).
fn positions_in_path(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("at character ") {
        let (head, tail) = rest.split_at(i + "at character ".len());
        out.push_str(head);
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&n.saturating_sub(RESOLVER_ORIGIN.len()).to_string()),
            Err(_) => out.push_str(&digits),
        }
        rest = &tail[digits.len()..];
    }
    out.push_str(rest);
    out
}

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
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub async fn resolve(
    State(s): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ext: axum::http::Extensions,
) -> Response {
    let checker = crate::public_checker(&s, &ext);
    let link = format!(
        "{RESOLVER_ORIGIN}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let lang = page_lang(&headers, &uri);
    let req = web::Request {
        lang,
        path_and_query: path_and_query(&uri),
    };
    // A path that is no Digital Link of a code is the caller's fault: 400, not a verdict.
    if let Err(registry::Error::Invalid { errors, detail }) = registry::code_key(&link) {
        let reason = errors.first().map_or("bad_format", |e| e.reason);
        // Characters counted in the path the caller sent, on the page as in JSON.
        let detail = positions_in_path(&detail);
        if wants_json(&headers) {
            // The same words as `GET /api/v1/verify` for the same fault (the check digit it
            // expected included), naming the path the caller sent, not the URI the parser
            // was given.
            let sent = uri.path_and_query().map_or("/", |p| p.as_str());
            let mut p = crate::Problem::bad_request(format!(
                "not a valid marking code: {}",
                detail.trim_start_matches("not a valid marking code: ")
            ));
            p.errors = errors
                .into_iter()
                .map(|e| registry::CodeError {
                    code: sent.chars().take(200).collect(),
                    reason: e.reason,
                })
                .collect();
            let mut r = p.into_response();
            r.headers_mut().insert(
                header::VARY,
                HeaderValue::from_static("Accept, Accept-Language"),
            );
            return r;
        }
        let html = web::render_malformed(&link, reason, &detail, req);
        return page(StatusCode::BAD_REQUEST, lang, html);
    }
    let reg = s.registry.clone();
    let asked = link.clone();
    let ans = match s.read(move || reg.verify_as(&asked, checker)).await {
        Ok(a) => a,
        Err(p) => return p.into_response(),
    };
    if wants_json(&headers) {
        let mut r = Json(ans).into_response();
        r.headers_mut().insert(
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Language"),
        );
        return r;
    }
    // The page reads the answer from its JSON: fields the registry adds reach it as they are.
    // A failure here is a bug (the two shapes drifted apart): a 500, never a wrong verdict.
    let answer = match serde_json::to_value(&ans).and_then(serde_json::from_value::<web::Answer>) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("the verify answer does not read as the page's answer: {e}");
            return Problem::new(
                500,
                "internal",
                "Internal error",
                "the page could not be rendered",
            )
            .into_response();
        }
    };
    page(
        StatusCode::OK,
        lang,
        web::render_verdict(&answer, &link, req),
    )
}

/// The scan page: the camera button and what it does.
#[utoipa::path(
    get,
    path = "/scan",
    tag = "verification",
    summary = "Scan page (HTML): read a label's code with the phone's camera",
    description = "Access: public. The camera button (frames go to `POST /api/v1/verify/image`), \
        in Russian or English (`?lang=ru|en`, else `Accept-Language`).",
    security(()),
    params(("lang" = Option<String>, Query, description = "`ru` or `en`")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
    )
)]
pub async fn scan(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let lang = page_lang(&headers, &uri);
    let html = web::render_scan(web::Request {
        lang,
        path_and_query: path_and_query(&uri),
    });
    page(StatusCode::OK, lang, html)
}

/// The offline shell the service worker precaches.
#[utoipa::path(
    get,
    path = "/offline",
    tag = "verification",
    summary = "Offline page (HTML) the service worker shows when the network is down",
    description = "Access: public. Precached by `/sw.js`; shown at a verification link's own \
        address when the registry cannot be reached, it checks the label's signature on the \
        phone with the saved keys and says that the status could not be checked.",
    security(()),
    params(("lang" = Option<String>, Query, description = "`ru` or `en`")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
    )
)]
pub async fn offline(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let lang = page_lang(&headers, &uri);
    page(StatusCode::OK, lang, web::render_offline(lang))
}

fn if_none_match(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
}

fn asset_reply(r: web::assets::Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    with_headers(status, r.headers, r.body)
}

/// The service worker, from the root so that its scope is the whole site.
#[utoipa::path(
    get,
    path = "/sw.js",
    tag = "verification",
    summary = "The page's service worker (JavaScript)",
    description = "Access: public. Precaches the page's files and the offline page; \
        verification links network-first with the offline page as fallback; the public \
        keys stale-while-revalidate. Revalidated on every load (ETag).",
    security(()),
    responses(
        (status = 200, description = "The script", body = String, content_type = "text/javascript"),
        (status = 304, description = "Not modified"),
    )
)]
pub async fn service_worker(headers: HeaderMap) -> Response {
    asset_reply(web::assets::service_worker_reply(if_none_match(&headers)))
}

/// The page's static files (CSS, script, icon), embedded in the binary.
#[utoipa::path(
    get,
    path = "/static/{file}",
    tag = "verification",
    summary = "The page's static files (CSS, script, icon)",
    description = "Access: public. Embedded in the binary. With `?v=` the file's hash (as \
        the pages link them) cached for a year; otherwise revalidated (ETag).",
    security(()),
    params(
        ("file" = String, Path, description = "`app.css`, `app.js`, `icon.svg`"),
        ("v" = Option<String>, Query, description = "The file's content hash"),
    ),
    responses(
        (status = 200, description = "The file", body = String),
        (status = 304, description = "Not modified"),
        (status = 404, response = crate::responses::NotFound),
    )
)]
pub async fn asset(Path(file): Path<String>, headers: HeaderMap, uri: Uri) -> Response {
    match web::assets::static_reply(&file, uri.query(), if_none_match(&headers)) {
        Some(r) => asset_reply(r),
        None => Problem::not_found(format!("no static file {file:?}")).into_response(),
    }
}

/// The map's regions: the registry's table of federal subjects, as the page draws them.
fn region_points() -> &'static [web::RegionPoint] {
    static POINTS: std::sync::OnceLock<Vec<web::RegionPoint>> = std::sync::OnceLock::new();
    POINTS.get_or_init(|| {
        types::regions::REGIONS
            .iter()
            .map(|r| web::RegionPoint {
                code: r.code,
                name: r.name,
                lat: r.lat,
                lon: r.lon,
            })
            .collect()
    })
}

fn board(board: web::Board, headers: &HeaderMap, uri: &Uri) -> Response {
    let lang = page_lang(headers, uri);
    let html = web::render_board(board, lang, path_and_query(uri), region_points());
    page(StatusCode::OK, lang, html)
}

/// The regulator's dashboard.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "regulator",
    summary = "The regulator's dashboard (HTML)",
    description = "Access: public page; its script signs in (a token in the URL fragment \
        `#token=…`, or TIN and Ed25519 secret key signed in the browser) and reads, as a \
        regulator: sales by hour and day, regions (map and table), product groups, alerts \
        with their evidence, complaints, recalls and the riskiest participants, polling \
        every 2 s.",
    security(()),
    params(("lang" = Option<String>, Query, description = "`ru` or `en`")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
    )
)]
pub async fn dashboard(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    board(web::Board::Dashboard, &headers, &uri)
}

/// The business cabinet.
#[utoipa::path(
    get,
    path = "/cabinet",
    tag = "participants",
    summary = "A business participant's cabinet (HTML)",
    description = "Access: public page; its script signs in as `/dashboard` does and shows \
        the participant's own stock, shipments and sales (and, for a producer or importer, \
        where its goods are and sell), as the analytics API scopes them to the caller.",
    security(()),
    params(("lang" = Option<String>, Query, description = "`ru` or `en`")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
    )
)]
pub async fn cabinet(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    board(web::Board::Cabinet, &headers, &uri)
}
