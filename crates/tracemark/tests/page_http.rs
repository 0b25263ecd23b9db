//! The consumer page over real HTTP: the routes, the headers (security policy, language,
//! caching), the language negotiation and the pages for codes that need no set-up
//! (malformed, unknown). What the page does in a browser is tested in a real Chromium
//! by the browser tests.

// The shared helper serves more than these tests use (signing client, product cards).
#[allow(dead_code)]
mod support;

use reqwest::blocking::Response;
use reqwest::StatusCode;

fn get(s: &support::Server, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut r = s.http.get(format!("{}{path}", s.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().expect("request")
}

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The headers every page carries.
fn assert_page_headers(r: &Response, lang: &str) {
    assert!(header(r, "content-type").starts_with("text/html"));
    assert_eq!(header(r, "content-language"), lang);
    assert_eq!(header(r, "vary"), "Accept, Accept-Language");
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
    assert_eq!(header(r, "referrer-policy"), "no-referrer");
    let pp = header(r, "permissions-policy");
    assert!(
        pp.contains("camera=(self)") && pp.contains("geolocation=(self)"),
        "{pp}"
    );
    let csp = header(r, "content-security-policy");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

/// The `/static/…` URLs a page links.
fn asset_urls(html: &str) -> Vec<String> {
    html.match_indices("\"/static/")
        .map(|(i, _)| {
            let rest = &html[i + 1..];
            rest[..rest.find('"').expect("end of URL")].to_string()
        })
        .collect()
}

#[test]
fn scan_page_languages_and_headers() {
    let s = support::start();
    let r = get(
        &s,
        "/scan",
        &[("accept-language", "en-GB,en;q=0.9,ru;q=0.5")],
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_page_headers(&r, "en");
    let html = r.text().expect("body");
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("id=\"camera-button\"") && html.contains("id=\"camera-video\""));
    assert!(html.contains("id=\"lang-switch\"") && html.contains(">Русский</a>"));
    // ?lang= overrides the header; nothing usable means Russian.
    let r = get(&s, "/scan?lang=ru", &[("accept-language", "en")]);
    assert_page_headers(&r, "ru");
    assert!(r.text().expect("body").contains("<html lang=\"ru\">"));
    let r = get(&s, "/scan", &[("accept-language", "de-DE")]);
    assert_eq!(header(&r, "content-language"), "ru");
    // The index links the scan page.
    assert!(get(&s, "/", &[])
        .text()
        .expect("index")
        .contains("href=/scan"));
}

#[test]
fn static_files_and_service_worker_are_cached_right() {
    let s = support::start();
    let html = get(&s, "/scan", &[]).text().expect("page");
    let urls = asset_urls(&html);
    assert!(urls.len() >= 3, "{urls:?}");
    for url in &urls {
        let r = get(&s, url, &[]);
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert!(header(&r, "cache-control").contains("immutable"), "{url}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let etag = header(&r, "etag");
        assert!(etag.starts_with('"'), "{url}: {etag}");
        assert!(!r.bytes().expect("body").is_empty());
        // Without its version: revalidated, and a 304 when unchanged.
        let bare = url.split('?').next().expect("path");
        let r = get(&s, bare, &[("if-none-match", &etag)]);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{bare}");
        assert_eq!(header(&r, "cache-control"), "public, no-cache");
    }
    let ct = |u: &str| header(&get(&s, u, &[]), "content-type");
    assert!(
        ct(urls.iter().find(|u| u.contains("app.js")).expect("js")).starts_with("text/javascript")
    );
    assert!(ct(urls.iter().find(|u| u.contains("app.css")).expect("css")).starts_with("text/css"));
    let r = get(&s, "/static/nothing.js", &[]);
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(header(&r, "content-type").starts_with("application/problem+json"));
    // The service worker: from the root, always revalidated, precaching the shell.
    let r = get(&s, "/sw.js", &[]);
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let etag = header(&r, "etag");
    let sw = r.text().expect("sw");
    assert!(sw.contains("/offline?lang=ru") && sw.contains("/offline?lang=en"));
    for url in &urls {
        assert!(sw.contains(url.as_str()), "{url} not precached");
    }
    let r = get(&s, "/sw.js", &[("if-none-match", &etag)]);
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // The offline shell it precaches.
    let r = get(&s, "/offline?lang=en", &[]);
    assert_eq!(r.status(), StatusCode::OK);
    assert_page_headers(&r, "en");
    assert!(r
        .text()
        .expect("shell")
        .contains("data-verdict=\"offline\""));
}

#[test]
fn resolver_pages_for_malformed_and_unknown_codes() {
    let s = support::start();
    // A GTIN whose check digit should be 3: the page says so in words, with a 400.
    let r = get(
        &s,
        "/01/04650117240167/21/abc",
        &[("accept-language", "en")],
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_page_headers(&r, "en");
    let html = r.text().expect("page");
    assert!(html.contains("data-verdict=\"malformed\""));
    assert!(
        html.contains("The last digit of the GTIN should be 3, it is 7"),
        "{html}"
    );
    // The technical detail counts characters (from 1) in the path sent, as the JSON does:
    // no made-up host before it.
    assert!(
        html.contains("AI (01): bad check digit 7 at character 18, expected 3"),
        "{html}"
    );
    assert!(!html.contains("resolver/"), "{html}");
    let r = get(&s, "/01/04650117240167/21/abc", &[]);
    assert_page_headers(&r, "ru");
    assert!(r
        .text()
        .expect("page")
        .contains("Последняя цифра GTIN должна быть 3"));
    // JSON still answers JSON, and says that it varies.
    let r = get(
        &s,
        "/01/04650117240167/21/abc",
        &[("accept", "application/json")],
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(header(&r, "content-type").starts_with("application/problem+json"));
    assert_eq!(header(&r, "vary"), "Accept, Accept-Language");
    let v: serde_json::Value = r.json().expect("problem");
    assert_eq!(
        v["detail"],
        "not a valid marking code: AI (01): bad check digit 7 at character 18, expected 3"
    );
    // A code nobody issued: red, both languages, the switch keeping the code.
    let path = "/01/04650117240163/21/NOSUCH1?91=0001&92=abc";
    for (lang, headline) in [("en", "Unknown code"), ("ru", "Неизвестный код")] {
        let r = get(&s, &format!("{path}&lang={lang}"), &[]);
        assert_eq!(r.status(), StatusCode::OK);
        assert_page_headers(&r, lang);
        let html = r.text().expect("page");
        assert!(html.contains("data-verdict=\"unknown\""), "{html}");
        assert!(html.contains("class=\"verdict verdict-bad\""));
        assert!(html.contains(headline));
        let other = if lang == "en" { "ru" } else { "en" };
        assert!(
            html.contains(&format!(
                "href=\"/01/04650117240163/21/NOSUCH1?91=0001&#38;92=abc&#38;lang={other}\""
            )),
            "{html}"
        );
    }
}
