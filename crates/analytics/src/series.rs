//! Time series of counts: sorted vectors of (time index, units), ~8 bytes a non-empty hour.
//!
//! Sorted vectors rather than trees: facts arrive nearly in time order, so an add is
//! almost always an append or a bump of the last cell, and a range sum is two binary
//! searches and a slice walk.

/// A count in one cell: hourly cells are `u32` (no seller sells 4 billion units of one
/// GTIN in an hour), daily roll-ups `u64`.
pub(crate) trait Cell: Copy + Default {
    /// Adds, saturating (a count never wraps).
    fn plus(self, n: u32) -> Self;
    /// As u64.
    fn get(self) -> u64;
}

impl Cell for u32 {
    fn plus(self, n: u32) -> u32 {
        self.saturating_add(n)
    }
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Cell for u64 {
    fn plus(self, n: u32) -> u64 {
        self.saturating_add(u64::from(n))
    }
    fn get(self) -> u64 {
        self
    }
}

/// Units per time index (an hour or a day number since 1970-01-01), sorted by index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Series<C: Cell = u32> {
    cells: Vec<(i32, C)>,
    total: u64,
}

impl<C: Cell> Series<C> {
    /// Adds `n` units at `t`.
    pub(crate) fn add(&mut self, t: i32, n: u32) {
        self.total = self.total.saturating_add(u64::from(n));
        match self.cells.last_mut() {
            Some((last, c)) if *last == t => *c = c.plus(n),
            Some((last, _)) if *last < t => self.cells.push((t, C::default().plus(n))),
            None => self.cells.push((t, C::default().plus(n))),
            Some(_) => match self.cells.binary_search_by_key(&t, |&(i, _)| i) {
                Ok(i) => self.cells[i].1 = self.cells[i].1.plus(n),
                Err(i) => self.cells.insert(i, (t, C::default().plus(n))),
            },
        }
    }

    /// The cell at `t`.
    pub(crate) fn get(&self, t: i32) -> u64 {
        self.cells
            .binary_search_by_key(&t, |&(i, _)| i)
            .map_or(0, |i| self.cells[i].1.get())
    }

    /// Everything.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The cells with `lo <= t < hi` (`None`: unbounded).
    pub(crate) fn range(&self, lo: Option<i32>, hi: Option<i32>) -> &[(i32, C)] {
        let a = lo.map_or(0, |lo| self.cells.partition_point(|&(i, _)| i < lo));
        let b = hi.map_or(self.cells.len(), |hi| {
            self.cells.partition_point(|&(i, _)| i < hi)
        });
        if a >= b {
            &[]
        } else {
            &self.cells[a..b]
        }
    }

    /// Units with `lo <= t < hi`.
    pub(crate) fn sum(&self, lo: Option<i32>, hi: Option<i32>) -> u64 {
        if lo.is_none() && hi.is_none() {
            return self.total;
        }
        self.range(lo, hi).iter().map(|&(_, c)| c.get()).sum()
    }
}

/// A series across regions: by local day (for date windows) and by the UTC hour each local
/// hour starts in (for timestamp windows), since a mix of zones has no one local hour that
/// maps to an instant.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mixed {
    pub(crate) days: Series<u64>,
    pub(crate) utc_hours: Series<u32>,
}

impl Mixed {
    /// Adds `n` units at local day `day`, UTC hour `utc`.
    pub(crate) fn add(&mut self, day: i32, utc: i32, n: u32) {
        self.days.add(day, n);
        self.utc_hours.add(utc, n);
    }
}
