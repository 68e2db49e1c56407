//! Read/write splitting and the session's own state: prepared statements, schema, user and
//! system variables, temporary tables, warnings, multi-statements, sequences, COM_CHANGE_USER.
//! Whatever a session did on its primary connection must hold for its reads too.

use mysql::prelude::Queryable;
use mysql::{ChangeUserOpts, Conn};

use crate::harness::rw::{
    PRIMARY, REPLICA, assert_runs_on, replicated_table, rw_proxy, server, wait_caught_up,
};
use crate::harness::{PRIMARY_USER, sandbox, unique};

/// Prepared statements (COM_STMT_EXECUTE) are routed like the same text statements (see
/// rw_prepared.rs for read-your-writes and parameter types).
#[test]
fn rw_prepared_statements_route_like_text_statements() {
    let t = replicated_table("rw_prep");
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    let n = &t.name;
    for (sql, want) in [
        ("SELECT @@server_id".to_string(), REPLICA),
        ("/*master*/ SELECT @@server_id".into(), PRIMARY),
        ("SELECT @@server_id, '/*master*/'".into(), REPLICA),
        (
            format!("SELECT @@server_id, v FROM `{n}` WHERE id = 1 FOR UPDATE"),
            PRIMARY,
        ),
        ("SELECT @@server_id, LAST_INSERT_ID()".into(), PRIMARY),
    ] {
        for _ in 0..2 {
            let row: Option<mysql::Row> = c
                .exec_first(&sql, ())
                .unwrap_or_else(|e| panic!("exec {sql}: {e}"));
            let id = row.and_then(|r| r.get::<u32, _>(0));
            assert_eq!(id, Some(want), "prepared {sql:?}");
        }
    }
    let got: Option<(u32, i32)> = c
        .exec_first(
            format!("SELECT @@server_id, v FROM `{n}` WHERE id = ?"),
            (2,),
        )
        .expect("exec with a parameter");
    assert_eq!(got, Some((REPLICA, 20)));
    c.query_drop("BEGIN").expect("BEGIN");
    let id: Option<u32> = c.exec_first("SELECT @@server_id", ()).expect("exec");
    assert_eq!(id, Some(PRIMARY), "prepared read inside a transaction");
    c.query_drop("COMMIT").expect("COMMIT");
    c.exec_drop(
        format!("UPDATE `{n}` SET sid = @@server_id WHERE id = ?"),
        (1,),
    )
    .expect("prepared update");
    let sid: Option<Option<u32>> = server(&sandbox().s0_primary)
        .query_first(format!("SELECT sid FROM shop.`{n}` WHERE id = 1"))
        .expect("sid");
    assert_eq!(
        sid,
        Some(Some(PRIMARY)),
        "the prepared UPDATE ran on the primary"
    );
}

/// What a session set on its primary connection holds for its reads too, wherever they run.
#[test]
fn rw_session_state_holds_for_reads() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    let one = |c: &mut Conn, sql: &str| -> (u32, Option<String>) {
        c.query_first(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: no row"))
    };
    // Schema: USE and COM_INIT_DB.
    c.query_drop("USE mysql").expect("USE mysql");
    assert_eq!(
        one(&mut c, "SELECT @@server_id, DATABASE()"),
        (REPLICA, Some("mysql".into()))
    );
    c.select_db("shop").expect("COM_INIT_DB shop");
    assert_eq!(
        one(&mut c, "SELECT @@server_id, DATABASE()"),
        (REPLICA, Some("shop".into()))
    );
    // A user variable lives on the primary connection: reads of it go there.
    c.query_drop("SET @rw_x = 42").expect("SET @rw_x");
    assert_eq!(
        one(&mut c, "SELECT @@server_id, @rw_x"),
        (PRIMARY, Some("42".into()))
    );
    // Session system variables set by the client.
    let mut wrong = Vec::new();
    for (set, read, want) in [
        (
            "SET time_zone = '+05:00'",
            "SELECT @@server_id, @@session.time_zone",
            "+05:00",
        ),
        (
            "SET SESSION sql_mode = 'ANSI_QUOTES'",
            "SELECT @@server_id, @@session.sql_mode",
            "ANSI_QUOTES",
        ),
        (
            "SET NAMES latin1",
            "SELECT @@server_id, @@session.character_set_client",
            "latin1",
        ),
    ] {
        c.query_drop(set).unwrap_or_else(|e| panic!("{set}: {e}"));
        let (id, got) = one(&mut c, read);
        if got.as_deref() != Some(want) {
            wrong.push(format!(
                "after {set:?}, {read:?} ran on server {id} and returned {got:?}, not {want:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Temporary tables exist only on the session's primary connection: reads of them must run
/// there.
#[test]
fn rw_temporary_table_reads_see_the_temporary_table() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    let name = unique("rw_tmp");
    c.query_drop(format!("CREATE TEMPORARY TABLE `{name}` (id INT)"))
        .expect("CREATE TEMPORARY TABLE");
    c.query_drop(format!("INSERT INTO `{name}` VALUES (7)"))
        .expect("insert");
    let got: mysql::Result<Option<(u32, i32)>> =
        c.query_first(format!("SELECT @@server_id, id FROM `{name}`"));
    assert!(
        matches!(got, Ok(Some((PRIMARY, 7)))),
        "SELECT from the session's temporary table: {got:?}"
    );
}

/// SHOW WARNINGS reports the warnings of the session's previous statement, also when that
/// statement was a read a replica ran.
#[test]
fn rw_show_warnings_after_a_replica_read() {
    let proxy = rw_proxy("", |_| {});
    // Checked against a server first: the statement warns, SHOW WARNINGS lists 1365.
    for (what, mut c) in [
        ("direct to the primary", crate::harness::direct()),
        ("through the proxy", proxy.conn()),
    ] {
        let row: Option<(u32, Option<i32>)> = c
            .query_first("SELECT @@server_id, 1/0")
            .expect("SELECT 1/0");
        let id = row.map(|r| r.0);
        let shown: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").expect("SHOW WARNINGS");
        assert_eq!(
            shown.iter().map(|w| w.1).collect::<Vec<_>>(),
            vec![1365],
            "{what}: SHOW WARNINGS after a read that warned on server {id:?}: {shown:?}"
        );
    }
}

#[test]
fn rw_multi_statements_and_sequences_go_to_the_primary() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    let mut ids = Vec::new();
    let mut r = c
        .query_iter("SELECT @@server_id; SELECT @@server_id")
        .expect("multi-statement");
    while let Some(set) = r.iter() {
        for row in set {
            ids.push(row.expect("row").get::<u32, _>(0).expect("id"));
        }
    }
    drop(r);
    assert_eq!(ids, vec![PRIMARY, PRIMARY], "multi-statement reads");

    let seq = unique("rw_seq");
    let _drop = crate::harness::CleanupSql(format!("DROP SEQUENCE IF EXISTS shop.`{seq}`"));
    crate::harness::direct()
        .query_drop(format!("CREATE SEQUENCE `{seq}`"))
        .expect("CREATE SEQUENCE");
    let sb = sandbox();
    wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
    for sql in [
        format!("SELECT @@server_id, NEXTVAL(`{seq}`)"),
        format!("SELECT @@server_id, NEXT VALUE FOR `{seq}`"),
        format!("SELECT @@server_id, LASTVAL(`{seq}`)"),
    ] {
        assert_runs_on(&mut c, &sql, PRIMARY);
    }
}

/// COM_CHANGE_USER to a `default_role: primary` user keeps its reads on the primary, and back.
#[test]
fn rw_change_user_takes_the_new_users_default_role() {
    let proxy = rw_proxy("", |_| {});
    let mut c = proxy.conn();
    assert_runs_on(&mut c, "SELECT @@server_id", REPLICA);
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some(PRIMARY_USER.0.into()))
            .with_pass(Some(PRIMARY_USER.1.into()))
            .with_db_name(Some("shop".into())),
    )
    .expect("change user to the primary-only user");
    assert_runs_on(&mut c, "SELECT @@server_id", PRIMARY);
    c.change_user(
        ChangeUserOpts::default()
            .with_user(Some("app".into()))
            .with_pass(Some("app-pw".into()))
            .with_db_name(Some("shop".into())),
    )
    .expect("change user back to app");
    assert_runs_on(&mut c, "SELECT @@server_id", REPLICA);
}
