//! The served OpenAPI 3.1 document, built from one table of operations.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Access {
    Public,
    Admin,
    Bearer,
    Signed,
}

/// (method, path, summary, access, request schema, success status, response schema)
type Op = (
    &'static str,
    &'static str,
    &'static str,
    Access,
    Option<&'static str>,
    u16,
    &'static str,
);

const OPS: &[Op] = &[
    (
        "get",
        "/",
        "Index page (HTML)",
        Access::Public,
        None,
        200,
        "Text",
    ),
    (
        "get",
        "/health",
        "Liveness, documents accepted and the head of the document hash chain",
        Access::Public,
        None,
        200,
        "Health",
    ),
    (
        "get",
        "/metrics",
        "Prometheus metrics",
        Access::Public,
        None,
        200,
        "Text",
    ),
    (
        "get",
        "/api/v1/log/checkpoint",
        "The transparency log's signed checkpoint (C2SP signed note, text/plain)",
        Access::Public,
        None,
        200,
        "Text",
    ),
    (
        "get",
        "/api/v1/log/entries/{index}",
        "A log leaf's bytes (application/octet-stream): regulators, and the participant whose change it records",
        Access::Bearer,
        None,
        200,
        "Text",
    ),
    (
        "get",
        "/api/v1/log/proof/inclusion",
        "RFC 9162 inclusion proof of ?index= in the tree of ?size= leaves",
        Access::Public,
        None,
        200,
        "InclusionProof",
    ),
    (
        "get",
        "/api/v1/log/proof/consistency",
        "RFC 9162 consistency proof from the tree of ?from= leaves to that of ?to=",
        Access::Public,
        None,
        200,
        "ConsistencyProof",
    ),
    (
        "get",
        "/openapi.json",
        "This document",
        Access::Public,
        None,
        200,
        "Any",
    ),
    (
        "get",
        "/problems/{slug}",
        "What a problem type means",
        Access::Public,
        None,
        200,
        "Text",
    ),
    (
        "get",
        "/.well-known/tracemark-keys",
        "Public keys for offline checks of signature tails",
        Access::Public,
        None,
        200,
        "Keys",
    ),
    (
        "post",
        "/api/v1/participants",
        "Register a participant (operator)",
        Access::Admin,
        Some("NewParticipant"),
        201,
        "Created",
    ),
    (
        "post",
        "/api/v1/participants/{tin}/keys",
        "Add a key (operator): accepted from not_before, ending the previous key then",
        Access::Admin,
        Some("NewKey"),
        201,
        "Participant",
    ),
    (
        "post",
        "/api/v1/participants/{tin}/suspend",
        "Suspend a participant (operator): tokens, sign-ins and signatures refused at once",
        Access::Admin,
        Some("Suspend"),
        200,
        "Participant",
    ),
    (
        "post",
        "/api/v1/participants/{tin}/reinstate",
        "Lift a suspension (operator)",
        Access::Admin,
        None,
        200,
        "Participant",
    ),
    (
        "post",
        "/api/v1/participants/{tin}/prefixes",
        "Add GS1 company prefixes to a participant (operator)",
        Access::Admin,
        Some("Prefixes"),
        200,
        "Participant",
    ),
    (
        "get",
        "/api/v1/participants/{tin}",
        "A participant (operator, itself, regulators)",
        Access::Bearer,
        None,
        200,
        "Participant",
    ),
    (
        "get",
        "/api/v1/auth/challenge",
        "Sign-in challenge for ?tin=",
        Access::Public,
        None,
        200,
        "Challenge",
    ),
    (
        "post",
        "/api/v1/auth/token",
        "Bearer token for a signed challenge",
        Access::Public,
        Some("TokenRequest"),
        200,
        "Token",
    ),
    (
        "post",
        "/api/v1/products",
        "Register or update a product card",
        Access::Signed,
        Some("NewProduct"),
        201,
        "Product",
    ),
    (
        "get",
        "/api/v1/products/{gtin}",
        "A product card",
        Access::Public,
        None,
        200,
        "Product",
    ),
    (
        "post",
        "/api/v1/orders",
        "Order codes; produced in the background",
        Access::Signed,
        Some("NewOrder"),
        202,
        "Order",
    ),
    (
        "get",
        "/api/v1/orders/{id}",
        "An order",
        Access::Bearer,
        None,
        200,
        "Order",
    ),
    (
        "get",
        "/api/v1/orders/{id}/codes",
        "A page of an order's codes (?offset=&limit=, limit ≤ 10,000)",
        Access::Bearer,
        None,
        200,
        "OrderCodes",
    ),
    (
        "post",
        "/api/v1/orders/{id}/close",
        "Close a ready order",
        Access::Signed,
        None,
        200,
        "Order",
    ),
    (
        "post",
        "/api/v1/documents",
        "Submit a signed document (all-or-nothing, idempotent by id)",
        Access::Signed,
        Some("Document"),
        201,
        "DocumentAnswer",
    ),
    (
        "get",
        "/api/v1/documents/{id}",
        "A document with its legal record (body and signature)",
        Access::Bearer,
        None,
        200,
        "StoredDocument",
    ),
    (
        "get",
        "/api/v1/codes/{code}",
        "A code's card and full history (owner, producer, regulator)",
        Access::Bearer,
        None,
        200,
        "CodeInfo",
    ),
    (
        "post",
        "/api/v1/codes/query",
        "Statuses of up to 1,000 codes",
        Access::Bearer,
        Some("Codes"),
        200,
        "Any",
    ),
    (
        "get",
        "/api/v1/inventory",
        "The caller's stock of ?gtin=",
        Access::Bearer,
        None,
        200,
        "Inventory",
    ),
    (
        "get",
        "/api/v1/verify",
        "Public verification of ?code=",
        Access::Public,
        None,
        200,
        "Verify",
    ),
    (
        "post",
        "/api/v1/pos/check",
        "Till check (permissive mode), up to 1,000 codes",
        Access::Bearer,
        Some("PosCheck"),
        200,
        "PosAnswer",
    ),
    (
        "post",
        "/api/v1/blocks",
        "Block a GTIN, a batch or codes (regulator)",
        Access::Signed,
        Some("NewBlock"),
        201,
        "Block",
    ),
    (
        "get",
        "/api/v1/blocks",
        "All blocks (regulator)",
        Access::Bearer,
        None,
        200,
        "Any",
    ),
    (
        "delete",
        "/api/v1/blocks/{id}",
        "Lift a block (regulator)",
        Access::Signed,
        None,
        200,
        "Block",
    ),
    (
        "get",
        "/01/{gtin}/21/{serial}",
        "GS1 Digital Link resolver: HTML page, or the verify answer as JSON",
        Access::Public,
        None,
        200,
        "Verify",
    ),
];

fn schemas() -> Value {
    let s = |t: &str| json!({"type": t});
    let code = json!({"type": "string", "description": "A code: GS-separated (GS written \\u001d), bracketed (01)…(21)…, or a GS1 Digital Link URI"});
    let codes = json!({"type": "array", "items": code, "maxItems": 30000});
    json!({
        "Any": {},
        "Text": s("string"),
        "InclusionProof": {"type": "object", "properties": {"index": s("integer"), "size": s("integer"),
            "hashes": {"type": "array", "items": {"type": "string", "description": "base64 SHA-256"}}}},
        "ConsistencyProof": {"type": "object", "properties": {"from": s("integer"), "to": s("integer"),
            "hashes": {"type": "array", "items": {"type": "string", "description": "base64 SHA-256"}}}},
        "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": s("string"), "title": s("string"), "status": s("integer"), "detail": s("string"),
            "errors": {"type": "array", "items": {"type": "object", "properties": {"code": s("string"), "reason": s("string")}}}}},
        "Health": {"type": "object", "properties": {"status": s("string"), "documents": s("integer"), "chain_head": s("string")}},
        "Keys": {"type": "object", "properties": {"keys": {"type": "array", "items": {"type": "object", "properties": {
            "kid": s("string"), "alg": {"const": "Ed25519"}, "public_key": s("string"), "not_before": s("integer"), "not_after": s("integer")}}}}},
        "NewParticipant": {"type": "object", "required": ["tin", "name", "roles", "public_key", "region"], "additionalProperties": false, "properties": {
            "tin": s("string"), "name": s("string"),
            "roles": {"type": "array", "items": {"enum": ["producer", "importer", "wholesaler", "retailer", "fiscal_operator", "regulator"]}},
            "public_key": {"type": "string", "description": "base64 Ed25519 public key, 32 bytes"},
            "region": {"type": "string", "description": "ISO 3166-2, e.g. RU-MOW"},
            "gs1_prefixes": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{4,12}$"}, "description": "GS1 company prefixes the participant holds"}}},
        "NewKey": {"type": "object", "required": ["public_key"], "additionalProperties": false, "properties": {
            "public_key": {"type": "string", "description": "base64 Ed25519 public key, 32 bytes"},
            "not_before": {"description": "Unix seconds or RFC 3339; now when absent"}}},
        "Suspend": {"type": "object", "required": ["reason"], "additionalProperties": false, "properties": {"reason": s("string")}},
        "Prefixes": {"type": "object", "required": ["gs1_prefixes"], "additionalProperties": false, "properties": {
            "gs1_prefixes": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{4,12}$"}}}},
        "Created": {"type": "object", "properties": {"id": s("integer"), "tin": s("string")}},
        "Participant": {"type": "object"},
        "Challenge": {"type": "object", "properties": {"challenge_id": s("string"), "data": s("string")}},
        "TokenRequest": {"type": "object", "required": ["challenge_id", "signature"], "properties": {
            "challenge_id": s("string"), "signature": {"type": "string", "description": "base64 Ed25519 over the UTF-8 bytes of data"}}},
        "Token": {"type": "object", "properties": {"token": s("string"), "expires_at": s("string")}},
        "NewProduct": {"type": "object", "required": ["gtin", "name", "product_group"], "additionalProperties": false, "properties": {
            "gtin": s("string"), "name": s("string"), "product_group": s("string"), "brand": s("string"),
            "shelf_life_days": s("integer"), "max_retail_price": {"type": "integer", "description": "minor units"}, "attributes": s("object")}},
        "Product": {"type": "object"},
        "NewOrder": {"type": "object", "required": ["gtin", "quantity", "serial_type", "tail"], "additionalProperties": false, "properties": {
            "gtin": s("string"), "quantity": {"type": "integer", "minimum": 1, "maximum": 2000000},
            "serial_type": {"enum": ["operator", "self_made"]}, "serials": {"type": "array", "items": s("string")},
            "tail": {"enum": ["mac", "signature", "short"]}}},
        "Order": {"type": "object", "properties": {"order_id": s("string"), "status": {"enum": ["pending", "ready", "rejected", "closed"]}}},
        "OrderCodes": {"type": "object", "properties": {"codes": {"type": "array", "items": s("string")}, "next_offset": s("integer")}},
        "Document": {"type": "object", "required": ["id", "type"], "additionalProperties": false, "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": {"enum": ["apply", "introduce", "import", "aggregate", "disaggregate", "ship", "accept", "sell", "return", "write_off", "withdraw", "remark"]},
            "codes": codes, "production_date": {"type": "string", "format": "date"}, "expiry_date": {"type": "string", "format": "date"},
            "batch": s("string"), "customs_declaration": s("string"), "parent": code, "children": codes, "parents": codes,
            "receiver": s("string"), "shipment": {"type": "string", "format": "uuid"}, "reject": codes,
            "receipt": {"type": "object", "required": ["fiscal_drive", "number", "at", "store"], "properties": {
                "fiscal_drive": s("string"), "number": {}, "at": {"type": "string", "format": "date-time"}, "store": s("string")}},
            "check_ids": {"type": "array", "items": s("string")}, "reason": s("string"),
            "replacements": {"type": "array", "items": code, "maxItems": 30000, "description": "remark: the new codes, pairwise with codes (the damaged ones)"}}},
        "DocumentAnswer": {"type": "object", "properties": {"id": s("string"), "status": {"const": "accepted"}, "codes": s("integer"), "seq": s("integer")}},
        "StoredDocument": {"type": "object", "properties": {
            "id": s("string"), "seq": s("integer"), "type": s("string"), "status": {"const": "accepted"}, "codes": s("integer"),
            "received_at": {"type": "string", "format": "date-time"}, "signature": {"type": "string", "description": "the Signature header sent (RFC 9421)"}, "signature_input": {"type": "string", "description": "the Signature-Input header sent"}, "log_index": {"type": "integer", "description": "its leaf in the transparency log"},
            "body": {"type": "object", "description": "the document as JSON"},
            "body_base64": {"type": "string", "description": "the exact body bytes the signature covers, base64"},
            "chain": {"type": "string", "description": "hash chain value after this document"}}},
        "CodeInfo": {"type": "object"},
        "Codes": {"type": "object", "required": ["codes"], "properties": {"codes": {"type": "array", "items": code, "maxItems": 1000}}},
        "Inventory": {"type": "object", "properties": {"gtin": s("string"), "by_status": s("object"), "in_transit": s("integer"), "incoming": s("integer")}},
        "Verify": {"type": "object", "required": ["verdict", "code", "checked_at"], "properties": {
            "verdict": {"enum": ["genuine", "sold", "recalled", "expired", "not_in_circulation", "unknown", "forged"]},
            "code": s("string"), "product": s("object"), "producer": s("object"), "status": s("string"),
            "expiry_date": s("string"), "sold_at": s("string"), "tail_checked": s("boolean"), "checked_at": s("string")}},
        "PosCheck": {"type": "object", "required": ["codes"], "properties": {"codes": {"type": "array", "maxItems": 1000, "items": {
            "oneOf": [code, {"type": "object", "required": ["code"], "properties": {"code": code, "price": {"type": "integer", "description": "minor units"}}}]}}}},
        "PosAnswer": {"type": "object", "properties": {"request_id": s("string"), "results": {"type": "array", "items": {"type": "object", "properties": {
            "code": s("string"), "sellable": s("boolean"), "reasons": {"type": "array", "items": s("string")}}}}}},
        "NewBlock": {"type": "object", "required": ["reason"], "additionalProperties": false, "properties": {
            "gtin": s("string"), "batch": s("string"), "codes": codes, "reason": s("string")}},
        "Block": {"type": "object"},
    })
}

fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, access, req, status, resp) in OPS {
        let mut op = json!({
            "summary": summary,
            "responses": {
                status.to_string(): {"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{resp}")}}}},
                "4XX": {"description": "refused: RFC 9457 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            }
        });
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut params = params;
        if matches!(access, Access::Signed) {
            for (name, what) in [
                ("Content-Digest", "RFC 9530: sha-256=:<base64 SHA-256 of the body bytes (of the empty string when none)>:"),
                ("Signature-Input", "RFC 9421: sig1=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=<unix s>;nonce=\"<random, 16 to 128 chars>\";keyid=\"<your TIN>\";alg=\"ed25519\""),
                ("Signature", "RFC 9421: sig1=:<base64 Ed25519 over the signature base (RFC 9421 §2.5)>:"),
            ] {
                params.push(json!({"name": name, "in": "header", "required": true,
                    "description": what, "schema": {"type": "string"}}));
            }
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        match access {
            Access::Public => op["security"] = json!([]),
            Access::Admin => op["security"] = json!([{"admin": []}]),
            Access::Bearer | Access::Signed => op["security"] = json!([{"bearer": []}]),
        }
        if let Some(r) = req {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{r}")}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tracemark", "version": env!("CARGO_PKG_VERSION"),
            "description": "National track-and-trace registry of marked goods. Errors are RFC 9457 problems; codes travel as JSON strings with GS written \\u001d, or bracketed, or as GS1 Digital Link URIs."},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "token from /api/v1/auth/token"},
                "admin": {"type": "http", "scheme": "bearer", "description": "the operator's admin token"},
            }
        }
    })
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(build).clone()).into_response()
}

/// The (method, path) pairs the document describes.
pub fn paths() -> Vec<(&'static str, &'static str)> {
    OPS.iter().map(|o| (o.0, o.1)).collect()
}
