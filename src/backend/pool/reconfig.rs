//! Changing a live pool's settings ([`Pool::reconfigure`], for config reloads that keep the
//! pool), waiting for room while a lowered cap drains, and the reaper, which follows the
//! limits in force.
//!
//! # Lowering `max_connections`
//!
//! Connections in use are not killed. The new limits go to the slots and the new client slot
//! count (`size = cap - reserved`) to the gate in one step, under the slots lock (lock order:
//! slots, then the gate's state; nothing takes them the other way round, as a `Permit` is
//! dropped after the slots lock is released):
//!
//! * slots (`slots.rs`): idle connections above the new cap are closed at once; ones in use
//!   above it are closed as they come back instead of kept idle; no connection is opened while
//!   `open >= new cap` (above it nothing is idle to trade);
//! * gate (`gate.rs`): free permits above the new size are forgotten at once, the rest are a
//!   debt that the next permits coming back pay instead of going to the queue; no permit is
//!   granted while `held >= new size`.
//!
//! A permit holder can still find no room: it got its permit before the shrink but reached the
//! slots after it; so can the checker while clients are above the new cap. It waits
//! ([`Pool::wait_for_room`]): every return and close while someone waits wakes it to try again,
//! until `pool.checkout_timeout_ms` has passed (then ERR 1040, as for a full queue).
//!
//! (b) Bound. `open` never exceeds max(its value at the shrink, new cap) <= max(old cap, new
//! cap), does not grow while it is at or above the new cap, and is at most the new cap once no
//! client holds a connection (`slots.rs`, I1–I3); in particular once those in use at the shrink
//! have come back and the gate has retired its debt, `open <= cap` and `in_use <= size` as
//! before the change.
//!
//! (a) No deadlock, no starvation. Gate waiters: see `gate.rs` (the debt is at most
//! `held - size` and is paid by that many returns; after that the queue is served in order).
//! Room waiters: a client is refused room only while `in_use >= size`, or `open >= cap` with
//! nothing idle (of any flavour, to trade). It holds a permit, as does every client counted in
//! `in_use`, so `in_use + 1 <= held`; once the debt is paid `held <= size` (gate G1), so
//! `in_use < size`, and with nothing idle `open = in_use + checker < size + reserved = cap`:
//! the attempt after the last debt-paying return (which woke it) gets room. The checker, which
//! holds no permit, needs `open < cap` or an idle connection: once the debt is paid
//! `in_use <= size`, and with nothing idle `open = in_use <= size < cap`. The returns needed
//! come from connections already checked out, which come back as they would without the
//! change; a waiter that gives up meanwhile just drops its permit (paying debt or serving the
//! queue). The model test (`tests/model.rs`) checks after every step that room is refused only
//! while the gate still owes permits. Raising the cap cancels debt, then adds permits (served
//! to the queue in order), and wakes the room waiters.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::Pool;
use super::slots::{Limits, Slots};
use crate::backend::connection::BackendConn;
use crate::config::PoolConfig;

/// The limits `cfg` sets for a pool reserving `reserved` slots: `max_connections` at least
/// `reserved + 1`, so that clients always have a slot (the config asks for 2 or more).
pub(super) fn limits(cfg: &PoolConfig, reserved: usize) -> Limits {
    Limits {
        cap: (cfg.max_connections as usize).max(reserved + 1),
        reserved,
        idle_timeout: cfg.idle_timeout(),
        max_lifetime: cfg.max_lifetime(),
        min_idle: cfg.min_idle as usize,
    }
}

impl Pool {
    /// Applies a changed `pool` section: `max_connections` at once (more permits for the queue
    /// now, or fewer as connections come back; see the module docs), the timeouts, `min_idle`
    /// and `max_lifetime_ms` from the next checkout, connect or reap on. The health checker's
    /// reserved slot stays reserved. Connections are kept, except idle ones above a lowered cap.
    pub fn reconfigure(&self, cfg: &PoolConfig) {
        self.checkout_timeout_ms
            .store(cfg.checkout_timeout_ms, Ordering::Relaxed);
        self.connect_timeout_ms
            .store(cfg.connect_timeout_ms, Ordering::Relaxed);
        let mut s = self.lock();
        let old = *s.limits();
        let new = limits(cfg, old.reserved);
        let closed = s.reconfigure(new);
        self.gate.resize(new.client_slots());
        debug_assert!(s.invariant_holds(), "pool bookkeeping: {:?}", s.figures());
        let figures = s.figures();
        // A raised cap makes room for anyone waiting for it.
        self.made_room(s);
        // The reaper recomputes its period (and reaps under the new limits) now.
        self.reaper.notify_one();
        if old != new {
            tracing::info!(
                backend = %self.target.name,
                old_max = old.cap,
                max = new.cap,
                open = figures.open,
                in_use = figures.in_use,
                closed_idle = closed,
                "pool settings changed"
            );
        }
    }

    /// Wakes the waiters for room, if any, once `s` is released (call after any change that
    /// may make room: a return, a close, a failed open, a raised cap).
    pub(super) fn made_room(&self, s: MutexGuard<'_, Slots<BackendConn>>) {
        let wanted = s.room_wanted();
        drop(s);
        if wanted {
            self.room.notify_waiters();
        }
    }

    /// Tries `attempt` under the slots lock each time room may have been made, until it gives
    /// `Some` or `deadline` passes (`None`).
    pub(super) async fn wait_for_room<T>(
        &self,
        deadline: Instant,
        mut attempt: impl FnMut(&mut Slots<BackendConn>) -> Option<T>,
    ) -> Option<T> {
        // Counted before the first attempt: a change after an attempt sees the count and
        // wakes the `Notified` enabled before that attempt; one before it, the attempt sees.
        let _waiter = RoomWaiter::new(self);
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            let got = attempt(&mut self.lock());
            if got.is_some() {
                return got;
            }
            let deadline = tokio::time::Instant::from_std(deadline);
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                return None;
            }
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

/// One waiter for room, counted in the slots while it lives.
struct RoomWaiter<'a>(&'a Pool);

impl<'a> RoomWaiter<'a> {
    fn new(pool: &'a Pool) -> Self {
        pool.lock().wait_for_room();
        RoomWaiter(pool)
    }
}

impl Drop for RoomWaiter<'_> {
    fn drop(&mut self) {
        self.0.lock().stop_waiting_for_room();
    }
}

/// Starts the reaper of `pool`; it ends once the pool is dropped.
pub(super) fn spawn_reaper(pool: &Arc<Pool>) {
    tokio::spawn(reap_idle(Arc::downgrade(pool), Arc::clone(&pool.reaper)));
}

/// How often the reaper runs: half the shorter of the idle timeout and the lifetime (at least
/// a second); `None` when neither applies.
pub(super) fn reap_period(limits: &Limits) -> Option<Duration> {
    let shortest = match (limits.idle_timeout, limits.max_lifetime) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((shortest / 2).max(Duration::from_secs(1)))
}

/// Reaps every period of the limits in force, and at once when woken by `reconfigure` (then
/// with the new period); returns when woken after the pool is gone.
async fn reap_idle(pool: Weak<Pool>, wake: Arc<Notify>) {
    loop {
        let period = match pool.upgrade() {
            Some(p) => reap_period(p.lock().limits()),
            None => return,
        };
        match period {
            Some(period) => {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
        match pool.upgrade() {
            Some(p) => p.reap(),
            None => return,
        }
    }
}
