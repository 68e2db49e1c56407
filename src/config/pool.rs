//! Checks of the `pool` section: connection cap (room for the health checker's slot),
//! timeouts, `min_idle` within the cap, `max_lifetime_ms`.

use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::raw::RawPool;
use super::types::*;
use super::validate::Validator;

impl Validator<'_> {
    pub(super) fn pool(&self, pool: RawPool) -> Result<PoolConfig, ConfigError> {
        let timeout = |value: Option<Spanned<i64>>, path: &str, default: u64, min: u64| {
            self.number(value.as_ref(), path, default, (min, MAX_TIMEOUT_MS))
        };
        if let Some(value) = &pool.max_connections
            && value.value < i64::from(MIN_POOL_MAX_CONNECTIONS)
        {
            let message = format!(
                "must be at least {MIN_POOL_MAX_CONNECTIONS}, got {}: each backend's health \
                 checker holds {HEALTH_CHECK_RESERVED_CONNECTIONS} of its connections",
                value.value
            );
            return Err(self.fail(value.referenced, "pool.max_connections", message));
        }
        let max_connections = self.number_u32(
            pool.max_connections.as_ref(),
            "pool.max_connections",
            DEFAULT_POOL_MAX_CONNECTIONS,
            (MIN_POOL_MAX_CONNECTIONS, u32::MAX),
        )?;
        let min_idle =
            self.number_u32(pool.min_idle.as_ref(), "pool.min_idle", 0, (0, u32::MAX))?;
        if let Some(value) = &pool.min_idle
            && min_idle > max_connections
        {
            let message =
                format!("must be at most pool.max_connections ({max_connections}), got {min_idle}");
            return Err(self.fail(value.referenced, "pool.min_idle", message));
        }
        Ok(PoolConfig {
            max_connections,
            checkout_timeout_ms: timeout(
                pool.checkout_timeout_ms,
                "pool.checkout_timeout_ms",
                DEFAULT_CHECKOUT_TIMEOUT_MS,
                1,
            )?,
            idle_timeout_ms: timeout(
                pool.idle_timeout_ms,
                "pool.idle_timeout_ms",
                DEFAULT_IDLE_TIMEOUT_MS,
                0,
            )?,
            connect_timeout_ms: timeout(
                pool.connect_timeout_ms,
                "pool.connect_timeout_ms",
                DEFAULT_CONNECT_TIMEOUT_MS,
                1,
            )?,
            min_idle,
            max_lifetime_ms: timeout(
                pool.max_lifetime_ms,
                "pool.max_lifetime_ms",
                DEFAULT_MAX_LIFETIME_MS,
                0,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::config::testutil::{MINIMAL, assert_invalid};

    #[test]
    fn max_connections_leaves_room_for_the_health_checker() {
        let yaml = format!("{MINIMAL}pool:\n  max_connections: -3\n");
        assert_invalid(&yaml, 12, 20, &["at least 2, got -3", "health checker"]);
        let yaml = format!("{MINIMAL}pool:\n  max_connections: 1\n");
        assert_invalid(&yaml, 12, 20, &["at least 2, got 1", "health checker"]);
        let yaml = format!("{MINIMAL}pool:\n  max_connections: 2\n");
        assert!(parse(&yaml, "t.yaml").is_ok(), "2 leaves one for clients");
    }

    #[test]
    fn pool_idle_settings() {
        let yaml = format!("{MINIMAL}pool:\n  min_idle: 4\n  max_lifetime_ms: 0\n");
        let pool = parse(&yaml, "t.yaml").expect("valid").pool;
        assert_eq!((pool.min_idle, pool.max_lifetime_ms), (4, 0));
        let pool = parse(MINIMAL, "t.yaml").expect("valid").pool;
        assert_eq!((pool.min_idle, pool.max_lifetime_ms), (0, 1_800_000));
        let yaml = format!("{MINIMAL}pool:\n  max_connections: 8\n  min_idle: 9\n");
        assert_invalid(
            &yaml,
            13,
            13,
            &["pool.min_idle", "at most pool.max_connections (8), got 9"],
        );
        let yaml = format!("{MINIMAL}pool:\n  min_idle: -1\n");
        assert_invalid(&yaml, 12, 13, &["pool.min_idle", "at least 0, got -1"]);
        let yaml = format!("{MINIMAL}pool:\n  max_lifetime_ms: 86400001\n");
        assert_invalid(
            &yaml,
            12,
            20,
            &["pool.max_lifetime_ms", "between 0 and 86400000"],
        );
    }
}
