//! Scatter-gather: one query sent to several shards at once, their result sets merged into the
//! one a single server would return (plain union, k-way ordered merge, or a materialising
//! merge for GROUP BY / aggregates / DISTINCT), as described by the router's `MergeSpec`.
//!
//! Streaming cases keep at most one row per shard in memory. When the LIMIT is reached early
//! the remaining rows are still read and discarded so every connection stays in sync (KILL
//! QUERY on the shards would be faster). Shards are read one after the other for a union and
//! a materialising merge; all of them run the query concurrently since it is sent to every
//! shard before any reply is read.

mod shard;

use bytes::Bytes;
use tokio::net::TcpStream;

use self::shard::{Header, Next, Shard};
use super::ExecError;
use super::merge::ordered::RowOrder;
use super::merge::{Admit, ColumnDef, Materialiser, MergeError, OrderedMerge, Row, Window};
use crate::backend::connection::BackendConn;
use crate::protocol::PacketIo;
use crate::protocol::packets::{self, status};
use crate::router::shard::plan::MergeSpec;

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
}

/// Sends `sqls[i]` to `conns[i]` (all before reading any reply), merges the results per
/// `spec` and writes one result set to the client, whose reply sequence ids start at
/// `client_seq`. On an ERR from a shard, the first ERR is forwarded unchanged after every
/// other reply was read to its end. `deprecate_eof` is the client's (and the connections')
/// CLIENT_DEPRECATE_EOF.
pub async fn scatter_query(
    client: &mut PacketIo<TcpStream>,
    client_seq: u8,
    conns: &mut [(&str, &mut BackendConn)],
    sqls: &[String],
    spec: &MergeSpec,
    deprecate_eof: bool,
) -> Result<ScatterOutcome, ExecError> {
    if conns.len() != sqls.len() || conns.is_empty() {
        let mut run = Run {
            client,
            seq: client_seq,
            partial: false,
            deprecate_eof,
        };
        let e = MergeError::Malformed("one statement per shard connection needed");
        return run.refuse(&mut [], e).await;
    }
    let mut shards = Vec::with_capacity(conns.len());
    let mut send_error = None;
    for ((name, conn), sql) in conns.iter_mut().zip(sqls) {
        let mut payload = Vec::with_capacity(1 + sql.len());
        payload.push(0x03);
        payload.extend_from_slice(sql.as_bytes());
        match super::passthrough::send(conn, name, &payload).await {
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
    };
    let result = match send_error {
        Some(e) => Err(e),
        None => run.execute(&mut shards, spec).await,
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
}

impl Run<'_> {
    async fn execute(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
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
            Ok(c) if spec.visible <= c.len() && spec.visible > 0 => c,
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

    /// Sends one merged row cut to the visible columns.
    async fn row(&mut self, row: &Row, visible: usize) -> Result<(), ExecError> {
        self.client
            .write_packet(&mut self.seq, &row.encode(visible));
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
            Some(p) => self.client.write_packet(&mut self.seq, &p),
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

    /// No ORDER BY, no grouping: each shard's rows in turn, within the window.
    async fn union(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        columns: &[ColumnDef],
    ) -> Result<ScatterOutcome, ExecError> {
        self.header(columns, spec.visible, shards);
        let mut window = Window::new(spec.offset, spec.limit);
        let cut = spec.visible < columns.len();
        for i in 0..shards.len() {
            while !window.is_done() {
                let p = match shards[i].next(self.partial).await? {
                    Next::Row(p) => p,
                    Next::End => break,
                    Next::Err(p) => return self.fail(shards, p).await,
                };
                if window.admit() != Admit::Emit {
                    continue;
                }
                if cut {
                    match Row::parse(&p, columns.len()) {
                        Ok(r) => self.row(&r, spec.visible).await?,
                        Err(e) => return self.refuse(shards, e).await,
                    }
                } else {
                    self.client.write_packet(&mut self.seq, &p);
                    self.flush_if_full().await?;
                }
            }
        }
        self.end(shards, None).await
    }

    /// Each shard is sorted: a k-way merge holding one row per shard.
    async fn ordered(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        columns: &[ColumnDef],
        order: RowOrder,
    ) -> Result<ScatterOutcome, ExecError> {
        self.header(columns, spec.visible, shards);
        let mut merge = OrderedMerge::new(order);
        let mut window = Window::new(spec.offset, spec.limit);
        for i in 0..shards.len() {
            if let Some(e) = self.pull(shards, i, &mut merge, columns.len()).await? {
                return self.end(shards, Some(e)).await;
            }
        }
        while !window.is_done() {
            let Some((shard, row)) = merge.pop() else {
                break;
            };
            if window.admit() == Admit::Emit {
                self.row(&row, spec.visible).await?;
            }
            if let Some(e) = self.pull(shards, shard, &mut merge, columns.len()).await? {
                return self.end(shards, Some(e)).await;
            }
        }
        self.end(shards, None).await
    }

    /// Feeds the next row of shard `i` to the merge; an ERR packet to end with on failure.
    async fn pull(
        &mut self,
        shards: &mut [Shard<'_>],
        i: usize,
        merge: &mut OrderedMerge,
        ncols: usize,
    ) -> Result<Option<Bytes>, ExecError> {
        let p = match shards[i].next(self.partial).await? {
            Next::Row(p) => p,
            Next::End => return Ok(None),
            Next::Err(p) => return Ok(Some(p)),
        };
        let pushed = Row::parse(&p, ncols).and_then(|r| merge.push(i, r));
        Ok(pushed.err().map(|e| {
            let msg = format!("shardgate: cannot merge the shards' results: {e}");
            Bytes::from(packets::err_packet(1105, "HY000", &msg))
        }))
    }

    /// GROUP BY / aggregates / DISTINCT: every row read, then the merged rows sent.
    async fn materialise(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        columns: &[ColumnDef],
    ) -> Result<ScatterOutcome, ExecError> {
        let mut m = match Materialiser::new(spec, columns) {
            Ok(m) => m,
            Err(e) => return self.refuse(shards, e).await,
        };
        for i in 0..shards.len() {
            loop {
                let p = match shards[i].next(false).await? {
                    Next::Row(p) => p,
                    Next::End => break,
                    Next::Err(p) => return self.fail(shards, p).await,
                };
                if let Err(e) = Row::parse(&p, columns.len()).and_then(|r| m.push(r)) {
                    return self.refuse(shards, e).await;
                }
            }
        }
        let rows = match m.finish() {
            Ok(rows) => rows,
            Err(e) => return self.refuse(shards, e).await,
        };
        self.header(columns, spec.visible, shards);
        for r in &rows {
            self.row(r, spec.visible).await?;
        }
        self.end(shards, None).await
    }
}
