//! One connection to a backend server: connect and log in (mysql_native_password and
//! caching_sha2_password), then send commands and read replies on behalf of the executor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::CapabilityFlags as C;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;

mod state;

use super::BackendError;
use super::stream::BackendStream;
use crate::protocol::packets::{self, ERR_HEADER, OK_HEADER};
use crate::protocol::{PacketIo, ProtocolError, auth, handshake};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// Largest reply the proxy reads whole from a backend for its own commands.
const MAX_INTERNAL_REPLY: usize = 16 << 20;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// Human-readable name used in logs and errors, e.g. `s0/primary 127.0.0.1:23306`.
    pub name: String,
    pub address: String,
    pub user: String,
    pub password: String,
    pub connect_timeout: Duration,
}

/// The login-time capabilities that decide what a connection can serve: they cannot change
/// after login, so the pool keeps connections of each flavour apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flavour {
    /// CLIENT_FOUND_ROWS: affected rows of an UPDATE count matched rows.
    pub found_rows: bool,
    /// CLIENT_DEPRECATE_EOF: OK packets instead of EOF packets end result sets.
    pub deprecate_eof: bool,
}

impl Flavour {
    /// Number of distinct flavours.
    pub const COUNT: usize = 4;

    /// A dense index in `0..COUNT`.
    pub fn index(self) -> usize {
        usize::from(self.found_rows) | usize::from(self.deprecate_eof) << 1
    }
}

/// A reply to one of the proxy's own commands.
#[derive(Debug)]
pub enum Reply {
    Ok {
        status: u16,
    },
    /// The server's ERR packet, kept whole so it can be forwarded.
    Err(Vec<u8>),
}

/// A logged-in backend connection.
pub struct BackendConn {
    pub io: PacketIo<BackendStream>,
    /// Proxy-wide unique id (prepared statement ids are valid per connection).
    pub id: u64,
    pub server_version: String,
    /// The capabilities it logged in with.
    pub flavour: Flavour,
    /// Current COM_SET_OPTION multi-statement state.
    pub multi_statements: bool,
    /// Current default schema, when known.
    pub schema: Option<String>,
    /// Current connection collation id (as set by the handshake or SET NAMES by the proxy).
    pub collation: u16,
    /// Last status flags seen.
    pub status: u16,
    /// False once a reply was not read to its end or the socket failed: never reuse it.
    pub reusable: bool,
    /// A command was (or was being) sent and its reply is not read to its end yet. Set before
    /// the first byte goes out, cleared by [`BackendConn::reply_read`] where a reader reaches
    /// the reply's end: a connection given back while it is set is closed, whatever future was
    /// cancelled in between (a reply left for the next session to read is another session's).
    pub reply_pending: bool,
    /// The error code of the last reply read to its end, when it was an ERR (a failed
    /// statement can end a transaction: a deadlock rolls it back).
    pub last_error: Option<u16>,
    pub created: Instant,
    pub last_used: Instant,
    /// The server reports each commit's GTID in OK packets (MariaDB `last_gtid` tracking).
    pub tracks_gtids: bool,
    /// The session variables this connection carries (as the last session using it left them).
    pub vars: std::sync::Arc<super::vars::SessionVars>,
    /// What `LAST_INSERT_ID()` returns on this connection, when the proxy knows it.
    pub last_insert_id: Option<u64>,
    /// The server reports session variable and state changes (session tracking enabled).
    pub tracks_state: bool,
    /// The variables a client of this server would be told about (the server's
    /// `session_track_system_variables` before the proxy asked for all of them).
    pub client_tracked_vars: Option<std::sync::Arc<str>>,
    /// Which session state this connection carries, as a key the pool matches on checkout
    /// (`Pool::checkout_preferring`); 0 = none. Set by whoever changes that state.
    pub state_key: u64,
    /// Statements the proxy prepared on this connection for sessions that borrow it.
    pub statements: super::statements::StatementCache,
    /// The login's authentication plugin and scramble (COM_CHANGE_USER answers to them).
    login_plugin: String,
    login_scramble: [u8; 20],
    /// The multi-statement option may differ from `multi_statements` (after a reset, which
    /// MariaDB does not apply to it): the next `set_multi_statements` sends it.
    multi_statements_unsure: bool,
}

/// Capabilities the proxy asks of backends.
fn wanted_capabilities(flavour: Flavour) -> C {
    let mut caps = handshake::core_capabilities();
    if flavour.found_rows {
        caps |= C::CLIENT_FOUND_ROWS;
    }
    if flavour.deprecate_eof {
        caps |= C::CLIENT_DEPRECATE_EOF;
    }
    caps
}

/// The capabilities a backend must offer (CLIENT_DEPRECATE_EOF only for that flavour).
fn required_capabilities(flavour: Flavour) -> C {
    let caps = C::CLIENT_PROTOCOL_41
        | C::CLIENT_SECURE_CONNECTION
        | C::CLIENT_PLUGIN_AUTH
        | C::CLIENT_SESSION_TRACK;
    if flavour.deprecate_eof {
        caps | C::CLIENT_DEPRECATE_EOF
    } else {
        caps
    }
}

/// utf8mb4_general_ci: the collation every backend connection starts with.
pub const HANDSHAKE_COLLATION: u16 = 45;

impl BackendConn {
    /// Connects and logs in, within the target's connect timeout.
    pub async fn connect(target: &Target, flavour: Flavour) -> Result<Self, BackendError> {
        match tokio::time::timeout(target.connect_timeout, Self::connect_inner(target, flavour))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(BackendError::ConnectTimeout {
                backend: target.name.clone(),
                ms: target.connect_timeout.as_millis() as u64,
            }),
        }
    }

    async fn connect_inner(target: &Target, flavour: Flavour) -> Result<Self, BackendError> {
        let lost = |source| BackendError::Lost {
            backend: target.name.clone(),
            source,
        };
        let stream = BackendStream::connect(&target.address)
            .await
            .map_err(|source| BackendError::Connect {
                backend: target.name.clone(),
                source,
            })?;
        let mut io = PacketIo::new(stream);
        let (greeting, seq) = io.read_packet(0, MAX_INTERNAL_REPLY).await.map_err(lost)?;
        if greeting.first() == Some(&ERR_HEADER) {
            let (code, _, message) = packets::parse_err(&greeting).map_err(lost)?;
            return Err(BackendError::LoginRefused {
                backend: target.name.clone(),
                code,
                message,
            });
        }
        let hs: HandshakePacket<'_> = ParseBuf(&greeting)
            .parse(())
            .map_err(|_| lost(ProtocolError::Malformed("bad greeting")))?;
        let unsupported = |reason: &str| BackendError::Unsupported {
            backend: target.name.clone(),
            reason: reason.to_string(),
        };
        if !hs.capabilities().contains(required_capabilities(flavour)) {
            return Err(unsupported(
                "server lacks CLIENT_DEPRECATE_EOF/SESSION_TRACK/PLUGIN_AUTH (MySQL >= 5.7 or MariaDB >= 10.2 needed)",
            ));
        }
        let server_version = hs.server_version_str().into_owned();
        let nonce = hs.nonce();
        let mut scramble = [0u8; 20];
        if nonce.len() < 20 {
            return Err(unsupported("scramble shorter than 20 bytes"));
        }
        scramble.copy_from_slice(&nonce[..20]);
        let plugin = hs
            .auth_plugin_name_str()
            .map(|p| p.into_owned())
            .unwrap_or_else(|| auth::NATIVE.to_string());
        let plugin = if plugin == auth::CACHING_SHA2 {
            plugin
        } else {
            auth::NATIVE.to_string()
        };
        let caps = wanted_capabilities(flavour) & hs.capabilities();
        let response = Self::auth_response(&plugin, &scramble, &target.password);
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("program_name".to_string(), "shardgate".to_string());
        let hello = HandshakeResponse::new(
            Some(response),
            hs.server_version_parsed().unwrap_or((8, 0, 0)),
            Some(target.user.as_bytes()),
            None::<&[u8]>,
            Some(mysql_common::packets::AuthPlugin::from_bytes(
                plugin.as_bytes(),
            )),
            caps | C::CLIENT_CONNECT_ATTRS,
            Some(attrs),
            1 << 30,
        );
        let mut buf = Vec::with_capacity(128);
        hello.serialize(&mut buf);
        let mut seq = seq.wrapping_add(1);
        io.write_packet(&mut seq, &buf);
        io.flush().await.map_err(lost)?;

        let mut conn = BackendConn {
            io,
            id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
            server_version,
            flavour,
            multi_statements: true,
            schema: None,
            collation: HANDSHAKE_COLLATION,
            // The server default (autocommit on, no transaction) until a reply says otherwise.
            status: crate::protocol::packets::status::AUTOCOMMIT,
            reusable: true,
            reply_pending: false,
            last_error: None,
            tracks_gtids: false,
            vars: Default::default(),
            last_insert_id: Some(0),
            tracks_state: false,
            client_tracked_vars: None,
            state_key: 0,
            statements: Default::default(),
            created: Instant::now(),
            last_used: Instant::now(),
            login_plugin: plugin.clone(),
            login_scramble: scramble,
            multi_statements_unsure: false,
        };
        conn.finish_auth(target, plugin, scramble, seq).await?;
        conn.enable_tracking().await.map_err(lost)?;
        Ok(conn)
    }

    pub(super) fn auth_response(plugin: &str, scramble: &[u8; 20], password: &str) -> Vec<u8> {
        if password.is_empty() {
            return Vec::new();
        }
        let r = if plugin == auth::CACHING_SHA2 {
            scramble_sha256(scramble, password.as_bytes()).map(|s| s.to_vec())
        } else {
            scramble_native(scramble, password.as_bytes()).map(|s| s.to_vec())
        };
        r.unwrap_or_default()
    }

    /// Reads the server's answers to the login until OK, following auth switches and
    /// caching_sha2_password's fast path or full authentication (RSA public key exchange).
    pub(super) async fn finish_auth(
        &mut self,
        target: &Target,
        mut plugin: String,
        mut scramble: [u8; 20],
        mut seq: u8,
    ) -> Result<(), BackendError> {
        let lost = |source| BackendError::Lost {
            backend: target.name.clone(),
            source,
        };
        for _ in 0..8 {
            let (p, last) = self
                .io
                .read_packet(seq, MAX_INTERNAL_REPLY)
                .await
                .map_err(lost)?;
            seq = last.wrapping_add(1);
            let reply: Vec<u8> = match p.first().copied() {
                Some(OK_HEADER) => {
                    self.status = packets::Ok::parse(&p, true).map(|o| o.status).unwrap_or(0);
                    return Ok(());
                }
                Some(ERR_HEADER) => {
                    let (code, _, message) = packets::parse_err(&p).map_err(lost)?;
                    return Err(BackendError::LoginRefused {
                        backend: target.name.clone(),
                        code,
                        message,
                    });
                }
                Some(0xFE) => {
                    // Auth switch: plugin name NUL, new scramble (NUL-terminated).
                    let mut r = packets::Reader::new(&p[1..]);
                    plugin =
                        String::from_utf8_lossy(r.null_terminated().map_err(lost)?).into_owned();
                    let data = r.remaining();
                    let data = data.strip_suffix(&[0]).unwrap_or(data);
                    if data.len() < 20 {
                        return Err(lost(ProtocolError::Malformed("short auth switch scramble")));
                    }
                    scramble.copy_from_slice(&data[..20]);
                    if plugin != auth::NATIVE && plugin != auth::CACHING_SHA2 {
                        return Err(BackendError::Unsupported {
                            backend: target.name.clone(),
                            reason: format!("authentication plugin {plugin}"),
                        });
                    }
                    Self::auth_response(&plugin, &scramble, &target.password)
                }
                Some(0x01) if plugin == auth::CACHING_SHA2 => match p.get(1..) {
                    Some([auth::SHA2_FAST_AUTH_OK]) => continue,
                    Some([auth::SHA2_PERFORM_FULL_AUTH]) => vec![auth::SHA2_REQUEST_PUBLIC_KEY],
                    Some(pem) => {
                        let mut pass = target.password.as_bytes().to_vec();
                        pass.push(0);
                        for (i, b) in pass.iter_mut().enumerate() {
                            *b ^= scramble[i % scramble.len()];
                        }
                        mysql_common::crypto::encrypt(&pass, pem).map_err(|e| {
                            BackendError::Unsupported {
                                backend: target.name.clone(),
                                reason: format!("server RSA public key: {e}"),
                            }
                        })?
                    }
                    None => return Err(lost(ProtocolError::Malformed("empty auth data"))),
                },
                _ => return Err(lost(ProtocolError::Malformed("unexpected login packet"))),
            };
            self.io.write_packet(&mut seq, &reply);
            self.io.flush().await.map_err(lost)?;
        }
        Err(lost(ProtocolError::Malformed("login did not finish")))
    }

    /// True when the server closed the connection (or sent something unasked) while it sat
    /// idle; checked before reuse, with one non-blocking read.
    pub fn closed_while_idle(&self) -> bool {
        if self.io.has_unread() {
            return true;
        }
        let mut byte = [0u8; 1];
        match self.io.get_ref().try_read(&mut byte) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        }
    }

    /// Sends one command packet (sequence id 0, split into frames if large), flushed.
    /// Returns the sequence id the reply starts with.
    pub async fn send_command(&mut self, payload: &[u8]) -> Result<u8, ProtocolError> {
        let mut seq = 0;
        self.reply_pending = true;
        self.io.write_packet(&mut seq, payload);
        self.last_used = Instant::now();
        let r = self.io.flush().await;
        if r.is_err() {
            self.reusable = false;
        }
        if !has_reply(payload) {
            self.reply_pending = false;
        }
        r.map(|()| seq)
    }

    /// The reply to the last command has been read to its end.
    pub fn reply_read(&mut self) {
        self.reply_pending = false;
    }

    /// Can this connection go to another session as it is? Its last reply was read to the
    /// end, nothing unasked is buffered, the server reports no open transaction, and it does
    /// not run with autocommit off (a read there opens a transaction that the status flags
    /// of a result set do not report).
    pub fn is_clean(&self) -> bool {
        self.reusable
            && !self.reply_pending
            && !self.io.has_unread()
            && self.status & crate::protocol::packets::status::IN_TRANS == 0
            && !self.autocommit_off()
    }

    /// The connection runs with autocommit off (as the session that set it recorded).
    pub fn autocommit_off(&self) -> bool {
        self.vars
            .get("autocommit")
            .is_some_and(|v| v.eq_ignore_ascii_case("OFF") || v == "0")
    }

    /// After an ERR reply (which carries no status flags): reads the server's status again
    /// with COM_PING when the error may have opened or ended a transaction (a failed
    /// statement with autocommit off opens one; a deadlock rolls one back).
    pub async fn refresh_status_after_error(&mut self) -> Result<(), ProtocolError> {
        let in_trans = self.status & crate::protocol::packets::status::IN_TRANS != 0;
        if !in_trans && !self.autocommit_off() {
            return Ok(());
        }
        let error = self.last_error;
        let pinged = self
            .simple_command(&[crate::protocol::command::COM_PING])
            .await;
        // The statement's error, not the ping's answer, is what the session looks at.
        self.last_error = error;
        pinged.map(|_| ())
    }

    /// Runs one of the proxy's own commands that answers with OK (or EOF) or ERR.
    pub async fn simple_command(&mut self, payload: &[u8]) -> Result<Reply, ProtocolError> {
        let seq = self.send_command(payload).await?;
        let result = self.io.read_packet(seq, MAX_INTERNAL_REPLY).await;
        let (p, _) = result.inspect_err(|_| self.reusable = false)?;
        // One packet is the whole reply to these commands.
        self.reply_read();
        self.last_error = packets::err_code(&p);
        match p.first().copied() {
            Some(ERR_HEADER) => Ok(Reply::Err(p.to_vec())),
            Some(OK_HEADER) => {
                let ok = packets::Ok::parse(&p, true).inspect_err(|_| self.reusable = false)?;
                self.status = ok.status;
                Ok(Reply::Ok { status: ok.status })
            }
            // COM_SET_OPTION answers with an EOF (an OK with the EOF header when deprecated).
            Some(packets::EOF_HEADER) => {
                let (_, status) = packets::terminator_fields(&p, self.flavour.deprecate_eof, true)
                    .inspect_err(|_| self.reusable = false)?;
                self.status = status;
                Ok(Reply::Ok { status })
            }
            _ => {
                self.reusable = false;
                Err(ProtocolError::Malformed("expected OK or ERR"))
            }
        }
    }
}

/// Does the server answer this command? COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA and COM_QUIT
/// have no reply.
fn has_reply(payload: &[u8]) -> bool {
    use crate::protocol::command;
    !matches!(
        payload.first().copied(),
        Some(command::COM_STMT_CLOSE | command::COM_STMT_SEND_LONG_DATA | command::COM_QUIT)
    )
}
