//! The backends of one config snapshot: shards, each a primary and its replicas, with their
//! pools, health checkers and balancer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::balancer::{Balancer, Candidate};
use super::connection::Target;
use super::health::{CheckRole, Health, spawn_checker};
use super::pool::Pool;
use crate::config::Config;

/// A replica of a shard.
pub struct Replica {
    pub pool: Arc<Pool>,
    pub weight: u32,
    pub health: Arc<Health>,
    /// Statements in flight (for `least_outstanding`).
    outstanding: AtomicUsize,
}

/// One shard.
pub struct Shard {
    pub name: String,
    pub primary: Arc<Pool>,
    pub primary_health: Arc<Health>,
    pub replicas: Vec<Replica>,
    balancer: Balancer,
}

/// A replica chosen for one statement; counts as in flight until dropped.
pub struct ReplicaLease<'a> {
    pub index: usize,
    pub replica: &'a Replica,
}

impl Drop for ReplicaLease<'_> {
    fn drop(&mut self) {
        self.replica.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shard {
    /// A usable replica by the shard's policy, skipping `exclude` (one that just failed).
    pub fn pick_replica(&self, exclude: Option<usize>) -> Option<ReplicaLease<'_>> {
        let candidates: Vec<Candidate> = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| Candidate {
                weight: r.weight,
                usable: r.health.is_usable() && Some(i) != exclude,
                outstanding: r.outstanding.load(Ordering::Relaxed),
            })
            .collect();
        let index = self.balancer.pick(&candidates)?;
        let replica = &self.replicas[index];
        replica.outstanding.fetch_add(1, Ordering::Relaxed);
        Some(ReplicaLease { index, replica })
    }

    pub fn outstanding(&self, replica: usize) -> usize {
        self.replicas
            .get(replica)
            .map(|r| r.outstanding.load(Ordering::Relaxed))
            .unwrap_or(0)
    }
}

/// All backends of one config snapshot.
pub struct Registry {
    pub shards: Vec<Shard>,
    /// Index of the default shard in `shards`.
    pub default_shard: usize,
}

impl Registry {
    /// Builds pools for every backend (connections open lazily) and starts health checkers,
    /// each in the slot its backend's pool reserves for it; the checkers end when the registry
    /// (owning their `Health`) is dropped. Must run inside the tokio runtime.
    pub fn build(config: &Config) -> Self {
        Self::rebuild(config, None)
    }

    /// Like `build`, but keeps the pool and health checker of every backend `old` already has
    /// with the same role, address and login (its connections survive; a changed `pool:`
    /// section is applied in place). Backends `old` has and `config` does not are left to
    /// drain: nothing new reaches them, and they close once the last statement or transaction
    /// using them gives its connections back.
    pub fn rebuild(config: &Config, old: Option<&Registry>) -> Self {
        let rw = &config.read_write_split;
        let interval = Duration::from_millis(rw.health_check_interval_ms);
        let max_lag = Duration::from_millis(rw.max_replication_lag_ms);
        let target = |name: String, address: &str| Target {
            name,
            address: address.to_string(),
            user: config.backend.user.clone(),
            password: config.backend.password.clone(),
            connect_timeout: config.pool.connect_timeout(),
        };
        // A backend kept from `old`, or a new pool whose reserved slot the new checker takes.
        let backend = |name: String, address: &str, role: CheckRole| {
            let t = target(name, address);
            if let Some((pool, health)) = old.and_then(|o| o.find(role, &t)) {
                pool.reconfigure(&config.pool);
                return (pool, health);
            }
            let (pool, slot) = Pool::with_checker(t, &config.pool);
            let health = Health::new();
            spawn_checker(slot, role, interval, max_lag, &health);
            (pool, health)
        };
        let mut shards = Vec::with_capacity(config.shards.len());
        for s in &config.shards {
            let (primary, primary_health) = backend(
                format!("{}/primary {}", s.name, s.primary.address),
                &s.primary.address,
                CheckRole::Primary,
            );
            let replicas = s
                .replicas
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let name = format!("{}/replica{} {}", s.name, i, r.address);
                    let (pool, health) = backend(name, &r.address, CheckRole::Replica);
                    Replica {
                        pool,
                        weight: r.weight,
                        health,
                        outstanding: AtomicUsize::new(0),
                    }
                })
                .collect::<Vec<_>>();
            shards.push(Shard {
                name: s.name.clone(),
                primary,
                primary_health,
                balancer: Balancer::new(s.balance, replicas.len()),
                replicas,
            });
        }
        let default_shard = shards
            .iter()
            .position(|s| s.name == config.default_shard)
            .unwrap_or(0);
        Registry {
            shards,
            default_shard,
        }
    }

    /// The pool and health of a backend with this role, address and login.
    fn find(&self, role: CheckRole, t: &Target) -> Option<(Arc<Pool>, Arc<Health>)> {
        let same = |pool: &Pool| pool.same_backend(t);
        self.shards.iter().find_map(|s| match role {
            CheckRole::Primary => {
                same(&s.primary).then(|| (Arc::clone(&s.primary), Arc::clone(&s.primary_health)))
            }
            CheckRole::Replica => s
                .replicas
                .iter()
                .find(|r| same(&r.pool))
                .map(|r| (Arc::clone(&r.pool), Arc::clone(&r.health))),
        })
    }

    /// Every pool with its shard name and role.
    pub fn pools(&self) -> impl Iterator<Item = (&str, &'static str, &Arc<Pool>)> {
        self.shards.iter().flat_map(|s| {
            std::iter::once((s.name.as_str(), "primary", &s.primary)).chain(
                s.replicas
                    .iter()
                    .map(|r| (s.name.as_str(), "replica", &r.pool)),
            )
        })
    }

    /// The default shard.
    pub fn default(&self) -> &Shard {
        &self.shards[self.default_shard]
    }
}
