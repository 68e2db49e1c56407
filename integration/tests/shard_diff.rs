//! Differential correctness test for sharding: a seeded random stream of statements over the
//! sharded schema `sdiff` (2 shards, sub-tables, replicas in rotation) runs through shardgate
//! and, one by one, on a plain reference schema `sdiff_ref` holding the same data; their
//! results must agree.
//!
//! `SHARD_DIFF_SEED` (default 20240601) and `SHARD_DIFF_STATEMENTS` (default 3000) choose the
//! stream; a mismatch prints the seed and the statement's index. `SHARD_DIFF_PREPARED_PERCENT`
//! (default 25) of the statements whose values can be parameters run as server-side prepared
//! statements (`?` + bound values) on both sides; `SHARD_DIFF_TXN_PERCENT` (default 3) of the
//! steps are a transaction (BEGIN, 2-6 statements, COMMIT or ROLLBACK) on both sides; 0
//! turns either off (and gives the stream of the text-only generator). `SHARD_DIFF_DUMP=<file>`
//! writes the whole stream there, one numbered statement a line. `shard_diff_self_check` runs
//! the same stream on two plain schemas (no proxy) to validate the generator and comparator.
//! Run: `cargo test --release --test integration shard_diff -- --nocapture`.

mod compare;
mod gen_mix;
mod gen_prepared;
mod gen_read;
mod gen_txn;
mod gen_write;
mod model;
mod placement;
mod report;
mod rng;
mod run;
mod schema;
mod stmt;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use mysql::Conn;
use mysql::prelude::Queryable;

use crate::harness::rw::{s1_replica_shared, wait_caught_up, wait_replicas_up};
use crate::harness::{BACKEND_PASS, BACKEND_USER, Proxy, ProxyOpts, ReplicaOpt, opts, sandbox};
use report::Stats;
use run::{Side, Step, step};
use schema::{DB, REF_DB, TABLES};
use stmt::{Kind, Stmt, Support};

const DEFAULT_SEED: u64 = 20_240_601;
const DEFAULT_STATEMENTS: usize = 3000;
const DEFAULT_PREPARED_PERCENT: u64 = 25;
const DEFAULT_TXN_PERCENT: u64 = 3;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        _ => default,
    }
}

/// A percentage from the environment (0-100).
fn percent(name: &str, default: u64) -> u32 {
    let p = env_number(name, default);
    assert!(p <= 100, "{name} must be 0-100, got {p}");
    p as u32
}

/// (seed, number of random statements).
fn settings() -> (u64, usize) {
    let seed = env_number("SHARD_DIFF_SEED", DEFAULT_SEED);
    let n = env_number("SHARD_DIFF_STATEMENTS", DEFAULT_STATEMENTS as u64) as usize;
    (seed, n)
}

/// A side whose connections go straight to a server, in `db`.
fn direct_side(label: &'static str, addr: &str, db: &str) -> Side {
    let (addr, db_name) = (addr.to_string(), db.to_string());
    let connect = move || Conn::new(opts(&addr, BACKEND_USER, BACKEND_PASS, Some(&db_name)));
    Side::new(label, db, Box::new(connect)).unwrap_or_else(|e| panic!("shard_diff: {e}"))
}

/// Base data, the random statements, then every table's full contents. Returns the stats
/// and, if the run stopped early, why.
fn drive(
    seed: u64,
    statements: usize,
    test: &mut Side,
    reference: &mut Side,
    expect_refusals: bool,
) -> (Stats, Option<String>, f64) {
    let started = Instant::now();
    let mut m = model::Model::new(seed);
    m.prepared_percent = percent("SHARD_DIFF_PREPARED_PERCENT", DEFAULT_PREPARED_PERCENT);
    m.txn_percent = percent("SHARD_DIFF_TXN_PERCENT", DEFAULT_TXN_PERCENT);
    let mut stats = Stats::new(seed);
    let mut stream = schema::base_data(&mut m);
    let base = stream.len();
    for _ in 0..statements {
        stream.extend(gen_mix::next(&mut m));
    }
    for t in &TABLES {
        let sql = format!("SELECT * FROM {} ORDER BY {}", t.name, t.pk);
        stream.push(Stmt::ordered(Kind::Contents, sql));
    }
    if let Ok(path) = std::env::var("SHARD_DIFF_DUMP") {
        // The whole stream, one statement a line, to find what led up to a mismatch.
        let lines: Vec<String> = stream
            .iter()
            .enumerate()
            .map(|(i, s)| format!("#{i} {:?}: {}", s.kind, s.shown()))
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n")
            .unwrap_or_else(|e| panic!("SHARD_DIFF_DUMP={path}: {e}"));
    }
    let mut abort = None;
    for (i, s) in stream.iter().enumerate() {
        if let Step::Abort(why) = step(i, s, test, reference, &mut stats, expect_refusals) {
            abort = Some(format!("stopped at statement #{i}: {why}"));
            break;
        }
        // Data the side under test failed to load makes everything after it noise.
        let failed = stats.mismatches.iter().any(|m| !m.test_ok);
        if i + 1 == base && (failed || stats.total_refused() > 0) {
            abort = Some(format!(
                "the base data set ({base} INSERTs) did not load identically on the {}; \
                 the random statements were not run",
                test.label
            ));
            break;
        }
    }
    (stats, abort, started.elapsed().as_secs_f64())
}

fn start_proxy() -> Proxy {
    let sb = sandbox();
    let o = ProxyOpts {
        replicas: vec![
            ReplicaOpt::new("s0", &sb.s0_replica, None),
            ReplicaOpt::new("s1", &sb.s1_replica, None),
        ],
        read_write_split: Some("health_check_interval_ms: 200\nread_your_writes: gtid".into()),
        rw_users: true,
        sharding: Some(schema::SHARDING_YAML.to_string()),
        ..Default::default()
    };
    let started = catch_unwind(AssertUnwindSafe(|| Proxy::start(o)));
    let proxy = started.unwrap_or_else(|e| {
        let why = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "shard_diff: shardgate did not start with the test's `sharding:` config \
             (is the sharding section implemented?):\n{why}"
        )
    });
    wait_replicas_up(&mut proxy.admin(), Duration::from_secs(30));
    proxy
}

/// Distinct panic messages in the proxy's log (at most 5), each with the line after it.
fn log_panics(proxy: &Proxy) -> Vec<String> {
    let log = std::fs::read_to_string(&proxy.log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let mut out: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.contains("panicked at") {
            let next = lines.get(i + 1).copied().unwrap_or("");
            let text = format!("shardgate panicked: {line} {next}");
            if !out.contains(&text) && out.len() < 5 {
                out.push(text);
            }
        }
    }
    out
}

#[test]
fn shard_diff_proxy_matches_reference() {
    let (seed, statements) = settings();
    let sb = sandbox();
    let _replicating = s1_replica_shared();
    schema::create_physical(&sb.s0_primary, &sb.s1_primary);
    schema::create_logical(&sb.s0_primary, REF_DB);
    wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
    wait_caught_up(&sb.s1_primary, &sb.s1_replica, 30);
    let proxy = start_proxy();
    let addr = proxy.addr();
    let connect = move || Conn::new(opts(&addr, "app", "app-pw", Some(DB)));
    let mut test =
        Side::new("proxy", DB, Box::new(connect)).unwrap_or_else(|e| panic!("shard_diff: {e}"));
    let mut reference = direct_side("reference", &sb.s0_primary, REF_DB);

    let (mut stats, abort, elapsed) = drive(seed, statements, &mut test, &mut reference, true);
    if abort.is_none() {
        stats.other = placement::check(&sb.s0_primary, &sb.s1_primary);
    }
    stats.other.extend(log_panics(&proxy));
    println!("{}", stats.summary("proxy", elapsed));

    let mut failures = Vec::new();
    if let Some(why) = abort {
        failures.push(why);
    }
    if !stats.mismatches.is_empty() {
        failures.push(format!("{} mismatches", stats.mismatches.len()));
    }
    if !stats.wrongly_refused.is_empty() {
        failures.push(format!(
            "{} refusals of statements that must be supported",
            stats.wrongly_refused.len()
        ));
    }
    let not_refused = stats.refuse_kinds_not_refused();
    if !not_refused.is_empty() {
        failures.push(format!("must-refuse kinds accepted: {not_refused:?}"));
    }
    if !stats.other.is_empty() {
        failures.push(format!(
            "{} placement problems / proxy panics",
            stats.other.len()
        ));
    }
    assert!(
        failures.is_empty(),
        "shard_diff failed (SHARD_DIFF_SEED={seed} SHARD_DIFF_STATEMENTS={statements}): {}; \
         see the summary printed above",
        failures.join("; ")
    );
}

/// The same stream on two plain schemas: validates the generator and the comparator (zero
/// mismatches, nothing refused, and only duplicate-key INSERTs fail, alike on both sides).
#[test]
fn shard_diff_self_check() {
    let (seed, statements) = settings();
    let sb = sandbox();
    schema::create_logical(&sb.s1_primary, "sdiff_self_a");
    schema::create_logical(&sb.s0_primary, "sdiff_self_b");
    let mut a = direct_side("plain schema", &sb.s1_primary, "sdiff_self_a");
    let mut b = direct_side("reference", &sb.s0_primary, "sdiff_self_b");
    let (stats, abort, elapsed) = drive(seed, statements, &mut a, &mut b, false);
    println!("{}", stats.summary("plain schema", elapsed));
    assert_eq!(abort, None, "self-check stopped early");
    assert!(stats.mismatches.is_empty(), "self-check mismatches");
    assert_eq!(stats.total_refused(), 0, "self-check refusals");
    let unexpected: Vec<_> = stats
        .both_failed_codes
        .keys()
        .filter(|(k, code)| !(*k == Kind::InsertDup && *code == 1062))
        .collect();
    assert!(
        unexpected.is_empty(),
        "statements failing on both sides: {unexpected:?}"
    );
    // Negative control: a change on one side only shows up, in order and as a multiset.
    a.conn
        .query_drop("UPDATE orders SET amount = amount + 1 ORDER BY id LIMIT 1")
        .expect("one-sided change");
    let mut control = Stats::new(seed);
    let checks = [
        Stmt::ordered(Kind::Contents, "SELECT * FROM orders ORDER BY id".into()),
        Stmt::read(Kind::Contents, "SELECT * FROM orders".into()),
    ];
    for (i, s) in checks.iter().enumerate() {
        step(i, s, &mut a, &mut b, &mut control, false);
    }
    assert_eq!(
        control.mismatches.len(),
        2,
        "the comparator missed a change"
    );
    let kinds = stats
        .per_kind
        .keys()
        .filter(|k| k.support() != Support::May)
        .count();
    assert!(
        kinds > 10,
        "the stream covers too few categories: {:?}",
        stats.per_kind
    );
}
