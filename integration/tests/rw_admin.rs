//! The proxy's own statements for admins: `EXPLAIN SHARDGATE` (checked against where each
//! statement really runs) and `SHOW SHARDGATE BACKENDS`; both refused to other users.

use std::time::Duration;

use mysql::prelude::Queryable;

use crate::harness::rw::{
    PRIMARY, REPLICA, assert_runs_on, backends, explain, replicated_table, rw_proxy,
    s1_replica_shared, wait_replicas_up,
};
use crate::harness::{ReplicaOpt, my_err, sandbox};

#[test]
fn rw_explain_shardgate_matches_where_statements_run() {
    let sb = sandbox();
    let crit = replicated_table("rw_explain_crit");
    let rules = format!(
        "critical_tables: [{}]\ncritical_patterns: ['rw_marker_explain']",
        crit.name
    );
    let proxy = rw_proxy(&rules, |_| {});
    let mut admin = proxy.admin();
    let cn = &crit.name;
    let cases = [
        ("SELECT @@server_id".to_string(), "replica", "read"),
        ("SELECT @@server_id, '/*master*/'".into(), "replica", "read"),
        ("/*master*/ SELECT @@server_id".into(), "primary", "hint"),
        (
            "/*+ shardgate:replica */ SELECT @@server_id".into(),
            "replica",
            "hint /*+ shardgate:replica */",
        ),
        (
            "SELECT @@server_id FOR UPDATE".into(),
            "primary",
            "locking read",
        ),
        (
            "SELECT @@server_id, LAST_INSERT_ID()".into(),
            "primary",
            "LAST_INSERT_ID",
        ),
        (
            format!("SELECT @@server_id FROM `{cn}` LIMIT 1"),
            "primary",
            "critical table",
        ),
        (
            "SELECT @@server_id, 'rw_marker_explain'".into(),
            "primary",
            "critical pattern",
        ),
    ];
    for (sql, role, reason) in &cases {
        let e = explain(&mut admin, sql);
        assert_eq!(e.shard.as_deref(), Some("s0"), "{sql}: {e:?}");
        assert_eq!(e.role, *role, "{sql}: {e:?}");
        assert!(
            e.reason.contains(reason),
            "{sql}: reason {e:?}, expected {reason:?}"
        );
        let (addr, id) = if *role == "replica" {
            (&sb.s0_replica, REPLICA)
        } else {
            (&sb.s0_primary, PRIMARY)
        };
        assert!(
            e.backends
                .as_deref()
                .is_some_and(|b| b.contains(addr.as_str())),
            "{sql}: backends {e:?}, expected {addr}"
        );
        assert_runs_on(&mut admin, sql, id);
    }
    // Inside a transaction.
    admin.query_drop("BEGIN").expect("BEGIN");
    let e = explain(&mut admin, "SELECT @@server_id");
    assert_eq!(e.role, "primary", "{e:?}");
    assert!(e.reason.contains("transaction"), "{e:?}");
    assert_runs_on(&mut admin, "SELECT @@server_id", PRIMARY);
    admin.query_drop("COMMIT").expect("COMMIT");
    // A write.
    let e = explain(&mut admin, &format!("UPDATE `{cn}` SET v = 1"));
    assert_eq!(
        (e.role.as_str(), e.reason.as_str()),
        ("primary", "not a read"),
        "{e:?}"
    );
    // Non-admins may not ask.
    let err = my_err(proxy.conn().query_drop("EXPLAIN SHARDGATE SELECT 1"));
    assert_eq!(err.code, 1227, "{err:?}");
}

#[test]
fn rw_show_shardgate_backends_lists_every_backend_for_admins_only() {
    let _replicating = s1_replica_shared();
    let sb = sandbox();
    let proxy = rw_proxy("", |o| {
        o.replicas
            .push(ReplicaOpt::new("s1", &sb.s1_replica, Some(7)));
    });
    let rows = wait_replicas_up(&mut proxy.admin(), Duration::from_secs(30));
    let got: Vec<(&str, &str, bool, Option<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r.shard.as_str(),
                r.role.as_str(),
                r.is_up(),
                r.weight.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("s0", "primary", true, None),
            ("s0", "replica", true, Some("1")),
            ("s1", "primary", true, None),
            ("s1", "replica", true, Some("7")),
        ],
        "{rows:?}"
    );
    for (row, addr) in rows.iter().zip(sb.all()) {
        assert!(row.backend.ends_with(&addr), "{row:?} is not {addr}");
    }
    for r in rows.iter().filter(|r| r.role == "replica") {
        assert_eq!(r.read_only.as_deref(), Some("true"), "{r:?}");
        assert!(r.gtid_position.is_some(), "{r:?}");
        assert!(r.lag_ms.is_some(), "{r:?}");
    }
    let err = my_err(proxy.conn().query_drop("SHOW SHARDGATE BACKENDS"));
    assert_eq!(err.code, 1227, "{err:?}");
    let err = my_err(proxy.primary_user().query_drop("SHOW SHARDGATE BACKENDS"));
    assert_eq!(err.code, 1227, "{err:?}");
    // backends() on an admin connection keeps working after a non-admin was refused.
    assert_eq!(backends(&mut proxy.admin()).len(), 4);
}
