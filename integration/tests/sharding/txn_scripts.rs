//! Transactions ended (or kept) exactly where one server would, in the cases an attack on
//! the proxy found: statements that look like implicit commits and are not, autocommit
//! turned off and on in every spelling, stale savepoints, hidden transaction control
//! (refused while a transaction spans shards), and a deadlock on one shard.

use mysql::Conn;
use mysql::prelude::Queryable;

use super::txn_endings::{Start, connect, reference_schema, rows_direct, rows_sharded};
use super::{app, backend, setup};
use crate::harness::sandbox;

/// Transactions the proxy must end (or keep) exactly where one server would, found by
/// attacking it: one server's answer to each script is the oracle. A statement written
/// `!…` is one the proxy refuses (1235) while the transaction spans shards; the reference
/// does not run it.
const SCRIPTS: &[&[&str]] = &[
    // MariaDB does not report SET @@autocommit (no scope keyword) through session tracking.
    &[
        "SET @@autocommit = 0",
        "I 1",
        "I 2",
        "SAVEPOINT a",
        "I 3",
        "ROLLBACK TO a",
        "ROLLBACK",
    ],
    &[
        "SET autocommit = 0",
        "I 1",
        "I 2",
        "SAVEPOINT a",
        "U 1",
        "SAVEPOINT b",
        "U 3",
        "I 0",
        "ROLLBACK TO SAVEPOINT b",
        "ROLLBACK TO a",
        "COMMIT",
    ],
    // Not implicit commits: UNLOCK TABLES without locks, a temporary table in an executable
    // comment, a statement the proxy refuses.
    &["BEGIN", "I 1", "I 2", "UNLOCK TABLES", "ROLLBACK"],
    &[
        "BEGIN",
        "I 1",
        "I 2",
        "CREATE /*!32302 TEMPORARY */ TABLE tmp_x (a INT)",
        "ROLLBACK",
        "DROP TEMPORARY TABLE IF EXISTS tmp_x",
    ],
    &[
        "SET autocommit = 0",
        "I 1",
        "I 2",
        "SET autocommit = 1",
        "ROLLBACK",
    ],
    &[
        "SET autocommit = 0",
        "I 2",
        "SET autocommit = 1",
        "I 3",
        "ROLLBACK",
    ],
    // A stale savepoint list must not open a hidden transaction after the COMMIT.
    &["BEGIN", "SAVEPOINT a", "COMMIT", "I 2", "I 1"],
    // Hidden transaction control while the transaction spans shards is refused.
    &[
        "BEGIN",
        "I 1",
        "I 2",
        "!EXECUTE IMMEDIATE 'ROLLBACK'",
        "I 3",
        "COMMIT",
    ],
    &[
        "BEGIN",
        "I 1",
        "I 2",
        "!CALL no_such_procedure()",
        "ROLLBACK",
    ],
    &[
        "BEGIN",
        "I 1",
        "I 2",
        "!/* c */ XA START 'sg-x'",
        "I 3",
        "ROLLBACK",
    ],
    &[
        "START TRANSACTION",
        "I 2",
        "I 3",
        "COMMIT AND CHAIN",
        "I 1",
        "I 2",
        "ROLLBACK",
    ],
    &[
        "SET autocommit = 0",
        "I 1",
        "I 2",
        "BEGIN",
        "I 3",
        "ROLLBACK",
    ],
];

fn expand(step: &str, base_id: i64, n: usize) -> String {
    let id = base_id + n as i64;
    match step.split_once(' ') {
        Some(("I", user)) => format!(
            "INSERT INTO orders (id, user_id, amount, status) VALUES ({id}, {user}, 1, 's')"
        ),
        Some(("U", user)) => format!("UPDATE orders SET status = 'v{n}' WHERE user_id = {user}"),
        _ => step.trim_start_matches('!').to_string(),
    }
}

fn answer(c: &mut Conn, sql: &str) -> u16 {
    match c.query_drop(sql) {
        Ok(()) => 0,
        Err(mysql::Error::MySqlError(e)) => e.code,
        Err(e) => panic!("{sql}: {e}"),
    }
}

#[test]
fn transactions_end_where_one_server_ends_them() {
    let (proxy, mut s0, _, db) = setup();
    let ref_db = reference_schema(&mut s0, &db);
    for (i, script) in SCRIPTS.iter().enumerate() {
        let base_id = 5000 + 100 * i as i64;
        let mut p = connect(Start::Begin, Some(&proxy), &db);
        let mut r = connect(Start::Begin, None, &ref_db);
        for (n, step) in script.iter().enumerate() {
            let sql = expand(step, base_id, n);
            let got = answer(&mut p, &sql);
            if step.starts_with('!') {
                assert_eq!(got, 1235, "script {i}: {sql} must be refused by the proxy");
                continue;
            }
            let want = answer(&mut r, &sql);
            assert_eq!(got, want, "script {i}: {sql}");
        }
        drop((p, r));
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(
            rows_sharded(&db),
            rows_direct(&ref_db),
            "script {i}: {script:?}"
        );
    }
}

#[test]
fn a_deadlock_on_one_shard_rolls_back_every_shard() {
    let (proxy, mut s0, mut s1, db) = setup();
    s0.query_drop(format!(
        "INSERT INTO {db}.orders_0000 (id, user_id, amount, status) VALUES (1, 0, 1, 'a'), \
         (2, 4, 1, 'a')"
    ))
    .expect("seed");
    let mut p = app(&proxy, &db);
    p.query_drop("BEGIN").expect("begin");
    p.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (9, 2, 1, 'p')")
        .expect("s1 write");
    p.query_drop("UPDATE orders SET status = 'p' WHERE user_id = 0 AND id = 1")
        .expect("lock row 1");
    let other = std::thread::spawn({
        let db = db.clone();
        move || {
            let mut d = backend(&sandbox().s0_primary);
            d.query_drop("BEGIN").expect("begin");
            d.query_drop(format!(
                "UPDATE {db}.orders_0000 SET status = 'd' WHERE id = 2"
            ))
            .expect("lock row 2");
            // Waits for the proxy's row 1: one of the two is the deadlock's victim.
            let r = d.query_drop(format!(
                "UPDATE {db}.orders_0000 SET status = 'd' WHERE id = 1"
            ));
            let _ = d.query_drop(if r.is_ok() { "COMMIT" } else { "ROLLBACK" });
            r.is_ok()
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let victim = p.query_drop("UPDATE orders SET status = 'p' WHERE user_id = 4 AND id = 2");
    let other_won = other.join().expect("other client");
    if victim.is_ok() {
        // The other client was the victim: the proxy's transaction is intact.
        assert!(!other_won);
        p.query_drop("ROLLBACK").expect("rollback");
        return;
    }
    assert_eq!(crate::harness::my_err(victim).code, 1213);
    // One server rolled the whole transaction back: so must every shard.
    let check = |c: &mut Conn, sql: &str| -> Vec<i64> { c.query(sql).expect(sql) };
    assert_eq!(
        check(
            &mut s1,
            &format!("SELECT COUNT(*) FROM {db}.orders_0002 WHERE id = 9")
        ),
        vec![0],
        "the s1 write of the deadlocked transaction"
    );
    p.query_drop("COMMIT").expect("commit after the deadlock");
    assert_eq!(
        check(
            &mut s1,
            &format!("SELECT COUNT(*) FROM {db}.orders_0002 WHERE id = 9")
        ),
        vec![0],
        "COMMIT after a deadlock commits nothing of the rolled-back transaction"
    );
}
