//! Transactions: `BEGIN`, 2-6 statements (writes on several shards, reads of the
//! transaction's own uncommitted writes, the usual mix), then `COMMIT` or `ROLLBACK`.

use super::gen_mix;
use super::gen_prepared::{self as prep, Binder, user_shard};
use super::model::{self, Model};
use super::stmt::{Kind, Stmt};

/// Keys the open transaction wrote.
#[derive(Default)]
struct Own {
    users: Vec<i64>,
    accounts: Vec<i64>,
    events: Vec<i64>,
}

impl Own {
    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.accounts.is_empty() && self.events.is_empty()
    }
}

fn prepared(m: &mut Model) -> bool {
    m.prepared_percent > 0 && m.rng.chance(m.prepared_percent)
}

/// A keyed write whose keys the transaction remembers (text or prepared).
fn own_write(m: &mut Model, own: &mut Own) -> Stmt {
    let p = prepared(m);
    let mut b = Binder::default();
    match m.rng.below(6) {
        0 => {
            let (id, user) = m.new_order(None);
            own.users.push(user);
            if p {
                let row = prep::order_values(m, &mut b, id, user);
                let sql = format!("INSERT INTO {} VALUES {row}", model::ORDER_COLS);
                return b.stmt(Stmt::write(Kind::PrepInsert, sql));
            }
            let sql = format!(
                "INSERT INTO {} VALUES {}",
                model::ORDER_COLS,
                m.order_row(id, user)
            );
            Stmt::write(Kind::InsertOne, sql)
        }
        1 => {
            let item = m.new_item();
            own.users.push(item.1);
            if p {
                let row = prep::item_values(m, &mut b, item);
                let sql = format!("INSERT INTO {} VALUES {row}", model::ITEM_COLS);
                return b.stmt(Stmt::write(Kind::PrepInsert, sql));
            }
            let sql = format!(
                "INSERT INTO {} VALUES {}",
                model::ITEM_COLS,
                m.item_row(item)
            );
            Stmt::write(Kind::InsertOne, sql)
        }
        2 => {
            let user = m.user();
            own.users.push(user);
            let n = m.rng.range(1, 9);
            if p {
                b.int(n);
                b.key(m, user);
                let sql = "UPDATE orders SET amount = amount + ?, note = 'txn' WHERE user_id = ?";
                return b.stmt(Stmt::write(Kind::PrepUpdate, sql.to_string()));
            }
            let sql = format!(
                "UPDATE orders SET amount = amount + {n}, note = 'txn' WHERE user_id = {user}"
            );
            Stmt::write(Kind::UpdateKeyed, sql)
        }
        3 => {
            let (id, user) = m.any_order();
            own.users.push(user);
            if p {
                b.key(m, user);
                b.int(id);
                let sql = "DELETE FROM orders WHERE user_id = ? AND id = ?";
                return b.stmt(Stmt::write(Kind::PrepDelete, sql.to_string()));
            }
            let sql = format!("DELETE FROM orders WHERE user_id = {user} AND id = {id}");
            Stmt::write(Kind::DeleteKeyed, sql)
        }
        4 => {
            let id = *m.rng.pick(&m.accounts);
            own.accounts.push(id);
            let amount = m.money(30);
            if p {
                b.text(&amount);
                b.key(m, id);
                let sql = "UPDATE accounts SET balance = balance + ? WHERE account_id = ?";
                return b.stmt(Stmt::write(Kind::PrepUpdate, sql.to_string()));
            }
            let sql =
                format!("UPDATE accounts SET balance = balance + {amount} WHERE account_id = {id}");
            Stmt::write(Kind::UpdateKeyed, sql)
        }
        _ => {
            let id = m.new_event();
            own.events.push(id);
            if p {
                let row = prep::event_values(m, &mut b, id);
                let sql = format!("INSERT INTO {} VALUES {row}", model::EVENT_COLS);
                return b.stmt(Stmt::write(Kind::PrepInsert, sql));
            }
            let sql = format!(
                "INSERT INTO {} VALUES {}",
                model::EVENT_COLS,
                m.event_row(id)
            );
            Stmt::write(Kind::InsertOne, sql)
        }
    }
}

/// A read of keys the transaction wrote: one slot, or one slot on each shard.
fn read_own(m: &mut Model, own: &Own) -> Stmt {
    let p = prepared(m);
    let mut b = Binder::default();
    let pick = m.rng.below(3);
    if (pick == 1 && !own.accounts.is_empty()) || own.users.is_empty() && own.events.is_empty() {
        let id = *m.rng.pick(&own.accounts);
        let key = if p {
            b.key(m, id).to_string()
        } else {
            id.to_string()
        };
        let sql = format!("SELECT * FROM accounts WHERE account_id = {key}");
        return b.stmt_if(p, Stmt::read(Kind::TxnReadOwn, sql));
    }
    if (pick == 2 && !own.events.is_empty()) || own.users.is_empty() {
        let (x, y) = (*m.rng.pick(&own.events), *m.rng.pick(&own.events));
        let (kx, ky) = if p {
            (b.key(m, x).to_string(), b.key(m, y).to_string())
        } else {
            (x.to_string(), y.to_string())
        };
        let sql = format!("SELECT * FROM events WHERE id IN ({kx}, {ky}) ORDER BY id");
        return b.stmt_if(p, Stmt::ordered(Kind::TxnReadOwn, sql));
    }
    // Users: one, or two on different shards (one sub-table on each).
    let u = *m.rng.pick(&own.users);
    let other = own
        .users
        .iter()
        .copied()
        .find(|v| user_shard(*v) != user_shard(u));
    let table = if m.rng.chance(70) {
        "orders"
    } else {
        "order_items"
    };
    let mut keys = vec![u];
    if let Some(v) = other.filter(|_| m.rng.chance(60)) {
        keys.push(v);
    }
    let lits: Vec<String> = keys
        .iter()
        .map(|k| {
            if p {
                b.key(m, *k).to_string()
            } else {
                k.to_string()
            }
        })
        .collect();
    let w = format!("user_id IN ({})", lits.join(", "));
    let stmt = match m.rng.below(3) {
        0 => Stmt::read(
            Kind::TxnReadOwn,
            format!("SELECT COUNT(*), SUM(user_id), MAX(id) FROM {table} WHERE {w}"),
        ),
        _ => Stmt::ordered(
            Kind::TxnReadOwn,
            format!("SELECT * FROM {table} WHERE {w} ORDER BY id"),
        ),
    };
    b.stmt_if(p, stmt)
}

/// BEGIN, 2-6 statements, COMMIT or ROLLBACK.
pub fn transaction(m: &mut Model) -> Vec<Stmt> {
    let mut out = vec![Stmt::write(Kind::TxnBegin, "BEGIN".to_string())];
    let mut own = Own::default();
    for _ in 0..m.rng.range(2, 6) {
        let mut s = match m.rng.below(10) {
            0..=3 => own_write(m, &mut own),
            4..=5 if !own.is_empty() => read_own(m, &own),
            _ => gen_mix::one(m),
        };
        s.in_txn = true;
        out.push(s);
    }
    out.push(if m.rng.chance(50) {
        Stmt::write(Kind::TxnCommit, "COMMIT".to_string())
    } else {
        Stmt::write(Kind::TxnRollback, "ROLLBACK".to_string())
    });
    out
}
