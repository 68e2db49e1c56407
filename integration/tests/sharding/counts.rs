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
