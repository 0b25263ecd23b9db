//! The error type of the crate.

use crate::ai::Ai;

/// Why some GS1 data was rejected. Every variant carries context (which AI, which byte
/// position of the input) and [`Gs1Error::reason`] gives a stable snake_case word for
/// logs, metrics and API answers.
///
/// Positions are 0-based byte offsets into the input that was parsed (for values added
/// with [`crate::ElementString::push`], offsets into that value); messages count
/// characters from 1, as a person reading the code does (`pos` 15 is "character 16").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Gs1Error {
    /// The input holds no GS1 data at all.
    #[error("empty input: no GS1 data")]
    Empty,
    /// The digits at `pos` are not an Application Identifier of the GS1 table.
    #[error("unknown application identifier ({ai}) at character {}", .pos + 1)]
    UnknownAi {
        /// The digits read (up to 4, or fewer at the end of the input).
        ai: String,
        /// Byte position of the AI.
        pos: usize,
    },
    /// A value is shorter or longer than its AI allows.
    #[error("AI ({ai}) at character {}: value has {len} characters, expected {}", .pos + 1, len_range(*.min, *.max))]
    BadLength {
        /// The AI.
        ai: Ai,
        /// Byte position of the value.
        pos: usize,
        /// Length found.
        len: usize,
        /// Minimum allowed.
        min: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("{}: {ch:?} at character {} is not allowed (expected {expected})", ai_ctx(.ai), .pos + 1)]
    BadCharacter {
        /// The AI whose value holds the character (`None`: URI or framing level).
        ai: Option<Ai>,
        /// Byte position of the character.
        pos: usize,
        /// The offending character.
        ch: char,
        /// Name of the allowed set.
        expected: &'static str,
    },
    /// The mod-10 check digit does not match.
    #[error("AI ({ai}): bad check digit {found} at character {}, expected {expected}", .pos + 1)]
    BadCheckDigit {
        /// The AI.
        ai: Ai,
        /// Byte position of the check digit.
        pos: usize,
        /// The check digit computed from the other digits.
        expected: u8,
        /// The check digit found.
        found: u8,
    },
    /// The input does not have the shape of any supported form.
    #[error("bad format at character {}: {what}", .pos + 1)]
    BadFormat {
        /// Byte position where the problem was seen.
        pos: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A date or time component is not a valid date/time.
    #[error("AI ({ai}): {value:?} at character {} is not a valid date/time", .pos + 1)]
    BadDate {
        /// The AI.
        ai: Ai,
        /// Byte position of the date component.
        pos: usize,
        /// The component's text.
        value: String,
    },
    /// An AI occurs twice.
    #[error("AI ({ai}) occurs more than once (again at character {})", .pos + 1)]
    DuplicateAi {
        /// The AI.
        ai: Ai,
        /// Byte position of the second occurrence.
        pos: usize,
    },
}

fn len_range(min: usize, max: usize) -> String {
    if min == max {
        format!("exactly {min}")
    } else {
        format!("{min} to {max}")
    }
}

fn ai_ctx(ai: &Option<Ai>) -> String {
    match ai {
        Some(ai) => format!("AI ({ai})"),
        None => "input".to_owned(),
    }
}

impl Gs1Error {
    /// A stable snake_case word for the kind of error: `empty`, `unknown_ai`,
    /// `bad_length`, `bad_character`, `bad_check_digit`, `bad_format`, `bad_date`,
    /// `duplicate_ai`.
    pub fn reason(&self) -> &'static str {
        match self {
            Gs1Error::Empty => "empty",
            Gs1Error::UnknownAi { .. } => "unknown_ai",
            Gs1Error::BadLength { .. } => "bad_length",
            Gs1Error::BadCharacter { .. } => "bad_character",
            Gs1Error::BadCheckDigit { .. } => "bad_check_digit",
            Gs1Error::BadFormat { .. } => "bad_format",
            Gs1Error::BadDate { .. } => "bad_date",
            Gs1Error::DuplicateAi { .. } => "duplicate_ai",
        }
    }
}
