//! Merging the results of several shards into the answer one server would give.
//!
//! Pure code, no I/O: column definitions and text rows are parsed here, compared by the
//! column's type and collation ([`key`]), merged in order ([`ordered`]) or materialised and
//! recombined ([`materialise`]: GROUP BY, aggregates, HAVING, DISTINCT), and cut to the
//! OFFSET/LIMIT window ([`Window`]). The async driver is `executor::scatter`.

pub mod aggregate;
pub mod collation;
pub mod column;
pub mod format;
pub mod having;
pub mod key;
pub mod materialise;
pub mod ordered;
pub mod row;

pub use column::ColumnDef;
pub use key::{ColumnOrder, Key, RowKey};
pub use materialise::Materialiser;
pub use ordered::OrderedMerge;
pub use row::{Cell, Row};

/// Why shard results cannot be merged into a faithful answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// A column must be compared but its collation's rules are not implemented: merging
    /// would give a different order or grouping than the server.
    #[error(
        "cannot merge on column `{column}`: {}",
        if *collation == column::UNKNOWN_COLLATION {
            "its collation is not known (an expression over columns of different collations, or \
             of a table the proxy did not look up); compare on a plain column"
                .to_string()
        } else {
            format!("collation id {collation} is not supported")
        }
    )]
    UnsupportedCollation { column: String, collation: u16 },
    /// A column must be compared but its type is not understood.
    #[error("cannot merge on column `{column}`: {reason}")]
    UnsupportedColumn {
        column: String,
        reason: &'static str,
    },
    /// A cell does not hold a value of its column's type.
    #[error("column `{column}`: value {value:?} is not a valid {expected}")]
    BadValue {
        column: String,
        value: String,
        expected: &'static str,
    },
    /// A column definition or row packet could not be parsed.
    #[error("malformed shard result: {0}")]
    Malformed(&'static str),
    /// The merge description refers to a column the result does not have.
    #[error("merge refers to column {index}, the result has {columns} columns")]
    NoSuchColumn { index: usize, columns: usize },
    /// Shards answered with different column counts.
    #[error("shards returned {first} and {other} columns")]
    ColumnCountMismatch { first: usize, other: usize },
}

/// OFFSET/LIMIT applied once, to the merged stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    skip: u64,
    left: Option<u64>,
}

/// What to do with the next merged row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Before the OFFSET: drop it.
    Skip,
    /// Inside the window: send it.
    Emit,
    /// The LIMIT is reached: drop it and every row after it.
    Done,
}

impl Window {
    pub fn new(offset: u64, limit: Option<u64>) -> Self {
        Window {
            skip: offset,
            left: limit,
        }
    }

    /// Decides the fate of the next row and advances.
    pub fn admit(&mut self) -> Admit {
        if self.left == Some(0) {
            return Admit::Done;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return Admit::Skip;
        }
        if let Some(left) = &mut self.left {
            *left -= 1;
        }
        Admit::Emit
    }

    /// No row can be emitted any more.
    pub fn is_done(&self) -> bool {
        self.left == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_skips_then_emits_then_stops() {
        let mut w = Window::new(2, Some(2));
        let got: Vec<Admit> = (0..6).map(|_| w.admit()).collect();
        use Admit::*;
        assert_eq!(got, [Skip, Skip, Emit, Emit, Done, Done]);
        assert!(w.is_done());
        let mut unlimited = Window::new(0, None);
        assert!((0..100).all(|_| unlimited.admit() == Emit));
        assert_eq!(Window::new(5, Some(0)).admit(), Done);
    }
}
