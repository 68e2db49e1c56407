//! Runs each statement on the side under test, then on the reference, and classifies the pair:
//! agree, both failed alike, refused by the side under test, or a mismatch.

use mysql::Conn;

use super::compare::{Outcome, execute, execute_dry, same};
use super::report::Stats;
use super::stmt::{Stmt, Support};

/// One connection and the schema name its statements use.
pub struct Side {
    pub label: &'static str,
    pub db: String,
    pub conn: Conn,
    connect: Box<dyn Fn() -> mysql::Result<Conn>>,
}

impl Side {
    pub fn new(
        label: &'static str,
        db: &str,
        connect: Box<dyn Fn() -> mysql::Result<Conn>>,
    ) -> Result<Side, String> {
        let conn = connect().map_err(|e| format!("cannot connect to the {label}: {e}"))?;
        Ok(Side {
            label,
            db: db.to_string(),
            conn,
            connect,
        })
    }

    /// A new connection after a broken one; Err when that fails too.
    fn reconnect(&mut self) -> Result<(), String> {
        self.conn = (self.connect)()
            .map_err(|e| format!("cannot reconnect to the {} after an error: {e}", self.label))?;
        Ok(())
    }
}

/// Where the run stands after one statement.
pub enum Step {
    Continue,
    /// The side under test is gone (its connection cannot be re-established).
    Abort(String),
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
    let got = execute(&mut test.conn, &stmt.text(&test.db), stmt.write);
    let ref_sql = stmt.text(&reference.db);
    let support = if expect_refusals {
        stmt.kind.support()
    } else {
        Support::May
    };
    stats.ran(stmt.kind);
    if let Outcome::Broken(e) = &got {
        let want = if stmt.write {
            execute_dry(&mut reference.conn, &ref_sql)
        } else {
            execute(&mut reference.conn, &ref_sql, false)
        };
        stats.mismatch(index, stmt, &got, &want);
        stats.broken += 1;
        if stats.broken <= 5 {
            eprintln!("shard_diff #{index}: {} connection error: {e}", test.label);
        }
        return match test.reconnect() {
            Ok(()) => Step::Continue,
            Err(e) => Step::Abort(e),
        };
    }
    if let Outcome::Failed { message, .. } = &got {
        if support == Support::Refuse {
            stats.refused(index, stmt, message, true);
            return Step::Continue;
        }
        let want = if stmt.write {
            execute_dry(&mut reference.conn, &ref_sql)
        } else {
            execute(&mut reference.conn, &ref_sql, false)
        };
        match (&got, &want) {
            (_, w) if w.is_ok() => stats.refused(index, stmt, message, false),
            (Outcome::Failed { code: a, .. }, Outcome::Failed { code: b, .. }) if a == b => {
                stats.both_failed(stmt.kind, *a)
            }
            _ => stats.mismatch(index, stmt, &got, &want),
        }
        return Step::Continue;
    }
    // The side under test succeeded: the reference runs the statement for real.
    let want = execute(&mut reference.conn, &ref_sql, stmt.write);
    if support == Support::Refuse {
        stats.accepted(index, stmt);
    }
    if !want.is_ok() || !same(&got, &want, stmt.ordered) {
        stats.mismatch(index, stmt, &got, &want);
    }
    Step::Continue
}
