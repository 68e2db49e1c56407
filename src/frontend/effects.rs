//! What a statement leaves in the session after it ran: session variables (from the server's
//! reports), pins (state bound to the connection), and the values of `ROW_COUNT()`,
//! `FOUND_ROWS()` and `LAST_INSERT_ID()`, which the proxy answers itself when the session
//! holds no connection (the next statement may run on another connection).

use std::sync::Arc;

use super::FrontendError;
use super::pins;
use super::session::Session;
use crate::backend::vars::{self, VarKind};
use crate::executor::passthrough::Outcome;
use crate::protocol::resultset::integer_result;

/// Session functions whose value lives in the connection that ran the previous statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFns {
    pub last_insert_id: bool,
    pub row_count: bool,
    pub found_rows: bool,
}

impl SessionFns {
    /// Finds calls of the three functions (a name followed by `(`; a false positive inside a
    /// string only costs a `SET` or a refusal naming the function).
    pub fn of(sql: &[u8]) -> SessionFns {
        let mut f = SessionFns::default();
        let mut from = 0;
        while let Some(p) = sql[from..].iter().position(|&b| b == b'(') {
            let open = from + p;
            let before = sql[..open].trim_ascii_end();
            let start = before
                .iter()
                .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
                .map_or(0, |i| i + 1);
            let name = &before[start..];
            f.last_insert_id |= name.eq_ignore_ascii_case(b"LAST_INSERT_ID");
            f.row_count |= name.eq_ignore_ascii_case(b"ROW_COUNT");
            f.found_rows |= name.eq_ignore_ascii_case(b"FOUND_ROWS");
            from = open + 1;
        }
        f
    }
}

/// `SELECT ROW_COUNT()` or `SELECT FOUND_ROWS()` on its own: the function's name.
fn lone_session_function(sql: &[u8]) -> Option<&'static str> {
    let s = crate::router::prescan::skip_noise(sql).trim_ascii_end();
    let s = s.strip_suffix(b";").unwrap_or(s).trim_ascii_end();
    let rest = s
        .get(..6)
        .filter(|w| w.eq_ignore_ascii_case(b"SELECT"))
        .map(|_| &s[6..])?;
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let compact: Vec<u8> = rest
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_uppercase)
        .collect();
    match &compact[..] {
        b"ROW_COUNT()" => Some("ROW_COUNT()"),
        b"FOUND_ROWS()" => Some("FOUND_ROWS()"),
        _ => None,
    }
}

impl Session {
    /// Records the session variables a reply reported as changed.
    pub(super) fn note_vars(&mut self, changed: &[(String, String)]) {
        if changed.is_empty() {
            return;
        }
        let mut next = (*self.vars).clone();
        for (name, value) in changed {
            match vars::var_kind(name) {
                VarKind::Replay if vars::assignment(name, value).is_some() => {
                    next.set(name, value);
                }
                VarKind::Replay => self
                    .pins
                    .pin("a session variable value the proxy cannot write back"),
                VarKind::Ignore => {
                    if name == "last_insert_id"
                        && let Ok(v) = value.parse()
                    {
                        self.last_insert_id = v;
                    }
                }
                VarKind::NextStatement => self.pins.hold_next_statement("a one-statement variable"),
                VarKind::Pin(why) => self.pins.pin(why),
            }
        }
        let mode = next
            .get("sql_mode")
            .unwrap_or_default()
            .to_ascii_uppercase();
        self.route_pin = (mode.contains("ANSI_QUOTES") || mode.contains("NO_BACKSLASH_ESCAPES"))
            .then_some("sql_mode changes how the server reads string literals");
        if next != *self.vars {
            self.vars = Arc::new(next);
        }
    }

    /// `SET @@name = …` without a scope keyword is not reported by MariaDB 10.11's session
    /// tracking: the values are read back from the held connection and recorded like
    /// reported ones (otherwise the connection would carry them to another session).
    pub(super) async fn read_back_at_at(&mut self, sql: &[u8], out: &Outcome) {
        if out.failed {
            return;
        }
        let names: Vec<String> = crate::router::prescan::at_at_assignments(sql)
            .into_iter()
            .filter(|n| n != "autocommit" && !out.vars.iter().any(|(v, _)| v == n))
            .collect();
        if names.is_empty() {
            return;
        }
        let Some(mut conn) = self.backend.take() else {
            return;
        };
        let columns: Vec<String> = names.iter().map(|n| format!("@@session.{n}")).collect();
        let query = format!("SELECT {}", columns.join(", "));
        match conn.query_rows(&query).await {
            Ok(crate::backend::query::QueryResult::Rows(r)) if r.rows.len() == 1 => {
                let values = r.rows.into_iter().next().unwrap_or_default();
                let changed: Vec<(String, String)> = names
                    .into_iter()
                    .zip(values)
                    .map(|(n, v)| (n, v.unwrap_or_default()))
                    .collect();
                self.note_vars(&changed);
                conn.vars = Arc::clone(&self.vars);
            }
            _ => {
                // The variable stays on this connection: it stays with the session.
                self.pins
                    .pin("a session variable the proxy could not read back");
            }
        }
        self.backend = Some(conn);
    }

    /// Records what a statement that ran on the session's default-shard primary left behind:
    /// connection-bound state (pins) and the values of the session functions.
    pub(super) fn note_statement(&mut self, sql: &[u8], out: &Outcome) {
        let effects = pins::scan(sql);
        let tracked = !out.vars.is_empty() || out.schema.is_some();
        self.pins.note(&effects, out.state_changed, tracked);
        if !self.backend.as_ref().is_none_or(|c| c.tracks_state)
            && crate::router::prescan::session_effect(sql)
                != crate::router::prescan::SessionEffect::None
        {
            self.pins
                .pin("session tracking is unavailable on the backend");
        }
        self.note_result(out);
        if self.wants_last_insert_id {
            // LAST_INSERT_ID(expr) sets it (found by `session_functions` / the prepared entry).
            self.unread_insert_id.called_function();
        }
    }

    /// `ROW_COUNT()` and `FOUND_ROWS()` after a reply from another connection than the held
    /// one (another shard, a replica): the held connection's own values are not the session's.
    pub(super) fn note_result_elsewhere(&mut self, out: &Outcome) {
        self.note_result(out);
        self.counts_elsewhere = true;
    }

    /// `ROW_COUNT()` after a statement the proxy answered itself or combined from several
    /// connections (a refusal: -1, a split write: the affected rows summed).
    pub(super) fn note_count_elsewhere(&mut self, row_count: i64) {
        self.row_count = row_count;
        self.counts_elsewhere = true;
    }

    /// `ROW_COUNT()` and `FOUND_ROWS()` after a reply.
    pub(super) fn note_result(&mut self, out: &Outcome) {
        self.counts_elsewhere = false;
        self.row_count = out.row_count;
        if let Some(rows) = out.rows {
            self.found_rows = rows;
        }
    }

    /// Before a statement runs: answers `SELECT ROW_COUNT()` / `SELECT FOUND_ROWS()` when the
    /// session holds no connection (`Ok(true)`), refuses other uses of them there, and marks
    /// statements that read `LAST_INSERT_ID()`.
    pub(super) async fn session_functions(&mut self, sql: &[u8]) -> Result<bool, FrontendError> {
        let fns = SessionFns::of(sql);
        self.wants_last_insert_id = fns.last_insert_id;
        let held_knows = self.backend.is_some() && !self.counts_elsewhere;
        if held_knows || !(fns.row_count || fns.found_rows) {
            return Ok(false);
        }
        let (value, name) = match lone_session_function(sql) {
            Some(name @ "ROW_COUNT()") => (self.row_count, name),
            Some(name) => (i64::try_from(self.found_rows).unwrap_or(i64::MAX), name),
            None => {
                return Err(FrontendError::NeedsPreviousConnection {
                    function: if fns.row_count {
                        "ROW_COUNT()"
                    } else {
                        "FOUND_ROWS()"
                    },
                });
            }
        };
        let packets = integer_result(name, value, self.client_caps().deprecate_eof, self.status);
        let mut seq = self.reply_seq;
        for p in &packets {
            self.client.write_packet(&mut seq, p);
        }
        self.client.flush().await?;
        self.row_count = -1;
        self.found_rows = 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_functions_are_found_by_call() {
        let f = SessionFns::of(b"INSERT INTO t VALUES (LAST_INSERT_ID ())");
        assert!(f.last_insert_id && !f.row_count && !f.found_rows);
        assert!(SessionFns::of(b"select row_count()").row_count);
        assert!(SessionFns::of(b"SELECT FOUND_ROWS( )").found_rows);
        assert_eq!(
            SessionFns::of(b"SELECT my_row_count()"),
            SessionFns::default()
        );
        assert_eq!(SessionFns::of(b"SELECT 1"), SessionFns::default());
    }

    #[test]
    fn lone_calls_are_recognised() {
        assert_eq!(
            lone_session_function(b"SELECT ROW_COUNT()"),
            Some("ROW_COUNT()")
        );
        assert_eq!(
            lone_session_function(b"  select found_rows( ) ;"),
            Some("FOUND_ROWS()")
        );
        assert_eq!(lone_session_function(b"SELECT ROW_COUNT() + 1"), None);
        assert_eq!(lone_session_function(b"SELECT ROW_COUNT() AS n"), None);
        assert_eq!(lone_session_function(b"SELECTROW_COUNT()"), None);
    }
}
