//! A request with a body is refused on its headers when unauthenticated: the server answers
//! 401 without reading (or waiting for) the body, so nobody unauthenticated makes it buffer
//! up to 16 MiB.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn unauthenticated_bodies_are_refused_before_reading() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = tracemark::app::open(dir.path(), registry::system_clock()).expect("open");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(tracemark::app::serve(
        listener,
        opened.registry,
        opened.config,
    ));
    for path in ["/api/v1/documents", "/api/v1/pos/check", "/api/v1/orders"] {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        // Announces 100 MB and sends none of it.
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 100000000\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).expect("an answer before any body byte");
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 401"), "{path}: {head}");
        assert!(head.contains("application/problem+json"), "{path}: {head}");
    }
}
