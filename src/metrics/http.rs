//! The metrics endpoint: a small HTTP/1.1 server (hyper) on its own listener. `GET /metrics`
//! answers the exposition — OpenMetrics text when the scraper asks for it (Prometheus does),
//! the Prometheus text format otherwise; any other path is 404, any other method 405.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::MetricsConfig;
use crate::runtime::Proxy;

/// Scrape connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 16;
/// A client must send its request headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection (keep-alive included) is closed after this.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The bound (not yet serving) metrics listener; none without a `metrics` section.
pub struct Endpoint {
    listener: Option<TcpListener>,
}

impl Endpoint {
    /// With a `metrics` section: creates the metrics and binds `metrics.listen`. Run before the
    /// first snapshot is built (its pools take their histograms then).
    pub async fn bind(config: Option<&MetricsConfig>) -> Result<Endpoint, String> {
        let Some(config) = config else {
            return Ok(Endpoint { listener: None });
        };
        super::init();
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| format!("cannot listen on {} (metrics.listen): {e}", config.listen))?;
        Ok(Endpoint {
            listener: Some(listener),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref()?.local_addr().ok()
    }

    /// Serves `GET /metrics` for `proxy` in a task of its own, until the runtime stops.
    pub fn serve(self, proxy: &Arc<Proxy>) {
        let Some(listener) = self.listener else {
            return;
        };
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(listen = %addr, "metrics endpoint ready: GET /metrics");
        }
        tokio::spawn(accept_loop(listener, Arc::downgrade(proxy)));
    }
}

async fn accept_loop(listener: TcpListener, proxy: Weak<Proxy>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, typically: wait instead of spinning.
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(
                "metrics endpoint: {MAX_CONNECTIONS} connections open, closing one more"
            );
            continue;
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(req.method(), req.uri().path(), req.headers(), &proxy);
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("metrics endpoint: connection ended: {e}"),
                Err(_) => tracing::debug!(
                    "metrics endpoint: connection closed after {CONNECTION_TIMEOUT:?}"
                ),
            }
        });
    }
}

/// The answer to one request.
fn respond(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    proxy: &Weak<Proxy>,
) -> Response<Full<Bytes>> {
    if path != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; the metrics are at /metrics\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed; use GET\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Some(proxy) = proxy.upgrade() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    };
    let openmetrics = wants_openmetrics(headers);
    let body = super::render(&proxy, openmetrics);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    let content_type = if openmetrics {
        OPENMETRICS
    } else {
        PROMETHEUS_TEXT
    };
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Does the `Accept` header ask for OpenMetrics text (with a non-zero quality)?
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            parts.next() == Some("application/openmetrics-text")
                && !parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0")
        })
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn negotiates_openmetrics() {
        // What Prometheus 2.x sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(&accept(prometheus)));
        assert!(!wants_openmetrics(&accept("*/*")));
        assert!(!wants_openmetrics(&accept("text/plain")));
        assert!(!wants_openmetrics(&accept(
            "application/openmetrics-text; q=0"
        )));
        assert!(!wants_openmetrics(&HeaderMap::new()));
    }

    #[test]
    fn other_paths_and_methods() {
        let gone = Weak::new();
        let none = HeaderMap::new();
        let r = respond(&Method::GET, "/", &none, &gone);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = respond(&Method::GET, "/metrics/x", &none, &gone);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = respond(&Method::POST, "/metrics", &none, &gone);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            r.headers().get(ALLOW).map(|v| v.as_bytes()),
            Some(&b"GET, HEAD"[..])
        );
        let r = respond(&Method::GET, "/metrics", &none, &gone);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
