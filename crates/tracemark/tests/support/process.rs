//! A real `tracemark serve` process for tests that need several of them on one database
//! (writer and readers): started on a free port, waited for by `/health`'s role, killed
//! (SIGKILL) when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for a process to answer `/health` in the role asked (a reader waits for a
/// killed writer's lease to run out: 6 s, plus a busy machine's slowness).
pub const ROLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `tracemark serve`.
pub struct Serve {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Serve {
    /// Starts `tracemark serve` with `args` (the store's flags) and the admin token
    /// `admin`, and waits for its address.
    pub fn start(args: &[&str], admin: &str) -> Serve {
        Serve::start_with_env(args, admin, &[])
    }

    /// As [`Serve::start`], with more environment variables.
    pub fn start_with_env(args: &[&str], admin: &str, env: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark"))
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("TRACEMARK_ADMIN_TOKEN", admin)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawning tracemark serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .trim()
            .rsplit_once(" on http://")
            .map(|(_, a)| a.to_string())
            .unwrap_or_else(|| panic!("tracemark serve did not start: {line:?}"));
        Serve {
            child,
            _stdout: stdout,
            base: format!("http://{addr}"),
        }
    }

    /// `/health`'s answer.
    pub fn health(&self) -> Option<serde_json::Value> {
        let c = client::Client::new(&self.base).ok()?;
        match c.get(None, "/health") {
            Ok((200, h)) => Some(h),
            _ => None,
        }
    }

    /// Waits until `/health` says `role` (within [`ROLE_TIMEOUT`]); returns how long it took.
    pub fn wait_role(&self, role: &str) -> Duration {
        let started = Instant::now();
        loop {
            if self.health().is_some_and(|h| h["role"] == role) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < ROLE_TIMEOUT,
                "{} did not become the {role} within {ROLE_TIMEOUT:?}",
                self.base
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
