//! The test schema: logical tables (reference), physical tables on the shards, the proxy's
//! `sharding:` section, and the base data set.

use mysql::prelude::Queryable;

use super::model::{self, BASE_COUNTRIES, Model};
use super::stmt::{Kind, Stmt};
use crate::harness::rw::server;

/// Logical sharded schema (through the proxy), and the reference schema on s0's primary.
pub const DB: &str = "sdiff";
pub const REF_DB: &str = "sdiff_ref";

/// Where a table's rows live on the shards.
pub enum Layout {
    /// Physical `<name>_0000`.. sub-tables; the first `on_s0` on s0, the rest on s1.
    SubTables { count: usize, on_s0: usize },
    /// A table of the logical name on both shards (range/hash rule, or broadcast).
    BothShards,
    /// Only on the default shard s0.
    S0Only,
}

pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static str,
    /// Primary-key column (the full-content comparison orders by it).
    pub pk: &'static str,
    pub layout: Layout,
}

pub const TABLES: [TableDef; 7] = [
    TableDef {
        name: "orders",
        columns: "id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount DECIMAL(10,2) NOT NULL, \
                  status VARCHAR(16) NOT NULL, note VARCHAR(32) NULL, created DATE NOT NULL",
        pk: "id",
        layout: Layout::SubTables { count: 8, on_s0: 4 },
    },
    TableDef {
        name: "order_items",
        columns: "id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, order_id BIGINT NOT NULL, \
                  sku VARCHAR(16) NOT NULL, qty INT NOT NULL, price DECIMAL(10,2) NOT NULL",
        pk: "id",
        layout: Layout::SubTables { count: 8, on_s0: 4 },
    },
    TableDef {
        name: "accounts",
        columns: "account_id BIGINT PRIMARY KEY, owner VARCHAR(32) NOT NULL, \
                  balance DECIMAL(12,2) NOT NULL",
        pk: "account_id",
        layout: Layout::SubTables { count: 4, on_s0: 2 },
    },
    TableDef {
        name: "events",
        columns: "id BIGINT PRIMARY KEY, kind VARCHAR(16) NOT NULL, score INT NULL",
        pk: "id",
        layout: Layout::BothShards,
    },
    TableDef {
        name: "tags",
        columns: "name VARCHAR(32) PRIMARY KEY, uses INT NOT NULL",
        pk: "name",
        layout: Layout::BothShards,
    },
    TableDef {
        name: "countries",
        columns: "code CHAR(2) PRIMARY KEY, name VARCHAR(32) NOT NULL",
        pk: "code",
        layout: Layout::BothShards,
    },
    TableDef {
        name: "notes",
        columns: "id BIGINT PRIMARY KEY, body VARCHAR(64) NOT NULL",
        pk: "id",
        layout: Layout::S0Only,
    },
];

/// The physical name of sub-table `i` of `table`.
pub fn sub_table(table: &str, i: usize) -> String {
    format!("{table}_{i:04}")
}

/// The proxy's `sharding:` section.
pub const SHARDING_YAML: &str = r#"
  allow_full_scatter_writes: true
  schemas:
    - name: sdiff
      default_shard: s0
      broadcast_tables: [countries]
      binding_groups: [[orders, order_items]]
      tables:
        - { name: orders, key: user_id, algorithm: mod, sub_tables: 8, placement: [{ shard: s0, sub_tables: "0-3" }, { shard: s1, sub_tables: "4-7" }] }
        - { name: order_items, key: user_id, algorithm: mod, sub_tables: 8, placement: [{ shard: s0, sub_tables: "0-3" }, { shard: s1, sub_tables: "4-7" }] }
        - { name: accounts, key: account_id, algorithm: suffix, digits: 2, sub_tables: 4, placement: [{ shard: s0, sub_tables: "0-1" }, { shard: s1, sub_tables: "2-3" }], ranges: [{ from: 0, to: 25, slot: 0 }, { from: 25, to: 50, slot: 1 }, { from: 50, to: 75, slot: 2 }, { from: 75, to: 100, slot: 3 }] }
        - { name: events, key: id, algorithm: range, shards: [s0, s1], ranges: [{ to: 5000, slot: 0 }, { from: 5000, slot: 1 }] }
        - { name: tags, key: name, key_type: string, algorithm: hash, key_case: insensitive, shards: [s0, s1] }
"#;

fn recreate_db(addr: &str, db: &str) -> mysql::Conn {
    let mut c = server(addr);
    // Prepared XA transactions of an earlier run (they survive disconnects) hold locks that
    // would block DROP DATABASE.
    let xas: Vec<mysql::Row> = c.query("XA RECOVER").unwrap_or_default();
    for row in xas {
        let data: String = row.get(3).unwrap_or_default();
        if data.starts_with(&format!("{db}-")) {
            let _ = c.query_drop(format!("XA ROLLBACK '{data}'"));
        }
    }
    for sql in [
        format!("DROP DATABASE IF EXISTS `{db}`"),
        format!("CREATE DATABASE `{db}`"),
        format!("USE `{db}`"),
    ] {
        c.query_drop(&sql)
            .unwrap_or_else(|e| panic!("{addr}: {sql}: {e}"));
    }
    c
}

fn create(c: &mut mysql::Conn, addr: &str, name: &str, columns: &str) {
    let sql = format!("CREATE TABLE `{name}` ({columns}) ENGINE=InnoDB");
    c.query_drop(&sql)
        .unwrap_or_else(|e| panic!("{addr}: {sql}: {e}"));
}

/// Drops and recreates `db` on `addr` with the logical (unsharded) tables.
pub fn create_logical(addr: &str, db: &str) {
    let mut c = recreate_db(addr, db);
    for t in &TABLES {
        create(&mut c, addr, t.name, t.columns);
    }
}

/// Drops and recreates `sdiff` on both primaries with the physical tables each one owns.
pub fn create_physical(s0: &str, s1: &str) {
    for (shard, addr) in [(0, s0), (1, s1)] {
        let mut c = recreate_db(addr, DB);
        for t in &TABLES {
            match t.layout {
                Layout::SubTables { count, on_s0 } => {
                    let mine = if shard == 0 { 0..on_s0 } else { on_s0..count };
                    for i in mine {
                        create(&mut c, addr, &sub_table(t.name, i), t.columns);
                    }
                }
                Layout::BothShards => create(&mut c, addr, t.name, t.columns),
                Layout::S0Only if shard == 0 => create(&mut c, addr, t.name, t.columns),
                Layout::S0Only => {}
            }
        }
    }
}

/// Multi-row INSERTs (25 rows each) of the base data set.
pub fn base_data(m: &mut Model) -> Vec<Stmt> {
    let mut out = Vec::new();
    let mut batch = |cols: &str, rows: Vec<String>| {
        for chunk in rows.chunks(25) {
            let sql = format!("INSERT INTO {cols} VALUES {}", chunk.join(", "));
            out.push(Stmt::write(Kind::Base, sql));
        }
    };
    let rows = (0..300)
        .map(|_| {
            let (id, user) = m.new_order(None);
            m.order_row(id, user)
        })
        .collect();
    batch(model::ORDER_COLS, rows);
    let rows = (0..500)
        .map(|_| {
            let item = m.new_item();
            m.item_row(item)
        })
        .collect();
    batch(model::ITEM_COLS, rows);
    let rows = (0..200)
        .map(|_| {
            let id = m.new_account();
            m.account_row(id)
        })
        .collect();
    batch(model::ACCOUNT_COLS, rows);
    let rows = (0..300)
        .map(|_| {
            let id = m.new_event();
            m.event_row(id)
        })
        .collect();
    batch(model::EVENT_COLS, rows);
    let rows = (0..200)
        .map(|_| {
            let name = m.new_tag();
            m.tag_row(&name)
        })
        .collect();
    batch(model::TAG_COLS, rows);
    let rows = BASE_COUNTRIES
        .iter()
        .map(|(code, name)| format!("('{code}', '{name}')"))
        .collect();
    batch(model::COUNTRY_COLS, rows);
    let rows = (0..100)
        .map(|_| {
            let id = m.new_note();
            m.note_row(id)
        })
        .collect();
    batch(model::NOTE_COLS, rows);
    out
}
