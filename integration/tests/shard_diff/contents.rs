//! Checks at transaction boundaries: every table's committed contents, read through each
//! side's second connection (on the proxy: a primary-only user) and, for the sharded side,
//! straight from the shard primaries' physical tables, against the reference; and no
//! transaction with writes, no prepared XA transaction, left on a server. After a contents
//! mismatch (reported first) the side under test is rewritten from the reference through its
//! second connection (`SHARD_DIFF_REPAIR`), so that later findings stand on their own.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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
        match rows(
            &mut side.servers[shard].1,
            &format!("SELECT * FROM `{db}`.`{table}`"),
        ) {
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

/// A transaction left on a server: (server, description, the connection id when it is one of
/// the side under test's connections in its schema, e.g. a proxy's backend connection).
pub type Leftover = (String, String, Option<u64>);

/// Transactions with row changes or locks (`trx_rows_modified` alone reads 0 after a rollback
/// to a savepoint) on the sides' servers in the sides' schemas, and prepared
/// XA transactions with the sides' xids.
pub fn open_writers(test: &mut Side, reference: &mut Side) -> Vec<Leftover> {
    // InnoDB refreshes INFORMATION_SCHEMA.INNODB_TRX only when it was last read more than
    // 0.1 s ago: read sooner, it shows the transactions of the previous read.
    static LAST_READ: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST_READ.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = *last {
        let idle = Duration::from_millis(110);
        if at.elapsed() < idle {
            std::thread::sleep(idle - at.elapsed());
        }
    }
    let dbs = [test.db.clone(), reference.db.clone()];
    let sql = format!(
        "SELECT CONCAT('connection ', p.id, ' in ', p.db, ': ', t.trx_state, ', ', \
         t.trx_rows_modified, ' rows modified, ', t.trx_rows_locked, ' locked, last statement: ', \
         IFNULL(p.info, '-')), p.id, p.db \
         FROM information_schema.innodb_trx t JOIN information_schema.processlist p \
         ON t.trx_mysql_thread_id = p.id WHERE p.db IN ('{}', '{}') AND (t.trx_rows_modified > 0 OR t.trx_lock_structs > 0)",
        dbs[0], dbs[1]
    );
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for side in [test, reference] {
        for (addr, conn) in side.servers.iter_mut() {
            if seen.contains(addr) {
                continue;
            }
            seen.push(addr.clone());
            let found: Vec<(String, u64, String)> = conn.query(&sql).unwrap_or_else(|e| {
                vec![(format!("cannot list transactions: {e}"), 0, String::new())]
            });
            let xas: Vec<mysql::Row> = conn.query("XA RECOVER").unwrap_or_default();
            for row in xas {
                let data: String = row.get(3).unwrap_or_default();
                if dbs.iter().any(|d| data.starts_with(&format!("{d}-"))) {
                    out.push((
                        addr.clone(),
                        format!("prepared XA transaction '{data}'"),
                        None,
                    ));
                }
            }
            *last = Some(Instant::now());
            out.extend(found.into_iter().map(|(f, id, db)| {
                let killable = if db == dbs[0] { Some(id) } else { None };
                (addr.clone(), f, killable)
            }));
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
    let (
        Outcome::Rows { rows: have, .. },
        Outcome::Rows {
            columns,
            rows: need,
        },
    ) = (got, want)
    else {
        return Err(format!("{}: cannot repair from an error", t.name));
    };
    let pk = columns
        .iter()
        .position(|c| c == t.pk)
        .ok_or("no pk column")?;
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
pub fn check(
    index: usize,
    stmt: &Stmt,
    test: &mut Side,
    reference: &mut Side,
    s: &mut Stats,
) -> Step {
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
    let mut differ = Vec::new();
    for t in &TABLES {
        let sql = select_all(t);
        let mut got = rows(checker(test), &sql);
        if let Outcome::Failed { code: 2013, .. } = got {
            // A backend connection a previous check killed (end_leftovers), reported once.
            got = rows(checker(test), &sql);
        }
        let want = rows(checker(reference), &sql);
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
            let shown = Stmt::ordered(Kind::CheckContents, format!("{sql} {span}"));
            stats.mismatch(index, &shown, &got, &want);
            differ.push((t, got, want));
        }
    }
    if test.physical {
        stats.ran(Kind::CheckPhysical);
    }
    if leftovers {
        stats.ran(Kind::CheckLeftover);
        let found = open_writers(test, reference);
        if !found.is_empty() {
            let rows: Vec<Row> = found
                .iter()
                .map(|(a, d, _)| vec![Some(a.clone()), Some(d.clone())])
                .collect();
            let columns = vec!["server".to_string(), "left open".to_string()];
            let got = Outcome::Rows {
                columns: columns.clone(),
                rows,
            };
            let want = Outcome::Rows {
                columns,
                rows: Vec::new(),
            };
            let shown = Stmt::read(Kind::CheckLeftover, format!("-- leftovers {span}"));
            stats.mismatch(index, &shown, &got, &want);
            end_leftovers(test, &found);
        }
    }
    if test.repair && !differ.is_empty() {
        for (t, got, want) in &differ {
            if let Err(e) = repair(test, t, got, want) {
                let sql = "SELECT CONCAT_WS(' ', t.trx_mysql_thread_id, t.trx_state, \
                           t.trx_rows_modified, p.db, p.user, p.command) FROM \
                           information_schema.innodb_trx t LEFT JOIN \
                           information_schema.processlist p ON t.trx_mysql_thread_id = p.id";
                let trx: Vec<String> = test
                    .servers
                    .iter_mut()
                    .flat_map(|(a, c)| {
                        let rows: Vec<Option<String>> = c.query(sql).unwrap_or_default();
                        rows.into_iter().map(move |r| format!("{a}: {r:?}"))
                    })
                    .collect();
                stats.other.push(format!(
                    "#{index}: repair of {} failed: {e}; transactions: {trx:?}",
                    t.name
                ));
                break;
            }
        }
        if let Some(wait) = &test.after_repair {
            wait();
        }
    }
    Step::Continue
}

/// Ends what was found left open (after reporting it), directly on the server, so that its
/// locks do not stall the rest of the run: kills the side's connection that holds the
/// transaction (a proxy's backend connection), rolls back prepared XA transactions.
fn end_leftovers(side: &mut Side, found: &[Leftover]) {
    for (addr, what, conn_id) in found {
        let Some((_, conn)) = side.servers.iter_mut().find(|(a, _)| a == addr) else {
            continue;
        };
        if let Some(data) = what.strip_prefix("prepared XA transaction ") {
            let _ = conn.query_drop(format!("XA ROLLBACK {data}"));
        } else if let Some(id) = conn_id {
            let _ = conn.query_drop(format!("KILL CONNECTION {id}"));
        }
    }
    // Let the servers roll the killed transactions back.
    std::thread::sleep(std::time::Duration::from_millis(200));
}
