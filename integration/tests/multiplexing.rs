//! Connection multiplexing against the real sandbox: sessions borrow backend connections per
//! statement, their state (schema, character set, sql_mode, time zone, variables,
//! LAST_INSERT_ID, ROW_COUNT) stays exact over a shared connection, connection-bound state pins,
//! and the per-backend cap holds under 2,000 clients.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Row};

use crate::harness::{DB, Proxy, ProxyOpts, Table, direct, my_err, sandbox, unique};

/// A proxy whose backend pool has `max` connections (one of them the health checker's, so
/// clients share `max - 1`), logging in to the backend as its own user (so `PROCESSLIST` tells
/// its connections apart from every other test's).
fn capped_proxy(max: u64, user: &str) -> Proxy {
    let mut c = direct();
    for sql in [
        format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'mux-pw'"),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, CREATE TEMPORARY TABLES, \
             LOCK TABLES, SLAVE MONITOR, BINLOG MONITOR ON *.* TO '{user}'@'%'"
        ),
    ] {
        c.query_drop(sql).expect("backend user");
    }
    Proxy::start(ProxyOpts {
        pool_max_connections: Some(max),
        checkout_timeout_ms: Some(20_000),
        backend: Some((user.to_string(), "mux-pw".to_string())),
        rw_users: true,
        ..Default::default()
    })
}

/// Connections the proxy's backend user has open on s0's primary right now.
fn backend_connections(sampler: &mut Conn, user: &str) -> usize {
    sampler
        .query_first::<usize, _>(format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{user}'"
        ))
        .expect("count backend connections")
        .unwrap_or(0)
}

type State = (String, String, String, Option<String>, u64);

fn state(c: &mut Conn) -> State {
    c.query_first(
        "SELECT @@sql_mode, @@time_zone, @@character_set_client, DATABASE(), CONNECTION_ID()",
    )
    .expect("read session state")
    .expect("one row")
}

#[test]
fn sessions_keep_their_own_state_over_one_backend_connection() {
    let user = unique("mux1");
    let proxy = capped_proxy(2, &user);
    let mut a = proxy.conn();
    let mut b = proxy.conn();
    a.query_drop("SET sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES', time_zone = '+05:30'")
        .expect("a: SET");
    a.query_drop("SET NAMES latin1").expect("a: SET NAMES");
    b.query_drop("SET sql_mode = 'TRADITIONAL'")
        .expect("b: SET");
    b.query_drop("SET time_zone = '-03:00'").expect("b: SET");
    b.query_drop("USE sbtest").expect("b: USE");
    let mut conn_ids = std::collections::BTreeSet::new();
    for round in 0..20 {
        let (sa, sb) = (state(&mut a), state(&mut b));
        assert_eq!(
            (&sa.0[..], &sa.1[..], &sa.2[..], sa.3.as_deref()),
            (
                "ANSI_QUOTES,STRICT_ALL_TABLES",
                "+05:30",
                "latin1",
                Some(DB)
            ),
            "round {round}: session a"
        );
        assert!(sb.0.contains("STRICT_TRANS_TABLES"), "b: {}", sb.0);
        assert_eq!(
            (&sb.1[..], &sb.2[..], sb.3.as_deref()),
            ("-03:00", "utf8mb4", Some("sbtest")),
            "round {round}: session b"
        );
        conn_ids.extend([sa.4, sb.4]);
    }
    assert_eq!(
        conn_ids.len(),
        1,
        "both sessions ran on the one backend connection"
    );
    // A string the session's sql_mode reads differently: ANSI_QUOTES makes "x" an identifier.
    let e = my_err(a.query_drop("SELECT \"no_such_column\""));
    assert_eq!(e.code, 1054, "{e:?}");
    let v: Option<String> = b.query_first("SELECT \"a string\"").expect("b");
    assert_eq!(v.as_deref(), Some("a string"));
    let mut sampler = direct();
    assert_eq!(
        backend_connections(&mut sampler, &user),
        2,
        "one client connection and the health checker's"
    );
}

#[test]
fn connection_bound_state_pins_until_it_is_gone() {
    let user = unique("mux2");
    let proxy = capped_proxy(3, &user);
    let mut a = proxy.conn();
    let mut other = proxy.conn();
    let mut admin = proxy.admin();
    // The session records its pins right after its reply has gone out: poll briefly.
    let pinned_now = |admin: &mut Conn| -> String {
        let rows: Vec<Row> = admin.query("SHOW SHARDGATE POOLS").expect("pools");
        rows.iter()
            .filter_map(|r| r.get::<Option<String>, _>("pinned_sessions").flatten())
            .collect::<Vec<_>>()
            .join(";")
    };
    let pinned = |admin: &mut Conn| -> String {
        std::thread::sleep(Duration::from_millis(50));
        pinned_now(admin)
    };
    assert_eq!(pinned(&mut admin), "", "nothing pinned at first");

    a.query_drop("SET @x = 42").expect("user variable");
    assert!(
        pinned(&mut admin).contains("user variables=1"),
        "{}",
        pinned(&mut admin)
    );
    for _ in 0..5 {
        other.query_drop("SELECT 1").expect("other session");
        let x: Option<i64> = a.query_first("SELECT @x").expect("read @x");
        assert_eq!(x, Some(42), "the variable lives on the pinned connection");
    }
    a.reset().expect("COM_RESET_CONNECTION");
    assert_eq!(pinned(&mut admin), "", "reset unpins");
    let x: Option<Option<i64>> = a.query_first("SELECT @x").expect("read @x");
    assert_eq!(x, Some(None), "the variable is gone after the reset");

    a.query_drop("CREATE TEMPORARY TABLE mux_tmp (id INT)")
        .expect("temp table");
    a.query_drop("INSERT INTO mux_tmp VALUES (1), (2)")
        .expect("insert");
    assert!(pinned(&mut admin).contains("temporary tables=1"));
    other.query_drop("SELECT 1").expect("other session");
    let n: Option<i64> = a
        .query_first("SELECT COUNT(*) FROM mux_tmp")
        .expect("count");
    assert_eq!(n, Some(2));
    a.query_drop("DROP TEMPORARY TABLE mux_tmp")
        .expect("drop temp");
    assert_eq!(pinned(&mut admin), "", "dropping the table unpins");

    a.query_drop("LOCK TABLES mysql.user READ").expect("lock");
    assert!(pinned(&mut admin).contains("LOCK TABLES=1"));
    a.query_drop("UNLOCK TABLES").expect("unlock");
    assert_eq!(pinned(&mut admin), "");

    let lock = unique("mux_lock");
    let got: Option<i64> = a
        .query_first(format!("SELECT GET_LOCK('{lock}', 1)"))
        .expect("GET_LOCK");
    assert_eq!(got, Some(1));
    assert!(pinned(&mut admin).contains("GET_LOCK=1"));
    let got: Option<i64> = a
        .query_first(format!("SELECT RELEASE_LOCK('{lock}')"))
        .expect("RELEASE_LOCK on the same connection");
    assert_eq!(got, Some(1));
    assert_eq!(pinned(&mut admin), "");

    let t = Table::create("mux_xa", "id INT PRIMARY KEY");
    let xid = unique("xid");
    a.query_drop(format!("XA START '{xid}'")).expect("XA START");
    a.query_drop(format!("INSERT INTO `{}` VALUES (1)", t.name))
        .expect("insert in the XA transaction");
    a.query_drop(format!("XA END '{xid}'")).expect("XA END");
    other.query_drop("SELECT 1").expect("other session");
    a.query_drop(format!("XA PREPARE '{xid}'"))
        .expect("XA PREPARE");
    let held = pinned(&mut admin);
    assert!(held.contains("transaction=1"), "{held}");
    a.query_drop(format!("XA COMMIT '{xid}'"))
        .expect("XA COMMIT");
    assert_eq!(pinned(&mut admin), "");
    let n: Option<i64> = direct()
        .query_first(format!("SELECT COUNT(*) FROM `{}`", t.name))
        .expect("count");
    assert_eq!(n, Some(1));

    a.query_drop("PREPARE s FROM 'SELECT 7'")
        .expect("text PREPARE");
    other.query_drop("SELECT 1").expect("other session");
    let v: Option<i64> = a.query_first("EXECUTE s").expect("EXECUTE");
    assert_eq!(v, Some(7));
    a.query_drop("DEALLOCATE PREPARE s").expect("DEALLOCATE");
    assert_eq!(pinned(&mut admin), "");
}

#[test]
fn last_insert_id_and_row_count_are_per_session() {
    let user = unique("mux3");
    let proxy = capped_proxy(2, &user);
    let t = Table::create("mux_ids", "id INT AUTO_INCREMENT PRIMARY KEY, v INT");
    let log = Table::create("mux_log", "id INT AUTO_INCREMENT PRIMARY KEY, ref INT");
    let mut a = proxy.conn();
    let mut b = proxy.conn();
    a.query_drop(format!("INSERT INTO `{}` (v) VALUES (1)", t.name))
        .expect("a insert");
    let a_id: Option<u64> = a.query_first("SELECT LAST_INSERT_ID()").expect("a id");
    b.query_drop(format!("INSERT INTO `{}` (v) VALUES (2), (2), (2)", t.name))
        .expect("b insert");
    let b_id: Option<u64> = b.query_first("SELECT LAST_INSERT_ID()").expect("b id");
    assert_ne!(a_id, b_id);
    // Both ran on the single backend connection: a still sees its own id.
    let again: Option<u64> = a
        .query_first("SELECT LAST_INSERT_ID()")
        .expect("a id again");
    assert_eq!(again, a_id, "LAST_INSERT_ID of session a");
    a.query_drop(format!(
        "INSERT INTO `{}` (ref) VALUES (LAST_INSERT_ID())",
        log.name
    ))
    .expect("a uses its id in a statement");
    let r: Option<u64> = direct()
        .query_first(format!("SELECT ref FROM `{}`", log.name))
        .expect("read log");
    assert_eq!(r, a_id, "the statement saw a's LAST_INSERT_ID");
    // A third session's explicit id (the OK packet reports it; LAST_INSERT_ID() does not
    // change) on the connection b's insert left its own value in: c's stays 0.
    let mut c = proxy.conn();
    c.query_drop(format!(
        "INSERT INTO `{}` (id, ref) VALUES (500, 5)",
        log.name
    ))
    .expect("c explicit id");
    let c_id: Option<u64> = c.query_first("SELECT LAST_INSERT_ID()").expect("c id");
    assert_eq!(c_id, Some(0), "an explicit id is not c's LAST_INSERT_ID");
    drop(c);

    a.query_drop(format!("UPDATE `{}` SET v = v + 10 WHERE v = 2", t.name))
        .expect("a update");
    b.query_drop(format!("UPDATE `{}` SET v = 0 WHERE v = 1", t.name))
        .expect("b update");
    let a_rows: Option<i64> = a.query_first("SELECT ROW_COUNT()").expect("a rows");
    assert_eq!(a_rows, Some(3), "ROW_COUNT of a's update");
    let b_rows: Option<i64> = b.query_first("SELECT ROW_COUNT()").expect("b rows");
    assert_eq!(b_rows, Some(1), "ROW_COUNT of b's update");
    a.query_drop(format!("SELECT * FROM `{}`", t.name))
        .expect("a select");
    let found: Option<i64> = a.query_first("SELECT FOUND_ROWS()").expect("found rows");
    assert_eq!(found, Some(4));
    // Inside a transaction the statement runs on the session's own connection.
    a.query_drop("BEGIN").expect("begin");
    a.query_drop(format!("DELETE FROM `{}` WHERE v = 0", t.name))
        .expect("delete");
    let (rc, one): (i64, i64) = a
        .query_first("SELECT ROW_COUNT(), 1")
        .expect("row count in a transaction")
        .expect("row");
    assert_eq!((rc, one), (1, 1));
    a.query_drop("COMMIT").expect("commit");
}

#[test]
fn two_thousand_clients_share_sixteen_backend_connections() {
    const CLIENTS: usize = 2000;
    const CAP: u64 = 16;
    let user = unique("mux4");
    let proxy = Arc::new(capped_proxy(CAP, &user));
    let t = Table::create("mux_points", "id INT PRIMARY KEY, v INT");
    direct()
        .query_drop(format!(
            "INSERT INTO `{}` VALUES {}",
            t.name,
            (1..=100)
                .map(|i| format!("({i}, {})", i * 3))
                .collect::<Vec<_>>()
                .join(",")
        ))
        .expect("fill");
    let done = Arc::new(AtomicBool::new(false));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, max_seen, user) = (Arc::clone(&done), Arc::clone(&max_seen), user.clone());
        std::thread::spawn(move || {
            let mut c = direct();
            let mut samples = 0;
            while !done.load(Ordering::Relaxed) {
                let n = backend_connections(&mut c, &user);
                max_seen.fetch_max(n, Ordering::Relaxed);
                samples += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            samples
        })
    };
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let errors = Arc::new(AtomicUsize::new(0));
    let first_errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (proxy, barrier, errors, name, first) = (
                Arc::clone(&proxy),
                Arc::clone(&barrier),
                Arc::clone(&errors),
                t.name.clone(),
                Arc::clone(&first_errors),
            );
            let note = move |e: String| {
                errors.fetch_add(1, Ordering::Relaxed);
                let mut f = first.lock().unwrap_or_else(|e| e.into_inner());
                if f.len() < 5 {
                    f.push(e);
                }
            };
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    let conn = proxy.conn_as("app", "app-pw", Some(DB));
                    barrier.wait();
                    let mut c = match conn {
                        Ok(c) => c,
                        Err(e) => return note(format!("connect: {e}")),
                    };
                    for k in 0..5 {
                        let id = (i * 7 + k) % 100 + 1;
                        let v: mysql::Result<Option<i64>> =
                            c.exec_first(format!("SELECT v FROM `{name}` WHERE id = ?"), (id,));
                        match v {
                            Ok(Some(v)) if v == id as i64 * 3 => {}
                            other => note(format!("select {id}: {other:?}")),
                        }
                    }
                })
                .expect("spawn client")
        })
        .collect();
    for th in threads {
        th.join().expect("client thread");
    }
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler");
    let max = max_seen.load(Ordering::Relaxed);
    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "every client and statement succeeded; first errors: {:?}",
        first_errors.lock().map(|f| f.clone()).unwrap_or_default()
    );
    assert!(
        samples > 5,
        "PROCESSLIST sampled during the run ({samples})"
    );
    // The health checker's connection counts too.
    assert!(
        max <= CAP as usize,
        "backend saw {max} connections from the proxy; cap {CAP}"
    );
    assert!(max >= 2, "the pool was used ({max})");
    let _ = sandbox();
}

#[test]
fn prepared_statements_run_from_many_sessions_over_few_connections() {
    let user = unique("mux5");
    let proxy = Arc::new(capped_proxy(3, &user));
    let t = Table::create("mux_ps", "id INT PRIMARY KEY, name VARCHAR(20), v INT");
    direct()
        .query_drop(format!(
            "INSERT INTO `{}` VALUES {}",
            t.name,
            (1..=50)
                .map(|i| format!("({i}, 'n{i}', {i})"))
                .collect::<Vec<_>>()
                .join(",")
        ))
        .expect("fill");
    let threads: Vec<_> = (0..40)
        .map(|s| {
            let (proxy, name) = (Arc::clone(&proxy), t.name.clone());
            std::thread::spawn(move || {
                let mut c = proxy.conn();
                let shared = c
                    .prep(format!("SELECT name, v FROM `{name}` WHERE id = ?"))
                    .expect("prepare shared");
                // A statement text of this session only (a different column list).
                let own = c
                    .prep(format!(
                        "SELECT v + {s}, id FROM `{name}` WHERE id BETWEEN ? AND ?"
                    ))
                    .expect("prepare own");
                let upd = c
                    .prep(format!("UPDATE `{name}` SET v = v WHERE id = ?"))
                    .expect("prepare update");
                for k in 0..20 {
                    let id = (s * 3 + k) % 50 + 1;
                    let r: Option<(String, i64)> = c.exec_first(&shared, (id,)).expect("exec");
                    assert_eq!(r, Some((format!("n{id}"), id as i64)));
                    let rows: Vec<(i64, i64)> = c.exec(&own, (id, id + 1)).expect("exec own");
                    let want: Vec<(i64, i64)> = (id..=(id + 1).min(50))
                        .map(|i| (i as i64 + s as i64, i as i64))
                        .collect();
                    assert_eq!(rows, want);
                    c.exec_drop(&upd, (id,)).expect("exec update");
                    assert_eq!(c.affected_rows(), 0, "matched, not changed");
                }
                c.close(shared).expect("close");
            })
        })
        .collect();
    for th in threads {
        th.join().expect("session thread");
    }
    let mut sampler = direct();
    assert!(backend_connections(&mut sampler, &user) <= 3);
}
