use super::*;
use crate::executor::merge::column::{test_column, types};
use crate::executor::merge::row::row;

fn cols() -> Vec<ColumnDef> {
    vec![
        test_column("cnt", 63, types::LONGLONG, 0, 0),
        test_column("name", 45, types::VAR_STRING, 0, 0),
        test_column("avg", 63, types::DOUBLE, 0, 31),
        test_column("code", 45, types::VAR_STRING, 0, 0),
    ]
}

fn col(i: usize) -> Box<Expr> {
    Box::new(Expr::Column(i))
}

fn num(n: &str) -> Box<Expr> {
    Box::new(Expr::Literal(Literal::Number(n.into())))
}

fn string(s: &str) -> Box<Expr> {
    Box::new(Expr::Literal(Literal::String(s.into())))
}

fn cmp(op: CompareOp, a: Box<Expr>, b: Box<Expr>) -> Expr {
    Expr::Compare(op, a, b)
}

fn accepts(e: &Expr, r: &Row) -> bool {
    Having::new(e, &cols())
        .expect("having")
        .accepts(r)
        .expect("eval")
}

#[test]
fn numeric_columns_compare_numerically() {
    let e = cmp(CompareOp::Gt, col(0), num("9"));
    assert!(accepts(&e, &row(&[Some("10"), None, None, None])));
    assert!(!accepts(&e, &row(&[Some("9"), None, None, None])));
    let e = cmp(CompareOp::GtEq, col(2), num("0.5"));
    assert!(accepts(&e, &row(&[None, None, Some("0.5"), None])));
}

#[test]
fn string_columns_compare_by_collation() {
    let e = cmp(CompareOp::Eq, col(1), string("ALICE "));
    assert!(accepts(&e, &row(&[None, Some("alice"), None, None])));
    // '10' < '9' as strings
    let e = cmp(CompareOp::Lt, col(3), string("9"));
    assert!(accepts(&e, &row(&[None, None, None, Some("10")])));
    // against a number a string converts to a double
    let e = cmp(CompareOp::Gt, col(3), num("9"));
    assert!(accepts(&e, &row(&[None, None, None, Some("10abc")])));
}

#[test]
fn null_makes_comparisons_unknown() {
    let r = row(&[None, Some("x"), None, None]);
    let unknown = cmp(CompareOp::Gt, col(0), num("1"));
    assert!(!accepts(&unknown, &r));
    assert!(
        !accepts(&Expr::Not(Box::new(unknown.clone())), &r),
        "NOT unknown is unknown"
    );
    let or = Expr::Or(
        Box::new(unknown.clone()),
        Box::new(cmp(CompareOp::Eq, col(1), string("X"))),
    );
    assert!(accepts(&or, &r), "unknown OR true");
    let and = Expr::And(
        Box::new(unknown.clone()),
        Box::new(cmp(CompareOp::Eq, col(1), string("y"))),
    );
    assert!(
        accepts(&Expr::Not(Box::new(and)), &r),
        "NOT (unknown AND false) is true"
    );
    assert!(accepts(
        &Expr::IsNull {
            expr: col(0),
            negated: false
        },
        &r
    ));
    assert!(!accepts(
        &Expr::IsNull {
            expr: col(1),
            negated: false
        },
        &r
    ));
    assert!(accepts(
        &Expr::IsNull {
            expr: Box::new(unknown),
            negated: false
        },
        &r
    ));
    assert!(!accepts(
        &cmp(
            CompareOp::Eq,
            num("1"),
            Box::new(Expr::Literal(Literal::Null))
        ),
        &r
    ));
}

#[test]
fn bare_values_are_true_when_non_zero() {
    assert!(accepts(
        &Expr::Column(0),
        &row(&[Some("3"), None, None, None])
    ));
    assert!(!accepts(
        &Expr::Column(0),
        &row(&[Some("0"), None, None, None])
    ));
    assert!(!accepts(&Expr::Column(0), &row(&[None, None, None, None])));
}

#[test]
fn leading_double_reads_a_prefix() {
    assert_eq!(leading_double(" 12.5abc"), 12.5);
    assert_eq!(leading_double("-3e2x"), -300.0);
    assert_eq!(leading_double("1e"), 1.0);
    assert_eq!(leading_double("abc"), 0.0);
    assert_eq!(leading_double("."), 0.0);
}

#[test]
fn unknown_columns_are_refused() {
    assert!(Having::new(&Expr::Column(9), &cols()).is_err());
}
