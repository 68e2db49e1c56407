//! Label classification: statement kinds, routes, roles and shards from plans, interning.

use super::*;
use crate::router::Why;
use crate::router::prescan::Admin;
use crate::router::shard::plan::ShardTarget;

#[test]
fn kinds_from_the_first_keyword() {
    let cases: [(&str, Kind); 20] = [
        ("SELECT 1", Kind::Select),
        ("  /* hint */ select * from t", Kind::Select),
        ("(SELECT 1) UNION (SELECT 2)", Kind::Select),
        ("-- c\nSELECT 1", Kind::Select),
        ("insert into t values (1)", Kind::Insert),
        ("REPLACE INTO t VALUES (1)", Kind::Insert),
        ("UPDATE t SET a = 1", Kind::Update),
        ("DELETE FROM t", Kind::Delete),
        ("SET NAMES utf8mb4", Kind::Set),
        ("set @a := 1", Kind::Set),
        ("BEGIN", Kind::Begin),
        ("start transaction read only", Kind::Begin),
        ("START SLAVE", Kind::Other),
        ("COMMIT", Kind::Commit),
        ("ROLLBACK TO SAVEPOINT a", Kind::Rollback),
        ("WITH x AS (SELECT 1) SELECT * FROM x", Kind::Other),
        ("SHOW TABLES", Kind::Other),
        ("/*!40101 SET NAMES utf8 */", Kind::Other),
        ("", Kind::Other),
        ("SELECTED", Kind::Other),
    ];
    for (sql, kind) in cases {
        assert_eq!(Kind::of(sql.as_bytes()), kind, "{sql:?}");
    }
}

fn names(i: usize) -> &'static str {
    ["s0", "s1", "s2"][i]
}

fn sharded(kind: ShardedKind, shards: &[usize], role: RouterRole) -> Plan {
    let targets = shards
        .iter()
        .map(|&shard| ShardTarget {
            shard,
            sql: String::new(),
            tables: Vec::new(),
        })
        .collect();
    Plan::Sharded {
        plan: ShardedPlan {
            targets,
            role,
            kind,
        },
        why: Why::Transaction,
        writes: false,
    }
}

#[test]
fn routes_roles_and_shards_from_the_plan() {
    let single = Plan::Single {
        shard: 1,
        role: RouterRole::Replica,
        why: Why::Transaction,
        writes: false,
    };
    let l = StatementLabels::of(b"select 1", &single, names);
    assert_eq!(
        (l.kind, l.route, l.role, l.shard),
        (Kind::Select, Route::Single, Role::Replica, "s1")
    );
    let use_plan = Plan::Use {
        schema: "shop".into(),
        shard: 0,
    };
    let l = StatementLabels::of(b"USE shop", &use_plan, names);
    assert_eq!(
        (l.route, l.role, l.shard),
        (Route::Single, Role::Primary, "s0")
    );
    let l = StatementLabels::of(
        b"SHOW SHARDGATE POOLS",
        &Plan::Admin(Admin::ShowPools),
        names,
    );
    assert_eq!(
        (l.route, l.role, l.shard),
        (Route::Admin, Role::None, NO_SHARD)
    );
    let cases = [
        (ShardedKind::Single, vec![2], Route::Single, "s2"),
        (
            ShardedKind::Scatter(Default::default()),
            vec![0, 1],
            Route::Scatter,
            SEVERAL_SHARDS,
        ),
        (
            ShardedKind::MultiWrite,
            vec![0, 1],
            Route::MultiWrite,
            SEVERAL_SHARDS,
        ),
        (ShardedKind::MultiWrite, vec![1], Route::MultiWrite, "s1"),
        (
            ShardedKind::BroadcastWrite,
            vec![0, 1, 2],
            Route::Broadcast,
            SEVERAL_SHARDS,
        ),
    ];
    for (kind, shards, route, shard) in cases {
        let plan = sharded(kind, &shards, RouterRole::Primary);
        let l = StatementLabels::of(b"UPDATE t SET a = 1", &plan, names);
        assert_eq!(
            (l.kind, l.route, l.role, l.shard),
            (Kind::Update, route, Role::Primary, shard)
        );
    }
}

#[test]
fn interned_names_are_shared() {
    let a = intern(&String::from("shard-intern-test"));
    let b = intern("shard-intern-test");
    assert_eq!(a, "shard-intern-test");
    assert!(std::ptr::eq(a, b), "one leaked copy per name");
}

#[test]
fn route_indexes_follow_all() {
    for (i, route) in Route::ALL.iter().enumerate() {
        assert_eq!(route.index(), i);
    }
}
