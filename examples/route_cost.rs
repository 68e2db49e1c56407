//! Measures the router's cost for a sharded point select (not a test).
use shardgate::config::{Algorithm, KeyType, ShardedSchema, Slot, TableRule};
use shardgate::router::Role;
use shardgate::router::shard::analyze::analyze;
use shardgate::router::shard::analyze::constraint::Params;
use shardgate::router::shard::route::plan;
use std::time::Instant;

fn main() {
    let schema = ShardedSchema {
        name: "sb".into(),
        default_shard: 0,
        tables: vec![TableRule {
            name: "sbtest1".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
            algorithm: Algorithm::Mod,
            slots: vec![
                Slot {
                    shard: 0,
                    physical: "sbtest1".into(),
                },
                Slot {
                    shard: 1,
                    physical: "sbtest1".into(),
                },
            ],
            binding_group: None,
        }],
        broadcast: vec![],
    };
    let sql = "SELECT c FROM sbtest1 WHERE id=5012";
    let n = 100_000;
    let t = Instant::now();
    for _ in 0..n {
        let _ = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::MySqlDialect {}, sql);
    }
    println!(
        "parse only: {:.2} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        let shape = analyze(sql, &schema).expect("shape");
        let _ = plan(&shape, &schema, 2, false, &Params::default(), Role::Replica);
    }
    println!(
        "analyze + plan: {:.2} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
