//! Local hours and days, and the windows queries give (see the crate's documentation for
//! the rule).
//!
//! Time indexes are whole hours (or days) since 1970-01-01 00:00 *on the clock they are
//! counted by*: a local hour index is the region's wall-clock hour, a UTC hour index the
//! instant's.

use crate::QueryError;
use jiff::tz::TimeZone;
use jiff::Timestamp;

const HOUR_SECS: i64 = 3_600;
const DAY_SECS: i64 = 86_400;

/// Saturates an index into `i32` (hours since 1970 fit until the year 246,000).
fn idx(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

fn offset_secs(tz: &TimeZone, unix: i64) -> i64 {
    match Timestamp::from_second(unix) {
        Ok(ts) => i64::from(tz.to_offset(ts).seconds()),
        Err(_) => 0,
    }
}

/// The local hour index of an instant (Unix seconds) in `tz`.
pub(crate) fn local_hour(tz: &TimeZone, unix: i64) -> i32 {
    idx((unix + offset_secs(tz, unix)).div_euclid(HOUR_SECS))
}

/// The UTC hour index of the instant local hour `hour` starts at in `tz` (the offset
/// looked up twice: once near, once at the instant, which settles it away from a zone
/// change). A function of the local hour alone, so the roll-ups rebuilt from stored rows
/// equal those built live.
pub(crate) fn utc_hour_of_local(tz: &TimeZone, hour: i32) -> i32 {
    let local = i64::from(hour) * HOUR_SECS;
    let o1 = offset_secs(tz, local);
    let o2 = offset_secs(tz, local - o1);
    idx((local - o2).div_euclid(HOUR_SECS))
}

/// `YYYY-MM-DD` of a day index.
pub(crate) fn day_key(day: i32) -> String {
    match Timestamp::from_second(i64::from(day) * DAY_SECS) {
        Ok(ts) => ts.to_zoned(TimeZone::UTC).date().to_string(),
        Err(_) => format!("day{day}"),
    }
}

/// `YYYY-MM-DDTHH` of a local hour index.
pub(crate) fn hour_key(hour: i32) -> String {
    format!(
        "{}T{:02}",
        day_key(hour.div_euclid(24)),
        hour.rem_euclid(24)
    )
}

/// One end of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A local day (index since 1970-01-01): its midnight in each region.
    Day(i32),
    /// An instant.
    Instant(Timestamp),
}

/// A time window: `from` inclusive, `to` exclusive, either absent; both of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive).
    pub from: Option<Bound>,
    /// End (exclusive).
    pub to: Option<Bound>,
}

/// The cells a window selects in a series of mixed zones.
pub(crate) enum MixedRange {
    /// Everything.
    All,
    /// Local days `[lo, hi)`.
    Days(Option<i32>, Option<i32>),
    /// UTC hours `[lo, hi)`.
    UtcHours(Option<i32>, Option<i32>),
}

fn parse_bound(field: &'static str, s: &str) -> Result<Option<Bound>, QueryError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || QueryError::Time {
        field,
        given: s.chars().take(64).collect(),
    };
    if s.len() == 10 {
        let d: jiff::civil::Date = s.parse().map_err(|_| bad())?;
        let z = d.to_zoned(TimeZone::UTC).map_err(|_| bad())?;
        return Ok(Some(Bound::Day(idx(z
            .timestamp()
            .as_second()
            .div_euclid(DAY_SECS)))));
    }
    // RFC 3339 with an offset (`Z` or ±hh:mm): jiff refuses a time without one.
    let ts: Timestamp = s.parse().map_err(|_| bad())?;
    Ok(Some(Bound::Instant(ts)))
}

/// The first whole `unit` (seconds) at or after `unix` + `nanos`, as an index.
fn ceil_index(unix: i64, nanos: i32, unit: i64) -> i32 {
    let up = i64::from(nanos > 0);
    let s = unix + up;
    idx(s.div_euclid(unit) + i64::from(s.rem_euclid(unit) != 0))
}

impl Window {
    /// Parses `from` and `to` (absent or empty: unbounded).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Window, QueryError> {
        let from = from.map(|s| parse_bound("from", s)).transpose()?.flatten();
        let to = to.map(|s| parse_bound("to", s)).transpose()?.flatten();
        if matches!(
            (from, to),
            (Some(Bound::Day(_)), Some(Bound::Instant(_)))
                | (Some(Bound::Instant(_)), Some(Bound::Day(_)))
        ) {
            return Err(QueryError::MixedBounds);
        }
        Ok(Window { from, to })
    }

    /// Everything.
    pub fn all() -> Window {
        Window::default()
    }

    fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// A bound as a local hour index in `tz` (an instant moves up to the next whole hour).
    fn local_hour(b: Bound, tz: &TimeZone) -> i32 {
        match b {
            Bound::Day(d) => d.saturating_mul(24),
            Bound::Instant(ts) => {
                let s = ts.as_second();
                ceil_index(s + offset_secs(tz, s), ts.subsec_nanosecond(), HOUR_SECS)
            }
        }
    }

    /// The local hours `[lo, hi)` the window selects in `tz`.
    pub(crate) fn local_hours(&self, tz: &TimeZone) -> (Option<i32>, Option<i32>) {
        (
            self.from.map(|b| Self::local_hour(b, tz)),
            self.to.map(|b| Self::local_hour(b, tz)),
        )
    }

    /// The local days `[lo, hi)` the window selects in `tz` (an instant moves up to the
    /// next local midnight).
    pub(crate) fn local_days(&self, tz: &TimeZone) -> (Option<i32>, Option<i32>) {
        let day = |b: Bound| match b {
            Bound::Day(d) => d,
            Bound::Instant(ts) => {
                let s = ts.as_second();
                ceil_index(s + offset_secs(tz, s), ts.subsec_nanosecond(), DAY_SECS)
            }
        };
        (self.from.map(day), self.to.map(day))
    }

    /// What the window selects in a series of mixed zones.
    pub(crate) fn mixed(&self) -> MixedRange {
        if self.is_all() {
            return MixedRange::All;
        }
        match (self.from, self.to) {
            (Some(Bound::Day(_)), _) | (_, Some(Bound::Day(_))) => {
                let d = |b: Option<Bound>| match b {
                    Some(Bound::Day(d)) => Some(d),
                    _ => None,
                };
                MixedRange::Days(d(self.from), d(self.to))
            }
            _ => {
                let h = |b: Option<Bound>| match b {
                    Some(Bound::Instant(ts)) => Some(ceil_index(
                        ts.as_second(),
                        ts.subsec_nanosecond(),
                        HOUR_SECS,
                    )),
                    _ => None,
                };
                MixedRange::UtcHours(h(self.from), h(self.to))
            }
        }
    }
}
