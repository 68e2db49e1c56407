//! The commands that set a backend connection's session state on behalf of sessions: default
//! schema, session tracking, reset, multi-statement option.

use super::{BackendConn, Reply};
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
        self.multi_statements = true;
        self.enable_tracking().await?;
        Ok(r)
    }

    /// Sets the multi-statement option (COM_SET_OPTION) if it differs.
    pub async fn set_multi_statements(&mut self, on: bool) -> Result<Reply, ProtocolError> {
        if self.multi_statements == on {
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
        }
        Ok(r)
    }
}
