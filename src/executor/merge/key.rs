//! Comparable keys of cells: each cell becomes a [`Key`] according to its column's type and
//! collation, so that ordering, grouping and MIN/MAX agree with the server. NULL is the
//! smallest key (first ascending, last descending, as in MySQL).

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::BigDecimal;

use super::MergeError;
use super::collation::{Collation, pad_space_cmp};
use super::column::{ColumnDef, flags, types};

/// How one column's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integers, signed or unsigned (and YEAR).
    Integer,
    /// DECIMAL: exact.
    Decimal,
    /// FLOAT/DOUBLE.
    Float,
    /// DATE/DATETIME/TIMESTAMP: the text (fixed width within one column).
    Temporal,
    /// TIME: `[-]H:MM:SS[.ffffff]`, hours may exceed 24.
    Time,
    /// Strings, by collation (binary for BIT, GEOMETRY and binary strings).
    Text(Collation),
}

/// The comparison rules of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOrder {
    pub kind: Kind,
    pub name: String,
    /// ENUM/SET: the server sorts these by their position in the definition, not by text.
    pub enum_or_set: bool,
}

/// A cell made comparable.
#[derive(Debug, Clone)]
pub enum Key {
    Null,
    Int(i128),
    Decimal(BigDecimal),
    /// Never NaN; -0 is stored as 0.
    Float(f64),
    Bytes(Vec<u8>),
    /// Weights with trailing spaces removed, compared PAD SPACE.
    Padded(Vec<u32>),
}

impl ColumnOrder {
    /// The rules for a column, or an error when its type or collation is not handled.
    pub fn for_column(col: &ColumnDef) -> Result<Self, MergeError> {
        use types::*;
        let kind = match col.column_type {
            TINY | SHORT | LONG | LONGLONG | INT24 | YEAR => Kind::Integer,
            DECIMAL | NEWDECIMAL => Kind::Decimal,
            FLOAT | DOUBLE => Kind::Float,
            TIMESTAMP | DATE | DATETIME | NEWDATE | TIMESTAMP2 | DATETIME2 => Kind::Temporal,
            TIME | TIME2 => Kind::Time,
            BIT | GEOMETRY | NULL => Kind::Text(Collation::Binary),
            VARCHAR | JSON | ENUM | SET | TINY_BLOB..=STRING => {
                Kind::Text(Collation::from_id(col.collation).ok_or_else(|| {
                    MergeError::UnsupportedCollation {
                        column: col.name.clone(),
                        collation: col.collation,
                    }
                })?)
            }
            _ => {
                return Err(MergeError::UnsupportedColumn {
                    column: col.name.clone(),
                    reason: "unknown column type",
                });
            }
        };
        Ok(ColumnOrder {
            kind,
            name: col.name.clone(),
            enum_or_set: col.flags & (flags::ENUM | flags::SET) != 0
                || matches!(col.column_type, ENUM | SET),
        })
    }

    /// The key of one cell of this column.
    pub fn key(&self, cell: Option<&[u8]>) -> Result<Key, MergeError> {
        let Some(v) = cell else {
            return Ok(Key::Null);
        };
        let bad = |expected| MergeError::BadValue {
            column: self.name.clone(),
            value: String::from_utf8_lossy(v).into_owned(),
            expected,
        };
        let text = || std::str::from_utf8(v).map_err(|_| bad("text"));
        Ok(match self.kind {
            Kind::Integer => Key::Int(text()?.parse().map_err(|_| bad("integer"))?),
            Kind::Decimal => Key::Decimal(parse_decimal(text()?).ok_or_else(|| bad("decimal"))?),
            Kind::Float => Key::Float(parse_float(text()?).ok_or_else(|| bad("float"))?),
            Kind::Temporal => Key::Bytes(v.to_vec()),
            Kind::Time => Key::Int(parse_time(text()?).ok_or_else(|| bad("time"))?),
            Kind::Text(Collation::Binary) => Key::Bytes(v.to_vec()),
            Kind::Text(c) => Key::Padded(c.weights(v).ok_or_else(|| bad("ASCII string"))?),
        })
    }

    /// True for integer, decimal and floating-point columns.
    pub fn is_numeric(&self) -> bool {
        matches!(self.kind, Kind::Integer | Kind::Decimal | Kind::Float)
    }
}

/// Parses a decimal number as a server prints it.
pub fn parse_decimal(s: &str) -> Option<BigDecimal> {
    if s.is_empty() || s.contains(['e', 'E']) {
        return None;
    }
    BigDecimal::from_str(s).ok()
}

/// Parses a double as a server prints it; -0 becomes 0.
pub fn parse_float(s: &str) -> Option<f64> {
    let f: f64 = s.parse().ok()?;
    if f.is_nan() {
        return None;
    }
    Some(if f == 0.0 { 0.0 } else { f })
}

/// A TIME value in microseconds.
fn parse_time(s: &str) -> Option<i128> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = whole.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || frac.len() > 6 {
        return None;
    }
    let num = |p: &str| -> Option<i128> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let micros = if frac.is_empty() {
        0
    } else {
        num(frac)? * 10i128.pow(6 - frac.len() as u32)
    };
    let total = ((num(h)? * 60 + num(m)?) * 60 + num(sec)?) * 1_000_000 + micros;
    Some(if negative { -total } else { total })
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        use Key::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Less,
            (_, Null) => Ordering::Greater,
            (Int(a), Int(b)) => a.cmp(b),
            (Decimal(a), Decimal(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Padded(a), Padded(b)) => pad_space_cmp(a, b),
            // One column always yields one variant; keep the order total regardless.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Null => 0,
            Key::Int(_) => 1,
            Key::Decimal(_) => 2,
            Key::Float(_) => 3,
            Key::Bytes(_) => 4,
            Key::Padded(_) => 5,
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

/// The sort key of a row: one key per ORDER BY column, each ascending or descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey(pub Vec<(Key, bool)>);

impl Ord for RowKey {
    fn cmp(&self, other: &Self) -> Ordering {
        for ((a, desc), (b, _)) in self.0.iter().zip(&other.0) {
            let o = a.cmp(b);
            if o.is_ne() {
                return if *desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::merge::column::test_column;

    fn order(t: u8, collation: u16, flags: u16) -> ColumnOrder {
        ColumnOrder::for_column(&test_column("c", collation, t, flags, 0)).expect("order")
    }

    fn cmp(o: &ColumnOrder, a: Option<&str>, b: Option<&str>) -> Ordering {
        let k = |c: Option<&str>| o.key(c.map(str::as_bytes)).expect("key");
        k(a).cmp(&k(b))
    }

    #[test]
    fn numbers_compare_numerically_strings_by_text() {
        use Ordering::*;
        let int = order(types::LONG, 63, 0);
        assert_eq!(cmp(&int, Some("10"), Some("9")), Greater);
        assert_eq!(cmp(&int, Some("-10"), Some("9")), Less);
        let unsigned = order(types::LONGLONG, 63, flags::UNSIGNED);
        assert_eq!(
            cmp(&unsigned, Some("18446744073709551615"), Some("1")),
            Greater
        );
        let text = order(types::VAR_STRING, 45, 0);
        assert_eq!(cmp(&text, Some("10"), Some("9")), Less);
        let dec = order(types::NEWDECIMAL, 63, 0);
        assert_eq!(cmp(&dec, Some("1.50"), Some("1.5")), Equal);
        assert_eq!(cmp(&dec, Some("-0.01"), Some("0.00")), Less);
        let dbl = order(types::DOUBLE, 63, 0);
        assert_eq!(cmp(&dbl, Some("1e20"), Some("99999")), Greater);
        assert_eq!(cmp(&dbl, Some("-0"), Some("0")), Equal);
    }

    #[test]
    fn null_is_smallest() {
        let int = order(types::LONG, 63, 0);
        assert_eq!(cmp(&int, None, Some("-99")), Ordering::Less);
        assert_eq!(cmp(&int, None, None), Ordering::Equal);
        let desc = RowKey(vec![(Key::Null, true)]);
        assert!(
            desc > RowKey(vec![(Key::Int(1), true)]),
            "NULL last descending"
        );
    }

    #[test]
    fn time_is_numeric_and_may_be_negative_or_long() {
        let t = order(types::TIME, 63, 0);
        assert_eq!(cmp(&t, Some("-01:00:00"), Some("00:00:00")), Ordering::Less);
        assert_eq!(
            cmp(&t, Some("100:00:00"), Some("99:59:59")),
            Ordering::Greater
        );
        assert_eq!(
            cmp(&t, Some("-838:00:00"), Some("-01:00:00")),
            Ordering::Less
        );
        assert_eq!(
            cmp(&t, Some("00:00:01.5"), Some("00:00:01.25")),
            Ordering::Greater
        );
        assert!(t.key(Some(b"12:xx:00")).is_err());
    }

    #[test]
    fn collations_decide_text_order() {
        let ci = order(types::VAR_STRING, 45, 0);
        assert_eq!(cmp(&ci, Some("abc"), Some("ABC ")), Ordering::Equal);
        assert_eq!(cmp(&ci, Some("b"), Some("A")), Ordering::Greater);
        let bin = order(types::VAR_STRING, 46, 0);
        assert_eq!(cmp(&bin, Some("b"), Some("A")), Ordering::Greater);
        assert_eq!(cmp(&bin, Some("a"), Some("A")), Ordering::Greater);
        let binary = order(types::BLOB, 63, 0);
        assert_eq!(
            cmp(&binary, Some("a"), Some("a ")),
            Ordering::Less,
            "binary has no padding"
        );
    }

    #[test]
    fn unknown_collation_names_the_column() {
        let e = ColumnOrder::for_column(&test_column("city", 255, types::VAR_STRING, 0, 0));
        assert_eq!(
            e,
            Err(MergeError::UnsupportedCollation {
                column: "city".into(),
                collation: 255
            })
        );
    }

    #[test]
    fn row_keys_honour_direction_per_column() {
        let a = RowKey(vec![(Key::Int(1), false), (Key::Int(5), true)]);
        let b = RowKey(vec![(Key::Int(1), false), (Key::Int(7), true)]);
        let c = RowKey(vec![(Key::Int(2), false), (Key::Int(9), true)]);
        assert!(b < a && a < c);
    }
}
