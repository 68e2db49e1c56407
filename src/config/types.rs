//! Validated configuration types handed to the rest of the proxy, with their defaults and helpers.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

pub use super::metrics::MetricsConfig;
pub use super::sharding::{
    Algorithm, KeyRange, KeyType, MAX_SUB_TABLES, ShardedSchema, Sharding, Slot, TableKind,
    TableRule,
};
pub use super::split::{
    Balance, DefaultRole, NoHealthyReplica, ReadWriteSplit, ReadYourWrites, ReplicaConfig,
};

/// Default `max_allowed_packet`: 64 MiB.
pub const DEFAULT_MAX_ALLOWED_PACKET: u32 = 64 * 1024 * 1024;
/// Smallest accepted `max_allowed_packet`.
pub const MIN_MAX_ALLOWED_PACKET: u32 = 1024;
/// Largest accepted `max_allowed_packet` (1 GiB, the MySQL server maximum).
pub const MAX_MAX_ALLOWED_PACKET: u32 = 1024 * 1024 * 1024;
/// Default `max_client_connections`.
pub const DEFAULT_MAX_CLIENT_CONNECTIONS: u32 = 10_000;
/// Default `shutdown_timeout_ms`.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u32 = 30_000;
/// Default `pool.max_connections` (per backend).
pub const DEFAULT_POOL_MAX_CONNECTIONS: u32 = 64;
/// Default `pool.checkout_timeout_ms`.
pub const DEFAULT_CHECKOUT_TIMEOUT_MS: u64 = 1_000;
/// Default `pool.idle_timeout_ms`.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 600_000;
/// Default `pool.max_lifetime_ms` (30 minutes).
pub const DEFAULT_MAX_LIFETIME_MS: u64 = 30 * 60 * 1000;
/// Pool slots per backend reserved for its health checker (every backend has one).
pub const HEALTH_CHECK_RESERVED_CONNECTIONS: u32 = 1;
/// Smallest `pool.max_connections`: the health checker's slot plus one for clients.
pub const MIN_POOL_MAX_CONNECTIONS: u32 = HEALTH_CHECK_RESERVED_CONNECTIONS + 1;
/// Default `pool.connect_timeout_ms`.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Largest accepted value of any `pool.*_ms` timeout (24 hours).
pub const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;
/// Default `logging.level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// The whole proxy configuration, validated and with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address (`host:port`) the proxy accepts MySQL clients on.
    pub listen: String,
    /// Version string sent in the handshake; `None` = use the default primary's own version.
    pub server_version: Option<String>,
    /// Largest packet payload accepted or sent, in bytes.
    pub max_allowed_packet: u32,
    /// Largest number of concurrently connected clients.
    pub max_client_connections: u32,
    /// On SIGTERM/SIGINT: how long open transactions may take to finish, in ms.
    pub shutdown_timeout_ms: u32,
    /// Client accounts; never empty, names unique.
    pub users: Vec<User>,
    /// Credentials the proxy uses to log in to every backend.
    pub backend: BackendAuth,
    /// Shards; never empty, names unique.
    pub shards: Vec<ShardConfig>,
    /// Name of the default shard; always names an entry of `shards`.
    pub default_shard: String,
    /// Backend connection pool settings.
    pub pool: PoolConfig,
    /// Log output settings.
    pub logging: LoggingConfig,
    /// Read/write splitting rules.
    pub read_write_split: ReadWriteSplit,
    /// Sharding rules; empty when the file has no `sharding` section.
    pub sharding: Sharding,
    /// The Prometheus endpoint; `None` (no endpoint) when the file has no `metrics` section.
    pub metrics: Option<MetricsConfig>,
}

impl Config {
    /// The client account called `name`, if any (exact, case-sensitive match).
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The shard called `name`, if any.
    pub fn shard(&self, name: &str) -> Option<&ShardConfig> {
        self.shards.iter().find(|s| s.name == name)
    }
}

/// A client account the proxy authenticates itself.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Login name (unique, non-empty).
    pub name: String,
    /// Plain-text password (may be empty); never printed by `Debug`.
    pub password: String,
    /// Authentication plugin offered to this client.
    pub auth_plugin: AuthPluginName,
    /// Schemas this user may use; `None` = any schema.
    pub allowed_schemas: Option<Vec<String>>,
    /// Whether this user may run proxy admin commands.
    pub admin: bool,
    /// `primary`: this user's statements never go to replicas.
    pub default_role: DefaultRole,
}

impl User {
    /// Whether this user may use `schema` (exact, case-sensitive comparison).
    pub fn may_use_schema(&self, schema: &str) -> bool {
        match &self.allowed_schemas {
            None => true,
            Some(allowed) => allowed.iter().any(|s| s == schema),
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"***")
            .field("auth_plugin", &self.auth_plugin)
            .field("allowed_schemas", &self.allowed_schemas)
            .field("admin", &self.admin)
            .finish()
    }
}

/// MySQL authentication plugin a client account uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthPluginName {
    /// `mysql_native_password` (SHA-1 scramble).
    #[default]
    MysqlNativePassword,
    /// `caching_sha2_password` (SHA-256 scramble, MySQL 8 default).
    CachingSha2Password,
}

impl AuthPluginName {
    /// The plugin name as sent on the wire, e.g. `"mysql_native_password"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthPluginName::MysqlNativePassword => "mysql_native_password",
            AuthPluginName::CachingSha2Password => "caching_sha2_password",
        }
    }
}

impl fmt::Display for AuthPluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Credentials the proxy uses to log in to every backend.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendAuth {
    /// Backend login name (non-empty).
    pub user: String,
    /// Backend password (may be empty); never printed by `Debug`.
    pub password: String,
}

impl fmt::Debug for BackendAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendAuth")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// One shard: a named group of backends holding one slice of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardConfig {
    /// Shard name (unique, non-empty).
    pub name: String,
    /// The shard's primary (read/write) backend.
    pub primary: BackendConfig,
    /// Replicas that serve reads (may be empty).
    pub replicas: Vec<ReplicaConfig>,
    /// How reads are spread over the healthy replicas.
    pub balance: Balance,
}

/// One backend MySQL server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// `host:port`; host is a name, an IPv4 address or a bracketed IPv6 address.
    pub address: String,
}

/// Backend connection pool settings (applied to each backend separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most open connections per backend, the health checker's included (clients may hold
    /// `max_connections - HEALTH_CHECK_RESERVED_CONNECTIONS`).
    pub max_connections: u32,
    /// How long a client waits for a free backend connection, in ms.
    pub checkout_timeout_ms: u64,
    /// Idle connections older than this are closed, in ms; 0 = never.
    pub idle_timeout_ms: u64,
    /// TCP connect plus handshake timeout for a new backend connection, in ms.
    pub connect_timeout_ms: u64,
    /// Idle connections the reaper leaves open when closing timed-out ones (never opened
    /// ahead of need); at most `max_connections`.
    pub min_idle: u32,
    /// Connections older than this are closed when returned or found idle, in ms; 0 = never.
    pub max_lifetime_ms: u64,
}

impl PoolConfig {
    /// `checkout_timeout_ms` as a `Duration`.
    pub fn checkout_timeout(&self) -> Duration {
        Duration::from_millis(self.checkout_timeout_ms)
    }

    /// `idle_timeout_ms` as a `Duration`; `None` when idle connections are never closed.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_ms != 0).then(|| Duration::from_millis(self.idle_timeout_ms))
    }

    /// `connect_timeout_ms` as a `Duration`.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// `max_lifetime_ms` as a `Duration`; `None` when connections may live forever.
    pub fn max_lifetime(&self) -> Option<Duration> {
        (self.max_lifetime_ms != 0).then(|| Duration::from_millis(self.max_lifetime_ms))
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: DEFAULT_POOL_MAX_CONNECTIONS,
            checkout_timeout_ms: DEFAULT_CHECKOUT_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            min_idle: 0,
            max_lifetime_ms: DEFAULT_MAX_LIFETIME_MS,
        }
    }
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// A `tracing_subscriber::EnvFilter` directive string, e.g. `"info,shardgate=debug"`.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
    /// Statements slower than this are logged with their route and timings, in ms; 0 = off.
    pub slow_statement_ms: u32,
}

/// Default `logging.slow_statement_ms`.
pub const DEFAULT_SLOW_STATEMENT_MS: u32 = 1_000;

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: DEFAULT_LOG_LEVEL.to_string(),
            format: LogFormat::default(),
            slow_statement_ms: DEFAULT_SLOW_STATEMENT_MS,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable text lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(allowed: Option<&[&str]>) -> User {
        User {
            name: "app".to_string(),
            password: "s3cret-pw".to_string(),
            auth_plugin: AuthPluginName::default(),
            allowed_schemas: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
            admin: false,
            default_role: DefaultRole::Auto,
        }
    }

    #[test]
    fn debug_hides_passwords() {
        let text = format!("{:?}", user(None));
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(text.contains("***"), "{text}");
        let auth = BackendAuth {
            user: "sg".to_string(),
            password: "backend-pw".to_string(),
        };
        let text = format!("{auth:?} {auth:#?}");
        assert!(!text.contains("backend-pw"), "{text}");
    }

    #[test]
    fn schema_access_is_exact() {
        assert!(user(None).may_use_schema("anything"));
        let u = user(Some(&["shop"]));
        assert!(u.may_use_schema("shop"));
        assert!(!u.may_use_schema("Shop"));
        assert!(!u.may_use_schema("shop2"));
        assert!(!user(Some(&[])).may_use_schema("shop"));
    }

    #[test]
    fn pool_durations() {
        let mut pool = PoolConfig::default();
        assert_eq!(pool.checkout_timeout(), Duration::from_secs(1));
        assert_eq!(pool.connect_timeout(), Duration::from_secs(3));
        assert_eq!(pool.idle_timeout(), Some(Duration::from_secs(600)));
        pool.idle_timeout_ms = 0;
        assert_eq!(pool.idle_timeout(), None);
        assert_eq!(pool.max_lifetime(), Some(Duration::from_secs(1800)));
        pool.max_lifetime_ms = 0;
        assert_eq!(pool.max_lifetime(), None);
    }

    #[test]
    fn plugin_names() {
        assert_eq!(
            AuthPluginName::MysqlNativePassword.as_str(),
            "mysql_native_password"
        );
        assert_eq!(
            AuthPluginName::CachingSha2Password.to_string(),
            "caching_sha2_password"
        );
    }
}
