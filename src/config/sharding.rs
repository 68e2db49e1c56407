//! The `sharding:` section: which schemas are sharded, and for each table its sharding key,
//! algorithm and slot layout (slot -> shard and physical table). Runtime types live here;
//! the YAML structs are in `raw`, the checks in `check` and `layout`.

mod check;
mod layout;
mod raw;
#[cfg(test)]
mod tests;

use serde::Deserialize;

pub(super) use raw::RawSharding;

/// Largest `sub_tables` value.
pub const MAX_SUB_TABLES: u64 = 10_000;

/// The validated `sharding` section; empty (no schemas) when the section is absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sharding {
    /// UPDATE/DELETE without a usable sharding key run on every shard only when true.
    pub allow_full_scatter_writes: bool,
    /// Sharded schemas; names unique (case-sensitive).
    pub schemas: Vec<ShardedSchema>,
}

impl Sharding {
    /// The sharded schema called `name` (exact, case-sensitive match).
    pub fn schema(&self, name: &str) -> Option<&ShardedSchema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    /// Whether no schema is sharded (every statement goes to the default shard).
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }
}

/// A logical schema whose tables are spread over the shards (the schema exists on every shard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedSchema {
    /// Schema name as clients use it.
    pub name: String,
    /// Index into `Config.shards` of the shard holding this schema's unsharded tables.
    pub default_shard: usize,
    /// Sharded tables; names unique within the schema and distinct from `broadcast`.
    pub tables: Vec<TableRule>,
    /// Tables present, identical, on every shard.
    pub broadcast: Vec<String>,
}

impl ShardedSchema {
    /// How the table called `name` is laid out (exact, case-sensitive match).
    pub fn table(&self, name: &str) -> TableKind<'_> {
        if let Some(rule) = self.tables.iter().find(|t| t.name == name) {
            TableKind::Sharded(rule)
        } else if self.broadcast.iter().any(|b| b == name) {
            TableKind::Broadcast
        } else {
            TableKind::Unsharded
        }
    }
}

/// What kind of table a name refers to in a sharded schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind<'a> {
    /// Spread over slots by its sharding key.
    Sharded(&'a TableRule),
    /// On every shard.
    Broadcast,
    /// Only on the schema's default shard.
    Unsharded,
}

/// How one sharded table is spread: key column, algorithm, and slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRule {
    /// Logical table name.
    pub name: String,
    /// Sharding-key column, lower-cased (column names compare case-insensitively).
    pub key: String,
    pub key_type: KeyType,
    pub algorithm: Algorithm,
    /// Slot `i` holds the keys the algorithm maps to `i`; never empty.
    pub slots: Vec<Slot>,
    /// Index of the schema's binding group this table belongs to, if any.
    pub binding_group: Option<usize>,
}

/// Where one slot of a table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Index into `Config.shards`.
    pub shard: usize,
    /// Physical table name on that shard (`orders_0003`, or the logical name).
    pub physical: String,
}

/// Type of a sharding-key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    #[default]
    Integer,
    String,
}

impl KeyType {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Integer => "integer",
            KeyType::String => "string",
        }
    }
}

/// The function from a key to a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    /// `key mod N` (Euclidean: never negative).
    Mod,
    /// `CRC32(canonical key bytes) mod N`; strings lower-cased first when case-insensitive.
    Hash { case_insensitive: bool },
    /// The slot of the range holding the key; ranges sorted, contiguous, non-overlapping.
    Range(Vec<KeyRange>),
    /// The slot of the range holding `|key| mod 10^digits`; ranges cover 0..10^digits.
    Suffix { digits: u32, ranges: Vec<KeyRange> },
}

impl Algorithm {
    /// The name used in the configuration file.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Mod => "mod",
            Algorithm::Hash { .. } => "hash",
            Algorithm::Range(_) => "range",
            Algorithm::Suffix { .. } => "suffix",
        }
    }
}

/// Keys in `from..to` (from inclusive, to exclusive; `None` = unbounded) go to `slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    pub from: Option<i128>,
    pub to: Option<i128>,
    pub slot: usize,
}

impl KeyRange {
    /// Whether `key` lies in this range.
    pub fn contains(&self, key: i128) -> bool {
        self.from.is_none_or(|f| f <= key) && self.to.is_none_or(|t| key < t)
    }
}
