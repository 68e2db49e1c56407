//! Why the router cannot run a statement on a sharded schema (mapped to MySQL errors in
//! `crate::error`, the one place codes are chosen).

use super::keys::KeyError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// The statement needs something that cannot be answered correctly across shards.
    #[error("shardgate cannot run this on sharded table(s) {tables}: {construct}")]
    Unsupported { tables: String, construct: String },
    /// The statement references a sharded table but does not parse.
    #[error(
        "shardgate cannot parse a statement that references sharded table {table}: {reason}; \
         rewrite it in plain MySQL syntax or run it on the shards directly"
    )]
    Unparsable { table: String, reason: String },
    /// A sharding-key value that maps to no slot, or cannot be a key.
    #[error("{0}")]
    Key(String),
    /// A write without a sharding key while `allow_full_scatter_writes` is off.
    #[error(
        "{statement} on sharded table {table} without a condition on its sharding key {key} \
         would run on every shard; add `{key} = ...` or set \
         sharding.allow_full_scatter_writes: true"
    )]
    FullScatterWrite {
        statement: &'static str,
        table: String,
        key: String,
    },
}

impl From<KeyError> for ShardError {
    fn from(e: KeyError) -> Self {
        ShardError::Key(e.to_string())
    }
}

impl ShardError {
    pub fn unsupported(tables: &[String], construct: impl Into<String>) -> Self {
        ShardError::Unsupported {
            tables: tables.join(", "),
            construct: construct.into(),
        }
    }
}
