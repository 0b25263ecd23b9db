#![recursion_limit = "512"]
//! The HTTP API (docs/api-guide.md) on axum: authentication, request signatures, routing, RFC 9457
//! problems, the OpenAPI document and metrics. Thin: every rule lives in `registry`.
#![deny(missing_docs)]

pub mod analytics;
pub mod answers;
pub mod auth;
mod blocks;
mod caller;
mod catalogue;
mod codes;
pub mod complaints;
pub mod control;
mod documents;
pub mod epcis_query;
pub mod epcis_rest;
mod gates;
pub mod httpsig;
pub mod journal;
pub mod limit;
pub mod openapi;
mod ops;
mod orders;
mod participants;
pub mod problem;
pub mod reads;
mod request;
mod resolver;
mod responses;
pub mod role;
pub mod scan;
pub mod serve;
pub mod till;
mod transparency;

// The handlers the router and the OpenAPI document (`crate::name`, `crate::__path_name`)
// name, and the helpers the other modules reach as `crate::name`.
use blocks::{
    __path_create_block, __path_lift_block, __path_list_blocks, create_block, lift_block,
    list_blocks,
};
use caller::Target;
use catalogue::{
    __path_get_product, __path_put_product, __path_transfer_product, get_product, put_product,
    transfer_product,
};
use codes::{
    __path_get_code, __path_inventory, __path_pos_check, __path_query_codes, __path_verify,
    get_code, inventory, pos_check, public_checker, query_codes, verify,
};
use documents::{__path_get_document, __path_submit_document, get_document, submit_document};
use gates::{
    __path_problem_doc, early_length, method_not_allowed, not_found, observe, panic_problem,
    peer_ip, problem_doc, rate_limited, require_admin, require_participant, require_token,
    throttled,
};
use ops::{
    __path_health, __path_index, __path_metrics_text, health, index, metrics_handle, metrics_text,
};
pub use ops::{HEALTH_CACHE_MS, HEALTH_WRITER_TIMEOUT_MS};
use orders::{
    __path_close_order, __path_create_order, __path_get_order, __path_order_codes, close_order,
    create_order, get_order, order_codes,
};
use participants::{
    __path_add_key, __path_add_prefixes, __path_challenge, __path_get_participant, __path_me,
    __path_register_participant, __path_reinstate, __path_suspend, __path_token, add_key,
    add_prefixes, challenge, get_participant, me, register_participant, reinstate, suspend, token,
};
use request::{body_bytes, check_json_type, malformed_code, parse_json, query};
use transparency::{
    __path_keys, __path_log_checkpoint, __path_log_consistency, __path_log_entry,
    __path_log_inclusion, keys, log_checkpoint, log_consistency, log_entry, log_inclusion,
    LogSigner,
};

use auth::{Auth, Nonces};
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use problem::Problem;
use registry::Registry;
use std::sync::Arc;

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
        "/epcis/capture" => epcis_rest::CAPTURE_BYTES_MAX,
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
    /// EPCIS captures: the readers' permits and the jobs that stored nothing.
    captures: Arc<epcis_rest::Captures>,
    /// The memory bound the caches were sized from (bytes), read once at start.
    memory_budget: u64,
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
        captures: Arc::new(epcis_rest::Captures::default()),
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
        .route("/epcis", get(epcis_query::top_level))
        .route("/epcis/eventTypes", get(epcis_query::event_types))
        .route("/epcis/bizSteps", get(epcis_query::biz_steps))
        .route("/epcis/dispositions", get(epcis_query::dispositions))
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
            "/epcis/capture",
            post(epcis_rest::capture)
                .options(epcis_rest::capture_options)
                .layer(limit(epcis_rest::CAPTURE_BYTES_MAX)),
        )
        .route("/epcis/capture/{id}", get(epcis_rest::capture_job))
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
        .route("/epcis/events", get(epcis_query::events))
        .route("/epcis/events/{eventID}", get(epcis_query::event))
        .route("/epcis/epcs/{epc}/events", get(epcis_query::epc_events))
        .route(
            "/epcis/eventTypes/{eventType}/events",
            get(epcis_query::type_events),
        )
        .route(
            "/epcis/bizSteps/{bizStep}/events",
            get(epcis_query::step_events),
        )
        .route(
            "/epcis/dispositions/{disposition}/events",
            get(epcis_query::disposition_events),
        )
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
