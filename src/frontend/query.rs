//! Runs a COM_QUERY statement where the router sends it: on the session's primary
//! connection, or on a replica connection borrowed for that one statement (also used for
//! prepared-statement reads, see `execute`). Reads keep
//! read-your-writes (GTID or primary window) and fail over to another replica or the primary
//! when a replica fails before any byte of its answer reached the client.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::FrontendError;
use super::session::Session;
use crate::backend::pool::PooledConn;
use crate::backend::query::QueryResult;
use crate::backend::registry::ReplicaLease;
use crate::backend::statements::{Prepared as StmtOnConn, execute_for};
use crate::config::{DefaultRole, NoHealthyReplica, ReadYourWrites};
use crate::executor::ExecError;
use crate::executor::passthrough::Outcome;
use crate::metrics;
use crate::protocol::ProtocolError;
use crate::protocol::response::Expect;
use crate::router::classify::Reason;
use crate::router::prescan;
use crate::router::{self, Plan, Role, SessionView, Topology, Why};
use crate::runtime::Snapshot;

impl Session {
    pub(super) async fn query(&mut self, payload: &[u8], sql: &[u8]) -> Result<(), FrontendError> {
        let started = Instant::now();
        let snapshot = self.snapshot();
        let topology = snapshot.topology(self.schema.as_deref());
        let plan = router::route_query(sql, &self.view(&snapshot), &topology);
        let mut counted = metrics::Statement::query(started, sql, &plan, &snapshot);
        let held = self.held_replica.take();
        if let (Some(conn), true) = (held, asks_for_diagnostics(&plan)) {
            // The warnings are on the replica connection that ran the previous read.
            counted.on_replica();
            return self.on_held_replica(conn, payload).await;
        }
        if self.session_functions(sql).await? {
            return Ok(());
        }
        self.transaction_rules(sql, &plan, &snapshot).await?;
        let ends = prescan::ends_transaction(sql);
        if ends.is_some() {
            // Gone with the transaction, wherever the statement runs.
            self.savepoints.clear();
        }
        if let Some(op) = router::savepoint::parse(sql)
            && let Some(done) = self.savepoint_all(&snapshot, sql, &op).await
        {
            return done;
        }
        if !self.others.is_empty()
            && let Some(commit) = ends
            && let Some(done) = self.end_transaction(&snapshot, payload, commit).await
        {
            return done;
        }
        self.route = route_name(&plan);
        match plan {
            Plan::Admin(admin) => self.admin(admin, &snapshot).await,
            Plan::Refused(e) => {
                // As after any failed statement.
                self.note_count_elsewhere(-1);
                Err(e.into())
            }
            Plan::Sharded { plan, .. } => self.run_sharded(&snapshot, plan, &mut counted).await,
            Plan::Single {
                role: Role::Primary,
                writes,
                shard,
                ..
            } if shard != snapshot.registry.default_shard => {
                // Session state lives on the default shard's connection (see `pins`).
                let bound = super::pins::scan(sql).binds_connection().or_else(|| {
                    router::shard::uservars::mentions_user_variables(sql)
                        .then_some("a user variable")
                });
                if let Some(what) = bound {
                    self.note_count_elsewhere(-1);
                    return Err(FrontendError::Sharding(
                        router::shard::error::ShardError::unsupported(
                            &[],
                            format!(
                                "{what} in a schema whose default shard is not the proxy's \
                                 default shard: session state lives on the connection to the \
                                 proxy's default shard (make the two default_shard settings \
                                 name the same shard)"
                            ),
                        ),
                    ));
                }
                let out = self.forward_on(&snapshot, shard, payload).await;
                if writes {
                    self.note_write();
                }
                out.map(|_| ())
            }
            Plan::Use { schema, .. } => {
                self.check_schema(&schema)?;
                let out = self.forward(payload, Expect::Results).await?;
                self.note_result(&out);
                Ok(())
            }
            Plan::Single {
                role: Role::Primary,
                writes,
                ..
            } => {
                let out = self.on_primary(payload, writes).await?;
                self.note_statement(sql, &out);
                self.read_back_at_at(sql, &out).await;
                Ok(())
            }
            Plan::Single {
                role: Role::Replica,
                shard,
                ..
            } => {
                if self.try_replica(payload, &snapshot, shard, None).await? {
                    return Ok(());
                }
                self.route = "primary";
                counted.on_primary();
                if shard != snapshot.registry.default_shard {
                    // A schema whose default shard is another one: that shard's primary.
                    return self.forward_on(&snapshot, shard, payload).await.map(|_| ());
                }
                let out = self.on_primary(payload, false).await?;
                self.note_statement(sql, &out);
                Ok(())
            }
        }
    }

    /// The session state the router needs.
    pub(super) fn view(&self, snapshot: &Snapshot) -> SessionView {
        let rw = &snapshot.config.read_write_split;
        let window = Duration::from_millis(rw.primary_window_ms);
        SessionView {
            // With autocommit off every statement is part of a transaction.
            in_transaction: self.in_transaction(),
            user_primary_only: self.user.default_role == DefaultRole::Primary,
            within_write_window: (rw.read_your_writes == ReadYourWrites::PrimaryWindow
                || self.gtid_untracked)
                && self.last_write_at.is_some_and(|t| t.elapsed() < window),
            reads_pinned: self.pins.reason().or(self.route_pin),
        }
    }

    /// A statement that may have written ran on the primary (read-your-writes bookkeeping).
    pub(super) fn note_write(&mut self) {
        self.last_write_at = Some(Instant::now());
        let mut conns = self.backend.iter().chain(self.others.values());
        let (known, tracked) = (
            self.backend.is_some() || !self.others.is_empty(),
            conns.any(|c| c.tracks_gtids),
        );
        if known && !tracked {
            // No GTID will tell when a replica has this write (MySQL backend, tracking
            // refused): read-your-writes falls back to the primary window.
            self.gtid_untracked = true;
        }
    }

    /// Runs a diagnostics statement on the replica connection that ran the previous read.
    async fn on_held_replica(
        &mut self,
        mut conn: PooledConn,
        payload: &[u8],
    ) -> Result<(), FrontendError> {
        self.relay_on(&mut conn, payload, Expect::Results).await?;
        Ok(())
    }

    async fn on_primary(&mut self, payload: &[u8], writes: bool) -> Result<Outcome, FrontendError> {
        let result = self.forward(payload, Expect::Results).await;
        if writes {
            // Also after an error: part of a multi-statement may have been applied.
            self.note_write();
        }
        result
    }

    /// Runs a read on a replica of `shard`, failing over to another replica once. `false`
    /// when the read must run on the primary instead (no usable replica, the replica is behind
    /// the session's last write, or it cannot prepare the statement).
    pub(super) async fn try_replica(
        &mut self,
        payload: &[u8],
        snapshot: &Arc<Snapshot>,
        shard: usize,
        stmt: Option<ReplicaStatement>,
    ) -> Result<bool, FrontendError> {
        let shard_index = shard;
        let shard = &snapshot.registry.shards[shard];
        if shard.replicas.is_empty() {
            // No replicas configured: the primary is the shard's only server.
            return Ok(false);
        }
        let rw = &snapshot.config.read_write_split;
        let mut exclude = None;
        for _attempt in 0..2 {
            let Some(lease) = shard.pick_replica(exclude) else {
                break;
            };
            exclude = Some(lease.index);
            let name = lease.replica.pool.name();
            let checkout = lease
                .replica
                .pool
                .checkout_preferring(self.flavour(), self.state_key());
            let mut conn = match checkout.await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(conn = self.id, "read fails over: {e}");
                    continue;
                }
            };
            match self.sync(&mut conn).await {
                Ok(()) => {}
                Err(FrontendError::Exec(ExecError::Lost { .. })) => continue,
                // The replica cannot take the session's state (schema, SET): the primary has it.
                Err(FrontendError::BackendReply(_)) => return Ok(false),
                Err(e) => return Err(e),
            }
            if rw.read_your_writes == ReadYourWrites::Gtid
                && let Some(gtid) = self.own_gtid(snapshot, shard_index)
                && !has_applied(&lease, &mut conn, gtid, rw.gtid_wait_timeout_ms).await
            {
                // The replica is behind the session's own last write.
                return Ok(false);
            }
            let body = match &stmt {
                None => Cow::Borrowed(payload),
                Some(s) => match s.execute_packet(&mut conn, payload).await {
                    Ok(Ok(p)) => Cow::Owned(p),
                    Ok(Err(_)) => return Ok(false),
                    Err(_) => continue,
                },
            };
            let result = self.relay_on(&mut conn, &body, Expect::Results).await;
            match result {
                Ok(out) => {
                    self.note_result_elsewhere(&out);
                    if out.warnings > 0 {
                        // SHOW WARNINGS must reach this connection.
                        self.held_replica = Some(conn);
                    }
                    return Ok(true);
                }
                Err(ExecError::Lost {
                    partial: false,
                    source,
                    ..
                }) => {
                    // Nothing reached the client: the read can run elsewhere.
                    tracing::warn!(conn = self.id, backend = %name, "read fails over: {source}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        match rw.no_healthy_replica {
            NoHealthyReplica::Primary => Ok(false),
            NoHealthyReplica::Error => Err(FrontendError::NoHealthyReplica {
                shard: shard.name.clone(),
            }),
        }
    }
}

/// A prepared statement to execute on any backend connection.
pub(super) struct ReplicaStatement {
    pub sql: Arc<[u8]>,
    pub params: u16,
    /// The parameter types the client last sent.
    pub types: Option<Box<[u8]>>,
}

impl ReplicaStatement {
    /// The client's execute packet for this statement on `conn` (prepared there if needed);
    /// `Ok(Err(_))` when it cannot run there (the server refuses it, its parameters changed,
    /// or the parameter types are unknown).
    pub(super) async fn execute_packet(
        &self,
        conn: &mut PooledConn,
        payload: &[u8],
    ) -> Result<Result<Vec<u8>, FrontendError>, ProtocolError> {
        let client_id = payload
            .get(1..5)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        Ok(match conn.prepared(&self.sql).await? {
            StmtOnConn::Ready(s) if s.params == self.params => execute_for(
                payload,
                s.id,
                s.params,
                self.types.as_deref().unwrap_or_default(),
            )
            .ok_or(FrontendError::BadExecute { id: client_id }),
            StmtOnConn::Ready(_) => Err(FrontendError::StatementLost { id: client_id }),
            StmtOnConn::Refused(p) => Err(FrontendError::BackendReply(p)),
        })
    }
}

/// The route a plan takes, for the slow-statement log.
fn route_name(plan: &Plan) -> &'static str {
    use crate::router::shard::plan::ShardedKind;
    match plan {
        Plan::Admin(_) => "admin",
        Plan::Refused(_) => "refused",
        Plan::Use { .. } => "primary",
        Plan::Single {
            role: Role::Primary,
            ..
        } => "primary",
        Plan::Single {
            role: Role::Replica,
            ..
        } => "replica",
        Plan::Sharded { plan, .. } => match plan.kind {
            ShardedKind::Single => "sharded: one target",
            ShardedKind::Scatter(_) => "sharded: scatter",
            ShardedKind::MultiWrite => "sharded: multi-target write",
            ShardedKind::BroadcastWrite => "sharded: broadcast write",
        },
    }
}

/// Is this a statement about the previous statement's diagnostics (SHOW WARNINGS, ...)?
fn asks_for_diagnostics(plan: &Plan) -> bool {
    const DIAGNOSTICS: [&str; 5] = [
        "SHOW WARNINGS",
        "SHOW ERRORS",
        "SHOW COUNT(*)",
        "@@WARNING_COUNT",
        "@@ERROR_COUNT",
    ];
    matches!(
        plan,
        Plan::Single { why: Why::Statement(Reason::SessionFunction(name)), .. }
            if DIAGNOSTICS.contains(name)
    )
}

impl Session {
    /// The GTID of the session's last commit on `shard` (read-your-writes).
    pub(super) fn own_gtid(&self, snapshot: &Snapshot, shard: usize) -> Option<&str> {
        if shard == snapshot.registry.default_shard {
            self.last_gtid.as_deref()
        } else {
            self.shard_gtids.get(&shard).map(String::as_str)
        }
    }
}

/// Has this replica applied `gtid`? Known from its last health check, or else waited for
/// with MASTER_GTID_WAIT up to `timeout_ms` on the connection about to run the read.
pub(super) async fn has_applied(
    lease: &ReplicaLease<'_>,
    conn: &mut PooledConn,
    gtid: &str,
    timeout_ms: u64,
) -> bool {
    if lease.replica.health.position_covers(gtid) {
        return true;
    }
    // A GTID from the server is digits, dashes and commas; anything else is not quoted in.
    if gtid.is_empty()
        || !gtid
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b',')
    {
        return false;
    }
    let sql = format!(
        "SELECT MASTER_GTID_WAIT('{gtid}', {}.{:03})",
        timeout_ms / 1000,
        timeout_ms % 1000
    );
    match conn.query_rows(&sql).await {
        Ok(QueryResult::Rows(result)) => {
            let first = result.rows.first().and_then(|r| r.first());
            first.and_then(|v| v.as_deref()) == Some("0")
        }
        _ => false,
    }
}

impl Snapshot {
    /// What the router needs of this snapshot, for a session in `schema`.
    pub fn topology<'a>(&'a self, schema: Option<&'a str>) -> Topology<'a> {
        Topology {
            default_shard: self.registry.default_shard,
            rules: &self.rules,
            sharding: &self.config.sharding,
            schema,
            shard_count: self.registry.shards.len(),
            shapes: Some(&self.shapes),
        }
    }
}
