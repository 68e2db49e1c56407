//! Sharding-key values and the sharding functions (key -> slot -> shard).
//!
//! Pure functions over a [`TableRule`]: [`slot_of`] maps one key literal to its slot,
//! [`slots_between`] the slots an integer interval can touch. A literal that MySQL would
//! compare in a way no single slot can answer is refused with a [`KeyError`], never guessed:
//! a wrong slot would be a silently missing row.

use std::ops::Bound;

use crate::config::{Algorithm, KeyRange, KeyType, TableRule};

/// Most keys [`slots_between`] enumerates for `mod`, `hash` and `suffix`.
pub const MAX_ENUMERATED_KEYS: i128 = 1024;

/// 2^53: larger integers in string literals may be compared as doubles by MySQL.
const MAX_EXACT_DOUBLE: u128 = 1 << 53;

/// A sharding-key literal from a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue<'a> {
    /// A number literal with an integral value (`42`, `-7`, `42.0`).
    Int(i128),
    /// A string literal's content (escapes already resolved).
    Str(&'a str),
}

impl KeyValue<'_> {
    /// A number literal as written: `42`, `-7`, `+3`, `42.0` are integers; `4.5`, `1e3` and
    /// hexadecimal literals are refused ([`KeyError::BadNumber`]; see [`KeyError::for_table`]).
    pub fn from_number(text: &str) -> Result<KeyValue<'static>, KeyError> {
        parse_integer(text)
            .map(KeyValue::Int)
            .ok_or_else(|| KeyError::BadNumber {
                value: shorten(text),
            })
    }
}

/// Why a key literal cannot be mapped to one slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// From [`KeyValue::from_number`], before the table is known.
    #[error(
        "{value} is not an integral number; a sharding key must be an integer literal \
         (or a string holding one)"
    )]
    BadNumber { value: String },
    #[error(
        "table {table}: sharding key {key} = {value} is not an integer; write the key as an \
         integer literal (e.g. 42 or '42') so the statement can be routed to one shard"
    )]
    NotInteger {
        table: String,
        key: String,
        value: String,
    },
    #[error(
        "table {table}: sharding key {key} is a string column but is compared with the number \
         {value}; MySQL would compare numerically (matching '42', '042', ...), so no single \
         shard can be chosen; quote the value"
    )]
    NumberForStringKey {
        table: String,
        key: String,
        value: String,
    },
    #[error(
        "table {table}: sharding key {key} = {value} is not ASCII; with key_case: insensitive \
         the collation also folds accents, so only ASCII keys can be routed (use ASCII keys, \
         or key_case: sensitive with a binary collation)"
    )]
    NotAscii {
        table: String,
        key: String,
        value: String,
    },
    #[error(
        "table {table}: sharding key {key} = {value} is outside every range of the table's \
         rule; add a range covering it to the sharding configuration"
    )]
    OutOfRange {
        table: String,
        key: String,
        value: String,
    },
    #[error(
        "table {table}: sharding key {key} = {value} is a string holding an integer beyond \
         2^53, which MySQL may compare as a floating-point number (matching neighbouring \
         keys); write the key as an integer literal without quotes"
    )]
    ImpreciseString {
        table: String,
        key: String,
        value: String,
    },
    #[error("table {table} has no slots in its sharding rule")]
    NoSlots { table: String },
}

impl KeyError {
    /// Names `rule`'s table and key in a [`KeyError::BadNumber`]; other errors are unchanged.
    pub fn for_table(self, rule: &TableRule) -> KeyError {
        match self {
            KeyError::BadNumber { value } => KeyError::NotInteger {
                table: rule.name.clone(),
                key: rule.key.clone(),
                value,
            },
            other => other,
        }
    }
}

/// The slot of `rule` holding the rows whose key equals `v`.
pub fn slot_of(rule: &TableRule, v: &KeyValue<'_>) -> Result<usize, KeyError> {
    let (table, key) = (rule.name.clone(), rule.key.clone());
    match (rule.key_type, v) {
        (KeyType::Integer, KeyValue::Int(n)) => integer_slot(rule, *n),
        (KeyType::Integer, KeyValue::Str(s)) => match parse_string_integer(s) {
            Some(n) if n.unsigned_abs() <= MAX_EXACT_DOUBLE => integer_slot(rule, n),
            Some(_) => Err(KeyError::ImpreciseString {
                table,
                key,
                value: quoted(s),
            }),
            None => Err(KeyError::NotInteger {
                table,
                key,
                value: quoted(s),
            }),
        },
        (KeyType::String, KeyValue::Int(n)) => Err(KeyError::NumberForStringKey {
            table,
            key,
            value: n.to_string(),
        }),
        (KeyType::String, KeyValue::Str(s)) => string_slot(rule, s),
    }
}

/// The slots that can hold integer keys between `lo` and `hi`, sorted and deduplicated.
/// `None` when the rule cannot narrow the interval (the caller uses every slot).
pub fn slots_between(rule: &TableRule, lo: Bound<i128>, hi: Bound<i128>) -> Option<Vec<usize>> {
    if rule.key_type != KeyType::Integer {
        return None;
    }
    let lo = match lo {
        Bound::Included(n) => Some(n),
        Bound::Excluded(n) => Some(n.checked_add(1)?),
        Bound::Unbounded => None,
    };
    let hi = match hi {
        Bound::Included(n) => Some(n),
        Bound::Excluded(n) => Some(n.checked_sub(1)?),
        Bound::Unbounded => None,
    };
    if let (Some(l), Some(h)) = (lo, hi) {
        if l > h {
            return Some(Vec::new());
        }
    }
    let mut slots = match &rule.algorithm {
        Algorithm::Range(ranges) => ranges_touching(ranges, lo, hi),
        Algorithm::Mod | Algorithm::Hash { .. } | Algorithm::Suffix { .. } => {
            let (l, h) = (lo?, hi?);
            if h.checked_sub(l)? >= MAX_ENUMERATED_KEYS {
                return None;
            }
            let mut slots = Vec::new();
            for key in l..=h {
                slots.push(integer_slot(rule, key).ok()?);
            }
            slots
        }
    };
    slots.sort_unstable();
    slots.dedup();
    Some(slots)
}

/// Slots of the ranges intersecting `[lo, hi]` (`None` = unbounded).
fn ranges_touching(ranges: &[KeyRange], lo: Option<i128>, hi: Option<i128>) -> Vec<usize> {
    ranges
        .iter()
        .filter(|r| {
            let starts_in_time = match (r.from, hi) {
                (Some(from), Some(hi)) => from <= hi,
                _ => true,
            };
            let ends_after = match (r.to, lo) {
                (Some(to), Some(lo)) => lo < to,
                _ => true,
            };
            starts_in_time && ends_after
        })
        .map(|r| r.slot)
        .collect()
}

fn integer_slot(rule: &TableRule, key: i128) -> Result<usize, KeyError> {
    let count = rule.slots.len();
    if count == 0 {
        return Err(KeyError::NoSlots {
            table: rule.name.clone(),
        });
    }
    let in_ranges = |ranges: &[KeyRange], n: i128| {
        let found = ranges.iter().find(|r| r.contains(n)).map(|r| r.slot);
        found.ok_or_else(|| KeyError::OutOfRange {
            table: rule.name.clone(),
            key: rule.key.clone(),
            value: key.to_string(),
        })
    };
    match &rule.algorithm {
        // count <= 10000, so both conversions are exact.
        Algorithm::Mod => Ok(key.rem_euclid(count as i128) as usize),
        Algorithm::Hash { .. } => Ok(crc32_slot(key.to_string().as_bytes(), count)),
        Algorithm::Range(ranges) => in_ranges(ranges, key),
        Algorithm::Suffix { digits, ranges } => {
            let modulus = 10_u128.pow((*digits).min(38));
            // Below 10^38, so it fits an i128.
            in_ranges(ranges, (key.unsigned_abs() % modulus) as i128)
        }
    }
}

fn string_slot(rule: &TableRule, key: &str) -> Result<usize, KeyError> {
    let count = rule.slots.len();
    if count == 0 {
        return Err(KeyError::NoSlots {
            table: rule.name.clone(),
        });
    }
    // PAD SPACE collations ignore trailing spaces: 'abc ' = 'abc'.
    let trimmed = key.trim_end_matches(' ');
    match &rule.algorithm {
        Algorithm::Hash {
            case_insensitive: true,
        } => {
            if !trimmed.is_ascii() {
                return Err(KeyError::NotAscii {
                    table: rule.name.clone(),
                    key: rule.key.clone(),
                    value: quoted(key),
                });
            }
            let lower = trimmed.to_ascii_lowercase();
            Ok(crc32_slot(lower.as_bytes(), count))
        }
        Algorithm::Hash {
            case_insensitive: false,
        } => Ok(crc32_slot(trimmed.as_bytes(), count)),
        // Configuration validation allows string keys only with hash.
        Algorithm::Mod | Algorithm::Range(_) | Algorithm::Suffix { .. } => {
            Err(KeyError::NotInteger {
                table: rule.name.clone(),
                key: rule.key.clone(),
                value: quoted(key),
            })
        }
    }
}

/// `CRC32(bytes) % count`, as MySQL's `CRC32()` computes it.
fn crc32_slot(bytes: &[u8], count: usize) -> usize {
    crc32fast::hash(bytes) as usize % count
}

/// An integer, or an integral decimal (`42.0`, `42.`), with an optional sign.
fn parse_integer(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    let magnitude: i128 = whole.parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A string literal compared with an integer column: MySQL skips leading and trailing
/// whitespace when converting it; anything but an integral number is refused.
fn parse_string_integer(text: &str) -> Option<i128> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    parse_integer(text.trim_matches(is_space))
}

/// A string key for an error message: quoted, at most 64 characters.
fn quoted(s: &str) -> String {
    format!("'{}'", shorten(s))
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
