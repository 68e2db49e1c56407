//! Server-side prepared statements with read/write splitting: reads execute on the replica
//! (prepared there lazily, parameter types filled in when the client omits them), writes and
//! transactions on the primary, and a session reads its own writes.

use std::time::Duration;

use mysql::prelude::Queryable;

use crate::harness::raw::{self, execute_packet};
use crate::harness::rw::wait_replicas_up;
use crate::harness::{Proxy, ProxyOpts, ReplicaOpt, Table, sandbox};

const PRIMARY_ID: u64 = 1;
const REPLICA_ID: u64 = 2;

/// A proxy with s0's replica, returned once its health check reports the replica Up.
fn split_proxy(extra: ProxyOpts) -> Proxy {
    let sb = sandbox();
    let proxy = Proxy::start(ProxyOpts {
        replicas: vec![ReplicaOpt::new("s0", &sb.s0_replica, None)],
        rw_users: true,
        ..extra
    });
    wait_replicas_up(&mut proxy.admin(), Duration::from_secs(10));
    proxy
}

#[test]
fn prepared_reads_run_on_the_replica_and_writes_on_the_primary() {
    let proxy = split_proxy(ProxyOpts::default());
    let t = Table::create("rwps", "id INT PRIMARY KEY, v INT");
    let mut c = proxy.conn();
    let read_id = c.prep("SELECT @@server_id").expect("prepare");
    for _ in 0..5 {
        let id: Option<u64> = c.exec_first(&read_id, ()).expect("execute");
        assert_eq!(
            id,
            Some(REPLICA_ID),
            "a prepared read outside a transaction"
        );
    }
    let insert = c
        .prep(format!("INSERT INTO {} (id, v) VALUES (?, ?)", t.name))
        .expect("prepare insert");
    let select = c
        .prep(format!(
            "SELECT v, @@server_id FROM {} WHERE id = ?",
            t.name
        ))
        .expect("prepare select");
    for i in 1..=200i64 {
        c.exec_drop(&insert, (i, i * 10)).expect("insert");
        // Read-your-writes: the replica answers only once it has the row, else the primary.
        let row: Option<(i64, u64)> = c.exec_first(&select, (i,)).expect("select");
        let (v, server) = row.unwrap_or_else(|| panic!("row {i} not visible to its writer"));
        assert_eq!(v, i * 10);
        assert!([PRIMARY_ID, REPLICA_ID].contains(&server));
    }
    // Inside a transaction everything stays on the primary.
    c.query_drop("BEGIN").expect("begin");
    let id: Option<u64> = c.exec_first(&read_id, ()).expect("execute in trx");
    assert_eq!(id, Some(PRIMARY_ID));
    c.query_drop("COMMIT").expect("commit");
    // The writes were made on the primary only (the replica has them by replication).
    let n: Option<i64> = crate::harness::direct()
        .query_first(format!("SELECT COUNT(*) FROM {}", t.name))
        .expect("count");
    assert_eq!(n, Some(200));
}

/// The first execute sends parameter types; later ones may not. A replica connection on which
/// the statement is prepared afresh has never seen them: the proxy fills them in.
#[test]
fn parameter_types_are_supplied_to_a_fresh_replica_statement() {
    // Idle replica connections close after 1 s, so the second execute gets a new one.
    let proxy = split_proxy(ProxyOpts {
        idle_timeout_ms: Some(1000),
        ..Default::default()
    });
    let mut p = proxy.raw(raw::modern());
    let (_, id, _, params) = p
        .prepare("SELECT ? + 1 AS v, @@server_id AS s")
        .expect("prepare");
    assert_eq!(params, 1);
    let run = |p: &mut raw::RawConn, value: i64, send_types: bool| -> (i64, u64) {
        let mut packet =
            execute_packet(id, 0, &[(0x08, false, Some(value.to_le_bytes().to_vec()))]);
        if !send_types {
            // new-params-bound flag after the 1-byte NULL bitmap, then 2 type bytes
            packet[11] = 0;
            packet.drain(12..14);
        }
        p.send_command(&packet);
        let reply = p.read_results();
        let row = reply
            .iter()
            .find(|r| r.first() == Some(&0) && r.len() == 18)
            .unwrap_or_else(|| panic!("a binary row in {reply:?}"));
        let v = i64::from_le_bytes(row[2..10].try_into().expect("8 bytes"));
        let s = u64::from_le_bytes(row[10..18].try_into().expect("8 bytes"));
        (v, s)
    };
    assert_eq!(run(&mut p, 41, true), (42, REPLICA_ID));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(run(&mut p, 9, false), (10, REPLICA_ID), "types filled in");
}

/// A shard without replicas serves its reads from the primary, whatever
/// `no_healthy_replica` says (that setting is about replicas that exist but are unhealthy).
#[test]
fn shards_without_replicas_read_from_the_primary() {
    let proxy = Proxy::start(ProxyOpts {
        read_write_split: Some("no_healthy_replica: error".into()),
        ..Default::default()
    });
    let mut c = proxy.conn();
    let id: Option<u64> = c.query_first("SELECT @@server_id").expect("text read");
    assert_eq!(id, Some(PRIMARY_ID));
    let stmt = c.prep("SELECT @@server_id").expect("prepare");
    let id: Option<u64> = c.exec_first(&stmt, ()).expect("prepared read");
    assert_eq!(id, Some(PRIMARY_ID));
}

/// Session state made by prepared statements follows the session like that of text ones: a
/// temporary table keeps later reads on the primary, a session SET reaches replica reads.
#[test]
fn session_state_from_prepared_statements_is_kept() {
    let proxy = split_proxy(ProxyOpts::default());
    let mut c = proxy.conn();
    let tmp = crate::harness::unique("rwps_tmp");
    c.exec_drop(format!("CREATE TEMPORARY TABLE {tmp} (a INT)"), ())
        .expect("prepared CREATE TEMPORARY TABLE");
    c.exec_drop(format!("INSERT INTO {tmp} VALUES (7)"), ())
        .expect("insert");
    let a: Option<i64> = c
        .query_first(format!("SELECT a FROM {tmp}"))
        .expect("the temporary table is visible to its session");
    assert_eq!(a, Some(7));

    let mut d = proxy.conn();
    d.exec_drop("SET time_zone = '+05:00'", ())
        .expect("prepared SET");
    let tz: Option<String> = d.query_first("SELECT @@session.time_zone").expect("read");
    assert_eq!(tz.as_deref(), Some("+05:00"));
}
