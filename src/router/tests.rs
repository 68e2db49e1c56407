//! Router tests: admin and USE pre-scans, session state overriding reads, schema qualification.

use super::*;

fn route(sql: &str, view: SessionView) -> Plan {
    let rules = Rules::new(&["orders".to_string()], &[]).expect("rules");
    let sharding = Sharding::default();
    let topo = Topology {
        default_shard: 1,
        rules: &rules,
        sharding: &sharding,
        schema: None,
        shard_count: 2,
        shapes: None,
    };
    route_query(sql.as_bytes(), &view, &topo)
}

fn role(p: &Plan) -> Option<Role> {
    match p {
        Plan::Single { role, .. } => Some(*role),
        _ => None,
    }
}

#[test]
fn naming_a_sharded_schema_from_elsewhere_is_detected_outside_strings() {
    assert!(qualifies(b"SELECT * FROM shop.orders", b"shop"));
    assert!(qualifies(b"SELECT * FROM `shop` . orders", b"shop"));
    assert!(qualifies(b"SELECT * FROM shop/* c */.orders", b"shop"));
    assert!(!qualifies(
        b"SELECT * FROM t WHERE email = 'a@shop.com'",
        b"shop"
    ));
    assert!(!qualifies(
        b"SELECT * FROM t WHERE x = 'it''s shop.x' AND y = 1",
        b"shop"
    ));
    assert!(!qualifies(
        b"SELECT * FROM t WHERE x = 'a\\' shop.x'",
        b"shop"
    ));
    assert!(qualifies(b"SELECT 'a', shop.t.x FROM shop.t", b"shop"));
    assert!(!qualifies(b"SELECT * FROM myshop.t", b"shop"));
}

#[test]
fn session_state_overrides_a_read() {
    let idle = SessionView::default();
    assert_eq!(role(&route("SELECT 1", idle)), Some(Role::Replica));
    for view in [
        SessionView {
            in_transaction: true,
            ..idle
        },
        SessionView {
            user_primary_only: true,
            ..idle
        },
        SessionView {
            within_write_window: true,
            ..idle
        },
    ] {
        assert_eq!(
            role(&route("SELECT 1", view)),
            Some(Role::Primary),
            "{view:?}"
        );
    }
}

#[test]
fn writes_and_rules_go_to_the_primary() {
    let idle = SessionView::default();
    let p = route("UPDATE t SET a = 1", idle);
    assert!(
        matches!(
            p,
            Plan::Single {
                role: Role::Primary,
                writes: true,
                ..
            }
        ),
        "{p:?}"
    );
    let p = route("SELECT * FROM orders", idle);
    assert!(
        matches!(
            p,
            Plan::Single {
                role: Role::Primary,
                writes: false,
                ..
            }
        ),
        "{p:?}"
    );
    assert_eq!(
        route("USE shop", idle),
        Plan::Use {
            schema: "shop".into(),
            shard: 1
        }
    );
    assert_eq!(
        route("SHOW SHARDGATE BACKENDS", idle),
        Plan::Admin(Admin::ShowBackends)
    );
    assert_eq!(
        route("show shardgate pools;", idle),
        Plan::Admin(Admin::ShowPools)
    );
}
