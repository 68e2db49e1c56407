//! Reads spread over replicas by weight. The sandbox has one replica per shard, so shard s0 is
//! given both real replicas: 23307 (s0's, server_id 2) and 23317 (s1's, server_id 12). Reads of
//! `SELECT @@server_id` touch no table, so where they land is all that is measured.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::rw::{backends, s1_replica_shared, server_id, wait_replicas_up};
use crate::harness::{Proxy, ProxyOpts, ReplicaOpt, sandbox};

const S0_REPLICA: u32 = 2;
const S1_REPLICA: u32 = 12;
const READS: usize = 400;

fn proxy(weights: (u32, u32), balance: &str) -> Proxy {
    let sb = sandbox();
    let proxy = Proxy::start(ProxyOpts {
        replicas: vec![
            ReplicaOpt::new("s0", &sb.s0_replica, Some(weights.0)),
            ReplicaOpt::new("s0", &sb.s1_replica, Some(weights.1)),
        ],
        balance: vec![("s0".into(), balance.into())],
        read_write_split: Some("health_check_interval_ms: 100".into()),
        rw_users: true,
        ..Default::default()
    });
    wait_replicas_up(&mut proxy.admin(), Duration::from_secs(30));
    proxy
}

/// Server id → number of the `READS` reads it answered, from one session.
fn spread(proxy: &Proxy) -> BTreeMap<u32, usize> {
    let mut c = proxy.conn();
    let mut counts = BTreeMap::new();
    for _ in 0..READS {
        *counts
            .entry(server_id(&mut c, "SELECT @@server_id"))
            .or_insert(0) += 1;
    }
    counts
}

/// Measures the spread while both replicas stayed in rotation. The health.rs tests may stop
/// 23317's SQL thread meanwhile; the proxy logs every replica leaving `Up`, and a run during
/// which that happened is measured again (at most 5 runs).
fn stable_spread(
    proxy: &Proxy,
    accept: impl Fn(&BTreeMap<u32, usize>) -> bool,
) -> BTreeMap<u32, usize> {
    let mut admin = proxy.admin();
    for _ in 0..5 {
        wait_replicas_up(&mut admin, Duration::from_secs(30));
        let mark = proxy.log_len();
        let counts = spread(proxy);
        if accept(&counts) {
            return counts;
        }
        // Measure again only if a replica left rotation during the run (polled briefly: the
        // state is published just before the log line is written).
        let started = std::time::Instant::now();
        while !proxy.log_has_since(mark, "backend is not usable") {
            if started.elapsed() > Duration::from_millis(500) {
                return counts;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("a replica left rotation during the run ({counts:?}); measuring again");
    }
    panic!("the spread was disturbed by replica state changes in 5 runs")
}

#[test]
fn rw_round_robin_spreads_reads_exactly_by_weight() {
    let _replicating = s1_replica_shared();
    let proxy = proxy((3, 1), "round_robin");
    let want = BTreeMap::from([(S0_REPLICA, 300), (S1_REPLICA, 100)]);
    let got = stable_spread(&proxy, |c| *c == want);
    assert_eq!(got, want);
}

#[test]
fn rw_weighted_random_spreads_reads_by_weight() {
    let _replicating = s1_replica_shared();
    let proxy = proxy((3, 1), "weighted_random");
    // 75 % ± 8 % of 400: 268..=332 (the binomial's standard deviation is 8.7 reads).
    let ok = |c: &BTreeMap<u32, usize>| {
        let a = c.get(&S0_REPLICA).copied().unwrap_or(0);
        let b = c.get(&S1_REPLICA).copied().unwrap_or(0);
        c.len() == 2 && a + b == READS && (268..=332).contains(&a)
    };
    let got = stable_spread(&proxy, ok);
    assert!(ok(&got), "{got:?}");
}

#[test]
fn rw_least_outstanding_uses_only_the_replicas() {
    let _replicating = s1_replica_shared();
    let proxy = proxy((3, 1), "least_outstanding");
    let got = spread(&proxy);
    assert!(
        got.keys().all(|id| [S0_REPLICA, S1_REPLICA].contains(id)),
        "reads answered by {got:?}"
    );
    assert_eq!(got.values().sum::<usize>(), READS);

    // With a read in flight on 23307 (1 per 3 units of weight), the next read goes to 23317
    // (0 in flight); once it is done, to 23307 again (a tie goes to the larger weight).
    let sb = sandbox();
    let marker = crate::harness::unique("rw_lo_marker");
    let slow_sql = format!("SELECT @@server_id, SLEEP(2), '{marker}'");
    let slow = {
        let mut c = proxy.conn();
        std::thread::spawn(move || server_id(&mut c, &slow_sql))
    };
    crate::harness::rw::wait_running(&sb.s0_replica, &marker);
    let mut c = proxy.conn();
    assert_eq!(server_id(&mut c, "SELECT @@server_id"), S1_REPLICA);
    assert_eq!(slow.join().expect("slow read"), S0_REPLICA);
    assert_eq!(server_id(&mut c, "SELECT @@server_id"), S0_REPLICA);
}

#[test]
fn rw_weight_zero_replica_is_never_used() {
    let _replicating = s1_replica_shared();
    let sb = sandbox();
    let proxy = proxy((1, 0), "round_robin");
    let got = stable_spread(&proxy, |c| c.keys().all(|id| *id == S0_REPLICA));
    assert_eq!(got, BTreeMap::from([(S0_REPLICA, READS)]));
    let rows = backends(&mut proxy.admin());
    let zero = rows
        .iter()
        .find(|r| r.backend.ends_with(&sb.s1_replica))
        .expect("the weight-0 replica is listed");
    assert_eq!(zero.weight.as_deref(), Some("0"), "{zero:?}");

    // Only a weight-0 replica: reads go to the primary.
    let only_zero = Proxy::start(ProxyOpts {
        replicas: vec![ReplicaOpt::new("s0", &sb.s0_replica, Some(0))],
        read_write_split: Some("health_check_interval_ms: 100".into()),
        rw_users: true,
        ..Default::default()
    });
    wait_replicas_up(&mut only_zero.admin(), Duration::from_secs(30));
    let mut c = only_zero.conn();
    for _ in 0..20 {
        assert_eq!(server_id(&mut c, "SELECT @@server_id"), 1);
    }
}
