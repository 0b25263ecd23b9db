//! `tracemark scan FILE`: the marking codes a photo (PNG or JPEG) shows, read with
//! [`labels::decode`] under its default limits.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use labels::decode::{decode, Decoded, Limits};

/// Reads `file`, decodes it and writes each code found to `out`: the bracketed form and
/// the element string with GS shown as `<GS>` (or, with `json`, one JSON object
/// `{"codes": [{"symbology", "code", "brackets", "text"}]}` where `code` and `text` keep
/// GS as `\u001d`). Returns how many codes were written; fails (the command exits 1)
/// when the file cannot be read or shows no GS1 code, naming the reason.
pub fn run(file: &Path, json: bool, out: &mut impl Write) -> Result<usize> {
    let limits = Limits::default();
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    // Refuse a huge file before reading it into memory (decode checks again).
    if meta.len() > limits.bytes_max as u64 {
        anyhow::bail!(
            "{}: {} bytes; at most {} are accepted",
            file.display(),
            meta.len(),
            limits.bytes_max
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let codes = decode(&bytes, &limits).map_err(|e| {
        anyhow::anyhow!(
            "{}: no marking code read ({}): {e}",
            file.display(),
            e.reason()
        )
    })?;
    if json {
        let list: Vec<serde_json::Value> = codes
            .iter()
            .map(|d| {
                serde_json::json!({
                    "symbology": d.symbology.as_str(),
                    "code": d.code,
                    "brackets": brackets(d),
                    "text": d.text,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::json!({ "codes": list }))?;
    } else {
        for d in &codes {
            writeln!(out, "{:<12} {}", d.symbology.as_str(), brackets(d))?;
            writeln!(out, "{:<12} {}", "", d.code.replace(gs1::GS, "<GS>"))?;
        }
    }
    Ok(codes.len())
}

/// The bracketed form `(01)…(21)…` of a decoded code.
fn brackets(d: &Decoded) -> String {
    // `code` was produced by the GS1 parser, so it parses again.
    gs1::ElementString::parse_gs(&d.code)
        .map(|es| es.to_brackets())
        .unwrap_or_default()
}
