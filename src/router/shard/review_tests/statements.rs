//! Statements as a whole: CTEs, INSERTs, UPDATEs and DELETEs, broadcast writes, schema
//! qualifiers, metadata and other statements naming sharded tables.

use super::super::plan::ShardedKind;
use super::{refused, route, route_top, single_sql};
use crate::router::Plan;

// ---------------------------------------------------------------------------------------
// Bugs: wrong answers (rows from the wrong shard, partial results, wrong writes).
// ---------------------------------------------------------------------------------------

/// A CTE named like a sharded table shadows it: MySQL reads the CTE (one row, user_id 1).
#[test]
fn cte_named_like_a_sharded_table() {
    let sql = "WITH orders AS (SELECT 1 AS user_id) SELECT * FROM orders WHERE user_id = 1";
    match route(sql) {
        Err(_) => {}
        Ok(p) => assert!(
            p.targets.iter().all(|t| t.sql == sql),
            "the CTE reference must not be renamed: {p:?}"
        ),
    }
}

/// INSERT ... VALUES with a subquery pinned to another slot than the row's: the subquery
/// would read the row's sub-table and find nothing (a wrong value written).
#[test]
fn insert_subquery_on_another_slot() {
    refused(
        "INSERT INTO orders (user_id, d) VALUES (1, (SELECT MAX(d) FROM order_items WHERE user_id = 4))",
    );
    refused(
        "INSERT INTO orders (user_id, d) VALUES (1, 2) ON DUPLICATE KEY UPDATE \
         d = (SELECT MAX(id) FROM order_items WHERE user_id = 4)",
    );
}

/// A write to a broadcast table must reach every shard with the same effect; a subquery on
/// a sharded table makes it a single-shard write (the copies diverge).
#[test]
fn broadcast_write_reading_a_sharded_table() {
    for sql in [
        "UPDATE countries SET name = 'x' WHERE code IN (SELECT status FROM orders WHERE user_id = 1)",
        "DELETE FROM countries WHERE code = (SELECT status FROM orders WHERE user_id = 1)",
        "INSERT INTO countries (code, name) SELECT status, 'x' FROM orders WHERE user_id = 1",
        "INSERT INTO countries (code) VALUES ((SELECT status FROM orders WHERE user_id = 1))",
    ] {
        refused(sql);
    }
}

/// From another default schema, `shop .events` (MySQL allows whitespace or a comment
/// around the qualifier dot) reads the sharded schema: it must be refused like `shop.events`.
#[test]
fn schema_qualifier_with_space_before_the_dot() {
    assert!(matches!(
        route_top("SELECT * FROM shop.events", "other"),
        Plan::Refused(_)
    ));
    for sql in [
        "SELECT * FROM shop .events",
        "SELECT * FROM shop\n.events",
        "SELECT * FROM shop/**/.events",
    ] {
        let p = route_top(sql, "other");
        assert!(matches!(p, Plan::Refused(_)), "{sql}: {p:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Bugs: failures that are not a refusal naming the limitation (broken shard SQL, server
// errors a single server would not give) and unnecessary refusals.
// ---------------------------------------------------------------------------------------

/// SHOW CREATE TABLE answered from orders_0000 names `orders_0000` (and its own
/// AUTO_INCREMENT): not what a single server answers for `orders`.
#[test]
fn show_create_table_names_the_logical_table() {
    match route("SHOW CREATE TABLE orders") {
        Err(_) => {}
        Ok(p) => assert_eq!(p.targets[0].sql, "SHOW CREATE TABLE orders"),
    }
}

/// Rows whose first value starts with a prefix operator cannot be delimited (span again).
#[test]
fn insert_rows_with_prefix_operators_split() {
    for sql in [
        "INSERT INTO orders (amount, user_id) VALUES (-1, 1), (-3, 4)",
        "INSERT INTO orders (d, user_id) VALUES (NOT 1, 1), (NOT 0, 4)",
        "INSERT INTO orders (user_id, d) VALUES (1, 1 IS NULL), (4, 2 IS NULL)",
        "INSERT INTO orders (user_id, d) VALUES (1, 'a' 'b'), (4, 'c')",
    ] {
        let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(p.kind, ShardedKind::MultiWrite, "{sql}");
    }
    assert_eq!(
        route("INSERT INTO orders (amount, user_id) VALUES (-1, 1), (-3, 4)")
            .map(|p| p.targets[0].sql.clone())
            .ok(),
        Some("INSERT INTO orders_0001 (amount, user_id) VALUES (-1, 1)".to_string())
    );
}

// ---------------------------------------------------------------------------------------
// Checked and fine.
// ---------------------------------------------------------------------------------------

#[test]
fn inserts() {
    let split = |sql: &str| -> Vec<(usize, String)> {
        let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(p.kind, ShardedKind::MultiWrite, "{sql}");
        p.targets.into_iter().map(|t| (t.shard, t.sql)).collect()
    };
    assert_eq!(
        split("INSERT INTO orders (user_id, note) VALUES (1, CONCAT('a),(', 'b')), (4, 'x)')"),
        vec![
            (
                0,
                "INSERT INTO orders_0001 (user_id, note) VALUES (1, CONCAT('a),(', 'b'))".into()
            ),
            (
                1,
                "INSERT INTO orders_0004 (user_id, note) VALUES (4, 'x)')".into()
            ),
        ]
    );
    assert_eq!(
        split("INSERT INTO orders (note, user_id) VALUES ('(', 1), (')', 4)")[1].1,
        "INSERT INTO orders_0004 (note, user_id) VALUES (')', 4)"
    );
    assert_eq!(
        split("INSERT INTO orders (user_id, note) VALUES (1, 'it''s ('), (4, \"q\\\")\")")[1].1,
        "INSERT INTO orders_0004 (user_id, note) VALUES (4, \"q\\\")\")"
    );
    assert_eq!(
        split("INSERT INTO orders (user_id, id) VALUES ((1), 2), (4, 3)")[0].1,
        "INSERT INTO orders_0001 (user_id, id) VALUES ((1), 2)"
    );
    assert_eq!(
        split("INSERT INTO orders (amount, user_id) VALUES ((1)+(2), 1), ((3), 4)")[1].1,
        "INSERT INTO orders_0004 (amount, user_id) VALUES ((3), 4)"
    );
    assert_eq!(
        split("INSERT INTO orders (user_id, d) VALUES (1, 2), (4, 3) ON DUPLICATE KEY UPDATE d = VALUES(d)")[1].1,
        "INSERT INTO orders_0004 (user_id, d) VALUES (4, 3) ON DUPLICATE KEY UPDATE d = VALUES(d)"
    );
    assert_eq!(
        split("INSERT IGNORE INTO orders (user_id, d) VALUES (1, 2), (4, 3)")[1].1,
        "INSERT IGNORE INTO orders_0004 (user_id, d) VALUES (4, 3)"
    );
    assert_eq!(
        split("INSERT LOW_PRIORITY INTO orders (user_id, d) VALUES (1, 2), (4, 3)")[1].1,
        "INSERT LOW_PRIORITY INTO orders_0004 (user_id, d) VALUES (4, 3)"
    );
    assert_eq!(
        split("REPLACE INTO orders (user_id, d) VALUES (1, 2), (4, 3)")[1].1,
        "REPLACE INTO orders_0004 (user_id, d) VALUES (4, 3)"
    );
    assert_eq!(
        split("INSERT INTO orders (`USER_ID`, d) VALUES ('1', 2), (' 4', 3)")[1].1,
        "INSERT INTO orders_0004 (`USER_ID`, d) VALUES (' 4', 3)"
    );
    assert_eq!(
        split("INSERT INTO orders(user_id,d)VALUES(1,2),(4,NOW())")[1].1,
        "INSERT INTO orders_0004(user_id,d)VALUES(4,NOW())"
    );
    assert_eq!(
        single_sql("INSERT INTO orders SET d = 3, user_id = 4 ON DUPLICATE KEY UPDATE d = 4"),
        "INSERT INTO orders_0004 SET d = 3, user_id = 4 ON DUPLICATE KEY UPDATE d = 4"
    );
    assert_eq!(
        single_sql("REPLACE orders SET user_id = 4, d = 3"),
        "REPLACE orders_0004 SET user_id = 4, d = 3"
    );
    for sql in [
        "INSERT INTO orders (user_id, d) VALUES (1, 2) ON DUPLICATE KEY UPDATE user_id = 1",
        "INSERT INTO orders (user_id, d) VALUES (1, 2) ON DUPLICATE KEY UPDATE orders.user_id = 4",
        "INSERT INTO orders (user_id, d) VALUES (1.0, 2), (4.5, 3)",
        "INSERT INTO orders (user_id, d) VALUES (NULL, 2)",
        "INSERT INTO orders (user_id, d) VALUES (1 + 1, 2)",
        "INSERT INTO orders (user_id, d) SELECT 1, 2",
        "INSERT INTO orders (d) VALUES (2)",
        "INSERT INTO orders VALUES (1, 2)",
        "INSERT INTO orders SET d = 2",
    ] {
        refused(sql);
    }
}

#[test]
fn updates_and_deletes() {
    for sql in [
        "UPDATE orders SET user_id = user_id WHERE user_id = 3",
        "UPDATE orders SET user_id = NULL WHERE user_id = 3",
        "UPDATE orders SET `USER_ID` = 5 WHERE user_id = 4",
        "UPDATE orders SET user_id = 5, amount = 1 WHERE user_id = 4",
        "UPDATE orders SET user_id = 4, user_id = 5 WHERE user_id = 4",
        "UPDATE orders SET amount = 1 WHERE user_id IN (4, 5) LIMIT 1",
        "UPDATE orders SET amount = 1 WHERE user_id > 0",
        "UPDATE orders SET amount = 1 WHERE user_id = 1 || status = 'x'",
        "UPDATE orders JOIN order_items i ON orders.user_id = i.user_id SET orders.amount = 1 WHERE orders.user_id = 1",
        "UPDATE countries c JOIN orders o ON o.status = c.code SET c.name = 'x' WHERE o.user_id = 1",
        "UPDATE orders SET d = (SELECT MAX(id) FROM order_items WHERE user_id = 4) WHERE user_id = 1",
        "DELETE orders FROM orders WHERE user_id = 1",
        "DELETE c FROM countries c JOIN orders o ON o.status = c.code WHERE o.user_id = 1",
        "DELETE FROM orders WHERE user_id IN (SELECT user_id FROM order_items WHERE user_id = 1)",
    ] {
        refused(sql);
    }
    for (sql, want) in [
        (
            "UPDATE orders SET user_id = 11 WHERE user_id = 3",
            "UPDATE orders_0003 SET user_id = 11 WHERE user_id = 3",
        ),
        (
            "UPDATE orders o SET o.user_id = 4 WHERE o.user_id = 4",
            "UPDATE orders_0004 o SET o.user_id = 4 WHERE o.user_id = 4",
        ),
        (
            "UPDATE orders SET amount = 1 WHERE user_id = 4 ORDER BY id LIMIT 1",
            "UPDATE orders_0004 SET amount = 1 WHERE user_id = 4 ORDER BY id LIMIT 1",
        ),
        (
            "DELETE FROM orders o WHERE o.user_id = 1",
            "DELETE FROM orders_0001 o WHERE o.user_id = 1",
        ),
    ] {
        assert_eq!(single_sql(sql), want);
    }
}

#[test]
fn other_statements_naming_sharded_tables_are_refused() {
    for sql in [
        "TRUNCATE TABLE orders",
        "TRUNCATE orders",
        "ALTER TABLE orders ADD COLUMN c INT",
        "DROP TABLE orders",
        "DROP TABLE IF EXISTS notes, orders",
        "CREATE TABLE orders2 LIKE orders",
        "CREATE TABLE x AS SELECT * FROM orders WHERE user_id = 1",
        "CREATE INDEX i ON orders (a)",
        "CREATE VIEW v AS SELECT * FROM orders",
        "RENAME TABLE orders TO o2",
        "SHOW INDEX FROM orders",
        "SHOW TABLE STATUS LIKE 'orders'",
        "EXPLAIN SELECT * FROM orders WHERE user_id = 1",
        "LOCK TABLES orders WRITE",
        "LOAD DATA INFILE '/tmp/x' INTO TABLE orders",
        "LOAD DATA LOCAL INFILE 'x' INTO TABLE orders (user_id, amount)",
        "CALL p('orders')",
        "HANDLER orders OPEN",
        "ANALYZE TABLE orders",
        "OPTIMIZE TABLE orders",
        "CHECK TABLE orders",
        "CHECKSUM TABLE orders",
        "REPAIR TABLE orders",
        "FLUSH TABLES orders",
        "GRANT SELECT ON shop.orders TO u",
        "SET @x = (SELECT COUNT(*) FROM orders WHERE user_id = 1)",
        "DO (SELECT COUNT(*) FROM orders)",
        "TABLE orders",
        "PREPARE s FROM 'SELECT * FROM orders'",
        "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW SET NEW.a = 1",
        "SELECT * FROM orders WHERE user_id = 1; SELECT * FROM orders WHERE user_id = 2",
        "SELECT * FROM orders WHERE user_id = 1 PROCEDURE ANALYSE()",
    ] {
        refused(sql);
    }
    // Through route_query too (the word scan sees the table, the parser refuses).
    for sql in [
        "TRUNCATE orders",
        "HANDLER orders OPEN",
        "LOCK TABLES `orders` WRITE",
    ] {
        assert!(matches!(route_top(sql, "shop"), Plan::Refused(_)), "{sql}");
    }
    // DESCRIBE / SHOW COLUMNS answered by the first sub-table (same columns).
    assert_eq!(single_sql("DESCRIBE orders"), "DESCRIBE orders_0000");
    assert_eq!(
        single_sql("SHOW FULL COLUMNS FROM orders LIKE 'u%'"),
        "SHOW FULL COLUMNS FROM orders_0000 LIKE 'u%'"
    );
}

/// What happens to statements that read sharded data without naming a sharded table (no
/// parse: routed to the schema's default shard as ordinary statements). Observed behaviour,
/// recorded for the report: each returns the default shard's view only.
#[test]
fn observed_unnamed_reads_go_to_the_default_shard() {
    for sql in [
        // Lists the physical sub-tables of shard 0 (orders_0000..0003), not `orders`.
        "SHOW TABLES",
        // A view or routine on the default shard over sub-tables: shard 0's rows only.
        "SELECT * FROM v_orders",
        "CALL report()",
        // Session functions answered by the default shard's connection, whatever shard the
        // previous statement (e.g. an INSERT into orders for user 5) ran on.
        "SELECT LAST_INSERT_ID()",
        "SELECT FOUND_ROWS()",
        "SELECT ROW_COUNT()",
        // Other case of a sharded name: another table on Linux (lower_case_table_names=0).
        "SELECT * FROM EVENTS",
    ] {
        let p = route_top(sql, "shop");
        assert!(matches!(p, Plan::Single { shard: 0, .. }), "{sql}: {p:?}");
    }
    // information_schema naming a sharded table in a string: parsed, no sharded relation,
    // run unchanged on the default shard (no row for the logical name `orders`).
    let p = route_top(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'orders'",
        "shop",
    );
    let Plan::Sharded { plan, .. } = p else {
        panic!("{p:?}")
    };
    assert_eq!((plan.targets.len(), plan.targets[0].shard), (1, 0));
}
