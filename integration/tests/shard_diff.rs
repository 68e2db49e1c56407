//! Differential correctness test for sharding: a seeded random stream of statements over the
//! sharded schema `sdiff` (2 shards, sub-tables, replicas in rotation) runs through shardgate
//! and, one by one, on a plain reference schema `sdiff_ref` holding the same data; their
//! results must agree.
//!
//! `SHARD_DIFF_SEED` (default 20240601; also a range `1..5` or a list `1,7,9`: one run per
//! seed, a fresh schema and proxy each) and `SHARD_DIFF_STATEMENTS` (default 3000 steps) choose
//! the stream; a mismatch prints the seed and the statement's index.
//! `SHARD_DIFF_PREPARED_PERCENT` (default 25) of the statements whose values can be parameters
//! run as server-side prepared statements (`?` + bound values) on both sides;
//! `SHARD_DIFF_TXN_PERCENT` (default 3) of the steps are a short transaction (BEGIN, 2-6
//! statements, COMMIT or ROLLBACK) on both sides; `SHARD_DIFF_SESSION_PERCENT` (default 2) of
//! the steps are a session block as drivers and ORMs run them (gen_session_txn: autocommit=0 by
//! statement or connection init, BEGIN / START TRANSACTION, nested savepoints, writes to one
//! sub-table / several sub-tables of one shard / both shards, ended by COMMIT, ROLLBACK, an
//! implicit commit or a disconnect); `SHARD_DIFF_XA_PERCENT` (default 1) of the steps are a
//! client XA transaction (gen_xa; across shards the proxy may refuse, see run_session). After
//! each of those transactions every table's committed contents are compared, through the proxy
//! and straight from the shard primaries, and no transaction may be left open (contents.rs);
//! `SHARD_DIFF_REPAIR` (default 1) then rewrites a differing table from the reference so later
//! findings stand on their own. `SHARD_DIFF_LOCK_WAIT` (default 3 s; 0: server defaults) bounds
//! lock waits on every connection, so a transaction the proxy leaves open costs seconds. A
//! percentage of 0 turns its generator off (all four 0: the
//! stream of the text-only generator). `SHARD_DIFF_DUMP=<file>` writes the whole stream there
//! (with several seeds: `<file>.<seed>`), one numbered statement a line.
//! `shard_diff_self_check` runs the same stream on two plain schemas (no proxy) to validate the
//! generator and comparator.
//! Run: `cargo test --release --test integration shard_diff -- --nocapture --test-threads=1`.

mod compare;
mod contents;
mod gen_mix;
mod gen_prepared;
mod gen_read;
mod gen_route;
mod gen_savepoint;
mod gen_session_txn;
mod gen_txn;
mod gen_write;
mod gen_xa;
mod knobs;
mod model;
mod placement;
mod report;
mod rng;
mod run;
mod run_session;
mod schema;
mod stmt;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

use crate::harness::rw::{s1_replica_shared, server, wait_caught_up, wait_replicas_up};
use crate::harness::{
    BACKEND_PASS, BACKEND_USER, PRIMARY_USER, Proxy, ProxyOpts, ReplicaOpt, opts, sandbox,
};
use knobs::{
    DEFAULT_PREPARED_PERCENT, DEFAULT_SESSION_PERCENT, DEFAULT_TXN_PERCENT, DEFAULT_XA_PERCENT,
    percent,
};
use report::Stats;
use run::{Side, Step, step};
use schema::{DB, REF_DB, TABLES};
use stmt::{Kind, Stmt, Support};

/// The connections' init statements: `SET autocommit=0` when `off` (the mysql crate's
/// `OptsBuilder::init`, run right after the handshake; the crate has no separate autocommit
/// option), and short lock waits (`SHARD_DIFF_LOCK_WAIT` seconds, default 3; 0: the servers'
/// defaults), so that a transaction the proxy left open costs seconds, not a read timeout.
fn with_init(o: OptsBuilder, off: bool) -> OptsBuilder {
    let mut init = Vec::new();
    if off {
        init.push("SET autocommit=0".to_string());
    }
    let wait = knobs::env_number("SHARD_DIFF_LOCK_WAIT", 3);
    if wait > 0 {
        init.push(format!("SET SESSION innodb_lock_wait_timeout = {wait}"));
        init.push(format!("SET SESSION lock_wait_timeout = {}", wait + 2));
    }
    o.init(init)
}

/// A direct connection to a server for checks (metadata locks time out after 10 s).
fn check_conn(addr: &str) -> Conn {
    let mut c = server(addr);
    c.query_drop("SET SESSION lock_wait_timeout = 10, innodb_lock_wait_timeout = 10")
        .expect("lock_wait_timeout");
    c
}

/// A side whose connections go straight to a server, in `db`.
fn direct_side(label: &'static str, addr: &str, db: &str) -> Side {
    let (a, db_name) = (addr.to_string(), db.to_string());
    let o = move || opts(&a, BACKEND_USER, BACKEND_PASS, Some(&db_name));
    let checker = Conn::new(with_init(o(), false)).expect("checker connection");
    let connect = move |off: bool| Conn::new(with_init(o(), off));
    let mut side =
        Side::new(label, db, Box::new(connect)).unwrap_or_else(|e| panic!("shard_diff: {e}"));
    side.checker = Some(checker);
    side.servers = vec![(addr.to_string(), check_conn(addr))];
    side
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
    m.session_percent = percent("SHARD_DIFF_SESSION_PERCENT", DEFAULT_SESSION_PERCENT);
    m.xa_percent = percent("SHARD_DIFF_XA_PERCENT", DEFAULT_XA_PERCENT);
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
    if let Ok(mut path) = std::env::var("SHARD_DIFF_DUMP") {
        if knobs::seeds().len() > 1 {
            path = format!("{path}.{seed}");
        }
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

/// One seed through the proxy: the failures found (empty when it agrees).
fn proxy_run(seed: u64, statements: usize) -> Vec<String> {
    let sb = sandbox();
    let _replicating = s1_replica_shared();
    schema::create_physical(&sb.s0_primary, &sb.s1_primary);
    schema::create_logical(&sb.s0_primary, REF_DB);
    wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
    wait_caught_up(&sb.s1_primary, &sb.s1_replica, 30);
    let proxy = start_proxy();
    let addr = proxy.addr();
    let app = move || opts(&addr, "app", "app-pw", Some(DB));
    let connect = move |off: bool| Conn::new(with_init(app(), off));
    let mut test =
        Side::new("proxy", DB, Box::new(connect)).unwrap_or_else(|e| panic!("shard_diff: {e}"));
    let (user, pass) = PRIMARY_USER;
    let checker = Conn::new(with_init(opts(&proxy.addr(), user, pass, Some(DB)), false));
    test.checker = Some(checker.unwrap_or_else(|e| panic!("shard_diff: checker: {e}")));
    test.servers = vec![
        (sb.s0_primary.clone(), check_conn(&sb.s0_primary)),
        (sb.s1_primary.clone(), check_conn(&sb.s1_primary)),
    ];
    test.physical = true;
    test.repair = knobs::switch("SHARD_DIFF_REPAIR", true);
    test.after_repair = Some(Box::new(|| {
        let sb = sandbox();
        wait_caught_up(&sb.s0_primary, &sb.s0_replica, 30);
        wait_caught_up(&sb.s1_primary, &sb.s1_replica, 30);
    }));
    let mut reference = direct_side("reference", &sb.s0_primary, REF_DB);

    let (mut stats, abort, elapsed) = drive(seed, statements, &mut test, &mut reference, true);
    if abort.is_none() {
        stats
            .other
            .extend(placement::check(&sb.s0_primary, &sb.s1_primary));
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
            "{} placement problems / proxy panics / failed repairs",
            stats.other.len()
        ));
    }
    failures
}

#[test]
fn shard_diff_proxy_matches_reference() {
    let statements = knobs::statements();
    let mut failures = Vec::new();
    for seed in knobs::seeds() {
        let found = proxy_run(seed, statements);
        if !found.is_empty() {
            failures.push(format!("SHARD_DIFF_SEED={seed}: {}", found.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "shard_diff failed (SHARD_DIFF_STATEMENTS={statements}): {}; see the summaries \
         printed above",
        failures.join(" | ")
    );
}

/// The same stream on two plain schemas: validates the generator and the comparator (zero
/// mismatches, nothing refused, and only duplicate-key INSERTs fail, alike on both sides).
#[test]
fn shard_diff_self_check() {
    let statements = knobs::statements();
    for seed in knobs::seeds() {
        self_check(seed, statements);
    }
}

fn self_check(seed: u64, statements: usize) {
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
        .filter(|(k, code)| {
            !(*k == Kind::InsertDup && *code == 1062 || *k == Kind::SavepointGone && *code == 1305)
        })
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
