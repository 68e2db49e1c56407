//! Runs one write statement on a backend connection without relaying its reply: the caller
//! combines the OKs of several targets (a split INSERT, a broadcast write) into one answer.

use super::ExecError;
use crate::backend::connection::BackendConn;
use crate::protocol::command;
use crate::protocol::packets::{self, ERR_HEADER, OK_HEADER};
use crate::protocol::response::ok_last_gtid;

/// Most bytes of an OK or ERR the proxy reads for a write.
const MAX_REPLY: usize = 1 << 20;

/// What an OK said.
#[derive(Debug, Clone, Default)]
pub struct WriteOk {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    pub last_gtid: Option<String>,
}

/// Runs `sql`; `Ok(Err(packet))` is the server's ERR, kept whole to forward.
pub async fn run(
    conn: &mut BackendConn,
    backend: &str,
    sql: &str,
) -> Result<Result<WriteOk, Vec<u8>>, ExecError> {
    run_command(conn, backend, &command::query(sql.as_bytes())).await
}

/// Sends any command whose reply is an OK or ERR (COM_QUERY of a write, COM_STMT_EXECUTE of
/// a prepared write).
pub async fn run_command(
    conn: &mut BackendConn,
    backend: &str,
    payload: &[u8],
) -> Result<Result<WriteOk, Vec<u8>>, ExecError> {
    let lost = |source| ExecError::Lost {
        backend: backend.to_string(),
        source,
        partial: false,
    };
    let seq = conn.send_command(payload).await.map_err(lost)?;
    let (p, _) = match conn.io.read_packet(seq, MAX_REPLY).await {
        Ok(r) => r,
        Err(e) => {
            conn.reusable = false;
            return Err(lost(e));
        }
    };
    // One packet is the whole reply to a write (anything else is not reused, below).
    conn.reply_read();
    conn.last_error = packets::err_code(&p);
    match p.first().copied() {
        Some(ERR_HEADER) => {
            crate::executor::passthrough::refresh_after_error(conn, backend).await?;
            Ok(Err(p.to_vec()))
        }
        Some(OK_HEADER) => {
            let ok = match packets::Ok::parse(&p, true) {
                Ok(ok) => ok,
                Err(e) => {
                    conn.reusable = false;
                    return Err(lost(e));
                }
            };
            conn.status = ok.status;
            Ok(Ok(WriteOk {
                affected_rows: ok.affected_rows,
                last_insert_id: ok.last_insert_id,
                status: ok.status,
                warnings: ok.warnings,
                last_gtid: ok_last_gtid(&ok),
            }))
        }
        _ => {
            // A result set where a write's OK was expected: the reply is not read to its end.
            conn.reusable = false;
            Err(lost(crate::protocol::ProtocolError::Malformed(
                "a result set where an OK was expected",
            )))
        }
    }
}
