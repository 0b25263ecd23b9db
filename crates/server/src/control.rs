//! The regulator's control over HTTP: the risk engine's alerts (`GET /api/v1/alerts`,
//! `GET /api/v1/alerts/{id}`, `POST /api/v1/alerts/{id}/ack`) and participants' risk
//! scores (`GET /api/v1/risk/participants`). The engine itself is the `risk` crate, a
//! projection of the registry's feed started with the router and stopped with it.

use crate::{query, AppState, Problem, Target};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::RwLock;
use registry::project::Follower;
use registry::{Error, Registry};
use risk::{Alert, AlertFilter, Kind, Risk, Subject};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use types::model::{Participant, Role};

/// How long an acknowledgement waits for the risk engine to have applied it before
/// answering (it is durable either way).
pub const ACK_APPLIED_WAIT_MS: u64 = 2_000;

/// Longest acknowledgement body: a note of ≤ 500 characters in JSON.
pub const BODY_ACK_MAX: usize = 4 * 1024;

/// The projections the router runs, and the follower threads that keep them current.
pub struct Control {
    /// The risk engine's state.
    pub risk: Arc<RwLock<Risk>>,
    follower: Option<Follower>,
    /// The analytics' state; `None` when they could not start (their endpoints answer 503
    /// rather than empty numbers).
    pub analytics: Option<::analytics::Handle>,
    /// The analytics' follower, when this router started it.
    analytics_follower: Option<Follower>,
    /// The EPCIS query index's follower (`None`: it could not start; the queries it serves
    /// answer 503, those on codes' own histories still answer).
    epcis_follower: Option<Follower>,
}

impl Control {
    /// Starts the risk engine and the analytics on the registry's feed (each loading its
    /// stored rows first); `analytics`: a handle someone else follows the feed with.
    pub fn start(reg: &Registry, analytics: Option<::analytics::Handle>) -> Control {
        let risk = Arc::new(RwLock::new(Risk::new()));
        let follower = match registry::project::follow(reg, risk.clone()) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!("the risk engine cannot start: {e}");
                None
            }
        };
        let (analytics, analytics_follower) = match analytics {
            Some(h) => (Some(h), None),
            None => {
                let h: ::analytics::Handle =
                    Arc::new(RwLock::new(::analytics::Analytics::default()));
                match registry::project::follow(reg, h.clone()) {
                    Ok(f) => (Some(h), Some(f)),
                    Err(e) => {
                        tracing::error!("the analytics cannot start: {e}");
                        (None, None)
                    }
                }
            }
        };
        let index = Arc::new(RwLock::new(epcis_repo::EpcisIndex::default()));
        let epcis_follower = match registry::project::follow(reg, index) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!("the EPCIS query index cannot start: {e}");
                None
            }
        };
        Control {
            risk,
            follower,
            analytics,
            analytics_follower,
            epcis_follower,
        }
    }

    /// The analytics' progress (`None` if this router does not follow for them).
    pub fn analytics_progress(&self) -> Option<&registry::project::Progress> {
        self.analytics_follower.as_ref().map(|f| &*f.progress)
    }

    /// The projections this router follows the feed with, by name, and their progress.
    pub fn followed(&self) -> Vec<(&'static str, &registry::project::Progress)> {
        [
            ("risk", self.progress()),
            ("analytics", self.analytics_progress()),
            ("epcis_index", self.epcis_progress()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| (n, p)))
        .collect()
    }

    /// The EPCIS query index's progress (`None` if it did not start).
    pub fn epcis_progress(&self) -> Option<&registry::project::Progress> {
        self.epcis_follower.as_ref().map(|f| &*f.progress)
    }

    /// The risk engine's progress (`None` if it did not start).
    pub fn progress(&self) -> Option<&registry::project::Progress> {
        self.follower.as_ref().map(|f| &*f.progress)
    }

    /// The signed-in regulator behind a read of the risk engine (401/403), once the engine
    /// runs (503).
    async fn regulator(&self, s: &AppState, headers: &HeaderMap) -> Result<Participant, Problem> {
        let p = s.caller(headers).await?;
        regulator(&p)?;
        self.running()?;
        Ok(p)
    }

    fn running(&self) -> Result<&Follower, Problem> {
        let f = self.follower.as_ref().ok_or_else(|| {
            Problem::from(Error::Unavailable(
                "the risk engine is not running; see the server's log".into(),
            ))
        })?;
        if f.progress.failure().is_some() {
            // Its memory may be half of a fact (a panic) or about to be rebuilt: no
            // answer rather than a wrong one; it starts again by itself.
            return Err(Problem::from(Error::Unavailable(
                "the risk engine failed and is starting again from its checkpoint; see /health"
                    .into(),
            )));
        }
        Ok(f)
    }
}

fn regulator(p: &Participant) -> Result<(), Problem> {
    if p.has(Role::Regulator) {
        Ok(())
    } else {
        Err(Problem::from(Error::Forbidden(
            "only regulators read and acknowledge alerts".into(),
        )))
    }
}

/// Who an alert is about, as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SubjectView {
    /// `participant`, `client` (an anonymous checker, by a keyed hash of its address) or
    /// `code`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The participant's TIN, the client's tag or the identification code.
    pub value: String,
}

/// Evidence of an alert.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Evidence {
    /// Codes involved (identification codes; at most 100).
    pub codes: Vec<String>,
    /// Documents (and for complaint clusters, complaints) involved, by id (at most 50).
    pub documents: Vec<String>,
    /// Signals counted in the incident (codes, attempts, scans, complaints).
    pub count: u64,
    /// What else the kind keeps: `first_sellers`, `owners`, `statuses`, `via`, `client`,
    /// `scans` (places and times), `distance_km`, `networks`, `networks_per_place`,
    /// `networks_ignored` (clone scans), `gtins` (received vs sold), `check_ids`,
    /// `not_sellable_at_till`, `receipt_at`, `reported_at`, `days_late` (late sales),
    /// `complaints_in_window`, `complainants`, `complainants_with_label`, `weight`,
    /// `shop_tin`.
    #[serde(flatten)]
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// A regulator's acknowledgement.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AckView {
    /// The regulator's TIN.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Their note.
    pub note: String,
}

/// One alert.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// Its id.
    pub id: u64,
    /// Its kind.
    pub kind: Kind,
    /// How bad.
    pub severity: risk::Severity,
    /// The participant it is about (TIN), if any.
    pub participant: Option<String>,
    /// Their name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_name: Option<String>,
    /// What it is about.
    pub subject: SubjectView,
    /// The evidence.
    pub evidence: Evidence,
    /// When the incident opened (RFC 3339).
    pub at: String,
    /// When its last signal came (RFC 3339).
    pub updated_at: String,
    /// The acknowledgement, once given.
    pub acknowledged: Option<AckView>,
}

fn view(reg: &Registry, a: &Alert) -> AlertView {
    let who = |id| reg.participant(id).ok().flatten();
    let p = a.participant().and_then(who);
    let subject = match a.subject {
        Subject::Participant(id) => SubjectView {
            kind: "participant",
            value: p
                .as_ref()
                .map_or_else(|| format!("#{id}"), |p| p.tin.clone()),
        },
        Subject::Client(c) => SubjectView {
            kind: "client",
            value: format!("{c:016x}"),
        },
        Subject::Code(k) => SubjectView {
            kind: "code",
            value: k.0.to_string(),
        },
    };
    AlertView {
        id: a.id,
        kind: a.kind,
        severity: a.severity,
        participant: p.as_ref().map(|p| p.tin.clone()),
        participant_name: p.as_ref().map(|p| p.name.clone()),
        subject,
        evidence: Evidence {
            codes: a.codes.clone(),
            documents: a.documents.clone(),
            count: a.count,
            details: a.details.clone(),
        },
        at: types::time::format_timestamp(a.at),
        updated_at: types::time::format_timestamp(a.updated_at),
        acknowledged: a.ack.as_ref().map(|k| AckView {
            by: who(k.by).map_or_else(|| format!("#{}", k.by), |p| p.tin),
            at: types::time::format_timestamp(k.at),
            note: k.note.clone(),
        }),
    }
}

/// Filters of `GET /api/v1/alerts`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    /// Only alerts updated at or after this time (RFC 3339).
    #[param(schema_with = types::apidoc::timestamp)]
    since: Option<String>,
    /// Only these kinds, comma-separated (`repeat_sale,grey_sale`).
    #[param(schema_with = kind_list)]
    kind: Option<String>,
    /// Only alerts about this participant (TIN; an unknown one is 404).
    #[param(pattern = r"^[0-9A-Za-z]{1,32}$")]
    participant: Option<String>,
    /// `true`: only open (unacknowledged) alerts; `false`: only acknowledged ones.
    open: Option<bool>,
    /// Only alerts with ids below this (the previous page's `next`).
    before: Option<u64>,
    /// Page size, 1–1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// Alert kinds, comma-separated (empty ones are skipped).
fn kind_list() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let words: Vec<&'static str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let one = format!("({})", words.join("|"));
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(format!("^,*({one}(,+{one})*)?,*$")))
        .description(Some(format!(
            "Alert kinds, comma-separated: {}",
            words.join(", ")
        )))
        .into()
}

/// A page of alerts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    /// Newest first.
    pub alerts: Vec<AlertView>,
    /// Pass as `before` for the next page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "regulator",
    summary = "Risk alerts (regulator)",
    description = "Access: a regulator (bearer token). Newest first. Each alert is one \
        incident: its kind, severity, the participant (or anonymous client, or code) it is \
        about, and the evidence (codes, documents, times, counts). Kinds: `repeat_sale`, \
        `grey_sale`, `not_introduced_sale`, `forged_tail`, `clone_scans`, \
        `sales_exceed_receipts`, `expired_sale`, `recalled_sale`, `unchecked_sale`, \
        `complaint_cluster`, `late_sale` (a sale accepted for its receipt's time whose \
        goods had expired when it was reported). Raised by the risk engine within a second \
        of the fact.",
    security(("bearer" = [])),
    params(AlertsQuery),
    responses(
        (status = 200, description = "A page of alerts", body = AlertPage),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn alerts(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    s.control.regulator(&s, &headers).await?;
    let q: AlertsQuery = query(uri.query().map(str::to_string))?;
    let mut kinds = Vec::new();
    for k in q
        .kind
        .iter()
        .flat_map(|k| k.split(','))
        .filter(|k| !k.is_empty())
    {
        kinds.push(Kind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            Problem::bad_request(format!(
                "unknown alert kind `{k}`; one of {}",
                all.join(", ")
            ))
        })?);
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=risk::ALERTS_PAGE_MAX).contains(&limit) {
        return Err(Problem::bad_request(format!(
            "`limit` must be 1–{}",
            risk::ALERTS_PAGE_MAX
        )));
    }
    let reg = s.registry.clone();
    let participant = match q.participant {
        Some(tin) => Some(
            s.read({
                let tin = tin.clone();
                move || reg.participant_by_tin(&tin)
            })
            .await?
            .ok_or_else(|| Problem::not_found(format!("no participant {tin}")))?
            .id,
        ),
        None => None,
    };
    let filter = AlertFilter {
        kinds,
        since: crate::request::time_param("since", q.since.as_deref())?,
        participant,
        open: q.open,
        before: q.before,
        limit,
    };
    let risk = s.control.risk.clone();
    let reg = s.registry.clone();
    let page = s
        .read(move || {
            let r = risk.read();
            let found = r.alerts(&filter);
            let next = (found.len() == limit)
                .then(|| found.last().map(|a| a.id))
                .flatten();
            Ok(AlertPage {
                alerts: found.iter().map(|a| view(&reg, a)).collect(),
                next,
            })
        })
        .await?;
    Ok(Json(page).into_response())
}

fn alert_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::not_found(format!("no alert {id}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "regulator",
    summary = "One alert (regulator)",
    description = "Access: a regulator (bearer token).",
    security(("bearer" = [])),
    params(("id" = u64, Path, description = "The alert id")),
    responses(
        (status = 200, description = "The alert", body = AlertView),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn alert(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    s.control.regulator(&s, &headers).await?;
    let id = alert_id(&id)?;
    let r = s.control.risk.read();
    let a = r
        .alert(id)
        .ok_or_else(|| Problem::not_found(format!("no alert {id}")))?;
    Ok(Json(view(&s.registry, a)).into_response())
}

/// The body of an acknowledgement.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    /// What was done about it (≤ 500 characters kept).
    #[serde(default)]
    note: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/ack",
    tag = "regulator",
    summary = "Acknowledge an alert (regulator)",
    description = "Access: a regulator (bearer token), the request signed (RFC 9421). Closes \
        the incident: later signals of its kind about its subject open a new alert. Kept in \
        the transparency log (`alert_ack`). 409 if already acknowledged.",
    security(("bearer" = [])),
    params(
        ("id" = u64, Path, description = "The alert id"),
        crate::responses::SignatureHeaders,
    ),
    request_body = AckBody,
    responses(
        (status = 200, description = "The alert, acknowledged", body = AlertView),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn ack(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, b, signed): (_, AckBody, _) = s
        .signed_json(&Target { method, uri }, &headers, body)
        .await?;
    regulator(&p)?;
    s.control.running()?;
    let id = alert_id(&id)?;
    match s.control.risk.read().alert(id) {
        None => return Err(Problem::not_found(format!("no alert {id}"))),
        Some(a) if a.ack.is_some() => {
            return Err(Problem::from(Error::Conflict(format!(
                "alert {id} was acknowledged already"
            ))))
        }
        Some(_) => {}
    }
    let reg = s.registry.clone();
    s.blocking(move || reg.ack_alert(&p, id, &b.note, signed))
        .await?;
    let head = s.registry.feed_signal().head();
    let control = s.control.clone();
    let reg = s.registry.clone();
    let answer = s
        .blocking(move || {
            if let Some(f) = &control.follower {
                f.wait_applied(head, std::time::Duration::from_millis(ACK_APPLIED_WAIT_MS));
            }
            let r = control.risk.read();
            let a = r
                .alert(id)
                .ok_or_else(|| Error::NotFound(format!("no alert {id}")))?;
            Ok(view(&reg, a))
        })
        .await?;
    Ok(Json(answer).into_response())
}

/// Filters of `GET /api/v1/risk/participants`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScoresQuery {
    /// How many, 1–1,000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// One participant's risk score.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScoreView {
    /// TIN.
    pub tin: String,
    /// Name.
    pub name: String,
    /// Region (ISO 3166-2).
    pub region: String,
    /// The score: Σ over its alerts of severity weight (high 10, medium 5, low 1) ×
    /// (1 + log₂ of the signals counted).
    pub score: f64,
    /// What makes it up, by alert kind, largest first.
    pub reasons: Vec<risk::Reason>,
}

/// Participants by risk.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScoreList {
    /// Highest score first.
    pub participants: Vec<ScoreView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/risk/participants",
    tag = "regulator",
    summary = "The riskiest participants (regulator)",
    description = "Access: a regulator (bearer token). Participants by risk score, highest \
        first, with the alert kinds that make up each score.",
    security(("bearer" = [])),
    params(ScoresQuery),
    responses(
        (status = 200, description = "Participants by risk", body = ScoreList),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn scores(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    s.control.regulator(&s, &headers).await?;
    let q: ScoresQuery = query(uri.query().map(str::to_string))?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=1_000).contains(&limit) {
        return Err(Problem::bad_request("`limit` must be 1–1000"));
    }
    let scores = s.control.risk.read().scores(limit);
    let reg = s.registry.clone();
    let list = s
        .read(move || {
            Ok(ScoreList {
                participants: scores
                    .into_iter()
                    .filter_map(|sc| {
                        let p = reg.participant(sc.participant).ok().flatten()?;
                        Some(ScoreView {
                            tin: p.tin,
                            name: p.name,
                            region: p.region,
                            score: sc.score,
                            reasons: sc.reasons,
                        })
                    })
                    .collect(),
            })
        })
        .await?;
    Ok(Json(list).into_response())
}
