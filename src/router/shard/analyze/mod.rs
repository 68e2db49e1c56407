//! Statement analysis for sharded schemas: parses once (sqlparser, MySQL dialect) and keeps
//! what routing needs as a [`Shape`] — the tables and their kinds, the sharding-key
//! constraints of every query block, where table names sit in the text, and how a
//! multi-shard read is merged. A shape holds no references, so prepared statements keep it and
//! route each execution with its parameters.

pub mod constraint;
mod insert;
mod select;
pub mod tables;

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FromTable, ObjectName, Query, SetExpr, Statement, TableObject, Value, Visit, Visitor,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::error::ShardError;
use super::plan::MergeSpec;
use super::text::{Edit, LineIndex};
use crate::config::{ShardedSchema, TableKind};
use constraint::{Constraint, KeyLit};
pub use insert::InsertShape;
use tables::{Block, Kind, conjuncts};

/// What kind of statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StmtKind {
    Select,
    Insert,
    Update,
    Delete,
    /// DESCRIBE / SHOW COLUMNS / SHOW CREATE TABLE: answered by the first slot's table.
    Metadata,
}

impl StmtKind {
    pub fn name(self) -> &'static str {
        match self {
            StmtKind::Select => "SELECT",
            StmtKind::Insert => "INSERT",
            StmtKind::Update => "UPDATE",
            StmtKind::Delete => "DELETE",
            StmtKind::Metadata => "DESCRIBE",
        }
    }
}

/// A place in the text naming a table (or qualifying a column with a table name).
#[derive(Debug, Clone, PartialEq)]
pub struct Rename {
    pub start: usize,
    pub end: usize,
    pub table: String,
    pub quoted: bool,
}

/// Everything routing needs to know about one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub sql: String,
    pub kind: StmtKind,
    /// Logical names of the sharded tables (one binding group).
    pub sharded: Vec<String>,
    pub broadcast: bool,
    /// Names of the broadcast tables it reads or writes.
    pub broadcast_tables: Vec<String>,
    pub unsharded: bool,
    /// A table of another schema, a derived table or a table function.
    pub other: bool,
    pub renames: Vec<Rename>,
    /// The key constraint of the statement's main block.
    pub top: Constraint,
    /// The main block itself holds a sharded table.
    pub top_sharded: bool,
    /// Constraints of other blocks (subqueries, derived tables, UNION branches) that hold
    /// sharded tables: each must pin one slot, the same as the main block's.
    pub nested: Vec<Constraint>,
    /// Why this statement cannot run on several slots (None: it can).
    pub multi_refusal: Option<String>,
    /// Why this statement cannot run at all (found while walking it).
    pub refusal: Option<String>,
    /// SELECT over several slots: the merge and the extra text edits for each shard.
    pub merge: Option<(MergeSpec, Vec<Edit>)>,
    pub insert: Option<InsertShape>,
    /// UPDATE assigns the sharding key: the value when it is a literal.
    pub key_assignment: Option<Option<KeyLit>>,
    /// UPDATE/DELETE with ORDER BY or LIMIT.
    pub ordered_write: bool,
    /// `||` or XOR appear: sqlparser's precedence differs from MySQL's, key conditions are
    /// not used to narrow the targets.
    pub unsure_precedence: bool,
}

/// Parses and analyses `sql` for `schema`.
pub fn analyze(sql: &str, schema: &ShardedSchema) -> Result<Shape, ShardError> {
    let mut statements =
        Parser::parse_sql(&MySqlDialect {}, sql).map_err(|e| ShardError::Unparsable {
            table: first_sharded_word(sql, schema).unwrap_or_default(),
            reason: e.to_string(),
        })?;
    if statements.len() != 1 {
        return Err(ShardError::unsupported(
            &[first_sharded_word(sql, schema).unwrap_or_default()],
            "several statements in one query (send them one at a time)",
        ));
    }
    let Some(stmt) = statements.pop() else {
        return Err(ShardError::unsupported(&[], "an empty statement"));
    };
    let index = LineIndex::new(sql);
    let placeholders = placeholders(&stmt, &index);
    let mut walk = Walk {
        schema,
        index: &index,
        placeholders: &placeholders,
        shape: Shape {
            sql: sql.to_string(),
            kind: StmtKind::Select,
            sharded: Vec::new(),
            broadcast: false,
            broadcast_tables: Vec::new(),
            unsharded: false,
            other: false,
            renames: Vec::new(),
            top: Constraint::All,
            top_sharded: false,
            nested: Vec::new(),
            multi_refusal: None,
            refusal: None,
            merge: None,
            insert: None,
            key_assignment: None,
            ordered_write: false,
            unsure_precedence: false,
        },
        aliases: BTreeSet::new(),
        top_query: None,
    };
    walk.aliases = aliases(&stmt);
    match &stmt {
        Statement::Query(q) => {
            walk.top_query = Some(&**q as *const Query);
        }
        Statement::Insert(ins) => {
            walk.shape.kind = StmtKind::Insert;
            walk.insert(ins);
        }
        Statement::Update(up) => {
            walk.shape.kind = StmtKind::Update;
            walk.update(up);
        }
        Statement::Delete(del) => {
            walk.shape.kind = StmtKind::Delete;
            walk.delete(del);
        }
        Statement::ExplainTable { .. } => walk.shape.kind = StmtKind::Metadata,
        Statement::ShowColumns { show_options, .. } => {
            walk.shape.kind = StmtKind::Metadata;
            if let Some(name) = show_options
                .show_in
                .as_ref()
                .and_then(|i| i.parent_name.as_ref())
            {
                walk.relation(name);
            }
        }
        Statement::ShowCreate {
            obj_type: sqlparser::ast::ShowCreateObject::Table,
            obj_name,
        } => {
            walk.shape.kind = StmtKind::Metadata;
            walk.relation(obj_name);
            let subtables = walk.shape.sharded.iter().any(|t| match schema.table(t) {
                TableKind::Sharded(rule) => rule.slots.iter().any(|s| s.physical != rule.name),
                _ => false,
            });
            if subtables {
                walk.shape.refusal = Some(
                    "SHOW CREATE TABLE of a table split into sub-tables (the server would show a \
                     sub-table's definition; use DESCRIBE or SHOW COLUMNS)"
                        .to_string(),
                );
            }
        }
        _ => {
            let words: Vec<&str> = sql.split_whitespace().take(2).collect();
            walk.shape.refusal = Some(format!(
                "{} statements (run DDL and other maintenance on the physical tables of each shard directly)",
                words.join(" ").to_uppercase()
            ));
        }
    }
    let _ = stmt.visit(&mut walk);
    walk.finish()
}

/// The first word of `sql` naming a sharded table (for messages).
pub fn first_sharded_word(sql: &str, schema: &ShardedSchema) -> Option<String> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|w| matches!(schema.table(w), TableKind::Sharded(_)))
        .map(str::to_string)
}

/// Every table alias of the statement (collected before the walk: the select list, which
/// the walk meets first, may use aliases defined later in FROM).
fn aliases(stmt: &Statement) -> BTreeSet<String> {
    struct A(BTreeSet<String>);
    impl Visitor for A {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
            match f {
                sqlparser::ast::TableFactor::Table { alias: Some(a), .. }
                | sqlparser::ast::TableFactor::Derived { alias: Some(a), .. } => {
                    self.0.insert(a.name.value.clone());
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut a = A(BTreeSet::new());
    let _ = stmt.visit(&mut a);
    a.0
}

/// Byte offsets of the `?` placeholders, in order.
fn placeholders(stmt: &Statement, index: &LineIndex<'_>) -> Vec<usize> {
    struct P<'a> {
        index: &'a LineIndex<'a>,
        at: Vec<usize>,
    }
    impl Visitor for P<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Value(v) = e
                && matches!(v.value, Value::Placeholder(_))
                && let Some(at) = self.index.offset(v.span.start)
            {
                self.at.push(at);
            }
            ControlFlow::Continue(())
        }
    }
    let mut p = P {
        index,
        at: Vec::new(),
    };
    let _ = stmt.visit(&mut p);
    p.at.sort_unstable();
    p.at.dedup();
    p.at
}

struct Walk<'a> {
    schema: &'a ShardedSchema,
    index: &'a LineIndex<'a>,
    placeholders: &'a [usize],
    shape: Shape,
    /// Every table alias of the statement.
    aliases: BTreeSet<String>,

    /// The statement's own query (a SELECT), told apart from nested ones.
    top_query: Option<*const Query>,
}

impl Walk<'_> {
    fn param(&self, e: &Expr) -> Option<usize> {
        let Expr::Value(v) = e else { return None };
        let at = self.index.offset(v.span.start)?;
        self.placeholders.binary_search(&at).ok()
    }

    fn refuse(&mut self, why: impl Into<String>) {
        if self.shape.refusal.is_none() {
            self.shape.refusal = Some(why.into());
        }
    }

    fn refuse_multi(&mut self, why: impl Into<String>) {
        if self.shape.multi_refusal.is_none() {
            self.shape.multi_refusal = Some(why.into());
        }
    }

    /// Records a table and, for a sharded one, where its name must be rewritten.
    fn relation(&mut self, name: &ObjectName) {
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
    fn qualifier(&mut self, parts: &[sqlparser::ast::Ident]) {
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
    fn block_constraint(&mut self, block: &Block<'_>) -> Constraint {
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

    fn finish(mut self) -> Result<Shape, ShardError> {
        let shape = &mut self.shape;
        // Every sharded table of one statement must share one slot layout.
        let groups: BTreeSet<Option<usize>> = shape
            .sharded
            .iter()
            .map(|t| match self.schema.table(t) {
                TableKind::Sharded(rule) => rule.binding_group,
                _ => None,
            })
            .collect();
        if shape.sharded.len() > 1 && (groups.len() > 1 || groups.contains(&None)) {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "sharded tables that are not in one binding group in the same statement",
            ));
        }
        if let Some(why) = shape.refusal.take() {
            return Err(ShardError::unsupported(&shape.sharded, why));
        }
        let writes = matches!(
            shape.kind,
            StmtKind::Insert | StmtKind::Update | StmtKind::Delete
        );
        if writes && shape.insert.is_some() && !shape.nested.is_empty() {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "an INSERT with a subquery on a sharded table",
            ));
        }
        if writes && !shape.sharded.is_empty() && !shape.top_sharded && shape.insert.is_none() {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "a write to a broadcast or unsharded table that reads a sharded table",
            ));
        }
        if !shape.sharded.is_empty() && (shape.unsharded || shape.other) {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "a sharded table together with an unsharded table, a table of another schema or a derived table",
            ));
        }
        Ok(self.shape)
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

impl Walk<'_> {
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

    fn insert(&mut self, ins: &sqlparser::ast::Insert) {
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

    fn update(&mut self, up: &sqlparser::ast::Update) {
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

    fn delete(&mut self, del: &sqlparser::ast::Delete) {
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
