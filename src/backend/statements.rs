//! Prepared statements the proxy keeps on a pooled connection, shared by every session that
//! borrows it: prepared lazily the first time a session executes them there, looked up by SQL
//! text, bounded, and closed on the server when evicted.

use std::collections::HashMap;
use std::sync::Arc;

use super::connection::BackendConn;
use crate::protocol::packets::{self, ERR_HEADER, OK_HEADER};
use crate::protocol::{ProtocolError, command};

/// Most statements kept per connection; beyond it the least recently used one is closed.
pub const MAX_STATEMENTS_PER_CONNECTION: usize = 256;

/// A statement prepared on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnStatement {
    pub id: u32,
    pub params: u16,
    last_used: u64,
}

/// SQL text → statement prepared on this connection.
#[derive(Debug, Default)]
pub struct StatementCache {
    map: HashMap<Arc<[u8]>, ConnStatement>,
    clock: u64,
}

impl StatementCache {
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The statement for `sql` on this connection, if prepared here.
    pub fn get(&mut self, sql: &[u8]) -> Option<ConnStatement> {
        self.clock += 1;
        let now = self.clock;
        self.map.get_mut(sql).map(|s| {
            s.last_used = now;
            *s
        })
    }

    /// Adds a statement the client prepared through the proxy on this connection; returns the
    /// ids to close on the server (an older copy of the same text, or the evicted one).
    pub fn remember(&mut self, sql: Arc<[u8]>, id: u32, params: u16) -> Vec<u32> {
        let mut close: Vec<u32> = self.map.remove(&sql).map(|s| s.id).into_iter().collect();
        close.extend(self.insert(sql, id, params));
        close
    }

    /// Adds a statement; returns the id of one to close if the cache was full.
    fn insert(&mut self, sql: Arc<[u8]>, id: u32, params: u16) -> Option<u32> {
        let evicted = if self.map.len() >= MAX_STATEMENTS_PER_CONNECTION {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, s)| (Arc::clone(k), s.id));
            oldest.map(|(k, id)| {
                self.map.remove(&k);
                id
            })
        } else {
            None
        };
        self.clock += 1;
        let last_used = self.clock;
        self.map.insert(
            sql,
            ConnStatement {
                id,
                params,
                last_used,
            },
        );
        evicted
    }
}

/// Outcome of preparing on a connection.
pub enum Prepared {
    Ready(ConnStatement),
    /// The server refused the statement: its ERR packet.
    Refused(Vec<u8>),
}

impl BackendConn {
    /// The statement for `sql` on this connection, preparing it (and reading the definitions
    /// the server sends back) if needed.
    pub async fn prepared(&mut self, sql: &Arc<[u8]>) -> Result<Prepared, ProtocolError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(Prepared::Ready(s));
        }
        let mut p = Vec::with_capacity(1 + sql.len());
        p.push(command::COM_STMT_PREPARE);
        p.extend_from_slice(sql);
        let mut seq = self.send_command(&p).await?;
        let reply = self.read_reply(&mut seq).await?;
        match reply.first().copied() {
            Some(OK_HEADER) if reply.len() >= 9 => {
                let id = u32::from_le_bytes([reply[1], reply[2], reply[3], reply[4]]);
                let cols = u16::from_le_bytes([reply[5], reply[6]]);
                let params = u16::from_le_bytes([reply[7], reply[8]]);
                // Parameter and column definitions, each block followed by an EOF unless
                // the connection deprecates EOF.
                let eofs = if self.flavour.deprecate_eof {
                    0
                } else {
                    u32::from(params > 0) + u32::from(cols > 0)
                };
                for _ in 0..(u32::from(params) + u32::from(cols) + eofs) {
                    self.read_reply(&mut seq).await?;
                }
                self.reply_read();
                if let Some(old) = self.statements.insert(Arc::clone(sql), id, params) {
                    let mut close = vec![command::COM_STMT_CLOSE];
                    close.extend_from_slice(&old.to_le_bytes());
                    self.send_command(&close).await?;
                }
                Ok(Prepared::Ready(ConnStatement {
                    id,
                    params,
                    last_used: 0,
                }))
            }
            Some(ERR_HEADER) => {
                self.reply_read();
                Ok(Prepared::Refused(reply.to_vec()))
            }
            _ => {
                self.reusable = false;
                Err(ProtocolError::Malformed("bad COM_STMT_PREPARE reply"))
            }
        }
    }

    async fn read_reply(&mut self, seq: &mut u8) -> Result<bytes::Bytes, ProtocolError> {
        match self.io.read_packet(*seq, 16 << 20).await {
            Ok((p, last)) => {
                *seq = last.wrapping_add(1);
                Ok(p)
            }
            Err(e) => {
                self.reusable = false;
                Err(e)
            }
        }
    }
}

/// The parts of a COM_STMT_EXECUTE packet the proxy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execute<'a> {
    /// A cursor was requested (the rows then come through COM_STMT_FETCH on this connection).
    pub cursor: bool,
    /// The packet carries the parameter types (new-params-bound flag).
    pub types: Option<&'a [u8]>,
}

/// Reads the flags and parameter types of a COM_STMT_EXECUTE for a statement with `params`.
pub fn parse_execute(payload: &[u8], params: u16) -> Result<Execute<'_>, ProtocolError> {
    let mut r = packets::Reader::new(payload);
    r.bytes(5)?; // command, statement id
    let flags = r.u8()?;
    r.u32()?; // iteration count
    let types = if params > 0 {
        r.bytes(usize::from(params).div_ceil(8))?;
        match r.u8()? {
            1 => Some(r.bytes(2 * usize::from(params))?),
            _ => None,
        }
    } else {
        None
    };
    Ok(Execute {
        cursor: flags & 0x07 != 0,
        types,
    })
}

/// The execute packet for `stmt_id`, with `types` filled in when the client left them out
/// (a statement prepared anew on this connection has not seen them).
pub fn execute_for(payload: &[u8], stmt_id: u32, params: u16, types: &[u8]) -> Option<Vec<u8>> {
    let mut out = command::with_stmt_id(payload, stmt_id);
    if params == 0 {
        return Some(out);
    }
    let flag_at = 10 + usize::from(params).div_ceil(8);
    match out.get(flag_at) {
        Some(1) => Some(out),
        Some(0) if types.len() == 2 * usize::from(params) => {
            out[flag_at] = 1;
            out.splice(flag_at + 1..flag_at + 1, types.iter().copied());
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// COM_STMT_EXECUTE of statement 7 with two params (types given or not), values "ab".
    fn execute(bound: bool) -> Vec<u8> {
        let mut p = vec![command::COM_STMT_EXECUTE, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0b00];
        p.push(u8::from(bound));
        if bound {
            p.extend_from_slice(&[0xFD, 0, 0x08, 0]);
        }
        p.extend_from_slice(b"\x01a\x08\x00\x00\x00\x00\x00\x00\x00");
        p
    }

    #[test]
    fn execute_is_parsed() {
        let packet = execute(true);
        let e = parse_execute(&packet, 2).expect("parse");
        assert_eq!(e.types, Some(&[0xFD, 0, 0x08, 0][..]));
        assert!(!e.cursor);
        assert_eq!(
            parse_execute(&execute(false), 2).expect("parse").types,
            None
        );
        assert!(parse_execute(&[0x17, 1, 0], 2).is_err());
    }

    #[test]
    fn types_are_filled_in_for_a_fresh_statement() {
        let filled = execute_for(&execute(false), 9, 2, &[0xFD, 0, 0x08, 0]).expect("filled");
        let mut want = execute(true);
        want[1] = 9;
        assert_eq!(filled, want);
        assert_eq!(
            execute_for(&execute(true), 9, 2, &[]).map(|p| p[1]),
            Some(9)
        );
        assert_eq!(
            execute_for(&execute(false), 9, 2, &[]),
            None,
            "no types known"
        );
    }

    #[test]
    fn the_cache_evicts_the_least_recently_used() {
        let mut c = StatementCache::default();
        let sql = |i: usize| -> Arc<[u8]> { format!("SELECT {i}").into_bytes().into() };
        for i in 0..MAX_STATEMENTS_PER_CONNECTION {
            assert_eq!(c.insert(sql(i), i as u32, 0), None);
        }
        assert!(c.get(&sql(0)).is_some(), "touch the first one");
        assert_eq!(
            c.insert(sql(999), 999, 0),
            Some(1),
            "statement 1 is now the oldest"
        );
    }
}
