//! Joins of sharded tables: on their keys, under outer joins, and outer joins keeping broadcast
//! rows.

use super::super::plan::ShardedKind;
use super::{all_or_refused, refused, route, single, single_sql};

// ---------------------------------------------------------------------------------------
// Bugs: wrong answers (rows from the wrong shard, partial results, wrong writes).
// ---------------------------------------------------------------------------------------

/// An inner join nested inside the right side of a LEFT JOIN does not filter the preserved
/// (left) side: every order is returned, not only those of user 1.
#[test]
fn nested_inner_join_under_left_join_does_not_filter() {
    all_or_refused(
        "SELECT o.id FROM orders o LEFT JOIN (order_items i JOIN countries c \
         ON c.code = i.status AND i.user_id = 1) ON o.user_id = i.user_id",
    );
}

// ---------------------------------------------------------------------------------------
// Bugs: failures that are not a refusal naming the limitation (broken shard SQL, server
// errors a single server would not give) and unnecessary refusals.
// ---------------------------------------------------------------------------------------

/// STRAIGHT_JOIN is an inner join with a join order hint; on the keys it is fine.
#[test]
fn straight_join_on_keys() {
    assert_eq!(
        single("SELECT o.id FROM orders o STRAIGHT_JOIN order_items i ON o.user_id = i.user_id WHERE o.user_id = 1").0,
        0
    );
}

/// `USING (user_id)` joins on the key.
#[test]
fn join_using_the_key() {
    assert_eq!(
        single("SELECT o.id FROM orders o JOIN order_items i USING (user_id) WHERE o.user_id = 1")
            .0,
        0
    );
}

// ---------------------------------------------------------------------------------------
// Checked and fine.
// ---------------------------------------------------------------------------------------

#[test]
fn joins() {
    for sql in [
        "SELECT a.id FROM orders a JOIN orders b ON a.user_id = b.user_id OR a.id = b.id WHERE a.user_id = 3",
        "SELECT a.id FROM orders a, order_items b WHERE a.user_id = b.user_id OR a.id = b.order_id",
        "SELECT a.id FROM orders a CROSS JOIN order_items b WHERE a.user_id = 3",
        "SELECT a.id FROM orders a JOIN order_items b ON a.user_id = b.user_id LEFT JOIN orders c ON c.id = a.id WHERE a.user_id = 3",
        "SELECT o.id FROM orders o NATURAL JOIN order_items i WHERE o.user_id = 1",
        "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.user_id = o.user_id) AND o.user_id = 2",
        "SELECT * FROM orders WHERE user_id = 1 UNION ALL SELECT * FROM orders WHERE user_id = 2",
        "SELECT * FROM Orders o JOIN orders p ON o.user_id = p.user_id WHERE p.user_id = 1",
        "SELECT * FROM countries WHERE code IN (SELECT status FROM orders)",
        "SELECT * FROM notes WHERE x IN (SELECT status FROM orders WHERE user_id = 1)",
        "WITH x AS (SELECT * FROM orders WHERE user_id = 1) SELECT * FROM x",
    ] {
        refused(sql);
    }
    for (sql, want) in [
        (
            "SELECT a.id FROM orders a JOIN orders b ON a.user_id = b.user_id WHERE a.user_id = 3",
            "SELECT a.id FROM orders_0003 a JOIN orders_0003 b ON a.user_id = b.user_id WHERE a.user_id = 3",
        ),
        (
            "SELECT a.id FROM orders a, order_items b WHERE a.user_id = b.user_id AND a.user_id = 3",
            "SELECT a.id FROM orders_0003 a, order_items_0003 b WHERE a.user_id = b.user_id AND a.user_id = 3",
        ),
        (
            "SELECT o.id FROM orders o LEFT JOIN order_items i ON o.user_id = i.user_id WHERE i.user_id = 1",
            "SELECT o.id FROM orders_0001 o LEFT JOIN order_items_0001 i ON o.user_id = i.user_id WHERE i.user_id = 1",
        ),
        (
            "SELECT * FROM (SELECT * FROM orders WHERE user_id = 1) t",
            "SELECT * FROM (SELECT * FROM orders_0001 WHERE user_id = 1) t",
        ),
        (
            "SELECT * FROM countries WHERE code IN (SELECT status FROM orders WHERE user_id = 1)",
            "SELECT * FROM countries WHERE code IN (SELECT status FROM orders_0001 WHERE user_id = 1)",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 UNION ALL SELECT * FROM orders WHERE user_id = 9",
            "SELECT * FROM orders_0001 WHERE user_id = 1 UNION ALL SELECT * FROM orders_0001 WHERE user_id = 9",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 UNION SELECT * FROM countries",
            "SELECT * FROM orders_0001 WHERE user_id = 1 UNION SELECT * FROM countries",
        ),
    ] {
        assert_eq!(single_sql(sql), want);
    }
}

/// A broadcast table kept by an outer join against sharded rows would repeat once per slot
/// in a scatter: such statements run on one slot or are refused, never scattered.
#[test]
fn outer_join_keeping_broadcast_rows_is_not_scattered() {
    for sql in [
        "SELECT a.id FROM (orders a JOIN order_items b ON a.user_id = b.user_id AND a.user_id = 1) RIGHT JOIN countries c ON c.code = a.status",
        "SELECT c.code, o.id FROM countries c LEFT JOIN orders o ON o.status = c.code",
        "SELECT c.code FROM orders o RIGHT JOIN countries c ON o.status = c.code",
    ] {
        match route(sql) {
            Ok(p) => assert_eq!(p.kind, ShardedKind::Single, "{sql}"),
            Err(e) => assert!(e.to_string().contains("outer join"), "{sql}: {e}"),
        }
    }
    // The sharded side kept: per slot is right.
    assert!(matches!(
        route("SELECT o.id, c.name FROM orders o LEFT JOIN countries c ON c.code = o.status")
            .map(|p| p.kind),
        Ok(ShardedKind::Scatter(_))
    ));
}
