//! A marking code → the module matrix of its symbol.
//!
//! - [`data_matrix`]: a GS1 Data Matrix (ECC 200, square) holding the code's element
//!   string: FNC1 in first position (which makes it a GS1 symbol, read as `]d2`), then
//!   the AIs and values with a GS (ASCII 29) after every variable-length value that is
//!   not last — `01…21<serial><GS>91<kid><GS>92<tail>`, as the national marking systems
//!   print (Russia's Chestny Znak among them).
//! - [`digital_link_qr`]: a QR code of the code's GS1 Digital Link URI
//!   (`https://host/01/{gtin}/21/{serial}?91=…&92=…`), the crypto tail as percent-encoded
//!   query attributes, so the link is checked exactly like the Data Matrix.
//!
//! Both accept every form the `gs1` crate parses: GS-separated raw data (with or without
//! a symbology identifier or a leading GS), the bracketed form `(01)…(21)…`, or a Digital
//! Link URI. The symbol's [`Symbol::caption`] holds the human-readable lines to print
//! under it: every element but the company-internal AIs 90–99, so the crypto tail
//! (91/92/93) is never printed in clear.

use std::fmt;

use datamatrix::{DataMatrixBuilder, SymbolList};
use gs1::{Ai, ElementString};
use qrcode::{EcLevel, QrCode};

use crate::LabelError;

/// Quiet zone of a Data Matrix, in modules on each side. ISO/IEC 16022 asks for at least
/// one; two leave room for a knife cut or a label edge that bleeds into the symbol.
pub const DM_QUIET_MODULES: usize = 2;

/// Quiet zone of a QR code, in modules on each side (ISO/IEC 18004: four).
pub const QR_QUIET_MODULES: usize = 4;

/// QR error correction level: M (about 15 % of codewords restorable), the level GS1
/// recommends for Digital Link QR codes on consumer packaging.
pub const QR_EC_LEVEL: EcLevel = EcLevel::M;

/// Longest Digital Link base accepted, in bytes (a host and a short path stem).
pub const BASE_LEN_MAX: usize = 256;

/// The two symbologies a label can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// GS1 Data Matrix (ECC 200, FNC1 first).
    DataMatrix,
    /// QR code of a GS1 Digital Link URI.
    Qr,
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Symbology::DataMatrix => "GS1 Data Matrix",
            Symbology::Qr => "QR",
        })
    }
}

/// A symbol's module matrix with what it holds and the text to print under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    symbology: Symbology,
    width: usize,
    height: usize,
    dark: Vec<bool>,
    data: String,
    caption: Vec<String>,
}

impl Symbol {
    /// Which symbology this is.
    pub fn symbology(&self) -> Symbology {
        self.symbology
    }

    /// Width in modules, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in modules, without the quiet zone (equal to the width: symbols are square).
    pub fn height(&self) -> usize {
        self.height
    }

    /// Whether the module at column `x`, row `y` (from the top left) is dark; `false`
    /// outside the matrix.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dark[y * self.width + x]
    }

    /// The horizontal runs of dark modules, row by row from the top: `(x, y, length)` in
    /// modules. Every renderer draws these as one fill each (fewer rectangles, no seams).
    pub fn dark_runs(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.height).flat_map(move |y| {
            let row = &self.dark[y * self.width..(y + 1) * self.width];
            let mut x = 0;
            std::iter::from_fn(move || {
                while x < row.len() && !row[x] {
                    x += 1;
                }
                let start = x;
                while x < row.len() && row[x] {
                    x += 1;
                }
                (x > start).then(|| (start, y, x - start))
            })
        })
    }

    /// The modules row by row from the top left, `true` for dark.
    pub fn modules(&self) -> &[bool] {
        &self.dark
    }

    /// The quiet zone to leave around the symbol, in modules on each side
    /// ([`DM_QUIET_MODULES`] or [`QR_QUIET_MODULES`]).
    pub fn quiet_zone(&self) -> usize {
        match self.symbology {
            Symbology::DataMatrix => DM_QUIET_MODULES,
            Symbology::Qr => QR_QUIET_MODULES,
        }
    }

    /// What the symbol holds, as a reader transmits it: for a Data Matrix the element
    /// string with GS separators (the leading FNC1 is the `]d2` symbology identifier,
    /// not data); for a QR code the Digital Link URI.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Human-readable lines to print under the symbol, e.g. `(01) 04601234567893` and
    /// `(21) abc123`: every element except the company-internal AIs 90–99 (the crypto
    /// tail is never printed in clear).
    pub fn caption(&self) -> &[String] {
        &self.caption
    }
}

/// The human-readable lines of a code: `(AI) value` for every element except the
/// company-internal AIs 90–99, in the code's order.
pub fn caption(es: &ElementString) -> Vec<String> {
    es.iter()
        .filter(|(ai, _)| !is_internal(*ai))
        .map(|(ai, v)| format!("({}) {v}", ai.code()))
        .collect()
}

/// AIs 90–99 are company-internal: ours carry the crypto tail (91 key id, 92 MAC or
/// signature, 93 short MAC).
fn is_internal(ai: Ai) -> bool {
    let c = ai.code().as_bytes();
    c.len() == 2 && c[0] == b'9'
}

/// Parses a code in any accepted form and checks it names a GTIN or an SSCC.
fn parse_code(code: &str) -> Result<ElementString, LabelError> {
    let es = ElementString::parse(code.trim())?;
    if !es.contains(Ai::GTIN) && !es.contains(Ai::SSCC) {
        return Err(LabelError::NoKey);
    }
    Ok(es)
}

/// A GS1 Data Matrix (ECC 200, square, FNC1 first, GS separators) of `code`.
///
/// ```
/// let s = labels::symbol::data_matrix("(01)04601234567893(21)abc123(93)Zx9q")?;
/// assert_eq!(s.data(), "010460123456789321abc123\u{1d}93Zx9q");
/// assert_eq!(s.caption(), ["(01) 04601234567893", "(21) abc123"]);
/// assert_eq!(s.width(), s.height());
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn data_matrix(code: &str) -> Result<Symbol, LabelError> {
    let es = parse_code(code)?;
    let data = es.to_gs();
    // The crate's optimizing encoder picks ASCII/C40/Text/X12/EDIFACT/Base256 segments;
    // GS is ASCII 29, encoded as itself (the `gs1` crate admits only printable ASCII in
    // values, so GS can only be a separator). FNC1 first is the builder's GS1 mode.
    let dm = DataMatrixBuilder::new()
        .with_fnc1_start(true)
        .with_symbol_list(SymbolList::default().enforce_square())
        .encode(data.as_bytes())
        .map_err(|_| LabelError::TooLong {
            symbology: Symbology::DataMatrix,
            len: data.len(),
        })?;
    let bitmap = dm.bitmap();
    Ok(Symbol {
        symbology: Symbology::DataMatrix,
        width: bitmap.width(),
        height: bitmap.height(),
        dark: bitmap.bits().to_vec(),
        caption: caption(&es),
        data,
    })
}

/// The GS1 Digital Link URI of `code` under `base` (`https://host` or
/// `https://host/stem`): primary key and qualifiers in the path, every other element
/// (the crypto tail) a percent-encoded query attribute. The URI is parsed back and must
/// give the same element string, so a base that would confuse a resolver is refused.
///
/// ```
/// let dl = labels::symbol::digital_link("(01)04601234567893(21)abc123(93)a+/=", "https://t.example")?;
/// assert_eq!(dl, "https://t.example/01/04601234567893/21/abc123?93=a%2B%2F%3D");
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn digital_link(code: &str, base: &str) -> Result<String, LabelError> {
    let es = parse_code(code)?;
    digital_link_of(&es, base)
}

fn digital_link_of(es: &ElementString, base: &str) -> Result<String, LabelError> {
    check_base(base)?;
    let dl = es.to_digital_link(base)?;
    // A Digital Link puts the key and its qualifiers in the path and the rest in the
    // query, so element order may differ from the input's: compare the elements as sets.
    match ElementString::parse_digital_link(&dl) {
        Ok(back) if same_elements(&back, es) => Ok(dl),
        _ => Err(LabelError::BadBase {
            base: base.to_owned(),
            what: "the link made under it does not read back as the same code",
        }),
    }
}

/// Whether two element strings hold the same AIs with the same values, in any order.
pub fn same_elements(a: &ElementString, b: &ElementString) -> bool {
    fn sorted(e: &ElementString) -> Vec<(&'static str, &str)> {
        let mut v: Vec<_> = e.iter().map(|(ai, v)| (ai.code(), v)).collect();
        v.sort_unstable();
        v
    }
    sorted(a) == sorted(b)
}

fn check_base(base: &str) -> Result<(), LabelError> {
    let bad = |what| {
        Err(LabelError::BadBase {
            base: base.chars().take(BASE_LEN_MAX).collect(),
            what,
        })
    };
    if base.len() > BASE_LEN_MAX {
        return bad("longer than BASE_LEN_MAX (256) bytes");
    }
    let lower = base.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else {
        return bad("must start with https:// or http://");
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return bad("no host");
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/:[]%@!$&'()*+,;=".contains(*c)))
    {
        return if c == '?' || c == '#' {
            bad("must not hold a query or a fragment")
        } else {
            bad("holds a character that is not allowed in a URI path")
        };
    }
    Ok(())
}

/// A QR code (error correction [`QR_EC_LEVEL`]) of `code`'s GS1 Digital Link under
/// `base` (see [`digital_link`]).
///
/// ```
/// let s = labels::symbol::digital_link_qr("(01)04601234567893(21)abc123(93)Zx9q", "https://t.example")?;
/// assert_eq!(s.data(), "https://t.example/01/04601234567893/21/abc123?93=Zx9q");
/// assert_eq!(s.caption(), ["(01) 04601234567893", "(21) abc123"]);
/// # Ok::<(), labels::LabelError>(())
/// ```
pub fn digital_link_qr(code: &str, base: &str) -> Result<Symbol, LabelError> {
    let es = parse_code(code)?;
    let data = digital_link_of(&es, base)?;
    let qr = QrCode::with_error_correction_level(data.as_bytes(), QR_EC_LEVEL).map_err(|_| {
        LabelError::TooLong {
            symbology: Symbology::Qr,
            len: data.len(),
        }
    })?;
    let width = qr.width();
    Ok(Symbol {
        symbology: Symbology::Qr,
        width,
        height: width,
        dark: qr
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect(),
        caption: caption(&es),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str =
        "010460123456789321abc123\u{1d}910024\u{1d}92UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==";

    #[test]
    fn dark_runs_cover_exactly_the_dark_modules() {
        for sym in [
            data_matrix(SIG).expect("dm"),
            digital_link_qr(SIG, "https://id.example").expect("qr"),
        ] {
            let mut painted = vec![false; sym.width() * sym.height()];
            for (x, y, len) in sym.dark_runs() {
                assert!(len > 0 && x + len <= sym.width());
                for m in &mut painted[y * sym.width() + x..y * sym.width() + x + len] {
                    assert!(!*m, "runs overlap");
                    *m = true;
                }
            }
            assert_eq!(painted, sym.modules());
        }
    }

    #[test]
    fn every_form_gives_the_same_data_matrix() {
        let gs = data_matrix(SIG).unwrap();
        let es = ElementString::parse(SIG).unwrap();
        let br = data_matrix(&es.to_brackets()).unwrap();
        let dl = data_matrix(&es.to_digital_link("https://x.example").unwrap()).unwrap();
        let fnc = data_matrix(&format!("]d2\u{1d}{SIG}")).unwrap();
        assert_eq!(gs, br);
        assert_eq!(gs, dl);
        assert_eq!(gs, fnc);
        assert_eq!(gs.data(), SIG);
        assert_eq!(gs.width(), gs.height());
        assert_eq!(gs.caption(), ["(01) 04601234567893", "(21) abc123"]);
    }

    #[test]
    fn data_matrix_starts_with_fnc1_and_decodes_to_the_code() {
        let s = data_matrix(SIG).unwrap();
        // The crate's own decoder drops the leading FNC1 and returns the data.
        let back = datamatrix::DataMatrix::decode(s.modules(), s.width()).unwrap();
        assert_eq!(back, SIG.as_bytes());
        // FNC1 (codeword 232) is the first data codeword.
        let dm = DataMatrixBuilder::new()
            .with_fnc1_start(true)
            .with_symbol_list(SymbolList::default().enforce_square())
            .encode(SIG.as_bytes())
            .unwrap();
        assert_eq!(dm.data_codewords()[0], 232);
    }

    #[test]
    fn the_tail_is_never_in_the_caption() {
        for code in [
            SIG,
            "(01)04601234567893(21)abc(93)Zx9q",
            "(01)04601234567893(17)291231(10)LOT1(21)s/1(91)0001(92)mac",
        ] {
            let s = data_matrix(code).unwrap();
            for line in s.caption() {
                assert!(!line.starts_with("(9"), "{line}");
            }
        }
        let s = data_matrix("(01)04601234567893(17)291231(10)LOT1(21)s/1(91)0001(92)mac").unwrap();
        assert_eq!(
            s.caption(),
            [
                "(01) 04601234567893",
                "(17) 291231",
                "(10) LOT1",
                "(21) s/1"
            ]
        );
    }

    #[test]
    fn digital_link_keeps_base64_intact() {
        let dl = digital_link(SIG, "https://t.example/").unwrap();
        assert_eq!(
            dl,
            "https://t.example/01/04601234567893/21/abc123?91=0024&92=UjpfAmE6elcVxvtPJHHGl%2F8ULzQB8YPU%2FXnOERdyuQ%3D%3D"
        );
        let plus = digital_link("(01)04601234567893(21)a+b(92)+/+=", "https://t.example").unwrap();
        assert_eq!(
            plus,
            "https://t.example/01/04601234567893/21/a%2Bb?92=%2B%2F%2B%3D"
        );
        assert_eq!(
            ElementString::parse(&plus).unwrap(),
            ElementString::parse("(01)04601234567893(21)a+b(92)+/+=").unwrap()
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        assert!(matches!(
            data_matrix("(01)04601234567894(21)abc"),
            Err(LabelError::Code(_))
        ));
        assert!(matches!(data_matrix("(10)LOT"), Err(LabelError::NoKey)));
        for base in [
            "ftp://x",
            "https://",
            "https:///x",
            "https://x?q=1",
            "https://x#f",
            "https://x y",
        ] {
            assert!(
                matches!(digital_link_qr(SIG, base), Err(LabelError::BadBase { .. })),
                "{base}"
            );
        }
        let long = format!("https://{}", "a".repeat(BASE_LEN_MAX));
        assert!(matches!(
            digital_link_qr(SIG, &long),
            Err(LabelError::BadBase { .. })
        ));
    }

    #[test]
    fn sscc_codes_are_labelled() {
        let s = data_matrix("(00)146012345000000019").unwrap();
        assert_eq!(s.caption(), ["(00) 146012345000000019"]);
        let q = digital_link_qr("(00)146012345000000019", "https://t.example").unwrap();
        assert_eq!(q.data(), "https://t.example/00/146012345000000019");
    }
}
