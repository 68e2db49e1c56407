//! Shared proxy state: the current config snapshot with its backends (atomically swappable,
//! see `reload`), plus what outlives a snapshot (RSA key, caching_sha2 cache, connection
//! counters).

mod reload;
pub mod sessions;
pub mod triggers;

pub use reload::{ConfigSource, ConfigVersion, ReloadOutcome, ReloadStatus};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::backend::Registry;
use crate::config::Config;
use crate::protocol::auth::RsaKeys;
use crate::router::classify::Rules;
use crate::router::shard::cache::ShapeCache;

/// One immutable config snapshot, the backends built from it and its compiled routing rules.
pub struct Snapshot {
    pub config: Config,
    pub registry: Registry,
    pub rules: Rules,
    pub version: ConfigVersion,
    /// Shapes of text statements on sharded schemas, for this snapshot's rules only.
    pub shapes: ShapeCache,
}

/// Everything sessions share.
/// A table's text columns (lower-case name) and their collation ids.
pub type TableCollations = Arc<Vec<(String, u16)>>;

pub struct Proxy {
    snapshot: ArcSwap<Snapshot>,
    pub rsa: RsaKeys,
    /// Version string sent in the greeting.
    pub server_version: String,
    /// Users who completed caching_sha2_password full auth (key: hash of user and password).
    sha2_cache: Mutex<HashSet<[u8; 32]>>,
    next_connection_id: AtomicU32,
    pub clients: AtomicUsize,
    /// Text columns' real collations per (schema, physical table), looked up once in
    /// information_schema for scatter merges (column definitions do not carry them).
    pub column_collations: Mutex<HashMap<(String, String), TableCollations>>,
    /// Sessions that keep a backend connection between statements, by reason.
    pinned: Mutex<BTreeMap<&'static str, usize>>,
    /// The config file reloads read; `None` when started from text (tests).
    source: Option<ConfigSource>,
    reload_lock: tokio::sync::Mutex<()>,
    reload_status: Mutex<ReloadStatus>,
    /// Shutdown stage: 0 running; 1 draining (SIGTERM/SIGINT: idle sessions end, the others
    /// after their transaction); 2 the deadline passed (every session ends now).
    stop: tokio::sync::watch::Sender<u8>,
    /// Connected sessions (`SHOW SHARDGATE SESSIONS`).
    pub sessions: sessions::SessionList,
}

impl Proxy {
    /// Builds the first snapshot (inside the runtime: it starts health checkers).
    pub fn new(
        config: Config,
        rsa: RsaKeys,
        server_version: String,
        version: ConfigVersion,
        source: Option<ConfigSource>,
    ) -> Result<Self, String> {
        let rw = &config.read_write_split;
        let rules = Rules::new(&rw.critical_tables, &rw.critical_patterns)
            .map_err(|e| format!("read_write_split.critical_patterns: {e}"))?;
        let registry = Registry::build(&config);
        Ok(Proxy {
            snapshot: ArcSwap::from_pointee(Snapshot {
                config,
                registry,
                rules,
                version,
                shapes: ShapeCache::default(),
            }),
            rsa,
            server_version,
            sha2_cache: Mutex::new(HashSet::new()),
            next_connection_id: AtomicU32::new(1),
            column_collations: Mutex::new(HashMap::new()),
            pinned: Mutex::new(BTreeMap::new()),
            source,
            reload_lock: tokio::sync::Mutex::new(()),
            reload_status: Mutex::new(ReloadStatus::default()),
            stop: tokio::sync::watch::Sender::new(0),
            sessions: sessions::SessionList::default(),
            clients: AtomicUsize::new(0),
        })
    }

    /// The current snapshot (hold the `Arc` across awaits).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Starts a graceful shutdown: sessions end once they hold no backend connection.
    pub fn begin_shutdown(&self) {
        self.stop.send_replace(1);
    }

    /// The shutdown deadline passed: sessions still in a transaction end now.
    pub fn force_shutdown(&self) {
        self.stop.send_replace(2);
    }

    /// The shutdown stage (see `stop`).
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<u8> {
        self.stop.subscribe()
    }

    /// Waits until every client has gone, at most `deadline`; `false` if some are left.
    pub async fn drained(&self, deadline: std::time::Duration) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        while self.clients.load(Ordering::Acquire) > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        true
    }

    fn swap(&self, next: Snapshot) {
        self.snapshot.store(Arc::new(next));
    }

    /// A fresh connection id (never 0).
    pub fn next_connection_id(&self) -> u32 {
        loop {
            let id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    /// Logs every pool's figures and the pinned sessions each `period` while any pool is in
    /// use or has queued checkouts (ends when the proxy is dropped).
    pub fn spawn_pool_log(self: &Arc<Self>, period: std::time::Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(proxy) = weak.upgrade() else {
                    return;
                };
                let snapshot = proxy.snapshot();
                for shard in &snapshot.registry.shards {
                    let pools = std::iter::once(&shard.primary)
                        .chain(shard.replicas.iter().map(|r| &r.pool));
                    for pool in pools {
                        let p = pool.stats();
                        if p.in_use == 0 && p.waiting == 0 {
                            continue;
                        }
                        tracing::info!(
                            backend = %pool.name(),
                            max = p.max,
                            open = p.open,
                            in_use = p.in_use,
                            idle = p.idle,
                            waiting = p.waiting,
                            created = p.created,
                            closed = p.closed,
                            checkout_timeouts = p.checkout_timeouts,
                            "pool"
                        );
                    }
                }
                let pinned = proxy.pinned_summary();
                if !pinned.is_empty() {
                    tracing::info!(%pinned, "sessions keeping a backend connection");
                }
            }
        });
    }

    /// A session's reason to keep its connection changed.
    pub fn pin_changed(&self, from: Option<&'static str>, to: Option<&'static str>) {
        if from == to {
            return;
        }
        let mut pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = from
            && let Some(n) = pinned.get_mut(why)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                pinned.remove(why);
            }
        }
        if let Some(why) = to {
            *pinned.entry(why).or_default() += 1;
        }
    }

    /// `reason=count, ...` of the sessions that keep a connection (empty when none do).
    pub fn pinned_summary(&self) -> String {
        let pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        pinned
            .iter()
            .map(|(why, n)| format!("{why}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn sha2_key(user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Was this user's current password verified by full authentication since start-up?
    pub fn sha2_cached(&self, user: &str, password: &str) -> bool {
        let key = Self::sha2_key(user, password);
        self.sha2_cache
            .lock()
            .map(|c| c.contains(&key))
            .unwrap_or(false)
    }

    pub fn sha2_remember(&self, user: &str, password: &str) {
        let key = Self::sha2_key(user, password);
        if let Ok(mut c) = self.sha2_cache.lock() {
            c.insert(key);
        }
    }
}
