//! HAVING of a SELECT over several slots, turned into the merge's own expression over the
//! merged columns (comparisons, AND/OR/NOT, IS NULL, literals).

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use super::super::super::plan::{CompareOp, Expr as MExpr, Literal};
use super::{Builder, Prefer};

impl Builder<'_, '_> {
    pub(super) fn having(&mut self, e: &Expr) -> Result<MExpr, String> {
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
