//! Photos → the marking codes they show: GS1 Data Matrix and GS1 Digital Link QR codes.
//!
//! [`decode`] takes the bytes of a PNG or JPEG file as uploaded (a phone photo, a camera
//! frame, a scan) and returns every code it reads, in the registry's element-string form.
//! It is bounded before any pixel is decoded: the byte size, then the dimensions read from
//! the file's header, are checked against [`Limits`]; the pixel decoder itself runs under
//! [`image::Limits`] (side and allocation caps), so a small file that claims huge
//! dimensions (a "decompression bomb") is refused, not inflated.
//!
//! Decoding is CPU-bound and synchronous (tens to hundreds of milliseconds in a release
//! build, see `benches/decode.rs`): async callers run it on a blocking pool.
//!
//! # Robustness
//!
//! Photos are not clean renders. [`decode`] tries a fixed, bounded sequence of passes and
//! stops at the first that reads a GS1 code (see [`PASSES`] for the order and why):
//! the image at a working size (long side ≤ [`Limits::work_side_max`], box-averaged, which
//! also smooths sensor and JPEG noise), as is and sharpened, then at twice that size,
//! with rxing's local-threshold (hybrid) binarizer and `TRY_HARDER`, inverted symbols
//! included; then a median-filtered copy (salt-and-pepper noise) and a contrast-stretched
//! one with a global-histogram binarizer (grey on grey); then ×2 up-sampled small images
//! (modules under 3 px). The worst case (nothing found) is all passes, each on at most
//! 2 × [`Limits::work_side_max`] pixels on the long side, so the time per image is
//! bounded whatever the photo's size (decoding the file itself is linear in its pixels).
//!
//! # Errors and HTTP status
//!
//! [`DecodeError::http_status`] gives the status the server answers with, and
//! [`DecodeError::reason`] a stable machine-readable reason:
//!
//! | variant | status | reason |
//! |---|---|---|
//! | [`DecodeError::TooLarge`] | 413 | `image_too_large` |
//! | [`DecodeError::TooManyPixels`] | 413 | `image_too_many_pixels` |
//! | [`DecodeError::Unsupported`] | 415 | `image_unsupported` |
//! | [`DecodeError::Corrupt`] | 400 | `image_corrupt` |
//! | [`DecodeError::NotFound`] | 422 | `no_code_found` |
//! | [`DecodeError::NotGs1`] | 422 | `not_gs1` |
//!
//! # Non-GS1 content
//!
//! A symbol that is not GS1 (a Data Matrix without FNC1 in first position, a QR code whose
//! text is neither a GS1 Digital Link URI nor GS1 element string data) or whose GS1 data
//! does not validate (bad check digit, unknown AI, …) is skipped: it is not a marking code.
//! When an image shows symbols but none is a valid GS1 code, [`decode`] fails with
//! [`DecodeError::NotGs1`], carrying the first such symbol's text and why it was refused,
//! so a caller can tell "no code visible" from "a code, but not ours".

use std::io::Cursor;
use std::time::{Duration, Instant};

use gs1::ElementString;
use image::{GrayImage, ImageFormat, ImageReader};
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8LuminanceSource, MultiFormatReader,
    RXingResult, RXingResultMetadataType, RXingResultMetadataValue,
};

/// Largest upload accepted, in bytes (8 MiB: a 12-Mpx phone JPEG is 2–6 MiB).
pub const BYTES_MAX: usize = 8 << 20;
/// Most pixels an image may declare (24 Mpx: the largest common phone sensors' default
/// output is 12–24 Mpx). Checked on the header's dimensions before decoding.
pub const PIXELS_MAX: u64 = 24_000_000;
/// Longest side an image may declare, in pixels (a 24-Mpx image is 6000 × 4000; a
/// 1 × 24,000,000 strip is no photo).
pub const SIDE_MAX: u32 = 12_000;
/// Most bytes the pixel decoder may allocate (24 Mpx of RGBA at 8 bits, plus headroom).
pub const ALLOC_MAX: u64 = 128 << 20;
/// Long side of the first working image, in pixels. A label filling a tenth of a phone
/// photo's width still has ≥ 2 px per module at this size; larger sizes are tried after.
pub const WORK_SIDE_MAX: u32 = 1024;
/// Most codes returned for one image (a photo of a shelf may show several labels).
pub const CODES_MAX: usize = 16;
/// Time after which no further pass is started (one pass already running finishes):
/// a safety net for pathological images or an overloaded machine. The passes are bounded
/// in pixels anyway; a 12-Mpx photo with no code takes ~0.3–0.8 s in a release build.
pub const TIME_MAX: Duration = Duration::from_secs(3);
/// Longest symbol text echoed back in [`DecodeError::NotGs1`], in characters.
pub const ECHO_CHARS_MAX: usize = 200;

/// Bounds on one [`decode`] call. [`Limits::default`] holds the named constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in bytes ([`BYTES_MAX`]).
    pub bytes_max: usize,
    /// Most pixels (width × height) the header may declare ([`PIXELS_MAX`]).
    pub pixels_max: u64,
    /// Longest side the header may declare ([`SIDE_MAX`]).
    pub side_max: u32,
    /// Most bytes the pixel decoder may allocate ([`ALLOC_MAX`]).
    pub alloc_max: u64,
    /// Long side of the first working image ([`WORK_SIDE_MAX`]); later passes use up to
    /// twice (then four times) this, never more than the image itself.
    pub work_side_max: u32,
    /// Most codes returned ([`CODES_MAX`]).
    pub codes_max: usize,
    /// No pass starts after this much time ([`TIME_MAX`]); the result is then
    /// [`DecodeError::NotFound`] (or [`DecodeError::NotGs1`]).
    pub time_max: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bytes_max: BYTES_MAX,
            pixels_max: PIXELS_MAX,
            side_max: SIDE_MAX,
            alloc_max: ALLOC_MAX,
            work_side_max: WORK_SIDE_MAX,
            codes_max: CODES_MAX,
            time_max: TIME_MAX,
        }
    }
}

/// The symbology a code was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// GS1 Data Matrix (ECC 200, FNC1 in first position).
    DataMatrix,
    /// QR code (holding a GS1 Digital Link URI, or GS1 element string data).
    Qr,
}

impl Symbology {
    /// `data_matrix` or `qr` (for JSON and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Symbology::DataMatrix => "data_matrix",
            Symbology::Qr => "qr",
        }
    }
}

/// One code read from an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Which symbology it was read from.
    pub symbology: Symbology,
    /// The symbol's text as decoded: for a GS1 Data Matrix the data without the FNC1 in
    /// first position, GS (`\u{1d}`) for each later FNC1; for a QR code the URI.
    pub text: String,
    /// The marking code in the registry's element-string form ([`ElementString::to_gs`]):
    /// AIs and values, GS (`\u{1d}`) after each variable-length value that is not last,
    /// no leading FNC1 or symbology identifier; a Digital Link's query attributes
    /// (crypto tail `91`, `92`, `93`) included.
    pub code: String,
}

/// Why an image yields no code. See the module documentation for HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The input is larger than [`Limits::bytes_max`].
    #[error("image is {bytes} bytes; at most {max} are accepted")]
    TooLarge {
        /// Size of the input.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The header declares more pixels (or a longer side) than the limits allow.
    #[error("image is {width} × {height} pixels; at most {max_pixels} pixels and {max_side} per side are accepted")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// [`Limits::pixels_max`].
        max_pixels: u64,
        /// [`Limits::side_max`].
        max_side: u32,
    },
    /// Not a PNG or JPEG file (unrecognised, or another image format).
    #[error("not a PNG or JPEG image ({0})")]
    Unsupported(String),
    /// A PNG or JPEG whose header or pixel data cannot be decoded.
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
    /// No Data Matrix or QR code was found in the image.
    #[error("no Data Matrix or QR code found in the image")]
    NotFound,
    /// Symbols were found, but none holds a valid GS1 marking code.
    #[error("a {} was found but it holds no GS1 marking code ({reason}): {text:?}", .symbology.as_str())]
    NotGs1 {
        /// The symbology of the first such symbol.
        symbology: Symbology,
        /// Its text (at most [`ECHO_CHARS_MAX`] characters).
        text: String,
        /// Why it was refused (not GS1, or the GS1 parser's message).
        reason: String,
    },
}

impl DecodeError {
    /// The HTTP status an endpoint answers with: 413 too large / too many pixels, 415 not
    /// PNG or JPEG, 400 corrupt, 422 no code or no GS1 code.
    pub fn http_status(&self) -> u16 {
        match self {
            DecodeError::TooLarge { .. } | DecodeError::TooManyPixels { .. } => 413,
            DecodeError::Unsupported(_) => 415,
            DecodeError::Corrupt(_) => 400,
            DecodeError::NotFound | DecodeError::NotGs1 { .. } => 422,
        }
    }

    /// A stable machine-readable reason (`image_too_large`, `image_too_many_pixels`,
    /// `image_unsupported`, `image_corrupt`, `no_code_found`, `not_gs1`).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "image_too_large",
            DecodeError::TooManyPixels { .. } => "image_too_many_pixels",
            DecodeError::Unsupported(_) => "image_unsupported",
            DecodeError::Corrupt(_) => "image_corrupt",
            DecodeError::NotFound => "no_code_found",
            DecodeError::NotGs1 { .. } => "not_gs1",
        }
    }
}

/// Decodes the PNG or JPEG file `bytes` and returns the GS1 codes it shows (at most
/// [`Limits::codes_max`], each once, in the order found), or why there are none.
///
/// Sizes are checked before pixels are decoded; see the module documentation for the
/// passes tried and the errors.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Vec<Decoded>, DecodeError> {
    let gray = load_gray(bytes, limits)?;
    decode_gray(&gray, limits)
}

/// Checks what can be checked without decoding a pixel — the size in bytes, the format
/// (PNG or JPEG by its signature) and the dimensions its header declares — and answers
/// those dimensions. Cheap (microseconds): a server calls it before queueing for a decoder.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<(u32, u32), DecodeError> {
    if bytes.len() > limits.bytes_max {
        return Err(DecodeError::TooLarge {
            bytes: bytes.len(),
            max: limits.bytes_max,
        });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        Some(other) => {
            return Err(DecodeError::Unsupported(format!(
                "{} is not accepted",
                other.extensions_str().first().unwrap_or(&"this format")
            )))
        }
        None => {
            return Err(DecodeError::Unsupported(
                "unrecognised file signature".into(),
            ))
        }
    };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if u64::from(width) * u64::from(height) > limits.pixels_max
        || width > limits.side_max
        || height > limits.side_max
    {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            max_pixels: limits.pixels_max,
            max_side: limits.side_max,
        });
    }
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt("the image has no pixels".into()));
    }
    Ok((width, height))
}

/// Reads the image, bounded: size, header dimensions, then pixels under [`image::Limits`].
fn load_gray(bytes: &[u8], limits: &Limits) -> Result<GrayImage, DecodeError> {
    let (width, height) = inspect(bytes, limits)?;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.side_max);
    image_limits.max_image_height = Some(limits.side_max);
    image_limits.max_alloc = Some(limits.alloc_max);
    reader.limits(image_limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => DecodeError::TooManyPixels {
            width,
            height,
            max_pixels: limits.pixels_max,
            max_side: limits.side_max,
        },
        image::ImageError::Unsupported(u) => DecodeError::Unsupported(u.to_string()),
        other => DecodeError::Corrupt(other.to_string()),
    })?;
    Ok(image.into_luma8())
}

/// How a pass prepares the working image before binarizing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prep {
    /// As is.
    Plain,
    /// Grey levels stretched so the 1st and 99th percentiles become 0 and 255 (grey on
    /// grey, washed-out photos).
    Stretch,
    /// 3 × 3 median, then stretched (salt-and-pepper noise, heavy JPEG artefacts).
    Median,
    /// Sharpened (3 × 3 Laplacian, a blurred or out-of-focus photo), then stretched.
    Sharpen,
}

/// Which rxing binarizer a pass uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    /// Local thresholds per 8 × 8 block (uneven light, shadows).
    Hybrid,
    /// One threshold from the histogram (blur, low contrast).
    Global,
}

/// One decoding pass: a working size (`scale` × [`Limits::work_side_max`] for the long
/// side, never larger than the image, except `upsample` which doubles small images), a
/// preparation and a binarizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// Long side of the working image, in units of [`Limits::work_side_max`].
    pub scale: u32,
    /// Double the image when its long side is at most [`Limits::work_side_max`].
    pub upsample: bool,
    /// Preparation.
    pub prep: Prep,
    /// Binarizer.
    pub bin: Bin,
}

/// The passes [`decode`] tries, in order, stopping at the first that reads a GS1 code.
/// A pass whose working image equals an earlier pass's (same size and preparation and
/// binarizer) is skipped, so a small frame costs fewer passes than a big photo.
///
/// Why this order (measured with tests/photos.rs): most images decode in the first pass
/// (box-averaged working size, hybrid binarizer); sharpening rescues blur of half a
/// module and blurred camera frames; the larger size rescues small labels in big photos;
/// the median rescues salt-and-pepper noise; the global binarizer on a stretched image
/// grey on grey; up-sampling (images whose long side is at most
/// [`Limits::work_side_max`]) rescues frames where modules are under 3 px.
pub const PASSES: &[Pass] = &[
    Pass {
        scale: 1,
        upsample: false,
        prep: Prep::Plain,
        bin: Bin::Hybrid,
    },
    Pass {
        scale: 1,
        upsample: false,
        prep: Prep::Sharpen,
        bin: Bin::Hybrid,
    },
    Pass {
        scale: 2,
        upsample: false,
        prep: Prep::Plain,
        bin: Bin::Hybrid,
    },
    Pass {
        scale: 1,
        upsample: false,
        prep: Prep::Median,
        bin: Bin::Hybrid,
    },
    Pass {
        scale: 1,
        upsample: false,
        prep: Prep::Stretch,
        bin: Bin::Global,
    },
    Pass {
        scale: 2,
        upsample: false,
        prep: Prep::Sharpen,
        bin: Bin::Hybrid,
    },
    Pass {
        scale: 1,
        upsample: true,
        prep: Prep::Sharpen,
        bin: Bin::Hybrid,
    },
    Pass {
        scale: 1,
        upsample: true,
        prep: Prep::Plain,
        bin: Bin::Hybrid,
    },
];

/// Decodes an already loaded grey image with [`PASSES`] (exposed for callers that hold
/// pixels, e.g. camera frames, and for tests).
pub fn decode_gray(gray: &GrayImage, limits: &Limits) -> Result<Vec<Decoded>, DecodeError> {
    decode_gray_with(gray, limits, PASSES)
}

/// Decodes a grey image trying `passes` in order (see [`PASSES`]).
pub fn decode_gray_with(
    gray: &GrayImage,
    limits: &Limits,
    passes: &[Pass],
) -> Result<Vec<Decoded>, DecodeError> {
    let mut first_refused: Option<DecodeError> = None;
    let mut done: Vec<(u32, u32, Prep, Bin)> = Vec::new();
    let mut scaled: Vec<GrayImage> = Vec::new();
    let started = Instant::now();
    for pass in passes {
        if started.elapsed() > limits.time_max {
            break;
        }
        let Some(work) = working_image(gray, limits, pass, &mut scaled) else {
            continue;
        };
        let key = (work.width(), work.height(), pass.prep, pass.bin);
        if done.contains(&key) {
            continue;
        }
        done.push(key);
        let prepared = match pass.prep {
            Prep::Plain => work,
            Prep::Stretch => stretch(&work),
            Prep::Median => stretch(&median3(&work)),
            Prep::Sharpen => stretch(&sharpen(&work)),
        };
        let results = read_symbols(prepared, pass.bin);
        let mut found = Vec::new();
        for r in results {
            match to_decoded(&r) {
                Ok(d) => {
                    if !found.contains(&d) && found.len() < limits.codes_max {
                        found.push(d);
                    }
                }
                Err(e) => {
                    first_refused.get_or_insert(e);
                }
            }
        }
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Err(first_refused.unwrap_or(DecodeError::NotFound))
}

/// The working image of `pass`, or `None` when the pass does not apply to this image
/// (up-sampling an image that is not small). Down-scaled copies are cached in `cache`.
fn working_image(
    gray: &GrayImage,
    limits: &Limits,
    pass: &Pass,
    cache: &mut Vec<GrayImage>,
) -> Option<GrayImage> {
    let long = gray.width().max(gray.height());
    let work = limits.work_side_max.max(64);
    if pass.upsample {
        if long > work || long == 0 {
            return None;
        }
        return Some(image::imageops::resize(
            gray,
            gray.width() * 2,
            gray.height() * 2,
            image::imageops::FilterType::Triangle,
        ));
    }
    let target = work.saturating_mul(pass.scale.max(1));
    let factor = long.div_ceil(target).max(1);
    if factor == 1 {
        return Some(gray.clone());
    }
    if let Some(c) = cache
        .iter()
        .find(|c| c.width() == gray.width() / factor && c.height() == gray.height() / factor)
    {
        return Some(c.clone());
    }
    let small = box_down(gray, factor);
    cache.push(small.clone());
    Some(small)
}

/// Averages `k` × `k` blocks: an exact area filter for integer factors, which also
/// averages out sensor noise and JPEG blocks; remainders at the right and bottom edges
/// are dropped.
fn box_down(src: &GrayImage, k: u32) -> GrayImage {
    let (w, h) = (src.width() / k, src.height() / k);
    let mut out = GrayImage::new(w.max(1), h.max(1));
    let sw = src.width() as usize;
    let raw = src.as_raw();
    let k = k as usize;
    let area = (k * k) as u32;
    let mut acc = vec![0u32; w as usize];
    for oy in 0..h as usize {
        acc.iter_mut().for_each(|a| *a = 0);
        for y in oy * k..oy * k + k {
            let row = &raw[y * sw..y * sw + w as usize * k];
            for (ox, a) in acc.iter_mut().enumerate() {
                *a += row[ox * k..ox * k + k]
                    .iter()
                    .map(|&p| u32::from(p))
                    .sum::<u32>();
            }
        }
        for (ox, a) in acc.iter().enumerate() {
            out.put_pixel(
                ox as u32,
                oy as u32,
                image::Luma([((a + area / 2) / area) as u8]),
            );
        }
    }
    out
}

/// Stretches grey levels so the 1st and 99th percentiles map to 0 and 255.
fn stretch(src: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for &p in src.as_raw() {
        hist[usize::from(p)] += 1;
    }
    let n = src.as_raw().len() as u64;
    let cut = n / 100;
    let (mut lo, mut hi) = (0usize, 255usize);
    let mut acc = 0;
    for (v, &c) in hist.iter().enumerate() {
        acc += c;
        if acc > cut {
            lo = v;
            break;
        }
    }
    acc = 0;
    for (v, &c) in hist.iter().enumerate().rev() {
        acc += c;
        if acc > cut {
            hi = v;
            break;
        }
    }
    if hi <= lo {
        return src.clone();
    }
    let span = (hi - lo) as u32;
    let lut: Vec<u8> = (0..256usize)
        .map(|v| (v.clamp(lo, hi) - lo) as u32 * 255 / span)
        .map(|v| v as u8)
        .collect();
    let mut out = src.clone();
    out.iter_mut().for_each(|p| *p = lut[usize::from(*p)]);
    out
}

/// `5·c − (n + s + e + w)`, clamped: restores the edges a blur softened (edges copied).
fn sharpen(src: &GrayImage) -> GrayImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let mut out = src.clone();
    if w < 3 || h < 3 {
        return out;
    }
    let s = src.as_raw();
    let o: &mut [u8] = &mut out;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let v = 5 * i32::from(s[i])
                - i32::from(s[i - 1])
                - i32::from(s[i + 1])
                - i32::from(s[i - w])
                - i32::from(s[i + w]);
            o[i] = v.clamp(0, 255) as u8;
        }
    }
    out
}

/// 3 × 3 median (edges copied).
fn median3(src: &GrayImage) -> GrayImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let mut out = src.clone();
    if w < 3 || h < 3 {
        return out;
    }
    let s = src.as_raw();
    let o: &mut [u8] = &mut out;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let mut v = [0u8; 9];
            let mut i = 0;
            for dy in 0..3 {
                let r = (y + dy - 1) * w + x - 1;
                v[i..i + 3].copy_from_slice(&s[r..r + 3]);
                i += 3;
            }
            let (_, m, _) = v.select_nth_unstable(4);
            o[y * w + x] = *m;
        }
    }
    out
}

/// Runs rxing's readers (Data Matrix and QR only, `TRY_HARDER`, inverted too, several
/// symbols per image) on a prepared grey image.
fn read_symbols(img: GrayImage, bin: Bin) -> Vec<RXingResult> {
    let (w, h) = img.dimensions();
    let Ok(source) = Luma8LuminanceSource::new(img.into_raw(), w, h) else {
        return Vec::new();
    };
    match bin {
        Bin::Hybrid => run(BinaryBitmap::new(HybridBinarizer::new(source))),
        Bin::Global => run(BinaryBitmap::new(GlobalHistogramBinarizer::new(source))),
    }
}

fn run<B: Binarizer>(mut bitmap: BinaryBitmap<B>) -> Vec<RXingResult> {
    let hints = DecodeHints {
        PossibleFormats: Some([BarcodeFormat::DATA_MATRIX, BarcodeFormat::QR_CODE].into()),
        TryHarder: Some(true),
        AlsoInverted: Some(true),
        PureBarcode: Some(false),
        ..DecodeHints::default()
    };
    let mut reader = GenericMultipleBarcodeReader::new(MultiFormatReader::default());
    reader
        .decode_multiple_with_hints(&mut bitmap, &hints)
        .unwrap_or_default()
}

/// The symbology identifier's modifier (`]d2` → `b'2'`), if rxing reported one.
fn modifier(r: &RXingResult) -> Option<u8> {
    match r
        .getRXingResultMetadata()
        .get(&RXingResultMetadataType::SYMBOLOGY_IDENTIFIER)
    {
        Some(RXingResultMetadataValue::SymbologyIdentifier(s)) => s.as_bytes().get(2).copied(),
        _ => None,
    }
}

/// Turns one rxing result into a [`Decoded`], or says why it is not a marking code.
fn to_decoded(r: &RXingResult) -> Result<Decoded, DecodeError> {
    let text = r.getText();
    let symbology = match r.getBarcodeFormat() {
        BarcodeFormat::DATA_MATRIX => Symbology::DataMatrix,
        _ => Symbology::Qr,
    };
    let refuse = |reason: String| DecodeError::NotGs1 {
        symbology,
        text: text.chars().take(ECHO_CHARS_MAX).collect(),
        reason,
    };
    // FNC1 in first position: Data Matrix modifiers 2 and 5 (with ECI), QR 3 and 4.
    let gs1_flag = matches!(
        (symbology, modifier(r)),
        (Symbology::DataMatrix, Some(b'2' | b'5')) | (Symbology::Qr, Some(b'3' | b'4'))
    );
    let parsed = if symbology == Symbology::Qr && !gs1_flag {
        let b = text.as_bytes();
        let is_uri = b.len() >= 7
            && (b[..7].eq_ignore_ascii_case(b"http://")
                || b.get(..8)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"https://")));
        if !is_uri {
            return Err(refuse("not a GS1 Digital Link URI".into()));
        }
        ElementString::parse_digital_link(text)
    } else if gs1_flag || text.starts_with(gs1::GS) {
        // Some printers write a leading GS instead of FNC1; the data is the same.
        ElementString::parse_gs(text)
    } else {
        return Err(refuse("no FNC1 in first position: not GS1 data".into()));
    };
    let es = parsed.map_err(|e| refuse(e.to_string()))?;
    Ok(Decoded {
        symbology,
        text: text.to_owned(),
        code: es.to_gs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_statuses() {
        assert_eq!(
            DecodeError::TooLarge { bytes: 9, max: 8 }.http_status(),
            413
        );
        assert_eq!(DecodeError::Unsupported("gif".into()).http_status(), 415);
        assert_eq!(DecodeError::Corrupt("x".into()).http_status(), 400);
        assert_eq!(DecodeError::NotFound.http_status(), 422);
    }

    #[test]
    fn garbage_is_unsupported_and_truncated_png_corrupt() {
        let l = Limits::default();
        assert!(matches!(
            decode(b"hello world", &l),
            Err(DecodeError::Unsupported(_))
        ));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(decode(gif, &l), Err(DecodeError::Unsupported(_))));
        let mut png = Vec::new();
        GrayImage::new(50, 40)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(matches!(decode(&png, &l), Err(DecodeError::NotFound)));
        png.truncate(png.len() - 30);
        assert!(
            matches!(decode(&png, &l), Err(DecodeError::Corrupt(_))),
            "{:?}",
            decode(&png, &l)
        );
        assert!(matches!(
            decode(&png[..20], &l),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn limits_are_checked_before_pixels() {
        // A tiny JPEG whose header claims 20,000 × 20,000 pixels (400 Mpx): refused from
        // the header, before any pixel is decoded (JPEG headers carry no checksum).
        let mut jpg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpg)
            .encode_image(&GrayImage::new(8, 8))
            .unwrap();
        let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpg[sof + 5..sof + 7].copy_from_slice(&20_000u16.to_be_bytes());
        jpg[sof + 7..sof + 9].copy_from_slice(&20_000u16.to_be_bytes());
        let err = decode(&jpg, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooManyPixels {
                    width: 20_000,
                    height: 20_000,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.http_status(), 413);
        // A long strip within the pixel budget but over the side limit.
        let strip = Limits {
            side_max: 7,
            ..Limits::default()
        };
        let mut ok = Vec::new();
        GrayImage::new(8, 8)
            .write_to(&mut Cursor::new(&mut ok), ImageFormat::Png)
            .unwrap();
        assert!(matches!(
            decode(&ok, &strip),
            Err(DecodeError::TooManyPixels { .. })
        ));
        let small = Limits {
            pixels_max: 63,
            ..Limits::default()
        };
        assert!(matches!(
            decode(&ok, &small),
            Err(DecodeError::TooManyPixels { .. })
        ));
        let tiny = Limits {
            bytes_max: 10,
            ..Limits::default()
        };
        assert!(matches!(
            decode(&ok, &tiny),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    fn qr_image(text: &str) -> GrayImage {
        let qr = qrcode::QrCode::new(text).unwrap();
        let w = qr.width() as u32;
        let colors = qr.to_colors();
        GrayImage::from_fn((w + 4) * 4, (w + 4) * 4, |x, y| {
            let (mx, my) = (x / 4, y / 4);
            let dark = (2..w + 2).contains(&mx)
                && (2..w + 2).contains(&my)
                && colors[((my - 2) * w + mx - 2) as usize] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        })
    }

    #[test]
    fn digital_link_qr_gives_the_element_string_and_time_max_stops_passes() {
        let img = qr_image("https://tm.example/01/04650117240163/21/ABC%2F1?91=0024&92=Ujpf%2B");
        let got = decode_gray(&img, &Limits::default()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].symbology, Symbology::Qr);
        assert_eq!(
            got[0].code,
            "010465011724016321ABC/1\u{1d}910024\u{1d}92Ujpf+"
        );
        let none = Limits {
            time_max: Duration::ZERO,
            ..Limits::default()
        };
        assert!(matches!(
            decode_gray(&img, &none),
            Err(DecodeError::NotFound)
        ));
    }

    #[test]
    fn non_gs1_symbols_are_refused_with_their_text() {
        // A QR code of a plain URL: found, but not a marking code.
        let img = qr_image("https://example.com/hello");
        let err = decode_gray(&img, &Limits::default()).unwrap_err();
        match &err {
            DecodeError::NotGs1 {
                symbology, text, ..
            } => {
                assert_eq!(*symbology, Symbology::Qr);
                assert_eq!(text, "https://example.com/hello");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((err.http_status(), err.reason()), (422, "not_gs1"));
    }
}
