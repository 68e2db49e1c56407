//! Table references of one query block (FROM, JOINs) and how their sharded tables are joined:
//! which expressions are a sharding key, and whether every pair of sharded tables is joined on
//! its keys (so that running the block slot by slot gives the single-server answer).

use sqlparser::ast::{
    BinaryOperator, Expr, JoinConstraint, JoinOperator, TableFactor, TableWithJoins,
};

use crate::config::{ShardedSchema, TableKind};

/// One table of a block.
#[derive(Debug, Clone)]
pub struct BlockTable {
    /// Logical table name.
    pub name: String,
    /// What column references qualify it with (its alias, else its name).
    pub qualifier: String,
    /// The sharding-key column when the table is sharded (lower case).
    pub key: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sharded,
    Broadcast,
    Unsharded,
    /// A derived table, table function or a table of another schema.
    Other,
}

/// The tables of a block and the conditions that join or filter them.
#[derive(Debug, Default)]
pub struct Block<'q> {
    pub tables: Vec<BlockTable>,
    /// Conditions that filter the block's rows: WHERE and INNER JOIN ... ON conjuncts.
    pub filters: Vec<&'q Expr>,
    /// Every ON condition (any join type), for key-join checks.
    pub joins: Vec<&'q Expr>,
    /// A NATURAL join (its columns are not known): joins must use ON or USING.
    pub untyped_join: bool,
    /// `USING (cols)` joins: the tables joined (indexes) and the column names.
    pub using: Vec<(std::ops::Range<usize>, Vec<String>)>,
    /// An outer join that keeps the rows of a broadcast/unsharded table against a sharded
    /// one: run per slot, those rows would come back once per slot.
    pub outer_keeps_unsharded: bool,
}

pub fn kind_of(schema: &ShardedSchema, qualified: Option<&str>, name: &str) -> Kind {
    if qualified.is_some_and(|s| s != schema.name) {
        return Kind::Other;
    }
    match schema.table(name) {
        TableKind::Sharded(_) => Kind::Sharded,
        TableKind::Broadcast => Kind::Broadcast,
        TableKind::Unsharded => Kind::Unsharded,
    }
}

/// Collects the tables of `from` (as in a SELECT, UPDATE or DELETE) into `block`.
pub fn collect<'q>(schema: &ShardedSchema, from: &'q [TableWithJoins], block: &mut Block<'q>) {
    for twj in from {
        add_factor(schema, &twj.relation, block);
        for join in &twj.joins {
            let before = block.tables.len();
            add_factor(schema, &join.relation, block);
            let after = block.tables.len();
            let sharded =
                |r: std::ops::Range<usize>| block.tables[r].iter().any(|t| t.kind == Kind::Sharded);
            let other =
                |r: std::ops::Range<usize>| block.tables[r].iter().any(|t| t.kind != Kind::Sharded);
            let (left, right) = (0..before, before..after);
            let keeps = match &join.join_operator {
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => {
                    other(left.clone()) && sharded(right.clone())
                }
                JoinOperator::Right(_) | JoinOperator::RightOuter(_) => {
                    other(right.clone()) && sharded(left.clone())
                }
                JoinOperator::FullOuter(_) => {
                    (other(left.clone()) && sharded(right.clone()))
                        || (other(right.clone()) && sharded(left.clone()))
                }
                _ => false,
            };
            block.outer_keeps_unsharded |= keeps;
            let (constraint, inner) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::StraightJoin(c) => {
                    (Some(c), true)
                }
                JoinOperator::CrossJoin(c) => (Some(c), true),
                JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => (Some(c), false),
                _ => (None, false),
            };
            match constraint {
                Some(JoinConstraint::On(e)) => {
                    block.joins.push(e);
                    if inner {
                        block.filters.push(e);
                    }
                }
                Some(JoinConstraint::None) => {}
                Some(JoinConstraint::Using(cols)) => {
                    let names = cols
                        .iter()
                        .filter_map(|c| c.0.last().and_then(|p| p.as_ident()))
                        .map(|i| i.value.to_ascii_lowercase())
                        .collect();
                    block.using.push((before..after, names));
                }
                _ => block.untyped_join = true,
            }
        }
    }
}

fn add_factor<'q>(schema: &ShardedSchema, factor: &'q TableFactor, block: &mut Block<'q>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let parts: Vec<&str> = name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.as_str()))
                .collect();
            let (qualified, table) = match parts.as_slice() {
                [t] => (None, *t),
                [s, t] => (Some(*s), *t),
                _ => {
                    block.tables.push(other());
                    return;
                }
            };
            let kind = kind_of(schema, qualified, table);
            let key = match schema.table(table) {
                TableKind::Sharded(rule) if kind == Kind::Sharded => Some(rule.key.clone()),
                _ => None,
            };
            block.tables.push(BlockTable {
                name: table.to_string(),
                qualifier: alias
                    .as_ref()
                    .map_or_else(|| table.to_string(), |a| a.name.value.clone()),
                key,
                kind,
            });
        }
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            // `a LEFT JOIN (b JOIN c ON ...)`: the inner ON conditions may sit on the nullable
            // side of an outer join, so they join tables but never filter the block's rows.
            let mut inner = Block::default();
            collect(
                schema,
                std::slice::from_ref(&**table_with_joins),
                &mut inner,
            );
            let offset = block.tables.len();
            block.tables.extend(inner.tables);
            block.joins.extend(inner.joins);
            block.untyped_join |= inner.untyped_join;
            block.outer_keeps_unsharded |= inner.outer_keeps_unsharded;
            block.using.extend(
                inner
                    .using
                    .into_iter()
                    .map(|(r, c)| (r.start + offset..r.end + offset, c)),
            );
        }
        _ => block.tables.push(other()),
    }
}

fn other() -> BlockTable {
    BlockTable {
        name: String::new(),
        qualifier: String::new(),
        key: None,
        kind: Kind::Other,
    }
}

/// Splits an AND tree into its conjuncts.
pub fn conjuncts<'q>(e: &'q Expr, out: &mut Vec<&'q Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

impl Block<'_> {
    pub fn sharded(&self) -> impl Iterator<Item = (usize, &BlockTable)> {
        self.tables
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == Kind::Sharded)
    }

    /// The sharded table (index into `tables`) whose key `e` is, if it is one.
    pub fn key_of(&self, e: &Expr) -> Option<usize> {
        match e {
            Expr::Identifier(col) => {
                let mut hits = self.sharded().filter(|(_, t)| {
                    t.key
                        .as_deref()
                        .is_some_and(|k| col.value.eq_ignore_ascii_case(k))
                });
                let first = hits.next().map(|(i, _)| i);
                // Unqualified and a key of several tables: ambiguous for MySQL too.
                if hits.next().is_some() { None } else { first }
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let col = &parts[parts.len() - 1];
                let qual = &parts[parts.len() - 2];
                self.sharded()
                    .find(|(_, t)| {
                        t.qualifier == qual.value
                            && t.key
                                .as_deref()
                                .is_some_and(|k| col.value.eq_ignore_ascii_case(k))
                    })
                    .map(|(i, _)| i)
            }
            Expr::Nested(inner) => self.key_of(inner),
            _ => None,
        }
    }

    /// Are all sharded tables of the block joined to each other on their keys?
    pub fn keys_joined(&self) -> bool {
        let n = self.tables.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let mut conds = Vec::new();
        for e in self.joins.iter().chain(self.filters.iter()) {
            conjuncts(e, &mut conds);
        }
        for c in conds {
            if let Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = c
                && let (Some(a), Some(b)) = (self.key_of(left), self.key_of(right))
            {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra] = rb;
            }
        }
        // `JOIN t USING (key)`: t's key equals the same-named key of every table before it.
        for (joined, cols) in &self.using {
            for j in joined.clone() {
                let Some(key) = self.tables[j].key.clone() else {
                    continue;
                };
                if !cols.contains(&key) {
                    continue;
                }
                for i in 0..joined.start {
                    if self.tables[i].key.as_deref() == Some(key.as_str()) {
                        let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                        parent[ri] = rj;
                    }
                }
            }
        }
        let mut roots = self.sharded().map(|(i, _)| i).collect::<Vec<_>>();
        let first = roots.first().copied();
        roots.iter_mut().for_each(|i| *i = find(&mut parent, *i));
        match first {
            None => true,
            Some(f) => {
                let r = find(&mut parent, f);
                roots.iter().all(|x| *x == r)
            }
        }
    }
}
