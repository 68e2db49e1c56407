//! A capped pool of connections to one backend: idle connections kept per flavour
//! (CLIENT_FOUND_ROWS and CLIENT_DEPRECATE_EOF or not), a hard cap on open connections shared
//! by all flavours, checkout with a timeout.
//!
//! The cap counts every open connection, idle or in use; a slot is taken before connecting
//! and given back when a connection closes. Waiters are woken when a connection comes back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::BackendError;
use super::connection::{BackendConn, Flavour, Target};
use crate::config::PoolConfig;

/// Idle connections older than this are checked for a close by the server before reuse.
pub const LIVENESS_CHECK_AFTER: Duration = Duration::from_secs(1);

/// Pool figures for logs and admin output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub open: usize,
    pub idle: usize,
    pub created: u64,
    pub closed: u64,
    pub max: usize,
}

#[derive(Default)]
struct Slots {
    /// Idle connections by `Flavour::index`, most recently used last.
    idle: [Vec<BackendConn>; Flavour::COUNT],
    open: usize,
}

/// The pool of one backend.
pub struct Pool {
    target: Target,
    max: usize,
    checkout_timeout: Duration,
    /// `None`: idle connections stay open.
    idle_timeout: Option<Duration>,
    slots: Mutex<Slots>,
    returned: Notify,
    created: AtomicU64,
    closed: AtomicU64,
}

impl Pool {
    /// Creates the pool and starts its idle reaper (which ends when the pool is dropped).
    pub fn new(target: Target, cfg: &PoolConfig) -> Arc<Self> {
        let pool = Arc::new(Pool {
            target,
            max: cfg.max_connections as usize,
            checkout_timeout: cfg.checkout_timeout(),
            idle_timeout: cfg.idle_timeout(),
            slots: Mutex::new(Slots::default()),
            returned: Notify::new(),
            created: AtomicU64::new(0),
            closed: AtomicU64::new(0),
        });
        if let Some(timeout) = pool.idle_timeout {
            tokio::spawn(reap_idle(Arc::downgrade(&pool), timeout));
        }
        pool
    }

    pub fn name(&self) -> &str {
        &self.target.name
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A panic while holding this lock cannot leave the counts half-updated
        // (each critical section is a single push/pop and counter change), so poisoning is ignored.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> PoolStats {
        let s = self.lock();
        PoolStats {
            open: s.open,
            idle: s.idle.iter().map(Vec::len).sum(),
            created: self.created.load(Ordering::Relaxed),
            closed: self.closed.load(Ordering::Relaxed),
            max: self.max,
        }
    }

    /// Takes a connection of the wanted flavour: an idle one, or a new one while under the cap;
    /// otherwise waits for one to come back, up to the checkout timeout.
    pub async fn checkout(self: &Arc<Self>, flavour: Flavour) -> Result<PooledConn, BackendError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.checkout_timeout;
        loop {
            let returned = self.returned.notified();
            let must_connect = {
                let mut s = self.lock();
                while let Some(conn) = s.idle[flavour.index()].pop() {
                    if conn.last_used.elapsed() < LIVENESS_CHECK_AFTER || !conn.closed_while_idle()
                    {
                        return Ok(self.wrap(conn));
                    }
                    // The server closed it while idle (restart, wait_timeout): replace it.
                    s.open -= 1;
                    self.closed.fetch_add(1, Ordering::Relaxed);
                }
                if s.open < self.max {
                    s.open += 1;
                    true
                } else if let Some(other) = s.idle.iter_mut().find_map(|list| list.pop()) {
                    // Trade an idle connection of another flavour for a new one.
                    drop(other);
                    self.closed.fetch_add(1, Ordering::Relaxed);
                    true
                } else {
                    false
                }
            };
            if must_connect {
                return match BackendConn::connect(&self.target, flavour).await {
                    Ok(conn) => {
                        self.created.fetch_add(1, Ordering::Relaxed);
                        Ok(self.wrap(conn))
                    }
                    Err(e) => {
                        self.release_slot();
                        Err(e)
                    }
                };
            }
            if tokio::time::timeout_at(deadline, returned).await.is_err() {
                return Err(BackendError::Saturated {
                    backend: self.target.name.clone(),
                    max: self.max,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
        }
    }

    fn wrap(self: &Arc<Self>, conn: BackendConn) -> PooledConn {
        PooledConn {
            conn: Some(conn),
            pool: Arc::clone(self),
        }
    }

    fn give_back(&self, conn: BackendConn) {
        if conn.reusable {
            let mut s = self.lock();
            s.idle[conn.flavour.index()].push(conn);
        } else {
            drop(conn);
            self.closed.fetch_add(1, Ordering::Relaxed);
            self.lock().open -= 1;
        }
        self.returned.notify_one();
    }

    fn release_slot(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    /// Closes idle connections unused for longer than `timeout`.
    fn close_idle(&self, timeout: Duration) {
        let now = Instant::now();
        let mut s = self.lock();
        let mut closed = 0;
        for list in &mut s.idle {
            let before = list.len();
            list.retain(|c| now.duration_since(c.last_used) < timeout);
            closed += before - list.len();
        }
        s.open -= closed;
        drop(s);
        if closed > 0 {
            self.closed.fetch_add(closed as u64, Ordering::Relaxed);
            tracing::debug!(backend = %self.target.name, closed, "closed idle backend connections");
        }
    }
}

async fn reap_idle(pool: Weak<Pool>, timeout: Duration) {
    let period = (timeout / 2).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(period).await;
        match pool.upgrade() {
            Some(p) => p.close_idle(timeout),
            None => return,
        }
    }
}

/// A checked-out connection; goes back to its pool when dropped (closed if not reusable).
pub struct PooledConn {
    conn: Option<BackendConn>,
    pool: Arc<Pool>,
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
