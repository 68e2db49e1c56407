//! One shard's reply to a scattered query, read packet by packet: the header (column count,
//! definitions, EOF for legacy clients), then rows up to the terminator or an ERR.

use bytes::Bytes;

use crate::backend::connection::BackendConn;
use crate::executor::ExecError;
use crate::protocol::ProtocolError;
use crate::protocol::packets::{self, ERR_HEADER, OK_HEADER, Reader};

/// Largest packet read whole from a shard (the backends' max_allowed_packet ceiling).
const MAX_PACKET: usize = 1 << 30;

/// How a shard's reply starts.
pub enum Header {
    /// A result set: the raw column definitions.
    Columns(Vec<Bytes>),
    /// The statement failed: the ERR packet.
    Err(Bytes),
    /// An OK instead of a result set (not a query whose rows can be merged).
    Ok,
}

/// The next thing in a shard's rows.
pub enum Next {
    Row(Bytes),
    /// The terminator was read: the reply is complete.
    End,
    /// An ERR in place of a row: the reply is complete.
    Err(Bytes),
}

/// A shard connection with a reply being read.
pub struct Shard<'c> {
    pub name: &'c str,
    pub conn: &'c mut BackendConn,
    /// Sequence id of the next packet from the backend.
    seq: u8,
    /// The whole reply was read.
    pub done: bool,
    /// Status flags and warnings of the reply's last EOF/terminator/OK.
    pub status: u16,
    pub warnings: u16,
    deprecate_eof: bool,
}

impl<'c> Shard<'c> {
    /// A connection whose command was sent; its reply starts at sequence id `seq`.
    pub fn new(name: &'c str, conn: &'c mut BackendConn, seq: u8, deprecate_eof: bool) -> Self {
        let status = conn.status;
        Shard {
            name,
            conn,
            seq,
            done: false,
            status,
            warnings: 0,
            deprecate_eof,
        }
    }

    /// The reply was read to its end.
    fn finished(&mut self) {
        self.done = true;
        self.conn.reply_read();
    }

    fn lost(&mut self, source: ProtocolError, partial: bool) -> ExecError {
        self.conn.reusable = false;
        self.done = true;
        ExecError::Lost {
            backend: self.name.to_string(),
            source,
            partial,
        }
    }

    async fn read(&mut self, partial: bool) -> Result<Bytes, ExecError> {
        match self.conn.io.read_packet(self.seq, MAX_PACKET).await {
            Ok((p, last)) if !p.is_empty() => {
                self.seq = last.wrapping_add(1);
                Ok(p)
            }
            Ok(_) => Err(self.lost(ProtocolError::Malformed("empty packet"), partial)),
            Err(e) => Err(self.lost(e, partial)),
        }
    }

    /// Reads the start of the reply, up to the first row.
    pub async fn header(&mut self, partial: bool) -> Result<Header, ExecError> {
        let first = self.read(partial).await?;
        match first[0] {
            ERR_HEADER => {
                self.finished();
                return Ok(Header::Err(first));
            }
            OK_HEADER => {
                let ok = packets::Ok::parse(&first, true).map_err(|e| self.lost(e, partial))?;
                self.status = ok.status;
                self.warnings = ok.warnings;
                self.finished();
                if ok.status & packets::status::MORE_RESULTS_EXISTS != 0 {
                    return Err(self.lost(
                        ProtocolError::Malformed("several results to a scattered query"),
                        partial,
                    ));
                }
                return Ok(Header::Ok);
            }
            _ => {}
        }
        let count = Reader::new(&first)
            .lenenc_int()
            .map_err(|e| self.lost(e, partial))?;
        let mut defs = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            defs.push(self.read(partial).await?);
        }
        if !self.deprecate_eof {
            let eof = self.read(partial).await?;
            if !packets::is_terminator(&eof, false) {
                let e = ProtocolError::Malformed("expected EOF after column definitions");
                return Err(self.lost(e, partial));
            }
            let (warnings, status) =
                packets::terminator_fields(&eof, false, true).map_err(|e| self.lost(e, partial))?;
            self.warnings = warnings;
            self.status = status;
        }
        Ok(Header::Columns(defs))
    }

    /// Reads the next row (after the header).
    pub async fn next(&mut self, partial: bool) -> Result<Next, ExecError> {
        if self.done {
            return Ok(Next::End);
        }
        let p = self.read(partial).await?;
        if p[0] == ERR_HEADER {
            self.finished();
            return Ok(Next::Err(p));
        }
        if !packets::is_terminator(&p, self.deprecate_eof) {
            return Ok(Next::Row(p));
        }
        let (warnings, status) = packets::terminator_fields(&p, self.deprecate_eof, true)
            .map_err(|e| self.lost(e, partial))?;
        self.warnings = warnings;
        self.status = status;
        self.finished();
        if status & packets::status::MORE_RESULTS_EXISTS != 0 {
            let e = ProtocolError::Malformed("several results to a scattered query");
            return Err(self.lost(e, partial));
        }
        self.conn.status = status;
        Ok(Next::End)
    }

    /// Reads and discards the rest of the reply; returns an ERR that ended it, if any.
    pub async fn drain(&mut self, partial: bool) -> Result<Option<Bytes>, ExecError> {
        while !self.done {
            if let Next::Err(p) = self.next(partial).await? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}
