//! Semantic checks on the parsed file and conversion into the validated `Config` (defaults applied).

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};
use tracing_subscriber::EnvFilter;

use super::error::ConfigError;
use super::raw::{RawConfig, RawLogging, RawShard, RawUser};
use super::types::*;
use super::values::{check_address, check_backend_address, check_server_version};

/// Checks `raw` and converts it into a `Config`; the first problem found is returned.
pub(super) fn validate(raw: RawConfig, origin: &str) -> Result<Config, ConfigError> {
    let v = Validator { origin };
    v.address(&raw.listen, "listen")?;
    if let Some(version) = &raw.server_version {
        let result = check_server_version(&version.value);
        v.check(version, "server_version", result)?;
    }
    let max_allowed_packet = v.number_u32(
        raw.max_allowed_packet.as_ref(),
        "max_allowed_packet",
        DEFAULT_MAX_ALLOWED_PACKET,
        (MIN_MAX_ALLOWED_PACKET, MAX_MAX_ALLOWED_PACKET),
    )?;
    let max_client_connections = v.number_u32(
        raw.max_client_connections.as_ref(),
        "max_client_connections",
        DEFAULT_MAX_CLIENT_CONNECTIONS,
        (1, u32::MAX),
    )?;
    let shutdown_timeout_ms = v.number_u32(
        raw.shutdown_timeout_ms.as_ref(),
        "shutdown_timeout_ms",
        DEFAULT_SHUTDOWN_TIMEOUT_MS,
        (0, 86_400_000),
    )?;
    let users = v.users(raw.users)?;
    v.name(&raw.backend.user, "backend.user")?;
    let shards = v.shards(raw.shards)?;
    let default_shard = v.default_shard(raw.default_shard, &shards)?;
    let default_index = shards
        .iter()
        .position(|s| s.name == default_shard)
        .unwrap_or(0);
    let sharding = v.sharding(raw.sharding.unwrap_or_default(), &shards, default_index)?;
    let metrics = v.metrics(raw.metrics, &raw.listen.value)?;
    Ok(Config {
        listen: raw.listen.value,
        server_version: raw.server_version.map(|s| s.value),
        max_allowed_packet,
        max_client_connections,
        shutdown_timeout_ms,
        users,
        backend: BackendAuth {
            user: raw.backend.user.value,
            password: raw.backend.password,
        },
        shards,
        default_shard,
        pool: v.pool(raw.pool.unwrap_or_default())?,
        logging: v.logging(raw.logging.unwrap_or_default())?,
        read_write_split: v.read_write_split(raw.read_write_split.unwrap_or_default())?,
        sharding,
        metrics,
    })
}

/// Builds errors that name the file, the value's position and its path in the document.
pub(super) struct Validator<'a> {
    origin: &'a str,
}

impl Validator<'_> {
    /// An error `<path>: <message>` at `location`.
    pub(super) fn fail(
        &self,
        location: Location,
        path: &str,
        message: impl AsRef<str>,
    ) -> ConfigError {
        let message = format!("{path}: {}", message.as_ref());
        ConfigError::at(self.origin, location, message)
    }

    /// Turns the outcome of a value check into an error located at that value.
    pub(super) fn check<T>(
        &self,
        at: &Spanned<T>,
        path: &str,
        r: Result<(), String>,
    ) -> Result<(), ConfigError> {
        r.map_err(|message| self.fail(at.referenced, path, message))
    }

    /// A name: non-empty and free of control characters.
    pub(super) fn name(&self, value: &Spanned<String>, path: &str) -> Result<(), ConfigError> {
        let result = if value.value.is_empty() {
            Err("must not be empty".to_string())
        } else if value.value.chars().any(char::is_control) {
            Err(format!(
                "{:?} must not contain control characters",
                value.value
            ))
        } else {
            Ok(())
        };
        self.check(value, path, result)
    }

    /// A list entry's name: valid and not used by an earlier entry (`seen` maps names to lines).
    pub(super) fn unique_name(
        &self,
        seen: &mut HashMap<String, u64>,
        name: &Spanned<String>,
        path: &str,
        kind: &str,
    ) -> Result<(), ConfigError> {
        self.name(name, path)?;
        if let Some(first_line) = seen.get(&name.value) {
            let message = format!(
                "duplicate {kind} name {:?} (first defined at line {first_line})",
                name.value
            );
            return Err(self.fail(name.referenced, path, message));
        }
        seen.insert(name.value.clone(), name.referenced.line());
        Ok(())
    }

    fn address(&self, value: &Spanned<String>, path: &str) -> Result<(), ConfigError> {
        let result = check_address(&value.value)
            .map_err(|why| format!("invalid address {:?}: {why}", value.value));
        self.check(value, path, result)
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub(super) fn number(
        &self,
        value: Option<&Spanned<i64>>,
        path: &str,
        default: u64,
        (min, max): (u64, u64),
    ) -> Result<u64, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let n = u64::try_from(value.value).ok();
        if let Some(n) = n.filter(|n| (min..=max).contains(n)) {
            return Ok(n);
        }
        // A limit that is just the type's maximum reads better one-sided.
        let expected = match (max == u64::from(u32::MAX), n.is_none_or(|n| n < min)) {
            (false, _) => format!("must be between {min} and {max}"),
            (true, true) => format!("must be at least {min}"),
            (true, false) => format!("must be at most {max}"),
        };
        let message = format!("{expected}, got {}", value.value);
        Err(self.fail(value.referenced, path, message))
    }

    pub(super) fn number_u32(
        &self,
        value: Option<&Spanned<i64>>,
        path: &str,
        default: u32,
        (min, max): (u32, u32),
    ) -> Result<u32, ConfigError> {
        let n = self.number(value, path, default.into(), (min.into(), max.into()))?;
        u32::try_from(n).map_err(|_| self.fail(Location::UNKNOWN, path, "value out of range"))
    }

    fn users(&self, users: Spanned<Vec<RawUser>>) -> Result<Vec<User>, ConfigError> {
        if users.value.is_empty() {
            return Err(self.fail(users.referenced, "users", "at least one user is required"));
        }
        let mut seen = HashMap::new();
        let mut out = Vec::with_capacity(users.value.len());
        for (i, user) in users.value.into_iter().enumerate() {
            self.unique_name(&mut seen, &user.name, &format!("users[{i}].name"), "user")?;
            for (j, schema) in user.allowed_schemas.iter().flatten().enumerate() {
                self.name(schema, &format!("users[{i}].allowed_schemas[{j}]"))?;
            }
            out.push(User {
                name: user.name.value,
                password: user.password,
                auth_plugin: user.auth_plugin.unwrap_or_default(),
                allowed_schemas: user
                    .allowed_schemas
                    .map(|schemas| schemas.into_iter().map(|s| s.value).collect()),
                admin: user.admin.unwrap_or(false),
                default_role: user.default_role.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn shards(&self, shards: Spanned<Vec<RawShard>>) -> Result<Vec<ShardConfig>, ConfigError> {
        if shards.value.is_empty() {
            return Err(self.fail(
                shards.referenced,
                "shards",
                "at least one shard is required",
            ));
        }
        let mut seen = HashMap::new();
        let mut out = Vec::with_capacity(shards.value.len());
        for (i, shard) in shards.value.into_iter().enumerate() {
            self.unique_name(
                &mut seen,
                &shard.name,
                &format!("shards[{i}].name"),
                "shard",
            )?;
            let address = shard.primary.address;
            let path = format!("shards[{i}].primary.address");
            let result = check_backend_address(&address.value)
                .map_err(|why| format!("invalid address {:?}: {why}", address.value));
            self.check(&address, &path, result)?;
            let replicas = self.replicas(shard.replicas, i)?;
            out.push(ShardConfig {
                name: shard.name.value,
                primary: BackendConfig {
                    address: address.value,
                },
                replicas,
                balance: shard.balance.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// The named default shard (which must exist), or the first shard when absent.
    fn default_shard(
        &self,
        name: Option<Spanned<String>>,
        shards: &[ShardConfig],
    ) -> Result<String, ConfigError> {
        let names: Vec<&str> = shards.iter().map(|s| s.name.as_str()).collect();
        match name {
            None => Ok(names.first().map(|n| n.to_string()).unwrap_or_default()),
            Some(name) if names.contains(&name.value.as_str()) => Ok(name.value),
            Some(name) => {
                let message = format!(
                    "{:?} is not a defined shard (defined shards: {})",
                    name.value,
                    names.join(", ")
                );
                Err(self.fail(name.referenced, "default_shard", message))
            }
        }
    }

    fn logging(&self, logging: RawLogging) -> Result<LoggingConfig, ConfigError> {
        let level = match logging.level {
            None => DEFAULT_LOG_LEVEL.to_string(),
            Some(level) => {
                let result = if level.value.trim().is_empty() {
                    Err("must not be empty".to_string())
                } else {
                    EnvFilter::builder()
                        .parse(&level.value)
                        .map(|_| ())
                        .map_err(|e| format!("invalid filter directive {:?}: {e}", level.value))
                };
                self.check(&level, "logging.level", result)?;
                level.value
            }
        };
        let slow_statement_ms = self.number_u32(
            logging.slow_statement_ms.as_ref(),
            "logging.slow_statement_ms",
            DEFAULT_SLOW_STATEMENT_MS,
            (0, 86_400_000),
        )?;
        Ok(LoggingConfig {
            level,
            format: logging.format.unwrap_or_default(),
            slow_statement_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::config::testutil::{MINIMAL, assert_invalid};

    #[test]
    fn duplicate_user() {
        let yaml = MINIMAL.replace(
            "backend:",
            "  - name: bob\n    password: x\n  - name: app\n    password: y\nbackend:",
        );
        assert_invalid(
            &yaml,
            7,
            11,
            &["users[2].name", "duplicate user name \"app\"", "line 3"],
        );
    }

    #[test]
    fn duplicate_shard() {
        let yaml = format!("{MINIMAL}  - name: s0\n    primary: {{ address: \"h:1\" }}\n");
        assert_invalid(
            &yaml,
            11,
            11,
            &["shards[1].name", "duplicate shard name \"s0\""],
        );
    }

    #[test]
    fn unknown_default_shard() {
        let yaml = format!("{MINIMAL}default_shard: s9\n");
        assert_invalid(
            &yaml,
            11,
            16,
            &["default_shard", "\"s9\" is not a defined shard", "s0"],
        );
    }

    #[test]
    fn bad_addresses() {
        let yaml = MINIMAL.replace("127.0.0.1:3306", "127.0.0.1");
        assert_invalid(
            &yaml,
            10,
            25,
            &["shards[0].primary.address", "missing port"],
        );
        let yaml = MINIMAL.replace("127.0.0.1:3306", "127.0.0.1:0");
        assert_invalid(&yaml, 10, 25, &["port 0 is out of range 1..65535"]);
        let yaml = MINIMAL.replace("127.0.0.1:6033", "::1:6033");
        assert_invalid(&yaml, 1, 9, &["listen", "brackets"]);
    }

    #[test]
    fn numbers_out_of_range() {
        let yaml = format!("{MINIMAL}pool:\n  max_connections: 0\n");
        assert_invalid(
            &yaml,
            12,
            20,
            &["pool.max_connections", "must be at least 2, got 0"],
        );
        let yaml = format!("{MINIMAL}max_allowed_packet: 1023\n");
        assert_invalid(&yaml, 11, 21, &["between 1024 and 1073741824, got 1023"]);
        let yaml = format!("{MINIMAL}max_allowed_packet: 1073741825\n");
        assert_invalid(&yaml, 11, 21, &["between 1024 and 1073741824"]);
        let yaml = format!("{MINIMAL}max_client_connections: -1\n");
        assert_invalid(&yaml, 11, 25, &["must be at least 1, got -1"]);
        let yaml = format!("{MINIMAL}pool:\n  checkout_timeout_ms: 0\n");
        assert_invalid(&yaml, 12, 24, &["pool.checkout_timeout_ms"]);
        let yaml = format!("{MINIMAL}pool:\n  idle_timeout_ms: 0\n");
        assert!(
            parse(&yaml, "t.yaml").is_ok(),
            "idle_timeout_ms 0 means never"
        );
    }

    #[test]
    fn empty_lists_and_names() {
        let yaml = MINIMAL.replace(
            "users:\n  - name: app\n    password: app-pw\n",
            "users: []\n",
        );
        assert_invalid(&yaml, 2, 8, &["users", "at least one user"]);
        let yaml = format!(
            "{}shards: []\n",
            MINIMAL.split("shards:").next().unwrap_or_default()
        );
        assert_invalid(&yaml, 8, 9, &["shards", "at least one shard"]);
        let yaml = MINIMAL.replace("name: app", "name: \"\"");
        assert_invalid(&yaml, 3, 11, &["users[0].name", "must not be empty"]);
        let yaml = MINIMAL.replace(
            "password: app-pw",
            "password: x\n    allowed_schemas: [a, \"\"]",
        );
        assert_invalid(
            &yaml,
            5,
            26,
            &["users[0].allowed_schemas[1]", "must not be empty"],
        );
    }

    #[test]
    fn server_version_and_log_level() {
        let yaml = format!("{MINIMAL}server_version: shardgate\n");
        assert_invalid(&yaml, 11, 17, &["server_version", "8.0.35"]);
        let yaml = format!("{MINIMAL}logging:\n  level: \"shardgate=loud\"\n");
        assert_invalid(
            &yaml,
            12,
            10,
            &["logging.level", "invalid filter directive"],
        );
        let yaml = format!("{MINIMAL}logging:\n  level: \"warn,shardgate::router=trace\"\n");
        assert!(parse(&yaml, "t.yaml").is_ok());
    }

    #[test]
    fn aliased_value_points_at_use_site() {
        let yaml = MINIMAL.replace("name: s0", "name: &n s0").replace(
            "127.0.0.1:3306\" }\n",
            "127.0.0.1:3306\" }\n  - name: *n\n    primary: { address: \"h:1\" }\n",
        );
        assert_invalid(&yaml, 11, 11, &["duplicate shard name \"s0\""]);
    }
}
