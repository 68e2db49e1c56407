//! The commands that set a backend connection's session state on behalf of sessions: default
//! schema, session tracking, reset, multi-statement option.

use super::{BackendConn, HANDSHAKE_COLLATION, Reply, Target};
use crate::backend::BackendError;
use crate::protocol::packets;
use crate::protocol::{ProtocolError, command};

impl BackendConn {
    /// Changes the default schema (COM_INIT_DB).
    pub async fn init_db(&mut self, schema: &str) -> Result<Reply, ProtocolError> {
        let mut p = vec![command::COM_INIT_DB];
        p.extend_from_slice(schema.as_bytes());
        let r = self.simple_command(&p).await?;
        if matches!(r, Reply::Ok { .. }) {
            self.schema = Some(schema.to_string());
        }
        Ok(r)
    }

    /// Asks the server to report every session variable change and any other session state
    /// change (and, on MariaDB, each commit's GTID: `last_gtid` is one of the variables).
    pub async fn enable_tracking(&mut self) -> Result<(), ProtocolError> {
        self.tracks_gtids = false;
        self.tracks_state = false;
        if let crate::backend::query::QueryResult::Rows(r) = self
            .query_rows("SELECT @@global.session_track_system_variables")
            .await?
        {
            let list = r
                .rows
                .first()
                .and_then(|row| row.first())
                .cloned()
                .flatten();
            self.client_tracked_vars = Some(list.unwrap_or_default().into());
        }
        let sql = "SET SESSION session_track_system_variables = '*', \
                   session_track_state_change = ON";
        let reply = self.simple_command(&command::query(sql.as_bytes())).await?;
        match reply {
            Reply::Ok { .. } => {
                self.tracks_state = true;
                self.tracks_gtids = self.server_version.contains("MariaDB");
            }
            Reply::Err(e) => {
                let (code, _, message) = packets::parse_err(&e)?;
                tracing::warn!(code, %message, "cannot enable session tracking; sessions that change session state keep their backend connection, and reads after writes go to the primary only within primary_window_ms");
            }
        }
        Ok(())
    }

    /// Resets session state (COM_RESET_CONNECTION): variables, temporary tables, statements.
    pub async fn reset(&mut self) -> Result<Reply, ProtocolError> {
        let r = self
            .simple_command(&[command::COM_RESET_CONNECTION])
            .await?;
        // What the character set becomes after a reset differs between servers: unknown.
        self.collation = 0;
        self.statements.clear();
        self.vars = Default::default();
        self.last_insert_id = None;
        self.multi_statements_unsure = true;
        self.enable_tracking().await?;
        Ok(r)
    }

    /// Takes the connection back to no default schema by logging in again as the same user
    /// without one (COM_CHANGE_USER): COM_RESET_CONNECTION keeps the schema, and nothing else
    /// unsets it. Everything else a reset clears is cleared too.
    pub async fn change_user_without_schema(
        &mut self,
        target: &Target,
    ) -> Result<(), BackendError> {
        let lost = |source| BackendError::Lost {
            backend: target.name.clone(),
            source,
        };
        let auth = Self::auth_response(&self.login_plugin, &self.login_scramble, &target.password);
        let mut p = Vec::with_capacity(64 + target.user.len());
        p.push(command::COM_CHANGE_USER);
        p.extend_from_slice(target.user.as_bytes());
        p.push(0);
        p.push(u8::try_from(auth.len()).unwrap_or(0));
        p.extend_from_slice(&auth);
        p.push(0); // no default schema
        p.extend_from_slice(&HANDSHAKE_COLLATION.to_le_bytes());
        p.extend_from_slice(self.login_plugin.as_bytes());
        p.push(0);
        // The connection logged in with CLIENT_CONNECT_ATTRS: an (empty) attribute block.
        p.push(0);
        let seq = self.send_command(&p).await.map_err(lost)?;
        let (plugin, scramble) = (self.login_plugin.clone(), self.login_scramble);
        if let Err(e) = self.finish_auth(target, plugin, scramble, seq).await {
            self.reusable = false;
            return Err(e);
        }
        self.reply_read();
        self.schema = None;
        self.collation = HANDSHAKE_COLLATION;
        self.statements.clear();
        self.vars = Default::default();
        self.last_insert_id = None;
        self.multi_statements_unsure = true;
        self.enable_tracking().await.map_err(lost)
    }

    /// Sets the multi-statement option (COM_SET_OPTION) if it differs.
    pub async fn set_multi_statements(&mut self, on: bool) -> Result<Reply, ProtocolError> {
        if self.multi_statements == on && !self.multi_statements_unsure {
            return Ok(Reply::Ok {
                status: self.status,
            });
        }
        let opt: u16 = if on { 0 } else { 1 };
        let mut p = vec![command::COM_SET_OPTION];
        p.extend_from_slice(&opt.to_le_bytes());
        let r = self.simple_command(&p).await?;
        if matches!(r, Reply::Ok { .. }) {
            self.multi_statements = on;
            self.multi_statements_unsure = false;
        }
        Ok(r)
    }
}
