//! What cannot be answered correctly across shards is refused with a named MySQL error.

use mysql::Value;
use mysql::prelude::Queryable;

use super::{app, setup};
use crate::harness::{ADMIN_USER, my_err};

#[test]
fn what_cannot_be_answered_is_refused_by_name() {
    let (proxy, _s0, _s1, db) = setup();
    let mut c = app(&proxy, &db);
    let cases: [(&str, u16, &str); 7] = [
        (
            "DELETE FROM orders WHERE status = 'x'",
            1235,
            "allow_full_scatter_writes",
        ),
        (
            "UPDATE orders SET user_id = 2 WHERE user_id = 1",
            1235,
            "sharding key orders.user_id",
        ),
        (
            "SELECT * FROM orders o JOIN order_items i ON o.id = i.order_id",
            1235,
            "not on their sharding keys",
        ),
        (
            "SELECT COUNT(DISTINCT status) FROM orders",
            1235,
            "COUNT(DISTINCT",
        ),
        (
            "SELECT ROW_NUMBER() OVER (ORDER BY id) FROM orders",
            1235,
            "window function",
        ),
        (
            "INSERT INTO events (id, kind) VALUES (NULL, 'x')",
            1235,
            "NULL sharding key",
        ),
        ("SELECT * FROM orders WHERE user_id = 'abc'", 1526, "abc"),
    ];
    for (sql, code, text) in cases {
        let e = my_err(c.query_drop(sql));
        assert_eq!(e.code, code, "{sql}: {e:?}");
        assert!(e.message.contains(text), "{sql}: {}", e.message);
        // The connection stays usable.
        let one: Option<i64> = c.query_first("SELECT 1").expect("still usable");
        assert_eq!(one, Some(1));
    }
    let admin = proxy.conn_as(ADMIN_USER.0, ADMIN_USER.1, Some(&db));
    let mut admin = admin.expect("admin");
    let rows: Vec<mysql::Row> = admin
        .query(
            "EXPLAIN SHARDGATE SELECT id FROM orders WHERE user_id IN (1, 2) ORDER BY id LIMIT 3",
        )
        .expect("explain");
    assert_eq!(rows.len(), 2, "one row per target");
    let text = |r: &mysql::Row, i: usize| match r.as_ref(i) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    };
    assert_eq!(text(&rows[0], 4), "orders_0001");
    assert_eq!(text(&rows[1], 4), "orders_0002");
    assert!(
        text(&rows[0], 5).contains("LIMIT 3"),
        "{}",
        text(&rows[0], 5)
    );
    assert!(
        text(&rows[0], 6).contains("k-way merge"),
        "{}",
        text(&rows[0], 6)
    );
}

/// User variables live on the session's default-shard connection: a statement using one runs
/// when it goes there (and sees the value), and is refused by name anywhere else — text and
/// prepared alike — instead of reading NULL on another shard.
#[test]
fn user_variables_run_only_on_the_default_shard() {
    let (proxy, _s0, _s1, db) = setup();
    let mut c = app(&proxy, &db);
    c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES \
         (1, 1, 10, 'a'), (2, 2, 20, 'b'), (5, 5, 50, 'c')",
    )
    .expect("insert");
    c.query_drop("SET @floor = 15").expect("set");
    // user 5 -> slot 1 on s0, the default shard: runs with the variable's value.
    let got: Vec<i64> = c
        .query("SELECT id FROM orders WHERE user_id IN (1, 5) AND amount > @floor ORDER BY id")
        .expect("default shard");
    assert_eq!(got, vec![5]);
    // user 2 -> slot 2 on s1.
    for sql in [
        "SELECT id FROM orders WHERE user_id = 2 AND amount > @floor",
        "UPDATE orders SET amount = @floor WHERE user_id = 2",
        "SELECT @last := id FROM orders WHERE user_id = 2",
        "SELECT id FROM orders WHERE amount > @floor",
    ] {
        let e = my_err(c.query_drop(sql));
        assert_eq!(e.code, 1235, "{sql}: {e:?}");
        assert!(e.message.contains("user variables"), "{sql}: {}", e.message);
    }
    let stmt = c
        .prep("SELECT id FROM orders WHERE user_id = ? AND amount > @floor")
        .expect("prepare");
    let got: Vec<i64> = c.exec(&stmt, (5,)).expect("default shard");
    assert_eq!(got, vec![5]);
    let e = my_err(c.exec::<i64, _, _>(&stmt, (2,)));
    assert_eq!(e.code, 1235);
    assert!(e.message.contains("user variables"), "{}", e.message);
    // The connection stays usable, the variable intact.
    let floor: Option<i64> = c.query_first("SELECT @floor").expect("read");
    assert_eq!(floor, Some(15));
}

/// A sharded schema whose default shard (s1) is not the proxy's (s0): its unsharded
/// statements run on s1, but session state (user variables, temporary tables, locks) lives on
/// the session's s0 connection, so statements creating or reading it there are refused by name
/// instead of losing it.
#[test]
fn session_state_outside_the_proxy_s_default_shard_is_refused() {
    let sb = crate::harness::sandbox();
    let db = crate::harness::unique("shdef");
    let mut s1 = super::backend(&sb.s1_primary);
    let mut s0 = super::backend(&sb.s0_primary);
    for conn in [&mut s0, &mut s1] {
        conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .expect("drop");
        conn.query_drop(format!("CREATE DATABASE {db}"))
            .expect("create");
    }
    s1.query_drop(format!("CREATE TABLE {db}.plain (a INT)"))
        .expect("plain");
    let rules = super::RULES
        .replace("DBNAME", &db)
        .replace("default_shard: s0", "default_shard: s1");
    let proxy = crate::harness::Proxy::start(crate::harness::ProxyOpts {
        sharding: Some(rules),
        rw_users: true,
        ..Default::default()
    });
    let mut c = app(&proxy, &db);
    c.query_drop("INSERT INTO plain VALUES (1)")
        .expect("unsharded write on s1");
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM plain").expect("read");
    assert_eq!(n, Some(1));
    for (sql, what) in [
        ("SET @x = 5", "user variable"),
        ("SELECT @x", "user variable"),
        (
            "CREATE TEMPORARY TABLE tt (a INT)",
            "CREATE TEMPORARY TABLE",
        ),
        ("SELECT GET_LOCK('k', 0)", "GET_LOCK"),
    ] {
        let e = my_err(c.query_drop(sql));
        assert_eq!(e.code, 1235, "{sql}: {e:?}");
        assert!(e.message.contains(what), "{sql}: {}", e.message);
        assert!(e.message.contains("default_shard"), "{}", e.message);
    }
    let n: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM plain")
        .expect("still usable");
    assert_eq!(n, Some(1));
    // Session variables set there are the session's, and only the session's.
    c.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
        .expect("set on s1");
    let mut other = app(&proxy, &db);
    for _ in 0..3 {
        let mode: Option<String> = c.query_first("SELECT @@session.sql_mode").expect("mode");
        assert_eq!(
            mode.as_deref(),
            Some("ANSI_QUOTES"),
            "the session's own setting"
        );
        let mode: Option<String> = other
            .query_first("SELECT @@session.sql_mode")
            .expect("other mode");
        assert_ne!(
            mode.as_deref(),
            Some("ANSI_QUOTES"),
            "another session does not inherit it"
        );
    }
    // Prepared statements on the schema's unsharded tables run on s1 too.
    let ins = c
        .prep("INSERT INTO plain VALUES (?)")
        .expect("prepare insert");
    c.exec_drop(&ins, (2,)).expect("prepared insert on s1");
    let count = c.prep("SELECT COUNT(*) FROM plain").expect("prepare read");
    let n: Option<i64> = c.exec_first(&count, ()).expect("prepared read");
    assert_eq!(n, Some(2));
    let on_s1: Option<i64> = s1
        .query_first(format!("SELECT COUNT(*) FROM {db}.plain"))
        .expect("direct");
    assert_eq!(on_s1, Some(2), "both rows on s1");
    for conn in [&mut s0, &mut s1] {
        conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .expect("drop");
    }
}
