//! COM_CHANGE_USER and COM_RESET_CONNECTION: authenticate as another user, or keep the user,
//! and start a fresh session state (a held backend connection is reset and given back).

use std::sync::Arc;

use super::FrontendError;
use super::auth::{FirstResponse, authenticate};
use super::session::Session;
use crate::config::User;
use crate::error;
use crate::protocol::handshake::parse_change_user;
use crate::protocol::packets::{self, status};

impl Session {
    pub(super) async fn change_user(&mut self, body: &[u8]) -> Result<(), FrontendError> {
        let cu = parse_change_user(body, self.caps)?;
        let snapshot = self.snapshot();
        let user = snapshot.config.user(&cu.user).cloned();
        let mut seq = self.reply_seq;
        let first = FirstResponse {
            user_name: &cu.user,
            host: &self.host,
            plugin: cu.plugin.as_deref(),
            response: cu.auth_response.clone(),
            scramble: self.scramble,
        };
        let proxy = Arc::clone(&self.proxy);
        let result = authenticate(&mut self.client, &proxy, user.as_ref(), first, &mut seq).await;
        let outcome = match (result, user) {
            (Ok(scramble), Some(user)) => {
                self.scramble = scramble;
                self.become_user(user, cu.database, cu.collation).await
            }
            (Ok(_), None) => return Ok(()),
            (Err(e), _) => Err(e),
        };
        let packet = match &outcome {
            Ok(()) => packets::ok_packet(self.status, 0, 0),
            Err(e) => match error::reply_packet(e) {
                Some(p) => p,
                None => return outcome,
            },
        };
        self.client.write_packet(&mut seq, &packet);
        self.client.flush().await?;
        match outcome {
            Err(e) if e.ends_session() => Err(e),
            _ => Ok(()),
        }
    }

    /// After COM_CHANGE_USER authenticated: a fresh session state on a reset connection.
    async fn become_user(
        &mut self,
        user: User,
        schema: Option<String>,
        collation: Option<u16>,
    ) -> Result<(), FrontendError> {
        if let Some(db) = &schema
            && !user.may_use_schema(db)
        {
            return Err(FrontendError::SchemaDenied {
                user: user.name.clone(),
                host: self.host.clone(),
                schema: db.clone(),
            });
        }
        self.release().await;
        // The other shards' connections carry the old user's session (and transaction).
        self.release_others().await;
        self.shard_gtids.clear();
        self.user = user;
        self.schema = schema;
        if let Some(c) = collation {
            self.collation = c;
        }
        self.stmts.clear();
        self.forget_session_state();
        self.status = status::AUTOCOMMIT;
        let conn = self.checkout().await?;
        self.backend = Some(conn);
        Ok(())
    }

    /// COM_RESET_CONNECTION: the session's variables, pins, statements and transaction are
    /// dropped; a held connection is reset and given back.
    pub(super) async fn reset_connection(&mut self) -> Result<(), FrontendError> {
        self.release().await;
        self.stmts.clear();
        self.forget_session_state();
        self.status = status::AUTOCOMMIT;
        self.reply_ok().await
    }

    /// After a reset or a change of user: no variables to carry, nothing pinned.
    pub(super) fn forget_session_state(&mut self) {
        self.gtid_untracked = false;
        self.vars = Arc::default();
        self.pins.clear();
        self.route_pin = None;
        self.held_replica = None;
        self.last_insert_id = 0;
        self.unread_insert_id = Default::default();
        self.savepoints.clear();
        self.row_count = -1;
        self.found_rows = 0;
    }
}
