//! Server-side prepared statements under multiplexing: COM_STMT_PREPARE on a borrowed primary
//! connection (for the metadata the client needs; classified as read or not), and
//! COM_STMT_EXECUTE on whichever connection runs it — a read on a replica where the routing
//! allows (same read-your-writes and failover as text reads), anything else on a primary
//! connection — prepared there on first use and cached per connection.

use std::sync::Arc;
use std::time::Instant;

use super::FrontendError;
use super::query::ReplicaStatement;
use super::session::Session;
use crate::backend::pool::PooledConn;
use crate::backend::statements::parse_execute;
use crate::executor::{ExecError, passthrough};
use crate::metrics;
use crate::protocol::packets::status;
use crate::protocol::response::Expect;
use crate::protocol::{ProtocolError, command};
use crate::router::classify::{self, Target};

impl Session {
    pub(super) async fn prepare(&mut self, payload: &[u8]) -> Result<(), FrontendError> {
        let snapshot = self.snapshot();
        let sql: Arc<[u8]> = Arc::from(payload.get(1..).unwrap_or_default());
        let read = classify::classify(&sql, &snapshot.rules).target == Target::Replica;
        let (shape, payload, shard) = match self.sharded_prepare(&snapshot, &sql)? {
            Some((shape, shard, text)) => {
                let mut p = vec![payload.first().copied().unwrap_or_default()];
                p.extend_from_slice(text.as_bytes());
                (Some(shape), std::borrow::Cow::Owned(p), shard)
            }
            None => (
                None,
                std::borrow::Cow::Borrowed(payload),
                snapshot.registry.default_shard,
            ),
        };
        let payload = &payload[..];
        let default = shard == snapshot.registry.default_shard;
        let mut conn = if default {
            self.checkout().await?
        } else {
            self.shard_conn(&snapshot, shard).await?
        };
        let caps = self.client_caps();
        let name = conn.pool().name().to_string();
        let stmts = &mut self.stmts;
        let seq = self.reply_seq;
        let client = &mut self.client;
        let mut on_conn = None;
        let text = Arc::clone(&sql);
        let register = |p: passthrough::Prepared| {
            on_conn = Some(p);
            let id = stmts.insert(p, sql, read);
            if let Some(e) = stmts.get_mut(id) {
                e.shape = shape;
            }
            id
        };
        let result =
            passthrough::prepare(client, &mut conn, &name, payload, seq, caps, register).await;
        if let Some(p) = on_conn
            && shard_text_is_client_text(payload, &text)
        {
            // Later executes on this connection reuse the statement.
            let close = conn.statements.remember(text, p.backend_stmt_id, p.params);
            close_on(&mut conn, &close).await;
        }
        if default {
            self.keep(conn, result)?;
        } else {
            if conn.reusable {
                self.others.insert(shard, conn);
            }
            result?;
        }
        Ok(())
    }

    pub(super) async fn execute(
        &mut self,
        payload: &[u8],
        stmt_id: u32,
    ) -> Result<(), FrontendError> {
        self.route = "prepared statement";
        let started = Instant::now();
        let entry = self
            .stmts
            .get_mut(stmt_id)
            .ok_or(FrontendError::UnknownStatement {
                id: stmt_id,
                command: "mysqld_stmt_execute",
            })?;
        let exec = parse_execute(payload, entry.prepared.params)
            .map_err(|_| FrontendError::BadExecute { id: stmt_id })?;
        if let Some(types) = exec.types
            && entry.types.as_deref() != Some(types)
        {
            entry.types = Some(types.into());
        }
        let sql = std::sync::Arc::clone(&entry.sql);
        self.check_prepared_transaction_control(&sql)?;
        let Some(entry) = self.stmts.get_mut(stmt_id) else {
            return Ok(());
        };
        if let Some(shape) = entry.shape.clone() {
            let read = entry.read;
            let r = self.execute_sharded(payload, stmt_id, shape, read).await;
            if let Some(e) = self.stmts.get_mut(stmt_id) {
                e.long_data.clear();
            }
            return r;
        }
        let mut counted = metrics::Statement::execute(started, &entry.sql, &self.proxy);
        if std::mem::take(&mut entry.long_data_overflow) {
            entry.long_data.clear();
            return Err(FrontendError::LongDataTooLarge {
                id: stmt_id,
                max: self.max_packet,
            });
        }
        let long_data = std::mem::take(&mut entry.long_data);
        let read = entry.read;
        let fns = entry.fns;
        if read && !exec.cursor && long_data.is_empty() && self.backend.is_none() {
            let snapshot = self.snapshot();
            let view = self.view(&snapshot);
            let shard = snapshot.registry.default_shard;
            let may_use_replica = !view.in_transaction
                && !view.user_primary_only
                && !view.within_write_window
                && view.reads_pinned.is_none()
                && !fns.row_count
                && !fns.found_rows
                && !snapshot.registry.shards[shard].replicas.is_empty();
            if may_use_replica && let Some(entry) = self.stmts.get(stmt_id) {
                let replica = ReplicaStatement {
                    sql: Arc::clone(&entry.sql),
                    params: entry.prepared.params,
                    types: entry.types.clone(),
                };
                self.wants_last_insert_id = fns.last_insert_id;
                if self
                    .try_replica(payload, &snapshot, shard, Some(replica))
                    .await?
                {
                    counted.on_replica();
                    return Ok(());
                }
            }
        }
        if self.backend.is_none() && (fns.row_count || fns.found_rows) {
            return Err(FrontendError::NeedsPreviousConnection {
                function: if fns.row_count {
                    "ROW_COUNT()"
                } else {
                    "FOUND_ROWS()"
                },
            });
        }
        self.wants_last_insert_id = fns.last_insert_id;
        let Some(entry) = self.stmts.get(stmt_id) else {
            return Err(FrontendError::UnknownStatement {
                id: stmt_id,
                command: "mysqld_stmt_execute",
            });
        };
        let stmt = ReplicaStatement {
            sql: Arc::clone(&entry.sql),
            params: entry.prepared.params,
            types: entry.types.clone(),
        };
        let mut conn = self.checkout().await?;
        let name = conn.pool().name().to_string();
        let lost = |source| ExecError::Lost {
            backend: name.clone(),
            source,
            partial: false,
        };
        let body = match stmt.execute_packet(&mut conn, payload).await {
            Ok(Ok(body)) => body,
            Ok(Err(refused)) => {
                self.keep(conn, Ok(passthrough::Outcome::default()))?;
                return Err(refused);
            }
            Err(e) => return self.keep(conn, Err(lost(e))).map(|_| ()),
        };
        if let Err(e) = send_long_data(&mut conn, &body, &long_data).await {
            return self.keep(conn, Err(lost(e))).map(|_| ());
        }
        let result = self.relay_on(&mut conn, &body, Expect::Results).await;
        let out = self.keep(conn, result);
        if !read {
            self.note_write();
        }
        let out = out?;
        if exec.cursor && out.status & status::CURSOR_EXISTS != 0 {
            self.pins.cursors.insert(stmt_id);
        }
        self.note_statement(&stmt.sql, &out);
        Ok(())
    }

    /// The statement command with the client's statement id replaced by the primary's.
    /// For a statement on a sharded schema that names sharded or broadcast tables (or runs on
    /// a schema default shard that is not the proxy's): its shape, and the shard and text to
    /// prepare it with.
    fn sharded_prepare(
        &self,
        snapshot: &crate::runtime::Snapshot,
        sql: &[u8],
    ) -> Result<Option<(Arc<crate::router::shard::analyze::Shape>, usize, String)>, FrontendError>
    {
        let topo = snapshot.topology(self.schema.as_deref());
        if topo.sharding.is_empty() {
            return Ok(None);
        }
        let Some(schema) = crate::router::sharded_schema(sql, &topo)? else {
            return Ok(None);
        };
        // Without sharded tables the statement runs on the schema's default shard: as any
        // other statement when that is the proxy's default shard, else routed like a sharded
        // one (its plan is that one shard).
        if !crate::router::mentions_tables(sql, schema)
            && schema.default_shard == snapshot.registry.default_shard
        {
            return Ok(None);
        }
        let text = std::str::from_utf8(sql).map_err(|_| {
            crate::router::shard::error::ShardError::Unparsable {
                table: String::new(),
                reason: "the statement is not valid UTF-8".into(),
            }
        })?;
        let shape = crate::router::shard::analyze::analyze(text, schema)?;
        let (shard, text) = crate::router::shard::route::prepare_target(&shape, schema);
        Ok(Some((Arc::new(shape), shard, text)))
    }
}

/// Was the statement prepared with the client's own text (not a shard's rewrite of it)?
fn shard_text_is_client_text(payload: &[u8], sql: &[u8]) -> bool {
    payload.get(1..) == Some(sql)
}

/// Closes statements on the server (COM_STMT_CLOSE has no reply).
pub(super) async fn close_on(conn: &mut PooledConn, ids: &[u32]) {
    for id in ids {
        let mut p = vec![command::COM_STMT_CLOSE];
        p.extend_from_slice(&id.to_le_bytes());
        if conn.send_command(&p).await.is_err() {
            conn.reusable = false;
            return;
        }
    }
}

/// Sends the buffered long data to the statement the execute packet names.
async fn send_long_data(
    conn: &mut PooledConn,
    execute: &[u8],
    chunks: &[(u16, Vec<u8>)],
) -> Result<(), ProtocolError> {
    let stmt_id = execute.get(1..5).unwrap_or_default();
    for (param, data) in chunks {
        let mut p = Vec::with_capacity(7 + data.len());
        p.push(command::COM_STMT_SEND_LONG_DATA);
        p.extend_from_slice(stmt_id);
        p.extend_from_slice(&param.to_le_bytes());
        p.extend_from_slice(data);
        conn.send_command(&p).await?;
    }
    Ok(())
}
