//! Hot reload and graceful shutdown against the real sandbox: edits applied through the file
//! watcher (rename and symlink swap), SIGHUP and `SHARDGATE RELOAD`; invalid files refused
//! with their location; open transactions finishing across a reload and a SIGTERM; the
//! slow-statement log.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Row};

use crate::harness::rw::REPLICA;
use crate::harness::{Proxy, ProxyOpts, ReplicaOpt, Table, direct, my_err, sandbox};

fn opts() -> ProxyOpts {
    ProxyOpts {
        rw_users: true,
        ..Default::default()
    }
}

/// (version, reloads_failed, last_error) from SHOW SHARDGATE CONFIG.
fn config(admin: &mut Conn) -> (u64, u64, Option<String>) {
    let row: Row = admin
        .query_first("SHOW SHARDGATE CONFIG")
        .expect("SHOW SHARDGATE CONFIG")
        .expect("one row");
    let num = |name: &str| -> u64 {
        row.get::<String, _>(name)
            .and_then(|v| v.parse().ok())
            .expect("number")
    };
    (
        num("version"),
        num("reloads_failed"),
        row.get::<Option<String>, _>("last_error").flatten(),
    )
}

fn wait_for(admin: &mut Conn, what: &str, ok: impl Fn(&(u64, u64, Option<String>)) -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let c = config(admin);
        if ok(&c) {
            return;
        }
        assert!(Instant::now() < until, "{what}: still {c:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn backends(admin: &mut Conn) -> Vec<String> {
    let rows: Vec<Row> = admin.query("SHOW SHARDGATE BACKENDS").expect("backends");
    rows.iter()
        .filter_map(|r| r.get::<String, _>("backend"))
        .collect()
}

#[test]
fn edits_apply_live_and_bad_files_change_nothing() {
    let proxy = Proxy::start(opts());
    let mut admin = proxy.admin();
    let mut app = proxy.conn();
    let mut in_txn = proxy.conn();
    assert_eq!(config(&mut admin).0, 1);
    let t = Table::create("reload_txn", "id INT PRIMARY KEY");
    in_txn.query_drop("BEGIN").expect("begin");
    in_txn
        .query_drop(format!("INSERT INTO `{}` VALUES (1)", t.name))
        .expect("insert in the transaction");

    // An editor-style rename adding s0's replica: the watcher applies it.
    let with_replica = ProxyOpts {
        replicas: vec![ReplicaOpt::new("s0", &sandbox().s0_replica, Some(3))],
        ..opts()
    };
    proxy.replace_config(&proxy.config_text(&with_replica));
    wait_for(&mut admin, "the replica edit", |c| c.0 == 2);
    assert!(
        backends(&mut admin)
            .iter()
            .any(|b| b.contains(&sandbox().s0_replica)),
        "the new replica is listed"
    );
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let id: Option<u32> = app.query_first("SELECT @@server_id").expect("read");
        if id == Some(REPLICA) {
            break;
        }
        assert!(
            Instant::now() < until,
            "reads never reached the new replica"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The transaction that began before the edit goes on and commits.
    in_txn
        .query_drop(format!("INSERT INTO `{}` VALUES (2)", t.name))
        .expect("insert after the reload");
    in_txn.query_drop("COMMIT").expect("commit");
    let n: Option<i64> = direct()
        .query_first(format!("SELECT COUNT(*) FROM `{}`", t.name))
        .expect("count");
    assert_eq!(n, Some(2));

    // A syntax error, then an unknown shard: refused, located, nothing changes.
    let good = proxy.config_text(&with_replica);
    proxy.replace_config(&format!("{good}\nusers: [\n"));
    wait_for(&mut admin, "the syntax error", |c| c.1 == 1);
    let (version, _, error) = config(&mut admin);
    assert_eq!(version, 2, "an invalid file changes nothing");
    let error = error.expect("last_error");
    let path = proxy.config_path().display().to_string();
    assert!(error.contains(&path), "the error names the file: {error}");
    proxy.replace_config(&good.replace("default_shard: s0", "default_shard: nowhere"));
    wait_for(&mut admin, "the unknown shard", |c| c.1 == 2);
    assert_eq!(config(&mut admin).0, 2);
    let v: Option<i64> = app.query_first("SELECT 1").expect("still serving");
    assert_eq!(v, Some(1));

    // The next valid edit applies: the replica goes again.
    proxy.replace_config(&proxy.config_text(&opts()));
    wait_for(&mut admin, "the removal", |c| c.0 == 3 && c.2.is_none());
    assert!(
        !backends(&mut admin)
            .iter()
            .any(|b| b.contains(&sandbox().s0_replica))
    );

    // SHARDGATE RELOAD of an unchanged file, and a non-admin asking for it.
    let row: Row = admin
        .query_first("SHARDGATE RELOAD")
        .expect("reload")
        .expect("row");
    assert_eq!(row.get::<String, _>("result").as_deref(), Some("unchanged"));
    let e = my_err(app.query_drop("SHARDGATE RELOAD"));
    assert_eq!(e.code, 1227, "{e:?}");
}

#[test]
fn symlink_swap_and_sighup_trigger_reloads() {
    let proxy = Proxy::start(opts());
    let mut admin = proxy.admin();
    // Turn the config into a ConfigMap-style layout: shardgate.yaml → ..data/shardgate.yaml,
    // ..data → a versioned directory, swapped by renaming a new symlink over ..data.
    let dir = &proxy.dir;
    let v1 = dir.join("..v1");
    std::fs::create_dir(&v1).expect("v1 dir");
    std::fs::copy(proxy.config_path(), v1.join("shardgate.yaml")).expect("copy");
    std::os::unix::fs::symlink("..v1", dir.join("..data")).expect("..data");
    let tmp = dir.join("shardgate.yaml.link");
    std::os::unix::fs::symlink("..data/shardgate.yaml", &tmp).expect("link");
    std::fs::rename(&tmp, proxy.config_path()).expect("config becomes a link");
    std::thread::sleep(Duration::from_millis(600));
    let base = config(&mut admin).0;

    let v2 = dir.join("..v2");
    std::fs::create_dir(&v2).expect("v2 dir");
    let edited = proxy.config_text(&ProxyOpts {
        replicas: vec![ReplicaOpt::new("s1", &sandbox().s1_replica, Some(2))],
        ..opts()
    });
    std::fs::write(v2.join("shardgate.yaml"), edited).expect("v2 config");
    let new_link = dir.join("..data_tmp");
    std::os::unix::fs::symlink("..v2", &new_link).expect("new ..data");
    std::fs::rename(&new_link, dir.join("..data")).expect("swap ..data");
    wait_for(&mut admin, "the symlink swap", |c| c.0 == base + 1);
    assert!(
        backends(&mut admin)
            .iter()
            .any(|b| b.contains(&sandbox().s1_replica))
    );

    // SIGHUP re-reads the file: an edit made while the watcher is (also) busy is applied
    // once, whoever sees it first; a SIGHUP with nothing new changes nothing.
    proxy.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        config(&mut admin).0,
        base + 1,
        "SIGHUP of an unchanged file"
    );
    proxy.replace_config(&proxy.config_text(&opts()));
    proxy.signal("HUP");
    wait_for(&mut admin, "the edit with SIGHUP", |c| c.0 == base + 2);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(config(&mut admin).0, base + 2, "applied once");
    assert!(
        !backends(&mut admin)
            .iter()
            .any(|b| b.contains(&sandbox().s1_replica))
    );
}

#[test]
fn sigterm_lets_open_transactions_finish() {
    let mut proxy = Proxy::start(opts());
    let t = Table::create("shutdown_txn", "id INT PRIMARY KEY");
    let mut idle = proxy.conn();
    let mut busy = proxy.conn();
    busy.query_drop("BEGIN").expect("begin");
    busy.query_drop(format!("INSERT INTO `{}` VALUES (1)", t.name))
        .expect("insert");
    proxy.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        idle.query_drop("SELECT 1").is_err(),
        "an idle session is closed at shutdown"
    );
    assert!(
        std::net::TcpStream::connect(proxy.addr()).is_err(),
        "no new clients are accepted"
    );
    busy.query_drop(format!("INSERT INTO `{}` VALUES (2)", t.name))
        .expect("the open transaction goes on");
    busy.query_drop("COMMIT").expect("and commits");
    let status = proxy.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some(),
        "the proxy exits once the transaction is done"
    );
    let n: Option<i64> = direct()
        .query_first(format!("SELECT COUNT(*) FROM `{}`", t.name))
        .expect("count");
    assert_eq!(n, Some(2), "everything the transaction wrote is committed");
}

#[test]
fn the_shutdown_deadline_ends_unfinished_transactions_cleanly() {
    let mut proxy = Proxy::start(ProxyOpts {
        shutdown_timeout_ms: Some(500),
        ..opts()
    });
    let t = Table::create("shutdown_deadline", "id INT PRIMARY KEY");
    let mut busy = proxy.conn();
    busy.query_drop("BEGIN").expect("begin");
    busy.query_drop(format!("INSERT INTO `{}` VALUES (1)", t.name))
        .expect("insert");
    let started = Instant::now();
    proxy.signal("TERM");
    // Past the 500 ms deadline, while the proxy closes its last sessions.
    std::thread::sleep(Duration::from_millis(800));
    let e = my_err(busy.query_drop("COMMIT"));
    assert_eq!(e.code, 1053, "a clear error: {e:?}");
    assert!(e.message.contains("shutdown_timeout_ms"), "{e:?}");
    let status = proxy.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "the proxy exits after the deadline");
    assert!(started.elapsed() >= Duration::from_millis(450));
    let n: Option<i64> = direct()
        .query_first(format!("SELECT COUNT(*) FROM `{}`", t.name))
        .expect("count");
    assert_eq!(
        n,
        Some(0),
        "nothing half-applied: the transaction was rolled back"
    );
}

#[test]
fn slow_statements_are_logged_without_credentials() {
    let proxy = Proxy::start(ProxyOpts {
        slow_statement_ms: Some(30),
        ..opts()
    });
    let mut c = proxy.conn();
    c.query_drop("SELECT SLEEP(0.1)").expect("slow read");
    c.query_drop("SELECT 1").expect("fast read");
    let _ = c.query_drop("SELECT SLEEP(0.1), 'IDENTIFIED BY secret-pw-123'");
    std::thread::sleep(Duration::from_millis(200));
    let log = proxy.log_tail(400);
    let slow: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("slow statement"))
        .collect();
    assert_eq!(slow.len(), 2, "two slow statements logged:\n{log}");
    assert!(
        slow[0].contains("SLEEP(0.1)") && slow[0].contains("route=\"primary\""),
        "{}",
        slow[0]
    );
    assert!(slow[0].contains("total_ms="), "{}", slow[0]);
    assert!(
        !log.contains("secret-pw-123"),
        "credentials never reach the log"
    );
}
