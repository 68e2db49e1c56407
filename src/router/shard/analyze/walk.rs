//! The walk over a parsed statement: records every table it names (and where a sharded
//! table's name must be rewritten), analyses each query block's key constraint and joins, and
//! builds the merge of a SELECT over several slots.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, SetExpr, Visitor};

use super::constraint::{self, Constraint};
use super::tables::{self, Block, Kind, conjuncts};
use super::{Rename, Walk, select};
use crate::config::TableKind;

impl Walk<'_> {
    /// Records a table and, for a sharded one, where its name must be rewritten.
    pub(super) fn relation(&mut self, name: &ObjectName) {
        let idents: Vec<_> = name.0.iter().filter_map(|p| p.as_ident()).collect();
        let (qualified, ident) = match idents.as_slice() {
            [t] => (None, *t),
            [s, t] => (Some(s.value.as_str()), *t),
            _ => {
                self.shape.other = true;
                return;
            }
        };
        match tables::kind_of(self.schema, qualified, &ident.value) {
            Kind::Sharded => {
                if !self.shape.sharded.contains(&ident.value) {
                    self.shape.sharded.push(ident.value.clone());
                }
                self.rename(ident);
            }
            Kind::Broadcast => {
                self.shape.broadcast = true;
                if !self.shape.broadcast_tables.contains(&ident.value) {
                    self.shape.broadcast_tables.push(ident.value.clone());
                }
            }
            Kind::Unsharded => self.shape.unsharded = true,
            Kind::Other => self.shape.other = true,
        }
    }

    fn rename(&mut self, ident: &sqlparser::ast::Ident) {
        let Some((start, end)) = self.index.range(ident.span) else {
            self.refuse("a table name whose position in the text is unknown");
            return;
        };
        let r = Rename {
            start,
            end,
            table: ident.value.clone(),
            quoted: ident.quote_style.is_some(),
        };
        if !self.shape.renames.contains(&r) {
            self.shape.renames.push(r);
        }
    }

    /// A column reference qualified with a sharded table's own name (`orders.id`).
    pub(super) fn qualifier(&mut self, parts: &[sqlparser::ast::Ident]) {
        if parts.len() < 2 {
            return;
        }
        let table = &parts[parts.len() - 2];
        let qualified = (parts.len() >= 3).then(|| parts[parts.len() - 3].value.as_str());
        if tables::kind_of(self.schema, qualified, &table.value) == Kind::Sharded
            && !self.aliases.contains(&table.value)
        {
            self.rename(table);
        }
    }

    /// Analyses one query block (a SELECT of the statement, top-level or nested).
    fn block(&mut self, select: &sqlparser::ast::Select, top: bool) {
        let mut block = Block::default();
        tables::collect(self.schema, &select.from, &mut block);
        if let Some(w) = &select.selection {
            block.filters.push(w);
        }
        for item in &select.projection {
            if let sqlparser::ast::SelectItem::QualifiedWildcard(
                sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                _,
            ) = item
            {
                let parts: Vec<_> = name
                    .0
                    .iter()
                    .filter_map(|p| p.as_ident())
                    .cloned()
                    .collect();
                let mut with_col = parts.clone();
                with_col.push(sqlparser::ast::Ident::new("*"));
                self.qualifier(&with_col);
            }
        }
        let constraint = self.block_constraint(&block);
        if top {
            self.shape.top = constraint;
            self.shape.top_sharded = block.sharded().next().is_some();
        } else if block.sharded().next().is_some() {
            self.shape.nested.push(constraint);
            self.refuse_multi("a subquery, derived table or UNION over a sharded table");
        }
    }

    /// The key constraint of a block; refuses sharded joins not on the key.
    pub(super) fn block_constraint(&mut self, block: &Block<'_>) -> Constraint {
        let sharded: Vec<&str> = block.sharded().map(|(_, t)| t.name.as_str()).collect();
        if block.outer_keeps_unsharded {
            self.refuse_multi(
                "an outer join keeping a broadcast or unsharded table's rows against a sharded table, across shards",
            );
        }
        if sharded.len() > 1 {
            if block.untyped_join {
                self.refuse(
                    "a NATURAL JOIN of sharded tables (write ON a.key = b.key or USING (key))",
                );
            } else if !block.keys_joined() {
                self.refuse(format!(
                    "a join of sharded tables {} not on their sharding keys",
                    sharded.join(" and ")
                ));
            }
        }
        if sharded.is_empty() {
            return Constraint::All;
        }
        let mut conds = Vec::new();
        for f in &block.filters {
            conjuncts(f, &mut conds);
        }
        let parts = conds
            .into_iter()
            .map(|c| constraint::extract(c, &|e| block.key_of(e).is_some(), &|e| self.param(e)))
            .collect();
        Constraint::And(parts)
    }

    fn body(&mut self, body: &SetExpr, top: bool) {
        match body {
            SetExpr::Select(s) => self.block(s, top),
            SetExpr::SetOperation { left, right, .. } => {
                self.body(left, false);
                self.body(right, false);
            }
            _ => {}
        }
    }

    fn schema_has_sharded(&self, s: &sqlparser::ast::Select) -> bool {
        let mut block = Block::default();
        tables::collect(self.schema, &s.from, &mut block);
        block.sharded().next().is_some()
    }
}

impl Visitor for Walk<'_> {
    type Break = ();

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
        self.relation(name);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
        match factor {
            sqlparser::ast::TableFactor::Table { alias: Some(a), .. }
            | sqlparser::ast::TableFactor::Derived { alias: Some(a), .. } => {
                self.aliases.insert(a.name.value.clone());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::CompoundIdentifier(parts) => self.qualifier(parts),
            Expr::Function(f) if f.over.is_some() => {
                self.refuse_multi("a window function (OVER) across shards")
            }
            // sqlparser reads `||` as concatenation and binds XOR tighter than AND; MySQL reads
            // `||` as OR and XOR below AND. The tree's shape cannot be trusted for key
            // conditions: no narrowing (the shards evaluate the text as MySQL does).
            Expr::BinaryOp {
                op:
                    sqlparser::ast::BinaryOperator::StringConcat | sqlparser::ast::BinaryOperator::Xor,
                ..
            } => self.shape.unsure_precedence = true,
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        let top = self.top_query == Some(q as *const Query);
        if let Some(with) = &q.with {
            self.refuse_multi("a WITH clause across shards");
            for cte in &with.cte_tables {
                if !matches!(
                    self.schema.table(&cte.alias.name.value),
                    TableKind::Unsharded
                ) {
                    self.refuse(format!(
                        "a WITH clause naming {}, a sharded or broadcast table",
                        cte.alias.name.value
                    ));
                }
            }
        }
        self.body(&q.body, top);
        if top {
            if let SetExpr::Select(s) = &*q.body {
                if !self.shape.sharded.is_empty() || self.schema_has_sharded(s) {
                    match select::merge(self, q, s) {
                        Ok(m) => self.shape.merge = Some(m),
                        Err(why) => self.refuse_multi(why),
                    }
                }
            } else {
                self.refuse_multi("a UNION/INTERSECT/EXCEPT over sharded tables across shards");
            }
        }
        ControlFlow::Continue(())
    }
}
