//! The session's backend connections: checking out its primary connection (replacing one the
//! server closed while idle), bringing any connection to the session's schema, character set,
//! options and session `SET`s, and handing it back reset.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mysql_common::collations::{Collation, CollationId};

use super::FrontendError;
use super::session::Session;
use crate::backend::connection::Reply;
use crate::backend::pool::{LIVENESS_CHECK_AFTER, PooledConn};
use crate::executor::ExecError;
use crate::protocol::ProtocolError;
use crate::protocol::command;
use crate::protocol::packets::status;

/// Most session `SET`s the proxy replays; a session with more keeps its reads on the primary.
pub const MAX_SESSION_SETS: usize = 64;

/// The session's `SET` statements, in order, with a key that identifies the whole list.
#[derive(Debug, Default)]
pub struct SessionSets {
    statements: Vec<Box<[u8]>>,
    key: u64,
}

impl SessionSets {
    /// Records one more; `false` when the list is full (nothing recorded).
    pub fn push(&mut self, sql: &[u8]) -> bool {
        if self.statements.len() >= MAX_SESSION_SETS {
            return false;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.key, sql).hash(&mut h);
        self.key = h.finish().max(1);
        self.statements.push(sql.into());
        true
    }

    /// 0 for no statements.
    pub fn key(&self) -> u64 {
        self.key
    }

    pub fn statements(&self) -> impl Iterator<Item = &[u8]> {
        self.statements.iter().map(|s| &s[..])
    }

    pub fn clear(&mut self) {
        *self = SessionSets::default();
    }
}

impl Session {
    /// The session's backend connection, or a new one brought to the session's state.
    pub(super) async fn checkout(&mut self) -> Result<PooledConn, FrontendError> {
        if let Some(mut conn) = self.backend.take() {
            if conn.last_used.elapsed() < LIVENESS_CHECK_AFTER || !conn.closed_while_idle() {
                return Ok(conn);
            }
            conn.reusable = false;
            let backend = conn.pool().name().to_string();
            let in_transaction = self.status & status::IN_TRANS != 0;
            self.status &= !status::IN_TRANS;
            if in_transaction {
                // The transaction is gone with the connection: the client must know.
                return Err(FrontendError::Exec(ExecError::Lost {
                    backend,
                    source: ProtocolError::Eof,
                    partial: false,
                }));
            }
            tracing::info!(conn = self.id, %backend, "backend closed the idle session connection; reconnecting");
        }
        let snapshot = self.proxy.snapshot();
        let pool = Arc::clone(&snapshot.registry.default().primary);
        let mut conn = pool.checkout(self.flavour()).await?;
        self.sync(&mut conn).await?;
        Ok(conn)
    }

    /// Brings a backend connection to the session's schema, character set and options.
    pub(super) async fn sync(&self, conn: &mut PooledConn) -> Result<(), FrontendError> {
        let pool = Arc::clone(conn.pool());
        let lost = |source| {
            FrontendError::Exec(ExecError::Lost {
                backend: pool.name().to_string(),
                source,
                partial: false,
            })
        };
        let sets_key = self.sets.key();
        if conn.applied_sets != sets_key && conn.applied_sets != 0 {
            // It carries another session's SETs: start again from a clean session.
            if let Reply::Err(p) = conn.reset().await.map_err(lost)? {
                return Err(FrontendError::BackendReply(p));
            }
            conn.schema = None;
        }
        if let Some(schema) = &self.schema
            && conn.schema.as_ref() != Some(schema)
            && let Reply::Err(p) = conn.init_db(schema).await.map_err(lost)?
        {
            return Err(FrontendError::BackendReply(p));
        }
        if conn.collation != self.collation {
            let c = Collation::resolve(CollationId::from(self.collation));
            if c.id() != CollationId::UNKNOWN_COLLATION_ID {
                let full = format!("SET NAMES '{}' COLLATE '{}'", c.charset(), c.collation());
                let short = format!("SET NAMES '{}'", c.charset());
                for sql in [full, short] {
                    let mut p = vec![command::COM_QUERY];
                    p.extend_from_slice(sql.as_bytes());
                    if let Reply::Ok { .. } = conn.simple_command(&p).await.map_err(lost)? {
                        conn.collation = self.collation;
                        break;
                    }
                }
            }
        }
        if let Reply::Err(p) = conn
            .set_multi_statements(self.multi_statements)
            .await
            .map_err(lost)?
        {
            return Err(FrontendError::BackendReply(p));
        }
        if conn.applied_sets != sets_key {
            for sql in self.sets.statements() {
                let p = command::query(sql);
                if let Reply::Err(p) = conn.simple_command(&p).await.map_err(lost)? {
                    return Err(FrontendError::BackendReply(p));
                }
            }
            conn.applied_sets = sets_key;
        }
        Ok(())
    }

    /// Returns the backend connection to its pool with its session state reset.
    pub(super) async fn release(&mut self) {
        if let Some(mut conn) = self.backend.take() {
            match conn.reset().await {
                Ok(Reply::Ok { .. }) => {}
                _ => conn.reusable = false,
            }
        }
    }
}
