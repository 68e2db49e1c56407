//! Scatter reads: merged like one server would answer, prepared ones equal to text ones, text
//! columns compared in their own collation.

use mysql::prelude::Queryable;

use super::{app, ids, setup};

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
