//! Helpers for the read/write-splitting tests: connections straight to one sandbox server,
//! `SHOW SHARDGATE BACKENDS` rows, polling with a deadline, tables on any primary, and a guard
//! that pauses a replica's SQL thread (restarted on drop, even on panic).

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Row};

use super::{
    ADMIN_USER, BACKEND_PASS, BACKEND_USER, DB, PRIMARY_USER, Proxy, ProxyOpts, ReplicaOpt,
    Sandbox, Table, opts, sandbox, unique,
};

impl Sandbox {
    /// The four servers: s0 primary, s0 replica, s1 primary, s1 replica.
    pub fn all(&self) -> Vec<String> {
        vec![
            self.s0_primary.clone(),
            self.s0_replica.clone(),
            self.s1_primary.clone(),
            self.s1_replica.clone(),
        ]
    }
}

/// A connection straight to one sandbox server as the backend user (no default schema).
pub fn server(addr: &str) -> Conn {
    Conn::new(opts(addr, BACKEND_USER, BACKEND_PASS, None))
        .unwrap_or_else(|e| panic!("connect to sandbox server {addr}: {e}"))
}

/// `@@server_id` of the server that answers `sql`'s first column (`sql` must select it first).
pub fn server_id(c: &mut Conn, sql: &str) -> u32 {
    let row: Row = c
        .query_first(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.get::<u32, _>(0)
        .unwrap_or_else(|| panic!("{sql}: first column is not a server id: {row:?}"))
}

/// Polls `probe` every 20 ms until it returns `Ok`, or panics after `within` showing the last
/// `Err` (what was seen instead).
pub fn wait_for<T>(
    within: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        let last = match probe() {
            Ok(v) => return v,
            Err(last) => last,
        };
        assert!(
            started.elapsed() < within,
            "{what}: not reached within {within:?}; last seen: {last}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One row of `SHOW SHARDGATE BACKENDS`.
#[derive(Debug, Clone)]
pub struct BackendRow {
    pub shard: String,
    pub role: String,
    pub backend: String,
    pub state: String,
    pub lag_ms: Option<String>,
    pub weight: Option<String>,
    pub read_only: Option<String>,
    pub gtid_position: Option<String>,
}

impl BackendRow {
    pub fn is_up(&self) -> bool {
        self.state == "Up"
    }
}

/// `SHOW SHARDGATE BACKENDS` on an admin connection.
pub fn backends(admin: &mut Conn) -> Vec<BackendRow> {
    let rows: Vec<Row> = admin
        .query("SHOW SHARDGATE BACKENDS")
        .expect("SHOW SHARDGATE BACKENDS");
    rows.into_iter()
        .map(|r| {
            let s = |i: usize| -> Option<String> { r.get::<Option<String>, _>(i).flatten() };
            BackendRow {
                shard: s(0).expect("shard"),
                role: s(1).expect("role"),
                backend: s(2).expect("backend"),
                state: s(3).expect("state"),
                lag_ms: s(4),
                weight: s(5),
                read_only: s(6),
                gtid_position: s(7),
            }
        })
        .collect()
}

/// The row of the backend whose name ends with `addr`.
pub fn backend<'a>(rows: &'a [BackendRow], addr: &str) -> Option<&'a BackendRow> {
    rows.iter().find(|r| r.backend.ends_with(addr))
}

/// Waits until the backend at `addr` is in a state `ok` accepts; returns its row.
pub fn wait_backend(
    admin: &mut Conn,
    addr: &str,
    within: Duration,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> BackendRow {
    wait_for(within, what, || {
        let rows = backends(admin);
        match backend(&rows, addr) {
            Some(r) if ok(&r.state) => Ok(r.clone()),
            _ => Err(format!("{rows:?}")),
        }
    })
}

/// Waits until every replica the proxy knows is `Up`.
pub fn wait_replicas_up(admin: &mut Conn, within: Duration) -> Vec<BackendRow> {
    wait_for(within, "every replica Up", || {
        let rows = backends(admin);
        if rows
            .iter()
            .filter(|r| r.role == "replica")
            .all(|r| r.is_up())
        {
            Ok(rows)
        } else {
            Err(format!("{rows:?}"))
        }
    })
}

impl Proxy {
    /// A connection as the admin user (needs `ProxyOpts::rw_users`), in `shop`.
    pub fn admin(&self) -> Conn {
        self.conn_as(ADMIN_USER.0, ADMIN_USER.1, Some(DB))
            .expect("connect to the proxy as the admin user")
    }

    /// A connection as the `default_role: primary` user (needs `ProxyOpts::rw_users`).
    pub fn primary_user(&self) -> Conn {
        self.conn_as(PRIMARY_USER.0, PRIMARY_USER.1, Some(DB))
            .expect("connect to the proxy as the default_role: primary user")
    }

    /// True if the log has a line containing `needle` after byte `from`.
    pub fn log_has_since(&self, from: u64, needle: &str) -> bool {
        let all = std::fs::read(&self.log).unwrap_or_default();
        let start = (from as usize).min(all.len());
        String::from_utf8_lossy(&all[start..]).contains(needle)
    }

    /// The log's current length (a mark for `log_has_since`).
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }
}

/// `@@gtid_binlog_pos` of a primary.
pub fn binlog_pos(primary: &str) -> String {
    server(primary)
        .query_first::<String, _>("SELECT @@GLOBAL.gtid_binlog_pos")
        .expect("gtid_binlog_pos")
        .unwrap_or_default()
}

/// Waits (MASTER_GTID_WAIT on the replica, at most `secs`) until `replica` has applied
/// everything `primary` has binlogged so far.
pub fn wait_caught_up(primary: &str, replica: &str, secs: u32) {
    let pos = binlog_pos(primary);
    let r: Option<i64> = server(replica)
        .query_first(format!("SELECT MASTER_GTID_WAIT('{pos}', {secs})"))
        .expect("MASTER_GTID_WAIT");
    assert_eq!(
        r,
        Some(0),
        "replica {replica} did not reach {primary}'s position {pos} within {secs} s"
    );
}

/// A table in `shop` on one primary, dropped there when the guard goes away.
pub struct TableOn {
    pub name: String,
    pub primary: String,
}

impl TableOn {
    /// Creates `shop.<unique name>` directly on `primary`.
    pub fn create(primary: &str, prefix: &str, columns: &str) -> TableOn {
        let name = unique(prefix);
        let mut c = server(primary);
        c.query_drop(format!("DROP TABLE IF EXISTS `{DB}`.`{name}`"))
            .expect("drop old table");
        c.query_drop(format!(
            "CREATE TABLE `{DB}`.`{name}` ({columns}) ENGINE=InnoDB"
        ))
        .expect("create table");
        TableOn {
            name,
            primary: primary.to_string(),
        }
    }
}

impl Drop for TableOn {
    fn drop(&mut self) {
        if let Ok(mut c) = Conn::new(opts(&self.primary, BACKEND_USER, BACKEND_PASS, None)) {
            let _ = c.query_drop(format!("DROP TABLE IF EXISTS `{DB}`.`{}`", self.name));
        }
    }
}

/// Tests that stop the SQL thread of s1's replica take this exclusively; tests that need it
/// replicating throughout take it shared.
static S1_REPLICA: RwLock<()> = RwLock::new(());

pub fn s1_replica_exclusive() -> RwLockWriteGuard<'static, ()> {
    S1_REPLICA.write().unwrap_or_else(PoisonError::into_inner)
}

pub fn s1_replica_shared() -> RwLockReadGuard<'static, ()> {
    S1_REPLICA.read().unwrap_or_else(PoisonError::into_inner)
}

/// Stops a replica's SQL thread; on drop (also on panic) starts it again and waits (bounded)
/// until the replica has caught up with `primary`.
pub struct SqlThreadStopped {
    replica: String,
    primary: String,
}

impl SqlThreadStopped {
    pub fn new(replica: &str, primary: &str) -> SqlThreadStopped {
        server(replica)
            .query_drop("STOP SLAVE SQL_THREAD")
            .expect("STOP SLAVE SQL_THREAD");
        SqlThreadStopped {
            replica: replica.to_string(),
            primary: primary.to_string(),
        }
    }

    /// Starts the SQL thread again now (and waits for catch-up).
    pub fn resume(self) {
        drop(self);
    }
}

impl Drop for SqlThreadStopped {
    fn drop(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let res = Conn::new(opts(&self.replica, BACKEND_USER, BACKEND_PASS, None))
                .and_then(|mut c| c.query_drop("START SLAVE SQL_THREAD"));
            match res {
                Ok(()) => {
                    // Best effort, never panicking (this may run during a panic).
                    let conn = |a: &str| Conn::new(opts(a, BACKEND_USER, BACKEND_PASS, None));
                    let pos = conn(&self.primary).and_then(|mut c| {
                        c.query_first::<String, _>("SELECT @@GLOBAL.gtid_binlog_pos")
                    });
                    if let (Ok(Some(pos)), Ok(mut c)) = (pos, conn(&self.replica)) {
                        let _ = c.query_drop(format!("SELECT MASTER_GTID_WAIT('{pos}', 10)"));
                    }
                    return;
                }
                Err(e) => {
                    eprintln!("START SLAVE SQL_THREAD on {}: {e}; retrying", self.replica);
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        eprintln!("could not restart the SQL thread of {}", self.replica);
    }
}

/// Holds `LOCK TABLES shop.<table> READ` on a replica: its SQL thread blocks on the next
/// replicated change of that table while still counting as running, so the replica falls
/// behind (Seconds_Behind_Master grows) without leaving the read rotation by itself. The lock
/// goes with the connection: released on drop, also on panic or if the test process dies.
pub struct ReplicaTableLocked {
    conn: Option<Conn>,
    replica: String,
    primary: String,
}

impl ReplicaTableLocked {
    pub fn new(replica: &str, primary: &str, table: &str) -> ReplicaTableLocked {
        let mut conn = server(replica);
        conn.query_drop(format!("LOCK TABLES `{DB}`.`{table}` READ"))
            .expect("LOCK TABLES ... READ on the replica");
        ReplicaTableLocked {
            conn: Some(conn),
            replica: replica.to_string(),
            primary: primary.to_string(),
        }
    }

    /// Releases the lock now and waits (bounded) until the replica has caught up.
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for ReplicaTableLocked {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = c.query_drop("UNLOCK TABLES");
        }
        let conn = |a: &str| Conn::new(opts(a, BACKEND_USER, BACKEND_PASS, None));
        let pos = conn(&self.primary)
            .and_then(|mut c| c.query_first::<String, _>("SELECT @@GLOBAL.gtid_binlog_pos"));
        if let (Ok(Some(pos)), Ok(mut c)) = (pos, conn(&self.replica)) {
            let _ = c.query_drop(format!("SELECT MASTER_GTID_WAIT('{pos}', 20)"));
        }
    }
}

/// `@@server_id` of s0's primary.
pub const PRIMARY: u32 = 1;
/// `@@server_id` of s0's replica.
pub const REPLICA: u32 = 2;

/// A proxy with s0's replica in rotation, the admin and primary-only users, and every replica
/// `Up` before it is returned.
pub fn rw_proxy(rw: &str, tweak: impl FnOnce(&mut ProxyOpts)) -> Proxy {
    let sb = sandbox();
    let mut o = ProxyOpts {
        replicas: vec![ReplicaOpt::new("s0", &sb.s0_replica, None)],
        read_write_split: Some(format!("health_check_interval_ms: 200\n{rw}")),
        rw_users: true,
        ..Default::default()
    };
    tweak(&mut o);
    let proxy = Proxy::start(o);
    wait_replicas_up(&mut proxy.admin(), Duration::from_secs(30));
    proxy
}

/// A table on s0 with rows (1, 10) and (2, 20), already on the replica.
pub fn replicated_table(prefix: &str) -> Table {
    let t = Table::create(prefix, "id INT PRIMARY KEY, v INT, sid INT");
    super::direct()
        .query_drop(format!(
            "INSERT INTO `{}` (id, v) VALUES (1, 10), (2, 20)",
            t.name
        ))
        .expect("insert rows");
    let sb = sandbox();
    wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
    t
}

/// Asserts which server answered `sql` (whose first column must be `@@server_id`).
#[track_caller]
pub fn assert_runs_on(c: &mut Conn, sql: &str, want: u32) {
    let got = server_id(c, sql);
    let name = |id| match id {
        PRIMARY => "the primary",
        REPLICA => "the replica",
        _ => "an unexpected server",
    };
    assert_eq!(
        got,
        want,
        "{sql:?} ran on {} (server_id {got}), expected {}",
        name(got),
        name(want)
    );
}

/// One `EXPLAIN SHARDGATE` row.
#[derive(Debug)]
pub struct Explained {
    pub shard: Option<String>,
    pub role: String,
    pub reason: String,
    pub backends: Option<String>,
}

pub fn explain(admin: &mut Conn, sql: &str) -> Explained {
    let rows: Vec<mysql::Row> = admin
        .query(format!("EXPLAIN SHARDGATE {sql}"))
        .unwrap_or_else(|e| panic!("EXPLAIN SHARDGATE {sql}: {e}"));
    assert_eq!(rows.len(), 1, "EXPLAIN SHARDGATE {sql}: {rows:?}");
    let r = &rows[0];
    let s = |i: usize| r.get::<Option<String>, _>(i).flatten();
    Explained {
        shard: s(0),
        role: s(1).expect("role"),
        reason: s(2).expect("reason"),
        backends: s(3),
    }
}

/// Waits (up to 10 s) until a statement containing `marker` runs on the server at `addr`.
pub fn wait_running(addr: &str, marker: &str) {
    let mut watcher = server(addr);
    wait_for(
        Duration::from_secs(10),
        "the marked statement running",
        || {
            let n: Option<u32> = watcher
                .query_first(format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
                ))
                .map_err(|e| e.to_string())?;
            if n == Some(1) {
                Ok(())
            } else {
                Err(format!("{n:?} running"))
            }
        },
    );
}
