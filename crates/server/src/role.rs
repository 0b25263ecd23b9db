//! This process's role on a store several processes share (`serve --postgres URL` twice on
//! one database): the **writer**, which holds the store's lease and alone may commit, or a
//! **reader**, which answers reads from the store and refuses every state-changing request
//! with 503 `/problems/not-writer`, naming the writer's address and a `Retry-After`.
//!
//! The lease itself lives in the store (see `store-postgres`): the binary's lease loop
//! takes and renews it and tells this module what it holds ([`RoleState::set_writer`]).
//! The store fences every commit with the lease, so a process that lost its lease cannot
//! commit even before this module learns of it; the check here only gives the client a
//! clear answer before anything is read or signed. On the embedded store there is no
//! lease and no [`RoleState`]: the process is the writer.

use crate::problem::Problem;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Seconds a client is told to wait before retrying a change refused by a reader: about
/// the time a reader needs to take over a dead writer's lease.
pub const NOT_WRITER_RETRY_SECS: u32 = 5;

/// Requests that a reader answers although they are `POST`s: they change nothing in the
/// store (a query, a till check, a sign-in, a photo's decoding).
pub const READ_POSTS: &[&str] = &[
    "/api/v1/codes/query",
    "/api/v1/pos/check",
    "/api/v1/auth/token",
    "/api/v1/verify/image",
];

/// What this process is, shared by the lease loop (which sets it) and the router.
#[derive(Debug, Default)]
pub struct RoleState {
    writer: AtomicBool,
    writer_address: RwLock<Option<String>>,
}

impl RoleState {
    /// A process that does not hold the lease yet.
    pub fn reader() -> Arc<RoleState> {
        Arc::new(RoleState::default())
    }

    /// Whether this process holds the lease.
    pub fn is_writer(&self) -> bool {
        self.writer.load(Ordering::SeqCst)
    }

    /// Records whether this process holds the lease.
    pub fn set_writer(&self, writer: bool) {
        self.writer.store(writer, Ordering::SeqCst);
    }

    /// The address the writer serves on, as the lease names it (`None`: unknown, or no
    /// writer holds the lease now).
    pub fn writer_address(&self) -> Option<String> {
        self.writer_address.read().clone()
    }

    /// Records the writer's address, as read from the lease.
    pub fn set_writer_address(&self, address: Option<String>) {
        *self.writer_address.write() = address;
    }

    /// `"writer"` or `"reader"`, as `/health` says it.
    pub fn name(&self) -> &'static str {
        if self.is_writer() {
            "writer"
        } else {
            "reader"
        }
    }
}

/// Whether a request may change the store (and so needs the writer).
pub fn changes_state(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) && !READ_POSTS.contains(&path)
}

/// The problem a reader answers, with the writer's address (a field of this problem kind
/// only: the common [`Problem`] stays small, it travels in every handler's `Result`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NotWriter {
    /// The problem (`/problems/not-writer`, 503).
    #[serde(flatten)]
    pub problem: Problem,
    /// The writer's address, as its lease names it (absent while no writer holds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
}

/// The answer of a reader to a state-changing request.
pub fn not_writer(role: &RoleState) -> Response {
    let writer = role.writer_address();
    let detail = match &writer {
        Some(w) => format!(
            "this server is a reader of the registry's database; send changes to the writer at {w}"
        ),
        None => "this server is a reader of the registry's database and no writer holds the lease \
                 right now (one takes it within seconds); retry"
            .to_string(),
    };
    let body = NotWriter {
        problem: Problem::new(503, "not-writer", "Not the writer", detail),
        writer,
    };
    let mut r = (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(NOT_WRITER_RETRY_SECS),
    );
    r
}

/// Middleware: a reader refuses state-changing requests before reading their bodies.
pub async fn only_writer_changes(
    State(role): State<Option<Arc<RoleState>>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(role) = role.as_deref() {
        if !role.is_writer() && changes_state(req.method(), req.uri().path()) {
            return not_writer(role);
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_requests_need_the_writer() {
        assert!(changes_state(&Method::POST, "/api/v1/documents"));
        assert!(changes_state(&Method::POST, "/api/v1/complaints"));
        assert!(changes_state(&Method::DELETE, "/api/v1/blocks/3"));
        assert!(!changes_state(&Method::GET, "/api/v1/documents/x"));
        assert!(!changes_state(&Method::POST, "/api/v1/pos/check"));
        assert!(!changes_state(&Method::POST, "/api/v1/auth/token"));
    }

    #[test]
    fn a_reader_names_the_writer() {
        let role = RoleState::reader();
        role.set_writer_address(Some("http://10.0.0.1:8080".into()));
        let r = not_writer(&role);
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        role.set_writer(true);
        assert_eq!(role.name(), "writer");
    }
}
