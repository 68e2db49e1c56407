//! Turns a statement's [`Shape`] into a [`ShardedPlan`] for one execution: the slots its key
//! conditions allow, one rewritten statement per slot, and how the results come together.

use std::collections::BTreeSet;

use super::analyze::constraint::{self, Params};
use super::analyze::{Shape, StmtKind};
use super::error::ShardError;
use super::plan::{ShardTarget, ShardedKind, ShardedPlan};
use super::text::{self, Edit};
use crate::config::{ShardedSchema, TableKind, TableRule};
use crate::router::Role;

/// Plans one execution of `shape` (with `params` for a prepared statement).
pub fn plan(
    shape: &Shape,
    schema: &ShardedSchema,
    shard_count: usize,
    allow_full_scatter_writes: bool,
    params: &Params,
    role: Role,
) -> Result<ShardedPlan, ShardError> {
    let writes = !matches!(shape.kind, StmtKind::Select | StmtKind::Metadata);
    let Some(first) = shape.sharded.first() else {
        if shape.broadcast && writes {
            if shape.unsharded || shape.other {
                return Err(ShardError::unsupported(
                    &[],
                    "a write to a broadcast table together with other tables",
                ));
            }
            let targets = (0..shard_count)
                .map(|shard| ShardTarget {
                    shard,
                    sql: shape.sql.clone(),
                    tables: Vec::new(),
                })
                .collect();
            return Ok(ShardedPlan {
                targets,
                role: Role::Primary,
                kind: ShardedKind::BroadcastWrite,
            });
        }
        return Ok(single(
            schema.default_shard,
            shape.sql.clone(),
            Vec::new(),
            role,
        ));
    };
    let TableKind::Sharded(rule) = schema.table(first) else {
        return Err(ShardError::unsupported(
            &shape.sharded,
            "a table that is no longer sharded",
        ));
    };
    let tables = &shape.sharded;
    // Blocks other than the main one must each pin one slot, the same one.
    let mut pinned: Option<usize> = None;
    for c in &shape.nested {
        let slots = if shape.unsure_precedence {
            None
        } else {
            c.slots(rule, params)?
        };
        match slots {
            Some(s) if s.len() == 1 => {
                let slot = s.into_iter().next().unwrap_or_default();
                if pinned.is_some_and(|p| p != slot) {
                    return Err(ShardError::unsupported(
                        tables,
                        "subqueries on different shards",
                    ));
                }
                pinned = Some(slot);
            }
            _ => {
                return Err(ShardError::unsupported(
                    tables,
                    "a subquery on a sharded table that its own sharding-key condition does not pin to one shard",
                ));
            }
        }
    }
    if shape.kind == StmtKind::Metadata {
        // Every slot's table has the same definition: the first one answers.
        let (sql, physical) = rewrite(shape, schema, 0, &[]);
        return Ok(single(rule.slots[0].shard, sql, physical, role));
    }
    if let Some(ins) = &shape.insert {
        return insert(shape, ins, rule, schema, params);
    }
    let top_slots = if shape.unsure_precedence {
        None
    } else {
        shape.top.slots(rule, params)?
    };
    let mut slots = top_slots.clone();
    if let Some(p) = pinned {
        match &slots {
            Some(s) if s.len() == 1 && s.contains(&p) => {}
            None if !shape.top_sharded => slots = Some(BTreeSet::from([p])),
            _ => {
                return Err(ShardError::unsupported(
                    tables,
                    "a subquery that needs rows from other shards than the statement's own",
                ));
            }
        }
    }
    if let Some(assigned) = &shape.key_assignment {
        let stays = match (assigned, &slots) {
            (Some(lit), Some(s)) if s.len() == 1 => {
                constraint::slot_of(rule, lit, params)?.is_some_and(|n| s.contains(&n))
            }
            _ => false,
        };
        if !stays {
            return Err(ShardError::unsupported(
                tables,
                format!(
                    "an UPDATE of sharding key {}.{} that may move rows to another shard \
                     (DELETE and INSERT them instead)",
                    rule.name, rule.key
                ),
            ));
        }
    }
    let slots: Vec<usize> = match slots {
        Some(s) if s.is_empty() => vec![0], // contradictory key conditions: no row anywhere
        Some(s) => s.into_iter().collect(),
        None => (0..rule.slots.len()).collect(),
    };
    if slots.len() == 1 {
        let (sql, physical) = rewrite(shape, schema, slots[0], &[]);
        return Ok(single(
            rule.slots[slots[0]].shard,
            sql,
            physical,
            if writes { Role::Primary } else { role },
        ));
    }
    if let Some(why) = &shape.multi_refusal {
        return Err(ShardError::unsupported(tables, why.clone()));
    }
    match shape.kind {
        StmtKind::Select => {
            let Some((spec, edits)) = &shape.merge else {
                return Err(ShardError::unsupported(tables, "this SELECT across shards"));
            };
            Ok(ShardedPlan {
                targets: targets(shape, schema, rule, &slots, edits),
                role,
                kind: ShardedKind::Scatter(spec.clone()),
            })
        }
        StmtKind::Update | StmtKind::Delete => {
            if top_slots.is_none() && !allow_full_scatter_writes {
                return Err(ShardError::FullScatterWrite {
                    statement: shape.kind.name(),
                    table: rule.name.clone(),
                    key: rule.key.clone(),
                });
            }
            if shape.ordered_write {
                return Err(ShardError::unsupported(
                    tables,
                    format!("{} ... ORDER BY/LIMIT across shards", shape.kind.name()),
                ));
            }
            Ok(ShardedPlan {
                targets: targets(shape, schema, rule, &slots, &[]),
                role: Role::Primary,
                kind: ShardedKind::MultiWrite,
            })
        }
        StmtKind::Insert | StmtKind::Metadata => {
            Err(ShardError::unsupported(tables, "this statement"))
        }
    }
}

/// Where a prepared statement is prepared for its metadata: the first slot's shard and text
/// (the schema's default shard and the text as is without sharded tables).
pub fn prepare_target(shape: &Shape, schema: &ShardedSchema) -> (usize, String) {
    match shape.sharded.first().map(|t| schema.table(t)) {
        Some(TableKind::Sharded(rule)) => {
            let (sql, _) = rewrite(shape, schema, 0, &[]);
            (rule.slots[0].shard, sql)
        }
        _ => (schema.default_shard, shape.sql.clone()),
    }
}

fn single(shard: usize, sql: String, tables: Vec<String>, role: Role) -> ShardedPlan {
    ShardedPlan {
        targets: vec![ShardTarget { shard, sql, tables }],
        role,
        kind: ShardedKind::Single,
    }
}

fn targets(
    shape: &Shape,
    schema: &ShardedSchema,
    rule: &TableRule,
    slots: &[usize],
    edits: &[Edit],
) -> Vec<ShardTarget> {
    slots
        .iter()
        .map(|&slot| {
            let (sql, tables) = rewrite(shape, schema, slot, edits);
            ShardTarget {
                shard: rule.slots[slot].shard,
                sql,
                tables,
            }
        })
        .collect()
}

/// The statement for one slot: sharded table names replaced by the slot's physical tables.
fn rewrite(
    shape: &Shape,
    schema: &ShardedSchema,
    slot: usize,
    extra: &[Edit],
) -> (String, Vec<String>) {
    let mut edits: Vec<Edit> = extra.to_vec();
    let mut physical = Vec::new();
    for r in &shape.renames {
        let TableKind::Sharded(rule) = schema.table(&r.table) else {
            continue;
        };
        let Some(p) = rule.slots.get(slot) else {
            continue;
        };
        if !physical.contains(&p.physical) {
            physical.push(p.physical.clone());
        }
        if p.physical != r.table {
            edits.push(Edit {
                start: r.start,
                end: r.end,
                with: text::quote_ident(&p.physical, r.quoted),
            });
        }
    }
    physical.extend(shape.broadcast_tables.iter().cloned());
    (text::apply(&shape.sql, &edits), physical)
}

/// An INSERT: its rows grouped by slot, one statement per slot.
fn insert(
    shape: &Shape,
    ins: &super::analyze::InsertShape,
    rule: &TableRule,
    schema: &ShardedSchema,
    params: &Params,
) -> Result<ShardedPlan, ShardError> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (row, key) in ins.keys.iter().enumerate() {
        let Some(slot) = constraint::slot_of(rule, key, params)? else {
            return Err(ShardError::unsupported(
                &shape.sharded,
                format!("a NULL sharding key {}.{}", rule.name, rule.key),
            ));
        };
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((slot, vec![row])),
        }
    }
    if groups.len() == 1 {
        let slot = groups[0].0;
        let (sql, tables) = rewrite(shape, schema, slot, &[]);
        return Ok(single(rule.slots[slot].shard, sql, tables, Role::Primary));
    }
    if shape.insert.as_ref().is_some_and(|i| {
        i.keys
            .iter()
            .any(|k| matches!(k, constraint::KeyLit::Param(_)))
    }) {
        return Err(ShardError::unsupported(
            &shape.sharded,
            "a prepared multi-row INSERT whose rows go to different sub-tables (send it as a text query, or one row per execute)",
        ));
    }
    let Some((vs, ve)) = ins.values else {
        return Err(ShardError::unsupported(&shape.sharded, "this INSERT"));
    };
    let targets = groups
        .iter()
        .map(|(slot, rows)| {
            let text: Vec<&str> = rows
                .iter()
                .map(|&r| {
                    let (s, e) = ins.rows[r];
                    &shape.sql[s..e]
                })
                .collect();
            let edit = Edit {
                start: vs,
                end: ve,
                with: text.join(", "),
            };
            let (sql, tables) = rewrite(shape, schema, *slot, &[edit]);
            ShardTarget {
                shard: rule.slots[*slot].shard,
                sql,
                tables,
            }
        })
        .collect();
    Ok(ShardedPlan {
        targets,
        role: Role::Primary,
        kind: ShardedKind::MultiWrite,
    })
}
