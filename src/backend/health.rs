//! Backend health: one checker task per backend probes it over a dedicated connection every
//! interval and publishes what it saw (reachable, read_only, GTID position, replication state
//! and lag) for the router, which reads `Health::is_usable` on every read.
//!
//! ```text
//!                  every round decides afresh from what it sees
//!   Unknown ─┬─▶ Up                   reachable; replica: both threads Yes, lag <= max_lag
//!            ├─▶ Down(why)            connect, login or probe failed or timed out
//!            ├─▶ NotReplicating(why)  replica: a thread not running, lag NULL, not a replica
//!            └─▶ Lagging { lag_ms }   replica: lag > max_lag
//!   any unusable state ──▶ Up: info! "backend is up"
//!   Up, or one unusable kind ──▶ another unusable kind: warn! "backend is not usable: …"
//! ```
//! Only `Up` is usable. Leaving `Up` (or changing between unusable kinds) logs one warn!,
//! returning to `Up` logs one info!; rounds that change nothing log nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::connection::{BackendConn, Flavour, Target};
use super::query::{QueryResult, Rows};
use crate::protocol::ProtocolError;

/// The health of one backend, as last checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthState {
    /// Not checked yet.
    Unknown,
    Up,
    /// Unreachable, or not answering the probe.
    Down(String),
    /// A replica whose replication is stopped, broken or not configured.
    NotReplicating(String),
    /// A replica further behind its primary than the configured limit.
    Lagging {
        lag_ms: u64,
    },
}

impl HealthState {
    /// Same kind of state, whatever the reason or lag.
    fn same_kind(&self, other: &HealthState) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthState::Unknown => f.write_str("unknown (not checked yet)"),
            HealthState::Up => f.write_str("up"),
            HealthState::Down(why) => write!(f, "down: {why}"),
            HealthState::NotReplicating(why) => write!(f, "not replicating: {why}"),
            HealthState::Lagging { lag_ms } => write!(f, "lagging {lag_ms} ms behind its primary"),
        }
    }
}

/// What the checker last saw of one backend.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    pub state: HealthState,
    /// Replication lag (Seconds_Behind_Master × 1000); `None` when unknown or NULL.
    pub lag_ms: Option<u64>,
    pub read_only: Option<bool>,
    /// Replicas: `@@gtid_slave_pos`; primaries: `@@gtid_binlog_pos` (MariaDB), or
    /// `@@gtid_executed` on MySQL.
    pub gtid_position: Option<String>,
    pub checked_at: Option<Instant>,
}

impl Default for HealthSnapshot {
    fn default() -> Self {
        HealthSnapshot {
            state: HealthState::Unknown,
            lag_ms: None,
            read_only: None,
            gtid_position: None,
            checked_at: None,
        }
    }
}

impl HealthSnapshot {
    fn down(reason: String) -> Self {
        HealthSnapshot {
            state: HealthState::Down(reason),
            ..HealthSnapshot::default()
        }
    }
}

/// What a backend is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckRole {
    /// Reachable and answering is enough.
    Primary,
    /// Must also replicate, within the lag limit.
    Replica,
}

/// Shared health of one backend: a lock-free usable flag for the router, and the full
/// snapshot for admin output and read-your-writes.
pub struct Health {
    usable: AtomicBool,
    snapshot: Mutex<HealthSnapshot>,
    /// Set to true to stop the checkers; dropped with `Health`, which stops them too.
    stop: watch::Sender<bool>,
}

impl Health {
    /// A backend not checked yet (not usable).
    pub fn new() -> Arc<Health> {
        Arc::new(Health {
            usable: AtomicBool::new(false),
            snapshot: Mutex::new(HealthSnapshot::default()),
            stop: watch::Sender::new(false),
        })
    }

    /// True only when the last check found the backend `Up`.
    pub fn is_usable(&self) -> bool {
        self.usable.load(Ordering::Acquire)
    }

    /// A copy of what the checker last saw.
    pub fn snapshot(&self) -> HealthSnapshot {
        self.lock().clone()
    }

    /// Stops the checker tasks of this backend (they also stop when `Health` is dropped).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Publishes a new snapshot and returns the previous state.
    fn publish(&self, snapshot: HealthSnapshot) -> HealthState {
        let mut guard = self.lock();
        self.usable
            .store(snapshot.state == HealthState::Up, Ordering::Release);
        std::mem::replace(&mut *guard, snapshot).state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthSnapshot> {
        // A snapshot is replaced whole, so a poisoned lock still holds a consistent one.
        self.snapshot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts a checker task for one backend: a round right away, then one every `interval`.
/// It stops when `health` has no other owner or when `Health::stop` is called.
pub fn spawn_checker(
    target: Target,
    role: CheckRole,
    interval: Duration,
    max_lag: Duration,
    health: &Arc<Health>,
) -> JoinHandle<()> {
    let weak = Arc::downgrade(health);
    let mut stop = health.stop.subscribe();
    let mut checker = Checker {
        round_timeout: interval.max(Duration::from_secs(1)),
        target,
        role,
        max_lag,
        conn: None,
        replica_syntax: false,
        warned_writable: false,
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *stop.borrow() {
                return;
            }
            // `changed` fails once `Health` is dropped, and resolves when stop() is called.
            let snapshot = tokio::select! {
                _ = stop.changed() => return,
                s = async {
                    ticks.tick().await;
                    checker.round().await
                } => s,
            };
            let Some(health) = weak.upgrade() else {
                return;
            };
            if *stop.borrow() {
                return;
            }
            checker.report(&health, snapshot);
        }
    })
}

/// The state one checker keeps between rounds.
struct Checker {
    target: Target,
    role: CheckRole,
    max_lag: Duration,
    round_timeout: Duration,
    /// The checker's own connection (never from the pool), reopened when it breaks.
    conn: Option<BackendConn>,
    /// The server refused SHOW SLAVE STATUS as a syntax error: use SHOW REPLICA STATUS.
    replica_syntax: bool,
    /// A warning about a writable replica was logged since it was last seen read-only.
    warned_writable: bool,
}

impl Checker {
    /// One round: probe (retrying once on a fresh connection if a kept one broke).
    async fn round(&mut self) -> HealthSnapshot {
        let mut snapshot = self.round_inner().await;
        snapshot.checked_at = Some(Instant::now());
        snapshot
    }

    async fn round_inner(&mut self) -> HealthSnapshot {
        for attempt in 0..2 {
            let reused = self.conn.is_some();
            let mut conn = match self.conn.take() {
                Some(conn) => conn,
                None => match BackendConn::connect(&self.target, PROBE_FLAVOUR).await {
                    Ok(conn) => conn,
                    Err(e) => return HealthSnapshot::down(e.to_string()),
                },
            };
            let timeout = self.round_timeout;
            match tokio::time::timeout(timeout, self.probe(&mut conn)).await {
                Ok(Ok(snapshot)) => {
                    if conn.reusable {
                        self.conn = Some(conn);
                    }
                    return snapshot;
                }
                // A kept connection may have been closed by the server (wait_timeout, restart).
                Ok(Err(_)) if reused && attempt == 0 => continue,
                Ok(Err(e)) => return HealthSnapshot::down(format!("probe failed: {e}")),
                Err(_) => {
                    return HealthSnapshot::down(format!(
                        "no answer to the health probe within {} ms",
                        timeout.as_millis()
                    ));
                }
            }
        }
        HealthSnapshot::down("probe failed".to_string())
    }

    /// Queries the backend; a server ERR becomes a state, a broken connection an error.
    async fn probe(&mut self, conn: &mut BackendConn) -> Result<HealthSnapshot, ProtocolError> {
        let mariadb = conn.server_version.contains("MariaDB");
        let position = match (mariadb, self.role) {
            (true, CheckRole::Replica) => "@@gtid_slave_pos",
            (true, CheckRole::Primary) => "@@gtid_binlog_pos",
            (false, _) => "@@gtid_executed",
        };
        let rows = match conn
            .query_rows(&format!("SELECT @@read_only, {position}"))
            .await?
        {
            QueryResult::Rows(rows) => rows,
            QueryResult::Err { code, message } => {
                return Ok(HealthSnapshot::down(format!(
                    "probe query refused ({code}): {message}"
                )));
            }
        };
        let value = |i: usize| rows.rows.first().and_then(|r| r.get(i)).cloned().flatten();
        let read_only = value(0).and_then(|v| parse_bool(&v));
        let gtid_position = value(1);
        let mut snapshot = HealthSnapshot {
            state: HealthState::Up,
            read_only,
            gtid_position,
            ..HealthSnapshot::default()
        };
        if self.role == CheckRole::Replica {
            let (state, lag_ms) = match self.replica_status(conn).await? {
                Ok(row) => replica_state(row.as_ref(), self.max_lag),
                Err(why) => (HealthState::NotReplicating(why), None),
            };
            snapshot.state = state;
            snapshot.lag_ms = lag_ms;
        }
        Ok(snapshot)
    }

    /// The replica's status row (`None` when replication is not configured), or why the
    /// server would not show it.
    async fn replica_status(
        &mut self,
        conn: &mut BackendConn,
    ) -> Result<Result<Option<StatusRow>, String>, ProtocolError> {
        loop {
            let sql = if self.replica_syntax {
                "SHOW REPLICA STATUS"
            } else {
                "SHOW SLAVE STATUS"
            };
            return Ok(match conn.query_rows(sql).await? {
                QueryResult::Rows(rows) => Ok(status_row(rows)),
                // MySQL 8.4 dropped SHOW SLAVE STATUS (8.0.22+ has SHOW REPLICA STATUS).
                QueryResult::Err { code: 1064, .. } if !self.replica_syntax => {
                    self.replica_syntax = true;
                    continue;
                }
                QueryResult::Err { code, message } => {
                    Err(format!("{sql} refused ({code}): {message}"))
                }
            });
        }
    }

    /// Publishes a round's snapshot, logging state changes and a writable replica once.
    fn report(&mut self, health: &Health, snapshot: HealthSnapshot) {
        let backend = self.target.name.as_str();
        if self.role == CheckRole::Replica {
            match snapshot.read_only {
                Some(false) if !self.warned_writable => {
                    self.warned_writable = true;
                    tracing::warn!(
                        backend,
                        "replica has read_only=OFF: it stays in rotation, but writes made on it \
                         directly diverge from its primary"
                    );
                }
                Some(true) => self.warned_writable = false,
                _ => {}
            }
        }
        let new = snapshot.state.clone();
        let old = health.publish(snapshot);
        if new == HealthState::Up {
            if old != HealthState::Up {
                tracing::info!(backend, role = ?self.role, previous = %old, "backend is up");
            }
        } else if !new.same_kind(&old) {
            tracing::warn!(
                backend,
                role = ?self.role,
                previous = %old,
                "backend is not usable: {new}"
            );
        }
    }
}

/// The checker's connection: no found-rows semantics needed, modern terminators.
const PROBE_FLAVOUR: Flavour = Flavour {
    found_rows: false,
    deprecate_eof: true,
};

/// One `SHOW SLAVE STATUS` row by column name.
pub type StatusRow = HashMap<String, Option<String>>;

/// The first row of a `SHOW SLAVE STATUS` result by column name (`None` when empty).
fn status_row(rows: Rows) -> Option<StatusRow> {
    let row = rows.rows.into_iter().next()?;
    Some(rows.columns.into_iter().zip(row).collect())
}

/// "ON"/"1" and "OFF"/"0" as MySQL prints booleans.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" => Some(true),
        "0" => Some(false),
        v if v.eq_ignore_ascii_case("ON") => Some(true),
        v if v.eq_ignore_ascii_case("OFF") => Some(false),
        _ => None,
    }
}

/// Decides a replica's state and lag from its `SHOW SLAVE STATUS` (or MySQL's `SHOW REPLICA
/// STATUS`) row; `None` when the result was empty (replication not configured).
pub fn replica_state(row: Option<&StatusRow>, max_lag: Duration) -> (HealthState, Option<u64>) {
    let Some(row) = row else {
        return (
            HealthState::NotReplicating("not configured as a replica".to_string()),
            None,
        );
    };
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| row.get(*n))
            .and_then(|v| v.as_deref())
    };
    let lag_ms = field(&["Seconds_Behind_Master", "Seconds_Behind_Source"])
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000));
    let mut problems = Vec::new();
    for (thread, running, error) in [
        (
            "IO",
            ["Slave_IO_Running", "Replica_IO_Running"],
            "Last_IO_Error",
        ),
        (
            "SQL",
            ["Slave_SQL_Running", "Replica_SQL_Running"],
            "Last_SQL_Error",
        ),
    ] {
        let running = field(&running).unwrap_or("");
        if running != "Yes" {
            let shown = if running.is_empty() { "?" } else { running };
            let mut p = format!("{thread} thread {shown}");
            if let Some(e) = field(&[error]).filter(|e| !e.is_empty()) {
                p.push_str(": ");
                p.push_str(e);
            }
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        return (HealthState::NotReplicating(problems.join("; ")), lag_ms);
    }
    match lag_ms {
        None => (
            HealthState::NotReplicating("Seconds_Behind_Master is NULL".to_string()),
            None,
        ),
        Some(lag) if u128::from(lag) > max_lag.as_millis() => {
            (HealthState::Lagging { lag_ms: lag }, Some(lag))
        }
        Some(lag) => (HealthState::Up, Some(lag)),
    }
}

/// True when the MariaDB GTID `position` (e.g. `0-1-22127,1-11-5`) includes `gtid` (one
/// GTID or a list): for every domain in `gtid`, `position` has that domain with a sequence
/// number at least as high. Server ids are ignored, as MASTER_GTID_WAIT does. An empty `gtid`
/// requires nothing; malformed input on either side gives false.
pub fn gtid_covers(position: &str, gtid: &str) -> bool {
    let (Some(have), Some(want)) = (parse_gtid_list(position), parse_gtid_list(gtid)) else {
        return false;
    };
    want.iter()
        .all(|&(domain, seq)| have.iter().any(|&(d, s)| d == domain && s >= seq))
}

/// `(domain, seq)` of each `domain-server-seq` in a comma-separated list; `None` if malformed.
fn parse_gtid_list(list: &str) -> Option<Vec<(u32, u64)>> {
    let list = list.trim();
    if list.is_empty() {
        return Some(Vec::new());
    }
    list.split(',')
        .map(|gtid| {
            let mut parts = gtid.trim().split('-');
            let domain = digits::<u32>(parts.next()?)?;
            digits::<u32>(parts.next()?)?;
            let seq = digits::<u64>(parts.next()?)?;
            parts.next().is_none().then_some((domain, seq))
        })
        .collect()
}

/// A non-empty run of ASCII digits as a number (no sign, no spaces).
fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_covers_single_domain() {
        assert!(gtid_covers("0-1-22127", "0-1-22127"));
        assert!(gtid_covers("0-1-22127", "0-1-100"));
        assert!(!gtid_covers("0-1-22127", "0-1-22128"));
        // server ids are ignored
        assert!(gtid_covers("0-2-50", "0-1-50"));
        assert!(!gtid_covers("0-2-49", "0-1-50"));
        // large sequence numbers
        assert!(gtid_covers(
            "0-1-18446744073709551615",
            "0-1-18446744073709551614"
        ));
    }

    #[test]
    fn gtid_covers_multiple_domains() {
        let pos = "0-1-22127,1-11-5";
        assert!(gtid_covers(pos, "1-11-5"));
        assert!(gtid_covers(pos, "1-11-5,0-1-3"));
        assert!(!gtid_covers(pos, "1-11-6"));
        assert!(!gtid_covers(pos, "0-1-1,2-1-1"), "domain 2 missing");
        assert!(
            gtid_covers(" 0-1-22127 ,\n1-11-5\n", "0-1-7"),
            "spaces and newlines"
        );
        assert!(!gtid_covers("1-11-5", "0-1-1"));
    }

    #[test]
    fn gtid_covers_empty_strings() {
        assert!(gtid_covers("0-1-5", ""), "nothing to wait for");
        assert!(gtid_covers("", ""));
        assert!(!gtid_covers("", "0-1-1"), "empty position covers no write");
        assert!(!gtid_covers("  ", "0-1-1"));
    }

    #[test]
    fn gtid_covers_malformed_is_false() {
        for bad in [
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "0--2",
            "0-1-",
            "-1-2",
            "0-1-+2",
            "0-1-2,",
            ",0-1-2",
            "0-1-2,,1-1-2",
            "0-1-99999999999999999999",
            "4294967296-1-2",
            "3E11FA47-71CA-11E1:1-5",
            "0 -1-2",
        ] {
            assert!(!gtid_covers(bad, "0-1-1"), "position {bad:?}");
            assert!(!gtid_covers("0-1-5", bad), "gtid {bad:?}");
        }
    }

    fn status(pairs: &[(&str, Option<&str>)]) -> StatusRow {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    fn healthy(lag: Option<&str>) -> StatusRow {
        status(&[
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", lag),
            ("Last_IO_Error", Some("")),
            ("Last_SQL_Error", Some("")),
        ])
    }

    const MAX: Duration = Duration::from_secs(1);

    #[test]
    fn replica_running_without_lag_is_up() {
        let row = healthy(Some("0"));
        assert_eq!(replica_state(Some(&row), MAX), (HealthState::Up, Some(0)));
        let row = healthy(Some("1"));
        assert_eq!(
            replica_state(Some(&row), MAX),
            (HealthState::Up, Some(1000)),
            "at the limit"
        );
    }

    #[test]
    fn replica_over_the_lag_limit_is_lagging() {
        let row = healthy(Some("7"));
        assert_eq!(
            replica_state(Some(&row), MAX),
            (HealthState::Lagging { lag_ms: 7000 }, Some(7000))
        );
        assert_eq!(
            replica_state(Some(&row), Duration::ZERO).0,
            HealthState::Lagging { lag_ms: 7000 }
        );
    }

    #[test]
    fn replica_with_a_stopped_thread_is_not_replicating() {
        let mut row = healthy(None);
        row.insert("Slave_IO_Running".into(), Some("No".into()));
        row.insert(
            "Last_IO_Error".into(),
            Some("error connecting to master".into()),
        );
        let (state, lag) = replica_state(Some(&row), MAX);
        assert_eq!(
            state,
            HealthState::NotReplicating("IO thread No: error connecting to master".into())
        );
        assert_eq!(lag, None);

        let mut row = healthy(None);
        row.insert("Slave_IO_Running".into(), Some("Connecting".into()));
        row.insert("Slave_SQL_Running".into(), Some("No".into()));
        row.insert("Last_SQL_Error".into(), Some("Duplicate entry".into()));
        assert_eq!(
            replica_state(Some(&row), MAX).0,
            HealthState::NotReplicating(
                "IO thread Connecting; SQL thread No: Duplicate entry".into()
            )
        );
    }

    #[test]
    fn replica_with_null_lag_is_not_replicating() {
        let row = healthy(None);
        assert_eq!(
            replica_state(Some(&row), MAX),
            (
                HealthState::NotReplicating("Seconds_Behind_Master is NULL".into()),
                None
            )
        );
        let row = healthy(Some("soon"));
        assert!(matches!(
            replica_state(Some(&row), MAX).0,
            HealthState::NotReplicating(_)
        ));
    }

    #[test]
    fn empty_status_is_not_a_replica() {
        assert_eq!(
            replica_state(None, MAX),
            (
                HealthState::NotReplicating("not configured as a replica".into()),
                None
            )
        );
        let (state, _) = replica_state(Some(&StatusRow::new()), MAX);
        assert_eq!(
            state,
            HealthState::NotReplicating("IO thread ?; SQL thread ?".into())
        );
    }

    #[test]
    fn mysql_replica_status_names() {
        let row = status(&[
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("2")),
        ]);
        assert_eq!(
            replica_state(Some(&row), MAX).0,
            HealthState::Lagging { lag_ms: 2000 }
        );
    }

    #[test]
    fn status_row_takes_the_first_row_by_name() {
        let rows = Rows {
            columns: vec!["Slave_IO_Running".into(), "Seconds_Behind_Master".into()],
            rows: vec![vec![Some("Yes".into()), None]],
        };
        let row = status_row(rows).expect("a row");
        assert_eq!(row.get("Slave_IO_Running"), Some(&Some("Yes".to_string())));
        assert_eq!(row.get("Seconds_Behind_Master"), Some(&None));
        assert!(status_row(Rows::default()).is_none());
    }

    #[test]
    fn booleans_as_printed() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("OFF"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[tokio::test]
    async fn publish_sets_the_usable_flag() {
        let h = Health::new();
        assert!(!h.is_usable());
        assert_eq!(h.snapshot().state, HealthState::Unknown);
        let up = HealthSnapshot {
            state: HealthState::Up,
            ..HealthSnapshot::default()
        };
        assert_eq!(h.publish(up), HealthState::Unknown);
        assert!(h.is_usable());
        assert_eq!(
            h.publish(HealthSnapshot::down("gone".into())),
            HealthState::Up
        );
        assert!(!h.is_usable());
        assert!(HealthState::Lagging { lag_ms: 1 }.same_kind(&HealthState::Lagging { lag_ms: 2 }));
    }

    #[tokio::test]
    async fn checker_stops_on_stop_and_on_drop() {
        let target = Target {
            name: "nowhere".into(),
            address: "127.0.0.1:1".into(),
            user: "u".into(),
            password: "p".into(),
            connect_timeout: Duration::from_millis(200),
        };
        let h = Health::new();
        let task = spawn_checker(
            target.clone(),
            CheckRole::Primary,
            Duration::from_millis(20),
            MAX,
            &h,
        );
        h.stop();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stopped")
            .expect("no panic");
        let h = Health::new();
        let task = spawn_checker(
            target,
            CheckRole::Primary,
            Duration::from_millis(20),
            MAX,
            &h,
        );
        drop(h);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stopped")
            .expect("no panic");
    }
}
