//! shardgate: a MySQL-wire-protocol proxy that routes statements to shards, primaries and replicas.
#![forbid(unsafe_code)]

pub mod backend;
pub mod config;
pub mod error;
pub mod executor;
pub mod frontend;
pub mod metrics;
pub mod protocol;
pub mod router;
pub mod runtime;
pub mod server;
