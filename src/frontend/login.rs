//! Logging a client in: the greeting, authentication, the login schema and a first backend
//! checkout (an unknown schema or a dead backend fails the login, as against the server), then
//! the session's command loop until it ends.

use std::net::SocketAddr;
use std::sync::Arc;

use mysql_common::constants::CapabilityFlags as C;
use tokio::net::TcpStream;

use super::FrontendError;
use super::auth::{FirstResponse, authenticate};
use super::pins::Pins;
use super::session::Session;
use super::statements::Statements;
use crate::error;
use crate::protocol::handshake::{self, parse_client_hello};
use crate::protocol::packets::{self, status};
use crate::protocol::{PacketIo, auth};
use crate::runtime::Proxy;

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
            proxy.sessions.add(Arc::clone(&session.card));
            let reason = session.run().await;
            proxy.sessions.remove(id);
            tracing::debug!(conn = id, reason, "client session ended");
        }
        Ok(None) => {}
        // Load-balancer probes connect and leave: not worth more than debug.
        Err(e) => tracing::debug!(conn = id, %host, "handshake failed: {e}"),
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
    let card = Arc::new(crate::runtime::sessions::SessionCard::new(
        id, &user.name, &host,
    ));
    let mut session = Session {
        proxy: Arc::clone(proxy),
        routing: Arc::clone(&snapshot),
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
        vars: Arc::default(),
        pins: Pins::default(),
        route_pin: None,
        last_insert_id: 0,
        unread_insert_id: Default::default(),
        wants_last_insert_id: false,
        row_count: -1,
        found_rows: 0,
        counts_elsewhere: false,
        savepoints: Vec::new(),
        held_for: None,
        route: "",
        checkout_wait: std::time::Duration::ZERO,
        card,
        held_replica: None,
        others: Default::default(),
        shard_gtids: Default::default(),
        txn_watch: Default::default(),
    };
    if let Some(db) = hello.database {
        if let Err(e) = session.check_schema(&db) {
            return refuse(&mut session.client, seq, e).await;
        }
        session.schema = Some(db);
    }
    // Borrow a backend connection now: an unknown schema or a dead backend fails the login,
    // as it would against the server itself. It goes straight back to the pool.
    if let Err(e) = session.checkout().await {
        return refuse(&mut session.client, seq, e).await;
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
