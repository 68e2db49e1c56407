//! Transactions over several shards: they span shards, and a commit that fails on one shard is
//! reported as partial.

use mysql::prelude::Queryable;

use super::{app, ids, setup};
use crate::harness::my_err;

#[test]
fn transactions_span_shards() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    c.query_drop("BEGIN").expect("begin");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (1, 1, 1, 'a')")
        .expect("s0");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (2, 2, 2, 'b')")
        .expect("s1");
    c.query_drop("ROLLBACK").expect("rollback");
    assert_eq!(
        ids(&mut s0, &format!("SELECT COUNT(*) FROM {db}.orders_0001")),
        vec![0]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT COUNT(*) FROM {db}.orders_0002")),
        vec![0]
    );
    c.query_drop("START TRANSACTION").expect("begin");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (1, 1, 1, 'a')")
        .expect("s0");
    c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES (2, 2, 2, 'b'), (3, 3, 3, 'c')",
    )
    .expect("s1");
    // Inside the transaction the session reads its own uncommitted rows on both shards.
    assert_eq!(
        ids(&mut c, "SELECT id FROM orders WHERE user_id = 2"),
        vec![2]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT COUNT(*) FROM {db}.orders_0002")),
        vec![0],
        "not visible before COMMIT"
    );
    c.query_drop("COMMIT").expect("commit");
    assert_eq!(
        ids(&mut s0, &format!("SELECT id FROM {db}.orders_0001")),
        vec![1]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT id FROM {db}.orders_0002")),
        vec![2]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT id FROM {db}.orders_0003")),
        vec![3]
    );
    // A failing row of a split INSERT leaves nothing behind on any shard.
    let e = my_err(c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES (10, 4, 1, 'x'), (3, 3, 1, 'dup')",
    ));
    assert_eq!(e.code, 1062, "{e:?}");
    assert_eq!(
        ids(&mut s0, &format!("SELECT COUNT(*) FROM {db}.orders_0000")),
        vec![0]
    );
    // Broadcast writes reach every shard.
    c.query_drop("INSERT INTO countries (code, name) VALUES ('fr', 'France'), ('de', 'Germany')")
        .expect("broadcast");
    assert_eq!(c.affected_rows(), 2, "one shard's count, not the sum");
    assert_eq!(
        ids(&mut s0, &format!("SELECT COUNT(*) FROM {db}.countries")),
        vec![2]
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT COUNT(*) FROM {db}.countries")),
        vec![2]
    );
}

#[test]
fn a_commit_that_fails_on_one_shard_is_reported_as_partial() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    c.query_drop("BEGIN").expect("begin");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (1, 1, 1, 'a')")
        .expect("s0");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (2, 2, 2, 'b')")
        .expect("s1");
    // The transaction's connection on s1 dies before COMMIT.
    let victims: Vec<u64> = s1
        .query(format!(
            "SELECT p.id FROM information_schema.processlist p JOIN information_schema.innodb_trx t \
             ON t.trx_mysql_thread_id = p.id WHERE p.db = '{db}'"
        ))
        .expect("find the transaction");
    assert_eq!(victims.len(), 1, "one open transaction on s1");
    s1.query_drop(format!("KILL CONNECTION {}", victims[0]))
        .expect("kill");
    let e = my_err(c.query_drop("COMMIT"));
    assert_eq!(e.code, 1180, "{e:?}");
    assert!(e.message.contains("partially committed"), "{}", e.message);
    assert!(
        e.message.contains("s0/primary") && e.message.contains("s1/primary"),
        "{}",
        e.message
    );
    assert_eq!(
        ids(&mut s0, &format!("SELECT id FROM {db}.orders_0001")),
        vec![1],
        "s0 committed"
    );
    assert_eq!(
        ids(&mut s1, &format!("SELECT COUNT(*) FROM {db}.orders_0002")),
        vec![0],
        "s1 did not"
    );
    // The session goes on: a new transaction on both shards works.
    c.query_drop("BEGIN").expect("begin again");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (3, 2, 2, 'b')")
        .expect("s1 again");
    c.query_drop("COMMIT").expect("commit");
    assert_eq!(
        ids(&mut s1, &format!("SELECT id FROM {db}.orders_0002")),
        vec![3]
    );
}

#[test]
fn prepared_statements_inside_a_transaction_stay_in_it() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES (10, 2, 1, 'x'), (11, 1, 1, 'y')",
    )
    .expect("seed rows");
    let del = c
        .prep("DELETE FROM orders WHERE user_id = ? AND id = ?")
        .expect("prepare");
    let ins = c
        .prep("INSERT INTO orders (id, user_id, amount, status) VALUES (?, ?, 1, 'z')")
        .expect("prepare");
    let sel = c
        .prep("SELECT id FROM orders WHERE user_id = ? ORDER BY id")
        .expect("prepare");
    c.query_drop("BEGIN").expect("begin");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (12, 1, 1, 'a')")
        .expect("s0 text");
    c.exec_drop(&del, (2i64, 10i64))
        .expect("s1 prepared delete");
    c.exec_drop(&ins, (13i64, "2")).expect("s1 prepared insert");
    let both = ids(
        &mut c,
        "SELECT id FROM orders WHERE user_id IN (2, 1) ORDER BY id",
    );
    assert_eq!(
        both,
        vec![11, 12, 13],
        "a scatter inside the transaction sees its writes"
    );
    let own: Vec<i64> = c.exec(&sel, (1i64,)).expect("read s0");
    assert_eq!(own, vec![11, 12], "the transaction sees its own s0 insert");
    let own: Vec<i64> = c.exec(&sel, (2i64,)).expect("read s1");
    assert_eq!(
        own,
        vec![13],
        "the transaction sees its own s1 delete and insert"
    );
    c.query_drop("ROLLBACK").expect("rollback");
    assert_eq!(
        ids(
            &mut s0,
            &format!("SELECT id FROM {db}.orders_0001 ORDER BY id")
        ),
        vec![11]
    );
    assert_eq!(
        ids(
            &mut s1,
            &format!("SELECT id FROM {db}.orders_0002 ORDER BY id")
        ),
        vec![10]
    );
}

/// COM_STMT_CLOSE has no reply: it must not change what the session believes about its
/// transaction (it once cleared the autocommit flag, so later writes were left uncommitted).
#[test]
fn closing_a_statement_keeps_autocommit() {
    let (proxy, _s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    let stmt = c
        .prep("SELECT id FROM orders WHERE user_id = ?")
        .expect("prepare");
    c.close(stmt).expect("close");
    c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES (1, 2, 1, 'a'), (2, 3, 1, 'b')",
    )
    .expect("split insert");
    // Committed at once: visible from another connection.
    assert_eq!(
        ids(&mut s1, &format!("SELECT id FROM {db}.orders_0002")),
        vec![1]
    );
    let n: Vec<i64> = c
        .query("SELECT COUNT(*) FROM orders")
        .expect("scatter outside a transaction");
    assert_eq!(n, vec![2]);
}

/// The client's savepoints hold on every shard of the transaction: ROLLBACK TO undoes each
/// shard's work since the savepoint, whether the shard joined before it or after it.
#[test]
fn savepoints_span_shards() {
    let (proxy, mut s0, mut s1, db) = setup();
    let mut c = app(&proxy, &db);
    let count = |conn: &mut mysql::Conn, table: &str| -> i64 {
        conn.query_first(format!("SELECT COUNT(*) FROM {db}.{table}"))
            .expect("count")
            .unwrap_or(-1)
    };
    // user_id % 4: 1 -> orders_0001 (s0, the default shard), 2 -> orders_0002 (s1).
    c.query_drop("BEGIN").expect("begin");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (1, 1, 1, 'keep')")
        .expect("s0");
    c.query_drop("SAVEPOINT a")
        .expect("savepoint before s1 joins");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (2, 2, 1, 'undo')")
        .expect("s1 joins after the savepoint");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (5, 5, 1, 'undo')")
        .expect("s0 after the savepoint");
    c.query_drop("ROLLBACK TO SAVEPOINT a")
        .expect("rollback to a");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (6, 6, 1, 'keep')")
        .expect("s1 again");
    c.query_drop("SAVEPOINT `B`")
        .expect("savepoint with s1 in the transaction");
    c.query_drop("UPDATE orders SET status = 'undo' WHERE user_id IN (1, 6)")
        .expect("both shards");
    c.query_drop("rollback work to b").expect("rollback to b");
    c.query_drop("RELEASE SAVEPOINT a").expect("release");
    let e = my_err(c.query_drop("ROLLBACK TO a"));
    assert_eq!(e.code, 1305, "released: {e:?}");
    c.query_drop("COMMIT").expect("commit");
    assert_eq!(
        count(&mut s0, "orders_0001"),
        1,
        "user 1 kept, user 5 undone"
    );
    assert_eq!(
        count(&mut s1, "orders_0002"),
        1,
        "user 2 undone, user 6 kept"
    );
    let statuses: Vec<String> = c
        .query("SELECT status FROM orders WHERE user_id IN (1, 2, 5, 6) ORDER BY id")
        .expect("read back");
    assert_eq!(statuses, vec!["keep", "keep"]);
    // A new transaction starts without the old savepoints.
    c.query_drop("BEGIN").expect("begin");
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (10, 2, 1, 'x')")
        .expect("s1");
    let e = my_err(c.query_drop("ROLLBACK TO b"));
    assert_eq!(e.code, 1305, "no savepoint b in this transaction: {e:?}");
    c.query_drop("ROLLBACK").expect("rollback");
    assert_eq!(count(&mut s1, "orders_0002"), 1);
}
