//! The session's backend connections: checking out its primary connection (replacing one the
//! server closed while idle), bringing any connection to the session's schema, character set
//! and options, and handing it back reset.

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
        let name = conn.pool().name().to_string();
        let lost = |source| {
            FrontendError::Exec(ExecError::Lost {
                backend: name.clone(),
                source,
                partial: false,
            })
        };
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
