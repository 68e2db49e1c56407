//! Sharding through the proxy, against the real sandbox: rows land in the sub-table of their
//! key (checked on the backends directly), multi-row inserts split, prepared statements route
//! by parameter, transactions span shards, scatter reads merge, and what cannot be answered
//! correctly is refused with a named MySQL error.

use mysql::prelude::Queryable;
use mysql::{Conn, Value};

use crate::harness::{
    ADMIN_USER, BACKEND_PASS, BACKEND_USER, Proxy, ProxyOpts, my_err, opts, sandbox, unique,
};

const RULES: &str = "
  allow_full_scatter_writes: false
  schemas:
    - name: DBNAME
      default_shard: s0
      broadcast_tables: [countries]
      binding_groups: [[orders, order_items]]
      tables:
        - { name: orders, key: user_id, algorithm: mod, sub_tables: 4, placement: [{ shard: s0, sub_tables: \"0-1\" }, { shard: s1, sub_tables: \"2-3\" }] }
        - { name: order_items, key: user_id, algorithm: mod, sub_tables: 4, placement: [{ shard: s0, sub_tables: \"0-1\" }, { shard: s1, sub_tables: \"2-3\" }] }
        - { name: events, key: id, algorithm: range, shards: [s0, s1], ranges: [{ to: 100, slot: 0 }, { from: 100, slot: 1 }] }
        - { name: labels, key: id, algorithm: mod, shards: [s0, s1] }
";

fn backend(addr: &str) -> Conn {
    Conn::new(opts(addr, BACKEND_USER, BACKEND_PASS, None)).expect("backend connection")
}

/// Fresh physical tables on both shards: orders_000{0,1} and order_items_000{0,1} on s0,
/// _0002/_0003 on s1, events and countries on both.
fn setup() -> (Proxy, Conn, Conn, String) {
    let sb = sandbox();
    let db = unique("sh");
    let db = db.as_str();
    let mut s0 = backend(&sb.s0_primary);
    let mut s1 = backend(&sb.s1_primary);
    for (conn, slots) in [(&mut s0, [0, 1]), (&mut s1, [2, 3])] {
        conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .expect("drop");
        conn.query_drop(format!("CREATE DATABASE {db}"))
            .expect("create");
        for s in slots {
            conn.query_drop(format!(
                "CREATE TABLE {db}.orders_{s:04} (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, \
                 amount DECIMAL(10,2) NOT NULL, status VARCHAR(16) NOT NULL)"
            ))
            .expect("orders");
            conn.query_drop(format!(
                "CREATE TABLE {db}.order_items_{s:04} (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, \
                 order_id BIGINT NOT NULL, qty INT NOT NULL)"
            ))
            .expect("order_items");
        }
        conn.query_drop(format!(
            "CREATE TABLE {db}.events (id BIGINT PRIMARY KEY, kind VARCHAR(16))"
        ))
        .expect("events");
        conn.query_drop(format!(
            "CREATE TABLE {db}.countries (code CHAR(2) PRIMARY KEY, name VARCHAR(32))"
        ))
        .expect("countries");
        conn.query_drop(format!(
            "CREATE TABLE {db}.labels (id BIGINT PRIMARY KEY, cs VARCHAR(16) COLLATE utf8mb4_bin, \
             ci VARCHAR(16) COLLATE utf8mb4_general_ci) DEFAULT CHARSET utf8mb4"
        ))
        .expect("labels");
    }
    let proxy = Proxy::start(ProxyOpts {
        sharding: Some(RULES.replace("DBNAME", db)),
        rw_users: true,
        ..ProxyOpts::default()
    });
    (proxy, s0, s1, db.to_string())
}

fn app(proxy: &Proxy, db: &str) -> Conn {
    proxy
        .conn_as("app", "app-pw", Some(db))
        .expect("proxy connection")
}

fn ids(conn: &mut Conn, sql: &str) -> Vec<i64> {
    conn.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

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
fn scatter_reads_merge_like_one_server() {
    let (proxy, _s0, _s1, db) = setup();
    let mut c = app(&proxy, &db);
    let mut values = Vec::new();
    for id in 1..=40i64 {
        values.push(format!(
            "({id}, {}, {}.50, '{}')",
            id % 7,
            id * 3 % 11,
            if id % 3 == 0 { "new" } else { "paid" }
        ));
    }
    c.query_drop(format!(
        "INSERT INTO orders (id, user_id, amount, status) VALUES {}",
        values.join(", ")
    ))
    .expect("insert");
    assert_eq!(c.affected_rows(), 40);
    let got = ids(
        &mut c,
        "SELECT id FROM orders ORDER BY amount DESC, id LIMIT 5 OFFSET 3",
    );
    let mut all: Vec<(i64, i64)> = (1..=40).map(|id| (id * 3 % 11, id)).collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let want: Vec<i64> = all.iter().skip(3).take(5).map(|x| x.1).collect();
    assert_eq!(got, want);
    let counts: Vec<(String, i64, String, String)> = c
        .query("SELECT status, COUNT(*), SUM(amount), AVG(amount) FROM orders GROUP BY status ORDER BY status")
        .expect("aggregate");
    let sum = |pred: &dyn Fn(i64) -> bool| -> (i64, f64) {
        let xs: Vec<i64> = (1..=40).filter(|id| pred(*id)).collect();
        (
            xs.len() as i64,
            xs.iter().map(|id| (id * 3 % 11) as f64 + 0.5).sum(),
        )
    };
    let (n_new, s_new) = sum(&|id| id % 3 == 0);
    let (n_paid, s_paid) = sum(&|id| id % 3 != 0);
    assert_eq!(counts[0].0, "new");
    assert_eq!(
        (counts[0].1, counts[0].2.clone()),
        (n_new, format!("{s_new:.2}"))
    );
    assert_eq!(
        (counts[1].1, counts[1].2.clone()),
        (n_paid, format!("{s_paid:.2}"))
    );
    assert_eq!(counts[1].3, format!("{:.6}", s_paid / n_paid as f64));
    let total: i64 = c
        .query_first("SELECT COUNT(*) FROM orders")
        .expect("count")
        .expect("row");
    assert_eq!(total, 40);
    let having: Vec<String> = c
        .query("SELECT status FROM orders GROUP BY status HAVING COUNT(*) > 20")
        .expect("having");
    assert_eq!(having, vec!["paid".to_string()]);
    let distinct: Vec<String> = c
        .query("SELECT DISTINCT status FROM orders ORDER BY status")
        .expect("distinct");
    assert_eq!(distinct, vec!["new".to_string(), "paid".to_string()]);
    let ordered_star: Vec<(i64, i64, String, String)> = c
        .query("SELECT * FROM orders WHERE user_id IN (1, 2, 3) ORDER BY id DESC LIMIT 2")
        .expect("star");
    assert_eq!(ordered_star.len(), 2);
    assert!(ordered_star[0].0 > ordered_star[1].0);
}

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
    // A prepared multi-row INSERT whose rows go to different shards is refused by name.
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
fn prepared_scatter_reads_equal_text_ones() {
    let (proxy, _s0, _s1, db) = setup();
    let mut c = app(&proxy, &db);
    let mut values = Vec::new();
    for id in 1..=30i64 {
        values.push(format!(
            "({id}, {}, {}.25, '{}')",
            id % 5,
            id * 7 % 13,
            if id % 2 == 0 { "a" } else { "b" }
        ));
    }
    c.query_drop(format!(
        "INSERT INTO orders (id, user_id, amount, status) VALUES {}",
        values.join(", ")
    ))
    .expect("insert");
    type Row4 = (i64, i64, String, String);
    let text: Vec<Row4> = c
        .query("SELECT id, user_id, amount, status FROM orders WHERE user_id IN (1, 2, 3) ORDER BY amount DESC, id LIMIT 4")
        .expect("text");
    let stmt = c
        .prep("SELECT id, user_id, amount, status FROM orders WHERE user_id IN (?, ?, ?) ORDER BY amount DESC, id LIMIT 4")
        .expect("prepare");
    let bin: Vec<Row4> = c.exec(&stmt, (1i64, 2i64, 3i64)).expect("execute");
    assert_eq!(bin, text);
    assert_eq!(bin.len(), 4);
    let text: Vec<(String, i64, String, String)> = c
        .query("SELECT status, COUNT(*), SUM(amount), AVG(amount) FROM orders WHERE id > 3 GROUP BY status ORDER BY status")
        .expect("text");
    let stmt = c
        .prep("SELECT status, COUNT(*), SUM(amount), AVG(amount) FROM orders WHERE id > ? GROUP BY status ORDER BY status")
        .expect("prepare");
    let bin: Vec<(String, i64, String, String)> = c.exec(&stmt, (3i64,)).expect("execute");
    assert_eq!(bin, text);
    assert_eq!(bin.len(), 2);
}

#[test]
fn scatter_merges_follow_each_column_s_own_collation() {
    let (proxy, _s0, _s1, db) = setup();
    let mut c = app(&proxy, &db);
    c.query_drop(
        "INSERT INTO labels (id, cs, ci) VALUES (1, 'b', 'b'), (2, 'B', 'B'), (3, 'a', 'a'), (4, 'A', 'A'), (5, 'a', 'a ')",
    )
    .expect("insert");
    // utf8mb4_bin: 'A' < 'B' < 'a' < 'b', and 'a' <> 'A' (the column definitions say
    // utf8mb4_general_ci for both columns; the proxy must use the column's real collation).
    let cs: Vec<String> = c
        .query("SELECT cs FROM labels ORDER BY cs, id")
        .expect("order cs");
    assert_eq!(cs, vec!["A", "B", "a", "a", "b"]);
    let groups: Vec<(String, i64)> = c
        .query("SELECT cs, COUNT(*) FROM labels GROUP BY cs ORDER BY cs")
        .expect("group cs");
    assert_eq!(
        groups,
        vec![
            ("A".into(), 1),
            ("B".into(), 1),
            ("a".into(), 2),
            ("b".into(), 1)
        ]
    );
    let distinct: Vec<String> = c
        .query("SELECT DISTINCT cs FROM labels ORDER BY cs")
        .expect("distinct cs");
    assert_eq!(distinct.len(), 4);
    // general_ci: 'a' = 'A' = 'a ' (PAD SPACE), one group of three.
    let groups: Vec<i64> = c
        .query("SELECT COUNT(*) FROM labels GROUP BY ci ORDER BY ci")
        .expect("group ci");
    assert_eq!(groups, vec![3, 2]);
    let top: Option<String> = c.query_first("SELECT MAX(cs) FROM labels").expect("max");
    assert_eq!(top.as_deref(), Some("b"));
}
