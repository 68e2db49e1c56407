//! Tests of the `sharding:` section: parsing into runtime types and every validation error,
//! each at the position of the offending value.

use crate::config::testutil::{MINIMAL, assert_invalid};
use crate::config::{Algorithm, Config, KeyRange, KeyType, TableKind, parse};

mod errors;

/// MINIMAL plus a second shard `s1`, then `sharding:` with `body` (lines indented by 2).
fn with_sharding(body: &str) -> String {
    format!(
        "{MINIMAL}  - name: s1\n    primary: {{ address: \"127.0.0.1:3307\" }}\n\
         default_shard: s1\nsharding:\n{body}"
    )
}

/// One schema `shop` holding `tables` (each line indented for the list under `tables:`).
fn with_tables(tables: &str) -> String {
    with_sharding(&format!(
        "  schemas:\n    - name: shop\n      tables:\n{tables}"
    ))
}

const ORDERS: &str = "        - { name: orders, key: User_ID, algorithm: mod, shards: [s0, s1] }\n";

fn parsed(yaml: &str) -> Config {
    parse(yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// Asserts `yaml` fails at the last occurrence of `marker` with every needle in the message.
fn assert_at(yaml: &str, marker: &str, needles: &[&str]) {
    let Some(offset) = yaml.rfind(marker) else {
        panic!("marker {marker:?} not in {yaml}");
    };
    let before = &yaml[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count() as u64
        + 1;
    assert_invalid(yaml, line, column, needles);
}

#[test]
fn absent_section_means_no_sharding() {
    let c = parsed(MINIMAL);
    assert!(c.sharding.is_empty());
    assert!(!c.sharding.allow_full_scatter_writes);
    assert!(parsed(&format!("{MINIMAL}sharding:\n")).sharding.is_empty());
}

#[test]
fn full_section_parses() {
    let yaml = with_sharding(
        "  allow_full_scatter_writes: true
  schemas:
    - name: shop
      default_shard: s0
      broadcast_tables: [countries]
      binding_groups:
        - [orders, order_items]
      tables:
        - name: orders
          key: User_ID
          sub_tables: 4
          algorithm: mod
          placement: [{ shard: s0, sub_tables: \"0-1\" }, { shard: s1, sub_tables: \"2,3\" }]
        - name: order_items
          key: user_id
          algorithm: mod
          sub_tables: 4
          placement: [{ shard: s1, sub_tables: 2-3 }, { shard: s0, sub_tables: 0-1 }]
        - { name: tags, key: name, key_type: string, algorithm: hash, shards: [s1, s0] }
        - name: events
          key: id
          algorithm: range
          shards: [s0, s1]
          ranges: [{ from: 1000, slot: 1 }, { to: 1000, slot: 0 }]
    - name: logs
",
    );
    let c = parsed(&yaml);
    let s = &c.sharding;
    assert!(s.allow_full_scatter_writes);
    let shop = s.schema("shop").expect("shop");
    assert!(s.schema("Shop").is_none());
    assert_eq!(shop.default_shard, 0);
    assert_eq!(s.schema("logs").expect("logs").default_shard, 1);
    let TableKind::Sharded(orders) = shop.table("orders") else {
        panic!("orders is sharded");
    };
    assert_eq!(orders.key, "user_id");
    assert_eq!(orders.key_type, KeyType::Integer);
    assert_eq!(orders.binding_group, Some(0));
    let layout: Vec<(usize, &str)> = orders
        .slots
        .iter()
        .map(|s| (s.shard, s.physical.as_str()))
        .collect();
    let expected = [
        (0, "orders_0000"),
        (0, "orders_0001"),
        (1, "orders_0002"),
        (1, "orders_0003"),
    ];
    assert_eq!(layout, expected);
    let TableKind::Sharded(tags) = shop.table("tags") else {
        panic!("tags is sharded");
    };
    let algorithm = Algorithm::Hash {
        case_insensitive: true,
    };
    assert_eq!(tags.algorithm, algorithm);
    assert_eq!(
        (tags.slots[0].shard, tags.slots[0].physical.as_str()),
        (1, "tags")
    );
    assert_eq!(tags.binding_group, None);
    let TableKind::Sharded(events) = shop.table("events") else {
        panic!("events is sharded");
    };
    let ranges = vec![
        KeyRange {
            from: None,
            to: Some(1000),
            slot: 0,
        },
        KeyRange {
            from: Some(1000),
            to: None,
            slot: 1,
        },
    ];
    assert_eq!(events.algorithm, Algorithm::Range(ranges));
    assert_eq!(shop.table("countries"), TableKind::Broadcast);
    assert_eq!(shop.table("Orders"), TableKind::Unsharded);
    assert_eq!(shop.table("users"), TableKind::Unsharded);
}

#[test]
fn suffix_and_key_case() {
    let yaml = with_tables(
        "        - name: accounts
          key: account_id
          algorithm: suffix
          digits: 1
          shards: [s0, s1]
          ranges: [{ from: 5, to: 10, slot: 1 }, { from: 0, to: 5, slot: 0 }]
        - { name: t, key: k, key_type: string, algorithm: hash, key_case: sensitive, shards: [s0] }
",
    );
    let c = parsed(&yaml);
    let shop = c.sharding.schema("shop").expect("shop");
    let TableKind::Sharded(accounts) = shop.table("accounts") else {
        panic!("sharded");
    };
    let Algorithm::Suffix { digits, ranges } = &accounts.algorithm else {
        panic!("suffix");
    };
    assert_eq!((*digits, ranges[0].from, ranges[1].slot), (1, Some(0), 1));
    let TableKind::Sharded(t) = shop.table("t") else {
        panic!("sharded");
    };
    let algorithm = Algorithm::Hash {
        case_insensitive: false,
    };
    assert_eq!(t.algorithm, algorithm);
}

#[test]
fn example_file_sharding_section() {
    let c = parsed(include_str!("../../../conf/example.yaml"));
    let shop = c.sharding.schema("shop").expect("shop is sharded");
    assert_eq!(shop.tables.len(), 5);
    let TableKind::Sharded(orders) = shop.table("orders") else {
        panic!("orders is sharded");
    };
    assert_eq!(orders.slots.len(), 8);
    assert_eq!(orders.slots[7].physical, "orders_0007");
    assert_eq!(orders.slots[7].shard, 1);
    assert_eq!(orders.binding_group, Some(0));
    assert_eq!(shop.table("countries"), TableKind::Broadcast);
}
