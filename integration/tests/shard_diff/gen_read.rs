//! Random SELECTs over single tables: point / IN / OR / range lookups, scans, filters,
//! expressions, ORDER BY [LIMIT], aggregates, GROUP BY [HAVING], DISTINCT.

use super::gen_write::user_key_where;
use super::model::Model;
use super::stmt::{Kind, Stmt};

/// What the generator needs to know about a sharded table to query it.
pub struct Shape {
    pub name: &'static str,
    pub pk: &'static str,
    /// Columns to sort by (besides the primary key, always the last sort key).
    pub sort: &'static [&'static str],
    /// Aggregate expressions.
    pub aggs: &'static [&'static str],
    /// Columns to group by.
    pub groups: &'static [&'static str],
    /// A summable column for HAVING SUM(..).
    pub sum: &'static str,
}

pub const SHAPES: [Shape; 5] = [
    Shape {
        name: "orders",
        pk: "id",
        sort: &["amount", "status", "note", "created", "user_id"],
        aggs: &[
            "COUNT(*)",
            "COUNT(note)",
            "SUM(amount)",
            "MIN(amount)",
            "MAX(created)",
            "AVG(amount)",
            "MIN(note)",
            "MAX(status)",
        ],
        groups: &["status", "user_id", "note"],
        sum: "amount",
    },
    Shape {
        name: "order_items",
        pk: "id",
        sort: &["qty", "price", "sku", "order_id", "user_id"],
        aggs: &[
            "COUNT(*)",
            "SUM(qty)",
            "AVG(qty)",
            "MAX(price)",
            "SUM(qty * price)",
            "MIN(sku)",
        ],
        groups: &["sku", "user_id", "qty"],
        sum: "qty",
    },
    Shape {
        name: "accounts",
        pk: "account_id",
        sort: &["balance", "owner"],
        aggs: &[
            "COUNT(*)",
            "SUM(balance)",
            "AVG(balance)",
            "MIN(owner)",
            "MAX(balance)",
        ],
        groups: &["owner"],
        sum: "balance",
    },
    Shape {
        name: "events",
        pk: "id",
        sort: &["score", "kind"],
        aggs: &[
            "COUNT(*)",
            "COUNT(score)",
            "SUM(score)",
            "AVG(score)",
            "MIN(score)",
            "MAX(kind)",
        ],
        groups: &["kind", "score"],
        sum: "score",
    },
    Shape {
        name: "tags",
        pk: "name",
        sort: &["uses"],
        aggs: &["COUNT(*)", "SUM(uses)", "MAX(uses)", "AVG(uses)"],
        groups: &["uses"],
        sum: "uses",
    },
];

fn shape(m: &mut Model) -> &'static Shape {
    &SHAPES[m.rng.below(SHAPES.len())]
}

/// A key predicate (=, IN or OR) on the table's sharding key.
pub fn key_where(m: &mut Model, s: &Shape, form: usize) -> String {
    let lits: Vec<String> = match s.name {
        "orders" | "order_items" => {
            let n = if form == 0 {
                1
            } else {
                m.rng.range(2, 4) as usize
            };
            return match form {
                0 => {
                    let u = m.user();
                    let lit = m.key_lit(u);
                    if m.rng.chance(30) {
                        format!("{lit} = user_id")
                    } else {
                        format!("user_id = {lit}")
                    }
                }
                1 => format!("user_id IN ({})", m.user_list(n)),
                _ => {
                    let list = m.user_list(n);
                    let ors: Vec<String> =
                        list.split(", ").map(|v| format!("user_id = {v}")).collect();
                    format!("({})", ors.join(" OR "))
                }
            };
        }
        "accounts" => (0..3)
            .map(|_| m.rng.pick(&m.accounts).to_string())
            .collect(),
        "events" => (0..3).map(|_| m.rng.pick(&m.events).to_string()).collect(),
        _ => (0..3).map(|_| format!("'{}'", m.any_tag())).collect(),
    };
    let key = match s.name {
        "accounts" => "account_id",
        "events" => "id",
        _ => "name",
    };
    match form {
        0 => format!("{key} = {}", lits[0]),
        1 => format!("{key} IN ({})", lits.join(", ")),
        _ => format!("({key} = {} OR {key} = {})", lits[0], lits[1]),
    }
}

/// A predicate on non-key columns.
pub fn filter(m: &mut Model, s: &Shape) -> String {
    match s.name {
        "orders" => match m.rng.below(4) {
            0 => format!("status = '{}'", m.status()),
            1 => "note IS NULL".to_string(),
            2 => "note LIKE 'de-%'".to_string(),
            _ => format!("amount > {} AND created >= '2024-06-01'", m.money(900)),
        },
        "order_items" => format!("qty >= {}", m.rng.range(3, 9)),
        "accounts" => format!("balance < {}", m.money(3000)),
        "events" => match m.rng.below(2) {
            0 => "score IS NULL".to_string(),
            _ => format!("kind = '{}' AND score > {}", m.kind(), m.rng.range(0, 60)),
        },
        _ => format!("uses BETWEEN {} AND 400", m.rng.range(0, 300)),
    }
}

/// No WHERE, a key predicate, or a filter.
fn any_where(m: &mut Model, s: &Shape) -> String {
    match m.rng.below(3) {
        0 => String::new(),
        1 => {
            let form = m.rng.below(3);
            format!(" WHERE {}", key_where(m, s, form))
        }
        _ => format!(" WHERE {}", filter(m, s)),
    }
}

pub fn lookup(m: &mut Model, form: usize) -> Stmt {
    let s = shape(m);
    let w = key_where(m, s, form);
    let proj = if m.rng.chance(50) { "*" } else { s.pk };
    let extra = if s.name == "orders" && m.rng.chance(25) {
        format!(" AND status <> '{}'", m.status())
    } else {
        String::new()
    };
    let kind = [Kind::SelectPoint, Kind::SelectIn, Kind::SelectOr][form];
    Stmt::read(
        kind,
        format!("SELECT {proj} FROM {} WHERE {w}{extra}", s.name),
    )
}

pub fn range(m: &mut Model) -> Stmt {
    let a = m.rng.range(1, 9_000);
    let b = a + m.rng.range(10, 3_000);
    let w = match m.rng.below(4) {
        0 => format!("id BETWEEN {a} AND {b}"),
        1 => format!("id < {a}"),
        2 => format!("id >= {a}"),
        _ => format!("id > {a} AND id <= {b}"),
    };
    if m.rng.chance(40) {
        let dir = if m.rng.chance(50) { "ASC" } else { "DESC" };
        let sql = format!("SELECT id, kind FROM events WHERE {w} ORDER BY id {dir}");
        Stmt::ordered(Kind::SelectRange, sql)
    } else {
        Stmt::read(Kind::SelectRange, format!("SELECT * FROM events WHERE {w}"))
    }
}

pub fn scan(m: &mut Model) -> Stmt {
    let s = shape(m);
    Stmt::read(Kind::SelectScan, format!("SELECT * FROM {}", s.name))
}

pub fn filtered(m: &mut Model) -> Stmt {
    let s = shape(m);
    let w = filter(m, s);
    Stmt::read(
        Kind::SelectFilter,
        format!("SELECT * FROM {} WHERE {w}", s.name),
    )
}

pub fn expressions(m: &mut Model) -> Stmt {
    let s = shape(m);
    let proj = match s.name {
        "orders" => "id, amount * 2 AS dbl, CONCAT(status, ':', id) AS label, YEAR(created) + 1",
        "order_items" => "id, qty * price AS total, UPPER(sku), order_id - user_id",
        "accounts" => "account_id, balance - 100 AS rest, LENGTH(owner)",
        "events" => "id, COALESCE(score, -1) + 1 AS s, CONCAT(kind, '!')",
        _ => "LOWER(name), uses * 3",
    };
    let w = any_where(m, s);
    Stmt::read(
        Kind::SelectExpr,
        format!("SELECT {proj} FROM {}{w}", s.name),
    )
}

/// `ORDER BY` 1-2 columns then the primary key, each ASC or DESC.
fn order_by(m: &mut Model, s: &Shape) -> String {
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..m.rng.range(0, 2) {
        let col = *m.rng.pick(s.sort);
        if !keys.iter().any(|k| k.starts_with(col)) {
            let dir = if m.rng.chance(50) { " DESC" } else { "" };
            keys.push(format!("{col}{dir}"));
        }
    }
    let dir = if m.rng.chance(30) { " DESC" } else { "" };
    keys.push(format!("{}{dir}", s.pk));
    keys.join(", ")
}

pub fn ordered(m: &mut Model, limit: bool) -> Stmt {
    let s = shape(m);
    let w = any_where(m, s);
    let by = order_by(m, s);
    let proj = if m.rng.chance(50) {
        "*".to_string()
    } else {
        format!("{}, {}", s.pk, m.rng.pick(s.sort))
    };
    let mut sql = format!("SELECT {proj} FROM {}{w} ORDER BY {by}", s.name);
    if !limit {
        return Stmt::ordered(Kind::OrderBy, sql);
    }
    let n = m.rng.range(1, 20);
    match m.rng.below(3) {
        0 => sql.push_str(&format!(" LIMIT {n}")),
        1 => sql.push_str(&format!(" LIMIT {n} OFFSET {}", m.rng.range(0, 30))),
        _ => sql.push_str(&format!(" LIMIT {}, {n}", m.rng.range(0, 30))),
    }
    Stmt::ordered(Kind::OrderLimit, sql)
}

/// 1-3 distinct aggregates of the table.
fn aggregates(m: &mut Model, s: &Shape) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for _ in 0..m.rng.range(1, 3) {
        let a = *m.rng.pick(s.aggs);
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

pub fn aggregate(m: &mut Model) -> Stmt {
    let s = shape(m);
    let aggs = aggregates(m, s).join(", ");
    let w = any_where(m, s);
    Stmt::read(Kind::Aggregate, format!("SELECT {aggs} FROM {}{w}", s.name))
}

pub fn group_by(m: &mut Model, having: bool) -> Stmt {
    let s = shape(m);
    let g = *m.rng.pick(s.groups);
    let aggs = aggregates(m, s);
    let list: Vec<String> = aggs
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{a} AS a{i}"))
        .collect();
    let w = if m.rng.chance(30) {
        format!(" WHERE {}", filter(m, s))
    } else {
        String::new()
    };
    let mut sql = format!(
        "SELECT {g}, {} FROM {}{w} GROUP BY {g}",
        list.join(", "),
        s.name
    );
    let kind = if having {
        let cond = if m.rng.chance(50) {
            format!("COUNT(*) > {}", m.rng.range(1, 6))
        } else {
            format!("SUM({}) > {}", s.sum, m.rng.range(0, 2000))
        };
        sql.push_str(&format!(" HAVING {cond}"));
        Kind::Having
    } else {
        Kind::GroupBy
    };
    match m.rng.below(3) {
        0 => Stmt::read(kind, sql),
        1 => {
            let dir = if m.rng.chance(50) { "DESC" } else { "ASC" };
            Stmt::ordered(kind, format!("{sql} ORDER BY {g} {dir}"))
        }
        _ => {
            let dir = if m.rng.chance(50) { "DESC" } else { "ASC" };
            let n = m.rng.range(1, 5);
            Stmt::ordered(kind, format!("{sql} ORDER BY a0 {dir}, {g} LIMIT {n}"))
        }
    }
}

pub fn distinct(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(5) {
        0 => "SELECT DISTINCT status FROM orders".to_string(),
        1 => {
            let w = user_key_where(m, "user_id", "qty > 2");
            format!("SELECT DISTINCT user_id, sku FROM order_items WHERE {w}")
        }
        2 => "SELECT DISTINCT kind, score FROM events".to_string(),
        3 => "SELECT COUNT(DISTINCT status), COUNT(DISTINCT user_id) FROM orders".to_string(),
        _ => {
            let sql = "SELECT DISTINCT owner FROM accounts ORDER BY owner DESC LIMIT 3";
            return Stmt::ordered(Kind::Distinct, sql.to_string());
        }
    };
    Stmt::read(Kind::Distinct, sql)
}
