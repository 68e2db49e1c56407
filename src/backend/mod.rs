//! Backends: the registry of shards built from a config snapshot, each backend's pool,
//! and the connections themselves.

pub mod balancer;
pub mod connection;
pub mod health;
pub mod pool;
pub mod query;
pub mod registry;
pub mod statements;
pub mod stream;
pub mod vars;

pub use registry::{Registry, Shard};

use crate::protocol::ProtocolError;

/// What can go wrong reaching a backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("backend {backend}: cannot connect: {source}")]
    Connect {
        backend: String,
        source: std::io::Error,
    },
    #[error("backend {backend}: no connection within {ms} ms")]
    ConnectTimeout { backend: String, ms: u64 },
    #[error("backend {backend}: login refused ({code}): {message}")]
    LoginRefused {
        backend: String,
        code: u16,
        message: String,
    },
    #[error("backend {backend}: {reason}")]
    Unsupported { backend: String, reason: String },
    #[error("backend {backend}: connection lost: {source}")]
    Lost {
        backend: String,
        source: ProtocolError,
    },
    /// No connection within `pool.checkout_timeout_ms`: every slot clients may use was busy.
    #[error(
        "backend {backend} is saturated: all {} client connections busy (max {max}, {reserved} \
         reserved for the health checker), waited {waited_ms} ms",
        max - reserved
    )]
    Saturated {
        backend: String,
        /// `pool.max_connections`.
        max: usize,
        /// Of `max`, reserved for the health checker.
        reserved: usize,
        waited_ms: u64,
    },
}
