//! A real headless Chromium driven through chromedriver (WebDriver, via `fantoccini`), for
//! the browser tests.
//!
//! - One chromedriver per test binary, started lazily on a free loopback port, in a process
//!   group of its own: every Chromium it launches is in that group, and the whole group is
//!   killed when the test binary exits (normally, or after failed tests: an `atexit`
//!   handler), and by a small watchdog process when the test binary is killed outright.
//! - One shared browser session ([`Browser::shared`]); each test takes a [`Page`], a tab of
//!   its own, exclusively for as long as it holds it (WebDriver commands act on the
//!   session's *current* tab, so two tests cannot interleave in one session). Tests that need
//!   a browser started with other flags (a fake camera) open their own with
//!   [`Browser::launch`].
//! - Screenshots go to `<target>/browser-artifacts/<name>.png`.
//!
//! Debian packages: `chromium` and `chromium-driver`.

#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The longest any one WebDriver command may take before the test fails with a message
/// (instead of hanging the binary).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a page load may take (chromedriver's page-load timeout).
pub const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to answer its status endpoint after starting.
pub const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// The phone-sized window of every browser (CSS pixels).
pub const WINDOW: (u32, u32) = (412, 915);

/// The flags of every browser: headless, no network services (this machine's network is
/// closed, and the tests must not depend on one), a phone-sized window.
const BASE_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--window-size=412,915",
];

fn binary(env: &str, default: &str, package: &str) -> PathBuf {
    let p = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "{} not found (set {env} or install the Debian package `{package}`)",
        p.display()
    );
    p
}

/// The tokio runtime all WebDriver traffic runs on (a fantoccini session lives on the
/// runtime that opened it; the tests themselves are plain threads calling `block_on`).
fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("webdriver runtime")
    })
}

/// Runs a WebDriver future to completion, failing the test after [`COMMAND_TIMEOUT`].
pub fn block<T, E: std::fmt::Debug>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match rt().block_on(async { tokio::time::timeout(COMMAND_TIMEOUT, f).await }) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("webdriver: {what}: {e:?}"),
        Err(_) => panic!("webdriver: {what}: no answer within {COMMAND_TIMEOUT:?}"),
    }
}

/// Where screenshots and other artifacts go: `<target>/browser-artifacts`.
pub fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-artifacts");
    // Emptied once per run, so every picture there is from the last run.
    static CLEAN: OnceLock<()> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let _ = std::fs::remove_dir_all(&dir);
    });
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

// ---------------------------------------------------------------------------------------
// chromedriver: one per binary, killed with its browsers at exit
// ---------------------------------------------------------------------------------------

struct Driver {
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// Process group of chromedriver and every browser it starts.
    pgid: i32,
}

/// Temporary directories (browser profiles, videos) removed at exit.
static TEMP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// The process group to kill at exit (0: none yet).
static PGID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn at_exit() {
    let pgid = PGID.load(std::sync::atomic::Ordering::SeqCst);
    if pgid > 0 {
        // SAFETY: signals a process group this binary created (chromedriver's).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: as above; whatever ignored SIGTERM.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    let dirs = std::mem::take(&mut *TEMP.lock().unwrap_or_else(|e| e.into_inner()));
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Makes [`at_exit`] run when the binary exits (once, however often called).
fn register_at_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()`.
        unsafe { libc::atexit(at_exit) };
    });
}

/// Removes `dir` when the test binary exits.
pub fn remove_at_exit(dir: &Path) {
    register_at_exit();
    TEMP.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(dir.to_path_buf());
}

/// A fresh temporary directory, removed at exit.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
        .keep();
    register_at_exit();
    TEMP.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(d.clone());
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn driver() -> &'static Driver {
    static D: OnceLock<Driver> = OnceLock::new();
    D.get_or_init(|| {
        let exe = binary("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        binary("CHROME", "/usr/bin/chromium", "chromium");
        let port = free_port();
        // Spawned from a thread that lives as long as the binary: the parent-death signal
        // is tied to the spawning *thread*, and a test's thread ends with its test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut cmd = std::process::Command::new(&exe);
            cmd.arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .process_group(0);
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn();
            let ok = child.is_ok();
            let _ = tx.send(child.map(|c| c.id()));
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        let pid = rx
            .recv()
            .expect("driver thread")
            .unwrap_or_else(|e| panic!("starting chromedriver: {e}")) as i32;
        PGID.store(pid, std::sync::atomic::Ordering::SeqCst);
        register_at_exit();
        // If this binary is killed outright (no atexit), a watchdog kills the group: it
        // waits to read from a pipe only this process writes to, and the kernel closes the
        // pipe when this process dies, however it dies (the pipe is close-on-exec, so no
        // browser holds it open).
        let watchdog = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("read _; kill -9 -{pid} 2>/dev/null"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn();
        if let Ok(mut w) = watchdog {
            // Held open for the life of the process.
            std::mem::forget(w.stdin.take());
        }
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::new();
        let start = Instant::now();
        loop {
            let ready = http
                .get(format!("{url}/status"))
                .timeout(Duration::from_secs(2))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                start.elapsed() < DRIVER_START_TIMEOUT,
                "chromedriver did not start within {DRIVER_START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { url, pgid: pid }
    })
}

// ---------------------------------------------------------------------------------------
// Browsers and pages
// ---------------------------------------------------------------------------------------

/// A browser (one WebDriver session, one Chromium process with its own fresh profile).
pub struct Browser {
    client: Client,
    session: String,
    /// Held by the [`Page`] using the browser.
    lock: Mutex<()>,
}

impl Browser {
    /// The browser all tests share (English UI and `Accept-Language: en-US,en`).
    pub fn shared() -> &'static Browser {
        static B: OnceLock<Browser> = OnceLock::new();
        B.get_or_init(|| Browser::launch(&[]))
    }

    /// A new browser with [`BASE_FLAGS`] and `extra` flags (e.g. a fake camera).
    pub fn launch(extra: &[String]) -> Browser {
        let d = driver();
        let chrome = binary("CHROME", "/usr/bin/chromium", "chromium");
        let profile = temp_dir("tracemark-chromium-");
        let mut args: Vec<String> = BASE_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--lang=en-US".into());
        args.extend(extra.iter().cloned());
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chrome,
                "args": args,
                "prefs": {"intl.accept_languages": "en-US,en"},
            },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let client = block("new session", async {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&d.url)
                .await
        });
        block(
            "timeouts",
            client.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(COMMAND_TIMEOUT),
                Some(PAGE_LOAD_TIMEOUT),
                Some(Duration::ZERO),
            )),
        );
        let session = block("session id", client.session_id()).expect("a session id");
        Browser {
            client,
            session,
            lock: Mutex::new(()),
        }
    }

    /// A tab of its own for test `name` (its screenshots are named after it), held
    /// exclusively until dropped.
    pub fn page(&self, name: &str) -> Page<'_> {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let tab = block("new tab", self.client.new_window(true));
        block("switch tab", self.client.switch_to_window(tab.handle));
        let p = Page {
            b: self,
            name: name.to_string(),
            _guard: guard,
        };
        // A phone's viewport: headless Chromium's windows are at least 500 pixels wide.
        p.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": WINDOW.0, "height": WINDOW.1, "deviceScaleFactor": 1, "mobile": true}),
        );
        p
    }

    /// A chromedriver vendor command on this session (`POST`, `DELETE`) at `path` below
    /// `/session/{id}`.
    fn vendor(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", driver().url, self.session);
        let mut r = reqwest::blocking::Client::new()
            .request(method, &url)
            .timeout(COMMAND_TIMEOUT);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = r.status();
        let v: Value = r.json().unwrap_or(Value::Null);
        assert!(status.is_success(), "{url}: {status} {v}");
        v["value"].clone()
    }
}

impl Drop for Browser {
    /// Ends the session: its Chromium exits (a panicking test's too).
    fn drop(&mut self) {
        let c = self.client.clone();
        let _ =
            rt().block_on(async { tokio::time::timeout(Duration::from_secs(10), c.close()).await });
    }
}

/// A tab of a [`Browser`], held exclusively by one test; closed when dropped.
pub struct Page<'a> {
    b: &'a Browser,
    name: String,
    _guard: MutexGuard<'a, ()>,
}

impl Drop for Page<'_> {
    fn drop(&mut self) {
        // Back online for whoever uses the browser next, then close the tab and go back to
        // a remaining one (closing the session's last tab would end the session).
        let _ = reqwest::blocking::Client::new()
            .delete(format!(
                "{}/session/{}/chromium/network_conditions",
                driver().url,
                self.b.session
            ))
            .timeout(Duration::from_secs(5))
            .send();
        let c = &self.b.client;
        let _ = rt().block_on(async {
            tokio::time::timeout(Duration::from_secs(20), async {
                let _ = c.close_window().await;
                if let Ok(w) = c.windows().await {
                    if let Some(h) = w.into_iter().next() {
                        let _ = c.switch_to_window(h).await;
                    }
                }
            })
            .await
        });
    }
}

impl<'a> Page<'a> {
    /// The fantoccini client (for what these helpers do not cover).
    pub fn client(&self) -> &Client {
        &self.b.client
    }

    /// Navigates to `url` and waits for the load.
    pub fn goto(&self, url: &str) {
        block(&format!("goto {url}"), self.b.client.goto(url));
    }

    /// Reloads the page.
    pub fn reload(&self) {
        block("reload", self.b.client.refresh());
    }

    /// The current URL, `None` if it cannot be read right now (polling across a
    /// navigation).
    pub fn try_url(&self) -> Option<String> {
        rt().block_on(async {
            tokio::time::timeout(COMMAND_TIMEOUT, self.b.client.current_url()).await
        })
        .ok()?
        .ok()
        .map(|u| u.to_string())
    }

    /// The current URL.
    pub fn url(&self) -> String {
        block("current url", self.b.client.current_url()).to_string()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        block(
            &format!("execute {script}"),
            self.b.client.execute(script, args),
        )
    }

    /// Runs `script` like [`Page::js`]; `None` when it fails (while polling across a
    /// navigation, the old document's context may be gone).
    pub fn try_js(&self, script: &str, args: Vec<Value>) -> Option<Value> {
        rt().block_on(async {
            tokio::time::timeout(COMMAND_TIMEOUT, self.b.client.execute(script, args)).await
        })
        .ok()?
        .ok()
    }

    /// Clicks the element matching `css` (a link, a submit button) and waits until the
    /// document it leads to has loaded.
    pub fn click_to_navigate(&self, css: &str) {
        self.js("window.__tracemarkOld = true", vec![]);
        self.click(css);
        self.wait(
            &format!("navigation after clicking {css}"),
            PAGE_LOAD_TIMEOUT,
            |p| {
                (p.try_js(
                "return window.__tracemarkOld === undefined && document.readyState === 'complete'",
                vec![],
            ) == Some(Value::Bool(true)))
            .then_some(())
            },
        );
    }

    /// Runs an async `script`: it calls `arguments[arguments.length - 1]` with the result.
    pub fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        block(
            &format!("execute_async {script}"),
            self.b.client.execute_async(script, args),
        )
    }

    /// Whether an element matches `css`.
    pub fn exists(&self, css: &str) -> bool {
        self.try_js(
            "return document.querySelector(arguments[0]) !== null",
            vec![json!(css)],
        ) == Some(Value::Bool(true))
    }

    /// The element matching `css` (panics, with the page's URL, when there is none).
    pub fn el(&self, css: &str) -> fantoccini::elements::Element {
        match rt().block_on(self.b.client.find(Locator::Css(css))) {
            Ok(e) => e,
            Err(e) => panic!(
                "{}: no element {css} on {} ({e})\n{}",
                self.name,
                self.url(),
                self.body_text()
            ),
        }
    }

    /// Attribute `name` of the element matching `css` (`None` when absent).
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        block(&format!("attr {css} {name}"), self.el(css).attr(name))
    }

    /// The rendered text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        block(&format!("text {css}"), self.el(css).text())
    }

    /// The page's visible text (for failure messages).
    pub fn body_text(&self) -> String {
        rt().block_on(async {
            match self.b.client.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        })
    }

    /// Clicks the element matching `css`, once it is enabled (a page's script enables its
    /// buttons when it is ready; a click on a disabled button does nothing).
    pub fn click(&self, css: &str) {
        self.wait(&format!("{css} enabled"), PAGE_LOAD_TIMEOUT, |p| {
            (p.try_js(
                "const e = document.querySelector(arguments[0]); return !!e && !e.disabled",
                vec![json!(css)],
            ) == Some(Value::Bool(true)))
            .then_some(())
        });
        block(&format!("click {css}"), self.el(css).click());
    }

    /// Types `text` into the element matching `css` (a file input takes a path).
    pub fn type_into(&self, css: &str, text: &str) {
        block(&format!("send_keys {css}"), self.el(css).send_keys(text));
    }

    /// Chooses the option of value `value` of the `<select>` matching `css`.
    pub fn select(&self, css: &str, value: &str) {
        block(
            &format!("select {css} {value}"),
            self.el(css).select_by_value(value),
        );
    }

    /// Waits until `f` returns `Some`, polling; panics with `what` and the page's text after
    /// `timeout`.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if start.elapsed() > timeout {
                self.screenshot(&format!("{}-timeout", self.name));
                panic!(
                    "{}: timed out after {timeout:?} waiting for {what} on {}\npage text:\n{}",
                    self.name,
                    self.url(),
                    self.body_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element matching `css` has attribute `name`, and returns its value.
    pub fn wait_attr(&self, css: &str, name: &str, timeout: Duration) -> String {
        self.wait(&format!("{css}[{name}]"), timeout, |p| {
            p.try_js(
                "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null",
                vec![json!(css), json!(name)],
            )?
            .as_str()
            .map(str::to_string)
        })
    }

    /// Scrolls the element matching `css` to the middle of the viewport.
    pub fn scroll_to(&self, css: &str) {
        self.js(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
            vec![json!(css)],
        );
    }

    /// Saves a screenshot of the viewport as `<artifacts>/<name>.png`; returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        // Once more after a moment if the page was between documents.
        let png = match rt().block_on(async {
            tokio::time::timeout(COMMAND_TIMEOUT, self.b.client.screenshot()).await
        }) {
            Ok(Ok(png)) => png,
            _ => {
                std::thread::sleep(Duration::from_millis(500));
                block("screenshot", self.b.client.screenshot())
            }
        };
        let path = artifacts().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Emulates the network being down (`offline`) or back (chromedriver's network
    /// conditions, on this session).
    pub fn set_offline(&self, offline: bool) {
        if offline {
            self.b.vendor(
                reqwest::Method::POST,
                "/chromium/network_conditions",
                Some(json!({"network_conditions": {
                    "offline": true, "latency": 0,
                    "download_throughput": 0, "upload_throughput": 0}})),
            );
        } else {
            self.b.vendor(
                reqwest::Method::DELETE,
                "/chromium/network_conditions",
                None,
            );
        }
    }

    /// Runs a Chrome DevTools Protocol command on this tab.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.b.vendor(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    /// Makes this tab send the languages `value` (a comma list without q-values, e.g.
    /// `ru-RU,ru`: Chromium adds them) as `Accept-Language` and report them as the
    /// browser's languages, as a phone set to that language does.
    pub fn accept_language(&self, value: &str) {
        let ua = self.js("return navigator.userAgent", vec![]);
        self.cdp(
            "Emulation.setUserAgentOverride",
            json!({"userAgent": ua, "acceptLanguage": value}),
        );
    }

    /// Puts this phone at (`lat`, `lon`) and lets pages read it (as a shopper who allows
    /// the location prompt).
    pub fn set_location(&self, lat: f64, lon: f64, accuracy_m: f64) {
        self.b.vendor(
            reqwest::Method::POST,
            "/permissions",
            Some(json!({"descriptor": {"name": "geolocation"}, "state": "granted"})),
        );
        self.cdp(
            "Emulation.setGeolocationOverride",
            json!({"latitude": lat, "longitude": lon, "accuracy": accuracy_m}),
        );
    }

    /// Deletes every cookie of the current page's site.
    pub fn clear_cookies(&self) {
        block("delete cookies", self.b.client.delete_all_cookies());
    }
}
