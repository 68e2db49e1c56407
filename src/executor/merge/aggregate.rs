//! Recombining per-shard aggregates: COUNT and SUM add up, MIN/MAX keep the winning cell,
//! AVG divides the summed hidden SUM by the summed hidden COUNT.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, Signed, Zero};

use super::format::{format_decimal, format_double};
use super::key::{ColumnOrder, Key, parse_decimal, parse_float};
use super::row::Row;
use super::{ColumnDef, MergeError};
use crate::router::shard::plan::{AggKind, Aggregate};

/// A running sum: exact for integer/decimal columns, f64 for FLOAT/DOUBLE ones.
#[derive(Debug, Clone)]
enum Sum {
    Exact(Option<BigDecimal>),
    Approx(Option<f64>),
}

impl Sum {
    fn new(col: &ColumnDef) -> Self {
        if col.is_float() {
            Sum::Approx(None)
        } else {
            Sum::Exact(None)
        }
    }

    /// Adds a cell; NULL adds nothing (the sum stays NULL if every cell is NULL).
    fn add(&mut self, cell: Option<&[u8]>, col: &ColumnDef) -> Result<(), MergeError> {
        let Some(v) = cell else { return Ok(()) };
        let text = String::from_utf8_lossy(v);
        let bad = |expected| MergeError::BadValue {
            column: col.name.clone(),
            value: text.to_string(),
            expected,
        };
        match self {
            Sum::Exact(total) => {
                let x = parse_decimal(&text).ok_or_else(|| bad("decimal"))?;
                *total = Some(total.take().map_or(x.clone(), |t| t + x));
            }
            Sum::Approx(total) => {
                let x = parse_float(&text).ok_or_else(|| bad("double"))?;
                *total = Some(total.map_or(x, |t| t + x));
            }
        }
        Ok(())
    }
}

/// What one aggregate column holds while groups are combined.
#[derive(Debug, Clone)]
enum State {
    Count(i128),
    Sum(Sum),
    Extreme { best: Option<(Key, Vec<u8>)> },
    Avg { sum: Sum, count: i128 },
}

/// One aggregate of the merge with what it needs to combine and print.
#[derive(Debug, Clone)]
pub struct AggPlan {
    agg: Aggregate,
    /// MIN/MAX comparison rules.
    order: Option<ColumnOrder>,
}

/// The combined state of every aggregate of one group.
#[derive(Debug, Clone)]
pub struct Accumulators(Vec<State>);

fn column(columns: &[ColumnDef], index: usize) -> Result<&ColumnDef, MergeError> {
    columns.get(index).ok_or(MergeError::NoSuchColumn {
        index,
        columns: columns.len(),
    })
}

fn count_cell(cell: Option<&[u8]>, col: &ColumnDef) -> Result<i128, MergeError> {
    let Some(v) = cell else { return Ok(0) };
    let text = String::from_utf8_lossy(v);
    text.parse().map_err(|_| MergeError::BadValue {
        column: col.name.clone(),
        value: text.to_string(),
        expected: "count",
    })
}

impl AggPlan {
    /// Checks the columns an aggregate refers to and prepares MIN/MAX comparisons.
    pub fn new(agg: Aggregate, columns: &[ColumnDef]) -> Result<Self, MergeError> {
        let col = column(columns, agg.column)?;
        if let AggKind::Avg { sum, count } = agg.kind {
            column(columns, sum)?;
            column(columns, count)?;
        }
        let order = match agg.kind {
            AggKind::Min | AggKind::Max => Some(ColumnOrder::for_column(col)?),
            _ => None,
        };
        Ok(AggPlan { agg, order })
    }

    /// The column holding this aggregate.
    pub fn column(&self) -> usize {
        self.agg.column
    }

    pub fn kind(&self) -> AggKind {
        self.agg.kind
    }
}

impl Accumulators {
    /// Empty states for the given aggregates.
    pub fn new(plans: &[AggPlan], columns: &[ColumnDef]) -> Self {
        Accumulators(
            plans
                .iter()
                .map(|p| match p.agg.kind {
                    AggKind::Count => State::Count(0),
                    AggKind::Sum => State::Sum(Sum::new(&columns[p.agg.column])),
                    AggKind::Min | AggKind::Max => State::Extreme { best: None },
                    AggKind::Avg { sum, .. } => State::Avg {
                        sum: Sum::new(&columns[sum]),
                        count: 0,
                    },
                })
                .collect(),
        )
    }

    /// Folds one shard row of the group in.
    pub fn add(
        &mut self,
        plans: &[AggPlan],
        columns: &[ColumnDef],
        row: &Row,
    ) -> Result<(), MergeError> {
        for (state, plan) in self.0.iter_mut().zip(plans) {
            let c = plan.agg.column;
            match state {
                State::Count(n) => *n += count_cell(row.cell(c), &columns[c])?,
                State::Sum(s) => s.add(row.cell(c), &columns[c])?,
                State::Extreme { best } => {
                    let (Some(order), Some(v)) = (&plan.order, row.cell(c)) else {
                        continue;
                    };
                    let key = order.key(Some(v))?;
                    let wins = match best {
                        None => true,
                        Some((b, _)) if plan.agg.kind == AggKind::Min => key < *b,
                        Some((b, _)) => key > *b,
                    };
                    if wins {
                        *best = Some((key, v.to_vec()));
                    }
                }
                State::Avg { sum, count } => {
                    if let AggKind::Avg { sum: s, count: n } = plan.agg.kind {
                        sum.add(row.cell(s), &columns[s])?;
                        *count += count_cell(row.cell(n), &columns[n])?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the combined values into the group's row.
    pub fn finish(
        self,
        plans: &[AggPlan],
        columns: &[ColumnDef],
        row: &mut Row,
    ) -> Result<(), MergeError> {
        for (state, plan) in self.0.into_iter().zip(plans) {
            let col = &columns[plan.agg.column];
            let value = match state {
                State::Count(n) => Some(n.to_string()),
                State::Sum(Sum::Exact(total)) => total.map(|t| format_decimal(&t, col.decimals)),
                State::Sum(Sum::Approx(total)) => total.map(|t| format_double(t, col.decimals)),
                State::Extreme { best } => {
                    set(row, plan.agg.column, best.map(|(_, v)| v));
                    continue;
                }
                State::Avg { sum, count } => average(sum, count, col)?,
            };
            set(row, plan.agg.column, value.map(String::into_bytes));
        }
        Ok(())
    }
}

fn set(row: &mut Row, column: usize, value: Option<Vec<u8>>) {
    if let Some(cell) = row.cells.get_mut(column) {
        *cell = value;
    }
}

/// sum / count printed as the AVG column: NULL for no rows, a double for a DOUBLE column,
/// else the exact quotient rounded half away from zero to the column's decimals.
fn average(sum: Sum, count: i128, col: &ColumnDef) -> Result<Option<String>, MergeError> {
    if count == 0 {
        return Ok(None);
    }
    let exact = match sum {
        Sum::Exact(None) | Sum::Approx(None) => return Ok(None),
        Sum::Approx(Some(s)) => {
            return Ok(Some(format_double(s / count as f64, col.decimals)));
        }
        Sum::Exact(Some(s)) => s,
    };
    if col.is_float() {
        let s = exact.to_string().parse::<f64>().unwrap_or(f64::NAN);
        return Ok(Some(format_double(s / count as f64, col.decimals)));
    }
    Ok(Some(format_decimal(
        &div_round(&exact, count, col.decimals)?,
        col.decimals,
    )))
}

/// `sum / count` rounded half away from zero to `decimals` digits, computed exactly.
pub fn div_round(sum: &BigDecimal, count: i128, decimals: u8) -> Result<BigDecimal, MergeError> {
    let step = BigDecimal::from_str(&format!("1e-{decimals}"))
        .map_err(|_| MergeError::Malformed("decimals"))?;
    let den = BigDecimal::from(count.abs()) * &step;
    let num = sum.abs();
    // An approximate quotient (in units of `step`), then corrected to the exact floor.
    let mut q = (&num / BigDecimal::from(count.abs()))
        .with_scale_round(i64::from(decimals), RoundingMode::Down);
    let mut rem = &num - &q * BigDecimal::from(count.abs());
    while rem.is_negative() {
        q -= &step;
        rem += &den;
    }
    while rem >= den {
        q += &step;
        rem -= &den;
    }
    if &rem + &rem >= den {
        q += &step;
    }
    let negative = sum.is_negative() != (count < 0);
    Ok(if negative && !q.is_zero() { -q } else { q })
}

#[cfg(test)]
mod tests;
