//! Sharding-key constraints of a WHERE clause: which key values (or ranges) a statement can
//! touch, kept as a tree so that a prepared statement's shape is evaluated again with each
//! execution's parameters.

use std::collections::BTreeSet;
use std::ops::Bound;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use super::super::error::ShardError;
use super::super::keys::{self, KeyValue};
use crate::config::{KeyType, TableRule};

/// A literal the key is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLit {
    /// A number as written, sign included.
    Number(String),
    Str(String),
    /// The n-th `?` of a prepared statement (0-based).
    Param(usize),
    Null,
}

/// The key values a predicate admits.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// Any key (no usable condition).
    All,
    Values(Vec<KeyLit>),
    Range(Bound<KeyLit>, Bound<KeyLit>),
    And(Vec<Constraint>),
    Or(Vec<Constraint>),
}

/// An execution's parameter values (COM_STMT_EXECUTE, or the literals of a text statement
/// whose cached shape has `?`s in their place); empty for other text statements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params(pub Vec<ParamValue>);

#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Null,
    Int(i128),
    Str(String),
    /// A type the key cannot be (floats, dates, blobs): no narrowing possible.
    Other,
    /// A literal taken out of a text statement (its shape is cached with a `?` in its place):
    /// read exactly as the literal would be in the text.
    Lit(KeyLit),
}

/// A set of slots; `None` is every slot.
pub type Slots = Option<BTreeSet<usize>>;

/// Reads the constraint `expr` puts on the key; `is_key` recognises a reference to it and
/// `param` numbers placeholders.
pub fn extract(
    expr: &Expr,
    is_key: &dyn Fn(&Expr) -> bool,
    param: &dyn Fn(&Expr) -> Option<usize>,
) -> Constraint {
    let lit = |e: &Expr| literal(e, param);
    match expr {
        Expr::Nested(inner) => extract(inner, is_key, param),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => Constraint::And(vec![
                extract(left, is_key, param),
                extract(right, is_key, param),
            ]),
            BinaryOperator::Or => Constraint::Or(vec![
                extract(left, is_key, param),
                extract(right, is_key, param),
            ]),
            _ => {
                let (op, value) = if is_key(left) {
                    (op.clone(), lit(right))
                } else if is_key(right) {
                    (flip(op), lit(left))
                } else {
                    return Constraint::All;
                };
                let Some(v) = value else {
                    return Constraint::All;
                };
                use Bound::{Excluded, Included, Unbounded};
                match op {
                    BinaryOperator::Eq => Constraint::Values(vec![v]),
                    BinaryOperator::Lt => Constraint::Range(Unbounded, Excluded(v)),
                    BinaryOperator::LtEq => Constraint::Range(Unbounded, Included(v)),
                    BinaryOperator::Gt => Constraint::Range(Excluded(v), Unbounded),
                    BinaryOperator::GtEq => Constraint::Range(Included(v), Unbounded),
                    _ => Constraint::All,
                }
            }
        },
        Expr::InList {
            expr,
            list,
            negated: false,
        } if is_key(expr) => {
            let values: Option<Vec<KeyLit>> = list.iter().map(lit).collect();
            values.map_or(Constraint::All, Constraint::Values)
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } if is_key(expr) => match (lit(low), lit(high)) {
            (Some(lo), Some(hi)) => Constraint::Range(Bound::Included(lo), Bound::Included(hi)),
            _ => Constraint::All,
        },
        _ => Constraint::All,
    }
}

fn flip(op: &BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        other => other.clone(),
    }
}

/// The literal an expression is, if it is one the router can route by.
pub fn literal(e: &Expr, param: &dyn Fn(&Expr) -> Option<usize>) -> Option<KeyLit> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(KeyLit::Number(n.clone())),
            Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::NationalStringLiteral(s) => Some(KeyLit::Str(s.clone())),
            Value::Null => Some(KeyLit::Null),
            Value::Placeholder(_) => param(e).map(KeyLit::Param),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match &**expr {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) if !n.starts_with('-') => Some(KeyLit::Number(format!("-{n}"))),
                _ => None,
            },
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => literal(expr, param),
        Expr::Nested(inner) => literal(inner, param),
        _ => None,
    }
}

/// What a literal is once parameters are known: `None` for NULL (matches no key).
enum Resolved {
    Null,
    Int(i128),
    Str(String),
    /// Cannot be narrowed (not a key-shaped value).
    Unknown,
}

fn resolve(rule: &TableRule, lit: &KeyLit, params: &Params) -> Result<Resolved, ShardError> {
    Ok(match lit {
        KeyLit::Null => Resolved::Null,
        KeyLit::Number(n) => match KeyValue::from_number(n).map_err(|e| e.for_table(rule))? {
            KeyValue::Int(i) => Resolved::Int(i),
            KeyValue::Str(s) => Resolved::Str(s.to_string()),
        },
        KeyLit::Str(s) => Resolved::Str(s.clone()),
        KeyLit::Param(i) => match params.0.get(*i) {
            Some(ParamValue::Null) => Resolved::Null,
            Some(ParamValue::Int(v)) => Resolved::Int(*v),
            Some(ParamValue::Str(s)) => Resolved::Str(s.clone()),
            Some(ParamValue::Lit(KeyLit::Param(_))) | Some(ParamValue::Other) | None => {
                Resolved::Unknown
            }
            Some(ParamValue::Lit(lit)) => resolve(rule, lit, params)?,
        },
    })
}

/// The slot of one literal value (for equality and INSERT rows); `Ok(None)` for NULL.
pub fn slot_of(
    rule: &TableRule,
    lit: &KeyLit,
    params: &Params,
) -> Result<Option<usize>, ShardError> {
    let slot = match resolve(rule, lit, params)? {
        Resolved::Null => return Ok(None),
        Resolved::Int(i) => keys::slot_of(rule, &KeyValue::Int(i))?,
        Resolved::Str(s) => keys::slot_of(rule, &KeyValue::Str(&s))?,
        Resolved::Unknown => {
            return Err(ShardError::unsupported(
                std::slice::from_ref(&rule.name),
                format!(
                    "a parameter for sharding key {} of a type that cannot be a key",
                    rule.key
                ),
            ));
        }
    };
    Ok(Some(slot))
}

impl Constraint {
    /// The slots this constraint allows for `rule`.
    pub fn slots(&self, rule: &TableRule, params: &Params) -> Result<Slots, ShardError> {
        match self {
            Constraint::All => Ok(None),
            Constraint::Values(values) => {
                let mut set = BTreeSet::new();
                for v in values {
                    if let Some(slot) = slot_of(rule, v, params)? {
                        set.insert(slot);
                    }
                }
                Ok(Some(set))
            }
            Constraint::Range(lo, hi) => {
                if rule.key_type == KeyType::String {
                    return Ok(None);
                }
                let (Some(lo), Some(hi)) =
                    (int_bound(rule, lo, params), int_bound(rule, hi, params))
                else {
                    return Ok(None);
                };
                Ok(keys::slots_between(rule, lo, hi).map(|v| v.into_iter().collect()))
            }
            Constraint::And(parts) => {
                let mut acc: Slots = None;
                for p in parts {
                    acc = match (acc, p.slots(rule, params)?) {
                        (None, s) | (s, None) => s,
                        (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
                    };
                }
                Ok(acc)
            }
            Constraint::Or(parts) => {
                let mut acc = BTreeSet::new();
                for p in parts {
                    match p.slots(rule, params)? {
                        None => return Ok(None),
                        Some(s) => acc.extend(s),
                    }
                }
                Ok(Some(acc))
            }
        }
    }
}

/// An integer bound for range narrowing; `None` when the value is not an integer.
fn int_bound(rule: &TableRule, b: &Bound<KeyLit>, params: &Params) -> Option<Bound<i128>> {
    let int = |lit: &KeyLit| match resolve(rule, lit, params).ok()? {
        Resolved::Int(i) => Some(i),
        _ => None,
    };
    Some(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(l) => Bound::Included(int(l)?),
        Bound::Excluded(l) => Bound::Excluded(int(l)?),
    })
}
