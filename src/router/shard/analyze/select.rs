//! A SELECT that spans several slots: the merge the executor applies (sort keys, aggregates,
//! groups, HAVING, LIMIT) and the text edits each shard's copy needs (hidden helper columns
//! appended, HAVING removed, LIMIT widened to offset + count).

use sqlparser::ast::{
    BinaryOperator, Distinct, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, GroupByExpr, LimitClause, OrderByKind, OrderBySort, Query, Select,
    SelectItem, Spanned, UnaryOperator, Value, Visit, Visitor,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

use super::super::plan::{
    AggKind, Aggregate, CompareOp, Expr as MExpr, Literal, MergeSpec, SortKey,
};
use super::super::text::{Edit, clause_end, expr_end, extend_start, keyword_before};
use super::Walk;

/// Aggregates other than the five the merge recombines.
const OTHER_AGGREGATES: [&str; 14] = [
    "GROUP_CONCAT",
    "STD",
    "STDDEV",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "VARIANCE",
    "VAR_POP",
    "VAR_SAMP",
    "BIT_AND",
    "BIT_OR",
    "BIT_XOR",
    "JSON_ARRAYAGG",
    "JSON_OBJECTAGG",
    "ANY_VALUE",
];

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

impl Builder<'_, '_> {
    fn range(&self, e: &Expr) -> Result<(usize, usize), String> {
        self.w
            .index
            .range(e.span())
            .filter(|(s, e)| s < e)
            .map(|(s, end)| (s, expr_end(&self.w.shape.sql, s, end)))
            .ok_or_else(|| "an expression the router cannot delimit".to_string())
    }

    /// The source text of `e`, checked by parsing it again: sqlparser's spans miss prefix
    /// operators and some suffixes, so a few candidate ranges are tried and the one that parses
    /// back to the same expression wins; none does → refused (never a changed expression).
    fn text(&self, e: &Expr) -> Result<String, String> {
        let sql = &self.w.shape.sql;
        let (start, end) = self.range(e)?;
        let starts = [start, extend_start(sql, start)];
        let ends = [end, clause_end(sql, start)];
        for s in starts {
            for en in ends {
                let Some(text) = sql.get(s..en) else { continue };
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let parsed = Parser::new(&MySqlDialect {})
                    .try_with_sql(text)
                    .and_then(|mut p| p.parse_expr());
                if parsed.is_ok_and(|p| &p == e) {
                    if self.names_sharded_table(e) {
                        return Err(format!(
                            "a helper column copied from `{text}`, qualified with a sharded table's name, across shards (use an alias)"
                        ));
                    }
                    return Ok(text.to_string());
                }
            }
        }
        Err(
            "an expression the router cannot copy into each shard's statement, across shards"
                .into(),
        )
    }

    /// Does `e` qualify a column with a sharded table's own name (renamed per slot)?
    fn names_sharded_table(&self, e: &Expr) -> bool {
        struct Q<'a>(&'a Walk<'a>, bool);
        impl Visitor for Q<'_> {
            type Break = ();
            fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
                if let Expr::CompoundIdentifier(parts) = e
                    && parts.len() >= 2
                {
                    let t = &parts[parts.len() - 2].value;
                    if !self.0.aliases.contains(t)
                        && matches!(self.0.schema.table(t), crate::config::TableKind::Sharded(_))
                    {
                        self.1 = true;
                    }
                }
                ControlFlow::Continue(())
            }
        }
        let mut q = Q(self.w, false);
        let _ = e.visit(&mut q);
        q.1
    }

    /// Index a hidden column will have.
    fn next_hidden(&self) -> usize {
        if self.wildcard {
            self.hidden.len()
        } else {
            self.items.len() + self.hidden.len()
        }
    }

    fn add_aggregate(
        &mut self,
        column: usize,
        kind: &str,
        arg: Option<&Expr>,
    ) -> Result<(), String> {
        if matches!(kind, "MIN" | "MAX") {
            let name = match arg {
                Some(Expr::Identifier(i)) => Some(&i.value),
                Some(Expr::CompoundIdentifier(p)) => p.last().map(|i| &i.value),
                _ => None,
            };
            if let Some(n) = name {
                self.spec.sources.push((column, n.to_ascii_lowercase()));
            }
        }
        let kind = match kind {
            "COUNT" => AggKind::Count,
            "SUM" => AggKind::Sum,
            "MIN" => AggKind::Min,
            "MAX" => AggKind::Max,
            _ => {
                let arg = arg.ok_or("AVG without an argument")?;
                let text = self.text(arg)?;
                let sum = self.next_hidden();
                self.hidden.push(format!("SUM({text})"));
                let count = self.next_hidden();
                self.hidden.push(format!("COUNT({text})"));
                AggKind::Avg { sum, count }
            }
        };
        self.spec.aggregates.push(Aggregate { column, kind });
        Ok(())
    }

    /// The column holding `e`: a select-list position, alias or equal expression, else a
    /// hidden column appended for it.
    fn column_for(&mut self, e: &Expr, positional: bool, prefer: Prefer) -> Result<usize, String> {
        if positional
            && let Expr::Value(v) = e
            && let Value::Number(n, _) = &v.value
        {
            let n: usize = n.parse().map_err(|_| "a bad column position")?;
            if self.wildcard {
                return Err("a column position with SELECT * across shards".into());
            }
            return n
                .checked_sub(1)
                .filter(|i| *i < self.items.len())
                .ok_or_else(|| "a column position out of range".into());
        }
        // ORDER BY looks at select aliases first; GROUP BY and HAVING look at table columns
        // first, which the router does not know: a name that is an alias of another
        // expression and also used as a column elsewhere is ambiguous to it.
        let alias_hit = self.items.iter().position(|item| {
            matches!((e, item), (Expr::Identifier(id), Some((_, Some(a)))) if id.value.eq_ignore_ascii_case(a))
        });
        if let Some(i) = alias_hit {
            let Some((ie, _)) = self.items[i] else {
                return Ok(i);
            };
            let plain = matches!(ie, Expr::Identifier(x) if matches!(e, Expr::Identifier(y) if x.value.eq_ignore_ascii_case(&y.value)));
            if prefer == Prefer::Alias || plain {
                return Ok(i);
            }
            if let Expr::Identifier(id) = e
                && self.columns.contains(&id.value.to_ascii_lowercase())
            {
                return Err(format!(
                    "GROUP BY/HAVING on {}, which is both a select alias and a column name, across shards (rename the alias)",
                    id.value
                ));
            }
            return Ok(i);
        }
        for (i, item) in self.items.iter().enumerate() {
            let Some((ie, _)) = item else { continue };
            if same_expr(e, ie) {
                return Ok(i);
            }
        }
        let column = self.next_hidden();
        match aggregate(e)? {
            Some((kind, arg)) => {
                self.hidden.push(self.text(e)?);
                self.add_aggregate(column, kind, arg)?;
            }
            None if contains_aggregate(e) => {
                return Err("an expression over an aggregate across shards".into());
            }
            None => self.hidden.push(self.text(e)?),
        }
        Ok(column)
    }

    fn having(&mut self, e: &Expr) -> Result<MExpr, String> {
        Ok(match e {
            Expr::Nested(inner) => self.having(inner)?,
            Expr::BinaryOp { left, op, right } => {
                let (l, r) = (self.having(left)?, self.having(right)?);
                let cmp = |op| MExpr::Compare(op, Box::new(l.clone()), Box::new(r.clone()));
                match op {
                    BinaryOperator::And => MExpr::And(Box::new(l), Box::new(r)),
                    BinaryOperator::Or => MExpr::Or(Box::new(l), Box::new(r)),
                    BinaryOperator::Eq => cmp(CompareOp::Eq),
                    BinaryOperator::NotEq => cmp(CompareOp::NotEq),
                    BinaryOperator::Lt => cmp(CompareOp::Lt),
                    BinaryOperator::LtEq => cmp(CompareOp::LtEq),
                    BinaryOperator::Gt => cmp(CompareOp::Gt),
                    BinaryOperator::GtEq => cmp(CompareOp::GtEq),
                    other => return Err(format!("HAVING with operator {other} across shards")),
                }
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => MExpr::Not(Box::new(self.having(expr)?)),
            Expr::IsNull(x) => MExpr::IsNull {
                expr: Box::new(self.having(x)?),
                negated: false,
            },
            Expr::IsNotNull(x) => MExpr::IsNull {
                expr: Box::new(self.having(x)?),
                negated: true,
            },
            Expr::Value(v) => MExpr::Literal(match &v.value {
                Value::Number(n, _) => Literal::Number(n.clone()),
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                    Literal::String(s.clone())
                }
                Value::Null => Literal::Null,
                _ => return Err("HAVING with a literal of this kind across shards".into()),
            }),
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match &**expr {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => MExpr::Literal(Literal::Number(format!("-{n}"))),
                    _ => return Err("HAVING with a negated non-number across shards".into()),
                },
                _ => return Err("HAVING with arithmetic across shards".into()),
            },
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) => {
                let before = self.hidden.len();
                let col = self.column_for(e, false, Prefer::Column)?;
                let is_group_or_agg = self.spec.group_by.contains(&col)
                    || self.spec.aggregates.iter().any(|a| a.column == col);
                if !is_group_or_agg && self.hidden.len() > before {
                    return Err(
                        "HAVING on a column that is neither grouped nor aggregated, across shards"
                            .into(),
                    );
                }
                MExpr::Column(col)
            }
            _ => return Err("this HAVING expression across shards".into()),
        })
    }
}

/// `Some((NAME, argument))` for COUNT/SUM/MIN/MAX/AVG; refuses other aggregates and DISTINCT.
fn aggregate(e: &Expr) -> Result<Option<(&'static str, Option<&Expr>)>, String> {
    let Expr::Function(f) = e else {
        return Ok(None);
    };
    if f.over.is_some() {
        return Ok(None);
    }
    let name = f
        .name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_uppercase())
        .unwrap_or_default();
    let kind = match name.as_str() {
        "COUNT" => "COUNT",
        "SUM" => "SUM",
        "MIN" => "MIN",
        "MAX" => "MAX",
        "AVG" => "AVG",
        other if OTHER_AGGREGATES.contains(&other) => {
            return Err(format!("{other}() across shards"));
        }
        _ => return Ok(None),
    };
    let FunctionArguments::List(list) = &f.args else {
        return Err(format!("{kind} without an argument list across shards"));
    };
    if list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
        && matches!(kind, "COUNT" | "SUM" | "AVG")
    {
        return Err(format!("{kind}(DISTINCT ...) across shards"));
    }
    if list.args.len() != 1 || !list.clauses.is_empty() {
        return Err(format!("{kind} with several arguments across shards"));
    }
    let arg = match &list.args[0] {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x),
        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if kind == "COUNT" => None,
        _ => return Err(format!("{kind} with this argument across shards")),
    };
    if kind == "AVG" && arg.is_none() {
        return Err("AVG(*)".into());
    }
    Ok(Some((kind, arg)))
}

/// Does `e` call an aggregate function anywhere inside?
fn contains_aggregate(e: &Expr) -> bool {
    struct Find(bool, usize);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.1 += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.1 -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.1 > 0 {
                return ControlFlow::Continue(());
            }
            if let Expr::Function(f) = e
                && f.over.is_none()
                && let Some(n) = f.name.0.last().and_then(|p| p.as_ident())
            {
                let n = n.value.to_ascii_uppercase();
                if ["COUNT", "SUM", "MIN", "MAX", "AVG"].contains(&n.as_str())
                    || OTHER_AGGREGATES.contains(&n.as_str())
                {
                    self.0 = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(false, 0);
    let _ = e.visit(&mut f);
    f.0
}

/// Same expression, or the same column written qualified and unqualified.
fn same_expr(a: &Expr, b: &Expr) -> bool {
    if a == b {
        return true;
    }
    let last = |e: &Expr| match e {
        Expr::Identifier(i) => Some(i.value.to_ascii_lowercase()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.to_ascii_lowercase()),
        _ => None,
    };
    matches!(
        (a, b),
        (Expr::Identifier(_), Expr::CompoundIdentifier(_))
            | (Expr::CompoundIdentifier(_), Expr::Identifier(_))
    ) && last(a).is_some()
        && last(a) == last(b)
}

/// Column names the block certainly has: those its select list, WHERE and joins use, and
/// the sharding keys of the schema's tables.
fn known_columns(w: &Walk<'_>, s: &Select) -> std::collections::BTreeSet<String> {
    struct C(std::collections::BTreeSet<String>);
    impl Visitor for C {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::Identifier(i) => {
                    self.0.insert(i.value.to_ascii_lowercase());
                }
                Expr::CompoundIdentifier(p) => {
                    if let Some(i) = p.last() {
                        self.0.insert(i.value.to_ascii_lowercase());
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut c = C(w.schema.tables.iter().map(|t| t.key.clone()).collect());
    for item in &s.projection {
        let _ = item.visit(&mut c);
    }
    let _ = s.selection.visit(&mut c);
    let _ = s.from.visit(&mut c);
    c.0
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
