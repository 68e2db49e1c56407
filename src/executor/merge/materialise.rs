//! The materialising merge for GROUP BY, aggregates and DISTINCT: rows are grouped (group
//! equality follows the columns' collations), aggregates recombined, then HAVING, DISTINCT,
//! ORDER BY (stable), OFFSET/LIMIT, and the hidden helper columns cut off.
//!
//! Memory holds one row per group (per distinct row for a plain DISTINCT), never every row.

use std::collections::{BTreeMap, BTreeSet};

use super::aggregate::{Accumulators, AggPlan};
use super::having::Having;
use super::key::{ColumnOrder, Key};
use super::ordered::RowOrder;
use super::row::Row;
use super::{Admit, ColumnDef, MergeError, Window};
use crate::router::shard::plan::{AggKind, MergeSpec};

/// One group: its first row and the combined aggregates.
struct Group {
    key: Vec<Key>,
    row: Row,
    acc: Accumulators,
}

/// Collects shard rows, then produces the merged result.
pub struct Materialiser {
    columns: Vec<ColumnDef>,
    visible: usize,
    /// GROUP BY or aggregates present: rows are combined into groups.
    grouping: bool,
    group_by: Vec<(usize, ColumnOrder)>,
    aggs: Vec<AggPlan>,
    having: Option<Having>,
    /// Comparison rules of the visible columns, for DISTINCT.
    distinct: Option<Vec<ColumnOrder>>,
    order: RowOrder,
    window: Window,
    groups: Vec<Group>,
    index: BTreeMap<Vec<Key>, usize>,
    /// Rows kept without grouping (plain DISTINCT).
    rows: Vec<Row>,
    seen: BTreeSet<Vec<Key>>,
}

fn column(columns: &[ColumnDef], index: usize) -> Result<&ColumnDef, MergeError> {
    columns.get(index).ok_or(MergeError::NoSuchColumn {
        index,
        columns: columns.len(),
    })
}

impl Materialiser {
    /// Prepares the merge; fails when a column that must be compared cannot be.
    pub fn new(spec: &MergeSpec, columns: &[ColumnDef]) -> Result<Self, MergeError> {
        if spec.visible > columns.len() {
            return Err(MergeError::NoSuchColumn {
                index: spec.visible,
                columns: columns.len(),
            });
        }
        let mut group_by = Vec::with_capacity(spec.group_by.len());
        for &i in &spec.group_by {
            group_by.push((i, ColumnOrder::for_column(column(columns, i)?)?));
        }
        let aggs = spec
            .aggregates
            .iter()
            .map(|a| AggPlan::new(*a, columns))
            .collect::<Result<Vec<_>, _>>()?;
        let having = spec
            .having
            .as_ref()
            .map(|e| Having::new(e, columns))
            .transpose()?;
        let distinct = if spec.distinct {
            Some(
                columns[..spec.visible]
                    .iter()
                    .map(ColumnOrder::for_column)
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        Ok(Materialiser {
            columns: columns.to_vec(),
            visible: spec.visible,
            grouping: !spec.group_by.is_empty() || !spec.aggregates.is_empty(),
            group_by,
            aggs,
            having,
            distinct,
            order: RowOrder::new(&spec.order_by, columns)?,
            window: Window::new(spec.offset, spec.limit),
            groups: Vec::new(),
            index: BTreeMap::new(),
            rows: Vec::new(),
            seen: BTreeSet::new(),
        })
    }

    /// Takes one shard row (shards are fed one after the other, in shard order).
    pub fn push(&mut self, row: Row) -> Result<(), MergeError> {
        if row.cells.len() != self.columns.len() {
            return Err(MergeError::Malformed("row with a different column count"));
        }
        if !self.grouping {
            // Plain DISTINCT: HAVING is per row here, duplicates dropped as they come.
            if self.rejected(&row)? || self.duplicate(&row)? {
                return Ok(());
            }
            self.rows.push(row);
            return Ok(());
        }
        let mut key = Vec::with_capacity(self.group_by.len());
        for (i, order) in &self.group_by {
            key.push(order.key(row.cell(*i))?);
        }
        let g = match self.index.get(&key) {
            Some(&g) => g,
            None => {
                self.index.insert(key.clone(), self.groups.len());
                self.groups.push(Group {
                    key,
                    acc: Accumulators::new(&self.aggs, &self.columns),
                    row: row.clone(),
                });
                self.groups.len() - 1
            }
        };
        self.groups[g].acc.add(&self.aggs, &self.columns, &row)
    }

    fn rejected(&self, row: &Row) -> Result<bool, MergeError> {
        match &self.having {
            Some(h) => Ok(!h.accepts(row)?),
            None => Ok(false),
        }
    }

    /// True when an equal row (visible columns, by collation) was already kept.
    fn duplicate(&mut self, row: &Row) -> Result<bool, MergeError> {
        let Some(orders) = &self.distinct else {
            return Ok(false);
        };
        let mut key = Vec::with_capacity(orders.len());
        for (i, order) in orders.iter().enumerate() {
            key.push(order.key(row.cell(i))?);
        }
        Ok(!self.seen.insert(key))
    }

    /// The merged rows, cut to the visible columns, in the order to send them.
    pub fn finish(mut self) -> Result<Vec<Row>, MergeError> {
        let mut rows = if self.grouping {
            self.finish_groups()?
        } else {
            std::mem::take(&mut self.rows)
        };
        if !self.order.is_empty() {
            let mut keyed = Vec::with_capacity(rows.len());
            for r in rows {
                keyed.push((self.order.key(&r)?, r));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            rows = keyed.into_iter().map(|(_, r)| r).collect();
        }
        let mut out = Vec::with_capacity(rows.len());
        for mut r in rows {
            match self.window.admit() {
                Admit::Skip => continue,
                Admit::Done => break,
                Admit::Emit => {
                    r.truncate(self.visible);
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    fn finish_groups(&mut self) -> Result<Vec<Row>, MergeError> {
        let mut groups = std::mem::take(&mut self.groups);
        if groups.is_empty() && self.group_by.is_empty() {
            // Aggregates over no rows at all: one row, COUNT 0 and every other value NULL.
            let mut row = Row::new(vec![None; self.columns.len()]);
            for a in &self.aggs {
                if a.kind() == AggKind::Count {
                    row.cells[a.column()] = Some(b"0".to_vec());
                }
            }
            return Ok(vec![row]);
        }
        if self.order.is_empty() {
            // MariaDB returns GROUP BY results sorted by the group columns.
            groups.sort_by(|a, b| a.key.cmp(&b.key));
        }
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut row = g.row;
            g.acc.finish(&self.aggs, &self.columns, &mut row)?;
            if self.rejected(&row)? || self.duplicate(&row)? {
                continue;
            }
            out.push(row);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
