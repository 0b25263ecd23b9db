//! The product catalogue: cards put and read, cards moved with a GS1 prefix.

use crate::caller::Target;
use crate::problem::Problem;
use crate::request::admin_json;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::{Error, NewProduct};

#[utoipa::path(
    post,
    path = "/api/v1/products",
    tag = "products",
    summary = "Register or update a product card",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). A producer or importer, for GTINs within its GS1 prefixes (an importer also for prefixes nobody holds).",
    security(("bearer" = [])),
    params(
        crate::responses::SignatureHeaders,
    ),
    request_body = NewProduct,
    responses(
        (status = 201, description = "The card as stored", body = registry::ProductCard),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn put_product(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req, signed): (_, NewProduct, _) = s
        .signed_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let product = s
        .blocking(move || reg.put_product_signed(&p, req, signed))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(registry::ProductCard::from(&product)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/products/{gtin}",
    tag = "products",
    summary = "A product card",
    description = "Access: public.",
    security(()),
    params(
        ("gtin" = String, Path, description = "GTIN (8, 12, 13 or 14 digits)", pattern = r"^[0-9]{8,14}$"),
    ),
    responses(
        (status = 200, description = "The card", body = registry::ProductCard),
        (status = 404, response = crate::responses::NotFound),
        (status = 422, response = crate::responses::Refused),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn get_product(
    State(s): State<AppState>,
    Path(gtin): Path<String>,
) -> Result<Response, Problem> {
    let reg = s.registry.clone();
    let product = s
        .read(move || {
            let g = registry::parse_gtin(&gtin)?;
            reg.product(g)?
                .ok_or_else(|| Error::NotFound(format!("no product {g:014}")))
        })
        .await?;
    Ok(Json(registry::ProductCard::from(&product)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/products/{gtin}/transfer",
    tag = "products",
    summary = "Move a product card to another producer or importer (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). Settles a card held by the wrong participant (an importer that registered a brand's GTIN before the brand joined, a brand sold): the card, and with it future orders and card changes, moves to `to` (a producer or importer), logged as a `product_transfer` leaf with the reason. Codes already issued keep their owners and histories. A card within a GS1 company prefix stays with the prefix's holder (409 otherwise): granting the prefix (`POST /api/v1/participants` with `gs1_prefixes`, or `POST /api/v1/participants/{tin}/prefixes`) moves every card within it to its holder by itself.",
    security(("admin" = [])),
    params(
        ("gtin" = String, Path, description = "GTIN (8, 12, 13 or 14 digits)"),
    ),
    request_body = registry::NewCardTransfer,
    responses(
        (status = 200, description = "The card moved", body = registry::CardMove),
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
pub(crate) async fn transfer_product(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(gtin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: registry::NewCardTransfer = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let m = s.blocking(move || reg.transfer_product(&gtin, req)).await?;
    Ok(Json(m).into_response())
}
