//! Single-target pass-through: send a command to one backend connection and stream its reply
//! to the client frame by frame, rewriting only sequence ids and, where the client's
//! capabilities differ, terminators and OK packets.

use tokio::net::TcpStream;

use super::ExecError;
use crate::backend::connection::BackendConn;
use crate::protocol::packets::{ERR_HEADER, OK_HEADER};
use crate::protocol::response::{Action, ClientCaps, Expect, ResponseTracker};
use crate::protocol::{PacketIo, ProtocolError};

/// How a relayed reply ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Status flags of the last OK/terminator.
    pub status: u16,
    /// New default schema reported by the backend's session tracking.
    pub schema: Option<String>,
    /// GTID of the last transaction the reply committed, when the backend reports it.
    pub last_gtid: Option<String>,
    /// Warning count at the end of the reply.
    pub warnings: u16,
    /// The reply was an ERR.
    pub failed: bool,
    /// Session variables the server reported as changed (name, value), in order.
    pub vars: Vec<(String, String)>,
    /// The server reported a session state change it does not describe (user variables,
    /// temporary tables, prepared statements).
    pub state_changed: bool,
    /// What `ROW_COUNT()` returns after this reply: affected rows of a final OK, -1 after a
    /// result set or an error.
    pub row_count: i64,
    /// Insert id of the final OK (0 when none).
    pub insert_id: u64,
    /// Rows of the final result set, if the reply ended with one (`FOUND_ROWS()`).
    pub rows: Option<u64>,
}

/// Sends `payload` as a command to the backend and relays the whole reply to the client,
/// whose reply sequence ids start at `client_seq`.
pub async fn forward(
    client: &mut PacketIo<TcpStream>,
    conn: &mut BackendConn,
    backend_name: &str,
    payload: &[u8],
    client_seq: u8,
    expect: Expect,
    caps: ClientCaps,
) -> Result<Outcome, ExecError> {
    let backend_seq = send(conn, backend_name, payload).await?;
    let tracker = ResponseTracker::new(expect, caps, conn.status)
        .visible_vars(conn.client_tracked_vars.clone());
    let mut seq = client_seq;
    relay(client, conn, backend_name, tracker, &mut seq, backend_seq).await
}

/// Sends a command packet to the backend; returns the sequence id its reply starts with.
pub async fn send(
    conn: &mut BackendConn,
    backend_name: &str,
    payload: &[u8],
) -> Result<u8, ExecError> {
    conn.send_command(payload)
        .await
        .map_err(|source| ExecError::Lost {
            backend: backend_name.to_string(),
            source,
            partial: false,
        })
}

/// A prepared statement as the backend described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    pub backend_stmt_id: u32,
    pub params: u16,
    pub cols: u16,
}

/// Runs COM_STMT_PREPARE: the backend's statement id is replaced by the one `register` returns.
pub async fn prepare(
    client: &mut PacketIo<TcpStream>,
    conn: &mut BackendConn,
    backend_name: &str,
    payload: &[u8],
    client_seq: u8,
    caps: ClientCaps,
    register: impl FnOnce(Prepared) -> u32,
) -> Result<Outcome, ExecError> {
    let backend_seq = send(conn, backend_name, payload).await?;
    let lost = |source| ExecError::Lost {
        backend: backend_name.to_string(),
        source,
        partial: false,
    };
    let read = conn.io.read_packet(backend_seq, 1 << 20).await;
    let (first, last_seq) = read.inspect_err(|_| conn.reusable = false).map_err(lost)?;
    let mut seq = client_seq;
    match first.first().copied() {
        Some(OK_HEADER) if first.len() >= 12 => {
            let u16_at = |i: usize| u16::from_le_bytes([first[i], first[i + 1]]);
            let prepared = Prepared {
                backend_stmt_id: u32::from_le_bytes([first[1], first[2], first[3], first[4]]),
                cols: u16_at(5),
                params: u16_at(7),
            };
            let proxy_id = register(prepared);
            let mut rewritten = first.to_vec();
            rewritten[1..5].copy_from_slice(&proxy_id.to_le_bytes());
            client.write_packet(&mut seq, &rewritten);
            let tracker = ResponseTracker::after_prepare_ok(
                caps,
                conn.status,
                prepared.params,
                prepared.cols,
            );
            relay(
                client,
                conn,
                backend_name,
                tracker,
                &mut seq,
                last_seq.wrapping_add(1),
            )
            .await
        }
        Some(ERR_HEADER) => {
            conn.reply_read();
            crate::metrics::error_sent(&first);
            client.write_packet(&mut seq, &first);
            client.flush().await.map_err(ExecError::Client)?;
            Ok(Outcome {
                status: conn.status,
                failed: true,
                ..Outcome::default()
            })
        }
        _ => {
            conn.reusable = false;
            Err(lost(ProtocolError::Malformed("bad COM_STMT_PREPARE reply")))
        }
    }
}

/// Relays reply packets from the backend until the tracker says the reply is complete.
/// `seq` is the client-side sequence id to use next; `backend_seq` the one expected next.
pub async fn relay(
    client: &mut PacketIo<TcpStream>,
    conn: &mut BackendConn,
    backend_name: &str,
    mut tracker: ResponseTracker,
    seq: &mut u8,
    mut backend_seq: u8,
) -> Result<Outcome, ExecError> {
    let mut partial = false;
    conn.last_error = None;
    while !tracker.is_done() {
        let lost = |source, partial| ExecError::Lost {
            backend: backend_name.to_string(),
            source,
            partial,
        };
        let frame = match conn.io.read_frame().await {
            Ok(f) if f.seq == backend_seq => f,
            Ok(f) => {
                conn.reusable = false;
                let e = ProtocolError::BadSequence {
                    expected: backend_seq,
                    got: f.seq,
                };
                return Err(lost(e, partial));
            }
            Err(e) => {
                conn.reusable = false;
                return Err(lost(e, partial));
            }
        };
        backend_seq = backend_seq.wrapping_add(1);
        let action = match tracker.feed(&frame.payload) {
            Ok(a) => a,
            Err(e) => {
                conn.reusable = false;
                return Err(lost(e, partial));
            }
        };
        if tracker.failed {
            // The ERR packet that ends the reply (nothing follows it).
            crate::metrics::error_sent(&frame.payload);
            conn.last_error = crate::protocol::packets::err_code(&frame.payload);
        }
        match action {
            Action::Forward => {
                client.write_frame(*seq, &frame.payload);
                *seq = seq.wrapping_add(1);
                let mut continues = frame.continues();
                while continues {
                    let next = match conn.io.read_frame().await {
                        Ok(f) => f,
                        Err(e) => {
                            conn.reusable = false;
                            // The client holds half a packet: it cannot be told anything now.
                            return Err(ExecError::Client(e));
                        }
                    };
                    backend_seq = backend_seq.wrapping_add(1);
                    client.write_frame(*seq, &next.payload);
                    *seq = seq.wrapping_add(1);
                    continues = next.continues();
                    client
                        .flush_if_full()
                        .await
                        .map_err(|e| client_gone(conn, e))?;
                }
            }
            Action::Replace(p) => client.write_packet(seq, &p),
        }
        partial = true;
        client
            .flush_if_full()
            .await
            .map_err(|e| client_gone(conn, e))?;
    }
    conn.status = tracker.status;
    if let Some(schema) = &tracker.schema {
        conn.schema = Some(schema.clone());
    }
    conn.reply_read();
    if tracker.failed {
        refresh_after_error(conn, backend_name).await?;
    }
    client.flush().await.map_err(|e| client_gone(conn, e))?;
    let row_count = match (tracker.failed, tracker.rows) {
        (false, None) => i64::try_from(tracker.affected_rows).unwrap_or(i64::MAX),
        _ => -1,
    };
    Ok(Outcome {
        status: tracker.status,
        schema: tracker.schema,
        last_gtid: tracker.last_gtid,
        warnings: tracker.warnings,
        failed: tracker.failed,
        vars: tracker.vars,
        state_changed: tracker.state_changed,
        row_count,
        insert_id: tracker.insert_id,
        rows: tracker.rows,
    })
}

/// The status flags an ERR reply does not carry (see `BackendConn::refresh_status_after_error`).
pub async fn refresh_after_error(conn: &mut BackendConn, backend: &str) -> Result<(), ExecError> {
    conn.refresh_status_after_error()
        .await
        .map_err(|source| ExecError::Lost {
            backend: backend.to_string(),
            source,
            partial: true,
        })
}

fn client_gone(conn: &mut BackendConn, e: ProtocolError) -> ExecError {
    // The rest of the reply was never read: the connection cannot be reused.
    conn.reusable = false;
    ExecError::Client(e)
}
