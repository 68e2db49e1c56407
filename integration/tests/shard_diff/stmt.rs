//! One generated statement and its category; which categories the proxy must support, may
//! refuse, or must refuse.

use mysql::Value;

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
    /// Prepared (`?` placeholders, bound values): a point lookup on the sharding key.
    PrepPoint,
    /// Prepared: `key IN (?, ..)`.
    PrepIn,
    /// Prepared: range predicates on `events.id` / `orders.user_id`.
    PrepRange,
    /// Prepared: a scatter SELECT with a parameter on a non-key column.
    PrepScatter,
    /// Prepared: UPDATE with the key as a parameter.
    PrepUpdate,
    /// Prepared: DELETE with the key as a parameter.
    PrepDelete,
    /// Prepared: a single-row INSERT (every value a parameter).
    PrepInsert,
    /// Prepared: a multi-row INSERT whose rows all belong to one shard.
    PrepInsertMulti,
    /// Prepared: a multi-row INSERT whose rows span both shards (documented as refused).
    PrepInsertSpan,
    /// `BEGIN` on both sides.
    TxnBegin,
    TxnCommit,
    TxnRollback,
    /// Inside a transaction: a read of keys the transaction wrote (one slot per shard).
    TxnReadOwn,
    /// The final full-content comparison (`SELECT * ... ORDER BY` primary key).
    Contents,
    /// `SET autocommit=0` (a session block in autocommit-off mode).
    SessAutocommitOff,
    /// `SET autocommit=1`: ends (commits) an autocommit-off transaction.
    SessAutocommitOn,
    /// Both sides disconnect and reconnect (mid-transaction: it must be rolled back), with
    /// or without `SET autocommit=0` as the driver's init statement.
    SessReconnect,
    /// `BEGIN` / `START TRANSACTION` of a session block.
    SessBegin,
    /// `BEGIN` / `START TRANSACTION` while a transaction is open (implicit commit).
    SessBeginNested,
    SessCommit,
    SessRollback,
    /// DDL on the unsharded scratch table (implicit commit).
    SessDdl,
    /// `LOCK TABLES notes WRITE` (implicit commit; the proxy may refuse it).
    SessLock,
    /// `UNLOCK TABLES` (commits when tables were locked).
    SessUnlock,
    SavepointSet,
    SavepointRollback,
    SavepointRelease,
    /// A savepoint statement naming a savepoint that no longer exists (fails alike).
    SavepointGone,
    /// Inside a session block: a write routed to one sub-table of one shard.
    RouteOneSlot,
    /// Inside a session block: writes to several sub-tables of one shard.
    RouteSubTables,
    /// Inside a session block: writes routed to both shards.
    RouteTwoShards,
    /// Inside a session block: a read of rows the transaction wrote.
    SessReadOwn,
    XaStart,
    XaEnd,
    XaPrepare,
    XaCommit,
    XaCommitOnePhase,
    XaRollback,
    /// A write inside an XA transaction.
    XaWrite,
    /// After a transaction: every table's committed contents through the side's second
    /// connection (the proxy, as a primary-only user) against the reference.
    CheckContents,
    /// After a transaction: every table's committed contents read straight from the shard
    /// primaries' physical tables against the reference.
    CheckPhysical,
    /// After a transaction: no transaction with writes (or prepared XA) left on a server.
    CheckLeftover,
}

/// How the runner treats a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ctl {
    /// Run on the side under test, then (or dry) on the reference, as always.
    Plain,
    /// Transaction / session control: runs for real on both sides; both must answer alike.
    Session,
    /// Both sides disconnect (an open transaction must be rolled back) and reconnect,
    /// with `SET autocommit=0` as the connection's init statement when `autocommit_off`.
    Reconnect { autocommit_off: bool },
    /// Compare every table's committed contents (and look for leftover transactions).
    Check,
}

/// A statement of the XA transaction `id` (its xid is `'{db}-x<id>'` on each side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XaTag {
    pub id: u32,
    /// The XA transaction touches s1 (not the default shard) at or before this statement: the proxy
    /// may refuse it (1235 naming the limitation) if nothing happened.
    pub may_refuse: bool,
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
            PrepPoint | PrepIn | PrepRange | PrepUpdate | PrepDelete | PrepInsert | TxnBegin
            | TxnCommit | TxnRollback | TxnReadOwn => Support::Must,
            // A prepared multi-row INSERT over several sub-tables is refused (docs/sharding.md).
            RefuseKeyUpdate | RefuseJoinNonKey | RefuseWindow | RefuseSubquery => Support::Refuse,
            // LOCK TABLES on an unsharded table may be refused (docs/sharding.md); the reference
            // then skips it too. A refused DDL is reported, never a failure in itself.
            SessLock | SessUnlock | SessDdl => Support::May,
            SessAutocommitOff | SessAutocommitOn | SessReconnect | SessBegin | SessBeginNested
            | SessCommit | SessRollback | SavepointSet | SavepointRollback | SavepointRelease
            | SavepointGone | RouteOneSlot | RouteSubTables | RouteTwoShards | SessReadOwn => {
                Support::Must
            }
            XaStart | XaEnd | XaPrepare | XaCommit | XaCommitOnePhase | XaRollback | XaWrite => {
                Support::Must
            }
            CheckContents | CheckPhysical | CheckLeftover => Support::Must,
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
    /// Run as a server-side prepared statement with these values bound to its `?`s.
    pub params: Option<Vec<Value>>,
    /// Runs inside a transaction opened by an earlier `TxnBegin`.
    pub in_txn: bool,
    /// Prepared, with an integer sharding key bound as a string (`'42'`).
    pub str_key: bool,
    pub ctl: Ctl,
    pub xa: Option<XaTag>,
}

impl Stmt {
    pub fn read(kind: Kind, sql: String) -> Stmt {
        Stmt {
            kind,
            sql,
            write: false,
            ordered: false,
            params: None,
            in_txn: false,
            str_key: false,
            ctl: Ctl::Plain,
            xa: None,
        }
    }

    pub fn ordered(kind: Kind, sql: String) -> Stmt {
        Stmt {
            kind,
            sql,
            write: false,
            ordered: true,
            params: None,
            in_txn: false,
            str_key: false,
            ctl: Ctl::Plain,
            xa: None,
        }
    }

    pub fn write(kind: Kind, sql: String) -> Stmt {
        Stmt {
            kind,
            sql,
            write: true,
            ordered: false,
            params: None,
            in_txn: false,
            str_key: false,
            ctl: Ctl::Plain,
            xa: None,
        }
    }

    /// The same statement, run prepared with `params` bound.
    pub fn bind(mut self, params: Vec<Value>, str_key: bool) -> Stmt {
        self.params = Some(params);
        self.str_key = str_key;
        self
    }

    /// A transaction / session control statement (run for real on both sides).
    pub fn session(kind: Kind, sql: &str) -> Stmt {
        let mut s = Stmt::write(kind, sql.to_string());
        s.ctl = Ctl::Session;
        s
    }

    /// Both sides disconnect and reconnect.
    pub fn reconnect(autocommit_off: bool) -> Stmt {
        let init = if autocommit_off {
            " (init: SET autocommit=0)"
        } else {
            ""
        };
        let mut s = Stmt::write(
            Kind::SessReconnect,
            format!("-- disconnect, reconnect{init}"),
        );
        s.ctl = Ctl::Reconnect { autocommit_off };
        s
    }

    /// A comparison of every table's committed contents; `why` says after what.
    pub fn check(why: &str) -> Stmt {
        let mut s = Stmt::read(Kind::CheckContents, format!("-- check contents: {why}"));
        s.ctl = Ctl::Check;
        s
    }

    /// Marks the statement as part of XA transaction `tag.id`.
    pub fn in_xa(mut self, tag: XaTag) -> Stmt {
        self.xa = Some(tag);
        self.in_txn = true;
        self
    }

    pub fn is_txn_control(&self) -> bool {
        matches!(
            self.kind,
            Kind::TxnBegin | Kind::TxnCommit | Kind::TxnRollback
        )
    }

    /// What the proxy may do with this statement: its kind's rule, except that inside a
    /// transaction a read needing several sub-tables of one shard is refused by design, so
    /// reads there other than single-key lookups may be refused.
    pub fn support(&self) -> Support {
        let kind = self.kind.support();
        if self.xa.is_some_and(|x| x.may_refuse) {
            return Support::May;
        }
        let one_slot_read = matches!(
            self.kind,
            Kind::SelectPoint | Kind::PrepPoint | Kind::TxnReadOwn | Kind::SessReadOwn
        );
        if self.in_txn && !self.write && kind == Support::Must && !one_slot_read {
            return Support::May;
        }
        kind
    }

    /// The statement as the summary shows it (with the bound values when prepared).
    pub fn shown(&self) -> String {
        let txn = if self.in_txn { "[in transaction] " } else { "" };
        match &self.params {
            None => format!("{txn}{}", self.sql),
            Some(p) => {
                let vals: Vec<String> = p.iter().map(show_value).collect();
                format!(
                    "{txn}[prepared] {} -- params: [{}]",
                    self.sql,
                    vals.join(", ")
                )
            }
        }
    }

    /// The text for one side.
    pub fn text(&self, db: &str) -> String {
        self.sql.replace("{db}", db)
    }
}

/// A bound value as the report shows it: integers bare, strings quoted.
fn show_value(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Bytes(b) => format!("'{}'", String::from_utf8_lossy(b)),
        other => format!("{other:?}"),
    }
}
