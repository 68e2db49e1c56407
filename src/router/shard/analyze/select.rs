//! A SELECT that spans several slots: the merge the executor applies (sort keys, aggregates,
//! groups, HAVING, LIMIT) and the text edits each shard's copy needs (hidden helper columns
//! appended, HAVING removed, LIMIT widened to offset + count).

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, LimitClause, OrderByKind, OrderBySort, Query, Select, SelectItem,
    Spanned, Value,
};

use super::super::plan::{MergeSpec, SortKey};
use super::super::text::{Edit, expr_end, keyword_before};
use super::Walk;
use aggregate::{aggregate, contains_aggregate};
use columns::known_columns;

mod aggregate;
mod columns;
mod having;

/// Which a name means first: a select alias (ORDER BY) or a table column (GROUP BY, HAVING).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefer {
    Alias,
    Column,
}

struct Builder<'w, 'a> {
    w: &'w Walk<'a>,
    /// The projection's expressions and aliases (None for a wildcard).
    items: Vec<Option<(&'w Expr, Option<String>)>>,
    wildcard: bool,
    hidden: Vec<String>,
    spec: MergeSpec,
    /// Column names known to exist: used in the select list, WHERE or joins, or a sharding
    /// key (lower case).
    columns: std::collections::BTreeSet<String>,
}

pub(super) fn merge(w: &Walk<'_>, q: &Query, s: &Select) -> Result<(MergeSpec, Vec<Edit>), String> {
    if s.into.is_some() {
        return Err("SELECT ... INTO across shards".into());
    }
    if s.select_modifiers
        .as_ref()
        .is_some_and(|m| m.sql_calc_found_rows)
    {
        return Err("SQL_CALC_FOUND_ROWS across shards".into());
    }
    if matches!(s.distinct, Some(Distinct::On(_))) {
        return Err("DISTINCT ON across shards".into());
    }
    if q.fetch.is_some() {
        return Err("FETCH across shards".into());
    }
    let mut b = Builder {
        w,
        items: Vec::new(),
        wildcard: false,
        hidden: Vec::new(),
        columns: known_columns(w, s),
        spec: MergeSpec {
            distinct: matches!(s.distinct, Some(Distinct::Distinct)),
            ..MergeSpec::default()
        },
    };
    for item in &s.projection {
        match item {
            SelectItem::UnnamedExpr(e) => b.items.push(Some((e, None))),
            SelectItem::ExprWithAlias { expr, alias } => {
                b.items.push(Some((expr, Some(alias.value.clone()))))
            }
            _ => {
                b.wildcard = true;
                b.items.push(None);
            }
        }
    }
    let mut edits = Vec::new();
    // Aggregates of the projection.
    for i in 0..b.items.len() {
        let Some((e, _)) = b.items[i] else { continue };
        match aggregate(e)? {
            Some((kind, arg)) => b.add_aggregate(i, kind, arg)?,
            None if contains_aggregate(e) => {
                return Err(
                    "an expression over an aggregate across shards (select the aggregate itself)"
                        .into(),
                );
            }
            None => {}
        }
    }
    match &s.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err("GROUP BY ... WITH ROLLUP across shards".into());
            }
            for e in exprs {
                let col = b.column_for(e, true, Prefer::Column)?;
                b.spec.group_by.push(col);
            }
        }
        GroupByExpr::All(_) => return Err("GROUP BY ALL across shards".into()),
    }
    let grouped = !b.spec.group_by.is_empty() || !b.spec.aggregates.is_empty();
    if b.wildcard && grouped {
        return Err("SELECT * with GROUP BY or aggregates across shards".into());
    }
    if let Some(h) = &s.having {
        if !grouped {
            return Err("HAVING without GROUP BY or aggregates across shards".into());
        }
        b.spec.having = Some(b.having(h)?);
        let (start, end) = b.range(h)?;
        let kw = keyword_before(&w.shape.sql, start, "having")
            .ok_or("a HAVING clause the router cannot delimit")?;
        edits.push(Edit {
            start: kw,
            end,
            with: String::new(),
        });
    }
    if let Some(order) = &q.order_by {
        let OrderByKind::Expressions(list) = &order.kind else {
            return Err("ORDER BY ALL across shards".into());
        };
        for o in list {
            if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                return Err("ORDER BY ... NULLS FIRST/LAST across shards".into());
            }
            let descending = match &o.options.sort {
                None | Some(OrderBySort::Asc) => false,
                Some(OrderBySort::Desc) => true,
                Some(_) => return Err("ORDER BY ... USING across shards".into()),
            };
            let before = b.hidden.len();
            let column = b.column_for(&o.expr, true, Prefer::Alias)?;
            if b.spec.distinct && b.hidden.len() > before {
                return Err(
                    "SELECT DISTINCT ordered by an expression it does not select, across shards"
                        .into(),
                );
            }
            b.spec.order_by.push(SortKey { column, descending });
        }
    }
    if let Some(limit) = &q.limit_clause {
        let (count, offset, first, last) = match limit {
            LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            } => {
                if !limit_by.is_empty() {
                    return Err("LIMIT BY across shards".into());
                }
                let Some(l) = limit else {
                    return Err("LIMIT ALL across shards".into());
                };
                let off = offset.as_ref().map(|o| &o.value);
                (l, off, l, off.unwrap_or(l))
            }
            LimitClause::OffsetCommaLimit { offset, limit } => (limit, Some(offset), offset, limit),
        };
        let count = number(count).ok_or("a LIMIT that is not a number literal, across shards")?;
        let offset = match offset {
            Some(o) => number(o).ok_or("an OFFSET that is not a number literal, across shards")?,
            None => 0,
        };
        let (start, _) = b.range(first)?;
        let (_, end) = b.range(last)?;
        let (_, end2) = b.range(first)?;
        let kw = keyword_before(&w.shape.sql, start, "limit")
            .ok_or("a LIMIT clause the router cannot delimit")?;
        let with = if grouped || b.spec.distinct {
            String::new()
        } else {
            format!("LIMIT {}", offset.saturating_add(count))
        };
        edits.push(Edit {
            start: kw,
            end: end.max(end2),
            with,
        });
        b.spec.offset = offset;
        b.spec.limit = Some(count);
    }
    if !b.hidden.is_empty() {
        let last = s.projection.last().ok_or("an empty select list")?;
        let (start, end) = w
            .index
            .range(last.span())
            .ok_or("a select list the router cannot delimit")?;
        let end = expr_end(&w.shape.sql, start, end);
        edits.push(Edit {
            start: end,
            end,
            with: format!(", {}", b.hidden.join(", ")),
        });
    }
    if b.wildcard {
        // Column indexes of hidden columns count from the first hidden one (see MergeSpec).
        b.spec.wildcard_hidden = Some(b.hidden.len());
        b.spec.visible = 0;
    } else {
        b.spec.visible = b.items.len();
    }
    Ok((b.spec, edits))
}

fn number(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}
