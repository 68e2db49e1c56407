//! The YAML file as written: serde structs that reject unknown keys and keep each value's location.
//!
//! Numbers are read as `i64` so that range checks (done in `validate`) can report
//! "must be between A and B" for negative and oversized values alike. No `Debug` derives:
//! these structs hold passwords.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::metrics::RawMetrics;
use super::sharding::RawSharding;
use super::split::{Balance, DefaultRole, RawReadWriteSplit, RawReplica};
use super::types::{AuthPluginName, LogFormat};

/// Top level of the configuration file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub listen: Spanned<String>,
    #[serde(default)]
    pub server_version: Option<Spanned<String>>,
    #[serde(default)]
    pub max_allowed_packet: Option<Spanned<i64>>,
    #[serde(default)]
    pub max_client_connections: Option<Spanned<i64>>,
    #[serde(default)]
    pub shutdown_timeout_ms: Option<Spanned<i64>>,
    pub users: Spanned<Vec<RawUser>>,
    pub backend: RawBackendAuth,
    pub shards: Spanned<Vec<RawShard>>,
    #[serde(default)]
    pub default_shard: Option<Spanned<String>>,
    #[serde(default)]
    pub pool: Option<RawPool>,
    #[serde(default)]
    pub logging: Option<RawLogging>,
    #[serde(default)]
    pub read_write_split: Option<RawReadWriteSplit>,
    #[serde(default)]
    pub sharding: Option<RawSharding>,
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
}

/// One entry of `users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    pub name: Spanned<String>,
    pub password: String,
    #[serde(default)]
    pub auth_plugin: Option<AuthPluginName>,
    #[serde(default)]
    pub allowed_schemas: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub admin: Option<bool>,
    #[serde(default)]
    pub default_role: Option<DefaultRole>,
}

/// The `backend` section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackendAuth {
    pub user: Spanned<String>,
    pub password: String,
}

/// One entry of `shards`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShard {
    pub name: Spanned<String>,
    pub primary: RawBackend,
    #[serde(default)]
    pub replicas: Vec<RawReplica>,
    #[serde(default)]
    pub balance: Option<Balance>,
}

/// A backend server (`shards[].primary`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackend {
    pub address: Spanned<String>,
}

/// The `pool` section.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    #[serde(default)]
    pub max_connections: Option<Spanned<i64>>,
    #[serde(default)]
    pub checkout_timeout_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub idle_timeout_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub connect_timeout_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub min_idle: Option<Spanned<i64>>,
    #[serde(default)]
    pub max_lifetime_ms: Option<Spanned<i64>>,
}

/// The `logging` section.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogging {
    #[serde(default)]
    pub level: Option<Spanned<String>>,
    #[serde(default)]
    pub format: Option<LogFormat>,
    #[serde(default)]
    pub slow_statement_ms: Option<Spanned<i64>>,
}
