//! Random writes: INSERT (single, duplicate, multi-row), REPLACE, upserts, keyed and scatter
//! UPDATE/DELETE, broadcast and unsharded writes, and UPDATEs of the sharding key.

use super::model::{self, EVENT_MAX, Model};
use super::stmt::{Kind, Stmt};

pub fn insert_one(m: &mut Model) -> Stmt {
    let (cols, row) = match m.rng.below(5) {
        0 | 1 => {
            let (id, user) = m.new_order(None);
            (model::ORDER_COLS, m.order_row(id, user))
        }
        2 => {
            let item = m.new_item();
            (model::ITEM_COLS, m.item_row(item))
        }
        3 => {
            let id = m.new_account();
            (model::ACCOUNT_COLS, m.account_row(id))
        }
        _ => {
            if m.rng.chance(50) {
                let id = m.new_event();
                (model::EVENT_COLS, m.event_row(id))
            } else {
                let name = m.new_tag();
                (model::TAG_COLS, m.tag_row(&name))
            }
        }
    };
    Stmt::write(Kind::InsertOne, format!("INSERT INTO {cols} VALUES {row}"))
}

/// A single-row INSERT of a key generated before (it may or may not still exist).
pub fn insert_dup(m: &mut Model) -> Stmt {
    let (cols, row) = match m.rng.below(5) {
        0 => {
            let (id, user) = m.any_order();
            (model::ORDER_COLS, m.order_row(id, user))
        }
        1 => {
            let item = m.any_item();
            (model::ITEM_COLS, m.item_row(item))
        }
        2 => {
            let id = *m.rng.pick(&m.accounts);
            (model::ACCOUNT_COLS, m.account_row(id))
        }
        3 => {
            let id = *m.rng.pick(&m.events);
            (model::EVENT_COLS, m.event_row(id))
        }
        _ => {
            let name = m.any_tag();
            (model::TAG_COLS, m.tag_row(&name))
        }
    };
    Stmt::write(Kind::InsertDup, format!("INSERT INTO {cols} VALUES {row}"))
}

/// New rows of one table, for several shards / sub-tables.
fn fresh_rows(m: &mut Model, table: usize, n: usize) -> (&'static str, Vec<String>) {
    let mut rows = Vec::new();
    let cols = match table {
        0 => model::ORDER_COLS,
        1 => model::ITEM_COLS,
        2 => model::ACCOUNT_COLS,
        3 => model::EVENT_COLS,
        _ => model::TAG_COLS,
    };
    for _ in 0..n {
        let row = match table {
            0 => {
                let (id, user) = m.new_order(None);
                m.order_row(id, user)
            }
            1 => {
                let item = m.new_item();
                m.item_row(item)
            }
            2 => {
                let id = m.new_account();
                m.account_row(id)
            }
            3 => {
                let id = m.new_event();
                m.event_row(id)
            }
            _ => {
                let name = m.new_tag();
                m.tag_row(&name)
            }
        };
        rows.push(row);
    }
    (cols, rows)
}

pub fn insert_multi(m: &mut Model) -> Stmt {
    let table = m.rng.below(5);
    let n = m.rng.range(2, 8) as usize;
    let (cols, rows) = fresh_rows(m, table, n);
    let sql = format!("INSERT INTO {cols} VALUES {}", rows.join(", "));
    Stmt::write(Kind::InsertMulti, sql)
}

/// Rows whose keys are old or new (REPLACE and upserts), with distinct keys.
fn mixed_rows(m: &mut Model, table: usize) -> (&'static str, Vec<String>) {
    let n = m.rng.range(1, 4) as usize;
    let (cols, mut rows) = fresh_rows(m, table, n / 2);
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..n - n / 2 {
        let (key, row) = match table {
            0 => {
                let (id, user) = m.any_order();
                (id.to_string(), m.order_row(id, user))
            }
            1 => {
                let item = m.any_item();
                (item.0.to_string(), m.item_row(item))
            }
            2 => {
                let id = *m.rng.pick(&m.accounts);
                (id.to_string(), m.account_row(id))
            }
            3 => {
                let id = *m.rng.pick(&m.events);
                (id.to_string(), m.event_row(id))
            }
            _ => {
                let name = m.any_tag();
                (name.to_lowercase(), m.tag_row(&name))
            }
        };
        if !seen.contains(&key) {
            seen.push(key);
            rows.push(row);
        }
    }
    (cols, rows)
}

pub fn replace(m: &mut Model) -> Stmt {
    let table = m.rng.below(5);
    let (cols, rows) = mixed_rows(m, table);
    Stmt::write(
        Kind::Replace,
        format!("REPLACE INTO {cols} VALUES {}", rows.join(", ")),
    )
}

pub fn upsert(m: &mut Model) -> Stmt {
    let table = m.rng.below(5);
    let (cols, rows) = mixed_rows(m, table);
    let set = match table {
        0 => "amount = VALUES(amount), status = 'paid'",
        1 => "qty = qty + 1, price = VALUES(price)",
        2 => "balance = balance + VALUES(balance)",
        3 => "score = VALUES(score), kind = 'buy'",
        _ => "uses = uses + 1",
    };
    let sql = format!(
        "INSERT INTO {cols} VALUES {} ON DUPLICATE KEY UPDATE {set}",
        rows.join(", ")
    );
    Stmt::write(Kind::Upsert, sql)
}

/// A WHERE on the sharding key of orders / order_items (`user_id`), in one of the forms the
/// router must understand, sometimes with another predicate.
pub fn user_key_where(m: &mut Model, col: &str, and: &str) -> String {
    let u = m.user();
    let lit = m.key_lit(u);
    let key = match m.rng.below(5) {
        0 | 1 => format!("{col} = {lit}"),
        2 => format!("{lit} = {col}"),
        3 => {
            let n = m.rng.range(2, 4) as usize;
            format!("{col} IN ({})", m.user_list(n))
        }
        _ => {
            let other = m.user();
            let other = m.key_lit(other);
            format!("({col} = {lit} OR {col} = {other})")
        }
    };
    if m.rng.chance(40) {
        format!("{key} AND {and}")
    } else {
        key
    }
}

pub fn update_keyed(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(5) {
        0 | 1 => {
            let w = user_key_where(m, "user_id", "status = 'new'");
            let amount = m.money(20);
            format!("UPDATE orders SET amount = amount + {amount}, status = 'paid' WHERE {w}")
        }
        2 => {
            let w = user_key_where(m, "user_id", "qty < 5");
            format!("UPDATE order_items SET qty = qty + 1 WHERE {w}")
        }
        3 => {
            let id = *m.rng.pick(&m.accounts);
            let amount = m.money(50);
            format!("UPDATE accounts SET balance = balance - {amount} WHERE account_id = {id}")
        }
        _ => {
            if m.rng.chance(50) {
                let a = *m.rng.pick(&m.events);
                let b = *m.rng.pick(&m.events);
                format!("UPDATE events SET score = score + 1 WHERE id IN ({a}, {b})")
            } else {
                let name = m.any_tag();
                format!("UPDATE tags SET uses = uses + 1 WHERE name = '{name}'")
            }
        }
    };
    Stmt::write(Kind::UpdateKeyed, sql)
}

pub fn delete_keyed(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(5) {
        0 => {
            let (id, user) = m.any_order();
            let lit = m.key_lit(user);
            format!("DELETE FROM orders WHERE user_id = {lit} AND id = {id}")
        }
        1 => {
            let w = user_key_where(m, "user_id", "status = 'cancelled'");
            format!("DELETE FROM orders WHERE {w} AND amount < 150.00")
        }
        2 => {
            let (id, user, _) = m.any_item();
            let lit = m.key_lit(user);
            format!("DELETE FROM order_items WHERE {lit} = user_id AND id = {id}")
        }
        3 => {
            let id = *m.rng.pick(&m.accounts);
            format!("DELETE FROM accounts WHERE account_id = {id}")
        }
        _ => {
            if m.rng.chance(50) {
                let id = *m.rng.pick(&m.events);
                format!("DELETE FROM events WHERE id = {id}")
            } else {
                let name = m.any_tag();
                format!("DELETE FROM tags WHERE name = '{name}'")
            }
        }
    };
    Stmt::write(Kind::DeleteKeyed, sql)
}

pub fn update_scatter(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(4) {
        0 => {
            let status = m.status();
            format!("UPDATE orders SET note = 'bulk' WHERE status = '{status}' AND amount < 60.00")
        }
        1 => format!(
            "UPDATE order_items SET price = price + 0.25 WHERE sku = '{}'",
            m.sku()
        ),
        2 => format!(
            "UPDATE events SET score = NULL WHERE kind = '{}' AND score > 90",
            m.kind()
        ),
        _ => format!(
            "UPDATE accounts SET balance = balance + 1.00 WHERE owner = '{}'",
            m.owner()
        ),
    };
    Stmt::write(Kind::UpdateScatter, sql)
}

pub fn delete_scatter(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => "DELETE FROM orders WHERE status = 'returned' AND amount < 80.00".to_string(),
        1 => format!(
            "DELETE FROM order_items WHERE qty = 10 AND sku = '{}'",
            m.sku()
        ),
        _ => "DELETE FROM events WHERE score < -45".to_string(),
    };
    Stmt::write(Kind::DeleteScatter, sql)
}

pub fn write_broadcast(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => {
            let code = m.new_country();
            format!("INSERT INTO countries (code, name) VALUES ('{code}', 'land {code}')")
        }
        1 => {
            let code = m.rng.pick(&m.countries).clone();
            let n = m.rng.range(1, 99);
            format!("UPDATE countries SET name = 'renamed {n}' WHERE code = '{code}'")
        }
        _ if m.countries.len() > 8 => {
            // Only added countries: the base ones stay for the joins.
            let i = 8 + m.rng.below(m.countries.len() - 8);
            format!("DELETE FROM countries WHERE code = '{}'", m.countries[i])
        }
        _ => "DELETE FROM countries WHERE code = 'ZZ'".to_string(),
    };
    Stmt::write(Kind::WriteBroadcast, sql)
}

pub fn write_unsharded(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => {
            let id = m.new_note();
            format!("INSERT INTO {} VALUES {}", model::NOTE_COLS, m.note_row(id))
        }
        1 => {
            let id = *m.rng.pick(&m.notes);
            format!("UPDATE notes SET body = CONCAT(body, '+') WHERE id = {id}")
        }
        _ => {
            let id = *m.rng.pick(&m.notes);
            format!("DELETE FROM notes WHERE id = {id}")
        }
    };
    Stmt::write(Kind::WriteUnsharded, sql)
}

pub fn write_qualified(m: &mut Model) -> Stmt {
    let u = m.user();
    let sql = if m.rng.chance(50) {
        format!("UPDATE {{db}}.orders SET note = 'q' WHERE user_id = {u} AND status = 'paid'")
    } else {
        let (id, user) = m.new_order(Some(u));
        let row = m.order_row(id, user);
        format!("INSERT INTO {{db}}.{} VALUES {row}", model::ORDER_COLS)
    };
    Stmt::write(Kind::WriteQualified, sql)
}

/// UPDATEs that move a row to another slot: the proxy must refuse them. (A key change that
/// provably stays in its slot, e.g. user 4 -> 60 under mod 8, may be accepted: not generated.)
pub fn refuse_key_update(m: &mut Model) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => {
            let (id, user) = m.any_order();
            let mut to = m.user();
            while to % 8 == user % 8 {
                to = m.user();
            }
            format!("UPDATE orders SET user_id = {to} WHERE user_id = {user} AND id = {id}")
        }
        1 => {
            let (id, user, _) = m.any_item();
            format!(
                "UPDATE order_items SET user_id = user_id + 1 WHERE user_id = {user} AND id = {id}"
            )
        }
        _ => {
            let id = *m.rng.pick(&m.events);
            // A never-used id on the other side of the range boundary (no duplicate key).
            let to = if id < 5000 {
                m.new_event_in(5000, EVENT_MAX)
            } else {
                m.new_event_in(1, 4999)
            };
            format!("UPDATE events SET id = {to} WHERE id = {id}")
        }
    };
    Stmt::write(Kind::RefuseKeyUpdate, sql)
}
