//! The FIFO queue in front of a pool: a fair semaphore with one permit per connection clients
//! may hold, plus a count of checkouts waiting now.
//!
//! tokio's `Semaphore` is fair: a released permit goes to the oldest queued waiter before any
//! newcomer can see it (its available count stays 0 while anyone waits), so new arrivals never
//! barge past waiting checkouts, and a waiter that gives up (timeout, dropped future) passes any
//! permit already assigned to it on to the next one, so no wakeup is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The right to hold one client connection; released when dropped.
pub(super) type Permit = OwnedSemaphorePermit;

/// No permit came within the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimedOut;

pub(super) struct Gate {
    permits: Arc<Semaphore>,
    #[cfg(test)]
    size: usize,
    waiting: AtomicUsize,
}

impl Gate {
    /// A gate letting `size` holders through at once.
    pub fn new(size: usize) -> Self {
        Gate {
            permits: Arc::new(Semaphore::new(size.min(Semaphore::MAX_PERMITS))),
            #[cfg(test)]
            size: size.min(Semaphore::MAX_PERMITS),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A permit, after everyone who asked earlier; `TimedOut` after `timeout`.
    pub async fn enter(&self, timeout: Duration) -> Result<Permit, TimedOut> {
        // Succeeds only when nobody waits (the semaphore hands released permits to waiters).
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(permit);
        }
        let _waiting = Waiting::new(&self.waiting);
        match tokio::time::timeout(timeout, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Err(Closed) cannot happen (the semaphore is never closed); treat it as a timeout.
            Ok(Err(_)) | Err(_) => Err(TimedOut),
        }
    }

    /// Permits held now.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.size - self.permits.available_permits().min(self.size)
    }

    /// Checkouts queued now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
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
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn waiters_are_served_in_arrival_order_without_barging() {
        let gate = Arc::new(Gate::new(2));
        let a = gate.enter(Duration::from_secs(1)).await.expect("free");
        let b = gate.enter(Duration::from_secs(1)).await.expect("free");
        assert_eq!(gate.in_use(), 2);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (gate, order) = (Arc::clone(&gate), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let permit = gate.enter(Duration::from_secs(60)).await.expect("served");
                order.lock().expect("order").push(i);
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(permit);
            }));
            // Let it queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.waiting(), 6);
        drop(a);
        // A newcomer while others wait does not get the released permit.
        tokio::task::yield_now().await;
        assert_eq!(
            gate.enter(Duration::from_millis(1)).await.err(),
            Some(TimedOut)
        );
        drop(b);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!((gate.waiting(), gate.in_use()), (0, 0));
    }

    #[tokio::test]
    async fn timeout_and_cancellation_leave_no_trace() {
        let gate = Arc::new(Gate::new(1));
        let held = gate.enter(Duration::from_secs(1)).await.expect("free");
        assert_eq!(
            gate.enter(Duration::from_millis(50)).await.err(),
            Some(TimedOut)
        );
        assert_eq!(gate.waiting(), 0);
        // A waiter dropped while queued.
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { g.enter(Duration::from_secs(60)).await.is_ok() });
        tokio::task::yield_now().await;
        assert_eq!(gate.waiting(), 1);
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(gate.waiting(), 0);
        // The permit released later is not lost to the aborted waiter.
        drop(held);
        let again = gate.enter(Duration::from_millis(1)).await;
        assert!(again.is_ok());
        assert_eq!(gate.in_use(), 1);
    }
}
