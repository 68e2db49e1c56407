//! shardgate: a MySQL-wire-protocol proxy that routes statements to shards, primaries and replicas.
#![forbid(unsafe_code)]

pub mod config;
