//! The `sharding:` section as written: serde structs that reject unknown keys and keep
//! each value's location for error messages.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::KeyType;

/// `sharding` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawSharding {
    #[serde(default)]
    pub allow_full_scatter_writes: Option<bool>,
    #[serde(default)]
    pub schemas: Vec<RawSchema>,
}

/// `sharding.schemas[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawSchema {
    pub name: Spanned<String>,
    #[serde(default)]
    pub default_shard: Option<Spanned<String>>,
    #[serde(default)]
    pub broadcast_tables: Vec<Spanned<String>>,
    #[serde(default)]
    pub binding_groups: Vec<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub tables: Vec<RawTable>,
}

/// `sharding.schemas[].tables[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawTable {
    pub name: Spanned<String>,
    pub key: Spanned<String>,
    #[serde(default)]
    pub key_type: Option<Spanned<KeyType>>,
    pub algorithm: Spanned<AlgorithmName>,
    #[serde(default)]
    pub key_case: Option<Spanned<KeyCase>>,
    #[serde(default)]
    pub digits: Option<Spanned<i64>>,
    #[serde(default)]
    pub sub_tables: Option<Spanned<i64>>,
    #[serde(default)]
    pub placement: Option<Spanned<Vec<RawPlacement>>>,
    #[serde(default)]
    pub shards: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub ranges: Option<Spanned<Vec<Spanned<RawRange>>>>,
}

/// `placement[]`: which sub-tables live on which shard.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawPlacement {
    pub shard: Spanned<String>,
    /// `"0-3"`, `"5"`, `"0-3,8"`.
    pub sub_tables: Spanned<String>,
}

/// `ranges[]`: keys in `from..to` go to `slot`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawRange {
    #[serde(default)]
    pub from: Option<Spanned<i64>>,
    #[serde(default)]
    pub to: Option<Spanned<i64>>,
    pub slot: Spanned<i64>,
}

/// `algorithm:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::config) enum AlgorithmName {
    Mod,
    Hash,
    Range,
    Suffix,
}

/// `key_case:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::config) enum KeyCase {
    #[default]
    Insensitive,
    Sensitive,
}
