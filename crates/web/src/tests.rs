//! Rendering tests: every verdict in both languages, hostile producer data, the language
//! switch, the malformed page, the headers and the embedded files.

use super::*;

const LINK: &str = "https://resolver/01/04650117240163/21/5100000005NgF?91=0024&92=UjpfAmE6elcVxvtPJHHGl%2F8ULzQB8YPU%2FXnOERdyuQ%3D%3D";
const PATH: &str = "/01/04650117240163/21/5100000005NgF?91=0024&92=UjpfAmE6elcVxvtPJHHGl%2F8ULzQB8YPU%2FXnOERdyuQ%3D%3D";

const VERDICTS: [(&str, &str); 8] = [
    ("genuine", "verdict-ok"),
    ("sold", "verdict-neutral"),
    ("not_in_circulation", "verdict-neutral"),
    ("unverified", "verdict-neutral"),
    ("recalled", "verdict-bad"),
    ("expired", "verdict-bad"),
    ("forged", "verdict-bad"),
    ("unknown", "verdict-bad"),
];

fn answer(verdict: &str) -> Answer {
    Answer {
        verdict: verdict.into(),
        code: "0104650117240163215100000005NgF".into(),
        product: Some(Product {
            gtin: "04650117240163".into(),
            name: "Молоко 3,2 %".into(),
            brand: Some("Простоквашино".into()),
            product_group: "milk".into(),
        }),
        producer: Some(Producer {
            name: "АО «Молочный завод»".into(),
            tin: "7701234567".into(),
        }),
        production_date: Some("2026-11-20".into()),
        expiry_date: Some("2026-12-05".into()),
        sold_at: (verdict == "sold").then(|| "2026-11-28T10:15:00Z".into()),
        checked_at: "2026-11-29T17:09:25Z".into(),
        detail: None,
    }
}

fn req(lang: Lang) -> Request<'static> {
    Request {
        lang,
        path_and_query: PATH,
    }
}

/// The text of the element with `id` (up to its closing tag; tags inside stripped).
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open_end = at + html[at..].find('>')? + 1;
    let tag_start = html[..at].rfind('<')?;
    let tag: String = html[tag_start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let close = html[open_end..].find(&format!("</{tag}>"))?;
    let inner = &html[open_end..open_end + close];
    let mut out = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    Some(unescape(
        &out.split_whitespace().collect::<Vec<_>>().join(" "),
    ))
}

/// HTML character references back to characters (numeric, and the few named ones).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|&e| e < 10);
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "nbsp" => Some('\u{a0}'),
                n => n
                    .strip_prefix('#')
                    .and_then(|d| d.parse::<u32>().ok())
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn page_data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"page-data\">").expect("page data") + "id=\"page-data\">".len();
    let end = start + html[start..].find("</script>").expect("end of page data");
    serde_json::from_str(&html[start..end]).expect("page data is JSON")
}

#[test]
fn every_verdict_in_both_languages() {
    for lang in [Lang::Ru, Lang::En] {
        let s = lang.strings();
        for (verdict, class) in VERDICTS {
            let html = render_verdict(&answer(verdict), LINK, req(lang)).expect("renders");
            let ctx = format!("{verdict} in {}", lang.code());
            assert!(html.starts_with("<!doctype html>"), "{ctx}");
            assert!(
                html.contains(&format!("<html lang=\"{}\">", lang.code())),
                "{ctx}"
            );
            assert!(
                html.contains(&format!(
                    "id=\"verdict\" class=\"verdict {class}\" data-verdict=\"{verdict}\""
                )),
                "{ctx}"
            );
            let text = verdict_text(s, verdict);
            assert_eq!(
                text_of(&html, "headline").as_deref(),
                Some(text.headline),
                "{ctx}"
            );
            // Never colour alone: an icon with its text alternative.
            assert!(
                html.contains(&format!("role=\"img\" aria-label=\"{}\"", text.icon_label)),
                "{ctx}"
            );
            let steps = text_of(&html, "next-steps").expect("next steps");
            for step in text.steps {
                assert!(steps.contains(step), "{ctx}: {step}");
            }
            // The product card, producer and dates.
            assert_eq!(
                text_of(&html, "product-name").as_deref(),
                Some("Молоко 3,2 %")
            );
            let producer = text_of(&html, "producer").expect("producer");
            assert!(producer.contains("АО «Молочный завод»") && producer.contains("7701234567"));
            assert!(producer.contains(s.tin), "{ctx}: {producer}");
            let expiry = text_of(&html, "expiry-date").expect("expiry");
            assert_eq!(expiry, format!("5 {} 2026", s.months[11]));
            assert!(html.contains("<time datetime=\"2026-12-05\">"));
            assert_eq!(
                text_of(&html, "production-date"),
                Some(format!("20 {} 2026", s.months[10]))
            );
            assert_eq!(verdict == "sold", html.contains("id=\"sold-at\""), "{ctx}");
            // The other language's switch, the offline check, the camera and the form.
            assert_eq!(
                text_of(&html, "lang-switch").as_deref(),
                Some(lang.other().strings().name)
            );
            assert!(html
                .contains("id=\"offline-check\" class=\"offline-check\" data-state=\"pending\""));
            assert!(html.contains("aria-live=\"polite\""));
            for id in [
                "camera-button",
                "camera-video",
                "camera-status",
                "complaint-form",
                "complaint-submit",
                "complaint-result",
            ] {
                assert!(html.contains(&format!("id=\"{id}\"")), "{ctx}: #{id}");
            }
            for name in ["kind", "text", "shop", "photo", "share_location"] {
                assert!(html.contains(&format!("name=\"{name}\"")), "{ctx}: {name}");
            }
            // Every form field has a label.
            for id in [
                "complaint-kind",
                "complaint-text",
                "complaint-shop",
                "complaint-photo",
                "complaint-location",
            ] {
                assert!(
                    html.contains(&format!("<label for=\"{id}\">")),
                    "{ctx}: label {id}"
                );
            }
            // The script's data: the code's parts and this language's strings.
            let data = page_data(&html);
            assert_eq!(data["lang"], lang.code());
            assert_eq!(data["verdict"], verdict);
            assert_eq!(data["code"]["gtin"], "04650117240163");
            assert_eq!(data["code"]["serial"], "5100000005NgF");
            assert_eq!(data["code"]["kid"], "0024");
            assert_eq!(
                data["code"]["sig"],
                "UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ=="
            );
            assert_eq!(data["strings"]["offline_pending"], s.js.offline_pending);
            // No inline script or style: the CSP forbids them.
            assert!(
                !html.contains("<script>") && !html.contains(" style="),
                "{ctx}"
            );
            assert!(
                !html.contains("onclick") && !html.contains("onload"),
                "{ctx}"
            );
        }
    }
}

#[test]
fn languages_differ_and_verdicts_differ() {
    let ru = render_verdict(&answer("forged"), LINK, req(Lang::Ru)).expect("ru");
    let en = render_verdict(&answer("forged"), LINK, req(Lang::En)).expect("en");
    assert_eq!(
        text_of(&ru, "headline").as_deref(),
        Some("Поддельная этикетка")
    );
    assert_eq!(text_of(&en, "headline").as_deref(), Some("Forged label"));
    // Each verdict says something of its own.
    let mut headlines = std::collections::BTreeSet::new();
    for (v, _) in VERDICTS {
        let html = render_verdict(&answer(v), LINK, req(Lang::En)).expect("en");
        headlines.insert(text_of(&html, "headline").expect("headline"));
    }
    assert_eq!(headlines.len(), VERDICTS.len());
    // A verdict the page does not know reads as `unknown` (the cautious one).
    let html = render_verdict(&answer("something_new"), LINK, req(Lang::En)).expect("en");
    assert!(html.contains("data-verdict=\"unknown\"") && html.contains("verdict-bad"));
}

#[test]
fn hostile_registry_data_is_escaped() {
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";
    let mut a = answer("genuine");
    if let Some(p) = a.product.as_mut() {
        p.name = evil.into();
        p.brand = Some(evil.into());
        p.product_group = evil.into();
    }
    a.producer = Some(Producer {
        name: evil.into(),
        tin: evil.into(),
    });
    a.expiry_date = Some(evil.into());
    a.code = evil.into();
    // A serial may hold `<`, `>` and `/` (GS1 character set 82): `</script>` in the link.
    let link = "https://resolver/01/04650117240163/21/%3C%2Fscript%3E%3Cscript%3Ex";
    let path = "/01/04650117240163/21/%3C%2Fscript%3E%3Cscript%3Ex?\"><script>alert(3)</script>";
    let html = render_verdict(
        &a,
        link,
        Request {
            lang: Lang::En,
            path_and_query: path,
        },
    )
    .expect("renders");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("onerror=alert(2)>"), "{html}");
    // Shown as text, exactly as the producer wrote it.
    assert_eq!(text_of(&html, "product-name").as_deref(), Some(evil));
    assert_eq!(text_of(&html, "product-brand").as_deref(), Some(evil));
    assert!(text_of(&html, "producer").is_some_and(|p| p.contains(evil)));
    // Exactly the two script elements of the page: the data and app.js.
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert_eq!(html.matches("</script>").count(), 2, "{html}");
    let data = page_data(&html);
    assert_eq!(data["code"]["serial"], "</script><script>x");
}

#[test]
fn language_switch_keeps_the_code_and_tail() {
    let html = render_verdict(&answer("genuine"), LINK, req(Lang::Ru)).expect("ru");
    let at = html.find("id=\"lang-switch\"").expect("switch");
    let href_at = at + html[at..].find("href=\"").expect("href") + 6;
    let href = &html[href_at..href_at + html[href_at..].find('"').expect("end")];
    assert_eq!(
        unescape(href),
        "/01/04650117240163/21/5100000005NgF?91=0024&92=UjpfAmE6elcVxvtPJHHGl%2F8ULzQB8YPU%2FXnOERdyuQ%3D%3D&lang=en"
    );
    assert_eq!(text_of(&html, "lang-switch").as_deref(), Some("English"));
    assert!(html[at..].starts_with("id=\"lang-switch\" class=\"lang-switch\""));
    assert!(html[href_at..].contains("lang=\"en\" hreflang=\"en\">English</a>"));
    assert_eq!(
        switch_href("/01/1/21/2?lang=en&91=a&lang=ru", Lang::Ru),
        "/01/1/21/2?91=a&lang=ru"
    );
    assert_eq!(switch_href("/scan", Lang::En), "/scan?lang=en");
    // Never off this site.
    assert_eq!(
        switch_href("//evil.example/x", Lang::En),
        "/evil.example/x?lang=en"
    );
}

#[test]
fn malformed_code_page_says_what_is_wrong() {
    let link = "https://resolver/01/04650117240167/21/abc";
    for (lang, words) in [
        (Lang::En, "The last digit of the GTIN should be 3, it is 7: the number was mistyped or the label is fake."),
        (Lang::Ru, "Последняя цифра GTIN должна быть 3, а на этикетке 7: номер набран с ошибкой или этикетка поддельная."),
    ] {
        let html = render_malformed(
            link,
            "bad_check_digit",
            "AI (01): bad check digit 7 at character 37, expected 3",
            Request {
                lang,
                path_and_query: "/01/04650117240167/21/abc",
            },
        )
        .expect("renders");
        assert!(html.contains("data-verdict=\"malformed\""));
        assert!(html.contains("class=\"verdict verdict-bad\""));
        assert_eq!(text_of(&html, "fault").as_deref(), Some(words));
        assert_eq!(
            text_of(&html, "headline").as_deref(),
            Some(lang.strings().verdicts.malformed.headline)
        );
        assert!(html.contains("id=\"next-steps\""));
        assert!(html.contains("bad check digit 7"), "the technical detail is kept");
        // A complaint from here names no code (it is not one), and starts on "no marking".
        assert_eq!(page_data(&html)["complaint_with_code"], false);
        assert!(html.contains("<option value=\"no_marking\" selected>"));
        assert!(!html.contains("id=\"offline-check\""));
    }
}

#[test]
fn scan_and_offline_pages() {
    for lang in [Lang::Ru, Lang::En] {
        let s = lang.strings();
        let scan = render_scan(Request {
            lang,
            path_and_query: "/scan",
        })
        .expect("scan");
        assert!(scan.contains("id=\"camera-button\""));
        assert_eq!(text_of(&scan, "scan-title").as_deref(), Some(s.scan_title));
        assert!(unescape(&scan).contains(s.scan_intro));
        assert!(!scan.contains("id=\"verdict\""));
        assert_eq!(page_data(&scan)["page"], "scan");
        let off = render_offline(lang).expect("offline");
        assert!(off.contains("data-verdict=\"offline\""));
        assert!(off.contains("id=\"offline-check\""));
        assert!(!off.contains("id=\"complaint-form\""));
        assert_eq!(page_data(&off)["page"], "offline");
    }
}

#[test]
fn headers_of_a_page() {
    let h = page_headers(Lang::En);
    let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("content-language"), Some("en"));
    assert_eq!(get("vary"), Some("Accept, Accept-Language"));
    assert_eq!(get("x-content-type-options"), Some("nosniff"));
    assert_eq!(get("referrer-policy"), Some("no-referrer"));
    let csp = get("content-security-policy").expect("csp");
    for d in [
        "default-src 'self'",
        "script-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(d), "{d}");
    }
    assert!(!csp.contains("unsafe"));
    assert!(get("permissions-policy")
        .is_some_and(|p| p.contains("camera=(self)") && p.contains("geolocation=(self)")));
}

#[test]
fn embedded_files_and_service_worker() {
    let html = render_verdict(&answer("genuine"), LINK, req(Lang::En)).expect("en");
    // Every file the page links exists, with its hash in the URL.
    for name in ["app.css", "app.js", "icon.svg"] {
        let a = assets::get(name).expect(name);
        assert!(html.contains(&a.url()), "{name}");
        assert!(!a.body.is_empty());
        let r = assets::static_reply(name, Some(&format!("v={}", a.hash)), None).expect("reply");
        assert_eq!(r.status, 200);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| *k == "cache-control" && v.contains("immutable")));
        // Unversioned: revalidate; a matching ETag is a 304 without a body.
        let r = assets::static_reply(name, None, Some(&a.etag())).expect("reply");
        assert_eq!(r.status, 304);
        assert!(r.body.is_empty());
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| *k == "cache-control" && v == "public, no-cache"));
    }
    assert!(assets::static_reply("nope.js", None, None).is_none());
    let sw = assets::service_worker();
    let src = String::from_utf8(sw.body.clone()).expect("utf-8");
    assert!(src.contains(&format!("const VERSION = \"{}\";", assets::version())));
    assert!(src.contains("\"/offline?lang=ru\""));
    assert!(src.contains(&assets::get("app.js").expect("js").url()));
    assert!(!src.contains("__PRECACHE__") && !src.contains("__VERSION__"));
    let r = assets::service_worker_reply(None);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| *k == "content-type" && v.starts_with("text/javascript")));
}

/// Every string the script names exists in the table, in both languages, and none is
/// empty: a typo in app.js would otherwise show a blank to the shopper.
#[test]
fn script_strings_exist_in_both_languages() {
    let ru = serde_json::to_value(&strings::RU.js).expect("ru");
    let en = serde_json::to_value(&strings::EN.js).expect("en");
    let ru_keys: Vec<_> = ru.as_object().expect("object").keys().collect();
    let en_keys: Vec<_> = en.as_object().expect("object").keys().collect();
    assert_eq!(ru_keys, en_keys);
    for (k, v) in ru
        .as_object()
        .expect("ru")
        .iter()
        .chain(en.as_object().expect("en"))
    {
        assert!(v.as_str().is_some_and(|s| !s.is_empty()), "{k}");
    }
    let js = include_str!("../static/app.js");
    let mut used = Vec::new();
    for (i, _) in js.match_indices("S.") {
        let before = js[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let name: String = js[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.push(name);
    }
    // Keys named as strings ('offline_no_tail', …) and looked up with S[…].
    for quote in js.split('\'').skip(1).step_by(2) {
        if quote.starts_with("offline_") || quote.starts_with("net_offline_") {
            used.push(quote.to_string());
        }
    }
    assert!(used.len() > 20, "{used:?}");
    for name in used {
        assert!(
            ru.get(&name).is_some(),
            "app.js uses S.{name}, not in the table"
        );
    }
}

/// WCAG 2.x relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| {
        let v = f64::from(u8::from_str_radix(&h[i..i + 2], 16).expect("hex")) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * c(0) + 0.7152 * c(2) + 0.0722 * c(4)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The stylesheet's colour pairs meet WCAG AA: text 4.5:1, icons and borders that carry
/// meaning 3:1. Read from app.css itself, so a change of colour is checked.
#[test]
fn colours_meet_wcag_aa() {
    let css = include_str!("../static/app.css");
    let var = |name: &str| -> String {
        let at = css
            .find(&format!("--{name}:"))
            .unwrap_or_else(|| panic!("--{name}"));
        let rest = &css[at + name.len() + 3..];
        rest[..rest.find(';').expect(";")].trim().to_string()
    };
    let text = [
        ("ink", "bg"),
        ("ink", "panel"),
        ("muted", "panel"),
        ("muted", "bg"),
        ("ok-ink", "ok-bg"),
        ("neutral-ink", "neutral-bg"),
        ("bad-ink", "bad-bg"),
        ("bad-ink", "panel"),
        ("ok-ink", "panel"),
        ("navy-2", "panel"),
    ];
    for (fg, bg) in text {
        let r = contrast(&var(fg), &var(bg));
        assert!(r >= 4.5, "--{fg} on --{bg}: {r:.2}");
    }
    // White on the header and on the primary button.
    assert!(contrast("#ffffff", &var("navy")) >= 4.5);
    // The verdict icons against their card, and their white glyphs.
    for (icon, bg) in [
        ("ok", "ok-bg"),
        ("neutral", "neutral-bg"),
        ("bad", "bad-bg"),
    ] {
        let r = contrast(&var(icon), &var(bg));
        assert!(r >= 3.0, "--{icon} on --{bg}: {r:.2}");
        assert!(contrast("#ffffff", &var(icon)) >= 4.5, "glyph on --{icon}");
    }
}

/// The page reads the verify answer's JSON as the API documents it, fields it does not
/// use (status, tail_checked, …) and fields added later included.
#[test]
fn answer_reads_from_the_verify_json() {
    let v = serde_json::json!({
        "verdict": "expired", "code": "0104650117240163215100000005NgF",
        "product": {"gtin": "04650117240163", "name": "Кефир", "brand": null,
                    "product_group": "milk", "shelf_life_days": 10, "max_retail_price": null,
                    "attributes": null},
        "producer": {"name": "Завод", "tin": "7701234567"},
        "status": "INTRODUCED", "expiry_date": "2026-11-01", "production_date": "2026-10-20",
        "tail_checked": true, "checked_at": "2026-11-29T17:09:25Z", "something_new": [1, 2]
    });
    let a: Answer = serde_json::from_value(v).expect("reads");
    assert_eq!(a.verdict, "expired");
    assert_eq!(a.production_date.as_deref(), Some("2026-10-20"));
    let html = render_verdict(&a, LINK, req(Lang::Ru)).expect("renders");
    assert_eq!(
        text_of(&html, "expiry-date").as_deref(),
        Some("1 ноября 2026")
    );
    assert_eq!(
        text_of(&html, "production-date").as_deref(),
        Some("20 октября 2026")
    );
    assert!(!html.contains("id=\"product-brand\""), "no brand, no row");
    // Without a production date the row is left out, not shown empty.
    let mut a = a;
    a.production_date = None;
    let html = render_verdict(&a, LINK, req(Lang::Ru)).expect("renders");
    assert!(!html.contains("id=\"production-date\""));
}
