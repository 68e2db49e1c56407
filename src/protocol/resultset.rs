//! Result sets the proxy answers itself (admin statements, session functions): text protocol.

use super::packets::{self, put_lenenc_bytes};

/// utf8mb4_general_ci, the character set of every column the proxy writes.
const COLUMN_COLLATION: u16 = 45;
/// MYSQL_TYPE_VAR_STRING.
const VAR_STRING: u8 = 0xFD;

/// A complete text result set: column count, definitions, an EOF for legacy clients, rows, terminator.
pub fn text_result(
    columns: &[&str],
    rows: &[Vec<Option<String>>],
    deprecate_eof: bool,
    status: u16,
) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(columns.len() + rows.len() + 3);
    let mut count = Vec::new();
    packets::put_lenenc_int(&mut count, columns.len() as u64);
    out.push(count);
    for name in columns {
        out.push(column_definition(name));
    }
    if !deprecate_eof {
        out.push(packets::eof_packet(0, status));
    }
    for row in rows {
        let mut p = Vec::new();
        for value in row {
            match value {
                Some(v) => put_lenenc_bytes(&mut p, v.as_bytes()),
                None => p.push(0xFB),
            }
        }
        out.push(p);
    }
    out.push(packets::terminator(deprecate_eof, 0, status));
    out
}

/// A one-row, one-column result set of a signed BIGINT, as the server answers
/// `SELECT ROW_COUNT()`.
pub fn integer_result(name: &str, value: i64, deprecate_eof: bool, status: u16) -> Vec<Vec<u8>> {
    let mut def = Vec::with_capacity(32 + 2 * name.len());
    for field in [&b"def"[..], b"", b"", b"", name.as_bytes(), b""] {
        put_lenenc_bytes(&mut def, field);
    }
    def.push(0x0C);
    def.extend_from_slice(&63u16.to_le_bytes()); // binary
    def.extend_from_slice(&21u32.to_le_bytes());
    def.push(0x08); // MYSQL_TYPE_LONGLONG
    def.extend_from_slice(&(1u16 | 128 | 32768).to_le_bytes()); // NOT NULL, BINARY, NUM
    def.push(0);
    def.extend_from_slice(&[0, 0]);
    let mut row = Vec::new();
    put_lenenc_bytes(&mut row, value.to_string().as_bytes());
    let mut out = vec![vec![1], def];
    if !deprecate_eof {
        out.push(packets::eof_packet(0, status));
    }
    out.push(row);
    out.push(packets::terminator(deprecate_eof, 0, status));
    out
}

fn column_definition(name: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(32 + 2 * name.len());
    for field in [&b"def"[..], b"", b"", b"", name.as_bytes(), name.as_bytes()] {
        put_lenenc_bytes(&mut p, field);
    }
    p.push(0x0C);
    p.extend_from_slice(&COLUMN_COLLATION.to_le_bytes());
    p.extend_from_slice(&(1024u32 * 4).to_le_bytes());
    p.push(VAR_STRING);
    p.extend_from_slice(&0u16.to_le_bytes()); // flags
    p.push(0); // decimals
    p.extend_from_slice(&[0, 0]);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::{ClientCaps, Expect, ResponseTracker};

    #[test]
    fn the_proxys_own_results_are_well_formed() {
        let rows = vec![vec![Some("a".to_string()), None]];
        for deprecate_eof in [true, false] {
            let packets = text_result(&["x", "y"], &rows, deprecate_eof, 2);
            let caps = ClientCaps {
                deprecate_eof,
                session_track: true,
            };
            let mut t = ResponseTracker::new(Expect::Results, caps, 0);
            for p in &packets {
                assert!(!t.is_done());
                t.feed(p).expect("well formed");
            }
            assert!(t.is_done(), "the tracker sees a complete reply");
        }
    }
}
