//! Pool hygiene: many clients do random work on a sharded schema and vanish at random points
//! (mid-login, mid-result, mid-transaction, inside an XA transaction, with changed session
//! state), while the default shard's primary freezes past the login timeout and then thaws
//! (a relay holds its bytes: what the proxy sees of a SIGSTOPped server). Afterwards every
//! idle pooled connection is inspected: on the servers (no open transaction held by an idle
//! connection of this proxy), and through the proxy by as many control clients at once as the
//! pool has client slots, so each one borrows a different pooled connection: each sees its own
//! answers and a fresh server's state (no schema, default sql_mode and time zone, autocommit
//! on, no transaction).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::{backend, setup_with};
use crate::harness::raw::{RawConn, modern, tcp};
use crate::harness::relay::Relay;
use crate::harness::{ProxyOpts, sandbox};

const POOL_CAP: usize = 6;
const WORKERS: usize = 10;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn statement(rng: &mut Rng, db: &str, id: &AtomicU64) -> String {
    let user = rng.below(8);
    match rng.below(17) {
        0..=3 => format!(
            "INSERT INTO orders (id, user_id, amount, status) VALUES ({}, {user}, 1, 'h')",
            id.fetch_add(1, Ordering::SeqCst)
        ),
        4 => "SET autocommit = 0".into(),
        5 => "BEGIN".into(),
        6 => "COMMIT".into(),
        7 => "ROLLBACK".into(),
        8 => "SAVEPOINT sp".into(),
        9 => format!("SELECT id FROM orders WHERE user_id = {user}"),
        10 => "SELECT id, user_id FROM orders ORDER BY id LIMIT 5".into(),
        11 => "SET SESSION sql_mode = 'ANSI_QUOTES'".into(),
        12 => "SET @@time_zone = '+05:00'".into(),
        13 => "USE mysql".into(),
        14 => format!("USE {db}"),
        15 => format!("XA START 'hx{}'", id.fetch_add(1, Ordering::SeqCst)),
        _ => "SELECT REPEAT('x', 60000) FROM seq_1_to_40".into(),
    }
}

/// One client: logs in (or vanishes during login), runs a few statements, and ends by
/// COM_QUIT, by closing the socket, or by closing it in the middle of a large result.
fn client(addr: &str, db: &str, rng: &mut Rng, id: &AtomicU64) {
    if rng.below(6) == 0 {
        // Vanishes during the login: after the greeting, or before reading anything.
        let mut s = tcp(addr);
        if rng.below(2) == 0 {
            let mut b = [0u8; 64];
            let _ = std::io::Read::read(&mut s, &mut b);
        }
        return;
    }
    let schema = (rng.below(3) != 0).then_some(db);
    let Ok(mut c) = RawConn::connect(addr, "app", "app-pw", schema, modern()) else {
        return;
    };
    for _ in 0..rng.below(8) {
        let sql = statement(rng, db, id);
        c.query(&sql);
    }
    match rng.below(3) {
        0 => c.quit(),
        1 => {}
        _ => {
            let mut p = vec![0x03];
            p.extend_from_slice(b"SELECT REPEAT('y', 60000) FROM seq_1_to_200");
            c.send_command(&p);
            c.read_packet();
        }
    }
}

#[test]
fn vanishing_clients_leave_only_clean_pooled_connections() {
    let sb = sandbox();
    let r0 = Relay::start(&sb.s0_primary);
    let r1 = Relay::start(&sb.s1_primary);
    let (proxy, _, _, db) = setup_with(ProxyOpts {
        s0_primary: Some(r0.addr()),
        s1_primary: Some(r1.addr()),
        pool_max_connections: Some(POOL_CAP as u64),
        checkout_timeout_ms: Some(3000),
        ..ProxyOpts::default()
    });
    let addr = proxy.addr();
    let done = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicU64::new(1_000_000));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (addr, db, done, id) = (
                addr.clone(),
                db.clone(),
                Arc::clone(&done),
                Arc::clone(&next_id),
            );
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1));
                let mut sessions = 0;
                while !done.load(Ordering::SeqCst) {
                    // A session that fails (a frozen backend, a refused statement's panic in
                    // the raw client) is one of the ways a client vanishes.
                    let _ = catch_unwind(AssertUnwindSafe(|| client(&addr, &db, &mut rng, &id)));
                    sessions += 1;
                }
                sessions
            })
        })
        .collect();
    // The default shard's primary freezes past the login timeout (10 s), then thaws.
    std::thread::sleep(Duration::from_secs(2));
    r0.freeze();
    std::thread::sleep(Duration::from_secs(12));
    r0.thaw();
    std::thread::sleep(Duration::from_secs(6));
    done.store(true, Ordering::SeqCst);
    let sessions: usize = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    eprintln!(
        "{sessions} client sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(sessions > 100, "the workload ran ({sessions} sessions)");
    // Clients are gone: the proxy gives their connections back (resetting held ones).
    std::thread::sleep(Duration::from_secs(2));
    check_servers(&[(&r0, &sb.s0_primary), (&r1, &sb.s1_primary)]);
    check_through_proxy(&proxy);
    assert!(proxy.log_tail(400).lines().all(|l| !l.contains("panicked")));
}

/// No idle connection of this proxy holds a transaction on either primary.
fn check_servers(relays: &[(&Relay, &String)]) {
    for (relay, addr) in relays {
        let ports = relay.backend_ports();
        let mut c = backend(addr);
        let open: Vec<(u64, String, Option<String>)> = c
            .query(
                "SELECT p.ID, p.HOST, p.DB FROM information_schema.PROCESSLIST p \
                 JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
                 WHERE p.COMMAND = 'Sleep'",
            )
            .expect("processlist");
        let ours: Vec<_> = open
            .iter()
            .filter(|(_, host, _)| {
                host.rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok())
                    .is_some_and(|p| ports.contains(&p))
            })
            .collect();
        assert!(
            ours.is_empty(),
            "{addr}: idle pooled connections hold transactions: {ours:?}"
        );
    }
}

/// As many control clients at once as the pool has client slots, each inside a transaction
/// so that each holds its own pooled connection: each sees its own answers and a fresh
/// server's state.
fn check_through_proxy(proxy: &crate::harness::Proxy) {
    let mut fresh = backend(&sandbox().s0_primary);
    let want: (String, String) = fresh
        .query_first("SELECT @@GLOBAL.sql_mode, @@GLOBAL.time_zone")
        .expect("globals")
        .expect("row");
    let slots = POOL_CAP - 1;
    let barrier = Arc::new(Barrier::new(slots));
    let controls: Vec<_> = (0..slots)
        .map(|i| {
            let (barrier, want) = (Arc::clone(&barrier), want.clone());
            let opts = proxy
                .opts()
                .user(Some("app"))
                .pass(Some("app-pw"))
                .db_name(None::<String>);
            std::thread::spawn(move || {
                let mut c = mysql::Conn::new(opts).expect("control client");
                c.query_drop("BEGIN").expect("begin");
                let mine = 424_242 + i as i64;
                let got: Option<i64> = c.query_first(format!("SELECT {mine}")).expect("own");
                assert_eq!(got, Some(mine), "control client {i} got another reply");
                // Every control client holds a pooled connection at the same time.
                barrier.wait();
                let state: Option<(Option<String>, String, String, i64, i64)> = c
                    .query_first(
                        "SELECT DATABASE(), @@sql_mode, @@time_zone, @@autocommit, \
                         @@in_transaction",
                    )
                    .expect("state");
                let (schema, mode, tz, autocommit, in_trans) = state.expect("row");
                assert_eq!(schema, None, "control client {i}: default schema");
                assert_eq!((mode, tz), want, "control client {i}: sql_mode, time_zone");
                assert_eq!((autocommit, in_trans), (1, 1), "control client {i}");
                c.query_drop("ROLLBACK").expect("rollback");
                // The workload's XA transactions ('hx...') were never prepared: none may
                // survive its clients.
                let xa: Vec<(i64, i64, i64, String)> = c.query("XA RECOVER").expect("xa recover");
                let ours: Vec<_> = xa.iter().filter(|x| x.3.starts_with("hx")).collect();
                assert!(
                    ours.is_empty(),
                    "control client {i}: XA transactions {ours:?}"
                );
            })
        })
        .collect();
    for c in controls {
        c.join().expect("control client");
    }
}
