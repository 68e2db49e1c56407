//! Deciding a replica's state from its `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS` row.

use std::collections::HashMap;
use std::time::Duration;

use super::HealthState;
use crate::backend::query::Rows;

/// One `SHOW SLAVE STATUS` row by column name.
pub type StatusRow = HashMap<String, Option<String>>;

/// The first row of a `SHOW SLAVE STATUS` result by column name (`None` when empty).
pub(super) fn status_row(rows: Rows) -> Option<StatusRow> {
    let row = rows.rows.into_iter().next()?;
    Some(rows.columns.into_iter().zip(row).collect())
}

/// "ON"/"1" and "OFF"/"0" as MySQL prints booleans.
pub(super) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" => Some(true),
        "0" => Some(false),
        v if v.eq_ignore_ascii_case("ON") => Some(true),
        v if v.eq_ignore_ascii_case("OFF") => Some(false),
        _ => None,
    }
}

/// Decides a replica's state and lag from its `SHOW SLAVE STATUS` (or MySQL's `SHOW REPLICA
/// STATUS`) row; `None` when the result was empty (replication not configured).
pub fn replica_state(row: Option<&StatusRow>, max_lag: Duration) -> (HealthState, Option<u64>) {
    let Some(row) = row else {
        return (
            HealthState::NotReplicating("not configured as a replica".to_string()),
            None,
        );
    };
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| row.get(*n))
            .and_then(|v| v.as_deref())
    };
    let lag_ms = field(&["Seconds_Behind_Master", "Seconds_Behind_Source"])
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000));
    let mut problems = Vec::new();
    for (thread, running, error) in [
        (
            "IO",
            ["Slave_IO_Running", "Replica_IO_Running"],
            "Last_IO_Error",
        ),
        (
            "SQL",
            ["Slave_SQL_Running", "Replica_SQL_Running"],
            "Last_SQL_Error",
        ),
    ] {
        let running = field(&running).unwrap_or("");
        if running != "Yes" {
            let shown = if running.is_empty() { "?" } else { running };
            let mut p = format!("{thread} thread {shown}");
            if let Some(e) = field(&[error]).filter(|e| !e.is_empty()) {
                p.push_str(": ");
                p.push_str(e);
            }
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        return (HealthState::NotReplicating(problems.join("; ")), lag_ms);
    }
    match lag_ms {
        None => (
            HealthState::NotReplicating("Seconds_Behind_Master is NULL".to_string()),
            None,
        ),
        Some(lag) if u128::from(lag) > max_lag.as_millis() => {
            (HealthState::Lagging { lag_ms: lag }, Some(lag))
        }
        Some(lag) => (HealthState::Up, Some(lag)),
    }
}
