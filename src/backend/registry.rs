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
        let mut shards = Vec::with_capacity(config.shards.len());
        for s in &config.shards {
            let primary_target = target(
                format!("{}/primary {}", s.name, s.primary.address),
                &s.primary.address,
            );
            // Each pool reserves one of its slots for the backend's health checker, so the
            // checker's connection counts under pool.max_connections.
            let (primary, primary_slot) = Pool::with_checker(primary_target, &config.pool);
            let primary_health = Health::new();
            spawn_checker(
                primary_slot,
                CheckRole::Primary,
                interval,
                max_lag,
                &primary_health,
            );
            let replicas = s
                .replicas
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let t = target(format!("{}/replica{} {}", s.name, i, r.address), &r.address);
                    let (pool, slot) = Pool::with_checker(t, &config.pool);
                    let health = Health::new();
                    spawn_checker(slot, CheckRole::Replica, interval, max_lag, &health);
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

    /// The default shard.
    pub fn default(&self) -> &Shard {
        &self.shards[self.default_shard]
    }
}
