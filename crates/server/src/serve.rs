//! The serving loop: hyper's HTTP/1 server over the router, with a named limit and a
//! timeout on everything a client can make the server hold, so that no client can exhaust
//! it.
//!
//! | what a client holds              | limit                                  | default   |
//! |----------------------------------|----------------------------------------|-----------|
//! | connections                      | [`CONNECTIONS_MAX`], idle ones evicted | 4,096     |
//! | a connection sending no request  | [`HEADER_READ_TIMEOUT`] (also idle keep-alive) | 10 s |
//! | header bytes / header lines      | [`HEADER_BYTES_MAX`] / [`HEADERS_MAX`]  | 16 KiB / 64 |
//! | a request body                   | [`BODY_READ_TIMEOUT`] (size: `BODY_LEN_MAX` in the router) | 60 s |
//! | a request, answer included       | [`REQUEST_TIMEOUT`]                    | 90 s      |
//! | an answer the client does not read | [`SEND_TIMEOUT`]                     | 30 s      |
//! | handshakes not yet accepted      | [`LISTEN_BACKLOG`] (listeners of [`bind`]) | 4,096 |
//!
//! At the connection cap a new connection takes the slot of the connection that has been
//! idle longest (one that has not sent a whole request head yet, or sits between requests);
//! only when every connection is inside a request is the newcomer answered a canned 503
//! problem and closed at once. So idle or slowloris sockets, however many, never lock out a
//! client that sends its request: to push one out an attacker has to open
//! [`CONNECTIONS_MAX`] connections within that client's round trip.
//!
//! Refusals are RFC 9457 problems: 408 `timeout` for a body not sent in time, 503 `busy`
//! for the cap or an answer the server could not give in time. A client that stalls in
//! its request head or does not read its answer is disconnected: nobody is listening for a
//! reply then. A head hyper cannot parse, or one over [`HEADER_BYTES_MAX`], gets hyper's
//! own bodiless 400 or 431 before the router is reached.

use crate::problem::Problem;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tower::ServiceExt;

/// Most connections open at once. Each costs a file descriptor and, idle, roughly 10 to
/// 20 KB by estimate (task, hyper's 8 KiB read buffer, table entry; more while a request
/// is in flight), so the cap is under 100 MB of idle connections; it is far more than the busiest clients need
/// (a client keeps a few connections; a till, one) and it is what the process's open-file
/// limit must allow: [`serve`] raises the soft limit to fit, or lowers the cap and warns.
pub const CONNECTIONS_MAX: usize = 4_096;

/// Longest wait for a whole request head, from the connection's start or the end of the
/// previous answer (hyper's `header_read_timeout` also runs while a keep-alive connection
/// idles between requests). Any client sends its head in one round trip: 10 s leaves room
/// for a bad mobile link and still frees a slowloris or idle socket quickly.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head (request line and headers). Ours are small: a bearer token and a
/// 88-character signature; 16 KiB is the common ceiling of servers and proxies. Over it,
/// hyper answers 431 and closes.
pub const HEADER_BYTES_MAX: usize = 16 * 1024;

/// Most header lines in a request head: a client sends about ten.
pub const HEADERS_MAX: usize = 64;

/// Longest wait for a whole request body, from the end of its head. The largest body
/// (`BODY_LEN_MAX`, 16 MiB) arrives in 60 s at 2.3 Mbit/s; documents are usually far
/// smaller. Over it: 408 `timeout` problem, connection closed.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The slowest body accepted: a body announced by `Content-Length` must arrive at this
/// rate at least, so a small one (a 4 KiB sign-in) cannot hold its connection for the whole
/// [`BODY_READ_TIMEOUT`]: its deadline is its length at this rate, at least
/// [`BODY_READ_TIMEOUT_MIN`].
pub const BODY_RATE_MIN_BYTES_PER_SEC: u64 = 64 * 1024;
/// The shortest body deadline (a round trip or two on a bad mobile link).
pub const BODY_READ_TIMEOUT_MIN: Duration = Duration::from_secs(5);
/// Requests one client (an IPv4 address or an IPv6 /64) may have in flight at once: one
/// host cannot hold every slot with slow requests (idle connections are evicted anyway).
/// Behind a reverse proxy every client is the proxy: raise it there.
pub const REQUESTS_PER_CLIENT_MAX: usize = 128;

/// Longest a request may take, from the end of its head to its answer: the body's 60 s and
/// 30 s of work (the largest document is applied in a few seconds). Over it: 408 if the
/// body was still arriving, else a 503 `busy` problem.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Longest a write of an answer may stall because the client reads nothing (its TCP window
/// stays shut): such a client is disconnected rather than holding its slot.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// After the shutdown signal: how long requests in flight may still finish (idle
/// connections close at once). Under systemd's 90 s stop timeout; a document answered
/// is durable and documents are idempotent, so a client cut off resends safely.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// At the cap: how long a newcomer waits for the slot of the idle connection it evicted.
const EVICTION_WAIT: Duration = Duration::from_millis(100);

/// After a failed `accept` (out of file descriptors, memory): pause before the next.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// File descriptors kept for everything but client connections (the store's files, the
/// listener, logs) when fitting [`CONNECTIONS_MAX`] under the open-file limit.
const FDS_RESERVED: u64 = 512;

/// Connections the kernel may hold accepted-but-not-yet-taken for a listener made by
/// [`bind`]. The usual 128 (std's and mio's) overflows under any burst of connections, and
/// a client whose handshake is dropped waits a whole SYN retransmission (1 s, then 3 s)
/// before it is even queued. The kernel caps it at `net.core.somaxconn` (4,096 by default
/// since Linux 5.4); each entry is one socket the cap then admits or sheds in microseconds.
pub const LISTEN_BACKLOG: u32 = 4_096;

/// A listener on `addr` with a backlog of [`LISTEN_BACKLOG`].
pub async fn bind(addr: impl tokio::net::ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As std and mio do: a restarted server can bind at once.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// The serving limits; [`Limits::default`] has the constants above.
#[derive(Clone, Debug)]
pub struct Limits {
    /// [`CONNECTIONS_MAX`].
    pub connections_max: usize,
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// [`HEADER_BYTES_MAX`].
    pub header_bytes_max: usize,
    /// [`HEADERS_MAX`].
    pub headers_max: usize,
    /// [`BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// [`SEND_TIMEOUT`].
    pub send_timeout: Duration,
    /// [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections_max: CONNECTIONS_MAX,
            header_read_timeout: HEADER_READ_TIMEOUT,
            header_bytes_max: HEADER_BYTES_MAX,
            headers_max: HEADERS_MAX,
            body_read_timeout: BODY_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            send_timeout: SEND_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves; then stops
/// accepting, lets requests in flight finish (for at most `shutdown_grace`) and returns.
/// Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let mut limits = limits;
    limits.connections_max = connections_allowed(limits.connections_max.max(1));
    let limits = Arc::new(limits);
    let slots = Arc::new(Slots {
        permits: Arc::new(Semaphore::new(limits.connections_max)),
        table: Mutex::new(Table::default()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let shed = shed_answer();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!("accept failed: {e}; pausing");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    }
                }
            },
        };
        let client = crate::limit::Client::of(remote.ip());
        let Some(permit) = slots.admit().await else {
            metrics::counter!("tracemark_http_connections_shed_total").increment(1);
            // Never blocks: the answer fits the empty socket buffer, or is dropped.
            let _ = stream.try_write(&shed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let tracked = slots.track(client);
        tokio::spawn(connection(
            stream,
            remote,
            app.clone(),
            limits.clone(),
            tracked,
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.connections_max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still busy {} s after the shutdown signal: dropping them",
            limits.shutdown_grace.as_secs()
        );
    }
    Ok(())
}

/// Errors of one connection in `accept`, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The connection cap the open-file limit allows: raises the soft limit towards the hard
/// one if `want` does not fit, else lowers the cap and says so.
fn connections_allowed(want: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let need = want as u64 + FDS_RESERVED;
        let limit = getrlimit(Resource::Nofile);
        let mut soft = limit.current.unwrap_or(u64::MAX);
        if soft >= need {
            return want;
        }
        let target = need.min(limit.maximum.unwrap_or(u64::MAX));
        if target > soft
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(target),
                    maximum: limit.maximum,
                },
            )
            .is_ok()
        {
            soft = target;
        }
        if soft >= need {
            return want;
        }
        let allowed = usize::try_from(soft.saturating_sub(FDS_RESERVED).max(16)).unwrap_or(want);
        tracing::warn!(
            "the open-file limit ({soft}) allows {allowed} connections, not {want}: \
             raise it (ulimit -n, LimitNOFILE) to serve more"
        );
        allowed.min(want)
    }
    #[cfg(not(unix))]
    {
        want
    }
}

/// The answer to a connection over the cap when none can be evicted.
fn shed_answer() -> Vec<u8> {
    let p = Problem::new(
        503,
        "busy",
        "Busy",
        "the server is at its connection limit; retry shortly",
    );
    let body = serde_json::to_vec(&p).unwrap_or_default();
    let mut a = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    a.extend_from_slice(&body);
    a
}

// ---- the connection table ----

/// The connection slots and which connections are idle, oldest first.
struct Slots {
    permits: Arc<Semaphore>,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    next_age: u64,
    /// Requests in flight per client (IPv4 address or IPv6 /64).
    busy_per_client: HashMap<crate::limit::Client, usize>,
    /// Idle connections by when they became idle.
    idle: BTreeMap<u64, u64>,
    conns: HashMap<u64, Entry>,
}

struct Entry {
    /// Requests in flight (answers not yet sent).
    busy: u32,
    /// Key in `idle`, when idle.
    idle_age: Option<u64>,
    evicted: bool,
    evict: Arc<Notify>,
}

impl Table {
    fn set_idle(&mut self, id: u64) {
        let age = self.next_age;
        if let Some(e) = self.conns.get_mut(&id) {
            if e.busy == 0 && !e.evicted && e.idle_age.is_none() {
                self.next_age += 1;
                e.idle_age = Some(age);
                self.idle.insert(age, id);
            }
        }
    }
}

impl Slots {
    /// A slot for a new connection: a free one, or the one of the connection idle the
    /// longest, which is told to close; `None` when every connection is in a request.
    async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Some(p);
        }
        if !self.evict_oldest_idle() {
            return None;
        }
        metrics::counter!("tracemark_http_connections_evicted_total").increment(1);
        tokio::time::timeout(EVICTION_WAIT, self.permits.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    fn evict_oldest_idle(&self) -> bool {
        let mut t = self.table.lock();
        while let Some((_, id)) = t.idle.pop_first() {
            if let Some(e) = t.conns.get_mut(&id) {
                e.idle_age = None;
                e.evicted = true;
                e.evict.notify_one();
                return true;
            }
        }
        false
    }

    /// Enters a new connection, idle until its first request head arrives.
    fn track(self: &Arc<Self>, client: crate::limit::Client) -> Tracked {
        let evict = Arc::new(Notify::new());
        let mut t = self.table.lock();
        let id = t.next_id;
        t.next_id += 1;
        t.conns.insert(
            id,
            Entry {
                busy: 0,
                idle_age: None,
                evicted: false,
                evict: evict.clone(),
            },
        );
        t.set_idle(id);
        Tracked {
            id,
            client,
            slots: self.clone(),
            evict,
        }
    }
}

/// A connection's place in the table; leaves it when dropped.
struct Tracked {
    id: u64,
    client: crate::limit::Client,
    slots: Arc<Slots>,
    evict: Arc<Notify>,
}

impl Tracked {
    /// Marks a request in flight until the guard (kept in the answer's body) drops.
    /// `None` when the client has [`REQUESTS_PER_CLIENT_MAX`] requests in flight already.
    fn busy(&self) -> Option<Busy> {
        let mut t = self.slots.table.lock();
        let n = t.busy_per_client.entry(self.client).or_insert(0);
        if *n >= REQUESTS_PER_CLIENT_MAX {
            return None;
        }
        *n += 1;
        if let Some(e) = t.conns.get_mut(&self.id) {
            e.busy += 1;
            if let Some(age) = e.idle_age.take() {
                t.idle.remove(&age);
            }
        }
        Some(Busy {
            id: self.id,
            client: self.client,
            slots: self.slots.clone(),
        })
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut t = self.slots.table.lock();
        if let Some(age) = t.conns.remove(&self.id).and_then(|e| e.idle_age) {
            t.idle.remove(&age);
        }
    }
}

/// A request in flight on a connection: not evictable until its answer is sent.
struct Busy {
    id: u64,
    client: crate::limit::Client,
    slots: Arc<Slots>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut t = self.slots.table.lock();
        if let Some(n) = t.busy_per_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.busy_per_client.remove(&self.client);
            }
        }
        if let Some(e) = t.conns.get_mut(&self.id) {
            e.busy = e.busy.saturating_sub(1);
        }
        t.set_idle(self.id);
    }
}

// ---- one connection ----

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    limits: Arc<Limits>,
    tracked: Tracked,
    mut stop: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let tracked = Arc::new(tracked);
    let evict = tracked.evict.clone();
    let io = TokioIo::new(SendTimeout {
        stream,
        timeout: limits.send_timeout,
        stalled: None,
    });
    let service = {
        let limits = limits.clone();
        let tracked = tracked.clone();
        hyper::service::service_fn(move |req| {
            let (app, limits, busy) = (app.clone(), limits.clone(), tracked.busy());
            async move {
                match busy {
                    Some(busy) => request(app, remote, limits, busy, req).await,
                    None => {
                        metrics::counter!("tracemark_http_requests_shed_total").increment(1);
                        let mut r = crate::problem::Problem::new(
                            429,
                            "too-many",
                            "Too many requests",
                            format!(
                                "at most {REQUESTS_PER_CLIENT_MAX} requests in flight from one address"
                            ),
                        )
                        .into_response();
                        r.headers_mut().insert(
                            hyper::header::CONNECTION,
                            hyper::header::HeaderValue::from_static("close"),
                        );
                        Ok(r)
                    }
                }
            }
        })
    };
    // Boxed so that dropping it below closes the socket before the slot is given back.
    let mut served = Box::pin(
        http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.header_bytes_max)
            .max_headers(limits.headers_max)
            .serve_connection(io, service),
    );
    let ended = tokio::select! {
        r = served.as_mut() => Some(r),
        () = evict.notified() => None,
        () = async { drop(stop.wait_for(|stop| *stop).await) } => {
            served.as_mut().graceful_shutdown();
            Some(served.as_mut().await)
        }
    };
    if let Some(Err(e)) = ended {
        tracing::debug!(%remote, "connection ended: {e}");
    }
    // The slot is free once the socket is closed and the table entry gone.
    drop(served);
    drop(tracked);
    drop(permit);
}

const BODY_PENDING: u8 = 0;
const BODY_DONE: u8 = 1;
const BODY_LATE: u8 = 2;

/// One request: the peer's address, the body deadline, the request deadline.
async fn request(
    app: Router,
    remote: SocketAddr,
    limits: Arc<Limits>,
    busy: Busy,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    use http_body::Body as _;
    let body_state = Arc::new(AtomicU8::new(if req.body().is_end_stream() {
        BODY_DONE
    } else {
        BODY_PENDING
    }));
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(remote));
    let body = if body_state.load(Ordering::Relaxed) == BODY_DONE {
        // Nothing to wait for (most GETs): no timer.
        Body::new(body)
    } else {
        // A body announced small must come quickly; an unannounced one gets the full time.
        let announced = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let deadline = announced.map_or(limits.body_read_timeout, |n| {
            Duration::from_secs(n / BODY_RATE_MIN_BYTES_PER_SEC)
                .max(BODY_READ_TIMEOUT_MIN)
                .min(limits.body_read_timeout)
        });
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(deadline)),
            state: body_state.clone(),
        })
    };
    let answer = tokio::time::timeout(
        limits.request_timeout,
        app.oneshot(Request::from_parts(parts, body)),
    )
    .await;
    let late = |what: &str| {
        metrics::counter!("tracemark_http_requests_timed_out_total").increment(1);
        let mut r = Problem::new(
            408,
            "timeout",
            "Request timeout",
            format!("the request's body did not arrive within {what}"),
        )
        .into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        r
    };
    let resp = match answer {
        Ok(Ok(r)) if body_state.load(Ordering::Acquire) != BODY_LATE => r,
        Ok(Ok(_)) => late(&format!("{} s", limits.body_read_timeout.as_secs_f64())),
        Ok(Err(never)) => match never {},
        Err(_) if body_state.load(Ordering::Acquire) == BODY_DONE => {
            metrics::counter!("tracemark_http_requests_timed_out_total").increment(1);
            let mut r = Problem::new(
                503,
                "busy",
                "Busy",
                format!(
                    "no answer within {} s; the request may have taken effect: resend the \
                     same one (documents are idempotent by id)",
                    limits.request_timeout.as_secs_f64()
                ),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(_) => late(&format!(
            "the request's {} s",
            limits.request_timeout.as_secs_f64()
        )),
    };
    Ok(resp.map(|inner| Body::new(BusyBody { inner, _busy: busy })))
}

/// A request body with a deadline for its last byte.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    state: Arc<AtomicU8>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.state.store(BODY_DONE, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.state.store(BODY_DONE, Ordering::Release);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.state.store(BODY_LATE, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the body did not arrive in time",
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body; the connection is busy until it is sent (or dropped).
struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket whose writes fail once stalled for `timeout` (the client reads nothing).
struct SendTimeout {
    stream: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl SendTimeout {
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stalled.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing of the answer in time",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncRead for SendTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.guard(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A router with a slow route and one echoing the peer's address.
    fn app() -> Router {
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "done"
                }),
            )
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
    }

    async fn answer(s: &mut TcpStream) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out))
            .await
            .expect("the server closes the connection")
            .expect("read");
        String::from_utf8_lossy(&out).into_owned()
    }

    async fn start(
        limits: Limits,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<io::Result<()>>,
    ) {
        let listener = bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app(), limits, async {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address() {
        let (addr, _stop, _server) = start(Limits::default()).await;
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let me = s.local_addr().expect("local");
        s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let a = answer(&mut s).await;
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
        assert!(a.ends_with(&me.to_string()), "{a}");
    }

    #[tokio::test]
    async fn shutdown_closes_idle_connections_and_finishes_requests_in_flight() {
        let (addr, stop, server) = start(Limits::default()).await;
        let mut idle = TcpStream::connect(addr).await.expect("connect");
        let mut busy = TcpStream::connect(addr).await.expect("connect");
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).expect("stop");
        // The request in flight is answered, then its connection closed.
        let a = answer(&mut busy).await;
        assert!(a.starts_with("HTTP/1.1 200") && a.ends_with("done"), "{a}");
        // The idle one is closed without an answer.
        assert_eq!(answer(&mut idle).await, "");
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve returns")
            .expect("task")
            .expect("serve");
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }

    #[tokio::test]
    async fn a_slow_answer_is_a_503_problem() {
        let (addr, _stop, _server) = start(Limits {
            request_timeout: Duration::from_millis(200),
            ..Limits::default()
        })
        .await;
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let a = answer(&mut s).await;
        assert!(a.starts_with("HTTP/1.1 503"), "{a}");
        assert!(a.contains("application/problem+json"), "{a}");
        assert!(a.contains("/problems/busy"), "{a}");
    }

    #[test]
    fn the_shed_answer_is_a_complete_problem() {
        let a = String::from_utf8(shed_answer()).expect("utf-8");
        let (head, body) = a.split_once("\r\n\r\n").expect("head");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let p: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(p["status"], 503);
        assert_eq!(p["type"], "/problems/busy");
    }
}
