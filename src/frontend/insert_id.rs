//! `LAST_INSERT_ID()` per session under multiplexing and sharding: the value lives in whichever
//! backend connection ran the statement that set it, so the session reads it back from there
//! and carries it to the connection that next runs a statement reading it.
//!
//! A connection's own value may be another session's (connections are shared) or unchanged by
//! the statement (an explicit id makes the OK packet report that id while LAST_INSERT_ID()
//! stays). So a value read back is adopted only when a statement set it: it equals an insert id
//! an OK packet reported since the last read, or the statement called `LAST_INSERT_ID(expr)`
//! on a connection brought to the session's value first.

use super::FrontendError;
use super::session::Session;
use crate::backend::connection::Reply;
use crate::backend::pool::PooledConn;
use crate::backend::query::QueryResult;
use crate::executor::ExecError;
use crate::protocol::command;

/// Insert ids remembered between reads (more is unusual: an explicit id per row inside one
/// transaction); beyond, any changed value is adopted.
const MAX_PENDING_IDS: usize = 64;

/// Statements on the held connection that may have changed its `LAST_INSERT_ID()`, not read
/// back yet.
#[derive(Debug, Default)]
pub(super) struct UnreadInsertId {
    /// Insert ids their OK packets reported.
    ids: Vec<u64>,
    /// More than `MAX_PENDING_IDS` of them.
    overflowed: bool,
    /// A statement called `LAST_INSERT_ID()` on the connection (synced to the session first).
    by_expression: bool,
}

impl UnreadInsertId {
    pub(super) fn any(&self) -> bool {
        !self.ids.is_empty() || self.overflowed || self.by_expression
    }

    /// An OK packet reported `id` (non-zero).
    pub(super) fn reported(&mut self, id: u64) {
        if self.ids.len() < MAX_PENDING_IDS {
            self.ids.push(id);
        } else {
            self.overflowed = true;
        }
    }

    pub(super) fn called_function(&mut self) {
        self.by_expression = true;
    }

    /// Whether `value`, read back from a connection whose value was `before`, is the session's.
    fn adopts(&self, value: u64, before: Option<u64>) -> bool {
        self.by_expression
            || self.ids.contains(&value)
            || (self.overflowed && before != Some(value))
    }
}

impl Session {
    /// After a statement on another shard's connection that reported an insert id or called
    /// `LAST_INSERT_ID()`: reads the value there; the held default-shard connection catches up
    /// before a statement on it reads the value (`sync_held_last_insert_id`). Call
    /// `flush_unread_insert_id` before such a statement.
    pub(super) async fn take_last_insert_id(&mut self, conn: &mut PooledConn, insert_id: u64) {
        let mut pending = UnreadInsertId::default();
        if insert_id > 0 {
            pending.reported(insert_id);
        }
        if self.wants_last_insert_id {
            pending.called_function();
        }
        self.read_last_insert_id(conn, &pending).await;
    }

    /// Before a statement on another connection than the held one: reads the held
    /// connection's unread change first, so that the newer value cannot be overwritten by it.
    pub(super) async fn flush_unread_insert_id(&mut self) {
        if !self.unread_insert_id.any() {
            return;
        }
        if let Some(mut held) = self.backend.take() {
            let pending = std::mem::take(&mut self.unread_insert_id);
            self.read_last_insert_id(&mut held, &pending).await;
            self.backend = Some(held);
        }
    }

    /// Before a statement that reads `LAST_INSERT_ID()` runs on the held connection: sets it
    /// there when the session's value came from another connection (another shard).
    pub(super) async fn sync_held_last_insert_id(
        &mut self,
        conn: &mut PooledConn,
    ) -> Result<(), FrontendError> {
        if !self.wants_last_insert_id
            || self.unread_insert_id.any()
            || conn.last_insert_id == Some(self.last_insert_id)
        {
            return Ok(());
        }
        let sql = format!("SET @@session.last_insert_id = {}", self.last_insert_id);
        let name = conn.pool().name().to_string();
        match conn.simple_command(&command::query(sql.as_bytes())).await {
            Ok(Reply::Ok { .. }) => {
                conn.last_insert_id = Some(self.last_insert_id);
                Ok(())
            }
            Ok(Reply::Err(p)) => Err(FrontendError::BackendReply(p)),
            Err(source) => {
                conn.reusable = false;
                Err(FrontendError::Exec(ExecError::Lost {
                    backend: name,
                    source,
                    partial: false,
                }))
            }
        }
    }

    /// Reads `LAST_INSERT_ID()` from `conn` after the statements `pending` describes, and
    /// adopts it when one of them set it.
    pub(super) async fn read_last_insert_id(
        &mut self,
        conn: &mut PooledConn,
        pending: &UnreadInsertId,
    ) {
        match conn.query_rows("SELECT LAST_INSERT_ID()").await {
            Ok(QueryResult::Rows(r)) => {
                let value = r
                    .rows
                    .first()
                    .and_then(|row| row.first())
                    .cloned()
                    .flatten();
                match value.and_then(|v| v.parse::<u64>().ok()) {
                    Some(v) => {
                        if pending.adopts(v, conn.last_insert_id) {
                            self.last_insert_id = v;
                        }
                        conn.last_insert_id = Some(v);
                    }
                    None => conn.reusable = false,
                }
            }
            _ => conn.reusable = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_adopted_only_when_a_statement_set_it() {
        let mut p = UnreadInsertId::default();
        assert!(!p.any());
        p.reported(9000); // an explicit id: LAST_INSERT_ID() stays what it was
        assert!(p.any());
        assert!(!p.adopts(500, Some(500)));
        assert!(!p.adopts(500, None));
        p.reported(101); // a generated id
        assert!(p.adopts(101, Some(500)));
        // The same number another session left on the connection, generated again here.
        assert!(p.adopts(101, Some(101)));
        let mut f = UnreadInsertId::default();
        f.called_function();
        assert!(f.adopts(7, Some(3)));
    }

    #[test]
    fn beyond_the_remembered_ids_a_changed_value_is_adopted() {
        let mut p = UnreadInsertId::default();
        for id in 0..(MAX_PENDING_IDS as u64 + 1) {
            p.reported(10_000 + id);
        }
        assert!(p.adopts(77, Some(5)));
        assert!(!p.adopts(5, Some(5)));
    }
}
