//! The operator's endpoints: the index page, `/health` and `/metrics`.

use crate::gates::peer_ip;
use crate::problem::Problem;
use crate::request::bearer;
use crate::{answers, reads, role, AppState};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use registry::Error;
use std::sync::OnceLock;

pub(crate) fn metrics_handle() -> PrometheusHandle {
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
pub(crate) fn describe_metrics() {
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
pub(crate) async fn index() -> axum::response::Html<&'static str> {
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
pub(crate) async fn health(State(s): State<AppState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    // Found by the probe's threads; here only read (a stale finding means a stuck read or
    // writer). The counts are read fresh.
    let feed_head = s.registry.feed_signal().head();
    let (store, writer) = s.health.latest(feed_head).await;
    pub(crate) fn fresh<T>(p: Option<reads::Probed<T>>, what: &str) -> Result<(f64, T), String> {
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
        (status = 403, response = crate::responses::Forbidden),
    )
)]
pub(crate) async fn metrics_text(State(s): State<AppState>, req: Request) -> Response {
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
