//! Placement: rows land in the sub-table of their key (checked on the backends directly),
//! multi-row inserts split, prepared statements route by parameter and write over several
//! targets.

use mysql::prelude::Queryable;

use super::{app, ids, setup};
use crate::harness::{ADMIN_USER, my_err};

#[test]
fn rows_land_in_their_sub_table_and_reads_find_them() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES \
         (1, 1, 10.00, 'new'), (2, 2, 20.00, 'paid'), (3, 3, 30.00, 'new'), (4, 4, 40.00, 'paid'), (5, 5, 50.00, 'new')",
    )
    .expect("split insert");
    assert_eq!(
        c.affected_rows(),
        5,
        "affected rows are summed over the targets"
    );
    // user 1, 5 -> slot 1 (s0); 4 -> slot 0 (s0); 2 -> slot 2 (s1); 3 -> slot 3 (s1).
    assert_eq!(
        ids(
            &mut s0,
            &format!("SELECT id FROM {db}.orders_0001 ORDER BY id")
        ),
        vec![1, 5]
    );
    assert_eq!(
        ids(&mut s0, &format!("SELECT id FROM {db}.orders_0000")),
        vec![4]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT id FROM {db}.orders_0002")),
        vec![2]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT id FROM {db}.orders_0003")),
        vec![3]
    );
    // Point reads, '3' and 3 alike, qualified names and aliases.
    assert_eq!(
        ids(&mut c, "SELECT id FROM orders WHERE user_id = 3"),
        vec![3]
    );
    assert_eq!(
        ids(&mut c, "SELECT id FROM orders WHERE user_id = '3'"),
        vec![3]
    );
    assert_eq!(
        ids(&mut c, "SELECT o.id FROM orders o WHERE o.user_id = 2"),
        vec![2]
    );
    // Prepared statements route at execute time by their parameter.
    let stmt = c
        .prep("SELECT id FROM orders WHERE user_id = ?")
        .expect("prepare");
    for user in 1..=5i64 {
        let got: Vec<i64> = c.exec(&stmt, (user,)).expect("execute");
        let want = if user == 5 { vec![5] } else { vec![user] };
        assert_eq!(got, want, "user {user}");
    }
    let got: Vec<i64> = c.exec(&stmt, ("4",)).expect("execute with a string");
    assert_eq!(got, vec![4]);
    // A keyed UPDATE runs only where the key lives.
    c.query_drop("UPDATE orders SET amount = amount + 1 WHERE user_id = 2")
        .expect("update");
    assert_eq!(c.affected_rows(), 1);
    let amount: Option<String> = s1
        .query_first(format!("SELECT amount FROM {db}.orders_0002 WHERE id = 2"))
        .expect("read");
    assert_eq!(amount.as_deref(), Some("21.00"));
}

#[test]
fn prepared_writes_over_several_targets_and_metadata() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    let ins = c
        .prep("INSERT INTO orders (id, user_id, amount, status) VALUES (?, ?, ?, ?)")
        .expect("prepare");
    for (id, user) in [(1i64, 1i64), (2, 2), (3, 3), (4, 4)] {
        c.exec_drop(&ins, (id, user, "1.00", "new"))
            .expect("insert");
        assert_eq!(c.affected_rows(), 1);
    }
    // A keyed UPDATE over two shards, prepared: one transaction per shard, counts summed.
    let up = c
        .prep("UPDATE orders SET status = ? WHERE user_id IN (?, ?)")
        .expect("prepare");
    c.exec_drop(&up, ("paid", 1i64, 2i64))
        .expect("update over two shards");
    assert_eq!(c.affected_rows(), 2);
    assert_eq!(
        ids(
            &mut s0,
            &format!("SELECT id FROM {db}.orders_0001 WHERE status = 'paid'")
        ),
        vec![1]
    );
    assert_eq!(
        ids(
            &mut s1,
            &format!("SELECT id FROM {db}.orders_0002 WHERE status = 'paid'")
        ),
        vec![2]
    );
    // A prepared broadcast write reaches every shard and reports one shard's count.
    let b = c
        .prep("INSERT INTO countries (code, name) VALUES (?, ?)")
        .expect("prepare");
    c.exec_drop(&b, ("it", "Italy")).expect("broadcast");
    assert_eq!(c.affected_rows(), 1);
    assert_eq!(
        ids(&mut s1, &format!("SELECT COUNT(*) FROM {db}.countries")),
        vec![1]
    );
    // A prepared multi-row INSERT whose rows go to different sub-tables is refused by name.
    let two = c.prep("INSERT INTO orders (id, user_id, amount, status) VALUES (?, ?, 1, 'x'), (?, ?, 1, 'x')").expect("prepare");
    let e = my_err(c.exec_drop(&two, (10i64, 1i64, 11i64, 2i64)));
    assert_eq!(e.code, 1235, "{e:?}");
    assert!(
        e.message.contains("prepared multi-row INSERT"),
        "{}",
        e.message
    );
    // Metadata statements answer from the first sub-table.
    let cols: Vec<mysql::Row> = c.query("DESCRIBE orders").expect("describe");
    assert_eq!(cols.len(), 4);
    let cols: Vec<mysql::Row> = c.query("SHOW COLUMNS FROM orders").expect("show columns");
    assert_eq!(cols.len(), 4);
    let e = my_err(c.query_drop("ALTER TABLE orders ADD COLUMN x INT"));
    assert_eq!(e.code, 1235);
}

/// Text statements of one shape are analysed once (the shape cache), and every literal still
/// routes and reaches the backend as written: each user's rows, strings with spaces, and
/// statements the cache must not answer (a scatter, an escaped string) agree with the backends.
#[test]
fn repeated_text_statements_route_by_their_own_literals() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    for user in 0..40i64 {
        c.query_drop(format!(
            "INSERT INTO orders (id, user_id, amount, status) VALUES ({}, {user}, {user}.50, 'st {user}')",
            1000 + user
        ))
        .expect("insert");
    }
    for user in 0..40i64 {
        let row: Option<(i64, String, String)> = c
            .query_first(format!(
                "SELECT id, amount, status FROM orders WHERE user_id = {user} AND status = 'st {user}'"
            ))
            .expect("point read");
        assert_eq!(
            row,
            Some((1000 + user, format!("{user}.50"), format!("st {user}"))),
            "user {user}"
        );
    }
    // Each row sits in its own key's sub-table (4 sub-tables, 0-1 on s0, 2-3 on s1).
    for user in [0i64, 1, 2, 3, 37] {
        let slot = user % 4;
        let backend = if slot < 2 { &mut s0 } else { &mut s1 };
        assert_eq!(
            ids(
                backend,
                &format!("SELECT id FROM {db}.orders_{slot:04} WHERE user_id = {user}")
            ),
            vec![1000 + user]
        );
    }
    c.query_drop("UPDATE orders SET status = 'it\\'s' WHERE user_id = 5")
        .expect("escaped string");
    let status: Option<String> = c
        .query_first("SELECT status FROM orders WHERE user_id = 5")
        .expect("read back");
    assert_eq!(status.as_deref(), Some("it's"));
    assert_eq!(
        ids(
            &mut c,
            "SELECT id FROM orders WHERE user_id IN (1, 2) ORDER BY id"
        ),
        vec![1001, 1002]
    );
    let mut admin = proxy
        .conn_as(ADMIN_USER.0, ADMIN_USER.1, Some(&db))
        .expect("admin");
    let row: mysql::Row = admin
        .query_first("SHOW SHARDGATE CONFIG")
        .expect("config")
        .expect("row");
    let num = |name: &str| -> u64 {
        row.get::<String, _>(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert!(
        num("shape_cache_hits") >= 70,
        "the 40 inserts and 40 reads share two shapes: {row:?}"
    );
    assert!(num("shape_cache_entries") >= 2);
}
