//! Prometheus metrics: counters and histograms recorded on the statement path, figures read
//! from the current snapshot at scrape time, and the HTTP endpoint that serves `GET /metrics`.
//!
//! ```text
//! main ─▶ Endpoint::bind (metrics.listen) ─▶ init(): the global METRICS registry
//!      ─▶ Proxy::new ─▶ pools take their checkout-wait histogram (CheckoutWait)
//!      ─▶ Endpoint::serve(proxy) ─▶ http.rs: GET /metrics ─▶ render():
//!           METRICS registry (statements, durations, errors, reloads, checkout waits)
//!         + collector.rs over proxy.snapshot() (pools, backend health, clients)
//! ```
//!
//! Without a `metrics` section nothing is initialised and every recording function returns
//! after one atomic load. Label sets are small `Copy` values (see `labels.rs`); the duration
//! histograms are created up front, one per route.

mod collector;
mod format;
mod http;
mod labels;
mod statement;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use http::Endpoint;
use labels::{BackendLabels, ErrorLabels, ReloadLabels, RouteLabels, StatementLabels};
pub use labels::{Kind, Route};
pub use statement::Statement;

use crate::runtime::Proxy;

/// Upper bounds of the statement duration buckets, in seconds (100 µs to 10 s).
const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Upper bounds of the checkout wait buckets, in seconds (10 µs to 10 s).
const WAIT_BUCKETS: [f64; 13] = [
    0.00001, 0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// Every metric recorded by the proxy (what collector.rs reads at scrape time is not here).
pub struct Metrics {
    registry: Registry,
    statements: Family<StatementLabels, Counter>,
    /// Indexed by `Route::index`.
    durations: [Histogram; Route::ALL.len()],
    errors: Family<ErrorLabels, Counter>,
    checkout_wait: HistogramFamily<BackendLabels>,
    reloads_ok: Counter,
    reloads_failed: Counter,
    config_version: Gauge,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The metrics, once [`init`] ran (the configuration has a `metrics` section).
fn get() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Creates the global metrics (idempotent). Run before the first snapshot is built, so that its
/// pools find the metrics.
pub fn init() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("shardgate");
        let statements = Family::<StatementLabels, Counter>::default();
        registry.register(
            "statements",
            "Statements (COM_QUERY and prepared-statement executes) by first keyword, route, \
             server role and shard (* = several shards)",
            statements.clone(),
        );
        let durations_family: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register_with_unit(
            "statement_duration",
            "Time from receiving a statement to the end of its reply, by route",
            Unit::Seconds,
            durations_family.clone(),
        );
        let durations =
            Route::ALL.map(|route| durations_family.get_or_create_owned(&RouteLabels { route }));
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "errors",
            "ERR packets sent to clients, by MySQL error code (shardgate's own and the \
             servers' passed on)",
            errors.clone(),
        );
        let checkout_wait: HistogramFamily<BackendLabels> =
            Family::new_with_constructor(|| Histogram::new(WAIT_BUCKETS));
        registry.register_with_unit(
            "pool_checkout_wait",
            "Time a checkout waited in the backend pool's queue for a connection slot \
             (connecting excluded; checkout timeouts included)",
            Unit::Seconds,
            checkout_wait.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads, by result",
            reloads.clone(),
        );
        let config_version = Gauge::default();
        registry.register(
            "config_version",
            "Version of the configuration in use (1 at start-up, counted up by each reload)",
            config_version.clone(),
        );
        config_version.set(1);
        Metrics {
            registry,
            statements,
            durations,
            errors,
            checkout_wait,
            reloads_ok: reloads.get_or_create_owned(&ReloadLabels { result: "ok" }),
            reloads_failed: reloads.get_or_create_owned(&ReloadLabels { result: "error" }),
            config_version,
        }
    }

    fn record_statement(&self, labels: &StatementLabels, elapsed: Duration) {
        self.statements.get_or_create(labels).inc();
        self.durations[labels.route.index()].observe(elapsed.as_secs_f64());
    }

    fn record_error(&self, code: u16) {
        self.errors.get_or_create(&ErrorLabels { code }).inc();
    }
}

/// A configuration reload took effect; `version` is the new configuration's.
pub fn reload_succeeded(version: u64) {
    if let Some(m) = get() {
        m.reloads_ok.inc();
        m.config_version
            .set(i64::try_from(version).unwrap_or(i64::MAX));
    }
}

/// A configuration reload was rejected (the old configuration stays).
pub fn reload_failed() {
    if let Some(m) = get() {
        m.reloads_failed.inc();
    }
}

/// An ERR packet (payload starting with 0xFF: shardgate's own or a server's) is sent to a
/// client. Called where each reaches the client: `error::reply_packet`, the pass-through relay
/// and the scatter merge.
pub fn error_sent(packet: &[u8]) {
    if let Some(m) = get() {
        m.record_error(err_code(packet));
    }
}

/// The error code of an ERR packet payload (0 when it is too short to have one).
fn err_code(packet: &[u8]) -> u16 {
    match packet {
        [_, lo, hi, ..] => u16::from_le_bytes([*lo, *hi]),
        _ => 0,
    }
}

/// One backend pool's checkout-wait histogram (nothing when metrics are off); the pool keeps
/// it so a checkout records without a lookup.
#[derive(Debug, Clone, Default)]
pub struct CheckoutWait(Option<Histogram>);

impl CheckoutWait {
    /// The histogram of the pool called `backend`.
    pub fn for_backend(backend: &str) -> CheckoutWait {
        CheckoutWait(get().map(|m| {
            m.checkout_wait.get_or_create_owned(&BackendLabels {
                backend: backend.to_string(),
            })
        }))
    }

    pub fn observe(&self, waited: Duration) {
        if let Some(h) = &self.0 {
            h.observe(waited.as_secs_f64());
        }
    }
}

/// The exposition: OpenMetrics text when `openmetrics`, else the Prometheus text format 0.0.4.
pub fn render(proxy: &Arc<Proxy>, openmetrics: bool) -> String {
    let mut out = String::with_capacity(16 * 1024);
    if let Some(m) = get() {
        // Writing to a String cannot fail; the encoders' fmt::Error only passes that on.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &m.registry);
    }
    let mut scrape = Registry::with_prefix("shardgate");
    scrape.register_collector(Box::new(collector::ProxyCollector::new(Arc::clone(proxy))));
    let _ = prometheus_client::encoding::text::encode_registry(&mut out, &scrape);
    if openmetrics {
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    } else {
        format::prometheus_text(&out)
    }
}

#[cfg(test)]
mod tests;
