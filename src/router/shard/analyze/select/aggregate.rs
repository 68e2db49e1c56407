//! Aggregates of a SELECT over several slots: which calls the merge recombines (COUNT, SUM,
//! MIN, MAX, and AVG from hidden SUM/COUNT columns), which it refuses, and whether an
//! expression contains one.

use sqlparser::ast::{
    DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Query, Visit,
    Visitor,
};
use std::ops::ControlFlow;

use super::super::super::plan::{AggKind, Aggregate};
use super::Builder;

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

impl Builder<'_, '_> {
    pub(super) fn add_aggregate(
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
}

/// `Some((NAME, argument))` for COUNT/SUM/MIN/MAX/AVG; refuses other aggregates and DISTINCT.
pub(super) fn aggregate(e: &Expr) -> Result<Option<(&'static str, Option<&Expr>)>, String> {
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
pub(super) fn contains_aggregate(e: &Expr) -> bool {
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
