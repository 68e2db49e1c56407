//! The writes' part of the walk: INSERT (its rows' keys), UPDATE (its key constraint and
//! any assignment to the sharding key) and DELETE (single-table only when sharded).

use sqlparser::ast::{FromTable, ObjectName, TableObject};

use super::tables::{self, Block};
use super::{Walk, constraint, insert};

impl Walk<'_> {
    pub(super) fn insert(&mut self, ins: &sqlparser::ast::Insert) {
        let TableObject::TableName(name) = &ins.table else {
            self.refuse("INSERT INTO a table function");
            return;
        };
        match insert::shape(self, name, ins) {
            Ok(Some(s)) => self.shape.insert = Some(s),
            Ok(None) => {}
            Err(why) => self.refuse(why),
        }
    }

    pub(super) fn update(&mut self, up: &sqlparser::ast::Update) {
        if !up.table.joins.is_empty() || up.from.is_some() {
            let mut block = Block::default();
            tables::collect(self.schema, std::slice::from_ref(&up.table), &mut block);
            if block.sharded().next().is_some() {
                self.refuse("a multi-table UPDATE of a sharded table");
                return;
            }
        }
        let mut block = Block::default();
        tables::collect(self.schema, std::slice::from_ref(&up.table), &mut block);
        if let Some(w) = &up.selection {
            block.filters.push(w);
        }
        if let Some((_, t)) = block.sharded().next() {
            let key = t.key.clone().unwrap_or_default();
            for a in &up.assignments {
                let cols: Vec<&ObjectName> = match &a.target {
                    sqlparser::ast::AssignmentTarget::ColumnName(n) => vec![n],
                    sqlparser::ast::AssignmentTarget::Tuple(ns) => ns.iter().collect(),
                };
                for col in cols {
                    let parts: Vec<_> =
                        col.0.iter().filter_map(|p| p.as_ident()).cloned().collect();
                    self.qualifier(&parts);
                    if parts
                        .last()
                        .is_some_and(|c| c.value.eq_ignore_ascii_case(&key))
                    {
                        let lit = constraint::literal(&a.value, &|e| self.param(e));
                        self.shape.key_assignment = Some(lit);
                    }
                }
            }
        }
        self.shape.ordered_write = !up.order_by.is_empty() || up.limit.is_some();
        self.shape.top = self.block_constraint(&block);
        self.shape.top_sharded = block.sharded().next().is_some();
    }

    pub(super) fn delete(&mut self, del: &sqlparser::ast::Delete) {
        let from = match &del.from {
            FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f) => f,
        };
        let mut block = Block::default();
        tables::collect(self.schema, from, &mut block);
        if (!del.tables.is_empty()
            || from.len() > 1
            || from.iter().any(|t| !t.joins.is_empty())
            || del.using.is_some())
            && block.sharded().next().is_some()
        {
            self.refuse("a multi-table DELETE of a sharded table");
            return;
        }
        if let Some(w) = &del.selection {
            block.filters.push(w);
        }
        self.shape.ordered_write = !del.order_by.is_empty() || del.limit.is_some();
        self.shape.top = self.block_constraint(&block);
        self.shape.top_sharded = block.sharded().next().is_some();
    }
}
