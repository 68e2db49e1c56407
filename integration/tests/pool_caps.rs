//! Pool caps against the real sandbox: the backend connections of one proxy (its clients' and
//! its health checker's) never exceed `pool.max_connections`, as seen in the server's own
//! process list; a checkout that waits past `pool.checkout_timeout_ms` behind a held
//! transaction gets ERR 1040 naming the backend, and the timeout is logged.
//!
//! Both tests hold whether a session keeps one backend connection for its life or borrows one
//! per statement: clients do their work in short-lived connections, and the saturating client
//! is refused either at login or at its first statement.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Row};

use crate::harness::{
    BACKEND_PASS, BACKEND_USER, DB, Proxy, ProxyOpts, Table, direct, my_err, opts, sandbox, unique,
};

const USER_PASS: &str = "pool-cap-pw";

/// A backend account of the test's own, so that the process list shows exactly this proxy's
/// connections (other tests' proxies log in as `shardgate`); dropped again on both primaries.
struct BackendUser {
    name: String,
}

impl BackendUser {
    fn create() -> BackendUser {
        let name = unique("pcap");
        for addr in primaries() {
            let mut c = admin(&addr);
            c.query_drop(format!(
                "CREATE USER '{name}'@'%' IDENTIFIED BY '{USER_PASS}'"
            ))
            .expect("create backend user");
            c.query_drop(format!("GRANT ALL PRIVILEGES ON `{DB}`.* TO '{name}'@'%'"))
                .expect("grant");
        }
        BackendUser { name }
    }

    /// How many connections this account has open on s0's primary now.
    fn connections(&self, c: &mut Conn) -> usize {
        let rows: Vec<Row> = c.query("SHOW PROCESSLIST").expect("SHOW PROCESSLIST");
        rows.iter()
            .filter(|r| r.get::<Option<String>, _>(1).flatten().as_deref() == Some(&self.name))
            .count()
    }
}

impl Drop for BackendUser {
    fn drop(&mut self) {
        for addr in primaries() {
            if let Ok(mut c) = Conn::new(opts(&addr, BACKEND_USER, BACKEND_PASS, None)) {
                let _ = c.query_drop(format!("DROP USER IF EXISTS '{}'@'%'", self.name));
            }
        }
    }
}

fn primaries() -> [String; 2] {
    let sb = sandbox();
    [sb.s0_primary.clone(), sb.s1_primary.clone()]
}

/// A connection straight to a server as the sandbox's backend user.
fn admin(addr: &str) -> Conn {
    Conn::new(opts(addr, BACKEND_USER, BACKEND_PASS, None)).expect("connect to a sandbox server")
}

#[test]
fn pool_cap_counts_clients_and_health_checker() {
    const CAP: usize = 3;
    const CLIENTS: usize = 40;
    const SESSIONS: usize = 4;
    const QUERIES: usize = 5;
    const ROWS: usize = 50;
    let t = Table::create("it_pcap", "id INT PRIMARY KEY, v VARCHAR(20)");
    let values: Vec<String> = (1..=ROWS).map(|i| format!("({i}, 'v{i}')")).collect();
    direct()
        .query_drop(format!(
            "INSERT INTO `{}` VALUES {}",
            t.name,
            values.join(",")
        ))
        .expect("fill table");
    // Declared before the proxy, so the proxy is gone before the account is dropped.
    let user = Arc::new(BackendUser::create());
    let proxy = Arc::new(Proxy::start(ProxyOpts {
        pool_max_connections: Some(CAP as u64),
        checkout_timeout_ms: Some(30_000),
        backend: Some((user.name.clone(), USER_PASS.to_string())),
        ..Default::default()
    }));

    // The health checker connects on its own, before any client: it is counted.
    let mut watcher = admin(&sandbox().s0_primary);
    let deadline = Instant::now() + Duration::from_secs(10);
    while user.connections(&mut watcher) == 0 {
        assert!(
            Instant::now() < deadline,
            "the health checker never connected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (user, stop) = (Arc::clone(&user), Arc::clone(&stop));
        std::thread::spawn(move || {
            let (mut max, mut samples) = (0, 0u32);
            // One more sample after the clients are done (idle connections stay open).
            loop {
                let done = stop.load(Ordering::Acquire);
                max = max.max(user.connections(&mut watcher));
                samples += 1;
                if done {
                    return (max, samples);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (proxy, barrier, table) =
                (Arc::clone(&proxy), Arc::clone(&barrier), t.name.clone());
            std::thread::spawn(move || -> Result<(), String> {
                barrier.wait();
                for session in 0..SESSIONS {
                    let mut c = proxy
                        .conn_as("app", "app-pw", Some(DB))
                        .map_err(|e| format!("client {client} session {session}: {e}"))?;
                    for q in 0..QUERIES {
                        let id = (client * 7 + session * 3 + q) % ROWS + 1;
                        let v: Option<String> = c
                            .query_first(format!("SELECT v FROM `{table}` WHERE id = {id}"))
                            .map_err(|e| format!("client {client} select {id}: {e}"))?;
                        if v.as_deref() != Some(format!("v{id}").as_str()) {
                            return Err(format!("client {client}: row {id} read as {v:?}"));
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    let errors: Vec<String> = clients
        .into_iter()
        .filter_map(|h| h.join().expect("client thread panicked").err())
        .collect();
    stop.store(true, Ordering::Release);
    let (max, samples) = sampler.join().expect("sampler panicked");
    assert!(
        errors.is_empty(),
        "{} clients failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(
        max <= CAP,
        "{max} backend connections open at once with pool.max_connections {CAP} ({samples} samples)"
    );
    assert!(
        max >= 2,
        "the checker and at least one client connection were seen ({max}, {samples} samples)"
    );
    assert!(samples >= 10, "the process list was sampled ({samples})");
    drop(proxy);
}

#[test]
fn held_transaction_saturates_the_pool_with_1040() {
    // max_connections 2: one slot for the health checker, one for clients.
    let proxy = Proxy::start(ProxyOpts {
        pool_max_connections: Some(2),
        checkout_timeout_ms: Some(300),
        ..Default::default()
    });
    let mut holder = proxy.conn();
    holder.query_drop("BEGIN").expect("begin");
    let one: Option<i64> = holder
        .query_first("SELECT 1")
        .expect("select in transaction");
    assert_eq!(one, Some(1));

    // Refused at login (a session holding its connection) or at its first statement.
    let started = Instant::now();
    let e = my_err(
        proxy
            .conn_as("app", "app-pw", Some(DB))
            .and_then(|mut c| c.query_drop("SELECT 2")),
    );
    let waited = started.elapsed();
    assert_eq!(e.code, 1040, "{e:?}");
    let backend = format!("s0/primary {}", sandbox().s0_primary);
    for needle in [
        backend.as_str(),
        "pool.max_connections 2",
        "reserved for the health checker",
        "busy for",
    ] {
        assert!(e.message.contains(needle), "{needle:?} in {}", e.message);
    }
    assert!(
        waited >= Duration::from_millis(250),
        "waited for the checkout timeout ({waited:?})"
    );
    assert!(
        waited < Duration::from_secs(5),
        "not much longer ({waited:?})"
    );
    let log = proxy.log_tail(400);
    let line = log
        .lines()
        .find(|l| l.contains("backend connection checkout timed out"))
        .unwrap_or_else(|| panic!("timeout logged; log:\n{log}"));
    for field in ["cap=2", "reserved=1", "in_use=1", "waiting=", "s0/primary"] {
        assert!(line.contains(field), "{field:?} in {line}");
    }

    // The transaction still works, and once its session ends a new client gets in.
    holder.query_drop("COMMIT").expect("commit");
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = proxy
            .conn_as("app", "app-pw", Some(DB))
            .and_then(|mut c| c.query_first::<i64, _>("SELECT 3"));
        match attempt {
            Ok(v) => {
                assert_eq!(v, Some(3));
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("still refused after the holder left: {e:?}"),
        }
    }
}
