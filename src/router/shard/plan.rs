//! What the router decides for a statement on a sharded schema: the targets (shard, role,
//! rewritten text) and, for reads that span shards, how the executor merges their results.

use super::super::Role;

/// One statement text to run on one shard.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardTarget {
    /// Index into the configuration's shard list.
    pub shard: usize,
    /// The statement with logical table names replaced by physical ones.
    pub sql: String,
    /// Physical sub-tables the text touches (for `EXPLAIN SHARDGATE`).
    pub tables: Vec<String>,
}

/// How the rows of several shards become the one answer a single server would give.
///
/// Column indexes refer to the columns of the shards' result (the rewritten select list):
/// the first `visible` columns go to the client, the ones after them are helper columns the
/// router appended (hidden sort keys, the SUM and COUNT behind an AVG, aggregates used only
/// in HAVING) and are dropped after the merge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MergeSpec {
    /// Number of leading columns sent to the client.
    pub visible: usize,
    /// ORDER BY of the statement (applied after grouping), in priority order.
    pub order_by: Vec<SortKey>,
    /// GROUP BY columns. Empty with aggregates present means one group (or none: a single
    /// row of aggregates over zero rows, as MySQL answers `SELECT COUNT(*) FROM t WHERE 0`).
    pub group_by: Vec<usize>,
    /// Aggregate columns recombined across shards; every other non-group column of a
    /// grouped query is taken from the group's first row (MySQL's ANY_VALUE behaviour).
    pub aggregates: Vec<Aggregate>,
    /// `SELECT DISTINCT`: duplicates of the visible columns removed after the merge.
    pub distinct: bool,
    /// HAVING, evaluated on merged groups.
    pub having: Option<Expr>,
    /// OFFSET applied once after the merge (shards ran with `LIMIT offset + count`).
    pub offset: u64,
    /// LIMIT count applied once after the merge.
    pub limit: Option<u64>,
    /// `SELECT *` (column count unknown until the shards answer): `Some(n)` means the last
    /// `n` columns are hidden helpers and every column index above counts from the first of
    /// them; [`MergeSpec::resolve`] turns this into plain indexes.
    pub wildcard_hidden: Option<usize>,
    /// Columns whose value is a table column's (MIN/MAX of a column): (index, lower-case
    /// column name), so the merge can use that column's collation.
    pub sources: Vec<(usize, String)>,
}

impl MergeSpec {
    /// Plain column indexes for a result of `columns` columns (see `wildcard_hidden`);
    /// `None` when the result has fewer columns than the hidden helpers.
    pub fn resolve(&self, columns: usize) -> Option<MergeSpec> {
        let Some(hidden) = self.wildcard_hidden else {
            return Some(self.clone());
        };
        let visible = columns.checked_sub(hidden)?;
        let mut spec = self.clone();
        spec.wildcard_hidden = None;
        spec.visible = visible;
        for k in &mut spec.order_by {
            k.column += visible;
        }
        for g in &mut spec.group_by {
            *g += visible;
        }
        Some(spec)
    }

    /// A merge that needs every row before it can emit one (grouping or aggregates).
    pub fn materialises(&self) -> bool {
        !self.group_by.is_empty() || !self.aggregates.is_empty() || self.distinct
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SortKey {
    pub column: usize,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    /// The column holding this aggregate in each shard's rows (and in the output).
    pub column: usize,
    pub kind: AggKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggKind {
    /// COUNT(*) / COUNT(x): summed.
    Count,
    /// SUM(x): summed (NULL when every shard's SUM is NULL).
    Sum,
    Min,
    Max,
    /// AVG(x): the shards also return SUM(x) and COUNT(x) in the given columns; the merged
    /// value is sum / count, formatted with the AVG column's own decimals (NULL if count 0).
    Avg {
        sum: usize,
        count: usize,
    },
}

/// A HAVING expression over merged columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column(usize),
    Literal(Literal),
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull { expr: Box<Expr>, negated: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    /// A number as written (integer or decimal, e.g. `-12.50`).
    Number(String),
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// Where a statement on a sharded schema runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedPlan {
    pub targets: Vec<ShardTarget>,
    pub role: Role,
    pub kind: ShardedKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ShardedKind {
    /// One target: its reply is relayed unchanged.
    Single,
    /// A read over several shards, merged.
    Scatter(MergeSpec),
    /// A write over several targets (a split multi-row INSERT, a broadcast-table write, an
    /// allowed full-scatter UPDATE/DELETE): affected rows summed, one OK to the client.
    MultiWrite,
    /// A write to a broadcast table, run on every shard: each shard holds the same rows, so
    /// the client sees one shard's affected rows (shards that disagree are logged).
    BroadcastWrite,
}
