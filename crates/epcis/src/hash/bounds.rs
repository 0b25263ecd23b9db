//! What keeps the hash of a hostile event bounded: its shape checked before any work (depth,
//! number of values), a budget for what the canonical form may grow to, and an index that
//! finds the vocabulary IRIs a bare word may stand for without scanning them all.

use super::{HashError, MAX_EVENT_DEPTH, MAX_EVENT_VALUES, MAX_PRE_HASH_BYTES};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Refuses an event nested deeper than [`MAX_EVENT_DEPTH`] or holding more than
/// [`MAX_EVENT_VALUES`] JSON values, walking it without recursion (the hash's own passes
/// recurse, one level per level of nesting).
pub(super) fn check_shape(event: &Value) -> Result<(), HashError> {
    let mut stack: Vec<(&Value, usize)> = vec![(event, 1)];
    let mut values = 0usize;
    while let Some((value, depth)) = stack.pop() {
        values += 1;
        if values > MAX_EVENT_VALUES {
            return Err(HashError::TooManyValues {
                max: MAX_EVENT_VALUES,
            });
        }
        if depth > MAX_EVENT_DEPTH {
            return Err(HashError::TooDeep {
                max: MAX_EVENT_DEPTH,
            });
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// What is left of [`MAX_PRE_HASH_BYTES`] as the canonical form is built: names and texts
/// are taken from it as they are made, so a repetition the canonical form multiplies (a
/// long key or namespace repeated for each item of a list, a number written out in full)
/// stops before it is allocated.
pub(super) struct Budget {
    left: usize,
}

impl Budget {
    pub(super) fn new() -> Budget {
        Budget {
            left: MAX_PRE_HASH_BYTES,
        }
    }

    /// Takes `bytes`, or refuses with [`HashError::TooLarge`] when fewer are left.
    pub(super) fn take(&mut self, bytes: usize) -> Result<(), HashError> {
        self.left = self.left.checked_sub(bytes).ok_or(HashError::TooLarge {
            max: MAX_PRE_HASH_BYTES,
        })?;
        Ok(())
    }
}

/// Vocabulary IRIs ordered by their reversed bytes, so that those ending with a given
/// suffix are one range found by binary search (the reference scans them all for every
/// value: the square of a document's values).
#[derive(Debug, Clone, Default)]
pub(super) struct Expansions {
    by_suffix: Vec<String>,
}

/// `a` against `b` read from their ends.
fn cmp_reversed(a: &str, b: &str) -> Ordering {
    a.bytes().rev().cmp(b.bytes().rev())
}

impl Expansions {
    pub(super) fn from_set(set: BTreeSet<String>) -> Expansions {
        let mut by_suffix: Vec<String> = set.into_iter().collect();
        by_suffix.sort_by(|a, b| cmp_reversed(a, b));
        Expansions { by_suffix }
    }

    pub(super) fn contains(&self, iri: &str) -> bool {
        self.by_suffix
            .binary_search_by(|x| cmp_reversed(x, iri))
            .is_ok()
    }

    /// The IRIs ending with `separator` and then `word` (`-shipping`, `/shipping`).
    pub(super) fn ending_with(&self, separator: u8, word: &str) -> &[String] {
        let ends = |x: &String| {
            x.len() > word.len()
                && x.ends_with(word)
                && x.as_bytes()[x.len() - word.len() - 1] == separator
        };
        // The suffix's bytes from its end: the word's reversed, then the separator.
        let suffix = || word.bytes().rev().chain(std::iter::once(separator));
        let below = |x: &String| x.bytes().rev().cmp(suffix()) == Ordering::Less;
        let lo = self.by_suffix.partition_point(below);
        let hi = lo + self.by_suffix[lo..].partition_point(ends);
        &self.by_suffix[lo..hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_ranges() {
        let set: BTreeSet<String> = ["a-x", "b/x", "c-xx", "d-y", "x", "-x", "zz-x"]
            .into_iter()
            .map(String::from)
            .collect();
        let index = Expansions::from_set(set);
        assert_eq!(index.ending_with(b'-', "x"), ["-x", "a-x", "zz-x"]);
        assert_eq!(index.ending_with(b'/', "x"), ["b/x"]);
        assert_eq!(index.ending_with(b'-', "xx"), ["c-xx"]);
        assert!(index.ending_with(b'-', "z").is_empty());
        assert!(index.ending_with(b'-', "").is_empty());
        assert!(index.contains("d-y") && !index.contains("d-"));
    }
}
