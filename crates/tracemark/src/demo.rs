//! `tracemark demo`: a registry with a simulated economy flowing through its HTTP API.
//!
//! A producer and an importer make shoes, milk, cigarettes and cameras; two wholesalers
//! and four retailers in different regions move them; tills check and sell; now and then
//! someone tries to sell a code twice, returns an item or writes goods off. Everything
//! goes through the public API with signed documents, as real participants would.

use crate::client::{gtin, id_code, sscc, Actor, Client};

/// The demo producer's GS1 company prefix (7 digits).
const PRODUCER_PREFIX: &str = "4601230";
/// The demo importer's own GS1 company prefix (its SSCCs).
const IMPORTER_PREFIX: &str = "4609870";
/// The producer's GTINs: 12 digits starting with its prefix.
const PRODUCER_GTINS: u64 = 460_123_000_000;
/// A foreign brand's GTINs (a prefix nobody in the demo holds).
const FOREIGN_GTINS: u64 = 490_000_000_000;
use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The simulated participants.
pub struct Economy {
    producer: Actor,
    importer: Actor,
    wholesalers: Vec<Actor>,
    retailers: Vec<Actor>,
    /// The regulator (blocks, reads everything).
    pub regulator: Actor,
    products: Vec<(String, &'static str, &'static str)>,
    sscc_serial: u64,
}

/// What the demo has done so far.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    /// Codes issued.
    pub issued: u64,
    /// Documents accepted.
    pub documents: u64,
    /// Codes sold.
    pub sold: u64,
    /// Documents refused (on purpose: repeat sales).
    pub refused: u64,
    /// A code in circulation, for the verification page.
    pub genuine_example: Option<String>,
    /// A sold code.
    pub sold_example: Option<String>,
}

fn check(
    r: std::result::Result<serde_json::Value, (u16, serde_json::Value)>,
    what: &str,
) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err((s, v)) => bail!("{what}: {s} {v}"),
    }
}

impl Economy {
    /// Registers everyone and the product cards.
    pub fn set_up(c: &Client, admin: &str) -> Result<Economy> {
        let run: u32 = rand::thread_rng().gen_range(100_000..999_999);
        let tin = |n: u32| format!("77{run:06}{n:02}");
        // Each maker holds a GS1 company prefix: its GTINs and SSCCs start with it. The
        // importer's camera is a foreign brand's GTIN (a prefix nobody here holds).
        let producer = c.register_with_prefixes(
            admin,
            &tin(1),
            "Fabrika Obuvi LLC",
            &["producer"],
            "RU-MOW",
            &[PRODUCER_PREFIX],
        )?;
        let importer = c.register_with_prefixes(
            admin,
            &tin(2),
            "Import Trade JSC",
            &["importer"],
            "RU-SPE",
            &[IMPORTER_PREFIX],
        )?;
        let wholesalers = vec![
            c.register(
                admin,
                &tin(3),
                "Central Distribution",
                &["wholesaler"],
                "RU-MOS",
            )?,
            c.register(admin, &tin(4), "Volga Logistics", &["wholesaler"], "RU-NIZ")?,
        ];
        let retailers = vec![
            c.register(admin, &tin(5), "Shop on Tverskaya", &["retailer"], "RU-MOW")?,
            c.register(admin, &tin(6), "Nevsky Store", &["retailer"], "RU-SPE")?,
            c.register(admin, &tin(7), "Kazan Market", &["retailer"], "RU-TA")?,
            c.register(admin, &tin(8), "Ural Mall", &["retailer"], "RU-SVE")?,
        ];
        let regulator = c.register(
            admin,
            &tin(9),
            "Federal Inspectorate",
            &["regulator"],
            "RU-MOW",
        )?;
        // Within the prefixes' ranges: the producer's 7-digit prefix leaves 5 digits.
        let base = u64::from(run % 90) * 1_000;
        let products = vec![
            (
                gtin(PRODUCER_GTINS + base + 1),
                "shoes",
                "Running shoes, size 42",
            ),
            (gtin(PRODUCER_GTINS + base + 2), "milk", "Milk 3.2%, 1 l"),
            (
                gtin(PRODUCER_GTINS + base + 3),
                "tobacco",
                "Cigarettes, pack of 20",
            ),
            (
                gtin(FOREIGN_GTINS + base + 4),
                "cameras",
                "Mirrorless camera body",
            ),
        ];
        for (i, (g, group, name)) in products.iter().enumerate() {
            let owner = if i == 3 { &importer } else { &producer };
            let mut p = json!({"gtin": g, "name": name, "product_group": group, "brand": "Demo"});
            if *group == "tobacco" {
                p["max_retail_price"] = json!(25_000);
            }
            let (s, v) = c.post_signed(owner, "/api/v1/products", &p)?;
            if s != 201 {
                bail!("product {g}: {s} {v}");
            }
        }
        Ok(Economy {
            producer,
            importer,
            wholesalers,
            retailers,
            regulator,
            products,
            sscc_serial: u64::from(run % 9_000) * 100_000,
        })
    }

    /// One round: a batch is made, packed, shipped down the chain and partly sold.
    pub fn round(&mut self, c: &Client, tally: &mut Tally) -> Result<()> {
        let mut rng = rand::thread_rng();
        let pi = rng.gen_range(0..self.products.len());
        let (g, group, _) = self.products[pi].clone();
        let maker = if pi == 3 {
            &self.importer
        } else {
            &self.producer
        };
        let tail = match group {
            "milk" => "short",
            "cameras" => "signature",
            _ => "mac",
        };
        let codes = c.order_codes(maker, &g, 60, tail)?;
        tally.issued += codes.len() as u64;
        let ids: Vec<&str> = codes.iter().map(|s| id_code(s)).collect();
        check(
            c.document(maker, json!({"type": "apply", "codes": ids}))?,
            "apply",
        )?;
        let today = registry::time::format_date(registry::time::day_of(registry::system_clock()()));
        let expiry =
            registry::time::format_date(registry::time::day_of(registry::system_clock()()) + 30);
        let intro = if pi == 3 {
            json!({"type": "import", "codes": ids, "customs_declaration": "10702010/251126/0012345", "production_date": today})
        } else {
            json!({"type": "introduce", "codes": ids, "production_date": today, "expiry_date": expiry, "batch": "B1"})
        };
        check(c.document(maker, intro)?, "introduce")?;
        tally.documents += 3;
        // Pack into boxes of 20, ship the boxes to a wholesaler.
        let mut boxes = Vec::new();
        for chunk in ids.chunks(20) {
            self.sscc_serial += 1;
            let prefix: u64 = if pi == 3 {
                IMPORTER_PREFIX
            } else {
                PRODUCER_PREFIX
            }
            .parse()
            .unwrap_or(0);
            let b = sscc(1, prefix * 1_000_000_000 + self.sscc_serial % 1_000_000_000);
            check(
                c.document(
                    maker,
                    json!({"type": "aggregate", "parent": b, "children": chunk}),
                )?,
                "aggregate",
            )?;
            boxes.push(b);
        }
        let w = &self.wholesalers[rng.gen_range(0..self.wholesalers.len())];
        let ship = c.document(
            maker,
            json!({"type": "ship", "receiver": w.tin, "codes": boxes}),
        );
        let ship_id = match ship? {
            Ok(v) => v["id"].clone(),
            Err((s, v)) => bail!("ship: {s} {v}"),
        };
        check(
            c.document(w, json!({"type": "accept", "shipment": ship_id}))?,
            "accept",
        )?;
        tally.documents += boxes.len() as u64 + 2;
        // The wholesaler sends each box to a retailer, who unpacks and sells some.
        for (bi, b) in boxes.iter().enumerate() {
            let r = &self.retailers[rng.gen_range(0..self.retailers.len())];
            let s = match c.document(w, json!({"type": "ship", "receiver": r.tin, "codes": [b]}))? {
                Ok(v) => v["id"].clone(),
                Err((s, v)) => bail!("ship to retailer: {s} {v}"),
            };
            check(
                c.document(r, json!({"type": "accept", "shipment": s}))?,
                "retailer accept",
            )?;
            check(
                c.document(r, json!({"type": "disaggregate", "parents": [b]}))?,
                "disaggregate",
            )?;
            tally.documents += 3;
            let unit: Vec<&String> = codes[bi * 20..(bi + 1) * 20].iter().collect();
            let n_sell = rng.gen_range(5..15);
            let sold: Vec<&String> = unit.choose_multiple(&mut rng, n_sell).copied().collect();
            let (status, check_ans) = c.post(r, "/api/v1/pos/check", &json!({"codes": sold}))?;
            if status != 200 {
                bail!("till check: {status} {check_ans}");
            }
            let sellable: Vec<&str> = check_ans["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["sellable"] == true)
                .filter_map(|x| x["code"].as_str())
                .collect();
            if sellable.is_empty() {
                continue;
            }
            let now = registry::time::format_timestamp(registry::system_clock()());
            let receipt = json!({"fiscal_drive": "9999078900012345", "number": rng.gen_range(1..99_999), "at": now, "store": r.tin});
            check(
                c.document(r, json!({"type": "sell", "codes": sellable, "receipt": receipt, "check_ids": [check_ans["request_id"]]}))?,
                "sell",
            )?;
            tally.documents += 1;
            tally.sold += sellable.len() as u64;
            tally.sold_example = Some(sellable[0].to_string());
            if let Some(g) = unit.iter().find(|u| !sold.contains(u)) {
                tally.genuine_example = Some(g.to_string());
            }
            // Now and then: a repeat sale (refused, raises a signal), or a return.
            if rng.gen_bool(0.2) {
                let again = c.document(
                    r,
                    json!({"type": "sell", "codes": [sellable[0]], "receipt": receipt}),
                )?;
                if again.is_err() {
                    tally.refused += 1;
                }
            } else if rng.gen_bool(0.2) {
                check(
                    c.document(
                        r,
                        json!({"type": "return", "codes": [sellable[0]], "reason": "retail"}),
                    )?,
                    "return",
                )?;
                tally.documents += 1;
            }
        }
        Ok(())
    }
}

/// Runs rounds until `stop` is set or `rounds` are done, printing progress.
pub fn run(
    c: &Client,
    admin: &str,
    rounds: Option<u64>,
    stop: Arc<AtomicBool>,
    quiet: bool,
) -> Result<Tally> {
    let mut eco = Economy::set_up(c, admin)?;
    let mut tally = Tally::default();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && rounds.is_none_or(|r| n < r) {
        eco.round(c, &mut tally)?;
        n += 1;
        if !quiet && (n == 1 || n.is_multiple_of(10)) {
            println!(
                "demo: round {n}: {} codes issued, {} documents, {} sold, {} refused repeat sales",
                tally.issued, tally.documents, tally.sold, tally.refused
            );
            if n == 1 {
                if let Some(g) = &tally.genuine_example {
                    println!("  verify a genuine item: {}{}", c.base, digital_link(g));
                }
                if let Some(s) = &tally.sold_example {
                    println!("  verify a sold item:    {}{}", c.base, digital_link(s));
                }
                println!(
                    "  scan a label with a camera: {}/scan (print one: tracemark label CODE --out label.png)",
                    c.base
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(tally)
}

/// The Digital Link path of a full code: `/01/{gtin}/21/{serial}?91=…&92=…` (or `?93=…`);
/// empty if `full` is not a code.
pub fn digital_link(full: &str) -> String {
    gs1::ElementString::parse(full)
        .and_then(|es| es.to_digital_link(""))
        .unwrap_or_default()
}
