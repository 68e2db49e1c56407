//! Client XA transactions: `XA START`, writes (one sub-table, several sub-tables of one
//! shard, or both shards), `XA END`, then `XA PREPARE` + `XA COMMIT` / `XA ROLLBACK`, or
//! `XA COMMIT .. ONE PHASE` / `XA ROLLBACK` straight from IDLE; then a contents check.
//!
//! Each statement is tagged with the XA transaction's number; the xid is `'{db}-x<n>'`, so
//! the reference and the proxy's shard s0 (the same server) never share an xid. A client XA
//! transaction lives on the schema's default shard (s0): from the first statement that makes
//! it touch s1 on, the proxy may refuse (see `run_session`; XA on several shards needs atomic
//! commit, a later issue); before that it must answer exactly as one server does.

use super::gen_route::{self as route, Own, Route};
use super::model::Model;
use super::stmt::{Kind, Stmt, XaTag};

/// One XA transaction and the check after it.
pub fn block(m: &mut Model) -> Vec<Stmt> {
    m.xa_count += 1;
    let id = m.xa_count;
    let xid = format!("'{{db}}-x{id}'");
    let route = Route::pick(m);
    let mut own = Own::default();
    let first = m.rng.below(2);
    let tag = |spans: bool| XaTag {
        id,
        may_refuse: spans,
    };
    let open = if m.rng.chance(80) { "START" } else { "BEGIN" };
    let mut out = vec![Stmt::session(Kind::XaStart, &format!("XA {open} {xid}")).in_xa(tag(false))];
    let n = m.rng.range(1, 4) as usize;
    let mut writes = 0;
    for _ in 0..n {
        let read = if writes > 0 && m.rng.chance(25) {
            route::read_own(m, &own)
        } else {
            None
        };
        let s = read.unwrap_or_else(|| {
            writes += 1;
            let mut s = route::write(m, &mut own, route, writes - 1, first);
            s.kind = Kind::XaWrite;
            s
        });
        out.push(s.in_xa(tag(own.shards[1])));
    }
    while route == Route::TwoShards && own.shards != [true, true] {
        writes += 1;
        let mut s = route::write(m, &mut own, route, writes - 1, first);
        s.kind = Kind::XaWrite;
        out.push(s.in_xa(tag(own.shards[1])));
    }
    let spans = own.shards == [true, true];
    let elsewhere = own.shards[1];
    let xa = |kind: Kind, sql: String| Stmt::session(kind, &sql).in_xa(tag(elsewhere));
    out.push(xa(Kind::XaEnd, format!("XA END {xid}")));
    let ending = match m.rng.below(4) {
        0 => {
            out.push(xa(Kind::XaPrepare, format!("XA PREPARE {xid}")));
            out.push(xa(Kind::XaCommit, format!("XA COMMIT {xid}")));
            "XA PREPARE, XA COMMIT"
        }
        1 => {
            out.push(xa(Kind::XaPrepare, format!("XA PREPARE {xid}")));
            out.push(xa(Kind::XaRollback, format!("XA ROLLBACK {xid}")));
            "XA PREPARE, XA ROLLBACK"
        }
        2 => {
            let sql = format!("XA COMMIT {xid} ONE PHASE");
            out.push(xa(Kind::XaCommitOnePhase, sql));
            "XA COMMIT ONE PHASE"
        }
        _ => {
            out.push(xa(Kind::XaRollback, format!("XA ROLLBACK {xid}")));
            "XA ROLLBACK (from IDLE)"
        }
    };
    let span = if spans {
        "spanning both shards"
    } else {
        "on one shard"
    };
    out.push(Stmt::check(&format!(
        "XA transaction x{id} {span}, writes {route:?}, ended by {ending}"
    )));
    out
}
