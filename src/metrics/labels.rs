//! Label values of the statement metrics: statement kind from the first keyword, route and role
//! from the router's plan, shard names interned as `&'static str` so that counting a statement
//! neither allocates nor copies a string.

use std::collections::HashSet;
use std::fmt;
use std::sync::RwLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::router::prescan::{skip_noise, word};
use crate::router::shard::plan::{ShardedKind, ShardedPlan};
use crate::router::{Plan, Role as RouterRole};

/// The statement's leading keyword, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Select,
    /// INSERT and REPLACE.
    Insert,
    Update,
    Delete,
    Set,
    /// BEGIN and START TRANSACTION.
    Begin,
    Commit,
    /// ROLLBACK, including ROLLBACK TO SAVEPOINT.
    Rollback,
    Other,
}

impl Kind {
    /// Classifies by the first keyword after whitespace and comments (no parse): a few dozen
    /// nanoseconds. A parenthesised query counts as a SELECT; WITH, SHOW, CALL, DDL and
    /// executable comments are `Other`.
    pub fn of(sql: &[u8]) -> Kind {
        let text = skip_noise(sql);
        if text.starts_with(b"(") {
            return Kind::Select;
        }
        let Some((first, rest)) = word(text) else {
            return Kind::Other;
        };
        let is = |w: &[u8]| first.eq_ignore_ascii_case(w);
        if is(b"SELECT") {
            Kind::Select
        } else if is(b"INSERT") || is(b"REPLACE") {
            Kind::Insert
        } else if is(b"UPDATE") {
            Kind::Update
        } else if is(b"DELETE") {
            Kind::Delete
        } else if is(b"SET") {
            Kind::Set
        } else if is(b"BEGIN")
            || (is(b"START")
                && word(rest).is_some_and(|(w, _)| w.eq_ignore_ascii_case(b"TRANSACTION")))
        {
            Kind::Begin
        } else if is(b"COMMIT") {
            Kind::Commit
        } else if is(b"ROLLBACK") {
            Kind::Rollback
        } else {
            Kind::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Select => "select",
            Kind::Insert => "insert",
            Kind::Update => "update",
            Kind::Delete => "delete",
            Kind::Set => "set",
            Kind::Begin => "begin",
            Kind::Commit => "commit",
            Kind::Rollback => "rollback",
            Kind::Other => "other",
        }
    }
}

/// How the router sends a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// One server of one shard (also `USE`).
    Single,
    /// A read over several shards, merged.
    Scatter,
    /// A write over several targets, OKs combined.
    MultiWrite,
    /// A write to a broadcast table on every shard.
    Broadcast,
    /// Answered by the proxy itself.
    Admin,
    /// Refused by the router (ERR 1235/1526).
    Refused,
}

impl Route {
    /// Every route, in the order of [`Route::index`].
    pub const ALL: [Route; 6] = [
        Route::Single,
        Route::Scatter,
        Route::MultiWrite,
        Route::Broadcast,
        Route::Admin,
        Route::Refused,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn of_sharded(kind: &ShardedKind) -> Route {
        match kind {
            ShardedKind::Single => Route::Single,
            ShardedKind::Scatter(_) => Route::Scatter,
            ShardedKind::MultiWrite => Route::MultiWrite,
            ShardedKind::BroadcastWrite => Route::Broadcast,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Single => "single",
            Route::Scatter => "scatter",
            Route::MultiWrite => "multi_write",
            Route::Broadcast => "broadcast",
            Route::Admin => "admin",
            Route::Refused => "refused",
        }
    }
}

/// Which server of a shard ran the statement (`None`: no backend, admin and refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Replica,
    None,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::None => "none",
        }
    }
}

impl From<RouterRole> for Role {
    fn from(role: RouterRole) -> Role {
        match role {
            RouterRole::Primary => Role::Primary,
            RouterRole::Replica => Role::Replica,
        }
    }
}

macro_rules! label_value {
    ($($t:ty),*) => {$(
        impl EncodeLabelValue for $t {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
                EncodeLabelValue::encode(&self.as_str(), encoder)
            }
        }
    )*};
}
label_value!(Kind, Route, Role);

/// `shard` of a statement that ran on several shards.
pub const SEVERAL_SHARDS: &str = "*";
/// `shard` of a statement that ran on none (admin, refused).
pub const NO_SHARD: &str = "none";

/// Labels of `shardgate_statements_total`; `Copy`, so counting never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StatementLabels {
    pub kind: Kind,
    pub route: Route,
    pub role: Role,
    pub shard: &'static str,
}

impl StatementLabels {
    /// Labels for a COM_QUERY statement and its plan; `shard_name` maps a shard index of the
    /// plan's snapshot to its name.
    pub fn of<'a>(sql: &[u8], plan: &Plan, shard_name: impl Fn(usize) -> &'a str) -> Self {
        let kind = Kind::of(sql);
        let labels = |route, role, shard| StatementLabels {
            kind,
            route,
            role,
            shard,
        };
        match plan {
            Plan::Single { shard, role, .. } => {
                labels(Route::Single, (*role).into(), intern(shard_name(*shard)))
            }
            Plan::Use { shard, .. } => {
                labels(Route::Single, Role::Primary, intern(shard_name(*shard)))
            }
            Plan::Admin(_) => labels(Route::Admin, Role::None, NO_SHARD),
            Plan::Refused(_) => labels(Route::Refused, Role::None, NO_SHARD),
            Plan::Sharded { plan, .. } => {
                let mut l = labels(Route::Single, Role::Primary, NO_SHARD);
                l.set_sharded(plan, shard_name);
                l
            }
        }
    }

    /// Route, role and shard of a plan on a sharded schema.
    pub fn set_sharded<'a>(&mut self, plan: &ShardedPlan, shard_name: impl Fn(usize) -> &'a str) {
        self.route = Route::of_sharded(&plan.kind);
        self.role = plan.role.into();
        self.shard = match plan.targets.as_slice() {
            [one] => intern(shard_name(one.shard)),
            _ => SEVERAL_SHARDS,
        };
    }
}

/// Distinct shard names kept as label values; past this, new names are counted as `other`.
const MAX_SHARD_NAMES: usize = 4096;

/// The shard name as a `&'static str`: each distinct name is leaked once (names come from the
/// configuration, so there are few), then found with one uncontended read lock.
pub fn intern(name: &str) -> &'static str {
    static NAMES: RwLock<Option<HashSet<&'static str>>> = RwLock::new(None);
    if let Some(found) = NAMES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|names| names.get(name))
    {
        return found;
    }
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(found) = names.get(name) {
        return found;
    }
    if names.len() >= MAX_SHARD_NAMES {
        return "other";
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Labels of `shardgate_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrorLabels {
    pub code: u16,
}

/// Labels of the `shardgate_statement_duration_seconds` histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: Route,
}

/// Labels of `shardgate_config_reloads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

/// Labels of `shardgate_pool_checkout_wait_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

#[cfg(test)]
mod tests;
