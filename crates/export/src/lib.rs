//! `tracemark export --parquet DIR`: the registry's history (its feed of committed facts,
//! `types::feed`) as Parquet files that DuckDB, pandas (pyarrow) and Spark open
//! directly.
//!
//! The feed is read from the store of a stopped registry in pages and written as it is
//! read: at most one page of facts, one record batch per file and one row group per file
//! in the Parquet writer are in memory at once, however long the history. Files:
//!
//! - `sales.parquet`: one row per unit sold at a till (a `sell` document's unit whose
//!   state after is RETIRED/retail), with the product and the shop;
//! - `movements.parquet`: one row per unit change of every accepted document;
//! - `refusals.parquet`: one row per refused code kept with a refused document;
//! - `checks.parquet`: till checks (one row per code), verifications and failed crypto-tail
//!   checks.
//!
//! Complaints and blocks are in the feed too but not exported (their own tables hold more
//! than their facts); they are counted in the summary.
//!
//! Each file is written as `NAME.parquet.partial` and renamed when complete, so a failed
//! export never leaves a file that looks whole. The feed range exported is in each file's
//! key-value metadata (`tracemark.first_seq`, `tracemark.last_seq`).

use anyhow::{bail, Context, Result};
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;
use types::feed::{self, Brief, Fact, FactKey, Who};
use types::model::{DocType, Participant, ParticipantId, Product, Status};

/// Feed entries read per page. A document fact holds every unit it changed (a big
/// shipment: tens of thousands), so pages are kept small: 512 such facts stay within a
/// few hundred MB at the very worst, and typical pages are a few MB.
pub const FEED_PAGE: usize = 512;

/// Rows per Arrow record batch handed to the Parquet writer: small enough that the
/// builders stay a few MB, large enough that per-batch overhead (dictionary set-up,
/// encoder calls) does not show.
pub const BATCH_ROWS: usize = 16_384;

/// Rows per Parquet row group: 128 Ki rows is the unit readers parallelise over and skip
/// by statistics; larger groups cost the writer more memory (it buffers a group encoded),
/// smaller ones cost readers more metadata and seeks.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Compression of every column: Snappy. It is implemented in pure Rust (the `snap`
/// crate: no C toolchain, unlike zstd's `zstd-sys`), fast on both sides, and read by
/// every Parquet reader (it is Spark's and pyarrow's default). Zstd would be ~30% smaller
/// at a higher build and write cost.
const COMPRESSION: Compression = Compression::SNAPPY;

/// Columns whose values are (nearly) unique per row: Parquet's dictionary encoding only
/// costs there (it fills a dictionary page, then falls back to plain), so it is off.
const UNIQUE_COLUMNS: &[&str] = &["code"];

/// What the files' timestamps are in: Parquet's TIMESTAMP(MICROS, UTC) — Spark's native
/// unit; seconds would be stored as milliseconds anyway (Parquet has no seconds).
const TZ: &str = "UTC";

/// Microseconds per second (feed times are Unix seconds).
const MICROS: i64 = 1_000_000;

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Summary {
    /// Rows per file, in the order written: (file name, rows).
    pub rows: Vec<(&'static str, u64)>,
    /// Feed entries read.
    pub entries: u64,
    /// First and last feed sequence numbers read (`None`: nothing at or after the start).
    pub range: Option<(u64, u64)>,
    /// Feed entries in a record format this build cannot read (skipped, counted).
    pub unreadable: u64,
    /// Complaint and block facts (in the feed, not exported).
    pub not_exported: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Opens the embedded store of a stopped registry in `data` (its `store` folder), with
/// errors a person can act on: a missing directory is not created, and a store in use
/// (a running registry holds its lock) is named as such.
pub fn open_store(data: &Path) -> Result<store_fjall::FjallStore> {
    let dir = data.join("store");
    if !dir.is_dir() {
        bail!(
            "{} holds no registry store (no {}): give the --data directory of a registry",
            data.display(),
            dir.display()
        );
    }
    // Codes' states are placed by the issuing keys' serial permutation: with the keys
    // beside the store it reads them; without (the feed alone is read) it opens unplaced.
    let placement = issuance::Keyring::load(&data.join("keys.json"))
        .ok()
        .map(|k| store_fjall::Placement::new(k.serials().clone()));
    // A store in use says so itself (a running registry holds its lock).
    store_fjall::FjallStore::open_placed(&dir, true, placement)
        .map_err(|e| anyhow::anyhow!("cannot open the store in {}: {e}", data.display()))
}

/// The store of a registry's home, for reading (export, audit): a data directory's
/// embedded store (which must exist, and which a running registry holds locked), or the
/// database of `--postgres URL` (which a running registry may be serving).
pub fn open_home_store(home: &node::Home) -> Result<std::sync::Arc<dyn Store>> {
    Ok(match home {
        node::Home::Dir(d) => std::sync::Arc::new(open_store(d)?),
        node::Home::Postgres(url) => std::sync::Arc::new(node::connect_postgres(url)?),
    })
}

/// The issuing keys (needed to recompute codes) and the log's key (to check a kept
/// checkpoint, when there is one) of a registry's home, for the audit.
pub fn audit_keys(home: &node::Home) -> Result<(issuance::Keyring, Option<[u8; 32]>)> {
    match home {
        node::Home::Dir(dir) => {
            let keyring = issuance::Keyring::load(&dir.join("keys.json")).map_err(|e| {
                anyhow::anyhow!(
                    "the issuing keys of {} (keys.json), needed to recompute the codes: {e}",
                    dir.display()
                )
            })?;
            let log_key = std::fs::read(dir.join("log.key"))
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok());
            Ok((keyring, log_key))
        }
        node::Home::Postgres(url) => {
            let pg = node::connect_postgres(url)?;
            let json = pg
                .secret_get("keys.json")
                .map_err(|e| anyhow::anyhow!("reading the issuing keys: {e}"))?
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} holds no issuing keys (keys.json in tracemark_secrets): not a registry's database",
                        node::redact_url(url)
                    )
                })?;
            let keyring = issuance::Keyring::from_json(std::str::from_utf8(&json)?)
                .map_err(|e| anyhow::anyhow!("the issuing keys in the database: {e}"))?;
            let log_key = pg
                .secret_get("log.key")
                .map_err(|e| anyhow::anyhow!("reading the log's key: {e}"))?
                .and_then(|k| <[u8; 32]>::try_from(k).ok());
            Ok((keyring, log_key))
        }
    }
}

/// Exports the feed's entries from sequence number `from_seq` on (1: everything) into
/// the four files in `out` (created if missing; files of an earlier export replaced).
pub fn export(store: &dyn Store, out: &Path, from_seq: u64) -> Result<Summary> {
    let started = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut names = Names::new(store)?;
    let mut files = Files {
        sales: Table::create(out, "sales.parquet", SALES)?,
        movements: Table::create(out, "movements.parquet", MOVEMENTS)?,
        refusals: Table::create(out, "refusals.parquet", REFUSALS)?,
        checks: Table::create(out, "checks.parquet", CHECKS)?,
    };
    let mut s = Summary::default();
    let mut after = from_seq.saturating_sub(1);
    loop {
        let page = store.feed(after, FEED_PAGE)?;
        let Some(&(last, _)) = page.last() else {
            break;
        };
        for (seq, bytes) in &page {
            s.entries += 1;
            s.range = Some((s.range.map_or(*seq, |r| r.0), *seq));
            match feed::decode(bytes) {
                Some((_, fact)) => files.add(*seq, &fact, &mut names, &mut s)?,
                None => s.unreadable += 1,
            }
        }
        after = last;
    }
    let (first, last) = s.range.unwrap_or((from_seq, from_seq.saturating_sub(1)));
    for t in [files.sales, files.movements, files.refusals, files.checks] {
        s.rows.push((t.file, t.rows));
        t.finish(first, last)?;
    }
    s.elapsed = started.elapsed();
    Ok(s)
}

/// The four files being written.
struct Files {
    sales: Table,
    movements: Table,
    refusals: Table,
    checks: Table,
}

impl Files {
    /// The rows of one fact.
    fn add(&mut self, seq: u64, fact: &Fact, names: &mut Names, s: &mut Summary) -> Result<()> {
        let seq = i64_of(seq);
        let mut code = String::new();
        match fact {
            Fact::Document(d) => {
                let doc_type = d.doc_type();
                let type_name = doc_type.map_or("unknown", DocType::name);
                let id = d.id.to_string();
                let at = d.fiscal_at.map(micros);
                let receiver = d.receiver.and_then(|p| names.participant(p));
                let sender = d.sender.and_then(|p| names.participant(p));
                let actor = names.participant(d.actor);
                for u in &d.units {
                    code_text(&mut code, u.key);
                    let gtin = u.key.0.gtin().map(|g| format!("{g:014}"));
                    let (from_owner, status_before) = brief(&u.before, names);
                    let (to_owner, status_after) = brief(&u.after, names);
                    let m = &mut self.movements;
                    m.i64(Some(seq));
                    m.i64(Some(i64_of(d.seq)));
                    m.str(Some(&id));
                    m.str(Some(type_name));
                    m.str(Some(&code));
                    m.str(gtin.as_deref());
                    m.str(tin(&actor));
                    m.str(tin(&from_owner));
                    m.str(tin(&to_owner));
                    m.str(status_before);
                    m.str(status_after);
                    m.str(reason_name(&u.after));
                    m.bool(Some(u.after.in_transit()));
                    m.ts(at);
                    m.str(tin(&receiver));
                    m.str(tin(&sender));
                    m.end_row()?;
                    if doc_type == Some(DocType::Sell) && u.after.sold() {
                        let product = u.key.0.gtin().and_then(|g| names.product(g));
                        let brand_owner = product.as_ref().and_then(|p| names.participant(p.owner));
                        let shop = names.participant(u.before.owner);
                        let t = &mut self.sales;
                        t.ts(at);
                        t.i64(Some(seq));
                        t.str(Some(&id));
                        t.str(Some(&code));
                        t.str(gtin.as_deref());
                        t.str(product.as_deref().map(|p| p.product_group.as_str()));
                        t.str(product.as_deref().map(|p| p.name.as_str()));
                        t.str(tin(&brand_owner));
                        t.str(tin(&shop));
                        t.str(shop.as_deref().map(|p| p.name.as_str()));
                        t.str(shop.as_deref().map(|p| p.region.as_str()));
                        t.end_row()?;
                    }
                }
            }
            Fact::Refused(r) => {
                let id = r.id.to_string();
                let type_name = r.doc_type().map_or("unknown", DocType::name);
                let actor = names.participant(r.actor);
                for c in &r.codes {
                    let (owner, status) = brief(&c.state, names);
                    let t = &mut self.refusals;
                    t.i64(Some(seq));
                    t.str(Some(&id));
                    t.str(Some(type_name));
                    t.str(tin(&actor));
                    t.str(Some(&c.code));
                    t.str(Some(&c.reason));
                    t.str(status);
                    t.str(tin(&owner));
                    t.end_row()?;
                }
            }
            Fact::TillCheck(c) => {
                let actor = names.participant(c.actor);
                let request = c.request_id.to_string();
                for k in &c.codes {
                    code_text(&mut code, k.key);
                    self.checks.check(
                        seq,
                        "till_check",
                        c.at,
                        tin(&actor),
                        &code,
                        if k.sellable { "true" } else { "false" },
                        None,
                        Some(&request),
                    )?;
                }
            }
            Fact::Verified(v) => {
                code_text(&mut code, v.key);
                let actor = who(v.who, names);
                self.checks.check(
                    seq,
                    "verification",
                    v.at,
                    tin(&actor),
                    &code,
                    &v.verdict,
                    v.place,
                    None,
                )?;
            }
            Fact::TailFailed(f) => {
                code_text(&mut code, f.key);
                let actor = who(f.who, names);
                self.checks.check(
                    seq,
                    "tail_failure",
                    f.at,
                    tin(&actor),
                    &code,
                    &f.via,
                    None,
                    None,
                )?;
            }
            Fact::Complaint(_)
            | Fact::Block(_)
            | Fact::Ack(_)
            | Fact::CardOwner(_)
            | Fact::LateSale(_) => s.not_exported += 1,
        }
        Ok(())
    }
}

/// Feed sequence numbers as Parquet INT64: signed, because Spark (and Java readers)
/// have no unsigned 64-bit type; a sequence number never reaches 2⁶³.
fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Unix seconds → microseconds.
fn micros(secs: u64) -> i64 {
    i64_of(secs).saturating_mul(MICROS)
}

/// A code's identification code text (`01{gtin}21{serial}` or `00{sscc}`) into `buf`.
fn code_text(buf: &mut String, key: FactKey) {
    buf.clear();
    // Writing to a String cannot fail.
    let _ = write!(buf, "{}", key.0);
}

/// A participant's TIN.
fn tin(p: &Option<Arc<Participant>>) -> Option<&str> {
    p.as_deref().map(|p| p.tin.as_str())
}

/// A brief's owner and status word; both `None` when the code did not exist.
fn brief(b: &Brief, names: &Names) -> (Option<Arc<Participant>>, Option<&'static str>) {
    match b.status() {
        None => (None, None),
        Some(st) => (names.participant(b.owner), Some(Status::name(st))),
    }
}

/// A brief's retirement or write-off reason word, if any.
fn reason_name(b: &Brief) -> Option<&'static str> {
    types::model::Reason::from_u8(b.reason).map(types::model::Reason::name)
}

/// Who checked: a participant's TIN, or `None` for an anonymous client.
fn who(w: Who, names: &Names) -> Option<Arc<Participant>> {
    match w {
        Who::Participant(p) => names.participant(p),
        Who::Client(_) => None,
    }
}

/// Participants and product cards, looked up once each. Participants are few (thousands)
/// and all read up front; products are read when first met and kept (the catalogue is
/// bounded by what was sold, not by history's length).
struct Names<'s> {
    store: &'s dyn Store,
    participants: HashMap<ParticipantId, Arc<Participant>>,
    products: HashMap<u64, Option<Arc<Product>>>,
}

impl<'s> Names<'s> {
    fn new(store: &'s dyn Store) -> Result<Names<'s>> {
        Ok(Names {
            store,
            participants: store
                .participants()?
                .into_iter()
                .map(|p| (p.id, Arc::new(p)))
                .collect(),
            products: HashMap::new(),
        })
    }

    /// A participant (shared: a row borrows nothing from the look-ups).
    fn participant(&self, id: ParticipantId) -> Option<Arc<Participant>> {
        self.participants.get(&id).cloned()
    }

    /// A product card, read from the store when first asked for.
    fn product(&mut self, gtin: u64) -> Option<Arc<Product>> {
        if let Some(p) = self.products.get(&gtin) {
            return p.clone();
        }
        // A store read error is not worth failing the export for: the row keeps its
        // code and GTIN, without the card's words.
        let p = self.store.product(gtin).ok().flatten().map(Arc::new);
        self.products.insert(gtin, p.clone());
        p
    }
}

/// A column's kind.
#[derive(Clone, Copy)]
enum Kind {
    /// Feed sequence numbers and the like.
    I64,
    /// UTC instant, microseconds.
    Time,
    /// A low-cardinality string (document types, statuses, TINs, regions, product
    /// words): Arrow `Dictionary(Int32, Utf8)`, so pandas reads a category and every
    /// reader a dictionary-encoded column.
    Word,
    /// A string of many values (codes, document ids).
    Text,
    /// True or false.
    Bool,
    /// A float (coarse coordinates).
    F64,
}

/// A column: name, kind, nullable.
type Column = (&'static str, Kind, bool);

/// `sales.parquet`.
const SALES: &[Column] = &[
    ("fiscal_at", Kind::Time, true),
    ("received_seq", Kind::I64, false),
    ("document_id", Kind::Text, false),
    ("code", Kind::Text, false),
    ("gtin", Kind::Word, true),
    ("product_group", Kind::Word, true),
    ("product_name", Kind::Word, true),
    ("brand_owner_tin", Kind::Word, true),
    ("shop_tin", Kind::Word, true),
    ("shop_name", Kind::Word, true),
    ("region", Kind::Word, true),
];

/// `movements.parquet`.
const MOVEMENTS: &[Column] = &[
    ("seq", Kind::I64, false),
    ("document_seq", Kind::I64, false),
    ("document_id", Kind::Text, false),
    ("type", Kind::Word, false),
    ("code", Kind::Text, false),
    ("gtin", Kind::Word, true),
    ("actor_tin", Kind::Word, true),
    ("from_owner_tin", Kind::Word, true),
    ("to_owner_tin", Kind::Word, true),
    ("status_before", Kind::Word, true),
    ("status_after", Kind::Word, true),
    ("reason_after", Kind::Word, true),
    ("in_transit_after", Kind::Bool, false),
    ("at", Kind::Time, true),
    ("receiver_tin", Kind::Word, true),
    ("sender_tin", Kind::Word, true),
];

/// `refusals.parquet`.
const REFUSALS: &[Column] = &[
    ("seq", Kind::I64, false),
    ("document_id", Kind::Text, false),
    ("type", Kind::Word, false),
    ("actor_tin", Kind::Word, true),
    ("code", Kind::Text, false),
    ("reason", Kind::Word, false),
    ("status_at_refusal", Kind::Word, true),
    ("owner_at_refusal_tin", Kind::Word, true),
];

/// `checks.parquet`.
const CHECKS: &[Column] = &[
    ("seq", Kind::I64, false),
    ("kind", Kind::Word, false),
    ("at", Kind::Time, false),
    ("actor_tin", Kind::Word, true),
    ("code", Kind::Text, false),
    ("result", Kind::Word, false),
    ("lat", Kind::F64, true),
    ("lon", Kind::F64, true),
    ("request_id", Kind::Text, true),
];

/// A column's builder.
enum Builder {
    I64(Int64Builder),
    Time(TimestampMicrosecondBuilder),
    Word(StringDictionaryBuilder<Int32Type>),
    Text(StringBuilder),
    Bool(BooleanBuilder),
    F64(Float64Builder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::I64 => Builder::I64(Int64Builder::with_capacity(BATCH_ROWS)),
            Kind::Time => Builder::Time(
                TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS).with_timezone(TZ),
            ),
            Kind::Word => Builder::Word(StringDictionaryBuilder::new()),
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            Kind::F64 => Builder::F64(Float64Builder::with_capacity(BATCH_ROWS)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Word(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
        }
    }
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::I64 => DataType::Int64,
        Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some(TZ.into())),
        Kind::Word => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        Kind::Text => DataType::Utf8,
        Kind::Bool => DataType::Boolean,
        Kind::F64 => DataType::Float64,
    }
}

/// One file being written: the current batch's builders and the Parquet writer. Values
/// are appended column by column (`i64`, `str`, …) in the schema's order, then
/// [`Table::end_row`]; a value of the wrong kind is a programming error, reported as one.
struct Table {
    file: &'static str,
    path: PathBuf,
    partial: PathBuf,
    schema: SchemaRef,
    columns: &'static [Column],
    builders: Vec<Builder>,
    /// The column the next value goes to.
    next: usize,
    /// A value of the wrong kind was given in this row (a bug; `end_row` reports it).
    bad: bool,
    /// Rows in the current batch.
    pending: usize,
    /// Rows written in all.
    rows: u64,
    writer: ArrowWriter<File>,
}

impl Table {
    fn create(dir: &Path, file: &'static str, columns: &'static [Column]) -> Result<Table> {
        let schema: SchemaRef = Arc::new(Schema::new(
            columns
                .iter()
                .map(|&(n, k, nullable)| Field::new(n, data_type(k), nullable))
                .collect::<Vec<_>>(),
        ));
        let mut props = WriterProperties::builder()
            .set_compression(COMPRESSION)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("tracemark {}", env!("CARGO_PKG_VERSION")));
        for &(n, _, _) in columns {
            if UNIQUE_COLUMNS.contains(&n) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(n), false);
            }
        }
        let path = dir.join(file);
        let partial = dir.join(format!("{file}.partial"));
        let f =
            File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
        let writer = ArrowWriter::try_new(f, schema.clone(), Some(props.build()))?;
        Ok(Table {
            file,
            path,
            partial,
            schema,
            columns,
            builders: columns.iter().map(|&(_, k, _)| Builder::new(k)).collect(),
            next: 0,
            bad: false,
            pending: 0,
            rows: 0,
            writer,
        })
    }

    /// The builder of the next column, moving on.
    fn col(&mut self) -> Option<&mut Builder> {
        let b = self.builders.get_mut(self.next);
        self.next += 1;
        b
    }

    fn i64(&mut self, v: Option<i64>) {
        match self.col() {
            Some(Builder::I64(b)) => b.append_option(v),
            _ => self.bad = true,
        }
    }

    fn ts(&mut self, v: Option<i64>) {
        match self.col() {
            Some(Builder::Time(b)) => b.append_option(v),
            _ => self.bad = true,
        }
    }

    fn str(&mut self, v: Option<&str>) {
        match self.col() {
            Some(Builder::Word(b)) => b.append_option(v),
            Some(Builder::Text(b)) => b.append_option(v),
            _ => self.bad = true,
        }
    }

    fn bool(&mut self, v: Option<bool>) {
        match self.col() {
            Some(Builder::Bool(b)) => b.append_option(v),
            _ => self.bad = true,
        }
    }

    fn f64(&mut self, v: Option<f64>) {
        match self.col() {
            Some(Builder::F64(b)) => b.append_option(v),
            _ => self.bad = true,
        }
    }

    /// One row of `checks.parquet`.
    #[allow(clippy::too_many_arguments)] // One argument per column, in the file's order.
    fn check(
        &mut self,
        seq: i64,
        kind: &str,
        at: u64,
        actor: Option<&str>,
        code: &str,
        result: &str,
        place: Option<feed::Place>,
        request: Option<&str>,
    ) -> Result<()> {
        self.i64(Some(seq));
        self.str(Some(kind));
        self.ts(Some(micros(at)));
        self.str(actor);
        self.str(Some(code));
        self.str(Some(result));
        self.f64(place.map(|p| f64::from(p.lat10) / 10.0));
        self.f64(place.map(|p| f64::from(p.lon10) / 10.0));
        self.str(request);
        self.end_row()
    }

    /// Ends a row: every column must have had its value; writes a full batch.
    fn end_row(&mut self) -> Result<()> {
        if self.bad || self.next != self.columns.len() {
            bail!(
                "export: a {} row of the wrong shape (a bug): {} values for {} columns",
                self.file,
                self.next,
                self.columns.len()
            );
        }
        self.next = 0;
        self.pending += 1;
        self.rows += 1;
        if self.pending >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let cols: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), cols)?;
        self.writer.write(&batch)?;
        self.pending = 0;
        Ok(())
    }

    /// Writes what is left and the footer, then gives the file its name.
    fn finish(mut self, first_seq: u64, last_seq: u64) -> Result<()> {
        self.flush()?;
        self.writer.append_key_value_metadata(KeyValue::new(
            "tracemark.first_seq".into(),
            first_seq.to_string(),
        ));
        self.writer.append_key_value_metadata(KeyValue::new(
            "tracemark.last_seq".into(),
            last_seq.to_string(),
        ));
        let f = self.writer.into_inner()?;
        // Durable before the rename: a file under its final name is always whole.
        f.sync_all()
            .with_context(|| format!("writing {}", self.partial.display()))?;
        std::fs::rename(&self.partial, &self.path)
            .with_context(|| format!("renaming to {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use store::WriteSet;
    use types::feed::{CheckedCode, DocFact, TillCheckFact, UnitChange};
    use types::model::{CodeKey, Reason, Role};

    /// Sales of this many units each: enough documents that sales and movements each
    /// span several record batches.
    const UNITS_PER_SALE: usize = 1_000;
    const SALES_N: usize = 40;
    /// Till checks: with the sales, more feed entries than one page.
    const CHECKS_N: usize = FEED_PAGE + 100;

    fn shop() -> Participant {
        Participant {
            id: 7,
            tin: "7700000004".into(),
            name: "Shop".into(),
            roles: vec![Role::Retailer],
            public_key: [0; 32],
            region: "RU-MOW".into(),
            registered_at: 0,
            keys: vec![],
            suspended: None,
            gs1_prefixes: vec![],
            token_generation: 0,
        }
    }

    /// A store whose feed holds [`SALES_N`] sales and [`CHECKS_N`] till checks,
    /// written straight into the store (the export reads nothing else).
    fn store(dir: &Path) -> store_fjall::FjallStore {
        let store = store_fjall::FjallStore::open(dir).expect("store");
        let mut feed = Vec::new();
        let intro = Brief {
            owner: 7,
            status: Status::Introduced as u8,
            reason: 0,
        };
        let sold = Brief {
            owner: 7,
            status: Status::Retired as u8,
            reason: Reason::Retail as u8,
        };
        for d in 0..SALES_N {
            let units = (0..UNITS_PER_SALE)
                .map(|u| UnitChange {
                    key: FactKey(CodeKey::unit(
                        4_601_234_567_893,
                        format!("s{d}u{u}").as_bytes(),
                    )),
                    before: intro,
                    after: sold,
                })
                .collect();
            feed.push(Fact::Document(DocFact {
                seq: d as u64 + 1,
                id: uuid::Uuid::now_v7(),
                doc_type: DocType::Sell as u8,
                actor: 7,
                fiscal_at: Some(1_700_000_000 + d as u64),
                receiver: None,
                sender: None,
                check_ids: vec![],
                units,
            }));
        }
        for c in 0..CHECKS_N {
            feed.push(Fact::TillCheck(TillCheckFact {
                actor: 7,
                request_id: uuid::Uuid::now_v7(),
                at: 1_700_000_000,
                codes: vec![CheckedCode {
                    key: FactKey(CodeKey::unit(4_601_234_567_893, format!("c{c}").as_bytes())),
                    sellable: c % 2 == 0,
                }],
            }));
        }
        let set = WriteSet {
            participants: vec![shop()],
            feed: feed
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    (
                        i as u64 + 1,
                        feed::encode(1_700_000_000, f).expect("encodes"),
                    )
                })
                .collect(),
            ..Default::default()
        };
        store.commit(&set).expect("commit");
        store
    }

    fn rows(path: &Path) -> usize {
        let f = File::open(path).expect("file");
        ParquetRecordBatchReaderBuilder::try_new(f)
            .expect("parquet")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch").num_rows())
            .sum()
    }

    #[test]
    fn a_history_longer_than_a_page_and_a_batch_is_exported_whole() {
        let tmp = tempfile::tempdir().expect("tmp");
        let store = store(&tmp.path().join("store"));
        let out = tmp.path().join("out");
        let s = export(&store, &out, 1).expect("export");
        let units = SALES_N * UNITS_PER_SALE;
        assert!(units > 2 * BATCH_ROWS, "the test spans batches");
        assert_eq!(
            s.rows,
            vec![
                ("sales.parquet", units as u64),
                ("movements.parquet", units as u64),
                ("refusals.parquet", 0),
                ("checks.parquet", CHECKS_N as u64),
            ]
        );
        assert_eq!(s.range, Some((1, (SALES_N + CHECKS_N) as u64)));
        for (file, n) in &s.rows {
            assert_eq!(rows(&out.join(file)) as u64, *n, "{file}");
        }
        // From a sequence number on: the last sale and every check.
        let s = export(&store, &out, SALES_N as u64).expect("export");
        assert_eq!(s.rows[0], ("sales.parquet", UNITS_PER_SALE as u64));
        assert_eq!(s.rows[3], ("checks.parquet", CHECKS_N as u64));
        assert_eq!(rows(&out.join("sales.parquet")), UNITS_PER_SALE);
        // Past the end: empty files that readers still open.
        let s = export(&store, &out, 1 << 40).expect("export");
        assert_eq!(s.range, None);
        assert_eq!(rows(&out.join("checks.parquet")), 0);
    }
}
