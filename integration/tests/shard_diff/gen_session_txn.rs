//! Session transactions as drivers and ORMs run them, generated as classes: how the
//! transaction opens (`SET autocommit=0`; `SET autocommit=0` as the connection's init
//! statement, the mysql crate having no separate autocommit flag; `BEGIN`; `START
//! TRANSACTION`), where its writes go (one sub-table, several sub-tables of one shard, both
//! shards; nested savepoints between them), and how it ends (COMMIT, ROLLBACK, an implicit
//! commit: DDL on the unsharded scratch table, `SET autocommit=1`, `BEGIN` inside the
//! transaction, `LOCK TABLES`/`UNLOCK TABLES`; or the client disconnecting mid-transaction).
//! Every end is followed by a comparison of all tables' committed contents.

use super::gen_mix;
use super::gen_route::{self as route, Own, Route};
use super::gen_savepoint;
use super::model::{self, Model};
use super::stmt::{Kind, Stmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `SET autocommit=0` as a statement.
    SetAutocommit,
    /// `SET autocommit=0` as the connection's init statement (the driver option).
    InitAutocommit,
    Begin,
    StartTransaction,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::SetAutocommit => "autocommit=0 (SET)",
            Mode::InitAutocommit => "autocommit=0 (connection init)",
            Mode::Begin => "BEGIN",
            Mode::StartTransaction => "START TRANSACTION",
        }
    }
}

/// The generator's view of the session while it writes a block.
struct Session {
    mode: Mode,
    /// Autocommit is off on the current connection.
    ac_off: bool,
}

fn in_txn(mut s: Stmt) -> Stmt {
    s.in_txn = true;
    s
}

fn begin(m: &mut Model, kind: Kind) -> Stmt {
    let sql = *m.rng.pick(&[
        "BEGIN",
        "START TRANSACTION",
        "BEGIN WORK",
        "START TRANSACTION READ WRITE",
    ]);
    Stmt::session(kind, sql)
}

fn autocommit_off(m: &mut Model) -> Stmt {
    let sql = *m.rng.pick(&[
        "SET autocommit=0",
        "SET autocommit = OFF",
        "SET SESSION autocommit = 0",
        "SET @@autocommit = 0",
    ]);
    Stmt::session(Kind::SessAutocommitOff, sql)
}

fn autocommit_on(m: &mut Model) -> Stmt {
    let sql = *m.rng.pick(&[
        "SET autocommit=1",
        "SET autocommit = ON",
        "SET @@autocommit = 1",
    ]);
    Stmt::session(Kind::SessAutocommitOn, sql)
}

fn commit_or_rollback(m: &mut Model) -> (Stmt, &'static str) {
    match m.rng.below(4) {
        0 => (Stmt::session(Kind::SessCommit, "COMMIT"), "COMMIT"),
        1 => (Stmt::session(Kind::SessCommit, "COMMIT WORK"), "COMMIT"),
        2 => (Stmt::session(Kind::SessRollback, "ROLLBACK"), "ROLLBACK"),
        _ => (
            Stmt::session(Kind::SessRollback, "ROLLBACK WORK"),
            "ROLLBACK",
        ),
    }
}

/// The body of one transaction: routed writes, reads of its own rows, the usual mix, and
/// now and then nested savepoints.
fn body(m: &mut Model, route: Route, out: &mut Vec<Stmt>) {
    let mut own = Own::default();
    let first = m.rng.below(2);
    let mut writes = 0;
    for _ in 0..m.rng.range(2, 5) {
        let s = match m.rng.below(10) {
            0..=5 => {
                writes += 1;
                route::write(m, &mut own, route, writes - 1, first)
            }
            6 | 7 => match route::read_own(m, &own) {
                Some(s) => s,
                None => continue,
            },
            _ => gen_mix::one(m),
        };
        out.push(in_txn(s));
    }
    if route == Route::TwoShards && writes < 2 {
        // A two-shard transaction writes both shards.
        for step in writes..2 {
            out.push(in_txn(route::write(m, &mut own, route, step, first)));
        }
    }
    if m.rng.chance(35) {
        let at = out.len();
        gen_savepoint::nested(m, &mut own, out);
        for s in &mut out[at..] {
            s.in_txn = true;
        }
    }
}

/// Ends the open transaction; returns what the check's label says.
fn end(m: &mut Model, sess: &mut Session, route: Route, out: &mut Vec<Stmt>) -> String {
    let explicit = matches!(sess.mode, Mode::Begin | Mode::StartTransaction);
    let init = sess.mode == Mode::InitAutocommit;
    match m.rng.below(20) {
        0..=9 => {
            let (s, what) = commit_or_rollback(m);
            out.push(s);
            what.to_string()
        }
        10 | 11 => {
            let sql = if m.rng.chance(50) {
                "CREATE TABLE IF NOT EXISTS scratch (id INT PRIMARY KEY, v INT)"
            } else {
                "DROP TABLE IF EXISTS scratch"
            };
            out.push(Stmt::session(Kind::SessDdl, sql));
            format!("implicit commit by `{sql}`")
        }
        12 | 13 if sess.ac_off => {
            out.push(autocommit_on(m));
            sess.ac_off = false;
            "implicit commit by SET autocommit=1".to_string()
        }
        12..=14 => {
            // BEGIN inside the transaction commits it and opens another one.
            out.push(begin(m, Kind::SessBeginNested));
            body(m, route, out);
            let (s, what) = commit_or_rollback(m);
            out.push(s);
            format!("implicit commit by BEGIN, then {what}")
        }
        15 | 16 => {
            out.push(Stmt::session(Kind::SessLock, "LOCK TABLES notes WRITE"));
            for _ in 0..m.rng.range(0, 2) {
                let id = m.new_note();
                let row = m.note_row(id);
                let sql = format!("INSERT INTO {} VALUES {row}", model::NOTE_COLS);
                out.push(in_txn(Stmt::write(Kind::WriteUnsharded, sql)));
            }
            out.push(Stmt::session(Kind::SessUnlock, "UNLOCK TABLES"));
            if explicit {
                // Writes after LOCK TABLES autocommit; nothing is open any more.
                "implicit commit by LOCK TABLES".to_string()
            } else {
                "implicit commit by LOCK TABLES, UNLOCK TABLES".to_string()
            }
        }
        _ => {
            out.push(Stmt::reconnect(init));
            sess.ac_off = init;
            "client disconnected mid-transaction (must roll back)".to_string()
        }
    }
}

/// One session block: 1-3 transactions of one opening class, each ended and checked.
pub fn block(m: &mut Model) -> Vec<Stmt> {
    let mode = *m.rng.pick(&[
        Mode::SetAutocommit,
        Mode::SetAutocommit,
        Mode::InitAutocommit,
        Mode::Begin,
        Mode::StartTransaction,
    ]);
    let mut out = Vec::new();
    let mut sess = Session {
        mode,
        ac_off: false,
    };
    if mode == Mode::InitAutocommit {
        out.push(Stmt::reconnect(true));
        sess.ac_off = true;
    }
    let txns = if sess.ac_off || mode == Mode::SetAutocommit {
        m.rng.range(1, 3)
    } else {
        m.rng.range(1, 2)
    };
    for _ in 0..txns {
        let explicit = matches!(mode, Mode::Begin | Mode::StartTransaction);
        if !explicit && !sess.ac_off {
            out.push(autocommit_off(m));
            sess.ac_off = true;
        }
        if explicit || m.rng.chance(15) {
            let kind = if explicit {
                Kind::SessBegin
            } else {
                Kind::SessBeginNested
            };
            let sql = if mode == Mode::StartTransaction {
                "START TRANSACTION"
            } else {
                "BEGIN"
            };
            out.push(Stmt::session(kind, sql));
        }
        let route = Route::pick(m);
        body(m, route, &mut out);
        let ending = end(m, &mut sess, route, &mut out);
        out.push(Stmt::check(&format!(
            "{} transaction, writes {route:?}, ended by {ending}",
            mode.name()
        )));
    }
    if sess.ac_off && mode == Mode::SetAutocommit {
        out.push(autocommit_on(m));
    }
    if mode == Mode::InitAutocommit {
        out.push(Stmt::reconnect(false));
    }
    out
}
