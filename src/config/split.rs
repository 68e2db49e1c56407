//! Read/write splitting settings: replicas of a shard with their weights and balancing policy,
//! each user's default role, and the `read_write_split` section (read-your-writes, lag limit,
//! critical tables and statement patterns). Raw YAML structs, validated types, and checks.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::validate::Validator;
use super::values::check_backend_address;

/// A replica of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    pub address: String,
    /// Share of the shard's reads, relative to the other replicas; 0 keeps it out of rotation.
    pub weight: u32,
}

/// How reads are spread over a shard's healthy replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Smooth weighted round robin: exact shares, evenly interleaved.
    #[default]
    RoundRobin,
    /// Random choice with probability proportional to weight.
    WeightedRandom,
    /// The replica with the fewest statements in flight (weight breaks ties).
    LeastOutstanding,
}

/// Where a user's reads may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultRole {
    /// Reads to replicas when the rules allow it.
    #[default]
    Auto,
    /// Everything to the primary (users that must never read from replicas).
    Primary,
}

/// How a session is kept from reading data older than its own last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadYourWrites {
    /// Reads go to a replica only once it has applied the session's last write (by GTID).
    #[default]
    Gtid,
    /// Reads go to the primary for `primary_window_ms` after the session's last write.
    PrimaryWindow,
}

/// What a read does when no replica of its shard is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoHealthyReplica {
    #[default]
    Primary,
    Error,
}

/// The validated `read_write_split` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadWriteSplit {
    pub read_your_writes: ReadYourWrites,
    pub primary_window_ms: u64,
    pub gtid_wait_timeout_ms: u64,
    pub max_replication_lag_ms: u64,
    pub health_check_interval_ms: u64,
    pub no_healthy_replica: NoHealthyReplica,
    /// Lower-cased table names; any read touching one goes to the primary.
    pub critical_tables: Vec<String>,
    /// Regular expressions over the statement text; a match goes to the primary.
    pub critical_patterns: Vec<String>,
}

impl Default for ReadWriteSplit {
    fn default() -> Self {
        ReadWriteSplit {
            read_your_writes: ReadYourWrites::default(),
            primary_window_ms: 1_000,
            gtid_wait_timeout_ms: 50,
            max_replication_lag_ms: 5_000,
            health_check_interval_ms: 1_000,
            no_healthy_replica: NoHealthyReplica::default(),
            critical_tables: Vec::new(),
            critical_patterns: Vec::new(),
        }
    }
}

/// `shards[].replicas[]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplica {
    pub address: Spanned<String>,
    #[serde(default)]
    pub weight: Option<Spanned<i64>>,
}

/// `read_write_split` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReadWriteSplit {
    #[serde(default)]
    pub read_your_writes: Option<ReadYourWrites>,
    #[serde(default)]
    pub primary_window_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub gtid_wait_timeout_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub max_replication_lag_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub health_check_interval_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub no_healthy_replica: Option<NoHealthyReplica>,
    #[serde(default)]
    pub critical_tables: Vec<Spanned<String>>,
    #[serde(default)]
    pub critical_patterns: Vec<Spanned<String>>,
}

const MAX_MS: u64 = 24 * 60 * 60 * 1000;

impl Validator<'_> {
    pub(super) fn replicas(
        &self,
        replicas: Vec<RawReplica>,
        shard: usize,
    ) -> Result<Vec<ReplicaConfig>, ConfigError> {
        let mut out = Vec::with_capacity(replicas.len());
        for (j, r) in replicas.into_iter().enumerate() {
            let path = format!("shards[{shard}].replicas[{j}]");
            let result = check_backend_address(&r.address.value)
                .map_err(|why| format!("invalid address {:?}: {why}", r.address.value));
            self.check(&r.address, &format!("{path}.address"), result)?;
            let weight = self.number(r.weight.as_ref(), &format!("{path}.weight"), 1, (0, 1000))?;
            out.push(ReplicaConfig {
                address: r.address.value,
                weight: weight as u32,
            });
        }
        Ok(out)
    }

    pub(super) fn read_write_split(
        &self,
        raw: RawReadWriteSplit,
    ) -> Result<ReadWriteSplit, ConfigError> {
        let d = ReadWriteSplit::default();
        let ms = |value: &Option<Spanned<i64>>, key: &str, default: u64, min: u64| {
            let path = format!("read_write_split.{key}");
            self.number(value.as_ref(), &path, default, (min, MAX_MS))
        };
        for (i, table) in raw.critical_tables.iter().enumerate() {
            self.name(table, &format!("read_write_split.critical_tables[{i}]"))?;
        }
        for (i, pattern) in raw.critical_patterns.iter().enumerate() {
            let result = regex::Regex::new(&pattern.value)
                .map(|_| ())
                .map_err(|e| format!("invalid regular expression: {e}"));
            self.check(
                pattern,
                &format!("read_write_split.critical_patterns[{i}]"),
                result,
            )?;
        }
        Ok(ReadWriteSplit {
            read_your_writes: raw.read_your_writes.unwrap_or(d.read_your_writes),
            primary_window_ms: ms(
                &raw.primary_window_ms,
                "primary_window_ms",
                d.primary_window_ms,
                0,
            )?,
            gtid_wait_timeout_ms: ms(
                &raw.gtid_wait_timeout_ms,
                "gtid_wait_timeout_ms",
                d.gtid_wait_timeout_ms,
                0,
            )?,
            max_replication_lag_ms: ms(
                &raw.max_replication_lag_ms,
                "max_replication_lag_ms",
                d.max_replication_lag_ms,
                0,
            )?,
            health_check_interval_ms: ms(
                &raw.health_check_interval_ms,
                "health_check_interval_ms",
                d.health_check_interval_ms,
                100,
            )?,
            no_healthy_replica: raw.no_healthy_replica.unwrap_or(d.no_healthy_replica),
            critical_tables: raw
                .critical_tables
                .into_iter()
                .map(|t| t.value.to_lowercase())
                .collect(),
            critical_patterns: raw.critical_patterns.into_iter().map(|p| p.value).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const BASE: &str = "listen: \"127.0.0.1:1\"\nusers: [{ name: u, password: p }]\n\
        backend: { user: b, password: p }\n";

    #[test]
    fn replicas_and_split_settings_parse_with_defaults() {
        let yaml = format!(
            "{BASE}shards:\n  - name: s0\n    primary: {{ address: \"h:1\" }}\n    \
             replicas: [{{ address: \"h:2\", weight: 3 }}, {{ address: \"unix:/r.sock\" }}]\n    \
             balance: least_outstanding\n\
             read_write_split: {{ read_your_writes: primary_window, critical_tables: [Orders] }}\n"
        );
        let c = parse(&yaml, "t.yaml").expect("valid");
        let s = &c.shards[0];
        assert_eq!(s.replicas.len(), 2);
        assert_eq!((s.replicas[0].weight, s.replicas[1].weight), (3, 1));
        assert_eq!(s.balance, super::Balance::LeastOutstanding);
        let rw = &c.read_write_split;
        assert_eq!(rw.read_your_writes, super::ReadYourWrites::PrimaryWindow);
        assert_eq!(rw.critical_tables, vec!["orders".to_string()]);
        assert_eq!(rw.max_replication_lag_ms, 5_000);
        assert_eq!(c.users[0].default_role, super::DefaultRole::Auto);
    }

    #[test]
    fn bad_split_settings_are_located() {
        let shard = "shards:\n  - name: s0\n    primary: { address: \"h:1\" }\n";
        let cases = [
            (
                format!("{shard}    replicas: [{{ address: \"h:2\", weight: 1001 }}]\n"),
                "7:",
                "weight",
            ),
            (
                format!("{shard}read_write_split: {{ critical_patterns: [\"(unclosed\"] }}\n"),
                "7:",
                "regular expression",
            ),
            (
                format!("{shard}    replicas: [{{ address: \"nope\" }}]\n"),
                "7:",
                "address",
            ),
        ];
        for (tail, line, word) in cases {
            let err = parse(&format!("{BASE}{tail}"), "t.yaml")
                .expect_err("invalid")
                .to_string();
            assert!(err.starts_with(&format!("t.yaml:{line}")), "{err}");
            assert!(err.contains(word), "{err}");
        }
    }
}
