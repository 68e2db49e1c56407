//! Runs each statement on the side under test, then on the reference, and classifies the pair:
//! agree, both failed alike, refused by the side under test, or a mismatch.

use mysql::Conn;
use mysql::prelude::Queryable;

use super::compare::{Outcome, execute, execute_dry, same};
use super::contents;
use super::report::Stats;
use super::run_session::{self, XaState};
use super::stmt::{Ctl, Kind, Stmt, Support};

/// Opens a connection; `true`: with `SET autocommit=0` as its init statement.
pub type Connect = Box<dyn Fn(bool) -> mysql::Result<Conn>>;

/// One connection and the schema name its statements use.
pub struct Side {
    pub label: &'static str,
    pub db: String,
    pub conn: Conn,
    /// A transaction is open on `conn` (writes run dry under a savepoint).
    pub in_txn: bool,
    connect: Connect,
    /// `conn` was opened with `SET autocommit=0` as its init statement.
    pub init_off: bool,
    /// The side's XA transaction (number, state) as its answers left it.
    pub xa: Option<(u32, XaState)>,
    /// The XA transaction whose remaining statements are skipped (refused by the proxy).
    pub xa_skip: Option<u32>,
    /// A second connection reading committed contents (a primary-only user on the proxy).
    pub checker: Option<Conn>,
    /// Servers (address, connection) holding this side's tables, for leftover transactions;
    /// for the sharded side these are the shard primaries s0, s1 (physical contents).
    pub servers: Vec<(String, Conn)>,
    /// The side's tables live on the shards' physical tables (read them at each check).
    pub physical: bool,
    /// Rewrite the side's tables from the reference after a contents mismatch.
    pub repair: bool,
    /// Called after a repair (waits for the replicas to catch up).
    pub after_repair: Option<Box<dyn Fn()>>,
}

impl Side {
    pub fn new(label: &'static str, db: &str, connect: Connect) -> Result<Side, String> {
        let conn = connect(false).map_err(|e| format!("cannot connect to the {label}: {e}"))?;
        Ok(Side {
            label,
            db: db.to_string(),
            conn,
            in_txn: false,
            connect,
            init_off: false,
            xa: None,
            xa_skip: None,
            checker: None,
            servers: Vec::new(),
            physical: false,
            repair: false,
            after_repair: None,
        })
    }

    /// A new connection after a broken one; Err when that fails too.
    pub fn reconnect(&mut self) -> Result<(), String> {
        self.in_txn = false;
        self.xa = None;
        // A few tries: the sandbox is shared, a login may fail now and then.
        let mut last = String::new();
        for _ in 0..3 {
            match (self.connect)(self.init_off) {
                Ok(c) => {
                    self.conn = c;
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        Err(format!("cannot reconnect to the {}: {last}", self.label))
    }
}

/// Where the run stands after one statement.
pub enum Step {
    Continue,
    /// The side under test is gone (its connection cannot be re-established).
    Abort(String),
}

/// What `stmt` would answer on `side` without changing its data (writes run dry).
fn dry(side: &mut Side, stmt: &Stmt) -> Outcome {
    let sql = stmt.text(&side.db);
    let params = stmt.params.as_deref();
    if stmt.write {
        // Session blocks and XA do not track the transaction: ask the server.
        let open = side.in_txn
            || stmt.in_txn
                && side
                    .conn
                    .query_first::<i64, _>("SELECT @@in_transaction")
                    .is_ok_and(|v| v == Some(1));
        execute_dry(&mut side.conn, &sql, params, open)
    } else {
        execute(&mut side.conn, &sql, params, false)
    }
}

/// `BEGIN` / `COMMIT` / `ROLLBACK` on both sides: both must answer alike.
fn txn_control(
    index: usize,
    stmt: &Stmt,
    test: &mut Side,
    reference: &mut Side,
    stats: &mut Stats,
) -> Step {
    stats.ran(stmt.kind);
    let got = execute(&mut test.conn, &stmt.sql, None, true);
    let want = execute(&mut reference.conn, &stmt.sql, None, true);
    let begin = stmt.kind == Kind::TxnBegin;
    test.in_txn = begin && got.is_ok();
    reference.in_txn = begin && want.is_ok();
    if !same(&got, &want, false) {
        stats.mismatch(index, stmt, &got, &want);
    }
    if test.in_txn != reference.in_txn {
        // Keep the two sides in step: neither stays in a transaction.
        for side in [&mut *test, &mut *reference] {
            let _ = side.conn.query_drop("ROLLBACK");
            side.in_txn = false;
        }
    }
    if let Outcome::Broken(e) = &got {
        stats.broken += 1;
        eprintln!("shard_diff #{index}: {} connection error: {e}", test.label);
        if let Err(e) = test.reconnect() {
            return Step::Abort(e);
        }
    }
    Step::Continue
}

/// Runs `stmt` (number `index`) on `test` then `reference`, recording the verdict in `stats`.
/// With `expect_refusals` false (self-check), must-refuse kinds are compared like any other.
pub fn step(
    index: usize,
    stmt: &Stmt,
    test: &mut Side,
    reference: &mut Side,
    stats: &mut Stats,
    expect_refusals: bool,
) -> Step {
    if stmt.is_txn_control() {
        return txn_control(index, stmt, test, reference, stats);
    }
    match stmt.ctl {
        Ctl::Plain => {}
        Ctl::Session => {
            return run_session::control(index, stmt, test, reference, stats, expect_refusals);
        }
        Ctl::Reconnect { autocommit_off } => {
            return run_session::reconnect(stmt, autocommit_off, test, reference, stats);
        }
        Ctl::Check => return contents::check(index, stmt, test, reference, stats),
    }
    if stmt.xa.is_some_and(|x| test.xa_skip == Some(x.id)) {
        stats.skipped += 1;
        return Step::Continue;
    }
    let params = stmt.params.as_deref();
    let got = execute(&mut test.conn, &stmt.text(&test.db), params, stmt.write);
    let support = if expect_refusals {
        stmt.support()
    } else {
        Support::May
    };
    stats.ran_stmt(stmt);
    if let Outcome::Broken(e) = &got {
        let want = dry(reference, stmt);
        stats.mismatch(index, stmt, &got, &want);
        stats.broken += 1;
        if stats.broken <= 5 {
            eprintln!("shard_diff #{index}: {} connection error: {e}", test.label);
        }
        // The broken connection took the proxy's transaction with it: the reference's goes too.
        return run_session::resync(test, reference);
    }
    if let Outcome::Failed { code, message } = &got {
        if expect_refusals && run_session::xa_refusal(stmt, *code, message) {
            return run_session::xa_refused(index, stmt, message, test, reference, stats);
        }
        if support == Support::Refuse {
            stats.refused(index, stmt, message, true);
            return Step::Continue;
        }
        let want = dry(reference, stmt);
        match (&got, &want) {
            // A lock wait timeout or deadlock is no refusal: something holds the rows (a
            // transaction the proxy left open).
            (
                Outcome::Failed {
                    code: 1205 | 1213, ..
                },
                w,
            ) if w.is_ok() => stats.mismatch(index, stmt, &got, &want),
            (_, w) if w.is_ok() => stats.refused(index, stmt, message, false),
            (Outcome::Failed { code: a, .. }, Outcome::Failed { code: b, .. }) if a == b => {
                stats.both_failed(stmt, *a)
            }
            _ => stats.mismatch(index, stmt, &got, &want),
        }
        return Step::Continue;
    }
    // The side under test succeeded: the reference runs the statement for real.
    let want = execute(
        &mut reference.conn,
        &stmt.text(&reference.db),
        params,
        stmt.write,
    );
    if support == Support::Refuse {
        stats.accepted(index, stmt);
    }
    if !want.is_ok() || !same(&got, &want, stmt.ordered) {
        stats.mismatch(index, stmt, &got, &want);
    }
    Step::Continue
}
