//! Every validation error of the `sharding:` section, each at the offending value.

use super::{ORDERS, assert_at, with_sharding, with_tables};
use crate::config::parse;

#[test]
fn names_and_shards() {
    let yaml = with_sharding("  schemas:\n    - name: shop\n    - name: shop\n");
    assert_at(
        &yaml,
        "shop\n",
        &["schemas[1].name", "duplicate schema name \"shop\""],
    );
    let yaml = with_sharding("  schemas:\n    - name: \"\"\n");
    assert_at(&yaml, "\"\"", &["schemas[0].name", "must not be empty"]);
    let yaml = with_sharding("  schemas:\n    - { name: shop, default_shard: s9 }\n");
    assert_at(
        &yaml,
        "s9",
        &["schemas[0].default_shard", "\"s9\" is not a defined shard"],
    );
    let yaml = with_sharding(
        "  schemas:\n    - name: shop\n      broadcast_tables: [orders]\n      tables:\n",
    ) + ORDERS;
    assert_at(
        &yaml,
        "orders]",
        &["broadcast_tables[0]", "duplicate table name \"orders\""],
    );
    let yaml = with_tables("        - { name: t, key: \"\", algorithm: mod, shards: [s0] }\n");
    assert_at(&yaml, "\"\"", &["tables[0].key", "must not be empty"]);
    let yaml = with_tables("        - { name: t, key: k, algorithm: mod, shards: [s0, s9] }\n");
    assert_at(
        &yaml,
        "s9",
        &[
            "tables[0].shards[1]",
            "\"s9\" is not a defined shard",
            "s0, s1",
        ],
    );
    let yaml = with_tables("        - { name: t, key: k, algorithm: mod, shards: [s0, s0] }\n");
    assert_at(&yaml, "s0] }", &["shards[1]", "listed twice"]);
    let yaml = with_tables("        - { name: t, key: k, algorithm: mod, shards: [] }\n");
    assert_at(&yaml, "[] }", &["tables[0].shards", "at least one shard"]);
    let yaml = with_tables("        - { name: t, key: k, algorithm: mod }\n");
    assert_at(&yaml, "t, key", &["tables[0]", "needs either `shards"]);
    let yaml = with_sharding("  schemas:\n    - { name: shop, colour: red }\n");
    assert_at(&yaml, "colour", &["unknown key `colour`"]);
}

#[test]
fn duplicate_table_is_located() {
    let yaml = with_tables(&format!("{ORDERS}{ORDERS}"));
    assert_at(
        &yaml,
        "orders, key",
        &["tables[1].name", "duplicate table name \"orders\""],
    );
}

#[test]
fn sub_table_placement() {
    let table = |extra: &str| {
        with_tables(&format!(
            "        - name: t\n          key: k\n          algorithm: mod\n{extra}"
        ))
    };
    let place = |a: &str, b: &str| {
        table(&format!(
            "          sub_tables: 4\n          placement:\n            - {{ shard: s0, sub_tables: \"{a}\" }}\n            - {{ shard: s1, sub_tables: \"{b}\" }}\n"
        ))
    };
    assert_at(
        &place("0-2", "2-3"),
        "\"2-3\"",
        &[
            "placement[1].sub_tables",
            "sub-table 2 is already placed by placement[0]",
        ],
    );
    assert_at(
        &place("0-1", "3"),
        "- { shard: s0",
        &["placement", "sub-tables 2 are not placed"],
    );
    assert_at(
        &place("0-1", "2-4"),
        "\"2-4\"",
        &["sub-table 4 does not exist", "0-3"],
    );
    assert_at(
        &place("0-1", "x"),
        "\"x\"",
        &["not a list of sub-table indexes"],
    );
    assert_at(&place("0-1", "3-2"), "\"3-2\"", &["backwards"]);
    let yaml =
        table("          sub_tables: 4\n          placement: [{ shard: s7, sub_tables: 0-3 }]\n");
    assert_at(
        &yaml,
        "s7",
        &["placement[0].shard", "\"s7\" is not a defined shard"],
    );
    let yaml = table("          sub_tables: 0\n          placement: []\n");
    assert_at(
        &yaml,
        "0\n",
        &["tables[0].sub_tables", "between 1 and 10000, got 0"],
    );
    let yaml = table("          sub_tables: 10001\n          placement: []\n");
    assert_at(&yaml, "10001", &["between 1 and 10000"]);
    let yaml = table("          sub_tables: 2\n");
    assert_at(&yaml, "2\n", &["sub_tables", "needs `placement`"]);
    let yaml = table("          placement: [{ shard: s0, sub_tables: 0 }]\n");
    assert_at(
        &yaml,
        "[{",
        &["placement", "only allowed with `sub_tables`"],
    );
    let yaml = table(
        "          sub_tables: 1\n          placement: [{ shard: s0, sub_tables: 0 }]\n          shards: [s0]\n",
    );
    assert_at(&yaml, "[s0]", &["shards", "not both"]);
}

#[test]
fn algorithm_options() {
    let t = |fields: &str| with_tables(&format!("        - {{ name: t, key: k, {fields} }}\n"));
    let yaml = t("key_type: string, algorithm: mod, shards: [s0]");
    assert_at(
        &yaml,
        "string",
        &["tables[0].key_type", "only with algorithm hash"],
    );
    let yaml = t("key_type: string, algorithm: range, shards: [s0], ranges: [{ slot: 0 }]");
    assert_at(&yaml, "string", &["key_type string"]);
    let yaml = t("algorithm: mod, key_case: sensitive, shards: [s0]");
    assert_at(
        &yaml,
        "sensitive",
        &["tables[0].key_case", "only allowed with algorithm hash"],
    );
    let yaml = t("algorithm: hash, key_case: sensitive, shards: [s0]");
    assert_at(
        &yaml,
        "sensitive",
        &["key_case", "only allowed with key_type string"],
    );
    let yaml = t("algorithm: mod, digits: 2, shards: [s0]");
    assert_at(
        &yaml,
        "2,",
        &["tables[0].digits", "only allowed with algorithm suffix"],
    );
    let yaml = t("algorithm: hash, ranges: [{ slot: 0 }], shards: [s0]");
    assert_at(
        &yaml,
        "[{ slot",
        &[
            "tables[0].ranges",
            "only allowed with algorithms range and suffix",
        ],
    );
    let yaml = t("algorithm: suffix, shards: [s0], ranges: [{ from: 0, to: 10, slot: 0 }]");
    assert_at(
        &yaml,
        "suffix",
        &["tables[0].algorithm", "algorithm suffix needs `digits`"],
    );
    let yaml = t("algorithm: suffix, digits: 1, shards: [s0]");
    assert_at(&yaml, "suffix", &["algorithm suffix needs `ranges`"]);
    let yaml = t("algorithm: range, shards: [s0]");
    assert_at(&yaml, "range", &["algorithm range needs `ranges`"]);
    let yaml = t("algorithm: suffix, digits: 10, shards: [s0], ranges: [{ slot: 0 }]");
    assert_at(
        &yaml,
        "10,",
        &["tables[0].digits", "between 1 and 9, got 10"],
    );
    let yaml = t("algorithm: modulo, shards: [s0]");
    assert_at(
        &yaml,
        "modulo",
        &["unknown value `modulo`", "mod, hash, range, suffix"],
    );
}

#[test]
fn ranges_must_be_contiguous() {
    let t = |algorithm: &str, ranges: &str| {
        with_tables(&format!(
            "        - name: t\n          key: k\n          algorithm: {algorithm}\n          \
             shards: [s0, s1]\n          ranges:\n{ranges}"
        ))
    };
    let range = |ranges: &str| t("range", ranges);
    let yaml = range("            - { to: 10, slot: 0 }\n            - { from: 20, slot: 1 }\n");
    assert_at(
        &yaml,
        "{ from: 20",
        &["ranges[1]", "gap before this range: keys 10 to 19"],
    );
    let yaml = range("            - { from: 5, slot: 1 }\n            - { to: 10, slot: 0 }\n");
    assert_at(&yaml, "{ from: 5", &["ranges[0]", "overlaps ranges[1]"]);
    let yaml = range("            - { to: 10, slot: 0 }\n            - { to: 20, slot: 1 }\n");
    assert_at(
        &yaml,
        "{ to: 20",
        &["ranges[1]", "only the first range", "omit `from`"],
    );
    let yaml = range("            - { from: 0, slot: 0 }\n            - { from: 10, slot: 1 }\n");
    assert_at(
        &yaml,
        "{ from: 0",
        &["ranges[0]", "only the last range", "omit `to`"],
    );
    let yaml = range("            - { from: 10, to: 10, slot: 0 }\n");
    assert_at(&yaml, "10, slot", &["ranges[0].to", "greater than `from`"]);
    let yaml = range("            - { to: 10, slot: 2 }\n");
    assert_at(
        &yaml,
        "2 }",
        &["ranges[0].slot", "slot 2 does not exist", "2 slots"],
    );
    let yaml = t("range", "            []\n");
    assert_at(&yaml, "[]", &["tables[0].ranges", "at least one range"]);
    let suffix = |ranges: &str| t("suffix\n          digits: 1", ranges);
    let yaml = suffix(
        "            - { from: 1, to: 5, slot: 0 }\n            - { from: 5, to: 10, slot: 1 }\n",
    );
    assert_at(
        &yaml,
        "{ from: 1,",
        &["ranges[0]", "must start at `from: 0`"],
    );
    let yaml = suffix(
        "            - { from: 0, to: 5, slot: 0 }\n            - { from: 5, to: 11, slot: 1 }\n",
    );
    assert_at(&yaml, "{ from: 5,", &["ranges[1]", "must end at `to: 10`"]);
    let yaml =
        suffix("            - { from: 0, to: 5, slot: 0 }\n            - { from: 5, slot: 1 }\n");
    assert_at(&yaml, "{ from: 5,", &["must end at `to: 10`"]);
    assert!(
        parse(
            &suffix("            - { from: 0, to: 10, slot: 1 }\n"),
            "t.yaml"
        )
        .is_ok()
    );
}

#[test]
fn binding_groups() {
    let groups = |groups: &str, items: &str| {
        with_sharding(&format!(
            "  schemas:\n    - name: shop\n      broadcast_tables: [countries]\n      \
             binding_groups: {groups}\n      tables:\n{ORDERS}        - {{ name: items, {items} }}\n"
        ))
    };
    let same = "key: user_id, algorithm: mod, shards: [s0, s1]";
    assert!(parse(&groups("[[orders, items]]", same), "t.yaml").is_ok());
    let yaml = groups("[[orders, items, nope]]", same);
    assert_at(
        &yaml,
        "nope",
        &["binding_groups[0][2]", "\"nope\" is not a sharded table"],
    );
    let yaml = groups("[[orders, countries]]", same);
    assert_at(
        &yaml,
        "countries]]",
        &["binding_groups[0][1]", "not a sharded table"],
    );
    let yaml = groups("[[orders, items], [items, orders]]", same);
    assert_at(
        &yaml,
        "items, orders",
        &["binding_groups[1][0]", "already in binding_groups[0]"],
    );
    let yaml = groups("[[orders, orders]]", same);
    assert_at(
        &yaml,
        "orders]]",
        &["binding_groups[0][1]", "already in binding_groups[0]"],
    );
    let yaml = groups("[[orders]]", same);
    assert_at(
        &yaml,
        "[orders]]",
        &["binding_groups[0]", "at least two tables"],
    );
    let yaml = groups(
        "[[orders, items]]",
        "key: k, algorithm: mod, shards: [s1, s0]",
    );
    assert_at(
        &yaml,
        "items]]",
        &["binding_groups[0][1]", "other shards than \"orders\""],
    );
    let yaml = groups("[[orders, items]]", "key: k, algorithm: mod, shards: [s0]");
    assert_at(&yaml, "items]]", &["has 1 slots but \"orders\" has 2"]);
    let yaml = groups(
        "[[orders, items]]",
        "key: k, algorithm: hash, shards: [s0, s1]",
    );
    assert_at(&yaml, "items]]", &["algorithm settings", "differ"]);
    let yaml = groups(
        "[[orders, items]]",
        "key: k, key_type: string, algorithm: hash, shards: [s0, s1]",
    );
    assert_at(
        &yaml,
        "items]]",
        &["key_type string differs from \"orders\"'s integer"],
    );
    // Sub-tables on the same shards as a shard list: the same layout.
    let sub = "key: k, algorithm: mod, sub_tables: 2, placement: [{ shard: s0, sub_tables: 0 }, \
               { shard: s1, sub_tables: 1 }]";
    assert!(parse(&groups("[[orders, items]]", sub), "t.yaml").is_ok());
}
