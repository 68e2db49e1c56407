//! One generated statement and its category; which categories the proxy must support, may
//! refuse, or must refuse.

/// What a statement exercises (the summary counts per category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Multi-row INSERTs of the base data set.
    Base,
    InsertOne,
    /// A single-row INSERT of a key that may already exist (both sides must fail alike).
    InsertDup,
    /// Rows for several shards / sub-tables in one INSERT.
    InsertMulti,
    Replace,
    /// INSERT ... ON DUPLICATE KEY UPDATE of non-key columns.
    Upsert,
    UpdateKeyed,
    DeleteKeyed,
    /// UPDATE without the sharding key (full scatter).
    UpdateScatter,
    /// DELETE without the sharding key (full scatter).
    DeleteScatter,
    /// Writes to the broadcast table `countries`.
    WriteBroadcast,
    /// Writes to the unsharded table `notes`.
    WriteUnsharded,
    /// A keyed write naming `sdiff.orders`.
    WriteQualified,
    SelectPoint,
    SelectIn,
    SelectOr,
    /// Range predicates on `events.id`.
    SelectRange,
    /// Full-table scans without ORDER BY.
    SelectScan,
    /// WHERE on non-key columns only.
    SelectFilter,
    /// Projections with expressions.
    SelectExpr,
    OrderBy,
    OrderLimit,
    Aggregate,
    GroupBy,
    Having,
    Distinct,
    /// orders JOIN order_items on the binding key.
    JoinBinding,
    /// orders JOIN countries (broadcast).
    JoinBroadcast,
    /// SELECTs naming `sdiff.<table>`, with aliases.
    SelectQualified,
    /// Reads of `countries` and `notes`.
    SelectOther,
    /// UPDATE that changes the sharding key.
    RefuseKeyUpdate,
    /// orders JOIN order_items on a non-key column only.
    RefuseJoinNonKey,
    /// A window function over a sharded table.
    RefuseWindow,
    /// A subquery whose rows may live on another shard.
    RefuseSubquery,
    /// The final full-content comparison (`SELECT * ... ORDER BY` primary key).
    Contents,
}

/// What the proxy is allowed to do with a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Refusing it is a failure.
    Must,
    /// Refusals are counted and reported, not failed.
    May,
    /// Accepting it is a failure.
    Refuse,
}

impl Kind {
    pub fn support(self) -> Support {
        use Kind::*;
        match self {
            Base | InsertOne | InsertDup | InsertMulti | UpdateKeyed | DeleteKeyed
            | SelectPoint | SelectIn | SelectOr | SelectRange | OrderBy | OrderLimit
            | Aggregate | GroupBy | JoinBinding | Contents => Support::Must,
            RefuseKeyUpdate | RefuseJoinNonKey | RefuseWindow | RefuseSubquery => Support::Refuse,
            _ => Support::May,
        }
    }
}

/// A generated statement. `sql` may contain `{db}`, replaced by each side's schema name.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub kind: Kind,
    pub sql: String,
    /// A write (compare affected rows; run dry on the reference when the proxy fails).
    pub write: bool,
    /// Has a top-level ORDER BY that fixes the order of every row (compare in order).
    pub ordered: bool,
}

impl Stmt {
    pub fn read(kind: Kind, sql: String) -> Stmt {
        Stmt {
            kind,
            sql,
            write: false,
            ordered: false,
        }
    }

    pub fn ordered(kind: Kind, sql: String) -> Stmt {
        Stmt {
            kind,
            sql,
            write: false,
            ordered: true,
        }
    }

    pub fn write(kind: Kind, sql: String) -> Stmt {
        Stmt {
            kind,
            sql,
            write: true,
            ordered: false,
        }
    }

    /// The text for one side.
    pub fn text(&self, db: &str) -> String {
        self.sql.replace("{db}", db)
    }
}
