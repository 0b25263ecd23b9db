//! The registry's refusals, each mapped by the server onto an RFC 9457 problem.

use crate::store::StoreError;
use serde::Serialize;

/// One bad code of a refused document or query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CodeError {
    /// The code as sent.
    pub code: String,
    /// Stable snake_case reason (`unknown_code`, `not_owner`, `wrong_status`, …).
    #[schema(value_type = String)]
    pub reason: &'static str,
}

/// Why the registry refused a request. Every refusal changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed request: not JSON, wrong types, missing fields (400).
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with what exists (409): same document id with another body, say.
    #[error("{0}")]
    Conflict(String),
    /// Too large: body, list or document over its limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but refused by the rules (422), naming every bad code.
    #[error("{detail}")]
    Invalid {
        /// Human-readable summary.
        detail: String,
        /// Every bad code with its reason.
        errors: Vec<CodeError>,
    },
    /// Too many requests or active orders (429).
    #[error("{0}")]
    TooMany(String),
    /// The store failed; nothing was changed (503).
    #[error("registry temporarily unavailable: {0}")]
    Unavailable(String),
    /// The store's disk is full (or below its reserve); nothing was changed, and writes
    /// resume when space returns (503, `Retry-After`).
    #[error("the registry's disk is full; nothing was changed; retry later: {0}")]
    StorageFull(String),
}

impl Error {
    /// HTTP status the error maps to.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::TooLarge(_) => 413,
            Error::Invalid { .. } => 422,
            Error::TooMany(_) => 429,
            Error::Unavailable(_) | Error::StorageFull(_) => 503,
        }
    }

    /// Stable slug for the problem `type` URI.
    pub fn slug(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad-request",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not-found",
            Error::Conflict(_) => "conflict",
            Error::TooLarge(_) => "too-large",
            Error::Invalid { .. } => "refused",
            Error::TooMany(_) => "too-many",
            Error::Unavailable(_) => "unavailable",
            Error::StorageFull(_) => "storage-full",
        }
    }

    /// Short title for the problem.
    pub fn title(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "Malformed request",
            Error::Unauthorized(_) => "Not signed in",
            Error::Forbidden(_) => "Not allowed",
            Error::NotFound(_) => "Not found",
            Error::Conflict(_) => "Conflict",
            Error::TooLarge(_) => "Too large",
            Error::Invalid { .. } => "Refused by the registry's rules",
            Error::TooMany(_) => "Too many",
            Error::Unavailable(_) => "Temporarily unavailable",
            Error::StorageFull(_) => "Storage full",
        }
    }

    /// A 422 with only a detail.
    pub fn invalid(detail: impl Into<String>) -> Error {
        Error::Invalid {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
}

impl Error {
    /// The refusal a store failure makes: 503, `storage-full` when the disk is full.
    pub fn from_store(e: &StoreError) -> Error {
        match e.kind() {
            crate::store::StoreErrorKind::Full => Error::StorageFull(e.message().to_string()),
            _ => Error::Unavailable(e.message().to_string()),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::from_store(&e)
    }
}

/// Result of a registry call.
pub type Result<T> = std::result::Result<T, Error>;
