//! The health checker's slot: the one connection of `max_connections` a pool reserves for its
//! backend's checker, so that the checker's connection counts under the cap like any other.
//!
//! ```text
//! Pool::with_checker ─▶ (pool, CheckerSlot)     the reservation, handed out once
//! slot.take(flavour) ─▶ CheckerConn             the kept connection, or a new one counted in
//!                                               the reserved slot (trading an idle client
//!                                               connection when the pool is at its cap;
//!                                               waiting for a return while clients are above
//!                                               a lowered cap)
//! slot.keep(conn)                               kept for the next round (closed instead when
//!                                               broken or past max_lifetime)
//! drop(CheckerConn) / drop(CheckerSlot)         closed, its slot counted free again;
//!                                               the reservation goes back to the pool
//! ```

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::slots::{CheckerGrant, Close, Slots, expired};
use super::{Opening, Pool};
use crate::backend::BackendError;
use crate::backend::connection::{BackendConn, Flavour};

/// The reservation of one pool slot for the health checker, holding the checker's connection
/// between rounds.
pub struct CheckerSlot {
    pool: Arc<Pool>,
    conn: Option<BackendConn>,
}

impl Pool {
    /// Hands out the slot reserved for the health checker; `None` when the pool reserves none
    /// or the slot is out already. It comes back when the `CheckerSlot` is dropped.
    pub fn checker_slot(self: &Arc<Self>) -> Option<CheckerSlot> {
        if self.lock().limits().reserved == 0 {
            return None;
        }
        self.checker_out
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| CheckerSlot::new(Arc::clone(self)))
    }
}

impl CheckerSlot {
    pub(super) fn new(pool: Arc<Pool>) -> Self {
        CheckerSlot { pool, conn: None }
    }

    /// The pool the slot belongs to.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// True while a connection is kept for the next round.
    pub fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// The kept connection, or a new one opened in the reserved slot. Fails when connecting
    /// fails, or when the connection taken earlier has not been kept or dropped yet. While
    /// clients hold more connections than a lowered cap allows, waits for one to come back
    /// (up to `pool.checkout_timeout_ms`).
    pub async fn take(&mut self, flavour: Flavour) -> Result<CheckerConn, BackendError> {
        if let Some(conn) = self.conn.take() {
            return Ok(self.wrap(conn));
        }
        let mut grant = self.pool.lock().checker_open();
        if grant == CheckerGrant::NoRoom {
            let deadline = Instant::now() + self.pool.checkout_timeout();
            let attempt = |s: &mut Slots<BackendConn>| match s.checker_open() {
                CheckerGrant::NoRoom => None,
                other => Some(other),
            };
            grant = self
                .pool
                .wait_for_room(deadline, attempt)
                .await
                .unwrap_or(CheckerGrant::NoRoom);
        }
        let unavailable = |reason: &str| BackendError::Unsupported {
            backend: self.pool.name().to_string(),
            reason: reason.to_string(),
        };
        match grant {
            CheckerGrant::Open => {}
            CheckerGrant::Refused => {
                return Err(unavailable(
                    "the health checker's reserved connection is already in use",
                ));
            }
            CheckerGrant::NoRoom => {
                return Err(unavailable(
                    "no slot for the health checker: clients still hold more connections than \
                     the lowered pool.max_connections",
                ));
            }
        }
        let opening = Opening::checker(&self.pool);
        let conn = self.pool.connect(flavour).await?;
        opening.done();
        Ok(self.wrap(conn))
    }

    /// Keeps `conn` for the next round; closes it instead when it is not reusable or older
    /// than `pool.max_lifetime_ms`.
    pub fn keep(&mut self, mut conn: CheckerConn) {
        let young = {
            let s = self.pool.lock();
            !expired(s.limits(), conn.created, Instant::now())
        };
        if !young {
            conn.why = Close::Lifetime;
            return;
        }
        if conn.is_clean() {
            self.conn = conn.conn.take();
        }
    }

    fn wrap(&self, conn: BackendConn) -> CheckerConn {
        CheckerConn {
            conn: Some(conn),
            pool: Arc::clone(&self.pool),
            why: Close::Other,
        }
    }
}

impl Drop for CheckerSlot {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            let mut s = self.pool.lock();
            s.checker_closed(Close::Other);
            self.pool.made_room(s);
        }
        self.pool.checker_out.store(false, Ordering::Release);
    }
}

/// The checker's connection while it is in use; closed (its slot freed) when dropped, unless
/// given back with [`CheckerSlot::keep`].
pub struct CheckerConn {
    conn: Option<BackendConn>,
    pool: Arc<Pool>,
    why: Close,
}

impl std::ops::Deref for CheckerConn {
    type Target = BackendConn;
    fn deref(&self) -> &BackendConn {
        self.conn.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for CheckerConn {
    fn deref_mut(&mut self) -> &mut BackendConn {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for CheckerConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            let mut s = self.pool.lock();
            s.checker_closed(self.why);
            self.pool.made_room(s);
        }
    }
}
