//! Tracks a server response packet by packet: where it ends, and how to translate terminators
//! and OK packets when the client's capabilities differ from the backend connection's.
//!
//! Backend connections always use CLIENT_DEPRECATE_EOF and CLIENT_SESSION_TRACK. For a client
//! without CLIENT_DEPRECATE_EOF an EOF is inserted after column definitions and the closing OK
//! becomes an EOF; for a client without CLIENT_SESSION_TRACK OK packets are re-encoded.
//!
//! ```text
//! Start ──OK(more)──▶ Start      Start ──OK/ERR──▶ Done
//! Start ──column count n──▶ Columns(n) ──n defs──▶ Rows ──terminator(more)──▶ Start
//!                                                   Rows ──terminator/ERR──▶ Done
//! ```

use super::ProtocolError;
use super::packets::{self, EOF_HEADER, ERR_HEADER, OK_HEADER, Reader, status};

/// What the response being tracked answers.
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
    Rows,
    FieldDefs,
    /// Parameter definitions then column definitions of a prepared statement.
    PrepareDefs {
        params: u16,
        cols: u16,
    },
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

/// The translation of one backend packet for the client.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    /// A synthesised packet to send before this one.
    pub before: Option<Vec<u8>>,
    pub action: Action,
    /// A synthesised packet to send after this one.
    pub after: Option<Vec<u8>>,
    /// The response is complete after this packet.
    pub done: bool,
}

impl Step {
    fn forward() -> Self {
        Step {
            before: None,
            action: Action::Forward,
            after: None,
            done: false,
        }
    }
}

/// The client's relevant capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCaps {
    pub deprecate_eof: bool,
    pub session_track: bool,
}

/// Follows one response from a backend connection (with DEPRECATE_EOF and SESSION_TRACK).
#[derive(Debug)]
pub struct ResponseTracker {
    client: ClientCaps,
    state: State,
    pending_eof: bool,
    /// Status flags of the last OK/EOF/terminator seen.
    pub status: u16,
    /// Schema reported by session tracking, if it changed.
    pub schema: Option<String>,
    /// An ERR packet ended the response.
    pub failed: bool,
}

impl ResponseTracker {
    pub fn new(expect: Expect, client: ClientCaps, status: u16) -> Self {
        let state = match expect {
            Expect::Results => State::Start,
            Expect::Rows => State::Rows,
            Expect::FieldList => State::FieldDefs,
            Expect::OkOrErr => State::OkOrErr,
            Expect::Raw => State::Raw,
        };
        ResponseTracker {
            client,
            state,
            pending_eof: false,
            status,
            schema: None,
            failed: false,
        }
    }

    /// Tracks the definitions that follow a COM_STMT_PREPARE OK (already handled by the caller).
    /// Returns a tracker that is already done when there are no definitions.
    pub fn after_prepare_ok(client: ClientCaps, status: u16, params: u16, cols: u16) -> Self {
        let mut t = ResponseTracker::new(Expect::OkOrErr, client, status);
        t.state = if params == 0 && cols == 0 {
            State::Done
        } else {
            State::PrepareDefs { params, cols }
        };
        t
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the first frame of the next backend packet.
    pub fn feed(&mut self, payload: &[u8]) -> Result<Step, ProtocolError> {
        let header = payload.first().copied();
        match self.state {
            State::Done => Err(ProtocolError::Malformed(
                "packet after the end of a response",
            )),
            State::Raw => {
                self.state = State::Done;
                Ok(Step {
                    done: true,
                    ..Step::forward()
                })
            }
            State::OkOrErr => match header {
                Some(ERR_HEADER) => Ok(self.error()),
                Some(OK_HEADER) => {
                    let mut step = self.ok(payload, OK_HEADER)?;
                    step.done = true;
                    self.state = State::Done;
                    Ok(step)
                }
                _ => Err(ProtocolError::Malformed("expected OK or ERR")),
            },
            State::Start => match header {
                Some(ERR_HEADER) => Ok(self.error()),
                Some(OK_HEADER) => {
                    let mut step = self.ok(payload, OK_HEADER)?;
                    if self.status & status::MORE_RESULTS_EXISTS == 0 {
                        self.state = State::Done;
                        step.done = true;
                    }
                    Ok(step)
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
                    Ok(Step::forward())
                }
                None => Err(ProtocolError::Malformed("empty packet")),
            },
            State::Columns(left) => {
                if header == Some(ERR_HEADER) {
                    return Ok(self.error());
                }
                if left <= 1 {
                    self.state = State::Rows;
                    self.pending_eof = !self.client.deprecate_eof;
                } else {
                    self.state = State::Columns(left - 1);
                }
                Ok(Step::forward())
            }
            State::Rows => self.row_or_end(payload),
            State::FieldDefs => {
                if header == Some(ERR_HEADER) {
                    return Ok(self.error());
                }
                if packets::is_terminator(payload, true) {
                    let mut step = self.terminator(payload)?;
                    step.done = true;
                    self.state = State::Done;
                    return Ok(step);
                }
                Ok(Step::forward())
            }
            State::PrepareDefs { params, cols } => {
                let (params, cols, block_ended) = if params > 0 {
                    (params - 1, cols, params == 1)
                } else {
                    (0, cols.saturating_sub(1), true)
                };
                let mut step = Step::forward();
                if block_ended && !self.client.deprecate_eof {
                    step.after = Some(packets::eof_packet(0, self.status));
                }
                if params == 0 && cols == 0 {
                    self.state = State::Done;
                    step.done = true;
                } else {
                    self.state = State::PrepareDefs { params, cols };
                }
                Ok(step)
            }
        }
    }

    fn row_or_end(&mut self, payload: &[u8]) -> Result<Step, ProtocolError> {
        let is_end = packets::is_terminator(payload, true);
        let mut before = None;
        if self.pending_eof {
            self.pending_eof = false;
            if is_end {
                let (_, st) = packets::terminator_fields(payload, true, true)?;
                if st & status::CURSOR_EXISTS != 0 {
                    // A cursor was opened: the client's EOF after the columns is the whole rest.
                    let mut step = self.terminator(payload)?;
                    self.finish_results(&mut step);
                    return Ok(step);
                }
            }
            before = Some(packets::eof_packet(
                0,
                self.status & !(status::CURSOR_EXISTS | status::MORE_RESULTS_EXISTS),
            ));
        }
        let mut step = if payload.first() == Some(&ERR_HEADER) {
            self.error()
        } else if is_end {
            let mut step = self.terminator(payload)?;
            self.finish_results(&mut step);
            step
        } else {
            Step::forward()
        };
        step.before = before;
        Ok(step)
    }

    fn finish_results(&mut self, step: &mut Step) {
        if self.status & status::MORE_RESULTS_EXISTS != 0 {
            self.state = State::Start;
        } else {
            self.state = State::Done;
            step.done = true;
        }
    }

    fn error(&mut self) -> Step {
        self.state = State::Done;
        self.failed = true;
        Step {
            done: true,
            ..Step::forward()
        }
    }

    /// An OK packet: record status and schema, re-encode for a client without session tracking.
    fn ok(&mut self, payload: &[u8], header: u8) -> Result<Step, ProtocolError> {
        let ok = packets::Ok::parse(payload, true)?;
        self.status = ok.status;
        if !ok.session_state.is_empty() {
            self.schema = schema_change(ok.session_state)?.or(self.schema.take());
        }
        if self.client.session_track {
            return Ok(Step::forward());
        }
        let mut out = Vec::with_capacity(payload.len());
        ok.write(header, false, &mut out);
        Ok(Step {
            action: Action::Replace(out),
            ..Step::forward()
        })
    }

    /// A terminator after rows or definitions (an OK with the EOF header from the backend).
    fn terminator(&mut self, payload: &[u8]) -> Result<Step, ProtocolError> {
        if self.client.deprecate_eof {
            return self.ok(payload, EOF_HEADER);
        }
        let ok = packets::Ok::parse(payload, true)?;
        self.status = ok.status;
        Ok(Step {
            action: Action::Replace(packets::eof_packet(ok.warnings, ok.status)),
            ..Step::forward()
        })
    }
}

/// The new default schema from a session-state-change block, if it reports one.
fn schema_change(block: &[u8]) -> Result<Option<String>, ProtocolError> {
    const SESSION_TRACK_SCHEMA: u8 = 1;
    let mut r = Reader::new(block);
    let mut schema = None;
    while !r.is_empty() {
        let kind = r.u8()?;
        let data = r.lenenc_bytes()?;
        if kind == SESSION_TRACK_SCHEMA {
            let name = Reader::new(data).lenenc_bytes()?;
            schema = Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODERN: ClientCaps = ClientCaps {
        deprecate_eof: true,
        session_track: true,
    };
    const LEGACY: ClientCaps = ClientCaps {
        deprecate_eof: false,
        session_track: false,
    };

    fn backend_terminator(st: u16) -> Vec<u8> {
        packets::terminator(true, 0, st)
    }

    /// Feeds packets and returns what the client receives, as a list of payloads.
    fn run(t: &mut ResponseTracker, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let step = t.feed(p).expect("feed");
            out.extend(step.before);
            match step.action {
                Action::Forward => out.push(p.clone()),
                Action::Replace(r) => out.push(r),
            }
            out.extend(step.after);
            assert_eq!(step.done, i == packets.len() - 1, "done only at the end");
        }
        out
    }

    fn result_set(st: u16) -> Vec<Vec<u8>> {
        vec![
            vec![1],
            b"\x03defcol".to_vec(),
            b"\x011".to_vec(),
            backend_terminator(st),
        ]
    }

    #[test]
    fn modern_client_gets_bytes_unchanged() {
        let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
        let input = result_set(status::AUTOCOMMIT);
        assert_eq!(run(&mut t, &input), input);
        assert_eq!(t.status, status::AUTOCOMMIT);
    }

    #[test]
    fn legacy_client_gets_eofs() {
        let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
        let out = run(&mut t, &result_set(status::AUTOCOMMIT));
        assert_eq!(out.len(), 5);
        assert_eq!(out[2], packets::eof_packet(0, 0));
        assert_eq!(out[4], packets::eof_packet(0, status::AUTOCOMMIT));
    }

    #[test]
    fn empty_result_set_for_legacy_client() {
        let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
        let out = run(
            &mut t,
            &[vec![1], b"\x03def".to_vec(), backend_terminator(2)],
        );
        assert_eq!(out.len(), 4, "count, def, EOF, EOF");
    }

    #[test]
    fn cursor_gives_one_eof_for_legacy_client() {
        let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
        let st = status::AUTOCOMMIT | status::CURSOR_EXISTS;
        let out = run(
            &mut t,
            &[vec![1], b"\x03def".to_vec(), backend_terminator(st)],
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[2], packets::eof_packet(0, st));
    }

    #[test]
    fn multiple_results_continue_until_last() {
        let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
        let mut input = result_set(status::MORE_RESULTS_EXISTS);
        input.push(packets::ok_packet(status::MORE_RESULTS_EXISTS, 1, 0));
        input.extend(result_set(0));
        input.push(packets::ok_packet(0, 0, 0));
        // the last result-set terminator has no MORE flag: stream ends there
        let input = input[..input.len() - 1].to_vec();
        assert_eq!(run(&mut t, &input).len(), input.len());
    }

    #[test]
    fn error_mid_rows_ends_response() {
        let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
        let err = packets::err_packet(1317, "70100", "interrupted");
        run(
            &mut t,
            &[vec![1], b"\x03def".to_vec(), b"\x011".to_vec(), err],
        );
        assert!(t.failed);
    }

    #[test]
    fn ok_is_reencoded_without_session_track_and_schema_is_seen() {
        let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
        let ok = packets::Ok {
            status: status::AUTOCOMMIT | status::SESSION_STATE_CHANGED,
            session_state: b"\x01\x05\x04shop",
            ..Default::default()
        };
        let mut p = Vec::new();
        ok.write(OK_HEADER, true, &mut p);
        let out = run(&mut t, &[p]);
        assert_eq!(out[0], packets::ok_packet(status::AUTOCOMMIT, 0, 0));
        assert_eq!(t.schema.as_deref(), Some("shop"));
    }

    #[test]
    fn prepare_defs_get_eofs_for_legacy_client() {
        let mut t = ResponseTracker::after_prepare_ok(LEGACY, 2, 2, 1);
        let d = b"\x03def".to_vec();
        let out = run(&mut t, &[d.clone(), d.clone(), d.clone()]);
        assert_eq!(out.len(), 5, "2 params, EOF, 1 col, EOF");
        let mut t = ResponseTracker::after_prepare_ok(MODERN, 2, 2, 1);
        assert_eq!(run(&mut t, &[d.clone(), d.clone(), d]).len(), 3);
        assert!(ResponseTracker::after_prepare_ok(MODERN, 2, 0, 0).is_done());
    }

    #[test]
    fn field_list_ends_at_terminator() {
        let mut t = ResponseTracker::new(Expect::FieldList, LEGACY, 0);
        let out = run(&mut t, &[b"\x03def".to_vec(), backend_terminator(2)]);
        assert_eq!(out[1], packets::eof_packet(0, 2));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
            for _ in 0..8 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (seed >> 59) as usize;
                let p: Vec<u8> = (0..len).map(|i| (seed >> (i % 56)) as u8).collect();
                if t.feed(&p).is_err() || t.is_done() {
                    break;
                }
            }
        }
    }
}
