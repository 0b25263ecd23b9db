//! The serving loop: hyper's HTTP/1 server over the router, with a named limit and a
//! timeout on everything a client can make the server hold, so that no client can exhaust
//! it.
//!
//! | what a client holds              | limit                                  | default   |
//! |----------------------------------|----------------------------------------|-----------|
//! | connections                      | [`CONNECTIONS_MAX`], idle ones evicted | 4,096     |
//! | a connection sending no request  | [`HEADER_READ_TIMEOUT`] (also idle keep-alive) | 10 s |
//! | header bytes / header lines      | [`HEADER_BYTES_MAX`] / [`HEADERS_MAX`]  | 16 KiB / 64 |
//! | a request body                   | [`BODY_RATE_MIN_BYTES_PER_SEC`] after [`BODY_READ_TIMEOUT_MIN`], at most [`BODY_READ_TIMEOUT`] (size: `BODY_LEN_MAX` in the router) | 64 KiB/s after 5 s, 60 s |
//! | a request, answer included       | [`REQUEST_TIMEOUT`]                    | 90 s      |
//! | an answer the client does not read | [`SEND_TIMEOUT`]                     | 30 s      |
//! | handshakes not yet accepted      | [`LISTEN_BACKLOG`] (listeners of [`bind`]) | 4,096 |
//! | requests in flight, one client   | [`REQUESTS_PER_CLIENT_MAX`]            | 128       |
//! | anonymous requests in flight, all | the cap / [`ANONYMOUS_SHARE_DIVISOR`] | 2,048     |
//! | … one client                     | [`ANONYMOUS_PER_CLIENT_MAX`]; [`ANONYMOUS_PER_CLIENT_CROWDED`] once a quarter of the anonymous share is taken | 16; 2 |
//! | … one IPv6 /56                   | [`ANONYMOUS_PER_V6_56_MAX`]            | 64        |
//! | … a client whose body came too slowly | one, none when crowded, for [`SLOW_CLIENT_PENALTY`] | 60 s |
//! | `/health` requests in flight     | [`HEALTH_REQUESTS_MAX`]                | 32        |
//!
//! Requests come in three classes, told apart from the request head alone: a signed-in
//! caller's (a bearer token that checks out: a MAC and an expiry, see [`Credentials`]),
//! `/health`, and anonymous ones (sign-in, public verification, complaints, pages, a
//! token that does not check out). Anonymous requests may hold at most half of the
//! connection slots, and each client only a few of those, so that however many slow
//! anonymous requests a crowd of addresses keeps in flight, the other half stays for
//! signed-in participants and `/health` (which has a small pool of its own).
//!
//! At the connection cap a new connection takes the slot of the connection that has been
//! idle longest (one that has not sent a whole request head yet, or sits between requests);
//! only when every connection is inside a request is the newcomer answered a canned 503
//! problem and closed at once. So idle or slowloris sockets, however many, never lock out a
//! client that sends its request: to push one out an attacker has to open
//! [`CONNECTIONS_MAX`] connections within that client's round trip. And since a request's
//! body must keep up a minimum rate, a chunked sign-in body dribbled a byte every few
//! seconds is cut after [`BODY_READ_TIMEOUT_MIN`], not [`BODY_READ_TIMEOUT`], and its client
//! held to one anonymous request (none while crowded) for [`SLOW_CLIENT_PENALTY`]:
//! reconnecting after the 408 gains it nothing.
//!
//! Refusals are RFC 9457 problems: 408 `timeout` for a body not sent in time, 429
//! `too-many` for a client over its share, 503 `busy` for the cap, a full share or an
//! answer the server could not give in time. A client that stalls in
//! its request head or does not read its answer is disconnected: nobody is listening for a
//! reply then. A head hyper cannot parse, or one over [`HEADER_BYTES_MAX`], gets hyper's
//! own bodiless 400 or 431 before the router is reached. Every answer made here carries
//! `X-Content-Type-Options: nosniff`, as the router's do.

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
use std::time::{Duration, Instant};
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
/// The slowest body accepted, announced (`Content-Length`) or not (chunked): after
/// [`BODY_READ_TIMEOUT_MIN`], a body must have come at this rate at least (the bytes
/// received so far against the time since its head), so a small one (a sign-in of a few
/// hundred bytes) cannot hold its connection for the whole [`BODY_READ_TIMEOUT`]: its
/// deadline is its size at this rate plus [`BODY_READ_TIMEOUT_MIN`]. A phone on a poor
/// link still uploads half a megabit a second; a 3 MB photo then has 50 s.
pub const BODY_RATE_MIN_BYTES_PER_SEC: u64 = 64 * 1024;
/// The grace before [`BODY_RATE_MIN_BYTES_PER_SEC`] applies, and so the whole deadline of a
/// small body (a round trip or two on a bad mobile link).
pub const BODY_READ_TIMEOUT_MIN: Duration = Duration::from_secs(5);
/// Requests one client (an IPv4 address or an IPv6 /64) may have in flight at once: one
/// host cannot hold every slot with slow requests (idle connections are evicted anyway).
/// Behind a reverse proxy every client is the proxy: raise it there.
pub const REQUESTS_PER_CLIENT_MAX: usize = 128;

/// Anonymous requests in flight, all clients together, are at most the connection cap
/// divided by this: half the slots, whatever a crowd of addresses does, stay for signed-in
/// participants and `/health`. Anonymous requests are short (a verification answers in
/// milliseconds, a photo in at most 5 s): 2,048 of them at once is thousands a second.
pub const ANONYMOUS_SHARE_DIVISOR: usize = 2;
/// Anonymous requests one client (IPv4 address, IPv6 /64) may have in flight at once while
/// the anonymous share is under a quarter taken: many phones share a carrier's NAT
/// address, but a verification takes milliseconds, so 16 at once is hundreds a second.
pub const ANONYMOUS_PER_CLIENT_MAX: usize = 16;
/// … and once a quarter of the anonymous share is taken ("crowded"): the rest is shared
/// out thinly, so that 256 addresses take at most a quarter plus 512 slots.
pub const ANONYMOUS_PER_CLIENT_CROWDED: usize = 2;
/// Anonymous requests in flight from one IPv6 /56 (a home or office allocation of 256
/// /64s): one subscriber cannot take the share by spreading over its own /64s.
pub const ANONYMOUS_PER_V6_56_MAX: usize = 4 * ANONYMOUS_PER_CLIENT_MAX;
/// `/health` requests in flight at once: its own pool, never taken by anyone else's
/// requests. The answer is cached for a second, so a probe takes microseconds; 32 is more
/// than every monitor together sends at once.
pub const HEALTH_REQUESTS_MAX: usize = 32;
/// How long a client whose request body came too slowly (a 408) is held to one anonymous
/// request in flight, and none while the anonymous share is crowded: a slowloris client
/// that reconnects after each 408 gets nothing more than an honest one.
pub const SLOW_CLIENT_PENALTY: Duration = Duration::from_secs(60);
/// Most clients remembered as slow at once (about 50 bytes each: 3 MB); past it, new ones
/// are not remembered until old ones expire (the per-client caps still hold them).
pub const SLOW_CLIENTS_MAX: usize = 65_536;

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
    /// Which bearer tokens are signed-in callers', whose requests are served from the
    /// participants' share of the slots; `None`: every request but `/health` is anonymous.
    pub credentials: Option<Credentials>,
}

/// Tells a signed-in caller's bearer token from anything else, cheaply and from the
/// request head alone (a MAC and an expiry, no look-up): the serving loop counts such
/// requests apart from anonymous ones. Suspension and key rotation are the router's to
/// check; here a token only has to be one the registry issued.
#[derive(Clone)]
pub struct Credentials(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl Credentials {
    /// Any test of a token.
    pub fn new(check: impl Fn(&str) -> bool + Send + Sync + 'static) -> Credentials {
        Credentials(Arc::new(check))
    }

    /// Participants' tokens made under `token_key` and not expired, and the operator's
    /// `admin_token`: the router's own credentials (`Config::token_key`, `admin_token`).
    pub fn tokens(token_key: [u8; 32], admin_token: &str) -> Credentials {
        let auth = crate::auth::Auth::new(token_key);
        let admin = blake3::hash(admin_token.as_bytes());
        Credentials::new(move |token| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // blake3's `Hash` compares in constant time.
            auth.check_token(token, now).is_ok() || blake3::hash(token.as_bytes()) == admin
        })
    }

    fn check(&self, token: &str) -> bool {
        (self.0)(token)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// A request's class, from its head: which share of the slots it is served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// A bearer token that checks out.
    Participant,
    /// `GET /health`, without a valid token.
    Health,
    /// Everything else.
    Anonymous,
}

impl Class {
    /// The class's name in the metrics.
    fn word(self) -> &'static str {
        match self {
            Class::Participant => "participant",
            Class::Health => "health",
            Class::Anonymous => "anonymous",
        }
    }

    fn of(credentials: Option<&Credentials>, headers: &axum::http::HeaderMap, path: &str) -> Class {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        if let (Some(c), Some(t)) = (credentials, token) {
            if c.check(t) {
                return Class::Participant;
            }
        }
        if path == "/health" {
            Class::Health
        } else {
            Class::Anonymous
        }
    }
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
            credentials: None,
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
        anonymous_max: (limits.connections_max / ANONYMOUS_SHARE_DIVISOR).max(1),
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
         content-length: {}\r\nretry-after: 1\r\nx-content-type-options: nosniff\r\n\
         connection: close\r\n\r\n",
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
    /// Anonymous requests in flight at most (the cap / [`ANONYMOUS_SHARE_DIVISOR`]).
    anonymous_max: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    next_age: u64,
    /// Requests in flight per client (IPv4 address or IPv6 /64).
    busy_per_client: HashMap<crate::limit::Client, usize>,
    /// Anonymous requests in flight, all together, per client, per IPv6 /56.
    anonymous: usize,
    anonymous_per_client: HashMap<crate::limit::Client, usize>,
    anonymous_per_56: HashMap<u64, usize>,
    /// `/health` requests in flight.
    health: usize,
    /// Clients whose body came too slowly, until when they are held short.
    slow: HashMap<crate::limit::Client, Instant>,
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

/// Why a request was not let in: the status, and the words.
#[derive(Debug)]
struct Refusal {
    status: u16,
    detail: String,
}

/// The /56 of an IPv6 client; `None` for IPv4.
fn v6_56(client: crate::limit::Client) -> Option<u64> {
    match client {
        crate::limit::Client::V6Net(net) => Some(net >> 8),
        crate::limit::Client::V4(_) => None,
    }
}

fn count_up<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) {
    *map.entry(key).or_insert(0) += 1;
}

fn count_down<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Table {
    /// Whether `client` is held short for a slow body now (forgetting it once expired).
    fn is_slow(&mut self, client: crate::limit::Client, now: Instant) -> bool {
        match self.slow.get(&client) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.slow.remove(&client);
                false
            }
            None => false,
        }
    }

    /// Remembers `client` as slow for [`SLOW_CLIENT_PENALTY`] (within [`SLOW_CLIENTS_MAX`]).
    fn mark_slow(&mut self, client: crate::limit::Client, now: Instant) {
        if self.slow.len() >= SLOW_CLIENTS_MAX && !self.slow.contains_key(&client) {
            self.slow.retain(|_, until| *until > now);
            if self.slow.len() >= SLOW_CLIENTS_MAX {
                return;
            }
        }
        self.slow.insert(client, now + SLOW_CLIENT_PENALTY);
    }

    /// Takes a place for a request of `class` from `client`, or says why not.
    fn enter(
        &mut self,
        class: Class,
        client: crate::limit::Client,
        anonymous_max: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        let too_many = |detail: String| Refusal {
            status: 429,
            detail,
        };
        if self.busy_per_client.get(&client).copied().unwrap_or(0) >= REQUESTS_PER_CLIENT_MAX {
            return Err(too_many(format!(
                "at most {REQUESTS_PER_CLIENT_MAX} requests in flight from one address \
                 (IPv6: one /64)"
            )));
        }
        match class {
            Class::Participant => {}
            Class::Health => {
                if self.health >= HEALTH_REQUESTS_MAX {
                    return Err(Refusal {
                        status: 503,
                        detail: format!(
                            "{HEALTH_REQUESTS_MAX} health probes are in flight already"
                        ),
                    });
                }
                self.health += 1;
            }
            Class::Anonymous => {
                if self.anonymous >= anonymous_max {
                    return Err(Refusal {
                        status: 503,
                        detail: format!(
                            "the server holds as many requests without sign-in as it takes \
                             ({anonymous_max}); signed-in participants are still served"
                        ),
                    });
                }
                let crowded = self.anonymous >= anonymous_max / 4;
                let slow = self.is_slow(client, now);
                let mine = self.anonymous_per_client.get(&client).copied().unwrap_or(0);
                let allowed = match (slow, crowded) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, true) => ANONYMOUS_PER_CLIENT_CROWDED,
                    (false, false) => ANONYMOUS_PER_CLIENT_MAX,
                };
                if mine >= allowed {
                    return Err(too_many(if slow {
                        format!(
                            "a request body from this address came too slowly: for {} s \
                             it may have {} request without sign-in in flight",
                            SLOW_CLIENT_PENALTY.as_secs(),
                            if crowded { "no" } else { "one" }
                        )
                    } else {
                        format!(
                            "at most {allowed} requests without sign-in in flight from one \
                             address (IPv6: one /64){}",
                            if crowded {
                                " while the server is crowded"
                            } else {
                                ""
                            }
                        )
                    }));
                }
                if let Some(net) = v6_56(client) {
                    if self.anonymous_per_56.get(&net).copied().unwrap_or(0)
                        >= ANONYMOUS_PER_V6_56_MAX
                    {
                        return Err(too_many(format!(
                            "at most {ANONYMOUS_PER_V6_56_MAX} requests without sign-in in \
                             flight from one IPv6 /56"
                        )));
                    }
                    count_up(&mut self.anonymous_per_56, net);
                }
                count_up(&mut self.anonymous_per_client, client);
                self.anonymous += 1;
            }
        }
        count_up(&mut self.busy_per_client, client);
        metrics::gauge!("tracemark_http_requests_in_flight", "class" => class.word())
            .increment(1.0);
        Ok(())
    }

    /// Gives back the place [`Table::enter`] took.
    fn leave(&mut self, class: Class, client: crate::limit::Client) {
        metrics::gauge!("tracemark_http_requests_in_flight", "class" => class.word())
            .decrement(1.0);
        count_down(&mut self.busy_per_client, &client);
        match class {
            Class::Participant => {}
            Class::Health => self.health = self.health.saturating_sub(1),
            Class::Anonymous => {
                self.anonymous = self.anonymous.saturating_sub(1);
                count_down(&mut self.anonymous_per_client, &client);
                if let Some(net) = v6_56(client) {
                    count_down(&mut self.anonymous_per_56, &net);
                }
            }
        }
    }

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
    /// Marks a request of `class` in flight until the guard (kept in the answer's body)
    /// drops; refused when the client or the class is over its share.
    fn busy(&self, class: Class) -> Result<Busy, Refusal> {
        let mut t = self.slots.table.lock();
        t.enter(class, self.client, self.slots.anonymous_max, Instant::now())?;
        if let Some(e) = t.conns.get_mut(&self.id) {
            e.busy += 1;
            if let Some(age) = e.idle_age.take() {
                t.idle.remove(&age);
            }
        }
        Ok(Busy {
            id: self.id,
            class,
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
    class: Class,
    client: crate::limit::Client,
    slots: Arc<Slots>,
}

impl Busy {
    /// Holds the client short for [`SLOW_CLIENT_PENALTY`]: its body came too slowly.
    fn mark_slow(&self) {
        self.slots
            .table
            .lock()
            .mark_slow(self.client, Instant::now());
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut t = self.slots.table.lock();
        t.leave(self.class, self.client);
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
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let class = Class::of(limits.credentials.as_ref(), req.headers(), req.uri().path());
            let (app, limits, busy) = (app.clone(), limits.clone(), tracked.busy(class));
            async move {
                match busy {
                    Ok(busy) => request(app, remote, limits, busy, req).await,
                    Err(refusal) => {
                        metrics::counter!("tracemark_http_requests_shed_total").increment(1);
                        let p = if refusal.status == 429 {
                            Problem::new(429, "too-many", "Too many requests", refusal.detail)
                        } else {
                            Problem::new(503, "busy", "Busy", refusal.detail)
                        };
                        let mut r = p.into_response();
                        let h = r.headers_mut();
                        // The body is left unread: the connection cannot carry another request.
                        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
                        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                        nosniff(h);
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
        // A body must keep up the minimum rate after the grace, and arrive whole within
        // the body timeout; a body announced small gets no more than its size needs.
        let announced = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let start = tokio::time::Instant::now();
        let grace = BODY_READ_TIMEOUT_MIN.min(limits.body_read_timeout);
        let whole = announced.map_or(limits.body_read_timeout, |n| {
            (grace + Duration::from_secs_f64(n as f64 / BODY_RATE_MIN_BYTES_PER_SEC as f64))
                .min(limits.body_read_timeout)
        });
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(grace)),
            start,
            grace,
            last: start + whole,
            received: 0,
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
        let mut r =
            Problem::new(408, "timeout", "Request timeout", what.to_string()).into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        r
    };
    let late_body = |what: &str| {
        // Whoever sends a body too slowly is held short for a while (reconnecting gains
        // nothing).
        busy.mark_slow();
        late(what)
    };
    let resp = match answer {
        Ok(Ok(r)) if body_state.load(Ordering::Acquire) != BODY_LATE => r,
        Ok(Ok(_)) => late_body(&format!(
            "the request's body came too slowly: after its first {} s a body must come at \
             {} KiB/s at least, and whole within {} s; this address may now have only one \
             request without sign-in in flight for {} s",
            BODY_READ_TIMEOUT_MIN
                .min(limits.body_read_timeout)
                .as_secs_f64(),
            BODY_RATE_MIN_BYTES_PER_SEC / 1024,
            limits.body_read_timeout.as_secs_f64(),
            SLOW_CLIENT_PENALTY.as_secs()
        )),
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
        Err(_) => late_body(&format!(
            "the request's body did not arrive within the request's {} s",
            limits.request_timeout.as_secs_f64()
        )),
    };
    let mut resp = resp;
    if body_state.load(Ordering::Acquire) == BODY_PENDING {
        // Answered before its body was read (a refusal on the head alone): hyper will not
        // read on to the next request but close the connection, so say so — a client that
        // pooled the connection would otherwise send its next request into the close
        // (`IncompleteMessage` on a keep-alive client under load).
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    nosniff(resp.headers_mut());
    Ok(resp.map(|inner| Body::new(BusyBody { inner, _busy: busy })))
}

/// `X-Content-Type-Options: nosniff`: a browser takes an answer for the type it says and
/// nothing else (a problem or a JSON answer is never run as a script or a page).
fn nosniff(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A request body that must keep up [`BODY_RATE_MIN_BYTES_PER_SEC`] after `grace` and end
/// by `last`: one timer, moved on as bytes arrive, to when the bytes so far fall behind.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    start: tokio::time::Instant,
    grace: Duration,
    /// The whole body's deadline.
    last: tokio::time::Instant,
    /// Bytes received so far.
    received: u64,
    state: Arc<AtomicU8>,
}

impl DeadlineBody {
    /// When the bytes received so far fall behind the minimum rate, or the last moment.
    fn due(&self) -> tokio::time::Instant {
        let earned =
            Duration::from_secs_f64(self.received as f64 / BODY_RATE_MIN_BYTES_PER_SEC as f64);
        (self.start + self.grace + earned).min(self.last)
    }
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
                } else if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                    let due = this.due();
                    this.deadline.as_mut().reset(due);
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

    fn v4(i: u32) -> crate::limit::Client {
        crate::limit::Client::of(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
            0x0a00_0000 + i,
        )))
    }

    #[test]
    fn anonymous_requests_keep_to_their_share() {
        let now = Instant::now();
        let mut t = Table::default();
        let max = 256;
        // One address: 16 at once while calm.
        for i in 0..ANONYMOUS_PER_CLIENT_MAX {
            assert!(t.enter(Class::Anonymous, v4(0), max, now).is_ok(), "{i}");
        }
        let e = t
            .enter(Class::Anonymous, v4(0), max, now)
            .expect_err("17th");
        assert_eq!(e.status, 429, "{}", e.detail);
        // …but its signed-in requests still go in.
        assert!(t.enter(Class::Participant, v4(0), max, now).is_ok());
        // A quarter of the share taken: others get two each.
        for a in 1..4 {
            for _ in 0..ANONYMOUS_PER_CLIENT_MAX {
                t.enter(Class::Anonymous, v4(a), max, now).expect("calm");
            }
        }
        assert_eq!(t.anonymous, max / 4);
        for _ in 0..ANONYMOUS_PER_CLIENT_CROWDED {
            t.enter(Class::Anonymous, v4(9), max, now)
                .expect("crowded share");
        }
        assert_eq!(
            t.enter(Class::Anonymous, v4(9), max, now)
                .err()
                .map(|e| e.status),
            Some(429)
        );
        // The whole share taken: 503 for anonymous newcomers, /health and participants in.
        let mut a = 10;
        while t.anonymous < max {
            let _ = t.enter(Class::Anonymous, v4(a), max, now);
            a += 1;
        }
        assert_eq!(
            t.enter(Class::Anonymous, v4(100_000), max, now)
                .err()
                .map(|e| e.status),
            Some(503)
        );
        assert!(t.enter(Class::Health, v4(100_000), max, now).is_ok());
        assert!(t.enter(Class::Participant, v4(100_001), max, now).is_ok());
        // Leaving gives the place back.
        t.leave(Class::Anonymous, v4(a - 1));
        assert!(t.enter(Class::Anonymous, v4(100_000), max, now).is_ok());
    }

    #[test]
    fn health_has_a_pool_of_its_own() {
        let now = Instant::now();
        let mut t = Table::default();
        for i in 0..HEALTH_REQUESTS_MAX {
            t.enter(Class::Health, v4(i as u32), 2, now).expect("probe");
        }
        assert_eq!(
            t.enter(Class::Health, v4(999), 2, now)
                .err()
                .map(|e| e.status),
            Some(503)
        );
        // Health probes take nothing of the anonymous share.
        assert!(t.enter(Class::Anonymous, v4(999), 2, now).is_ok());
        t.leave(Class::Health, v4(0));
        assert!(t.enter(Class::Health, v4(999), 2, now).is_ok());
    }

    #[test]
    fn a_slow_client_is_held_short_for_a_while() {
        let now = Instant::now();
        let mut t = Table::default();
        t.mark_slow(v4(1), now);
        assert!(t.enter(Class::Anonymous, v4(1), 256, now).is_ok());
        let e = t.enter(Class::Anonymous, v4(1), 256, now).expect_err("one");
        assert!(e.detail.contains("too slowly"), "{}", e.detail);
        // Crowded (a quarter of the share taken): none at all.
        let mut a = 10;
        while t.anonymous < 256 / 4 + 1 {
            let _ = t.enter(Class::Anonymous, v4(a), 256, now);
            a += 1;
        }
        t.leave(Class::Anonymous, v4(1));
        assert!(t.enter(Class::Anonymous, v4(1), 256, now).is_err());
        // After the penalty, as anyone.
        let later = now + SLOW_CLIENT_PENALTY + Duration::from_secs(1);
        assert!(t.enter(Class::Anonymous, v4(1), 256, later).is_ok());
        assert!(t.enter(Class::Anonymous, v4(1), 256, later).is_ok());
        assert!(t.slow.is_empty(), "forgotten once expired");
    }

    #[test]
    fn one_ipv6_56_shares_a_bound() {
        let now = Instant::now();
        let mut t = Table::default();
        let net =
            |i: u16| crate::limit::Client::of(format!("2001:db8:1:{i:x}::1").parse().expect("ip"));
        let mut admitted = 0;
        // The /64s 2001:db8:1:0::/64 … :ff::/64 are one /56.
        for i in 0..256u16 {
            while t.enter(Class::Anonymous, net(i), 100_000, now).is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, ANONYMOUS_PER_V6_56_MAX);
        // The next /56 is another subscriber.
        assert!(t.enter(Class::Anonymous, net(0x100), 100_000, now).is_ok());
    }

    #[test]
    fn credentials_tell_tokens_apart() {
        let key = [7u8; 32];
        let auth = crate::auth::Auth::new(key);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        let (token, _) = auth.token(1, 0, 0, now);
        let c = Credentials::tokens(key, "admin-secret");
        let head = |auth: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(auth).expect("value"),
            );
            h
        };
        let class = |h: &axum::http::HeaderMap, path: &str| Class::of(Some(&c), h, path);
        assert_eq!(
            class(&head(&format!("Bearer {token}")), "/api/v1/x"),
            Class::Participant
        );
        assert_eq!(
            class(&head("bearer admin-secret"), "/api/v1/x"),
            Class::Participant
        );
        assert_eq!(class(&head("Bearer forged"), "/api/v1/x"), Class::Anonymous);
        assert_eq!(class(&head("Bearer forged"), "/health"), Class::Health);
        assert_eq!(
            class(&axum::http::HeaderMap::new(), "/api/v1/auth/token"),
            Class::Anonymous
        );
        let other = Credentials::tokens([8u8; 32], "x");
        assert_eq!(
            Class::of(Some(&other), &head(&format!("Bearer {token}")), "/"),
            Class::Anonymous,
            "another registry's token"
        );
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
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    }
}
