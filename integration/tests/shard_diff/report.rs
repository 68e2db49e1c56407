//! Counting verdicts per category and printing the summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use super::compare::{Outcome, Row, show_row};
use super::stmt::{Kind, Stmt, Support};

/// At most 400 characters of `s` (long multi-row INSERTs and results).
fn clip(s: &str) -> String {
    if s.chars().count() <= 400 {
        return s.to_string();
    }
    let head: String = s.chars().take(400).collect();
    format!("{head}... ({} chars)", s.chars().count())
}

#[derive(Debug, Default, Clone, Copy)]
pub struct KindStats {
    pub run: usize,
    pub refused: usize,
    pub both_failed: usize,
    pub mismatched: usize,
}

/// A statement whose two results differ.
pub struct Mismatch {
    pub index: usize,
    pub kind: Kind,
    pub sql: String,
    pub test: String,
    pub reference: String,
    /// The side under test answered without an error.
    pub test_ok: bool,
    /// For two row sets: the rows only one side returned (as multisets), for the report.
    pub diff: Option<String>,
}

/// Rows in one result and not the other (multiset difference), at most 5 each way.
fn row_diff(test: &Outcome, reference: &Outcome) -> Option<String> {
    let (Outcome::Rows { rows: a, .. }, Outcome::Rows { rows: b, .. }) = (test, reference) else {
        return None;
    };
    let minus = |x: &Vec<Row>, y: &Vec<Row>| {
        let mut rest = y.clone();
        let mut out = Vec::new();
        for r in x {
            match rest.iter().position(|q| q == r) {
                Some(i) => {
                    rest.swap_remove(i);
                }
                None => out.push(show_row(r)),
            }
        }
        out
    };
    let (only_a, only_b) = (minus(a, b), minus(b, a));
    if only_a.is_empty() && only_b.is_empty() {
        return Some("same rows, different order".to_string());
    }
    let cut = |v: &Vec<String>| {
        let more = if v.len() > 5 {
            format!(" ... ({})", v.len())
        } else {
            String::new()
        };
        format!(
            "{}{more}",
            v.iter().take(5).cloned().collect::<Vec<_>>().join(" ")
        )
    };
    Some(format!(
        "only in test: {}; only in reference: {}",
        cut(&only_a),
        cut(&only_b)
    ))
}

#[derive(Default)]
pub struct Stats {
    pub seed: u64,
    pub per_kind: BTreeMap<Kind, KindStats>,
    /// Error codes of statements that failed on both sides alike, per kind.
    pub both_failed_codes: BTreeMap<(Kind, u16), usize>,
    /// Refusal message -> count.
    pub refusals: HashMap<String, usize>,
    pub mismatches: Vec<Mismatch>,
    /// Refusals of kinds that must be supported: (index, kind, sql, message).
    pub wrongly_refused: Vec<(usize, Kind, String, String)>,
    /// Must-refuse statements that ran: (index, sql).
    pub accepted: Vec<(usize, String)>,
    /// Problems found outside the statement stream (placement of rows on the shards, panics
    /// in the proxy's log).
    pub other: Vec<String>,
    /// Statements after which the side under test's connection was gone.
    pub broken: usize,
    /// Every prepared statement (all kinds together).
    pub prepared: KindStats,
    /// Prepared statements with an integer sharding key bound as a string.
    pub prepared_str_keys: usize,
    /// Every statement run inside a transaction (all kinds together).
    pub in_txn: KindStats,
    /// The first statement after the last contents check (checks name the span they cover).
    pub last_check: usize,
    /// Physical-contents differences already reported (each is reported once).
    pub physical_seen: HashSet<String>,
    /// Statements of XA transactions skipped after the proxy refused an earlier one.
    pub skipped: usize,
    /// XA statements the proxy refused as allowed: (index, statement, message).
    pub xa_refused: Vec<(usize, String, String)>,
}

impl Stats {
    pub fn new(seed: u64) -> Stats {
        Stats {
            seed,
            ..Default::default()
        }
    }

    fn kind(&mut self, kind: Kind) -> &mut KindStats {
        self.per_kind.entry(kind).or_default()
    }

    pub fn ran(&mut self, kind: Kind) {
        self.kind(kind).run += 1;
    }

    /// The aggregates a statement also counts in (prepared, inside a transaction).
    fn paths(&mut self, stmt: &Stmt, f: impl Fn(&mut KindStats)) {
        if stmt.params.is_some() {
            f(&mut self.prepared);
        }
        if stmt.in_txn {
            f(&mut self.in_txn);
        }
    }

    /// Counts a (non-control) statement in its kind and its paths.
    pub fn ran_stmt(&mut self, stmt: &Stmt) {
        self.ran(stmt.kind);
        self.paths(stmt, |k| k.run += 1);
        if stmt.str_key {
            self.prepared_str_keys += 1;
        }
    }

    /// `expected`: a must-refuse statement was refused.
    pub fn refused(&mut self, index: usize, stmt: &Stmt, message: &str, expected: bool) {
        self.kind(stmt.kind).refused += 1;
        self.paths(stmt, |k| k.refused += 1);
        let short: String = message.chars().take(160).collect();
        *self.refusals.entry(short).or_default() += 1;
        if !expected && stmt.support() == Support::Must {
            self.wrongly_refused
                .push((index, stmt.kind, stmt.shown(), message.to_string()));
        }
    }

    pub fn both_failed(&mut self, stmt: &Stmt, code: u16) {
        self.kind(stmt.kind).both_failed += 1;
        self.paths(stmt, |k| k.both_failed += 1);
        *self.both_failed_codes.entry((stmt.kind, code)).or_default() += 1;
    }

    pub fn accepted(&mut self, index: usize, stmt: &Stmt) {
        self.accepted.push((index, stmt.shown()));
    }

    pub fn mismatch(&mut self, index: usize, stmt: &Stmt, test: &Outcome, reference: &Outcome) {
        self.kind(stmt.kind).mismatched += 1;
        self.paths(stmt, |k| k.mismatched += 1);
        self.mismatches.push(Mismatch {
            index,
            kind: stmt.kind,
            sql: stmt.shown(),
            test: test.brief(),
            reference: reference.brief(),
            test_ok: test.is_ok(),
            diff: row_diff(test, reference),
        });
    }

    pub fn total(&self) -> usize {
        self.per_kind.values().map(|k| k.run).sum()
    }

    pub fn total_refused(&self) -> usize {
        self.per_kind.values().map(|k| k.refused).sum()
    }

    /// Must-refuse kinds that ran at least once without being refused every time.
    pub fn refuse_kinds_not_refused(&self) -> Vec<Kind> {
        self.per_kind
            .iter()
            .filter(|(k, s)| k.support() == Support::Refuse && s.refused < s.run)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The whole summary, for printing.
    pub fn summary(&self, test_label: &str, elapsed_s: f64) -> String {
        let mut s = String::new();
        let total = self.total();
        let refused = self.total_refused();
        let rate = if total == 0 {
            0.0
        } else {
            100.0 * refused as f64 / total as f64
        };
        let _ = writeln!(
            s,
            "==== shard_diff summary ({test_label} vs reference), seed {} (SHARD_DIFF_SEED={}) ====",
            self.seed, self.seed
        );
        let _ = writeln!(
            s,
            "statements: {total} in {elapsed_s:.1} s; refused: {refused} ({rate:.1}%); \
             mismatches: {}",
            self.mismatches.len()
        );
        if self.broken > 0 {
            let _ = writeln!(s, "connection errors (reconnected): {}", self.broken);
        }
        let _ = writeln!(
            s,
            "{:<18} {:>6} {:>8} {:>8} {:>9}  support",
            "category", "run", "refused", "bothErr", "mismatch"
        );
        for (k, v) in &self.per_kind {
            let _ = writeln!(
                s,
                "{:<18} {:>6} {:>8} {:>8} {:>9}  {:?}",
                format!("{k:?}"),
                v.run,
                v.refused,
                v.both_failed,
                v.mismatched,
                k.support()
            );
        }
        for (label, v) in [
            ("(all prepared)", &self.prepared),
            ("(all in txn)", &self.in_txn),
        ] {
            let _ = writeln!(
                s,
                "{:<18} {:>6} {:>8} {:>8} {:>9}",
                label, v.run, v.refused, v.both_failed, v.mismatched
            );
        }
        let n = |k: Kind| self.per_kind.get(&k).map_or(0, |v| v.run);
        let _ = writeln!(
            s,
            "prepared: {} statements ({} with an integer key bound as a string); \
             transactions: {} opened, {} committed, {} rolled back, {} statements inside",
            self.prepared.run,
            self.prepared_str_keys,
            n(Kind::TxnBegin),
            n(Kind::TxnCommit),
            n(Kind::TxnRollback),
            self.in_txn.run
        );
        let _ = writeln!(
            s,
            "session blocks: {} autocommit=0 by SET, {} reconnects, {} BEGIN; savepoints: {}; \
             XA: {} started, {} refused as allowed (then rolled back, {} statements skipped); \
             contents checks: {}",
            n(Kind::SessAutocommitOff),
            n(Kind::SessReconnect),
            n(Kind::SessBegin),
            n(Kind::SavepointSet),
            n(Kind::XaStart),
            self.xa_refused.len(),
            self.skipped,
            n(Kind::CheckContents)
        );
        for (i, sql, msg) in self.xa_refused.iter().take(5) {
            let _ = writeln!(s, "  XA refusal #{i}: {}\n      -> {msg}", clip(sql));
        }
        if !self.both_failed_codes.is_empty() {
            let codes: Vec<String> = self
                .both_failed_codes
                .iter()
                .map(|((k, c), n)| format!("{k:?}/{c} x{n}"))
                .collect();
            let _ = writeln!(s, "failed alike on both sides: {}", codes.join(", "));
        }
        let mut msgs: Vec<(&String, &usize)> = self.refusals.iter().collect();
        msgs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        if !msgs.is_empty() {
            let _ = writeln!(s, "refusal messages ({} distinct, top 10):", msgs.len());
            for (m, n) in msgs.iter().take(10) {
                let _ = writeln!(s, "  {n:>5} x {m}");
            }
        }
        if !self.wrongly_refused.is_empty() {
            let _ = writeln!(
                s,
                "refused although they must be supported: {} (first 10):",
                self.wrongly_refused.len()
            );
            for (i, k, sql, msg) in self.wrongly_refused.iter().take(10) {
                let _ = writeln!(s, "  #{i} {k:?}: {}\n      -> {msg}", clip(sql));
            }
        }
        if !self.accepted.is_empty() {
            let _ = writeln!(
                s,
                "accepted although they must be refused: {}",
                self.accepted.len()
            );
            for (i, sql) in self.accepted.iter().take(10) {
                let _ = writeln!(s, "  #{i}: {}", clip(sql));
            }
        }
        for m in self.mismatches.iter().take(20) {
            let _ = writeln!(
                s,
                "MISMATCH seed {} #{} {:?}: {}\n  {test_label}: {}\n  reference: {}",
                self.seed,
                m.index,
                m.kind,
                clip(&m.sql),
                clip(&m.test),
                clip(&m.reference)
            );
            if let Some(d) = &m.diff {
                let _ = writeln!(s, "  difference: {}", clip(d));
            }
        }
        if self.mismatches.len() > 20 {
            let _ = writeln!(s, "... and {} more mismatches:", self.mismatches.len() - 20);
            for m in self.mismatches.iter().skip(20).take(300) {
                let sql: String = m.sql.chars().take(200).collect();
                let _ = writeln!(s, "  #{} {:?}: {sql}", m.index, m.kind);
            }
        }
        for o in &self.other {
            let _ = writeln!(s, "PROBLEM: {o}");
        }
        s
    }
}
