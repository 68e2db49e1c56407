//! Read-your-writes with a replica that is really behind (its SQL thread stopped), in both
//! modes, and a mixed multi-client load where every read after a write sees it.
//!
//! The read-your-writes tests use shard s1 (primary server_id 11, replica 12) so that s0's
//! replica stays undisturbed for other tests, and a health-check interval of a day: the
//! replica is checked (Up) once at start and then kept in rotation although its SQL thread is
//! stopped, so that what keeps the writing session's reads correct is read-your-writes, not
//! the replica leaving rotation (rw_failover.rs covers that).

use std::sync::{Arc, Barrier};
use std::time::Duration;

use mysql::Conn;
use mysql::prelude::Queryable;

use crate::harness::rw::{
    ReplicaTableLocked, SqlThreadStopped, TableOn, rw_proxy, s1_replica_exclusive, server,
    wait_caught_up, wait_for, wait_replicas_up,
};
use crate::harness::{Proxy, ProxyOpts, ReplicaOpt, Table, sandbox};

const S1_PRIMARY: u32 = 11;
const S1_REPLICA: u32 = 12;
const PAIRS: i64 = 1000;

fn s1_proxy(rw: &str) -> Proxy {
    let sb = sandbox();
    let proxy = Proxy::start(ProxyOpts {
        replicas: vec![ReplicaOpt::new("s1", &sb.s1_replica, None)],
        default_shard: Some("s1".into()),
        read_write_split: Some(format!("health_check_interval_ms: 86400000\n{rw}")),
        rw_users: true,
        ..Default::default()
    });
    wait_replicas_up(&mut proxy.admin(), Duration::from_secs(30));
    proxy
}

/// A table on s1 with the row (1, 0), already on s1's replica.
fn s1_table() -> TableOn {
    let sb = sandbox();
    let t = TableOn::create(&sb.s1_primary, "rw_ryw", "id INT PRIMARY KEY, v INT");
    server(&sb.s1_primary)
        .query_drop(format!("INSERT INTO shop.`{}` VALUES (1, 0)", t.name))
        .expect("insert");
    wait_caught_up(&sb.s1_primary, &sb.s1_replica, 30);
    t
}

fn read(c: &mut Conn, table: &str) -> (i64, u32) {
    c.query_first(format!("SELECT v, @@server_id FROM `{table}` WHERE id = 1"))
        .expect("read")
        .expect("a row")
}

/// Runs `PAIRS` write-then-read pairs in `writer` with the replica's SQL thread stopped; every
/// read must return its own write (so it cannot come from the replica). Another session that
/// never wrote still reads the replica's stale row. Returns with replication running again.
fn pairs_with_replica_stopped(proxy: &Proxy, table: &str) -> Conn {
    let sb = sandbox();
    let mut writer = proxy.conn();
    let mut other = proxy.conn();
    assert_eq!(
        read(&mut writer, table),
        (0, S1_REPLICA),
        "before any write"
    );
    assert_eq!(read(&mut other, table), (0, S1_REPLICA), "before any write");
    let stopped = SqlThreadStopped::new(&sb.s1_replica, &sb.s1_primary);
    for i in 1..=PAIRS {
        writer
            .query_drop(format!("UPDATE `{table}` SET v = {i} WHERE id = 1"))
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
        let got = read(&mut writer, table);
        assert_eq!(got, (i, S1_PRIMARY), "read after write {i}: (v, server_id)");
        if i % 250 == 0 {
            assert_eq!(
                read(&mut other, table),
                (0, S1_REPLICA),
                "a session that never wrote reads the (stopped) replica"
            );
        }
    }
    stopped.resume();
    writer
}

#[test]
fn rw_read_your_writes_gtid_1000_pairs_with_replica_stopped() {
    let _exclusive = s1_replica_exclusive();
    let t = s1_table();
    let proxy = s1_proxy("read_your_writes: gtid\ngtid_wait_timeout_ms: 5");
    let mut writer = pairs_with_replica_stopped(&proxy, &t.name);
    // The replica has applied the writer's last commit: its reads go there again.
    assert_eq!(read(&mut writer, &t.name), (PAIRS, S1_REPLICA));
}

#[test]
fn rw_read_your_writes_primary_window_1000_pairs_with_replica_stopped() {
    let _exclusive = s1_replica_exclusive();
    let t = s1_table();
    let proxy = s1_proxy("read_your_writes: primary_window\nprimary_window_ms: 2000");
    let mut writer = pairs_with_replica_stopped(&proxy, &t.name);
    // Within the window after the last write the primary answers; after it, the replica.
    let got = wait_for(
        Duration::from_secs(10),
        "the writer's reads back on the replica",
        || match read(&mut writer, &t.name) {
            (v, S1_REPLICA) => Ok(v),
            other => Err(format!("{other:?}")),
        },
    );
    assert_eq!(got, PAIRS);
}

/// Read-your-writes (gtid) with live health checks: the replica falls behind (its SQL thread
/// blocked by a table lock, lag well under max_replication_lag_ms) yet stays Up and in
/// rotation; the writer still reads its own writes, a session that never wrote reads the
/// replica's older row.
#[test]
fn rw_read_your_writes_gtid_with_a_lagging_replica_in_rotation() {
    const N: i64 = 300;
    let _exclusive = s1_replica_exclusive();
    let sb = sandbox();
    let t = s1_table();
    let proxy = Proxy::start(ProxyOpts {
        replicas: vec![ReplicaOpt::new("s1", &sb.s1_replica, None)],
        default_shard: Some("s1".into()),
        read_write_split: Some(
            "health_check_interval_ms: 100\nmax_replication_lag_ms: 60000\ngtid_wait_timeout_ms: 5"
                .into(),
        ),
        rw_users: true,
        ..Default::default()
    });
    let mut admin = proxy.admin();
    wait_replicas_up(&mut admin, Duration::from_secs(30));
    let (mut writer, mut other) = (proxy.conn(), proxy.conn());
    assert_eq!(read(&mut other, &t.name), (0, S1_REPLICA));
    let locked = ReplicaTableLocked::new(&sb.s1_replica, &sb.s1_primary, &t.name);
    for i in 1..=N {
        writer
            .query_drop(format!("UPDATE `{}` SET v = {i} WHERE id = 1", t.name))
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
        assert_eq!(
            read(&mut writer, &t.name),
            (i, S1_PRIMARY),
            "read after write {i}"
        );
    }
    assert_eq!(
        read(&mut other, &t.name),
        (0, S1_REPLICA),
        "the other session"
    );
    let rows = crate::harness::rw::backends(&mut admin);
    let replica = crate::harness::rw::backend(&rows, &sb.s1_replica).expect("replica row");
    assert!(
        replica.is_up(),
        "the replica stayed in rotation: {replica:?}"
    );
    locked.release();
    assert_eq!(
        read(&mut writer, &t.name),
        (N, S1_REPLICA),
        "after catch-up"
    );
}

/// 16 clients × 300 statements through a proxy with s0's replica in rotation (GTID
/// read-your-writes, the defaults): each round updates one of the client's own rows, reads it
/// back (must see the write), and reads some other client's row.
#[test]
fn rw_mixed_load_16_clients_reads_see_their_writes() {
    const CLIENTS: usize = 16;
    const ROUNDS: i64 = 100;
    const ROWS_EACH: i64 = 4;
    let t = Arc::new(Table::create("rw_load", "id INT PRIMARY KEY, v BIGINT"));
    {
        let mut c = crate::harness::direct();
        let values: Vec<String> = (0..CLIENTS as i64 * ROWS_EACH)
            .map(|id| format!("({id}, -1)"))
            .collect();
        c.query_drop(format!(
            "INSERT INTO `{}` VALUES {}",
            t.name,
            values.join(",")
        ))
        .expect("rows");
        let sb = sandbox();
        wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
    }
    let proxy = Arc::new(rw_proxy("", |_| {}));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS as i64)
        .map(|client| {
            let (t, proxy, barrier) = (Arc::clone(&t), Arc::clone(&proxy), Arc::clone(&barrier));
            std::thread::spawn(move || -> Result<[usize; 2], String> {
                let mut c = proxy
                    .conn_as("app", "app-pw", Some("shop"))
                    .map_err(|e| format!("client {client}: connect: {e}"))?;
                barrier.wait();
                let mut replica_reads = [0usize; 2];
                for r in 0..ROUNDS {
                    let own = client * ROWS_EACH + r % ROWS_EACH;
                    let v = client * 1_000_000 + r;
                    let ctx = |what: &str, e: &dyn std::fmt::Display| {
                        format!("client {client} round {r}: {what}: {e}")
                    };
                    c.query_drop(format!("UPDATE `{}` SET v = {v} WHERE id = {own}", t.name))
                        .map_err(|e| ctx("update", &e))?;
                    let got: Option<(i64, u32)> = c
                        .query_first(format!(
                            "SELECT v, @@server_id FROM `{}` WHERE id = {own}",
                            t.name
                        ))
                        .map_err(|e| ctx("read after write", &e))?;
                    match got {
                        Some((g, sid)) if g == v => replica_reads[0] += usize::from(sid == 2),
                        other => {
                            return Err(ctx(
                                "read after write",
                                &format!("wrote {v}, read {other:?}"),
                            ));
                        }
                    }
                    let theirs = (own * 7 + r) % (CLIENTS as i64 * ROWS_EACH);
                    let got: Option<(i64, u32)> = c
                        .query_first(format!(
                            "SELECT v, @@server_id FROM `{}` WHERE id = {theirs}",
                            t.name
                        ))
                        .map_err(|e| ctx("point select", &e))?;
                    match got {
                        Some((_, sid)) => replica_reads[1] += usize::from(sid == 2),
                        None => return Err(ctx("point select", &"no row")),
                    }
                }
                Ok(replica_reads)
            })
        })
        .collect();
    let mut errors = Vec::new();
    let mut replica_reads = 0;
    for h in handles {
        match h.join().expect("client thread panicked") {
            Ok([a, b]) => replica_reads += a + b,
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "{} clients failed: {errors:#?}",
        errors.len()
    );
    // Read/write splitting was active: some reads were served by the replica.
    assert!(replica_reads > 0, "no read of the load went to the replica");
    eprintln!(
        "mixed load: {replica_reads} of {} reads served by the replica",
        CLIENTS as i64 * ROUNDS * 2
    );
    // The final values, on the primary.
    let rows: Vec<(i64, i64)> = crate::harness::direct()
        .query(format!("SELECT id, v FROM `{}` ORDER BY id", t.name))
        .expect("final rows");
    for (id, v) in rows {
        let client = id / ROWS_EACH;
        let last_round = (ROUNDS - 1) - ((ROUNDS - 1 - id % ROWS_EACH) % ROWS_EACH);
        assert_eq!(v, client * 1_000_000 + last_round, "row {id}");
    }
}
