//! Tracks a server reply packet by packet: where it ends, its status flags, and which OK
//! packets must be re-encoded for the client.
//!
//! The backend connection always has the client's CLIENT_DEPRECATE_EOF setting (the pool keeps
//! both flavours), so EOF packets pass unchanged. Backend connections always use
//! CLIENT_SESSION_TRACK; for a client without it, OK packets are re-encoded without the
//! session-state block, as the server would have written them.
//!
//! ```text
//! Start ──OK(more)──▶ Start          Start ──OK/ERR──▶ Done
//! Start ──column count n──▶ Columns(n) ──n defs──▶ [ColumnsEof] ──▶ Rows
//! ColumnsEof ──EOF(cursor)──▶ Done   Rows ──terminator(more)──▶ Start
//! Rows ──terminator/ERR──▶ Done
//! ```

use super::ProtocolError;
use super::packets::{self, ERR_HEADER, OK_HEADER, Reader, status};

/// What the reply being tracked answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// COM_QUERY / COM_STMT_EXECUTE: OK, ERR or result sets, possibly several.
    Results,
    /// COM_STMT_FETCH: rows then a terminator.
    Rows,
    /// COM_FIELD_LIST: column definitions then a terminator.
    FieldList,
    /// One OK or ERR.
    OkOrErr,
    /// One packet forwarded as is (COM_STATISTICS).
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Columns(u64),
    ColumnsEof,
    Rows,
    FieldDefs,
    /// Packets left in the definitions that follow a COM_STMT_PREPARE OK.
    PrepareDefs(u32),
    OkOrErr,
    Raw,
    Done,
}

/// What to do with one backend packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Forward,
    Replace(Vec<u8>),
}

/// The client's (and so the backend connection's) relevant capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCaps {
    pub deprecate_eof: bool,
    pub session_track: bool,
}

/// Follows one reply from a backend connection.
#[derive(Debug)]
pub struct ResponseTracker {
    caps: ClientCaps,
    state: State,
    /// Status flags of the last OK/EOF/terminator seen.
    pub status: u16,
    /// Warning count of the last OK/EOF/terminator seen.
    pub warnings: u16,
    /// Schema reported by session tracking, if it changed.
    pub schema: Option<String>,
    /// GTID of the last transaction this reply committed (MariaDB `last_gtid` tracking).
    pub last_gtid: Option<String>,
    /// An ERR packet ended the reply.
    pub failed: bool,
    /// Session system variables the server reported as changed, in order (name, value).
    pub vars: Vec<(String, String)>,
    /// The server reported a session state change (SESSION_TRACK_STATE_CHANGE).
    pub state_changed: bool,
    /// Affected rows and insert id of the last OK packet.
    pub affected_rows: u64,
    pub insert_id: u64,
    /// Rows of the last result set; `None` when the last result was an OK or ERR.
    pub rows: Option<u64>,
    /// The variables the client's session reports (`session_track_system_variables` of a new
    /// connection, comma-separated; `*` for all); the proxy tracks all of them for itself.
    visible_vars: Option<std::sync::Arc<str>>,
}

impl ResponseTracker {
    pub fn new(expect: Expect, caps: ClientCaps, status: u16) -> Self {
        let state = match expect {
            Expect::Results => State::Start,
            Expect::Rows => State::Rows,
            Expect::FieldList => State::FieldDefs,
            Expect::OkOrErr => State::OkOrErr,
            Expect::Raw => State::Raw,
        };
        ResponseTracker {
            caps,
            state,
            status,
            warnings: 0,
            schema: None,
            last_gtid: None,
            failed: false,
            vars: Vec::new(),
            state_changed: false,
            affected_rows: 0,
            insert_id: 0,
            rows: None,
            visible_vars: None,
        }
    }

    /// Shows the client only these session variables (the rest the proxy asked for itself).
    pub fn visible_vars(mut self, list: Option<std::sync::Arc<str>>) -> Self {
        self.visible_vars = list;
        self
    }

    /// Tracks the definitions that follow a COM_STMT_PREPARE OK (handled by the caller).
    pub fn after_prepare_ok(caps: ClientCaps, status: u16, params: u16, cols: u16) -> Self {
        let eofs = if caps.deprecate_eof {
            0
        } else {
            u32::from(params > 0) + u32::from(cols > 0)
        };
        let left = u32::from(params) + u32::from(cols) + eofs;
        let mut t = ResponseTracker::new(Expect::OkOrErr, caps, status);
        t.state = if left == 0 {
            State::Done
        } else {
            State::PrepareDefs(left)
        };
        t
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the first frame of the next backend packet; says what to send the client.
    pub fn feed(&mut self, payload: &[u8]) -> Result<Action, ProtocolError> {
        let header = payload.first().copied();
        if header == Some(ERR_HEADER) && !matches!(self.state, State::Raw | State::PrepareDefs(_)) {
            if self.state == State::Done {
                return Err(ProtocolError::Malformed("packet after the end of a reply"));
            }
            self.state = State::Done;
            self.failed = true;
            return Ok(Action::Forward);
        }
        match self.state {
            State::Done => Err(ProtocolError::Malformed("packet after the end of a reply")),
            State::Raw => {
                self.state = State::Done;
                Ok(Action::Forward)
            }
            State::OkOrErr => {
                if header != Some(OK_HEADER) {
                    return Err(ProtocolError::Malformed("expected OK or ERR"));
                }
                self.state = State::Done;
                self.ok(payload)
            }
            State::Start => match header {
                Some(OK_HEADER) => {
                    let action = self.ok(payload)?;
                    self.end_of_result();
                    Ok(action)
                }
                Some(packets::LOCAL_INFILE_HEADER) => Err(ProtocolError::Malformed(
                    "LOCAL INFILE request from a backend (not enabled)",
                )),
                Some(_) => {
                    let n = Reader::new(payload).lenenc_int()?;
                    if n == 0 {
                        return Err(ProtocolError::Malformed("result set with zero columns"));
                    }
                    self.state = State::Columns(n);
                    self.rows = Some(0);
                    Ok(Action::Forward)
                }
                None => Err(ProtocolError::Malformed("empty packet")),
            },
            State::Columns(left) => {
                self.state = match (left, self.caps.deprecate_eof) {
                    (1, true) => State::Rows,
                    (1, false) => State::ColumnsEof,
                    _ => State::Columns(left - 1),
                };
                Ok(Action::Forward)
            }
            State::ColumnsEof => {
                if !packets::is_terminator(payload, false) {
                    return Err(ProtocolError::Malformed(
                        "expected EOF after column definitions",
                    ));
                }
                let (warnings, st) = packets::terminator_fields(payload, false, false)?;
                self.status = st;
                self.warnings = warnings;
                // With a cursor the rows come later, through COM_STMT_FETCH.
                self.state = if st & status::CURSOR_EXISTS != 0 {
                    State::Done
                } else {
                    State::Rows
                };
                Ok(Action::Forward)
            }
            State::Rows | State::FieldDefs => {
                if !packets::is_terminator(payload, self.caps.deprecate_eof) {
                    if let Some(rows) = self.rows.as_mut() {
                        *rows += 1;
                    }
                    return Ok(Action::Forward);
                }
                let action = self.terminator(payload)?;
                if self.state == State::Rows {
                    self.end_of_result();
                } else {
                    self.state = State::Done;
                }
                Ok(action)
            }
            State::PrepareDefs(left) => {
                self.state = if left <= 1 {
                    State::Done
                } else {
                    State::PrepareDefs(left - 1)
                };
                Ok(Action::Forward)
            }
        }
    }

    /// After a result's last packet: more results follow, or the reply is complete.
    fn end_of_result(&mut self) {
        self.state = if self.status & status::MORE_RESULTS_EXISTS != 0 {
            State::Start
        } else {
            State::Done
        };
    }

    /// A terminator after rows or definitions: an EOF, or an OK with the EOF header.
    fn terminator(&mut self, payload: &[u8]) -> Result<Action, ProtocolError> {
        if self.caps.deprecate_eof {
            return self.ok(payload);
        }
        let (warnings, st) = packets::terminator_fields(payload, false, false)?;
        self.status = st;
        self.warnings = warnings;
        Ok(Action::Forward)
    }

    /// An OK packet: record status, schema and last GTID; re-encode it when the client must not
    /// see part of it (no session tracking, or the proxy's own `last_gtid` tracking).
    fn ok(&mut self, payload: &[u8]) -> Result<Action, ProtocolError> {
        let mut ok = packets::Ok::parse(payload, true)?;
        self.status = ok.status;
        self.warnings = ok.warnings;
        if self.state != State::Rows {
            // An OK that is a result of its own (not the end of a result set's rows).
            self.affected_rows = ok.affected_rows;
            self.insert_id = ok.last_insert_id;
            self.rows = None;
        }
        if ok.session_state.is_empty() {
            if self.caps.session_track {
                return Ok(Action::Forward);
            }
            return Ok(Action::Replace(reencode(&ok, payload, false)));
        }
        let state = SessionState::parse(ok.session_state, self.visible_vars.as_deref())?;
        if let Some(schema) = state.schema {
            self.schema = Some(schema);
        }
        self.state_changed |= state.state_changed;
        self.vars.extend(state.vars);
        if !state.stripped && self.caps.session_track {
            return Ok(Action::Forward);
        }
        self.last_gtid = state.last_gtid.or(self.last_gtid.take());
        ok.session_state = &state.for_client;
        if ok.session_state.is_empty() {
            ok.status &= !status::SESSION_STATE_CHANGED;
        }
        Ok(Action::Replace(reencode(
            &ok,
            payload,
            self.caps.session_track,
        )))
    }
}

fn reencode(ok: &packets::Ok<'_>, payload: &[u8], session_track: bool) -> Vec<u8> {
    let header = payload.first().copied().unwrap_or(OK_HEADER);
    let mut out = Vec::with_capacity(payload.len());
    ok.write(header, session_track, &mut out);
    out
}

/// What the proxy reads from a session-state-change block.
struct SessionState {
    schema: Option<String>,
    last_gtid: Option<String>,
    vars: Vec<(String, String)>,
    state_changed: bool,
    /// The block without the entries the proxy asked for and the client did not (`last_gtid`,
    /// the state-change flag, variables outside the client's list).
    for_client: Vec<u8>,
    stripped: bool,
}

impl SessionState {
    fn parse(block: &[u8], visible: Option<&str>) -> Result<Self, ProtocolError> {
        const SYSTEM_VARIABLES: u8 = 0;
        const SCHEMA: u8 = 1;
        const STATE_CHANGE: u8 = 2;
        let mut r = Reader::new(block);
        let mut out = SessionState {
            schema: None,
            last_gtid: None,
            vars: Vec::new(),
            state_changed: false,
            for_client: Vec::with_capacity(block.len()),
            stripped: false,
        };
        while !r.is_empty() {
            let start = r.remaining();
            let kind = r.u8()?;
            let data = r.lenenc_bytes()?;
            let entry = &start[..start.len() - r.remaining().len()];
            match kind {
                SCHEMA => {
                    let name = Reader::new(data).lenenc_bytes()?;
                    out.schema = Some(String::from_utf8_lossy(name).into_owned());
                }
                SYSTEM_VARIABLES => {
                    let mut d = Reader::new(data);
                    let name = d.lenenc_bytes()?;
                    let value = String::from_utf8_lossy(d.lenenc_bytes()?).into_owned();
                    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
                    if name == "last_gtid" {
                        out.last_gtid = Some(value).filter(|g| !g.is_empty());
                        out.stripped = true;
                        continue;
                    }
                    let shown = visible.is_none_or(|list| {
                        list.split(',')
                            .any(|v| v.trim() == "*" || v.trim().eq_ignore_ascii_case(&name))
                    });
                    out.vars.push((name, value));
                    if !shown {
                        out.stripped = true;
                        continue;
                    }
                }
                STATE_CHANGE => {
                    // MariaDB writes the flag bare, MySQL as a length-encoded string.
                    out.state_changed = data == b"1" || data == b"\x011";
                    out.stripped = true;
                    continue;
                }
                _ => {}
            }
            out.for_client.extend_from_slice(entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

/// The GTID an OK packet's session-state block reports (MariaDB `last_gtid` tracking).
pub fn ok_last_gtid(ok: &packets::Ok<'_>) -> Option<String> {
    if ok.session_state.is_empty() {
        return None;
    }
    SessionState::parse(ok.session_state, None).ok()?.last_gtid
}
