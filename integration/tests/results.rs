//! Results: multi-statements, stored procedures, warnings, status flags, backend errors,
//! large result sets, rows and statements over 16 MiB, and the proxy's max_allowed_packet.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Value};

use crate::harness::raw::{self, AUTOCOMMIT, IN_TRANS, ok_fields, parse_err};
use crate::harness::{
    CleanupSql, Proxy, ProxyOpts, Table, diff_packets, direct, my_err, raise_backend_max_packet,
    raw_direct, unique,
};

/// Every result set of a multi-result query: (rows, affected rows) per set.
fn all_sets(c: &mut Conn, sql: &str) -> Vec<(Vec<Vec<Value>>, u64)> {
    let mut r = c.query_iter(sql).expect("query");
    let mut sets = Vec::new();
    while let Some(set) = r.iter() {
        let affected = set.affected_rows();
        let rows = set.map(|row| row.expect("row").unwrap()).collect();
        sets.push((rows, affected));
    }
    sets
}

#[test]
fn multi_statement_gives_every_result() {
    let t = Table::create("it_multi", "id INT PRIMARY KEY");
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    // (A one-row INSERT: its OK packet carries no info text; see ok_packet_info_text.)
    let sql = format!(
        "SELECT 1; SELECT 2, 'two'; INSERT INTO `{}` VALUES (1)",
        t.name
    );
    let sets = all_sets(&mut c, &sql);
    assert_eq!(sets.len(), 3, "{sets:?}");
    assert_eq!(sets[0].0, vec![vec![Value::Bytes(b"1".to_vec())]]);
    assert_eq!(
        sets[1].0,
        vec![vec![
            Value::Bytes(b"2".to_vec()),
            Value::Bytes(b"two".to_vec())
        ]]
    );
    assert_eq!(sets[2].1, 1, "INSERT affected rows");
    let n: Option<i64> = c
        .query_first(format!("SELECT COUNT(*) FROM `{}`", t.name))
        .expect("q");
    assert_eq!(n, Some(1));

    // Byte for byte, both client kinds.
    let sql = "SELECT 1; SELECT 2, 'two'; DO 1";
    let mut failures = Vec::new();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        let d = raw_direct(caps).query(sql);
        let p = proxy.raw(caps).query(sql);
        failures.extend(diff_packets(&format!("multi-statement {label}"), &d, &p));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn stored_procedure_two_result_sets_and_ok() {
    let name = unique("it_proc");
    let mut d = direct();
    d.query_drop(format!(
        "CREATE PROCEDURE `{name}`(IN n INT) BEGIN SELECT n AS a; SELECT n + 1 AS b, 'x' AS c; END"
    ))
    .expect("create procedure");
    let _drop = CleanupSql(format!("DROP PROCEDURE IF EXISTS `{name}`"));
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let sets = all_sets(&mut c, &format!("CALL `{name}`(41)"));
    assert_eq!(sets.len(), 3, "two result sets and the CALL's OK: {sets:?}");
    assert_eq!(sets[0].0, vec![vec![Value::Bytes(b"41".to_vec())]]);
    assert_eq!(
        sets[1].0,
        vec![vec![
            Value::Bytes(b"42".to_vec()),
            Value::Bytes(b"x".to_vec())
        ]]
    );
    assert!(sets[2].0.is_empty());
    let one: Option<i64> = c.query_first("SELECT 1").expect("usable after CALL");
    assert_eq!(one, Some(1));
    let mut failures = Vec::new();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        let sql = format!("CALL `{name}`(7)");
        let dp = raw_direct(caps).query(&sql);
        let pp = proxy.raw(caps).query(&sql);
        failures.extend(diff_packets(&format!("CALL {label}"), &dp, &pp));
    }
    d.query_drop(format!("DROP PROCEDURE `{name}`"))
        .expect("drop procedure");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn warnings_are_reported() {
    let t = Table::create("it_warn", "id INT PRIMARY KEY, s VARCHAR(3)");
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    // Not strict for SELECT: division by zero is a warning (ERROR_FOR_DIVISION_BY_ZERO).
    c.query_drop("SET SESSION sql_mode = 'ERROR_FOR_DIVISION_BY_ZERO'")
        .expect("sql_mode");
    let v: Option<Value> = c.query_first("SELECT 1/0").expect("1/0");
    assert_eq!(v, Some(Value::NULL));
    assert_eq!(c.warnings(), 1, "warning count of SELECT 1/0");
    let w: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").expect("show warnings");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].1, 1365, "{w:?}");
    c.query_drop(format!("INSERT INTO `{}` VALUES (1, 'abcdef')", t.name))
        .expect("insert with truncation");
    assert_eq!(c.affected_rows(), 1);
    assert_eq!(c.warnings(), 1, "one truncation warning in the OK packet");
    for caps in [raw::modern(), raw::legacy()] {
        let sql = "SELECT 1/0, 2/0";
        let mut d = raw_direct(caps);
        let mut p = proxy.raw(caps);
        let (dr, pr) = (d.query(sql), p.query(sql));
        let last = pr.last().expect("terminator");
        let warnings = if p.deprecate_eof() {
            ok_fields(last).3
        } else {
            u16::from_le_bytes([last[1], last[2]])
        };
        assert_eq!(warnings, 2, "terminator carries the warning count");
        assert_eq!(dr.last(), pr.last());
    }
}

/// OK packets with an info text (multi-row INSERT, UPDATE) reach the client as the server
/// wrote them, and the mysql crate reads the info.
#[test]
fn ok_packet_info_text() {
    let t = Table::create("it_info", "id INT PRIMARY KEY, v INT");
    let proxy = Proxy::start_default();
    let mut failures = Vec::new();
    let reset = |filled: bool| {
        let mut d = direct();
        d.query_drop(format!("DELETE FROM `{}`", t.name))
            .expect("reset");
        if filled {
            d.query_drop(format!("INSERT INTO `{}` VALUES (1, 1), (2, 2)", t.name))
                .expect("refill");
        }
    };
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        for (sql, filled) in [
            (
                format!("INSERT INTO `{}` VALUES (1, 1), (2, 2)", t.name),
                false,
            ),
            (format!("UPDATE `{}` SET v = v + 1", t.name), true),
            (format!("DELETE FROM `{}` WHERE id > 0", t.name), true),
        ] {
            reset(filled);
            let d = raw_direct(caps).query(&sql);
            reset(filled);
            let p = proxy.raw(caps).query(&sql);
            failures.extend(diff_packets(&format!("{label} {sql}"), &d, &p));
        }
    }
    reset(false);
    let mut c = proxy.conn();
    let r = c.query_drop(format!("INSERT INTO `{}` VALUES (10, 1), (11, 2)", t.name));
    match r {
        Ok(()) => assert_eq!(c.info_str(), "Records: 2  Duplicates: 0  Warnings: 0"),
        Err(e) => failures.push(format!(
            "mysql crate multi-row INSERT through the proxy: {e:?}"
        )),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn status_flags_follow_transactions_and_autocommit() {
    let proxy = Proxy::start_default();
    let mut failures = Vec::new();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        let mut p = proxy.raw(caps);
        let mut d = raw_direct(caps);
        let status = |reply: &[Vec<u8>]| ok_fields(&reply[0]).2;
        for sql in [
            "BEGIN",
            "SELECT 1",
            "COMMIT",
            "SET autocommit = 0",
            "DO 1",
            "SET autocommit = 1",
        ] {
            let pr = p.query(sql);
            let dr = d.query(sql);
            failures.extend(diff_packets(&format!("{label} {sql}"), &dr, &pr));
            if sql == "BEGIN" {
                assert_ne!(status(&pr) & IN_TRANS, 0, "{label}: IN_TRANS after BEGIN");
            }
            if sql == "COMMIT" {
                assert_eq!(
                    status(&pr) & IN_TRANS,
                    0,
                    "{label}: no IN_TRANS after COMMIT"
                );
            }
            if sql == "SET autocommit = 0" {
                assert_eq!(status(&pr) & AUTOCOMMIT, 0, "{label}: autocommit off");
            }
            if sql == "SET autocommit = 1" {
                assert_ne!(status(&pr) & AUTOCOMMIT, 0, "{label}: autocommit on");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn backend_errors_are_forwarded() {
    let t = Table::create("it_err", "id INT PRIMARY KEY");
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    c.query_drop(format!("INSERT INTO `{}` VALUES (1)", t.name))
        .expect("insert");
    let e = my_err(c.query_drop(format!("INSERT INTO `{}` VALUES (1)", t.name)));
    assert_eq!((e.code, e.state.as_str()), (1062, "23000"));
    assert_eq!(e.message, "Duplicate entry '1' for key 'PRIMARY'");
    let e = my_err(c.query_drop("SELECT * FROM no_such_table_xyz"));
    assert_eq!((e.code, e.state.as_str()), (1146, "42S02"));
    assert_eq!(e.message, "Table 'shop.no_such_table_xyz' doesn't exist");
    let e = my_err(c.query_drop("SELEC 1"));
    assert_eq!(e.code, 1064);
    let one: Option<i64> = c.query_first("SELECT 1").expect("still usable");
    assert_eq!(one, Some(1));
    // The ERR packet is the server's, byte for byte.
    for caps in [raw::modern(), raw::legacy()] {
        let sql = format!("INSERT INTO `{}` VALUES (1)", t.name);
        let (d, p) = (raw_direct(caps).query(&sql), proxy.raw(caps).query(&sql));
        assert_eq!(d, p);
        assert_eq!(parse_err(&p[0]).code, 1062);
    }
}

#[test]
fn hundred_thousand_rows_stream() {
    let t = Table::create("it_100k", "id INT PRIMARY KEY, v BIGINT, s VARCHAR(32)");
    direct()
        .query_drop(format!(
            "INSERT INTO `{}` SELECT seq, seq * 3, CONCAT('row-', seq) FROM seq_1_to_100000",
            t.name
        ))
        .expect("fill");
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let mut r = c
        .query_iter(format!("SELECT id, v, s FROM `{}` ORDER BY id", t.name))
        .expect("query");
    let (mut count, mut sum, mut last) = (0u64, 0i64, 0i64);
    for row in r.by_ref() {
        let (id, v, s): (i64, i64, String) = mysql::from_row(row.expect("row"));
        assert_eq!(id, last + 1, "rows in order");
        assert_eq!(s, format!("row-{id}"));
        last = id;
        count += 1;
        sum += v;
    }
    drop(r);
    assert_eq!(count, 100_000);
    assert_eq!(sum, 3 * 100_000 * 100_001 / 2);
    let one: Option<i64> = c.query_first("SELECT 1").expect("usable afterwards");
    assert_eq!(one, Some(1));
}

fn big_text(size: usize) -> String {
    (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

#[test]
fn row_over_16_mib_comes_back_intact() {
    raise_backend_max_packet();
    let t = Table::create("it_bigrow", "id INT PRIMARY KEY, data LONGBLOB");
    let size = 20 << 20;
    let text = big_text(size);
    direct()
        .exec_drop(
            format!("INSERT INTO `{}` VALUES (1, ?)", t.name),
            (text.as_bytes(),),
        )
        .expect("insert 20 MiB directly");
    let proxy = Proxy::start(ProxyOpts {
        max_allowed_packet: Some(64 << 20),
        ..Default::default()
    });
    let mut c = proxy.conn();
    // Proxy -> client: one row in two frames, text and binary protocol.
    let back: Option<Vec<u8>> = c
        .query_first(format!("SELECT data FROM `{}` WHERE id = 1", t.name))
        .expect("20 MiB row through the proxy");
    assert!(
        back.as_deref() == Some(text.as_bytes()),
        "20 MiB row intact"
    );
    let back: Option<Vec<u8>> = c
        .exec_first(format!("SELECT data FROM `{}` WHERE id = ?", t.name), (1,))
        .expect("20 MiB binary row");
    assert!(
        back.as_deref() == Some(text.as_bytes()),
        "20 MiB binary row intact"
    );
    // Raw bytes too, and a row of exactly one full frame plus the empty continuation.
    let exact = format!("SELECT REPEAT('z', {})", 0xFF_FFFF - 4);
    for sql in [
        format!("SELECT data, id FROM `{}` WHERE id = 1", t.name),
        exact,
    ] {
        let d = raw_direct(raw::modern()).query(&sql);
        let p = proxy.raw(raw::modern()).query(&sql);
        assert!(
            d == p,
            "{}",
            diff_packets(&sql[..30], &d, &p).unwrap_or_default()
        );
    }
    let one: Option<i64> = c.query_first("SELECT 1").expect("usable afterwards");
    assert_eq!(one, Some(1));
}

#[test]
fn statement_over_16_mib_is_forwarded() {
    raise_backend_max_packet();
    let t = Table::create("it_bigstmt", "id INT PRIMARY KEY, data LONGBLOB");
    let proxy = Proxy::start(ProxyOpts {
        max_allowed_packet: Some(64 << 20),
        ..Default::default()
    });
    let size = 20 << 20;
    let text = big_text(size);
    // Client -> proxy: one COM_QUERY in two frames; the reply continues their sequence ids.
    let mut p = proxy.raw(raw::modern());
    let reply = p.query(&format!("INSERT INTO `{}` VALUES (2, '{text}')", t.name));
    assert_eq!(reply[0][0], 0x00, "OK: {}", crate::harness::hex(&reply[0]));
    let len: Option<i64> = direct()
        .query_first(format!(
            "SELECT LENGTH(data) FROM `{}` WHERE id = 2",
            t.name
        ))
        .expect("length");
    assert_eq!(len, Some(size as i64));
    // The mysql crate as well.
    let mut c = proxy.conn();
    c.query_drop(format!("INSERT INTO `{}` VALUES (3, '{text}')", t.name))
        .expect("20 MiB INSERT through the proxy (mysql crate)");
    let n: Option<i64> = direct()
        .query_first(format!(
            "SELECT COUNT(*) FROM `{}` WHERE LENGTH(data) = {size}",
            t.name
        ))
        .expect("count");
    assert_eq!(n, Some(2));
}

#[test]
fn statement_over_proxy_max_allowed_packet_is_refused() {
    raise_backend_max_packet();
    let proxy = Proxy::start(ProxyOpts {
        max_allowed_packet: Some(1 << 20),
        ..Default::default()
    });
    let mut failures = Vec::new();
    // 17 MiB (two frames) and 2 MiB (one frame), both above the proxy's 1 MiB. Like MariaDB,
    // the proxy refuses at the first frame header over the limit: ERR 1153 with the sequence
    // id after that frame (1), then it closes. A client still sending may see the reset
    // before it reads the ERR, exactly as with the server itself.
    for size in [17usize << 20, 2 << 20] {
        let mut p = proxy.raw(raw::modern());
        let sql = format!("SELECT LENGTH('{}')", "x".repeat(size));
        let mut cmd = vec![raw::COM_QUERY];
        cmd.extend_from_slice(sql.as_bytes());
        let sent = p.try_send_command(&cmd);
        p.expect_reply_seq(1);
        match p.try_read_packet() {
            Ok(reply) if reply.first() == Some(&0xFF) => {
                let e = parse_err(&reply);
                if e.code != 1153 {
                    failures.push(format!("{size} bytes: ERR {e:?}, expected 1153"));
                }
            }
            Ok(reply) => failures.push(format!(
                "{size}-byte statement with max_allowed_packet 1 MiB: expected ERR 1153, \
                 got packet {}",
                crate::harness::hex(&reply)
            )),
            Err(e) if sent.is_err() && e.kind() != std::io::ErrorKind::InvalidData => {}
            Err(e) => failures.push(format!("{size} bytes: no valid ERR packet: {e}")),
        }
        assert!(
            p.is_closed_by_peer(Duration::from_secs(5)),
            "{size} bytes: the proxy closes the connection after ERR 1153"
        );
    }
    // Other clients are served.
    let mut c = proxy.conn();
    let one: Option<i64> = c.query_first("SELECT 1").expect("proxy still serving");
    assert_eq!(one, Some(1));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
