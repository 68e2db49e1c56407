//! The session's transaction as the servers see it: open when any connection the session
//! holds reports IN_TRANS, or implied by autocommit off (a session variable like any other,
//! carried to every connection, so each shard opens its part of the transaction the way one
//! server would). Statements that end a transaction implicitly, and a transaction that one
//! shard ended on its own (a deadlock rolls it back, a lost connection takes it), end it on
//! every shard.

use std::sync::Arc;

use super::FrontendError;
use super::session::Session;
use crate::backend::connection::BackendConn;
use crate::protocol::packets::status;
use crate::router::classify::Reason;
use crate::router::shard::error::ShardError;
use crate::router::{Plan, Why, txn};
use crate::runtime::Snapshot;

/// The session's transaction before a command: the shards holding it, and autocommit.
#[derive(Debug, Default)]
pub(super) struct TxnWatch {
    pub shards: Vec<usize>,
    /// The ids of the connections holding it.
    pub conns: Vec<u64>,
    pub autocommit: bool,
}

impl Session {
    /// Inside a transaction (open on a connection, or autocommit off)?
    pub(super) fn in_transaction(&self) -> bool {
        self.txn_open() || !self.autocommit()
    }

    /// A transaction is open on one of the connections the session holds.
    pub(super) fn txn_open(&self) -> bool {
        self.backend
            .iter()
            .chain(self.others.values())
            .any(|c| part_of_transaction(c))
    }

    /// The session's autocommit setting: the value the server last reported for it, or the
    /// status flag where the server does not report variables.
    pub(super) fn autocommit(&self) -> bool {
        match self.vars.get("autocommit") {
            Some(v) => v.eq_ignore_ascii_case("ON") || v == "1",
            None => self.status & status::AUTOCOMMIT != 0,
        }
    }

    /// The session's status flags after a reply: the reply's own flags, with IN_TRANS over
    /// every connection the session holds (one shard's reply does not speak for the others)
    /// and AUTOCOMMIT from the session's setting. Cursor flags describe one reply only.
    pub(super) fn note_status(&mut self, reply: u16) {
        let keep = !(status::IN_TRANS
            | status::AUTOCOMMIT
            | status::CURSOR_EXISTS
            | status::LAST_ROW_SENT);
        let mut st = reply & keep;
        if self.vars.get("autocommit").is_none() {
            st |= reply & status::AUTOCOMMIT;
        } else if self.autocommit() {
            st |= status::AUTOCOMMIT;
        }
        if self.txn_open() {
            st |= status::IN_TRANS;
        }
        self.status = st;
    }

    /// Before a statement that commits implicitly (DDL, BEGIN, LOCK TABLES, ...) while the
    /// session's transaction spans shards: every shard commits first, as one server would
    /// commit the whole transaction before running it. A failure is the statement's error
    /// (it does not run).
    pub(super) async fn commit_before(
        &mut self,
        snapshot: &Arc<Snapshot>,
    ) -> Result<(), FrontendError> {
        if !self.others_in_transaction() {
            return Ok(());
        }
        self.end_everywhere(snapshot, true).await
    }

    /// Another shard's connection is inside the session's transaction.
    pub(super) fn others_in_transaction(&self) -> bool {
        self.others.values().any(|c| part_of_transaction(c))
    }

    /// The transaction as it stands before a command.
    pub(super) fn watch_transaction(&self) -> TxnWatch {
        TxnWatch {
            shards: self.shards_in_transaction(),
            conns: self
                .backend
                .iter()
                .chain(self.others.values())
                .filter(|c| part_of_transaction(c))
                .map(|c| c.id)
                .collect(),
            autocommit: self.autocommit(),
        }
    }

    /// The shards whose connection the session holds inside a transaction.
    pub(super) fn shards_in_transaction(&self) -> Vec<usize> {
        let default = self.routing.registry.default_shard;
        let mut shards: Vec<usize> = self
            .others
            .iter()
            .filter(|(_, c)| part_of_transaction(c))
            .map(|(s, _)| *s)
            .collect();
        if self
            .backend
            .as_ref()
            .is_some_and(|c| part_of_transaction(c))
        {
            shards.push(default);
        }
        shards
    }

    /// After a command: a transaction that ended on some of its shards only (a server's own
    /// implicit commit, a deadlock's rollback, a lost connection) or that autocommit turned
    /// on ends the same way on the others. `txn_watch` holds the transaction as it stood
    /// before the command; the proxy's own endings of it (COMMIT/ROLLBACK on every shard, the
    /// commit before an implicit-commit statement) clear it.
    pub(super) async fn follow_transaction_end(&mut self) {
        let before = std::mem::take(&mut self.txn_watch);
        if before.shards.is_empty() {
            // No transaction before the command (or the proxy ended it): nothing ended.
            return;
        }
        let now = self.shards_in_transaction();
        if now.is_empty() {
            return;
        }
        let mut commit = None;
        for shard in before.shards.iter().filter(|s| !now.contains(s)) {
            let held = if *shard == self.routing.registry.default_shard {
                self.backend.as_ref()
            } else {
                self.others.get(shard)
            };
            // Gone with its connection, or a failed statement ended it: rolled back.
            let committed = held.is_some_and(|c| c.last_error.is_none());
            commit = Some(commit.unwrap_or(true) && committed);
        }
        // A deadlock rolls the whole transaction back on its server (also where autocommit
        // is off and the status flags say nothing): every shard rolls back.
        let mut held = self.backend.iter_mut().chain(self.others.values_mut());
        if held.any(|c| c.last_error.take() == Some(ER_LOCK_DEADLOCK)) {
            commit = Some(false);
        }
        if commit.is_none() && self.autocommit() && !before.autocommit {
            commit = Some(true);
        }
        let Some(commit) = commit else {
            return;
        };
        tracing::info!(
            conn = self.id,
            commit,
            before = ?before.shards,
            now = ?now,
            "the transaction ended on some shards: ending it on the others"
        );
        let snapshot = self.snapshot();
        if let Err(e) = self.end_everywhere(&snapshot, commit).await {
            tracing::error!(
                conn = self.id,
                "ending the transaction on the other shards: {e}"
            );
        }
    }

    /// A client's XA transaction lives on the default shard's connection: a statement that
    /// would reach another shard inside it is refused before it runs anywhere (the XA
    /// PREPARE/COMMIT would not cover that shard, and atomic commit across shards is not
    /// there yet). Also refused: XA START while the transaction already spans shards.
    pub(super) fn check_xa(
        &self,
        default: usize,
        shards: impl IntoIterator<Item = usize>,
        tables: &[String],
    ) -> Result<(), FrontendError> {
        if !self.pins.xa_open() || shards.into_iter().all(|s| s == default) {
            return Ok(());
        }
        Err(FrontendError::Sharding(ShardError::unsupported(
            tables,
            "a statement on another shard than the default one inside a client XA \
             transaction (an XA transaction must stay on the schema's default shard; end it \
             with XA END/PREPARE/COMMIT first)",
        )))
    }

    /// XA START (or BEGIN) while the session's transaction already spans shards would leave
    /// the other shards' part outside the XA transaction: refused.
    pub(super) fn check_xa_start(&self, sql: &[u8]) -> Result<(), FrontendError> {
        // The pins' own scan knows XA START (comments, hints and all); it runs only while
        // the transaction spans shards.
        if self.others_in_transaction() && super::pins::scan(sql).xa_start {
            return Err(FrontendError::Sharding(ShardError::unsupported(
                &[],
                "XA START while the transaction has written on several shards (end the \
                 transaction with COMMIT or ROLLBACK first)",
            )));
        }
        Ok(())
    }
}

/// ER_LOCK_DEADLOCK: the server rolled the whole transaction back.
const ER_LOCK_DEADLOCK: u16 = 1213;

/// Must this connection take part in ending the session's transaction? It reports one open,
/// or it runs with autocommit off (a read there opened one that a result set's status flags
/// do not report).
pub(super) fn part_of_transaction(conn: &BackendConn) -> bool {
    conn.status & status::IN_TRANS != 0 || conn.autocommit_off()
}

impl Session {
    /// What a statement does to a transaction spanning shards, before it runs: refused when
    /// its effect on the transaction is hidden from the proxy (EXECUTE, CALL, compound and
    /// multi-statements may COMMIT or ROLLBACK inside); every shard commits first when it
    /// commits implicitly; XA START refused while the transaction spans shards. A statement
    /// the router refuses changes nothing.
    pub(super) async fn transaction_rules(
        &mut self,
        sql: &[u8],
        plan: &Plan,
        snapshot: &Arc<Snapshot>,
    ) -> Result<(), FrontendError> {
        if matches!(plan, Plan::Refused(_) | Plan::Admin(_)) {
            return Ok(());
        }
        self.check_xa_start(sql)?;
        if !self.others_in_transaction() {
            return Ok(());
        }
        let multi = matches!(
            plan,
            Plan::Single {
                why: Why::Statement(Reason::MultiStatement),
                ..
            }
        );
        if multi || txn::hides_transaction_control(sql) {
            return Err(FrontendError::Sharding(ShardError::unsupported(
                &[],
                "EXECUTE, CALL, compound statements and multi-statements while a transaction \
                 spans shards (they may end the transaction where the proxy cannot see it; \
                 COMMIT or ROLLBACK first, or send the statements one by one)",
            )));
        }
        let implicit = txn::commits_implicitly(sql)
            || (txn::unlocks_tables(sql) && self.pins.table_locks())
            || (!self.autocommit() && txn::sets_autocommit_on(sql));
        if implicit {
            self.commit_before(snapshot).await?;
        }
        Ok(())
    }

    /// A COM_STMT_EXECUTE whose statement ends the transaction or commits implicitly, while
    /// the transaction spans shards: refused (the proxy ends transactions on every shard only
    /// for text statements).
    pub(super) fn check_prepared_transaction_control(
        &self,
        sql: &[u8],
    ) -> Result<(), FrontendError> {
        if !self.others_in_transaction() {
            return Ok(());
        }
        let controls = crate::router::prescan::ends_transaction(sql).is_some()
            || txn::commits_implicitly(sql)
            || txn::sets_autocommit_on(sql)
            || txn::hides_transaction_control(sql)
            || crate::router::savepoint::parse(sql).is_some();
        if controls {
            return Err(FrontendError::Sharding(ShardError::unsupported(
                &[],
                "a prepared statement that ends the transaction, commits implicitly or sets a \
                 savepoint while the transaction spans shards (send it as a text statement)",
            )));
        }
        Ok(())
    }
}

impl Session {
    /// MariaDB does not report `SET @@autocommit = 0` (no scope keyword) through session
    /// tracking; the AUTOCOMMIT flag of every OK says it. The session's setting and the
    /// connection's record follow the flag of a reply to the session's own statement.
    pub(super) fn follow_autocommit_flag(&mut self, reply: u16, conn: &mut BackendConn) {
        let flag_on = reply & status::AUTOCOMMIT != 0;
        if flag_on != conn.autocommit_off() {
            return;
        }
        let value = if flag_on { "ON" } else { "OFF" };
        self.note_vars(&[("autocommit".to_string(), value.to_string())]);
        conn.vars = Arc::clone(&self.vars);
    }
}
