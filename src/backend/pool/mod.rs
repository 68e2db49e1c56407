//! A capped pool of connections to one backend: idle connections kept per flavour
//! (CLIENT_FOUND_ROWS and CLIENT_DEPRECATE_EOF or not), one hard cap on open connections shared
//! by all flavours and by the health checker, checkouts served first come, first served.
//!
//! ```text
//! checkout ─▶ gate (FIFO semaphore, max_connections - reserved permits; checkout_timeout)
//!          ─▶ slots: idle of the flavour (same state key, most recent) ─▶ reuse
//!                    else open < cap                                  ─▶ open a new one
//!                    else close the least recently used idle one      ─▶ open a new one
//! drop     ─▶ back to idle (closed if broken or older than max_lifetime) ─▶ permit released
//! ```
//!
//! `slots.rs` holds the bookkeeping and the argument that open connections never exceed
//! `max_connections`; `gate.rs` the FIFO queue; `checker.rs` the health checker's reserved slot.
//! The reaper closes idle connections past `idle_timeout_ms` (keeping `min_idle` of them) or
//! `max_lifetime_ms`; it never opens connections.

mod checker;
mod gate;
mod slots;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::BackendError;
use super::connection::{BackendConn, Flavour, Target};
use crate::config::PoolConfig;
pub use checker::{CheckerConn, CheckerSlot};
use gate::{Gate, Permit};
use slots::{Close, Entry, Grant, Limits, Slots};

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
    /// `pool.max_connections`: the cap on `open`.
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
    target: Target,
    checkout_timeout: Duration,
    gate: Gate,
    slots: Mutex<Slots<BackendConn>>,
    checkout_timeouts: AtomicU64,
    /// The checker's reserved slot has been handed out (see `checker_slot`).
    checker_out: AtomicBool,
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
        let cap = cfg.max_connections as usize;
        let limits = Limits {
            cap,
            reserved: reserved.min(cap),
            idle_timeout: cfg.idle_timeout(),
            max_lifetime: cfg.max_lifetime(),
            min_idle: cfg.min_idle as usize,
        };
        let pool = Arc::new(Pool {
            target,
            checkout_timeout: cfg.checkout_timeout(),
            gate: Gate::new(limits.client_slots()),
            slots: Mutex::new(Slots::new(limits)),
            checkout_timeouts: AtomicU64::new(0),
            checker_out: AtomicBool::new(false),
        });
        if let Some(period) = reap_period(&limits) {
            tokio::spawn(reap_idle(Arc::downgrade(&pool), period));
        }
        pool
    }

    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// Does this pool reach the same server as the same user as `t`?
    pub fn same_backend(&self, t: &Target) -> bool {
        self.target.address == t.address
            && self.target.user == t.user
            && self.target.password == t.password
    }

    fn target(&self) -> &Target {
        &self.target
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
        let Ok(permit) = self.gate.enter(self.checkout_timeout).await else {
            return Err(self.saturated(started));
        };
        let grant = self
            .lock()
            .client_checkout(flavour.index(), state_key, Instant::now());
        match grant {
            Grant::Reuse(conn) => Ok(self.wrap(conn, permit)),
            Grant::Open => {
                // Gives the slot back if connecting fails or this future is dropped meanwhile.
                let opening = Opening::client(self);
                let conn = BackendConn::connect(&self.target, flavour).await?;
                opening.done();
                Ok(self.wrap(conn, permit))
            }
            Grant::Full => {
                // Unreachable while permits are the only way in (see slots.rs).
                tracing::error!(backend = %self.target.name, "pool bookkeeping found no slot for a permit holder");
                Err(self.saturated(started))
            }
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
        PooledConn {
            conn: Some(conn),
            pool: Arc::clone(self),
            _permit: permit,
        }
    }

    fn give_back(&self, conn: BackendConn) {
        let reusable = conn.reusable;
        let mut s = self.lock();
        let closed = s.client_return(conn, reusable, Instant::now());
        debug_assert!(s.invariant_holds(), "pool bookkeeping: {:?}", s.figures());
        drop(s);
        if closed == Some(Close::Lifetime) {
            tracing::debug!(backend = %self.target.name, "closed a backend connection past pool.max_lifetime_ms");
        }
    }

    /// Closes idle connections past their idle timeout or lifetime.
    fn reap(&self) {
        let (timed_out, expired) = self.lock().reap(Instant::now());
        if timed_out + expired > 0 {
            tracing::debug!(backend = %self.target.name, timed_out, expired, "closed idle backend connections");
        }
    }
}

/// How often the reaper runs: half the shorter of the idle timeout and the lifetime (at least
/// a second); `None` when neither applies.
fn reap_period(limits: &Limits) -> Option<Duration> {
    let shortest = match (limits.idle_timeout, limits.max_lifetime) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((shortest / 2).max(Duration::from_secs(1)))
}

async fn reap_idle(pool: Weak<Pool>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        match pool.upgrade() {
            Some(p) => p.reap(),
            None => return,
        }
    }
}

/// A slot counted for a connection being opened; given back on drop unless `done`.
struct Opening<'a> {
    pool: &'a Pool,
    checker: bool,
    armed: bool,
}

impl<'a> Opening<'a> {
    fn client(pool: &'a Pool) -> Self {
        Opening {
            pool,
            checker: false,
            armed: true,
        }
    }

    fn checker(pool: &'a Pool) -> Self {
        Opening {
            pool,
            checker: true,
            armed: true,
        }
    }

    /// The connection is open: count it as created.
    fn done(mut self) {
        self.armed = false;
        let mut s = self.pool.lock();
        if self.checker {
            s.checker_opened();
        } else {
            s.client_opened();
        }
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut s = self.pool.lock();
        if self.checker {
            s.checker_open_failed();
        } else {
            s.client_open_failed();
        }
    }
}

/// A checked-out connection; goes back to its pool when dropped (closed if not reusable).
pub struct PooledConn {
    conn: Option<BackendConn>,
    pool: Arc<Pool>,
    /// Dropped after `Drop::drop` has put the connection back (fields drop after it), so the
    /// next permit holder finds it idle.
    _permit: Permit,
}

impl PooledConn {
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl std::ops::Deref for PooledConn {
    type Target = BackendConn;
    fn deref(&self) -> &BackendConn {
        self.conn.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut BackendConn {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.io.shrink();
            if conn.io.has_unread() {
                conn.reusable = false;
            }
            self.pool.give_back(conn);
        }
    }
}
