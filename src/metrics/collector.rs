//! Figures read at scrape time from the proxy's current snapshot: each backend pool's
//! `Pool::stats()`, each backend's last health check, and the connected clients.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::backend::health::{HealthSnapshot, HealthState};
use crate::backend::pool::PoolStats;
use crate::runtime::Proxy;

/// Encodes the snapshot's figures on each scrape.
pub(super) struct ProxyCollector {
    proxy: Arc<Proxy>,
}

impl ProxyCollector {
    pub(super) fn new(proxy: Arc<Proxy>) -> Self {
        ProxyCollector { proxy }
    }
}

impl fmt::Debug for ProxyCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProxyCollector")
    }
}

/// One backend as seen at scrape time.
pub(super) struct Backend {
    pub name: String,
    pub shard: String,
    pub role: &'static str,
    pub pool: PoolStats,
    pub health: HealthSnapshot,
}

impl Backend {
    fn labels(&self) -> [(&str, &str); 3] {
        [
            ("backend", &self.name),
            ("shard", &self.shard),
            ("role", self.role),
        ]
    }
}

/// A gauge or counter per backend: name, help, metric type, value.
type PerBackend = (
    &'static str,
    &'static str,
    MetricType,
    fn(&PoolStats) -> u64,
);

const POOL_FIGURES: [PerBackend; 8] = [
    (
        "pool_open_connections",
        "Open connections (idle, in use, being opened, the health checker's).",
        MetricType::Gauge,
        |p| p.open as u64,
    ),
    (
        "pool_in_use_connections",
        "Connections checked out by clients (including ones being opened).",
        MetricType::Gauge,
        |p| p.in_use as u64,
    ),
    (
        "pool_idle_connections",
        "Idle connections.",
        MetricType::Gauge,
        |p| p.idle as u64,
    ),
    (
        "pool_waiting_checkouts",
        "Checkouts queued for a connection.",
        MetricType::Gauge,
        |p| p.waiting as u64,
    ),
    (
        "pool_max_connections",
        "pool.max_connections: the cap on open connections.",
        MetricType::Gauge,
        |p| p.max as u64,
    ),
    (
        "pool_connections_created",
        "Connections opened.",
        MetricType::Counter,
        |p| p.created,
    ),
    (
        "pool_connections_closed",
        "Connections closed, for any reason.",
        MetricType::Counter,
        |p| p.closed,
    ),
    (
        "pool_checkout_timeouts",
        "Checkouts that gave up after pool.checkout_timeout_ms (ERR 1040).",
        MetricType::Counter,
        |p| p.checkout_timeouts,
    ),
];

impl Collector for ProxyCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let backends = backends(&self.proxy);
        for (name, help, kind, value) in POOL_FIGURES {
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for b in &backends {
                let labels = b.labels();
                let metric = family.encode_family(&labels)?;
                match kind {
                    MetricType::Counter => ConstCounter::new(value(&b.pool)).encode(metric)?,
                    _ => ConstGauge::new(value(&b.pool) as i64).encode(metric)?,
                }
            }
        }
        let mut up = encoder.encode_descriptor(
            "backend_up",
            "1 when the backend's last health check found it up (a replica: replicating within \
             read_write_split.max_replication_lag_ms), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for b in &backends {
            let labels = b.labels();
            let is_up = i64::from(b.health.state == HealthState::Up);
            ConstGauge::new(is_up).encode(up.encode_family(&labels)?)?;
        }
        let mut lag = encoder.encode_descriptor(
            "replication_lag",
            "Replication lag of a replica at its last health check (absent while unknown).",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        for b in backends.iter().filter(|b| b.role == "replica") {
            if let Some(ms) = b.health.lag_ms {
                let labels = [("backend", b.name.as_str()), ("shard", b.shard.as_str())];
                ConstGauge::new(ms as f64 / 1000.0).encode(lag.encode_family(&labels)?)?;
            }
        }
        let clients = self.proxy.clients.load(Ordering::Relaxed) as i64;
        let metric = encoder.encode_descriptor(
            "client_connections",
            "Connected clients.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(clients).encode(metric)
    }
}

/// Every backend of the current snapshot: primaries and replicas, shard by shard.
pub(super) fn backends(proxy: &Proxy) -> Vec<Backend> {
    let snapshot = proxy.snapshot();
    let mut out = Vec::new();
    for shard in &snapshot.registry.shards {
        out.push(Backend {
            name: shard.primary.name().to_string(),
            shard: shard.name.clone(),
            role: "primary",
            pool: shard.primary.stats(),
            health: shard.primary_health.snapshot(),
        });
        for r in &shard.replicas {
            out.push(Backend {
                name: r.pool.name().to_string(),
                shard: shard.name.clone(),
                role: "replica",
                pool: r.pool.stats(),
                health: r.health.snapshot(),
            });
        }
    }
    out
}
