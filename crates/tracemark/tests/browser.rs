//! The consumer verification page in a real headless Chromium (through chromedriver),
//! against a real registry served over HTTP on loopback. No mocks.
//!
//! 1. Every verdict (genuine, sold, recalled, forged, unverified, unknown, malformed) in
//!    Russian and English, chosen by `?lang=` and by the browser's `Accept-Language`: the
//!    verdict, its colour family, the language, the product; the language switch keeps the
//!    code.
//! 2. Offline: after one visit the service worker checks a label's signature with no
//!    network at all; an altered signature fails offline.
//! 3. The camera: a Data Matrix label and a Digital Link QR label filmed by Chromium's fake
//!    camera lead to the code's page, genuine.
//! 4. A complaint sent through the page's form reaches the regulator as written.
//!
//! Run: `cargo test -p tracemark --test browser` (about 40 s on 2 cores; `CHROME` and
//! `CHROMEDRIVER` name other binaries than `/usr/bin/chromium` and `/usr/bin/chromedriver`).
//! Screenshots: `<target>/browser-artifacts/*.png` (emptied at each run). Debian packages:
//! `chromium`, `chromium-driver`.

#[path = "support/camera.rs"]
mod camera;
#[path = "support/chrome.rs"]
mod chrome;
/// The photo damage of the decode-rate test (`crates/labels/tests/photos.rs`).
#[path = "../../labels/tests/support/mod.rs"]
mod photo;
mod support;

use chrome::{Browser, Page};
use client::{gtin, id_code, Actor};
use gs1::percent_encoded as pct;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a page's script may take to settle (the offline check, a form's answer).
const SETTLE: Duration = Duration::from_secs(15);
/// How long the camera loop may take to find the label and navigate.
const SCAN_TIMEOUT: Duration = Duration::from_secs(45);
/// The product every code is of (a Latin name: the language checks read the page's own
/// words, not this).
const PRODUCT: &str = "Sneakers Polet 42";
/// Every code's expiry: this many days after it is made.
const EXPIRY_DAYS: u32 = 365;
/// The producer's name.
const PRODUCER: &str = "Fabrika Polet";

// ---------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------

/// A marking code as printed: GTIN, serial and crypto tail (AI 91 key id, AI 92 value).
#[derive(Clone, Debug)]
struct Code {
    gtin: String,
    serial: String,
    tail: Option<(String, String)>,
}

impl Code {
    /// Parses a full code `01{gtin}21{serial}<GS>91{kid}<GS>92{value}` (tail optional).
    fn parse(full: &str) -> Code {
        let mut parts = full.split('\u{1d}');
        let id = parts.next().expect("id");
        assert!(id.starts_with("01") && &id[16..18] == "21", "{full:?}");
        let (mut kid, mut value) = (None, None);
        for p in parts {
            match p.split_at(2) {
                ("91", k) => kid = Some(k.to_string()),
                ("92", v) => value = Some(v.to_string()),
                _ => panic!("unexpected element {p:?} in {full:?}"),
            }
        }
        Code {
            gtin: id[2..16].to_string(),
            serial: id[18..].to_string(),
            tail: kid.zip(value),
        }
    }

    /// The identification code `01{gtin}21{serial}`.
    fn id(&self) -> String {
        format!("01{}21{}", self.gtin, self.serial)
    }

    /// As printed in a Data Matrix: element strings with GS separators.
    fn full(&self) -> String {
        match &self.tail {
            Some((k, v)) => format!("{}\u{1d}91{k}\u{1d}92{v}", self.id()),
            None => self.id(),
        }
    }

    /// The relative GS1 Digital Link (tail as query attributes).
    fn link(&self) -> String {
        let path = format!("/01/{}/21/{}", self.gtin, pct(&self.serial));
        match &self.tail {
            Some((k, v)) => format!("{path}?91={}&92={}", pct(k), pct(v)),
            None => path,
        }
    }

    /// The same code with another tail value.
    fn with_tail_value(&self, value: &str) -> Code {
        let (k, _) = self.tail.clone().expect("a tail");
        Code {
            tail: Some((k, value.to_string())),
            ..self.clone()
        }
    }

    /// The same code without its tail.
    fn bare(&self) -> Code {
        Code {
            tail: None,
            ..self.clone()
        }
    }

    /// This code's signature tail with one base64 character changed (still 88 characters
    /// of valid base64, no longer the registry's signature).
    fn altered(&self) -> Code {
        let (_, v) = self.tail.clone().expect("a tail");
        let mut b = v.into_bytes();
        b[10] = if b[10] == b'A' { b'B' } else { b'A' };
        self.with_tail_value(&String::from_utf8(b).expect("ascii"))
    }
}

/// A GTIN with a wrong check digit (the last digit moved by one).
fn bad_check_digit(gtin: &str) -> String {
    let mut b = gtin.as_bytes().to_vec();
    b[13] = if b[13] == b'9' { b'0' } else { b[13] + 1 };
    String::from_utf8(b).expect("ascii")
}

// ---------------------------------------------------------------------------------------
// A registry with one producer, one shop and one regulator, and codes in every state
// ---------------------------------------------------------------------------------------

struct Actors {
    producer: Actor,
    retailer: Actor,
    regulator: Actor,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The year `days` from today, as the pages print it.
fn year_of(days: u32) -> String {
    types::time::format_date(types::time::day_of(now()) + days)[..4].to_string()
}

fn doc(s: &support::Server, a: &Actor, body: Value) -> Value {
    match s.c.document(a, body.clone()).expect("document") {
        Ok(v) => v,
        Err((st, v)) => panic!("document {body}: {st} {v}"),
    }
}

/// Registers the participants and the product on `s`.
fn actors(s: &support::Server, g: &str) -> Actors {
    let producer =
        s.c.register_with_prefixes(
            &s.admin,
            "7700000001",
            PRODUCER,
            &["producer"],
            "RU-MOW",
            &["4600000"],
        )
        .expect("producer");
    let retailer =
        s.c.register(&s.admin, "7700000004", "Shop One", &["retailer"], "RU-MOW")
            .expect("retailer");
    let regulator =
        s.c.register(
            &s.admin,
            "7700000007",
            "Inspectorate",
            &["regulator"],
            "RU-MOW",
        )
        .expect("regulator");
    s.product(&producer, g, PRODUCT, "shoes");
    Actors {
        producer,
        retailer,
        regulator,
    }
}

/// `n` codes ordered with a `tail` ("signature", "mac"), applied and introduced.
fn introduced(s: &support::Server, a: &Actors, g: &str, n: u32, tail: &str) -> Vec<Code> {
    let full = s.c.order_codes(&a.producer, g, n, tail).expect("order");
    let ids: Vec<&str> = full.iter().map(|c| id_code(c)).collect();
    doc(s, &a.producer, json!({"type": "apply", "codes": ids}));
    let day = types::time::day_of(now());
    let today = types::time::format_date(day);
    // Good for a year.
    let expiry = types::time::format_date(day + EXPIRY_DAYS);
    doc(
        s,
        &a.producer,
        json!({"type": "introduce", "codes": ids, "production_date": today,
               "expiry_date": expiry, "batch": "B1"}),
    );
    full.iter().map(|c| Code::parse(c)).collect()
}

/// The shared registry and its codes.
struct World {
    s: support::Server,
    a: Actors,
    genuine: Code,
    sold: Code,
    recalled: Code,
    /// Forged codes (a right code with another code's tail), one per use: every failed
    /// tail check counts against this address (5 per code a day, 20 in 10 minutes), so no
    /// code is shown forged more than a few times.
    forged: Vec<Code>,
    unverified: Code,
    unknown: Code,
    malformed_link: String,
    /// A genuine code for the Data Matrix camera test, one for the QR one.
    scan_dm: Code,
    scan_qr: Code,
    /// A genuine code for the photos chosen on the page.
    photo: Code,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let s = support::start();
        // Kept in a static, never dropped: its data directory goes at exit.
        chrome::remove_at_exit(s.data_dir());
        let g = gtin(460_000_000_001);
        let a = actors(&s, &g);
        let mut c = introduced(&s, &a, &g, 24, "signature").into_iter();
        let mut next = || c.next().expect("enough codes");
        let genuine = next();
        let sold = next();
        let recalled = next();
        let unverified = next().bare();
        let scan_dm = next();
        let scan_qr = next();
        let photo = next();
        let tails: Vec<Code> = (0..6).map(|_| next()).collect();
        // Right codes, each with the tail of another code of the same key.
        let forged: Vec<Code> = (0..5)
            .map(|i| {
                let right = next();
                let other = tails[i].tail.clone().expect("tail").1;
                right.with_tail_value(&other)
            })
            .collect();
        // Sold: shipped to the shop, accepted, sold at its till.
        let ship = doc(
            &s,
            &a.producer,
            json!({"type": "ship", "receiver": a.retailer.tin, "codes": [sold.id()]}),
        );
        doc(
            &s,
            &a.retailer,
            json!({"type": "accept", "shipment": ship["id"]}),
        );
        doc(
            &s,
            &a.retailer,
            json!({"type": "sell", "codes": [sold.id()], "receipt": {
                "fiscal_drive": "9999078900012345", "number": 17,
                "at": types::time::format_timestamp(now()), "store": "Tverskaya 1"}}),
        );
        // Recalled: the regulator blocks the code.
        let (st, v) =
            s.c.post_signed(
                &a.regulator,
                "/api/v1/blocks",
                &json!({"codes": [recalled.id()], "reason": "recall"}),
            )
            .expect("block");
        assert_eq!(st, 201, "block: {v}");
        let unknown = Code {
            gtin: g.clone(),
            serial: "NEVERISSUED1".into(),
            tail: None,
        };
        let malformed_link = format!("/01/{}/21/ABC", bad_check_digit(&g));
        World {
            s,
            a,
            genuine,
            sold,
            recalled,
            forged,
            unverified,
            unknown,
            malformed_link,
            scan_dm,
            scan_qr,
            photo,
        }
    })
}

/// The verify answer for a code, as the API gives it (the reference for the page).
fn api_verdict(s: &support::Server, c: &Code) -> String {
    let (st, v) =
        s.c.get(None, &format!("/api/v1/verify?code={}", pct(&c.full())))
            .expect("verify");
    assert_eq!(st, 200, "verify {c:?}: {v}");
    v["verdict"].as_str().expect("verdict").to_string()
}

// ---------------------------------------------------------------------------------------
// Reading a verification page
// ---------------------------------------------------------------------------------------

/// The colour family a verdict is shown in (the class on `#verdict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Ok,
    Neutral,
    Bad,
}

impl Family {
    fn class(self) -> &'static str {
        match self {
            Family::Ok => "verdict-ok",
            Family::Neutral => "verdict-neutral",
            Family::Bad => "verdict-bad",
        }
    }
}

/// The computed colours of `#verdict` and its descendants (background, borders, text,
/// fill), as `[r, g, b]` of the opaque ones.
fn verdict_colours(p: &Page) -> Vec<[u8; 3]> {
    let v = p.js(
        r#"const v = document.getElementById('verdict');
           const out = [];
           for (const e of [v, ...v.querySelectorAll('*')].slice(0, 40)) {
             const s = getComputedStyle(e);
             for (const c of [s.backgroundColor, s.borderTopColor, s.borderLeftColor, s.color, s.fill])
               out.push(c || '');
           }
           return out;"#,
        vec![],
    );
    v.as_array()
        .expect("colours")
        .iter()
        .filter_map(|c| {
            let c = c.as_str()?;
            let inner = c.strip_prefix("rgba(").or_else(|| c.strip_prefix("rgb("))?;
            let n: Vec<f64> = inner
                .trim_end_matches(')')
                .split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect();
            (n.len() == 3 || (n.len() == 4 && n[3] > 0.5))
                .then(|| [n[0] as u8, n[1] as u8, n[2] as u8])
        })
        .collect()
}

fn greenish(c: &[u8; 3]) -> bool {
    let [r, g, b] = c.map(i32::from);
    g > r + 40 && g >= b
}

fn reddish(c: &[u8; 3]) -> bool {
    let [r, g, b] = c.map(i32::from);
    r > g + 60 && r > b + 40
}

fn has_cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c))
}

/// How the page's language is chosen.
#[derive(Clone, Copy, Debug)]
enum LangBy {
    /// `?lang=…`
    Query,
    /// The browser's `Accept-Language` (no cookie, no parameter).
    Header,
}

/// What a verdict's page must show.
struct Case {
    verdict: &'static str,
    link: String,
    /// Expected colour family; `None`: not green (the contract leaves it to the page).
    family: Option<Family>,
    /// Whether the product's name must be shown.
    product: bool,
    /// What the in-browser signature check must conclude (`#offline-check[data-state]`),
    /// `None` where the page has no check.
    offline: Option<&'static str>,
}

fn with_lang(link: &str, lang: &str) -> String {
    let sep = if link.contains('?') { '&' } else { '?' };
    format!("{link}{sep}lang={lang}")
}

/// The query attributes of a URL, decoded.
fn query_of(url: &str) -> Vec<(String, String)> {
    let u = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, _)| k != "lang")
        .collect()
}

/// Checks the page now shown is `case` in `lang`; returns its headline.
fn check_page(p: &Page, case: &Case, lang: &str, shot: &str) -> String {
    p.screenshot(shot);
    let ctx = format!("{shot} ({})", p.url());
    let verdict = p
        .attr("#verdict", "data-verdict")
        .unwrap_or_else(|| panic!("{ctx}: #verdict has no data-verdict"));
    assert_eq!(verdict, case.verdict, "{ctx}: data-verdict");
    let html_lang = p.attr("html", "lang").unwrap_or_default();
    assert_eq!(html_lang, lang, "{ctx}: html[lang]");
    let headline = p.text("#headline");
    assert!(!headline.trim().is_empty(), "{ctx}: empty #headline");
    if lang == "ru" {
        assert!(
            has_cyrillic(&headline),
            "{ctx}: headline not Russian: {headline:?}"
        );
    } else {
        assert!(
            !has_cyrillic(&headline) && headline.chars().any(|c| c.is_ascii_alphabetic()),
            "{ctx}: headline not English: {headline:?}"
        );
    }
    let class = p.attr("#verdict", "class").unwrap_or_default();
    let classes: Vec<&str> = class.split_whitespace().collect();
    let families = [Family::Ok, Family::Neutral, Family::Bad];
    let shown: Vec<Family> = families
        .into_iter()
        .filter(|f| classes.contains(&f.class()))
        .collect();
    assert_eq!(shown.len(), 1, "{ctx}: one verdict-* class, got {class:?}");
    let colours = verdict_colours(p);
    let (green, red) = (colours.iter().any(greenish), colours.iter().any(reddish));
    match shown[0] {
        Family::Ok => assert!(green && !red, "{ctx}: verdict-ok not green: {colours:?}"),
        Family::Bad => assert!(red && !green, "{ctx}: verdict-bad not red: {colours:?}"),
        Family::Neutral => assert!(
            !green && !red,
            "{ctx}: verdict-neutral not grey: {colours:?}"
        ),
    }
    match case.family {
        Some(f) => assert_eq!(shown[0], f, "{ctx}: colour family"),
        None => assert_ne!(shown[0], Family::Ok, "{ctx}: shown as genuine"),
    }
    // The icon says in words what its colour says.
    let alt = p.js(
        r#"const v = document.getElementById('verdict');
           for (const e of v.querySelectorAll('img[alt], [role=img][aria-label], svg[aria-label], svg title, [aria-label]')) {
             const t = (e.getAttribute('alt') || e.getAttribute('aria-label') || e.textContent || '').trim();
             if (t && e.id !== 'headline') return t;
           }
           return null;"#,
        vec![],
    );
    assert!(
        alt.is_string(),
        "{ctx}: the verdict's icon has no text alternative"
    );
    if case.product {
        let name = p.text("#product-name");
        assert!(name.contains(PRODUCT), "{ctx}: #product-name {name:?}");
        let producer = p.text("#producer");
        assert!(producer.contains(PRODUCER), "{ctx}: #producer {producer:?}");
        // Introduced today: the production date is known, in the page's language.
        let made = p.text("#production-date");
        assert!(
            made.contains(&year_of(0)) && (lang != "ru" || has_cyrillic(&made)),
            "{ctx}: #production-date {made:?}"
        );
        let expiry = p.text("#expiry-date");
        assert!(
            expiry.contains(&year_of(EXPIRY_DAYS)) && (lang != "ru" || has_cyrillic(&expiry)),
            "{ctx}: #expiry-date {expiry:?}"
        );
    }
    if let Some(want) = case.offline {
        let st = p.wait("#offline-check done", SETTLE, |p| {
            p.try_js(
                "const e = document.getElementById('offline-check'); return e && e.dataset.state !== 'pending' ? e.dataset.state : null",
                vec![],
            )?
            .as_str()
            .map(str::to_string)
        });
        assert_eq!(st, want, "{ctx}: #offline-check[data-state]");
        assert_eq!(
            p.attr("#offline-check", "data-network").as_deref(),
            Some("online"),
            "{ctx}: #offline-check[data-network]"
        );
    }
    if case.verdict != "malformed" {
        let next = p.text("#next-steps");
        assert!(!next.trim().is_empty(), "{ctx}: empty #next-steps");
    }
    // Again, settled (the first one is there if an assertion fails).
    p.screenshot(shot);
    headline
}

/// Every language × way of choosing it for one verdict's page; the switch keeps the code.
fn verdict_pages(name: &str, case: impl Fn(usize) -> Case) {
    let w = world();
    let p = Browser::shared().page(name);
    let mut headlines = std::collections::BTreeMap::new();
    for (i, (lang, by)) in [
        ("ru", LangBy::Query),
        ("en", LangBy::Query),
        ("ru", LangBy::Header),
        ("en", LangBy::Header),
    ]
    .into_iter()
    .enumerate()
    {
        let case = case(i);
        let url = match by {
            LangBy::Query => format!("{}{}", w.s.base, with_lang(&case.link, lang)),
            LangBy::Header => {
                p.cdp("Network.clearBrowserCookies", json!({}));
                p.accept_language(match lang {
                    "ru" => "ru-RU,ru",
                    _ => "en-GB,en",
                });
                format!("{}{}", w.s.base, case.link)
            }
        };
        p.goto(&url);
        let shot = format!("{name}-{lang}-{by:?}").to_lowercase();
        let h = check_page(&p, &case, lang, &shot);
        headlines.insert(lang, h);
        if let LangBy::Query = by {
            // The switch names the other language and keeps the code (and its tail).
            let other = if lang == "ru" { "en" } else { "ru" };
            let label = p.text("#lang-switch");
            match other {
                "ru" => assert!(has_cyrillic(&label), "{shot}: #lang-switch {label:?}"),
                _ => assert!(label.contains("English"), "{shot}: #lang-switch {label:?}"),
            }
            let before = p.url();
            p.click_to_navigate("#lang-switch");
            p.wait(&format!("html[lang={other}]"), SETTLE, |p| {
                (p.attr("html", "lang").as_deref() == Some(other)).then_some(())
            });
            let after = p.url();
            let (b, a) = (
                url::Url::parse(&before).expect("url"),
                url::Url::parse(&after).expect("url"),
            );
            assert_eq!(a.path(), b.path(), "{shot}: the switch lost the code");
            assert_eq!(
                query_of(&after),
                query_of(&before),
                "{shot}: the switch lost the tail"
            );
            check_page(&p, &case, other, &format!("{shot}-switched"));
        }
    }
    assert_ne!(
        headlines["ru"], headlines["en"],
        "{name}: same headline in both languages"
    );
}

fn link_case(verdict: &'static str, c: &Code, family: Option<Family>, product: bool) -> Case {
    assert_eq!(api_verdict(&world().s, c), verdict, "set-up of {c:?}");
    Case {
        verdict,
        link: c.link(),
        family,
        product,
        // The registry's signature (whatever became of the item since), or no tail.
        offline: Some(if c.tail.is_some() {
            "valid"
        } else {
            "unavailable"
        }),
    }
}

#[test]
fn page_genuine() {
    let w = world();
    verdict_pages("verdict-genuine", |_| {
        link_case("genuine", &w.genuine, Some(Family::Ok), true)
    });
}

#[test]
fn page_sold() {
    let w = world();
    verdict_pages("verdict-sold", |_| link_case("sold", &w.sold, None, true));
}

#[test]
fn page_recalled() {
    let w = world();
    verdict_pages("verdict-recalled", |_| {
        link_case("recalled", &w.recalled, Some(Family::Bad), true)
    });
}

#[test]
fn page_forged() {
    let w = world();
    // A fresh forged code for each language and way (each view is a failed tail check).
    verdict_pages("verdict-forged", |i| Case {
        verdict: "forged",
        link: w.forged[i].link(),
        family: Some(Family::Bad),
        product: false,
        // Another code's signature: checked on the phone, it does not match.
        offline: Some("invalid"),
    });
}

#[test]
fn page_unverified() {
    let w = world();
    verdict_pages("verdict-unverified", |_| {
        link_case("unverified", &w.unverified, Some(Family::Neutral), true)
    });
}

#[test]
fn page_unknown() {
    let w = world();
    verdict_pages("verdict-unknown", |_| {
        link_case("unknown", &w.unknown, None, false)
    });
}

#[test]
fn page_malformed() {
    let w = world();
    // A 400 HTML page, not an error page of the browser's.
    let r =
        w.s.http
            .get(format!("{}{}", w.s.base, w.malformed_link))
            .header("accept", "text/html")
            .send()
            .expect("get");
    assert_eq!(r.status(), 400);
    let ct = r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    verdict_pages("verdict-malformed", |_| Case {
        verdict: "malformed",
        link: w.malformed_link.clone(),
        family: None,
        product: false,
        offline: None,
    });
    // It says what is wrong, in words: the GTIN's last digit, what it should be and what
    // it is.
    let g = &w.genuine.gtin;
    let (right, wrong) = (&g[13..], &bad_check_digit(g)[13..]);
    let p = Browser::shared().page("verdict-malformed-words");
    for lang in ["en", "ru"] {
        p.goto(&format!(
            "{}{}",
            w.s.base,
            with_lang(&w.malformed_link, lang)
        ));
        let text = p.text("#verdict");
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        assert!(
            words.contains(&"GTIN") && words.contains(&right) && words.contains(&wrong),
            "{lang}: the fault (GTIN, {right} expected, {wrong} found) not named in\n{text}"
        );
        assert_eq!(lang == "ru", has_cyrillic(&text), "{lang}: {text}");
    }
}

#[test]
fn page_works_without_javascript() {
    let w = world();
    let p = Browser::shared().page("no-javascript");
    p.cdp(
        "Emulation.setScriptExecutionDisabled",
        json!({"value": true}),
    );
    p.goto(&format!(
        "{}{}",
        w.s.base,
        with_lang(&w.genuine.link(), "en")
    ));
    // The verdict is the server's: no script needed to read it.
    let case = Case {
        offline: None,
        ..link_case("genuine", &w.genuine, Some(Family::Ok), true)
    };
    check_page(&p, &case, "en", "no-javascript");
    // No script ran: the in-browser check (a few milliseconds when scripts run) never
    // started.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        p.attr("#offline-check", "data-state").as_deref(),
        Some("pending"),
        "a script ran"
    );
}

// ---------------------------------------------------------------------------------------
// Offline
// ---------------------------------------------------------------------------------------

#[test]
fn offline_check_with_the_service_worker() {
    // A registry of its own: this test stops it.
    let mut s = support::start();
    let g = gtin(460_000_000_001);
    let a = actors(&s, &g);
    let sig = introduced(&s, &a, &g, 2, "signature");
    let mac = introduced(&s, &a, &g, 1, "mac");
    let p = Browser::shared().page("offline");
    // Online: a MAC tail cannot be checked in the browser.
    p.goto(&format!("{}{}", s.base, mac[0].link()));
    let st = p.wait_attr("#offline-check", "data-state", SETTLE);
    assert_eq!(st, "unavailable", "MAC tail: #offline-check");
    // Online: a signature tail is checked in the browser; the service worker installs.
    p.goto(&format!("{}{}", s.base, sig[0].link()));
    assert_eq!(
        p.attr("#verdict", "data-verdict").as_deref(),
        Some("genuine")
    );
    p.wait("#offline-check[data-state=valid]", SETTLE, |p| {
        (p.attr("#offline-check", "data-state").as_deref() == Some("valid")).then_some(())
    });
    assert_eq!(
        p.attr("#offline-check", "data-network").as_deref(),
        Some("online"),
        "online: #offline-check[data-network]"
    );
    let sw = p.js_async(
        r#"const done = arguments[arguments.length - 1];
           if (!('serviceWorker' in navigator)) { done('no serviceWorker API'); return; }
           const t = setTimeout(() => done('not ready after 10 s'), 10000);
           navigator.serviceWorker.ready.then(r => { clearTimeout(t); done(r.active ? 'active' : 'no active worker'); });"#,
        vec![],
    );
    assert_eq!(sw, json!("active"), "service worker");
    p.screenshot("offline-0-online");
    // The network goes away: the server stops, and the browser knows it is offline.
    s.stop();
    let addr = s.base.trim_start_matches("http://").to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the server still answers"
    );
    p.set_offline(true);
    let offline_state = |p: &Page, want: &str, shot: &str| {
        let url = p.url();
        assert!(
            !url.starts_with("chrome-error:"),
            "{shot}: not served by the service worker: {url}"
        );
        p.wait(&format!("#offline-check[data-state={want}]"), SETTLE, |p| {
            if !p.exists("#offline-check") {
                return None;
            }
            let st = p.attr("#offline-check", "data-state");
            let net = p.attr("#offline-check", "data-network");
            (st.as_deref() == Some(want) && net.as_deref() == Some("offline")).then_some(())
        });
        let text = p.text("#offline-check");
        assert!(
            !text.trim().is_empty(),
            "{shot}: #offline-check says nothing"
        );
        // Offline nobody knows whether the item was sold or recalled since: no page may
        // say "genuine" (a stale copy of an online verdict would).
        if p.exists("#verdict") {
            let v = p.attr("#verdict", "data-verdict").unwrap_or_default();
            let class = p.attr("#verdict", "class").unwrap_or_default();
            assert!(
                v != "genuine" && !class.split_whitespace().any(|c| c == "verdict-ok"),
                "{shot}: offline, the page claims {v:?} ({class})"
            );
        }
        p.screenshot(shot);
        text
    };
    // The same link, reloaded offline.
    p.reload();
    offline_state(&p, "valid", "offline-1-reload-valid");
    // The label's signature altered: invalid, offline.
    p.goto(&format!("{}{}", s.base, sig[0].altered().link()));
    offline_state(&p, "invalid", "offline-2-altered-invalid");
    // Another genuine label, never opened before: valid, offline.
    p.goto(&format!("{}{}", s.base, sig[1].link()));
    offline_state(&p, "valid", "offline-3-other-valid");
}

// ---------------------------------------------------------------------------------------
// The camera
// ---------------------------------------------------------------------------------------

/// The largest module size (pixels) at which `make` fits `side` pixels.
fn fit(make: impl Fn(u32) -> camera::Gray, side: usize) -> camera::Gray {
    (2..=8)
        .rev()
        .map(&make)
        .find(|g| g.w <= side && g.h <= side)
        .expect("a label that fits the frame")
}

/// The harness itself: the fake camera plays our video (grey table, the label's black and
/// white modules in the middle), so a failed scan is the page's, not the video's.
fn fake_camera_shows(p: &Page, label: &camera::Gray) {
    let v = p.js_async(
        r#"const done = arguments[arguments.length - 1];
           navigator.mediaDevices.getUserMedia({video: true}).then(async s => {
             const v = document.createElement('video');
             v.muted = true; v.srcObject = s; await v.play();
             await new Promise(r => setTimeout(r, 300));
             const c = document.createElement('canvas');
             c.width = v.videoWidth; c.height = v.videoHeight;
             const g = c.getContext('2d'); g.drawImage(v, 0, 0);
             const d = g.getImageData(0, 0, c.width, c.height).data;
             const at = (x, y) => d[(y * c.width + x) * 4];
             let dark = 0, white = 0;
             for (let y = c.height / 2 - 100; y < c.height / 2 + 100; y += 2)
               for (let x = c.width / 2 - 100; x < c.width / 2 + 100; x += 2) {
                 const l = at(x, y); if (l < 60) dark++; if (l > 200) white++;
               }
             s.getTracks().forEach(t => t.stop());
             done({w: c.width, h: c.height, corner: at(5, 5), dark, white});
           }).catch(e => done({error: String(e)}));"#,
        vec![],
    );
    assert!(v.get("error").is_none(), "getUserMedia: {v}");
    assert_eq!(
        (v["w"].as_u64(), v["h"].as_u64()),
        (Some(640), Some(480)),
        "{v}"
    );
    let corner = v["corner"].as_i64().unwrap_or(0);
    assert!((100..=156).contains(&corner), "the table is not grey: {v}");
    assert!(
        v["dark"].as_u64() > Some(100) && v["white"].as_u64() > Some(100),
        "no label ({}×{}) in the middle of the picture: {v}",
        label.w,
        label.h
    );
}

/// Films `label` with Chromium's fake camera on `/scan` and expects `code`'s page, genuine.
fn scan(name: &str, label: camera::Gray, code: &Code) {
    let w = world();
    let dir = chrome::temp_dir("tracemark-camera-");
    label.write_png(&chrome::artifacts().join(format!("{name}-label.png")));
    let frames: Vec<camera::Gray> = (0..5)
        .map(|_| camera::frame(&label, 640, 480, 128))
        .collect();
    let frame_png = chrome::artifacts().join(format!("{name}-frame.png"));
    frames[0].write_png(&frame_png);
    // The registry reads this very frame (else a failed scan below is not the page's);
    // other tests' images share this address's limits, so a 429 is waited out.
    let frame_bytes = std::fs::read(&frame_png).expect("frame");
    let mut tries = 0;
    let r = loop {
        let r =
            w.s.http
                .post(format!("{}/api/v1/verify/image", w.s.base))
                .header("content-type", "image/png")
                .body(frame_bytes.clone())
                .send()
                .expect("verify/image");
        tries += 1;
        if r.status() != 429 || tries == 20 {
            break r;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let status = r.status();
    let v: Value = r.json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "{name}: verify/image of the camera frame: {v}");
    assert_eq!(v["verdict"], "genuine", "{name}: {v}");
    assert_eq!(
        v["scanned"]["link"].as_str(),
        Some(code.link().as_str()),
        "{name}: {v}"
    );
    let video = dir.join("camera.y4m");
    camera::write_y4m(&video, &frames);
    let b = Browser::launch(&[
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-video-capture={}", video.display()),
    ]);
    {
        let p = b.page(name);
        p.goto(&format!("{}/scan", w.s.base));
        fake_camera_shows(&p, &label);
        for id in ["#camera-button", "#camera-video", "#camera-status"] {
            assert!(p.exists(id), "/scan has no {id}");
        }
        p.screenshot(&format!("{name}-0-scan"));
        p.click("#camera-button");
        // A picture of the page filming, if it is quick enough to catch (not asserted:
        // the page may already have found the code).
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let filming = p.try_js(
                "const v = document.getElementById('camera-video'); return !!v && location.pathname === '/scan' && v.readyState >= 2",
                vec![],
            );
            if filming == Some(Value::Bool(true)) {
                p.screenshot(&format!("{name}-0b-filming"));
                break;
            }
            if filming.is_none() || p.try_url().is_none_or(|u| !u.contains("/scan")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let want = format!("/01/{}/21/{}", code.gtin, pct(&code.serial));
        p.wait(&format!("navigation to {want}"), SCAN_TIMEOUT, |p| {
            p.try_url()?.contains(&want).then_some(())
        });
        let url = p.url();
        let (kid, value) = code.tail.clone().expect("tail");
        let q = query_of(&url);
        assert!(
            q.contains(&("91".into(), kid)) && q.contains(&("92".into(), value)),
            "{name}: the scanned link lost the tail: {url}"
        );
        let v = p.wait_attr("#verdict", "data-verdict", SETTLE);
        p.screenshot(&format!("{name}-1-result"));
        assert_eq!(v, "genuine", "{name}: {url}");
    }
}

#[test]
fn camera_scans_a_data_matrix() {
    let c = &world().scan_dm;
    let full = c.full();
    scan(
        "camera-datamatrix",
        fit(|m| camera::data_matrix(&full, m), 440),
        c,
    );
}

#[test]
fn camera_scans_a_digital_link_qr() {
    let w = world();
    let c = &w.scan_qr;
    let full = c.full();
    scan(
        "camera-qr",
        fit(|m| camera::qr(&full, &w.s.base, m), 440),
        c,
    );
}

/// Every kind of damaged photo of the decode-rate test, made from a label that `tracemark
/// label` prints for a genuine code of this registry, chosen with the page's photo picker
/// on `/scan`: each opens the code's page, genuine.
#[test]
fn derived_photos_verify_as_genuine_through_the_page() {
    let w = world();
    let c = &w.photo;
    let full = c.full();
    let symbol = labels::symbol::data_matrix(&full).expect("data matrix");
    let png = labels::render::png(&symbol, 4).expect("png");
    let label = image::load_from_memory(&png).expect("label").to_luma8();
    let padded = photo::pad(&label, 16, 255);
    let mut r = photo::rng(0x5ca1e);
    let mut busy = photo::busy_background(1280, 960, &mut r);
    photo::paste_random(&mut busy, &padded, &mut r);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("rotated-37deg", photo::png(&photo::rotate(&padded, 37.0))),
        ("scaled-2px", photo::png(&photo::scale_to(&padded, 4, 2.0))),
        (
            "perspective-8pc",
            photo::png(&photo::perspective(&padded, 0.08, &mut r)),
        ),
        // σ = ¼ module: ½ module is the decoder's edge, where some codes' symbols are lost
        // (9 of 9 in the decode-rate test; one browser run in several drew a code that failed).
        (
            "blurred-quarter-module",
            photo::png(&photo::blur(&padded, 1.0)),
        ),
        (
            "noisy",
            photo::png(&photo::gaussian_noise(&padded, 25.0, 11)),
        ),
        ("jpeg-q25", photo::jpeg(&padded, 25)),
        (
            "low-contrast",
            photo::png(&photo::contrast(&padded, 90, 167)),
        ),
        ("busy-background", photo::jpeg(&busy, 85)),
        (
            "phone-photo",
            photo::jpeg(&photo::phone_photo(&label, 23.0, 1280, 960, &mut r), 70),
        ),
    ];
    let want = format!("/01/{}/21/{}", c.gtin, pct(&c.serial));
    let p = Browser::shared().page("photos");
    for (name, bytes) in cases {
        let ext = if bytes.starts_with(b"\x89PNG") {
            "png"
        } else {
            "jpg"
        };
        let file = chrome::artifacts().join(format!("photo-{name}.{ext}"));
        std::fs::write(&file, &bytes).expect("write photo");
        p.goto(&format!("{}/scan?lang=en", w.s.base));
        p.wait("the photo picker enabled", SETTLE, |p| {
            (p.attr("#photo-input", "disabled").is_none()).then_some(())
        });
        p.type_into(
            "#photo-input",
            &file.canonicalize().expect("path").display().to_string(),
        );
        p.wait(
            &format!("{name}: navigation to {want}"),
            SCAN_TIMEOUT,
            |p| p.try_url()?.contains(&want).then_some(()),
        );
        let v = p.wait_attr("#verdict", "data-verdict", SETTLE);
        assert_eq!(v, "genuine", "{name}: {}", p.url());
        let q = query_of(&p.url());
        assert!(
            q.iter().any(|(k, _)| k == "92"),
            "{name}: the link kept the tail"
        );
    }
    p.screenshot("photo-last-result");
}

// ---------------------------------------------------------------------------------------
// A complaint
// ---------------------------------------------------------------------------------------

#[test]
fn complaint_through_the_form_reaches_the_regulator() {
    let w = world();
    let c = &w.forged[4];
    let text = "Купил в киоске у метро: этикетка смазана, цена вдвое ниже обычной.";
    let shop = "Киоск у метро «Сокол»";
    let photo = chrome::artifacts().join("complaint-photo.png");
    // The label photographed (its size varies with the code: fitted, like the camera's).
    let full = c.full();
    let label = fit(|m| camera::data_matrix(&full, m), 440);
    camera::frame(&label, 640, 480, 128).write_png(&photo);
    let p = Browser::shared().page("complaint");
    p.goto(&format!("{}{}", w.s.base, with_lang(&c.link(), "ru")));
    assert_eq!(
        p.attr("#verdict", "data-verdict").as_deref(),
        Some("forged")
    );
    assert!(
        p.exists("#complaint-form"),
        "no #complaint-form on a forged code's page"
    );
    p.select("#complaint-form [name=kind]", "counterfeit");
    p.type_into("#complaint-form [name=text]", text);
    p.type_into("#complaint-form [name=shop]", shop);
    p.type_into(
        "#complaint-form [name=photo]",
        &photo
            .canonicalize()
            .expect("photo path")
            .display()
            .to_string(),
    );
    // The shopper shares where they are (Sokol metro station, Moscow).
    p.set_location(55.8053, 37.5153, 25.0);
    p.click("#complaint-form [name=share_location]");
    p.scroll_to("#complaint-submit");
    p.screenshot("complaint-0-filled");
    p.click("#complaint-submit");
    let id = p.wait("#complaint-result[data-id]", SETTLE, |p| {
        if let Some(e) = p.attr("#complaint-result", "data-error") {
            panic!("complaint refused: {e}: {}", p.text("#complaint-result"));
        }
        p.attr("#complaint-result", "data-id")
    });
    p.scroll_to("#complaint-result");
    p.screenshot("complaint-1-sent");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "data-id {id:?}");
    let (st, v) =
        w.s.c
            .get(
                Some(&w.a.regulator),
                &format!("/api/v1/complaints?code={}", pct(&c.id())),
            )
            .expect("complaints");
    assert_eq!(st, 200, "{v}");
    let list = v["complaints"].as_array().unwrap_or_else(|| panic!("{v}"));
    let found = list
        .iter()
        .find(|x| x["id"] == json!(id))
        .unwrap_or_else(|| panic!("complaint {id} not among {v}"));
    assert_eq!(found["kind"], "counterfeit", "{found}");
    assert_eq!(found["text"], text, "{found}");
    assert_eq!(found["shop"], shop, "{found}");
    assert_eq!(found["has_photo"], true, "{found}");
    let near = |v: &Value, want: f64| v.as_f64().is_some_and(|x| (x - want).abs() < 1e-4);
    assert!(
        near(&found["location"]["lat"], 55.8053) && near(&found["location"]["lon"], 37.5153),
        "location: {found}"
    );
    // The page sent the code with its tail: the registry recorded the verdict it had.
    assert_eq!(found["verdict"], "forged", "{found}");
    let code = found["code"].as_str().unwrap_or_default();
    assert!(
        code.contains(&c.gtin) && code.contains(&c.serial),
        "complaint's code {code:?}"
    );
}
