//! The Prometheus text format (0.0.4) from prometheus-client's OpenMetrics text, for scrapers
//! that do not ask for OpenMetrics (curl, `promtool check metrics`, older Prometheus).
//!
//! The two differ, for what shardgate exposes, in three points only: an OpenMetrics counter
//! family is named without its `_total` suffix in `# HELP`/`# TYPE` (the samples have it),
//! `# UNIT` lines exist, and the text ends with `# EOF`. Samples are the same bytes.

use std::collections::HashSet;

/// `openmetrics` (without `# EOF`, or with it) rewritten to the Prometheus text format.
pub(super) fn prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find(|p| line.starts_with(p));
        match descriptor {
            Some(prefix) => {
                let rest = &line[prefix.len()..];
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_suffix_units_and_eof_go() {
        let om = "\
# HELP shardgate_errors ERR packets.
# TYPE shardgate_errors counter
shardgate_errors_total{code=\"1146\"} 2
# HELP shardgate_statement_duration_seconds Time.
# TYPE shardgate_statement_duration_seconds histogram
# UNIT shardgate_statement_duration_seconds seconds
shardgate_statement_duration_seconds_sum{route=\"single\"} 0.5
shardgate_statement_duration_seconds_count{route=\"single\"} 1
shardgate_statement_duration_seconds_bucket{le=\"+Inf\",route=\"single\"} 1
# HELP shardgate_client_connections Connected clients.
# TYPE shardgate_client_connections gauge
shardgate_client_connections 3
# EOF
";
        let expected = "\
# HELP shardgate_errors_total ERR packets.
# TYPE shardgate_errors_total counter
shardgate_errors_total{code=\"1146\"} 2
# HELP shardgate_statement_duration_seconds Time.
# TYPE shardgate_statement_duration_seconds histogram
shardgate_statement_duration_seconds_sum{route=\"single\"} 0.5
shardgate_statement_duration_seconds_count{route=\"single\"} 1
shardgate_statement_duration_seconds_bucket{le=\"+Inf\",route=\"single\"} 1
# HELP shardgate_client_connections Connected clients.
# TYPE shardgate_client_connections gauge
shardgate_client_connections 3
";
        assert_eq!(prometheus_text(om), expected);
    }
}
