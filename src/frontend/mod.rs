//! One client connection: handshake and authentication, then the command loop with its
//! session state and prepared statements.

pub mod admin;
mod admin_views;
pub mod auth;
mod change_user;
mod checkout;
mod effects;
mod execute;
mod explain;
mod insert_id;
mod login;
mod pins;
mod query;
pub mod session;
mod sharded;
mod sharded_stmt;
mod slow;
pub mod statements;
mod stmt_commands;
mod transaction;

use crate::backend::BackendError;
use crate::executor::ExecError;
use crate::protocol::ProtocolError;

/// What can end or fail a client command.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The client broke the protocol or went away: the connection ends without a reply.
    #[error("client protocol: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("access denied for user '{user}'@'{host}'{}", detail.map(|d| format!(": {d}")).unwrap_or_default())]
    AccessDenied {
        user: String,
        host: String,
        using_password: bool,
        detail: Option<&'static str>,
    },
    #[error("user '{user}'@'{host}' may not use schema '{schema}'")]
    SchemaDenied {
        user: String,
        host: String,
        schema: String,
    },
    #[error("command 0x{0:02x} is not supported")]
    UnknownCommand(u8),
    #[error("COM_SET_OPTION option {0} is not known")]
    UnknownOption(u16),
    #[error("unknown prepared statement {id} in {command}")]
    UnknownStatement { id: u32, command: &'static str },
    #[error("malformed COM_STMT_EXECUTE for statement {id}")]
    BadExecute { id: u32 },
    #[error("prepared statement {id} was lost with its backend connection")]
    StatementLost { id: u32 },
    #[error("long data for statement {id} exceeds max_allowed_packet ({max} bytes)")]
    LongDataTooLarge { id: u32, max: usize },
    #[error("config reload refused, nothing changed: {0}")]
    ReloadRefused(String),
    #[error("the proxy is shutting down")]
    ShuttingDown,
    #[error("statement {id} has no open cursor")]
    NoOpenCursor { id: u32 },
    #[error("{function} needs the connection of the previous statement")]
    NeedsPreviousConnection { function: &'static str },
    #[error("a session variable's value cannot be carried to another backend connection")]
    SessionStateNotPortable,
    #[error("client packet larger than max_allowed_packet ({max} bytes)")]
    PacketTooLarge { max: usize },
    #[error("client did not finish logging in within {secs} s")]
    LoginTimeout { secs: u64 },
    #[error("too many client connections (max_client_connections = {max})")]
    TooManyClients { max: usize },
    /// An ERR packet from a backend server, forwarded as the server wrote it.
    #[error("backend error reply")]
    BackendReply(Vec<u8>),
    #[error("no healthy replica in shard {shard} and read_write_split.no_healthy_replica is error")]
    NoHealthyReplica { shard: String },
    #[error("user '{user}' is not a shardgate admin")]
    NotAdmin { user: String },
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The router refused a statement on a sharded schema.
    #[error(transparent)]
    Sharding(#[from] crate::router::shard::error::ShardError),
    /// COMMIT succeeded on some shards and failed on another.
    #[error(
        "transaction partially committed: committed on {committed}, failed on {failed} ({cause}), \
         rolled back on {rolled_back}"
    )]
    PartialCommit {
        committed: String,
        failed: String,
        cause: String,
        rolled_back: String,
    },
}

impl From<BackendError> for FrontendError {
    fn from(e: BackendError) -> Self {
        FrontendError::Exec(ExecError::Backend(e))
    }
}

impl FrontendError {
    /// True when the client connection must close after this error.
    pub fn ends_session(&self) -> bool {
        matches!(
            self,
            FrontendError::Protocol(_)
                | FrontendError::PacketTooLarge { .. }
                | FrontendError::TooManyClients { .. }
                | FrontendError::Exec(ExecError::Client(_))
                | FrontendError::Exec(ExecError::Lost { partial: true, .. })
        )
    }
}
