//! Columns of a SELECT over several slots: the select-list column (or hidden helper column)
//! holding an expression, the column names known to exist, and the checked copying of an
//! expression's text into each shard's statement.

use sqlparser::ast::{Expr, Select, Spanned, Value, Visit, Visitor};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

use super::super::super::text::{clause_end, expr_end, extend_start};
use super::super::Walk;
use super::aggregate::{aggregate, contains_aggregate};
use super::{Builder, Prefer};

impl Builder<'_, '_> {
    pub(super) fn range(&self, e: &Expr) -> Result<(usize, usize), String> {
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
    pub(super) fn text(&self, e: &Expr) -> Result<String, String> {
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
    pub(super) fn next_hidden(&self) -> usize {
        if self.wildcard {
            self.hidden.len()
        } else {
            self.items.len() + self.hidden.len()
        }
    }

    /// The column holding `e`: a select-list position, alias or equal expression, else a
    /// hidden column appended for it.
    pub(super) fn column_for(
        &mut self,
        e: &Expr,
        positional: bool,
        prefer: Prefer,
    ) -> Result<usize, String> {
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
pub(super) fn known_columns(w: &Walk<'_>, s: &Select) -> std::collections::BTreeSet<String> {
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
