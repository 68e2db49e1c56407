//! Checks at transaction boundaries: every table's committed contents, read through each
//! side's second connection (on the proxy: a primary-only user) and, for the sharded side,
//! straight from the shard primaries' physical tables, against the reference; and no
//! transaction with writes, no prepared XA transaction, left on a server. After a contents
//! mismatch (reported first) the side under test is rewritten from the reference through its
//! second connection (`SHARD_DIFF_REPAIR`), so that later findings stand on their own.

use mysql::Conn;
use mysql::prelude::Queryable;

use super::compare::{Outcome, Row, execute, same};
use super::report::Stats;
use super::run::{Side, Step};
use super::schema::{Layout, TABLES, TableDef, sub_table};
use super::stmt::{Kind, Stmt};

/// `SELECT *` of a table, ordered by its primary key.
fn select_all(t: &TableDef) -> String {
    format!("SELECT * FROM {} ORDER BY {}", t.name, t.pk)
}

fn checker(side: &mut Side) -> &mut Conn {
    match side.checker {
        Some(ref mut c) => c,
        None => &mut side.conn,
    }
}

/// Rows of `sql` on `conn` (the error as an outcome).
fn rows(conn: &mut Conn, sql: &str) -> Outcome {
    execute(conn, sql, None, false)
}

/// The table's rows on the shards' physical tables: one outcome to compare with the
/// reference (the broadcast table: one per shard).
fn physical(side: &mut Side, t: &TableDef) -> Vec<(String, Outcome)> {
    let db = side.db.clone();
    let mut parts: Vec<(usize, String)> = Vec::new();
    match t.layout {
        Layout::SubTables { count, on_s0 } => {
            for i in 0..count {
                parts.push((usize::from(i >= on_s0), sub_table(t.name, i)));
            }
        }
        Layout::BothShards if t.name == "countries" => {
            let mut out = Vec::new();
            for shard in 0..2 {
                let sql = format!("SELECT * FROM `{db}`.`{}`", t.name);
                let got = rows(&mut side.servers[shard].1, &sql);
                out.push((format!("{} on s{shard}", t.name), got));
            }
            return out;
        }
        Layout::BothShards => parts = vec![(0, t.name.to_string()), (1, t.name.to_string())],
        Layout::S0Only => parts.push((0, t.name.to_string())),
    }
    let (mut columns, mut all): (Vec<String>, Vec<Row>) = (Vec::new(), Vec::new());
    for (shard, table) in parts {
        match rows(&mut side.servers[shard].1, &format!("SELECT * FROM `{db}`.`{table}`")) {
            Outcome::Rows { columns: c, rows } => {
                columns = c;
                all.extend(rows);
            }
            other => return vec![(format!("{table} on s{shard}"), other)],
        }
    }
    let label = format!("{} (all physical tables)", t.name);
    vec![(label, Outcome::Rows { columns, rows: all })]
}

/// Transactions with row changes on the sides' servers in the sides' schemas, and prepared
/// XA transactions with the sides' xids: (server, description).
pub fn open_writers(test: &mut Side, reference: &mut Side) -> Vec<(String, String)> {
    let dbs = [test.db.clone(), reference.db.clone()];
    let sql = format!(
        "SELECT CONCAT('connection ', p.id, ' in ', p.db, ': ', t.trx_state, ', ', \
         t.trx_rows_modified, ' rows modified, last statement: ', IFNULL(p.info, '-')) \
         FROM information_schema.innodb_trx t JOIN information_schema.processlist p \
         ON t.trx_mysql_thread_id = p.id WHERE p.db IN ('{}', '{}') AND t.trx_rows_modified > 0",
        dbs[0], dbs[1]
    );
    let mut out = Vec::new();
    for side in [test, reference] {
        for (addr, conn) in side.servers.iter_mut() {
            if out.iter().any(|(a, _): &(String, String)| a == addr) {
                continue;
            }
            let found: Vec<String> = conn.query(&sql).unwrap_or_default();
            let xas: Vec<mysql::Row> = conn.query("XA RECOVER").unwrap_or_default();
            for row in xas {
                let data: String = row.get(3).unwrap_or_default();
                if dbs.iter().any(|d| data.starts_with(&format!("{d}-"))) {
                    out.push((addr.clone(), format!("prepared XA transaction '{data}'")));
                }
            }
            out.extend(found.into_iter().map(|f| (addr.clone(), f)));
        }
    }
    out
}

/// SQL literal of a cell.
fn lit(v: &Option<String>) -> String {
    match v {
        None => "NULL".to_string(),
        Some(s) if s.parse::<i64>().is_ok() => s.clone(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
    }
}

/// Rewrites table `t` on the side under test to the reference's rows (through its second
/// connection); Err says what failed.
fn repair(side: &mut Side, t: &TableDef, got: &Outcome, want: &Outcome) -> Result<(), String> {
    let (Outcome::Rows { rows: have, .. }, Outcome::Rows { columns, rows: need }) = (got, want)
    else {
        return Err(format!("{}: cannot repair from an error", t.name));
    };
    let pk = columns.iter().position(|c| c == t.pk).ok_or("no pk column")?;
    let user = columns.iter().position(|c| c == "user_id");
    let mut sqls = Vec::new();
    for row in have.iter().filter(|r| !need.iter().any(|n| n[pk] == r[pk])) {
        let mut w = format!("{} = {}", t.pk, lit(&row[pk]));
        if let Some(u) = user {
            w.push_str(&format!(" AND user_id = {}", lit(&row[u])));
        }
        sqls.push(format!("DELETE FROM {} WHERE {w}", t.name));
    }
    for row in need.iter().filter(|r| !have.contains(r)) {
        let vals: Vec<String> = row.iter().map(lit).collect();
        sqls.push(format!(
            "REPLACE INTO {} ({}) VALUES ({})",
            t.name,
            columns.join(", "),
            vals.join(", ")
        ));
    }
    let conn = checker(side);
    for sql in sqls {
        conn.query_drop(&sql).map_err(|e| format!("{sql}: {e}"))?;
    }
    Ok(())
}

/// The check statement `stmt` (number `index`): contents, physical contents, leftovers.
pub fn check(index: usize, stmt: &Stmt, test: &mut Side, reference: &mut Side, s: &mut Stats) -> Step {
    compare(index, stmt, test, reference, s, true)
}

/// Contents (and with `leftovers`, transactions left open) of every table on both sides.
pub fn compare(
    index: usize,
    stmt: &Stmt,
    test: &mut Side,
    reference: &mut Side,
    stats: &mut Stats,
    leftovers: bool,
) -> Step {
    let span = format!("{} [statements #{}..#{index}]", stmt.sql, stats.last_check);
    stats.last_check = index + 1;
    stats.ran(Kind::CheckContents);
    let mut repaired = false;
    for t in &TABLES {
        let sql = select_all(t);
        let got = rows(checker(test), &sql);
        let want = rows(checker(reference), &sql);
        let shown = Stmt::ordered(Kind::CheckContents, format!("{sql} {span}"));
        if test.physical {
            for (label, got) in physical(test, t) {
                let key = format!("{label}: {}", got.brief());
                if !same(&got, &want, false) && stats.physical_seen.insert(key) {
                    let shown = Stmt::read(Kind::CheckPhysical, format!("{label} {span}"));
                    stats.mismatch(index, &shown, &got, &want);
                }
            }
        }
        if !same(&got, &want, true) {
            stats.mismatch(index, &shown, &got, &want);
            if test.repair {
                let result = repair(test, t, &got, &want);
                repaired = true;
                if let Err(e) = result {
                    stats.other.push(format!("#{index}: repair of {} failed: {e}", t.name));
                    test.repair = false;
                }
            }
        }
    }
    if test.physical {
        stats.ran(Kind::CheckPhysical);
    }
    if repaired && let Some(wait) = &test.after_repair {
        wait();
    }
    if leftovers {
        stats.ran(Kind::CheckLeftover);
        let found = open_writers(test, reference);
        if !found.is_empty() {
            let rows: Vec<Row> = found
                .iter()
                .map(|(a, d)| vec![Some(a.clone()), Some(d.clone())])
                .collect();
            let columns = vec!["server".to_string(), "left open".to_string()];
            let got = Outcome::Rows { columns: columns.clone(), rows };
            let want = Outcome::Rows { columns, rows: Vec::new() };
            let shown = Stmt::read(Kind::CheckLeftover, format!("-- leftovers {span}"));
            stats.mismatch(index, &shown, &got, &want);
            rollback_prepared(test, &found);
        }
    }
    Step::Continue
}

/// Rolls back (directly on the server) the prepared XA transactions found, so that their
/// locks do not stall the rest of the run.
fn rollback_prepared(side: &mut Side, found: &[(String, String)]) {
    for (addr, what) in found {
        let Some(data) = what.strip_prefix("prepared XA transaction ") else {
            continue;
        };
        if let Some((_, conn)) = side.servers.iter_mut().find(|(a, _)| a == addr) {
            let _ = conn.query_drop(format!("XA ROLLBACK {data}"));
        }
    }
}
