//! `tracemark label`: one marking code → a printable label file (PNG or SVG), a GS1 Data
//! Matrix by default or a GS1 Digital Link QR code. The symbols and renders are the
//! `labels` crate's; this module only picks the format and writes the file.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Default PNG module size, in pixels (0.85 mm at 300 dpi).
pub const PNG_MODULE_PX: u32 = 10;

/// Default SVG module size, in millimetres.
pub const SVG_MODULE_MM: f64 = 0.5;

/// Default Digital Link base: `tracemark serve`'s default address. A label for goods
/// needs the registry's public address instead (`--base https://…`).
pub const DEFAULT_BASE: &str = "http://127.0.0.1:8080";

/// Longest code read from standard input (`CODE` given as `-`), in bytes.
const STDIN_CODE_MAX: u64 = 4096;

/// The output format, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.png`: 1-bit greyscale, whole pixels per module.
    Png,
    /// `.svg`: vector, millimetres per module.
    Svg,
}

/// The `--out` file's format by its extension (`.png` or `.svg`, any case); the message
/// is what the command line shows as a usage error.
pub fn format_of(path: &Path) -> Result<Format, String> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => Err(format!(
            "{}: the file name must end in .png or .svg (the format is taken from it)",
            path.display()
        )),
    }
}

/// clap value parser for `--out`: a path ending in `.png` or `.svg`.
pub fn parse_out(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    format_of(&p).map(|_| p)
}

/// What `tracemark label` was asked to do.
#[derive(Debug, Clone)]
pub struct LabelRequest {
    /// The marking code (GS-separated, bracketed or Digital Link), or `-` for stdin.
    pub code: String,
    /// The file to write (`.png` or `.svg`).
    pub out: PathBuf,
    /// A Digital Link QR code instead of a Data Matrix.
    pub qr: bool,
    /// Module size: pixels for PNG, millimetres for SVG (defaults [`PNG_MODULE_PX`],
    /// [`SVG_MODULE_MM`]).
    pub module: Option<f64>,
    /// Digital Link base for `--qr`.
    pub base: String,
}

/// Writes the label and returns a one-line summary for the terminal (symbol, size, the
/// human-readable lines; never the crypto tail).
pub fn run(req: &LabelRequest) -> Result<String> {
    let format = format_of(&req.out).map_err(anyhow::Error::msg)?;
    let code = if req.code == "-" {
        let mut s = String::new();
        std::io::stdin()
            .take(STDIN_CODE_MAX)
            .read_to_string(&mut s)
            .context("reading the code from standard input")?;
        s.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        req.code.clone()
    };
    let symbol = if req.qr {
        labels::symbol::digital_link_qr(&code, &req.base)?
    } else {
        labels::symbol::data_matrix(&code)?
    };
    let (bytes, size) = match format {
        Format::Png => {
            let px = match req.module {
                None => PNG_MODULE_PX,
                Some(m) if m.fract() == 0.0 && m >= 1.0 && m <= f64::from(u32::MAX) => m as u32,
                Some(m) => bail!("--module {m}: a PNG needs a whole number of pixels per module"),
            };
            (labels::render::png(&symbol, px)?, format!("{px} px"))
        }
        Format::Svg => {
            let mm = req.module.unwrap_or(SVG_MODULE_MM);
            let doc = labels::render::svg(&symbol, mm, labels::render::Unit::Mm)?;
            (doc.into_bytes(), format!("{mm} mm"))
        }
    };
    std::fs::write(&req.out, &bytes).with_context(|| format!("writing {}", req.out.display()))?;
    Ok(format!(
        "wrote {}: {} of {}×{} modules at {size} per module; {}",
        req.out.display(),
        symbol.symbology(),
        symbol.width(),
        symbol.height(),
        symbol.caption().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(format_of(Path::new("a.png")), Ok(Format::Png));
        assert_eq!(format_of(Path::new("dir/a.SVG")), Ok(Format::Svg));
        for bad in ["a.jpg", "a", "png", "a.png.txt"] {
            assert!(format_of(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
