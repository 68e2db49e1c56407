//! Every client command the proxy serves: COM_PING, COM_INIT_DB, COM_QUERY, COM_FIELD_LIST,
//! COM_STATISTICS, COM_SET_OPTION, COM_RESET_CONNECTION, COM_CHANGE_USER, COM_QUIT, and an
//! unknown command byte.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{ChangeUserOpts, Value};

use crate::harness::raw::{
    self, COM_FIELD_LIST, COM_SET_OPTION, COM_STATISTICS, RawConn, parse_err,
};
use crate::harness::{Proxy, Table, assert_packets_eq, my_err, raw_direct};

#[test]
fn ping_init_db_and_query() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    c.ping().expect("COM_PING");
    c.select_db("sbtest").expect("COM_INIT_DB sbtest");
    let db: Option<String> = c.query_first("SELECT DATABASE()").expect("COM_QUERY");
    assert_eq!(db.as_deref(), Some("sbtest"));
    c.select_db("shop").expect("COM_INIT_DB shop");
    let rows: Vec<(i64, String)> = c
        .query("SELECT 1, 'a' UNION ALL SELECT 2, 'b'")
        .expect("COM_QUERY");
    assert_eq!(rows, vec![(1, "a".to_string()), (2, "b".to_string())]);
    c.ping().expect("COM_PING again");
}

#[test]
fn field_list_matches_direct() {
    let t = Table::create(
        "it_fieldlist",
        "id INT PRIMARY KEY, name VARCHAR(20) DEFAULT 'x', price DECIMAL(10,2), note TEXT",
    );
    let proxy = Proxy::start_default();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        for wildcard in ["", "n%"] {
            let mut cmd = vec![COM_FIELD_LIST];
            cmd.extend_from_slice(t.name.as_bytes());
            cmd.push(0);
            cmd.extend_from_slice(wildcard.as_bytes());
            let mut d = raw_direct(caps);
            d.send_command(&cmd);
            let direct = d.read_until_terminator();
            let mut p = proxy.raw(caps);
            p.send_command(&cmd);
            let proxied = p.read_until_terminator();
            let expected = if wildcard.is_empty() { 4 } else { 2 };
            assert_eq!(direct.len(), expected + 1, "{label}: defs and terminator");
            assert_packets_eq(
                &format!("COM_FIELD_LIST {label} '{wildcard}'"),
                &direct,
                &proxied,
            );
            // Still usable afterwards.
            assert_eq!(p.query("SELECT 1").len(), direct_select_one_len(caps));
        }
    }
    // Unknown table: the server's own error.
    let mut p = proxy.raw(raw::modern());
    let mut cmd = vec![COM_FIELD_LIST];
    cmd.extend_from_slice(b"no_such_table_xyz\0");
    p.send_command(&cmd);
    let reply = p.read_until_terminator();
    let e = parse_err(&reply[0]);
    assert_eq!((e.code, e.state.as_str()), (1146, "42S02"));
}

fn direct_select_one_len(caps: mysql_common::constants::CapabilityFlags) -> usize {
    raw_direct(caps).query("SELECT 1").len()
}

#[test]
fn statistics_returns_server_text() {
    let proxy = Proxy::start_default();
    let mut p = proxy.raw(raw::modern());
    let reply = p.simple(&[COM_STATISTICS]);
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("Uptime: "),
        "COM_STATISTICS reply: {text:?}"
    );
    assert!(text.contains("Questions: "), "{text:?}");
    assert_eq!(p.query("SELECT 1").len(), 4, "usable afterwards");
}

#[test]
fn set_option_toggles_multi_statements() {
    let proxy = Proxy::start_default();
    for (label, caps) in [("modern", raw::modern()), ("legacy", raw::legacy())] {
        let mut p = proxy.raw(caps);
        let mut d = raw_direct(caps);
        let off = [COM_SET_OPTION, 1, 0];
        let on = [COM_SET_OPTION, 0, 0];
        let (dr, pr) = (d.simple(&off), p.simple(&off));
        assert_eq!(
            pr[0], 0xFE,
            "{label}: COM_SET_OPTION answers EOF/OK-EOF: {pr:?}"
        );
        assert_packets_eq(&format!("{label} SET_OPTION off"), &[dr], &[pr]);

        let direct = d.query("SELECT 1; SELECT 2");
        assert_eq!(parse_err(&direct[0]).code, 1064, "{label}: server refuses");
        let reply = p.query("SELECT 1; SELECT 2");
        assert_eq!(
            reply.len(),
            1,
            "{label}: after COM_SET_OPTION(MULTI_STATEMENTS_OFF) the proxy must refuse \
             'SELECT 1; SELECT 2' with one ERR 1064 like the server; got {} packets",
            reply.len()
        );
        let e = parse_err(&reply[0]);
        assert_eq!(e.code, 1064, "{label}: {e:?}");
        assert_packets_eq(&format!("{label} multi-statement refused"), &direct, &reply);

        let (dr, pr) = (d.simple(&on), p.simple(&on));
        assert_packets_eq(&format!("{label} SET_OPTION on"), &[dr], &[pr]);
        let reply = p.query("SELECT 1; SELECT 2");
        let direct = d.query("SELECT 1; SELECT 2");
        assert!(reply.len() >= 6, "{label}: two result sets: {reply:?}");
        assert_packets_eq(&format!("{label} multi-statement"), &direct, &reply);
    }
}

#[test]
fn reset_connection_clears_user_variables() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    c.query_drop("SET @x = 42").expect("set");
    let x: Option<i64> = c.query_first("SELECT @x").expect("select");
    assert_eq!(x, Some(42));
    c.reset().expect("COM_RESET_CONNECTION");
    let x: Option<Value> = c.query_first("SELECT @x").expect("select");
    assert_eq!(x, Some(Value::NULL), "user variable gone after reset");
    let db: Option<String> = c.query_first("SELECT DATABASE()").expect("select");
    assert_eq!(
        db.as_deref(),
        Some("shop"),
        "schema kept after reset (as in MySQL)"
    );
}

#[test]
fn change_user_switches_and_resets() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    c.query_drop("SET @x = 1").expect("set");
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("app_sha2".into()))
            .with_pass(Some("sha2-pw".into()))
            .with_db_name(Some("shop".into())),
    )
    .expect("change to app_sha2");
    let x: Option<Value> = c.query_first("SELECT @x").expect("select");
    assert_eq!(x, Some(Value::NULL), "session reset by COM_CHANGE_USER");
    c.query_drop("SET @x = 2").expect("set");
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("app".into()))
            .with_pass(Some("app-pw".into())),
    )
    .expect("change back to app");
    let x: Option<Value> = c.query_first("SELECT @x").expect("select");
    assert_eq!(x, Some(Value::NULL));
    let one: Option<i64> = c.query_first("SELECT 1").expect("usable");
    assert_eq!(one, Some(1));

    // The new user's restrictions apply after the change.
    let mut c = proxy.conn();
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("limited".into()))
            .with_pass(Some("limited-pw".into()))
            .with_db_name(Some("shop".into())),
    )
    .expect("change to limited");
    let e = my_err(c.query_drop("USE sbtest"));
    assert_eq!(
        e.code, 1044,
        "limited's schema list applies after COM_CHANGE_USER"
    );

    let mut c = proxy.conn();
    let e = my_err(
        c.change_user(
            ChangeUserOpts::default()
                .with_user(Some("app".into()))
                .with_pass(Some("wrong".into())),
        ),
    );
    assert_eq!(e.code, 1045);
    assert_eq!(
        e.message,
        "Access denied for user 'app'@'127.0.0.1' (using password: YES)"
    );
}

/// After an authentication switch the scramble in force is the one the switch sent (as in
/// MySQL and MariaDB, where the switch replaces the connection's scramble); a later
/// COM_CHANGE_USER answered with the current plugin must be verified against it.
#[test]
fn change_user_after_an_auth_switch() {
    let proxy = Proxy::start_default();
    // app_sha2 logs in through a switch from mysql_native_password to caching_sha2_password.
    let mut c = proxy
        .conn_as("app_sha2", "sha2-pw", Some("shop"))
        .expect("login as app_sha2");
    c.query_drop("SET @y = 1").expect("set");
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("app_sha2".into()))
            .with_pass(Some("sha2-pw".into()))
            .with_db_name(Some("shop".into())),
    )
    .expect("COM_CHANGE_USER to the same caching_sha2 user after the login's auth switch");
    let y: Option<Value> = c.query_first("SELECT @y").expect("select");
    assert_eq!(y, Some(Value::NULL));
}

#[test]
fn unknown_command_gets_1047_and_connection_survives() {
    let proxy = Proxy::start_default();
    let mut p = proxy.raw(raw::modern());
    let reply = p.simple(&[raw::COM_PROCESS_INFO]);
    let e = parse_err(&reply);
    assert_eq!(e.code, 1047, "{e:?}");
    assert_eq!(e.state, "08S01");
    let r = p.query("SELECT 5");
    assert_eq!(r.len(), 4, "count, def, row, terminator: {r:?}");
}

#[test]
fn quit_closes_the_connection() {
    let proxy = Proxy::start_default();
    let mut p: RawConn = proxy.raw(raw::modern());
    p.quit();
    assert!(
        p.is_closed_by_peer(Duration::from_secs(5)),
        "proxy closes the socket after COM_QUIT"
    );
    let mut c = proxy.conn();
    c.ping().expect("proxy still serving");
}
