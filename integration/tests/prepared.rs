//! Prepared statements: NULL and large parameters, many parameters, reuse, close, long data,
//! read-only cursors with COM_STMT_FETCH, and the prepare/execute reply bytes.
//!
//! Statements run through the mysql crate return at most one column, so that each test checks
//! its own feature; `prepare_reply_bytes_match_direct` covers multi-column prepare replies.

use mysql::prelude::Queryable;
use mysql::{Params, Value};

use crate::harness::raw::{self, RawConn, execute_packet, lenenc_str, parse_err};
use crate::harness::{
    Proxy, ProxyOpts, Table, diff_packets, direct, my_err, raise_backend_max_packet, raw_direct,
};

const MYSQL_TYPE_LONG: u8 = 0x03;
const MYSQL_TYPE_LONGLONG: u8 = 0x08;
const MYSQL_TYPE_VAR_STRING: u8 = 0xFD;
const MYSQL_TYPE_BLOB: u8 = 0xFC;

#[test]
fn null_params() {
    let t = Table::create("it_ps_null", "id INT PRIMARY KEY, a INT, b VARCHAR(10)");
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let ins = c
        .prep(format!(
            "INSERT INTO `{}` (id, a, b) VALUES (?, ?, ?)",
            t.name
        ))
        .expect("prepare insert");
    c.exec_drop(&ins, (1, Value::NULL, Value::NULL))
        .expect("exec NULLs");
    c.exec_drop(&ins, (2, 5, "five")).expect("exec values");
    c.exec_drop(&ins, (3, Value::NULL, "x")).expect("exec mix");
    let n: Option<i64> = c
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM `{}` WHERE a <=> ? AND b <=> ?",
                t.name
            ),
            (Value::NULL, Value::NULL),
        )
        .expect("select with NULL params");
    assert_eq!(n, Some(1));
    let v: Option<Value> = c.exec_first("SELECT ?", (Value::NULL,)).expect("SELECT ?");
    assert_eq!(v, Some(Value::NULL));
}

#[test]
fn blob_param_one_mib_roundtrips() {
    let t = Table::create("it_ps_blob", "id INT PRIMARY KEY, data LONGBLOB");
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let blob: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    c.exec_drop(
        format!("INSERT INTO `{}` (id, data) VALUES (?, ?)", t.name),
        (1, blob.clone()),
    )
    .expect("insert 1 MiB blob");
    let back: Option<Vec<u8>> = c
        .exec_first(format!("SELECT data FROM `{}` WHERE id = ?", t.name), (1,))
        .expect("select blob");
    assert!(
        back.as_deref() == Some(&blob[..]),
        "blob differs after roundtrip"
    );
    let md5: Option<String> = c.exec_first("SELECT MD5(?)", (blob.clone(),)).expect("md5");
    let direct_md5: Option<String> = direct().exec_first("SELECT MD5(?)", (blob,)).expect("md5");
    assert_eq!(md5, direct_md5);
}

#[test]
fn many_params() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let n = 5000;
    let sql = format!("SELECT GREATEST({})", vec!["?"; n].join(", "));
    let params: Vec<Value> = (1..=n as i64)
        .map(|i| Value::Int((i * 7919) % n as i64))
        .collect();
    let max: Option<i64> = c
        .exec_first(&sql, Params::Positional(params))
        .expect("exec");
    assert_eq!(max, Some(n as i64 - 1));
    let sql = format!("SELECT CONCAT_WS(',', {})", vec!["?"; 300].join(", "));
    let params: Vec<Value> = (0..300).map(|i| Value::from(format!("v{i}"))).collect();
    let s: Option<String> = c
        .exec_first(&sql, Params::Positional(params))
        .expect("exec");
    let expected: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    assert_eq!(s, Some(expected.join(",")));
}

#[test]
fn statement_reuse_close_and_closed_execute() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let stmt = c.prep("SELECT ? * 2").expect("prepare");
    for i in 0..200i64 {
        let v: Option<i64> = c.exec_first(&stmt, (i,)).expect("exec");
        assert_eq!(v, Some(i * 2));
    }
    let other = c.prep("SELECT CONCAT(?, '!')").expect("second statement");
    let v: Option<String> = c.exec_first(&other, ("hi",)).expect("exec");
    assert_eq!(v.as_deref(), Some("hi!"));
    let kept = stmt.clone();
    c.close(stmt).expect("COM_STMT_CLOSE");
    let e = my_err(c.exec_first::<i64, _, _>(&kept, (1,)));
    assert_eq!(e.code, 1243, "{e:?}");
    // The other statement and the connection still work.
    let v: Option<String> = c.exec_first(&other, ("x",)).expect("exec");
    assert_eq!(v.as_deref(), Some("x!"));
    // An id that never existed, via the raw client.
    let mut p = proxy.raw(raw::modern());
    p.send_command(&execute_packet(4242, 0, &[]));
    let e = parse_err(&p.read_packet());
    assert_eq!(e.code, 1243, "{e:?}");
}

/// COM_STMT_SEND_LONG_DATA in chunks, then an execute without the value.
#[test]
fn send_long_data_raw() {
    let t = Table::create("it_ps_longdata", "id INT PRIMARY KEY, data LONGBLOB");
    let proxy = Proxy::start_default();
    let mut p = proxy.raw(raw::modern());
    let sql = format!("INSERT INTO `{}` (id, data) VALUES (?, ?)", t.name);
    let (_, id, _, params) = p.prepare(&sql).expect("prepare");
    assert_eq!(params, 2);
    let mut expected = Vec::new();
    for chunk in 0..5u8 {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i as u8) ^ chunk).collect();
        let mut cmd = vec![raw::COM_STMT_SEND_LONG_DATA];
        cmd.extend_from_slice(&id.to_le_bytes());
        cmd.extend_from_slice(&1u16.to_le_bytes());
        cmd.extend_from_slice(&data);
        p.send_command(&cmd);
        expected.extend_from_slice(&data);
    }
    // Param 1 came as long data: its value is left out of the execute packet.
    let mut exec = execute_packet(
        id,
        0,
        &[(MYSQL_TYPE_LONG, false, Some(7i32.to_le_bytes().to_vec()))],
    );
    // Rewrite to two parameters: bitmap, bound flag, two types, one value.
    exec.truncate(10);
    exec.extend_from_slice(&[0x00, 0x01, MYSQL_TYPE_LONG, 0, MYSQL_TYPE_BLOB, 0]);
    exec.extend_from_slice(&7i32.to_le_bytes());
    p.send_command(&exec);
    let reply = p.read_results();
    assert_eq!(reply[0][0], 0x00, "execute OK: {:?}", reply[0]);
    let mut c = proxy.conn();
    let back: Option<Vec<u8>> = c
        .exec_first(format!("SELECT data FROM `{}` WHERE id = ?", t.name), (7,))
        .expect("select");
    assert_eq!(back.map(|b| b.len()), Some(expected.len()));
    let same: Option<i64> = c
        .exec_first(
            format!("SELECT data = ? FROM `{}` WHERE id = 7", t.name),
            (expected,),
        )
        .expect("compare");
    assert_eq!(same, Some(1), "long data arrived intact");
}

/// A parameter over 16 MiB: the mysql crate sends it with COM_STMT_SEND_LONG_DATA packets
/// that are themselves split into two frames.
#[test]
fn long_data_param_over_16_mib_via_mysql_crate() {
    raise_backend_max_packet();
    let t = Table::create("it_ps_longdata_big", "id INT PRIMARY KEY, data LONGBLOB");
    let proxy = Proxy::start(ProxyOpts {
        max_allowed_packet: Some(64 << 20),
        ..Default::default()
    });
    let mut c = proxy.conn();
    let size = 17 << 20;
    let blob: Vec<u8> = (0..size).map(|i: usize| (i % 251) as u8).collect();
    c.exec_drop(
        format!("INSERT INTO `{}` VALUES (1, ?)", t.name),
        (blob.as_slice(),),
    )
    .expect("17 MiB parameter through the proxy");
    let md5: Option<String> = direct()
        .query_first(format!("SELECT MD5(data) FROM `{}` WHERE id = 1", t.name))
        .expect("md5 on the server");
    let expected: Option<String> = direct().exec_first("SELECT MD5(?)", (blob,)).expect("md5");
    assert_eq!(md5, expected, "long data arrived intact");
}

fn cursor_table() -> Table {
    let t = Table::create("it_ps_cursor", "id INT PRIMARY KEY, v VARCHAR(20)");
    let values: Vec<String> = (1..=10).map(|i| format!("({i}, 'v{i}')")).collect();
    direct()
        .query_drop(format!(
            "INSERT INTO `{}` VALUES {}",
            t.name,
            values.join(",")
        ))
        .expect("insert");
    t
}

/// Execute with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH 3 rows at a time to the end,
/// then COM_STMT_RESET: every reply byte for byte as the server's.
fn cursor_session(c: &mut RawConn, sql: &str) -> Vec<Vec<u8>> {
    let (_, id, _, _) = c.prepare(sql).expect("prepare");
    c.send_command(&execute_packet(
        id,
        1,
        &[(
            MYSQL_TYPE_LONGLONG,
            false,
            Some(0i64.to_le_bytes().to_vec()),
        )],
    ));
    let mut all = c.read_results();
    let last = all.last().expect("reply").clone();
    assert!(
        c.is_terminator(&last) && c.terminator_status(&last) & raw::CURSOR_EXISTS != 0,
        "cursor opened: {last:?}"
    );
    for _ in 0..10 {
        let mut fetch = vec![raw::COM_STMT_FETCH];
        fetch.extend_from_slice(&id.to_le_bytes());
        fetch.extend_from_slice(&3u32.to_le_bytes());
        c.send_command(&fetch);
        let rows = c.read_until_terminator();
        let end = rows.last().expect("terminator").clone();
        all.extend(rows);
        assert_ne!(end[0], 0xFF, "fetch failed: {:?}", parse_err(&end));
        if c.terminator_status(&end) & raw::LAST_ROW_SENT != 0 {
            break;
        }
    }
    let mut reset = vec![raw::COM_STMT_RESET];
    reset.extend_from_slice(&id.to_le_bytes());
    all.push(c.simple(&reset));
    all.extend(c.query("SELECT 1"));
    all
}

#[test]
fn cursor_fetch_matches_direct() {
    let t = cursor_table();
    let proxy = Proxy::start_default();
    let sql = format!("SELECT id FROM `{}` WHERE id > ? ORDER BY id", t.name);
    let mut failures = Vec::new();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        let direct = cursor_session(&mut raw_direct(caps), &sql);
        let proxied = cursor_session(&mut proxy.raw(caps), &sql);
        let rows = direct
            .iter()
            .filter(|p| p.len() == 1 + 1 + 4 && p[0] == 0)
            .count();
        assert!(
            rows >= 10,
            "{label}: 10 binary rows fetched directly ({rows})"
        );
        failures.extend(diff_packets(&format!("cursor {label}"), &direct, &proxied));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// COM_STMT_PREPARE and COM_STMT_EXECUTE replies for a multi-column statement, both client
/// kinds: identical to the server's except for the statement id the proxy assigns.
#[test]
fn prepare_reply_bytes_match_direct() {
    let t = cursor_table();
    let proxy = Proxy::start_default();
    let sql = format!(
        "SELECT id, v, id * 2 AS d FROM `{}` WHERE id > ? AND v <> ? ORDER BY id",
        t.name
    );
    let params = [
        (
            MYSQL_TYPE_LONGLONG,
            false,
            Some(3i64.to_le_bytes().to_vec()),
        ),
        (MYSQL_TYPE_VAR_STRING, false, Some(lenenc_str(b"v5"))),
    ];
    let mut failures = Vec::new();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        let mut d = raw_direct(caps);
        let mut p = proxy.raw(caps);
        let (mut dp, did, ..) = d.prepare(&sql).expect("prepare direct");
        let (mut pp, pid, ..) = p.prepare(&sql).expect("prepare proxy");
        assert_eq!(dp.len(), 1 + 2 + 3 + if label == "legacy" { 2 } else { 0 });
        dp[0][1..5].fill(0);
        pp[0][1..5].fill(0);
        if let Some(f) = diff_packets(&format!("prepare {label}"), &dp, &pp) {
            failures.push(f);
            continue;
        }
        d.send_command(&execute_packet(did, 0, &params));
        p.send_command(&execute_packet(pid, 0, &params));
        let (de, pe) = (d.read_results(), p.read_results());
        assert_eq!(
            de.len(),
            1 + 3 + 6 + 1 + if label == "legacy" { 1 } else { 0 }
        );
        failures.extend(diff_packets(&format!("execute {label}"), &de, &pe));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // And the mysql crate (a legacy client) can use it.
    let mut c = proxy.conn();
    let rows: Vec<(i64, String, i64)> = c.exec(&sql, (3, "v5")).expect("mysql crate exec");
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0], (4, "v4".to_string(), 8));
}
