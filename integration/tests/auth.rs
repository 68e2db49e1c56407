//! Authentication: mysql_native_password, caching_sha2_password (full and fast path),
//! wrong passwords and unknown users, and per-user schema restrictions.

use mysql::prelude::Queryable;

use crate::harness::{Proxy, my_err};

#[test]
fn native_password_login_works() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let one: Option<i64> = c.query_first("SELECT 1").expect("query");
    assert_eq!(one, Some(1));
    let db: Option<String> = c.query_first("SELECT DATABASE()").expect("query");
    assert_eq!(db.as_deref(), Some("shop"));
}

#[test]
fn wrong_password_is_denied_with_mysql_text() {
    let proxy = Proxy::start_default();
    let e = my_err(proxy.conn_as("app", "not-the-password", None));
    assert_eq!(e.code, 1045);
    assert_eq!(e.state, "28000");
    assert_eq!(
        e.message,
        "Access denied for user 'app'@'127.0.0.1' (using password: YES)"
    );
}

#[test]
fn unknown_user_is_denied() {
    let proxy = Proxy::start_default();
    let e = my_err(proxy.conn_as("nobody", "whatever", None));
    assert_eq!(e.code, 1045);
    assert!(
        e.message
            .starts_with("Access denied for user 'nobody'@'127.0.0.1'"),
        "{}",
        e.message
    );
    // The proxy keeps serving.
    proxy.conn().ping().expect("ping after a refused login");
}

#[test]
fn caching_sha2_full_auth_then_fast_path() {
    let proxy = Proxy::start_default();
    // First login: the proxy has no cached verification, so full authentication runs
    // (the mysql crate asks for the RSA public key over the plain connection).
    let mut first = proxy
        .conn_as("app_sha2", "sha2-pw", Some("shop"))
        .expect("first caching_sha2 login (full auth)");
    let v: Option<i64> = first.query_first("SELECT 41 + 1").expect("query");
    assert_eq!(v, Some(42));
    // Second login: fast path.
    let mut second = proxy
        .conn_as("app_sha2", "sha2-pw", Some("shop"))
        .expect("second caching_sha2 login (fast path)");
    let v: Option<i64> = second.query_first("SELECT 7").expect("query");
    assert_eq!(v, Some(7));
    // Wrong password, on a proxy that has the right one cached and on the full path alike.
    let e = my_err(proxy.conn_as("app_sha2", "wrong", None));
    assert_eq!(e.code, 1045);
    assert_eq!(
        e.message,
        "Access denied for user 'app_sha2'@'127.0.0.1' (using password: YES)"
    );
    let fresh = Proxy::start_default();
    let e = my_err(fresh.conn_as("app_sha2", "wrong", None));
    assert_eq!(e.code, 1045);
}

#[test]
fn schema_restrictions_at_login() {
    let proxy = Proxy::start_default();
    let e = my_err(proxy.conn_as("limited", "limited-pw", Some("sbtest")));
    assert_eq!(e.code, 1044);
    assert_eq!(e.state, "42000");
    assert_eq!(
        e.message,
        "Access denied for user 'limited'@'127.0.0.1' to database 'sbtest'"
    );
    let mut ok = proxy
        .conn_as("limited", "limited-pw", Some("shop"))
        .expect("limited may use shop");
    let db: Option<String> = ok.query_first("SELECT DATABASE()").expect("query");
    assert_eq!(db.as_deref(), Some("shop"));
}

#[test]
fn use_of_forbidden_schema_is_denied_and_connection_survives() {
    let proxy = Proxy::start_default();
    let mut c = proxy
        .conn_as("limited", "limited-pw", Some("shop"))
        .expect("login");
    let e = my_err(c.query_drop("USE sbtest"));
    assert_eq!(e.code, 1044);
    assert_eq!(
        e.message,
        "Access denied for user 'limited'@'127.0.0.1' to database 'sbtest'"
    );
    let db: Option<String> = c.query_first("SELECT DATABASE()").expect("still usable");
    assert_eq!(
        db.as_deref(),
        Some("shop"),
        "schema unchanged after a denied USE"
    );
    c.query_drop("USE shop").expect("allowed USE");
}

#[test]
fn com_init_db_allowed_and_denied() {
    let proxy = Proxy::start_default();
    let mut c = proxy
        .conn_as("limited", "limited-pw", None)
        .expect("login without a schema");
    let e = my_err(c.select_db("sbtest"));
    assert_eq!(e.code, 1044);
    let db: Option<Option<String>> = c.query_first("SELECT DATABASE()").expect("usable");
    assert_eq!(
        db,
        Some(None),
        "no schema selected after a denied COM_INIT_DB"
    );
    c.select_db("shop").expect("COM_INIT_DB shop");
    let db: Option<String> = c.query_first("SELECT DATABASE()").expect("usable");
    assert_eq!(db.as_deref(), Some("shop"));

    // An unrestricted user may switch anywhere; an unknown schema is the server's error.
    let mut app = proxy.conn();
    app.select_db("sbtest").expect("app may use sbtest");
    let db: Option<String> = app.query_first("SELECT DATABASE()").expect("q");
    assert_eq!(db.as_deref(), Some("sbtest"));
    let e = my_err(app.select_db("no_such_db_xyz"));
    assert_eq!(e.code, 1049);
}
