//! Statement analysis for sharded schemas: parses once (sqlparser, MySQL dialect) and keeps
//! what routing needs as a [`Shape`] — the tables and their kinds, the sharding-key
//! constraints of every query block, where table names sit in the text, and how a
//! multi-shard read is merged. A shape holds no references, so prepared statements keep it and
//! route each execution with its parameters.

pub mod constraint;
mod dml;
mod insert;
mod select;
pub mod tables;
mod walk;

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, Statement, Value, Visit, Visitor};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::error::ShardError;
use super::plan::MergeSpec;
use super::text::{Edit, LineIndex};
use crate::config::{ShardedSchema, TableKind};
use constraint::{Constraint, KeyLit};
pub use insert::InsertShape;

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
    /// How many `?` placeholders the parser found.
    pub placeholders: usize,
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
            placeholders: placeholders.len(),
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
