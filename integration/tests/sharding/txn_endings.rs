//! Every way a transaction can end, as a class: each combination of how it starts (BEGIN,
//! START TRANSACTION, `SET autocommit=0` with or without BEGIN, autocommit=0 set by the
//! driver's init statement), where it writes (one shard, two shards, two sub-tables of one
//! shard) and how it ends (COMMIT, ROLLBACK, implicit commits, disconnect, reset, change of
//! user) runs through shardgate on the sharded schema and directly on a plain reference
//! schema; the rows left behind must be the same. The oracle is the server itself.

use mysql::prelude::Queryable;
use mysql::{ChangeUserOpts, Conn};

use super::{app, backend, setup};
use crate::harness::{Proxy, opts, sandbox};

#[derive(Debug, Clone, Copy)]
pub(super) enum Start {
    Begin,
    Transaction,
    AutocommitOff,
    AutocommitOffThenBegin,
    DriverAutocommitOff,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Commit,
    Rollback,
    /// DDL on an unsharded table of the schema.
    Ddl,
    /// BEGIN inside the transaction commits it; the new one is rolled back.
    BeginAgain,
    /// SET autocommit = 1 (commits when it was off).
    AutocommitOn,
    Disconnect,
    Reset,
    ChangeUser,
}

/// User ids whose rows land on: s0 only; s0 and s1; two sub-tables of s1.
const PLACEMENTS: [(&str, [i64; 2]); 3] = [
    ("one shard", [0, 4]),
    ("two shards", [1, 2]),
    ("two sub-tables of one shard", [2, 3]),
];

fn statements_before(start: Start) -> &'static [&'static str] {
    match start {
        Start::Begin => &["BEGIN"],
        Start::Transaction => &["START TRANSACTION"],
        Start::AutocommitOff | Start::DriverAutocommitOff => &[],
        Start::AutocommitOffThenBegin => &["BEGIN"],
    }
}

pub(super) fn connect(start: Start, proxy: Option<&Proxy>, db: &str) -> Conn {
    let base = match proxy {
        Some(p) => p.opts().user(Some("app")).pass(Some("app-pw")),
        None => opts(
            &sandbox().s0_primary,
            crate::harness::BACKEND_USER,
            crate::harness::BACKEND_PASS,
            None,
        ),
    }
    .db_name(Some(db));
    let base = match start {
        Start::DriverAutocommitOff => base.init(vec!["SET autocommit = 0"]),
        _ => base,
    };
    let mut c = Conn::new(base).expect("connect");
    if matches!(start, Start::AutocommitOff | Start::AutocommitOffThenBegin) {
        c.query_drop("SET autocommit = 0").expect("autocommit off");
    }
    c
}

/// Runs one case on one side; returns what the statements answered (error codes).
fn run_case(mut c: Conn, start: Start, users: [i64; 2], end: End, base_id: i64) -> Vec<u16> {
    let mut answers = Vec::new();
    let mut run = |c: &mut Conn, sql: &str| {
        answers.push(match c.query_drop(sql) {
            Ok(()) => 0,
            Err(mysql::Error::MySqlError(e)) => e.code,
            Err(e) => panic!("{sql}: {e}"),
        });
    };
    for sql in statements_before(start) {
        run(&mut c, sql);
    }
    for (i, user) in users.iter().enumerate() {
        let id = base_id + i as i64;
        run(
            &mut c,
            &format!(
                "INSERT INTO orders (id, user_id, amount, status) VALUES ({id}, {user}, 1, 'w')"
            ),
        );
    }
    run(
        &mut c,
        &format!(
            "UPDATE orders SET status = 'u' WHERE user_id = {}",
            users[0]
        ),
    );
    match end {
        End::Commit => run(&mut c, "COMMIT"),
        End::Rollback => run(&mut c, "ROLLBACK"),
        End::Ddl => run(
            &mut c,
            "CREATE TABLE IF NOT EXISTS scratch (id INT PRIMARY KEY)",
        ),
        End::BeginAgain => {
            run(&mut c, "BEGIN");
            run(
                &mut c,
                &format!(
                    "INSERT INTO orders (id, user_id, amount, status) VALUES ({}, {}, 1, 'x')",
                    base_id + 5,
                    users[1]
                ),
            );
            run(&mut c, "ROLLBACK");
        }
        End::AutocommitOn => run(&mut c, "SET autocommit = 1"),
        End::Disconnect => drop(c),
        End::Reset => {
            c.reset().expect("reset");
        }
        End::ChangeUser => {
            c.change_user(ChangeUserOpts::DEFAULT).expect("change user");
        }
    }
    answers
}

pub(super) fn rows_direct(db: &str) -> Vec<(i64, i64, String)> {
    let mut c = backend(&sandbox().s0_primary);
    c.query(format!(
        "SELECT id, user_id, status FROM {db}.orders ORDER BY id"
    ))
    .expect("reference rows")
}

pub(super) fn rows_sharded(db: &str) -> Vec<(i64, i64, String)> {
    let sb = sandbox();
    let mut all = Vec::new();
    for (addr, slots) in [(&sb.s0_primary, [0, 1]), (&sb.s1_primary, [2, 3])] {
        let mut c = backend(addr);
        for s in slots {
            let rows: Vec<(i64, i64, String)> = c
                .query(format!(
                    "SELECT id, user_id, status FROM {db}.orders_{s:04} ORDER BY id"
                ))
                .expect("shard rows");
            all.extend(rows);
        }
    }
    all.sort();
    all
}

/// A plain schema `{db}_ref` on s0 with one unsharded `orders` table: one server's answer.
pub(super) fn reference_schema(s0: &mut Conn, db: &str) -> String {
    let ref_db = format!("{db}_ref");
    s0.query_drop(format!("DROP DATABASE IF EXISTS {ref_db}"))
        .expect("drop ref");
    s0.query_drop(format!("CREATE DATABASE {ref_db}"))
        .expect("ref db");
    s0.query_drop(format!(
        "CREATE TABLE {ref_db}.orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, \
         amount DECIMAL(10,2) NOT NULL, status VARCHAR(16) NOT NULL)"
    ))
    .expect("ref orders");
    ref_db
}

#[test]
fn every_way_to_end_a_transaction_matches_one_server() {
    let (proxy, mut s0, mut s1, db) = setup();
    let ref_db = reference_schema(&mut s0, &db);
    let starts = [
        Start::Begin,
        Start::Transaction,
        Start::AutocommitOff,
        Start::AutocommitOffThenBegin,
        Start::DriverAutocommitOff,
    ];
    let ends = [
        End::Commit,
        End::Rollback,
        End::Ddl,
        End::BeginAgain,
        End::AutocommitOn,
        End::Disconnect,
        End::Reset,
        End::ChangeUser,
    ];
    let mut cases = 0;
    let mut base_id = 1000;
    for start in starts {
        for (where_, users) in PLACEMENTS {
            for end in ends {
                let case = format!("{start:?} / {where_} / {end:?}");
                let got = run_case(
                    connect(start, Some(&proxy), &db),
                    start,
                    users,
                    end,
                    base_id,
                );
                let want = run_case(connect(start, None, &ref_db), start, users, end, base_id);
                assert_eq!(got, want, "{case}: statement answers");
                // A disconnect's rollback happens when the server notices: wait for it.
                std::thread::sleep(std::time::Duration::from_millis(
                    if matches!(end, End::Disconnect) {
                        300
                    } else {
                        0
                    },
                ));
                assert_eq!(rows_sharded(&db), rows_direct(&ref_db), "{case}: rows left");
                // The next client starts clean: autocommit on, no transaction, no leftovers.
                let mut next = app(&proxy, &db);
                let state: Option<(i64, i64)> = next
                    .query_first("SELECT @@autocommit, @@in_transaction")
                    .expect("state");
                assert_eq!(state, Some((1, 0)), "{case}: the next client's session");
                base_id += 10;
                cases += 1;
            }
        }
    }
    eprintln!("{cases} transaction endings compared with one server");
    for c in [&mut s0, &mut s1] {
        let open: Vec<i64> = c
            .query(format!(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN \
                 information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
                 WHERE p.DB = '{db}' AND p.COMMAND = 'Sleep'"
            ))
            .expect("trx");
        assert_eq!(
            open,
            vec![0],
            "an idle pooled connection holds a transaction"
        );
    }
}
