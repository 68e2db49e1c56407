//! A capped pool of connections to one backend: idle connections kept per flavour
//! (CLIENT_FOUND_ROWS and CLIENT_DEPRECATE_EOF or not), one hard cap on open connections shared
//! by all flavours and by the health checker, checkouts served first come, first served. Its
//! settings can change while it runs ([`Pool::reconfigure`]).
//!
//! ```text
//! checkout ─▶ gate (FIFO semaphore, max_connections - reserved permits; checkout_timeout)
//!          ─▶ slots: idle of the flavour (same state key, most recent) ─▶ reuse
//!                    else open < cap                                  ─▶ open a new one
//!                    else close the least recently used idle one      ─▶ open a new one
//!                    else (above a lowered cap, draining)             ─▶ wait for a return
//! drop     ─▶ back to idle (closed if broken, older than max_lifetime or above the cap)
//!          ─▶ permit released (or retired while a lowered cap still owes permits)
//! reconfigure ─▶ slots: new limits, idle above a lowered cap closed
//!             ─▶ gate: permits added (waiters served in order) or retired as they return
//!             ─▶ timeouts, min_idle, max_lifetime for later checkouts, connects and reaps
//! ```
//!
//! `slots.rs` holds the bookkeeping and the argument that open connections never exceed
//! `max_connections` (nor grow while above a lowered one); `gate.rs` the FIFO queue and how it
//! shrinks; `reconfig.rs` how the two change together; `checker.rs` the health checker's
//! reserved slot; `guards.rs` the checked-out connection and the slot of one being opened.
//! The reaper closes idle connections past `idle_timeout_ms` (keeping `min_idle` of them) or
//! `max_lifetime_ms`; it never opens connections.

mod checker;
mod gate;
mod guards;
mod reconfig;
mod slots;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::BackendError;
use super::connection::{BackendConn, Flavour, Target};
use crate::config::PoolConfig;
pub use checker::{CheckerConn, CheckerSlot};
use gate::{Gate, Permit};
use guards::Opening;
pub use guards::PooledConn;
use slots::{Close, Entry, Grant, Slots};

/// Idle connections older than this are checked for a close by the server before reuse.
pub const LIVENESS_CHECK_AFTER: Duration = Duration::from_secs(1);

/// Pool figures for logs and admin output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections: idle, checked out (or being opened) and the health checker's.
    pub open: usize,
    pub idle: usize,
    /// Connections checked out by clients now (including ones being opened).
    pub in_use: usize,
    /// Checkouts queued for a connection now.
    pub waiting: usize,
    /// Connections opened since start.
    pub created: u64,
    /// Connections closed since start, for any reason (`lifetime_closed` included).
    pub closed: u64,
    /// Of `closed`: closed for being older than `pool.max_lifetime_ms`.
    pub lifetime_closed: u64,
    /// Checkouts that gave up after `pool.checkout_timeout_ms` (ERR 1040).
    pub checkout_timeouts: u64,
    /// `pool.max_connections`: the cap on `open` (which stays above it after it was lowered
    /// until the connections in use then come back; none is opened meanwhile).
    pub max: usize,
    /// Slots of `max` reserved for the health checker (clients may hold `max - reserved`).
    pub reserved: usize,
    /// Whether the health checker holds its connection now (0 or 1; counted in `open`).
    pub checker: usize,
}

impl Entry for BackendConn {
    fn flavour(&self) -> usize {
        self.flavour.index()
    }
    fn state_key(&self) -> u64 {
        self.state_key
    }
    fn created(&self) -> Instant {
        self.created
    }
    fn last_used(&self) -> Instant {
        self.last_used
    }
    fn is_dead(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_used) >= LIVENESS_CHECK_AFTER
            && self.closed_while_idle()
    }
}

/// The pool of one backend.
pub struct Pool {
    /// Where to connect; its `connect_timeout` is replaced by `connect_timeout_ms`.
    target: Target,
    /// `pool.checkout_timeout_ms` and `pool.connect_timeout_ms`, read at each use.
    checkout_timeout_ms: AtomicU64,
    connect_timeout_ms: AtomicU64,
    gate: Gate,
    slots: Mutex<Slots<BackendConn>>,
    /// Woken when a connection comes back or closes while someone waits for room (only after
    /// the cap was lowered; see `reconfig.rs`).
    room: Notify,
    /// Wakes the reaper: limits changed, or the pool is gone.
    reaper: Arc<Notify>,
    checkout_timeouts: AtomicU64,
    /// The checker's reserved slot has been handed out (see `checker_slot`).
    checker_out: AtomicBool,
    /// `shardgate_pool_checkout_wait_seconds` of this backend.
    checkout_wait: crate::metrics::CheckoutWait,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The reaper holds a weak reference only; this lets it see the pool is gone.
        self.reaper.notify_one();
    }
}

impl Pool {
    /// A pool with no slot reserved: clients may hold all `max_connections`. Starts the idle
    /// reaper (which ends when the pool is dropped).
    pub fn new(target: Target, cfg: &PoolConfig) -> Arc<Self> {
        Self::build(target, cfg, 0)
    }

    /// A pool that reserves one of its `max_connections` for the backend's health checker,
    /// and that slot (see [`CheckerSlot`]); clients may hold `max_connections - 1`.
    pub fn with_checker(target: Target, cfg: &PoolConfig) -> (Arc<Self>, CheckerSlot) {
        let pool = Self::build(target, cfg, 1);
        pool.checker_out.store(true, Ordering::Release);
        let slot = CheckerSlot::new(Arc::clone(&pool));
        (pool, slot)
    }

    fn build(target: Target, cfg: &PoolConfig, reserved: usize) -> Arc<Self> {
        let limits = reconfig::limits(cfg, reserved);
        let pool = Arc::new(Pool {
            // Before `target` moves in.
            checkout_wait: crate::metrics::CheckoutWait::for_backend(&target.name),
            checkout_timeout_ms: AtomicU64::new(cfg.checkout_timeout_ms),
            connect_timeout_ms: AtomicU64::new(target.connect_timeout.as_millis() as u64),
            target,
            gate: Gate::new(limits.client_slots()),
            slots: Mutex::new(Slots::new(limits)),
            room: Notify::new(),
            reaper: Arc::new(Notify::new()),
            checkout_timeouts: AtomicU64::new(0),
            checker_out: AtomicBool::new(false),
        });
        reconfig::spawn_reaper(&pool);
        pool
    }

    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// Where and as whom this pool's connections log in.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Does this pool reach the same server as the same user as `t`?
    pub fn same_backend(&self, t: &Target) -> bool {
        self.target.address == t.address
            && self.target.user == t.user
            && self.target.password == t.password
    }

    fn checkout_timeout(&self) -> Duration {
        Duration::from_millis(self.checkout_timeout_ms.load(Ordering::Relaxed))
    }

    /// Opens a connection within the connect timeout in force now.
    async fn connect(&self, flavour: Flavour) -> Result<BackendConn, BackendError> {
        let timeout = Duration::from_millis(self.connect_timeout_ms.load(Ordering::Relaxed));
        if timeout == self.target.connect_timeout {
            return BackendConn::connect(&self.target, flavour).await;
        }
        let target = Target {
            connect_timeout: timeout,
            ..self.target.clone()
        };
        BackendConn::connect(&target, flavour).await
    }

    fn lock(&self) -> MutexGuard<'_, Slots<BackendConn>> {
        // Every method of `Slots` keeps its invariant at each step that can panic (none do
        // arithmetic that can overflow once the invariant holds), so poisoning is ignored.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> PoolStats {
        let s = self.lock();
        debug_assert!(s.invariant_holds(), "pool bookkeeping: {:?}", s.figures());
        let f = s.figures();
        let limits = *s.limits();
        drop(s);
        PoolStats {
            open: f.open,
            idle: f.idle,
            in_use: f.in_use,
            waiting: self.gate.waiting(),
            created: f.created,
            closed: f.closed,
            lifetime_closed: f.lifetime_closed,
            checkout_timeouts: self.checkout_timeouts.load(Ordering::Relaxed),
            max: limits.cap,
            reserved: limits.reserved,
            checker: f.checker,
        }
    }

    /// `checkout_preferring(flavour, 0)`.
    pub async fn checkout(self: &Arc<Self>, flavour: Flavour) -> Result<PooledConn, BackendError> {
        self.checkout_preferring(flavour, 0).await
    }

    /// Takes a connection of the wanted flavour, after every checkout that asked earlier:
    /// the most recently used idle one whose `state_key` equals `state_key`, else the most
    /// recently used idle one, else a new one (closing an idle connection of another flavour
    /// when the pool is at its cap). Waiting is bounded by `pool.checkout_timeout_ms`
    /// (`BackendError::Saturated`); opening a new connection by `pool.connect_timeout_ms`.
    pub async fn checkout_preferring(
        self: &Arc<Self>,
        flavour: Flavour,
        state_key: u64,
    ) -> Result<PooledConn, BackendError> {
        let started = Instant::now();
        let entered = self.gate.enter(self.checkout_timeout()).await;
        self.checkout_wait.observe(started.elapsed());
        let Ok(permit) = entered else {
            return Err(self.saturated(started));
        };
        self.checkout_with(permit, flavour, state_key, started)
            .await
    }

    /// The checkout of a permit holder: a slot (waiting for one only while a lowered cap
    /// drains, until `checkout_timeout` after `started`), then the connection.
    async fn checkout_with(
        self: &Arc<Self>,
        permit: Permit,
        flavour: Flavour,
        state_key: u64,
        started: Instant,
    ) -> Result<PooledConn, BackendError> {
        let attempt = |s: &mut Slots<BackendConn>| {
            let grant = s.client_checkout(flavour.index(), state_key, Instant::now());
            (!matches!(grant, Grant::Full)).then_some(grant)
        };
        let first = attempt(&mut self.lock());
        let grant = match first {
            Some(grant) => grant,
            // Only while a lowered cap drains (see slots.rs): a connection coming back makes room.
            None => {
                let deadline = started + self.checkout_timeout();
                match self.wait_for_room(deadline, attempt).await {
                    Some(grant) => grant,
                    None => return Err(self.saturated(started)),
                }
            }
        };
        match grant {
            Grant::Reuse(conn) => Ok(self.wrap(conn, permit)),
            Grant::Open => {
                // Gives the slot back if connecting fails or this future is dropped meanwhile.
                let opening = Opening::client(self);
                let conn = self.connect(flavour).await?;
                opening.done();
                Ok(self.wrap(conn, permit))
            }
            // `attempt` gives no `Full`.
            Grant::Full => Err(self.saturated(started)),
        }
    }

    fn saturated(&self, started: Instant) -> BackendError {
        let waited_ms = started.elapsed().as_millis() as u64;
        self.checkout_timeouts.fetch_add(1, Ordering::Relaxed);
        let s = self.stats();
        tracing::info!(
            backend = %self.target.name,
            cap = s.max,
            reserved = s.reserved,
            in_use = s.in_use,
            waiting = s.waiting,
            waited_ms,
            "backend connection checkout timed out"
        );
        BackendError::Saturated {
            backend: self.target.name.clone(),
            max: s.max,
            reserved: s.reserved,
            waited_ms,
        }
    }

    fn wrap(self: &Arc<Self>, conn: BackendConn, permit: Permit) -> PooledConn {
        PooledConn::new(conn, Arc::clone(self), permit)
    }

    fn give_back(&self, conn: BackendConn) {
        let reusable = conn.reusable;
        let mut s = self.lock();
        let closed = s.client_return(conn, reusable, Instant::now());
        debug_assert!(s.invariant_holds(), "pool bookkeeping: {:?}", s.figures());
        self.made_room(s);
        match closed {
            Some(Close::Lifetime) => {
                tracing::debug!(backend = %self.target.name, "closed a backend connection past pool.max_lifetime_ms");
            }
            Some(Close::OverCap) => {
                tracing::debug!(backend = %self.target.name, "closed a returned backend connection above the lowered pool.max_connections");
            }
            _ => {}
        }
    }
}
