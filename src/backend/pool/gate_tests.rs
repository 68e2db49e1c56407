//! Tests of the gate: FIFO order, timeouts, and resizing (growing serves waiters in order,
//! shrinking retires permits as they come back, no permit leaked or lost).

use super::*;
use std::sync::Mutex;

/// Queues `n` waiters, one after the other, each recording its index when served and holding
/// its permit for `hold`.
async fn queue_waiters(
    gate: &Arc<Gate>,
    n: usize,
    hold: Duration,
    order: &Arc<Mutex<Vec<usize>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (gate, order) = (Arc::clone(gate), Arc::clone(order));
        tasks.push(tokio::spawn(async move {
            let permit = gate.enter(Duration::from_secs(60)).await.expect("served");
            order.lock().expect("order").push(i);
            tokio::time::sleep(hold).await;
            drop(permit);
        }));
        // Let it queue before the next one arrives.
        tokio::task::yield_now().await;
    }
    tasks
}

#[tokio::test]
async fn waiters_are_served_in_arrival_order_without_barging() {
    let gate = Arc::new(Gate::new(2));
    let a = gate.enter(Duration::from_secs(1)).await.expect("free");
    let b = gate.enter(Duration::from_secs(1)).await.expect("free");
    assert_eq!(gate.in_use(), 2);
    let order = Arc::new(Mutex::new(Vec::new()));
    let tasks = queue_waiters(&gate, 6, Duration::from_millis(10), &order).await;
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

#[tokio::test]
async fn growing_serves_queued_waiters_at_once_in_arrival_order() {
    let gate = Arc::new(Gate::new(1));
    let held = gate.enter(Duration::from_secs(1)).await.expect("free");
    let order = Arc::new(Mutex::new(Vec::new()));
    // Each waiter holds its permit long enough that only the grow can serve the first three.
    let tasks = queue_waiters(&gate, 5, Duration::from_millis(300), &order).await;
    assert_eq!(gate.waiting(), 5);
    gate.resize(4);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        *order.lock().expect("order"),
        vec![0, 1, 2],
        "three new permits, to the three oldest waiters"
    );
    assert_eq!((gate.waiting(), gate.in_use()), (2, 4));
    // A newcomer does not barge past the two still queued.
    assert_eq!(
        gate.enter(Duration::from_millis(1)).await.err(),
        Some(TimedOut)
    );
    drop(held);
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(*order.lock().expect("order"), vec![0, 1, 2, 3, 4]);
    assert_eq!((gate.in_use(), gate.available(), gate.debt()), (0, 4, 0));
}

#[tokio::test]
async fn shrinking_retires_returned_permits_before_serving_waiters() {
    let gate = Arc::new(Gate::new(4));
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(gate.enter(Duration::from_secs(1)).await.expect("free"));
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    let tasks = queue_waiters(&gate, 2, Duration::from_millis(20), &order).await;
    gate.resize(2);
    assert_eq!((gate.debt(), gate.in_use()), (2, 4));
    // The first two permits back pay the debt: nobody is served while 2 or more are held.
    held.pop();
    held.pop();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(order.lock().expect("order").is_empty());
    assert_eq!((gate.debt(), gate.in_use(), gate.waiting()), (0, 2, 2));
    // The next ones go to the waiters, in order.
    held.clear();
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(*order.lock().expect("order"), vec![0, 1]);
    assert_eq!((gate.in_use(), gate.available(), gate.debt()), (0, 2, 0));
}

#[tokio::test]
async fn shrinking_an_idle_gate_forgets_free_permits_at_once() {
    let gate = Gate::new(5);
    let a = gate.enter(Duration::from_secs(1)).await.expect("free");
    gate.resize(2);
    assert_eq!((gate.available(), gate.debt(), gate.in_use()), (1, 0, 1));
    let b = gate.enter(Duration::from_secs(1)).await.expect("free");
    assert_eq!(
        gate.enter(Duration::from_millis(1)).await.err(),
        Some(TimedOut),
        "two permits in all"
    );
    drop((a, b));
    assert_eq!((gate.available(), gate.in_use()), (2, 0));
}

/// Shrinks and grows in turn while permits come and go: nothing leaks or gets lost, and once
/// every permit is back exactly `size` are available.
#[tokio::test]
async fn shrinking_then_growing_neither_leaks_nor_loses_permits() {
    let gate = Gate::new(6);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(gate.enter(Duration::from_secs(1)).await.expect("free"));
    }
    gate.resize(2);
    assert_eq!(
        (gate.available(), gate.debt()),
        (0, 3),
        "one free forgotten"
    );
    held.pop();
    assert_eq!(gate.debt(), 2);
    // Growing by one cancels debt rather than adding a permit.
    gate.resize(3);
    assert_eq!((gate.available(), gate.debt(), gate.in_use()), (0, 1, 4));
    gate.resize(1);
    assert_eq!(gate.debt(), 3);
    held.pop();
    held.pop();
    assert_eq!((gate.debt(), gate.in_use()), (1, 2));
    // Growing past the debt adds permits.
    gate.resize(5);
    assert_eq!((gate.available(), gate.debt(), gate.in_use()), (3, 0, 2));
    held.push(gate.enter(Duration::from_secs(1)).await.expect("free"));
    gate.resize(3);
    held.clear();
    assert_eq!((gate.available(), gate.debt(), gate.in_use()), (3, 0, 0));
    // Exactly three permits exist.
    for _ in 0..3 {
        held.push(gate.enter(Duration::from_secs(1)).await.expect("free"));
    }
    assert!(gate.enter(Duration::from_millis(1)).await.is_err());
    held.clear();
    assert_eq!(gate.available(), 3);
}
