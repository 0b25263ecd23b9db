//! Abuse limits over real HTTP: a request with a body is refused on its headers when
//! unauthenticated (401 without reading or waiting for the body, so nobody unauthenticated
//! makes the server buffer up to 16 MiB), and the public endpoints are rate-limited.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A registry served on a free loopback port, with `public_rate`; keep the runtime and the
/// directory alive while using the address.
fn start(
    public_rate: Option<u32>,
) -> (
    std::net::SocketAddr,
    tokio::runtime::Runtime,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opened = node::open(dir.path(), registry::system_clock()).expect("open");
    opened.config.public_rate = public_rate;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(node::serve(listener, opened.registry, opened.config));
    (addr, rt, dir)
}

#[test]
fn unauthenticated_bodies_are_refused_before_reading() {
    let (addr, _rt, _dir) = start(None);
    for path in [
        "/api/v1/documents",
        "/api/v1/pos/check",
        "/api/v1/orders",
        // The operator's endpoints: the admin token is checked before the body too.
        "/api/v1/participants",
        "/api/v1/participants/7700000001/suspend",
    ] {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        // Announces the most the route takes and sends none of it.
        let len = server::route_body_max(path.trim_end_matches("/7700000001/suspend"));
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).expect("an answer before any body byte");
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 401"), "{path}: {head}");
        assert!(head.contains("application/problem+json"), "{path}: {head}");
    }
}

/// The public endpoints are rate-limited per address: a burst is served, then 429 problems
/// with `Retry-After`, and the bucket refills.
#[test]
fn public_endpoints_are_rate_limited() {
    let (addr, _rt, _dir) = start(Some(5));
    let http = reqwest::blocking::Client::new();
    let url = format!("http://{addr}/api/v1/verify?code=0104650117240163215100000005NgF");
    let statuses: Vec<u16> = (0..20)
        .map(|_| http.get(&url).send().expect("send").status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "burst of 2 × 5: {statuses:?}"
    );
    let r = http.get(&url).send().expect("send");
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(r.text().expect("body").contains("\"status\":429"));
    // Signed-in participants' endpoints are not limited by this.
    assert_eq!(
        http.get(format!("http://{addr}/health"))
            .send()
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        http.get(&url).send().expect("send").status().as_u16(),
        200,
        "refilled"
    );
}

/// Sign-in is public, so its body is read, but only up to a few KiB: a body announced
/// larger is refused at once, one sent larger is cut off at the limit.
#[test]
fn sign_in_reads_a_few_kib_at_most() {
    let (addr, _rt, _dir) = start(None);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 100000000\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).expect("an answer before any body byte");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let http = reqwest::blocking::Client::new();
    let r = http
        .post(format!("http://{addr}/api/v1/auth/token"))
        .header("content-type", "application/json")
        .body(vec![b' '; server::BODY_SIGN_IN_MAX + 1])
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 413);
}
