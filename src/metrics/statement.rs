//! Counting and timing one statement: a guard created once the statement is routed, adjusted
//! where the executor decides otherwise (a replica read that falls back to the primary), and
//! recorded when dropped, whichever way the statement ends.

use std::time::Instant;

use super::labels::{Kind, NO_SHARD, Role, Route, StatementLabels, intern};
use super::{Metrics, get};
use crate::router::Plan;
use crate::router::shard::plan::ShardedPlan;
use crate::runtime::{Proxy, Snapshot};

/// Records `shardgate_statements_total` and `shardgate_statement_duration_seconds` on drop.
/// Inert (and free) when metrics are off.
#[must_use = "the statement is recorded when this guard is dropped"]
pub struct Statement(Option<Recording>);

struct Recording {
    metrics: &'static Metrics,
    started: Instant,
    labels: StatementLabels,
}

impl Statement {
    /// A COM_QUERY statement received at `started`, routed by `plan` on `snapshot`.
    pub fn query(started: Instant, sql: &[u8], plan: &Plan, snapshot: &Snapshot) -> Statement {
        Statement(get().map(|metrics| Recording {
            metrics,
            started,
            labels: StatementLabels::of(sql, plan, shard_names(snapshot)),
        }))
    }

    /// A prepared statement's execute on an unsharded table, received at `started`: on the
    /// default shard's primary unless [`Statement::on_replica`] says otherwise.
    pub fn execute(started: Instant, sql: &[u8], proxy: &Proxy) -> Statement {
        Statement(get().map(|metrics| {
            let snapshot = proxy.snapshot();
            let shard = snapshot.registry.default_shard;
            Recording {
                metrics,
                started,
                labels: StatementLabels {
                    kind: Kind::of(sql),
                    route: Route::Single,
                    role: Role::Primary,
                    shard: intern(shard_names(&snapshot)(shard)),
                },
            }
        }))
    }

    /// A prepared statement's execute on a sharded table, before its plan is known: counted as
    /// refused unless [`Statement::sharded`] gives it a plan.
    pub fn execute_sharded(started: Instant, sql: &[u8]) -> Statement {
        Statement(get().map(|metrics| Recording {
            metrics,
            started,
            labels: StatementLabels {
                kind: Kind::of(sql),
                route: Route::Refused,
                role: Role::None,
                shard: NO_SHARD,
            },
        }))
    }

    /// The statement's plan on a sharded schema.
    pub fn sharded(&mut self, plan: &ShardedPlan, snapshot: &Snapshot) {
        if let Some(r) = &mut self.0 {
            r.labels.set_sharded(plan, shard_names(snapshot));
        }
    }

    /// The statement ran on the primary after all (no usable replica).
    pub fn on_primary(&mut self) {
        if let Some(r) = &mut self.0 {
            r.labels.role = Role::Primary;
        }
    }

    /// The statement ran on a replica.
    pub fn on_replica(&mut self) {
        if let Some(r) = &mut self.0 {
            r.labels.role = Role::Replica;
        }
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        if let Some(r) = &self.0 {
            r.metrics.record_statement(&r.labels, r.started.elapsed());
        }
    }
}

/// Shard index → name in `snapshot` (an index out of range, which the router never produces,
/// reads as `none`).
fn shard_names<'a>(snapshot: &'a Snapshot) -> impl Fn(usize) -> &'a str {
    |i| {
        snapshot
            .registry
            .shards
            .get(i)
            .map_or(NO_SHARD, |s| s.name.as_str())
    }
}
