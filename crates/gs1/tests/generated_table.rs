//! Generator for `src/ai_table.rs` from the GS1 Barcode Syntax Dictionary.
//!
//! The test renders the table from `shared/data/gs1/syntax/gs1-syntax-dictionary.txt`
//! and compares it with the committed `src/ai_table.rs`. With `GS1_REGENERATE=1` it
//! writes the file instead. Without `../shared` it fails naming it, unless
//! `TRACEMARK_ALLOW_SKIP=shared`.

#[path = "common/skip.rs"]
mod skip;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The GS1 Barcode Syntax Dictionary's text; `None` (said) when `../shared` is not here
/// and `TRACEMARK_ALLOW_SKIP=shared`, else the test fails naming it.
fn dictionary() -> Option<String> {
    let dict = shared_dir().join("data/gs1/syntax/gs1-syntax-dictionary.txt");
    match std::fs::read_to_string(&dict) {
        Ok(t) => Some(t),
        Err(e) => {
            skip::skip_or_fail(
                "shared",
                &format!("../shared is not here ({}: {e})", dict.display()),
            );
            None
        }
    }
}

/// One component of an AI's data field, as written in the dictionary.
#[derive(Debug)]
struct Comp {
    cset: char,
    min: usize,
    max: usize,
    optional: bool,
    linters: Vec<String>,
}

#[derive(Debug)]
struct Entry {
    code: String,
    predefined: bool,
    dl_attr: bool,
    comps: Vec<Comp>,
    dlpkey: Option<Vec<Vec<String>>>,
    req: Vec<String>,
    ex: Vec<String>,
    title: String,
}

fn parse_component(tok: &str) -> Comp {
    // Forms: "N14,csum,gcppos2", "[X..17]", "[N3],iso3166", "X..20"
    let (spec, linters_part, optional) = if let Some(rest) = tok.strip_prefix('[') {
        let close = rest.find(']').expect("unclosed [ in component");
        let spec = &rest[..close];
        let after = &rest[close + 1..];
        (spec, after.strip_prefix(',').unwrap_or(after), true)
    } else {
        match tok.find(',') {
            Some(i) => (&tok[..i], &tok[i + 1..], false),
            None => (tok, "", false),
        }
    };
    let (spec, more_linters) = match spec.find(',') {
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (spec, ""),
    };
    let cset = spec.chars().next().expect("empty component");
    assert!("NXYZ".contains(cset), "unknown component type in {tok}");
    let len = &spec[1..];
    let (min, max) = if let Some(m) = len.strip_prefix("..") {
        (1, m.parse().expect("bad max length"))
    } else {
        let n: usize = len.parse().expect("bad fixed length");
        (n, n)
    };
    let linters = more_linters
        .split(',')
        .chain(linters_part.split(','))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Comp {
        cset,
        min,
        max,
        optional,
        linters,
    }
}

fn parse_dictionary(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (body, title) = match line.find('#') {
            Some(i) => (&line[..i], line[i + 1..].trim()),
            None => (line, ""),
        };
        let mut toks = body.split_whitespace().peekable();
        let ais = toks.next().expect("AI column");
        let mut flags = "";
        if let Some(t) = toks.peek() {
            if !t.chars().any(|c| c.is_ascii_alphanumeric()) {
                flags = t;
                toks.next();
            }
        }
        let mut comps = Vec::new();
        let mut dlpkey = None;
        let mut req = Vec::new();
        let mut ex = Vec::new();
        for t in toks {
            let is_comp = t.starts_with(['N', 'X', 'Y', 'Z'])
                && t[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
                || t.starts_with('[');
            if is_comp {
                assert!(dlpkey.is_none() && req.is_empty() && ex.is_empty());
                comps.push(parse_component(t));
            } else if t == "dlpkey" {
                dlpkey = Some(Vec::new());
            } else if let Some(v) = t.strip_prefix("dlpkey=") {
                dlpkey = Some(
                    v.split('|')
                        .map(|alt| alt.split(',').map(str::to_owned).collect())
                        .collect(),
                );
            } else if let Some(v) = t.strip_prefix("req=") {
                req.push(v.to_owned());
            } else if let Some(v) = t.strip_prefix("ex=") {
                ex.push(v.to_owned());
            } else {
                panic!("unknown token {t:?} in line {line:?}");
            }
        }
        assert!(!comps.is_empty(), "no components in {line:?}");
        let codes: Vec<String> = match ais.split_once('-') {
            Some((a, b)) => {
                assert_eq!(a.len(), b.len());
                let (x, y): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                (x..=y).map(|n| format!("{n:0w$}", w = a.len())).collect()
            }
            None => vec![ais.to_owned()],
        };
        for code in codes {
            assert!(code.len() >= 2 && code.len() <= 4 && code.bytes().all(|b| b.is_ascii_digit()));
            out.push(Entry {
                code,
                predefined: flags.contains('*'),
                dl_attr: flags.contains('?'),
                comps: comps
                    .iter()
                    .map(|c| Comp {
                        cset: c.cset,
                        min: c.min,
                        max: c.max,
                        optional: c.optional,
                        linters: c.linters.clone(),
                    })
                    .collect(),
                dlpkey: dlpkey.clone(),
                req: req.clone(),
                ex: ex.clone(),
                title: title.to_owned(),
            });
        }
    }
    out
}

fn render(entries: &[Entry]) -> String {
    let mut s = String::new();
    s.push_str(
        "// @generated by crates/gs1/tests/generated_table.rs from\n\
         // shared/data/gs1/syntax/gs1-syntax-dictionary.txt (GS1 Barcode Syntax Dictionary,\n\
         // gs1/gs1-syntax-dictionary commit ff2eb4bfc8f647aa3244626bdb875165d067a3e6, Apache-2.0).\n\
         // Do not edit: run `GS1_REGENERATE=1 cargo test -p gs1 --test generated_table`.\n\n\
         use crate::ai::{AiSpec, Component, Cset, Temporal};\n\n",
    );
    // Table of AI lengths by their first two digits (0 = no AI starts so).
    let mut prefix_len = [0usize; 100];
    for e in entries {
        let p: usize = e.code[..2].parse().unwrap();
        assert!(
            prefix_len[p] == 0 || prefix_len[p] == e.code.len(),
            "AIs with prefix {p:02} have different lengths"
        );
        prefix_len[p] = e.code.len();
    }
    s.push_str("/// Length of the AIs that start with the two digits used as index (0: none).\n");
    s.push_str("pub(crate) const AI_LEN_BY_PREFIX: [u8; 100] = [");
    for (i, l) in prefix_len.iter().enumerate() {
        if i % 20 == 0 {
            s.push_str("\n    ");
        } else {
            s.push(' ');
        }
        let _ = write!(s, "{l},");
    }
    s.push_str("\n];\n\n");
    let _ = writeln!(
        s,
        "/// Every AI of the dictionary, ranges expanded, in lexical order of the code ({} entries).",
        entries.len()
    );
    s.push_str("pub(crate) const AI_TABLE: &[AiSpec] = &[\n");
    for e in entries {
        let min_len: usize = e.comps.iter().filter(|c| !c.optional).map(|c| c.min).sum();
        let max_len: usize = e.comps.iter().map(|c| c.max).sum();
        let _ = writeln!(
            s,
            "    AiSpec {{ code: {:?}, title: {:?}, predefined_length: {}, dl_data_attribute: {}, min_len: {}, max_len: {},",
            e.code, e.title, e.predefined, e.dl_attr, min_len, max_len
        );
        s.push_str("        components: &[\n");
        for c in &e.comps {
            let cset = match c.cset {
                'N' => "Cset::Numeric",
                'X' => "Cset::Cset82",
                'Y' => "Cset::Cset39",
                'Z' => "Cset::Cset64",
                _ => unreachable!(),
            };
            let check = c.linters.iter().any(|l| l == "csum");
            let temporal = if c.linters.iter().any(|l| l == "yymmd0") {
                "Some(Temporal::Yymmd0)"
            } else if c.linters.iter().any(|l| l == "yymmdd") {
                "Some(Temporal::Yymmdd)"
            } else if c.linters.iter().any(|l| l == "yyyymmdd") {
                "Some(Temporal::Yyyymmdd)"
            } else if c.linters.iter().any(|l| l == "hhmi") {
                "Some(Temporal::Hhmi)"
            } else {
                "None"
            };
            let linters: Vec<String> = c.linters.iter().map(|l| format!("{l:?}")).collect();
            let _ = writeln!(
                s,
                "            Component {{ cset: {cset}, min: {}, max: {}, optional: {}, check_digit: {check}, temporal: {temporal}, linters: &[{}] }},",
                c.min,
                c.max,
                c.optional,
                linters.join(", ")
            );
        }
        s.push_str("        ],\n");
        let pkey = match &e.dlpkey {
            None => "None".to_owned(),
            Some(alts) => {
                let alts: Vec<String> = alts
                    .iter()
                    .map(|a| {
                        let q: Vec<String> = a.iter().map(|x| format!("{x:?}")).collect();
                        format!("&[{}]", q.join(", "))
                    })
                    .collect();
                format!("Some(&[{}])", alts.join(", "))
            }
        };
        let _ = writeln!(
            s,
            "        dl_primary_key: {pkey}, req: {:?}, ex: {:?} }},",
            e.req.join(" "),
            e.ex.join(" ")
        );
    }
    s.push_str("];\n");
    s
}

#[test]
fn ai_table_matches_dictionary() {
    let Some(text) = dictionary() else { return };
    let entries = parse_dictionary(&text);
    for w in entries.windows(2) {
        assert!(
            w[0].code < w[1].code,
            "dictionary not in lexical order at {}",
            w[1].code
        );
    }
    // Sanity: ranges expanded, flags read.
    assert!(entries.iter().any(|e| e.code == "3105" && e.predefined));
    assert!(entries
        .iter()
        .any(|e| e.code == "99" && e.dl_attr && !e.predefined));
    let rendered = render(&entries);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ai_table.rs");
    if std::env::var_os("GS1_REGENERATE").is_some_and(|v| v == "1") {
        std::fs::write(&target, &rendered).expect("write src/ai_table.rs");
        eprintln!("regenerated {}", target.display());
        return;
    }
    let committed = std::fs::read_to_string(&target).expect("read src/ai_table.rs");
    assert!(
        committed == rendered,
        "src/ai_table.rs is stale: run `GS1_REGENERATE=1 cargo test -p gs1 --test generated_table`"
    );
}

#[test]
fn library_table_agrees_with_dictionary() {
    let Some(text) = dictionary() else { return };
    let entries = parse_dictionary(&text);
    assert_eq!(gs1::Ai::all().count(), entries.len());
    for e in &entries {
        let ai = gs1::Ai::from_code(&e.code).unwrap_or_else(|| panic!("AI {} missing", e.code));
        assert_eq!(ai.code(), e.code);
        assert_eq!(ai.spec().predefined_length, e.predefined, "{}", e.code);
        assert_eq!(ai.spec().dl_data_attribute, e.dl_attr, "{}", e.code);
        assert_eq!(ai.spec().components.len(), e.comps.len(), "{}", e.code);
    }
}
