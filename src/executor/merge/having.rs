//! HAVING over merged rows, with SQL's three-valued logic: a comparison with NULL is unknown
//! and only rows whose condition is true are kept. Numbers compare numerically (exactly for
//! integer/decimal columns and literals), strings by the column's collation, and a number
//! against a string as doubles, as the server converts them.

use std::cmp::Ordering;

use bigdecimal::{BigDecimal, ToPrimitive, Zero};

use super::key::{ColumnOrder, Kind, parse_decimal};
use super::row::Row;
use super::{ColumnDef, MergeError};
use crate::router::shard::plan::{CompareOp, Expr, Literal};

/// A HAVING condition ready to evaluate over rows of the given columns.
#[derive(Debug, Clone)]
pub struct Having {
    expr: Expr,
    /// Comparison rules of every column the condition refers to.
    orders: Vec<Option<ColumnOrder>>,
}

/// An operand while evaluating.
enum Val<'a> {
    Null,
    Column(usize, &'a [u8]),
    Number(&'a str),
    Str(&'a str),
    Bool(bool),
}

/// A number for comparisons: exact when both sides are.
enum Num {
    Exact(BigDecimal),
    Approx(f64),
}

impl Having {
    pub fn new(expr: &Expr, columns: &[ColumnDef]) -> Result<Self, MergeError> {
        let mut orders = vec![None; columns.len()];
        collect(expr, columns, &mut orders)?;
        Ok(Having {
            expr: expr.clone(),
            orders,
        })
    }

    /// True when the row satisfies the condition (false and unknown drop it).
    pub fn accepts(&self, row: &Row) -> Result<bool, MergeError> {
        Ok(self.truth(&self.expr, row)? == Some(true))
    }

    fn truth(&self, e: &Expr, row: &Row) -> Result<Option<bool>, MergeError> {
        Ok(match e {
            Expr::And(a, b) => match (self.truth(a, row)?, self.truth(b, row)?) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Expr::Or(a, b) => match (self.truth(a, row)?, self.truth(b, row)?) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Expr::Not(a) => self.truth(a, row)?.map(|t| !t),
            Expr::IsNull { expr, negated } => {
                let null = matches!(self.value(expr, row)?, Val::Null);
                Some(null != *negated)
            }
            Expr::Compare(op, a, b) => {
                let (a, b) = (self.value(a, row)?, self.value(b, row)?);
                self.compare(&a, &b)?.map(|o| holds(*op, o))
            }
            Expr::Column(_) | Expr::Literal(_) => {
                let v = self.value(e, row)?;
                self.number(&v)?.map(|n| match n {
                    Num::Exact(d) => !d.is_zero(),
                    Num::Approx(f) => f != 0.0,
                })
            }
        })
    }

    fn value<'a>(&self, e: &'a Expr, row: &'a Row) -> Result<Val<'a>, MergeError> {
        Ok(match e {
            Expr::Column(i) => match row.cell(*i) {
                Some(v) => Val::Column(*i, v),
                None => Val::Null,
            },
            Expr::Literal(Literal::Null) => Val::Null,
            Expr::Literal(Literal::Number(n)) => Val::Number(n),
            Expr::Literal(Literal::String(s)) => Val::Str(s),
            _ => match self.truth(e, row)? {
                Some(t) => Val::Bool(t),
                None => Val::Null,
            },
        })
    }

    fn order(&self, i: usize) -> Result<&ColumnOrder, MergeError> {
        self.orders
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(MergeError::NoSuchColumn {
                index: i,
                columns: self.orders.len(),
            })
    }

    fn is_string(&self, v: &Val<'_>) -> Result<bool, MergeError> {
        Ok(match v {
            Val::Str(_) => true,
            Val::Column(i, _) => !self.order(*i)?.is_numeric(),
            _ => false,
        })
    }

    fn compare(&self, a: &Val<'_>, b: &Val<'_>) -> Result<Option<Ordering>, MergeError> {
        if matches!(a, Val::Null) || matches!(b, Val::Null) {
            return Ok(None);
        }
        if self.is_string(a)? && self.is_string(b)? {
            // Both strings (or temporal text): the column's rules, else the other's.
            let (order, x, y) = match (a, b) {
                (Val::Column(i, x), Val::Column(_, y)) => (self.order(*i)?, *x, *y),
                (Val::Column(i, x), Val::Str(y)) => (self.order(*i)?, *x, y.as_bytes()),
                (Val::Str(x), Val::Column(i, y)) => (self.order(*i)?, x.as_bytes(), *y),
                (Val::Str(x), Val::Str(y)) => return Ok(Some(x.cmp(y))),
                _ => return Ok(None),
            };
            if order.kind == Kind::Time {
                if let (Ok(kx), Ok(ky)) = (order.key(Some(x)), order.key(Some(y))) {
                    return Ok(Some(kx.cmp(&ky)));
                }
                return Ok(Some(x.cmp(y)));
            }
            return Ok(Some(order.key(Some(x))?.cmp(&order.key(Some(y))?)));
        }
        let (Some(x), Some(y)) = (self.number(a)?, self.number(b)?) else {
            return Ok(None);
        };
        Ok(Some(match (x, y) {
            (Num::Exact(x), Num::Exact(y)) => x.cmp(&y),
            (x, y) => approx(&x).total_cmp(&approx(&y)),
        }))
    }

    fn number(&self, v: &Val<'_>) -> Result<Option<Num>, MergeError> {
        Ok(Some(match v {
            Val::Null => return Ok(None),
            Val::Bool(b) => Num::Exact(BigDecimal::from(u8::from(*b))),
            Val::Number(n) => match parse_decimal(n) {
                Some(d) => Num::Exact(d),
                None => Num::Approx(leading_double(n)),
            },
            Val::Str(s) => Num::Approx(leading_double(s)),
            Val::Column(i, bytes) => {
                let text = String::from_utf8_lossy(bytes);
                match self.order(*i)?.kind {
                    Kind::Integer | Kind::Decimal => match parse_decimal(&text) {
                        Some(d) => Num::Exact(d),
                        None => Num::Approx(leading_double(&text)),
                    },
                    _ => Num::Approx(leading_double(&text)),
                }
            }
        }))
    }
}

fn approx(n: &Num) -> f64 {
    match n {
        Num::Exact(d) => d.to_f64().unwrap_or(f64::NAN),
        Num::Approx(f) => *f,
    }
}

fn holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o.is_eq(),
        CompareOp::NotEq => o.is_ne(),
        CompareOp::Lt => o.is_lt(),
        CompareOp::LtEq => o.is_le(),
        CompareOp::Gt => o.is_gt(),
        CompareOp::GtEq => o.is_ge(),
    }
}

/// A string as the server converts it to a double: its longest numeric prefix, else 0.
pub fn leading_double(s: &str) -> f64 {
    let t = s.trim_start();
    let b = t.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut end = if matches!(b.first(), Some(b'+' | b'-')) {
        1
    } else {
        0
    };
    let int_end = digits(end);
    let mut has_digits = int_end > end;
    end = int_end;
    if b.get(end) == Some(&b'.') {
        let frac_end = digits(end + 1);
        has_digits |= frac_end > end + 1;
        end = frac_end;
    }
    if !has_digits {
        return 0.0;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
        let exp_end = digits(end + 1 + sign);
        if exp_end > end + 1 + sign {
            end = exp_end;
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

/// Records the comparison rules of every column an expression refers to.
fn collect(
    e: &Expr,
    columns: &[ColumnDef],
    orders: &mut [Option<ColumnOrder>],
) -> Result<(), MergeError> {
    match e {
        Expr::Column(i) => {
            let col = columns.get(*i).ok_or(MergeError::NoSuchColumn {
                index: *i,
                columns: columns.len(),
            })?;
            orders[*i] = Some(ColumnOrder::for_column(col)?);
        }
        Expr::Literal(_) => {}
        Expr::Compare(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
            collect(a, columns, orders)?;
            collect(b, columns, orders)?;
        }
        Expr::Not(a) | Expr::IsNull { expr: a, .. } => collect(a, columns, orders)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests;
