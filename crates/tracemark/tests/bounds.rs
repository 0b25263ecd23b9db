//! Resource bounds over real HTTP: each attack of the outside review, replayed against a
//! real server on 127.0.0.1:0, asserting its bound and printing the measured figure
//! (`cargo test --test bounds -- --nocapture` shows them).
//!
//! 1. 1,100 idle sockets neither lock out a real client nor stay open past the header
//!    timeout; an idle keep-alive connection is closed by the same timeout.
//! 2. Slowloris (a header byte every 200 ms) is disconnected by the header timeout.
//! 3. Anonymous requests hold at most half the connections; a body trickled past the body
//!    timeout gets a 408 problem; while every connection is inside a signed-in request a
//!    newcomer gets a 503 problem; the server stays responsive.
//! 4. An answer the client never reads is dropped after the send timeout.
//! 5. 3,000 made-up methods leave the metrics, and the process's memory, as they were.

use server::serve::Limits;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The memory test takes this for writing, every other test for reading: the process's
/// resident size is only meaningful when no other test runs.
static QUIET: RwLock<()> = RwLock::new(());

/// A registry served in-process within `limits`; keep it alive while using `addr`.
struct Server {
    addr: SocketAddr,
    /// The operator's token: its requests count as a signed-in caller's.
    admin: String,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn start(limits: Limits) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = node::open(dir.path(), registry::system_clock()).expect("open");
    let admin = opened.config.admin_token.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(server::serve::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(node::serve_with(
        listener,
        opened.registry,
        opened.config,
        limits,
    ));
    Server {
        addr,
        admin,
        _rt: rt,
        _dir: dir,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// An answer: status, head, body.
type Answer = (u16, String, String);

/// Reads one answer (head and `content-length` body); `None` if the connection closed or
/// failed first.
fn read_answer(s: &mut TcpStream) -> Option<Answer> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head.get(9..12)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    Some((status, head, body))
}

/// One request on a fresh connection.
fn request(addr: SocketAddr, raw: &str) -> Option<Answer> {
    let mut s = connect(addr);
    s.write_all(raw.as_bytes()).ok()?;
    read_answer(&mut s)
}

fn get(addr: SocketAddr, path: &str) -> Option<Answer> {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

/// Whether the server has closed `s` (nothing to read and not waiting: EOF or reset).
fn closed(mut s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 1024];
    let r = loop {
        match s.read(&mut b) {
            Ok(0) => break true,
            Ok(_) => continue, // a canned answer before the close
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).expect("blocking");
    r
}

fn count_closed(socks: &[TcpStream]) -> usize {
    socks.iter().filter(|s| closed(s)).count()
}

#[test]
fn idle_sockets_never_lock_out_a_client() {
    let _quiet = QUIET.read();
    let cap = 256;
    let header_timeout = Duration::from_secs(1);
    let srv = start(Limits {
        connections_max: cap,
        header_read_timeout: header_timeout,
        ..Limits::default()
    });
    let opened_at = Instant::now();
    let mut slowest = Duration::ZERO;
    let idle: Vec<TcpStream> = (0..1_100)
        .map(|_| {
            let t = Instant::now();
            let s = connect(srv.addr);
            slowest = slowest.max(t.elapsed());
            s
        })
        .collect();
    let open_ms = opened_at.elapsed().as_millis();
    println!(
        "idle: slowest connect {:.1} ms (a dropped handshake would cost 1,000 ms)",
        slowest.as_secs_f64() * 1e3
    );
    std::thread::sleep(Duration::from_millis(200));
    let shut_early = count_closed(&idle);
    println!(
        "idle: 1,100 sockets opened in {open_ms} ms; {shut_early} closed at once, {} held (cap {cap})",
        idle.len() - shut_early
    );
    assert!(
        idle.len() - shut_early <= cap,
        "at most {cap} connections held, not {}",
        idle.len() - shut_early
    );

    // A real client is served at once: it takes an idle socket's slot.
    let t = Instant::now();
    let (status, _, body) = get(srv.addr, "/health").expect("an answer");
    let health_ms = t.elapsed().as_secs_f64() * 1e3;
    println!("idle: GET /health beside the idle sockets: {status} in {health_ms:.1} ms");
    assert_eq!(status, 200, "{body}");
    assert!(health_ms < 1_000.0, "{health_ms} ms");

    // And every idle socket is gone after the header timeout.
    std::thread::sleep(header_timeout + Duration::from_millis(500));
    let shut_late = count_closed(&idle);
    println!(
        "idle: {shut_late} of 1,100 closed {:.1} s after opening (header timeout {} s)",
        opened_at.elapsed().as_secs_f64(),
        header_timeout.as_secs()
    );
    assert_eq!(shut_late, idle.len());
}

#[test]
fn idle_keep_alive_connections_are_closed_by_the_header_timeout() {
    let _quiet = QUIET.read();
    let header_timeout = Duration::from_secs(1);
    let srv = start(Limits {
        header_read_timeout: header_timeout,
        ..Limits::default()
    });
    let mut s = connect(srv.addr);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let (status, _, _) = read_answer(&mut s).expect("answer");
    assert_eq!(status, 200);
    let t = Instant::now();
    let mut b = [0u8; 16];
    let n = s.read(&mut b);
    let after = t.elapsed();
    println!(
        "keep-alive: idle connection closed {:.2} s after its answer ({n:?})",
        after.as_secs_f64()
    );
    assert!(matches!(n, Ok(0) | Err(_)), "closed, not {n:?}");
    assert!(
        after >= header_timeout - Duration::from_millis(100),
        "{after:?}"
    );
    assert!(after < header_timeout + Duration::from_secs(1), "{after:?}");
}

#[test]
fn slowloris_is_disconnected_by_the_header_timeout() {
    let _quiet = QUIET.read();
    let header_timeout = Duration::from_secs(1);
    let srv = start(Limits {
        header_read_timeout: header_timeout,
        ..Limits::default()
    });
    let mut s = connect(srv.addr);
    let t = Instant::now();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("write");
    let mut sent = 0;
    let cut = loop {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still connected after {sent} bytes"
        );
        std::thread::sleep(Duration::from_millis(200));
        if s.write_all(b"a").is_err() || closed(&s) {
            break t.elapsed();
        }
        sent += 1;
    };
    println!(
        "slowloris: a header byte every 200 ms; disconnected after {:.2} s and {sent} bytes",
        cut.as_secs_f64()
    );
    assert!(cut >= header_timeout, "{cut:?}");
    assert!(cut < header_timeout + Duration::from_secs(1), "{cut:?}");
    // The server is fine.
    assert_eq!(get(srv.addr, "/health").expect("answer").0, 200);
}

#[test]
fn trickled_bodies_get_408_and_busy_servers_shed_with_503() {
    let _quiet = QUIET.read();
    let body_timeout = Duration::from_secs(1);
    let srv = start(Limits {
        connections_max: 4,
        body_read_timeout: body_timeout,
        request_timeout: Duration::from_secs(3),
        ..Limits::default()
    });
    // Anonymous requests hold at most half the slots: of four trickling sign-ins without a
    // token, two are let in and two refused at once.
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(srv.addr);
            s.write_all(
                b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
            )
            .expect("write");
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
            s
        })
        .collect();
    let anonymous: Vec<Option<Answer>> = held.iter_mut().map(read_answer).collect();
    let refused = anonymous
        .iter()
        .filter(|a| {
            a.as_ref()
                .is_some_and(|(st, _, body)| [429, 503].contains(st) && body.contains("sign-in"))
        })
        .count();
    println!("busy: of 4 anonymous trickling sign-ins on a cap of 4, {refused} refused at once");
    assert_eq!(refused, 2, "{anonymous:?}");
    // …and /health, beside them, is served.
    assert_eq!(get(srv.addr, "/health").expect("answer").0, 200);
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    // Four signed-in requests whose bodies trickle: every slot is inside a request.
    let t = Instant::now();
    let mut slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(srv.addr);
            s.write_all(
                format!(
                    "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n\
                     Authorization: Bearer {}\r\n\
                     Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
                    srv.admin
                )
                .as_bytes(),
            )
            .expect("write");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // A newcomer finds no idle connection to replace: a 503 problem, at once.
    let t5 = Instant::now();
    let (status, head, body) = get(srv.addr, "/health").expect("a canned answer");
    println!(
        "busy: 5th connection over a cap of 4 answered {status} in {:.1} ms: {body}",
        t5.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(status, 503);
    assert!(head.contains("application/problem+json"), "{head}");
    assert!(body.contains("/problems/busy"), "{body}");
    // One byte every 300 ms: slower than the body timeout allows.
    let mut answers: Vec<(usize, Duration, Option<Answer>)> = Vec::new();
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
    }
    while answers.len() < slow.len() && t.elapsed() < Duration::from_secs(10) {
        for (i, s) in slow.iter_mut().enumerate() {
            if answers.iter().any(|(j, ..)| *j == i) {
                continue;
            }
            let _ = s.write_all(b" ");
            let mut probe = [0u8; 1];
            match s.peek(&mut probe) {
                Ok(_) => {
                    s.set_read_timeout(Some(Duration::from_secs(5)))
                        .expect("timeout");
                    answers.push((i, t.elapsed(), read_answer(s)));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("connection {i} failed: {e}"),
            }
        }
    }
    for (i, after, answer) in &answers {
        let (status, head, body) = answer.as_ref().expect("an answer, not a bare close");
        println!(
            "trickle: connection {i} answered {status} after {:.2} s: {body}",
            after.as_secs_f64()
        );
        assert_eq!(*status, 408, "{head}{body}");
        assert!(head.contains("application/problem+json"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        assert!(body.contains("/problems/timeout"), "{body}");
        assert!(*after >= body_timeout, "{after:?}");
        assert!(*after < body_timeout + Duration::from_secs(2), "{after:?}");
    }
    assert_eq!(answers.len(), 4);
    // Slots free again: the server answers (waited for, not slept for).
    let t = Instant::now();
    while get(srv.addr, "/health").map(|a| a.0) != Some(200) {
        assert!(t.elapsed() < Duration::from_secs(30), "no 200 from /health");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "trickle: GET /health afterwards: 200 in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}

#[test]
fn answers_nobody_reads_are_dropped_after_the_send_timeout() {
    let _quiet = QUIET.read();
    let send_timeout = Duration::from_secs(1);
    let srv = start(Limits {
        send_timeout,
        ..Limits::default()
    });
    let (_, _, doc) = get(srv.addr, "/openapi.json").expect("answer");
    // Ask for far more than the socket buffers hold, pipelined, and read nothing.
    let n = (64 << 20) / doc.len().max(1) + 1;
    let mut s = connect(srv.addr);
    let one = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
    let t = Instant::now();
    // The requests are small: they fit the socket buffers unless the server stops reading.
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let written = (0..n).take_while(|_| s.write_all(one).is_ok()).count();
    // The server fills both socket buffers with answers, stalls, and after the send
    // timeout resets the connection (its unread requests make the close a reset).
    let cut = loop {
        if let Ok(Some(e)) = s.take_error() {
            break Some((t.elapsed(), e));
        }
        if t.elapsed() > send_timeout + Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the close looked like, reading must end well before all `n` answers.
    let mut got = 0u64;
    let mut b = vec![0u8; 1 << 16];
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let end = loop {
        match s.read(&mut b) {
            Ok(0) => break "closed",
            Ok(k) => got += k as u64,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break "still open"
            }
            Err(_) => break "reset",
        }
    };
    let asked = written as u64 * doc.len() as u64;
    println!(
        "slow reader: asked {written} answers ({} MB) reading none; connection cut after \
         {:?} ({:?}); then read {} kB and found it {end}",
        asked >> 20,
        cut.as_ref().map(|c| c.0),
        cut.as_ref().map(|c| c.1.kind()),
        got >> 10,
    );
    assert_ne!(end, "still open");
    assert!(got < asked / 2, "got {got} of {asked} bytes");
    if let Some((after, _)) = cut {
        assert!(after >= send_timeout, "{after:?}");
    }
    assert_eq!(get(srv.addr, "/health").expect("answer").0, 200);
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Sends `count` requests with made-up methods (`tag`, a number, then filler up to
/// `len` bytes) over `threads` keep-alive connections; returns the statuses seen.
fn method_flood(addr: SocketAddr, tag: &str, count: usize, len: usize) -> Vec<u16> {
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let tag = tag.to_string();
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let mut statuses = Vec::new();
                for i in (t..count).step_by(threads) {
                    let mut method = format!("{tag}{i:05}");
                    while method.len() < len {
                        method.push('Q');
                    }
                    let path = if i % 2 == 0 { "/health" } else { "/no/such" };
                    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                    if s.write_all(req.as_bytes()).is_err() {
                        s = connect(addr);
                        s.write_all(req.as_bytes()).expect("write");
                    }
                    let (status, _, _) = read_answer(&mut s).unwrap_or_else(|| {
                        s = connect(addr);
                        s.write_all(req.as_bytes()).expect("write");
                        read_answer(&mut s).expect("answer")
                    });
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("flood thread"))
        .collect()
}

#[test]
fn made_up_methods_grow_neither_metrics_nor_memory() {
    let _quiet = QUIET.write().unwrap_or_else(|e| e.into_inner());
    let srv = start(Limits::default());
    let method_len = 4_000;
    // Warm up the same paths (allocator pools, buffers) before measuring.
    let warm = method_flood(srv.addr, "WARMUP", 600, method_len);
    assert!(warm.iter().all(|s| *s == 405 || *s == 404), "{warm:?}");
    let _ = get(srv.addr, "/metrics");
    std::thread::sleep(Duration::from_millis(200));
    let before_kb = rss_kb();
    let t = Instant::now();
    let statuses = method_flood(srv.addr, "MADEUP", 3_000, method_len);
    let flood_ms = t.elapsed().as_millis();
    std::thread::sleep(Duration::from_millis(200));
    let after_kb = rss_kb();
    assert_eq!(statuses.len(), 3_000);
    assert!(statuses.iter().all(|s| *s == 405 || *s == 404));
    let (status, _, text) = get(srv.addr, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    let leaked = text
        .lines()
        .filter(|l| l.contains("MADEUP") || l.contains("WARMUP"))
        .count();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tracemark_http_requests_total{"))
        .collect();
    let other = series
        .iter()
        .filter(|l| l.contains("method=\"other\""))
        .count();
    let grew_kb = after_kb as i64 - before_kb as i64;
    println!(
        "methods: 3,000 made-up methods of {method_len} bytes in {flood_ms} ms; \
         {} tracemark_http_requests_total series ({other} with method=\"other\"), {leaked} metrics \
         lines naming a made-up method; RSS {before_kb} kB -> {after_kb} kB ({grew_kb:+} kB)",
        series.len()
    );
    assert_eq!(leaked, 0, "made-up methods in the metrics");
    assert!(
        other <= 2,
        "one series per route for other methods: {series:#?}"
    );
    assert!(series.len() <= 40, "{series:#?}");
    assert!(
        grew_kb < 4 * 1024,
        "RSS grew {grew_kb} kB over 3,000 made-up methods"
    );
    // The memory bound and what it sizes are on show, each with its help line, and the
    // slow-request counter is labelled by route only (no method, no client's words).
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    let budget = types::memory::Budget::from_env();
    assert_eq!(value("tracemark_memory_budget_bytes"), budget.total as f64);
    assert_eq!(
        value("tracemark_writer_state_cache_capacity"),
        budget.state_cache_entries as f64
    );
    assert_eq!(
        value("tracemark_store_block_cache_capacity_bytes"),
        budget.block_cache as f64
    );
    for name in [
        "tracemark_store_write_buffer_bytes",
        "tracemark_store_compactions_total",
        "tracemark_store_reads_total",
        "tracemark_store_read_slow_runs_total",
    ] {
        value(name);
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no help"
        );
    }
    assert!(text
        .lines()
        .filter(|l| l.starts_with("tracemark_http_slow_requests_total{"))
        .all(|l| l.contains("route=\"") && !l.contains("method=")));
}
