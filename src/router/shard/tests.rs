//! Router tests for sharded schemas: key extraction, rewriting, splitting and refusals.

use super::analyze::analyze;
use super::analyze::constraint::{ParamValue, Params};
use super::error::ShardError;
use super::plan::{ShardedKind, ShardedPlan};
use super::route::plan;
use crate::config::{Algorithm, KeyType, ShardedSchema, Slot, TableRule};
use crate::router::Role;

/// orders/order_items: mod over 8 sub-tables (0-3 on shard 0, 4-7 on shard 1), bound;
/// events: range (< 5000 on shard 0) without sub-tables; countries broadcast.
pub(super) fn schema() -> ShardedSchema {
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
                    crate::config::KeyRange {
                        from: None,
                        to: Some(5000),
                        slot: 0,
                    },
                    crate::config::KeyRange {
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

pub(super) fn route_with(
    sql: &str,
    params: Params,
    full_writes: bool,
) -> Result<ShardedPlan, ShardError> {
    let s = schema();
    let planned =
        analyze(sql, &s).and_then(|shape| plan(&shape, &s, 2, full_writes, &params, Role::Replica));
    if params.0.is_empty() {
        // Every text statement of the router tests also checks the shape cache: when it
        // answers, it answers exactly what analysing the text gives.
        let cache = super::cache::ShapeCache::new(8);
        for _ in 0..2 {
            if let Some(cached) = cache.plan(sql, &s, 2, full_writes, Role::Replica) {
                assert_eq!(
                    Ok(&cached),
                    planned.as_ref(),
                    "shape cache differs for {sql}"
                );
            }
        }
    }
    planned
}

pub(super) fn route(sql: &str) -> Result<ShardedPlan, ShardError> {
    route_with(sql, Params::default(), false)
}

pub(super) fn single(sql: &str) -> (usize, String) {
    let p = route(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(p.kind, ShardedKind::Single, "{sql}");
    (p.targets[0].shard, p.targets[0].sql.clone())
}

#[test]
fn point_reads_go_to_the_key_s_sub_table() {
    assert_eq!(
        single("SELECT * FROM orders WHERE user_id = 13"),
        (1, "SELECT * FROM orders_0005 WHERE user_id = 13".into())
    );
    assert_eq!(
        single("SELECT * FROM orders WHERE 13 = user_id AND status = 'x'").1,
        "SELECT * FROM orders_0005 WHERE 13 = user_id AND status = 'x'"
    );
    // '13' and 13 route the same.
    assert_eq!(single("SELECT id FROM orders WHERE user_id = '13'").0, 1);
    // Qualified names, aliases, backticks and column qualifiers.
    assert_eq!(
        single("SELECT orders.id, o2.id FROM shop.`orders` JOIN order_items o2 ON orders.user_id = o2.user_id WHERE orders.user_id = 2").1,
        "SELECT orders_0002.id, o2.id FROM shop.`orders_0002` JOIN order_items_0002 o2 ON orders_0002.user_id = o2.user_id WHERE orders_0002.user_id = 2"
    );
    assert_eq!(
        single("SELECT o.id FROM orders o WHERE o.user_id IN (1, 9)").1,
        "SELECT o.id FROM orders_0001 o WHERE o.user_id IN (1, 9)"
    );
    // Range table: BETWEEN within one range.
    assert_eq!(
        single("SELECT * FROM events WHERE id BETWEEN 10 AND 20").0,
        0
    );
    assert_eq!(single("SELECT * FROM events WHERE id >= 5000").0, 1);
}

#[test]
fn reads_without_one_target_scatter() {
    let p = route("SELECT id FROM orders WHERE user_id IN (1, 2) ORDER BY id DESC LIMIT 5, 10")
        .expect("plan");
    let ShardedKind::Scatter(spec) = &p.kind else {
        panic!("{p:?}")
    };
    assert_eq!(p.targets.len(), 2);
    assert_eq!(
        p.targets[0].sql,
        "SELECT id FROM orders_0001 WHERE user_id IN (1, 2) ORDER BY id DESC LIMIT 15"
    );
    assert_eq!((spec.offset, spec.limit, spec.visible), (5, Some(10), 1));
    assert!(spec.order_by[0].descending);
    let p = route("SELECT status, AVG(amount), COUNT(*) FROM orders GROUP BY status HAVING COUNT(*) > 1 ORDER BY status LIMIT 3").expect("plan");
    let ShardedKind::Scatter(spec) = &p.kind else {
        panic!("{p:?}")
    };
    assert_eq!(p.targets.len(), 8);
    assert_eq!(
        p.targets[7].sql,
        "SELECT status, AVG(amount), COUNT(*), SUM(amount), COUNT(amount) FROM orders_0007 GROUP BY status  ORDER BY status "
    );
    assert_eq!(spec.visible, 3);
    assert_eq!(spec.group_by, vec![0]);
    assert!(spec.having.is_some());
    // SELECT * ordered by a column: a hidden column counted from the end.
    let p = route("SELECT * FROM events ORDER BY kind").expect("plan");
    assert_eq!(p.targets[0].sql, "SELECT *, kind FROM events ORDER BY kind");
    let ShardedKind::Scatter(spec) = &p.kind else {
        panic!("{p:?}")
    };
    let resolved = spec.resolve(4).expect("resolve");
    assert_eq!((resolved.visible, resolved.order_by[0].column), (3, 3));
}

#[test]
fn multi_row_inserts_split_by_target() {
    let p =
        route("INSERT INTO orders (id, user_id, amount) VALUES (1, 1, 2.5), (2, 4, 1), (3, 9, 0)")
            .expect("plan");
    assert_eq!(p.kind, ShardedKind::MultiWrite);
    let sqls: Vec<(usize, &str)> = p
        .targets
        .iter()
        .map(|t| (t.shard, t.sql.as_str()))
        .collect();
    assert_eq!(
        sqls,
        vec![
            (
                0,
                "INSERT INTO orders_0001 (id, user_id, amount) VALUES (1, 1, 2.5), (3, 9, 0)"
            ),
            (
                1,
                "INSERT INTO orders_0004 (id, user_id, amount) VALUES (2, 4, 1)"
            ),
        ]
    );
    assert_eq!(
        single("INSERT INTO orders (id, user_id) VALUES (5, 3) ON DUPLICATE KEY UPDATE amount = 1")
            .1,
        "INSERT INTO orders_0003 (id, user_id) VALUES (5, 3) ON DUPLICATE KEY UPDATE amount = 1"
    );
}

#[test]
fn prepared_statements_route_by_parameter() {
    let p = route_with(
        "SELECT c FROM orders WHERE user_id = ?",
        Params(vec![ParamValue::Int(6)]),
        false,
    )
    .expect("plan");
    assert_eq!(
        (p.targets[0].shard, p.targets[0].sql.as_str()),
        (1, "SELECT c FROM orders_0006 WHERE user_id = ?")
    );
    let p = route_with(
        "SELECT c FROM orders WHERE user_id = ?",
        Params(vec![ParamValue::Str("3".into())]),
        false,
    )
    .expect("plan");
    assert_eq!(p.targets[0].shard, 0);
}

#[test]
fn writes_and_refusals() {
    assert!(matches!(
        route("DELETE FROM orders WHERE status = 'x'"),
        Err(ShardError::FullScatterWrite { .. })
    ));
    let p = route_with(
        "DELETE FROM orders WHERE status = 'x'",
        Params::default(),
        true,
    )
    .expect("plan");
    assert_eq!(
        (p.kind.clone(), p.targets.len()),
        (ShardedKind::MultiWrite, 8)
    );
    assert_eq!(
        single("UPDATE orders SET amount = 1 WHERE user_id = 3").1,
        "UPDATE orders_0003 SET amount = 1 WHERE user_id = 3"
    );
    // Moving a row to another shard is refused; keeping the key is fine.
    assert!(route("UPDATE orders SET user_id = 4 WHERE user_id = 3").is_err());
    assert!(route("UPDATE orders SET user_id = 3 WHERE user_id = 3").is_ok());
    let refused = [
        "SELECT * FROM orders o JOIN order_items i ON o.id = i.order_id",
        "SELECT ROW_NUMBER() OVER (ORDER BY id) FROM orders",
        "SELECT * FROM orders WHERE id IN (SELECT order_id FROM order_items)",
        "SELECT COUNT(DISTINCT status) FROM orders",
        "SELECT GROUP_CONCAT(status) FROM orders",
        "SELECT SUM(amount) * 2 FROM orders",
        "INSERT INTO orders VALUES (1, 2)",
        "INSERT INTO orders (id, user_id) SELECT id, user_id FROM order_items",
        "SELECT * FROM orders JOIN notes ON notes.id = orders.id",
        "SELECT * FROM orders WHERE user_id = 'abc'",
        "SELECT * FROM events e JOIN orders o ON e.id = o.user_id WHERE o.user_id = 1",
    ];
    for sql in refused {
        assert!(
            route(sql).is_err(),
            "{sql} must be refused: {:?}",
            route(sql)
        );
    }
    // A subquery pinned to the statement's own slot is fine.
    assert_eq!(single("SELECT * FROM orders WHERE user_id = 3 AND id IN (SELECT order_id FROM order_items WHERE user_id = 3)").0, 0);
    // Broadcast writes go everywhere, reads to the default shard.
    let p = route("INSERT INTO countries (code, name) VALUES ('fr', 'France')").expect("plan");
    assert_eq!(
        (p.kind.clone(), p.targets.len()),
        (ShardedKind::BroadcastWrite, 2)
    );
    assert_eq!(single("SELECT * FROM countries").0, 0);
    // Joins with a broadcast table stay on the key's shard.
    assert_eq!(
        single("SELECT * FROM orders o JOIN countries c ON c.code = o.status WHERE o.user_id = 5")
            .0,
        1
    );
}

#[test]
fn metadata_statements_read_the_first_sub_table() {
    assert_eq!(
        single("DESCRIBE orders"),
        (0, "DESCRIBE orders_0000".into())
    );
    assert_eq!(
        single("SHOW COLUMNS FROM orders"),
        (0, "SHOW COLUMNS FROM orders_0000".into())
    );
    // A sub-table's definition is not the logical table's: refused by name.
    let e = route("SHOW CREATE TABLE `orders`").expect_err("refused");
    assert!(e.to_string().contains("SHOW CREATE TABLE"), "{e}");
    assert_eq!(
        single("SHOW CREATE TABLE events"),
        (0, "SHOW CREATE TABLE events".into())
    );
    let e = route("ALTER TABLE orders ADD COLUMN x INT").expect_err("DDL refused");
    assert!(e.to_string().contains("ALTER TABLE statements"), "{e}");
    assert!(route("TRUNCATE TABLE orders").is_err());
}

#[test]
fn min_max_of_a_column_name_their_source() {
    let p = route("SELECT MAX(status), MIN(o.status), COUNT(*) FROM orders o").expect("plan");
    let ShardedKind::Scatter(spec) = &p.kind else {
        panic!("{p:?}")
    };
    assert_eq!(
        spec.sources,
        vec![(0, "status".to_string()), (1, "status".to_string())]
    );
}
