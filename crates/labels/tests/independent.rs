//! Independent decoders read every label back to the exact code.
//!
//! - Data Matrix PNGs and SVGs: libdmtx's `dmtxread` (Debian `dmtx-utils`). Without `-G`
//!   it drops the leading FNC1 and prints the data as stored: the element string with GS
//!   (0x1D) separators. With `-G 126` it prints FNC1 as `~` (a character outside GS1's
//!   CSET 82, so it cannot come from a value): the output must be `~` + the same bytes,
//!   which shows FNC1 is first and nowhere else.
//! - QR PNGs and SVGs: zbar's `zbarimg --raw -q` (Debian `zbar-tools`) → the exact Digital
//!   Link URI, which parses back to the same element string (crypto tail included).
//! - SVG → PNG: `rsvg-convert` (Debian `librsvg2-bin`).
//! - PDF sheets: `pdftoppm -r 300 -gray` and `pdftotext` (Debian `poppler-utils`); every
//!   label cell is cut out of the page by the layout's geometry and read by `dmtxread`, so
//!   the codes must come back in grid order.
//!
//! A missing tool fails the test with the name of the Debian package to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use gs1::ElementString;
use issuance::{IdCode, Keyring, SerialLen, TailKind};
use labels::render::{png, svg, Unit};
use labels::sheet::{pdf, pdf_part, Layout};
use labels::symbol::{data_matrix, digital_link, digital_link_qr, same_elements};

const GS: char = '\u{1d}';
const BASE: &str = "https://verify.tracemark.example";

/// Runs `tool args…` and returns whether it succeeded and its standard output; a missing
/// tool fails naming its Debian package.
fn run(tool: &str, package: &str, args: &[&str]) -> (bool, Vec<u8>) {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} could not be run ({e}): install the Debian package {package}")
    });
    (out.status.success(), out.stdout)
}

fn dmtxread(file: &Path, extra: &[&str]) -> Vec<u8> {
    let f = file.to_str().unwrap();
    let mut args = vec!["-N1"];
    args.extend_from_slice(extra);
    args.push(f);
    run("dmtxread", "dmtx-utils", &args).1
}

fn zbarimg(file: &Path) -> String {
    let (_, out) = run(
        "zbarimg",
        "zbar-tools",
        &["--raw", "-q", file.to_str().unwrap()],
    );
    String::from_utf8(out)
        .unwrap()
        .trim_end_matches('\n')
        .to_owned()
}

fn svg_to_png(svg_file: &Path, png_file: &Path) {
    let (ok, _) = run(
        "rsvg-convert",
        "librsvg2-bin",
        &[
            "-d",
            "300",
            "-p",
            "300",
            "-b",
            "white",
            "-o",
            png_file.to_str().unwrap(),
            svg_file.to_str().unwrap(),
        ],
    );
    assert!(ok, "rsvg-convert failed on {}", svg_file.display());
}

/// GTIN-14 with a valid check digit from a 13-digit body.
fn gtin(body: u64) -> String {
    let digits: Vec<u8> = format!("{body:013}").bytes().map(|b| b - b'0').collect();
    format!("{body:013}{}", gs1::check_digit(&digits))
}

/// Codes of every kind the registry issues, and odd-but-legal ones built by hand.
fn codes() -> Vec<String> {
    let ring = Keyring::generate(1_750_000_000);
    let mut out = Vec::new();
    let g = 460_123_456_789u64;
    for (i, kind) in [TailKind::Mac, TailKind::Signature, TailKind::Short]
        .into_iter()
        .enumerate()
    {
        for (k, len) in [13usize, 20, 6].into_iter().enumerate() {
            let gt = gtin(g + (i * 3 + k) as u64);
            let gt_n: u64 = gt.parse().unwrap();
            let serial = ring
                .serials()
                .serial(gt_n, 7 + k as u64, SerialLen::new(len).unwrap())
                .unwrap();
            let id = IdCode::new(gt_n, serial.as_str()).unwrap();
            let mut code = id.as_str().to_owned();
            ring.issue_tail(kind, id.as_str())
                .push_element_string(&mut code);
            out.push(code);
        }
    }
    // Serials with every punctuation character of GS1's CSET 82, with each tail kind.
    for (k, serial) in [
        "!\"%&'()*+,-./:;<=>?_",
        "a_b-c.d/e:f;g<h>i=j?",
        "(21)x%2F&amp;+=",
        "\"'\"'",
        "Z",
    ]
    .into_iter()
    .enumerate()
    {
        let gt = gtin(460_999_000_000 + k as u64);
        let id = IdCode::new(gt.parse().unwrap(), serial).unwrap();
        let kind = [TailKind::Signature, TailKind::Mac, TailKind::Short][k % 3];
        let mut code = id.as_str().to_owned();
        ring.issue_tail(kind, id.as_str())
            .push_element_string(&mut code);
        out.push(code);
    }
    // Predefined-length and other AIs before the serial; an SSCC (package) code.
    out.push(format!(
        "01{}17291231{GS}10LOT/7{GS}21x1{GS}93Ab+/",
        gtin(460_123_400_001)
    ));
    out.push("00146012345000000019".to_owned());
    out
}

/// Writes `bytes` to `dir/name` and returns the path.
fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `f` over `items` on two threads (the machine has two cores), results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let half = items.len().div_ceil(2).max(1);
    std::thread::scope(|s| {
        let f = &f;
        let hs: Vec<_> = items
            .chunks(half)
            .enumerate()
            .map(|(c, chunk)| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, t)| f(c * half + i, t))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn dmtxread_reads_every_data_matrix_png_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let codes = codes();
    let results = par_map(&codes, |i, code| {
        let es = ElementString::parse(code).unwrap();
        let want = es.to_gs();
        let sym = data_matrix(code).unwrap();
        assert_eq!(sym.data(), want);
        let mut fails = Vec::new();
        for px in [3u32, 8] {
            let f = put(
                dir.path(),
                &format!("dm{i}-{px}.png"),
                &png(&sym, px).unwrap(),
            );
            let plain = dmtxread(&f, &[]);
            if plain != want.as_bytes() {
                fails.push(format!(
                    "{code:?} at {px} px: dmtxread gave {:?}",
                    String::from_utf8_lossy(&plain)
                ));
                continue;
            }
            // FNC1 shown as '~': first, and only there.
            let fnc1 = dmtxread(&f, &["-G", "126"]);
            if fnc1 != format!("~{want}").as_bytes() {
                fails.push(format!(
                    "{code:?} at {px} px: with -G 126 dmtxread gave {:?}",
                    String::from_utf8_lossy(&fnc1)
                ));
            }
            // What the decoder returns parses to the very code.
            let back = ElementString::parse(std::str::from_utf8(&plain).unwrap()).unwrap();
            assert_eq!(back, es);
        }
        fails
    });
    let fails: Vec<_> = results.into_iter().flatten().collect();
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
    println!(
        "dmtxread: {} codes × 2 module sizes read back exactly",
        codes.len()
    );
}

#[test]
fn every_input_form_gives_the_same_symbol() {
    for code in codes() {
        let es = ElementString::parse(&code).unwrap();
        let a = data_matrix(&code).unwrap();
        assert_eq!(data_matrix(&es.to_brackets()).unwrap(), a, "{code:?}");
        // A Digital Link carries the key and qualifiers first, so elements may come in
        // another order; the same elements, and the same symbol when the order is kept.
        let dl = data_matrix(&es.to_digital_link(BASE).unwrap()).unwrap();
        let dl_es = ElementString::parse(dl.data()).unwrap();
        assert!(same_elements(&dl_es, &es), "{code:?}");
        if dl_es == es {
            assert_eq!(dl, a);
        }
        assert_eq!(data_matrix(&format!("]d2{code}")).unwrap(), a);
    }
}

#[test]
fn zbarimg_reads_every_digital_link_qr_png_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let codes = codes();
    let results = par_map(&codes, |i, code| {
        let es = ElementString::parse(code).unwrap();
        let sym = digital_link_qr(code, BASE).unwrap();
        let want = es.to_digital_link(BASE).unwrap();
        assert_eq!(sym.data(), want);
        let f = put(dir.path(), &format!("qr{i}.png"), &png(&sym, 4).unwrap());
        let got = zbarimg(&f);
        if got != want {
            return Some(format!("{code:?}: zbarimg gave {got:?}, want {want:?}"));
        }
        // The link names the same code, crypto tail and all.
        assert!(
            same_elements(&ElementString::parse(&got).unwrap(), &es),
            "{got}"
        );
        None
    });
    let fails: Vec<_> = results.into_iter().flatten().collect();
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn base64_tails_are_percent_encoded_in_the_link() {
    // An Ed25519 tail is standard base64: '+', '/' and '=' must reach the resolver intact.
    let half = "Uj+fAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ0";
    let tail = format!("{half}{half}==");
    assert_eq!(tail.len(), 88);
    let code = format!("01{}21abc{GS}910024{GS}92{tail}", gtin(460_123_456_789));
    let dl = digital_link(&code, BASE).unwrap();
    let want_tail = tail
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(
        dl,
        format!(
            "{BASE}/01/{}/21/abc?91=0024&92={want_tail}",
            gtin(460_123_456_789)
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let f = put(
        dir.path(),
        "sig.png",
        &png(&digital_link_qr(&code, BASE).unwrap(), 3).unwrap(),
    );
    assert_eq!(zbarimg(&f), dl);
}

#[test]
fn svg_labels_read_back_after_rsvg_convert() {
    let dir = tempfile::tempdir().unwrap();
    let codes = codes();
    let results = par_map(&codes, |i, code| {
        let es = ElementString::parse(code).unwrap();
        let mut fails = Vec::new();
        let dm = data_matrix(code).unwrap();
        let s = put(
            dir.path(),
            &format!("dm{i}.svg"),
            svg(&dm, 0.5, Unit::Mm).unwrap().as_bytes(),
        );
        let p = dir.path().join(format!("dm{i}-svg.png"));
        svg_to_png(&s, &p);
        let got = dmtxread(&p, &[]);
        if got != es.to_gs().as_bytes() {
            fails.push(format!(
                "{code:?}: SVG Data Matrix read as {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        let qr = digital_link_qr(code, BASE).unwrap();
        let s = put(
            dir.path(),
            &format!("qr{i}.svg"),
            svg(&qr, 0.4, Unit::Mm).unwrap().as_bytes(),
        );
        let p = dir.path().join(format!("qr{i}-svg.png"));
        svg_to_png(&s, &p);
        let got = zbarimg(&p);
        if got != qr.data() {
            fails.push(format!("{code:?}: SVG QR read as {got:?}"));
        }
        fails
    });
    let fails: Vec<_> = results.into_iter().flatten().collect();
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// An 8-bit PNG of grey values (pdftoppm -gray) as (width, height, grey pixels).
fn read_gray(file: &Path) -> (usize, usize, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(file).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    // pdftoppm -gray writes grey values, in a grey or an RGB PNG depending on its version.
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        other => panic!("pdftoppm wrote {other:?}"),
    };
    let gray = buf.chunks_exact(channels).map(|p| p[0]).collect();
    (info.width as usize, info.height as usize, gray)
}

fn write_gray(file: &Path, w: usize, h: usize, px: &[u8]) {
    let f = std::io::BufWriter::new(std::fs::File::create(file).unwrap());
    let mut enc = png::Encoder::new(f, w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(px).unwrap();
}

#[test]
fn pdf_sheet_reads_back_in_grid_order() {
    let dir = tempfile::tempdir().unwrap();
    // 45 codes: a full page of 40 and 5 on the second, every kind mixed in.
    let base = codes();
    let codes: Vec<String> = (0..45).map(|i| base[i % base.len()].clone()).collect();
    let layout = Layout::default();
    let doc = pdf("Order 0190-test", &codes, &layout).unwrap();
    let pdf_file = put(dir.path(), "sheet.pdf", &doc);
    let prefix = dir.path().join("page");
    let (ok, _) = run(
        "pdftoppm",
        "poppler-utils",
        &[
            "-r",
            "300",
            "-gray",
            "-png",
            pdf_file.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    assert!(ok, "pdftoppm failed");
    let pages: Vec<_> = (1..=2)
        .map(|p| read_gray(&dir.path().join(format!("page-{p}.png"))))
        .collect();
    assert!(
        !dir.path().join("page-3.png").exists(),
        "45 labels fill 2 pages"
    );
    let (w, h, _) = &pages[0];
    // A4 at 300 dpi is 2480.3 × 3507.9 dots; pdftoppm rounds up.
    assert!(
        (2480..=2481).contains(w) && (3507..=3508).contains(h),
        "A4 at 300 dpi, got {w} × {h}"
    );
    let dots = |mm: f64| (mm / 25.4 * 300.0).round() as usize;
    // Every slot of both pages, the empty ones included (they must read as nothing).
    let slots: Vec<usize> = (0..80).collect();
    let results = par_map(&slots, |_, &i| {
        let (pw, _, px) = &pages[i / 40];
        let [x, y, cw, ch] = layout.cell(i);
        let (x0, y0, cw, ch) = (dots(x), dots(y), dots(cw), dots(ch));
        let mut crop = Vec::with_capacity(cw * ch);
        for row in y0..y0 + ch {
            crop.extend_from_slice(&px[row * pw + x0..row * pw + x0 + cw]);
        }
        let f = dir.path().join(format!("cell{i}.png"));
        write_gray(&f, cw, ch, &crop);
        let got = dmtxread(&f, &[]);
        let want = codes
            .get(i)
            .map(|c| ElementString::parse(c).unwrap().to_gs())
            .unwrap_or_default();
        (got != want.as_bytes()).then(|| {
            format!(
                "slot {i}: read {:?}, want {want:?}",
                String::from_utf8_lossy(&got)
            )
        })
    });
    let fails: Vec<_> = results.into_iter().flatten().collect();
    assert!(fails.is_empty(), "{}", fails.join("\n"));

    // The text layer: GTINs, serials and the footer in clear, the crypto tails nowhere.
    let (ok, text) = run(
        "pdftotext",
        "poppler-utils",
        &["-layout", pdf_file.to_str().unwrap(), "-"],
    );
    assert!(ok);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("Order 0190-test | page 1 of 2 | labels 1-40 of 45"),
        "{text}"
    );
    assert!(text.contains("Order 0190-test | page 2 of 2 | labels 41-45 of 45"));
    for code in &codes {
        let es = ElementString::parse(code).unwrap();
        if let Some(g) = es.gtin() {
            assert!(text.contains(&g.to_string()), "GTIN {g} printed");
        }
        if let Some(s) = es.serial() {
            assert!(text.contains(s), "serial {s:?} printed");
        }
        for ai in ["92", "93"] {
            if let Some(v) = es.get_code(ai) {
                assert!(!text.contains(v), "tail {v:?} must not be printed");
            }
        }
    }
}

#[test]
fn captions_hold_the_gtin_and_serial_never_the_tail() {
    for code in codes() {
        let es = ElementString::parse(&code).unwrap();
        let sym = data_matrix(&code).unwrap();
        let caption = sym.caption().join("\n");
        if let Some(g) = es.gtin() {
            assert!(caption.contains(&format!("(01) {g}")));
        }
        if let Some(s) = es.serial() {
            assert!(caption.contains(&format!("(21) {s}")));
        }
        for ai in ["91", "92", "93"] {
            assert!(!caption.contains(&format!("({ai})")), "{caption}");
        }
    }
}

#[test]
fn pdf_parts_are_numbered_as_one_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let codes: Vec<String> = codes().into_iter().take(5).collect();
    let doc = pdf_part("Order 7", &codes, 4000, 100_000, &Layout::default()).unwrap();
    let f = put(dir.path(), "part.pdf", &doc);
    let (ok, text) = run("pdftotext", "poppler-utils", &[f.to_str().unwrap(), "-"]);
    assert!(ok);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("Order 7 | page 101 of 2500 | labels 4001-4005 of 100000"),
        "{text}"
    );
}

/// GS1 CSET 82: the characters a serial may hold.
const CSET82: &[u8] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// Random codes from a fixed seed: serials of 1–20 random CSET 82 characters, each tail
/// kind, so the Data Matrix encoder's every encodation (ASCII, C40, Text, X12, EDIFACT,
/// Base256) meets libdmtx's decoder.
fn random_codes(n: usize, seed: u64) -> Vec<String> {
    let ring = Keyring::generate(1_750_000_000);
    let mut x = seed;
    let mut next = move || {
        // xorshift64*: reproducible, no dependency.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..n)
        .map(|_| {
            let len = 1 + (next() % 20) as usize;
            let serial: String = (0..len)
                .map(|_| char::from(CSET82[(next() % CSET82.len() as u64) as usize]))
                .collect();
            let gt: u64 = gtin(460_000_000_000 + next() % 1_000_000).parse().unwrap();
            let id = IdCode::new(gt, &serial).unwrap();
            let kind = [TailKind::Mac, TailKind::Signature, TailKind::Short][(next() % 3) as usize];
            let mut code = id.as_str().to_owned();
            ring.issue_tail(kind, id.as_str())
                .push_element_string(&mut code);
            code
        })
        .collect()
}

#[test]
fn random_codes_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let codes = random_codes(120, 0x7ace_3a4c);
    // Which encodations the encoder chose: the latch codeword that starts each one
    // (ISO/IEC 16022 5.2: 230 C40, 231 Base256, 238 X12, 239 Text, 240 EDIFACT). A
    // count can be high by a few: a data codeword may take a latch's value.
    let mut latches = std::collections::BTreeMap::new();
    for code in &codes {
        let data = ElementString::parse(code).unwrap().to_gs();
        let dm = datamatrix::DataMatrixBuilder::new()
            .with_fnc1_start(true)
            .with_symbol_list(datamatrix::SymbolList::default().enforce_square())
            .encode(data.as_bytes())
            .unwrap();
        for (cw, name) in [
            (230, "C40"),
            (231, "Base256"),
            (238, "X12"),
            (239, "Text"),
            (240, "EDIFACT"),
        ] {
            if dm.data_codewords().contains(&cw) {
                *latches.entry(name).or_insert(0) += 1;
            }
        }
    }
    println!("symbols holding each latch codeword: {latches:?}");
    assert!(
        latches.len() >= 3,
        "too few encodations exercised: {latches:?}"
    );
    let results = par_map(&codes, |i, code| {
        let want = ElementString::parse(code).unwrap().to_gs();
        let dm = data_matrix(code).unwrap();
        let f = put(dir.path(), &format!("r{i}.png"), &png(&dm, 3).unwrap());
        let got = dmtxread(&f, &[]);
        let mut fails = Vec::new();
        if got != want.as_bytes() {
            fails.push(format!(
                "{code:?}: dmtxread gave {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        if i % 3 == 0 {
            let qr = digital_link_qr(code, BASE).unwrap();
            let f = put(dir.path(), &format!("rq{i}.png"), &png(&qr, 3).unwrap());
            let got = zbarimg(&f);
            if got != qr.data() {
                fails.push(format!("{code:?}: zbarimg gave {got:?}"));
            }
        }
        fails
    });
    let fails: Vec<_> = results.into_iter().flatten().collect();
    assert!(
        fails.is_empty(),
        "{} of {} failed:\n{}",
        fails.len(),
        codes.len(),
        fails.join("\n")
    );
}
