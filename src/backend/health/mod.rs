//! Backend health: one checker task per backend probes it every interval over its own
//! connection — held in the slot its backend's pool reserves for it (`pool::CheckerSlot`), so
//! it counts under `pool.max_connections` — and publishes what it saw (reachable, read_only,
//! GTID position, replication state and lag) for the router, which reads `Health::is_usable`
//! on every read.
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

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::connection::{BackendConn, Flavour};
use super::pool::CheckerSlot;
use super::query::QueryResult;

mod gtid;
mod status;
#[cfg(test)]
mod tests;

use crate::protocol::ProtocolError;
pub use gtid::gtid_covers;
use status::*;
pub use status::{StatusRow, replica_state};

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

    /// Does the last checked GTID position cover `gtid`? (Read on the read path: no copy.)
    pub fn position_covers(&self, gtid: &str) -> bool {
        self.lock()
            .gtid_position
            .as_deref()
            .is_some_and(|p| gtid_covers(p, gtid))
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

/// Starts a checker task for one backend, connecting through `slot` (the slot its pool
/// reserves for it): a round right away, then one every `interval`. It stops when `health` has
/// no other owner or when `Health::stop` is called, dropping the slot (and its connection).
pub fn spawn_checker(
    slot: CheckerSlot,
    role: CheckRole,
    interval: Duration,
    max_lag: Duration,
    health: &Arc<Health>,
) -> JoinHandle<()> {
    let weak = Arc::downgrade(health);
    let mut stop = health.stop.subscribe();
    let mut checker = Checker {
        round_timeout: interval.max(Duration::from_secs(1)),
        slot,
        role,
        max_lag,
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
    /// The pool slot reserved for the checker; keeps its connection between rounds, which is
    /// reopened when it breaks.
    slot: CheckerSlot,
    role: CheckRole,
    max_lag: Duration,
    round_timeout: Duration,
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
            let reused = self.slot.is_open();
            let mut conn = match self.slot.take(PROBE_FLAVOUR).await {
                Ok(conn) => conn,
                Err(e) => return HealthSnapshot::down(e.to_string()),
            };
            let timeout = self.round_timeout;
            match tokio::time::timeout(timeout, self.probe(&mut conn)).await {
                Ok(Ok(snapshot)) => {
                    // Kept unless broken or past pool.max_lifetime_ms.
                    self.slot.keep(conn);
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
        let backend = self.slot.pool().name();
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
