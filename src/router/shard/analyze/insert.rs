//! INSERT / REPLACE into a sharded table: the key of every row and where each row sits in the
//! text, so that a multi-row INSERT can be split into one INSERT per target.

use sqlparser::ast::{Expr, Insert, ObjectName, OnInsert, SetExpr, Spanned};

use super::super::text;
use super::Walk;
use super::constraint::{self, KeyLit};
use super::tables::{self, Kind};
use crate::config::TableKind;

/// The rows of an INSERT into a sharded table.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertShape {
    pub table: String,
    /// The key of each row, in order.
    pub keys: Vec<KeyLit>,
    /// Byte range of each row, parentheses included (empty for `INSERT ... SET`).
    pub rows: Vec<(usize, usize)>,
    /// Byte range from the first row's `(` to the last row's `)`.
    pub values: Option<(usize, usize)>,
}

/// The insert shape, `Ok(None)` when the target is not sharded, `Err` naming what is refused.
pub(super) fn shape(
    w: &mut Walk<'_>,
    name: &ObjectName,
    ins: &Insert,
) -> Result<Option<InsertShape>, String> {
    let idents: Vec<_> = name.0.iter().filter_map(|p| p.as_ident()).collect();
    let (qualified, table) = match idents.as_slice() {
        [t] => (None, *t),
        [s, t] => (Some(s.value.as_str()), *t),
        _ => return Ok(None),
    };
    if tables::kind_of(w.schema, qualified, &table.value) != Kind::Sharded {
        return Ok(None);
    }
    let TableKind::Sharded(rule) = w.schema.table(&table.value) else {
        return Ok(None);
    };
    let key = rule.key.clone();
    let t = &table.value;
    if let Some(OnInsert::DuplicateKeyUpdate(assignments)) = &ins.on {
        for a in assignments {
            if let sqlparser::ast::AssignmentTarget::ColumnName(c) = &a.target
                && c.0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| i.value.eq_ignore_ascii_case(&key))
            {
                return Err(format!("ON DUPLICATE KEY UPDATE of sharding key {t}.{key}"));
            }
        }
    }
    if !ins.assignments.is_empty() {
        // INSERT ... SET col = value, ...
        for a in &ins.assignments {
            if let sqlparser::ast::AssignmentTarget::ColumnName(c) = &a.target
                && c.0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| i.value.eq_ignore_ascii_case(&key))
            {
                let lit = constraint::literal(&a.value, &|e| w.param(e)).ok_or_else(|| {
                    format!("a sharding key {t}.{key} that is not a literal value")
                })?;
                return Ok(Some(InsertShape {
                    table: t.clone(),
                    keys: vec![lit],
                    rows: Vec::new(),
                    values: None,
                }));
            }
        }
        return Err(format!(
            "INSERT into {t} without its sharding key column {key}"
        ));
    }
    if ins.columns.is_empty() {
        return Err(format!(
            "INSERT into sharded table {t} without a column list (name the columns, including {key})"
        ));
    }
    let Some(at) = ins.columns.iter().position(|c| {
        c.0.last()
            .and_then(|p| p.as_ident())
            .is_some_and(|i| i.value.eq_ignore_ascii_case(&key))
    }) else {
        return Err(format!(
            "INSERT into {t} without its sharding key column {key}"
        ));
    };
    let Some(source) = &ins.source else {
        return Err(format!("INSERT into {t} without VALUES"));
    };
    let SetExpr::Values(values) = &*source.body else {
        return Err(format!("INSERT ... SELECT into sharded table {t}"));
    };
    let mut keys = Vec::with_capacity(values.rows.len());
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let value: Option<&Expr> = row.get(at);
        let lit = value
            .and_then(|e| constraint::literal(e, &|e| w.param(e)))
            .ok_or_else(|| format!("a sharding key {t}.{key} that is not a literal value"))?;
        if lit == KeyLit::Null {
            return Err(format!("a NULL sharding key {t}.{key}"));
        }
        keys.push(lit);
        let (Some(first), Some(last)) = (row.first(), row.last()) else {
            return Err("an empty VALUES row".to_string());
        };
        let Some(start) = w.index.offset(first.span().start) else {
            return Err("a VALUES row whose position in the text is unknown".to_string());
        };
        let _ = last;
        // The row's `(`: before its first value and any prefix operators; its `)`: the match.
        let sql = &w.shape.sql;
        let open = text::extend_start(sql, start);
        if sql.as_bytes().get(open) != Some(&b'(') {
            return Err("a VALUES row the router cannot delimit".to_string());
        }
        let close = text::expr_end(sql, open, open + 1);
        if close <= start || sql.as_bytes().get(close - 1) != Some(&b')') {
            return Err("a VALUES row the router cannot delimit".to_string());
        }
        rows.push((open, close));
    }
    let span = match (rows.first(), rows.last()) {
        (Some(f), Some(l)) => Some((f.0, l.1)),
        _ => None,
    };
    Ok(Some(InsertShape {
        table: t.clone(),
        keys,
        rows,
        values: span,
    }))
}
