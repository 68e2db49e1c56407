//! The proxy's own statements for users with the admin flag: `SHOW SHARDGATE BACKENDS`
//! (every backend with its role, health, lag, weight and pool figures) and
//! `EXPLAIN SHARDGATE <statement>` (where the statement would go, and why); the others
//! (POOLS, CONFIG, SESSIONS, RELOAD) are in `admin_views`.

use std::sync::Arc;

use super::FrontendError;
use super::admin_views::{CONFIG_COLUMNS, POOL_COLUMNS, RELOAD_COLUMNS, SESSION_COLUMNS};
use super::session::Session;
use crate::backend::health::HealthSnapshot;
use crate::backend::pool::PoolStats;
use crate::protocol::resultset::text_result;
use crate::router::{self, Admin, Plan, Role};
use crate::runtime::Snapshot;

impl Session {
    pub(super) async fn admin(
        &mut self,
        admin: Admin,
        snapshot: &Arc<Snapshot>,
    ) -> Result<(), FrontendError> {
        if !self.user.admin {
            return Err(FrontendError::NotAdmin {
                user: self.user.name.clone(),
            });
        }
        let (columns, rows): (&[&str], _) = match admin {
            Admin::ShowBackends => (BACKEND_COLUMNS, backend_rows(snapshot)),
            Admin::ShowPools => (POOL_COLUMNS, self.pool_rows(snapshot)),
            Admin::ShowConfig => (CONFIG_COLUMNS, self.config_rows(snapshot)),
            Admin::ShowSessions => (SESSION_COLUMNS, self.session_rows()),
            Admin::Reload => (RELOAD_COLUMNS, self.reload_rows().await?),
            Admin::Explain(sql) => (EXPLAIN_COLUMNS, self.explain(&sql, snapshot)?),
        };
        let packets = text_result(
            columns,
            &rows,
            self.client_caps().deprecate_eof,
            self.status,
        );
        let mut seq = self.reply_seq;
        for p in &packets {
            self.client.write_packet(&mut seq, p);
        }
        self.client.flush().await?;
        Ok(())
    }

    fn explain(
        &self,
        sql: &[u8],
        snapshot: &Snapshot,
    ) -> Result<Vec<Vec<Option<String>>>, FrontendError> {
        let plan = router::route_query(
            sql,
            &self.view(snapshot),
            &snapshot.topology(self.schema.as_deref()),
        );
        let (shard, role, why) = match plan {
            Plan::Refused(e) => return Err(e.into()),
            Plan::Sharded { plan, why, .. } => {
                return Ok(super::explain::sharded_rows(&plan, &why, snapshot));
            }
            Plan::Single {
                shard, role, why, ..
            } => (shard, role, why.to_string()),
            Plan::Use { shard, .. } => (
                shard,
                Role::Primary,
                "USE changes the session's schema".into(),
            ),
            Plan::Admin(_) => {
                return Ok(vec![vec![
                    None,
                    Some("proxy".into()),
                    Some("answered by shardgate".into()),
                    None,
                    None,
                    None,
                    None,
                ]]);
            }
        };
        let shard = &snapshot.registry.shards[shard];
        let (role, candidates) = match role {
            Role::Primary => ("primary", shard.primary.name().to_string()),
            Role::Replica => {
                let usable: Vec<&str> = shard
                    .replicas
                    .iter()
                    .filter(|r| r.weight > 0 && r.health.is_usable())
                    .map(|r| r.pool.name())
                    .collect();
                if usable.is_empty() {
                    (
                        "primary",
                        format!("no healthy replica: {}", shard.primary.name()),
                    )
                } else {
                    ("replica", usable.join(", "))
                }
            }
        };
        let mut why = why;
        if role == "replica" && self.last_gtid.is_some() {
            why.push_str("; read-your-writes: a replica is used once it has applied the session's last GTID, else the primary");
        }
        Ok(vec![vec![
            Some(shard.name.clone()),
            Some(role.into()),
            Some(why),
            Some(candidates),
            None,
            Some(String::from_utf8_lossy(sql).into_owned()),
            None,
        ]])
    }
}

const BACKEND_COLUMNS: &[&str] = &[
    "shard",
    "role",
    "backend",
    "state",
    "lag_ms",
    "weight",
    "read_only",
    "gtid_position",
    "in_flight",
    "pool_open",
    "pool_idle",
    "pool_max",
    "pool_created",
    "pool_closed",
];

const EXPLAIN_COLUMNS: &[&str] = &[
    "shard",
    "role",
    "reason",
    "backends",
    "tables",
    "statement",
    "merge",
];

fn backend_rows(snapshot: &Snapshot) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    for shard in &snapshot.registry.shards {
        let p = shard.primary.stats();
        rows.push(backend_row(
            &shard.name,
            "primary",
            shard.primary.name(),
            &shard.primary_health.snapshot(),
            None,
            0,
            &p,
        ));
        for (i, r) in shard.replicas.iter().enumerate() {
            let stats = r.pool.stats();
            rows.push(backend_row(
                &shard.name,
                "replica",
                r.pool.name(),
                &r.health.snapshot(),
                Some(r.weight),
                shard.outstanding(i),
                &stats,
            ));
        }
    }
    rows
}

fn backend_row(
    shard: &str,
    role: &str,
    name: &str,
    h: &HealthSnapshot,
    weight: Option<u32>,
    in_flight: usize,
    pool: &PoolStats,
) -> Vec<Option<String>> {
    let s = |v: String| Some(v);
    vec![
        s(shard.into()),
        s(role.into()),
        s(name.into()),
        s(format!("{:?}", h.state)),
        h.lag_ms.map(|l| l.to_string()),
        weight.map(|w| w.to_string()),
        h.read_only.map(|r| r.to_string()),
        h.gtid_position.clone(),
        s(in_flight.to_string()),
        s(pool.open.to_string()),
        s(pool.idle.to_string()),
        s(pool.max.to_string()),
        s(pool.created.to_string()),
        s(pool.closed.to_string()),
    ]
}
