use super::*;
use crate::executor::merge::column::{test_column, types};
use crate::executor::merge::row::row;
use crate::router::shard::plan::{Aggregate, CompareOp, Expr, Literal, SortKey};

fn run(spec: &MergeSpec, columns: &[ColumnDef], rows: &[Row]) -> Vec<Vec<Option<String>>> {
    let mut m = Materialiser::new(spec, columns).expect("materialiser");
    for r in rows {
        m.push(r.clone()).expect("push");
    }
    m.finish()
        .expect("finish")
        .into_iter()
        .map(|r| {
            r.cells
                .into_iter()
                .map(|c| c.map(|v| String::from_utf8_lossy(&v).into_owned()))
                .collect()
        })
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// `SELECT name, COUNT(*), SUM(amount), AVG(amount) ... GROUP BY name`, with the AVG's
/// hidden SUM and COUNT appended.
fn grouped_columns() -> Vec<ColumnDef> {
    vec![
        test_column("name", 45, types::VAR_STRING, 0, 0),
        test_column("cnt", 63, types::LONGLONG, 0, 0),
        test_column("total", 63, types::NEWDECIMAL, 0, 2),
        test_column("avg", 63, types::NEWDECIMAL, 0, 6),
        test_column("h_sum", 63, types::NEWDECIMAL, 0, 2),
        test_column("h_cnt", 63, types::LONGLONG, 0, 0),
    ]
}

fn grouped_spec() -> MergeSpec {
    MergeSpec {
        visible: 4,
        group_by: vec![0],
        aggregates: vec![
            Aggregate {
                column: 1,
                kind: AggKind::Count,
            },
            Aggregate {
                column: 2,
                kind: AggKind::Sum,
            },
            Aggregate {
                column: 3,
                kind: AggKind::Avg { sum: 4, count: 5 },
            },
        ],
        ..MergeSpec::default()
    }
}

fn g(name: &str, cnt: &str, total: &str) -> Row {
    row(&[
        Some(name),
        Some(cnt),
        Some(total),
        Some("ignored"),
        Some(total),
        Some(cnt),
    ])
}

#[test]
fn groups_combine_under_the_collation_and_sort_by_group() {
    let rows = [
        g("b", "1", "1.00"),
        g("a", "2", "-5.50"),
        g("A ", "1", "2.25"),
        g("B", "3", "3.00"),
    ];
    let out = run(&grouped_spec(), &grouped_columns(), &rows);
    assert_eq!(
        out,
        [
            vec![s("a"), s("3"), s("-3.25"), s("-1.083333")],
            vec![s("b"), s("4"), s("4.00"), s("1.000000")],
        ]
    );
}

#[test]
fn having_order_and_window_after_grouping() {
    let mut spec = grouped_spec();
    spec.having = Some(Expr::Compare(
        CompareOp::Gt,
        Box::new(Expr::Column(1)),
        Box::new(Expr::Literal(Literal::Number("1".into()))),
    ));
    spec.order_by = vec![SortKey {
        column: 2,
        descending: true,
    }];
    spec.offset = 1;
    spec.limit = Some(1);
    let rows = [
        g("x", "5", "1.00"),
        g("y", "1", "9.00"),
        g("z", "2", "7.00"),
        g("w", "2", "3.00"),
    ];
    let out = run(&spec, &grouped_columns(), &rows);
    // groups with cnt > 1: x (1.00), z (7.00), w (3.00); by total desc: z, w, x; offset 1 limit 1
    assert_eq!(out, [vec![s("w"), s("2"), s("3.00"), s("1.500000")]]);
}

#[test]
fn having_with_null_drops_the_group() {
    let cols = vec![
        test_column("k", 63, types::LONG, 0, 0),
        test_column("m", 63, types::LONG, 0, 0),
    ];
    let spec = MergeSpec {
        visible: 2,
        group_by: vec![0],
        aggregates: vec![Aggregate {
            column: 1,
            kind: AggKind::Max,
        }],
        having: Some(Expr::Compare(
            CompareOp::NotEq,
            Box::new(Expr::Column(1)),
            Box::new(Expr::Literal(Literal::Number("0".into()))),
        )),
        ..MergeSpec::default()
    };
    let rows = [
        row(&[Some("1"), None]),
        row(&[Some("2"), Some("5")]),
        row(&[Some("1"), None]),
    ];
    assert_eq!(run(&spec, &cols, &rows), [vec![s("2"), s("5")]]);
}

#[test]
fn aggregates_without_group_by_make_one_row() {
    let cols = vec![
        test_column("cnt", 63, types::LONGLONG, 0, 0),
        test_column("mx", 63, types::LONG, 0, 0),
    ];
    let spec = MergeSpec {
        visible: 2,
        aggregates: vec![
            Aggregate {
                column: 0,
                kind: AggKind::Count,
            },
            Aggregate {
                column: 1,
                kind: AggKind::Max,
            },
        ],
        ..MergeSpec::default()
    };
    let rows = [row(&[Some("0"), None]), row(&[Some("2"), Some("7")])];
    assert_eq!(run(&spec, &cols, &rows), [vec![s("2"), s("7")]]);
    let zero = [row(&[Some("0"), None]), row(&[Some("0"), None])];
    assert_eq!(run(&spec, &cols, &zero), [vec![s("0"), None]]);
    assert_eq!(run(&spec, &cols, &[]), [vec![s("0"), None]]);
}

#[test]
fn distinct_under_general_ci_keeps_the_first() {
    let cols = vec![
        test_column("name", 45, types::VAR_STRING, 0, 0),
        test_column("hidden", 63, types::LONG, 0, 0),
    ];
    let spec = MergeSpec {
        visible: 1,
        distinct: true,
        order_by: vec![SortKey {
            column: 1,
            descending: false,
        }],
        ..MergeSpec::default()
    };
    let rows = [
        row(&[Some("b"), Some("2")]),
        row(&[Some("a"), Some("3")]),
        row(&[Some("A "), Some("1")]),
        row(&[Some("é"), Some("0")]),
        row(&[Some("E"), Some("9")]),
    ];
    assert_eq!(
        run(&spec, &cols, &rows),
        [vec![s("é")], vec![s("b")], vec![s("a")]]
    );
}

#[test]
fn distinct_on_unsupported_collation_is_refused() {
    let cols = vec![test_column("name", 255, types::VAR_STRING, 0, 0)];
    let spec = MergeSpec {
        visible: 1,
        distinct: true,
        ..MergeSpec::default()
    };
    assert!(matches!(
        Materialiser::new(&spec, &cols),
        Err(MergeError::UnsupportedCollation { collation: 255, .. })
    ));
}

#[test]
fn non_aggregate_columns_take_the_first_row() {
    let cols = vec![
        test_column("k", 63, types::LONG, 0, 0),
        test_column("any", 63, types::LONG, 0, 0),
        test_column("cnt", 63, types::LONGLONG, 0, 0),
    ];
    let spec = MergeSpec {
        visible: 3,
        group_by: vec![0],
        aggregates: vec![Aggregate {
            column: 2,
            kind: AggKind::Count,
        }],
        ..MergeSpec::default()
    };
    let rows = [
        row(&[Some("1"), Some("first"), Some("1")]),
        row(&[Some("1"), Some("second"), Some("1")]),
    ];
    assert_eq!(run(&spec, &cols, &rows), [vec![s("1"), s("first"), s("2")]]);
}
