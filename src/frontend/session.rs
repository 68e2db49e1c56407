//! A client session: the handshake, then the command loop. The session owns its state
//! (user, schema, character set, options, prepared statements); it holds one connection to
//! its primary for its whole life and borrows replica connections per read (see `query`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mysql_common::constants::CapabilityFlags as C;
use tokio::net::TcpStream;

use super::FrontendError;
use super::auth::{FirstResponse, authenticate};
use super::checkout::SessionSets;
use super::statements::Statements;
use crate::backend::connection::{Flavour, Reply};
use crate::backend::pool::PooledConn;
use crate::config::User;
use crate::error;
use crate::executor::ExecError;
use crate::executor::passthrough::{self, Outcome};
use crate::protocol::command::Command;
use crate::protocol::handshake::{self, parse_client_hello};
use crate::protocol::packets::{self, status};
use crate::protocol::response::{ClientCaps, Expect};
use crate::protocol::{PacketIo, ProtocolError, auth};
use crate::runtime::Proxy;

/// A logged-in client.
pub struct Session {
    pub(super) proxy: Arc<Proxy>,
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
    /// Session `SET`s, replayed on every other connection the session uses.
    pub(super) sets: SessionSets,
    /// Why the session's reads stay on the primary (state that lives only there).
    pub(super) reads_pinned: Option<&'static str>,
    /// The replica connection of the last read while it holds warnings to show.
    pub(super) held_replica: Option<PooledConn>,
    /// Primary connections to shards other than the default one (sharded schemas).
    pub(super) others: std::collections::BTreeMap<usize, PooledConn>,
    /// Last GTID the session committed on each non-default shard (read-your-writes).
    pub(super) shard_gtids: std::collections::BTreeMap<usize, String>,
}

/// A client must finish logging in within this time (MySQL's connect_timeout default).
const LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves one accepted client connection to its end.
pub async fn serve(proxy: Arc<Proxy>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = proxy.next_connection_id();
    let client = PacketIo::new(stream);
    let host = peer.ip().to_string();
    let login = tokio::time::timeout(LOGIN_TIMEOUT, connect(&proxy, client, id, host.clone()));
    let login = login.await.unwrap_or(Err(FrontendError::LoginTimeout {
        secs: LOGIN_TIMEOUT.as_secs(),
    }));
    match login {
        Ok(Some(mut session)) => {
            tracing::debug!(conn = id, user = %session.user.name, %host, "client logged in");
            let reason = session.run().await;
            tracing::debug!(conn = id, reason, "client session ended");
        }
        Ok(None) => {}
        Err(e) => tracing::info!(conn = id, %host, "handshake failed: {e}"),
    }
}

/// Sends the greeting and authenticates; replies ERR itself when login fails.
async fn connect(
    proxy: &Arc<Proxy>,
    mut client: PacketIo<TcpStream>,
    id: u32,
    host: String,
) -> Result<Option<Session>, FrontendError> {
    let snapshot = proxy.snapshot();
    let scramble = auth::new_scramble();
    let mut seq = 0;
    let greeting = handshake::greeting(&proxy.server_version, id, &scramble, auth::NATIVE);
    client.write_packet(&mut seq, &greeting);
    client.flush().await?;
    let (p, last) = client.read_packet(seq, 64 * 1024).await?;
    seq = last.wrapping_add(1);
    let hello = parse_client_hello(&p)?;
    let user = snapshot.config.user(&hello.user).cloned();
    let first = FirstResponse {
        user_name: &hello.user,
        host: &host,
        plugin: if hello.capabilities.contains(C::CLIENT_PLUGIN_AUTH) {
            hello.plugin.as_deref()
        } else {
            Some(auth::NATIVE)
        },
        response: hello.auth_response.clone(),
        scramble,
    };
    let result = authenticate(&mut client, proxy, user.as_ref(), first, &mut seq).await;
    let (user, scramble) = match (result, user) {
        (Ok(scramble), Some(user)) => (user, scramble),
        (Err(e), _) => return refuse(&mut client, seq, e).await,
        (Ok(_), None) => return Ok(None),
    };
    let mut session = Session {
        proxy: Arc::clone(proxy),
        client,
        id,
        host,
        user,
        caps: hello.capabilities,
        scramble,
        collation: u16::from(hello.collation),
        schema: None,
        multi_statements: hello.capabilities.contains(C::CLIENT_MULTI_STATEMENTS),
        status: status::AUTOCOMMIT,
        backend: None,
        stmts: Statements::default(),
        max_packet: snapshot.config.max_allowed_packet as usize,
        reply_seq: 1,
        last_write_at: None,
        last_gtid: None,
        gtid_untracked: false,
        sets: SessionSets::default(),
        reads_pinned: None,
        held_replica: None,
        others: Default::default(),
        shard_gtids: Default::default(),
    };
    if let Some(db) = hello.database {
        if let Err(e) = session.check_schema(&db) {
            return refuse(&mut session.client, seq, e).await;
        }
        session.schema = Some(db);
    }
    // Take the backend connection now: an unknown schema or a dead backend fails the login,
    // as it would against the server itself.
    match session.checkout().await {
        Ok(conn) => session.backend = Some(conn),
        Err(e) => return refuse(&mut session.client, seq, e).await,
    }
    let ok = packets::ok_packet(session.status, 0, 0);
    session.client.write_packet(&mut seq, &ok);
    session.client.flush().await?;
    Ok(Some(session))
}

async fn refuse(
    client: &mut PacketIo<TcpStream>,
    mut seq: u8,
    e: FrontendError,
) -> Result<Option<Session>, FrontendError> {
    tracing::info!("login refused: {e}");
    if let Some(p) = error::reply_packet(&e) {
        client.write_packet(&mut seq, &p);
        client.flush().await?;
    }
    Ok(None)
}

impl Session {
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
    async fn run(&mut self) -> &'static str {
        let reason = loop {
            let payload = match self.client.read_packet(0, self.max_packet).await {
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
            match self.dispatch(&payload).await {
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
            self.client.shrink();
        };
        self.release().await;
        self.release_others().await;
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
            Command::StmtFetch { stmt_id } => {
                let p = self.stmt_payload(payload, stmt_id, "mysqld_stmt_fetch")?;
                self.forward(&p, Expect::Rows).await?;
            }
            Command::StmtReset { stmt_id } => {
                let p = self.stmt_payload(payload, stmt_id, "mysqld_stmt_reset")?;
                self.forward(&p, Expect::OkOrErr).await?;
            }
            Command::StmtSendLongData { stmt_id } => {
                // No reply; an unknown statement is reported by the execute that follows.
                if let Ok(p) = self.stmt_payload(payload, stmt_id, "mysqld_stmt_send_long_data") {
                    if let Some(entry) = self.stmts.get_mut(stmt_id) {
                        // The data now sits with the primary's statement.
                        entry.long_data = true;
                    }
                    self.send_only(&p).await?;
                }
            }
            Command::StmtClose { stmt_id } => {
                let p = self.stmt_payload(payload, stmt_id, "mysqld_stmt_close");
                self.stmts.remove(stmt_id);
                if let Ok(p) = p {
                    self.send_only(&p).await?;
                }
            }
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
            Command::ResetConnection => {
                self.release_others().await;
                let out = self.forward(payload, Expect::OkOrErr).await?;
                if !out.failed {
                    self.stmts.clear();
                    self.forget_session_state();
                    if let Some(conn) = self.backend.as_mut() {
                        conn.collation = 0;
                        conn.multi_statements = true;
                        // The reset also dropped the proxy's `last_gtid` tracking.
                        if conn.track_gtids().await.is_err() {
                            conn.reusable = false;
                            self.backend = None;
                        }
                    }
                }
            }
            Command::Unsupported(code) => return Err(FrontendError::UnknownCommand(code)),
        }
        Ok(true)
    }

    async fn reply_ok(&mut self) -> Result<(), FrontendError> {
        let mut seq = self.reply_seq;
        self.client
            .write_packet(&mut seq, &packets::ok_packet(self.status, 0, 0));
        self.client.flush().await?;
        Ok(())
    }

    /// After a reset or a change of user: no SETs to replay, nothing pinned.
    pub(super) fn forget_session_state(&mut self) {
        self.gtid_untracked = false;
        self.sets.clear();
        self.reads_pinned = None;
        self.held_replica = None;
        if let Some(conn) = self.backend.as_mut() {
            conn.applied_sets = 0;
        }
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
        let caps = self.client_caps();
        let pool = Arc::clone(conn.pool());
        let seq = self.reply_seq;
        let client = &mut self.client;
        let result =
            passthrough::forward(client, &mut conn, pool.name(), payload, seq, expect, caps).await;
        self.keep(conn, result)
    }

    /// Sends a command that has no reply.
    pub(super) async fn send_only(&mut self, payload: &[u8]) -> Result<(), FrontendError> {
        let mut conn = self.checkout().await?;
        let pool = Arc::clone(conn.pool());
        let result = passthrough::send(&mut conn, pool.name(), payload).await;
        // No reply: the session's status flags stay as they were.
        let status = self.status;
        self.keep(
            conn,
            result.map(|_| Outcome {
                status,
                ..Outcome::default()
            }),
        )?;
        Ok(())
    }

    /// Keeps the connection for the next command unless it broke; records the reply's state.
    pub(super) fn keep(
        &mut self,
        conn: PooledConn,
        result: Result<Outcome, ExecError>,
    ) -> Result<Outcome, FrontendError> {
        if conn.reusable {
            self.backend = Some(conn);
        }
        let out = result?;
        self.status = out.status;
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
