//! Tests of the health checker's decisions and of the checker task.

use super::*;
use crate::backend::connection::Target;
use crate::backend::pool::Pool;
use crate::backend::query::Rows;
use crate::config::PoolConfig;

#[test]
fn gtid_covers_single_domain() {
    assert!(gtid_covers("0-1-22127", "0-1-22127"));
    assert!(gtid_covers("0-1-22127", "0-1-100"));
    assert!(!gtid_covers("0-1-22127", "0-1-22128"));
    // server ids are ignored
    assert!(gtid_covers("0-2-50", "0-1-50"));
    assert!(!gtid_covers("0-2-49", "0-1-50"));
    // large sequence numbers
    assert!(gtid_covers(
        "0-1-18446744073709551615",
        "0-1-18446744073709551614"
    ));
}

#[test]
fn gtid_covers_multiple_domains() {
    let pos = "0-1-22127,1-11-5";
    assert!(gtid_covers(pos, "1-11-5"));
    assert!(gtid_covers(pos, "1-11-5,0-1-3"));
    assert!(!gtid_covers(pos, "1-11-6"));
    assert!(!gtid_covers(pos, "0-1-1,2-1-1"), "domain 2 missing");
    assert!(
        gtid_covers(" 0-1-22127 ,\n1-11-5\n", "0-1-7"),
        "spaces and newlines"
    );
    assert!(!gtid_covers("1-11-5", "0-1-1"));
}

#[test]
fn gtid_covers_empty_strings() {
    assert!(gtid_covers("0-1-5", ""), "nothing to wait for");
    assert!(gtid_covers("", ""));
    assert!(!gtid_covers("", "0-1-1"), "empty position covers no write");
    assert!(!gtid_covers("  ", "0-1-1"));
}

#[test]
fn gtid_covers_malformed_is_false() {
    for bad in [
        "0-1",
        "0-1-2-3",
        "a-1-2",
        "0--2",
        "0-1-",
        "-1-2",
        "0-1-+2",
        "0-1-2,",
        ",0-1-2",
        "0-1-2,,1-1-2",
        "0-1-99999999999999999999",
        "4294967296-1-2",
        "3E11FA47-71CA-11E1:1-5",
        "0 -1-2",
    ] {
        assert!(!gtid_covers(bad, "0-1-1"), "position {bad:?}");
        assert!(!gtid_covers("0-1-5", bad), "gtid {bad:?}");
    }
}

fn status(pairs: &[(&str, Option<&str>)]) -> StatusRow {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

fn healthy(lag: Option<&str>) -> StatusRow {
    status(&[
        ("Slave_IO_Running", Some("Yes")),
        ("Slave_SQL_Running", Some("Yes")),
        ("Seconds_Behind_Master", lag),
        ("Last_IO_Error", Some("")),
        ("Last_SQL_Error", Some("")),
    ])
}

const MAX: Duration = Duration::from_secs(1);

#[test]
fn replica_running_without_lag_is_up() {
    let row = healthy(Some("0"));
    assert_eq!(replica_state(Some(&row), MAX), (HealthState::Up, Some(0)));
    let row = healthy(Some("1"));
    assert_eq!(
        replica_state(Some(&row), MAX),
        (HealthState::Up, Some(1000)),
        "at the limit"
    );
}

#[test]
fn replica_over_the_lag_limit_is_lagging() {
    let row = healthy(Some("7"));
    assert_eq!(
        replica_state(Some(&row), MAX),
        (HealthState::Lagging { lag_ms: 7000 }, Some(7000))
    );
    assert_eq!(
        replica_state(Some(&row), Duration::ZERO).0,
        HealthState::Lagging { lag_ms: 7000 }
    );
}

#[test]
fn replica_with_a_stopped_thread_is_not_replicating() {
    let mut row = healthy(None);
    row.insert("Slave_IO_Running".into(), Some("No".into()));
    row.insert(
        "Last_IO_Error".into(),
        Some("error connecting to master".into()),
    );
    let (state, lag) = replica_state(Some(&row), MAX);
    assert_eq!(
        state,
        HealthState::NotReplicating("IO thread No: error connecting to master".into())
    );
    assert_eq!(lag, None);

    let mut row = healthy(None);
    row.insert("Slave_IO_Running".into(), Some("Connecting".into()));
    row.insert("Slave_SQL_Running".into(), Some("No".into()));
    row.insert("Last_SQL_Error".into(), Some("Duplicate entry".into()));
    assert_eq!(
        replica_state(Some(&row), MAX).0,
        HealthState::NotReplicating("IO thread Connecting; SQL thread No: Duplicate entry".into())
    );
}

#[test]
fn replica_with_null_lag_is_not_replicating() {
    let row = healthy(None);
    assert_eq!(
        replica_state(Some(&row), MAX),
        (
            HealthState::NotReplicating("Seconds_Behind_Master is NULL".into()),
            None
        )
    );
    let row = healthy(Some("soon"));
    assert!(matches!(
        replica_state(Some(&row), MAX).0,
        HealthState::NotReplicating(_)
    ));
}

#[test]
fn empty_status_is_not_a_replica() {
    assert_eq!(
        replica_state(None, MAX),
        (
            HealthState::NotReplicating("not configured as a replica".into()),
            None
        )
    );
    let (state, _) = replica_state(Some(&StatusRow::new()), MAX);
    assert_eq!(
        state,
        HealthState::NotReplicating("IO thread ?; SQL thread ?".into())
    );
}

#[test]
fn mysql_replica_status_names() {
    let row = status(&[
        ("Replica_IO_Running", Some("Yes")),
        ("Replica_SQL_Running", Some("Yes")),
        ("Seconds_Behind_Source", Some("2")),
    ]);
    assert_eq!(
        replica_state(Some(&row), MAX).0,
        HealthState::Lagging { lag_ms: 2000 }
    );
}

#[test]
fn status_row_takes_the_first_row_by_name() {
    let rows = Rows {
        columns: vec!["Slave_IO_Running".into(), "Seconds_Behind_Master".into()],
        rows: vec![vec![Some("Yes".into()), None]],
    };
    let row = status_row(rows).expect("a row");
    assert_eq!(row.get("Slave_IO_Running"), Some(&Some("Yes".to_string())));
    assert_eq!(row.get("Seconds_Behind_Master"), Some(&None));
    assert!(status_row(Rows::default()).is_none());
}

#[test]
fn booleans_as_printed() {
    assert_eq!(parse_bool("1"), Some(true));
    assert_eq!(parse_bool("OFF"), Some(false));
    assert_eq!(parse_bool("maybe"), None);
}

#[tokio::test]
async fn publish_sets_the_usable_flag() {
    let h = Health::new();
    assert!(!h.is_usable());
    assert_eq!(h.snapshot().state, HealthState::Unknown);
    let up = HealthSnapshot {
        state: HealthState::Up,
        ..HealthSnapshot::default()
    };
    assert_eq!(h.publish(up), HealthState::Unknown);
    assert!(h.is_usable());
    assert_eq!(
        h.publish(HealthSnapshot::down("gone".into())),
        HealthState::Up
    );
    assert!(!h.is_usable());
    assert!(HealthState::Lagging { lag_ms: 1 }.same_kind(&HealthState::Lagging { lag_ms: 2 }));
}

#[tokio::test]
async fn checker_stops_on_stop_and_on_drop() {
    let target = Target {
        name: "nowhere".into(),
        address: "127.0.0.1:1".into(),
        user: "u".into(),
        password: "p".into(),
        connect_timeout: Duration::from_millis(200),
    };
    let cfg = PoolConfig::default();
    let h = Health::new();
    let (pool, slot) = Pool::with_checker(target.clone(), &cfg);
    let task = spawn_checker(slot, CheckRole::Primary, Duration::from_millis(20), MAX, &h);
    h.stop();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stopped")
        .expect("no panic");
    // The stopped checker gave its slot back, with no connection counted.
    assert_eq!(pool.stats().open, 0);
    assert!(pool.checker_slot().is_some(), "the reservation came back");
    let h = Health::new();
    let (pool, slot) = Pool::with_checker(target, &cfg);
    let task = spawn_checker(slot, CheckRole::Primary, Duration::from_millis(20), MAX, &h);
    drop(h);
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stopped")
        .expect("no panic");
    assert_eq!((pool.stats().open, pool.stats().checker), (0, 0));
}
