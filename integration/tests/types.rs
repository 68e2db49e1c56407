//! Column types: every common type with NULLs, extremes and non-ASCII text must come through
//! the proxy byte for byte (column definitions and rows, modern and legacy clients), and the
//! mysql crate must see the same values and column metadata in text and binary protocol.

use mysql::prelude::Queryable;
use mysql::{Column, Conn, Value};

use crate::harness::{Proxy, Table, assert_packets_eq, diff_packets, direct, raw, raw_direct};

const COLUMNS: &str = "id INT PRIMARY KEY, \
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, \
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, \
    de DECIMAL(20,6), f FLOAT, d DOUBLE, b BIT(8), dt DATE, tm TIME(3), dtm DATETIME(6), \
    ts TIMESTAMP NULL DEFAULT NULL, y YEAR, c CHAR(10), vc VARCHAR(100) CHARACTER SET utf8mb4, \
    bn BINARY(4), vb VARBINARY(16), tx TEXT, bl BLOB, lb LONGBLOB, e ENUM('a','b','c'), \
    st SET('x','y','z'), j JSON, g GEOMETRY, pt POINT";

const ROWS: &[&str] = &[
    "(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, \
     -99999999999999.999999, -3.4e38, -1.7976931348623157e308, b'00000000', '1000-01-01', \
     '-838:59:59.000', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01', 1901, '', '', \
     0x00000000, '', '', '', '', 'a', '', '[]', ST_GeomFromText('POINT(0 0)'), POINT(-1.5, 2.25))",
    "(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, \
     9223372036854775807, 18446744073709551615, 99999999999999.999999, 3.4e38, \
     1.7976931348623157e308, b'11111111', '9999-12-31', '838:59:59.999', \
     '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', 2155, 'abcdefghij', REPEAT('z', 100), \
     0xDEADBEEF, 0x00FF00FF0102, REPEAT('t', 1000), UNHEX(REPEAT('00FF', 500)), \
     REPEAT(x'AB', 70000), 'c', 'x,y,z', '{\"k\": [1, 2.5, \"s\", null, true, {\"n\": -1}]}', \
     ST_GeomFromText('LINESTRING(0 0, 1 1, 2 3.5)'), POINT(1e300, -1e-300))",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
     NULL, NULL)",
    "(4, 0, 1, -1, 2, 0, 3, 0, 4, 0, 5, 0.000001, 1.25, -0.1, b'1010', '2024-02-29', \
     '12:34:56.789', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56', 2024, 'ñ', \
     'héllo wörld 日本語 🎉', x'C3A9', x'F09F8E89', 'Ελληνικά «quoted» \\\\ \\'x\\'', \
     x'00010203', '', 'b', 'x,z', '{\"emoji\": \"😀\", \"ü\": \"ß\"}', \
     ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'), POINT(0, 0))",
];

fn types_table() -> Table {
    let t = Table::create("it_types", COLUMNS);
    let mut c = direct();
    for row in ROWS {
        c.query_drop(format!("INSERT INTO `{}` VALUES {row}", t.name))
            .unwrap_or_else(|e| panic!("insert {row}: {e}"));
    }
    t
}

#[test]
fn all_types_bytes_identical_modern_client() {
    let t = types_table();
    let proxy = Proxy::start_default();
    let sql = format!("SELECT * FROM `{}` ORDER BY id", t.name);
    let direct = raw_direct(raw::modern()).query(&sql);
    let proxied = proxy.raw(raw::modern()).query(&sql);
    assert_eq!(
        direct.len(),
        1 + 32 + 4 + 1,
        "count, 32 defs, 4 rows, terminator"
    );
    assert_packets_eq("SELECT * (DEPRECATE_EOF client)", &direct, &proxied);
    // And single columns with expressions over them.
    let sql = format!(
        "SELECT id, CAST(de AS CHAR), HEX(b), j->'$.k', ST_AsText(g), CONCAT(vc, tx), \
         biu + 0, f * 2 FROM `{}` ORDER BY id DESC",
        t.name
    );
    let direct = raw_direct(raw::modern()).query(&sql);
    let proxied = proxy.raw(raw::modern()).query(&sql);
    assert_packets_eq("expressions (DEPRECATE_EOF client)", &direct, &proxied);
}

#[test]
fn all_types_bytes_identical_legacy_client() {
    let t = types_table();
    let proxy = Proxy::start_default();
    let mut failures = Vec::new();
    for sql in [
        // A full scan: the server flags SERVER_QUERY_NO_INDEX_USED (0x20) in both EOFs.
        format!("SELECT * FROM `{}` ORDER BY id", t.name),
        format!("SELECT * FROM `{}` WHERE id = 2", t.name),
        format!("SELECT id FROM `{}` WHERE id > 100", t.name),
        "SELECT 1, 'x'".to_string(),
    ] {
        let mut d = raw_direct(raw::legacy());
        let mut p = proxy.raw(raw::legacy());
        // Warm both sessions the same way first.
        d.query("SELECT 1");
        p.query("SELECT 1");
        let direct = d.query(&sql);
        let proxied = p.query(&sql);
        failures.extend(diff_packets(
            &format!("{sql} (legacy client, with EOFs)"),
            &direct,
            &proxied,
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The metadata the tests compare, as a tuple.
type Meta = (
    String,
    String,
    String,
    String,
    String,
    u16,
    u32,
    String,
    String,
    u8,
);

fn meta(c: &Column) -> Meta {
    (
        c.name_str().into_owned(),
        c.org_name_str().into_owned(),
        c.table_str().into_owned(),
        c.org_table_str().into_owned(),
        c.schema_str().into_owned(),
        c.character_set(),
        c.column_length(),
        format!("{:?}", c.column_type()),
        format!("{:?}", c.flags()),
        c.decimals(),
    )
}

/// Columns and rows of a text-protocol query.
fn text_query(c: &mut Conn, sql: &str) -> (Vec<Meta>, Vec<Vec<Value>>) {
    let mut result = c.query_iter(sql).expect("query");
    let cols = result.columns().as_ref().iter().map(meta).collect();
    let rows = result.by_ref().map(|r| r.expect("row").unwrap()).collect();
    (cols, rows)
}

/// Columns and rows of a binary-protocol execution.
fn binary_query(c: &mut Conn, sql: &str, id: i32) -> (Vec<Meta>, Vec<Vec<Value>>) {
    let stmt = c.prep(sql).expect("prepare");
    let stmt_cols: Vec<Meta> = stmt.columns().iter().map(meta).collect();
    let mut result = c.exec_iter(&stmt, (id,)).expect("execute");
    let cols: Vec<Meta> = result.columns().as_ref().iter().map(meta).collect();
    assert_eq!(
        stmt_cols.len(),
        cols.len(),
        "prepare and execute agree on column count"
    );
    let rows = result.by_ref().map(|r| r.expect("row").unwrap()).collect();
    (cols, rows)
}

/// The mysql crate (v28) is a legacy client: it never uses CLIENT_DEPRECATE_EOF.
#[test]
fn all_types_values_and_metadata_text_protocol() {
    let t = types_table();
    let proxy = Proxy::start_default();
    let mut d = direct();
    let mut p = proxy.conn();
    let sql = format!("SELECT * FROM `{}` ORDER BY id", t.name);
    let (dc, dr) = text_query(&mut d, &sql);
    let (pc, pr) = text_query(&mut p, &sql);
    assert_eq!(dc, pc, "text protocol column metadata");
    assert_eq!(dr.len(), 4);
    assert_eq!(dr, pr, "text protocol values");
    let sql = format!("SELECT vc FROM `{}` WHERE id = 4", t.name);
    let (_, rows) = text_query(&mut p, &sql);
    assert_eq!(
        rows[0][0],
        Value::Bytes("héllo wörld 日本語 🎉".as_bytes().to_vec())
    );
}

#[test]
fn all_types_values_and_metadata_binary_protocol() {
    let t = types_table();
    let proxy = Proxy::start_default();
    let mut d = direct();
    let mut p = proxy.conn();
    let sql = format!("SELECT * FROM `{}` WHERE id = ?", t.name);
    for id in 1..=4 {
        let (dc, dr) = binary_query(&mut d, &sql, id);
        let (pc, pr) = binary_query(&mut p, &sql, id);
        assert_eq!(dc, pc, "binary protocol column metadata (id {id})");
        assert_eq!(dr.len(), 1);
        assert_eq!(dr, pr, "binary protocol values (id {id})");
    }
    // Spot checks that the values are what was inserted.
    let (_, rows) = binary_query(&mut p, &sql, 2);
    assert_eq!(rows[0][10], Value::UInt(u64::MAX), "BIGINT UNSIGNED max");
    assert_eq!(rows[0][9], Value::Int(i64::MAX), "BIGINT max");
    let (_, rows) = binary_query(&mut p, &sql, 3);
    assert!(
        rows[0][1..].iter().all(|v| *v == Value::NULL),
        "all NULL row"
    );
}

/// Binary protocol one column at a time: a single result column avoids the multi-column
/// prepare reply, so every type's binary encoding is checked on its own.
#[test]
fn each_type_binary_protocol_single_column() {
    let t = types_table();
    let proxy = Proxy::start_default();
    let mut d = direct();
    let mut p = proxy.conn();
    let names: Vec<String> = COLUMNS
        .split(", ")
        .map(|c| c.split_whitespace().next().expect("name").to_string())
        .filter(|n| n.chars().all(|ch| ch.is_ascii_lowercase()))
        .collect();
    assert_eq!(names.len(), 32, "{names:?}");
    for col in &names {
        let sql = format!("SELECT `{col}` FROM `{}` WHERE id = ?", t.name);
        for id in 1..=4 {
            let (dc, dr) = binary_query(&mut d, &sql, id);
            let (pc, pr) = binary_query(&mut p, &sql, id);
            assert_eq!(dc, pc, "{col}: binary column metadata (id {id})");
            assert_eq!(dr, pr, "{col}: binary value (id {id})");
        }
    }
}
