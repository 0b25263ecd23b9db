//! The registry's refusals, in the domain's words: the server maps each onto an HTTP
//! status and an RFC 9457 problem (`server::problem`), the domain knows nothing of HTTP.

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
    /// Malformed request: not JSON, wrong types, missing fields.
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with what exists: same document id with another body, say.
    #[error("{0}")]
    Conflict(String),
    /// Too large: body, list or document over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but refused by the rules, naming every bad code.
    #[error("{detail}")]
    Invalid {
        /// Human-readable summary.
        detail: String,
        /// Every bad code with its reason.
        errors: Vec<CodeError>,
    },
    /// Too many requests or active orders.
    #[error("{0}")]
    TooMany(String),
    /// The store failed; nothing was changed.
    #[error("registry temporarily unavailable: {0}")]
    Unavailable(String),
    /// The store's disk is full (or below its reserve); nothing was changed, and writes
    /// resume when space returns.
    #[error("the registry's disk is full; nothing was changed; retry later: {0}")]
    StorageFull(String),
}

impl Error {
    /// A refusal by the rules with only a detail (no code named).
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
