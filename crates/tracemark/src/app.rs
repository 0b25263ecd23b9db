//! Opening a data directory and serving the registry from it.
//!
//! A data directory holds the embedded store (`store/`), the issuing keys (`keys.json`),
//! the bearer-token key (`auth.key`) and, unless `TRACEMARK_ADMIN_TOKEN` is set, the
//! generated admin token (`admin.token`). Secret files are written 0600.

use anyhow::{Context, Result};
use base64::Engine;
use rand::RngCore;
use registry::Registry;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An opened data directory.
pub struct Opened {
    /// The registry over the directory's store.
    pub registry: Registry,
    /// Router settings (admin token, token key).
    pub config: server::Config,
    /// Where the admin token was written, if generated.
    pub admin_token_file: Option<PathBuf>,
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new();
        f.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            f.mode(0o600);
        }
        let mut f = f
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn secret_file(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let b = make();
            write_secret(path, &b)?;
            Ok(b)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Opens (creating if new) the data directory `dir`.
pub fn open(dir: &Path, clock: registry::Clock) -> Result<Opened> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let now = clock();
    let keyring = issuance::Keyring::load_or_create(&dir.join("keys.json"), now)
        .map_err(|e| anyhow::anyhow!("issuing keys in {}: {e}", dir.display()))?;
    let token_key = secret_file(&dir.join("auth.key"), || {
        let mut k = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    })?;
    let token_key: [u8; 32] = token_key
        .try_into()
        .map_err(|_| anyhow::anyhow!("auth.key is not 32 bytes"))?;
    let (admin_token, admin_token_file) = match std::env::var("TRACEMARK_ADMIN_TOKEN") {
        Ok(t) if !t.trim().is_empty() => (t.trim().to_string(), None),
        _ => {
            let path = dir.join("admin.token");
            let t = secret_file(&path, || {
                let mut k = [0u8; 24];
                rand::rngs::OsRng.fill_bytes(&mut k);
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(k)
                    .into_bytes()
            })?;
            (String::from_utf8(t)?.trim().to_string(), Some(path))
        }
    };
    let store =
        store_fjall::FjallStore::open(&dir.join("store")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let registry =
        Registry::open(Arc::new(store), keyring, clock).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Opened {
        registry,
        config: server::Config {
            admin_token,
            token_key,
        },
        admin_token_file,
    })
}

/// Serves `registry` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    config: server::Config,
) -> Result<()> {
    let app = server::router(registry, config);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving")
}

/// Resolves on SIGINT or SIGTERM: the server stops accepting, finishes the requests in
/// flight (every answered document is durable anyway), and returns.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
