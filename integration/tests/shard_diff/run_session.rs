//! The runner's part for session blocks and XA transactions: control statements run for real
//! on both sides and must answer alike; disconnects; and XA refusals.
//!
//! XA beyond the default shard: from the first statement that makes an XA transaction touch
//! s1, not the schema's default shard (`XaTag::may_refuse`), the proxy may refuse with 1235 naming the limitation (the
//! message mentions XA or shards). The reference never ran the refused statement, so both
//! sides are then in the same state: the XA transaction open with the writes before it. The
//! runner then (1) compares every table's committed contents at once (a refused statement
//! must have had no effect, also none committed elsewhere), (2) ends the XA transaction on
//! both sides the way a client does after an error: `XA END` (if ACTIVE) and `XA ROLLBACK`,
//! where the reference must succeed and the proxy may also answer 1397 XAER_NOTA (it already
//! dropped the transaction when it refused), and (3) skips the transaction's remaining
//! statements. The check that follows the transaction in the stream then compares the
//! contents again (nothing of the transaction may remain on any shard, and no prepared XA).
//! An XA transaction on one shard gets no such allowance: it must run as on one server.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::compare::{Outcome, execute, same};
use super::contents;
use super::report::Stats;
use super::run::{Side, Step};
use super::stmt::{Kind, Stmt, Support};

/// Where an XA transaction stands on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XaState {
    Active,
    Idle,
    Prepared,
}

/// The xid of XA transaction `id` on `side`.
fn xid(side: &Side, id: u32) -> String {
    format!("'{}-x{id}'", side.db)
}

/// The state an XA statement that succeeded leaves.
fn after(kind: Kind) -> Option<XaState> {
    match kind {
        Kind::XaStart => Some(XaState::Active),
        Kind::XaEnd => Some(XaState::Idle),
        Kind::XaPrepare => Some(XaState::Prepared),
        _ => None,
    }
}

fn track(side: &mut Side, stmt: &Stmt, out: &Outcome) {
    if let (Some(x), true) = (stmt.xa, out.is_ok())
        && stmt.kind != Kind::XaWrite
    {
        side.xa = after(stmt.kind).map(|s| (x.id, s));
    }
}

/// A refusal the comparator accepts for an XA statement: 1235 naming the limitation, for a
/// statement at or after the point where the XA transaction touches s1 (not the default shard).
pub fn xa_refusal(stmt: &Stmt, code: u16, message: &str) -> bool {
    let msg = message.to_ascii_lowercase();
    stmt.xa.is_some_and(|x| x.may_refuse)
        && code == 1235
        && (msg.contains("xa") || msg.contains("shard"))
}

/// Disconnects both sides and reconnects them (each keeps its init mode); a prepared XA
/// transaction of the reference (it survives the disconnect) is rolled back.
pub fn resync(test: &mut Side, reference: &mut Side) -> Step {
    let prepared = reference.xa.filter(|x| x.1 == XaState::Prepared);
    if let Err(e) = reference.reconnect() {
        return Step::Abort(e);
    }
    if let Some((id, _)) = prepared {
        let sql = format!("XA ROLLBACK {}", xid(reference, id));
        let _ = reference.conn.query_drop(sql);
    }
    match test.reconnect() {
        Ok(()) => Step::Continue,
        Err(e) => Step::Abort(e),
    }
}

/// Transaction / session control (and XA) statements: both sides run them for real.
pub fn control(
    index: usize,
    stmt: &Stmt,
    test: &mut Side,
    reference: &mut Side,
    stats: &mut Stats,
    expect_refusals: bool,
) -> Step {
    if stmt.xa.is_some_and(|x| test.xa_skip == Some(x.id)) {
        stats.skipped += 1;
        return Step::Continue;
    }
    stats.ran_stmt(stmt);
    let got = execute(&mut test.conn, &stmt.text(&test.db), None, true);
    track(test, stmt, &got);
    if let Outcome::Failed { code, message } = &got
        && expect_refusals
    {
        if xa_refusal(stmt, *code, message) {
            return xa_refused(index, stmt, message, test, reference, stats);
        }
        if stmt.support() == Support::May && *code == 1235 {
            // Refused before doing anything: the reference skips it as well.
            stats.refused(index, stmt, message, false);
            return Step::Continue;
        }
    }
    let want = execute(&mut reference.conn, &stmt.text(&reference.db), None, true);
    track(reference, stmt, &want);
    match (&got, &want) {
        (Outcome::Failed { code: a, .. }, Outcome::Failed { code: b, .. }) if a == b => {
            stats.both_failed(stmt, *a);
            Step::Continue
        }
        _ if same(&got, &want, false) => Step::Continue,
        _ => {
            stats.mismatch(index, stmt, &got, &want);
            // The two sessions' transactions may now differ: end both (disconnect).
            resync(test, reference)
        }
    }
}

/// Both sides disconnect mid-transaction and reconnect; waits (bounded) until the servers
/// have rolled the transactions back.
pub fn reconnect(
    stmt: &Stmt,
    autocommit_off: bool,
    test: &mut Side,
    reference: &mut Side,
    stats: &mut Stats,
) -> Step {
    stats.ran_stmt(stmt);
    test.init_off = autocommit_off;
    reference.init_off = autocommit_off;
    let step = resync(test, reference);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && !contents::open_writers(test, reference).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    step
}

/// The proxy refused XA statement `stmt` as the comparator allows: check that nothing
/// happened, end the XA transaction on both sides, skip the rest of it.
pub fn xa_refused(
    index: usize,
    stmt: &Stmt,
    message: &str,
    test: &mut Side,
    reference: &mut Side,
    stats: &mut Stats,
) -> Step {
    let id = stmt.xa.map_or(0, |x| x.id);
    stats.refused(index, stmt, message, true);
    stats
        .xa_refused
        .push((index, stmt.shown(), message.to_string()));
    test.xa_skip = Some(id);
    let why = format!("right after the proxy refused #{index} `{}`", stmt.sql);
    // The XA transaction is still open on both sides here (by design: it is rolled back
    // below), so only the committed contents are compared; the check after the XA's end
    // looks for leftovers.
    let check = Stmt::check(&why);
    if let Step::Abort(e) = contents::compare(index, &check, test, reference, stats, false) {
        return Step::Abort(e);
    }
    let state = reference.xa.filter(|x| x.0 == id).map(|x| x.1);
    let mut steps = Vec::new();
    if state == Some(XaState::Active) {
        steps.push((Kind::XaEnd, "XA END"));
    }
    if state.is_some() {
        steps.push((Kind::XaRollback, "XA ROLLBACK"));
    }
    for (kind, verb) in steps {
        let shown = Stmt::session(kind, &format!("{verb} '{{db}}-x{id}' -- after the refusal"));
        let (t, r) = (xid(test, id), xid(reference, id));
        let got = execute(&mut test.conn, &format!("{verb} {t}"), None, true);
        let want = execute(&mut reference.conn, &format!("{verb} {r}"), None, true);
        stats.ran_stmt(&shown);
        let gone = matches!(got, Outcome::Failed { code: 1397, .. });
        if !want.is_ok() || !(got.is_ok() || gone) {
            stats.mismatch(index, &shown, &got, &want);
            return resync(test, reference);
        }
    }
    test.xa = None;
    reference.xa = None;
    Step::Continue
}
