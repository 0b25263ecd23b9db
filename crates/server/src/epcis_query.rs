//! The EPCIS 2.0 REST binding's queries (`epcis_repo`): `/epcis/events` with the standard
//! parameters, `/epcis/events/{eventID}`, `/epcis/epcs/{epc}/events`, the events of one
//! event type, business step or disposition, and the discovery resources. Every answer is
//! an `EPCISQueryDocument` (a `Collection` for a list of resources), paged with
//! `nextPageToken` and a `Link` header; each event shown only to whoever may see it.

use crate::epcis_rest::{exception, versioned, EpcisException};
use crate::problem::Problem;
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use epcis_repo::{Page, Query};
use serde_json::Value;

fn query_problem(e: epcis_repo::QueryError) -> Response {
    exception(400, "QueryParameterException", e.0)
}

/// The raw query's (name, value) pairs.
fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
        .map_err(|e| format!("bad query string: {e}"))
}

/// An EPCIS 2.0 query document (`EPCISQueryDocument`): the events of one page.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct QueryDocument {
    /// GS1's context, then the captures' own entries (prefixes their events use).
    #[serde(rename = "@context")]
    pub context: Vec<Value>,
    /// `EPCISQueryDocument`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `2.0`.
    #[serde(rename = "schemaVersion")]
    pub schema_version: String,
    /// When answered (UTC).
    #[serde(rename = "creationDate")]
    pub creation_date: String,
    /// The results.
    #[serde(rename = "epcisBody")]
    pub epcis_body: QueryBody,
}

/// A query document's body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct QueryBody {
    /// The results.
    #[serde(rename = "queryResults")]
    pub query_results: QueryResults,
}

/// A query's results.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct QueryResults {
    /// `SimpleEventQuery`.
    #[serde(rename = "queryName")]
    pub query_name: String,
    /// The events.
    #[serde(rename = "resultsBody")]
    pub results_body: ResultsBody,
}

/// The events of a page.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ResultsBody {
    /// EPCIS 2.0 events (GS1's JSON Schema, `EPCIS-Document-Event`), in record order.
    #[serde(rename = "eventList")]
    pub event_list: Vec<Value>,
}

/// A list of resources (discovery).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Collection {
    /// GS1's context.
    #[serde(rename = "@context")]
    pub context: String,
    /// `Collection`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resources' names.
    pub member: Vec<String>,
}

/// The query document of a page.
fn document(page: Page, query_name: &str, now: u64) -> QueryDocument {
    QueryDocument {
        context: page.context,
        kind: "EPCISQueryDocument".into(),
        schema_version: "2.0".into(),
        creation_date: epcis_repo::view::time_text(now),
        epcis_body: QueryBody {
            query_results: QueryResults {
                query_name: query_name.into(),
                results_body: ResultsBody {
                    event_list: page.events,
                },
            },
        },
    }
}

/// Runs `q` for the signed-in caller: the page as a query document, with its `Link`.
async fn answer(
    s: &AppState,
    p: types::model::Participant,
    q: Query,
    path: &str,
    params: &[(String, String)],
) -> Response {
    let reg = s.registry.clone();
    let q2 = q.clone();
    let viewer = p.id;
    let page = s
        .blocking(move || {
            // A refused query comes out as `Ok(Err)`: it is the caller's, not the store's.
            Ok(epcis_repo::run(&reg, &p, &q2))
        })
        .await;
    let page = match page {
        Ok(Ok(p)) => p,
        Ok(Err(epcis_repo::query::QueryFailure::Query(e))) => return query_problem(e),
        Ok(Err(epcis_repo::query::QueryFailure::Store(e))) => {
            return from_problem(Problem::from(registry::Error::Unavailable(e)))
        }
        Err(e) => return from_problem(e),
    };
    let next = page.next.map(|at| epcis_repo::query::token(&q, viewer, at));
    let mut r =
        versioned(axum::Json(document(page, "SimpleEventQuery", s.registry.now())).into_response());
    if let Some(t) = next {
        let mut kept: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "nextPageToken")
            .cloned()
            .collect();
        kept.push(("nextPageToken".into(), t));
        let qs = serde_urlencoded::to_string(&kept).unwrap_or_default();
        if let Ok(v) = HeaderValue::from_str(&format!("<{path}?{qs}>; rel=\"next\"")) {
            r.headers_mut().insert(header::LINK, v);
        }
    }
    r
}

fn from_problem(p: Problem) -> Response {
    crate::epcis_rest::from_problem(p)
}

/// The standard query parameters (`SimpleEventQuery`), for the OpenAPI document: the
/// handler reads them from the raw query (`epcis_repo::Query::parse`), refusing any other.
/// Lists are separated by `|`; CBV words bare (`shipping`), other values URIs.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventQueryParams {
    /// Event types (`ObjectEvent|AggregationEvent`).
    #[serde(rename = "eventType")]
    #[param(
        pattern = "^(ObjectEvent|AggregationEvent|TransactionEvent|TransformationEvent|AssociationEvent)([|](ObjectEvent|AggregationEvent|TransactionEvent|TransformationEvent|AssociationEvent))*$"
    )]
    event_type: Option<String>,
    /// Events at or after (RFC 3339).
    #[serde(rename = "GE_eventTime")]
    #[param(format = DateTime)]
    ge_event_time: Option<String>,
    /// Events before.
    #[serde(rename = "LT_eventTime")]
    #[param(format = DateTime)]
    lt_event_time: Option<String>,
    /// Recorded at or after.
    #[serde(rename = "GE_recordTime")]
    #[param(format = DateTime)]
    ge_record_time: Option<String>,
    /// Recorded before.
    #[serde(rename = "LT_recordTime")]
    #[param(format = DateTime)]
    lt_record_time: Option<String>,
    /// Actions (`ADD|OBSERVE|DELETE`).
    #[serde(rename = "EQ_action")]
    #[param(pattern = "^(ADD|OBSERVE|DELETE)([|](ADD|OBSERVE|DELETE))*$")]
    eq_action: Option<String>,
    /// Business steps (CBV words or URIs).
    #[serde(rename = "EQ_bizStep")]
    eq_biz_step: Option<String>,
    /// Dispositions (CBV words or URIs).
    #[serde(rename = "EQ_disposition")]
    eq_disposition: Option<String>,
    /// Business locations (URIs).
    #[serde(rename = "EQ_bizLocation")]
    eq_biz_location: Option<String>,
    /// Read points (URIs).
    #[serde(rename = "EQ_readPoint")]
    eq_read_point: Option<String>,
    /// EPCs in `epcList` or `childEPCs` (EPC URIs or Digital Links).
    #[serde(rename = "MATCH_epc")]
    match_epc: Option<String>,
    /// `parentID`s.
    #[serde(rename = "MATCH_parentID")]
    match_parent_id: Option<String>,
    /// Inputs of transformations.
    #[serde(rename = "MATCH_inputEPC")]
    match_input_epc: Option<String>,
    /// Outputs of transformations.
    #[serde(rename = "MATCH_outputEPC")]
    match_output_epc: Option<String>,
    /// Any of the above.
    #[serde(rename = "MATCH_anyEPC")]
    match_any_epc: Option<String>,
    /// Event ids.
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    /// Events a page (1 to 1,000; 30).
    #[serde(rename = "perPage")]
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<u32>,
    /// The token of the next page (its `Link`).
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

/// `GET /epcis/events`: events by the standard query parameters.
#[utoipa::path(
    get,
    path = "/epcis/events",
    tag = "epcis",
    summary = "EPCIS events by the standard query parameters (SimpleEventQuery)",
    params(EventQueryParams),
    description = "Access: a participant (bearer token). The parameters below (lists separated by `|`); any other, a value outside the CBV where a CBV word is meant, a token of another query, is 400 `epcisException:QueryParameterException`. Native documents are answered as the EPCIS events they mean, captured events as captured (with `recordTime`). A regulator sees every event; a participant those of its own documents and captures, of shipments to it, and of documents on codes it holds or held. A page reads at most 5,000 documents: a short page may still have a `Link` to the next one.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An EPCISQueryDocument", body = QueryDocument, headers(("Link" = String, description = "The next page, `rel=\"next\"`, when there is one"))),
        (status = 400, description = "A parameter this repository does not take, or a bad value", body = EpcisException, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn events(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    // Who asks first: nobody learns of a parameter's fault without signing in.
    let p = match s.caller(&headers).await {
        Ok(p) => p,
        Err(e) => return from_problem(e),
    };
    let params = match pairs(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return exception(400, "QueryParameterException", e),
    };
    match Query::parse(&params) {
        Ok(q) => answer(&s, p, q, "/epcis/events", &params).await,
        Err(e) => query_problem(e),
    }
}

/// A query with one more condition from the path (`/epcs/{epc}/events`, …).
async fn with_condition(
    s: &AppState,
    headers: &HeaderMap,
    raw: Option<String>,
    name: &str,
    value: String,
    path: &str,
) -> Response {
    let p = match s.caller(headers).await {
        Ok(p) => p,
        Err(e) => return from_problem(e),
    };
    let params = match pairs(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return exception(400, "QueryParameterException", e),
    };
    if params.iter().any(|(k, _)| k == name) {
        return exception(
            400,
            "QueryParameterException",
            format!("`{name}` is given by the path"),
        );
    }
    let mut all = params.clone();
    all.push((name.to_string(), value));
    match Query::parse(&all) {
        Ok(q) => answer(s, p, q, path, &params).await,
        Err(e) => query_problem(e),
    }
}

/// `GET /epcis/events/{eventID}`: one event.
#[utoipa::path(
    get,
    path = "/epcis/events/{eventID}",
    tag = "epcis",
    summary = "One EPCIS event by its eventID",
    description = "Access: a participant (bearer token). A native document's first event is `urn:uuid:<document id>`; a captured event keeps its `eventID`, or is named by its CBV event hash (`ni:///sha-256;…?ver=CBV2.0`). 404 when there is none the caller may see.",
    security(("bearer" = [])),
    params(("eventID" = String, Path, description = "The event's id (percent-encoded)")),
    responses(
        (status = 200, description = "An EPCISQueryDocument holding the event", body = QueryDocument),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
        (status = 404, description = "No such event (for this caller)", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn event(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let q = Query {
        event_ids: Some(vec![id.clone()]),
        per_page: epcis_repo::query::PER_PAGE_MAX,
        ..Query::default()
    };
    let p = match s.caller(&headers).await {
        Ok(p) => p,
        Err(e) => return from_problem(e),
    };
    let params = [("eventID".to_string(), id.clone())];
    let r = answer(&s, p, q, "/epcis/events", &params).await;
    if r.status() != 200 {
        return r;
    }
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if v.pointer("/epcisBody/queryResults/resultsBody/eventList/0")
        .is_none()
    {
        return exception(404, "NoSuchResourceException", format!("no event {id}"));
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// `GET /epcis/epcs/{epc}/events`: the events naming one identifier.
#[utoipa::path(
    get,
    path = "/epcis/epcs/{epc}/events",
    tag = "epcis",
    summary = "The events naming one EPC (its history)",
    description = "Access: a participant (bearer token). The identifier (an EPC URI or a GS1 Digital Link URI, percent-encoded) as `MATCH_anyEPC`, with the other parameters of `/epcis/events`. A code of this registry: its whole history, native documents and captured events in one list, for whoever holds or held it (a regulator: every code).",
    security(("bearer" = [])),
    params(("epc" = String, Path, description = "The identifier (percent-encoded)"), EventQueryParams),
    responses(
        (status = 200, description = "An EPCISQueryDocument", body = QueryDocument),
        (status = 400, description = "A bad parameter", body = EpcisException, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn epc_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(epc): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/epcis/epcs/{}/events", gs1::percent_encoded(&epc));
    with_condition(&s, &headers, raw, "MATCH_anyEPC", epc, &path).await
}

/// `GET /epcis/eventTypes/{eventType}/events`.
#[utoipa::path(
    get,
    path = "/epcis/eventTypes/{eventType}/events",
    tag = "epcis",
    summary = "The events of one event type",
    description = "Access: a participant (bearer token). As `/epcis/events?eventType=…`.",
    security(("bearer" = [])),
    params(("eventType" = String, Path, pattern = "^(ObjectEvent|AggregationEvent|TransactionEvent|TransformationEvent|AssociationEvent)$", description = "ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent or AssociationEvent")),
    responses(
        (status = 200, description = "An EPCISQueryDocument", body = QueryDocument),
        (status = 400, description = "A bad parameter", body = EpcisException, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn type_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(t): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/epcis/eventTypes/{t}/events");
    with_condition(&s, &headers, raw, "eventType", t, &path).await
}

/// `GET /epcis/bizSteps/{bizStep}/events`.
#[utoipa::path(
    get,
    path = "/epcis/bizSteps/{bizStep}/events",
    tag = "epcis",
    summary = "The events of one business step",
    description = "Access: a participant (bearer token). As `/epcis/events?EQ_bizStep=…`.",
    security(("bearer" = [])),
    params(("bizStep" = String, Path, description = "A CBV business step (`shipping`) or a URI")),
    responses(
        (status = 200, description = "An EPCISQueryDocument", body = QueryDocument),
        (status = 400, description = "A bad parameter", body = EpcisException, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn step_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(step): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/epcis/bizSteps/{}/events", gs1::percent_encoded(&step));
    with_condition(&s, &headers, raw, "EQ_bizStep", step, &path).await
}

/// `GET /epcis/dispositions/{disposition}/events`.
#[utoipa::path(
    get,
    path = "/epcis/dispositions/{disposition}/events",
    tag = "epcis",
    summary = "The events of one disposition",
    description = "Access: a participant (bearer token). As `/epcis/events?EQ_disposition=…`.",
    security(("bearer" = [])),
    params(("disposition" = String, Path, description = "A CBV disposition (`in_transit`) or a URI")),
    responses(
        (status = 200, description = "An EPCISQueryDocument", body = QueryDocument),
        (status = 400, description = "A bad parameter", body = EpcisException, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = EpcisException, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn disposition_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(d): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/epcis/dispositions/{}/events", gs1::percent_encoded(&d));
    with_condition(&s, &headers, raw, "EQ_disposition", d, &path).await
}

/// A `Collection` of resource names.
fn collection(members: &[&str]) -> Response {
    versioned(
        axum::Json(Collection {
            context: epcis::xml::EPCIS_CONTEXT.into(),
            kind: "Collection".into(),
            member: members.iter().map(|m| m.to_string()).collect(),
        })
        .into_response(),
    )
}

/// `GET /epcis`: the top-level resources.
#[utoipa::path(
    get,
    path = "/epcis",
    tag = "epcis",
    summary = "The EPCIS 2.0 top-level resources (discovery)",
    description = "Public. The resources this repository serves under `/epcis`.",
    responses((status = 200, description = "A Collection", body = Collection))
)]
pub(crate) async fn top_level() -> Response {
    collection(&[
        "capture",
        "events",
        "eventTypes",
        "bizSteps",
        "dispositions",
    ])
}

/// `GET /epcis/eventTypes`.
#[utoipa::path(
    get,
    path = "/epcis/eventTypes",
    tag = "epcis",
    summary = "The event types (discovery)",
    description = "Public. The five EPCIS 2.0 event types.",
    responses((status = 200, description = "A Collection", body = Collection))
)]
pub(crate) async fn event_types() -> Response {
    collection(&epcis_repo::index::event_types())
}

/// `GET /epcis/bizSteps`.
#[utoipa::path(
    get,
    path = "/epcis/bizSteps",
    tag = "epcis",
    summary = "The business steps (discovery)",
    description = "Public. The CBV 2.0 business steps (any URI of one's own is taken too).",
    responses((status = 200, description = "A Collection", body = Collection))
)]
pub(crate) async fn biz_steps() -> Response {
    collection(epcis::vocab::BIZ_STEP.terms)
}

/// `GET /epcis/dispositions`.
#[utoipa::path(
    get,
    path = "/epcis/dispositions",
    tag = "epcis",
    summary = "The dispositions (discovery)",
    description = "Public. The CBV 2.0 dispositions (any URI of one's own is taken too).",
    responses((status = 200, description = "A Collection", body = Collection))
)]
pub(crate) async fn dispositions() -> Response {
    collection(epcis::vocab::DISPOSITION.terms)
}
