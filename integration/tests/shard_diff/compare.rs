//! Running one statement on one side and comparing what two sides answered.

use mysql::prelude::{Protocol, Queryable};
use mysql::{Conn, Params, QueryResult, Value};

pub type Row = Vec<Option<String>>;

/// What a statement produced on one side.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Rows {
        columns: Vec<String>,
        rows: Vec<Row>,
    },
    Affected(u64),
    /// A server error (ERR packet).
    Failed {
        code: u16,
        message: String,
    },
    /// Anything else: the connection broke, a protocol error.
    Broken(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Rows { .. } | Outcome::Affected(_))
    }

    /// Short text for reports (rows cut after 8).
    pub fn brief(&self) -> String {
        match self {
            Outcome::Rows { columns, rows } => {
                let shown: Vec<String> = rows.iter().take(8).map(show_row).collect();
                let more = if rows.len() > 8 {
                    format!(" ... ({} rows)", rows.len())
                } else {
                    String::new()
                };
                format!("{} rows {columns:?}: {}{more}", rows.len(), shown.join(" "))
            }
            Outcome::Affected(n) => format!("OK, {n} affected"),
            Outcome::Failed { code, message } => format!("ERR {code}: {message}"),
            Outcome::Broken(e) => format!("connection error: {e}"),
        }
    }
}

pub fn show_row(r: &Row) -> String {
    let cells: Vec<&str> = r.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
    format!("({})", cells.join(", "))
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Date(y, mo, d, h, mi, s, us) => Some(format!(
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
        )),
        Value::Time(neg, d, h, mi, s, us) => {
            let sign = if neg { "-" } else { "" };
            Some(format!("{sign}{d}d {h:02}:{mi:02}:{s:02}.{us:06}"))
        }
    }
}

fn failure(e: mysql::Error) -> Outcome {
    match e {
        mysql::Error::MySqlError(e) => Outcome::Failed {
            code: e.code,
            message: e.message,
        },
        other => Outcome::Broken(other.to_string()),
    }
}

/// Reads the first result set of a text or binary (prepared) result.
fn first_result<P: Protocol>(mut result: QueryResult<'_, '_, '_, P>) -> Outcome {
    let columns: Vec<String> = result
        .columns()
        .as_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let mut rows = Vec::new();
    for row in result.by_ref() {
        match row {
            Ok(row) => rows.push(row.unwrap().into_iter().map(text).collect()),
            Err(e) => return failure(e),
        }
    }
    Outcome::Rows { columns, rows }
}

/// Runs `sql` (prepared with `params` bound when given, else as text): a write answers its
/// affected rows, a read its first result set.
pub fn execute(conn: &mut Conn, sql: &str, params: Option<&[Value]>, write: bool) -> Outcome {
    match (params, write) {
        (None, true) => match conn.query_drop(sql) {
            Ok(()) => Outcome::Affected(conn.affected_rows()),
            Err(e) => failure(e),
        },
        (None, false) => match conn.query_iter(sql) {
            Ok(r) => first_result(r),
            Err(e) => failure(e),
        },
        (Some(p), true) => match conn.exec_drop(sql, Params::Positional(p.to_vec())) {
            Ok(()) => Outcome::Affected(conn.affected_rows()),
            Err(e) => failure(e),
        },
        (Some(p), false) => match conn.exec_iter(sql, Params::Positional(p.to_vec())) {
            Ok(r) => first_result(r),
            Err(e) => failure(e),
        },
    }
}

/// Runs a write and undoes it at once: what it would have answered. Outside a transaction
/// it runs in one rolled back; inside the open transaction `in_txn` it runs under a savepoint
/// (a nested START TRANSACTION would commit the open one), rolled back to.
pub fn execute_dry(conn: &mut Conn, sql: &str, params: Option<&[Value]>, in_txn: bool) -> Outcome {
    let (open, undo) = if in_txn {
        (
            "SAVEPOINT shard_diff_dry",
            "ROLLBACK TO SAVEPOINT shard_diff_dry",
        )
    } else {
        ("START TRANSACTION", "ROLLBACK")
    };
    if let Err(e) = conn.query_drop(open) {
        return failure(e);
    }
    let out = execute(conn, sql, params, true);
    if let Err(e) = conn.query_drop(undo) {
        return failure(e);
    }
    out
}

/// Whether two successful outcomes agree; rows compared in order or as multisets.
pub fn same(a: &Outcome, b: &Outcome, ordered: bool) -> bool {
    match (a, b) {
        (
            Outcome::Rows {
                columns: ca,
                rows: ra,
            },
            Outcome::Rows {
                columns: cb,
                rows: rb,
            },
        ) => {
            if ca != cb || ra.len() != rb.len() {
                return false;
            }
            if ordered {
                return ra == rb;
            }
            let (mut sa, mut sb) = (ra.clone(), rb.clone());
            sa.sort();
            sb.sort();
            sa == sb
        }
        (Outcome::Affected(x), Outcome::Affected(y)) => x == y,
        _ => false,
    }
}
