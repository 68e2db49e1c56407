//! Authenticating a client (at connect and on COM_CHANGE_USER): auth switch to the user's
//! plugin, mysql_native_password, and caching_sha2_password with its fast path and full
//! authentication by RSA public-key exchange.

use tokio::net::TcpStream;

use super::FrontendError;
use crate::config::{AuthPluginName, User};
use crate::protocol::PacketIo;
use crate::protocol::auth::{self, new_scramble};
use crate::protocol::handshake::{auth_more_data, auth_switch_request};
use crate::runtime::Proxy;

const MAX_AUTH_PACKET: usize = 64 * 1024;

/// The client's first answer to a scramble.
pub struct FirstResponse<'a> {
    pub user_name: &'a str,
    pub host: &'a str,
    /// Plugin the client used for `response`.
    pub plugin: Option<&'a str>,
    pub response: Vec<u8>,
    pub scramble: [u8; 20],
}

/// Runs the exchange. `seq` is the next sequence id to send, kept current so that the
/// caller can send the final OK or ERR with it. Returns the scramble in force at the end
/// (a fresh one after an auth switch), which COM_CHANGE_USER responses are computed from.
pub async fn authenticate(
    client: &mut PacketIo<TcpStream>,
    proxy: &Proxy,
    user: Option<&User>,
    first: FirstResponse<'_>,
    seq: &mut u8,
) -> Result<[u8; 20], FrontendError> {
    let plugin = user.map(|u| u.auth_plugin).unwrap_or_default();
    let mut scramble = first.scramble;
    let mut response = first.response;
    if first.plugin.unwrap_or(auth::NATIVE) != plugin.as_str() {
        scramble = new_scramble();
        client.write_packet(seq, &auth_switch_request(plugin.as_str(), &scramble));
        client.flush().await?;
        let (p, last) = client.read_packet(*seq, MAX_AUTH_PACKET).await?;
        *seq = last.wrapping_add(1);
        response = p.to_vec();
    }
    let denied = |detail| FrontendError::AccessDenied {
        user: first.user_name.to_string(),
        host: first.host.to_string(),
        using_password: !response.is_empty(),
        detail,
    };
    let Some(user) = user else {
        return Err(denied(None));
    };
    match plugin {
        AuthPluginName::MysqlNativePassword => {
            if auth::verify_native(&scramble, &user.password, &response) {
                Ok(scramble)
            } else {
                Err(denied(None))
            }
        }
        AuthPluginName::CachingSha2Password => {
            if !auth::verify_sha2(&scramble, &user.password, &response) {
                return Err(denied(None));
            }
            if user.password.is_empty() || proxy.sha2_cached(&user.name, &user.password) {
                client.write_packet(seq, &auth_more_data(&[auth::SHA2_FAST_AUTH_OK]));
                return Ok(scramble);
            }
            full_sha2_auth(client, proxy, user, first.host, &scramble, seq)
                .await?
                .then_some(scramble)
                .ok_or_else(|| denied(Some(FULL_AUTH_HELP)))
        }
    }
}

const FULL_AUTH_HELP: &str = "caching_sha2_password needs full authentication and shardgate \
    offers no TLS: let the client request the server's RSA public key \
    (mysql: --get-server-public-key; JDBC: allowPublicKeyRetrieval=true), or use \
    mysql_native_password for this user";

/// caching_sha2_password full authentication over a plain connection: the client asks for
/// the public key and sends the password encrypted with it. `false` when the client does not.
async fn full_sha2_auth(
    client: &mut PacketIo<TcpStream>,
    proxy: &Proxy,
    user: &User,
    host: &str,
    scramble: &[u8; 20],
    seq: &mut u8,
) -> Result<bool, FrontendError> {
    client.write_packet(seq, &auth_more_data(&[auth::SHA2_PERFORM_FULL_AUTH]));
    client.flush().await?;
    let (p, last) = client.read_packet(*seq, MAX_AUTH_PACKET).await?;
    *seq = last.wrapping_add(1);
    if p[..] != [auth::SHA2_REQUEST_PUBLIC_KEY] {
        return Ok(false);
    }
    client.write_packet(seq, &auth_more_data(proxy.rsa.public_pem()));
    client.flush().await?;
    let (encrypted, last) = client.read_packet(*seq, MAX_AUTH_PACKET).await?;
    *seq = last.wrapping_add(1);
    if proxy
        .rsa
        .verify_encrypted(scramble, &user.password, &encrypted)
    {
        proxy.sha2_remember(&user.name, &user.password);
        Ok(true)
    } else {
        Err(FrontendError::AccessDenied {
            user: user.name.clone(),
            host: host.to_string(),
            using_password: true,
            detail: None,
        })
    }
}
