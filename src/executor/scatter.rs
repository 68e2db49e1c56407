//! Scatter-gather: one query sent to several shards at once, their result sets merged into the
//! one a single server would return (plain union, k-way ordered merge, or a materialising
//! merge for GROUP BY / aggregates / DISTINCT), as described by the router's `MergeSpec`.
//!
//! Streaming cases keep at most one row per shard in memory. When the LIMIT is reached early
//! the remaining rows are still read and discarded so every connection stays in sync (KILL
//! QUERY on the shards would be faster). Shards are read one after the other for a union and
//! a materialising merge; all of them run the query concurrently since it is sent to every
//! shard before any reply is read.
//!
//! The query is either text (COM_QUERY, text-protocol rows) or a prepared statement's
//! COM_STMT_EXECUTE (binary-protocol rows, decoded to text for the merge by [`binary`]).

mod binary;
mod shard;
mod strategy;

use bytes::Bytes;
use tokio::net::TcpStream;

use self::shard::{Header, Shard};
use super::ExecError;
use super::merge::column::ColumnCollations;
use super::merge::ordered::RowOrder;
use super::merge::{ColumnDef, MergeError, Row};
use crate::backend::connection::BackendConn;
use crate::protocol::PacketIo;
use crate::protocol::packets::{self, status};
use crate::router::shard::plan::MergeSpec;

/// What is sent to each shard connection, one entry per connection.
#[derive(Debug, Clone, Copy)]
pub enum Command<'a> {
    /// SQL texts run with COM_QUERY; the shards reply with text-protocol rows.
    Text(&'a [String]),
    /// Complete COM_STMT_EXECUTE payloads, each addressed to its connection's own statement
    /// id; the shards reply with binary-protocol rows, and so does the merged result.
    Binary(&'a [Vec<u8>]),
}

impl Command<'_> {
    fn len(&self) -> usize {
        match self {
            Command::Text(sqls) => sqls.len(),
            Command::Binary(packets) => packets.len(),
        }
    }

    fn is_binary(&self) -> bool {
        matches!(self, Command::Binary(_))
    }

    /// The command packet payload for connection `i`.
    fn payload(&self, i: usize) -> Vec<u8> {
        match self {
            Command::Text(sqls) => {
                let sql = sqls[i].as_bytes();
                let mut payload = Vec::with_capacity(1 + sql.len());
                payload.push(0x03);
                payload.extend_from_slice(sql);
                payload
            }
            Command::Binary(packets) => packets[i].clone(),
        }
    }
}

/// How a scattered query ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScatterOutcome {
    /// Status flags sent to the client: the union of the shards' IN_TRANS and AUTOCOMMIT.
    pub status: u16,
    /// Warnings summed over the shards.
    pub warnings: u16,
    /// The client got an ERR (a shard's, or the proxy's when the results cannot be merged).
    pub failed: bool,
    /// Each connection's final status flags, in the order of `conns`.
    pub conn_status: Vec<u16>,
    /// Rows sent to the client (what `FOUND_ROWS()` returns afterwards).
    pub rows: u64,
}

/// Sends command `i` to `conns[i]` (all before reading any reply), merges the results per
/// `spec` and writes one result set to the client, in the command's row protocol, whose
/// reply sequence ids start at `client_seq`. On an ERR from a shard, the first ERR is
/// forwarded unchanged after every other reply was read to its end. `deprecate_eof` is the
/// client's (and the connections') CLIENT_DEPRECATE_EOF.
pub async fn scatter_query(
    client: &mut PacketIo<TcpStream>,
    client_seq: u8,
    conns: &mut [(&str, &mut BackendConn)],
    command: Command<'_>,
    spec: &MergeSpec,
    collations: &ColumnCollations,
    deprecate_eof: bool,
) -> Result<ScatterOutcome, ExecError> {
    let binary = command.is_binary();
    if conns.len() != command.len() || conns.is_empty() {
        let mut run = Run {
            client,
            seq: client_seq,
            partial: false,
            deprecate_eof,
            binary,
            rows: 0,
        };
        let e = MergeError::Malformed("one statement per shard connection needed");
        return run.refuse(&mut [], e).await;
    }
    let mut shards = Vec::with_capacity(conns.len());
    let mut send_error = None;
    for (i, (name, conn)) in conns.iter_mut().enumerate() {
        match super::passthrough::send(conn, name, &command.payload(i)).await {
            Ok(seq) => shards.push(Shard::new(name, conn, seq, deprecate_eof)),
            Err(e) => {
                conn.reusable = false;
                send_error = Some(e);
                break;
            }
        }
    }
    let mut run = Run {
        client,
        seq: client_seq,
        partial: false,
        deprecate_eof,
        binary,
        rows: 0,
    };
    let result = match send_error {
        Some(e) => Err(e),
        None => run.execute(&mut shards, spec, collations).await,
    };
    if result.is_err() {
        // Replies not read to their end leave their connections unusable.
        for s in shards.iter_mut().filter(|s| !s.done) {
            s.conn.reusable = false;
        }
    }
    let mut outcome = result?;
    for s in &mut shards {
        s.conn.status = s.status;
    }
    outcome.conn_status = shards.iter().map(|s| s.status).collect();
    Ok(outcome)
}

/// The client side of one scattered query.
struct Run<'a> {
    client: &'a mut PacketIo<TcpStream>,
    seq: u8,
    /// Something reached the client.
    partial: bool,
    deprecate_eof: bool,
    /// Rows are binary-protocol rows, in and out.
    binary: bool,
    /// Rows sent so far.
    rows: u64,
}

impl Run<'_> {
    async fn execute(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        collations: &ColumnCollations,
    ) -> Result<ScatterOutcome, ExecError> {
        let mut first_err: Option<Bytes> = None;
        let mut defs: Option<Vec<Bytes>> = None;
        let mut problem: Option<MergeError> = None;
        for s in shards.iter_mut() {
            match s.header(false).await? {
                Header::Err(p) => {
                    first_err.get_or_insert(p);
                }
                Header::Ok => {
                    problem.get_or_insert(MergeError::Malformed("a shard returned no result set"));
                }
                Header::Columns(d) => match &defs {
                    Some(first) if first.len() != d.len() => {
                        problem.get_or_insert(MergeError::ColumnCountMismatch {
                            first: first.len(),
                            other: d.len(),
                        });
                    }
                    Some(_) => {}
                    None => defs = Some(d),
                },
            }
        }
        if let Some(err) = first_err {
            return self.fail(shards, err).await;
        }
        if let Some(e) = problem {
            return self.refuse(shards, e).await;
        }
        let Some(raw) = defs else {
            let e = MergeError::Malformed("no shard to query");
            return self.refuse(shards, e).await;
        };
        // `SELECT *`: the column count is known only now.
        let Some(resolved) = spec.resolve(raw.len()) else {
            let e = MergeError::NoSuchColumn {
                index: spec.wildcard_hidden.unwrap_or_default(),
                columns: raw.len(),
            };
            return self.refuse(shards, e).await;
        };
        let spec = &resolved;
        let columns = match raw
            .iter()
            .map(|d| ColumnDef::parse(d))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(mut c) if spec.visible <= c.len() && spec.visible > 0 => {
                collations.apply(&mut c, &spec.sources);
                c
            }
            Ok(c) => {
                let e = MergeError::NoSuchColumn {
                    index: spec.visible,
                    columns: c.len(),
                };
                return self.refuse(shards, e).await;
            }
            Err(e) => return self.refuse(shards, e).await,
        };
        if spec.materialises() {
            self.materialise(shards, spec, &columns).await
        } else if spec.order_by.is_empty() {
            self.union(shards, spec, &columns).await
        } else {
            match RowOrder::new(&spec.order_by, &columns) {
                Ok(order) => self.ordered(shards, spec, &columns, order).await,
                Err(e) => self.refuse(shards, e).await,
            }
        }
    }

    fn flags(shards: &[Shard<'_>]) -> (u16, u16) {
        let status = shards.iter().fold(0, |acc, s| {
            acc | (s.status & (status::IN_TRANS | status::AUTOCOMMIT))
        });
        let warnings = shards
            .iter()
            .fold(0u16, |acc, s| acc.saturating_add(s.warnings));
        (status, warnings)
    }

    async fn flush_if_full(&mut self) -> Result<(), ExecError> {
        self.client.flush_if_full().await.map_err(ExecError::Client)
    }

    /// Column count, the visible definitions, and an EOF for legacy clients.
    fn header(&mut self, columns: &[ColumnDef], visible: usize, shards: &[Shard<'_>]) {
        let mut count = Vec::with_capacity(9);
        packets::put_lenenc_int(&mut count, visible as u64);
        self.client.write_packet(&mut self.seq, &count);
        for c in &columns[..visible] {
            self.client.write_packet(&mut self.seq, &c.raw);
        }
        if !self.deprecate_eof {
            let (status, warnings) = Self::flags(shards);
            let eof = packets::eof_packet(warnings, status);
            self.client.write_packet(&mut self.seq, &eof);
        }
        self.partial = true;
    }

    /// A shard's row packet in the merge's text form.
    fn parse(&self, p: &[u8], columns: &[ColumnDef]) -> Result<Row, MergeError> {
        if self.binary {
            binary::decode(p, columns)
        } else {
            Row::parse(p, columns.len())
        }
    }

    /// The row packet of a merged row cut to the visible columns.
    fn encode(
        &self,
        row: &Row,
        columns: &[ColumnDef],
        visible: usize,
    ) -> Result<Vec<u8>, MergeError> {
        if self.binary {
            binary::encode(row, columns, visible)
        } else {
            Ok(row.encode(visible))
        }
    }

    /// A shard's row packet cut to the visible columns (unchanged when nothing is hidden).
    fn cut(&self, p: Bytes, columns: &[ColumnDef], visible: usize) -> Result<Bytes, MergeError> {
        if visible >= columns.len() {
            Ok(p)
        } else if self.binary {
            binary::cut(&p, columns, visible).map(Bytes::from)
        } else {
            Row::parse(&p, columns.len()).map(|r| Bytes::from(r.encode(visible)))
        }
    }

    /// Sends one row packet.
    async fn send(&mut self, p: &[u8]) -> Result<(), ExecError> {
        self.client.write_packet(&mut self.seq, p);
        self.rows += 1;
        self.flush_if_full().await
    }

    /// Ends a result set: drains the shards, then the terminator (or the first ERR).
    async fn end(
        &mut self,
        shards: &mut [Shard<'_>],
        mut err: Option<Bytes>,
    ) -> Result<ScatterOutcome, ExecError> {
        for s in shards.iter_mut() {
            if let Some(p) = s.drain(self.partial).await? {
                err.get_or_insert(p);
            }
        }
        let (status, warnings) = Self::flags(shards);
        let failed = err.is_some();
        match err {
            Some(p) => {
                crate::metrics::error_sent(&p);
                self.client.write_packet(&mut self.seq, &p)
            }
            None => {
                let t = packets::terminator(self.deprecate_eof, warnings, status);
                self.client.write_packet(&mut self.seq, &t);
            }
        }
        self.client.flush().await.map_err(ExecError::Client)?;
        Ok(ScatterOutcome {
            status,
            warnings,
            failed,
            conn_status: Vec::new(),
            rows: self.rows,
        })
    }

    /// A shard failed: forward its ERR once every reply is read.
    async fn fail(
        &mut self,
        shards: &mut [Shard<'_>],
        err: Bytes,
    ) -> Result<ScatterOutcome, ExecError> {
        self.end(shards, Some(err)).await
    }

    /// The results cannot be merged faithfully: the statement is refused with ERR 1105.
    async fn refuse(
        &mut self,
        shards: &mut [Shard<'_>],
        e: MergeError,
    ) -> Result<ScatterOutcome, ExecError> {
        tracing::debug!(error = %e, "scatter merge refused");
        let msg = format!("shardgate: cannot merge the shards' results: {e}");
        let err = Bytes::from(packets::err_packet(1105, "HY000", &msg));
        self.end(shards, Some(err)).await
    }
}
