//! `SHOW SHARDGATE POOLS`, `SHOW SHARDGATE CONFIG`, `SHOW SHARDGATE SESSIONS` and
//! `SHARDGATE RELOAD`: rows for the admin result sets (no secret ever appears in them).

use std::time::UNIX_EPOCH;

use super::FrontendError;
use super::session::Session;
use crate::runtime::{ReloadOutcome, Snapshot};

pub(super) const POOL_COLUMNS: &[&str] = &[
    "shard",
    "role",
    "backend",
    "max",
    "open",
    "in_use",
    "idle",
    "waiting",
    "created",
    "closed",
    "checkout_timeouts",
    "pinned_sessions",
];

impl Session {
    /// One row per backend pool; the default shard's primary row also lists the sessions that
    /// keep a connection between statements, by reason (they keep one of that pool's).
    pub(super) fn pool_rows(&self, snapshot: &Snapshot) -> Vec<Vec<Option<String>>> {
        let pinned = self.proxy.pinned_summary();
        let mut rows = Vec::new();
        for (i, shard) in snapshot.registry.shards.iter().enumerate() {
            let pools = std::iter::once(("primary", &shard.primary))
                .chain(shard.replicas.iter().map(|r| ("replica", &r.pool)));
            for (role, pool) in pools {
                let p = pool.stats();
                let default_primary = i == snapshot.registry.default_shard && role == "primary";
                let figures = [
                    p.max as u64,
                    p.open as u64,
                    p.in_use as u64,
                    p.idle as u64,
                    p.waiting as u64,
                    p.created,
                    p.closed,
                    p.checkout_timeouts,
                ];
                let mut row = vec![
                    Some(shard.name.clone()),
                    Some(role.to_string()),
                    Some(pool.name().to_string()),
                ];
                row.extend(figures.iter().map(|v| Some(v.to_string())));
                row.push((default_primary && !pinned.is_empty()).then(|| pinned.clone()));
                rows.push(row);
            }
        }
        rows
    }
}

pub(super) const CONFIG_COLUMNS: &[&str] = &[
    "version",
    "hash",
    "applied_at",
    "file",
    "reloads_succeeded",
    "reloads_failed",
    "last_error",
    "needs_restart",
    "shards",
    "users",
    "shape_cache_entries",
    "shape_cache_hits",
    "shape_cache_misses",
];

pub(super) const SESSION_COLUMNS: &[&str] = &[
    "id",
    "user",
    "host",
    "schema",
    "state",
    "commands",
    "connected_s",
    "config_version",
];

pub(super) const RELOAD_COLUMNS: &[&str] = &["result", "version", "hash", "needs_restart"];

type Rows = Vec<Vec<Option<String>>>;

impl Session {
    /// One row: the config version in effect and what reloads did.
    pub(super) fn config_rows(&self, snapshot: &Snapshot) -> Rows {
        let status = self.proxy.reload_status();
        let shapes = snapshot.shapes.stats();
        let v = &snapshot.version;
        let applied = v
            .applied_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs().to_string())
            .ok();
        let file = self
            .proxy
            .config_source()
            .map(|s| s.path.display().to_string());
        vec![vec![
            Some(v.number.to_string()),
            Some(v.hash.clone()),
            applied,
            file,
            Some(status.succeeded.to_string()),
            Some(status.failed.to_string()),
            status.last_error,
            (!status.needs_restart.is_empty()).then(|| status.needs_restart.join("; ")),
            Some(snapshot.config.shards.len().to_string()),
            Some(snapshot.config.users.len().to_string()),
            Some(shapes.entries.to_string()),
            Some(shapes.hits.to_string()),
            Some(shapes.misses.to_string()),
        ]]
    }

    /// One row per connected session.
    pub(super) fn session_rows(&self) -> Rows {
        self.proxy
            .sessions
            .all()
            .iter()
            .map(|card| {
                let state = card.state();
                vec![
                    Some(card.id.to_string()),
                    Some(card.user.clone()),
                    Some(card.host.clone()),
                    state.schema,
                    Some(state.held_for.unwrap_or("idle").to_string()),
                    Some(
                        card.commands
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                    Some(card.connected_at.elapsed().as_secs().to_string()),
                    Some(state.config_version.to_string()),
                ]
            })
            .collect()
    }

    /// Re-reads the config file; an invalid file is an error that says where and why.
    pub(super) async fn reload_rows(&self) -> Result<Rows, FrontendError> {
        let outcome = self
            .proxy
            .reload("SHARDGATE RELOAD")
            .await
            .map_err(FrontendError::ReloadRefused)?;
        let needs_restart = self.proxy.reload_status().needs_restart;
        let (result, version, hash) = match outcome {
            ReloadOutcome::Applied { version, hash } => ("applied", version, Some(hash)),
            ReloadOutcome::Unchanged { version } => ("unchanged", version, None),
        };
        Ok(vec![vec![
            Some(result.to_string()),
            Some(version.to_string()),
            hash,
            (!needs_restart.is_empty()).then(|| needs_restart.join("; ")),
        ]])
    }
}
