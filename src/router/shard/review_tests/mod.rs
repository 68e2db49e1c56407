//! Review tests: counterexamples hunted in the sharding router (wrong targets, wrong rewrites,
//! wrong merges). Every test asserts the correct behaviour — the single-server answer or a
//! refusal naming the limitation; each bug they found has been fixed.

mod joins;
mod keys;
mod merge;
mod rewriting;
mod statements;

use super::analyze::analyze;
use super::analyze::constraint::Params;
use super::error::ShardError;
use super::plan::{MergeSpec, ShardedKind, ShardedPlan};
use super::route::plan;
use crate::config::{Algorithm, KeyRange, KeyType, ShardedSchema, Sharding, Slot, TableRule};
use crate::router::classify::Rules;
use crate::router::{Plan, Role, SessionView, Topology, route_query};

/// Same fixture as `tests.rs`: orders/order_items mod over 8 sub-tables (0-3 on shard 0,
/// 4-7 on shard 1), bound; events: range (< 5000 on shard 0), no sub-tables; countries
/// broadcast.
fn schema() -> ShardedSchema {
    let sub = |name: &str| -> Vec<Slot> {
        (0..8)
            .map(|i| Slot {
                shard: usize::from(i >= 4),
                physical: format!("{name}_{i:04}"),
            })
            .collect()
    };
    let rule = |name: &str, key: &str| TableRule {
        name: name.into(),
        key: key.into(),
        key_type: KeyType::Integer,
        algorithm: Algorithm::Mod,
        slots: sub(name),
        binding_group: Some(0),
    };
    ShardedSchema {
        name: "shop".into(),
        default_shard: 0,
        tables: vec![
            rule("orders", "user_id"),
            rule("order_items", "user_id"),
            TableRule {
                name: "events".into(),
                key: "id".into(),
                key_type: KeyType::Integer,
                algorithm: Algorithm::Range(vec![
                    KeyRange {
                        from: None,
                        to: Some(5000),
                        slot: 0,
                    },
                    KeyRange {
                        from: Some(5000),
                        to: None,
                        slot: 1,
                    },
                ]),
                slots: vec![
                    Slot {
                        shard: 0,
                        physical: "events".into(),
                    },
                    Slot {
                        shard: 1,
                        physical: "events".into(),
                    },
                ],
                binding_group: None,
            },
        ],
        broadcast: vec!["countries".into()],
    }
}

fn route_with(sql: &str, params: Params, full_writes: bool) -> Result<ShardedPlan, ShardError> {
    let s = schema();
    let shape = analyze(sql, &s)?;
    plan(&shape, &s, 2, full_writes, &params, Role::Replica)
}

fn route(sql: &str) -> Result<ShardedPlan, ShardError> {
    route_with(sql, Params::default(), false)
}

fn single(sql: &str) -> (usize, String) {
    let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(p.kind, ShardedKind::Single, "{sql}");
    (p.targets[0].shard, p.targets[0].sql.clone())
}

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
    };
    route_query(sql.as_bytes(), &SessionView::default(), &topo)
}
