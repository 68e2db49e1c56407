//! Server-side prepared statements: COM_STMT_PREPARE on the session's primary connection
//! (classified as read or not), and COM_STMT_EXECUTE where the routing allows — a read runs
//! on a replica, prepared there on first use, with the same read-your-writes and failover as
//! text reads; cursors, long data, writes and transactions stay on the primary.

use std::sync::Arc;

use super::FrontendError;
use super::query::ReplicaStatement;
use super::session::Session;
use crate::backend::statements::parse_execute;
use crate::executor::passthrough;
use crate::protocol::command;
use crate::protocol::response::Expect;
use crate::router::classify::{self, Target};

impl Session {
    pub(super) async fn prepare(&mut self, payload: &[u8]) -> Result<(), FrontendError> {
        let snapshot = self.proxy.snapshot();
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
        let conn_id = conn.id;
        let stmts = &mut self.stmts;
        let seq = self.reply_seq;
        let client = &mut self.client;
        let register = |p| {
            let id = stmts.insert(conn_id, p, sql, read);
            if let Some(e) = stmts.get_mut(id) {
                e.shape = shape;
            }
            id
        };
        let result =
            passthrough::prepare(client, &mut conn, &name, payload, seq, caps, register).await;
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
        if let Some(shape) = entry.shape.clone() {
            let read = entry.read;
            let r = self.execute_sharded(payload, stmt_id, shape, read).await;
            if let Some(e) = self.stmts.get_mut(stmt_id) {
                e.long_data = false;
            }
            return r;
        }
        let long_data = std::mem::take(&mut entry.long_data);
        let read = entry.read;
        if read && !exec.cursor && !long_data {
            let snapshot = self.proxy.snapshot();
            let view = self.view(&snapshot);
            let shard = snapshot.registry.default_shard;
            let may_use_replica = !view.in_transaction
                && !view.user_primary_only
                && !view.within_write_window
                && view.reads_pinned.is_none()
                && !snapshot.registry.shards[shard].replicas.is_empty();
            if may_use_replica && let Some(entry) = self.stmts.get(stmt_id) {
                let replica = ReplicaStatement {
                    sql: Arc::clone(&entry.sql),
                    params: entry.prepared.params,
                    types: entry.types.clone(),
                };
                if self
                    .try_replica(payload, &snapshot, shard, Some(replica))
                    .await?
                {
                    return Ok(());
                }
            }
        }
        let p = self.stmt_payload(payload, stmt_id, "mysqld_stmt_execute")?;
        let result = self.forward(&p, Expect::Results).await;
        if !read {
            self.note_write();
            if let Ok(out) = &result
                && !out.failed
                && let Some(sql) = self.stmts.get(stmt_id).map(|e| Arc::clone(&e.sql))
            {
                self.record_session_effect(&sql);
            }
        }
        result.map(|_| ())
    }

    /// The statement command with the client's statement id replaced by the primary's.
    /// For a statement on a sharded schema that names sharded or broadcast tables: its shape,
    /// and the shard and text to prepare it with.
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
        if !crate::router::mentions_tables(sql, schema) {
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

    pub(super) fn stmt_payload(
        &self,
        payload: &[u8],
        stmt_id: u32,
        command: &'static str,
    ) -> Result<Vec<u8>, FrontendError> {
        let entry = self
            .stmts
            .get(stmt_id)
            .ok_or(FrontendError::UnknownStatement {
                id: stmt_id,
                command,
            })?;
        match &self.backend {
            Some(conn) if conn.id == entry.conn_id => Ok(command::with_stmt_id(
                payload,
                entry.prepared.backend_stmt_id,
            )),
            _ => Err(FrontendError::StatementLost { id: stmt_id }),
        }
    }
}
