//! Whole pools against a fake server (greets, then answers every packet with OK), changed
//! while connections are out: raising the cap serves the queue in order, lowering it drains
//! without opening over it, permit holders and the checker wait for room, nothing leaks, and
//! the timeouts and the reaper follow the new settings.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::super::{Pool, PooledConn};
use crate::backend::BackendError;
use crate::backend::connection::{Flavour, Target};
use crate::config::PoolConfig;
use crate::protocol::auth::NATIVE;
use crate::protocol::handshake::greeting;
use crate::protocol::packets::{ok_packet, status::AUTOCOMMIT};

const F: Flavour = Flavour {
    found_rows: false,
    deprecate_eof: true,
};

/// A fake backend; `greet: false` accepts connections and stays silent.
async fn fake_server(greet: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, greet));
        }
    });
    address
}

async fn serve(mut sock: TcpStream, greet: bool) {
    let mut head = [0u8; 4];
    if !greet {
        let _ = sock.read(&mut head).await;
        return;
    }
    let hello = greeting("8.0.36-fake", 1, &[7; 20], NATIVE);
    if write_packet(&mut sock, 0, &hello).await.is_err() {
        return;
    }
    // The login, then every command.
    while sock.read_exact(&mut head).await.is_ok() {
        let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
        let mut body = vec![0; len];
        if sock.read_exact(&mut body).await.is_err() || body.first() == Some(&1) {
            return;
        }
        let ok = ok_packet(AUTOCOMMIT, 0, 0);
        if write_packet(&mut sock, head[3].wrapping_add(1), &ok)
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn write_packet(sock: &mut TcpStream, seq: u8, payload: &[u8]) -> std::io::Result<()> {
    let len = (payload.len() as u32).to_le_bytes();
    sock.write_all(&[len[0], len[1], len[2], seq]).await?;
    sock.write_all(payload).await
}

fn target(address: String) -> Target {
    Target {
        name: "fake".into(),
        address,
        user: "u".into(),
        password: String::new(),
        connect_timeout: Duration::from_secs(2),
    }
}

fn cfg(max_connections: u32) -> PoolConfig {
    PoolConfig {
        max_connections,
        checkout_timeout_ms: 5000,
        idle_timeout_ms: 0,
        connect_timeout_ms: 2000,
        min_idle: 0,
        max_lifetime_ms: 0,
    }
}

async fn hold(pool: &Arc<Pool>, n: usize) -> Vec<PooledConn> {
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(pool.checkout(F).await.expect("checkout"));
    }
    conns
}

/// (open, idle, in_use, waiting) now.
fn figures(pool: &Pool) -> (usize, usize, usize, usize) {
    let s = pool.stats();
    (s.open, s.idle, s.in_use, s.waiting)
}

#[tokio::test]
async fn raising_the_cap_serves_queued_checkouts_at_once_in_order() {
    let pool = Pool::new(target(fake_server(true).await), &cfg(2));
    let held = hold(&pool, 2).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    // Each waiter keeps its connection until this lets it go.
    let go = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let (pool, order, go) = (Arc::clone(&pool), Arc::clone(&order), Arc::clone(&go));
        tasks.push(tokio::spawn(async move {
            let conn = pool.checkout(F).await.expect("served");
            order.lock().expect("order").push(i);
            let _go = go.acquire().await.expect("open");
            drop(conn);
        }));
        tokio::task::yield_now().await;
    }
    assert_eq!(figures(&pool), (2, 0, 2, 4));
    pool.reconfigure(&cfg(4));
    let served = |n: usize| {
        let order = Arc::clone(&order);
        async move {
            while order.lock().expect("order").len() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), served(2))
        .await
        .expect("two served");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The two oldest (connecting at once, so recorded in either order), no more.
    let mut first = order.lock().expect("order").clone();
    first.sort_unstable();
    assert_eq!(first, vec![0, 1]);
    assert_eq!(figures(&pool), (4, 0, 4, 2));
    assert_eq!(pool.stats().max, 4);
    // The next two get the connections given back, in order.
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), served(4))
        .await
        .expect("all served");
    assert_eq!(order.lock().expect("order")[2..], [2, 3]);
    go.add_permits(4);
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(figures(&pool), (4, 4, 0, 0));
    assert_eq!(pool.gate.available(), 4);
}

#[tokio::test]
async fn lowering_the_cap_drains_without_opening_over_it() {
    let pool = Pool::new(target(fake_server(true).await), &cfg(6));
    let mut held = hold(&pool, 5).await;
    held.pop();
    pool.reconfigure(&cfg(2));
    assert_eq!(
        figures(&pool),
        (4, 0, 4, 0),
        "the idle one above the cap closed"
    );
    assert_eq!(pool.stats().max, 2);
    let p = Arc::clone(&pool);
    let waiter = tokio::spawn(async move { p.checkout(F).await.map(|c| c.id) });
    tokio::task::yield_now().await;
    // The first two back are closed (and their permits retired): the waiter keeps waiting.
    for open in [3, 2] {
        held.pop();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(figures(&pool), (open, 0, open, 1));
    }
    // At the cap now: the next one back is kept, and the waiter reuses it.
    let id = held.pop().expect("held").id;
    assert_eq!(waiter.await.expect("task").expect("served"), id);
    let s = pool.stats();
    assert_eq!(
        (s.open, s.idle, s.in_use),
        (2, 1, 1),
        "the waiter's back too"
    );
    assert_eq!(
        (s.created, s.closed),
        (5, 3),
        "nothing opened since the shrink"
    );
    drop(held);
    assert_eq!(figures(&pool), (2, 2, 0, 0));
}

#[tokio::test]
async fn a_permit_holder_overtaken_by_a_shrink_waits_for_room() {
    let pool = Pool::new(target(fake_server(true).await), &cfg(4));
    let mut held = hold(&pool, 3).await;
    // A permit taken before the shrink, its slot asked for after it.
    let permit = pool.gate.enter(Duration::from_secs(1)).await.expect("free");
    pool.reconfigure(&cfg(2));
    let p = Arc::clone(&pool);
    let racer =
        tokio::spawn(async move { p.checkout_with(permit, F, 0, Instant::now()).await.is_ok() });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!racer.is_finished());
    held.pop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!racer.is_finished(), "2 in use, 2 client slots");
    held.pop();
    assert!(racer.await.expect("task"), "reused the one given back");
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.in_use, s.created), (2, 1, 1, 3));
}

#[tokio::test]
async fn the_checker_waits_for_room_while_clients_drain() {
    let (pool, mut slot) = Pool::with_checker(target(fake_server(true).await), &cfg(5));
    let mut held = hold(&pool, 4).await;
    pool.reconfigure(&cfg(2));
    let checker = tokio::spawn(async move {
        let conn = slot.take(F).await;
        let ok = conn.is_ok();
        if let Ok(conn) = conn {
            slot.keep(conn);
        }
        (ok, slot)
    });
    for _ in 0..2 {
        held.pop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!checker.is_finished(), "{:?}", pool.stats());
    }
    held.pop();
    let (ok, slot) = checker.await.expect("task");
    assert!(ok && slot.is_open());
    let s = pool.stats();
    assert_eq!((s.open, s.checker, s.in_use, s.max), (2, 1, 1, 2));
}

#[tokio::test]
async fn lowering_then_raising_neither_leaks_nor_loses_permits() {
    let pool = Pool::new(target(fake_server(true).await), &cfg(6));
    let mut held = hold(&pool, 4).await;
    pool.reconfigure(&cfg(2));
    held.pop();
    let mut quick = cfg(5);
    quick.checkout_timeout_ms = 100;
    pool.reconfigure(&quick);
    held.extend(hold(&pool, 2).await);
    drop(held);
    assert_eq!(pool.gate.available(), 5);
    assert_eq!((pool.gate.in_use(), pool.gate.debt()), (0, 0));
    // Exactly five at once; the sixth gives up after the new checkout timeout.
    let five = hold(&pool, 5).await;
    let started = Instant::now();
    let sixth = pool.checkout(F).await;
    assert!(matches!(sixth, Err(BackendError::Saturated { max: 5, .. })));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(five);
    let s = pool.stats();
    assert_eq!((s.open, s.idle, s.checkout_timeouts), (5, 5, 1));
}

#[tokio::test]
async fn a_changed_connect_timeout_applies_to_the_next_connection() {
    let pool = Pool::new(target(fake_server(false).await), &cfg(2));
    let mut fast = cfg(2);
    fast.connect_timeout_ms = 150;
    pool.reconfigure(&fast);
    let started = Instant::now();
    let err = pool.checkout(F).await.err();
    assert!(
        matches!(err, Some(BackendError::ConnectTimeout { ms: 150, .. })),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(figures(&pool), (0, 0, 0, 0), "the slot was given back");
}

#[tokio::test]
async fn the_reaper_follows_a_changed_idle_timeout() {
    let pool = Pool::new(target(fake_server(true).await), &cfg(2));
    drop(hold(&pool, 1).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pool.stats().idle, 1, "no idle timeout: kept");
    let mut short = cfg(2);
    short.idle_timeout_ms = 500;
    pool.reconfigure(&short);
    let started = Instant::now();
    while pool.stats().idle > 0 {
        assert!(started.elapsed() < Duration::from_secs(3), "not reaped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pool.stats().open, 0);
}
