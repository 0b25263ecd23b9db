//! Tracemark's consumer verification page: the HTML the GS1 Digital Link resolver answers
//! browsers with, the scan page, the service worker's offline shell, and their static
//! files (CSS, one plain script, the service worker), all embedded in the binary. Also
//! the regulator's dashboard and the business cabinet ([`render_board`], `board.rs`):
//! shells of the same kind whose script reads the API.
//!
//! Rendering lives here; HTTP lives in the `server` crate, which calls [`render_verdict`],
//! [`render_malformed`], [`render_scan`], [`render_offline`], sends [`page_headers`] with
//! each page, and serves [`assets::static_reply`] and [`assets::service_worker_reply`].
//!
//! Everything from the registry (product names and brands are producer-supplied) is
//! escaped by the templates; the script's data travels as JSON in a
//! `<script type="application/json">` (with `<`, `>` and `&` escaped), so a strict
//! Content-Security-Policy without inline script holds ([`CONTENT_SECURITY_POLICY`]).
//!
//! The DOM ids the browser tests rely on (`#verdict`, `#headline`, `#product-name`,
//! `#producer`, `#production-date`, `#expiry-date`, `#next-steps`, `#lang-switch`,
//! `#offline-check`, `#camera-button`, `#camera-video`, `#camera-status`,
//! `#complaint-form`, `#complaint-submit`, `#complaint-result`) are part of the contract.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assets;
mod board;
mod dates;
mod fault;
mod lang;
pub mod strings;

use askama::Template;
pub use board::{render_board, Board, RegionPoint};
pub use lang::{Lang, ACCEPT_LANGUAGE_ENTRIES_MAX};
use serde::{Deserialize, Serialize};
use strings::{Strings, VerdictText};

/// The pages' Content-Security-Policy: only this origin's files; no inline script or
/// style; pictures and video from the camera as `blob:`/`data:`; requests to this origin
/// only; no framing, no `<base>`, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
    connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Where the keys for the offline check are published.
pub const KEYS_PATH: &str = "/.well-known/tracemark-keys";

/// Why a page could not be rendered (a template failure: not expected, but not hidden).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template engine failed.
    #[error("page rendering failed: {0}")]
    Render(#[from] askama::Error),
}

/// The verify answer as the page reads it (the registry's `VerifyAnswer`, read back from
/// its JSON so that fields the registry adds, such as `production_date`, reach the page
/// without this crate depending on the registry's types).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Answer {
    /// `genuine`, `sold`, `recalled`, `expired`, `not_in_circulation`, `unknown`,
    /// `forged`, `unverified`.
    pub verdict: String,
    /// The identification code.
    pub code: String,
    /// The public product card.
    #[serde(default)]
    pub product: Option<Product>,
    /// The producer.
    #[serde(default)]
    pub producer: Option<Producer>,
    /// Production date (`YYYY-MM-DD`), when the registry knows it.
    #[serde(default)]
    pub production_date: Option<String>,
    /// Expiry date (`YYYY-MM-DD`).
    #[serde(default)]
    pub expiry_date: Option<String>,
    /// When sold (RFC 3339).
    #[serde(default)]
    pub sold_at: Option<String>,
    /// When checked (RFC 3339).
    #[serde(default)]
    pub checked_at: String,
    /// Why the verdict, in the registry's words.
    #[serde(default)]
    pub detail: Option<String>,
}

/// The public product card.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Product {
    /// GTIN, 14 digits.
    #[serde(default)]
    pub gtin: String,
    /// Name (producer-supplied: escaped on output).
    #[serde(default)]
    pub name: String,
    /// Brand.
    #[serde(default)]
    pub brand: Option<String>,
    /// Product group.
    #[serde(default)]
    pub product_group: String,
}

/// The producer.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Producer {
    /// Legal name.
    #[serde(default)]
    pub name: String,
    /// Taxpayer number.
    #[serde(default)]
    pub tin: String,
}

/// The headers every page is sent with (names in lower case): the security policy,
/// `Content-Language`, `Vary` (the same URL answers JSON or HTML, in two languages)
/// and `Cache-Control` (a verdict is of its moment: never stored).
pub fn page_headers(lang: Lang) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "text/html; charset=utf-8".into()),
        ("content-language", lang.code().into()),
        ("vary", "Accept, Accept-Language".into()),
        ("cache-control", "no-store".into()),
        ("content-security-policy", CONTENT_SECURITY_POLICY.into()),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "no-referrer".into()),
        (
            "permissions-policy",
            "camera=(self), geolocation=(self), microphone=()".into(),
        ),
        ("x-frame-options", "DENY".into()),
    ]
}

/// The request a page answers: its language and its own path and query (for the
/// language switch, which keeps the code and its tail).
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The language chosen ([`Lang::negotiate`]).
    pub lang: Lang,
    /// The path and query as received (`/01/…/21/…?91=…&92=…`).
    pub path_and_query: &'a str,
}

/// The verdict's colour class: green, grey or red.
fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "genuine" => "verdict-ok",
        "sold" | "not_in_circulation" | "unverified" | "offline" => "verdict-neutral",
        _ => "verdict-bad",
    }
}

fn verdict_text(s: &'static Strings, verdict: &str) -> &'static VerdictText {
    let v = &s.verdicts;
    match verdict {
        "genuine" => &v.genuine,
        "sold" => &v.sold,
        "not_in_circulation" => &v.not_in_circulation,
        "unverified" => &v.unverified,
        "recalled" => &v.recalled,
        "expired" => &v.expired,
        "forged" => &v.forged,
        "malformed" => &v.malformed,
        "offline" => &v.offline,
        // `unknown`, and any verdict a later registry adds: the cautious reading.
        _ => &v.unknown,
    }
}

/// The complaint kind the form starts on, from what the shopper just saw.
fn default_kind(verdict: &str) -> &'static str {
    match verdict {
        "forged" | "unknown" => "counterfeit",
        "sold" => "sold_twice",
        "expired" => "expired",
        "malformed" | "scan" => "no_marking",
        _ => "other",
    }
}

/// The `#lang-switch` link: the same path and query, `lang=` set to the other language.
fn switch_href(path_and_query: &str, to: Lang) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    // Only a path of this site: `//host` would leave it.
    let path = format!("/{}", path.trim_start_matches('/'));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang="))
        .collect();
    let lang = format!("lang={}", to.code());
    params.push(&lang);
    format!("{path}?{}", params.join("&"))
}

/// The parts of the code the script checks offline.
#[derive(Debug, Default, Serialize)]
struct CodeParts {
    gtin: String,
    serial: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<String>,
}

fn code_parts(link: &str) -> Option<CodeParts> {
    let es = gs1::parse(link).ok()?;
    Some(CodeParts {
        gtin: es.gtin()?.to_string(),
        serial: es.serial()?.to_string(),
        kid: es.get_code("91").map(str::to_string),
        sig: es.get_code("92").map(str::to_string),
        short: es.get_code("93").map(str::to_string),
    })
}

/// The data the script reads from `#page-data`.
#[derive(Serialize)]
struct PageData<'a> {
    lang: &'static str,
    /// `verdict`, `malformed`, `scan` or `offline` (the service worker's shell, which
    /// reads the code from its own URL).
    page: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<CodeParts>,
    /// Whether a complaint names the page's code (not for a malformed one).
    complaint_with_code: bool,
    keys_url: &'static str,
    sw_url: &'static str,
    strings: &'static strings::JsStrings,
}

/// JSON safe inside `<script type="application/json">`: no `<` (so no `</script>` or
/// `<!--`), `>` or `&` in the text; JSON reads the `\u` escapes back as the same
/// characters.
fn script_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A date as the page shows it: machine form for `<time datetime>` and words.
struct When {
    iso: String,
    text: String,
}

/// The verdict block.
struct VerdictView {
    key: &'static str,
    class: &'static str,
    text: &'static VerdictText,
    fault: Option<String>,
    detail: Option<String>,
}

/// The product card.
#[derive(Default)]
struct Facts {
    name: Option<String>,
    brand: Option<String>,
    group: Option<String>,
    gtin: Option<String>,
    serial: Option<String>,
    producer: Option<Producer>,
    production: Option<When>,
    expiry: Option<When>,
    sold: Option<When>,
    checked: Option<When>,
    code: Option<String>,
}

impl Facts {
    fn any(&self) -> bool {
        self.name.is_some() || self.producer.is_some() || self.code.is_some()
    }
}

#[derive(Template)]
#[template(path = "page.html")]
struct Page {
    lang: &'static str,
    s: &'static Strings,
    title: String,
    other_lang: &'static str,
    other_name: &'static str,
    switch_href: String,
    css: String,
    js: String,
    icon: String,
    data: String,
    /// The scan page's own heading and text instead of a verdict.
    scan_intro: bool,
    verdict: Option<VerdictView>,
    facts: Facts,
    offline_check: bool,
    camera: bool,
    complaint_kind: Option<&'static str>,
}

struct Shape<'a> {
    page: &'static str,
    verdict: Option<VerdictView>,
    facts: Facts,
    code: Option<CodeParts>,
    complaint_with_code: bool,
    offline_check: bool,
    camera: bool,
    complaint: bool,
    path_and_query: &'a str,
}

fn render(lang: Lang, shape: Shape<'_>) -> Result<String, Error> {
    let s = lang.strings();
    let key = shape.verdict.as_ref().map(|v| v.key);
    let title = match &shape.verdict {
        Some(v) => v.text.headline.to_string(),
        None => s.scan_title.to_string(),
    };
    let data = script_json(&PageData {
        lang: lang.code(),
        page: shape.page,
        verdict: key,
        code: shape.code,
        complaint_with_code: shape.complaint_with_code,
        keys_url: KEYS_PATH,
        sw_url: "/sw.js",
        strings: &s.js,
    });
    let page = Page {
        lang: lang.code(),
        s,
        title,
        other_lang: lang.other().code(),
        other_name: lang.other().strings().name,
        switch_href: switch_href(shape.path_and_query, lang.other()),
        css: assets::url("app.css"),
        js: assets::url("app.js"),
        icon: assets::url("icon.svg"),
        data,
        scan_intro: shape.verdict.is_none(),
        complaint_kind: shape
            .complaint
            .then(|| default_kind(key.unwrap_or(shape.page))),
        verdict: shape.verdict,
        facts: shape.facts,
        offline_check: shape.offline_check,
        camera: shape.camera,
    };
    Ok(page.render()?)
}

/// The page for a verify answer: the verdict (`#verdict`), the product card, the
/// producer, the dates, what to do next, the offline signature check, the camera and
/// the complaint form. `link` is the Digital Link as received (its tail is what the
/// script checks offline).
pub fn render_verdict(answer: &Answer, link: &str, req: Request<'_>) -> Result<String, Error> {
    let s = req.lang.strings();
    let key = verdict_key(&answer.verdict);
    let when = |t: &Option<String>, f: fn(&Strings, &str) -> String| {
        t.as_ref().map(|iso| When {
            text: f(s, iso),
            iso: iso.clone(),
        })
    };
    let parts = code_parts(link);
    let facts = Facts {
        name: answer.product.as_ref().map(|p| p.name.clone()),
        brand: answer.product.as_ref().and_then(|p| p.brand.clone()),
        group: answer
            .product
            .as_ref()
            .map(|p| p.product_group.clone())
            .filter(|g| !g.is_empty()),
        gtin: answer
            .product
            .as_ref()
            .map(|p| p.gtin.clone())
            .filter(|g| !g.is_empty())
            .or_else(|| parts.as_ref().map(|p| p.gtin.clone())),
        serial: parts.as_ref().map(|p| p.serial.clone()),
        producer: answer.producer.clone(),
        production: when(&answer.production_date, dates::date),
        expiry: when(&answer.expiry_date, dates::date),
        sold: when(&answer.sold_at, dates::time),
        checked: when(
            &Some(answer.checked_at.clone()).filter(|c| !c.is_empty()),
            dates::time,
        ),
        code: Some(answer.code.clone()),
    };
    render(
        req.lang,
        Shape {
            page: "verdict",
            verdict: Some(VerdictView {
                key,
                class: verdict_class(key),
                text: verdict_text(s, key),
                fault: None,
                detail: None,
            }),
            facts,
            code: parts,
            complaint_with_code: true,
            offline_check: true,
            camera: true,
            complaint: true,
            path_and_query: req.path_and_query,
        },
    )
}

/// The known verdicts as static words (`unknown` for anything else).
fn verdict_key(v: &str) -> &'static str {
    [
        "genuine",
        "sold",
        "not_in_circulation",
        "unverified",
        "recalled",
        "expired",
        "forged",
    ]
    .into_iter()
    .find(|k| *k == v)
    .unwrap_or("unknown")
}

/// The page for a link that is no marking code (sent with 400): `data-verdict=
/// "malformed"`, and what is wrong in words (`#fault`), from `reason` (the registry's
/// word: `bad_check_digit`, …) and the code itself; `detail` (the registry's technical
/// sentence) is shown folded away.
pub fn render_malformed(
    link: &str,
    reason: &str,
    detail: &str,
    req: Request<'_>,
) -> Result<String, Error> {
    let s = req.lang.strings();
    render(
        req.lang,
        Shape {
            page: "malformed",
            verdict: Some(VerdictView {
                key: "malformed",
                class: verdict_class("malformed"),
                text: &s.verdicts.malformed,
                fault: Some(fault::describe(&s.fault, link, reason)),
                detail: Some(detail.to_string()).filter(|d| !d.is_empty()),
            }),
            facts: Facts::default(),
            code: None,
            complaint_with_code: false,
            offline_check: false,
            camera: true,
            complaint: true,
            path_and_query: req.path_and_query,
        },
    )
}

/// The scan page (`/scan`): the camera button and what it does.
pub fn render_scan(req: Request<'_>) -> Result<String, Error> {
    render(
        req.lang,
        Shape {
            page: "scan",
            verdict: None,
            facts: Facts::default(),
            code: None,
            complaint_with_code: false,
            offline_check: false,
            camera: true,
            complaint: true,
            path_and_query: req.path_and_query,
        },
    )
}

/// The offline shell the service worker precaches (`/offline?lang=`) and answers a
/// verification link with when the network is down: the script reads the code from the
/// address bar and checks its signature with the saved keys.
pub fn render_offline(lang: Lang) -> Result<String, Error> {
    let s = lang.strings();
    render(
        lang,
        Shape {
            page: "offline",
            verdict: Some(VerdictView {
                key: "offline",
                class: verdict_class("offline"),
                text: &s.verdicts.offline,
                fault: None,
                detail: None,
            }),
            facts: Facts::default(),
            code: None,
            complaint_with_code: false,
            offline_check: true,
            camera: false,
            complaint: false,
            path_and_query: "/scan",
        },
    )
}

#[cfg(test)]
mod tests;
