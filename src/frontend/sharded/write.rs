//! Writes over several targets: one transaction per shard (or a savepoint inside the
//! client's transaction), each target's statement run as text or as the client's prepared
//! statement, affected rows summed into one OK.

use std::sync::Arc;

use crate::backend::pool::PooledConn;
use crate::executor::ExecError;
use crate::executor::multiwrite::{self, WriteOk};
use crate::frontend::FrontendError;
use crate::frontend::session::Session;
use crate::protocol::packets;
use crate::router::shard::plan::{ShardedKind, ShardedPlan};
use crate::runtime::Snapshot;

impl Session {
    /// A write over several targets: one transaction per shard (or a savepoint inside the
    /// client's transaction), affected rows summed, one OK.
    pub(in crate::frontend) async fn multi_write(
        &mut self,
        snapshot: &Arc<Snapshot>,
        plan: &ShardedPlan,
        prepared: Option<&PreparedExec<'_>>,
    ) -> Result<(), FrontendError> {
        let in_txn = self.in_transaction();
        self.flush_unread_insert_id().await;
        let mut shards: Vec<usize> = Vec::new();
        for t in &plan.targets {
            if !shards.contains(&t.shard) {
                shards.push(t.shard);
            }
        }
        let mut conns: Vec<(usize, PooledConn)> = Vec::with_capacity(shards.len());
        let opened = self.open_write(snapshot, &shards, in_txn, &mut conns).await;
        let ran = match opened {
            Ok(()) => self.run_targets(plan, &mut conns, prepared).await,
            Err(e) => Err(e),
        };
        let result = match ran {
            Ok(total) if in_txn => Ok(total),
            Ok(mut total) => {
                let committed = self.commit_all(&mut conns, "COMMIT").await;
                // The status after the commits: out of the per-shard transactions.
                total.status_from = conns.last().map(|(_, c)| c.status);
                committed.map(|()| total)
            }
            Err(e) => {
                let undo = if in_txn {
                    "ROLLBACK TO SAVEPOINT shardgate_stmt"
                } else {
                    "ROLLBACK"
                };
                for (_, conn) in conns.iter_mut() {
                    if conn.reusable && self.simple_on(conn, undo).await.is_err() {
                        conn.reusable = false;
                    }
                }
                Err(e)
            }
        };
        for (shard, conn) in conns {
            self.put_shard_conn(snapshot, shard, conn);
        }
        self.note_write();
        self.note_count_elsewhere(-1);
        let total = result?;
        self.note_count_elsewhere(i64::try_from(total.ok.affected_rows).unwrap_or(i64::MAX));
        self.note_status(total.status_from.unwrap_or(self.status));
        let mut seq = self.reply_seq;
        let ok = packets::ok_packet(self.status, total.ok.affected_rows, total.ok.last_insert_id);
        self.client.write_packet(&mut seq, &ok);
        self.client.flush().await.map_err(FrontendError::Protocol)?;
        Ok(())
    }

    async fn open_write(
        &mut self,
        snapshot: &Snapshot,
        shards: &[usize],
        in_txn: bool,
        conns: &mut Vec<(usize, PooledConn)>,
    ) -> Result<(), FrontendError> {
        for &shard in shards {
            let mut conn = self.take_shard_conn(snapshot, shard).await?;
            let begin = if in_txn {
                "SAVEPOINT shardgate_stmt"
            } else {
                "BEGIN"
            };
            let r = self.simple_on(&mut conn, begin).await;
            conns.push((shard, conn));
            r?;
        }
        Ok(())
    }

    async fn run_targets(
        &mut self,
        plan: &ShardedPlan,
        conns: &mut [(usize, PooledConn)],
        prepared: Option<&PreparedExec<'_>>,
    ) -> Result<Totals, FrontendError> {
        let mut total = Totals::default();
        let broadcast = plan.kind == ShardedKind::BroadcastWrite;
        for (i, t) in plan.targets.iter().enumerate() {
            let Some((_, conn)) = conns.iter_mut().find(|(s, _)| *s == t.shard) else {
                continue;
            };
            let ok = match prepared {
                None => self.simple_on(conn, &t.sql).await?,
                Some(p) => p.run(conn, &t.sql).await?,
            };
            if ok.last_insert_id > 0 || self.wants_last_insert_id {
                if total.ok.last_insert_id == 0 {
                    // LAST_INSERT_ID() afterwards: the first target's that set one.
                    self.take_last_insert_id(conn, ok.last_insert_id).await;
                } else {
                    // Changed there too: set again before a statement there reads it.
                    conn.last_insert_id = None;
                }
            }
            if broadcast {
                // Every shard holds the same rows: the client sees one shard's count.
                if i == 0 {
                    total.ok.affected_rows = ok.affected_rows;
                } else if ok.affected_rows != total.ok.affected_rows {
                    tracing::warn!(
                        conn = self.id,
                        "broadcast write affected {} rows on {} but {} on the first shard: \
                         the broadcast table differs between shards",
                        ok.affected_rows,
                        conn.pool().name(),
                        total.ok.affected_rows
                    );
                }
                if total.ok.last_insert_id == 0 {
                    total.ok.last_insert_id = ok.last_insert_id;
                }
                total.status_from = Some(ok.status);
                continue;
            }
            total.ok.affected_rows += ok.affected_rows;
            if total.ok.last_insert_id == 0 {
                total.ok.last_insert_id = ok.last_insert_id;
            }
            total.status_from = Some(ok.status);
        }
        Ok(total)
    }
}

/// A prepared statement run on several targets: each connection prepares the target's text
/// (lazily, cached per connection) and executes it with the client's parameters.
pub(in crate::frontend) struct PreparedExec<'a> {
    pub payload: &'a [u8],
    pub params: u16,
    pub types: &'a [u8],
}

impl PreparedExec<'_> {
    /// The client's execute, addressed to `sql` prepared on `conn` (prepared now if needed).
    pub(in crate::frontend) async fn execute_packet(
        &self,
        conn: &mut PooledConn,
        sql: &str,
    ) -> Result<Vec<u8>, FrontendError> {
        use crate::backend::statements::{Prepared, execute_for};
        let name = conn.pool().name().to_string();
        let text: Arc<[u8]> = Arc::from(sql.as_bytes());
        let stmt = match conn.prepared(&text).await {
            Ok(Prepared::Ready(s)) if s.params == self.params => s,
            Ok(Prepared::Ready(_)) => return Err(FrontendError::BadExecute { id: 0 }),
            Ok(Prepared::Refused(p)) => return Err(FrontendError::BackendReply(p)),
            Err(source) => {
                return Err(ExecError::Lost {
                    backend: name,
                    source,
                    partial: false,
                }
                .into());
            }
        };
        execute_for(self.payload, stmt.id, stmt.params, self.types)
            .ok_or(FrontendError::BadExecute { id: 0 })
    }

    async fn run(&self, conn: &mut PooledConn, sql: &str) -> Result<WriteOk, FrontendError> {
        let body = self.execute_packet(conn, sql).await?;
        let name = conn.pool().name().to_string();
        match multiwrite::run_command(conn, &name, &body).await? {
            Ok(ok) => Ok(ok),
            Err(p) => Err(FrontendError::BackendReply(p)),
        }
    }
}

#[derive(Default)]
struct Totals {
    ok: WriteOk,
    status_from: Option<u16>,
}
