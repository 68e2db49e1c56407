//! Runs plans on sharded schemas: one target (relayed as is, on a replica when the read may),
//! a scatter read merged from several shards, or a write over several targets run as one
//! transaction per shard (or under a savepoint inside the client's transaction). Holds the
//! session's primary connections to shards other than the default one, and commits or rolls
//! back all of them together.

mod scatter;
mod transaction;
mod write;

pub(super) use write::PreparedExec;

use std::sync::Arc;

use super::FrontendError;
use super::session::Session;
use crate::backend::pool::PooledConn;
use crate::executor::multiwrite::{self, WriteOk};
use crate::executor::passthrough::Outcome;
use crate::protocol::command;
use crate::protocol::packets::status;
use crate::protocol::response::Expect;
use crate::router::Role;
use crate::router::shard::plan::{ShardedKind, ShardedPlan};
use crate::runtime::Snapshot;

/// Where a connection that may join the session's transaction comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::frontend) enum Joining {
    /// The session held it already: it is part of the transaction unless it reports none
    /// with autocommit on.
    Held,
    /// Borrowed from the pool for this statement: it has none of the session's transaction.
    Borrowed,
}

impl Session {
    pub(super) async fn run_sharded(
        &mut self,
        snapshot: &Arc<Snapshot>,
        plan: ShardedPlan,
        counted: &mut crate::metrics::Statement,
    ) -> Result<(), FrontendError> {
        self.check_xa_plan(snapshot, &plan)?;
        match &plan.kind {
            ShardedKind::Single => {
                let Some(target) = plan.targets.first() else {
                    return Ok(());
                };
                let payload = command::query(target.sql.as_bytes());
                if plan.role == Role::Replica
                    && self
                        .try_replica(&payload, snapshot, target.shard, None)
                        .await?
                {
                    return Ok(());
                }
                counted.on_primary();
                let writes = plan.role == Role::Primary;
                let result = self.forward_on(snapshot, target.shard, &payload).await;
                if writes {
                    self.note_write();
                }
                result.map(|_| ())
            }
            ShardedKind::Scatter(spec) => self.scatter(snapshot, &plan, spec, None).await,
            ShardedKind::MultiWrite | ShardedKind::BroadcastWrite => {
                self.multi_write(snapshot, &plan, None).await
            }
        }
    }

    /// Forwards a command to the session's primary connection of `shard`.
    pub(super) async fn forward_on(
        &mut self,
        snapshot: &Snapshot,
        shard: usize,
        payload: &[u8],
    ) -> Result<Outcome, FrontendError> {
        if shard == snapshot.registry.default_shard {
            let out = self.forward(payload, Expect::Results).await?;
            self.note_result(&out);
            return Ok(out);
        }
        self.flush_unread_insert_id().await;
        let mut conn = self.shard_conn(snapshot, shard).await?;
        let result = self.relay_on(&mut conn, payload, Expect::Results).await;
        self.keep_other_shard(shard, conn, result).await
    }

    /// After a statement relayed on another shard's connection: records what its reply says
    /// of the session (session variables it set, `LAST_INSERT_ID()`, `ROW_COUNT()`, status,
    /// GTID) and keeps the connection while the session needs it.
    pub(super) async fn keep_other_shard(
        &mut self,
        shard: usize,
        mut conn: PooledConn,
        result: Result<Outcome, crate::executor::ExecError>,
    ) -> Result<Outcome, FrontendError> {
        if let Ok(out) = &result {
            // Session variables a statement there set (SET in a schema whose default shard
            // is this one) belong to the session, as on the default shard's connection.
            self.note_vars(&out.vars);
            if !out.vars.is_empty() {
                conn.vars = Arc::clone(&self.vars);
            }
            if !out.failed {
                self.follow_autocommit_flag(out.status, &mut conn);
            }
            if out.insert_id > 0 || self.wants_last_insert_id {
                self.take_last_insert_id(&mut conn, out.insert_id).await;
            }
        }
        self.keep_shard(shard, conn);
        let out = result?;
        self.note_result_elsewhere(&out);
        self.note_status(out.status);
        if let Some(gtid) = &out.last_gtid {
            self.shard_gtids.insert(shard, gtid.clone());
        }
        Ok(out)
    }

    /// The session's primary connection to a shard other than the default one, brought to the
    /// session's state and into its transaction.
    pub(super) async fn shard_conn(
        &mut self,
        snapshot: &Snapshot,
        shard: usize,
    ) -> Result<PooledConn, FrontendError> {
        self.check_xa(snapshot.registry.default_shard, [shard], &[])?;
        let (mut conn, joining) = match self.others.remove(&shard) {
            Some(conn) => (conn, Joining::Held),
            None => {
                let pool = Arc::clone(&snapshot.registry.shards[shard].primary);
                let conn = pool
                    .checkout_preferring(self.flavour(), self.state_key())
                    .await?;
                (conn, Joining::Borrowed)
            }
        };
        self.sync(&mut conn).await?;
        self.join_transaction(&mut conn, joining).await?;
        Ok(conn)
    }

    /// A connection the statement uses joins the session's transaction when it is open on
    /// another connection (or has savepoints): BEGIN, then the transaction's savepoints. With
    /// autocommit off and no transaction open anywhere, the connection (which carries
    /// autocommit off) opens its part itself, as one server would.
    pub(in crate::frontend) async fn join_transaction(
        &self,
        conn: &mut PooledConn,
        joining: Joining,
    ) -> Result<(), FrontendError> {
        if conn.status & status::IN_TRANS != 0 {
            return Ok(());
        }
        if joining == Joining::Held && conn.autocommit_off() {
            // Already part of the transaction (MariaDB's IN_TRANS says nothing there).
            return Ok(());
        }
        // Connections the current statement already took out (a write over several shards)
        // are not in `backend`/`others`: the transaction as it stood before the command
        // counts too — on other connections than this one.
        let mine = conn.id;
        let elsewhere = self
            .backend
            .iter()
            .chain(self.others.values())
            .any(|c| c.id != mine && crate::frontend::transaction::part_of_transaction(c));
        let open = elsewhere || self.txn_watch.conns.iter().any(|id| *id != mine);
        let fresh_savepoints = joining == Joining::Borrowed && !self.savepoints.is_empty();
        if open || (fresh_savepoints && !self.autocommit()) {
            self.simple_on(conn, "BEGIN").await?;
            self.savepoints_on_join(conn).await?;
        }
        Ok(())
    }

    /// `check_xa` for every target of a plan, before any of them runs.
    pub(super) fn check_xa_plan(
        &self,
        snapshot: &Snapshot,
        plan: &ShardedPlan,
    ) -> Result<(), FrontendError> {
        let tables: Vec<String> = plan.targets.iter().flat_map(|t| t.tables.clone()).collect();
        self.check_xa(
            snapshot.registry.default_shard,
            plan.targets.iter().map(|t| t.shard),
            &tables,
        )
    }

    /// Remembers the GTID of the session's last commit on `shard` (read-your-writes).
    pub(super) fn record_gtid(&mut self, shard: usize, gtid: String) {
        if shard == self.snapshot().registry.default_shard {
            self.last_gtid = Some(gtid);
        } else {
            self.shard_gtids.insert(shard, gtid);
        }
    }

    fn keep_shard(&mut self, shard: usize, conn: PooledConn) {
        if conn.reusable {
            self.others.insert(shard, conn);
        }
    }

    /// Runs one of the proxy's own statements; a server error is returned as the reply.
    async fn simple_on(&self, conn: &mut PooledConn, sql: &str) -> Result<WriteOk, FrontendError> {
        let name = conn.pool().name().to_string();
        match multiwrite::run(conn, &name, sql).await? {
            Ok(ok) => Ok(ok),
            Err(p) => Err(FrontendError::BackendReply(p)),
        }
    }

    /// The session's connection to any shard (the default one included), taken out.
    async fn take_shard_conn(
        &mut self,
        snapshot: &Snapshot,
        shard: usize,
    ) -> Result<PooledConn, FrontendError> {
        if shard == snapshot.registry.default_shard {
            self.checkout().await
        } else {
            self.shard_conn(snapshot, shard).await
        }
    }

    pub(in crate::frontend) fn put_shard_conn(
        &mut self,
        snapshot: &Snapshot,
        shard: usize,
        conn: PooledConn,
    ) {
        if !conn.reusable {
            return;
        }
        if shard == snapshot.registry.default_shard {
            self.backend = Some(conn);
        } else {
            self.others.insert(shard, conn);
        }
    }
}
