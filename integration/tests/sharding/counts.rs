//! `ROW_COUNT()` and `FOUND_ROWS()` after sharded statements: the sharded statement's own
//! counts (summed over a split write, the merged rows of a scatter), outside and inside a
//! transaction, where the held default-shard connection's own counts would be wrong.

use mysql::Conn;
use mysql::prelude::Queryable;

use super::{app, setup};

fn row_count(c: &mut Conn) -> Option<i64> {
    c.query_first("SELECT ROW_COUNT()").expect("ROW_COUNT()")
}

fn found_rows(c: &mut Conn) -> Option<i64> {
    c.query_first("SELECT FOUND_ROWS()").expect("FOUND_ROWS()")
}

#[test]
fn row_count_and_found_rows_follow_sharded_statements() {
    let (proxy, _s0, _s1, db) = setup();
    let mut c = app(&proxy, &db);
    // user_id % 4: slots 0-1 on s0 (the default shard), 2-3 on s1.
    c.query_drop(
        "INSERT INTO orders (id, user_id, amount, status) VALUES \
         (1, 1, 1, 'a'), (2, 2, 2, 'b'), (3, 3, 3, 'c'), (5, 5, 5, 'e'), (6, 6, 6, 'f')",
    )
    .expect("split insert");
    assert_eq!(row_count(&mut c), Some(5), "summed over both shards");
    c.query_drop("UPDATE orders SET amount = amount + 1 WHERE user_id = 2")
        .expect("s1 update");
    assert_eq!(row_count(&mut c), Some(1), "single target on s1");
    c.query_drop("UPDATE orders SET amount = amount + 1 WHERE user_id IN (1, 2, 3)")
        .expect("multi-target update");
    assert_eq!(row_count(&mut c), Some(3));
    let got: Vec<i64> = c
        .query("SELECT id FROM orders WHERE user_id IN (2, 3, 6) ORDER BY id")
        .expect("scatter");
    assert_eq!(got, vec![2, 3, 6]);
    assert_eq!(found_rows(&mut c), Some(3), "merged rows");
    c.query_drop("SELECT id FROM orders WHERE user_id IN (2, 3, 6) ORDER BY id")
        .expect("scatter");
    assert_eq!(row_count(&mut c), Some(-1), "after a result set");

    c.query_drop("BEGIN").expect("begin");
    c.query_drop("UPDATE orders SET status = 'x' WHERE user_id = 1")
        .expect("default shard");
    assert_eq!(row_count(&mut c), Some(1), "on the held connection");
    c.query_drop("UPDATE orders SET status = 'y' WHERE user_id IN (2, 6)")
        .expect("s1, two sub-tables");
    assert_eq!(
        row_count(&mut c),
        Some(2),
        "the s1 write's count, not the held s0 connection's"
    );
    let got: Vec<i64> = c
        .query("SELECT id FROM orders WHERE user_id = 3")
        .expect("s1 read");
    assert_eq!(got, vec![3]);
    assert_eq!(found_rows(&mut c), Some(1));
    c.query_drop("DELETE FROM orders WHERE user_id = 5")
        .expect("default shard delete");
    assert_eq!(row_count(&mut c), Some(1));
    c.query_drop("COMMIT").expect("commit");
    assert!(
        c.query_drop("UPDATE orders SET user_id = 7 WHERE user_id = 1")
            .is_err(),
        "moving a row across shards is refused"
    );
    assert_eq!(row_count(&mut c), Some(-1), "after a refused statement");
}

fn last_insert_id(c: &mut Conn) -> Option<u64> {
    c.query_first("SELECT LAST_INSERT_ID()")
        .expect("LAST_INSERT_ID()")
}

/// `LAST_INSERT_ID()` after an insert that generated an id on another shard than the default
/// one: that shard's value, outside and inside a transaction (where the held default-shard
/// connection has its own), and unchanged by an explicit id (which the OK packet reports).
#[test]
fn last_insert_id_follows_inserts_on_every_shard() {
    let (proxy, mut s0, mut s1, db) = setup();
    s0.query_drop(format!(
        "ALTER TABLE {db}.orders_0001 MODIFY id BIGINT NOT NULL AUTO_INCREMENT, AUTO_INCREMENT = 100"
    ))
    .expect("auto_increment on s0");
    s1.query_drop(format!(
        "ALTER TABLE {db}.orders_0002 MODIFY id BIGINT NOT NULL AUTO_INCREMENT, AUTO_INCREMENT = 500"
    ))
    .expect("auto_increment on s1");
    let mut c = app(&proxy, &db);
    // user_id 2 -> orders_0002 on s1; user_id 1 -> orders_0001 on s0 (the default shard).
    c.query_drop("INSERT INTO orders (user_id, amount, status) VALUES (2, 1, 'a')")
        .expect("s1 insert");
    assert_eq!(c.last_insert_id(), 500, "the OK packet");
    assert_eq!(
        last_insert_id(&mut c),
        Some(500),
        "LAST_INSERT_ID() of the s1 insert"
    );
    c.query_drop("INSERT INTO orders (user_id, amount, status) VALUES (1, 1, 'b')")
        .expect("s0 insert");
    assert_eq!(last_insert_id(&mut c), Some(100));
    c.query_drop("INSERT INTO orders (id, user_id, amount, status) VALUES (9000, 6, 1, 'c')")
        .expect("explicit id on s1");
    assert_eq!(
        last_insert_id(&mut c),
        Some(100),
        "an explicit id does not change LAST_INSERT_ID()"
    );

    c.query_drop("BEGIN").expect("begin");
    c.query_drop("INSERT INTO orders (user_id, amount, status) VALUES (1, 1, 'd')")
        .expect("s0 insert in a transaction");
    assert_eq!(last_insert_id(&mut c), Some(101), "on the held connection");
    c.query_drop("INSERT INTO orders (user_id, amount, status) VALUES (2, 1, 'e')")
        .expect("s1 insert in a transaction");
    let (lid, one): (u64, i64) = c
        .query_first("SELECT LAST_INSERT_ID(), 1")
        .expect("read")
        .expect("row");
    assert_eq!(
        (lid, one),
        (9001, 1),
        "the s1 value, not the held s0 connection's"
    );
    c.query_drop("INSERT INTO orders (user_id, amount, status) VALUES (5, 1, 'f')")
        .expect("s0 insert again");
    assert_eq!(last_insert_id(&mut c), Some(102));
    c.query_drop("COMMIT").expect("commit");

    let stmt = c
        .prep("INSERT INTO orders (user_id, amount, status) VALUES (?, 1, 'g')")
        .expect("prepare");
    c.exec_drop(&stmt, (6,)).expect("prepared s1 insert");
    assert_eq!(
        last_insert_id(&mut c),
        Some(9002),
        "after a prepared insert on s1"
    );
    c.exec_drop(&stmt, (6,)).expect("prepared s1 insert");
    assert_eq!(
        row_count(&mut c),
        Some(1),
        "ROW_COUNT() of a prepared insert on s1"
    );
    let upd = c
        .prep("UPDATE orders SET amount = amount + 1 WHERE user_id = ?")
        .expect("prepare");
    c.exec_drop(&upd, (1,)).expect("prepared update on s0");
    assert_eq!(
        row_count(&mut c),
        Some(2),
        "on the default shard (user 1: two rows)"
    );
    c.exec_drop(&upd, (6,)).expect("prepared update on s1");
    assert_eq!(row_count(&mut c), Some(3), "on s1 (user 6: three rows)");
}
