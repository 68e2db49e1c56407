//! Replicas leaving the read rotation and coming back: a replica whose SQL thread stopped
//! (s1's replica, shard s1 as the default shard), and a replica that becomes unreachable (s0's
//! replica behind a TCP relay the test kills and restarts), with reads failing over to the
//! primary without a client error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mysql::Conn;
use mysql::prelude::Queryable;

use crate::harness::relay::Relay;
use crate::harness::rw::{
    ReplicaTableLocked, SqlThreadStopped, TableOn, explain, s1_replica_exclusive, server,
    server_id, wait_backend, wait_replicas_up,
};
use crate::harness::{Proxy, ProxyOpts, ReplicaOpt, my_err, sandbox, unique};

fn s1_proxy(extra: &str) -> Proxy {
    let sb = sandbox();
    let proxy = Proxy::start(ProxyOpts {
        replicas: vec![ReplicaOpt::new("s1", &sb.s1_replica, None)],
        default_shard: Some("s1".into()),
        read_write_split: Some(format!("health_check_interval_ms: 200\n{extra}")),
        rw_users: true,
        ..Default::default()
    });
    wait_replicas_up(&mut proxy.admin(), Duration::from_secs(30));
    proxy
}

fn reads_on(c: &mut Conn, n: usize) -> Vec<u32> {
    (0..n).map(|_| server_id(c, "SELECT @@server_id")).collect()
}

#[test]
fn rw_replica_not_replicating_leaves_rotation_and_returns() {
    let _exclusive = s1_replica_exclusive();
    let sb = sandbox();
    let t = TableOn::create(&sb.s1_primary, "rw_evict", "id INT PRIMARY KEY");
    let fallback = s1_proxy("");
    let strict = s1_proxy("no_healthy_replica: error");
    let (mut fa, mut sa) = (fallback.admin(), strict.admin());
    let (mut fc, mut sc) = (fallback.conn(), strict.conn());
    assert_eq!(reads_on(&mut fc, 3), [12; 3]);
    assert_eq!(reads_on(&mut sc, 3), [12; 3]);

    let mark = fallback.log_len();
    let stopped = SqlThreadStopped::new(&sb.s1_replica, &sb.s1_primary);
    server(&sb.s1_primary)
        .query_drop(format!("INSERT INTO shop.`{}` VALUES (1)", t.name))
        .expect("a write on the primary");
    let started = Instant::now();
    for admin in [&mut fa, &mut sa] {
        let row = wait_backend(
            admin,
            &sb.s1_replica,
            Duration::from_secs(3),
            "replica not Up",
            |s| s != "Up",
        );
        assert!(
            row.state.starts_with("NotReplicating") && row.state.contains("SQL thread No"),
            "{row:?}"
        );
    }
    eprintln!("replica left rotation after {:?}", started.elapsed());
    // Reads go to the primary, or fail clearly with no_healthy_replica: error.
    assert_eq!(reads_on(&mut fc, 5), [11; 5]);
    let e = explain(&mut fa, "SELECT @@server_id");
    assert_eq!(e.role, "primary", "{e:?}");
    assert!(
        e.backends
            .as_deref()
            .is_some_and(|b| b.contains("no healthy replica")),
        "{e:?}"
    );
    let err = my_err(sc.query_first::<u32, _>("SELECT @@server_id"));
    assert_eq!(err.code, 1105, "{err:?}");
    assert!(
        err.message.contains("s1"),
        "the error names the shard: {err:?}"
    );
    // Writes are unaffected.
    sc.query_drop(format!("INSERT INTO `{}` VALUES (2)", t.name))
        .expect("write with no healthy replica");
    // Let a few more 200 ms health rounds see the same state: the log below must show the
    // change once, not once per round (an absence, which no poll can observe).
    std::thread::sleep(Duration::from_millis(600));

    stopped.resume();
    for admin in [&mut fa, &mut sa] {
        wait_backend(
            admin,
            &sb.s1_replica,
            Duration::from_secs(5),
            "replica Up again",
            |s| s == "Up",
        );
    }
    assert_eq!(reads_on(&mut fc, 3), [12; 3]);
    assert_eq!(reads_on(&mut sc, 3), [12; 3]);
    let log = std::fs::read_to_string(&fallback.log).unwrap_or_default();
    let log = &log[mark as usize..];
    let lines = |needle: &str| {
        log.lines()
            .filter(|l| l.contains(needle) && l.contains(&sb.s1_replica))
            .count()
    };
    assert_eq!(
        lines("backend is not usable"),
        1,
        "log since the stop:\n{log}"
    );
    assert_eq!(lines("backend is up"), 1, "log since the stop:\n{log}");
}

/// A replica whose SQL thread is blocked (a table lock on the replica) falls behind while
/// still replicating: past max_replication_lag_ms it is Lagging and out of rotation, and back
/// once it catches up.
#[test]
fn rw_lagging_replica_leaves_rotation_and_returns() {
    let _exclusive = s1_replica_exclusive();
    let sb = sandbox();
    let t = TableOn::create(&sb.s1_primary, "rw_lag", "id INT PRIMARY KEY, v INT");
    server(&sb.s1_primary)
        .query_drop(format!("INSERT INTO shop.`{}` VALUES (1, 0)", t.name))
        .expect("insert");
    crate::harness::rw::wait_caught_up(&sb.s1_primary, &sb.s1_replica, 30);
    let proxy = s1_proxy("max_replication_lag_ms: 1000");
    let mut admin = proxy.admin();
    let mut c = proxy.conn();
    assert_eq!(reads_on(&mut c, 3), [12; 3]);

    let locked = ReplicaTableLocked::new(&sb.s1_replica, &sb.s1_primary, &t.name);
    server(&sb.s1_primary)
        .query_drop(format!("UPDATE shop.`{}` SET v = 1 WHERE id = 1", t.name))
        .expect("a write the replica cannot apply yet");
    let row = wait_backend(
        &mut admin,
        &sb.s1_replica,
        Duration::from_secs(10),
        "replica Lagging",
        |s| s != "Up",
    );
    assert!(row.state.starts_with("Lagging"), "{row:?}");
    let lag: u64 = row
        .lag_ms
        .as_deref()
        .and_then(|l| l.parse().ok())
        .expect("lag_ms");
    assert!(lag > 1000, "{row:?}");
    assert_eq!(reads_on(&mut c, 5), [11; 5]);
    // The replica is still behind: only the primary has the new value.
    let v: Option<(i32, u32)> = c
        .query_first(format!(
            "SELECT v, @@server_id FROM `{}` WHERE id = 1",
            t.name
        ))
        .expect("read");
    assert_eq!(v, Some((1, 11)));

    locked.release();
    wait_backend(
        &mut admin,
        &sb.s1_replica,
        Duration::from_secs(5),
        "replica Up again",
        |s| s == "Up",
    );
    assert_eq!(reads_on(&mut c, 3), [12; 3]);
}

#[test]
fn rw_unreachable_replica_reads_fail_over_without_client_errors() {
    let sb = sandbox();
    let mut relay = Relay::start(&sb.s0_replica);
    let proxy = Proxy::start(ProxyOpts {
        replicas: vec![ReplicaOpt::new("s0", &relay.addr(), None)],
        read_write_split: Some("health_check_interval_ms: 200".into()),
        connect_timeout_ms: Some(1000),
        rw_users: true,
        ..Default::default()
    });
    let mut admin = proxy.admin();
    wait_replicas_up(&mut admin, Duration::from_secs(30));
    let mut c = proxy.conn();
    assert_eq!(reads_on(&mut c, 5), [2; 5]);

    // Four clients read without pause through the kill and the restart: no client errors.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (mut c, stop) = (proxy.conn(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = BTreeMap::<u32, usize>::new();
                while !stop.load(Ordering::Relaxed) {
                    match c.query_first::<u32, _>("SELECT @@server_id") {
                        Ok(Some(id)) => *seen.entry(id).or_insert(0) += 1,
                        other => return Err(format!("{other:?} after {seen:?}")),
                    }
                }
                Ok(seen)
            })
        })
        .collect();

    // A read in flight on the replica when its connection breaks runs again on the primary.
    let marker = unique("rw_failover_marker");
    let slow_sql = format!("SELECT @@server_id, SLEEP(1), '{marker}'");
    let slow = {
        let mut c = proxy.conn();
        std::thread::spawn(move || {
            c.query_first::<(u32, i32, String), _>(slow_sql)
                .map(|r| r.map(|r| r.0))
        })
    };
    crate::harness::rw::wait_running(&sb.s0_replica, &marker);
    relay.kill();
    let got = slow.join().expect("slow read thread");
    assert!(
        matches!(got, Ok(Some(1))),
        "the read broken on the replica must be answered by the primary, got {got:?}"
    );
    // Reads right after the kill (the replica may still count as Up): no error, the primary.
    assert_eq!(reads_on(&mut c, 20), [1; 20]);
    let row = wait_backend(
        &mut admin,
        &relay.addr(),
        Duration::from_secs(5),
        "replica Down",
        |s| s.starts_with("Down"),
    );
    eprintln!("replica state after the kill: {}", row.state);
    assert_eq!(reads_on(&mut c, 5), [1; 5]);

    relay.restart();
    wait_backend(
        &mut admin,
        &relay.addr(),
        Duration::from_secs(5),
        "replica Up again",
        |s| s == "Up",
    );
    assert_eq!(reads_on(&mut c, 5), [2; 5]);
    assert_eq!(reads_on(&mut proxy.conn(), 5), [2; 5]);
    stop.store(true, Ordering::Relaxed);
    for h in load {
        let seen = h
            .join()
            .expect("load thread")
            .expect("a read of the load failed");
        assert!(
            seen.contains_key(&1) && seen.contains_key(&2),
            "the load saw the primary and the replica: {seen:?}"
        );
    }
}
