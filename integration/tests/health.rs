//! Backend health checker and the proxy's own queries, against the real sandbox servers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql::Conn;
use mysql::prelude::Queryable;
use shardgate::backend::connection::{BackendConn, Flavour, Target};
use shardgate::backend::health::{
    CheckRole, Health, HealthSnapshot, HealthState, gtid_covers, spawn_checker,
};
use shardgate::backend::pool::Pool;
use shardgate::backend::query::{QueryResult, Rows};
use shardgate::config::PoolConfig;
use tokio::task::JoinHandle;

use crate::harness::{BACKEND_PASS, BACKEND_USER, DB, free_port, opts, sandbox, unique};

const INTERVAL: Duration = Duration::from_millis(200);

fn target(address: &str) -> Target {
    Target {
        name: format!("test {address}"),
        address: address.to_string(),
        user: BACKEND_USER.to_string(),
        password: BACKEND_PASS.to_string(),
        connect_timeout: Duration::from_secs(3),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Starts a checker (interval `INTERVAL`) on the test's runtime, in the reserved slot of a
/// pool of its own.
fn start(
    rt: &tokio::runtime::Runtime,
    address: &str,
    role: CheckRole,
    max_lag: Duration,
    health: &Arc<Health>,
) -> JoinHandle<()> {
    let _in_runtime = rt.enter();
    let (_pool, slot) = Pool::with_checker(target(address), &PoolConfig::default());
    spawn_checker(slot, role, INTERVAL, max_lag, health)
}

/// Polls the snapshot until `done` holds, or panics after `within`.
fn wait_for(
    health: &Health,
    within: Duration,
    what: &str,
    done: impl Fn(&HealthSnapshot) -> bool,
) -> HealthSnapshot {
    let started = Instant::now();
    loop {
        let s = health.snapshot();
        if done(&s) {
            return s;
        }
        assert!(
            started.elapsed() < within,
            "no {what} within {within:?}; last snapshot {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn checked(s: &HealthSnapshot) -> bool {
    s.state != HealthState::Unknown
}

/// A mysql crate connection straight to one sandbox server as the backend user.
fn server(addr: &str) -> Conn {
    Conn::new(opts(addr, BACKEND_USER, BACKEND_PASS, None)).expect("connect to a sandbox server")
}

#[test]
fn health_replica_checker_reports_up_with_position() {
    let sb = sandbox();
    let rt = runtime();
    let health = Health::new();
    let task = start(
        &rt,
        &sb.s0_replica,
        CheckRole::Replica,
        Duration::from_secs(30),
        &health,
    );
    let s = wait_for(&health, Duration::from_secs(10), "first check", checked);
    assert_eq!(s.state, HealthState::Up, "{s:?}");
    assert!(health.is_usable());
    assert!(s.lag_ms.is_some(), "{s:?}");
    assert_eq!(s.read_only, Some(true), "sandbox replicas are read-only");
    let pos = s.gtid_position.clone().expect("gtid_slave_pos");
    assert!(gtid_covers(&pos, &pos), "position {pos:?} parses");
    assert!(s.checked_at.is_some());
    // Rounds keep coming.
    let first = s.checked_at;
    wait_for(&health, Duration::from_secs(5), "a second round", |n| {
        n.checked_at != first
    });
    health.stop();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
        .expect("checker stops")
        .expect("checker did not panic");
}

#[test]
fn health_primary_checker_reports_binlog_position() {
    let sb = sandbox();
    let rt = runtime();
    let health = Health::new();
    let _task = start(
        &rt,
        &sb.s0_primary,
        CheckRole::Primary,
        Duration::from_secs(1),
        &health,
    );
    let s = wait_for(&health, Duration::from_secs(10), "first check", checked);
    assert_eq!(s.state, HealthState::Up, "{s:?}");
    assert_eq!(s.read_only, Some(false));
    assert_eq!(s.lag_ms, None, "primaries have no lag");
    let pos = s.gtid_position.expect("gtid_binlog_pos");
    let direct: Option<String> = server(&sb.s0_primary)
        .query_first("SELECT @@gtid_binlog_pos")
        .expect("gtid_binlog_pos");
    let direct = direct.expect("not NULL");
    assert!(
        gtid_covers(&direct, &pos),
        "checked {pos:?}, later {direct:?}"
    );
}

#[test]
fn health_primary_checked_as_replica_is_not_replicating() {
    let sb = sandbox();
    let rt = runtime();
    let health = Health::new();
    let _task = start(
        &rt,
        &sb.s1_primary,
        CheckRole::Replica,
        Duration::from_secs(1),
        &health,
    );
    let s = wait_for(&health, Duration::from_secs(10), "first check", checked);
    assert_eq!(
        s.state,
        HealthState::NotReplicating("not configured as a replica".into())
    );
    assert!(!health.is_usable());
}

#[test]
fn health_nothing_listening_is_down() {
    let rt = runtime();
    let health = Health::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let _task = start(
        &rt,
        &addr,
        CheckRole::Replica,
        Duration::from_secs(1),
        &health,
    );
    let s = wait_for(&health, Duration::from_secs(10), "first check", checked);
    match &s.state {
        HealthState::Down(why) => assert!(why.contains("cannot connect"), "{why}"),
        other => panic!("expected Down, got {other:?}"),
    }
    assert!(!health.is_usable());
    drop(health);
}

/// Stops the SQL thread of a replica; starts it again when dropped, even on panic.
struct SqlThreadStopped {
    replica: String,
}

impl SqlThreadStopped {
    fn new(replica: &str) -> Self {
        server(replica)
            .query_drop("STOP SLAVE SQL_THREAD")
            .expect("STOP SLAVE SQL_THREAD");
        SqlThreadStopped {
            replica: replica.to_string(),
        }
    }
}

impl Drop for SqlThreadStopped {
    fn drop(&mut self) {
        for _ in 0..20 {
            let started = Conn::new(opts(&self.replica, BACKEND_USER, BACKEND_PASS, None))
                .and_then(|mut c| c.query_drop("START SLAVE SQL_THREAD"));
            match started {
                Ok(()) => return,
                Err(e) => {
                    eprintln!("START SLAVE SQL_THREAD on {}: {e}; retrying", self.replica);
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        eprintln!("could not restart the SQL thread of {}", self.replica);
    }
}

#[test]
fn health_stopped_sql_thread_is_not_replicating_then_recovers() {
    let sb = sandbox();
    let table = unique("it_health");
    let mut primary = Conn::new(opts(&sb.s1_primary, BACKEND_USER, BACKEND_PASS, Some(DB)))
        .expect("connect to s1 primary");
    primary
        .query_drop(format!("CREATE TABLE `{table}` (id INT PRIMARY KEY)"))
        .expect("create table");
    let rt = runtime();
    let health = Health::new();
    let _task = start(
        &rt,
        &sb.s1_replica,
        CheckRole::Replica,
        Duration::from_secs(1),
        &health,
    );
    wait_for(&health, Duration::from_secs(10), "Up", |s| {
        s.state == HealthState::Up
    });

    let written = {
        let _stopped = SqlThreadStopped::new(&sb.s1_replica);
        primary
            .query_drop(format!("INSERT INTO `{table}` VALUES (1)"))
            .expect("write on s1 primary");
        let written: Option<String> = primary
            .query_first("SELECT @@gtid_binlog_pos")
            .expect("gtid_binlog_pos");
        let written = written.expect("not NULL");
        let s = wait_for(&health, Duration::from_secs(2), "NotReplicating", |s| {
            matches!(s.state, HealthState::NotReplicating(_))
        });
        assert!(!health.is_usable());
        match &s.state {
            HealthState::NotReplicating(why) => assert!(why.contains("SQL thread No"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.lag_ms, None,
            "lag is NULL while the SQL thread is stopped"
        );
        // The write has not been applied on the replica.
        let s = health.snapshot();
        let pos = s.gtid_position.expect("position");
        assert!(!gtid_covers(&pos, &written), "{pos:?} vs {written:?}");
        written
    };

    let s = wait_for(&health, Duration::from_secs(10), "Up again", |s| {
        s.state == HealthState::Up
            && s.gtid_position
                .as_deref()
                .is_some_and(|p| gtid_covers(p, &written))
    });
    assert!(health.is_usable(), "{s:?}");
    let _ = primary.query_drop(format!("DROP TABLE IF EXISTS `{table}`"));
}

async fn connect(addr: &str, deprecate_eof: bool) -> BackendConn {
    let flavour = Flavour {
        found_rows: false,
        deprecate_eof,
    };
    BackendConn::connect(&target(addr), flavour)
        .await
        .expect("connect")
}

async fn rows(conn: &mut BackendConn, sql: &str) -> Rows {
    match conn.query_rows(sql).await.expect("query") {
        QueryResult::Rows(rows) => rows,
        QueryResult::Err { code, message } => panic!("{sql}: ERR {code} {message}"),
    }
}

#[test]
fn health_query_rows_on_both_flavours() {
    let sb = sandbox();
    let rt = runtime();
    rt.block_on(async {
        let mut results = Vec::new();
        for deprecate_eof in [true, false] {
            let mut c = connect(&sb.s0_primary, deprecate_eof).await;
            let r = rows(&mut c, "SELECT 1 AS a, NULL AS b, 'x' AS c").await;
            assert_eq!(r.columns, ["a", "b", "c"]);
            assert_eq!(
                r.rows,
                vec![vec![Some("1".to_string()), None, Some("x".to_string())]]
            );
            results.push(r);

            // Several rows, an empty string, and an empty result.
            let r = rows(&mut c, &format!("SELECT seq, '' FROM {DB}.seq_1_to_3")).await;
            assert_eq!(r.rows.len(), 3);
            assert_eq!(r.rows[2], vec![Some("3".into()), Some(String::new())]);
            let r = rows(&mut c, "SELECT 1 FROM DUAL WHERE 0").await;
            assert_eq!((r.columns.len(), r.rows.len()), (1, 0));

            // A statement without a result set.
            let r = rows(&mut c, "DO 1").await;
            assert_eq!(r, Rows::default());

            // The server's error, and the connection still works.
            match c.query_rows("SELEC nonsense").await.expect("reply") {
                QueryResult::Err { code, message } => {
                    assert_eq!(code, 1064, "{message}");
                    assert!(message.contains("syntax"), "{message}");
                }
                other => panic!("expected ERR, got {other:?}"),
            }
            assert!(c.reusable);

            // Multiple results: the first is returned, the rest read and discarded.
            let r = rows(&mut c, "SELECT 'first'; SELECT 'second'; DO 1").await;
            assert_eq!(r.rows, vec![vec![Some("first".to_string())]]);
            let r = rows(&mut c, "DO 1; SELECT 'second'").await;
            assert_eq!(r, Rows::default());
            let r = rows(
                &mut c,
                "SELECT 'ok'; SELECT * FROM no_such_table_anywhere.t",
            )
            .await;
            assert_eq!(r.rows, vec![vec![Some("ok".to_string())]]);
            let r = rows(&mut c, "SELECT 2 AS again").await;
            assert_eq!(r.rows, vec![vec![Some("2".to_string())]]);
            assert!(c.reusable);
        }
        assert_eq!(results[0], results[1], "both flavours give the same rows");
    });
}

#[test]
fn health_query_rows_on_a_closed_connection_marks_it_unusable() {
    let sb = sandbox();
    let rt = runtime();
    rt.block_on(async {
        let mut c = connect(&sb.s0_primary, true).await;
        let id = rows(&mut c, "SELECT CONNECTION_ID()").await;
        let id = id.rows[0][0].clone().expect("id");
        server(&sb.s0_primary)
            .query_drop(format!("KILL {id}"))
            .expect("kill");
        let r = c.query_rows("SELECT 1").await;
        // The server may answer the KILL with an ERR before closing.
        if let Ok(QueryResult::Err { code, .. }) = &r {
            assert!([1927, 2013, 4031].contains(code), "{r:?}");
            let again = c.query_rows("SELECT 1").await;
            assert!(again.is_err(), "{again:?}");
        } else {
            assert!(r.is_err(), "{r:?}");
        }
        assert!(!c.reusable);
    });
}
