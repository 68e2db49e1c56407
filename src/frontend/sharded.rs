//! Runs plans on sharded schemas: one target (relayed as is, on a replica when the read may),
//! a scatter read merged from several shards, or a write over several targets run as one
//! transaction per shard (or under a savepoint inside the client's transaction). Holds the
//! session's primary connections to shards other than the default one, and commits or rolls
//! back all of them together.

use std::sync::Arc;

use super::FrontendError;
use super::session::Session;
use crate::backend::pool::PooledConn;
use crate::backend::query::QueryResult;
use crate::executor::merge::column::ColumnCollations;
use crate::executor::multiwrite::{self, WriteOk};
use crate::executor::passthrough::{self, Outcome};
use crate::executor::{ExecError, scatter};
use crate::protocol::command;
use crate::protocol::packets::{self, status};
use crate::protocol::response::Expect;
use crate::router::Role;
use crate::router::shard::plan::{MergeSpec, ShardedKind, ShardedPlan};
use crate::runtime::Snapshot;

/// A COM_QUERY packet for `sql`.
fn com_query(sql: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + sql.len());
    p.push(command::COM_QUERY);
    p.extend_from_slice(sql.as_bytes());
    p
}

impl Session {
    /// Inside a transaction (explicit, or autocommit off)?
    pub(super) fn in_transaction(&self) -> bool {
        self.status & status::IN_TRANS != 0 || self.status & status::AUTOCOMMIT == 0
    }

    pub(super) async fn run_sharded(
        &mut self,
        snapshot: &Arc<Snapshot>,
        plan: ShardedPlan,
    ) -> Result<(), FrontendError> {
        match &plan.kind {
            ShardedKind::Single => {
                let Some(target) = plan.targets.first() else {
                    return Ok(());
                };
                let payload = com_query(&target.sql);
                if plan.role == Role::Replica
                    && self
                        .try_replica(&payload, snapshot, target.shard, None)
                        .await?
                {
                    return Ok(());
                }
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
            return self.forward(payload, Expect::Results).await;
        }
        let mut conn = self.shard_conn(snapshot, shard).await?;
        let caps = self.client_caps();
        let pool = Arc::clone(conn.pool());
        let seq = self.reply_seq;
        let result = passthrough::forward(
            &mut self.client,
            &mut conn,
            pool.name(),
            payload,
            seq,
            Expect::Results,
            caps,
        )
        .await;
        self.keep_shard(shard, conn);
        let out = result?;
        self.status = out.status;
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
        let mut conn = match self.others.remove(&shard) {
            Some(conn) => conn,
            None => {
                let pool = Arc::clone(&snapshot.registry.shards[shard].primary);
                pool.checkout(self.flavour()).await?
            }
        };
        self.sync(&mut conn).await?;
        if self.status & status::IN_TRANS != 0 && conn.status & status::IN_TRANS == 0 {
            self.simple_on(&mut conn, "BEGIN").await?;
        }
        Ok(conn)
    }

    /// Remembers the GTID of the session's last commit on `shard` (read-your-writes).
    pub(super) fn record_gtid(&mut self, shard: usize, gtid: String) {
        if shard == self.proxy.snapshot().registry.default_shard {
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

    /// A read over several shards, merged.
    pub(super) async fn scatter(
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
        let out = result?;
        if !out.failed {
            self.status = (self.status & !status::IN_TRANS) | (out.status & status::IN_TRANS);
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
            && !super::query::has_applied(&lease, &mut conn, &gtid, rw.gtid_wait_timeout_ms).await
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

    /// The session's connection to any shard (the default one included), taken out.
    async fn take_shard_conn(
        &mut self,
        snapshot: &Snapshot,
        shard: usize,
    ) -> Result<PooledConn, FrontendError> {
        if shard == snapshot.registry.default_shard {
            let mut conn = self.checkout().await?;
            if self.status & status::IN_TRANS != 0 && conn.status & status::IN_TRANS == 0 {
                self.simple_on(&mut conn, "BEGIN").await?;
            }
            Ok(conn)
        } else {
            self.shard_conn(snapshot, shard).await
        }
    }

    fn put_shard_conn(&mut self, snapshot: &Snapshot, shard: usize, conn: PooledConn) {
        if !conn.reusable {
            return;
        }
        if shard == snapshot.registry.default_shard {
            self.backend = Some(conn);
        } else {
            self.others.insert(shard, conn);
        }
    }

    /// A write over several targets: one transaction per shard (or a savepoint inside the
    /// client's transaction), affected rows summed, one OK.
    pub(super) async fn multi_write(
        &mut self,
        snapshot: &Arc<Snapshot>,
        plan: &ShardedPlan,
        prepared: Option<&PreparedExec<'_>>,
    ) -> Result<(), FrontendError> {
        let in_txn = self.in_transaction();
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
        let total = result?;
        if let Some(last) = total.status_from {
            self.status = last;
        }
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

    /// Commits each shard's transaction in order; a failure after a success is reported as a
    /// partial commit.
    async fn commit_all(
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
    pub(super) async fn end_transaction(
        &mut self,
        snapshot: &Arc<Snapshot>,
        payload: &[u8],
        commit: bool,
    ) -> Option<Result<(), FrontendError>> {
        let busy: Vec<usize> = self
            .others
            .iter()
            .filter(|(_, c)| c.status & status::IN_TRANS != 0)
            .map(|(s, _)| *s)
            .collect();
        if busy.is_empty() {
            return None;
        }
        // The default shard first (where BEGIN ran), then the others; the statement as the
        // client wrote it (COMMIT AND CHAIN, ROLLBACK RELEASE, ...).
        let default = snapshot.registry.default_shard;
        let mut conns: Vec<(usize, PooledConn)> = Vec::with_capacity(busy.len() + 1);
        match self.checkout().await {
            Ok(conn) => conns.push((default, conn)),
            Err(e) => return Some(Err(e)),
        }
        conns.extend(
            busy.iter()
                .filter_map(|s| self.others.remove(s).map(|c| (*s, c))),
        );
        let sql = String::from_utf8_lossy(payload.get(1..).unwrap_or_default()).into_owned();
        let result = if commit {
            self.commit_all(&mut conns, &sql).await
        } else {
            let mut first_err = None;
            for (_, conn) in conns.iter_mut() {
                if let Err(e) = self.simple_on(conn, &sql).await {
                    conn.reusable = false;
                    first_err.get_or_insert(e);
                }
            }
            first_err.map_or(Ok(()), Err)
        };
        let status = conns.first().map(|(_, c)| c.status);
        for (shard, conn) in conns {
            self.put_shard_conn(snapshot, shard, conn);
        }
        if let Some(st) = status {
            self.status = st;
        }
        if let Err(e) = result {
            return Some(Err(e));
        }
        let mut seq = self.reply_seq;
        self.client
            .write_packet(&mut seq, &packets::ok_packet(self.status, 0, 0));
        Some(self.client.flush().await.map_err(FrontendError::Protocol))
    }

    /// Returns the other shards' connections (reset) at the end of the session.
    pub(super) async fn release_others(&mut self) {
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

/// A prepared statement run on several targets: each connection prepares the target's text
/// (lazily, cached per connection) and executes it with the client's parameters.
pub(super) struct PreparedExec<'a> {
    pub payload: &'a [u8],
    pub params: u16,
    pub types: &'a [u8],
}

impl PreparedExec<'_> {
    /// The client's execute, addressed to `sql` prepared on `conn` (prepared now if needed).
    async fn execute_packet(
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
        let body = execute_for(self.payload, stmt.id, stmt.params, self.types)
            .ok_or(FrontendError::BadExecute { id: 0 })?;
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

fn cause_of(e: &FrontendError) -> String {
    match e {
        FrontendError::BackendReply(p) => {
            let msg = p.get(9..).map(String::from_utf8_lossy).unwrap_or_default();
            msg.into_owned()
        }
        other => other.to_string(),
    }
}
