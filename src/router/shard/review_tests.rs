//! Review tests: counterexamples hunted in the sharding router (wrong targets, wrong rewrites,
//! wrong merges). Every test asserts the correct behaviour — the single-server answer or a
//! refusal naming the limitation; each bug they found has been fixed.

use super::analyze::analyze;
use super::analyze::constraint::{ParamValue, Params};
use super::error::ShardError;
use super::plan::{MergeSpec, ShardedKind, ShardedPlan};
use super::route::plan;
use crate::config::{Algorithm, KeyRange, KeyType, ShardedSchema, Sharding, Slot, TableRule};
use crate::router::classify::Rules;
use crate::router::{Plan, Role, SessionView, Topology, route_query};

/// Same fixture as `tests.rs`: orders/order_items mod over 8 sub-tables (0-3 on shard 0,
/// 4-7 on shard 1), bound; events: range (< 5000 on shard 0), no sub-tables; countries
/// broadcast.
fn schema() -> ShardedSchema {
    let sub = |name: &str| -> Vec<Slot> {
        (0..8)
            .map(|i| Slot {
                shard: usize::from(i >= 4),
                physical: format!("{name}_{i:04}"),
            })
            .collect()
    };
    let rule = |name: &str, key: &str| TableRule {
        name: name.into(),
        key: key.into(),
        key_type: KeyType::Integer,
        algorithm: Algorithm::Mod,
        slots: sub(name),
        binding_group: Some(0),
    };
    ShardedSchema {
        name: "shop".into(),
        default_shard: 0,
        tables: vec![
            rule("orders", "user_id"),
            rule("order_items", "user_id"),
            TableRule {
                name: "events".into(),
                key: "id".into(),
                key_type: KeyType::Integer,
                algorithm: Algorithm::Range(vec![
                    KeyRange {
                        from: None,
                        to: Some(5000),
                        slot: 0,
                    },
                    KeyRange {
                        from: Some(5000),
                        to: None,
                        slot: 1,
                    },
                ]),
                slots: vec![
                    Slot {
                        shard: 0,
                        physical: "events".into(),
                    },
                    Slot {
                        shard: 1,
                        physical: "events".into(),
                    },
                ],
                binding_group: None,
            },
        ],
        broadcast: vec!["countries".into()],
    }
}

fn route_with(sql: &str, params: Params, full_writes: bool) -> Result<ShardedPlan, ShardError> {
    let s = schema();
    let shape = analyze(sql, &s)?;
    plan(&shape, &s, 2, full_writes, &params, Role::Replica)
}

fn route(sql: &str) -> Result<ShardedPlan, ShardError> {
    route_with(sql, Params::default(), false)
}

fn single(sql: &str) -> (usize, String) {
    let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(p.kind, ShardedKind::Single, "{sql}");
    (p.targets[0].shard, p.targets[0].sql.clone())
}

/// The statement of a single-target plan.
fn single_sql(sql: &str) -> String {
    single(sql).1
}

fn scatter(sql: &str) -> (MergeSpec, Vec<String>) {
    let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ShardedKind::Scatter(spec) = p.kind else {
        panic!("{sql}: not a scatter: {p:?}")
    };
    (spec, p.targets.into_iter().map(|t| t.sql).collect())
}

/// The statement may not be narrowed: every sub-table (8), or a refusal.
fn all_or_refused(sql: &str) {
    match route(sql) {
        Err(_) => {}
        Ok(p) => assert_eq!(p.targets.len(), 8, "{sql} narrowed to {p:?}"),
    }
}

fn refused(sql: &str) {
    let r = route(sql);
    assert!(r.is_err(), "{sql} must be refused: {r:?}");
}

/// A route through `route_query` with the session in `schema`.
fn route_top(sql: &str, session_schema: &str) -> Plan {
    let rules = Rules::new(&[], &[]).expect("rules");
    let sharding = Sharding {
        allow_full_scatter_writes: false,
        schemas: vec![schema()],
    };
    let topo = Topology {
        default_shard: 0,
        rules: &rules,
        sharding: &sharding,
        schema: Some(session_schema),
        shard_count: 2,
    };
    route_query(sql.as_bytes(), &SessionView::default(), &topo)
}

// ---------------------------------------------------------------------------------------
// Bugs: wrong answers (rows from the wrong shard, partial results, wrong writes).
// ---------------------------------------------------------------------------------------

/// MySQL (no PIPES_AS_CONCAT, the default) reads `||` as OR, below AND:
/// `(user_id = 1 AND status = 'a') OR status = 'b'` matches rows on every shard.
#[test]
fn pipes_are_or_below_and() {
    all_or_refused("SELECT * FROM orders WHERE user_id = 1 AND status = 'a' || status = 'b'");
    refused("DELETE FROM orders WHERE user_id = 1 AND status = 'a' || status = 'b'");
    refused("UPDATE orders SET amount = 0 WHERE user_id = 1 AND status = 'a' || status = 'b'");
}

/// MySQL precedence: AND > XOR > OR, so `a AND b XOR c` is `(a AND b) XOR c`.
#[test]
fn xor_binds_looser_than_and() {
    all_or_refused("SELECT * FROM orders WHERE user_id = 1 AND status = 'a' XOR status = 'b'");
    refused("DELETE FROM orders WHERE user_id = 1 AND status = 'a' XOR status = 'b'");
}

/// An inner join nested inside the right side of a LEFT JOIN does not filter the preserved
/// (left) side: every order is returned, not only those of user 1.
#[test]
fn nested_inner_join_under_left_join_does_not_filter() {
    all_or_refused(
        "SELECT o.id FROM orders o LEFT JOIN (order_items i JOIN countries c \
         ON c.code = i.status AND i.user_id = 1) ON o.user_id = i.user_id",
    );
}

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

/// Hidden sort/group columns are copied from the text by the expression's span, and
/// sqlparser's span of a prefix expression (`-x`, `NOT x`, `BINARY x`, `CAST(x ..)`,
/// `x IS NULL`) starts or ends at the operand: the hidden column is `x`, the merge orders by
/// something else than the shards and the single server.
#[test]
fn hidden_columns_keep_the_whole_expression() {
    for (sql, hidden) in [
        ("SELECT id FROM orders ORDER BY -id LIMIT 5", "-id"),
        ("SELECT id FROM orders ORDER BY - amount", "- amount"),
        ("SELECT id FROM orders ORDER BY ~id", "~id"),
        ("SELECT id FROM orders ORDER BY NOT flag", "NOT flag"),
        (
            "SELECT id FROM orders ORDER BY BINARY status",
            "BINARY status",
        ),
        (
            "SELECT id FROM orders ORDER BY CAST(amount AS SIGNED)",
            "CAST(amount AS SIGNED)",
        ),
        (
            "SELECT id FROM orders ORDER BY amount IS NULL, amount",
            "amount IS NULL",
        ),
        (
            "SELECT COUNT(*) FROM orders GROUP BY BINARY status",
            "BINARY status",
        ),
        (
            "SELECT COUNT(*) FROM orders GROUP BY amount IS NULL",
            "amount IS NULL",
        ),
    ] {
        match route(sql) {
            Err(_) => {}
            Ok(p) => {
                let select_list = p.targets[0].sql.split(" FROM ").next().unwrap_or_default();
                assert!(
                    select_list.contains(&format!(", {hidden}")),
                    "{sql}: hidden column must be `{hidden}`: {}",
                    p.targets[0].sql
                );
            }
        }
    }
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

/// Helper columns are inserted text: the qualifier `orders.` in them is not renamed, so
/// the shards answer "Unknown column 'orders.created'".
#[test]
fn helper_columns_are_renamed_too() {
    for sql in [
        "SELECT id, amount FROM orders ORDER BY orders.created",
        "SELECT AVG(orders.amount) FROM orders",
        "SELECT status FROM orders GROUP BY status HAVING SUM(orders.amount) > 1",
    ] {
        // Renamed, or refused by name: never a statement every shard rejects.
        match route(sql) {
            Ok(p) => assert!(
                !p.targets[0].sql.contains("orders."),
                "{sql}: {}",
                p.targets[0].sql
            ),
            Err(e) => assert!(e.to_string().contains("alias"), "{sql}: {e}"),
        }
    }
}

/// Hidden columns cut from the text at a wrong span are not even valid SQL.
#[test]
fn hidden_columns_are_valid_sql() {
    for (sql, hidden) in [
        (
            "SELECT id FROM orders ORDER BY (amount) + 1",
            "(amount) + 1",
        ),
        (
            "SELECT id FROM orders ORDER BY EXISTS (SELECT 1 FROM countries)",
            "EXISTS (SELECT 1 FROM countries)",
        ),
        (
            "SELECT id FROM orders ORDER BY CONVERT(status USING binary)",
            "CONVERT(status USING binary)",
        ),
    ] {
        match route(sql) {
            Err(_) => {}
            Ok(p) => assert!(
                p.targets[0]
                    .sql
                    .starts_with(&format!("SELECT id, {hidden} FROM")),
                "{sql}: {}",
                p.targets[0].sql
            ),
        }
    }
}

/// A table alias equal to a sharded table's name is not a table name: a column qualified
/// with it in the select list (visited before FROM registers the alias) must stay.
#[test]
fn alias_named_like_a_sharded_table() {
    assert_eq!(
        single_sql("SELECT order_items.id FROM orders order_items WHERE order_items.user_id = 1"),
        "SELECT order_items.id FROM orders_0001 order_items WHERE order_items.user_id = 1"
    );
    assert_eq!(
        single_sql(
            "SELECT orders.code FROM countries orders JOIN orders o ON o.status = orders.code WHERE o.user_id = 1"
        ),
        "SELECT orders.code FROM countries orders JOIN orders_0001 o ON o.status = orders.code WHERE o.user_id = 1"
    );
}

/// SHOW CREATE TABLE answered from orders_0000 names `orders_0000` (and its own
/// AUTO_INCREMENT): not what a single server answers for `orders`.
#[test]
fn show_create_table_names_the_logical_table() {
    match route("SHOW CREATE TABLE orders") {
        Err(_) => {}
        Ok(p) => assert_eq!(p.targets[0].sql, "SHOW CREATE TABLE orders"),
    }
}

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
fn key_extraction_never_narrows_wrongly() {
    // Not narrowable: every sub-table (or a refusal).
    for sql in [
        "SELECT * FROM orders WHERE NOT (user_id = 1)",
        "SELECT * FROM orders WHERE NOT user_id = 1",
        "SELECT * FROM orders WHERE user_id <> 1",
        "SELECT * FROM orders WHERE user_id != 1",
        "SELECT * FROM orders WHERE user_id = 1 OR status = 'x'",
        "SELECT * FROM orders WHERE user_id = 1 + 0",
        "SELECT * FROM orders WHERE user_id = 0x10",
        "SELECT * FROM orders WHERE user_id = X'01'",
        "SELECT * FROM orders WHERE user_id = b'1'",
        "SELECT * FROM orders WHERE user_id = 0b1",
        "SELECT * FROM orders WHERE user_id = _utf8mb4'1'",
        "SELECT * FROM orders WHERE user_id <=> 1",
        "SELECT * FROM orders WHERE user_id IS NULL",
        "SELECT * FROM orders WHERE user_id IS NOT NULL",
        "SELECT * FROM orders WHERE BINARY user_id = 1",
        "SELECT * FROM orders WHERE user_id = 1 COLLATE utf8mb4_bin",
        "SELECT * FROM orders WHERE (user_id, id) = (1, 2)",
        "SELECT * FROM orders WHERE user_id = id",
        "SELECT * FROM orders WHERE user_id = CASE WHEN a THEN 1 ELSE 2 END",
        "SELECT * FROM orders WHERE user_id LIKE '1'",
        "SELECT * FROM orders WHERE user_id NOT IN (1)",
        "SELECT * FROM orders WHERE user_id NOT BETWEEN 1 AND 2",
        "SELECT * FROM orders WHERE user_id XOR 1",
        "SELECT * FROM orders WHERE user_id = 1 XOR 1",
        "SELECT * FROM orders WHERE user_id = 1 || status = 'x'",
        "SELECT * FROM orders WHERE user_id = 1 && status = 'a'",
        "SELECT * FROM orders WHERE user_id = 1 = 1",
        "SELECT * FROM orders WHERE user_id = 1 IS TRUE",
        "SELECT * FROM orders WHERE user_id = 1 IS NULL",
        "SELECT * FROM orders WHERE user_id IN (1) = 0",
        "SELECT * FROM orders WHERE user_id = 1 IN (0)",
        "SELECT * FROM orders WHERE user_id = 1 <> 0",
        "SELECT * FROM orders WHERE user_id = 1 LIKE 1",
        "SELECT * FROM orders WHERE user_id = 1 BETWEEN 0 AND 1",
        "SELECT * FROM orders WHERE user_id > 1 = 0",
        "SELECT * FROM orders WHERE user_id = 1 REGEXP 'x'",
        "SELECT * FROM orders WHERE user_id = 1 := 2",
        "SELECT * FROM orders WHERE user_id = ~1",
        "SELECT * FROM orders WHERE user_id = 1 | 2",
        "SELECT * FROM orders WHERE user_id = 1 DIV 1",
        "SELECT * FROM orders WHERE user_id = 1 --1",
        "SELECT * FROM orders WHERE user_id = 1 /*! OR 1=1 */",
        "SELECT * FROM orders WHERE user_id = 1 #x\nOR 1=1",
        "SELECT * FROM orders WHERE user_id = 1 -- x\nOR 1=1",
        "SELECT * FROM orders WHERE user_id > 1.5",
        "SELECT * FROM orders WHERE user_id > 0",
        "SELECT * FROM orders WHERE user_id IN (SELECT user_id FROM order_items)",
        "SELECT * FROM orders o LEFT JOIN order_items i ON o.user_id = i.user_id AND i.user_id = 1",
        "SELECT o.id FROM orders o RIGHT JOIN order_items i ON o.user_id = i.user_id AND o.user_id = 1",
        "SELECT a.id FROM countries c LEFT JOIN orders a ON a.status = c.code AND a.user_id = 1",
    ] {
        all_or_refused(sql);
    }
    // Refused with a key message rather than guessed.
    for sql in [
        "SELECT * FROM orders WHERE user_id = 1e0",
        "SELECT * FROM orders WHERE user_id = .5e1",
        "SELECT * FROM orders WHERE user_id = '1abc'",
        "SELECT * FROM orders WHERE user_id = 'a' 'b'",
        "SELECT * FROM orders WHERE user_id = 99999999999999999999999999999999999999999999",
        "SELECT * FROM orders WHERE user_id = '9007199254740993'",
        "SELECT * FROM orders WHERE ! user_id = 1",
    ] {
        refused(sql);
    }
    // Narrowed, and rightly so.
    for (sql, sub) in [
        ("SELECT * FROM orders WHERE user_id = -0", "orders_0000"),
        ("SELECT * FROM orders WHERE user_id = - 1", "orders_0007"),
        ("SELECT * FROM orders WHERE user_id = 1.", "orders_0001"),
        ("SELECT * FROM orders WHERE user_id = 1.000", "orders_0001"),
        ("SELECT * FROM orders WHERE user_id = ' 1 '", "orders_0001"),
        ("SELECT * FROM orders WHERE user_id = '+9'", "orders_0001"),
        (
            "SELECT * FROM orders WHERE user_id = '1' '0'",
            "orders_0002",
        ),
        (
            "SELECT * FROM orders WHERE ((user_id)) = ((9))",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id IN (1, NULL)",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND (status = 'a' OR status = 'b')",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND status = 'a' && amount = 2",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1\t--\tx",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 # comment",
            "orders_0001",
        ),
        // Contradictions and NULL match no row: any one sub-table answers (empty).
        ("SELECT * FROM orders WHERE user_id = NULL", "orders_0000"),
        (
            "SELECT COUNT(*) FROM orders WHERE user_id = NULL",
            "orders_0000",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND user_id = 2",
            "orders_0000",
        ),
        (
            "SELECT * FROM orders WHERE user_id BETWEEN 9 AND 1",
            "orders_0000",
        ),
        ("DELETE FROM orders WHERE user_id = NULL", "orders_0000"),
    ] {
        assert!(single_sql(sql).contains(sub), "{sql}: {}", single_sql(sql));
    }
}

#[test]
fn parameters() {
    let p = |sql: &str, v: Vec<ParamValue>| route_with(sql, Params(v), false);
    let sql = "SELECT * FROM orders WHERE user_id = ?";
    // NULL matches nothing: one (empty) sub-table.
    assert_eq!(
        p(sql, vec![ParamValue::Null]).map(|p| p.targets.len()).ok(),
        Some(1)
    );
    assert_eq!(
        p(sql, vec![ParamValue::Str(" 12".into())])
            .map(|p| p.targets[0].sql.clone())
            .ok(),
        Some("SELECT * FROM orders_0004 WHERE user_id = ?".into())
    );
    assert!(p(sql, vec![ParamValue::Other]).is_err());
    assert!(p(sql, vec![ParamValue::Str("1abc".into())]).is_err());
    assert!(p(sql, vec![ParamValue::Str("1.5".into())]).is_err());
    assert!(p(sql, vec![]).is_err());
    // A non-key type in a range cannot narrow.
    assert_eq!(
        p(
            "SELECT * FROM orders WHERE user_id BETWEEN ? AND ?",
            vec![ParamValue::Other, ParamValue::Int(2)]
        )
        .map(|p| p.targets.len())
        .ok(),
        Some(8)
    );
    // Placeholders elsewhere do not shift the key's parameter number.
    assert_eq!(
        p(
            "SELECT ? FROM orders WHERE status = ? AND user_id = ?",
            vec![
                ParamValue::Int(0),
                ParamValue::Str("x".into()),
                ParamValue::Int(5)
            ]
        )
        .map(|p| p.targets[0].sql.clone())
        .ok(),
        Some("SELECT ? FROM orders_0005 WHERE status = ? AND user_id = ?".into())
    );
    // INSERT with a NULL key parameter is refused.
    assert!(
        p(
            "INSERT INTO orders (user_id) VALUES (?)",
            vec![ParamValue::Null]
        )
        .is_err()
    );
}

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

#[test]
fn rewriting() {
    for (sql, want) in [
        (
            "SELECT orders FROM orders WHERE user_id = 1",
            "SELECT orders FROM orders_0001 WHERE user_id = 1",
        ),
        (
            "SELECT orders.*, 'orders', `orders`.id FROM `orders` /* orders */ WHERE orders.user_id = 1",
            "SELECT orders_0001.*, 'orders', `orders_0001`.id FROM `orders_0001` /* orders */ WHERE orders_0001.user_id = 1",
        ),
        (
            "SELECT shop.orders.id FROM shop.orders WHERE shop.orders.user_id = 1",
            "SELECT shop.orders_0001.id FROM shop.orders_0001 WHERE shop.orders_0001.user_id = 1",
        ),
        (
            "SELECT id FROM orders order_items WHERE order_items.user_id = 1",
            "SELECT id FROM orders_0001 order_items WHERE order_items.user_id = 1",
        ),
        (
            "SELECT '😀é\t', orders.id\nFROM orders\nWHERE orders.user_id = 1",
            "SELECT '😀é\t', orders_0001.id\nFROM orders_0001\nWHERE orders_0001.user_id = 1",
        ),
        (
            "SELECT JSON_EXTRACT(doc, '$.orders') FROM orders WHERE user_id = 1",
            "SELECT JSON_EXTRACT(doc, '$.orders') FROM orders_0001 WHERE user_id = 1",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND id IN (SELECT 1 FROM countries WHERE code = orders.status)",
            "SELECT * FROM orders_0001 WHERE user_id = 1 AND id IN (SELECT 1 FROM countries WHERE code = orders_0001.status)",
        ),
        // Mixed case is another table on Linux: left alone (the server says it does not exist).
        (
            "SELECT * FROM ORDERS WHERE user_id = 1",
            "SELECT * FROM ORDERS WHERE user_id = 1",
        ),
    ] {
        assert_eq!(single_sql(sql), want);
    }
}

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
