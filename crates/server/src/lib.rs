#![recursion_limit = "512"]
//! The HTTP API (docs/api-guide.md) on axum: authentication, request signatures, routing, RFC 9457
//! problems, the OpenAPI document and metrics. Thin: every rule lives in `registry`.
#![deny(missing_docs)]

pub mod analytics;
pub mod answers;
pub mod auth;
pub mod complaints;
pub mod control;
pub mod httpsig;
pub mod journal;
pub mod limit;
pub mod openapi;
pub mod problem;
pub mod reads;
mod resolver;
pub mod role;
pub mod scan;
pub mod serve;
pub mod till;

use auth::{verify_signature, Auth, Nonces};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use problem::Problem;
use registry::{Error, NewBlock, NewOrder, NewParticipant, NewProduct, PosItem, Registry};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use types::model::{Participant, Role, Signed, SignedRequest};

/// Largest request body (documents, orders with self-made serials): a document of 30,000
/// full codes with tails fits with room. Enforced while reading, per route below.
pub const BODY_LEN_MAX: usize = 16 * 1024 * 1024;
/// Sign-in (`challenge_id` and a signature): a few hundred bytes.
pub const BODY_SIGN_IN_MAX: usize = 4 * 1024;
/// The operator's requests (a participant, a key, a reason, prefixes).
pub const BODY_ADMIN_MAX: usize = 16 * 1024;
/// A product card (its attributes are at most 16 KiB).
pub const BODY_PRODUCT_MAX: usize = 64 * 1024;
/// A status query or till check: 1,000 codes with tails.
pub const BODY_QUERY_MAX: usize = 512 * 1024;
/// A block: up to 30,000 codes.
pub const BODY_BLOCK_MAX: usize = 8 * 1024 * 1024;
/// Requests whose body is empty (order close, block lift).
pub const BODY_EMPTY_MAX: usize = 1024;
/// Bodies above this are hashed and parsed on the blocking pool, not the async threads.
pub const BODY_INLINE_MAX: usize = 64 * 1024;

/// The largest body a route takes (the same limits as the per-route `DefaultBodyLimit`
/// layers, which enforce them while reading): a body announced larger is refused on its
/// `Content-Length` before a byte of it is read.
pub fn route_body_max(route: &str) -> usize {
    match route {
        "/api/v1/documents" | "/api/v1/orders" => BODY_LEN_MAX,
        "/api/v1/auth/token" => BODY_SIGN_IN_MAX,
        "/api/v1/products" => BODY_PRODUCT_MAX,
        "/api/v1/codes/query" | "/api/v1/pos/check" => BODY_QUERY_MAX,
        "/api/v1/blocks" => BODY_BLOCK_MAX,
        "/api/v1/complaints" => complaints::BODY_COMPLAINT_MAX,
        "/api/v1/alerts/{id}/ack" => control::BODY_ACK_MAX,
        "/api/v1/verify/image" => scan::BODY_IMAGE_MAX,
        r if r.starts_with("/api/v1/participants") => BODY_ADMIN_MAX,
        "/api/v1/products/{gtin}/transfer" => BODY_ADMIN_MAX,
        _ => BODY_EMPTY_MAX,
    }
}

/// Server settings.
pub struct Config {
    /// The operator's admin token.
    pub admin_token: String,
    /// Secret key for bearer tokens.
    pub token_key: [u8; 32],
    /// Requests a second one address may make to the public endpoints (verification, the
    /// resolver, sign-in); `None`: unlimited.
    pub public_rate: Option<u32>,
    /// The key that signs the transparency log's checkpoints.
    pub log_key: ed25519_dalek::SigningKey,
    /// The log's origin line (and key name) in its checkpoints, e.g. `tracemark.example/log`.
    pub log_origin: String,
    /// The program that decodes photos in a child process (`PROGRAM decode-worker`, see
    /// [`scan::worker_main`]): the `tracemark` binary. `None`: decode on the blocking pool
    /// (a pathological image then runs to its end instead of being killed).
    pub decoder: Option<std::path::PathBuf>,
    /// The analytics projection, when the binary follows the feed with it; `None`: the
    /// router follows the feed with its own.
    pub analytics: Option<::analytics::Handle>,
    /// Addresses that may read `/metrics` without the admin token (a scraper's); everyone
    /// else needs the admin token. [`METRICS_ALLOW_DEFAULT`]: this machine only.
    pub metrics_allow: Vec<std::net::IpAddr>,
    /// Till checks per participant ([`till::TillQuota::DEFAULT`]); `None`: unlimited (the
    /// bench measures the check itself).
    pub till_quota: Option<till::TillQuota>,
    /// The registry's public address (`serve --public-url`): when set, every signature must
    /// cover `"@authority"` equal to its authority (or carry `tag` equal to it), so a
    /// request signed for one deployment is refused by another. `None`: not required.
    pub public_url: Option<httpsig::PublicUrl>,
    /// The directory of the nonce journal ([`journal`]): the nonces of verified
    /// signatures and used sign-in challenges, durable before the request is acted on and
    /// reloaded on a start. `None`: remembered in memory only (a restart forgets them).
    pub nonce_journal: Option<std::path::PathBuf>,
    /// A nonce store every process serving one database shares (`serve --postgres`), used
    /// instead of [`Config::nonce_journal`] when set.
    pub nonce_store: Option<Arc<dyn journal::NonceStore>>,
    /// This process's role on a store several processes share ([`role`]): `None` on a
    /// store only this process opens (it is the writer).
    pub role: Option<Arc<role::RoleState>>,
    /// The store's pools: reader threads, their queue and timeout, and the slots for
    /// writes and heavy work ([`reads`]; [`reads::ReadLimits::default`] unless told).
    pub reads: reads::ReadLimits,
}

/// Who may read `/metrics` without the admin token unless told otherwise: this machine.
pub const METRICS_ALLOW_DEFAULT: [std::net::IpAddr; 2] = [
    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
];

/// Longest code text accepted on verification (a Digital Link with a signature tail is
/// under 300 characters).
pub const CODE_TEXT_LEN_MAX: usize = 512;

/// The default origin of the log's checkpoints.
pub const LOG_ORIGIN_DEFAULT: &str = "tracemark.local/log";

/// Shared state of all handlers: one pointer, so that the clone axum makes for every
/// layer and handler of every request is one atomic increment, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct AppInner {
    registry: Registry,
    auth: Arc<Auth>,
    admin_token: Arc<str>,
    metrics: PrometheusHandle,
    public_limit: Option<Arc<limit::RateLimit>>,
    complaint_limits: Arc<complaints::ComplaintLimits>,
    image_limits: Arc<scan::ImageLimits>,
    /// Keys the tags of complainants' addresses (derived from the token key).
    client_secret: [u8; 32],
    nonces: Arc<Nonces>,
    /// Where verified nonces and used challenges are made durable (see [`Config::nonce_journal`]).
    journal: Option<Arc<dyn journal::NonceStore>>,
    /// Signatures `created` before this are refused: the start's time when a journal was
    /// asked for and could not be opened (the nonces seen before the start are unknown),
    /// else 0.
    created_not_before: u64,
    /// See [`Config::public_url`].
    public_url: Option<Arc<httpsig::PublicUrl>>,
    log: Arc<LogSigner>,
    /// The projections (the risk engine) following the registry's feed.
    control: Arc<control::Control>,
    /// Who reads `/metrics` without the admin token.
    metrics_allow: Arc<[std::net::IpAddr]>,
    /// Writer or reader of a shared store (`None`: the only process, the writer).
    role: Option<Arc<role::RoleState>>,
    /// Reads the store and the writer in the background for `/health`.
    health: Arc<reads::HealthProbe>,
    /// The reader threads every store read of a request runs on.
    reads: Arc<reads::ReadPool>,
    /// Writes and heavy work on tokio's blocking pool, bounded.
    lane: Arc<reads::BlockingLane>,
    /// The analytics projection (see [`Config::analytics`]).
    analytics: Option<::analytics::Handle>,
    /// The till check's per-participant buckets and blocking-pool slots.
    till: Arc<till::TillLimits>,
    /// The memory bound the caches were sized from (bytes), read once at start.
    memory_budget: u64,
}

fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed (tests with several servers): keep ours local.
            let _ = metrics::set_global_recorder(recorder);
            describe_metrics();
            handle
        })
        .clone()
}

/// A `# HELP` line for every metric the recorder exports.
fn describe_metrics() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        "tracemark_http_requests_total",
        "HTTP requests answered, by route pattern, method and status."
    );
    describe_histogram!(
        "tracemark_http_request_duration_seconds",
        "Time to answer an HTTP request, by route pattern."
    );
    describe_counter!(
        "tracemark_http_slow_requests_total",
        "HTTP requests answered in more than 5 ms (the public answers' p99 budget), by route pattern."
    );
    describe_counter!("tracemark_documents_accepted_total", "Documents accepted.");
    describe_counter!(
        "tracemark_documents_refused_total",
        "Documents refused (for their codes, their fields or the caller's role)."
    );
    describe_counter!(
        "tracemark_code_events_total",
        "Code state changes made by accepted documents."
    );
    describe_counter!(
        "tracemark_http_connections_shed_total",
        "Connections refused at the connection cap with none idle to evict."
    );
    describe_counter!(
        "tracemark_http_connections_evicted_total",
        "Idle connections closed to make room at the connection cap."
    );
    describe_counter!(
        "tracemark_http_requests_shed_total",
        "Requests answered 503 because the server was saturated."
    );
    describe_counter!(
        "tracemark_http_requests_timed_out_total",
        "Requests ended by a timeout (headers, body or answer)."
    );
    describe_counter!(
        "tracemark_store_reads_shed_total",
        "Requests answered 503 because the store's reader queue was full."
    );
    describe_counter!(
        "tracemark_store_reads_timed_out_total",
        "Requests answered 503 because their store read did not answer in time."
    );
    describe_counter!(
        "tracemark_blocking_jobs_shed_total",
        "Writes and heavy reads answered 503 because no slot on the blocking pool came in time."
    );
    metrics::describe_gauge!(
        "tracemark_http_requests_in_flight",
        "Requests in flight, by class: participant (a signed-in caller), health, anonymous."
    );
}

/// Builds the router over a registry.
pub fn router(registry: Registry, config: Config) -> Router {
    let started_at = registry.now();
    // The nonces of the signed changes of the last window: a request signed just before a
    // restart cannot be replayed after it.
    let nonces = Nonces::default();
    // Only without a journal that was there before this start: a journal makes every
    // verified nonce durable before its request is acted on, so it holds every nonce the
    // log's recent leaves could give, and more (the refused ones). Read from the log, they
    // cost a decoded leaf each, and a leaf lists its document's codes: at 100 M codes on
    // PostgreSQL, the last window's ~90 k leaves took 14 s of every start (measured).
    let journal_was_there = config.nonce_store.is_some()
        || config
            .nonce_journal
            .as_deref()
            .is_some_and(std::path::Path::is_dir);
    if !journal_was_there {
        match registry.recent_signed(started_at.saturating_sub(auth::NONCE_TTL_SECS)) {
            Ok(recent) => {
                for (p, at, input) in recent {
                    if let Ok(i) = httpsig::parse_input(&input) {
                        let _ = nonces.take(p, &i.nonce, at);
                    }
                }
            }
            Err(e) => tracing::error!("cannot reload recent nonces from the log: {e}"),
        }
    }
    // Every nonce and used challenge of the last window, whatever the request's outcome
    // was (a refused document's nonce is in no log leaf): from the journal.
    let auth = Auth::new(config.token_key);
    let remember = |records: Vec<journal::Record>| {
        for r in records {
            let _ = match r.kind {
                journal::Kind::RequestNonce => nonces.take_hash(r.participant, r.hash, r.at),
                journal::Kind::Challenge => auth.use_challenge(r.participant, &r.hash, r.at),
            };
        }
    };
    let shared = config.nonce_store.clone().and_then(|store| {
        match store.since(started_at.saturating_sub(auth::NONCE_TTL_SECS)) {
            Ok(records) => {
                remember(records);
                Some(store)
            }
            Err(e) => {
                tracing::error!(
                    "cannot read the shared nonces: {e}; signatures created before this start are refused"
                );
                None
            }
        }
    });
    let journal: Option<Arc<dyn journal::NonceStore>> = shared.or_else(|| {
        config.nonce_journal.as_ref().and_then(|dir| {
        match journal::Journal::open(dir, auth::NONCE_TTL_SECS, started_at) {
            Ok((j, records)) => {
                remember(records);
                Some(Arc::new(j) as Arc<dyn journal::NonceStore>)
            }
            Err(e) => {
                // Serving without it would forget nonces on the next restart: say so loudly,
                // and fail closed (below): signatures made before this start are refused.
                tracing::error!(
                    "cannot open the nonce journal in {}: {e}; signatures created before this start are refused",
                    dir.display()
                );
                None
            }
        }
        })
    });
    let created_not_before =
        if (config.nonce_journal.is_some() || config.nonce_store.is_some()) && journal.is_none() {
            started_at
        } else {
            0
        };
    // The projections follow the feed for the router's life (stopped, with a last write
    // of their rows, when the last clone of the state goes).
    let control = Arc::new(control::Control::start(&registry, config.analytics.clone()));
    let probe = reads::HealthProbe::start(
        registry.clone(),
        std::time::Duration::from_millis(HEALTH_WRITER_TIMEOUT_MS),
    )
    .expect("cannot start the health probe's threads");
    let read_pool =
        reads::ReadPool::start(config.reads).expect("cannot start the store's reader threads");
    let state = AppState(Arc::new(AppInner {
        log: Arc::new(LogSigner {
            key: config.log_key,
            origin: config.log_origin,
            last: parking_lot::Mutex::new(None),
        }),
        nonces: Arc::new(nonces),
        journal,
        created_not_before,
        public_url: config.public_url.clone().map(Arc::new),
        role: config.role.clone(),
        health: Arc::new(probe),
        reads: Arc::new(read_pool),
        lane: Arc::new(reads::BlockingLane::new(&config.reads)),
        memory_budget: types::memory::Budget::from_env().total,
        control: control.clone(),
        metrics_allow: config.metrics_allow.clone().into(),
        analytics: control.analytics.clone(),
        registry,
        complaint_limits: Arc::new(complaints::ComplaintLimits::default()),
        image_limits: Arc::new(scan::ImageLimits::new(config.decoder.clone())),
        till: Arc::new(till::TillLimits::with_slots(
            config.till_quota,
            (config.reads.threads / 2).clamp(1, till::TILL_CHECKS_IN_FLIGHT_MAX),
        )),
        client_secret: blake3::derive_key(
            "tracemark 2026 complainant address tag",
            &config.token_key,
        ),
        auth: Arc::new(auth),
        admin_token: config.admin_token.into(),
        metrics: metrics_handle(),
        public_limit: config
            .public_rate
            .map(|r| Arc::new(limit::RateLimit::new(r))),
    }));
    // Public endpoints anyone can call without signing in: rate-limited per address.
    let limit = DefaultBodyLimit::max;
    let public = Router::new()
        .route("/api/v1/auth/challenge", get(challenge))
        .route(
            "/api/v1/auth/token",
            post(token).layer(limit(BODY_SIGN_IN_MAX)),
        )
        .route("/api/v1/verify", get(verify))
        .route("/01/{*rest}", get(resolver::resolve))
        .route(
            "/api/v1/complaints",
            post(complaints::create)
                .get(complaints::list)
                .layer(limit(complaints::BODY_COMPLAINT_MAX)),
        )
        .route("/api/v1/complaints/{id}/photo", get(complaints::photo))
        .route(
            "/api/v1/verify/image",
            post(scan::verify_image)
                .layer(limit(scan::BODY_IMAGE_MAX))
                .layer(middleware::from_fn_with_state(state.clone(), scan::limited)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limited));
    // Participants' requests with bodies: the bearer token is checked before a byte of the
    // body is read, so nobody unauthenticated makes the server buffer up to 16 MiB.
    let with_bodies = Router::new()
        .route(
            "/api/v1/products",
            post(put_product).layer(limit(BODY_PRODUCT_MAX)),
        )
        .route("/api/v1/orders", post(create_order))
        .route(
            "/api/v1/orders/{id}/close",
            post(close_order).layer(limit(BODY_EMPTY_MAX)),
        )
        .route("/api/v1/documents", post(submit_document))
        .route(
            "/api/v1/codes/query",
            post(query_codes).layer(limit(BODY_QUERY_MAX)),
        )
        .route(
            "/api/v1/blocks",
            post(create_block)
                .get(list_blocks)
                .layer(limit(BODY_BLOCK_MAX)),
        )
        .route(
            "/api/v1/blocks/{id}",
            axum::routing::delete(lift_block).layer(limit(BODY_EMPTY_MAX)),
        )
        .route("/api/v1/alerts", get(control::alerts))
        .route("/api/v1/alerts/{id}", get(control::alert))
        .route(
            "/api/v1/alerts/{id}/ack",
            post(control::ack).layer(limit(control::BODY_ACK_MAX)),
        )
        .route("/api/v1/risk/participants", get(control::scores))
        .route("/api/v1/auth/me", get(me))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_participant,
        ));
    // The till check: the token is checked (its MAC and expiry) before the body is read;
    // the participant is read with the check itself, one hand-off to the readers.
    let till = Router::new()
        .route(
            "/api/v1/pos/check",
            post(pos_check).layer(limit(BODY_QUERY_MAX)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    // The operator's requests: the admin token is checked before the body is read.
    let admin = Router::new()
        .route("/api/v1/participants", post(register_participant))
        .route("/api/v1/participants/{tin}/keys", post(add_key))
        .route("/api/v1/participants/{tin}/suspend", post(suspend))
        .route("/api/v1/participants/{tin}/reinstate", post(reinstate))
        .route("/api/v1/participants/{tin}/prefixes", post(add_prefixes))
        .route("/api/v1/products/{gtin}/transfer", post(transfer_product))
        .layer(limit(BODY_ADMIN_MAX))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route("/", get(index))
        .route("/scan", get(resolver::scan))
        .route("/dashboard", get(resolver::dashboard))
        .route("/cabinet", get(resolver::cabinet))
        .route("/offline", get(resolver::offline))
        .route("/sw.js", get(resolver::service_worker))
        .route("/static/{file}", get(resolver::asset))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi::serve))
        .route("/problems/{slug}", get(problem_doc))
        .route("/.well-known/tracemark-keys", get(keys))
        .route("/api/v1/log/checkpoint", get(log_checkpoint))
        .route("/api/v1/log/entries/{index}", get(log_entry))
        .route("/api/v1/log/proof/inclusion", get(log_inclusion))
        .route("/api/v1/log/proof/consistency", get(log_consistency))
        .route("/api/v1/participants/{tin}", get(get_participant))
        .route("/api/v1/products/{gtin}", get(get_product))
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/orders/{id}/codes", get(order_codes))
        .route("/api/v1/orders/{id}/labels", get(scan::order_labels))
        .route("/api/v1/documents/{id}", get(get_document))
        .route("/api/v1/codes/{*code}", get(get_code))
        .route("/api/v1/inventory", get(inventory))
        .route("/api/v1/analytics/sales", get(analytics::sales))
        .route("/api/v1/analytics/stock", get(analytics::stock))
        .route("/api/v1/analytics/flows", get(analytics::flows))
        .merge(public)
        .merge(with_bodies)
        .merge(till)
        .merge(admin)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A reader refuses changes first: before a token, a signature or a body is read.
        .layer(middleware::from_fn_with_state(
            config.role.clone(),
            role::only_writer_changes,
        ))
        .layer(middleware::from_fn(early_length))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(BODY_LEN_MAX))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_problem,
        ))
        // Every answer is taken for the type it says: no page runs a problem as a script.
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

/// The peer's address, as the serving loop recorded it (`None` for in-process requests).
pub(crate) fn peer_ip(ext: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The 429 (with `Retry-After: 1`) when `ip`'s bucket in `limit` is empty, else takes a cell.
pub(crate) fn throttled(limit: &limit::RateLimit, ip: std::net::IpAddr) -> Option<Response> {
    let p = limit.check(ip).err()?;
    let mut r = p.into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    Some(r)
}

async fn rate_limited(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limit), Some(ip)) = (&s.public_limit, peer_ip(req.extensions())) {
        if let Some(r) = throttled(limit, ip) {
            return r;
        }
    }
    next.run(req).await
}

/// Refuses a body announced larger than its route takes, before reading it.
async fn early_length(req: Request, next: Next) -> Response {
    let max = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(BODY_EMPTY_MAX, |m| route_body_max(m.as_str()));
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        let mut r = Problem::from(Error::TooLarge(format!(
            "this endpoint takes a body of at most {max} bytes"
        )))
        .into_response();
        r.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return r;
    }
    next.run(req).await
}

async fn require_admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.is_admin(req.headers()) {
        return next.run(req).await;
    }
    // A participant's valid token is a credential, just not this one: 403, not 401.
    if s.caller(req.headers()).await.is_ok() {
        return Problem::from(Error::Forbidden(
            "this needs the operator's admin token".into(),
        ))
        .into_response();
    }
    Problem::unauthorized(
        "this needs the operator's admin token (Authorization: Bearer <admin token>)",
    )
    .into_response()
}

/// Refuses a request without a participant's token that checks out (its MAC and expiry:
/// no store read) before its body is read; the handler checks the participant.
async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.token_claims(req.headers()) {
        Ok(_) => next.run(req).await,
        Err(p) => p.into_response(),
    }
}

tokio::task_local! {
    /// The participant [`require_participant`] signed in for this request, with its bearer
    /// token: the handler's own token check reuses it instead of reading the participant
    /// again (one hand-off to the reader threads per request, not two).
    static SIGNED_IN: (String, Participant);
}

async fn require_participant(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.caller(req.headers()).await {
        Ok(p) => {
            let token = bearer(req.headers()).unwrap_or_default().to_string();
            SIGNED_IN.scope((token, p), next.run(req)).await
        }
        Err(p) => p.into_response(),
    }
}

fn panic_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    Problem::new(
        500,
        "internal",
        "Internal error",
        "a bug: nothing was changed",
    )
    .into_response()
}

/// Counts and times every request. Every label has a fixed set of values, so no client
/// can grow the metrics: the route is the router's own pattern (or "unmatched"), the
/// method one of seven names (any other is "other"), the status a code the handlers give.
async fn observe(State(_): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("tracemark_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    let took = start.elapsed();
    if took > reads::SLOW_READ {
        // Past the public answers' p99 budget: counted apart, so a minute's stalls show.
        metrics::counter!("tracemark_http_slow_requests_total", "route" => route.clone())
            .increment(1);
    }
    metrics::histogram!("tracemark_http_request_duration_seconds", "route" => route)
        .record(took.as_secs_f64());
    resp
}

async fn not_found() -> Problem {
    Problem::not_found("no such endpoint; see /openapi.json")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        405,
        "method-not-allowed",
        "Method not allowed",
        "this path does not take this method; see /openapi.json",
    )
}

#[utoipa::path(
    get,
    path = "/problems/{slug}",
    tag = "meta",
    summary = "What a problem type means",
    description = "Access: public. The text of a problem type named by a problem's `type` URI.",
    security(()),
    params(
        ("slug" = String, Path, description = "The problem type, e.g. `refused`"),
    ),
    responses(
        (status = 200, description = "`<slug> (<status>): <meaning>`", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
async fn problem_doc(Path(slug): Path<String>) -> Response {
    match problem::KINDS.iter().find(|k| k.0 == slug) {
        Some((s, status, text)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{s} ({status}): {text}\n"),
        )
            .into_response(),
        None => Problem::not_found(format!("no problem kind {slug}")).into_response(),
    }
}

// ---- helpers ----

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::from(Error::TooLarge(
                "the body is over this endpoint's limit (see /openapi.json)".into(),
            ))
        } else {
            Problem::bad_request(format!("cannot read the body: {e}"))
        }
    })
}

/// A JSON body must say so: `Content-Type: application/json` (parameters such as
/// `; charset=utf-8` allowed) or an `application/*+json` type. Anything else, and no
/// Content-Type at all, is a 415: a web page can make a visitor's browser POST a body
/// without a Content-Type (`fetch(…, {mode: "no-cors", body: new Blob([json])})`) or as
/// `text/plain` with no CORS preflight, but never as `application/json` (issue 14,
/// finding 8) — so a cross-site page cannot file complaints or documents in a visitor's name.
fn check_json_type(headers: &HeaderMap) -> Result<(), Problem> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not ASCII)"));
    let mime = sent
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if json {
        return Ok(());
    }
    Err(Problem::new(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        match sent {
            None => "this endpoint takes a JSON body: send `Content-Type: application/json` (no Content-Type was sent)".to_string(),
            Some(_) => format!(
                "this endpoint takes a JSON body: send `Content-Type: application/json`, not {:?}",
                mime.chars().take(80).collect::<String>()
            ),
        },
    ))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).or_else(|e| {
        // JSON has one number type: `2.0` is the integer 2 to JSON Schema (and to the
        // OpenAPI document), so a body refused only for a whole number written with a
        // fraction is read again with such numbers as integers. Only refused bodies pay.
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .filter(has_whole_float)
            .and_then(|mut v| {
                whole_floats_as_integers(&mut v);
                serde_json::from_value(v).ok()
            })
            .ok_or_else(|| Problem::bad_request(format!("invalid JSON body: {e}")))
    })
}

/// Largest integer every `f64` between ±it spells exactly (2⁵³).
const EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

fn whole_float(n: &serde_json::Number) -> Option<i64> {
    let f = n.as_f64().filter(|_| n.is_f64())?;
    (f.fract() == 0.0 && f.abs() <= EXACT_F64_INT).then_some(f as i64)
}

fn has_whole_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => whole_float(n).is_some(),
        serde_json::Value::Array(a) => a.iter().any(has_whole_float),
        serde_json::Value::Object(o) => o.values().any(has_whole_float),
        _ => false,
    }
}

fn whole_floats_as_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(i) = whole_float(n) {
                *v = serde_json::Value::from(i);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(whole_floats_as_integers),
        serde_json::Value::Object(o) => o.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

fn query<T: DeserializeOwned>(raw: Option<String>) -> Result<T, Problem> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| Problem::bad_request(format!("bad query string: {e}")))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl AppState {
    /// Runs a registry read on the store's reader threads ([`reads::ReadPool`]), never on
    /// the async thread: 503 `busy` with `Retry-After` when they are saturated.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> registry::Result<T> + Send + 'static,
    ) -> Result<T, Problem> {
        self.reads.run(f).await?.map_err(Problem::from)
    }

    /// Runs a write (which waits for the writer's commit) or heavy work on tokio's blocking
    /// pool, within [`reads::ReadLimits::blocking_max`] at once.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> registry::Result<T> + Send + 'static,
    ) -> Result<T, Problem> {
        self.lane.run(f).await?.map_err(Problem::from)
    }

    /// A participant's bearer token, checked without the store (its MAC and expiry, not
    /// the admin token): the token, the participant's id, the key epoch and token
    /// generation it was issued under, and the time checked.
    fn token_claims<'h>(&self, headers: &'h HeaderMap) -> Result<Claims<'h>, Problem> {
        let token = bearer(headers).ok_or_else(|| {
            // Say what came, not only what is expected: a token without its scheme is the
            // commonest slip.
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::trim);
            Problem::unauthorized(match sent {
                None => "no Authorization header: sign in (GET /api/v1/auth/challenge?tin=…, then POST /api/v1/auth/token) and send `Authorization: Bearer <token>`"
                    .to_string(),
                Some(v) if !v.contains(' ') => format!(
                    "the Authorization header holds a bare value ({} characters) without its scheme: send `Authorization: Bearer <token>`",
                    v.chars().count()
                ),
                Some(v) => format!(
                    "the Authorization header's scheme is `{}`; send `Authorization: Bearer <token>`",
                    v.split(' ').next().unwrap_or_default().chars().take(20).collect::<String>()
                ),
            })
        })?;
        if self.is_admin(headers) {
            // Not a participant's credential, so no participant is signed in: 401 (the
            // authorization matrix of tests/http_api.rs), with words saying which token.
            return Err(Problem::unauthorized(
                "this is the operator's admin token, which only the operator's endpoints (/api/v1/participants…) take; participants' endpoints take a participant's token from sign-in (GET /api/v1/auth/challenge?tin=…, POST /api/v1/auth/token)",
            ));
        }
        let now = self.registry.now();
        let (id, epoch, generation) = self.auth.check_token(token, now)?;
        Ok(Claims {
            token,
            grant: Grant {
                id,
                epoch,
                generation,
                now,
            },
        })
    }

    /// The signed-in participant.
    async fn caller(&self, headers: &HeaderMap) -> Result<Participant, Problem> {
        let c = self.token_claims(headers)?;
        // Checked already for this request, before its body was read.
        if let Ok(Some(p)) = SIGNED_IN.try_with(|(t, p)| (t == c.token).then(|| p.clone())) {
            return Ok(p);
        }
        let reg = self.registry.clone();
        let id = c.grant.id;
        let p = self.read(move || reg.participant(id)).await?;
        c.grant.admit(p)
    }

    /// The signed-in participant whose RFC 9421 signature covers this request exactly:
    /// method, path, query and the body's `Content-Digest`, within the `created` window,
    /// with a nonce not seen before. Returns the signed request, the legal record.
    async fn signer(
        &self,
        t: &Target,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Participant, SignedRequest), Problem> {
        let p = self.caller(headers).await?;
        let r = self
            .check_signature(&p, t, headers, body)
            .await?
            .ok_or_else(|| {
                sig_problem(
                    "this request must be signed: Content-Digest, Signature-Input and Signature \
                 headers (RFC 9421, see /openapi.json)",
                )
            })?;
        Ok((p, r))
    }

    /// The signed-in participant of a read that returns crypto tails (an order's codes,
    /// its label sheet): the request must be signed (RFC 9421, the profile of POSTs, the
    /// Content-Digest of the empty body), so that a leaked bearer token alone never
    /// reveals a tail.
    async fn tail_reader(&self, t: &Target, headers: &HeaderMap) -> Result<Participant, Problem> {
        let p = self.caller(headers).await?;
        match self.check_signature(&p, t, headers, b"").await? {
            Some(_) => Ok(p),
            None => Err(sig_problem(
                "this read returns crypto tails, which a bearer token alone never reveals: sign \
                 the GET as a POST is signed (RFC 9421: Content-Digest of the empty body, \
                 Signature-Input, Signature; see /openapi.json)",
            )),
        }
    }

    /// Checks the request's signature if it has one (`None`: no `Signature-Input`).
    async fn check_signature(
        &self,
        p: &Participant,
        t: &Target,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<SignedRequest>, Problem> {
        let h = |name: &str| -> Result<Option<&str>, Problem> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map_err(|_| sig_problem(format!("{name} is not ASCII")))
                })
                .transpose()
        };
        let Some(input) = h("signature-input")? else {
            return Ok(None);
        };
        let sig = h("signature")?.ok_or_else(|| sig_problem("Signature is missing"))?;
        h("content-digest")?.ok_or_else(|| sig_problem("Content-Digest is missing"))?;
        // Every Content-Digest line, as the signature base covers them (RFC 9421 §2.1).
        let digest = &headers
            .get_all("content-digest")
            .iter()
            .map(|v| v.to_str().unwrap_or("").trim())
            .collect::<Vec<_>>()
            .join(", ");
        let i = httpsig::parse_input(input).map_err(|e| sig_problem(e.0))?;
        let raw = httpsig::parse_signature(sig, &i.label).map_err(|e| sig_problem(e.0))?;
        if i.keyid != p.tin {
            return Err(sig_problem(format!(
                "keyid {:?} is not the signed-in participant {}",
                i.keyid, p.tin
            )));
        }
        let now = self.registry.now();
        let skew = httpsig::CREATED_SKEW_SECS_MAX;
        if i.created + skew < now || i.created > now + skew {
            return Err(sig_problem(format!(
                "created {} is more than {skew} s from the registry's clock ({now})",
                i.created
            )));
        }
        if i.created < self.created_not_before {
            return Err(sig_problem(format!(
                "created {} is before the registry's start ({}), whose nonce journal could not \
                 be read: sign the request again",
                i.created, self.created_not_before
            )));
        }
        if let Some(exp) = i.expires {
            if exp <= now {
                return Err(sig_problem(format!(
                    "the signature expired at {exp} (the registry's clock: {now})"
                )));
            }
        }
        let authority = t
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
        if let Some(public) = &self.public_url {
            public.check(&i, authority).map_err(|e| sig_problem(e.0))?;
        }
        if body.len() > BODY_INLINE_MAX {
            // Hashing megabytes would hold an async thread (and every request queued on it).
            let (d, b) = (digest.to_string(), body.to_vec());
            self.lane.run(move || httpsig::check_digest(&d, &b)).await?
        } else {
            httpsig::check_digest(digest, body)
        }
        .map_err(|e| sig_problem(e.0))?;
        let message = httpsig::Message {
            target: httpsig::Target {
                method: t.method.as_str(),
                path: t.uri.path(),
                query: t.uri.query(),
            },
            scheme: self
                .public_url
                .as_ref()
                .map_or("http", |u| u.scheme.as_str()),
            authority,
            headers,
        };
        let base = httpsig::base(&message, &i).map_err(|e| sig_problem(e.0))?;
        httpsig::verify(&base, &raw, &[p.key_at(now)]).map_err(|e| sig_problem(e.0))?;
        let hash = auth::nonce_hash(&i.nonce);
        self.nonces.take_hash(p.id, hash, now)?;
        self.remember(journal::Record {
            kind: journal::Kind::RequestNonce,
            participant: p.id,
            at: now,
            hash,
        })
        .await?;
        Ok(Some(SignedRequest {
            method: t.method.to_string(),
            path: t.uri.path().to_string(),
            query: t.uri.query().unwrap_or("").to_string(),
            signature_input: input.to_string(),
            signature: sig.to_string(),
        }))
    }

    /// Makes a verified nonce or used challenge durable before the request is acted on
    /// (one group-committed flush, off the async threads); without a journal, nothing.
    async fn remember(&self, r: journal::Record) -> Result<(), Problem> {
        let Some(j) = self.journal.clone() else {
            return Ok(());
        };
        match self.lane.run(move || j.record(r)).await? {
            Ok(true) => Ok(()),
            // Another process serving the same database saw it first.
            Ok(false) => Err(sig_problem(
                "this signature's nonce was used before (a replayed request); sign afresh",
            )),
            Err(e) => {
                tracing::error!("nonce journal: {e}");
                Err(Problem::from(Error::Unavailable(
                    "the registry cannot record this signature's nonce now; retry shortly".into(),
                )))
            }
        }
    }

    /// A JSON request of a signed-in participant (reads and till checks: a signature is
    /// not needed, but one that is sent is checked).
    async fn caller_json<T: DeserializeOwned>(
        &self,
        t: &Target,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(Participant, T), Problem> {
        check_json_type(headers)?;
        let p = self.caller(headers).await?;
        let v = self.json_of(&p, t, headers, body).await?;
        Ok((p, v))
    }

    /// The JSON body of a request of `p`, already signed in: content type, body, a
    /// signature if one was sent, then the parsed body.
    async fn json_of<T: DeserializeOwned>(
        &self,
        p: &Participant,
        t: &Target,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<T, Problem> {
        check_json_type(headers)?;
        let body = body_bytes(body)?;
        self.check_signature(p, t, headers, &body).await?;
        parse_json(&body)
    }

    /// A signed JSON request: content type, body, signer, then the parsed body, with the
    /// signed request and body for the log.
    async fn signed_json<T: DeserializeOwned>(
        &self,
        t: &Target,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(Participant, T, Signed), Problem> {
        check_json_type(headers)?;
        let body = body_bytes(body)?;
        let (p, request) = self.signer(t, headers, &body).await?;
        let v = parse_json(&body)?;
        Ok((
            p,
            v,
            Signed {
                request,
                body: body.to_vec(),
            },
        ))
    }

    /// Refuses (409) the log's checkpoint key as a participant's key: a key belongs to one
    /// holder, and this one is the registry's (the registry checks its other keys and
    /// every participant's).
    fn not_the_log_key(&self, public_key_b64: &str) -> Result<(), Problem> {
        use base64::Engine;
        let log = self.log.key.verifying_key();
        let given = base64::engine::general_purpose::STANDARD.decode(public_key_b64.trim());
        if given.is_ok_and(|k| k.as_slice() == log.as_bytes()) {
            return Err(Problem::from(Error::Conflict(format!(
                "public key {} is the registry's transparency-log key; every participant needs a key of its own",
                public_key_b64.trim()
            ))));
        }
        Ok(())
    }

    fn is_admin(&self, headers: &HeaderMap) -> bool {
        bearer(headers).is_some_and(|t| {
            let (a, b) = (t.as_bytes(), self.admin_token.as_bytes());
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        })
    }
}

/// A code that does not parse is a malformed request on verification (400, naming the
/// fault), not a refusal by the registry's rules.
fn malformed_code(p: Problem) -> Problem {
    if p.status != 422 {
        return p;
    }
    let mut b = Problem::bad_request(p.detail);
    b.errors = p.errors;
    b
}

/// A participant's bearer token, checked without the store ([`AppState::token_claims`]).
struct Claims<'h> {
    token: &'h str,
    grant: Grant,
}

/// What a token grants: its participant's id, the key epoch and token generation it was
/// issued under, and the time it was checked.
#[derive(Clone, Copy)]
struct Grant {
    id: types::model::ParticipantId,
    epoch: u32,
    generation: u32,
    now: u64,
}

impl Grant {
    /// The token's participant as the store has it (`p`), if it may still use the token:
    /// it exists, is not suspended, and neither its token generation nor its key changed
    /// since the token was issued.
    fn admit(&self, p: Option<Participant>) -> Result<Participant, Problem> {
        let p =
            p.ok_or_else(|| Problem::unauthorized("the token's participant no longer exists"))?;
        if let Some(why) = &p.suspended {
            return Err(Problem::unauthorized(format!(
                "participant {} is suspended ({why}); ask the operator",
                p.tin
            )));
        }
        if self.generation != p.token_generation {
            return Err(Problem::unauthorized(
                "this token was issued before the participant's suspension or reinstatement; \
                 sign in again",
            ));
        }
        if p.key_epoch_at(self.now) != self.epoch {
            return Err(Problem::unauthorized(
                "your key was rotated since this token was issued; sign in again with the new key",
            ));
        }
        Ok(p)
    }
}

/// What a request signature covers besides the body.
struct Target {
    method: Method,
    uri: Uri,
}

fn sig_problem(detail: impl Into<String>) -> Problem {
    Problem::new(401, "bad-signature", "Bad request signature", detail)
}

// ---- handlers ----

#[utoipa::path(
    get,
    path = "/",
    tag = "meta",
    summary = "Index page (HTML)",
    description = "Access: public. A page linking to this document, health, metrics, the public keys and verification.",
    security(()),
    responses(
        (status = 200, description = "The index page", body = String, content_type = "text/html"),
    )
)]
async fn index() -> axum::response::Html<&'static str> {
    axum::response::Html(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Tracemark</title></head>\
         <body style='font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto'>\
         <h1>Tracemark</h1><p>National track-and-trace registry of marked goods.</p><ul>\
         <li><a href=/scan>Check a marked item: scan its code (Проверить товар)</a></li>\
         <li><a href=/dashboard>Regulator's dashboard (Панель регулятора)</a></li>\
         <li><a href=/cabinet>Business cabinet (Кабинет участника)</a></li>\
         <li><a href=/openapi.json>API (OpenAPI 3.1)</a></li><li><a href=/health>Health</a></li>\
         <li><a href=/metrics>Metrics</a></li><li><a href=/.well-known/tracemark-keys>Public keys</a></li>\
         <li>Verify a code: <code>/api/v1/verify?code=…</code> or its GS1 Digital Link <code>/01/{gtin}/21/{serial}</code></li>\
         </ul></body></html>",
    )
}

/// How long `/health` waits for an empty job to pass through the writer.
pub const HEALTH_WRITER_TIMEOUT_MS: u64 = 2_000;

/// How often the health probe checks the writer and reads the store (see
/// [`reads::HEALTH_PROBE_PERIOD`]), in milliseconds.
pub const HEALTH_CACHE_MS: u64 = reads::HEALTH_PROBE_PERIOD.as_millis() as u64;

#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    summary = "Liveness, documents accepted and the head of the document hash chain",
    description = "Access: public. `ok` only when, within the last few seconds, an empty job went through the single writer and a read of the store answered (a stopped, stuck or hopelessly queued writer, or a store whose reads fail or hang, answers 503; `store` says whether the store's reads answer); both are probed every second in the background by threads of their own, so `/health` never reads the store itself; after a commit it waits, at most a second, for their fresh read of the head, so `documents` counts every acknowledged document. With the writer's panic and restart counts and the store's reader pool.",
    security(()),
    responses(
        (status = 200, description = "Healthy", body = crate::answers::Health),
        (status = 503, description = "The writer or the store did not answer", body = crate::answers::Health),
    )
)]
async fn health(State(s): State<AppState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    // Found by the probe's threads; here only read (a stale finding means a stuck read or
    // writer). The counts are read fresh.
    let feed_head = s.registry.feed_signal().head();
    let (store, writer) = s.health.latest(feed_head).await;
    fn fresh<T>(p: Option<reads::Probed<T>>, what: &str) -> Result<(f64, T), String> {
        match p {
            None => Err(format!("{what} has not answered since the start")),
            Some(p) if p.at.elapsed() > reads::HEALTH_STALE => Err(format!(
                "{what} has not answered for {:.1} s",
                p.at.elapsed().as_secs_f64()
            )),
            Some(p) => p.found,
        }
    }
    let took = fresh(writer, "the writer");
    let head = fresh(store, "a read of the store");
    let w = s.registry.writer_stats();
    let pool = &s.reads;
    let mut body = answers::Health {
        status: "ok",
        documents: None,
        chain_head: None,
        detail: None,
        role: s.role.as_deref().map_or("writer", role::RoleState::name),
        writer_address: s
            .role
            .as_deref()
            .filter(|r| !r.is_writer())
            .and_then(role::RoleState::writer_address),
        writer: answers::HealthWriter {
            queue: s.registry.writer_queue(),
            job_panics: w.job_panics.load(Relaxed),
            restarts: w.restarts.load(Relaxed),
            answered_ms: None,
            full_since: Some(w.full_since.load(Relaxed)).filter(|t| *t != 0),
            lost: w.lost.get().map(|_| {
                "the store lost durability (a failed write or fsync; the server's log says \
                 which)"
                    .to_string()
            }),
        },
        projections: answers::HealthProjections {
            risk_engine: s.control.progress().is_some(),
            analytics: s.control.analytics.is_some(),
            states: s
                .control
                .followed()
                .into_iter()
                .map(|(name, p)| answers::HealthProjection {
                    name,
                    applied: p.applied.load(Relaxed),
                    lag: p.lag(feed_head),
                    behind_secs: p.behind_secs(feed_head, s.registry.now()),
                    restarts: p.restarts.load(Relaxed),
                    failure: p.failure(),
                })
                .collect(),
        },
        store: if head.is_ok() { "ok" } else { "unavailable" },
        reads: answers::HealthReads {
            threads: pool.limits().threads,
            queue: pool.queued(),
            queue_max: pool.limits().queue_max,
            shed: pool.stats.shed.load(Relaxed),
            timed_out: pool.stats.timed_out.load(Relaxed),
            answered_ms: None,
        },
        disk: None,
    };
    if let Ok((ms, (docs, chain))) = &head {
        body.documents = Some(*docs);
        body.chain_head = Some(answers::chain_hex(chain));
        body.reads.answered_ms = Some(*ms);
    }
    match (took, head) {
        (Ok((ms, space)), Ok(_)) => {
            body.writer.answered_ms = Some(ms);
            body.disk = space.map(|d| answers::HealthDisk {
                below_reserve: d.short(),
            });
            let down: Vec<&str> = [
                (!body.projections.risk_engine).then_some("the risk engine"),
                (!body.projections.analytics).then_some("the analytics"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mut why = Vec::new();
            if !down.is_empty() {
                why.push(format!(
                    "{} {} not running; see the server's log",
                    down.join(" and "),
                    if down.len() == 1 { "is" } else { "are" }
                ));
            }
            if space.is_some_and(|d| d.short()) {
                why.push(
                    "the data directory's disk is under its reserve of free space: writes are \
                     refused (503 storage-full) until there is room"
                        .to_string(),
                );
            } else if let Some(t) = body
                .writer
                .full_since
                // Room again on a disk this process watches: the next commit clears it.
                .filter(|_| space.is_none())
            {
                why.push(format!(
                    "commits have been refused since {t} (Unix time): the store's disk is full"
                ));
            }
            for p in &body.projections.states {
                if let Some(f) = &p.failure {
                    why.push(format!("the {} projection failed: {f}", p.name));
                } else if p.behind_secs > registry::project::BEHIND_MAX_SECS {
                    why.push(format!(
                        "the {} projection is {} s ({} feed entries) behind",
                        p.name, p.behind_secs, p.lag
                    ));
                }
            }
            if !why.is_empty() {
                // Documents are still taken (a 200), but what regulators read is missing
                // or stale.
                body.status = "degraded";
                body.detail = Some(why.join("; "));
            }
            Json(body).into_response()
        }
        (Err(e), _) | (_, Err(e)) => {
            body.status = "unavailable";
            body.detail = Some(match &body.writer.lost {
                Some(why) => format!(
                    "{why}: nothing more is written; the process stops, and a start recovers \
                     from the journal"
                ),
                None => e,
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    summary = "Prometheus metrics",
    description = "Access: the operator — the admin token, or a request from an address `tracemark serve --metrics-allow` names (this machine by default). Request counters and durations by route, and the writer's, feed's and projections' counters, as Prometheus text; every metric is named `tracemark_*` and has a `# HELP` line.",
    security(()),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn metrics_text(State(s): State<AppState>, req: Request) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let allowed = peer_ip(req.extensions()).is_some_and(|ip| s.metrics_allow.contains(&ip));
    if !allowed && !s.is_admin(req.headers()) {
        // Counts of alerts, documents and requests are the operator's, not the world's.
        let sent = match req.headers().get(header::AUTHORIZATION) {
            None => "no Authorization header came",
            Some(_) if bearer(req.headers()).is_none() => {
                "the Authorization header came without its `Bearer ` scheme"
            }
            Some(_) => "the bearer token sent is not the admin token",
        };
        return Problem::from(Error::Forbidden(format!(
            "metrics are the operator's and {sent}: send `Authorization: Bearer <admin token>`, \
             or start serve with --metrics-allow ADDR for a scraper's address"
        )))
        .into_response();
    }
    let mut text = s.metrics.render();
    let w = s.registry.writer_stats();
    let counters = [
        (
            "tracemark_writer_batches_total",
            "Group commits.",
            w.batches.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_jobs_total",
            "Writer jobs run.",
            w.jobs.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_codes_written_total",
            "Code states written.",
            w.codes_written.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_events_written_total",
            "Events appended.",
            w.events_written.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_commit_seconds_total",
            "Time in durable commits (fsync included).",
            w.commit_micros.load(Relaxed) as f64 / 1e6,
        ),
        (
            "tracemark_writer_store_reads_total",
            "Code states the writer read from the store itself (not cached, not read ahead).",
            w.store_reads.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_read_ahead_total",
            "Code states read ahead of the writer by the threads that parse documents, and taken.",
            w.read_ahead.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_read_ahead_stale_total",
            "Code states read ahead but not taken (the writer's cache forgot states since).",
            w.read_ahead_stale.load(Relaxed) as f64,
        ),
        (
            "tracemark_writer_commit_failures_total",
            "Commits the store refused.",
            w.commit_failures.load(Relaxed) as f64,
        ),
        (
            "tracemark_store_reads_total",
            "Reads run on the reader pool.",
            s.reads.stats.reads.load(Relaxed) as f64,
        ),
        (
            "tracemark_store_read_wait_seconds_total",
            "Time reads waited for a reader thread.",
            s.reads.stats.wait_micros.load(Relaxed) as f64 / 1e6,
        ),
        (
            "tracemark_store_read_run_seconds_total",
            "Time reads ran on a reader thread.",
            s.reads.stats.run_micros.load(Relaxed) as f64 / 1e6,
        ),
        (
            "tracemark_store_read_slow_waits_total",
            "Reads that waited more than 5 ms for a reader thread.",
            s.reads.stats.slow_waits.load(Relaxed) as f64,
        ),
        (
            "tracemark_store_read_slow_runs_total",
            "Reads that ran more than 5 ms.",
            s.reads.stats.slow_runs.load(Relaxed) as f64,
        ),
        (
            "tracemark_feed_facts_dropped_total",
            "Facts from reads (till checks, scans, failed tails) dropped because too many waited.",
            s.registry.facts_dropped() as f64,
        ),
        (
            "tracemark_feed_verifications_unrecorded_total",
            "Verifications answered but not recorded in the feed (over the per-second cap).",
            s.registry.verifications_unrecorded() as f64,
        ),
        (
            "tracemark_feed_till_checks_unrecorded_total",
            "Till checks answered but not recorded in the feed (over the participant's daily budget).",
            s.registry.till_checks_unrecorded() as f64,
        ),
    ];
    // One metric in the text exposition format.
    let mut metric = |name: &str, help: &str, kind: &str, v: f64| {
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        );
    };
    for (name, help, v) in counters {
        metric(name, help, "counter", v);
    }
    for g in s.registry.store().engine_gauges() {
        let kind = if g.counter { "counter" } else { "gauge" };
        metric(
            &format!("tracemark_store_{}", g.name),
            g.help,
            kind,
            g.value,
        );
    }
    let _ = write!(
        text,
        "# HELP tracemark_memory_budget_bytes The bound on resident memory (TRACEMARK_MEMORY_MB) the caches are sized from.\n# TYPE tracemark_memory_budget_bytes gauge\ntracemark_memory_budget_bytes {}\n# HELP tracemark_writer_state_cache_capacity States the writer's cache holds at most.\n# TYPE tracemark_writer_state_cache_capacity gauge\ntracemark_writer_state_cache_capacity {}\n",
        s.memory_budget,
        s.registry.state_cache_capacity()
    );
    let _ = write!(
        text,
        "# HELP tracemark_writer_queue Jobs waiting for the writer.\n# TYPE tracemark_writer_queue gauge\ntracemark_writer_queue {}\n",
        s.registry.writer_queue()
    );
    let _ = write!(
        text,
        "# HELP tracemark_store_reads_queued Store reads waiting for a reader thread.\n# TYPE tracemark_store_reads_queued gauge\ntracemark_store_reads_queued {}\n",
        s.reads.queued()
    );
    let _ = write!(
        text,
        "# HELP tracemark_blocking_jobs_in_flight Writes and heavy reads holding a slot on the blocking pool.\n# TYPE tracemark_blocking_jobs_in_flight gauge\ntracemark_blocking_jobs_in_flight {}\n",
        s.lane.in_flight()
    );
    let head = s.registry.feed_signal().head();
    let _ = write!(
        text,
        "# HELP tracemark_feed_head The last feed sequence number committed.\n# TYPE tracemark_feed_head gauge\ntracemark_feed_head {head}\n"
    );
    text.push_str("# HELP tracemark_projection_lag Feed entries committed but not yet applied by a projection.\n# TYPE tracemark_projection_lag gauge\n");
    let projections = [
        ("risk", s.control.progress()),
        ("analytics", s.control.analytics_progress()),
    ];
    for (name, p) in projections.iter().filter_map(|(n, p)| p.map(|p| (n, p))) {
        let applied = p.applied.load(Relaxed);
        let _ = writeln!(
            text,
            "tracemark_projection_lag{{projection=\"{name}\"}} {}",
            head.saturating_sub(applied)
        );
    }
    let now = s.registry.now();
    type Figure = fn(&registry::project::Progress, u64, u64) -> u64;
    let figures: [(&str, &str, &str, Figure); 4] = [
        (
            "tracemark_projection_unreadable_total",
            "Times a feed entry a projection could not read stopped it (it waits before the entry).",
            "counter",
            |p, _, _| p.unreadable.load(Relaxed),
        ),
        (
            "tracemark_projection_restarts_total",
            "Times a projection failed (a panic, an unreadable feed entry) and started again from its checkpoint.",
            "counter",
            |p, _, _| p.restarts.load(Relaxed),
        ),
        (
            "tracemark_projection_failed",
            "1 while a projection is failed (waiting to start again), else 0.",
            "gauge",
            |p, _, _| u64::from(p.failure().is_some()),
        ),
        (
            "tracemark_projection_behind_seconds",
            "Seconds a projection is behind the feed (0 when it has applied all of it; over 60 /health says degraded).",
            "gauge",
            |p, head, now| p.behind_secs(head, now),
        ),
    ];
    for (metric, help, kind, figure) in figures {
        let _ = writeln!(text, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (name, p) in projections.iter().filter_map(|(n, p)| p.map(|p| (n, p))) {
            let _ = writeln!(
                text,
                "{metric}{{projection=\"{name}\"}} {}",
                figure(p, head, now)
            );
        }
    }
    text.push_str("# HELP tracemark_alerts Alerts (incidents) the risk engine holds, by kind.\n# TYPE tracemark_alerts gauge\n");
    for (kind, n) in s.control.risk.read().counts().clone() {
        let _ = writeln!(text, "tracemark_alerts{{kind=\"{}\"}} {n}", kind.name());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[utoipa::path(
    get,
    path = "/.well-known/tracemark-keys",
    tag = "verification",
    summary = "Public keys for offline checks of signature tails",
    description = "Access: public. Every Ed25519 key that signs `signature` tails (AI 91 is its `kid`; AI 92 the standard base64 of the signature over the UTF-8 bytes of `01{gtin}21{serial}`), and the transparency log's checkpoint key (`\"use\": \"log\"`).",
    security(()),
    responses(
        (status = 200, description = "The keys", body = crate::answers::KeySet),
    )
)]
async fn keys(State(s): State<AppState>) -> Response {
    use base64::Engine;
    let mut keys: Vec<answers::KeyEntry> = (s.registry.public_keys().keys.into_iter())
        .map(|k| answers::KeyEntry::Tail(k.into()))
        .collect();
    let vk = s.log.key.verifying_key();
    keys.push(answers::KeyEntry::Log(answers::LogKey {
        kid: s.log.origin.clone(),
        alg: "Ed25519",
        usage: "log",
        public_key: base64::engine::general_purpose::STANDARD.encode(vk.as_bytes()),
        note_verifier: tlog::verifier_key(&s.log.origin, &vk).ok(),
    }));
    Json(answers::KeySet { keys }).into_response()
}

/// Signs the log's checkpoints (C2SP signed notes), one signature per tree size.
struct LogSigner {
    key: ed25519_dalek::SigningKey,
    origin: String,
    /// The last note signed: (size, note).
    last: parking_lot::Mutex<Option<(u64, String)>>,
}

#[utoipa::path(
    get,
    path = "/api/v1/log/checkpoint",
    tag = "log",
    summary = "The transparency log's signed checkpoint (C2SP signed note, text/plain)",
    description = "Access: public. `<origin>\\n<size>\\n<base64 root>\\n\\n— <key name> <base64(4-byte key id ‖ Ed25519 signature)>\\n`; its key is in /.well-known/tracemark-keys with `\"use\": \"log\"`.",
    security(()),
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn log_checkpoint(State(s): State<AppState>) -> Result<Response, Problem> {
    let reg = s.registry.clone();
    let signer = s.log.clone();
    let note = s
        .read(move || {
            let size = reg.log_size()?;
            if let Some((n, note)) = signer.last.lock().as_ref() {
                if *n == size {
                    return Ok(note.clone());
                }
            }
            let root = reg.log_root(size)?;
            let note = tlog::Checkpoint {
                origin: signer.origin.clone(),
                size,
                root,
            }
            .sign(&signer.key, &signer.origin)
            .map_err(|e| Error::Unavailable(format!("signing the checkpoint: {e}")))?;
            *signer.last.lock() = Some((size, note.clone()));
            Ok(note)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/log/entries/{index}",
    tag = "log",
    summary = "A log leaf's bytes (application/octet-stream): regulators, and the participant whose change it records",
    description = "Access: a regulator (bearer token) or the operator's admin token reads every entry; a participant (bearer token) the entries of its own changes (others are 404). An entry whose signed request names codes with their crypto tails (a block of codes as scanned), or a document's entry whose body holds one or two short tails (AI 93, 24 bits each: its BLAKE3 would give them away to a search), is read only by the participant that made it and the operator (a regulator gets 403): a token never reveals a tail. Documents' entries name their bodies by BLAKE3 only.",
    security(("bearer" = []), ("admin" = [])),
    params(
        ("index" = u64, Path, description = "The leaf's index"),
    ),
    responses(
        (status = 200, description = "The leaf bytes", body = crate::openapi::Binary, content_type = "application/octet-stream"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn log_entry(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> Result<Response, Problem> {
    let admin = s.is_admin(&headers);
    let caller = if admin {
        None
    } else {
        Some(s.caller(&headers).await?)
    };
    let index: u64 = index
        .parse()
        .map_err(|_| Problem::not_found(format!("no log entry {index}")))?;
    let reg = s.registry.clone();
    let leaf = s.read(move || reg.log_leaf(index)).await?;
    // The regulator reads every entry; a participant the entries of its own changes. A
    // leaf that would reveal a crypto tail (a block naming codes as scanned; a document's
    // BLAKE3 over one or two short tails) is its author's alone: a token never reveals a
    // tail, and the tree's proofs need no leaf bytes.
    if let Some(c) = caller {
        let decoded = types::log::decode(&leaf);
        let own = decoded.as_ref().is_some_and(|l| l.actor == c.id);
        if !c.has(Role::Regulator) && !own {
            return Err(Problem::not_found(format!("no log entry {index} of yours")));
        }
        if let Some(l) = decoded.filter(|_| !own) {
            let reg = s.registry.clone();
            if s.read(move || reg.leaf_reveals_tails(&l)).await? {
                return Err(Problem::from(Error::Forbidden(format!(
                    "log entry {index} holds codes with their crypto tails, or names by its \
                     hash a document whose few short tails (AI 93) a search of that hash would \
                     find; only the participant that made the change reads it. Its hash is in \
                     the tree, and its inclusion proof (/api/v1/log/proof/inclusion) is public"
                ))));
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], leaf).into_response())
}

fn b64_hashes(h: &[tlog::Hash]) -> Vec<String> {
    use base64::Engine;
    h.iter()
        .map(|x| base64::engine::general_purpose::STANDARD.encode(x))
        .collect()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    /// The leaf.
    index: u64,
    /// The tree's size (at most the log's).
    size: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/log/proof/inclusion",
    tag = "log",
    summary = "RFC 9162 inclusion proof of ?index= in the tree of ?size= leaves",
    description = "Access: public. The hashes that prove leaf `index` is in the tree of the first `size` leaves (RFC 9162 §2.1.3).",
    security(()),
    params(
        InclusionQuery,
    ),
    responses(
        (status = 200, description = "The proof", body = crate::answers::InclusionProof),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn log_inclusion(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let q: InclusionQuery = query(q)?;
    let reg = s.registry.clone();
    let proof = s
        .read(move || reg.log_inclusion(q.index, q.size))
        .await
        .map_err(malformed_code)?;
    Ok(Json(answers::InclusionProof {
        index: q.index,
        size: q.size,
        hashes: b64_hashes(&proof),
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    /// The older tree's size.
    from: u64,
    /// The newer tree's size (at most the log's).
    to: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/log/proof/consistency",
    tag = "log",
    summary = "RFC 9162 consistency proof from the tree of ?from= leaves to that of ?to=",
    description = "Access: public. The hashes that prove the tree of `to` leaves extends that of `from` (RFC 9162 §2.1.4).",
    security(()),
    params(
        ConsistencyQuery,
    ),
    responses(
        (status = 200, description = "The proof", body = crate::answers::ConsistencyProof),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn log_consistency(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let q: ConsistencyQuery = query(q)?;
    let reg = s.registry.clone();
    let proof = s
        .read(move || reg.log_consistency(q.from, q.to))
        .await
        .map_err(malformed_code)?;
    Ok(Json(answers::ConsistencyProof {
        from: q.from,
        to: q.to,
        hashes: b64_hashes(&proof),
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants",
    tag = "participants",
    summary = "Register a participant (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). A participant's valid token is refused with 403.",
    security(("admin" = [])),
    request_body = NewParticipant,
    responses(
        (status = 201, description = "Registered", body = crate::answers::CreatedParticipant),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn register_participant(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    if !s.is_admin(&headers) {
        // A participant's valid token is a credential, just not this one: 403, not 401.
        if s.caller(&headers).await.is_ok() {
            return Err(Problem::from(Error::Forbidden(
                "registering participants needs the operator's admin token".into(),
            )));
        }
        return Err(Problem::unauthorized(
            "registering participants needs the operator's admin token",
        ));
    }
    check_json_type(&headers)?;
    let req: NewParticipant = parse_json(&body_bytes(body)?)?;
    s.not_the_log_key(&req.public_key)?;
    let reg = s.registry.clone();
    let (p, cards_moved) = s
        .blocking(move || reg.register_participant_moving(req))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(answers::CreatedParticipant {
            id: p.id,
            tin: p.tin,
            cards_moved,
        }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/participants/{tin}",
    tag = "participants",
    summary = "A participant (operator, itself, regulators)",
    description = "Access: the operator's admin token, the participant itself or a regulator (bearer token); to anyone else it is 404.",
    security(("bearer" = []), ("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    responses(
        (status = 200, description = "The participant", body = crate::answers::ParticipantView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn get_participant(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
) -> Result<Response, Problem> {
    let admin = s.is_admin(&headers);
    let caller = if admin {
        None
    } else {
        Some(s.caller(&headers).await?)
    };
    let reg = s.registry.clone();
    let t = tin.clone();
    let p = s.read(move || reg.participant_by_tin(&t)).await?;
    match (p, caller) {
        (Some(p), None) => Ok(Json(answers::ParticipantView::from(&p)).into_response()),
        (Some(p), Some(c)) if c.id == p.id || c.has(Role::Regulator) => {
            Ok(Json(answers::ParticipantView::from(&p)).into_response())
        }
        _ => Err(Problem::not_found(format!("no participant {tin}"))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    summary = "Who the bearer token is for",
    description = "Access: a participant (bearer token). The caller's own record: a page \
        given only a token (the dashboard's `#token=` link) learns its TIN, name and roles.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = crate::answers::ParticipantView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn me(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    Ok(Json(answers::ParticipantView::from(&p)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChallengeQuery {
    /// The participant's taxpayer identification number: 10 or 12 digits.
    #[param(pattern = "^([0-9]{10}|[0-9]{12})$", min_length = 10, max_length = 12)]
    tin: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/challenge",
    tag = "auth",
    summary = "Sign-in challenge for ?tin=",
    description = "Access: public (rate-limited per address). Sign `data` (its UTF-8 bytes exactly as received) with the participant's key and send it to /api/v1/auth/token. Any well-formed TIN (10 or 12 digits; anything else is a 400) gets a challenge (the answer does not say who is registered); an unknown one fails at the token step as a wrong signature does. Challenges are stateless (the id carries the TIN and time under the registry's MAC): nothing is stored until a sign-in succeeds, and each is valid once, for 300 s.",
    security(()),
    params(
        ChallengeQuery,
    ),
    responses(
        (status = 200, description = "The challenge", body = crate::answers::Challenge),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn challenge(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, Problem> {
    let q: ChallengeQuery = query(q)?;
    // The same answer whether or not the TIN is registered: a 404 here would list who is
    // (and who is not) a participant to anyone asking. An unknown TIN fails at the
    // signature step, exactly as a wrong key does.
    // Checked before anything else: a challenge is for a TIN (10 or 12 digits), and
    // nothing is kept for it (stateless, see `auth::Auth`).
    let (id, data) = s.auth.challenge(&q.tin, s.registry.now())?;
    Ok(Json(answers::Challenge {
        challenge_id: id,
        data,
    })
    .into_response())
}

/// A signed sign-in challenge.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// From /api/v1/auth/challenge.
    challenge_id: String,
    /// Base64 Ed25519 over the UTF-8 bytes of the challenge's `data`.
    signature: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    summary = "Bearer token for a signed challenge",
    description = "Access: public (rate-limited per address). Then `Authorization: Bearer <token>`.",
    security(()),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The token", body = crate::answers::Token),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_json_type(&headers)?;
    let req: TokenRequest = parse_json(&body_bytes(body)?)?;
    let now = s.registry.now();
    let challenge = s.auth.open_challenge(&req.challenge_id, now)?;
    let (tin, data) = (challenge.tin.clone(), challenge.data.clone());
    let reg = s.registry.clone();
    let p = s
        .read(move || reg.participant_by_tin(&tin))
        .await?
        // Said as a wrong signature is: the answer does not tell whether the TIN exists.
        .ok_or_else(|| Problem::unauthorized(crate::auth::SIGNATURE_DOES_NOT_VERIFY))?;
    // The signature first: only the key's holder learns that the participant is suspended.
    verify_signature(&p, now, data.as_bytes(), &req.signature)?;
    // Single use: remembered only now that the key's holder answered it, so nobody else
    // can use up (or evict) a participant's challenges.
    s.auth.use_challenge(p.id, &challenge.mac, now)?;
    s.remember(journal::Record {
        kind: journal::Kind::Challenge,
        participant: p.id,
        at: now,
        hash: challenge.mac,
    })
    .await?;
    if let Some(why) = &p.suspended {
        return Err(Problem::unauthorized(format!(
            "participant {} is suspended ({why}); ask the operator",
            p.tin
        )));
    }
    let (token, exp) = s
        .auth
        .token(p.id, p.key_epoch_at(now), p.token_generation, now);
    Ok(Json(answers::Token {
        token,
        expires_at: types::time::format_timestamp(exp),
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/products",
    tag = "products",
    summary = "Register or update a product card",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). A producer or importer, for GTINs within its GS1 prefixes (an importer also for prefixes nobody holds).",
    security(("bearer" = [])),
    params(
        crate::openapi::SignatureHeaders,
    ),
    request_body = NewProduct,
    responses(
        (status = 201, description = "The card as stored", body = registry::ProductCard),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn put_product(
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
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn get_product(
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
    path = "/api/v1/orders",
    tag = "orders",
    summary = "Order codes; produced in the background",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). A producer or importer, for a product card it owns; at most 100 active orders. Poll the order until `ready`, then read its codes in pages.",
    security(("bearer" = [])),
    params(
        crate::openapi::SignatureHeaders,
    ),
    request_body = NewOrder,
    responses(
        (status = 202, description = "Accepted; produced in the background", body = crate::answers::OrderView, headers(("Location" = String, description = "Where to read it"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn create_order(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req, signed): (_, NewOrder, _) = s
        .signed_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let o = s
        .blocking(move || reg.create_order_signed(&p, req, signed))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/orders/{}", o.id))],
        Json(answers::OrderView::from(&o)),
    )
        .into_response())
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, Problem> {
    uuid::Uuid::parse_str(s).map_err(|_| Problem::not_found(format!("{s:?} is not an id")))
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    summary = "An order",
    description = "Access: a participant (bearer token). The participant that ordered (others are 404).",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
    ),
    responses(
        (status = 200, description = "The order", body = crate::answers::OrderView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn get_order(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let id = parse_uuid(&id)?;
    let reg = s.registry.clone();
    let o = s.read(move || reg.order(&p, &id)).await?;
    Ok(Json(answers::OrderView::from(&o)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The first code's position in the order (0 when absent).
    #[serde(default)]
    offset: Option<u32>,
    /// Codes in the page (1,000 when absent; at most 10,000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/codes",
    tag = "orders",
    summary = "A page of an order's codes (?offset=&limit=, limit ≤ 10,000)",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest` of the empty body, `Signature-Input`, `Signature`): the codes carry their crypto tails, which a bearer token alone never reveals (401 unsigned). The participant that ordered (others are 404). Full codes: identification code, GS, tail (GS written `\\u001d` in JSON).",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
        PageQuery,
        crate::openapi::SignatureHeaders,
    ),
    responses(
        (status = 200, description = "A page", body = registry::OrderCodes),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn order_codes(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let t = Target { method, uri };
    let p = s.tail_reader(&t, &headers).await?;
    let id = parse_uuid(&id)?;
    let q: PageQuery = query(q)?;
    let reg = s.registry.clone();
    let page = s
        .read(move || reg.order_codes(&p, &id, q.offset.unwrap_or(0), q.limit.unwrap_or(1_000)))
        .await?;
    Ok(Json(page).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/close",
    tag = "orders",
    summary = "Close a ready order",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). The participant that ordered. The body is empty.",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
        crate::openapi::SignatureHeaders,
    ),
    responses(
        (status = 200, description = "The order, closed", body = crate::answers::OrderView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn close_order(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body_bytes(body)?;
    let (p, request) = s.signer(&Target { method, uri }, &headers, &body).await?;
    let id = parse_uuid(&id)?;
    let reg = s.registry.clone();
    let signed = Signed {
        request,
        body: body.to_vec(),
    };
    let o = s
        .blocking(move || reg.close_order_signed(&p, &id, signed))
        .await?;
    Ok(Json(answers::OrderView::from(&o)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/documents",
    tag = "documents",
    summary = "Submit a signed document (all-or-nothing, idempotent by id)",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). Every code is checked; one bad code refuses the whole document (422, `errors` naming every bad code) and nothing changes. The same id with the same body answers the same again; the same id with another body is 409.",
    security(("bearer" = [])),
    params(
        crate::openapi::SignatureHeaders,
    ),
    request_body = registry::documents::RawDocument,
    responses(
        (status = 201, description = "Accepted", body = registry::DocAnswer, headers(("Location" = String, description = "Where to read it"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn submit_document(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_json_type(&headers)?;
    let body = body_bytes(body)?;
    let (p, sig) = s.signer(&Target { method, uri }, &headers, &body).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The document is read (JSON, every code parsed) on the blocking pool: a 16 MiB body
    // must not hold an async thread that verification requests are waiting on.
    let reg = s.registry.clone();
    s.blocking(move || {
        reg.submit_document_then(&p, body.to_vec(), sig, move |r| {
            let _ = tx.send(r);
        })
    })
    .await?;
    let answer = rx
        .await
        .map_err(|_| Problem::from(Error::Unavailable("the writer stopped".into())))?;
    match answer {
        Ok(a) => {
            metrics::counter!("tracemark_documents_accepted_total").increment(1);
            metrics::counter!("tracemark_code_events_total").increment(a.codes);
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, format!("/api/v1/documents/{}", a.id))],
                Json(a),
            )
                .into_response())
        }
        Err(e) => {
            metrics::counter!("tracemark_documents_refused_total").increment(1);
            Err(Problem::from(e))
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    summary = "A document with its legal record (body and signature)",
    description = "Access: a participant (bearer token). Its submitter, the receiver of a `ship` document, or a regulator (others are 404). The codes' crypto tails (AI 91/92/93) are returned only to the submitter (and a shipment's receiver) in a signed request (RFC 9421: `Content-Digest` of the empty body, `Signature-Input`, `Signature`; one sent is checked, 401 when bad); everyone else, and a request with the bearer token alone, reads every code by its identification code: `redacted` is then `true`, `redaction` says why, and `signature` and `body_base64` (the exact bytes, tails included) are left out. The stored record never changes.",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The document id (UUID)"),
        crate::openapi::OptionalSignatureHeaders,
    ),
    responses(
        (status = 200, description = "The document", body = crate::answers::DocumentRecord),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn get_document(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    // A signature is not needed to read a document, but only a signed request of its
    // author (or a shipment's receiver) gets the codes' crypto tails; one sent is checked.
    let t = Target { method, uri };
    let signed = s.check_signature(&p, &t, &headers, b"").await?.is_some();
    let id = parse_uuid(&id)?;
    let reg = s.registry.clone();
    // Parsing and redacting up to 30,000 codes is CPU work: on the blocking pool.
    let record = s
        .read(move || {
            reg.document_view(&p, &id, signed)
                .map(|v| answers::DocumentRecord::from(&v))
        })
        .await?;
    Ok(Json(record).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code}",
    tag = "codes",
    summary = "A code's card and full history (owner, producer, regulator)",
    description = "Access: a participant (bearer token). Its owner, producer, receiver in transit, or a regulator (others are 404). A code presented with a tail that is not the one issued is 422 (`bad_crypto_tail`).",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "A code: GS-separated, bracketed (01)…(21)…, or a GS1 Digital Link URI, percent-encoded", min_length = 1),
    ),
    responses(
        (status = 200, description = "The code", body = registry::CodeInfo),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Refused),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn get_code(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    // `Path` has percent-decoded the code once already; decoding again would turn a
    // serial's `%41` (CSET 82 allows `%`) into `A` and break encoded Digital Links.
    let reg = s.registry.clone();
    let info = s.read(move || reg.code_info(&p, &code)).await?;
    Ok(Json(info).into_response())
}

/// Codes to look up.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CodesBody {
    /// Codes: GS-separated (GS written `\u001d`), bracketed, or GS1 Digital Link URIs.
    #[schema(max_items = 1000)]
    codes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/codes/query",
    tag = "codes",
    summary = "Statuses of up to 1,000 codes",
    description = "Access: a participant (bearer token). A signature is not needed; one that is sent is checked. Codes the caller may not see are `unknown_code`.",
    security(("bearer" = [])),
    params(
        crate::openapi::OptionalSignatureHeaders,
    ),
    request_body = CodesBody,
    responses(
        (status = 200, description = "One entry per code, in order", body = crate::answers::CodesAnswer),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn query_codes(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req): (_, CodesBody) = s
        .caller_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let codes = s.read(move || reg.query_codes(&p, &req.codes)).await?;
    Ok(Json(answers::CodesAnswer { codes }).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct InventoryQuery {
    /// GTIN (8, 12, 13 or 14 digits).
    #[param(pattern = r"^[0-9]{8,14}$")]
    gtin: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/inventory",
    tag = "codes",
    summary = "The caller's stock of ?gtin=",
    description = "Access: a participant (bearer token).",
    security(("bearer" = [])),
    params(
        InventoryQuery,
    ),
    responses(
        (status = 200, description = "The stock", body = registry::Inventory),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn inventory(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let q: InventoryQuery = query(q)?;
    let reg = s.registry.clone();
    let inv = s.read(move || reg.inventory(&p, &q.gtin)).await?;
    Ok(Json(inv).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct VerifyQuery {
    /// A code: GS-separated (GS written `\u001d`), bracketed (01)…(21)…, or a GS1 Digital
    /// Link URI; at most 512 characters.
    #[param(min_length = 1, max_length = 512, pattern = r"\S")]
    code: String,
    /// Where the scan was made, roughly: `LAT,LON` in degrees (kept to a tenth, ~11 km),
    /// sent by a page or app that may; the risk engine looks for one code scanned far apart.
    #[param(
        pattern = r"^\s*[-+]?(90(\.0+)?|[0-8]?[0-9](\.[0-9]+)?)\s*,\s*[-+]?(180(\.0+)?|(1[0-7][0-9]|[0-9]?[0-9])(\.[0-9]+)?)\s*$"
    )]
    near: Option<String>,
}

/// Parses `near=LAT,LON` into a coarse place (a 400 naming the rule otherwise).
fn near(v: Option<&str>) -> Result<Option<types::feed::Place>, Problem> {
    let Some(v) = v else { return Ok(None) };
    let bad = || {
        Problem::bad_request(format!(
            "`near` must be LAT,LON in degrees (latitude −90…90, longitude −180…180), e.g. 55.75,37.62; got {:?}",
            v.chars().take(40).collect::<String>()
        ))
    };
    let (lat, lon) = v.split_once(',').ok_or_else(bad)?;
    let (lat, lon): (f64, f64) = (
        lat.trim().parse().map_err(|_| bad())?,
        lon.trim().parse().map_err(|_| bad())?,
    );
    types::feed::Place::from_degrees(lat, lon)
        .map(Some)
        .ok_or_else(bad)
}

/// The public checker behind a request: a keyed digest of its address (an IPv6 client by
/// its /64, like the rate limit), for counting failed tail checks and, in the feed, telling
/// one scanner from another. Keyed with the server's secret: an unkeyed hash of an IPv4
/// address is undone by trying all 2³² of them, and the registry keeps no consumer's address.
pub(crate) fn public_checker(
    s: &AppState,
    ext: &axum::http::Extensions,
) -> registry::tailguard::Checker {
    let client = peer_ip(ext).map(limit::Client::of);
    let h = blake3::keyed_hash(&s.client_secret, format!("{client:?}").as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&h.as_bytes()[..8]);
    registry::tailguard::Checker::Public(u64::from_le_bytes(tag))
}

/// The network of a public scanner, as the risk engine weighs witnesses: a keyed digest
/// of its IPv4 /24 or IPv6 /48 (an IPv4-mapped address is IPv4). Scans from one network are
/// one witness, whatever addresses in it they come from; keyed like [`public_checker`], so
/// no address can be read back.
pub(crate) fn public_net(s: &AppState, ext: &axum::http::Extensions) -> Option<u64> {
    let bytes: Vec<u8> = match peer_ip(ext)? {
        std::net::IpAddr::V4(v4) => v4.octets()[..3].to_vec(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets()[..3].to_vec(),
            None => v6.octets()[..6].to_vec(),
        },
    };
    let h = blake3::keyed_hash(&s.client_secret, &[b"net:".as_slice(), &bytes].concat());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&h.as_bytes()[..8]);
    Some(u64::from_le_bytes(tag))
}

#[utoipa::path(
    get,
    path = "/api/v1/verify",
    tag = "verification",
    summary = "Public verification of ?code=",
    description = "Access: public (rate-limited per address). Never `genuine` without a checked crypto tail; never reveals who holds an unsold item. A malformed code is a 400 naming the fault.",
    security(()),
    params(
        VerifyQuery,
    ),
    responses(
        (status = 200, description = "The verdict", body = registry::VerifyAnswer),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn verify(State(s): State<AppState>, req: Request) -> Result<Response, Problem> {
    let checker = public_checker(&s, req.extensions());
    let net = public_net(&s, req.extensions());
    let q: VerifyQuery = query(req.uri().query().map(str::to_string))?;
    if q.code.len() > CODE_TEXT_LEN_MAX {
        return Err(Problem::from(Error::TooLarge(format!(
            "a code is at most {CODE_TEXT_LEN_MAX} characters"
        ))));
    }
    if q.code.trim().is_empty() {
        // An empty code is the caller's mistake, not an unknown code.
        return Err(Problem::bad_request(
            "`code` is empty: give a marking code, e.g. ?code=(01)04601234567893(21)abc123(93)Zx9q (GS as %1D, brackets or a GS1 Digital Link all work)",
        ));
    }
    let place = near(q.near.as_deref())?;
    let reg = s.registry.clone();
    let ans = s
        .read(move || reg.verify_from(&q.code, checker, place, net))
        .await
        .map_err(malformed_code)?;
    Ok(Json(ans).into_response())
}

/// The codes at the till.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PosBody {
    /// Codes, each alone or with its price.
    #[schema(min_items = 1, max_items = 1000)]
    codes: Vec<PosItem>,
}

#[utoipa::path(
    post,
    path = "/api/v1/pos/check",
    tag = "till",
    summary = "Till check (permissive mode), up to 1,000 codes",
    description = "Access: a participant (bearer token). A retailer or fiscal operator; a signature is not needed, but one that is sent is checked. The `request_id` goes into the `sell` document's `check_ids`; only a check that answered `sellable` for a code counts as that code's check. Limited per participant (default 20 checks and 200 codes a second, bursts of 40 checks and 2,000 codes): 429 with `Retry-After` beyond; 503 with `Retry-After` when the server has had no free slot for 2 s.",
    security(("bearer" = [])),
    params(
        crate::openapi::OptionalSignatureHeaders,
    ),
    request_body = PosBody,
    responses(
        (status = 200, description = "One result per code, in order", body = crate::answers::PosAnswer),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn pos_check(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    // Per participant: a shop has so many tills (`till`), and one retailer's flood must
    // not slow everyone's verification nor fill the feed. The checks' bucket first, for
    // the price of a token's MAC: a flood is refused before its body is parsed.
    let c = s.token_claims(&headers)?;
    let grant = c.grant;
    s.till.take_check(grant.id)?;
    // A signed check needs the participant's key first; an unsigned one (the tills') is
    // checked with its participant in one read.
    let signer = if headers.contains_key("signature-input") {
        Some(s.caller(&headers).await?)
    } else {
        None
    };
    let req: PosBody = match &signer {
        Some(p) => {
            s.json_of(p, &Target { method, uri }, &headers, body)
                .await?
        }
        None => {
            check_json_type(&headers)?;
            parse_json(&body_bytes(body)?)?
        }
    };
    s.till.take_codes(grant.id, req.codes.len())?;
    // Up to 1,000 codes read from the store: on the reader threads like every read; a
    // large check holds one of the till's few slots, so that a flood of them leaves most
    // readers to verification and sign-in.
    let slot = if req.codes.len() > till::TILL_SMALL_CODES_MAX {
        match s.till.slot().await {
            Ok(slot) => Some(slot),
            Err(problem) => return Ok(problem.into_response()),
        }
    } else {
        None
    };
    let reg = s.registry.clone();
    let (id, results) = s
        .reads
        .run(move || {
            let p = match signer {
                Some(p) => p,
                None => grant.admit(reg.participant(grant.id).map_err(Problem::from)?)?,
            };
            reg.pos_check(&p, &req.codes).map_err(Problem::from)
        })
        .await??;
    drop(slot);
    Ok(Json(answers::PosAnswer {
        request_id: id,
        results,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/blocks",
    tag = "blocks",
    summary = "Block a GTIN, a batch or codes (regulator)",
    description = "Access: a regulator (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`).",
    security(("bearer" = [])),
    params(
        crate::openapi::SignatureHeaders,
    ),
    request_body = NewBlock,
    responses(
        (status = 201, description = "The block", body = types::model::Block),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn create_block(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req, signed): (_, NewBlock, _) = s
        .signed_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let b = s
        .blocking(move || reg.create_block_signed(&p, req, signed))
        .await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/blocks",
    tag = "blocks",
    summary = "All blocks (regulator)",
    description = "Access: a regulator (bearer token).",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The blocks", body = crate::answers::BlockList),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn list_blocks(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    if !p.has(Role::Regulator) {
        return Err(Problem::from(Error::Forbidden(
            "only regulators list blocks".into(),
        )));
    }
    let reg = s.registry.clone();
    let blocks = s.read(move || reg.blocks()).await?;
    Ok(Json(answers::BlockList { blocks }).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/blocks/{id}",
    tag = "blocks",
    summary = "Lift a block (regulator)",
    description = "Access: a regulator (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). The body is empty.",
    security(("bearer" = [])),
    params(
        ("id" = u64, Path, description = "The block id"),
        crate::openapi::SignatureHeaders,
    ),
    responses(
        (status = 200, description = "The block, lifted", body = types::model::Block),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 429, response = crate::openapi::TooMany),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn lift_block(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body_bytes(body)?;
    let (p, request) = s.signer(&Target { method, uri }, &headers, &body).await?;
    let id: u64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("no block {id}")))?;
    let reg = s.registry.clone();
    let signed = Signed {
        request,
        body: body.to_vec(),
    };
    let b = s
        .blocking(move || reg.lift_block_signed(&p, id, signed))
        .await?;
    Ok(Json(b).into_response())
}

/// The operator's requests about one participant: the admin token, a JSON body.
async fn admin_json<T: DeserializeOwned>(
    s: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
    if !s.is_admin(headers) {
        return Err(Problem::from(Error::Forbidden(
            "this needs the operator's admin token".into(),
        )));
    }
    let body = body_bytes(body)?;
    if body.is_empty() {
        // No body (reinstate takes none): nothing to read, so no type to say.
        return parse_json(b"{}");
    }
    check_json_type(headers)?;
    parse_json(&body)
}

/// Why a participant is suspended.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SuspendBody {
    /// Why, 1 to 1,024 bytes.
    #[schema(min_length = 1, max_length = 1024, pattern = r"\S")]
    reason: String,
}

/// GS1 company prefixes to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PrefixesBody {
    /// Prefixes of 4 to 12 digits (at most 100).
    #[schema(schema_with = types::apidoc::prefixes)]
    gs1_prefixes: Vec<String>,
}

/// An empty JSON object.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/keys",
    tag = "participants",
    summary = "Add a key (operator): accepted from not_before, ending the previous key then",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). Sign-in and signatures accept the key from its `not_before`; the previous key stops then.",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = registry::NewKey,
    responses(
        (status = 201, description = "The participant with its new key", body = crate::answers::ParticipantView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn add_key(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: registry::NewKey = admin_json(&s, &headers, body).await?;
    s.not_the_log_key(&req.public_key)?;
    let reg = s.registry.clone();
    let p = s.blocking(move || reg.add_key(&tin, req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(answers::ParticipantView::from(&p)),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/suspend",
    tag = "participants",
    summary = "Suspend a participant (operator): tokens, sign-ins and signatures refused at once",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`).",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = SuspendBody,
    responses(
        (status = 200, description = "The participant, suspended", body = crate::answers::ParticipantView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn suspend(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: SuspendBody = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let p = s.blocking(move || reg.suspend(&tin, &req.reason)).await?;
    Ok(Json(answers::ParticipantView::from(&p)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/reinstate",
    tag = "participants",
    summary = "Lift a suspension (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). The body is empty or `{}`.",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = Option<Empty>,
    responses(
        (status = 200, description = "The participant, reinstated", body = crate::answers::ParticipantView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn reinstate(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    // No body, `{}` or `null` (the document's `Option<Empty>`).
    let _: Option<Empty> = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let p = s.blocking(move || reg.reinstate(&tin)).await?;
    Ok(Json(answers::ParticipantView::from(&p)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/participants/{tin}/prefixes",
    tag = "participants",
    summary = "Add GS1 company prefixes to a participant (operator)",
    description = "Access: the operator's admin token (`Authorization: Bearer <admin token>`). A prefix belongs to one participant. Product cards that others (importers) registered within the prefix while nobody held it move to its holder, each a `product_transfer` log leaf, listed in `cards_moved`; codes already issued keep their owners.",
    security(("admin" = [])),
    params(
        ("tin" = String, Path, description = "The participant's taxpayer identification number", pattern = r"^[0-9A-Za-z]{1,32}$"),
    ),
    request_body = PrefixesBody,
    responses(
        (status = 200, description = "The participant with its prefixes", body = crate::answers::ParticipantView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn add_prefixes(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(tin): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let req: PrefixesBody = admin_json(&s, &headers, body).await?;
    let reg = s.registry.clone();
    let (p, cards_moved) = s
        .blocking(move || reg.add_prefixes(&tin, &req.gs1_prefixes))
        .await?;
    let mut view = answers::ParticipantView::from(&p);
    view.cards_moved = cards_moved;
    Ok(Json(view).into_response())
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
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Refused),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn transfer_product(
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
