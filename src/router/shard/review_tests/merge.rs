//! Merge specs of scatter reads: ORDER BY positions and aliases, GROUP BY names, aggregates and
//! their helpers.

use super::super::plan::ShardedKind;
use super::{refused, route, scatter};

// ---------------------------------------------------------------------------------------
// Bugs: wrong answers (rows from the wrong shard, partial results, wrong writes).
// ---------------------------------------------------------------------------------------

/// `ORDER BY 2` after GROUP BY is still a column position.
#[test]
fn order_by_position_after_group_by() {
    let (spec, sqls) =
        scatter("SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY 2 DESC");
    assert_eq!(spec.order_by.len(), 1);
    assert_eq!(spec.order_by[0].column, 1, "{spec:?}");
    assert!(spec.order_by[0].descending);
    assert!(!sqls[0].contains("COUNT(*), 2"), "{}", sqls[0]);
}

/// MySQL: in GROUP BY a FROM-clause column overshadows a select alias of the same name
/// (warning 1052); the groups are per orders.user_id, not per status.
#[test]
fn group_by_column_shadowed_by_alias() {
    match route("SELECT status AS user_id, COUNT(*) FROM orders GROUP BY user_id") {
        Err(_) => {}
        Ok(p) => {
            let ShardedKind::Scatter(spec) = &p.kind else {
                panic!("{p:?}")
            };
            assert_ne!(spec.group_by, vec![0], "merged by the status column: {p:?}");
        }
    }
}

/// MySQL ORDER BY resolves a name to the select alias first: `ORDER BY amount` sorts by
/// the item aliased `amount` (column 1), not by the item whose expression is `amount`.
#[test]
fn order_by_alias_wins_over_expression() {
    let (spec, _) = scatter("SELECT amount AS id, id AS amount FROM orders ORDER BY amount");
    assert_eq!(spec.order_by[0].column, 1, "{spec:?}");
    let (spec, _) = scatter("SELECT amount AS id, id AS amount FROM orders ORDER BY id");
    assert_eq!(spec.order_by[0].column, 0, "{spec:?}");
}

/// AVG(x) across shards is SUM(x)/COUNT(x) of the same x.
#[test]
fn avg_helpers_use_the_whole_argument() {
    match route("SELECT status, AVG(-amount) FROM orders GROUP BY status") {
        Err(_) => {}
        Ok(p) => assert!(
            p.targets[0].sql.contains("SUM(-amount), COUNT(-amount)"),
            "{}",
            p.targets[0].sql
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Bugs: failures that are not a refusal naming the limitation (broken shard SQL, server
// errors a single server would not give) and unnecessary refusals.
// ---------------------------------------------------------------------------------------

/// An aggregate inside a scalar subquery is not an aggregate of the outer query.
#[test]
fn aggregate_inside_a_scalar_subquery() {
    let (spec, _) = scatter("SELECT id, (SELECT COUNT(*) FROM countries) FROM orders");
    assert!(spec.aggregates.is_empty());
}

// ---------------------------------------------------------------------------------------
// Checked and fine.
// ---------------------------------------------------------------------------------------

#[test]
fn merge_specs() {
    let (spec, sqls) = scatter("SELECT status, COUNT(*) AS n FROM orders GROUP BY 1 ORDER BY n");
    assert_eq!(
        (spec.group_by.clone(), spec.order_by[0].column),
        (vec![0], 1)
    );
    assert_eq!(
        sqls[0],
        "SELECT status, COUNT(*) AS n FROM orders_0000 GROUP BY 1 ORDER BY n"
    );
    let (spec, sqls) = scatter("SELECT id FROM orders ORDER BY 1 LIMIT 10 OFFSET 5");
    assert_eq!((spec.offset, spec.limit), (5, Some(10)));
    assert_eq!(sqls[0], "SELECT id FROM orders_0000 ORDER BY 1 LIMIT 15");
    let (spec, sqls) = scatter("SELECT id FROM orders ORDER BY 1 LIMIT 5, 10");
    assert_eq!((spec.offset, spec.limit), (5, Some(10)));
    assert_eq!(sqls[0], "SELECT id FROM orders_0000 ORDER BY 1 LIMIT 15");
    let (spec, _) = scatter("SELECT id FROM orders LIMIT 0");
    assert_eq!(spec.limit, Some(0));
    let (spec, sqls) = scatter("SELECT DISTINCT status FROM orders ORDER BY status LIMIT 2");
    assert!(spec.distinct && spec.limit == Some(2));
    assert!(!sqls[0].contains("LIMIT"));
    let (spec, sqls) = scatter(
        "SELECT COUNT(1), SUM(amount) AS s, MIN(DISTINCT amount), MAX(amount) m FROM orders",
    );
    assert_eq!(spec.aggregates.len(), 4);
    assert_eq!(
        sqls[0],
        "SELECT COUNT(1), SUM(amount) AS s, MIN(DISTINCT amount), MAX(amount) m FROM orders_0000"
    );
    let (spec, _) = scatter("SELECT status, COUNT(*) c FROM orders GROUP BY status HAVING c > 1");
    assert!(spec.having.is_some());
    let (spec, sqls) = scatter(
        "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY COUNT(*) DESC LIMIT 3",
    );
    assert_eq!((spec.order_by[0].column, spec.limit), (1, Some(3)));
    assert!(!sqls[0].contains("LIMIT"));
    let (spec, _) = scatter("SELECT COUNT(*) FROM orders LIMIT 1 OFFSET 1");
    assert_eq!((spec.offset, spec.limit), (1, Some(1)));
    let (spec, sqls) =
        scatter("SELECT MAX(amount) AS amount FROM orders GROUP BY status ORDER BY amount");
    assert_eq!(
        (spec.order_by[0].column, spec.group_by.clone()),
        (0, vec![1])
    );
    assert_eq!(
        sqls[0],
        "SELECT MAX(amount) AS amount, status FROM orders_0000 GROUP BY status ORDER BY amount"
    );
    let (_, sqls) = scatter("SELECT orders.* FROM orders ORDER BY created");
    assert_eq!(
        sqls[0],
        "SELECT orders_0000.*, created FROM orders_0000 ORDER BY created"
    );
    let (spec, sqls) = scatter("SELECT id FROM orders ORDER BY status COLLATE utf8mb4_bin DESC");
    assert!(spec.order_by[0].descending);
    assert!(sqls[0].starts_with("SELECT id, status COLLATE utf8mb4_bin FROM"));
    let (spec, _) = scatter("SELECT id, -amount AS x FROM orders ORDER BY x");
    assert_eq!(spec.order_by[0].column, 1);
    let (_, sqls) = scatter("SELECT id FROM orders ORDER BY RAND() LIMIT 1");
    assert_eq!(
        sqls[0],
        "SELECT id, RAND() FROM orders_0000 ORDER BY RAND() LIMIT 1"
    );
    let (_, sqls) = scatter("SELECT id FROM orders ORDER BY id LIMIT 2 FOR UPDATE");
    assert_eq!(
        sqls[0],
        "SELECT id FROM orders_0000 ORDER BY id LIMIT 2 FOR UPDATE"
    );
    for sql in [
        "SELECT DISTINCT status FROM orders ORDER BY id",
        "SELECT SQL_CALC_FOUND_ROWS id FROM orders",
        "SELECT id INTO @x FROM orders LIMIT 1",
        "SELECT ROW_NUMBER() OVER w FROM orders WINDOW w AS (ORDER BY id)",
        "SELECT status, COUNT(*) FROM orders GROUP BY status WITH ROLLUP",
        "SELECT SUM(DISTINCT amount) FROM orders",
        "SELECT COUNT(DISTINCT amount) FROM orders",
        "SELECT AVG(DISTINCT amount) FROM orders",
        "SELECT JSON_ARRAYAGG(id) FROM orders",
        "SELECT id FROM orders HAVING id > 1",
        "SELECT id FROM orders LIMIT ?",
        "SELECT status, COUNT(*) FROM orders GROUP BY status HAVING NOT COUNT(*) > 1",
        "SELECT status, COUNT(*) FROM orders GROUP BY status HAVING COUNT(*) + 0 > 1",
        "SELECT * FROM orders WHERE user_id = 1 UNION ALL SELECT * FROM orders WHERE user_id = 2",
        "SELECT * FROM orders WHERE id IN (SELECT id FROM order_items WHERE user_id = 1 LIMIT 1)",
    ] {
        refused(sql);
    }
}
