//! The proxy's own text-protocol queries (health checks, GTID look-ups): COM_QUERY with the
//! first result set read whole into strings, for small answers only.
//!
//! ```text
//! COM_QUERY ─▶ ERR                                   ─▶ QueryResult::Err
//!           ─▶ OK                                    ─▶ QueryResult::Rows (no columns)
//!           ─▶ column count, column defs, [EOF]¹,
//!              rows…, EOF¹ or OK with header 0xFE²   ─▶ QueryResult::Rows
//!   (a terminator with MORE_RESULTS_EXISTS: the further results are read and discarded)
//! ¹ without CLIENT_DEPRECATE_EOF   ² with it
//! ```

use super::connection::BackendConn;
use crate::protocol::ProtocolError;
use crate::protocol::command::COM_QUERY;
use crate::protocol::packets::{
    self, ERR_HEADER, LOCAL_INFILE_HEADER, OK_HEADER, Reader, status::MORE_RESULTS_EXISTS,
};

/// Largest packet, and largest whole result, an internal query may return.
const MAX_RESULT: usize = 16 << 20;

/// A text-protocol value that is NULL.
const NULL_VALUE: u8 = 0xFB;

/// The answer to one of the proxy's own queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// The first result set; no columns and no rows for a statement that returns none.
    Rows(Rows),
    /// The server's ERR packet.
    Err { code: u16, message: String },
}

/// Column names and rows of a text result set; each value as text, `None` for NULL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// Index of the column named `name` (ASCII case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    /// The value of column `name` in row `row`; `None` when NULL or absent.
    pub fn get(&self, row: usize, name: &str) -> Option<&str> {
        let i = self.column(name)?;
        self.rows.get(row)?.get(i)?.as_deref()
    }
}

/// One result of a (possibly multi-result) reply, and the status flags that ended it.
struct ResultEnd {
    result: QueryResult,
    status: u16,
}

impl BackendConn {
    /// Runs `sql` with COM_QUERY and returns its first result set or the server's ERR; later
    /// result sets (multi-statements, CALL) are read and discarded. Any protocol error marks
    /// the connection not reusable, and so does dropping the future before it finished.
    pub async fn query_rows(&mut self, sql: &str) -> Result<QueryResult, ProtocolError> {
        let was_reusable = self.reusable;
        // Cleared until the reply has been read to its end: a cancelled call leaves it false.
        self.reusable = false;
        let result = self.query_rows_inner(sql).await;
        if result.is_ok() {
            self.reusable = was_reusable;
        }
        result
    }

    async fn query_rows_inner(&mut self, sql: &str) -> Result<QueryResult, ProtocolError> {
        let mut payload = Vec::with_capacity(1 + sql.len());
        payload.push(COM_QUERY);
        payload.extend_from_slice(sql.as_bytes());
        let mut seq = self.send_command(&payload).await?;
        let mut budget = MAX_RESULT;
        let first = self.read_result(&mut seq, &mut budget, true).await?;
        let mut status = first.status;
        while status & MORE_RESULTS_EXISTS != 0 {
            status = self.read_result(&mut seq, &mut budget, false).await?.status;
        }
        self.reply_read();
        Ok(first.result)
    }

    /// Reads one packet of the reply, counting it against the result's budget.
    async fn next_packet(
        &mut self,
        seq: &mut u8,
        budget: &mut usize,
    ) -> Result<bytes::Bytes, ProtocolError> {
        let (p, last) = self.io.read_packet(*seq, MAX_RESULT).await?;
        *seq = last.wrapping_add(1);
        *budget = budget.checked_sub(p.len()).ok_or(ProtocolError::Malformed(
            "internal query result over 16 MiB",
        ))?;
        Ok(p)
    }

    /// Reads one result (ERR, OK, or a result set) starting at sequence id `seq`; rows are
    /// kept only when `keep`.
    async fn read_result(
        &mut self,
        seq: &mut u8,
        budget: &mut usize,
        keep: bool,
    ) -> Result<ResultEnd, ProtocolError> {
        let first = self.next_packet(seq, budget).await?;
        match first.first().copied() {
            Some(ERR_HEADER) => {
                let (code, _, message) = packets::parse_err(&first)?;
                // An ERR ends the whole reply.
                return Ok(ResultEnd {
                    result: QueryResult::Err { code, message },
                    status: 0,
                });
            }
            Some(OK_HEADER) => {
                let status = packets::Ok::parse(&first, true)?.status;
                self.status = status;
                return Ok(ResultEnd {
                    result: QueryResult::Rows(Rows::default()),
                    status,
                });
            }
            Some(LOCAL_INFILE_HEADER) => {
                return Err(ProtocolError::Malformed("unexpected LOCAL INFILE request"));
            }
            _ => {}
        }
        let count = Reader::new(&first).lenenc_int()?;
        let count = usize::try_from(count).map_err(|_| ProtocolError::Malformed("column count"))?;
        let mut rows = Rows {
            columns: Vec::with_capacity(count.min(4096)),
            rows: Vec::new(),
        };
        for _ in 0..count {
            let def = self.next_packet(seq, budget).await?;
            rows.columns.push(column_name(&def)?);
        }
        let deprecate_eof = self.flavour.deprecate_eof;
        if !deprecate_eof {
            let eof = self.next_packet(seq, budget).await?;
            if !packets::is_terminator(&eof, false) {
                return Err(ProtocolError::Malformed(
                    "expected EOF after column definitions",
                ));
            }
        }
        loop {
            let p = self.next_packet(seq, budget).await?;
            if packets::is_terminator(&p, deprecate_eof) {
                let (_, status) = packets::terminator_fields(&p, deprecate_eof, true)?;
                self.status = status;
                return Ok(ResultEnd {
                    result: QueryResult::Rows(rows),
                    status,
                });
            }
            if p.first() == Some(&ERR_HEADER) {
                // The statement failed while sending rows (killed, out of memory, ...).
                let (code, _, message) = packets::parse_err(&p)?;
                return Ok(ResultEnd {
                    result: QueryResult::Err { code, message },
                    status: 0,
                });
            }
            if keep {
                rows.rows.push(parse_text_row(&p, count)?);
            }
        }
    }
}

/// The `name` (alias) field of a protocol-4.1 column definition.
fn column_name(def: &[u8]) -> Result<String, ProtocolError> {
    let mut r = Reader::new(def);
    for _ in 0..4 {
        r.lenenc_bytes()?; // catalog, schema, table, org_table
    }
    Ok(String::from_utf8_lossy(r.lenenc_bytes()?).into_owned())
}

/// The values of a text-protocol row: length-encoded strings, 0xFB for NULL.
fn parse_text_row(payload: &[u8], columns: usize) -> Result<Vec<Option<String>>, ProtocolError> {
    let mut r = Reader::new(payload);
    let mut row = Vec::with_capacity(columns);
    for _ in 0..columns {
        if r.remaining().first() == Some(&NULL_VALUE) {
            r.u8()?;
            row.push(None);
        } else {
            row.push(Some(
                String::from_utf8_lossy(r.lenenc_bytes()?).into_owned(),
            ));
        }
    }
    if !r.is_empty() {
        return Err(ProtocolError::Malformed("text row longer than its columns"));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::packets::put_lenenc_bytes;

    #[test]
    fn text_row_values_and_nulls() {
        let mut p = Vec::new();
        put_lenenc_bytes(&mut p, b"1");
        p.push(NULL_VALUE);
        put_lenenc_bytes(&mut p, b"");
        put_lenenc_bytes(&mut p, &[b'x'; 300]);
        let row = parse_text_row(&p, 4).expect("row");
        assert_eq!(row[0].as_deref(), Some("1"));
        assert_eq!(row[1], None);
        assert_eq!(row[2].as_deref(), Some(""));
        assert_eq!(row[3].as_ref().map(String::len), Some(300));
        assert!(parse_text_row(&p, 5).is_err(), "short row");
        assert!(parse_text_row(&p, 3).is_err(), "long row");
    }

    #[test]
    fn column_name_is_the_alias() {
        let mut def = Vec::new();
        for f in [&b"def"[..], b"shop", b"t", b"orders", b"alias", b"id"] {
            put_lenenc_bytes(&mut def, f);
        }
        def.extend_from_slice(&[0x0c, 45, 0, 11, 0, 0, 0, 3, 0, 0, 0, 0]);
        assert_eq!(column_name(&def).expect("name"), "alias");
        assert!(column_name(&def[..6]).is_err());
    }

    #[test]
    fn rows_lookup_by_column_name() {
        let rows = Rows {
            columns: vec!["Slave_IO_Running".into(), "Lag".into()],
            rows: vec![vec![Some("Yes".into()), None]],
        };
        assert_eq!(rows.get(0, "slave_io_running"), Some("Yes"));
        assert_eq!(rows.get(0, "Lag"), None);
        assert_eq!(rows.get(1, "Lag"), None);
        assert_eq!(rows.get(0, "missing"), None);
    }
}
