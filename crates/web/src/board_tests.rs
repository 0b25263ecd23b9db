//! The boards' shells: self-contained (no external URL, no inline script or style),
//! every word in both languages, the script's data safe inside the page, and a script
//! that never writes HTML.

use super::*;
use crate::strings::{BOARD_EN, BOARD_RU};
use serde_json::Value;

const REGIONS: [RegionPoint; 2] = [
    RegionPoint {
        code: "RU-MOW",
        name: "Moscow",
        lat: 55.76,
        lon: 37.62,
    },
    // Hostile in the ways a table could be: the page data must stay inside its element.
    RegionPoint {
        code: "RU-X",
        name: "</script><script>alert(1)</script>&",
        lat: 43.12,
        lon: 131.89,
    },
];

const JS: &str = include_str!("../static/dashboard.js");
const CSS: &str = include_str!("../static/dashboard.css");

fn pages() -> Vec<(String, Board, Lang, String)> {
    let mut out = Vec::new();
    for board in [Board::Dashboard, Board::Cabinet] {
        for lang in [Lang::Ru, Lang::En] {
            let path = format!("/{}", board.name());
            let html = render_board(board, lang, &path, &REGIONS).expect("render");
            out.push((
                format!("{} {}", board.name(), lang.code()),
                board,
                lang,
                html,
            ));
        }
    }
    out
}

fn page_data(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/json\" id=\"page-data\">")
        .expect("page data")
        + "<script type=\"application/json\" id=\"page-data\">".len();
    let end = start + html[start..].find("</script>").expect("end");
    serde_json::from_str(&html[start..end]).expect("json")
}

/// Every value of `attr="…"` in `html`.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|e| &rest[..e])
        })
        .collect()
}

#[test]
fn boards_have_no_external_urls_and_no_inline_script_or_style() {
    for (ctx, board, lang, html) in pages() {
        for v in attr_values(&html, "src")
            .into_iter()
            .chain(attr_values(&html, "href"))
        {
            assert!(
                v.starts_with('/') && !v.starts_with("//") || v.starts_with('#'),
                "{ctx}: {v} leaves the site"
            );
        }
        for l in ["http://", "https://", "//cdn", "@import", "url("] {
            assert!(!html.contains(l), "{ctx}: {l}");
        }
        // Scripts: the page's data (not executed) and the one embedded file, no more.
        let scripts: Vec<_> = html.match_indices("<script").collect();
        assert_eq!(scripts.len(), 2, "{ctx}");
        assert!(html.contains("<script type=\"application/json\" id=\"page-data\">"));
        assert!(html.contains(&format!(
            "<script src=\"{}\" defer></script>",
            assets::get("dashboard.js").expect("js").url()
        )));
        assert!(html.contains(&assets::get("dashboard.css").expect("css").url()));
        assert!(
            !html.contains(" style=") && !html.contains("<style"),
            "{ctx}"
        );
        for handler in ["onclick", "onload", "onerror", "onsubmit", "javascript:"] {
            assert!(!html.contains(handler), "{ctx}: {handler}");
        }
        // The data: this language's words, the board's name, the regions, and the hostile
        // name escaped so that it cannot end the element.
        assert_eq!(html.matches("</script>").count(), 2, "{ctx}");
        let data = page_data(&html);
        assert_eq!(data["page"], board.name());
        assert_eq!(data["lang"], lang.code());
        assert_eq!(
            data["strings"]["alerts_heading"],
            lang.strings().board.alerts_heading
        );
        assert_eq!(data["regions"][1]["name"], REGIONS[1].name);
        assert_eq!(html.matches("<html lang=").count(), 1);
        assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
        // The sections each board promises.
        let ids: &[&str] = match board {
            Board::Dashboard => &[
                "alert-feed",
                "risk",
                "complaints",
                "recalls",
                "groups",
                "region-map",
                "regions-table",
            ],
            Board::Cabinet => &[
                "sales-gtin",
                "stock-gtin",
                "stock-groups",
                "flows",
                "where",
                "shops",
            ],
        };
        for id in ids
            .iter()
            .chain(&["sales-hour", "sales-day", "live-status", "signin-form"])
        {
            assert!(html.contains(&format!("id=\"{id}\"")), "{ctx}: #{id}");
        }
        if board == Board::Cabinet {
            assert!(!html.contains("id=\"alert-feed\""), "{ctx}");
        }
        for id in ["signin-tin", "signin-key", "signin-file"] {
            assert!(
                html.contains(&format!("<label for=\"{id}\">")),
                "{ctx}: {id}"
            );
        }
    }
}

#[test]
fn the_board_files_are_self_contained() {
    for l in ["https://", "//cdn", "@import", "url(", "fetch('http"] {
        assert!(!JS.contains(l) && !CSS.contains(l), "{l}");
    }
    // The only absolute URL is the SVG namespace, which is a name, not a request.
    assert_eq!(
        JS.matches("http://").count(),
        JS.matches("'http://www.w3.org/2000/svg'").count()
    );
    // Data reaches the DOM as text only.
    for bad in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setTimeout('",
    ] {
        assert!(!JS.contains(bad), "dashboard.js uses {bad}");
    }
    assert!(JS.len() < 40 * 1024, "dashboard.js is {} bytes", JS.len());
    // Embedded, served with their hashes, and not precached by the shopper's worker.
    for name in ["dashboard.js", "dashboard.css"] {
        let a = assets::get(name).expect(name);
        assert!(!a.body.is_empty());
        let sw = String::from_utf8(assets::service_worker().body.clone()).expect("utf-8");
        assert!(!sw.contains(name), "{name} precached");
    }
}

/// `{"a": {"b": "x"}}` → `[("a.b", "x")]`.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&key, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn placeholders(s: &str) -> Vec<&str> {
    let mut out: Vec<&str> = s
        .match_indices('{')
        .filter_map(|(i, _)| s[i + 1..].find('}').map(|e| &s[i + 1..i + 1 + e]))
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn every_board_string_exists_in_both_languages() {
    let (mut ru, mut en) = (Vec::new(), Vec::new());
    leaves("", &serde_json::to_value(&BOARD_RU).expect("ru"), &mut ru);
    leaves("", &serde_json::to_value(&BOARD_EN).expect("en"), &mut en);
    let keys = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&ru), keys(&en));
    let mut same = 0;
    for ((k, r), (_, e)) in ru.iter().zip(&en) {
        assert!(!r.trim().is_empty() && !e.trim().is_empty(), "{k} is empty");
        assert_eq!(placeholders(r), placeholders(e), "{k}: placeholders differ");
        same += usize::from(r == e);
    }
    // A few words are the same in both (GTIN); an untranslated table is not.
    assert!(
        same <= 3,
        "{same} strings are the same in Russian and English"
    );
    // Every string the script names exists (`S.name`, `S.kinds[…]`, `S[state]`).
    let table = serde_json::to_value(&BOARD_EN).expect("en");
    let mut used = Vec::new();
    for (i, _) in JS.match_indices("S.") {
        let before = JS[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let name: String = JS[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.push(name);
    }
    assert!(used.len() > 40, "{used:?}");
    for name in &used {
        assert!(table.get(name).is_some(), "dashboard.js uses S.{name}");
    }
    // Looked up by a word the API or the script gives: states, subject types, kinds.
    for name in ["live", "offline", "connecting"] {
        assert!(table.get(name).is_some(), "{name}");
    }
    for t in ["participant", "client", "code"] {
        assert!(table.get(format!("subject_{t}")).is_some(), "subject_{t}");
    }
    for k in [
        "repeat_sale",
        "grey_sale",
        "not_introduced_sale",
        "forged_tail",
        "clone_scans",
        "sales_exceed_receipts",
        "expired_sale",
        "recalled_sale",
        "unchecked_sale",
        "complaint_cluster",
        "late_sale",
    ] {
        assert!(table["kinds"].get(k).is_some(), "kind {k}");
    }
    for k in [
        "counterfeit",
        "expired",
        "sold_twice",
        "no_marking",
        "price",
        "other",
    ] {
        assert!(
            table["complaint_kinds"].get(k).is_some(),
            "complaint kind {k}"
        );
    }
}
