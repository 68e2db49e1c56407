//! Connection phase packets, server side: the v10 greeting, the client's handshake response,
//! COM_CHANGE_USER, and the capability flags the proxy offers.

use mysql_common::constants::{CapabilityFlags as C, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;

use super::ProtocolError;
use super::packets::Reader;

/// The protocol features the proxy uses on both sides: towards clients and towards backends.
pub fn core_capabilities() -> C {
    C::CLIENT_LONG_PASSWORD
        | C::CLIENT_LONG_FLAG
        | C::CLIENT_PROTOCOL_41
        | C::CLIENT_TRANSACTIONS
        | C::CLIENT_SECURE_CONNECTION
        | C::CLIENT_MULTI_STATEMENTS
        | C::CLIENT_MULTI_RESULTS
        | C::CLIENT_PS_MULTI_RESULTS
        | C::CLIENT_PLUGIN_AUTH
        | C::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | C::CLIENT_SESSION_TRACK
}

/// Capabilities the proxy offers clients. No TLS, compression, LOCAL INFILE or query attributes.
pub fn server_capabilities() -> C {
    core_capabilities()
        | C::CLIENT_FOUND_ROWS
        | C::CLIENT_CONNECT_WITH_DB
        | C::CLIENT_CONNECT_ATTRS
        | C::CLIENT_DEPRECATE_EOF
}

/// utf8mb4_general_ci, announced as the server default collation.
pub const DEFAULT_COLLATION: u8 = 45;

/// Builds the v10 greeting.
pub fn greeting(
    server_version: &str,
    connection_id: u32,
    scramble: &[u8; 20],
    plugin: &str,
) -> Vec<u8> {
    let mut scramble_1 = [0u8; 8];
    scramble_1.copy_from_slice(&scramble[..8]);
    // The second part is sent with its NUL terminator (13 bytes in all).
    let mut scramble_2 = scramble[8..].to_vec();
    scramble_2.push(0);
    let packet = HandshakePacket::new(
        10,
        server_version.as_bytes(),
        connection_id,
        scramble_1,
        Some(scramble_2),
        server_capabilities(),
        DEFAULT_COLLATION,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(plugin.as_bytes()),
    );
    let mut out = Vec::with_capacity(96);
    packet.serialize(&mut out);
    out
}

/// The fields of a client's handshake response the proxy uses.
#[derive(Debug, Clone)]
pub struct ClientHello {
    pub capabilities: C,
    pub collation: u8,
    pub user: String,
    pub auth_response: Vec<u8>,
    pub database: Option<String>,
    pub plugin: Option<String>,
}

/// Parses the handshake response; an SSL request is refused (the proxy offers no TLS yet).
pub fn parse_client_hello(payload: &[u8]) -> Result<ClientHello, ProtocolError> {
    if payload.len() < 32 {
        return Err(ProtocolError::Malformed("handshake response too short"));
    }
    let flags = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
    if flags & C::CLIENT_SSL.bits() != 0 && payload.len() == 32 {
        return Err(ProtocolError::Malformed("TLS requested but not offered"));
    }
    if flags & C::CLIENT_PROTOCOL_41.bits() == 0 {
        return Err(ProtocolError::Malformed(
            "pre-4.1 clients are not supported",
        ));
    }
    let hello: HandshakeResponse<'_> = ParseBuf(payload)
        .parse(())
        .map_err(|_| ProtocolError::Malformed("bad handshake response"))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok(ClientHello {
        // Only what we offered counts.
        capabilities: hello.capabilities() & server_capabilities(),
        collation: hello.collation(),
        user: text(hello.user()),
        auth_response: hello.scramble_buf().to_vec(),
        database: hello.db_name().filter(|d| !d.is_empty()).map(text),
        plugin: hello.auth_plugin().map(|p| text(p.as_bytes())),
    })
}

/// The fields of a COM_CHANGE_USER body (after the command byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    pub user: String,
    pub auth_response: Vec<u8>,
    pub database: Option<String>,
    pub collation: Option<u16>,
    pub plugin: Option<String>,
}

/// Parses COM_CHANGE_USER as sent by a client with the given capabilities.
pub fn parse_change_user(body: &[u8], caps: C) -> Result<ChangeUser, ProtocolError> {
    let mut r = Reader::new(body);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let user = text(r.null_terminated()?);
    let auth_response = if caps.contains(C::CLIENT_SECURE_CONNECTION) {
        let len = r.u8()?;
        r.bytes(usize::from(len))?.to_vec()
    } else {
        r.null_terminated()?.to_vec()
    };
    let database = if r.is_empty() {
        None
    } else {
        Some(text(r.null_terminated()?)).filter(|d| !d.is_empty())
    };
    let collation = if r.remaining().len() >= 2 {
        Some(r.u16()?)
    } else {
        None
    };
    let plugin = if caps.contains(C::CLIENT_PLUGIN_AUTH) && !r.is_empty() {
        Some(text(r.null_terminated().unwrap_or_else(|_| r.remaining())))
    } else {
        None
    };
    Ok(ChangeUser {
        user,
        auth_response,
        database,
        collation,
        plugin,
    })
}

/// An AuthSwitchRequest: switch to `plugin` with a fresh scramble.
pub fn auth_switch_request(plugin: &str, scramble: &[u8; 20]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + plugin.len() + 21);
    out.push(0xFE);
    out.extend_from_slice(plugin.as_bytes());
    out.push(0);
    out.extend_from_slice(scramble);
    out.push(0);
    out
}

/// An AuthMoreData packet (0x01 + data).
pub fn auth_more_data(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + data.len());
    out.push(0x01);
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::packets::AuthPlugin;

    #[test]
    fn greeting_parses_back_with_the_scramble() {
        let s = *b"abcdefghijklmnopqrst";
        let g = greeting("10.11.6-MariaDB", 42, &s, "mysql_native_password");
        let parsed: HandshakePacket<'_> = ParseBuf(&g).parse(()).expect("parse");
        assert_eq!(parsed.connection_id(), 42);
        assert_eq!(parsed.nonce(), s.to_vec());
        assert!(parsed.capabilities().contains(C::CLIENT_DEPRECATE_EOF));
    }

    #[test]
    fn client_hello_roundtrip() {
        let resp = HandshakeResponse::new(
            Some(&b"0123456789"[..]),
            (8, 0, 0),
            Some(&b"app"[..]),
            Some(&b"shop"[..]),
            Some(AuthPlugin::MysqlNativePassword),
            server_capabilities() | C::CLIENT_COMPRESS,
            None,
            1 << 24,
        );
        let mut buf = Vec::new();
        resp.serialize(&mut buf);
        let hello = parse_client_hello(&buf).expect("parse");
        assert_eq!(hello.user, "app");
        assert_eq!(hello.database.as_deref(), Some("shop"));
        assert_eq!(hello.auth_response, b"0123456789");
        assert_eq!(hello.plugin.as_deref(), Some("mysql_native_password"));
        assert!(
            !hello.capabilities.contains(C::CLIENT_COMPRESS),
            "not offered, so not used"
        );
    }

    #[test]
    fn garbage_hello_is_an_error_not_a_panic() {
        assert!(parse_client_hello(&[0xFF; 10]).is_err());
        let mut p = vec![0xFF; 40];
        p[3] = 0x00;
        let _ = parse_client_hello(&p);
    }

    #[test]
    fn change_user_parses() {
        let caps = server_capabilities();
        let mut b = b"bob\0".to_vec();
        b.push(3);
        b.extend_from_slice(b"xyz");
        b.extend_from_slice(b"shop\0");
        b.extend_from_slice(&45u16.to_le_bytes());
        b.extend_from_slice(b"mysql_native_password\0");
        let cu = parse_change_user(&b, caps).expect("parse");
        assert_eq!(cu.user, "bob");
        assert_eq!(cu.auth_response, b"xyz");
        assert_eq!(cu.database.as_deref(), Some("shop"));
        assert_eq!(cu.collation, Some(45));
        assert_eq!(cu.plugin.as_deref(), Some("mysql_native_password"));
        assert!(parse_change_user(b"bob", caps).is_err());
    }
}
