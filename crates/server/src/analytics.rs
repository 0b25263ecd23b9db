//! Analytics over HTTP: `GET /api/v1/analytics/sales`, `/stock` and `/flows`, answered from
//! the `analytics` projection the binary follows the feed with (see the `analytics` crate
//! for what is counted, the time-window rule and the scoping).

use crate::{query, AppState, Problem};
use analytics::{QueryError, SalesGroup, Scope, StockGroup, Window};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::Error;
use serde::Deserialize;
use types::model::{Participant, Role};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SalesQuery {
    /// One of `region|product_group|day|hour|gtin|participant`.
    #[param(pattern = r"^(region|product_group|day|hour|gtin|participant)$")]
    group_by: String,
    /// Start, inclusive: a date `YYYY-MM-DD` (the local midnight of each seller's region)
    /// or an RFC 3339 timestamp (an instant; hour resolution: a sale counts when its local
    /// hour starts at or after it). Both bounds must be of one kind.
    #[param(schema_with = time_bound)]
    from: Option<String>,
    /// End, exclusive (as `from`).
    #[param(schema_with = time_bound)]
    to: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StockQuery {
    /// One of `region|product_group|gtin|participant`.
    #[param(pattern = r"^(region|product_group|gtin|participant)$")]
    group_by: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowsQuery {
    /// Start, inclusive: a date `YYYY-MM-DD` (the sender's local day) or an RFC 3339
    /// timestamp (moved up to the sender's next local midnight).
    #[param(schema_with = time_bound)]
    from: Option<String>,
    /// End, exclusive (as `from`).
    #[param(schema_with = time_bound)]
    to: Option<String>,
}

/// A window's bound: a date or an RFC 3339 timestamp (empty: none).
fn time_bound() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use types::apidoc::{DATE_PATTERN, TIMESTAMP_PATTERN};
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .pattern(Some(DATE_PATTERN)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .pattern(Some(TIMESTAMP_PATTERN)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0)),
        )
        .description(Some(
            "A date `YYYY-MM-DD` or an RFC 3339 timestamp (both bounds of one kind); empty: none",
        ))
        .into()
}

fn bad(e: QueryError) -> Problem {
    Problem::bad_request(e.to_string())
}

fn scope_of(p: &Participant) -> Scope {
    if p.roles.contains(&Role::Regulator) {
        Scope::All
    } else {
        Scope::Participant(p.id)
    }
}

/// Runs a query on the blocking pool (within the server's slots for heavy work) under the projection's read lock (a regulator's
/// query over a national roll-up takes milliseconds: too long for an async thread).
async fn answer<T: serde::Serialize + Send + 'static>(
    s: &AppState,
    f: impl FnOnce(&analytics::Analytics) -> T + Send + 'static,
) -> Result<Response, Problem> {
    let h = s.analytics.clone().ok_or_else(|| {
        Problem::from(Error::Unavailable(
            "analytics are not running on this server".into(),
        ))
    })?;
    let a = s.lane.run(move || f(&h.read())).await?;
    Ok(Json(a).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/analytics/sales",
    tag = "analytics",
    summary = "Units sold, grouped",
    description = "Access: a participant (bearer token). A regulator sees every sale; anyone \
        else the sales it made and the sales of its own goods (product cards it owns) at any \
        shop. Units are codes sold (accepted `sell` documents), by the fiscal time in the \
        seller's region's local time; returns are counted apart. `day` keys are `YYYY-MM-DD`, \
        `hour` keys `YYYY-MM-DDTHH` (local), `participant` keys TINs, `gtin` keys 14 digits. \
        Rows are sorted by key for `day` and `hour`, else by units (largest first); at most \
        10,000.",
    security(("bearer" = [])),
    params(SalesQuery),
    responses(
        (status = 200, description = "Units sold", body = analytics::SalesAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn sales(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let q: SalesQuery = query(q)?;
    let group = SalesGroup::parse(&q.group_by).map_err(bad)?;
    let w = Window::parse(q.from.as_deref(), q.to.as_deref()).map_err(bad)?;
    let scope = scope_of(&p);
    answer(&s, move |a| a.sales(scope, group, &w)).await
}

#[utoipa::path(
    get,
    path = "/api/v1/analytics/stock",
    tag = "analytics",
    summary = "Units in circulation, grouped",
    description = "Access: a participant (bearer token). A regulator sees all stock; anyone \
        else its own stock and its own goods wherever they are. A unit counts for its owner \
        while in circulation, in transit included (it moves to the receiver at acceptance). \
        Rows by units, largest first; at most 10,000.",
    security(("bearer" = [])),
    params(StockQuery),
    responses(
        (status = 200, description = "Units in circulation", body = analytics::StockAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn stock(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let q: StockQuery = query(q)?;
    let group = StockGroup::parse(&q.group_by).map_err(bad)?;
    let scope = scope_of(&p);
    answer(&s, move |a| a.stock(scope, group)).await
}

#[utoipa::path(
    get,
    path = "/api/v1/analytics/flows",
    tag = "analytics",
    summary = "Units shipped between regions (regulator)",
    description = "Access: a regulator (bearer token). Units of `ship` documents from the \
        sender's region to the receiver's, by the sender's local day. Other participants are \
        refused: a flow between regions adds up every company's shipments, and a business \
        has its own in its documents.",
    security(("bearer" = [])),
    params(FlowsQuery),
    responses(
        (status = 200, description = "Units shipped", body = analytics::FlowsAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn flows(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    if scope_of(&p) != Scope::All {
        return Err(Problem::from(Error::Forbidden(
            "flows between regions are for regulators".into(),
        )));
    }
    let q: FlowsQuery = query(q)?;
    let w = Window::parse(q.from.as_deref(), q.to.as_deref()).map_err(bad)?;
    answer(&s, move |a| a.flows(Scope::All, &w)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented `group_by` patterns name exactly the words the parsers take.
    #[test]
    fn group_by_patterns_are_the_parsers_words() {
        let doc = crate::openapi::document();
        for (path, words) in [
            (
                "/api/v1/analytics/sales",
                SalesGroup::ALL.iter().map(|g| g.name()).collect::<Vec<_>>(),
            ),
            (
                "/api/v1/analytics/stock",
                StockGroup::ALL.iter().map(|g| g.name()).collect(),
            ),
        ] {
            let params = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .expect("parameters");
            let p = params
                .iter()
                .find(|p| p["name"] == "group_by")
                .expect("group_by");
            assert_eq!(p["required"], true, "{path}");
            assert_eq!(
                p["schema"]["pattern"],
                format!("^({})$", words.join("|")),
                "{path}"
            );
        }
    }
}
