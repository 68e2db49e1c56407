//! Column definitions of a shard's result set: parsed for the fields the merge needs, with the
//! raw payload kept to forward to the client unchanged.

use super::MergeError;
use crate::protocol::packets::Reader;

/// MySQL column type codes the merge distinguishes.
pub mod types {
    pub const DECIMAL: u8 = 0x00;
    pub const TINY: u8 = 0x01;
    pub const SHORT: u8 = 0x02;
    pub const LONG: u8 = 0x03;
    pub const FLOAT: u8 = 0x04;
    pub const DOUBLE: u8 = 0x05;
    pub const NULL: u8 = 0x06;
    pub const TIMESTAMP: u8 = 0x07;
    pub const LONGLONG: u8 = 0x08;
    pub const INT24: u8 = 0x09;
    pub const DATE: u8 = 0x0A;
    pub const TIME: u8 = 0x0B;
    pub const DATETIME: u8 = 0x0C;
    pub const YEAR: u8 = 0x0D;
    pub const NEWDATE: u8 = 0x0E;
    pub const VARCHAR: u8 = 0x0F;
    pub const BIT: u8 = 0x10;
    pub const TIMESTAMP2: u8 = 0x11;
    pub const DATETIME2: u8 = 0x12;
    pub const TIME2: u8 = 0x13;
    pub const JSON: u8 = 0xF5;
    pub const NEWDECIMAL: u8 = 0xF6;
    pub const ENUM: u8 = 0xF7;
    pub const SET: u8 = 0xF8;
    pub const TINY_BLOB: u8 = 0xF9;
    pub const BLOB: u8 = 0xFC;
    pub const VAR_STRING: u8 = 0xFD;
    pub const STRING: u8 = 0xFE;
    pub const GEOMETRY: u8 = 0xFF;
}

/// Column flags the merge looks at.
pub mod flags {
    pub const UNSIGNED: u16 = 0x0020;
    pub const ENUM: u16 = 0x0100;
    pub const SET: u16 = 0x0800;
}

/// The `decimals` value of a column whose values have no fixed number of fraction digits.
pub const NOT_FIXED_DEC: u8 = 31;

/// A collation id no collation has: the column's real collation is not known.
pub const UNKNOWN_COLLATION: u16 = 0;

/// One column definition (protocol 4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// The packet as the shard sent it.
    pub raw: Vec<u8>,
    /// The column's name (alias) in the select list.
    pub name: String,
    /// The physical table and column a plain column reference comes from (empty for
    /// expressions).
    pub org_table: String,
    pub org_name: String,
    /// Character set / collation id of the values as sent.
    pub collation: u16,
    pub length: u32,
    pub column_type: u8,
    pub flags: u16,
    pub decimals: u8,
}

impl ColumnDef {
    /// Parses a column definition packet payload.
    pub fn parse(payload: &[u8]) -> Result<Self, MergeError> {
        let bad = |_| MergeError::Malformed("bad column definition");
        let mut r = Reader::new(payload);
        let (mut name, mut org_table, mut org_name) = (&[][..], &[][..], &[][..]);
        for i in 0..6 {
            let field = r.lenenc_bytes().map_err(bad)?;
            match i {
                3 => org_table = field,
                4 => name = field,
                5 => org_name = field,
                _ => {}
            }
        }
        if r.lenenc_int().map_err(bad)? < 0x0c {
            return Err(MergeError::Malformed("short column definition"));
        }
        let collation = r.u16().map_err(bad)?;
        let length = r.u32().map_err(bad)?;
        let column_type = r.u8().map_err(bad)?;
        let flags = r.u16().map_err(bad)?;
        let decimals = r.u8().map_err(bad)?;
        Ok(ColumnDef {
            raw: payload.to_vec(),
            name: String::from_utf8_lossy(name).into_owned(),
            org_table: String::from_utf8_lossy(org_table).into_owned(),
            org_name: String::from_utf8_lossy(org_name).into_owned(),
            collation,
            length,
            column_type,
            flags,
            decimals,
        })
    }

    /// True for FLOAT and DOUBLE columns.
    pub fn is_float(&self) -> bool {
        matches!(self.column_type, types::FLOAT | types::DOUBLE)
    }

    /// True for integer, decimal and floating-point columns.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.column_type,
            types::TINY
                | types::SHORT
                | types::LONG
                | types::LONGLONG
                | types::INT24
                | types::YEAR
                | types::DECIMAL
                | types::NEWDECIMAL
                | types::FLOAT
                | types::DOUBLE
        )
    }
}

/// Text column types (their order and equality follow a collation).
pub fn is_text_type(column_type: u8) -> bool {
    matches!(
        column_type,
        types::VARCHAR
            | types::VAR_STRING
            | types::STRING
            | types::TINY_BLOB
            | 0xFA
            | 0xFB
            | types::BLOB
            | types::ENUM
            | types::SET
            | types::JSON
    )
}

/// The real collation of table columns. Column definitions carry the result character set's
/// default collation, not the column's (a `utf8mb4_bin` column arrives as 45,
/// utf8mb4_general_ci), so the proxy looks the columns up in information_schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnCollations {
    /// (physical table, lower-case column name) → collation id.
    pub by_column: std::collections::HashMap<(String, String), u16>,
}

impl ColumnCollations {
    /// The one collation every looked-up text column has, if they agree.
    fn uniform(&self) -> Option<u16> {
        let mut ids = self.by_column.values();
        let first = *ids.next()?;
        ids.all(|id| *id == first).then_some(first)
    }

    /// Sets each text column's collation to its real one. An expression's collation derives
    /// from its inputs: known only when every looked-up column has the collation the server
    /// reported; otherwise it becomes [`UNKNOWN_COLLATION`] (the merge refuses to compare it).
    pub fn apply(&self, columns: &mut [ColumnDef], sources: &[(usize, String)]) {
        let uniform = self.uniform();
        for col in columns.iter_mut() {
            if !is_text_type(col.column_type) || col.collation == 63 {
                continue;
            }
            let key = (col.org_table.clone(), col.org_name.to_ascii_lowercase());
            match self.by_column.get(&key) {
                Some(id) => col.collation = *id,
                None if uniform == Some(col.collation) => {}
                None => col.collation = UNKNOWN_COLLATION,
            }
        }
        // MIN/MAX of a column: that column's collation, when every table that has a column
        // of that name agrees on it.
        for (index, name) in sources {
            let Some(col) = columns.get_mut(*index) else {
                continue;
            };
            if col.collation != UNKNOWN_COLLATION {
                continue;
            }
            let mut ids = self
                .by_column
                .iter()
                .filter(|((_, c), _)| c == name)
                .map(|(_, id)| *id);
            if let Some(first) = ids.next()
                && ids.all(|id| id == first)
            {
                col.collation = first;
            }
        }
    }
}

/// Builds a column definition payload (tests, and results the merge invents).
pub fn encode(name: &str, collation: u16, column_type: u8, flags: u16, decimals: u8) -> Vec<u8> {
    use crate::protocol::packets::put_lenenc_bytes;
    let mut p = Vec::with_capacity(32 + 2 * name.len());
    for field in [&b"def"[..], b"", b"", b"", name.as_bytes(), name.as_bytes()] {
        put_lenenc_bytes(&mut p, field);
    }
    p.push(0x0C);
    p.extend_from_slice(&collation.to_le_bytes());
    p.extend_from_slice(&255u32.to_le_bytes());
    p.push(column_type);
    p.extend_from_slice(&flags.to_le_bytes());
    p.push(decimals);
    p.extend_from_slice(&[0, 0]);
    p
}

/// A parsed definition for tests.
#[cfg(test)]
pub fn test_column(
    name: &str,
    collation: u16,
    column_type: u8,
    flags: u16,
    decimals: u8,
) -> ColumnDef {
    match ColumnDef::parse(&encode(name, collation, column_type, flags, decimals)) {
        Ok(c) => c,
        Err(e) => panic!("test column: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_and_keeps_the_payload() {
        let raw = encode("total", 63, types::NEWDECIMAL, flags::UNSIGNED | 1, 2);
        let c = ColumnDef::parse(&raw).expect("parse");
        assert_eq!(c.name, "total");
        assert_eq!(c.collation, 63);
        assert_eq!(c.column_type, types::NEWDECIMAL);
        assert_eq!(c.flags, flags::UNSIGNED | 1);
        assert_eq!(c.decimals, 2);
        assert_eq!(c.raw, raw);
        assert!(c.is_numeric() && !c.is_float());
    }

    #[test]
    fn truncated_definitions_are_errors() {
        let raw = encode("x", 45, types::VAR_STRING, 0, 0);
        for cut in [0, 5, raw.len() - 6] {
            assert!(ColumnDef::parse(&raw[..cut]).is_err(), "cut at {cut}");
        }
    }
}
