//! Ends the transactions the session holds on several shards: commits in order (a failure
//! after a success is a partial commit), COMMIT/ROLLBACK as the client wrote it, and the
//! other shards' connections returned at the end of the session.

use std::sync::Arc;

use crate::backend::pool::PooledConn;
use crate::frontend::FrontendError;
use crate::frontend::session::Session;
use crate::frontend::transaction::part_of_transaction;
use crate::protocol::packets;
use crate::router::savepoint::Savepoint;
use crate::runtime::Snapshot;

impl Session {
    /// Commits each shard's transaction in order; a failure after a success is reported as a
    /// partial commit.
    pub(super) async fn commit_all(
        &mut self,
        conns: &mut [(usize, PooledConn)],
        commit_sql: &str,
    ) -> Result<(), FrontendError> {
        let mut committed: Vec<String> = Vec::new();
        for i in 0..conns.len() {
            let name = conns[i].1.pool().name().to_string();
            let shard = conns[i].0;
            match self.simple_on(&mut conns[i].1, commit_sql).await {
                Ok(ok) => {
                    if let Some(g) = ok.last_gtid {
                        self.record_gtid(shard, g);
                    }
                    committed.push(name);
                }
                Err(e) => {
                    let mut rolled_back = Vec::new();
                    for (_, conn) in conns[i + 1..].iter_mut() {
                        if self.simple_on(conn, "ROLLBACK").await.is_ok() {
                            rolled_back.push(conn.pool().name().to_string());
                        }
                    }
                    if committed.is_empty() {
                        return Err(e);
                    }
                    let partial = FrontendError::PartialCommit {
                        committed: committed.join(", "),
                        failed: name,
                        cause: cause_of(&e),
                        rolled_back: if rolled_back.is_empty() {
                            "none".into()
                        } else {
                            rolled_back.join(", ")
                        },
                    };
                    tracing::error!(conn = self.id, "{partial}");
                    return Err(partial);
                }
            }
        }
        Ok(())
    }

    /// COMMIT or ROLLBACK with connections to several shards: every shard's transaction ends.
    /// `None` when the session has no other shard inside a transaction (plain forwarding).
    pub(in crate::frontend) async fn end_transaction(
        &mut self,
        snapshot: &Arc<Snapshot>,
        payload: &[u8],
        commit: bool,
    ) -> Option<Result<(), FrontendError>> {
        if !self.others_in_transaction() {
            return None;
        }
        // The default shard first (where BEGIN ran), then the others; the statement as the
        // client wrote it (COMMIT AND CHAIN, ROLLBACK RELEASE, ...).
        let mut conns = match self.transaction_conns(snapshot).await {
            Ok(conns) => conns,
            Err(e) => return Some(Err(e)),
        };
        let sql = String::from_utf8_lossy(payload.get(1..).unwrap_or_default()).into_owned();
        let result = if commit {
            self.commit_all(&mut conns, &sql).await
        } else {
            self.rollback_all(&mut conns, &sql).await
        };
        if releases(&sql) {
            // COMMIT/ROLLBACK ... RELEASE: each server closes its connection after the OK.
            for (_, conn) in conns.iter_mut() {
                conn.reusable = false;
            }
        }
        self.savepoints.clear();
        self.txn_watch = Default::default();
        Some(self.finish_on_all(snapshot, conns, result).await)
    }

    /// The session's connections in its transaction: the default shard's first, then every
    /// other shard's that is inside the transaction (taken out of `others`).
    async fn transaction_conns(
        &mut self,
        snapshot: &Snapshot,
    ) -> Result<Vec<(usize, PooledConn)>, FrontendError> {
        let conn = self.checkout().await?;
        let mut conns = vec![(snapshot.registry.default_shard, conn)];
        conns.extend(self.take_others_in_transaction());
        Ok(conns)
    }

    /// The other shards' connections inside the transaction, taken out of `others`.
    fn take_others_in_transaction(&mut self) -> Vec<(usize, PooledConn)> {
        let busy: Vec<usize> = self
            .others
            .iter()
            .filter(|(_, c)| part_of_transaction(c))
            .map(|(s, _)| *s)
            .collect();
        busy.iter()
            .filter_map(|s| self.others.remove(s).map(|c| (*s, c)))
            .collect()
    }

    /// Puts back the connections of `transaction_conns`, takes the default shard's status,
    /// and replies OK (or the error) for a statement the proxy ran on each of them.
    async fn finish_on_all(
        &mut self,
        snapshot: &Snapshot,
        conns: Vec<(usize, PooledConn)>,
        result: Result<(), FrontendError>,
    ) -> Result<(), FrontendError> {
        let status = conns.first().map(|(_, c)| c.status);
        for (shard, conn) in conns {
            self.put_shard_conn(snapshot, shard, conn);
        }
        if let Some(st) = status {
            self.note_status(st);
        }
        result?;
        let mut seq = self.reply_seq;
        self.client
            .write_packet(&mut seq, &packets::ok_packet(self.status, 0, 0));
        self.client.flush().await.map_err(FrontendError::Protocol)
    }

    /// Commits (or rolls back) the transaction on every connection the session holds inside
    /// it, without a reply to the client: before an implicit-commit statement, or after one
    /// shard ended its part on its own.
    pub(in crate::frontend) async fn end_everywhere(
        &mut self,
        snapshot: &Arc<Snapshot>,
        commit: bool,
    ) -> Result<(), FrontendError> {
        let default = snapshot.registry.default_shard;
        let mut conns: Vec<(usize, PooledConn)> = Vec::new();
        if let Some(conn) = self.backend.take() {
            conns.push((default, conn));
        }
        conns.extend(self.take_others_in_transaction());
        let result = if commit {
            self.commit_all(&mut conns, "COMMIT").await
        } else {
            self.rollback_all(&mut conns, "ROLLBACK").await
        };
        for (shard, conn) in conns {
            self.put_shard_conn(snapshot, shard, conn);
        }
        self.savepoints.clear();
        self.note_status(self.status);
        // The proxy ended the transaction it knew of: nothing for `follow_transaction_end`.
        self.txn_watch = Default::default();
        result
    }

    /// Runs a ROLLBACK on each connection; a connection that fails it is closed (which rolls
    /// its transaction back too).
    async fn rollback_all(
        &mut self,
        conns: &mut [(usize, PooledConn)],
        sql: &str,
    ) -> Result<(), FrontendError> {
        let mut first_err = None;
        for (_, conn) in conns.iter_mut() {
            if let Err(e) = self.simple_on(conn, sql).await {
                conn.reusable = false;
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Returns the other shards' connections (reset) at the end of the session.
    pub(in crate::frontend) async fn release_others(&mut self) {
        for (_, mut conn) in std::mem::take(&mut self.others) {
            if !matches!(
                conn.reset().await,
                Ok(crate::backend::connection::Reply::Ok { .. })
            ) {
                conn.reusable = false;
            }
        }
    }
}

/// `COMMIT RELEASE` / `ROLLBACK AND NO CHAIN RELEASE` (not `NO RELEASE`).
fn releases(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    words
        .iter()
        .enumerate()
        .any(|(i, w)| w == "RELEASE" && (i == 0 || words[i - 1] != "NO"))
}

fn cause_of(e: &FrontendError) -> String {
    match e {
        FrontendError::BackendReply(p) => {
            let msg = p.get(9..).map(String::from_utf8_lossy).unwrap_or_default();
            msg.into_owned()
        }
        other => other.to_string(),
    }
}

impl Session {
    /// A savepoint statement inside a transaction on a sharded setup: run on the default
    /// shard's connection and on every other shard in the transaction, so that `ROLLBACK TO`
    /// undoes every shard's work since the savepoint; shards that join the transaction later
    /// get the savepoints at BEGIN (`savepoints_on_join`). `None` outside a transaction.
    pub(in crate::frontend) async fn savepoint_all(
        &mut self,
        snapshot: &Arc<Snapshot>,
        sql: &[u8],
        op: &Savepoint,
    ) -> Option<Result<(), FrontendError>> {
        if snapshot.config.sharding.is_empty() || !self.in_transaction() {
            return None;
        }
        let mut conns = match self.transaction_conns(snapshot).await {
            Ok(conns) => conns,
            Err(e) => return Some(Err(e)),
        };
        let text = String::from_utf8_lossy(sql).into_owned();
        let mut result = Ok(());
        for (i, (_, conn)) in conns.iter_mut().enumerate() {
            if let Err(e) = self.simple_on(conn, &text).await {
                if i > 0 {
                    // The default shard took it, this one did not: the shards' savepoints
                    // differ now, and only ending the transaction makes them agree again.
                    tracing::warn!(conn = self.id, backend = conn.pool().name(), "{text}: {e}");
                }
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            op.apply(&mut self.savepoints);
        }
        Some(self.finish_on_all(snapshot, conns, result).await)
    }

    /// On a shard joining the session's transaction (after its BEGIN): the savepoints the
    /// transaction has, so that rolling back to one also undoes this shard's work.
    pub(in crate::frontend) async fn savepoints_on_join(
        &self,
        conn: &mut PooledConn,
    ) -> Result<(), FrontendError> {
        for name in &self.savepoints {
            let sql = format!("SAVEPOINT `{}`", name.replace('`', "``"));
            self.simple_on(conn, &sql).await?;
        }
        Ok(())
    }
}
