use super::*;
use crate::executor::merge::column::{test_column, types};
use crate::executor::merge::row::row;

fn run(plans: &[Aggregate], columns: &[ColumnDef], rows: &[Row]) -> Row {
    let plans: Vec<AggPlan> = plans
        .iter()
        .map(|a| AggPlan::new(*a, columns).expect("plan"))
        .collect();
    let mut acc = Accumulators::new(&plans, columns);
    for r in rows {
        acc.add(&plans, columns, r).expect("add");
    }
    let mut out = rows[0].clone();
    acc.finish(&plans, columns, &mut out).expect("finish");
    out
}

fn agg(column: usize, kind: AggKind) -> Aggregate {
    Aggregate { column, kind }
}

fn text(r: &Row, i: usize) -> Option<String> {
    r.cell(i).map(|v| String::from_utf8_lossy(v).into_owned())
}

#[test]
fn decimal_sums_carry_and_go_negative() {
    let cols = [test_column("s", 63, types::NEWDECIMAL, 0, 2)];
    let rows = [row(&[Some("99.99")]), row(&[Some("0.01")]), row(&[None])];
    assert_eq!(
        text(&run(&[agg(0, AggKind::Sum)], &cols, &rows), 0).as_deref(),
        Some("100.00")
    );
    let rows = [row(&[Some("-5.25")]), row(&[Some("2.10")])];
    assert_eq!(
        text(&run(&[agg(0, AggKind::Sum)], &cols, &rows), 0).as_deref(),
        Some("-3.15")
    );
    let huge = "9".repeat(60);
    let rows = [row(&[Some(&huge)]), row(&[Some("1")])];
    let want = format!("1{}.00", "0".repeat(60));
    assert_eq!(
        text(&run(&[agg(0, AggKind::Sum)], &cols, &rows), 0),
        Some(want)
    );
}

#[test]
fn sum_is_null_only_when_every_input_is() {
    let cols = [test_column("s", 63, types::NEWDECIMAL, 0, 0)];
    let rows = [row(&[None]), row(&[None])];
    assert_eq!(text(&run(&[agg(0, AggKind::Sum)], &cols, &rows), 0), None);
}

#[test]
fn double_sums_print_shortest() {
    let cols = [test_column("s", 63, types::DOUBLE, 0, 31)];
    let rows = [row(&[Some("0.1")]), row(&[Some("0.2")])];
    let out = run(&[agg(0, AggKind::Sum)], &cols, &rows);
    assert_eq!(text(&out, 0).as_deref(), Some("0.30000000000000004"));
}

#[test]
fn counts_add_up() {
    let cols = [test_column("c", 63, types::LONGLONG, 0, 0)];
    let rows = [row(&[Some("3")]), row(&[Some("0")]), row(&[Some("4")])];
    assert_eq!(
        text(&run(&[agg(0, AggKind::Count)], &cols, &rows), 0).as_deref(),
        Some("7")
    );
}

#[test]
fn min_max_keep_the_winning_bytes() {
    let cols = [
        test_column("lo", 45, types::VAR_STRING, 0, 0),
        test_column("hi", 63, types::LONG, 0, 0),
    ];
    let rows = [
        row(&[Some("b"), Some("9")]),
        row(&[None, Some("10")]),
        row(&[Some("A"), None]),
    ];
    let out = run(&[agg(0, AggKind::Min), agg(1, AggKind::Max)], &cols, &rows);
    assert_eq!(text(&out, 0).as_deref(), Some("A"));
    assert_eq!(text(&out, 1).as_deref(), Some("10"));
}

#[test]
fn avg_rounds_half_away_from_zero() {
    let cols = [
        test_column("avg", 63, types::NEWDECIMAL, 0, 4),
        test_column("sum", 63, types::NEWDECIMAL, 0, 0),
        test_column("cnt", 63, types::LONGLONG, 0, 0),
    ];
    let avg = agg(0, AggKind::Avg { sum: 1, count: 2 });
    let cases = [
        (["1", "0"], ["1", "31"], Some("0.0313")),
        (["-1", "0"], ["1", "31"], Some("-0.0313")),
        (["2", "0"], ["1", "2"], Some("0.6667")),
        (["-2", "0"], ["1", "2"], Some("-0.6667")),
        (["1", "2"], ["1", "1"], Some("1.5000")),
        (["0", "0"], ["0", "0"], None),
    ];
    for (sums, counts, want) in cases {
        let rows: Vec<Row> = (0..2)
            .map(|i| row(&[Some("x"), Some(sums[i]), Some(counts[i])]))
            .collect();
        assert_eq!(
            text(&run(&[avg], &cols, &rows), 0).as_deref(),
            want,
            "{sums:?}/{counts:?}"
        );
    }
}

#[test]
fn avg_of_doubles_is_a_double() {
    let cols = [
        test_column("avg", 63, types::DOUBLE, 0, 31),
        test_column("sum", 63, types::DOUBLE, 0, 31),
        test_column("cnt", 63, types::LONGLONG, 0, 0),
    ];
    let avg = agg(0, AggKind::Avg { sum: 1, count: 2 });
    let rows = [
        row(&[Some("1.5"), Some("1.5"), Some("1")]),
        row(&[Some("0.1"), Some("0.1"), Some("1")]),
    ];
    assert_eq!(text(&run(&[avg], &cols, &rows), 0).as_deref(), Some("0.8"));
}

#[test]
fn bad_cells_are_errors() {
    let cols = [test_column("s", 63, types::NEWDECIMAL, 0, 0)];
    let plans = [AggPlan::new(agg(0, AggKind::Sum), &cols).expect("plan")];
    let mut acc = Accumulators::new(&plans, &cols);
    assert!(acc.add(&plans, &cols, &row(&[Some("abc")])).is_err());
    assert!(AggPlan::new(agg(4, AggKind::Sum), &cols).is_err());
}
