//! Concurrency: many clients at once with correct results, and pool saturation with a clear
//! error naming the backend, recovering when a connection comes back.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use crate::harness::{Proxy, ProxyOpts, Table, direct, my_err};

#[test]
fn sixty_four_clients_two_hundred_queries_each() {
    const CLIENTS: usize = 64;
    const ROUNDS: i64 = 100; // an INSERT and a SELECT per round: 200 queries
    let t = Arc::new(Table::create(
        "it_conc",
        "client INT, n INT, v VARCHAR(40), PRIMARY KEY (client, n)",
    ));
    // Every session holds a connection: 64 for the clients and one for the health checker.
    let proxy = Arc::new(Proxy::start(ProxyOpts {
        pool_max_connections: Some(CLIENTS as u64 + 1),
        ..Default::default()
    }));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (t, proxy, barrier) = (Arc::clone(&t), Arc::clone(&proxy), Arc::clone(&barrier));
            std::thread::spawn(move || -> Result<(), String> {
                let mut c = proxy
                    .conn_as("app", "app-pw", Some("shop"))
                    .map_err(|e| format!("client {client}: connect: {e}"))?;
                // Everyone connected at the same time before the queries start.
                barrier.wait();
                let select = c
                    .prep(format!(
                        "SELECT v FROM `{}` WHERE client = ? AND n = ?",
                        t.name
                    ))
                    .map_err(|e| format!("client {client}: prepare: {e}"))?;
                for n in 0..ROUNDS {
                    let v = format!("c{client}-n{n}");
                    c.query_drop(format!(
                        "INSERT INTO `{}` (client, n, v) VALUES ({client}, {n}, '{v}')",
                        t.name
                    ))
                    .map_err(|e| format!("client {client}: insert {n}: {e}"))?;
                    let got: Option<String> = c
                        .exec_first(&select, (client as i64, n))
                        .map_err(|e| format!("client {client}: select {n}: {e}"))?;
                    if got.as_deref() != Some(v.as_str()) {
                        return Err(format!("client {client}: row {n} read back as {got:?}"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().expect("client thread panicked").err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} clients failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
    let counts: Vec<(i64, i64)> = direct()
        .query(format!(
            "SELECT client, COUNT(*) FROM `{}` GROUP BY client ORDER BY client",
            t.name
        ))
        .expect("count");
    assert_eq!(counts.len(), CLIENTS);
    assert!(counts.iter().all(|&(_, n)| n == ROUNDS), "{counts:?}");
}

#[test]
fn pool_saturation_gives_1040_then_recovers() {
    // Three: one slot is reserved for the health checker, two are left for clients.
    let proxy = Proxy::start(ProxyOpts {
        pool_max_connections: Some(3),
        checkout_timeout_ms: Some(300),
        ..Default::default()
    });
    // A session holds a backend connection only inside a transaction.
    let mut first = proxy.conn();
    let mut second = proxy.conn();
    first.query_drop("BEGIN").expect("first session works");
    second.query_drop("BEGIN").expect("second session works");
    let started = Instant::now();
    let e = my_err(proxy.conn_as("app", "app-pw", Some("shop")));
    let waited = started.elapsed();
    assert_eq!(e.code, 1040, "{e:?}");
    assert!(
        e.message.contains("s0/primary"),
        "message names the backend: {}",
        e.message
    );
    assert!(
        waited >= Duration::from_millis(250),
        "waited for the checkout timeout ({waited:?})"
    );
    assert!(
        waited < Duration::from_secs(5),
        "but not much longer ({waited:?})"
    );
    // The sessions that hold connections are unaffected.
    first
        .query_drop("SELECT 1")
        .expect("first session still works");

    second
        .query_drop("COMMIT")
        .expect("commit gives the connection back");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut third = loop {
        match proxy.conn_as("app", "app-pw", Some("shop")) {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("third client still refused after a session closed: {e:?}"),
        }
    };
    let v: Option<i64> = third.query_first("SELECT 3").expect("third client works");
    assert_eq!(v, Some(3));
}
