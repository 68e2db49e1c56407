//! `EXPLAIN SHARDGATE` rows for a plan on a sharded schema: one row per target (shard, role,
//! physical tables, the rewritten statement) and the merge steps of a scatter read.

use crate::router::Role;
use crate::router::Why;
use crate::router::shard::plan::{AggKind, MergeSpec, ShardedKind, ShardedPlan};
use crate::runtime::Snapshot;

pub fn sharded_rows(
    plan: &ShardedPlan,
    why: &Why,
    snapshot: &Snapshot,
) -> Vec<Vec<Option<String>>> {
    let merge = match &plan.kind {
        ShardedKind::Single => "none: one target, relayed as is".to_string(),
        ShardedKind::BroadcastWrite => {
            "write on every shard (broadcast table), one transaction per shard".to_string()
        }
        ShardedKind::MultiWrite => {
            "write on every target, one transaction per shard; affected rows summed".to_string()
        }
        ShardedKind::Scatter(spec) => describe(spec),
    };
    let role = match plan.role {
        Role::Primary => "primary",
        Role::Replica => "replica",
    };
    plan.targets
        .iter()
        .map(|t| {
            let shard = &snapshot.registry.shards[t.shard];
            let replicas: Vec<&str> = shard
                .replicas
                .iter()
                .filter(|r| r.weight > 0 && r.health.is_usable())
                .map(|r| r.pool.name())
                .collect();
            let (role, backends) = if role == "replica" && !replicas.is_empty() {
                ("replica", replicas.join(", "))
            } else {
                ("primary", shard.primary.name().to_string())
            };
            vec![
                Some(shard.name.clone()),
                Some(role.to_string()),
                Some(why.to_string()),
                Some(backends),
                Some(t.tables.join(", ")),
                Some(t.sql.clone()),
                Some(merge.clone()),
            ]
        })
        .collect()
}

/// The merge steps of a scatter read, in words.
fn describe(spec: &MergeSpec) -> String {
    let mut steps = Vec::new();
    if !spec.group_by.is_empty() {
        steps.push(format!("group by columns {:?}", spec.group_by));
    }
    if !spec.aggregates.is_empty() {
        let aggs: Vec<String> = spec
            .aggregates
            .iter()
            .map(|a| {
                let kind = match a.kind {
                    AggKind::Count => "COUNT (summed)".to_string(),
                    AggKind::Sum => "SUM (summed)".to_string(),
                    AggKind::Min => "MIN".to_string(),
                    AggKind::Max => "MAX".to_string(),
                    AggKind::Avg { sum, count } => format!("AVG = column {sum} / column {count}"),
                };
                format!("column {}: {kind}", a.column)
            })
            .collect();
        steps.push(format!("aggregates {}", aggs.join(", ")));
    }
    if spec.having.is_some() {
        steps.push("HAVING after the merge".into());
    }
    if spec.distinct {
        steps.push("DISTINCT".into());
    }
    if !spec.order_by.is_empty() {
        let keys: Vec<String> = spec
            .order_by
            .iter()
            .map(|k| format!("{}{}", k.column, if k.descending { " DESC" } else { "" }))
            .collect();
        let how = if spec.materialises() {
            "sort"
        } else {
            "k-way merge of ordered streams"
        };
        steps.push(format!("{how} by columns {}", keys.join(", ")));
    } else if !spec.materialises() {
        steps.push("union of rows".into());
    }
    if let Some(limit) = spec.limit {
        steps.push(format!("offset {} limit {limit}", spec.offset));
    }
    if spec.wildcard_hidden.is_some_and(|n| n > 0)
        || (spec.wildcard_hidden.is_none() && spec.visible > 0)
    {
        steps.push("helper columns dropped".into());
    }
    steps.join("; ")
}
