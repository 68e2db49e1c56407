//! A client session: the command loop after login (`login`). The session owns its state
//! (user, schema, character set, options, session variables, prepared statements); it borrows
//! backend connections per statement and keeps one only while it must (see `checkout`).

use std::sync::Arc;
use std::time::Instant;

use mysql_common::constants::CapabilityFlags as C;
use tokio::net::TcpStream;

use super::FrontendError;

use super::pins::Pins;
use super::statements::Statements;
use crate::backend::connection::{Flavour, Reply};
use crate::backend::pool::PooledConn;
use crate::backend::vars::SessionVars;
use crate::config::User;
use crate::error;
use crate::executor::ExecError;
use crate::executor::passthrough::{self, Outcome};
use crate::protocol::command::Command;

use crate::protocol::packets::{self, status};
use crate::protocol::response::{ClientCaps, Expect};
use crate::protocol::{PacketIo, ProtocolError};
use crate::runtime::Proxy;

/// A logged-in client.
pub struct Session {
    pub(super) proxy: Arc<Proxy>,
    /// The config snapshot the session routes with: the newest at each statement, except
    /// inside a transaction, which finishes with the snapshot it started with.
    pub(super) routing: Arc<crate::runtime::Snapshot>,
    pub(super) client: PacketIo<TcpStream>,
    pub(super) id: u32,
    pub(super) host: String,
    pub(super) user: User,
    pub(super) caps: C,
    pub(super) scramble: [u8; 20],
    pub(super) collation: u16,
    pub(super) schema: Option<String>,
    pub(super) multi_statements: bool,
    pub(super) status: u16,
    /// The default shard's primary connection while the session keeps it (transaction,
    /// pinned state); `None` between statements otherwise.
    pub(super) backend: Option<PooledConn>,
    pub(super) stmts: Statements,
    pub(super) max_packet: usize,
    /// Sequence id of the reply to the command being served.
    pub(super) reply_seq: u8,
    /// When the session last sent a statement that may write (read-your-writes).
    pub(super) last_write_at: Option<Instant>,
    /// GTID of the session's last commit, as the primary reported it (read-your-writes).
    pub(super) last_gtid: Option<String>,
    /// A write ran where GTIDs are not reported (MySQL backend): read-your-writes falls back
    /// to the primary window.
    pub(super) gtid_untracked: bool,
    /// Session variables the server reported as changed, set on every connection borrowed.
    pub(super) vars: Arc<SessionVars>,
    /// Why the session keeps its connection between statements (beyond a transaction).
    pub(super) pins: Pins,
    /// Why the session's reads stay on the primary although it keeps no connection.
    pub(super) route_pin: Option<&'static str>,
    /// What `LAST_INSERT_ID()` returns for this session.
    pub(super) last_insert_id: u64,
    /// A statement may have changed `LAST_INSERT_ID()` on the held connection.
    pub(super) unread_insert_id: super::insert_id::UnreadInsertId,
    /// The current statement reads `LAST_INSERT_ID()`: connections must carry the value.
    pub(super) wants_last_insert_id: bool,
    /// What `ROW_COUNT()` and `FOUND_ROWS()` return for this session's next statement.
    pub(super) row_count: i64,
    pub(super) found_rows: u64,
    /// The last statement ran somewhere else than the held connection (another shard, several
    /// shards, a replica): that connection's own ROW_COUNT()/FOUND_ROWS() are not the session's.
    pub(super) counts_elsewhere: bool,
    /// The client's savepoints in the current transaction, oldest first (lower-cased), set
    /// again on shards that join it.
    pub(super) savepoints: Vec<String>,
    /// Why the session kept its connection after the last command (as counted by the proxy).
    pub(super) held_for: Option<&'static str>,
    /// Where the current statement went, and how long it waited for backend connections
    /// (slow-statement log).
    pub(super) route: &'static str,
    pub(super) checkout_wait: std::time::Duration,
    /// What `SHOW SHARDGATE SESSIONS` shows of this session.
    pub(super) card: Arc<crate::runtime::sessions::SessionCard>,
    /// The replica connection of the last read while it holds warnings to show.
    pub(super) held_replica: Option<PooledConn>,
    /// Primary connections to shards other than the default one (sharded schemas).
    pub(super) others: std::collections::BTreeMap<usize, PooledConn>,
    /// Last GTID the session committed on each non-default shard (read-your-writes).
    pub(super) shard_gtids: std::collections::BTreeMap<usize, String>,
    /// The transaction as it stood before the current command (see `transaction`).
    pub(super) txn_watch: super::transaction::TxnWatch,
}

pub use super::login::serve;

impl Session {
    /// The config snapshot this statement routes with.
    pub(super) fn snapshot(&self) -> Arc<crate::runtime::Snapshot> {
        Arc::clone(&self.routing)
    }

    /// The backend connection flavour this client needs.
    pub(super) fn flavour(&self) -> Flavour {
        Flavour {
            found_rows: self.caps.contains(C::CLIENT_FOUND_ROWS),
            deprecate_eof: self.caps.contains(C::CLIENT_DEPRECATE_EOF),
        }
    }

    pub(super) fn client_caps(&self) -> ClientCaps {
        ClientCaps {
            deprecate_eof: self.caps.contains(C::CLIENT_DEPRECATE_EOF),
            session_track: self.caps.contains(C::CLIENT_SESSION_TRACK),
        }
    }

    /// The command loop; returns why the session ended.
    pub(super) async fn run(&mut self) -> &'static str {
        let mut stopping = self.proxy.stopping();
        let reason = loop {
            // A transaction (or pinned state) may finish before a shutdown ends the session,
            // until the shutdown deadline.
            let stage = if self.holds_connection().is_some() {
                2
            } else {
                1
            };
            let read = tokio::select! {
                r = self.client.read_packet(0, self.max_packet) => Some(r),
                _ = stopping.wait_for(|s| *s >= stage) => None,
            };
            let Some(read) = read else {
                if stage == 2 {
                    // Past the deadline: the client's next command (if it comes while the
                    // proxy exits) learns why its transaction is gone.
                    let next = self.client.read_packet(0, self.max_packet);
                    if let Ok(Ok((_, last))) =
                        tokio::time::timeout(std::time::Duration::from_secs(1), next).await
                    {
                        self.reply_seq = last.wrapping_add(1);
                        self.reply_error(&FrontendError::ShuttingDown).await;
                    }
                }
                break "proxy shutting down";
            };
            let payload = match read {
                Ok((p, last_seq)) => {
                    self.reply_seq = last_seq.wrapping_add(1);
                    p
                }
                Err(ProtocolError::Eof) => break "client closed the connection",
                Err(ProtocolError::PacketTooLarge { max, next_seq }) => {
                    self.reply_seq = next_seq;
                    self.reply_error(&FrontendError::PacketTooLarge { max })
                        .await;
                    break "client packet larger than max_allowed_packet";
                }
                Err(e) => {
                    tracing::info!(conn = self.id, "closing client connection: {e}");
                    break "client protocol error";
                }
            };
            if !self.in_transaction() {
                // A reload takes effect here, never inside a transaction.
                self.routing = self.proxy.snapshot();
            }
            self.pins.start_statement();
            self.wants_last_insert_id = false;
            self.route = "proxy";
            self.checkout_wait = std::time::Duration::ZERO;
            let started = Instant::now();
            self.txn_watch = self.watch_transaction();
            let result = self.dispatch(&payload).await;
            self.follow_transaction_end().await;
            self.log_if_slow(&payload, started.elapsed());
            match result {
                Ok(true) => {}
                Ok(false) => break "client sent COM_QUIT",
                Err(e) => {
                    self.reply_error(&e).await;
                    if e.ends_session() {
                        tracing::info!(conn = self.id, "closing client connection: {e}");
                        break "error";
                    }
                }
            }
            self.settle().await;
            self.client.shrink();
        };
        self.release().await;
        self.proxy.pin_changed(self.held_for.take(), None);
        self.client.shutdown().await;
        reason
    }

    pub(super) async fn reply_error(&mut self, e: &FrontendError) {
        if let Some(p) = error::reply_packet(e) {
            let mut seq = self.reply_seq;
            self.client.write_packet(&mut seq, &p);
            let _ = self.client.flush().await;
        }
    }

    /// Runs one command. `Ok(false)` ends the session.
    async fn dispatch(&mut self, payload: &[u8]) -> Result<bool, FrontendError> {
        let command = Command::parse(payload)?;
        if !matches!(command, Command::Query(_)) {
            // Warnings of a replica read can only be asked for by the next statement.
            self.held_replica = None;
        }
        match command {
            Command::Quit => return Ok(false),
            Command::Ping => self.reply_ok().await?,
            Command::Query(sql) => self.query(payload, sql).await?,
            Command::InitDb(db) => {
                let db = String::from_utf8_lossy(db).into_owned();
                self.check_schema(&db)?;
                let out = self.forward(payload, Expect::OkOrErr).await?;
                if !out.failed {
                    self.schema = Some(db);
                }
            }
            Command::FieldList(_) => {
                self.forward(payload, Expect::FieldList).await?;
            }
            Command::Statistics => {
                self.forward(payload, Expect::Raw).await?;
            }
            Command::ChangeUser(body) => self.change_user(body).await?,
            Command::StmtPrepare(_) => self.prepare(payload).await?,
            Command::StmtExecute { stmt_id } => self.execute(payload, stmt_id).await?,
            Command::StmtFetch { stmt_id } => self.fetch(payload, stmt_id).await?,
            Command::StmtReset { stmt_id } => self.reset_statement(payload, stmt_id).await?,
            Command::StmtSendLongData { stmt_id } => self.long_data(payload, stmt_id),
            Command::StmtClose { stmt_id } => self.close_statement(payload, stmt_id).await?,
            Command::SetOption(opt) => {
                self.multi_statements = match opt {
                    0 => true,
                    1 => false,
                    other => return Err(FrontendError::UnknownOption(other)),
                };
                let mut conn = self.checkout().await?;
                let applied = conn.set_multi_statements(self.multi_statements).await;
                let name = conn.pool().name().to_string();
                let outcome = match applied {
                    Ok(Reply::Ok { status }) => Ok(Outcome {
                        status,
                        ..Outcome::default()
                    }),
                    Ok(Reply::Err(p)) => {
                        self.backend = Some(conn);
                        return Err(FrontendError::BackendReply(p));
                    }
                    Err(source) => Err(ExecError::Lost {
                        backend: name,
                        source,
                        partial: false,
                    }),
                };
                self.keep(conn, outcome)?;
                let mut seq = self.reply_seq;
                let eof = packets::terminator(self.client_caps().deprecate_eof, 0, self.status);
                self.client.write_packet(&mut seq, &eof);
                self.client.flush().await?;
            }
            Command::ResetConnection => self.reset_connection().await?,
            Command::Unsupported(code) => return Err(FrontendError::UnknownCommand(code)),
        }
        Ok(true)
    }

    pub(super) async fn reply_ok(&mut self) -> Result<(), FrontendError> {
        let mut seq = self.reply_seq;
        self.client
            .write_packet(&mut seq, &packets::ok_packet(self.status, 0, 0));
        self.client.flush().await?;
        Ok(())
    }

    pub(super) fn check_schema(&self, schema: &str) -> Result<(), FrontendError> {
        if self.user.may_use_schema(schema) {
            Ok(())
        } else {
            Err(FrontendError::SchemaDenied {
                user: self.user.name.clone(),
                host: self.host.clone(),
                schema: schema.to_string(),
            })
        }
    }

    /// Forwards a command to the session's backend connection and relays the reply.
    pub(super) async fn forward(
        &mut self,
        payload: &[u8],
        expect: Expect,
    ) -> Result<Outcome, FrontendError> {
        let mut conn = self.checkout().await?;
        let result = self.relay_on(&mut conn, payload, expect).await;
        self.keep(conn, result)
    }

    /// Sends a command on `conn` and relays its reply to the client.
    pub(super) async fn relay_on(
        &mut self,
        conn: &mut PooledConn,
        payload: &[u8],
        expect: Expect,
    ) -> Result<Outcome, ExecError> {
        let pool = Arc::clone(conn.pool());
        let (seq, caps) = (self.reply_seq, self.client_caps());
        passthrough::forward(
            &mut self.client,
            conn,
            pool.name(),
            payload,
            seq,
            expect,
            caps,
        )
        .await
    }

    /// Keeps the connection while the session needs it (see `settle`) unless it broke;
    /// records the state the reply reports (status, schema, GTID, session variables).
    pub(super) fn keep(
        &mut self,
        mut conn: PooledConn,
        result: Result<Outcome, ExecError>,
    ) -> Result<Outcome, FrontendError> {
        if let Ok(out) = &result {
            self.note_vars(&out.vars);
            if !out.vars.is_empty() {
                conn.vars = Arc::clone(&self.vars);
            }
            if !out.failed {
                self.follow_autocommit_flag(out.status, &mut conn);
            }
            if out.insert_id > 0 {
                self.unread_insert_id.reported(out.insert_id);
            }
        }
        if conn.reusable {
            self.backend = Some(conn);
        } else if result.is_err() && self.holds_connection().is_some() {
            // The transaction or the pinned state went with the connection; the client is
            // told by the error (2013) and the next statement starts afresh.
            self.status = status::AUTOCOMMIT;
            self.pins.clear();
        }
        let out = result?;
        self.note_status(out.status);
        if let Some(schema) = &out.schema {
            self.schema = Some(schema.clone());
        }
        if let Some(gtid) = &out.last_gtid {
            self.last_gtid = Some(gtid.clone());
            self.last_write_at = Some(Instant::now());
        }
        Ok(out)
    }
}
