//! `POST /api/v1/verify/image`: a photo (or a camera frame) of a Data Matrix or QR code →
//! the verification of the code it shows.
//!
//! Decoding is CPU work on untrusted pixels, and a barcode reader's worst case is not
//! bounded by the image's size (a 3 KB PNG of tiled QR finder patterns kept rxing busy for
//! 16 s of CPU: its finder search is combinatorial). So it is bounded from outside:
//! - the body ([`BODY_IMAGE_MAX`], refused on `Content-Length` before it is read), images
//!   per client ([`PER_CLIENT_PER_SECOND`], bursts of [`PER_CLIENT_BURST`], taken before the
//!   body is read: a phone's camera loop sends 2–3 frames a second), at most
//!   [`DECODES_PER_CLIENT_MAX`] at once per client;
//! - the format and declared pixels, checked on the header before queueing;
//! - decodes at once ([`decodes_in_flight_max`], waited for at most [`DECODE_QUEUE_WAIT`],
//!   then 503);
//! - each decode runs in a worker process (`tracemark decode-worker`, [`worker_main`]) at
//!   lower priority, with a CPU-time and memory rlimit, killed after [`DECODE_WALL_MAX`] or
//!   when the client goes away: a pathological image costs at most that, and never the
//!   registry's own threads. (Without a worker program — a library user's choice —
//!   decoding runs on the blocking pool, bounded only between passes.)
//! - decode time per client: a budget of [`DECODE_SECONDS_PER_CLIENT_PER_MINUTE`], bursts
//!   of [`DECODE_SECONDS_PER_CLIENT_BURST`], paid after each decode with its measured
//!   time; a client over it gets 429 with `Retry-After` until it has drained. A client's
//!   second decode at once only while more than half the decoders are free;
//! - a picture whose decode ran out of time (by its BLAKE3 hash, the last
//!   [`TIMED_OUT_PICTURES_MAX`]) is refused at once, without a decoder, if sent again.
//!
//! Label sheets (`GET /api/v1/orders/{id}/labels`) are rendered [`SHEETS_IN_FLIGHT_MAX`]
//! at a time, each participant with at most one sheet queued or rendering (429 else), in
//! the order asked: a producer asking for sheet after sheet waits behind everyone who
//! asked meanwhile, so it cannot keep the renderer.

use crate::limit::RateLimit;
use crate::{AppState, Problem};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest image body: `labels::decode::BYTES_MAX` (8 MiB; a 12-Mpx phone JPEG is 2–6 MiB).
pub const BODY_IMAGE_MAX: usize = labels::decode::BYTES_MAX;
/// Images one client (address; IPv6 /64) may send a second.
pub const PER_CLIENT_PER_SECOND: u32 = 5;
/// … in bursts of at most this many.
pub const PER_CLIENT_BURST: u32 = 10;
/// How long a request waits for a free decoder before a 503: past [`DECODE_WALL_MAX`], so
/// that a photo queued behind pathological ones gets the first decoder they free (a
/// client has at most [`DECODES_PER_CLIENT_MAX`] queued or running, the queue is in order).
pub const DECODE_QUEUE_WAIT: Duration = Duration::from_secs(6);
/// Decode time one client (address; IPv6 /64) may spend, in seconds a minute: a quarter
/// of one decoder. An honest scan decodes in 0.1–0.3 s and stops at the first frame that
/// reads; a pathological picture costs [`DECODE_WALL_MAX`], so past the burst a client
/// sending such pictures gets one decoder for 5 s every 20 s.
pub const DECODE_SECONDS_PER_CLIENT_PER_MINUTE: f64 = 15.0;
/// … of which this many seconds may be spent at once (three pathological pictures, or a
/// minute of a camera loop) before the budget refuses.
pub const DECODE_SECONDS_PER_CLIENT_BURST: f64 = 15.0;
/// Clients whose decode budget is remembered (about 50 bytes each: 5 MB); past it, those
/// whose budget has drained are forgotten, and if still full, everyone's (one more burst).
pub const DECODE_BUDGET_CLIENTS_MAX: usize = 100_000;
/// Pictures remembered as having run out of decode time (32 bytes of hash each: 128 KiB),
/// the oldest forgotten first: the same picture sent again is refused at once.
pub const TIMED_OUT_PICTURES_MAX: usize = 4_096;
/// How long a label sheet request waits for the renderer before a 503: a sheet of 2,000
/// labels takes about 3 s, and each participant has at most one sheet queued, so 30 s is
/// ten participants ahead.
pub const SHEET_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// Decodes running at once: two per core, at least 4. Each is a niced worker process that
/// yields the CPU to the registry and dies at [`DECODE_WALL_MAX`], so more workers than cores
/// cost latency, not the registry's answers.
pub fn decodes_in_flight_max() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (2 * n.get()).max(4))
}

/// Decodes one client (address; IPv6 /64) may have running at once: a few, because many
/// phones share one IPv4 address behind a carrier's NAT; at most half of
/// [`decodes_in_flight_max`] on any machine of 2 cores or more.
pub const DECODES_PER_CLIENT_MAX: usize = 2;

/// A decode's wall-clock limit in the worker process; then the worker is killed.
pub const DECODE_WALL_MAX: Duration = Duration::from_secs(5);
/// The worker's CPU-time rlimit, in seconds: the kernel ends it past this even if the
/// server could not.
pub const WORKER_CPU_SECS_MAX: u64 = 6;
/// The worker's address-space rlimit (a 24-Mpx image and rxing's copies fit well).
pub const WORKER_MEMORY_MAX: u64 = 2 << 30;
/// The worker's niceness: photos yield the CPU to the registry's writer and tills.
pub const WORKER_NICE: i32 = 10;
/// Label sheets rendered at once (owners' PDFs; their own permits, so photos cannot
/// starve them).
pub const SHEETS_IN_FLIGHT_MAX: usize = 1;

/// The image endpoint's shared limits.
pub struct ImageLimits {
    per_client: RateLimit,
    decoders: Arc<tokio::sync::Semaphore>,
    sheets: Arc<tokio::sync::Semaphore>,
    /// Clients with decodes in flight, and how many.
    busy: parking_lot::Mutex<std::collections::HashMap<crate::limit::Client, usize>>,
    /// Decode time spent per client: seconds owed, as of when.
    budgets: parking_lot::Mutex<std::collections::HashMap<crate::limit::Client, (f64, Instant)>>,
    /// Hashes of pictures that ran out of decode time, and their order (oldest first).
    timed_out: parking_lot::Mutex<TimedOut>,
    /// Participants with a sheet queued or rendering.
    sheets_queued: parking_lot::Mutex<std::collections::HashSet<types::model::ParticipantId>>,
    /// The decode worker program (`tracemark`), run as `PROGRAM decode-worker`.
    worker: Option<std::path::PathBuf>,
}

impl ImageLimits {
    /// The limits, decoding in `worker` processes when given.
    pub fn new(worker: Option<std::path::PathBuf>) -> Self {
        ImageLimits {
            per_client: RateLimit::per_period(
                PER_CLIENT_PER_SECOND,
                Duration::from_secs(1),
                PER_CLIENT_BURST,
                &format!("at most {PER_CLIENT_PER_SECOND} images a second"),
            ),
            decoders: Arc::new(tokio::sync::Semaphore::new(decodes_in_flight_max())),
            sheets: Arc::new(tokio::sync::Semaphore::new(SHEETS_IN_FLIGHT_MAX)),
            busy: parking_lot::Mutex::new(std::collections::HashMap::new()),
            budgets: parking_lot::Mutex::new(std::collections::HashMap::new()),
            timed_out: parking_lot::Mutex::new(TimedOut::default()),
            sheets_queued: parking_lot::Mutex::new(std::collections::HashSet::new()),
            worker,
        }
    }

    /// `Err(seconds to wait)` when `client` has spent its decode budget.
    fn budget_left(&self, client: crate::limit::Client, now: Instant) -> Result<(), u64> {
        let owed = self
            .budgets
            .lock()
            .get(&client)
            .map_or(0.0, |&(owed, at)| drained(owed, at, now));
        if owed < DECODE_SECONDS_PER_CLIENT_BURST {
            return Ok(());
        }
        let rate = DECODE_SECONDS_PER_CLIENT_PER_MINUTE / 60.0;
        let wait = (owed - DECODE_SECONDS_PER_CLIENT_BURST) / rate;
        Err((wait.ceil() as u64).max(1))
    }

    /// Charges `client` `spent` of decode time.
    fn charge(&self, client: crate::limit::Client, spent: Duration, now: Instant) {
        let mut b = self.budgets.lock();
        if b.len() >= DECODE_BUDGET_CLIENTS_MAX && !b.contains_key(&client) {
            b.retain(|_, &mut (owed, at)| drained(owed, at, now) > 0.0);
            if b.len() >= DECODE_BUDGET_CLIENTS_MAX {
                tracing::warn!("over {DECODE_BUDGET_CLIENTS_MAX} photo clients: budgets afresh");
                b.clear();
            }
        }
        let owed = b
            .get(&client)
            .map_or(0.0, |&(owed, at)| drained(owed, at, now));
        b.insert(client, (owed + spent.as_secs_f64(), now));
    }
}

/// What `owed` seconds of decode time, as of `at`, are at `now` (paid back at
/// [`DECODE_SECONDS_PER_CLIENT_PER_MINUTE`]).
fn drained(owed: f64, at: Instant, now: Instant) -> f64 {
    let rate = DECODE_SECONDS_PER_CLIENT_PER_MINUTE / 60.0;
    (owed - now.saturating_duration_since(at).as_secs_f64() * rate).max(0.0)
}

/// Pictures that ran out of decode time, by hash: the last [`TIMED_OUT_PICTURES_MAX`].
#[derive(Default)]
struct TimedOut {
    known: std::collections::HashSet<[u8; 32]>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl TimedOut {
    fn insert(&mut self, hash: [u8; 32]) {
        if !self.known.insert(hash) {
            return;
        }
        self.order.push_back(hash);
        while self.order.len() > TIMED_OUT_PICTURES_MAX {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
    }
}

/// A participant's place in the sheet queue; given back when dropped.
struct SheetTurn {
    limits: Arc<ImageLimits>,
    participant: types::model::ParticipantId,
}

impl Drop for SheetTurn {
    fn drop(&mut self) {
        self.limits.sheets_queued.lock().remove(&self.participant);
    }
}

/// Marks a client busy while its decode runs.
struct BusyGuard<'a> {
    limits: &'a ImageLimits,
    client: crate::limit::Client,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        let mut busy = self.limits.busy.lock();
        if let Some(n) = busy.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.client);
            }
        }
    }
}

/// One code the worker read.
#[derive(Serialize, serde::Deserialize)]
struct WorkerCode {
    symbology: String,
    code: String,
}

/// The worker's one line of output.
#[derive(Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerAnswer {
    Codes(Vec<WorkerCode>),
    Error {
        status: u16,
        reason: String,
        message: String,
    },
}

/// `tracemark decode-worker`: the image on standard input → one JSON line on standard
/// output. Lowers its own priority and sets its CPU-time and memory limits first.
pub fn worker_main() -> i32 {
    use std::io::{Read, Write};
    limit_this_process();
    let limits = labels::decode::Limits::default();
    let mut bytes = Vec::new();
    if std::io::stdin()
        .take(limits.bytes_max as u64 + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return 2;
    }
    let answer = match labels::decode::decode(&bytes, &limits) {
        Ok(found) => WorkerAnswer::Codes(
            found
                .into_iter()
                .map(|d| WorkerCode {
                    symbology: d.symbology.as_str().to_string(),
                    code: d.code,
                })
                .collect(),
        ),
        Err(e) => WorkerAnswer::Error {
            status: e.http_status(),
            reason: e.reason().to_string(),
            message: e.to_string(),
        },
    };
    let line = serde_json::to_string(&answer).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").is_err() {
        return 2;
    }
    0
}

fn limit_this_process() {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        let cpu = Rlimit {
            current: Some(WORKER_CPU_SECS_MAX),
            maximum: Some(WORKER_CPU_SECS_MAX + 1),
        };
        let mem = Rlimit {
            current: Some(WORKER_MEMORY_MAX),
            maximum: Some(WORKER_MEMORY_MAX),
        };
        let _ = setrlimit(Resource::Cpu, cpu);
        let _ = setrlimit(Resource::As, mem);
        let _ = rustix::process::nice(WORKER_NICE);
    }
}

/// What a decode found: (symbology word for the answer, code), or the problem.
async fn decode(limits: &ImageLimits, body: Bytes) -> Result<Vec<(&'static str, String)>, Problem> {
    let word = |s: &str| if s == "qr" { "qr" } else { "datamatrix" };
    let Some(program) = &limits.worker else {
        let found = tokio::task::spawn_blocking(move || {
            labels::decode::decode(&body, &labels::decode::Limits::default())
        })
        .await
        .map_err(|_| Problem::new(500, "internal", "Internal error", "the decoder failed"))?
        .map_err(|e| decode_problem(&e))?;
        return Ok(found
            .into_iter()
            .map(|d| (word(d.symbology.as_str()), d.code))
            .collect());
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let unavailable = |why: &str| {
        Problem::new(
            503,
            "busy",
            "Busy",
            format!("the photo decoder {why}; retry"),
        )
    };
    let mut child = tokio::process::Command::new(program)
        .arg("decode-worker")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            tracing::error!("cannot start the decode worker {}: {e}", program.display());
            unavailable("cannot start")
        })?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| unavailable("has no input"))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| unavailable("has no output"))?;
    let run = async move {
        stdin.write_all(&body).await?;
        drop(stdin);
        let mut out = Vec::new();
        (&mut stdout).take(64 * 1024).read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let out = match tokio::time::timeout(DECODE_WALL_MAX, run).await {
        Ok(Ok(out)) => out,
        Ok(Err(_)) => Vec::new(),
        Err(_) => {
            let _ = child.start_kill();
            let mut p = Problem::new(
                422,
                "no-code-found",
                "No code found in the image",
                format!(
                    "the picture could not be read within {} s; take a closer, sharper one",
                    DECODE_WALL_MAX.as_secs()
                ),
            );
            p.errors = vec![registry::CodeError {
                code: String::new(),
                reason: "decode_timeout",
            }];
            return Err(p);
        }
    };
    let _ = child.wait().await;
    match serde_json::from_slice::<WorkerAnswer>(&out) {
        Ok(WorkerAnswer::Codes(codes)) => Ok(codes
            .into_iter()
            .map(|c| (word(&c.symbology), c.code))
            .collect()),
        Ok(WorkerAnswer::Error {
            status,
            reason,
            message,
        }) => {
            let reason: &'static str = match reason.as_str() {
                "image_too_large" => "image_too_large",
                "image_too_many_pixels" => "image_too_many_pixels",
                "image_unsupported" => "image_unsupported",
                "image_corrupt" => "image_corrupt",
                "not_gs1" => "not_gs1",
                _ => "no_code_found",
            };
            Err(problem_of(status, reason, message))
        }
        // Killed by its CPU or memory limit, or crashed: the picture is the cause.
        Err(_) => Err(problem_of(
            422,
            "no_code_found",
            "the picture could not be read within the decoder's limits".into(),
        )),
    }
}

/// What was read from the image.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Scanned {
    /// `datamatrix` or `qr`.
    #[schema(example = "datamatrix")]
    pub symbology: &'static str,
    /// The code's GS1 Digital Link, relative (`/01/…/21/…?91=…&92=…`), crypto tail
    /// included: the verification page to open.
    pub link: String,
    /// Codes in the image (the first is verified).
    pub codes_found: usize,
}

/// The verify answer with what was scanned.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImageAnswer {
    /// As `GET /api/v1/verify`.
    #[serde(flatten)]
    pub verification: registry::VerifyAnswer,
    /// What the image showed.
    pub scanned: Scanned,
}

fn decode_problem(e: &labels::decode::DecodeError) -> Problem {
    problem_of(e.http_status(), e.reason(), e.to_string())
}

fn problem_of(status: u16, reason: &'static str, detail: String) -> Problem {
    let (slug, title) = match status {
        413 => ("too-large", "Image too large"),
        415 => ("unsupported-media-type", "Not a PNG or JPEG image"),
        // Named after the reason: `no_code_found`, `not_gs1` or `decode_timeout`.
        422 => ("no-code-found", "No code found in the image"),
        _ => ("bad-request", "Image cannot be read"),
    };
    let mut p = Problem::new(status, slug, title, detail);
    p.errors = vec![registry::CodeError {
        code: String::new(),
        reason,
    }];
    p
}

/// Takes a cell of the client's image bucket before a byte of the body is read (a layer on
/// the route: the handler's body extractor would read up to 8 MiB first).
pub(crate) async fn limited(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(ip) = crate::peer_ip(req.extensions()) {
        if let Some(mut r) = crate::throttled(&s.image_limits.per_client, ip) {
            // The body is left unread: the connection cannot carry another request.
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return r;
        }
    }
    next.run(req).await
}

#[utoipa::path(
    post,
    path = "/api/v1/verify/image",
    tag = "verification",
    summary = "Verify the code in a photo (Data Matrix or QR)",
    description = "Access: public. The body is the image itself (`Content-Type: image/jpeg` or \
        `image/png`, ≤ 8 MiB, ≤ 24 Mpx, ≤ 12,000 px a side). Answers the verify answer of the \
        first code found, with `scanned` (`symbology`, the code's relative Digital Link \
        `link` with its crypto tail, `codes_found`). 422 `no_code_found` when no code can be \
        read (a camera loop tries its next frame), `not_gs1` when a symbol holds no GS1 \
        marking code; 413 too large; 415 not PNG/JPEG; 400 corrupt. Limits: 5 images a \
        second per address (bursts of 10), 2 at once per address (1 while most decoders \
        are busy); 15 s of decoding a minute per address (bursts of 15 s), then 429 with \
        `Retry-After`; two decodes per core at once, 503 after 6 s waiting; each decode in \
        a worker process killed after 5 s (422 `decode_timeout`), and the same picture \
        sent again refused at once (422 `decode_timeout`).",
    security(()),
    request_body(
        content((crate::responses::Binary = "image/jpeg"), (crate::responses::Binary = "image/png")),
        description = "A JPEG or PNG image"
    ),
    responses(
        (status = 200, description = "The verification of the code in the image", body = ImageAnswer),
        (status = 400, response = crate::responses::BadRequest),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn verify_image(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        ctype.as_str(),
        "image/jpeg" | "image/png" | "image/jpg" | "application/octet-stream"
    ) {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Not a PNG or JPEG image",
            format!(
                "send the image itself as the body with Content-Type image/jpeg or image/png \
                 (got {:?})",
                ctype.chars().take(60).collect::<String>()
            ),
        ));
    }
    let body = crate::body_bytes(body)?;
    // Format and declared size from the header (microseconds), before queueing.
    labels::decode::inspect(&body, &labels::decode::Limits::default())
        .map_err(|e| decode_problem(&e))?;
    let limits = &s.image_limits;
    // A picture that ran out of time before does so again: refused without a decoder.
    let hash = if body.len() > crate::BODY_INLINE_MAX {
        // Megabytes of photo: hashed off the async threads.
        let b = body.clone();
        tokio::task::spawn_blocking(move || *blake3::hash(&b).as_bytes())
            .await
            .map_err(|_| Problem::new(500, "internal", "Internal error", "hashing failed"))?
    } else {
        *blake3::hash(&body).as_bytes()
    };
    if limits.timed_out.lock().known.contains(&hash) {
        return Err(problem_of(
            422,
            "decode_timeout",
            format!(
                "this picture could not be read within {} s before and is refused at once; \
                 take another, closer and sharper one",
                DECODE_WALL_MAX.as_secs()
            ),
        ));
    }
    let client = crate::peer_ip(&ext).map(crate::limit::Client::of);
    if let Some(client) = client {
        if let Err(wait) = limits.budget_left(client, Instant::now()) {
            let mut r = Problem::new(
                429,
                "too-many",
                "Too many requests",
                format!(
                    "this address (IPv6: its /64) has used its photo decoding time (at most \
                     {DECODE_SECONDS_PER_CLIENT_PER_MINUTE} s a minute, {DECODE_SECONDS_PER_CLIENT_BURST} s \
                     at once); retry in {wait} s"
                ),
            )
            .into_response();
            if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(r);
        }
    }
    let _busy = match client {
        Some(client) => {
            let mut busy = limits.busy.lock();
            let n = busy.entry(client).or_insert(0);
            // A second decode at once only while more than half the decoders are free: a
            // few addresses cannot take them all.
            let crowded =
                *n >= 1 && limits.decoders.available_permits() * 2 <= decodes_in_flight_max();
            if *n >= DECODES_PER_CLIENT_MAX || crowded {
                let mut r = Problem::new(
                    429,
                    "too-many",
                    "Too many requests",
                    format!(
                        "at most {DECODES_PER_CLIENT_MAX} images at a time from one address \
                         (IPv6: one /64), one while most decoders are busy: wait for the \
                         answer to the last one"
                    ),
                )
                .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                return Ok(r);
            }
            *n += 1;
            Some(BusyGuard { limits, client })
        }
        None => None,
    };
    let _permit = tokio::time::timeout(DECODE_QUEUE_WAIT, limits.decoders.clone().acquire_owned())
        .await
        .map_err(|_| {
            Problem::new(
                503,
                "busy",
                "Busy",
                "every image decoder is busy; retry in a second",
            )
        })?
        .map_err(|_| Problem::new(503, "busy", "Busy", "the decoders are shut down"))?;
    let started = Instant::now();
    let decoded = decode(limits, body).await;
    if let Some(client) = client {
        limits.charge(client, started.elapsed(), Instant::now());
    }
    let decoded = decoded.inspect_err(|p| {
        if p.errors
            .first()
            .is_some_and(|e| e.reason == "decode_timeout")
        {
            limits.timed_out.lock().insert(hash);
        }
    });
    let found = decoded?;
    let Some((symbology, code)) = found.first().cloned() else {
        return Err(decode_problem(&labels::decode::DecodeError::NotFound));
    };
    let link = gs1::ElementString::parse(&code)
        .and_then(|es| es.to_digital_link(""))
        .map_err(|e| Problem::bad_request(format!("the code read cannot be linked: {e}")))?;
    let checker = crate::public_checker(&s, &ext);
    let reg = s.registry.clone();
    let verification = s
        .read(move || reg.verify_as(&code, checker))
        .await
        .map_err(crate::malformed_code)?;
    Ok(Json(ImageAnswer {
        verification,
        scanned: Scanned {
            symbology,
            link,
            codes_found: found.len(),
        },
    })
    .into_response())
}

/// Most labels in one sheet request: 50 A4 pages of the default 4 × 10 grid, about 3 s of
/// one core (`tracemark bench --only consumer`); a larger order is printed in several
/// (`offset`, `Link: rel=next`).
pub const LABELS_PER_SHEET_MAX: u32 = 2_000;

/// `?offset=&limit=` of a label sheet.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SheetQuery {
    /// Index of the order's first code to print (default 0).
    #[serde(default)]
    offset: Option<u32>,
    /// Labels to print, 1–2,000 (default 2,000, or the rest of the order).
    #[serde(default)]
    #[param(minimum = 1, maximum = 2000)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/labels",
    tag = "orders",
    summary = "A printable PDF sheet of an order's labels",
    description = "Access: the participant that ordered (others get 404), bearer token, the \
        request signed (RFC 9421: `Content-Digest` of the empty body, `Signature-Input`, \
        `Signature`; 401 unsigned: the symbols hold the crypto tails). A4 \
        pages of GS1 Data Matrix labels on a 4 × 10 grid of 45.7 × 25.4 mm labels (Avery \
        L7654 / 3657 mini-label stock: columns every 48.3 mm from 9.7 mm, rows every 25.4 mm \
        from 21.5 mm), filled left to right then top to bottom in the order's code order; \
        each label shows the symbol (crypto tail inside) with `(01)` GTIN and `(21)` serial \
        beside it, and a footer names the order and page. At most 2,000 labels (50 pages) \
        a request: `?offset=&limit=`, and a `Link: <…>; rel=\"next\"` header while codes \
        remain. One sheet at a time per participant (429 while its previous one is queued \
        or printing), served in the order asked; 503 after 30 s in the queue.",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
        SheetQuery,
        crate::responses::SignatureHeaders
    ),
    responses(
        (status = 200, description = "The sheet", content((crate::responses::Binary = "application/pdf"))),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn order_labels(
    State(s): State<AppState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, Problem> {
    // The symbols hold the crypto tails: a signed request, as for the order's codes.
    let p = s
        .tail_reader(&crate::Target { method, uri }, &headers)
        .await?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| Problem::bad_request("the order id must be a UUID"))?;
    let q: SheetQuery = crate::query(q)?;
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(LABELS_PER_SHEET_MAX);
    if limit == 0 || limit > LABELS_PER_SHEET_MAX {
        return Err(Problem::bad_request(format!(
            "`limit` must be 1 to {LABELS_PER_SHEET_MAX} labels; print a large order in \
             several sheets with `offset`"
        )));
    }
    // One sheet queued or rendering per participant: another waits its turn behind
    // everyone who asked meanwhile (the permits are handed out in order).
    if !s.image_limits.sheets_queued.lock().insert(p.id) {
        let mut r = Problem::new(
            429,
            "too-many",
            "Too many requests",
            "your previous label sheet is still queued or being printed: one at a time per \
             participant; ask for the next when it has come",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return Ok(r);
    }
    let turn = SheetTurn {
        limits: s.image_limits.clone(),
        participant: p.id,
    };
    // Rendering is CPU work, with its own permits (photos cannot starve owners' sheets).
    let permit = tokio::time::timeout(
        SHEET_QUEUE_WAIT,
        s.image_limits.sheets.clone().acquire_owned(),
    )
    .await
    .map_err(|_| Problem::new(503, "busy", "Busy", "every renderer is busy; retry shortly"))?
    .map_err(|_| Problem::new(503, "busy", "Busy", "the renderers are shut down"))?;
    let reg = s.registry.clone();
    let (pdf, next) = s
        .blocking(move || {
            let _permit = permit;
            let _turn = turn;
            let page = reg.order_codes(&p, &id, offset, limit)?;
            if page.codes.is_empty() {
                return Err(registry::Error::invalid(format!(
                    "the order has no codes from offset {offset}"
                )));
            }
            let layout = labels::sheet::Layout::default();
            let total = reg.order(&p, &id)?.quantity as usize;
            let title = format!("Tracemark order {id}");
            // A part that starts on a page boundary is numbered as a page of the whole order's
            // sheet ("page 3 of 250"); any other offset is a sheet of its own.
            let pdf = if (offset as usize).is_multiple_of(layout.per_page()) {
                labels::sheet::pdf_part(&title, &page.codes, offset as usize, total, &layout)
            } else {
                labels::sheet::pdf(&title, &page.codes, &layout)
            }
            .map_err(|e| registry::Error::invalid(format!("cannot print: {e}")))?;
            Ok((pdf, page.next_offset))
        })
        .await
        .map_err(crate::malformed_code)?;
    let mut r = (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tracemark-order-{id}-{offset}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response();
    if let Some(n) = next {
        if let Ok(v) = header::HeaderValue::from_str(&format!(
            "</api/v1/orders/{id}/labels?offset={n}&limit={limit}>; rel=\"next\""
        )) {
            r.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(i: u8) -> crate::limit::Client {
        crate::limit::Client::of(std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, i)))
    }

    #[test]
    fn the_decode_budget_refuses_past_its_burst_and_drains() {
        let l = ImageLimits::new(None);
        let now = Instant::now();
        // Three pathological pictures (5 s each) spend the burst of 15 s.
        for _ in 0..3 {
            assert!(l.budget_left(client(1), now).is_ok());
            l.charge(client(1), DECODE_WALL_MAX, now);
        }
        let wait = l.budget_left(client(1), now).expect_err("spent");
        // 15 s a minute: one second of decoding comes back every 4 s.
        assert_eq!(
            wait, 1,
            "owed exactly the burst: the next moment it is under"
        );
        l.charge(client(1), DECODE_WALL_MAX, now);
        assert_eq!(l.budget_left(client(1), now), Err(20));
        // Another address has its own budget.
        assert!(l.budget_left(client(2), now).is_ok());
        // 20 s later, 5 s of decoding have drained.
        let later = now + Duration::from_secs(21);
        assert!(l.budget_left(client(1), later).is_ok());
    }

    #[test]
    fn timed_out_pictures_are_remembered_up_to_the_cap() {
        let mut t = TimedOut::default();
        for i in 0..TIMED_OUT_PICTURES_MAX as u32 + 10 {
            t.insert(*blake3::hash(&i.to_le_bytes()).as_bytes());
        }
        assert_eq!(t.known.len(), TIMED_OUT_PICTURES_MAX);
        assert_eq!(t.order.len(), TIMED_OUT_PICTURES_MAX);
        // The oldest went first; the newest is kept.
        assert!(!t
            .known
            .contains(blake3::hash(&0u32.to_le_bytes()).as_bytes()));
        let last = TIMED_OUT_PICTURES_MAX as u32 + 9;
        assert!(t
            .known
            .contains(blake3::hash(&last.to_le_bytes()).as_bytes()));
        // The same picture twice takes one place.
        t.insert(*blake3::hash(&last.to_le_bytes()).as_bytes());
        assert_eq!(t.order.len(), TIMED_OUT_PICTURES_MAX);
    }
}
