//! Text-protocol rows: one length-encoded string per column, 0xFB for NULL.

use super::MergeError;
use crate::protocol::packets::{Reader, put_lenenc_bytes};

/// One cell: `None` is SQL NULL.
pub type Cell = Option<Vec<u8>>;

/// A text-protocol row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
}

const NULL_CELL: u8 = 0xFB;

impl Row {
    pub fn new(cells: Vec<Cell>) -> Self {
        Row { cells }
    }

    /// Parses a row packet payload holding exactly `columns` cells.
    pub fn parse(payload: &[u8], columns: usize) -> Result<Self, MergeError> {
        let mut r = Reader::new(payload);
        let mut cells = Vec::with_capacity(columns);
        for _ in 0..columns {
            if r.remaining().first() == Some(&NULL_CELL) {
                r.u8().map_err(|_| MergeError::Malformed("bad row"))?;
                cells.push(None);
            } else {
                let v = r
                    .lenenc_bytes()
                    .map_err(|_| MergeError::Malformed("row shorter than its columns"))?;
                cells.push(Some(v.to_vec()));
            }
        }
        if !r.is_empty() {
            return Err(MergeError::Malformed("row longer than its columns"));
        }
        Ok(Row { cells })
    }

    /// The cell at `i` as bytes (`None` for NULL or a column the row lacks).
    pub fn cell(&self, i: usize) -> Option<&[u8]> {
        self.cells.get(i).and_then(|c| c.as_deref())
    }

    /// Encodes the first `columns` cells as a row packet payload.
    pub fn encode(&self, columns: usize) -> Vec<u8> {
        let cells = &self.cells[..columns.min(self.cells.len())];
        let size: usize = cells
            .iter()
            .map(|c| c.as_ref().map_or(1, |v| v.len() + 9))
            .sum();
        let mut out = Vec::with_capacity(size);
        for cell in cells {
            match cell {
                Some(v) => put_lenenc_bytes(&mut out, v),
                None => out.push(NULL_CELL),
            }
        }
        out
    }

    /// Keeps only the first `columns` cells.
    pub fn truncate(&mut self, columns: usize) {
        self.cells.truncate(columns);
    }
}

/// A row from string literals (tests).
#[cfg(test)]
pub fn row(cells: &[Option<&str>]) -> Row {
    Row::new(
        cells
            .iter()
            .map(|c| c.map(|s| s.as_bytes().to_vec()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_nulls_empty_and_long_values() {
        let long = "x".repeat(300);
        let r = row(&[Some("a"), None, Some(""), Some(&long)]);
        let p = r.encode(4);
        assert_eq!(&p[..4], &[1, b'a', 0xFB, 0]);
        assert_eq!(Row::parse(&p, 4).expect("parse"), r);
        assert_eq!(Row::parse(&r.encode(2), 2).expect("parse").cells.len(), 2);
    }

    #[test]
    fn wrong_cell_counts_are_errors() {
        let p = row(&[Some("a"), Some("b")]).encode(2);
        assert!(Row::parse(&p, 1).is_err());
        assert!(Row::parse(&p, 3).is_err());
        assert!(Row::parse(&[0xFC, 1], 1).is_err());
    }
}
