//! The one place where proxy errors become MySQL ERR packets: error code, SQLSTATE, message.
//! (Errors that come from a backend server are forwarded as the server wrote them.)

use crate::backend::BackendError;
use crate::executor::ExecError;
use crate::frontend::FrontendError;
use crate::protocol::packets;

/// A MySQL error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlError {
    pub code: u16,
    pub sqlstate: &'static str,
    pub message: String,
}

impl MysqlError {
    fn new(code: u16, sqlstate: &'static str, message: impl Into<String>) -> Self {
        MysqlError {
            code,
            sqlstate,
            message: message.into(),
        }
    }

    /// The ERR packet payload.
    pub fn packet(&self) -> Vec<u8> {
        packets::err_packet(self.code, self.sqlstate, &self.message)
    }
}

/// The ERR packet payload for a frontend error, or `None` when no reply can reach the client.
pub fn reply_packet(err: &FrontendError) -> Option<Vec<u8>> {
    let packet = match err {
        FrontendError::BackendReply(p) => Some(p.clone()),
        other => reply_for(other).map(|e| e.packet()),
    };
    if let Some(p) = &packet {
        crate::metrics::error_sent(p);
    }
    packet
}

/// The MySQL error for a proxy error, or `None` when no reply can reach the client
/// (or the reply is a backend's own ERR packet, see [`reply_packet`]).
pub fn reply_for(err: &FrontendError) -> Option<MysqlError> {
    use FrontendError as F;
    Some(match err {
        F::Protocol(_) | F::Exec(ExecError::Client(_)) | F::BackendReply(_) => return None,
        F::LoginTimeout { .. } => return None,
        F::Exec(ExecError::Lost { partial: true, .. }) => return None,
        F::AccessDenied {
            user,
            host,
            using_password,
            detail,
        } => {
            let yes = if *using_password { "YES" } else { "NO" };
            let mut m = format!("Access denied for user '{user}'@'{host}' (using password: {yes})");
            if let Some(d) = detail {
                m.push_str(": ");
                m.push_str(d);
            }
            MysqlError::new(1045, "28000", m)
        }
        F::SchemaDenied { user, host, schema } => MysqlError::new(
            1044,
            "42000",
            format!("Access denied for user '{user}'@'{host}' to database '{schema}'"),
        ),
        F::UnknownCommand(_) => MysqlError::new(1047, "08S01", "Unknown command"),
        F::UnknownOption(opt) => MysqlError::new(
            1047,
            "08S01",
            format!("Unknown command: COM_SET_OPTION option {opt} is not supported"),
        ),
        F::UnknownStatement { id, command } => MysqlError::new(
            1243,
            "HY000",
            format!("Unknown prepared statement handler ({id}) given to {command}"),
        ),
        F::BadExecute { id } => MysqlError::new(
            1210,
            "HY000",
            format!("Incorrect arguments to mysqld_stmt_execute (statement {id})"),
        ),
        F::LongDataTooLarge { id, max } => MysqlError::new(
            1153,
            "08S01",
            format!(
                "Parameter of prepared statement {id} sent with COM_STMT_SEND_LONG_DATA is \
                 longer than max_allowed_packet ({max} bytes)"
            ),
        ),
        F::ReloadRefused(why) => MysqlError::new(
            1105,
            "HY000",
            format!("shardgate: config reload refused, nothing changed: {why}"),
        ),
        F::ShuttingDown => MysqlError::new(
            1053,
            "08S01",
            "Server shutdown in progress: shardgate's shutdown_timeout_ms passed before the \
             transaction ended; it was rolled back"
                .to_string(),
        ),
        F::NoOpenCursor { id } => MysqlError::new(
            1421,
            "HY000",
            format!("The statement ({id}) has no open cursor."),
        ),
        F::NeedsPreviousConnection { function } => MysqlError::new(
            1235,
            "42000",
            format!(
                "shardgate: {function} inside a larger statement needs the backend connection of \
                 the previous statement, which connection multiplexing gave back (or which ran \
                 on other shards); use SELECT {function} on its own, or run both statements \
                 in one transaction on one shard"
            ),
        ),
        F::SessionStateNotPortable => MysqlError::new(
            1235,
            "42000",
            "shardgate: a session variable's value cannot be carried to another backend \
             connection"
                .to_string(),
        ),
        F::StatementLost { id } => MysqlError::new(
            1243,
            "HY000",
            format!(
                "Unknown prepared statement handler ({id}): the backend connection it was \
                 prepared on was lost; prepare the statement again"
            ),
        ),
        F::PacketTooLarge { .. } => MysqlError::new(
            1153,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        ),
        F::TooManyClients { max } => MysqlError::new(
            1040,
            "08004",
            format!("Too many connections: shardgate max_client_connections ({max}) reached"),
        ),
        F::Exec(ExecError::Lost {
            backend, source, ..
        }) => MysqlError::new(
            2013,
            "HY000",
            format!(
                "Lost connection to backend server during query ({backend}: {source}); \
                 shardgate reconnects on the next statement"
            ),
        ),
        F::Exec(ExecError::Backend(b)) => backend_reply(b),
        F::NoHealthyReplica { shard } => MysqlError::new(
            1105,
            "HY000",
            format!(
                "No healthy replica in shard {shard}, and read_write_split.no_healthy_replica is \
                 'error': retry later, or set it to 'primary' to read from the primary instead"
            ),
        ),
        F::Sharding(e) => {
            use crate::router::shard::error::ShardError as S;
            match e {
                // A key value that maps to no shard: as MySQL says of a partitioned table.
                S::Key(_) => MysqlError::new(1526, "HY000", e.to_string()),
                S::Unsupported { .. } | S::Unparsable { .. } | S::FullScatterWrite { .. } => {
                    MysqlError::new(1235, "42000", e.to_string())
                }
            }
        }
        F::PartialCommit { .. } => MysqlError::new(1180, "HY000", err.to_string()),
        F::NotAdmin { user } => MysqlError::new(
            1227,
            "42000",
            format!(
                "Access denied; you need the shardgate admin flag (users[].admin: true) for this \
                 operation (user '{user}')"
            ),
        ),
    })
}

fn backend_reply(err: &BackendError) -> MysqlError {
    match err {
        BackendError::Saturated {
            backend,
            max,
            reserved,
            waited_ms,
        } => {
            let reserved = match reserved {
                0 => String::new(),
                n => format!(", {n} of them reserved for the health checker"),
            };
            MysqlError::new(
                1040,
                "08004",
                format!(
                    "Too many connections: backend {backend} is saturated (pool.max_connections \
                     {max}{reserved}; every client connection busy for {waited_ms} ms); raise \
                     pool.max_connections or pool.checkout_timeout_ms"
                ),
            )
        }
        BackendError::Connect { .. }
        | BackendError::ConnectTimeout { .. }
        | BackendError::LoginRefused { .. }
        | BackendError::Unsupported { .. }
        | BackendError::Lost { .. } => {
            MysqlError::new(2006, "HY000", format!("MySQL server has gone away: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ProtocolError;

    #[test]
    fn access_denied_matches_mysql_text() {
        let e = FrontendError::AccessDenied {
            user: "u".into(),
            host: "127.0.0.1".into(),
            using_password: true,
            detail: None,
        };
        let r = reply_for(&e).expect("reply");
        assert_eq!((r.code, r.sqlstate), (1045, "28000"));
        assert_eq!(
            r.message,
            "Access denied for user 'u'@'127.0.0.1' (using password: YES)"
        );
    }

    #[test]
    fn saturation_names_the_backend() {
        let e = FrontendError::from(BackendError::Saturated {
            backend: "s0/primary 127.0.0.1:1".into(),
            max: 2,
            reserved: 1,
            waited_ms: 10,
        });
        let r = reply_for(&e).expect("reply");
        assert_eq!(r.code, 1040);
        assert!(
            r.message.contains("s0/primary 127.0.0.1:1"),
            "{}",
            r.message
        );
        assert!(
            r.message
                .contains("pool.max_connections 2, 1 of them reserved"),
            "{}",
            r.message
        );
        assert!(r.message.contains("busy for 10 ms"), "{}", r.message);
    }

    #[test]
    fn protocol_errors_get_no_reply() {
        assert!(reply_for(&FrontendError::Protocol(ProtocolError::Eof)).is_none());
    }
}
