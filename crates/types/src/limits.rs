//! The registry's limits in one place: every bound a client can push against, and the
//! sizes of the writer's batches and buffers. Related limits are tied by compile-time
//! assertions, so that changing one alone fails the build rather than a night's load.

/// Codes per range record: the emission chunk of a ranged order. The writer's work per
/// chunk does not depend on it (one record, one log leaf); the emission worker computes the
/// chunk's serials for the leaf's BLAKE3 (~15 ms for 100,000).
pub const RANGE_CHUNK: u32 = 100_000;

use std::time::Duration;

// ---- Codes and documents ----
/// Maximum serial length (AI 21 is X..20).
pub const SERIAL_LEN_MAX: usize = 20;
/// Most codes listed in one document (the real system's limit is 30,000 per report).
pub const DOC_CODES_MAX: usize = 30_000;
/// Most codes one document may change once packages are expanded.
pub const DOC_CODES_EXPANDED_MAX: usize = 1_000_000;
/// Oldest receipt a `sell` may report: an offline cash register must send its fiscal data
/// within 30 days (the fiscal drive's limit), so anything older is a mistake or a fraud.
pub const RECEIPT_AGE_MAX_SECS: u64 = 30 * 86_400;
/// Most bytes of a free-text field (batch, reason, customs declaration, receipt parts).
pub const TEXT_LEN_MAX: usize = 256;
/// Most per-code errors a refusal record keeps (the total is kept too).
pub const REFUSAL_CODES_KEPT_MAX: usize = 100;
/// Most codes in one status look-up or till check (the real system's limit is 1,000).
pub const QUERY_CODES_MAX: usize = 1_000;

// ---- Participants, products, prefixes and blocks ----
/// Longest TIN (Russian TINs have 10 or 12 digits; room for other countries' ids).
pub const TIN_LEN_MAX: usize = 32;
/// Longest participant, product or brand name, bytes.
pub const NAME_LEN_MAX: usize = 256;
/// Longest free-text reason (suspension, block), bytes.
pub const REASON_LEN_MAX: usize = 1_024;
/// Largest product `attributes` object, serialised bytes (it is shown to every shopper).
pub const ATTRIBUTES_LEN_MAX: usize = 16_384;
/// Longest shelf life, days (100 years).
pub const SHELF_LIFE_DAYS_MAX: u32 = 36_500;
/// Longest batch number: GS1 AI 10 holds at most 20 characters.
pub const BATCH_LEN_MAX: usize = 20;
/// Most GS1 company prefixes one request names.
pub const PREFIXES_PER_REQUEST_MAX: usize = 100;
/// Most keys a participant accumulates (rotations are rare; the list is read on every
/// signature check).
pub const KEYS_PER_PARTICIPANT_MAX: usize = 64;
/// Most product cards one grant of GS1 company prefixes moves to the new holder (each a
/// log leaf, all in one writer job): an importer that registered a brand's GTINs before
/// the brand joined holds a few dozen, a whole catalogue a few thousand. Above it the
/// grant is refused and the operator moves cards first (`POST /api/v1/products/{gtin}/transfer`)
/// or grants longer prefixes.
pub const PREFIX_CARDS_MOVED_MAX: usize = 10_000;
/// Longest note kept with an alert's acknowledgement, in characters.
pub const ACK_NOTE_CHARS_MAX: usize = 500;
/// Shortest GS1 company prefix.
pub const PREFIX_LEN_MIN: usize = 4;
/// Longest GS1 company prefix.
pub const PREFIX_LEN_MAX: usize = 12;

// ---- Code orders and their emission ----
/// Most codes in one order (the real system's single-GTIN limit).
pub const ORDER_QUANTITY_MAX: u32 = 2_000_000;
/// Most active (pending or ready) orders per participant.
pub const ACTIVE_ORDERS_MAX: usize = 100;
/// Codes produced per writer job.
pub const ORDER_CHUNK: u32 = 10_000;
/// Most codes in one page of an order's codes.
pub const ORDER_PAGE_MAX: u32 = 10_000;
/// Codes a participant may have ordered and not yet produced (a quota: past it, new orders
/// are refused with 429 until production catches up).
pub const PENDING_CODES_PER_PARTICIPANT_MAX: u64 = 4_000_000;

// ---- Complaints ----
/// Longest complaint text, in characters.
pub const COMPLAINT_TEXT_CHARS_MAX: usize = 2_000;
/// Longest shop description (where the item was bought), in characters.
pub const COMPLAINT_SHOP_CHARS_MAX: usize = 200;
/// Largest photo, in bytes once decoded from base64: a phone photo downscaled to
/// 1,600 px as the page does it is ~300 KB.
pub const COMPLAINT_PHOTO_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Most complaints one listing answers.
pub const COMPLAINT_PAGE_MAX: usize = 1_000;
/// Most complaints one listing reads to find its page (filters are applied on a scan in
/// time order): a listing that reads this many answers what it found and a `next` cursor.
pub const COMPLAINT_SCAN_MAX: usize = 100_000;

// ---- Failed tail checks ----
/// Window of the per-checker count, seconds.
pub const CHECKER_WINDOW_SECS: u64 = 600;
/// Failed tail checks one checker may make within [`CHECKER_WINDOW_SECS`].
pub const FAILURES_PER_CHECKER_MAX: u32 = 20;
/// Failed tail checks a fiscal operator (one checker for many shops, seeing every
/// counterfeit they scan) may make within [`CHECKER_WINDOW_SECS`].
pub const FAILURES_PER_OPERATOR_MAX: u32 = 2_000;
/// Window of the per-checker-and-code count, seconds.
pub const CODE_WINDOW_SECS: u64 = 86_400;
/// Failed tail checks of one code by one checker (not its owner) within
/// [`CODE_WINDOW_SECS`].
pub const FAILURES_PER_CHECKER_CODE_MAX: u32 = 5;
/// Most checkers and codes tracked at once: past it expired entries are dropped, then
/// the oldest (memory stays bounded under a flood of identities).
pub const TRACKED_MAX: usize = 200_000;

// ---- The writer ----
/// Most jobs waiting for the writer; past it, submitters wait (back-pressure).
pub const WRITER_QUEUE_MAX: usize = 65_536;
/// Facts the writer takes from the store's inbox in one commit (`registry::Registry::take_inbox`).
pub const INBOX_TAKE_MAX: usize = 10_000;
/// Facts from reads wake the writer at most this often: under a load of reads they go
/// in a few commits a second, not in one durable transaction after another.
pub const FACTS_WAKE_EVERY: Duration = Duration::from_millis(50);
/// Most jobs in one group commit.
pub const BATCH_JOBS_MAX: usize = 4_096;
/// Most code-state writes in one group commit (a soft limit checked between jobs).
pub const BATCH_CODES_MAX: usize = 400_000;
/// The smallest bound accepted (MiB): below it the caches would be too small to serve.
pub const MEMORY_MB_MIN: u64 = 256;
/// The part of the bound kept for everything but the three caches (MiB, at most a
/// quarter of the bound): the async runtime and its connections, the projections up to
/// their named limits, documents being parsed and their read-ahead states.
pub const FIXED_MB_MAX: u64 = 512;

/// The writer's state cache's default capacity: 4 M states (~600 MB at most); the memory
/// budget gives less on a small machine (`memory::Budget`).
pub const STATE_CACHE_ENTRIES_DEFAULT: usize = 4_000_000;

// ---- The feed: facts from reads waiting for a commit, and what a fact keeps ----
/// Most facts waiting for the writer in the read-side buffer (till checks, verifications,
/// failed tail checks). Beyond it (or [`FACTS_PENDING_CODES_MAX`]) facts are dropped and
/// counted (`/metrics`): they come from unauthenticated traffic too, and the registry's
/// answers never wait for them.
pub const FACTS_PENDING_MAX: usize = 100_000;
/// Most codes in the facts waiting (a till check carries up to 1,000): ~40 bytes each, so
/// the buffer holds at most ~40 MB of codes besides its ~10 MB of facts.
pub const FACTS_PENDING_CODES_MAX: usize = 1_000_000;
/// Most facts of one source (a participant, or an anonymous client's tag) waiting in the
/// buffer: a participant flooding the till check fills its own share and drops its own
/// facts, never another's (the buffer holds [`FACTS_PENDING_MAX`], ten such shares).
pub const FACTS_PENDING_PER_SOURCE_MAX: usize = 10_000;
/// Most codes in one source's waiting facts: a tenth of [`FACTS_PENDING_CODES_MAX`] (a
/// hundred full till checks), so ten flooders together cannot crowd out the rest.
pub const FACTS_PENDING_CODES_PER_SOURCE_MAX: usize = 100_000;
/// Most till checks of one participant recorded in the feed a day (UTC). Each is ~40
/// bytes plus ~35 a code; an honest big shop makes a few tens of thousands a day (one per
/// receipt). Beyond it the check is still answered, only not recorded (counted): a sale
/// naming it is then unchecked, against that participant alone.
pub const TILL_FACTS_PER_PARTICIPANT_PER_DAY: u32 = 200_000;
/// Most codes of one participant's till checks recorded in the feed a day (UTC): with
/// [`TILL_FACTS_PER_PARTICIPANT_PER_DAY`] it bounds what one participant adds to the feed
/// to ~45 MB a day, whatever it sends (the rate limit in front bounds it per second).
pub const TILL_CODES_PER_PARTICIPANT_PER_DAY: u32 = 1_000_000;
/// Most codes a late-reported sale's fact names (its `total` counts them all).
pub const LATE_CODES_KEPT_MAX: usize = 100;
/// Most facts of the read-side buffer one group commit takes (the rest wait for the next):
/// a flood of verifications adds at most this many small records to a document's commit.
pub const FACTS_PER_COMMIT_MAX: usize = 20_000;
/// Most verifications recorded in the feed a second, from everyone: public scans are
/// unauthenticated, and each is kept for good; at this cap they add at most ~30 GB a day of
/// feed (≈ 70 bytes each), and beyond it the answer is still given, only not recorded
/// (counted). A nation's consumers scan far less than this on average.
pub const VERIFIED_FACTS_PER_SEC_MAX: u32 = 5_000;
/// Most verifications of one scanner (an address's tag, or a participant) recorded a second:
/// a shopper scans a label every few seconds at most.
pub const VERIFIED_FACTS_PER_SCANNER_PER_SEC_MAX: u32 = 5;
/// Most codes of one till check kept in its fact (a check asks about ≤ 1,000).
pub const TILL_CHECK_CODES_KEPT_MAX: usize = 1_000;
/// Most `check_ids` of a sale kept in its fact (a till check answers up to 1,000 codes, so
/// a sale rarely names more than a few).
pub const CHECK_IDS_KEPT_MAX: usize = 100;
/// Longest `check_id` kept (a `request_id` is a 36-character UUID).
pub const CHECK_ID_LEN_MAX: usize = 64;

// ---- Projections ----
/// How often a projection writes its changed rows (and checkpoint) at most: the work a
/// crash can make it replay, and the write cost it adds.
pub const FLUSH_INTERVAL_MS: u64 = 500;
/// Feed entries read per store call.
pub const FEED_PAGE_MAX: usize = 4_096;
/// Rows read per store call while loading.
pub const LOAD_PAGE_MAX: usize = 10_000;
/// The first wait before a failed projection starts again; each failure in a row doubles
/// it, up to [`RESTART_BACKOFF_MAX`].
pub const RESTART_BACKOFF_MIN: Duration = Duration::from_millis(200);
/// The longest wait before a failed projection starts again.
pub const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A projection whose oldest fact not yet applied is older than this (seconds) is
/// behind: `/health` says `degraded`, naming it. Its answers (alerts, analytics) are then
/// that old.
pub const BEHIND_MAX_SECS: u64 = 60;

// ---- How the limits hold together, checked when the crate compiles ----
//
// Each assertion ties two limits that a change to one alone would quietly break.

// A document may name no more codes than it may change once packages are expanded.
const _: () = assert!(DOC_CODES_MAX <= DOC_CODES_EXPANDED_MAX);
// Ten sources' shares fill the buffer of facts from reads: one flooder cannot fill it.
const _: () = assert!(FACTS_PENDING_PER_SOURCE_MAX * 10 == FACTS_PENDING_MAX);
const _: () = assert!(FACTS_PENDING_CODES_PER_SOURCE_MAX * 10 == FACTS_PENDING_CODES_MAX);
// One commit takes facts from the buffer no faster than the buffer holds them.
const _: () = assert!(FACTS_PER_COMMIT_MAX <= FACTS_PENDING_MAX);
// A till check's fact keeps every code a till check may ask about.
const _: () = assert!(TILL_CHECK_CODES_KEPT_MAX >= QUERY_CODES_MAX);
// A participant's daily till checks are counted in checks and in codes, codes the larger.
const _: () = assert!(TILL_FACTS_PER_PARTICIPANT_PER_DAY <= TILL_CODES_PER_PARTICIPANT_PER_DAY);
// One scanner's share of the verifications recorded a second is below the whole.
const _: () = assert!(VERIFIED_FACTS_PER_SCANNER_PER_SEC_MAX < VERIFIED_FACTS_PER_SEC_MAX);
// A `check_id` of a sale is kept whole: a UUID (36 characters) fits.
const _: () = assert!(CHECK_ID_LEN_MAX >= 36);
// A GS1 company prefix is 4 to 12 digits.
const _: () = assert!(PREFIX_LEN_MIN == 4 && PREFIX_LEN_MAX == 12);
// An order is produced in whole chunks, its largest fits the emission's pending budget
// of one participant, and a page of codes holds a chunk.
const _: () = assert!(ORDER_QUANTITY_MAX.is_multiple_of(ORDER_CHUNK));
const _: () = assert!(ORDER_QUANTITY_MAX as u64 <= PENDING_CODES_PER_PARTICIPANT_MAX);
const _: () = assert!(ORDER_PAGE_MAX >= ORDER_CHUNK);
// A range record is a whole number of order chunks.
const _: () = assert!(RANGE_CHUNK.is_multiple_of(ORDER_CHUNK));
// A batch of the writer holds at least one largest document's code writes, and its job
// queue at least one batch.
const _: () = assert!(BATCH_CODES_MAX >= DOC_CODES_MAX);
const _: () = assert!(WRITER_QUEUE_MAX >= BATCH_JOBS_MAX);
// The tail guard's per-code limit is the tightest, the operator's the loosest.
const _: () = assert!(FAILURES_PER_CHECKER_CODE_MAX <= FAILURES_PER_CHECKER_MAX);
const _: () = assert!(FAILURES_PER_CHECKER_MAX <= FAILURES_PER_OPERATOR_MAX);
const _: () = assert!(CHECKER_WINDOW_SECS <= CODE_WINDOW_SECS);
// A page of complaints comes from one scan.
const _: () = assert!(COMPLAINT_PAGE_MAX <= COMPLAINT_SCAN_MAX);
// A projection's back-off starts below its ceiling; a projection that stores its rows
// every flush is never reported behind for the flush alone.
const _: () = assert!(RESTART_BACKOFF_MIN.as_millis() < RESTART_BACKOFF_MAX.as_millis());
const _: () = assert!(FLUSH_INTERVAL_MS * 10 <= BEHIND_MAX_SECS * 1_000);
// A projection's page of the feed fits the page its load reads.
const _: () = assert!(FEED_PAGE_MAX <= LOAD_PAGE_MAX);
