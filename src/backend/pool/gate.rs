//! The FIFO queue in front of a pool: a fair semaphore with one permit per connection clients
//! may hold, plus a count of checkouts waiting now. Its size can change while permits are out
//! ([`Gate::resize`], for `Pool::reconfigure`).
//!
//! tokio's `Semaphore` is fair: a released permit goes to the oldest queued waiter before any
//! newcomer can see it (its available count stays 0 while anyone waits), so new arrivals never
//! barge past waiting checkouts, and a waiter that gives up (timeout, dropped future) passes any
//! permit already assigned to it on to the next one, so no wakeup is lost.
//!
//! # Resizing: permits added at once, retired through a debt
//!
//! Growing adds the new permits to the semaphore, which hands them to the queued waiters in
//! arrival order. Shrinking by `d` forgets the permits nobody holds (at most `d`) and records
//! the rest as `debt`: a [`Permit`] dropped while `debt > 0` pays one unit (the permit is
//! forgotten, not released) instead of going back to the queue. Growing first cancels debt.
//! Releases and resizes take the `state` lock, so with `held` permits out and `available` in
//! the semaphore, between any two of them:
//!
//! * (G1) `held + available == size + debt` — a release moves one permit from `held` to
//!   `available` (or to a waiter, which keeps `held`) or pays one unit of debt; an acquire
//!   moves one from `available` to `held`; a resize changes `size` and `available`/`debt`
//!   by the same amounts.
//! * (G2) `debt > 0` ⇒ `available == 0` — a shrink records debt only after forgetting every
//!   available permit; a release adds to `available` only when `debt == 0`; a grow adds
//!   permits only after cancelling all the debt; acquires only lower `available`.
//!
//! Hence no permit is ever granted while `held >= size`: a grant takes an available permit, so
//! `debt == 0` (G2) and `held < held + available == size` (G1). After a shrink, `held` stays
//! at most the old size, never grows while it is at or above the new one, and reaches the new
//! size after `debt` releases.
//!
//! No waiter is stuck for good: it waits only while `available == 0`; each release pays debt
//! or serves the oldest waiter, and `debt <= held - size` (G1 with `available >= 0`) is used
//! up after that many releases, after which `size >= 1` permits circulate in FIFO order as
//! before. (Holders must give their permits back eventually, as without resizing.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;

/// No permit came within the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimedOut;

/// The size the gate aims at and the permits still to retire to reach it.
#[derive(Debug, Default)]
struct State {
    size: usize,
    debt: usize,
}

struct Shared {
    permits: Semaphore,
    state: Mutex<State>,
    waiting: AtomicUsize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Two counters updated together with no panicking step in between.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) struct Gate {
    shared: Arc<Shared>,
}

/// The right to hold one client connection; released when dropped (or retired, paying debt).
pub(super) struct Permit {
    gate: Arc<Shared>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.gate.state();
        if state.debt > 0 {
            state.debt -= 1;
        } else {
            self.gate.permits.add_permits(1);
        }
    }
}

impl Gate {
    /// A gate letting `size` holders through at once.
    pub fn new(size: usize) -> Self {
        let size = size.min(Semaphore::MAX_PERMITS);
        Gate {
            shared: Arc::new(Shared {
                permits: Semaphore::new(size),
                state: Mutex::new(State { size, debt: 0 }),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// A permit, after everyone who asked earlier; `TimedOut` after `timeout`.
    pub async fn enter(&self, timeout: Duration) -> Result<Permit, TimedOut> {
        // Succeeds only when nobody waits (the semaphore hands released permits to waiters).
        if let Ok(permit) = self.shared.permits.try_acquire() {
            permit.forget();
            return Ok(self.permit());
        }
        let _waiting = Waiting::new(&self.shared.waiting);
        match tokio::time::timeout(timeout, self.shared.permits.acquire()).await {
            Ok(Ok(permit)) => {
                // No await between the grant and `Permit` taking it over.
                permit.forget();
                Ok(self.permit())
            }
            // Err(Closed) cannot happen (the semaphore is never closed); treat it as a timeout.
            Ok(Err(_)) | Err(_) => Err(TimedOut),
        }
    }

    /// A permit if one is free now (what `enter` does when nobody waits).
    #[cfg(test)]
    pub fn try_enter(&self) -> Option<Permit> {
        let permit = self.shared.permits.try_acquire().ok()?;
        permit.forget();
        Some(self.permit())
    }

    fn permit(&self) -> Permit {
        Permit {
            gate: Arc::clone(&self.shared),
        }
    }

    /// Lets `size` holders through from now on: more permits at once (served to waiters in
    /// order), or fewer as holders give theirs back (see the module docs).
    pub fn resize(&self, size: usize) {
        let size = size.min(Semaphore::MAX_PERMITS);
        let mut state = self.shared.state();
        if size >= state.size {
            let grow = size - state.size;
            let cancelled = grow.min(state.debt);
            state.debt -= cancelled;
            self.shared.permits.add_permits(grow - cancelled);
        } else {
            let shrink = state.size - size;
            let forgotten = self.shared.permits.forget_permits(shrink);
            state.debt += shrink - forgotten;
        }
        state.size = size;
    }

    /// Permits held now (`size + debt - available`, G1).
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        let state = self.shared.state();
        (state.size + state.debt).saturating_sub(self.shared.permits.available_permits())
    }

    /// Permits free now (0 while anyone waits or debt is owed).
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.shared.permits.available_permits()
    }

    /// Permits still to retire as holders give theirs back.
    #[cfg(test)]
    pub fn debt(&self) -> usize {
        self.shared.state().debt
    }

    /// Checkouts queued now.
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }
}

/// Counts one waiting checkout for as long as it lives (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
