//! Joins (binding group, broadcast), qualified names, broadcast/unsharded reads, the
//! constructs the proxy must refuse, and `next`: the weighted mix of every statement kind.

use super::gen_prepared as prep;
use super::gen_read as read;
use super::gen_session_txn;
use super::gen_txn;
use super::gen_write as write;
use super::gen_write::user_key_where;
use super::gen_xa;
use super::model::Model;
use super::stmt::{Kind, Stmt};

const JOIN: &str =
    "FROM orders o JOIN order_items i ON o.user_id = i.user_id AND o.id = i.order_id";

pub fn join_binding(m: &mut Model) -> Stmt {
    let w = match m.rng.below(3) {
        0 => String::new(),
        _ => format!(" WHERE {}", user_key_where(m, "o.user_id", "i.qty > 3")),
    };
    match m.rng.below(4) {
        0 => Stmt::read(
            Kind::JoinBinding,
            format!("SELECT o.id, o.user_id, o.amount, i.id AS item, i.sku, i.qty {JOIN}{w}"),
        ),
        1 => Stmt::ordered(
            Kind::JoinBinding,
            format!("SELECT o.id, i.id, i.price, o.note {JOIN}{w} ORDER BY o.id DESC, i.id"),
        ),
        2 => Stmt::read(
            Kind::JoinBinding,
            format!("SELECT o.status, COUNT(*) AS n, SUM(i.qty) AS q {JOIN}{w} GROUP BY o.status"),
        ),
        _ => {
            let n = m.rng.range(1, 10);
            Stmt::ordered(
                Kind::JoinBinding,
                format!(
                    "SELECT o.id, i.id, i.qty * i.price AS total {JOIN}{w} \
                     ORDER BY total DESC, i.id LIMIT {n}"
                ),
            )
        }
    }
}

pub fn join_broadcast(m: &mut Model) -> Stmt {
    let from = "FROM orders o JOIN countries c ON c.code = LEFT(o.note, 2)";
    let sql = match m.rng.below(3) {
        0 => format!("SELECT o.id, o.note, c.name {from}"),
        1 => {
            let w = user_key_where(m, "o.user_id", "o.amount > 100.00");
            format!("SELECT o.id, c.code, c.name {from} WHERE {w}")
        }
        _ => format!("SELECT c.name, COUNT(*) AS n {from} GROUP BY c.name"),
    };
    Stmt::read(Kind::JoinBroadcast, sql)
}

pub fn qualified(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(4) {
        0 => {
            let w = user_key_where(m, "o.user_id", "o.status = 'paid'");
            format!("SELECT o.id, o.amount FROM {{db}}.orders AS o WHERE {w}")
        }
        1 => format!(
            "SELECT COUNT(*), MAX(e.score) FROM {{db}}.events e WHERE e.id < {}",
            m.rng.range(100, 9000)
        ),
        2 => {
            let (a, b) = (m.any_tag(), m.any_tag());
            format!("SELECT t.name, t.uses FROM {{db}}.tags t WHERE t.name IN ('{a}', '{b}')")
        }
        _ => {
            let w = user_key_where(m, "o.user_id", "i.qty > 1");
            format!(
                "SELECT o.id, i.sku FROM {{db}}.orders o JOIN {{db}}.order_items i \
                 ON o.user_id = i.user_id AND o.id = i.order_id WHERE {w}"
            )
        }
    };
    Stmt::read(Kind::SelectQualified, sql)
}

pub fn other_tables(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(5) {
        0 => "SELECT * FROM countries".to_string(),
        1 => format!(
            "SELECT name FROM countries WHERE code = '{}'",
            m.rng.pick(&m.countries)
        ),
        2 => format!("SELECT * FROM notes WHERE id = {}", m.rng.pick(&m.notes)),
        3 => "SELECT COUNT(*), MAX(id), MIN(body) FROM notes".to_string(),
        _ => {
            let sql = "SELECT id, body FROM notes ORDER BY id DESC LIMIT 5";
            return Stmt::ordered(Kind::SelectOther, sql.to_string());
        }
    };
    Stmt::read(Kind::SelectOther, sql)
}

pub fn refuse_join(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(2) {
        0 => "SELECT o.id, i.id FROM orders o JOIN order_items i ON o.id = i.order_id",
        _ => "SELECT o.id, i.sku FROM orders o JOIN order_items i ON o.amount = i.price",
    };
    Stmt::read(Kind::RefuseJoinNonKey, sql.to_string())
}

pub fn refuse_window(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => "SELECT id, ROW_NUMBER() OVER (ORDER BY amount, id) AS rn FROM orders",
        1 => "SELECT id, SUM(score) OVER (PARTITION BY kind) AS s FROM events",
        _ => "SELECT account_id, RANK() OVER (ORDER BY balance DESC) AS r FROM accounts",
    };
    Stmt::read(Kind::RefuseWindow, sql.to_string())
}

pub fn refuse_subquery(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => {
            "SELECT id FROM orders WHERE user_id IN (SELECT account_id FROM accounts WHERE balance > 1000)"
        }
        1 => "SELECT * FROM events WHERE id IN (SELECT order_id FROM order_items)",
        _ => "SELECT name FROM tags WHERE uses > (SELECT AVG(uses) FROM tags)",
    };
    Stmt::read(Kind::RefuseSubquery, sql.to_string())
}

/// Makes one statement.
type Maker = fn(&mut Model) -> Stmt;

/// The next step of the stream: one statement, or now and then a whole transaction (a
/// short BEGIN..COMMIT, a session block of gen_session_txn, or an XA transaction).
pub fn next(m: &mut Model) -> Vec<Stmt> {
    if m.txn_percent > 0 && m.rng.chance(m.txn_percent) {
        return gen_txn::transaction(m);
    }
    if m.session_percent > 0 && m.rng.chance(m.session_percent) {
        return gen_session_txn::block(m);
    }
    if m.xa_percent > 0 && m.rng.chance(m.xa_percent) {
        return gen_xa::block(m);
    }
    vec![one(m)]
}

/// The next random statement (weights in per mille). Kinds whose values can be parameters
/// have a prepared counterpart, used for `m.prepared_percent` percent of them.
pub fn one(m: &mut Model) -> Stmt {
    let r = m.rng.below(1000);
    let table: [(usize, Maker, Option<Maker>); 34] = [
        (50, write::insert_one, Some(prep::insert_one)),
        (20, write::insert_dup, None),
        (30, write::insert_multi, Some(prep::insert_multi)),
        (15, write::replace, None),
        (15, write::upsert, None),
        (50, write::update_keyed, Some(prep::update)),
        (20, write::delete_keyed, Some(prep::delete)),
        (12, write::update_scatter, None),
        (6, write::delete_scatter, None),
        (10, write::write_broadcast, None),
        (10, write::write_unsharded, None),
        (8, write::write_qualified, None),
        (8, write::refuse_key_update, None),
        (60, |m| read::lookup(m, 0), Some(|m| prep::lookup(m, 0))),
        (40, |m| read::lookup(m, 1), Some(|m| prep::lookup(m, 1))),
        (25, |m| read::lookup(m, 2), None),
        (40, read::range, Some(prep::range)),
        (15, read::scan, None),
        (25, read::filtered, Some(prep::scatter)),
        (30, read::expressions, None),
        (45, |m| read::ordered(m, false), None),
        (60, |m| read::ordered(m, true), None),
        (60, read::aggregate, None),
        (55, |m| read::group_by(m, false), None),
        (30, |m| read::group_by(m, true), None),
        (25, read::distinct, None),
        (60, join_binding, None),
        (20, join_broadcast, None),
        (25, qualified, None),
        (25, other_tables, None),
        (7, refuse_join, None),
        (7, refuse_window, None),
        (7, refuse_subquery, None),
        (85, |m| read::lookup(m, 0), Some(|m| prep::lookup(m, 0))),
    ];
    let mut acc = 0;
    for (weight, make, prepared) in table {
        acc += weight;
        if r < acc {
            if let Some(prepared) = prepared {
                if m.prepared_percent > 0 && m.rng.chance(m.prepared_percent) {
                    return prepared(m);
                }
            }
            return make(m);
        }
    }
    read::lookup(m, 0)
}
