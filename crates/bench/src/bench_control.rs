//! `tracemark bench --only control`: what the projections (the risk engine, the analytics,
//! the EPCIS query index) cost the ingest path, and how soon an alert follows the document
//! that causes it.

use crate::{bed, doc_bodies, median, report, Bed, DOC_CODES};
use anyhow::{anyhow, Result};
use parking_lot::RwLock;
use registry::project::{follow, Follower};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The projections the server runs (the risk engine, the analytics and the EPCIS query
/// index), following `b`'s registry.
fn projections(b: &Bed) -> Result<(Arc<RwLock<risk::Risk>>, Vec<Follower>)> {
    let risk = Arc::new(RwLock::new(risk::Risk::new()));
    let f = follow(&b.reg, risk.clone()).map_err(|e| anyhow!("{e}"))?;
    let analytics: analytics::Handle = Arc::new(RwLock::new(analytics::Analytics::default()));
    let g = follow(&b.reg, analytics).map_err(|e| anyhow!("{e}"))?;
    let index = Arc::new(RwLock::new(epcis_repo::EpcisIndex::default()));
    let h = follow(&b.reg, index).map_err(|e| anyhow!("{e}"))?;
    Ok((risk, vec![f, g, h]))
}

/// The document mix projections work on — introduce, ship to a shop, accept, sell — over
/// `n` codes; code-events/s of the whole mix, and how long the projections took to catch
/// up after the last answer.
fn mix(n: u32, with: bool) -> Result<(f64, Option<Duration>)> {
    let (b, codes) = applied(n)?;
    let followers = if with { Some(projections(&b)?) } else { None };
    let t = Instant::now();
    economy(&b, &codes)?;
    let rate = 4.0 * f64::from(n) / t.elapsed().as_secs_f64();
    let lag = match &followers {
        Some((_, fs)) => {
            let answered = Instant::now();
            let head = b.reg.feed_signal().head();
            for f in fs {
                f.wait_applied(head, Duration::from_secs(60));
            }
            Some(answered.elapsed())
        }
        None => None,
    };
    Ok((rate, lag))
}

/// A bed whose producer has `n` codes (MAC tails) applied: the start of every row here.
fn applied(n: u32) -> Result<(Bed, Vec<String>)> {
    let b = bed()?;
    let (_, order) = b.emit(n, "mac")?;
    let codes = b.codes(&order, n)?;
    b.ingest_as(&b.producer, doc_bodies("apply", &codes, json!({})), 64)?;
    Ok((b, codes))
}

/// Introduces `codes` (applied), ships them to the retailer, who accepts and sells them.
fn economy(b: &Bed, codes: &[String]) -> Result<()> {
    let introduce = json!({"production_date": "2026-11-01", "expiry_date": "2030-01-01"});
    b.ingest_as(&b.producer, doc_bodies("introduce", codes, introduce), 64)?;
    // Ship in documents of DOC_CODES, then accept each shipment.
    let ships = doc_bodies("ship", codes, json!({"receiver": b.retailer.tin}));
    let ids: Vec<String> = ships
        .iter()
        .filter_map(|d| serde_json::from_slice::<serde_json::Value>(d).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    b.ingest_as(&b.producer, ships, 64)?;
    let accepts: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| {
            serde_json::to_vec(
                &json!({"id": uuid::Uuid::new_v4(), "type": "accept", "shipment": id}),
            )
            .unwrap_or_default()
        })
        .collect();
    b.ingest_as(&b.retailer, accepts, 64)?;
    let receipt = json!({"receipt": {"fiscal_drive": "9999078900012345", "number": 1,
        "at": types::time::format_timestamp(b.reg.now()), "store": "Bench store"}});
    b.ingest_as(&b.retailer, doc_bodies("sell", codes, receipt), 64)?;
    Ok(())
}

/// `tracemark export --parquet` of a registry whose `n` codes were applied, introduced,
/// shipped, accepted and sold: (rows written per second, rows, bytes of the four files).
fn export_rate(n: u32) -> Result<(f64, u64, u64)> {
    let (b, codes) = applied(n)?;
    economy(&b, &codes)?;
    let out = tempfile::tempdir()?;
    let summary = export::export(b.reg.store().as_ref(), out.path(), 1)?;
    let rows: u64 = summary.rows.iter().map(|(_, r)| r).sum();
    let bytes = std::fs::read_dir(out.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok((rows as f64 / summary.elapsed.as_secs_f64(), rows, bytes))
}

/// The export's rows: Parquet rows written per second from the feed of an economy.
pub(crate) fn export_rows(quick: bool, runs: usize) -> Result<()> {
    let n: u32 = if quick { 50_000 } else { 200_000 };
    let mut rates = Vec::new();
    let mut size = (0, 0);
    for _ in 0..runs {
        let (rate, rows, bytes) = export_rate(n)?;
        rates.push(rate);
        size = (rows, bytes);
    }
    report(
        &format!(
            "export --parquet: {} k rows, {:.1} MB",
            size.0 / 1000,
            size.1 as f64 / 1e6
        ),
        "rows/s",
        &rates,
        "",
    );
    Ok(())
}

/// Time from a refused grey sale's answer to its alert in the risk engine, `samples` times,
/// while documents of 1,000 codes stream in: (p50, p99) in ms.
fn alert_latency(samples: usize, background_codes: u32) -> Result<(f64, f64)> {
    let (b, codes) = applied(background_codes + samples as u32)?;
    let (grey, busy) = codes.split_at(samples);
    b.ingest_as(
        &b.producer,
        doc_bodies("introduce", grey, json!({"production_date": "2026-11-01"})),
        64,
    )?;
    let (risk, _followers) = projections(&b)?;
    let signals = |r: &risk::Risk| -> u64 {
        r.alerts(&risk::AlertFilter {
            kinds: vec![risk::Kind::GreySale],
            limit: risk::ALERTS_PAGE_MAX,
            ..Default::default()
        })
        .iter()
        .map(|a| a.count)
        .sum()
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut lat = Vec::with_capacity(samples);
    std::thread::scope(|sc| -> Result<()> {
        let load = sc.spawn(|| {
            let intro = json!({"production_date": "2026-11-01"});
            for chunk in busy.chunks(DOC_CODES * 16) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let _ = b.ingest_as(
                    &b.producer,
                    doc_bodies("introduce", chunk, intro.clone()),
                    16,
                );
            }
        });
        let receipt = json!({"fiscal_drive": "1", "number": 1,
            "at": types::time::format_timestamp(b.reg.now()), "store": "Bench"});
        for code in grey {
            let before = signals(&risk.read());
            let body = serde_json::to_vec(&json!({"id": uuid::Uuid::new_v4(), "type": "sell",
                "codes": [client::id_code(code)], "receipt": receipt}))?;
            // The retailer sells a code the producer owns: refused, a grey sale.
            let r = b.reg.submit_document(&b.retailer, body, Default::default());
            if r.is_ok() {
                return Err(anyhow!("a grey sale was accepted"));
            }
            let answered = Instant::now();
            while signals(&risk.read()) == before {
                if answered.elapsed() > Duration::from_secs(10) {
                    return Err(anyhow!("no alert within 10 s"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            lat.push(answered.elapsed().as_secs_f64() * 1e3);
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = load.join();
        Ok(())
    })?;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Ok((pct(0.50), pct(0.99)))
}

/// The rows.
pub(crate) fn rows(quick: bool, runs: usize) -> Result<()> {
    let n: u32 = if quick { 50_000 } else { 200_000 };
    let (mut off, mut on, mut lags) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        // Alternate which goes first: the disk's state favours neither.
        for with in if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            let (rate, lag) = mix(n, with)?;
            if with {
                on.push(rate);
                lags.extend(lag.map(|l| l.as_secs_f64() * 1e3));
            } else {
                off.push(rate);
            }
        }
        eprintln!("bench control: run {} of {runs} done", run + 1);
    }
    report(
        "ingest mix (introduce, ship, accept, sell), projections off",
        "code-events/s",
        &off,
        "",
    );
    report(
        "the same, risk engine, analytics and EPCIS index following",
        "code-events/s",
        &on,
        "target ≥ 85 % of off",
    );
    println!(
        "{:<46} {:>10.2} (median on / median off; ≥ 0.85 meets the target)",
        "  ratio",
        median(on.clone()) / median(off.clone())
    );
    if !lags.is_empty() {
        println!(
            "{:<46} {:>10.0} ms (median)",
            "  projections caught up after the last answer",
            median(lags)
        );
    }
    let samples = if quick { 100 } else { 300 };
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (p50, p99) = alert_latency(samples, if quick { 100_000 } else { 400_000 })?;
        p50s.push(p50);
        p99s.push(p99);
    }
    println!(
        "{:<46} {:>10} ms p50, {:.1} ms p99 (median of runs; target p99 ≤ 1,000 ms)",
        "alert after its document, under ingest",
        format!("{:.1}", median(p50s)),
        median(p99s)
    );
    Ok(())
}
