//! Applying an edited config file while traffic flows. The whole file is read, parsed and
//! validated first; an invalid file changes nothing. A valid one becomes the next snapshot:
//! unchanged backends keep their pools and connections, new ones get new pools, removed
//! ones drain. Sessions pick the new snapshot at their next statement outside a transaction.

use std::path::{Path, PathBuf};

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::{Proxy, Snapshot};
use crate::backend::Registry;
use crate::config::{self, Config};
use crate::router::classify::Rules;

/// Which config a snapshot was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigVersion {
    /// 1 for the config the proxy started with, +1 for every applied reload.
    pub number: u64,
    /// SHA-256 of the file's bytes, hex, first 16 digits.
    pub hash: String,
    pub applied_at: SystemTime,
}

impl ConfigVersion {
    pub fn first(text: &str) -> Self {
        ConfigVersion {
            number: 1,
            hash: hash_of(text),
            applied_at: SystemTime::now(),
        }
    }
}

/// The file the config comes from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
}

/// What reloads did so far (admin output, metrics, logs).
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub succeeded: u64,
    pub failed: u64,
    /// The last failure's message (file:line:column: reason), until a reload succeeds.
    pub last_error: Option<String>,
    /// Settings that changed in the file but only take effect after a restart.
    pub needs_restart: Vec<String>,
}

/// The result of one reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    Applied {
        version: u64,
        hash: String,
    },
    /// The file has the bytes of the config in effect.
    Unchanged {
        version: u64,
    },
}

fn hash_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Settings a running proxy cannot change, named when they differ.
fn restart_only(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if old.listen != new.listen {
        out.push(format!(
            "listen ({} → {}): the proxy keeps listening on {}",
            old.listen, new.listen, old.listen
        ));
    }
    if old.metrics != new.metrics {
        out.push("metrics (the endpoint is bound at start-up)".to_string());
    }
    if old.logging.level != new.logging.level || old.logging.format != new.logging.format {
        out.push("logging.level / logging.format".to_string());
    }
    let (a, b) = (&old.read_write_split, &new.read_write_split);
    if a.health_check_interval_ms != b.health_check_interval_ms
        || a.max_replication_lag_ms != b.max_replication_lag_ms
    {
        out.push(
            "read_write_split.health_check_interval_ms / max_replication_lag_ms (backends \
             already checked keep the old values)"
                .to_string(),
        );
    }
    out
}

impl Proxy {
    /// Re-reads the config file and applies it; `trigger` names what asked (logs).
    pub async fn reload(&self, trigger: &'static str) -> Result<ReloadOutcome, String> {
        let Some(source) = self.source.clone() else {
            return Err("the proxy was started without a config file".to_string());
        };
        // One reload at a time: two triggers for one edit apply it once.
        let _one = self.reload_lock.lock().await;
        let result = self.apply(&source.path).await;
        let mut status = self.reload_status.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(ReloadOutcome::Applied { version, hash }) => {
                status.succeeded += 1;
                status.last_error = None;
                crate::metrics::reload_succeeded(*version);
                tracing::info!(trigger, version, %hash, "config reloaded");
            }
            Ok(ReloadOutcome::Unchanged { version }) => {
                status.last_error = None;
                tracing::debug!(trigger, version, "config file unchanged");
            }
            Err(e) => {
                status.failed += 1;
                status.last_error = Some(e.clone());
                crate::metrics::reload_failed();
                tracing::error!(trigger, "config reload refused, nothing changed: {e}");
            }
        }
        result
    }

    async fn apply(&self, path: &Path) -> Result<ReloadOutcome, String> {
        let p = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || config::read(&p))
            .await
            .map_err(|e| format!("reading the config: {e}"))?;
        let text = read.map_err(|e| e.to_string())?;
        let current = self.snapshot();
        let hash = hash_of(&text);
        if hash == current.version.hash {
            return Ok(ReloadOutcome::Unchanged {
                version: current.version.number,
            });
        }
        let origin = path.display().to_string();
        let mut config = config::parse(&text, &origin).map_err(|e| e.to_string())?;
        let rw = &config.read_write_split;
        let rules = Rules::new(&rw.critical_tables, &rw.critical_patterns)
            .map_err(|e| format!("{origin}: read_write_split.critical_patterns: {e}"))?;
        let needs_restart = restart_only(&current.config, &config);
        // What cannot change keeps its running value, so the snapshot tells the truth.
        config.listen = current.config.listen.clone();
        config.logging.level = current.config.logging.level.clone();
        config.logging.format = current.config.logging.format;
        config.metrics = current.config.metrics.clone();
        let registry = Registry::rebuild(&config, Some(&current.registry));
        let version = ConfigVersion {
            number: current.version.number + 1,
            hash: hash.clone(),
            applied_at: SystemTime::now(),
        };
        let number = version.number;
        self.swap(Snapshot {
            config,
            registry,
            rules,
            version,
            shapes: Default::default(),
        });
        // Tables may have changed with the config: look collations up again.
        if let Ok(mut cache) = self.column_collations.lock() {
            cache.clear();
        }
        for what in &needs_restart {
            tracing::warn!("config reload: {what} needs a restart to take effect");
        }
        self.reload_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .needs_restart = needs_restart;
        Ok(ReloadOutcome::Applied {
            version: number,
            hash,
        })
    }

    /// The reload figures.
    pub fn reload_status(&self) -> ReloadStatus {
        self.reload_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn config_source(&self) -> Option<&ConfigSource> {
        self.source.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_short_and_stable() {
        assert_eq!(hash_of("a"), hash_of("a"));
        assert_ne!(hash_of("a"), hash_of("b"));
        assert_eq!(hash_of("").len(), 16);
    }
}
