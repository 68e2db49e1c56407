//! Review tests: counterexamples hunted in the sharding router (wrong targets, wrong rewrites,
//! wrong merges). Every test asserts the correct behaviour — the single-server answer or a
//! refusal naming the limitation; each bug they found has been fixed.

mod joins;
mod keys;
mod merge;
mod rewriting;
mod statements;

// The fixture of `tests.rs`: orders/order_items mod over 8 sub-tables (0-3 on shard 0, 4-7 on
// shard 1), bound; events range over two shards; countries broadcast.
use super::plan::{MergeSpec, ShardedKind};
use super::tests::{route, route_with, schema, single};
use crate::config::Sharding;
use crate::router::classify::Rules;
use crate::router::{Plan, SessionView, Topology, route_query};

/// The statement of a single-target plan.
fn single_sql(sql: &str) -> String {
    single(sql).1
}

fn scatter(sql: &str) -> (MergeSpec, Vec<String>) {
    let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ShardedKind::Scatter(spec) = p.kind else {
        panic!("{sql}: not a scatter: {p:?}")
    };
    (spec, p.targets.into_iter().map(|t| t.sql).collect())
}

/// The statement may not be narrowed: every sub-table (8), or a refusal.
fn all_or_refused(sql: &str) {
    match route(sql) {
        Err(_) => {}
        Ok(p) => assert_eq!(p.targets.len(), 8, "{sql} narrowed to {p:?}"),
    }
}

fn refused(sql: &str) {
    let r = route(sql);
    assert!(r.is_err(), "{sql} must be refused: {r:?}");
}

/// A route through `route_query` with the session in `schema`.
fn route_top(sql: &str, session_schema: &str) -> Plan {
    let rules = Rules::new(&[], &[]).expect("rules");
    let sharding = Sharding {
        allow_full_scatter_writes: false,
        schemas: vec![schema()],
    };
    let topo = Topology {
        default_shard: 0,
        rules: &rules,
        sharding: &sharding,
        schema: Some(session_schema),
        shard_count: 2,
        shapes: None,
    };
    route_query(sql.as_bytes(), &SessionView::default(), &topo)
}
