//! The executor: carries out a router plan on backend connections and streams the reply
//! to the client. For now every plan has one target, relayed packet by packet.

pub mod merge;
pub mod multiwrite;
pub mod passthrough;
pub mod scatter;

use crate::backend::BackendError;
use crate::protocol::ProtocolError;

/// What can go wrong while running a statement.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Writing to the client failed: the session is over.
    #[error("client connection: {0}")]
    Client(ProtocolError),
    /// Getting a backend connection failed (nothing was sent to the client).
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The backend connection broke while running the statement.
    #[error("backend {backend}: connection lost during the statement: {source}")]
    Lost {
        backend: String,
        source: ProtocolError,
        /// Part of the reply already reached the client.
        partial: bool,
    },
}
