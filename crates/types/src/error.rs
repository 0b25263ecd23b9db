//! The registry's refusals, in the domain's words: the server maps each onto an HTTP
//! status and an RFC 9457 problem (`server::problem`), the domain knows nothing of HTTP.

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
            StoreErrorKind::Full => Error::StorageFull(e.message().to_string()),
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

/// An engine failure (I/O, corruption, a full disk). The registry answers 503 and changes
/// nothing. It keeps the engine's own error as its [`std::error::Error::source`] and says
/// what the failure means for the process ([`StoreErrorKind`]).
#[derive(Debug)]
pub struct StoreError {
    message: String,
    kind: StoreErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// What a store failure means for the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// This call failed and changed nothing; the next may succeed (a read or commit that
    /// failed, a lost connection).
    Failed,
    /// The disk (the database's, or the data directory's) is full or nearly so: nothing
    /// was changed, and writes succeed again when space returns (503 with `Retry-After`).
    Full,
    /// The store can no longer promise that what it acknowledged is durable, or that what
    /// it holds in memory matches its disk (a failed fsync, a poisoned journal): the
    /// process must stop taking writes and exit; a start recovers from the journal.
    Lost,
}

impl StoreError {
    /// A failure of kind [`StoreErrorKind::Failed`] from any displayable error.
    pub fn new(e: impl std::fmt::Display) -> Self {
        StoreError {
            message: e.to_string(),
            kind: StoreErrorKind::Failed,
            source: None,
        }
    }

    /// A failure of `kind` that keeps `source`, the engine's own error.
    pub fn with_source(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError {
            message: message.into(),
            kind,
            source: Some(Box::new(source)),
        }
    }

    /// The same failure, of `kind`.
    pub fn of_kind(mut self, kind: StoreErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// What it means for the registry.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The message, without the `storage:` prefix of its display.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage: {}", self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Result of a storage call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;
