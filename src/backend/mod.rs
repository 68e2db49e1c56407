//! Backends: the registry of shards built from a config snapshot, each backend's pool,
//! and the connections themselves.

pub mod connection;
pub mod pool;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::protocol::ProtocolError;
use connection::Target;
use pool::Pool;

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
    #[error("backend {backend} is saturated: all {max} connections busy, waited {waited_ms} ms")]
    Saturated {
        backend: String,
        max: usize,
        waited_ms: u64,
    },
}

/// One shard: its primary (replicas come with read/write splitting).
pub struct Shard {
    pub name: String,
    pub primary: Arc<Pool>,
}

/// All backends of one config snapshot.
pub struct Registry {
    pub shards: Vec<Shard>,
    /// Index of the default shard in `shards`.
    pub default_shard: usize,
}

impl Registry {
    /// Builds pools for every backend in the config (connections open lazily).
    pub fn build(config: &Config) -> Self {
        let shards = config
            .shards
            .iter()
            .map(|s| Shard {
                name: s.name.clone(),
                primary: Pool::new(
                    Target {
                        name: format!("{}/primary {}", s.name, s.primary.address),
                        address: s.primary.address.clone(),
                        user: config.backend.user.clone(),
                        password: config.backend.password.clone(),
                        connect_timeout: Duration::from_millis(config.pool.connect_timeout_ms),
                    },
                    &config.pool,
                ),
            })
            .collect::<Vec<_>>();
        let default_shard = shards
            .iter()
            .position(|s| s.name == config.default_shard)
            .unwrap_or(0);
        Registry {
            shards,
            default_shard,
        }
    }

    /// The default shard's primary pool.
    pub fn default_primary(&self) -> &Arc<Pool> {
        &self.shards[self.default_shard].primary
    }
}
