//! `tracemark export --parquet`: a real history made through the real server (the binary
//! of this build, run as a process), stopped, exported by the binary, and read back twice:
//! with the `parquet` crate's Arrow reader (exact rows and values) and independently with
//! DuckDB through Python (row and shop counts). Also: a data directory in use or missing
//! is refused with words, not a panic; `--from-seq` exports only what came after.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayAccessor, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use client::{gtin, id_code, Actor, Client};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};

const ADMIN: &str = "export-test-admin-token";
const PRODUCER: &str = "7760000001";
const SHOP_A: &str = "7760000003";
const SHOP_B: &str = "7760000004";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tracemark")
}

/// `tracemark serve` on `dir`, up and answering.
fn serve(dir: &Path) -> (Child, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = Command::new(bin())
        .args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TRACEMARK_ADMIN_TOKEN", ADMIN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let c = Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
    let up = std::time::Instant::now();
    while c.get(None, "/health").map(|r| r.0).ok() != Some(200) {
        assert!(up.elapsed().as_secs() < 30, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (child, c)
}

/// SIGTERM: a graceful stop; the store is closed when the process has exited.
fn stop(mut child: Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn doc(c: &Client, a: &Actor, body: Value) -> Value {
    match c.document(a, body).expect("document") {
        Ok(v) => v,
        Err((st, v)) => panic!("document refused: {st} {v}"),
    }
}

/// A receipt of `at` (Unix seconds).
fn sale(codes: &[&str], at: u64) -> Value {
    json!({"type": "sell", "codes": codes, "receipt": {
        "fiscal_drive": "9999078900012345", "number": 17,
        "at": types::time::format_timestamp(at), "store": "Nevsky 1"}})
}

/// What the history holds, to compare the files with.
struct History {
    /// The unit codes sold: (code, shop TIN, fiscal time).
    sold: Vec<(String, &'static str, u64)>,
    /// The code refused (sold twice).
    resold: String,
    /// The codes the till checked.
    till_checked: Vec<String>,
    /// The code presented with a wrong tail.
    forged: String,
}

/// A producer, two shops in two regions, six boots: applied, introduced, shipped three to
/// each shop and accepted; a till check and two consumer scans (one with a wrong tail);
/// three sold (two at A, one at B, at fiscal times an hour apart); one sold again and
/// refused.
fn make_history(c: &Client) -> History {
    let p = c
        .register_with_prefixes(
            ADMIN,
            PRODUCER,
            "Maker",
            &["producer"],
            "RU-MOW",
            &["4608888"],
        )
        .expect("producer");
    let a = c
        .register(ADMIN, SHOP_A, "Shop A", &["retailer"], "RU-SPE")
        .expect("shop A");
    let b = c
        .register(ADMIN, SHOP_B, "Shop B", &["retailer"], "RU-KDA")
        .expect("shop B");
    let g = gtin(460_888_800_001);
    let (st, v) = c
        .post_signed(
            &p,
            "/api/v1/products",
            &json!({"gtin": g, "name": "Boots", "product_group": "shoes"}),
        )
        .expect("product");
    assert_eq!(st, 201, "{v}");
    let full = c.order_codes(&p, &g, 6, "mac").expect("codes");
    let ids: Vec<&str> = full.iter().map(|x| id_code(x)).collect();
    doc(c, &p, json!({"type": "apply", "codes": ids}));
    doc(
        c,
        &p,
        json!({"type": "introduce", "codes": ids, "production_date": "2026-01-01"}),
    );
    for (shop, part) in [(&a, &ids[..3]), (&b, &ids[3..])] {
        let ship = doc(
            c,
            &p,
            json!({"type": "ship", "receiver": shop.tin, "codes": part}),
        );
        doc(c, shop, json!({"type": "accept", "shipment": ship["id"]}));
    }
    // Read-side facts: they join the feed with the next commit (the sales below).
    let (st, v) = c
        .post(
            &a,
            "/api/v1/pos/check",
            &json!({"codes": [full[0], full[1]]}),
        )
        .expect("till check");
    assert_eq!(st, 200, "{v}");
    let (st, v) = c
        .get(
            None,
            &format!("/api/v1/verify?code={}", gs1::percent_encoded(&full[0])),
        )
        .expect("verify");
    assert_eq!((st, v["verdict"].as_str()), (200, Some("genuine")), "{v}");
    let mut bad = full[2].clone();
    let last = bad.pop().expect("a tail");
    bad.push(if last == 'A' { 'B' } else { 'A' });
    let (st, v) = c
        .get(
            None,
            &format!("/api/v1/verify?code={}", gs1::percent_encoded(&bad)),
        )
        .expect("verify");
    assert_eq!((st, v["verdict"].as_str()), (200, Some("forged")), "{v}");
    // Whole seconds, in the past (a receipt may not be from the future).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (t_a, t_b) = (now - 7_200, now - 3_600);
    doc(c, &a, sale(&ids[..2], t_a));
    doc(c, &b, sale(&ids[3..4], t_b));
    let refused = c.document(&a, sale(&ids[..1], t_b)).expect("document");
    assert!(refused.is_err(), "a code sold twice is refused");
    History {
        sold: vec![
            (ids[0].to_string(), SHOP_A, t_a),
            (ids[1].to_string(), SHOP_A, t_a),
            (ids[3].to_string(), SHOP_B, t_b),
        ],
        resold: ids[0].to_string(),
        till_checked: vec![ids[0].to_string(), ids[1].to_string()],
        forged: ids[2].to_string(),
    }
}

/// Runs `tracemark export`; (success, stdout + stderr).
fn export(out: &Path, data: &Path, extra: &[&str]) -> (bool, String) {
    let o = Command::new(bin())
        .args(["export", "--parquet"])
        .arg(out)
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .expect("export");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Every batch of a Parquet file, read with the `parquet` crate's Arrow reader.
fn read(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("a Parquet file")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// A string column, dictionary-encoded or plain, as owned values.
fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no {name}"));
        match col.data_type() {
            DataType::Dictionary(_, _) => {
                let d = col.as_dictionary::<Int32Type>();
                let values = d.downcast_dict::<StringArray>().expect("utf8 values");
                for i in 0..d.len() {
                    out.push((!d.is_null(i)).then(|| values.value(i).to_string()));
                }
            }
            DataType::Utf8 => {
                let s = col.as_string::<i32>();
                for i in 0..s.len() {
                    out.push((!s.is_null(i)).then(|| s.value(i).to_string()));
                }
            }
            t => panic!("{name} is {t:?}, not a string"),
        }
    }
    out
}

fn ints(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(name)
                .unwrap_or_else(|| panic!("no {name}"))
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

/// A UTC timestamp column in Unix seconds (`None` for null).
fn times(batches: &[RecordBatch], name: &str) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(
            col.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "{name}"
        );
        let t = col.as_primitive::<TimestampMicrosecondType>();
        for i in 0..t.len() {
            out.push((!t.is_null(i)).then(|| (t.value(i) / 1_000_000) as u64));
        }
    }
    out
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// DuckDB's answer to `sql` over the files (through Python), or why it cannot be asked.
fn duckdb(sql: &str) -> Result<String, String> {
    let have = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .map_err(|e| format!("no python3: {e}"))?;
    if !have.status.success() {
        return Err(format!(
            "python3 has no duckdb module (scripts/test installs it): {}",
            String::from_utf8_lossy(&have.stderr).trim()
        ));
    }
    let o = Command::new("python3")
        .args([
            "-c",
            &format!("import duckdb; print(duckdb.sql(\"{sql}\").fetchall())"),
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    assert!(
        o.status.success(),
        "DuckDB could not read the files: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[test]
fn the_history_exports_to_parquet_that_readers_open() {
    let data = tempfile::tempdir().expect("tmp");
    let (server, c) = serve(data.path());
    let h = make_history(&c);
    let out = tempfile::tempdir().expect("tmp");
    let dir = out.path().join("history");

    // While the registry runs, its store is locked: refused with words, not a panic.
    let (ok, said) = export(&dir, data.path(), &[]);
    assert!(!ok, "exported a store in use: {said}");
    assert!(
        said.contains("in use by another process") && said.contains("stop it first"),
        "{said}"
    );
    assert_eq!(
        said.matches("stop it first").count(),
        1,
        "said once: {said}"
    );
    assert!(!said.contains("panicked"), "{said}");
    stop(server);

    let (ok, said) = export(&dir, data.path(), &[]);
    assert!(ok, "{said}");
    println!("{said}");
    for line in [
        "sales.parquet: 3 rows",
        "movements.parquet: 27 rows",
        "refusals.parquet: 1 rows",
        "checks.parquet: 5 rows",
    ] {
        assert!(said.contains(line), "expected {line:?} in:\n{said}");
    }
    assert!(!dir.join("sales.parquet.partial").exists());

    // sales: the codes sold, by whom, when, with the product's and the shop's words.
    let sales = read(&dir.join("sales.parquet"));
    assert_eq!(rows(&sales), 3);
    let codes = strings(&sales, "code");
    let shops = strings(&sales, "shop_tin");
    let at = times(&sales, "fiscal_at");
    let got: BTreeSet<(String, String, u64)> = codes
        .iter()
        .zip(&shops)
        .zip(&at)
        .map(|((c, s), t)| {
            (
                c.clone().expect("code"),
                s.clone().expect("shop"),
                t.expect("fiscal time"),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, u64)> = h
        .sold
        .iter()
        .map(|(c, s, t)| (c.clone(), s.to_string(), *t))
        .collect();
    assert_eq!(got, want);
    let region: Vec<_> = strings(&sales, "region");
    for (shop, region) in shops.iter().zip(&region) {
        let want = if shop.as_deref() == Some(SHOP_A) {
            "RU-SPE"
        } else {
            "RU-KDA"
        };
        assert_eq!(region.as_deref(), Some(want));
    }
    assert!(strings(&sales, "gtin")
        .iter()
        .all(|g| *g == Some(gtin(460_888_800_001))));
    assert!(strings(&sales, "product_name")
        .iter()
        .all(|n| *n == s("Boots")));
    assert!(strings(&sales, "product_group")
        .iter()
        .all(|n| *n == s("shoes")));
    assert!(strings(&sales, "brand_owner_tin")
        .iter()
        .all(|n| *n == s(PRODUCER)));
    assert_eq!(
        strings(&sales, "shop_name")
            .into_iter()
            .flatten()
            .collect::<BTreeSet<_>>(),
        ["Shop A", "Shop B"].map(String::from).into()
    );
    assert!(
        strings(&sales, "document_id").iter().all(|d| d
            .as_deref()
            .is_some_and(|d| uuid::Uuid::parse_str(d).is_ok())),
        "document ids are UUIDs"
    );

    // movements: every unit change, in feed order, with its owners and statuses.
    let mv = read(&dir.join("movements.parquet"));
    let types = strings(&mv, "type");
    let count = |t: &str| types.iter().filter(|x| x.as_deref() == Some(t)).count();
    assert_eq!(
        [
            count("apply"),
            count("introduce"),
            count("ship"),
            count("accept"),
            count("sell")
        ],
        [6, 6, 6, 6, 3]
    );
    let seqs = ints(&mv, "seq");
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "in feed order");
    let (from, to) = (strings(&mv, "from_owner_tin"), strings(&mv, "to_owner_tin"));
    let (before, after) = (strings(&mv, "status_before"), strings(&mv, "status_after"));
    let receiver = strings(&mv, "receiver_tin");
    let sender = strings(&mv, "sender_tin");
    let mv_at = times(&mv, "at");
    let transit: Vec<bool> = mv
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("in_transit_after").expect("column");
            let c = c.as_boolean();
            (0..c.len()).map(|i| c.value(i)).collect::<Vec<_>>()
        })
        .collect();
    for i in 0..types.len() {
        match types[i].as_deref() {
            Some("apply") => {
                assert_eq!(
                    (before[i].as_deref(), after[i].as_deref()),
                    (Some("EMITTED"), Some("APPLIED"))
                );
            }
            Some("ship") => {
                assert_eq!(from[i], s(PRODUCER));
                assert!(transit[i], "shipped goods are in transit");
                assert!(receiver[i] == s(SHOP_A) || receiver[i] == s(SHOP_B));
            }
            Some("accept") => {
                assert_eq!(from[i], s(PRODUCER));
                assert!(to[i] == s(SHOP_A) || to[i] == s(SHOP_B));
                assert_eq!(sender[i], s(PRODUCER));
                assert!(!transit[i]);
            }
            Some("sell") => {
                assert_eq!(after[i].as_deref(), Some("RETIRED"));
                assert!(mv_at[i].is_some(), "a sale has its fiscal time");
            }
            _ => assert_eq!(mv_at[i], None, "only sales have a fiscal time"),
        }
    }

    // refusals: the code sold twice, with the state that refused it.
    let rf = read(&dir.join("refusals.parquet"));
    assert_eq!(rows(&rf), 1);
    assert_eq!(strings(&rf, "code"), vec![s(&h.resold)]);
    assert_eq!(strings(&rf, "type"), vec![s("sell")]);
    assert_eq!(strings(&rf, "actor_tin"), vec![s(SHOP_A)]);
    assert_eq!(strings(&rf, "reason"), vec![s("already_sold")]);
    assert_eq!(strings(&rf, "status_at_refusal"), vec![s("RETIRED")]);
    assert_eq!(strings(&rf, "owner_at_refusal_tin"), vec![s(SHOP_A)]);

    // checks: the till check (one row a code), the scans, the wrong tail.
    let ck = read(&dir.join("checks.parquet"));
    let kinds = strings(&ck, "kind");
    let ck_codes = strings(&ck, "code");
    let results = strings(&ck, "result");
    let actors = strings(&ck, "actor_tin");
    let rows_of = |k: &str| -> Vec<(Option<String>, Option<String>, Option<String>)> {
        (0..kinds.len())
            .filter(|&i| kinds[i].as_deref() == Some(k))
            .map(|i| (ck_codes[i].clone(), results[i].clone(), actors[i].clone()))
            .collect()
    };
    assert_eq!(
        rows_of("till_check"),
        h.till_checked
            .iter()
            .map(|c| (s(c), s("true"), s(SHOP_A)))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        rows_of("verification"),
        vec![
            (s(&h.sold[0].0), s("genuine"), None),
            (s(&h.forged), s("forged"), None)
        ]
    );
    assert_eq!(
        rows_of("tail_failure"),
        vec![(s(&h.forged), s("verify"), None)]
    );
    // The server sends no place with a scan yet: the coordinates are null, not 0.0.
    for b in &ck {
        for name in ["lat", "lon"] {
            let col = b.column_by_name(name).expect(name);
            assert_eq!(col.data_type(), &DataType::Float64);
            assert_eq!(col.null_count(), col.len(), "{name}");
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(times(&ck, "at")
        .iter()
        .all(|t| t.is_some_and(|t| t <= now && t + 600 > now)));

    // Independently: DuckDB reads the same files.
    let sales_file = dir.join("sales.parquet");
    match duckdb(&format!(
        "select count(*), count(distinct shop_tin) from '{}'",
        sales_file.display()
    )) {
        Ok(answer) => assert_eq!(answer, "[(3, 2)]"),
        Err(why) => conformance::skip_or_fail(
            "python",
            &format!("DuckDB (Python) reads the export back: {why}"),
        ),
    }
    if let Ok(answer) = duckdb(&format!(
        "select epoch(fiscal_at)::bigint from '{}' where shop_tin = '{SHOP_B}'",
        sales_file.display()
    )) {
        assert_eq!(answer, format!("[({},)]", h.sold[2].2));
    }

    // Incrementally: from the last sale's feed entry on, only that sale.
    let last_sale = *ints(&sales, "received_seq").iter().max().expect("a sale");
    let more = out.path().join("more");
    let (ok, said) = export(&more, data.path(), &["--from-seq", &last_sale.to_string()]);
    assert!(ok, "{said}");
    let sales2 = read(&more.join("sales.parquet"));
    assert_eq!(strings(&sales2, "shop_tin"), vec![s(SHOP_B)]);
    assert_eq!(rows(&read(&more.join("refusals.parquet"))), 1);
    assert_eq!(rows(&read(&more.join("checks.parquet"))), 0);

    // A directory with no registry in it: words, not a new empty store.
    let (ok, said) = export(&more, &out.path().join("nowhere"), &[]);
    assert!(!ok, "{said}");
    assert!(said.contains("holds no registry store"), "{said}");
    assert!(!out.path().join("nowhere").exists(), "nothing is created");
}
