//! What several end-to-end test binaries share: a registry on a fresh data directory,
//! served over real HTTP on a free loopback port.

use client::Client;

/// A served registry; keep it alive while using its address.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The operator's admin token.
    pub admin: String,
    /// The project's signing client.
    pub c: Client,
    /// A plain HTTP client (for requests made by hand).
    pub http: reqwest::blocking::Client,
    /// Serves while it runs; `None` once [`Server::stop`]ped.
    rt: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

/// Starts a registry on a fresh data directory.
pub fn start() -> Server {
    start_with(|_| {})
}

/// Starts a registry on a fresh data directory, its server settings changed by `f`.
pub fn start_with(f: impl FnOnce(&mut server::Config)) -> Server {
    start_prepared(|_| {}, f)
}

/// Starts a registry on a fresh data directory that `prepare` has written to first (as a
/// registry that ran before would have), its server settings changed by `f`.
#[allow(dead_code)] // Only some test binaries prepare their data.
pub fn start_prepared(
    prepare: impl FnOnce(&registry::Registry),
    f: impl FnOnce(&mut server::Config),
) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opened = node::open(dir.path(), registry::system_clock()).expect("open");
    prepare(&opened.registry);
    f(&mut opened.config);
    // Photos are decoded in the built binary's worker processes, as `tracemark serve` does.
    opened.config.decoder = Some(env!("CARGO_BIN_EXE_tracemark").into());
    let admin = opened.config.admin_token.clone();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(node::serve(listener, opened.registry, opened.config));
    Server {
        c: Client::new(&base).expect("client"),
        base,
        admin,
        http: reqwest::blocking::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("http"),
        rt: Some(rt),
        _dir: dir,
    }
}

impl Server {
    /// Stops serving: the listener closes and every connection is dropped, as when the
    /// network goes away (the data directory stays until the `Server` is dropped).
    /// The data directory (removed when the `Server` is dropped; a `Server` kept for
    /// the whole test binary in a `static` is never dropped, so its owner removes this).
    #[allow(dead_code)] // Only the browser tests keep a server in a static.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    #[allow(dead_code)] // Only the browser tests cut the network.
    pub fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }

    /// Registers a product card for `actor` (signed); it must be accepted.
    pub fn product(&self, actor: &client::Actor, gtin: &str, name: &str, group: &str) {
        let (st, v) = self
            .c
            .post_signed(
                actor,
                "/api/v1/products",
                &serde_json::json!({"gtin": gtin, "name": name, "product_group": group}),
            )
            .expect("product");
        assert_eq!(st, 201, "product {gtin}: {v}");
    }
}
