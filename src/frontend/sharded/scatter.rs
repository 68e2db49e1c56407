//! Reads over several shards: each target's connection (the transaction's own, a replica
//! holding the session's last write, or a primary), the real collations of the text columns
//! read, and the merged result relayed to the client.

use std::sync::Arc;

use super::PreparedExec;
use crate::backend::pool::PooledConn;
use crate::backend::query::QueryResult;
use crate::executor::merge::column::ColumnCollations;
use crate::executor::scatter;
use crate::frontend::FrontendError;
use crate::frontend::session::Session;
use crate::router::Role;
use crate::router::shard::plan::{MergeSpec, ShardedPlan};
use crate::runtime::Snapshot;

impl Session {
    /// A read over several shards, merged.
    pub(in crate::frontend) async fn scatter(
        &mut self,
        snapshot: &Arc<Snapshot>,
        plan: &ShardedPlan,
        spec: &MergeSpec,
        prepared: Option<&PreparedExec<'_>>,
    ) -> Result<(), FrontendError> {
        let in_txn = self.in_transaction();
        let mut leases = Vec::new();
        let mut conns: Vec<PooledConn> = Vec::with_capacity(plan.targets.len());
        let mut session_owned: Vec<Option<usize>> = Vec::with_capacity(plan.targets.len());
        let mut failure = None;
        for t in &plan.targets {
            let got = if in_txn {
                // The transaction's own connections: one statement per shard at a time.
                if session_owned.contains(&Some(t.shard)) {
                    failure = Some(FrontendError::Sharding(
                        crate::router::shard::error::ShardError::unsupported(
                            &t.tables,
                            "a read of several sub-tables of one shard inside a transaction \
                             (add a sharding-key condition, or read outside the transaction)",
                        ),
                    ));
                    break;
                }
                session_owned.push(Some(t.shard));
                self.take_shard_conn(snapshot, t.shard).await
            } else {
                session_owned.push(None);
                let replica = match plan.role {
                    Role::Replica => self.scatter_replica(snapshot, t.shard).await,
                    Role::Primary => Ok(None),
                };
                match replica {
                    Ok(Some((lease, conn))) => {
                        leases.push(lease);
                        Ok(conn)
                    }
                    Ok(None) => {
                        let pool = Arc::clone(&snapshot.registry.shards[t.shard].primary);
                        match pool.checkout(self.flavour()).await {
                            Ok(mut c) => self.sync(&mut c).await.map(|()| c),
                            Err(e) => Err(e.into()),
                        }
                    }
                    Err(e) => Err(e),
                }
            };
            match got {
                Ok(c) => conns.push(c),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let collations = match &failure {
            None => self.column_collations(&mut conns, plan).await,
            Some(_) => ColumnCollations::default(),
        };
        // A prepared statement: each connection executes its own copy (prepared lazily).
        let mut executes: Vec<Vec<u8>> = Vec::new();
        if let (None, Some(p)) = (&failure, prepared) {
            for (conn, t) in conns.iter_mut().zip(&plan.targets) {
                match p.execute_packet(conn, &t.sql).await {
                    Ok(body) => executes.push(body),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        let result = match failure {
            Some(e) => Err(e),
            None => {
                let names: Vec<String> =
                    conns.iter().map(|c| c.pool().name().to_string()).collect();
                let sqls: Vec<String> = plan.targets.iter().map(|t| t.sql.clone()).collect();
                let mut refs: Vec<(&str, &mut crate::backend::connection::BackendConn)> = names
                    .iter()
                    .map(String::as_str)
                    .zip(conns.iter_mut().map(|c| &mut **c))
                    .collect();
                let deprecate_eof = self.client_caps().deprecate_eof;
                let seq = self.reply_seq;
                scatter::scatter_query(
                    &mut self.client,
                    seq,
                    &mut refs,
                    match prepared {
                        None => scatter::Command::Text(&sqls),
                        Some(_) => scatter::Command::Binary(&executes),
                    },
                    spec,
                    &collations,
                    deprecate_eof,
                )
                .await
                .map_err(FrontendError::from)
            }
        };
        drop(leases);
        for (conn, owner) in conns.into_iter().zip(session_owned) {
            if let Some(shard) = owner {
                self.put_shard_conn(snapshot, shard, conn);
            }
        }
        // ROW_COUNT() is -1 after a result set or an error; FOUND_ROWS() counts merged rows.
        self.note_count_elsewhere(-1);
        let out = result?;
        if !out.failed {
            self.found_rows = out.rows;
        }
        // Only the transaction's own connections say anything about the session's state;
        // borrowed connections outside a transaction do not.
        if in_txn && !out.failed {
            self.note_status(self.status);
        }
        Ok(())
    }

    /// A replica connection of `shard` for one target of a scatter read, brought to the
    /// session's state and holding the session's last write there; `None` to use the primary.
    async fn scatter_replica<'s>(
        &mut self,
        snapshot: &'s Snapshot,
        shard: usize,
    ) -> Result<Option<(crate::backend::registry::ReplicaLease<'s>, PooledConn)>, FrontendError>
    {
        use crate::config::{NoHealthyReplica, ReadYourWrites};
        let s = &snapshot.registry.shards[shard];
        if s.replicas.is_empty() {
            return Ok(None);
        }
        let rw = &snapshot.config.read_write_split;
        let Some(lease) = s.pick_replica(None) else {
            return match rw.no_healthy_replica {
                NoHealthyReplica::Primary => Ok(None),
                NoHealthyReplica::Error => Err(FrontendError::NoHealthyReplica {
                    shard: s.name.clone(),
                }),
            };
        };
        let Ok(mut conn) = lease.replica.pool.checkout(self.flavour()).await else {
            return Ok(None);
        };
        if self.sync(&mut conn).await.is_err() {
            return Ok(None);
        }
        if rw.read_your_writes == ReadYourWrites::Gtid
            && let Some(gtid) = self.own_gtid(snapshot, shard).map(str::to_string)
            && !super::super::query::has_applied(&lease, &mut conn, &gtid, rw.gtid_wait_timeout_ms)
                .await
        {
            return Ok(None);
        }
        Ok(Some((lease, conn)))
    }

    /// The real collations of the text columns of the tables a scatter reads, from
    /// information_schema (once per table, cached by the proxy), looked up on the idle target
    /// connections before the statements go out. A table that cannot be looked up stays
    /// unknown: the merge then refuses to compare its text columns.
    async fn column_collations(
        &self,
        conns: &mut [PooledConn],
        plan: &ShardedPlan,
    ) -> ColumnCollations {
        let mut out = ColumnCollations::default();
        let Some(schema) = self.schema.clone() else {
            return out;
        };
        for (conn, t) in conns.iter_mut().zip(&plan.targets) {
            for table in &t.tables {
                let key = (schema.clone(), table.clone());
                let cached = self
                    .proxy
                    .column_collations
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&key).cloned());
                let columns = match cached {
                    Some(c) => c,
                    None => {
                        let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "''");
                        let sql = format!(
                            "SELECT c.COLUMN_NAME, l.ID FROM information_schema.COLUMNS c \
                             JOIN information_schema.COLLATIONS l ON l.COLLATION_NAME = c.COLLATION_NAME \
                             WHERE c.TABLE_SCHEMA = '{}' AND c.TABLE_NAME = '{}'",
                            quote(&schema),
                            quote(table)
                        );
                        let Ok(QueryResult::Rows(rows)) = conn.query_rows(&sql).await else {
                            continue;
                        };
                        let found: Vec<(String, u16)> = rows
                            .rows
                            .iter()
                            .filter_map(|r| {
                                let name = r.first()?.as_ref()?.to_ascii_lowercase();
                                let id = r.get(1)?.as_ref()?.parse().ok()?;
                                Some((name, id))
                            })
                            .collect();
                        let found = Arc::new(found);
                        if let Ok(mut m) = self.proxy.column_collations.lock() {
                            m.insert(key, Arc::clone(&found));
                        }
                        found
                    }
                };
                for (name, id) in columns.iter() {
                    out.by_column.insert((table.clone(), name.clone()), *id);
                }
            }
        }
        out
    }
}
