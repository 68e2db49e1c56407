//! Sharding through the proxy, against the real sandbox: rows land in the sub-table of their
//! key (checked on the backends directly), multi-row inserts split, prepared statements route
//! by parameter, transactions span shards, scatter reads merge, and what cannot be answered
//! correctly is refused with a named MySQL error.

mod counts;
mod hygiene;
mod placement;
mod refusals;
mod scatter;
mod transactions;
mod txn_endings;
mod txn_scripts;

use mysql::Conn;
use mysql::prelude::Queryable;

use crate::harness::{BACKEND_PASS, BACKEND_USER, Proxy, ProxyOpts, opts, sandbox, unique};

const RULES: &str = "
  allow_full_scatter_writes: false
  schemas:
    - name: DBNAME
      default_shard: s0
      broadcast_tables: [countries]
      binding_groups: [[orders, order_items]]
      tables:
        - { name: orders, key: user_id, algorithm: mod, sub_tables: 4, placement: [{ shard: s0, sub_tables: \"0-1\" }, { shard: s1, sub_tables: \"2-3\" }] }
        - { name: order_items, key: user_id, algorithm: mod, sub_tables: 4, placement: [{ shard: s0, sub_tables: \"0-1\" }, { shard: s1, sub_tables: \"2-3\" }] }
        - { name: events, key: id, algorithm: range, shards: [s0, s1], ranges: [{ to: 100, slot: 0 }, { from: 100, slot: 1 }] }
        - { name: labels, key: id, algorithm: mod, shards: [s0, s1] }
";

fn backend(addr: &str) -> Conn {
    Conn::new(opts(addr, BACKEND_USER, BACKEND_PASS, None)).expect("backend connection")
}

/// Fresh physical tables on both shards: orders_000{0,1} and order_items_000{0,1} on s0,
/// _0002/_0003 on s1, events and countries on both.
fn setup() -> (Proxy, Conn, Conn, String) {
    setup_with(ProxyOpts::default())
}

/// `setup` with other proxy options (the sharding rules and users are set here).
fn setup_with(base: ProxyOpts) -> (Proxy, Conn, Conn, String) {
    let sb = sandbox();
    let db = unique("sh");
    let db = db.as_str();
    let mut s0 = backend(&sb.s0_primary);
    let mut s1 = backend(&sb.s1_primary);
    for (conn, slots) in [(&mut s0, [0, 1]), (&mut s1, [2, 3])] {
        conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .expect("drop");
        conn.query_drop(format!("CREATE DATABASE {db}"))
            .expect("create");
        for s in slots {
            conn.query_drop(format!(
                "CREATE TABLE {db}.orders_{s:04} (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, \
                 amount DECIMAL(10,2) NOT NULL, status VARCHAR(16) NOT NULL)"
            ))
            .expect("orders");
            conn.query_drop(format!(
                "CREATE TABLE {db}.order_items_{s:04} (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, \
                 order_id BIGINT NOT NULL, qty INT NOT NULL)"
            ))
            .expect("order_items");
        }
        conn.query_drop(format!(
            "CREATE TABLE {db}.events (id BIGINT PRIMARY KEY, kind VARCHAR(16))"
        ))
        .expect("events");
        conn.query_drop(format!(
            "CREATE TABLE {db}.countries (code CHAR(2) PRIMARY KEY, name VARCHAR(32))"
        ))
        .expect("countries");
        conn.query_drop(format!(
            "CREATE TABLE {db}.labels (id BIGINT PRIMARY KEY, cs VARCHAR(16) COLLATE utf8mb4_bin, \
             ci VARCHAR(16) COLLATE utf8mb4_general_ci) DEFAULT CHARSET utf8mb4"
        ))
        .expect("labels");
    }
    let proxy = Proxy::start(ProxyOpts {
        sharding: Some(RULES.replace("DBNAME", db)),
        rw_users: true,
        ..base
    });
    (proxy, s0, s1, db.to_string())
}

fn app(proxy: &Proxy, db: &str) -> Conn {
    proxy
        .conn_as("app", "app-pw", Some(db))
        .expect("proxy connection")
}

fn ids(conn: &mut Conn, sql: &str) -> Vec<i64> {
    conn.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}
