//! The optional `metrics` section: where the Prometheus endpoint (`GET /metrics`) listens.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::validate::Validator;
use super::values::check_address;

/// The `metrics` section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub listen: Spanned<String>,
}

/// The Prometheus endpoint's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Address (`host:port`) of the HTTP server that answers `GET /metrics`.
    pub listen: String,
}

impl Validator<'_> {
    /// `None` when the file has no `metrics` section (no endpoint); `listen` is the proxy's
    /// own client address, which the endpoint must not share.
    pub(super) fn metrics(
        &self,
        raw: Option<RawMetrics>,
        listen: &str,
    ) -> Result<Option<MetricsConfig>, ConfigError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let value = &raw.listen.value;
        let result = check_address(value)
            .map_err(|why| format!("invalid address {value:?}: {why}"))
            .and_then(|()| match value == listen {
                true => Err(format!(
                    "{value:?} is also `listen`, the MySQL clients' address"
                )),
                false => Ok(()),
            });
        self.check(&raw.listen, "metrics.listen", result)?;
        Ok(Some(MetricsConfig {
            listen: raw.listen.value,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::config::testutil::{MINIMAL, assert_invalid};

    #[test]
    fn absent_means_no_endpoint() {
        let config = parse(MINIMAL, "t.yaml").expect("valid");
        assert_eq!(config.metrics, None);
        let config = parse(&format!("{MINIMAL}metrics:\n"), "t.yaml").expect("valid");
        assert_eq!(config.metrics, None, "an empty section is an absent one");
    }

    #[test]
    fn listen_address() {
        let yaml = format!("{MINIMAL}metrics: {{ listen: \"127.0.0.1:9104\" }}\n");
        let config = parse(&yaml, "t.yaml").expect("valid");
        assert_eq!(
            config.metrics.map(|m| m.listen).as_deref(),
            Some("127.0.0.1:9104")
        );
        let yaml = format!("{MINIMAL}metrics:\n  listen: \"[::1]:9104\"\n");
        assert!(parse(&yaml, "t.yaml").is_ok());
    }

    #[test]
    fn errors_point_at_the_value() {
        let yaml = format!("{MINIMAL}metrics:\n  listen: \"127.0.0.1\"\n");
        assert_invalid(&yaml, 12, 11, &["metrics.listen", "missing port"]);
        let yaml = format!("{MINIMAL}metrics:\n  listen: \"127.0.0.1:6033\"\n");
        assert_invalid(&yaml, 12, 11, &["metrics.listen", "also `listen`"]);
        let yaml = format!("{MINIMAL}metrics:\n  port: 9104\n");
        assert_invalid(&yaml, 12, 3, &["unknown key `port`", "listen"]);
        let yaml = format!("{MINIMAL}metrics: {{}}\n");
        let (line, _, message) = crate::config::testutil::invalid(&yaml);
        assert_eq!(line, Some(11), "{message}");
        assert!(
            message.contains("missing required key `listen`"),
            "{message}"
        );
        let yaml = format!("{MINIMAL}metrics: \"127.0.0.1:9104\"\n");
        assert_invalid(&yaml, 11, 10, &["expected a mapping"]);
    }
}
