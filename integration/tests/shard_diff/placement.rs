//! After the run: every row the proxy wrote sits where the sharding rules put it (checked
//! directly on the shards' physical tables), and the broadcast table is the same on both shards.

use mysql::prelude::Queryable;

use super::schema::{DB, sub_table};
use crate::harness::rw::server;

/// `SELECT COUNT(*)` of rows matching `bad` in `table` on `addr`; a problem when not zero.
fn none_misplaced(addr: &str, table: &str, bad: &str, problems: &mut Vec<String>) {
    let sql = format!("SELECT COUNT(*) FROM `{DB}`.`{table}` WHERE {bad}");
    match server(addr).query_first::<u64, _>(&sql) {
        Ok(Some(0)) => {}
        Ok(n) => problems.push(format!("{addr}: {} rows misplaced: {sql}", n.unwrap_or(0))),
        Err(e) => problems.push(format!("{addr}: {sql}: {e}")),
    }
}

fn column(addr: &str, sql: &str, problems: &mut Vec<String>) -> Vec<String> {
    server(addr).query::<String, _>(sql).unwrap_or_else(|e| {
        problems.push(format!("{addr}: {sql}: {e}"));
        Vec::new()
    })
}

/// Problems found in the physical layout (empty when everything is in place).
pub fn check(s0: &str, s1: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let shard = |slot: usize, on_s0: usize| if slot < on_s0 { s0 } else { s1 };
    for table in ["orders", "order_items"] {
        for slot in 0..8 {
            let bad = format!("MOD(user_id, 8) <> {slot}");
            none_misplaced(shard(slot, 4), &sub_table(table, slot), &bad, &mut problems);
        }
    }
    for slot in 0..4 {
        let bad = format!("MOD(account_id, 100) DIV 25 <> {slot}");
        none_misplaced(
            shard(slot, 2),
            &sub_table("accounts", slot),
            &bad,
            &mut problems,
        );
    }
    none_misplaced(s0, "events", "id >= 5000", &mut problems);
    none_misplaced(s1, "events", "id < 5000", &mut problems);

    let tags = format!("SELECT LOWER(name) FROM `{DB}`.tags");
    let on_s0 = column(s0, &tags, &mut problems);
    let on_s1 = column(s1, &tags, &mut problems);
    let both: Vec<&String> = on_s0.iter().filter(|t| on_s1.contains(t)).collect();
    if !both.is_empty() {
        problems.push(format!("tags on both shards: {both:?}"));
    }

    let countries = format!("SELECT CONCAT(code, '=', name) FROM `{DB}`.countries ORDER BY code");
    let c0 = column(s0, &countries, &mut problems);
    let c1 = column(s1, &countries, &mut problems);
    if c0 != c1 {
        problems.push(format!(
            "broadcast table countries differs between the shards: s0 {c0:?}, s1 {c1:?}"
        ));
    }
    problems
}
