//! The router: pure, no I/O. Given a statement, the session's state and the routing rules,
//! decides where it runs and why, and returns that as a [`Plan`]; the executor carries it out.

pub mod classify;
pub mod lexer;
pub mod prescan;
pub mod savepoint;
pub mod shard;
pub mod txn;

use std::fmt;

use classify::{Reason, Rules, Target};
pub use prescan::Admin;
use shard::analyze::constraint::Params;
use shard::error::ShardError;
use shard::plan::ShardedPlan;

use crate::config::{ShardedSchema, Sharding};

/// Which server of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    /// A replica chosen by the shard's balancer at execution time.
    Replica,
}

/// Why a statement goes where it goes (shown by `EXPLAIN SHARDGATE`).
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// What the statement itself requires or allows.
    Statement(Reason),
    /// Inside a transaction, or with autocommit off: everything on the primary.
    Transaction,
    /// The user's `default_role` is `primary`.
    UserDefaultRole,
    /// `primary_window` read-your-writes: the session wrote less than the window ago.
    ReadYourWrites,
    /// The session holds state only its primary connection has (e.g. a temporary table).
    Pinned(&'static str),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Statement(r) => write!(f, "{r}"),
            Why::Transaction => f.write_str("inside a transaction (or autocommit off)"),
            Why::UserDefaultRole => f.write_str("user's default_role is primary"),
            Why::ReadYourWrites => {
                f.write_str("read-your-writes: the session wrote within primary_window_ms")
            }
            Why::Pinned(why) => write!(f, "reads pinned to the primary: {why}"),
        }
    }
}

/// The session state routing depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionView {
    pub in_transaction: bool,
    pub user_primary_only: bool,
    /// `primary_window` mode only: the session's last write is within the window.
    pub within_write_window: bool,
    /// Why the session's reads must stay on the primary, if they must.
    pub reads_pinned: Option<&'static str>,
}

/// What the router needs to know of the configuration.
pub struct Topology<'a> {
    pub default_shard: usize,
    pub rules: &'a Rules,
    /// Sharding rules (no schemas: no sharding).
    pub sharding: &'a Sharding,
    /// The session's current schema.
    pub schema: Option<&'a str>,
    pub shard_count: usize,
    /// Cached shapes of text statements on sharded schemas (`None`: analyse every statement).
    pub shapes: Option<&'a shard::cache::ShapeCache>,
}

/// Where one statement goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Run on one server of one shard, results streamed back unchanged.
    Single {
        shard: usize,
        role: Role,
        why: Why,
        /// The statement may change data (read-your-writes counts it as a write).
        writes: bool,
    },
    /// `USE schema`: check the user may use it, then run it on the primary.
    Use { schema: String, shard: usize },
    /// A statement the proxy answers itself.
    Admin(Admin),
    /// A statement on a sharded schema that touches sharded or broadcast tables.
    Sharded {
        plan: ShardedPlan,
        why: Why,
        /// The statement text the session records session effects from.
        writes: bool,
    },
    /// A statement that cannot be answered correctly on the sharded schema.
    Refused(ShardError),
}

/// Routes a COM_QUERY statement. Without sharding rules everything goes to the default shard.
pub fn route_query(sql: &[u8], view: &SessionView, topo: &Topology<'_>) -> Plan {
    let mut shard = topo.default_shard;
    if let Some(admin) = prescan::admin(sql) {
        return Plan::Admin(admin);
    }
    if let Some(schema) = prescan::use_schema(sql) {
        return Plan::Use { schema, shard };
    }
    let c = classify::classify(sql, topo.rules);
    let writes = may_write(&c.reason);
    let (role, why) = role_for(c.target, c.reason, view);
    if !topo.sharding.is_empty() {
        match sharded_schema(sql, topo) {
            Err(e) => return Plan::Refused(e),
            Ok(None) => {}
            Ok(Some(schema)) => {
                if mentions_tables(sql, schema) {
                    return route_sharded(sql, schema, topo, role, why, writes);
                }
                shard = schema.default_shard;
            }
        }
    }
    Plan::Single {
        shard,
        role,
        why,
        writes,
    }
}

/// Primary or replica, and why, for a statement of this classification in this session.
pub fn role_for(target: Target, reason: Reason, view: &SessionView) -> (Role, Why) {
    let primary = |why| (Role::Primary, why);
    if target == Target::Primary {
        return primary(Why::Statement(reason));
    }
    if view.user_primary_only {
        return primary(Why::UserDefaultRole);
    }
    if view.in_transaction {
        return primary(Why::Transaction);
    }
    if view.within_write_window {
        return primary(Why::ReadYourWrites);
    }
    if let Some(why) = view.reads_pinned {
        return primary(Why::Pinned(why));
    }
    (Role::Replica, Why::Statement(reason))
}

/// The sharded schema a statement runs in: the session's schema when it is sharded. A
/// statement naming a sharded schema from another schema is refused (its unqualified tables
/// would be ambiguous).
pub fn sharded_schema<'a>(
    sql: &[u8],
    topo: &Topology<'a>,
) -> Result<Option<&'a ShardedSchema>, ShardError> {
    if let Some(s) = topo.schema.and_then(|s| topo.sharding.schema(s)) {
        return Ok(Some(s));
    }
    for schema in &topo.sharding.schemas {
        let named = qualifies(sql, schema.name.as_bytes());
        if named {
            return Err(ShardError::unsupported(
                &[],
                format!(
                    "a statement naming sharded schema {0} from another default schema; run `USE {0}` first",
                    schema.name
                ),
            ));
        }
    }
    Ok(None)
}

/// Is `name` (a word, plain or in backticks) followed by a `.` — with only whitespace or
/// comments between, as MySQL allows — anywhere in `sql`?
fn qualifies(sql: &[u8], name: &[u8]) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    // Computed only once a candidate is found (most statements never name the schema).
    let mut in_string: Option<Vec<bool>> = None;
    let mut from = 0;
    while let Some(pos) = sql
        .get(from..)
        .and_then(|rest| rest.windows(name.len()).position(|w| w == name))
    {
        let start = from + pos;
        let mut end = start + name.len();
        from = start + 1;
        let strings = in_string.get_or_insert_with(|| single_quoted(sql));
        if strings.get(start).copied().unwrap_or(false) {
            continue; // inside a string literal ('x@shop.com')
        }
        if start > 0 && word(sql[start - 1]) {
            continue;
        }
        if sql.get(end).is_some_and(|b| word(*b)) {
            continue;
        }
        if sql.get(end) == Some(&b'`') {
            end += 1;
        }
        loop {
            while sql.get(end).is_some_and(|b| b.is_ascii_whitespace()) {
                end += 1;
            }
            if sql.get(end..end + 2) == Some(b"/*") {
                match sql[end + 2..].windows(2).position(|w| w == b"*/") {
                    Some(p) => end += 2 + p + 2,
                    None => return true, // unterminated: be safe
                }
                continue;
            }
            break;
        }
        if sql.get(end) == Some(&b'.') {
            return true;
        }
    }
    false
}

/// For each byte: inside a single-quoted string literal (backslash escapes and doubled quotes
/// handled)? Double quotes are left alone: with ANSI_QUOTES they quote identifiers.
fn single_quoted(sql: &[u8]) -> Vec<bool> {
    let mut out = vec![false; sql.len()];
    let mut i = 0;
    let mut inside = false;
    while i < sql.len() {
        let b = sql[i];
        if inside {
            out[i] = true;
            if b == b'\\' {
                if let Some(o) = out.get_mut(i + 1) {
                    *o = true;
                }
                i += 2;
                continue;
            }
            if b == b'\'' {
                if sql.get(i + 1) == Some(&b'\'') {
                    if let Some(o) = out.get_mut(i + 1) {
                        *o = true;
                    }
                    i += 2;
                    continue;
                }
                inside = false;
            }
        } else if b == b'\'' {
            inside = true;
            out[i] = true;
        }
        i += 1;
    }
    out
}

/// Does the statement name any sharded or broadcast table of the schema (as a word)?
pub fn mentions_tables(sql: &[u8], schema: &ShardedSchema) -> bool {
    sql.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80))
        .filter(|w| !w.is_empty())
        .any(|w| {
            std::str::from_utf8(w)
                .is_ok_and(|w| !matches!(schema.table(w), crate::config::TableKind::Unsharded))
        })
}

fn route_sharded(
    sql: &[u8],
    schema: &ShardedSchema,
    topo: &Topology<'_>,
    role: Role,
    why: Why,
    writes: bool,
) -> Plan {
    let Ok(text) = std::str::from_utf8(sql) else {
        return Plan::Refused(ShardError::Unparsable {
            table: String::new(),
            reason: "the statement is not valid UTF-8".into(),
        });
    };
    if let Some(plan) = topo.shapes.and_then(|cache| {
        cache.plan(
            text,
            schema,
            topo.shard_count,
            topo.sharding.allow_full_scatter_writes,
            role,
        )
    }) {
        return sharded(sql, plan, topo, why, writes);
    }
    let planned = shard::analyze::analyze(text, schema).and_then(|shape| {
        shard::route::plan(
            &shape,
            schema,
            topo.shard_count,
            topo.sharding.allow_full_scatter_writes,
            &Params::default(),
            role,
        )
    });
    match planned {
        Ok(plan) => sharded(sql, plan, topo, why, writes),
        Err(e) => Plan::Refused(e),
    }
}

/// A sharded plan, unless it would run the statement's user variables on the wrong connection.
fn sharded(sql: &[u8], plan: ShardedPlan, topo: &Topology<'_>, why: Why, writes: bool) -> Plan {
    match shard::uservars::check(sql, &plan, topo.default_shard) {
        Ok(()) => Plan::Sharded { plan, why, writes },
        Err(e) => Plan::Refused(e),
    }
}

/// Statements that may change data or session state on the primary.
fn may_write(reason: &Reason) -> bool {
    !matches!(
        reason,
        Reason::Read
            | Reason::HintPrimary
            | Reason::HintReplica
            | Reason::CriticalTable(_)
            | Reason::CriticalPattern(_)
    )
}

#[cfg(test)]
mod tests;
