//! Read/write splitting: where each kind of statement runs, through a proxy whose shard s0 has
//! its real replica (server_id 2) beside its primary (server_id 1). `@@server_id` in a read
//! tells which server answered; writes record `@@server_id` in the row they write.

use std::collections::HashMap;

use mysql::prelude::Queryable;

use crate::harness::rw::{
    PRIMARY, REPLICA, assert_runs_on, explain, replicated_table, rw_proxy, server, wait_caught_up,
};
use crate::harness::{sandbox, unique};

/// Global write counters the replication SQL thread does not bump: MariaDB applies row events
/// as Com_insert / Com_update / Com_delete (checked against the sandbox), never as these.
const MULTI_WRITE_COUNTERS: [&str; 5] = [
    "Com_replace",
    "Com_insert_select",
    "Com_replace_select",
    "Com_update_multi",
    "Com_delete_multi",
];

fn counters(addr: &str) -> HashMap<String, u64> {
    let list = MULTI_WRITE_COUNTERS.map(|c| format!("'{c}'")).join(", ");
    server(addr)
        .query::<(String, u64), _>(format!(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ({list})"
        ))
        .expect("SHOW GLOBAL STATUS")
        .into_iter()
        .collect()
}

#[test]
fn rw_plain_reads_go_to_the_replica_writes_to_the_primary() {
    let sb = sandbox();
    let t = replicated_table("rw_route");
    let t2 = replicated_table("rw_route2");
    let proxy = rw_proxy("", |_| {});
    let mut reader = proxy.conn();
    for _ in 0..50 {
        assert_runs_on(&mut reader, "SELECT @@server_id", REPLICA);
    }
    let v: Vec<(u32, i32)> = reader
        .query(format!(
            "SELECT @@server_id, v FROM `{}` ORDER BY id",
            t.name
        ))
        .expect("select from the table");
    assert_eq!(v, vec![(REPLICA, 10), (REPLICA, 20)]);

    // Single-table writes record where they ran.
    let mut writer = proxy.conn();
    let (n, n2) = (&t.name, &t2.name);
    writer
        .query_drop(format!(
            "INSERT INTO `{n}` (id, v, sid) VALUES (10, 0, @@server_id)"
        ))
        .expect("insert");
    writer
        .query_drop(format!(
            "UPDATE `{n}` SET sid = @@server_id + 100 WHERE id = 1"
        ))
        .expect("update");
    writer
        .query_drop(format!(
            "DELETE FROM `{n}` WHERE id = 2 AND @@server_id = 1"
        ))
        .expect("delete");
    assert_eq!(
        writer.affected_rows(),
        1,
        "the DELETE found @@server_id <> 1: it ran on a replica"
    );

    // Multi-table writes: their counters move on the primary and never on the replica.
    let (p0, r0) = (counters(&sb.s0_primary), counters(&sb.s0_replica));
    for sql in [
        format!("REPLACE INTO `{n}` (id, v, sid) VALUES (20, 1, @@server_id)"),
        format!(
            "INSERT INTO `{n}` (id, v, sid) SELECT id + 100, v, @@server_id FROM `{n}` WHERE id = 20"
        ),
        format!(
            "REPLACE INTO `{n}` (id, v, sid) SELECT id + 200, v, @@server_id FROM `{n}` WHERE id = 20"
        ),
        format!(
            "UPDATE `{n}` a JOIN `{n2}` b ON b.id = 1 SET a.v = 7, a.sid = @@server_id WHERE a.id = 20"
        ),
        format!("DELETE a FROM `{n}` a JOIN `{n2}` b ON b.id = 1 WHERE a.id = 120"),
    ] {
        writer
            .query_drop(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let (p1, r1) = (counters(&sb.s0_primary), counters(&sb.s0_replica));
    for c in MULTI_WRITE_COUNTERS {
        assert_eq!(
            r1[c], r0[c],
            "{c} moved on the replica: a write was sent there"
        );
        assert!(p1[c] > p0[c], "{c} did not move on the primary");
    }

    // What the writes left on the primary (directly), and on the replica through replication.
    let want = vec![
        (1, 10, Some(101)),
        (10, 0, Some(1)),
        (20, 7, Some(1)),
        (220, 1, Some(1)),
    ];
    let on_primary: Vec<(i32, i32, Option<i32>)> = server(&sb.s0_primary)
        .query(format!("SELECT id, v, sid FROM shop.`{n}` ORDER BY id"))
        .expect("rows on the primary");
    assert_eq!(on_primary, want, "rows on the primary");
    wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
    let on_replica: Vec<(i32, i32, Option<i32>)> = server(&sb.s0_replica)
        .query(format!("SELECT id, v, sid FROM shop.`{n}` ORDER BY id"))
        .expect("rows on the replica");
    assert_eq!(on_replica, want, "rows on the replica");
}

#[test]
fn rw_hints_route_and_hints_in_strings_do_not() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    for (sql, want) in [
        ("SELECT @@server_id", REPLICA),
        ("/*+ shardgate:primary */ SELECT @@server_id", PRIMARY),
        ("SELECT /*+ shardgate:primary */ @@server_id", PRIMARY),
        ("/*master*/ SELECT @@server_id", PRIMARY),
        ("SELECT /*master*/ @@server_id", PRIMARY),
        ("SELECT @@server_id /*master*/", PRIMARY),
        ("/*+ shardgate:replica */ SELECT @@server_id", REPLICA),
        (
            "SELECT @@server_id, '/*+ shardgate:primary */' AS s",
            REPLICA,
        ),
        ("SELECT @@server_id, '/*master*/' AS s", REPLICA),
        ("SELECT @@server_id, \"/*master*/\" AS s", REPLICA),
        ("SELECT @@server_id, 'it''s /*master*/' AS s", REPLICA),
    ] {
        assert_runs_on(&mut c, sql, want);
    }
    // SHOW is a read too.
    let row: Option<(String, u32)> = c
        .query_first("SHOW VARIABLES LIKE 'server_id'")
        .expect("SHOW VARIABLES");
    assert_eq!(row.map(|r| r.1), Some(REPLICA), "SHOW ran on the primary");
}

#[test]
fn rw_locking_reads_and_session_functions_go_to_the_primary() {
    let t = replicated_table("rw_lock");
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    let n = &t.name;
    let lock = unique("rw_lock_name");
    for sql in [
        format!("SELECT @@server_id, v FROM `{n}` WHERE id = 1 FOR UPDATE"),
        format!("SELECT @@server_id, v FROM `{n}` WHERE id = 1 LOCK IN SHARE MODE"),
        "SELECT @@server_id, LAST_INSERT_ID()".to_string(),
        format!("SELECT @@server_id, IS_USED_LOCK('{lock}')"),
    ] {
        assert_runs_on(&mut c, &sql, PRIMARY);
    }
    // Under multiplexing the previous statement's connection is gone: these two are answered
    // by the proxy on their own, and refused by name inside a larger statement.
    for f in ["FOUND_ROWS()", "ROW_COUNT()"] {
        let e = crate::harness::my_err(c.query_drop(format!("SELECT @@server_id, {f}")));
        assert_eq!(e.code, 1235, "{f}: {e:?}");
        assert!(e.message.contains(f), "{f}: {e:?}");
    }
    // A lock taken through the proxy lives on the session's primary connection: the same
    // session can release it.
    let got: Option<(u32, i32)> = c
        .query_first(format!("SELECT @@server_id, GET_LOCK('{lock}', 0)"))
        .expect("GET_LOCK");
    assert_eq!(got, Some((PRIMARY, 1)), "GET_LOCK");
    let got: Option<(u32, i32)> = c
        .query_first(format!("SELECT @@server_id, RELEASE_LOCK('{lock}')"))
        .expect("RELEASE_LOCK");
    assert_eq!(
        got,
        Some((PRIMARY, 1)),
        "RELEASE_LOCK of the lock just taken"
    );
    // MariaDB 10.11 has no FOR SHARE (syntax error on every server): the router's decision.
    let mut admin = proxy.admin();
    let row = explain(
        &mut admin,
        &format!("SELECT v FROM `{n}` WHERE id = 1 FOR SHARE"),
    );
    assert_eq!(row.role, "primary", "{row:?}");
    assert!(row.reason.contains("locking read"), "{row:?}");
}

#[test]
fn rw_transactions_and_autocommit_off_keep_reads_on_the_primary() {
    let t = replicated_table("rw_txn");
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    let n = &t.name;
    assert_runs_on(&mut c, "SELECT @@server_id", REPLICA);
    for (begin, end) in [
        ("BEGIN", "COMMIT"),
        ("START TRANSACTION", "ROLLBACK"),
        ("START TRANSACTION WITH CONSISTENT SNAPSHOT", "COMMIT"),
    ] {
        c.query_drop(begin).expect(begin);
        assert_runs_on(&mut c, "SELECT @@server_id", PRIMARY);
        assert_runs_on(
            &mut c,
            &format!("SELECT @@server_id FROM `{n}` LIMIT 1"),
            PRIMARY,
        );
        c.query_drop(end).expect(end);
        assert_runs_on(&mut c, "SELECT @@server_id", REPLICA);
    }
    // A read inside a transaction sees the transaction's own uncommitted write.
    c.query_drop("BEGIN").expect("BEGIN");
    c.query_drop(format!("UPDATE `{n}` SET v = 11 WHERE id = 1"))
        .expect("update");
    let got: Option<(u32, i32)> = c
        .query_first(format!("SELECT @@server_id, v FROM `{n}` WHERE id = 1"))
        .expect("select");
    assert_eq!(got, Some((PRIMARY, 11)));
    c.query_drop("ROLLBACK").expect("ROLLBACK");

    c.query_drop("SET autocommit = 0").expect("autocommit 0");
    for _ in 0..3 {
        assert_runs_on(&mut c, "SELECT @@server_id", PRIMARY);
    }
    c.query_drop("COMMIT").expect("COMMIT");
    assert_runs_on(&mut c, "SELECT @@server_id", PRIMARY);
    c.query_drop("SET autocommit = 1").expect("autocommit 1");
    assert_runs_on(&mut c, "SELECT @@server_id", REPLICA);
}

/// The issue allows a READ ONLY transaction on one replica; this proxy keeps it on the
/// primary (documented behaviour): the whole transaction runs there.
#[test]
fn rw_start_transaction_read_only_is_kept_on_the_primary() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    c.query_drop("START TRANSACTION READ ONLY")
        .expect("START TRANSACTION READ ONLY");
    for _ in 0..3 {
        assert_runs_on(&mut c, "SELECT @@server_id", PRIMARY);
    }
    c.query_drop("COMMIT").expect("COMMIT");
    assert_runs_on(&mut c, "SELECT @@server_id", REPLICA);
}

#[test]
fn rw_critical_tables_and_patterns_go_to_the_primary() {
    let crit = replicated_table("rw_critical");
    let plain = replicated_table("rw_plain");
    let rules = format!(
        "critical_tables: [{}]\ncritical_patterns: ['(?i)\\brw_marker_crit\\d+\\b']",
        crit.name
    );
    let proxy = rw_proxy(&rules, |_| {});
    let mut c = proxy.conn();
    let (cn, pn) = (&crit.name, &plain.name);
    let upper = cn.to_uppercase();
    for (sql, want) in [
        (format!("SELECT @@server_id FROM `{pn}` LIMIT 1"), REPLICA),
        (format!("SELECT @@server_id FROM {cn} LIMIT 1"), PRIMARY),
        (format!("SELECT @@server_id FROM `{cn}` LIMIT 1"), PRIMARY),
        (
            format!("SELECT @@server_id FROM shop.`{cn}` LIMIT 1"),
            PRIMARY,
        ),
        (
            format!("SELECT @@server_id FROM `{pn}` WHERE id IN (SELECT id FROM `{cn}`) LIMIT 1"),
            PRIMARY,
        ),
        (
            format!("SELECT @@server_id FROM `{pn}` p JOIN `{cn}` c USING (id) LIMIT 1"),
            PRIMARY,
        ),
        // The name in a string is not a table.
        (format!("SELECT @@server_id, '{cn}' AS s"), REPLICA),
        (
            "SELECT @@server_id, 'rw_marker_crit42' AS s".to_string(),
            PRIMARY,
        ),
        (
            "SELECT @@server_id, 'rw_marker_other' AS s".to_string(),
            REPLICA,
        ),
    ] {
        assert_runs_on(&mut c, &sql, want);
    }
    // Names compare case-insensitively (the table itself is case-sensitive on this server, so
    // only the decision can be shown).
    let e = explain(&mut proxy.admin(), &format!("SELECT v FROM {upper}"));
    assert_eq!(e.role, "primary", "{e:?}");
    assert!(e.reason.contains("critical table"), "{e:?}");
}

#[test]
fn rw_default_role_primary_user_reads_from_the_primary() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.primary_user();
    for _ in 0..5 {
        assert_runs_on(&mut c, "SELECT @@server_id", PRIMARY);
    }
    assert_runs_on(
        &mut c,
        "/*+ shardgate:replica */ SELECT @@server_id",
        PRIMARY,
    );
    // Other users of the same proxy still read from the replica.
    assert_runs_on(&mut proxy.conn(), "SELECT @@server_id", REPLICA);
}
