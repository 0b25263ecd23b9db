//! The EPCIS 2.0 REST binding under `/epcis` (GS1's `openapi.yaml`): capture, capture jobs.
//!
//! A capture is signed as every change of state here (RFC 9421), read on the blocking pool
//! (the schema, the events, their hashes: CPU work of up to a second for a document at the
//! limits) at most [`CAPTURES_IN_FLIGHT_MAX`] at a time, then run as one writer job
//! (`registry::capture`). Its errors are EPCIS exceptions in problem+json.

use crate::caller::Target;
use crate::problem::Problem;
use crate::request::body_bytes;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use epcis::capture::{read_capture, CaptureError, Format};
use registry::capture::{Behaviour, CaptureJob, CaptureRequest};
use std::collections::VecDeque;

pub use epcis::capture::{CAPTURE_BYTES_MAX, CAPTURE_EVENTS_MAX};

/// Captures read at once (each may take a core for a second and some hundred MB at the
/// limits); one more is told to retry (429).
pub const CAPTURES_IN_FLIGHT_MAX: usize = 2;

/// Jobs that stored nothing (refused with `rollback`, or every event already stored) kept
/// in memory for `GET /epcis/capture/{id}`, newest last; a job that stored events is read
/// from the store. After a restart such a job is unknown (404): it changed nothing. A job
/// names at most `registry::capture::CAPTURE_ERRORS_KEPT` errors of at most some 1.3 KB:
/// the list holds at most some 35 MB.
pub const UNSTORED_JOBS_KEPT: usize = 256;

/// Of those, the most one participant has kept (its oldest go first): one participant's
/// captures do not push everyone else's out.
pub const UNSTORED_JOBS_PER_PARTICIPANT: usize = 16;

/// The EPCIS and CBV versions served.
pub const EPCIS_VERSION: &str = "2.0.0";

/// The capture endpoint's state: the jobs kept in memory and the readers' permits.
pub struct Captures {
    unstored: parking_lot::Mutex<VecDeque<CaptureJob>>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Default for Captures {
    fn default() -> Captures {
        Captures {
            unstored: parking_lot::Mutex::new(VecDeque::new()),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(CAPTURES_IN_FLIGHT_MAX)),
        }
    }
}

impl Captures {
    fn keep(&self, job: CaptureJob) {
        let mut q = self.unstored.lock();
        q.retain(|j| j.capture_id != job.capture_id);
        let mine = q.iter().filter(|j| j.capturer == job.capturer).count();
        if mine >= UNSTORED_JOBS_PER_PARTICIPANT {
            if let Some(at) = q.iter().position(|j| j.capturer == job.capturer) {
                q.remove(at);
            }
        } else if q.len() >= UNSTORED_JOBS_KEPT {
            q.pop_front();
        }
        q.push_back(job);
    }

    fn find(&self, id: &uuid::Uuid) -> Option<CaptureJob> {
        self.unstored
            .lock()
            .iter()
            .find(|j| j.capture_id == *id)
            .cloned()
    }
}

/// An EPCIS exception as problem+json: `type` `epcisException:<Name>`.
pub(crate) fn exception(status: u16, name: &str, detail: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = EpcisException {
        kind: format!("epcisException:{name}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.into(),
        event_index: None,
        event_id: None,
    };
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert("GS1-EPCIS-Version", HeaderValue::from_static(EPCIS_VERSION));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        h.insert(header::RETRY_AFTER, HeaderValue::from(1));
    }
    r
}

/// The registry's problem as the EPCIS exception of its status.
pub(crate) fn from_problem(p: Problem) -> Response {
    let name = match p.status {
        401 | 403 => "SecurityException",
        404 => "NoSuchResourceException",
        406 => "NotAcceptableException",
        409 => "ResourceAlreadyExistsException",
        413 => "CaptureLimitExceededException",
        415 => "UnsupportedMediaTypeException",
        400 | 422 => "ValidationException",
        _ => "ImplementationException",
    };
    exception(p.status, name, p.detail)
}

/// The outline of a capture's body (GS1's JSON Schema, checked by the handler, says the
/// rest).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CaptureDocument {
    /// GS1's context first, then the capturer's own prefixes.
    #[serde(rename = "@context")]
    #[schema(value_type = Vec<String>)]
    context: Vec<serde_json::Value>,
    /// `EPCISDocument` or `EPCISQueryDocument`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(EPCISDocument|EPCISQueryDocument)$")]
    kind: String,
    /// `2.0`.
    #[serde(rename = "schemaVersion")]
    schema_version: String,
    /// When the document was made (RFC 3339).
    #[serde(rename = "creationDate")]
    #[schema(format = DateTime)]
    creation_date: String,
    /// The events (`eventList`) or a query's results.
    #[serde(rename = "epcisBody")]
    epcis_body: CaptureBody,
}

/// A capture's `epcisBody`: its events, or a query document's results.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CaptureBody {
    /// EPCIS 2.0 events (GS1's JSON Schema, `EPCIS-Document-Event`).
    #[serde(rename = "eventList")]
    event_list: Option<Vec<serde_json::Value>>,
    /// A query document's results (their `resultsBody.eventList`).
    #[serde(rename = "queryResults")]
    query_results: Option<serde_json::Value>,
}

/// A capture of one visibility event, the example of the capture endpoint.
fn capture_example() -> serde_json::Value {
    serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-07T10:00:00.000Z",
        "epcisBody": {"eventList": [{
            "type": "ObjectEvent",
            "eventTime": "2026-12-07T09:30:00.000+03:00",
            "eventTimeZoneOffset": "+03:00",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
            "action": "OBSERVE",
            "bizStep": "inspecting",
        }]},
    })
}

/// An EPCIS exception (RFC 7807 problem), as answered and in a capture job's `errors`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EpcisException {
    /// `epcisException:<Name>` (`ValidationException`, `SecurityException`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What is wrong, for a person.
    pub detail: String,
    /// In a capture job: the refused event's index in the document (from 0).
    #[serde(rename = "eventIndex", skip_serializing_if = "Option::is_none")]
    pub event_index: Option<u32>,
    /// In a capture job: the refused event's `eventID`, when it had one.
    #[serde(rename = "eventID", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// A capture job (EPCIS `CaptureJob`), with what it stored. Jobs run to their end before
/// the capture is answered: `running` is always `false`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureJobAnswer {
    /// The job's id.
    #[serde(rename = "captureID")]
    pub capture_id: String,
    /// When the job ran (RFC 3339).
    pub created_at: String,
    /// When it finished (the same second: a job runs as one writer batch).
    pub finished_at: String,
    /// Always `false`.
    pub running: bool,
    /// Whether every event was captured (or found already stored).
    pub success: bool,
    /// `GS1-Capture-Error-Behaviour`.
    pub capture_error_behaviour: Behaviour,
    /// The refused events (with `rollback`, the first refusal: nothing was stored).
    pub errors: Vec<EpcisException>,
    /// The capturer's TIN.
    pub capturer: String,
    /// Events in the document.
    pub events: u32,
    /// Events this job stored.
    pub events_captured: u32,
    /// Events already stored (the same capturer, event and JSON: sent again).
    pub events_already_stored: u32,
    /// Refused events in all (`errors` names the first 100).
    pub events_refused: u32,
}

fn job_answer(j: &CaptureJob) -> CaptureJobAnswer {
    let at = types::time::format_timestamp(j.created_at);
    CaptureJobAnswer {
        capture_id: j.capture_id.to_string(),
        created_at: at.clone(),
        finished_at: at,
        running: false,
        success: j.success,
        capture_error_behaviour: j.behaviour,
        errors: j
            .errors
            .iter()
            .map(|e| EpcisException {
                kind: e.exception.clone(),
                title: StatusCode::from_u16(e.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Refused")
                    .to_string(),
                status: e.status,
                detail: e.detail.clone(),
                event_index: Some(e.index),
                event_id: e.event_id.clone(),
            })
            .collect(),
        capturer: j.capturer.clone(),
        events: j.events,
        events_captured: j.captured,
        events_already_stored: j.duplicates,
        events_refused: j.errors_total,
    }
}

pub(crate) fn versioned(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("GS1-EPCIS-Version", HeaderValue::from_static(EPCIS_VERSION));
    h.insert("GS1-CBV-Version", HeaderValue::from_static(EPCIS_VERSION));
    r
}

/// A 413 with the limits in its headers.
fn too_large(detail: String) -> Response {
    let mut r = exception(413, "CaptureLimitExceededException", detail);
    limit_headers(&mut r);
    r
}

/// The capture limits in headers (on `OPTIONS`, every 202 and every 413).
pub(crate) fn limit_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        "GS1-EPCIS-Capture-Limit",
        HeaderValue::from(CAPTURE_EVENTS_MAX),
    );
    h.insert(
        "GS1-EPCIS-Capture-File-Size-Limit",
        HeaderValue::from(CAPTURE_BYTES_MAX),
    );
    h.insert(
        "GS1-Capture-Error-Behaviour",
        HeaderValue::from_static("rollback, proceed"),
    );
}

/// `OPTIONS /epcis/capture`: what the capture interface takes.
#[utoipa::path(
    options,
    path = "/epcis/capture",
    tag = "epcis",
    summary = "The capture interface's limits (EPCIS 2.0 discovery)",
    description = "Access: a participant (bearer token). `GS1-EPCIS-Capture-Limit` (events) and `GS1-EPCIS-Capture-File-Size-Limit` (bytes) name the limits; past them a capture is 413.",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The limits, in headers", headers(
            ("GS1-EPCIS-Version" = String, description = "2.0.0"),
            ("GS1-EPCIS-Capture-Limit" = u32, description = "Events a capture holds at most"),
            ("GS1-EPCIS-Capture-File-Size-Limit" = u32, description = "Bytes a capture holds at most"),
        )),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn capture_options() -> Response {
    let mut r = versioned(StatusCode::NO_CONTENT.into_response());
    limit_headers(&mut r);
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, POST"));
    r
}

/// `POST /epcis/capture`: a signed EPCIS document (JSON-LD or XML), captured as one job.
#[utoipa::path(
    post,
    path = "/epcis/capture",
    tag = "epcis",
    summary = "Capture an EPCIS 2.0 document (JSON-LD or XML), signed",
    description = "Access: a participant (bearer token), the request signed (RFC 9421) as a document is. The body is an EPCISDocument or EPCISQueryDocument (`application/ld+json`, `application/json`, or `application/xml`), validated against GS1's EPCIS 2.0 JSON Schema (XML read as its JSON-LD form): a body that is not one is 400 `epcisException:ValidationException` and nothing is stored. Events on this registry's codes are its operations under its rules (docs/epcis.md has the table: commissioning → introduce, shipping → ship, receiving → accept, retail_selling → sell, …); events on other identifiers are stored as visibility events. The job runs before the answer: 202 with its `Location` and its outcome. `GS1-Capture-Error-Behaviour`: `rollback` (default: one refused event stores nothing) or `proceed` (the others are stored). An event the same capturer stored before (same event and JSON) is not stored again.",
    security(("bearer" = [])),
    params(
        crate::responses::SignatureHeaders,
        ("GS1-Capture-Error-Behaviour" = Option<String>, Header, description = "`rollback` (default) or `proceed`"),
        ("GS1-EPCIS-Version" = Option<String>, Header, pattern = "^(2([.][0-9]+)*)?$", description = "The EPCIS version the client speaks: 2 or 2.x (empty: not said; another is 406)"),
    ),
    request_body(
        description = "An EPCIS 2.0 EPCISDocument or EPCISQueryDocument, as JSON-LD (or XML); validated against GS1's EPCIS 2.0 JSON Schema, which this structural outline does not repeat",
        content(
            (CaptureDocument = "application/ld+json", example = json!(capture_example())),
            (CaptureDocument = "application/json"),
            (String = "application/xml"),
        ),
    ),
    responses(
        (status = 202, description = "The job ran; its outcome", body = CaptureJobAnswer, headers(("Location" = String, description = "The job"))),
        (status = 400, description = "Not an EPCIS 2.0 document", body = EpcisException, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in, or not signed", body = EpcisException, content_type = "application/problem+json"),
        (status = 413, description = "Past the capture limits", body = EpcisException, content_type = "application/problem+json"),
        (status = 406, description = "An EPCIS version other than 2.x", body = EpcisException, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor XML", body = EpcisException, content_type = "application/problem+json"),
        (status = 429, description = "Captures being read; retry", body = EpcisException, content_type = "application/problem+json"),
        (status = 503, description = "The registry cannot write now", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn capture(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match capture_inner(s, method, uri, headers, body).await {
        Ok(r) => r,
        Err(r) => r,
    }
}

async fn capture_inner(
    s: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::of_content_type(ct).ok_or_else(|| {
        exception(
            415,
            "UnsupportedMediaTypeException",
            format!(
                "a capture is application/ld+json, application/json or application/xml, not {ct:?}"
            ),
        )
    })?;
    let behaviour = match headers.get("GS1-Capture-Error-Behaviour") {
        None => Behaviour::Rollback,
        Some(v) => v.to_str().ok().and_then(Behaviour::parse).ok_or_else(|| {
            exception(
                400,
                "ValidationException",
                "GS1-Capture-Error-Behaviour is rollback or proceed",
            )
        })?,
    };
    let version = headers
        .get("GS1-EPCIS-Version")
        .map(|v| v.to_str().unwrap_or("?").trim())
        .filter(|v| !v.is_empty());
    let speaks_2 = |v: &str| {
        v == "2"
            || v.strip_prefix("2.").is_some_and(|r| {
                r.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    if let Some(v) = version.filter(|v| !speaks_2(v)) {
        return Err(exception(
            406,
            "NotAcceptableException",
            format!("this repository speaks EPCIS {EPCIS_VERSION}, not {v}"),
        ));
    }
    let body = body_bytes(body).map_err(|p| {
        if p.status == 413 {
            too_large(format!("a capture holds at most {CAPTURE_BYTES_MAX} bytes"))
        } else {
            from_problem(p)
        }
    })?;
    let (p, sig) = s
        .signer(&Target { method, uri }, &headers, &body)
        .await
        .map_err(from_problem)?;
    let permit = s
        .captures
        .permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            exception(
                429,
                "ImplementationException",
                format!("{CAPTURES_IN_FLIGHT_MAX} captures are being read; retry in a second"),
            )
        })?;
    let reg = s.registry.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let read = read_capture(&body, format);
        read.map(|c| {
            reg.capture(
                &p,
                CaptureRequest {
                    body: body.to_vec(),
                    format,
                    behaviour,
                    events: c.events,
                    request: sig,
                },
            )
        })
    })
    .await
    .map_err(|_| {
        exception(
            500,
            "ImplementationException",
            "the capture's reader failed",
        )
    })?;
    let job = match outcome {
        Err(CaptureError::TooLarge(d)) => return Err(too_large(d)),
        Err(CaptureError::Invalid { detail, .. }) => {
            metrics::counter!("tracemark_epcis_captures_refused_total").increment(1);
            return Err(exception(400, "ValidationException", detail));
        }
        Ok(Err(e)) => return Err(from_problem(Problem::from(e))),
        Ok(Ok(job)) => job,
    };
    metrics::counter!("tracemark_epcis_events_captured_total").increment(u64::from(job.captured));
    if job.captured == 0 {
        s.captures.keep(job.clone());
    }
    let mut r = versioned(
        (
            StatusCode::ACCEPTED,
            [(
                header::LOCATION,
                format!("/epcis/capture/{}", job.capture_id),
            )],
            axum::Json(job_answer(&job)),
        )
            .into_response(),
    );
    limit_headers(&mut r);
    Ok(r)
}

/// `GET /epcis/capture/{captureID}`: a capture job, for its capturer or a regulator.
#[utoipa::path(
    get,
    path = "/epcis/capture/{id}",
    tag = "epcis",
    summary = "A capture job",
    description = "Access: a participant (bearer token): the capturer or a regulator (others are 404). A job that stored events is kept with them; one that stored nothing is kept in memory (the last 1,000) and unknown after a restart.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The capture's id (the `Location` of its capture)")),
    responses(
        (status = 200, description = "The job", body = CaptureJobAnswer),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
        (status = 404, description = "No such job (for this caller)", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn capture_job(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let p = match s.caller(&headers).await {
        Ok(p) => p,
        Err(e) => return from_problem(e),
    };
    let missing = || {
        exception(
            404,
            "NoSuchResourceException",
            format!("no capture job {id}"),
        )
    };
    let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
        return missing();
    };
    let regulator = p.roles.contains(&types::model::Role::Regulator);
    let tin = p.tin.clone();
    let reg = s.registry.clone();
    // The store first: a job that stored events is the one that counts.
    match s.blocking(move || reg.capture_job(&p, &uuid)).await {
        Ok(j) => return versioned(axum::Json(job_answer(&j)).into_response()),
        Err(e) if e.status == 404 => {}
        Err(e) => return from_problem(e),
    }
    match s.captures.find(&uuid) {
        Some(j) if j.capturer == tin || regulator => {
            versioned(axum::Json(job_answer(&j)).into_response())
        }
        _ => missing(),
    }
}
