//! Key extraction: conditions on the sharding key that narrow the targets, and those that must
//! not (operator precedence, parameters).

use super::super::analyze::constraint::{ParamValue, Params};
use super::{all_or_refused, refused, route_with, single_sql};

// ---------------------------------------------------------------------------------------
// Bugs: wrong answers (rows from the wrong shard, partial results, wrong writes).
// ---------------------------------------------------------------------------------------

/// MySQL (no PIPES_AS_CONCAT, the default) reads `||` as OR, below AND:
/// `(user_id = 1 AND status = 'a') OR status = 'b'` matches rows on every shard.
#[test]
fn pipes_are_or_below_and() {
    all_or_refused("SELECT * FROM orders WHERE user_id = 1 AND status = 'a' || status = 'b'");
    refused("DELETE FROM orders WHERE user_id = 1 AND status = 'a' || status = 'b'");
    refused("UPDATE orders SET amount = 0 WHERE user_id = 1 AND status = 'a' || status = 'b'");
}

/// MySQL precedence: AND > XOR > OR, so `a AND b XOR c` is `(a AND b) XOR c`.
#[test]
fn xor_binds_looser_than_and() {
    all_or_refused("SELECT * FROM orders WHERE user_id = 1 AND status = 'a' XOR status = 'b'");
    refused("DELETE FROM orders WHERE user_id = 1 AND status = 'a' XOR status = 'b'");
}

// ---------------------------------------------------------------------------------------
// Checked and fine.
// ---------------------------------------------------------------------------------------

#[test]
fn key_extraction_never_narrows_wrongly() {
    // Not narrowable: every sub-table (or a refusal).
    for sql in [
        "SELECT * FROM orders WHERE NOT (user_id = 1)",
        "SELECT * FROM orders WHERE NOT user_id = 1",
        "SELECT * FROM orders WHERE user_id <> 1",
        "SELECT * FROM orders WHERE user_id != 1",
        "SELECT * FROM orders WHERE user_id = 1 OR status = 'x'",
        "SELECT * FROM orders WHERE user_id = 1 + 0",
        "SELECT * FROM orders WHERE user_id = 0x10",
        "SELECT * FROM orders WHERE user_id = X'01'",
        "SELECT * FROM orders WHERE user_id = b'1'",
        "SELECT * FROM orders WHERE user_id = 0b1",
        "SELECT * FROM orders WHERE user_id = _utf8mb4'1'",
        "SELECT * FROM orders WHERE user_id <=> 1",
        "SELECT * FROM orders WHERE user_id IS NULL",
        "SELECT * FROM orders WHERE user_id IS NOT NULL",
        "SELECT * FROM orders WHERE BINARY user_id = 1",
        "SELECT * FROM orders WHERE user_id = 1 COLLATE utf8mb4_bin",
        "SELECT * FROM orders WHERE (user_id, id) = (1, 2)",
        "SELECT * FROM orders WHERE user_id = id",
        "SELECT * FROM orders WHERE user_id = CASE WHEN a THEN 1 ELSE 2 END",
        "SELECT * FROM orders WHERE user_id LIKE '1'",
        "SELECT * FROM orders WHERE user_id NOT IN (1)",
        "SELECT * FROM orders WHERE user_id NOT BETWEEN 1 AND 2",
        "SELECT * FROM orders WHERE user_id XOR 1",
        "SELECT * FROM orders WHERE user_id = 1 XOR 1",
        "SELECT * FROM orders WHERE user_id = 1 || status = 'x'",
        "SELECT * FROM orders WHERE user_id = 1 && status = 'a'",
        "SELECT * FROM orders WHERE user_id = 1 = 1",
        "SELECT * FROM orders WHERE user_id = 1 IS TRUE",
        "SELECT * FROM orders WHERE user_id = 1 IS NULL",
        "SELECT * FROM orders WHERE user_id IN (1) = 0",
        "SELECT * FROM orders WHERE user_id = 1 IN (0)",
        "SELECT * FROM orders WHERE user_id = 1 <> 0",
        "SELECT * FROM orders WHERE user_id = 1 LIKE 1",
        "SELECT * FROM orders WHERE user_id = 1 BETWEEN 0 AND 1",
        "SELECT * FROM orders WHERE user_id > 1 = 0",
        "SELECT * FROM orders WHERE user_id = 1 REGEXP 'x'",
        "SELECT * FROM orders WHERE user_id = 1 := 2",
        "SELECT * FROM orders WHERE user_id = ~1",
        "SELECT * FROM orders WHERE user_id = 1 | 2",
        "SELECT * FROM orders WHERE user_id = 1 DIV 1",
        "SELECT * FROM orders WHERE user_id = 1 --1",
        "SELECT * FROM orders WHERE user_id = 1 /*! OR 1=1 */",
        "SELECT * FROM orders WHERE user_id = 1 #x\nOR 1=1",
        "SELECT * FROM orders WHERE user_id = 1 -- x\nOR 1=1",
        "SELECT * FROM orders WHERE user_id > 1.5",
        "SELECT * FROM orders WHERE user_id > 0",
        "SELECT * FROM orders WHERE user_id IN (SELECT user_id FROM order_items)",
        "SELECT * FROM orders o LEFT JOIN order_items i ON o.user_id = i.user_id AND i.user_id = 1",
        "SELECT o.id FROM orders o RIGHT JOIN order_items i ON o.user_id = i.user_id AND o.user_id = 1",
        "SELECT a.id FROM countries c LEFT JOIN orders a ON a.status = c.code AND a.user_id = 1",
    ] {
        all_or_refused(sql);
    }
    // Refused with a key message rather than guessed.
    for sql in [
        "SELECT * FROM orders WHERE user_id = 1e0",
        "SELECT * FROM orders WHERE user_id = .5e1",
        "SELECT * FROM orders WHERE user_id = '1abc'",
        "SELECT * FROM orders WHERE user_id = 'a' 'b'",
        "SELECT * FROM orders WHERE user_id = 99999999999999999999999999999999999999999999",
        "SELECT * FROM orders WHERE user_id = '9007199254740993'",
        "SELECT * FROM orders WHERE ! user_id = 1",
    ] {
        refused(sql);
    }
    // Narrowed, and rightly so.
    for (sql, sub) in [
        ("SELECT * FROM orders WHERE user_id = -0", "orders_0000"),
        ("SELECT * FROM orders WHERE user_id = - 1", "orders_0007"),
        ("SELECT * FROM orders WHERE user_id = 1.", "orders_0001"),
        ("SELECT * FROM orders WHERE user_id = 1.000", "orders_0001"),
        ("SELECT * FROM orders WHERE user_id = ' 1 '", "orders_0001"),
        ("SELECT * FROM orders WHERE user_id = '+9'", "orders_0001"),
        (
            "SELECT * FROM orders WHERE user_id = '1' '0'",
            "orders_0002",
        ),
        (
            "SELECT * FROM orders WHERE ((user_id)) = ((9))",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id IN (1, NULL)",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND (status = 'a' OR status = 'b')",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND status = 'a' && amount = 2",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1\t--\tx",
            "orders_0001",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 # comment",
            "orders_0001",
        ),
        // Contradictions and NULL match no row: any one sub-table answers (empty).
        ("SELECT * FROM orders WHERE user_id = NULL", "orders_0000"),
        (
            "SELECT COUNT(*) FROM orders WHERE user_id = NULL",
            "orders_0000",
        ),
        (
            "SELECT * FROM orders WHERE user_id = 1 AND user_id = 2",
            "orders_0000",
        ),
        (
            "SELECT * FROM orders WHERE user_id BETWEEN 9 AND 1",
            "orders_0000",
        ),
        ("DELETE FROM orders WHERE user_id = NULL", "orders_0000"),
    ] {
        assert!(single_sql(sql).contains(sub), "{sql}: {}", single_sql(sql));
    }
}

#[test]
fn parameters() {
    let p = |sql: &str, v: Vec<ParamValue>| route_with(sql, Params(v), false);
    let sql = "SELECT * FROM orders WHERE user_id = ?";
    // NULL matches nothing: one (empty) sub-table.
    assert_eq!(
        p(sql, vec![ParamValue::Null]).map(|p| p.targets.len()).ok(),
        Some(1)
    );
    assert_eq!(
        p(sql, vec![ParamValue::Str(" 12".into())])
            .map(|p| p.targets[0].sql.clone())
            .ok(),
        Some("SELECT * FROM orders_0004 WHERE user_id = ?".into())
    );
    assert!(p(sql, vec![ParamValue::Other]).is_err());
    assert!(p(sql, vec![ParamValue::Str("1abc".into())]).is_err());
    assert!(p(sql, vec![ParamValue::Str("1.5".into())]).is_err());
    assert!(p(sql, vec![]).is_err());
    // A non-key type in a range cannot narrow.
    assert_eq!(
        p(
            "SELECT * FROM orders WHERE user_id BETWEEN ? AND ?",
            vec![ParamValue::Other, ParamValue::Int(2)]
        )
        .map(|p| p.targets.len())
        .ok(),
        Some(8)
    );
    // Placeholders elsewhere do not shift the key's parameter number.
    assert_eq!(
        p(
            "SELECT ? FROM orders WHERE status = ? AND user_id = ?",
            vec![
                ParamValue::Int(0),
                ParamValue::Str("x".into()),
                ParamValue::Int(5)
            ]
        )
        .map(|p| p.targets[0].sql.clone())
        .ok(),
        Some("SELECT ? FROM orders_0005 WHERE status = ? AND user_id = ?".into())
    );
    // INSERT with a NULL key parameter is refused.
    assert!(
        p(
            "INSERT INTO orders (user_id) VALUES (?)",
            vec![ParamValue::Null]
        )
        .is_err()
    );
}
