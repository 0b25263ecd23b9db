//! A slow store does not slow what needs no store (issue 15, item 2).
//!
//! The registry runs on a real embedded store wrapped in `conformance::faults::FaultyStore`,
//! which sleeps 50 ms in every read, as a network engine far away would. The real router and serving loop
//! answer over real HTTP. With many slow verifications in flight (more than the async
//! worker threads), `/health` and the public pages that read no store must still answer in
//! a few milliseconds: no store read may run on an async thread. Past the reader pool's
//! queue bound, requests are told 503 with `Retry-After` at once, and the server recovers.
//! A store whose reads fail is reported by `/health` within seconds.

use conformance::faults::FaultyStore;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every read of the slow store costs while switched on.
const READ_DELAY_MS: u64 = 50;

/// A registry on a slow store, served over HTTP on a free loopback port.
struct Slow {
    base: String,
    store: Arc<FaultyStore>,
    /// Serves while it lives.
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// The server's settings, the store's pools sized by `reads` (`None`: the defaults).
fn config(reads: Option<(usize, usize, Duration)>) -> server::Config {
    let mut limits = server::reads::ReadLimits::default();
    if let Some((threads, queue_max, timeout)) = reads {
        limits.threads = threads;
        limits.queue_max = queue_max;
        limits.timeout = timeout;
    }
    server::Config {
        admin_token: "slow-admin".into(),
        token_key: [7; 32],
        public_rate: None,
        log_key: ed25519_dalek::SigningKey::from_bytes(&[8; 32]),
        log_origin: server::LOG_ORIGIN_DEFAULT.into(),
        decoder: None,
        analytics: None,
        metrics_allow: server::METRICS_ALLOW_DEFAULT.to_vec(),
        till_quota: None,
        public_url: None,
        nonce_journal: None,
        nonce_store: None,
        role: None,
        reads: limits,
    }
}

/// Starts a registry on a fresh slow store (its reads slow from the start: opening the
/// registry reads too), served as `tracemark serve` serves, on a runtime as its own (one
/// async worker a core).
fn start(reads: Option<(usize, usize, Duration)>) -> Slow {
    let dir = tempfile::tempdir().expect("temp dir");
    let inner = store_fjall::FjallStore::open(&dir.path().join("store")).expect("store");
    let store = Arc::new(FaultyStore::new(Arc::new(inner)));
    store.faults(|f| f.read_delay = Some(Duration::from_millis(READ_DELAY_MS)));
    let clock = registry::system_clock();
    let keyring =
        issuance::Keyring::load_or_create(&dir.path().join("keys.json"), clock()).expect("keyring");
    let registry = registry::Registry::open(store.clone(), keyring, clock).expect("registry");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(node::serve(listener, registry, config(reads)));
    Slow {
        base,
        store,
        _rt: rt,
        _dir: dir,
    }
}

/// A client whose connections come from loopback address 127.0.`net`.`host`: the serving
/// loop holds each address to a few anonymous requests in flight, so a crowd needs many.
fn client_from(net: u8, host: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, net, host)))
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// A Digital Link of a code nobody issued: it parses, so verifying it reads the store.
fn made_up_link(i: u64) -> String {
    format!("/01/04601234567893/21/slow{i:06}")
}

/// Waits until `f` holds, polling, for at most `deadline` (no fixed sleeps).
async fn wait_for(what: &str, deadline: Duration, mut f: impl AsyncFnMut() -> bool) {
    let until = Instant::now() + deadline;
    loop {
        if f().await {
            return;
        }
        assert!(Instant::now() < until, "waited {deadline:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Quantiles (ms) of a sample.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// How many verifications the crowd keeps in flight: many more than the async workers.
const CROWD: usize = 64;

#[test]
fn a_slow_store_does_not_slow_what_needs_none() {
    let s = start(None);
    client_runtime().block_on(async {
        let probe = client_from(3, 1);
        healthy(&probe, &s.base).await;
        // A verification takes at least a read of the store.
        let t = Instant::now();
        let r = probe
            .get(format!("{}{}", s.base, made_up_link(0)))
            .header("accept", "application/json")
            .send()
            .await
            .expect("verify");
        assert_eq!(r.status(), 200);
        let alone = t.elapsed();
        assert!(alone >= Duration::from_millis(READ_DELAY_MS), "{alone:?}");

        // The crowd: CROWD connections from 8 addresses, each verifying again and again.
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (in_flight, mut crowd) = (Arc::new(AtomicU64::new(0)), Vec::new());
        for i in 0..CROWD {
            let c = client_from(2, 1 + (i % 8) as u8);
            let (stop, done, in_flight) = (stop.clone(), done.clone(), in_flight.clone());
            let base = s.base.clone();
            crowd.push(tokio::spawn(async move {
                let mut n = 0u64;
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    in_flight.fetch_add(1, Ordering::Relaxed);
                    let r = c
                        .get(format!("{base}{}", made_up_link(i as u64 * 1_000_000 + n)))
                        .header("accept", "application/json")
                        .send()
                        .await;
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    statuses.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                statuses
            }));
        }
        // Every connection holds a request, and the reader threads are all reading.
        wait_for("the crowd in flight", Duration::from_secs(30), async || {
            in_flight.load(Ordering::Relaxed) as usize >= CROWD
                && done.load(Ordering::Relaxed) >= 32
        })
        .await;
        // The pages that need no store, round after round, while the crowd waits.
        let pages = [
            "/health",
            "/",
            "/scan",
            "/.well-known/tracemark-keys",
            "/openapi.json",
            "/problems/busy",
        ];
        let mut took: Vec<f64> = Vec::new();
        let mut per_page: Vec<Vec<f64>> = vec![Vec::new(); pages.len()];
        let rounds = 40;
        // A server whose async threads wait on the store takes seconds a page: the figures
        // of the first minute are enough to tell.
        let phase = Instant::now();
        'rounds: for _ in 0..rounds {
            for (k, page) in pages.iter().enumerate() {
                if phase.elapsed() > Duration::from_secs(60) {
                    break 'rounds;
                }
                let t = Instant::now();
                let r = probe
                    .get(format!("{}{page}", s.base))
                    .send()
                    .await
                    .expect("page");
                let status = r.status();
                let body = r.bytes().await.expect("body");
                let ms = t.elapsed().as_secs_f64() * 1e3;
                assert_eq!(status, 200, "{page}: {}", String::from_utf8_lossy(&body));
                took.push(ms);
                per_page[k].push(ms);
            }
        }
        let verified_meanwhile = done.load(Ordering::Relaxed);
        let in_flight_at_end = in_flight.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let mut statuses = Vec::new();
        for t in crowd {
            statuses.extend(t.await.expect("crowd task"));
        }
        took.sort_by(f64::total_cmp);
        let (p50, p99, max) = (
            quantile(&took, 0.5),
            quantile(&took, 0.99),
            took[took.len() - 1],
        );
        for (page, mut ms) in pages.iter().zip(per_page) {
            ms.sort_by(f64::total_cmp);
            eprintln!(
                "{page}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                quantile(&ms, 0.5),
                quantile(&ms, 0.99),
                ms[ms.len() - 1]
            );
        }
        eprintln!(
            "pages that need no store, {} requests with {CROWD} slow verifications in flight \
             ({in_flight_at_end} at the end; {verified_meanwhile} verified so far; one alone \
             took {:.1} ms): p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
            took.len(),
            alone.as_secs_f64() * 1e3
        );
        let ok = statuses.iter().filter(|&&s| s == 200).count();
        eprintln!("crowd answers: {} in all, {ok} of them 200", statuses.len());
        assert!(
            ok * 10 >= statuses.len() * 9,
            "the crowd's verifications mostly answered: {ok} of {}",
            statuses.len()
        );
        // A server whose async threads waited on the store would answer these pages behind
        // the crowd's reads (≥ one read, 50 ms, at the median, seconds in the tail). Without
        // that, the median stays a few ms and even the tail below one read's delay, on a
        // busy machine too (a CI run with three other jobs loading the two cores measured
        // p99 21.6 ms, over the 20 ms this asserted before).
        assert!(
            p50 < 5.0 && p99 < READ_DELAY_MS as f64,
            "the pages that need no store slowed down with a slow store: p50 {p50:.2} ms, \
             p99 {p99:.2} ms (want < 5 and < {READ_DELAY_MS})"
        );
    });
}

/// A client's runtime: two workers, as many as the server's on this machine.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Waits (at most 30 s) for `/health` to answer 200: the server is up and its health
/// probe has read the slow store.
async fn healthy(probe: &reqwest::Client, base: &str) {
    wait_for("/health to answer ok", Duration::from_secs(30), async || {
        matches!(probe.get(format!("{base}/health")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
}

/// One answer of a crowd: status, `Retry-After`, `Content-Type`, body, time taken.
type Answer = (u16, Option<String>, String, serde_json::Value, Duration);

/// Sends `n` verifications at once, from addresses 127.0.`net`.1–8, and returns their
/// answers.
async fn crowd_at_once(base: &str, n: u64, net: u8) -> Vec<Answer> {
    let mut crowd = Vec::new();
    for i in 0..n {
        let c = client_from(net, 1 + (i % 8) as u8);
        let url = format!("{base}{}", made_up_link(i));
        crowd.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .expect("verify");
            let header = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (retry, ct) = (header("retry-after"), header("content-type"));
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.expect("json");
            (status, retry, ct.unwrap_or_default(), body, t.elapsed())
        }));
    }
    let mut answers = Vec::new();
    for t in crowd {
        answers.push(t.await.expect("task"));
    }
    answers
}

/// Asserts a 503 `busy` problem told to come back in a second, given at once.
fn assert_busy((status, retry, ct, body, took): &Answer, detail: &str) {
    assert_eq!(*status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("1"), "{body}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["type"], "/problems/busy", "{body}");
    assert_eq!(body["status"], 503);
    assert!(
        body["detail"].as_str().unwrap_or("").contains(detail),
        "{body}"
    );
    // Not after waiting for the reads ahead of it (50 ms each) without end.
    assert!(*took < Duration::from_secs(2), "answered after {took:?}");
}

#[test]
fn past_the_readers_queue_requests_are_told_to_come_back_and_the_server_recovers() {
    // Two readers, four reads waiting: a crowd of 32 gets 503 with Retry-After at once for
    // all but the few the pool took, instead of waiting without end.
    let s = start(Some((2, 4, Duration::from_secs(30))));
    client_runtime().block_on(async {
        let probe = client_from(3, 2);
        healthy(&probe, &s.base).await;
        let answers = crowd_at_once(&s.base, 32, 4).await;
        let shed: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
        let ok = answers.iter().filter(|a| a.0 == 200).count();
        eprintln!(
            "32 at once on 2 readers and a queue of 4: {ok} answered, {} shed",
            shed.len()
        );
        assert_eq!(ok + shed.len(), 32, "only 200 or 503: {answers:?}");
        // The queue holds four; the two readers take theirs out of it as they wake, so a
        // crowd faster than their wake-up fills it before they do (a CI run saw 5 answered
        // and 27 shed): at least the queue's four, up to six and the odd late arrival.
        assert!(ok >= 4, "those the pool took were answered: {ok}");
        assert!(shed.len() >= 16, "most were shed: {}", shed.len());
        for a in shed {
            assert_busy(a, "readers are saturated");
        }
        // It recovers: once the crowd is gone, a verification is answered again.
        let r = probe
            .get(format!("{}{}", s.base, made_up_link(99)))
            .header("accept", "application/json")
            .send()
            .await
            .expect("verify");
        assert_eq!(r.status(), 200);
        let h: serde_json::Value = probe
            .get(format!("{}/health", s.base))
            .send()
            .await
            .expect("health")
            .json()
            .await
            .expect("json");
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["store"], "ok", "{h}");
        assert!(h["reads"]["shed"].as_u64().unwrap_or(0) >= 16, "{h}");
    });
}

#[test]
fn a_read_not_answered_in_time_is_a_503_and_health_tells_of_a_failing_store() {
    // One reader, 200 ms to answer: of eight reads queued at once the last ones cannot be
    // reached in time (50 ms each) and are answered 503 with Retry-After after 200 ms.
    let s = start(Some((1, 64, Duration::from_millis(200))));
    client_runtime().block_on(async {
        let probe = client_from(3, 3);
        healthy(&probe, &s.base).await;
        let answers = crowd_at_once(&s.base, 8, 5).await;
        let timed_out: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
        for a in &answers {
            assert!(a.0 == 200 || a.0 == 503, "{a:?}");
        }
        for a in &timed_out {
            assert_busy(a, "did not answer within");
        }
        assert!(
            timed_out.len() >= 2,
            "reads not reached in time were refused: {}",
            timed_out.len()
        );

        // The store's reads fail: /health says so within seconds (it reads nothing itself).
        s.store.faults(|f| f.reads_fail = true);
        let t = Instant::now();
        wait_for(
            "/health to say the store is unavailable",
            Duration::from_secs(10),
            async || {
                let Ok(r) = probe.get(format!("{}/health", s.base)).send().await else {
                    return false;
                };
                let status = r.status();
                let h: serde_json::Value = r.json().await.unwrap_or_default();
                status == 503 && h["store"] == "unavailable" && h["status"] == "unavailable"
            },
        )
        .await;
        eprintln!("/health told of the failing store after {:?}", t.elapsed());
        // And recovers when the store does.
        s.store.faults(|f| f.reads_fail = false);
        wait_for(
            "/health to say ok again",
            Duration::from_secs(10),
            async || {
                let Ok(r) = probe.get(format!("{}/health", s.base)).send().await else {
                    return false;
                };
                let h: serde_json::Value = r.json().await.unwrap_or_default();
                h["store"] == "ok" && h["status"] == "ok"
            },
        )
        .await;
    });
}
