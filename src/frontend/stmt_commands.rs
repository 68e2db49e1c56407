//! The prepared-statement commands around COM_STMT_EXECUTE under multiplexing: long data is
//! buffered by the session until the execute (which sends it to whichever connection runs the
//! statement); a cursor keeps its connection with the session until it is read to its end,
//! reset or closed; COM_STMT_RESET and COM_STMT_CLOSE need no backend connection otherwise.

use std::sync::Arc;

use super::FrontendError;
use super::session::Session;
use crate::backend::connection::Reply;
use crate::protocol::command;
use crate::protocol::packets::{self, status};
use crate::protocol::response::Expect;

impl Session {
    /// COM_STMT_SEND_LONG_DATA: kept until the execute (no reply; an unknown statement or too
    /// much data is reported by the execute, as the server does).
    pub(super) fn long_data(&mut self, payload: &[u8], stmt_id: u32) {
        let max = self.max_packet;
        let Some(entry) = self.stmts.get_mut(stmt_id) else {
            return;
        };
        let Some(param) = payload.get(5..7).map(|b| u16::from_le_bytes([b[0], b[1]])) else {
            return;
        };
        let data = payload.get(7..).unwrap_or_default();
        let held: usize = entry.long_data.iter().map(|(_, d)| d.len()).sum();
        if held + data.len() > max {
            // The execute fails with the packet-size error, as the server's would.
            entry.long_data.push((param, Vec::new()));
            entry.long_data_overflow = true;
            return;
        }
        match entry.long_data.last_mut() {
            Some((p, d)) if *p == param => d.extend_from_slice(data),
            _ => entry.long_data.push((param, data.to_vec())),
        }
    }

    /// COM_STMT_FETCH: reads from the cursor on the connection the session kept for it.
    pub(super) async fn fetch(
        &mut self,
        payload: &[u8],
        stmt_id: u32,
    ) -> Result<(), FrontendError> {
        let sql = self.statement_sql(stmt_id, "mysqld_stmt_fetch")?;
        if !self.pins.cursors.contains(&stmt_id) || self.backend.is_none() {
            return Err(FrontendError::NoOpenCursor { id: stmt_id });
        }
        let mut conn = self.checkout().await?;
        let Some(on_conn) = conn.statements.get(&sql) else {
            self.backend = Some(conn);
            self.pins.cursors.remove(&stmt_id);
            return Err(FrontendError::NoOpenCursor { id: stmt_id });
        };
        let body = command::with_stmt_id(payload, on_conn.id);
        let result = self.relay_on(&mut conn, &body, Expect::Rows).await;
        let out = self.keep(conn, result);
        if out
            .as_ref()
            .map_or(true, |o| o.failed || o.status & status::LAST_ROW_SENT != 0)
        {
            self.pins.cursors.remove(&stmt_id);
        }
        out.map(|_| ())
    }

    /// COM_STMT_RESET: drops buffered long data and closes the statement's cursor.
    pub(super) async fn reset_statement(
        &mut self,
        _payload: &[u8],
        stmt_id: u32,
    ) -> Result<(), FrontendError> {
        let sql = self.statement_sql(stmt_id, "mysqld_stmt_reset")?;
        if let Some(entry) = self.stmts.get_mut(stmt_id) {
            entry.long_data.clear();
            entry.long_data_overflow = false;
        }
        self.close_cursor(stmt_id, &sql).await?;
        let mut seq = self.reply_seq;
        self.client
            .write_packet(&mut seq, &packets::ok_packet(self.status, 0, 0));
        self.client.flush().await?;
        Ok(())
    }

    /// COM_STMT_CLOSE: forgets the statement (no reply). The connections keep their copies
    /// for other sessions until their caches evict them.
    pub(super) async fn close_statement(
        &mut self,
        _payload: &[u8],
        stmt_id: u32,
    ) -> Result<(), FrontendError> {
        if let Some(entry) = self.stmts.remove(stmt_id) {
            self.close_cursor(stmt_id, &entry.sql).await?;
        }
        Ok(())
    }

    /// Closes an open cursor of the statement on the held connection (COM_STMT_RESET there).
    async fn close_cursor(&mut self, stmt_id: u32, sql: &Arc<[u8]>) -> Result<(), FrontendError> {
        if !self.pins.cursors.remove(&stmt_id) {
            return Ok(());
        }
        let Some(mut conn) = self.backend.take() else {
            return Ok(());
        };
        if let Some(on_conn) = conn.statements.get(sql) {
            let mut p = vec![command::COM_STMT_RESET];
            p.extend_from_slice(&on_conn.id.to_le_bytes());
            match conn.simple_command(&p).await {
                Ok(Reply::Ok { .. }) => {}
                _ => conn.reusable = false,
            }
        }
        if conn.reusable {
            self.backend = Some(conn);
        }
        Ok(())
    }

    fn statement_sql(
        &self,
        stmt_id: u32,
        command: &'static str,
    ) -> Result<Arc<[u8]>, FrontendError> {
        self.stmts
            .get(stmt_id)
            .map(|e| Arc::clone(&e.sql))
            .ok_or(FrontendError::UnknownStatement {
                id: stmt_id,
                command,
            })
    }
}
