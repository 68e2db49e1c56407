//! Binary-protocol rows (the replies to COM_STMT_EXECUTE) for the merge: decoded into the
//! text-form [`Row`] the merge engine works on, encoded back from it, or cut to the visible
//! columns without decoding.
//!
//! A binary row is 0x00, a NULL bitmap whose bits start at offset 2, then the non-NULL values
//! by column type ([`value`]). Decoding then encoding gives back the bytes of a row as servers
//! send it, except a DOUBLE/FLOAT -0 (the text form is `0`) and a DOUBLE/FLOAT with a fixed
//! number of decimals holding more digits than those (the text is rounded): the streaming
//! merges therefore forward the shards' row packets, only the materialising one re-encodes.

mod value;

use std::ops::Range;

use crate::executor::merge::{ColumnDef, MergeError, Row};

use self::value::Layout;

const ROW_HEADER: u8 = 0x00;

/// Bytes of the NULL bitmap of a row of `columns` columns.
fn bitmap_len(columns: usize) -> usize {
    (columns + 7 + 2) / 8
}

fn is_null(bitmap: &[u8], column: usize) -> bool {
    let bit = column + 2;
    bitmap[bit / 8] & (1 << (bit % 8)) != 0
}

fn set_null(bitmap: &mut [u8], column: usize) {
    let bit = column + 2;
    bitmap[bit / 8] |= 1 << (bit % 8);
}

/// Where each column's value lies in the row payload (`None` for NULL).
fn spans(payload: &[u8], columns: &[ColumnDef]) -> Result<Vec<Option<Range<usize>>>, MergeError> {
    let start = 1 + bitmap_len(columns.len());
    if payload.first() != Some(&ROW_HEADER) || payload.len() < start {
        return Err(MergeError::Malformed("bad binary row header"));
    }
    let bitmap = &payload[1..start];
    let mut at = start;
    let mut out = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        if is_null(bitmap, i) {
            out.push(None);
            continue;
        }
        let size = Layout::of(col.column_type).size(&payload[at..])?;
        out.push(Some(at..at + size));
        at += size;
    }
    if at != payload.len() {
        return Err(MergeError::Malformed("binary row longer than its columns"));
    }
    Ok(out)
}

/// The text form of a binary row payload with exactly `columns.len()` values.
pub fn decode(payload: &[u8], columns: &[ColumnDef]) -> Result<Row, MergeError> {
    let spans = spans(payload, columns)?;
    let mut cells = Vec::with_capacity(columns.len());
    for (span, col) in spans.into_iter().zip(columns) {
        cells.push(match span {
            Some(r) => Some(value::to_text(&payload[r], col)?),
            None => None,
        });
    }
    Ok(Row::new(cells))
}

/// The binary row payload of the first `visible` cells of a text-form row.
pub fn encode(row: &Row, columns: &[ColumnDef], visible: usize) -> Result<Vec<u8>, MergeError> {
    let n = visible.min(columns.len()).min(row.cells.len());
    let start = 1 + bitmap_len(n);
    let mut out = vec![0u8; start];
    out[0] = ROW_HEADER;
    for (i, (cell, col)) in row.cells[..n].iter().zip(columns).enumerate() {
        match cell {
            Some(text) => value::from_text(text, col, &mut out)?,
            None => set_null(&mut out[1..start], i),
        }
    }
    Ok(out)
}

/// A binary row payload cut to its first `visible` columns, values copied unchanged.
pub fn cut(payload: &[u8], columns: &[ColumnDef], visible: usize) -> Result<Vec<u8>, MergeError> {
    let spans = spans(payload, columns)?;
    let n = visible.min(columns.len());
    let start = 1 + bitmap_len(n);
    let mut out = vec![0u8; start];
    out[0] = ROW_HEADER;
    for (i, span) in spans.into_iter().take(n).enumerate() {
        match span {
            Some(r) => out.extend_from_slice(&payload[r]),
            None => set_null(&mut out[1..start], i),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
