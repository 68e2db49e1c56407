//! Prepared statements: the same shapes as the text generators, with `?` placeholders and the
//! values bound (integer sharding keys sometimes bound as strings). Point / IN / range lookups,
//! scatter reads with a non-key parameter, keyed UPDATE / DELETE, single- and multi-row
//! INSERTs (a multi-row INSERT spanning both shards is documented as refused).

use mysql::Value;

use super::model::{self, EVENT_MAX, Model};
use super::stmt::{Kind, Stmt};

/// The values bound so far, and whether an integer key went as a string.
#[derive(Default)]
pub struct Binder {
    vals: Vec<Value>,
    str_key: bool,
}

impl Binder {
    /// An integer sharding key: bound as an integer, or 30% of the time as the string `"42"`.
    pub fn key(&mut self, m: &mut Model, v: i64) -> &'static str {
        if m.rng.chance(30) {
            self.str_key = true;
            self.vals.push(Value::Bytes(v.to_string().into_bytes()));
        } else {
            self.vals.push(Value::Int(v));
        }
        "?"
    }

    pub fn int(&mut self, v: i64) -> &'static str {
        self.vals.push(Value::Int(v));
        "?"
    }

    /// A string (also decimals and dates, as MySQL converts them from text).
    pub fn text(&mut self, v: &str) -> &'static str {
        self.vals.push(Value::Bytes(v.as_bytes().to_vec()));
        "?"
    }

    pub fn null(&mut self) -> &'static str {
        self.vals.push(Value::NULL);
        "?"
    }

    /// `n` placeholders `?, ?, ..` (the values pushed by the caller).
    fn marks(n: usize) -> String {
        vec!["?"; n].join(", ")
    }

    pub fn stmt(self, s: Stmt) -> Stmt {
        s.bind(self.vals, self.str_key)
    }

    /// `s` with the values bound when `prepared`, else `s` as text.
    pub fn stmt_if(self, prepared: bool, s: Stmt) -> Stmt {
        if prepared { self.stmt(s) } else { s }
    }
}

/// The literal a `Model` helper produced, without its quotes (`'paid'` -> `paid`).
fn unquote(lit: &str) -> &str {
    lit.trim_matches('\'')
}

/// Which shard (0 or 1) holds a user's orders / items (mod 8, slots 0-3 on s0).
pub fn user_shard(user: i64) -> usize {
    usize::from(user % 8 >= 4)
}

fn account_shard(id: i64) -> usize {
    usize::from((id % 100) / 25 >= 2)
}

fn event_shard(id: i64) -> usize {
    usize::from(id >= 5000)
}

/// Binds one orders row's values; returns its `(?, ?, ..)`.
pub fn order_values(m: &mut Model, b: &mut Binder, id: i64, user: i64) -> String {
    b.int(id);
    b.key(m, user);
    let amount = m.money(999);
    b.text(&amount);
    b.text(m.status());
    let note = m.note();
    if note == "NULL" {
        b.null();
    } else {
        b.text(unquote(&note));
    }
    let date = m.date();
    b.text(unquote(&date));
    format!("({})", Binder::marks(6))
}

pub fn item_values(m: &mut Model, b: &mut Binder, (id, user, order): (i64, i64, i64)) -> String {
    b.int(id);
    b.key(m, user);
    b.int(order);
    let sku = m.sku();
    b.text(&sku);
    b.int(m.rng.range(1, 10));
    let price = m.money(99);
    b.text(&price);
    format!("({})", Binder::marks(6))
}

fn account_values(m: &mut Model, b: &mut Binder, id: i64) -> String {
    b.key(m, id);
    b.text(m.owner());
    let balance = m.money(5000);
    b.text(&balance);
    format!("({})", Binder::marks(3))
}

pub fn event_values(m: &mut Model, b: &mut Binder, id: i64) -> String {
    b.key(m, id);
    b.text(m.kind());
    if m.rng.chance(20) {
        b.null();
    } else {
        b.int(m.rng.range(-50, 100));
    }
    format!("({})", Binder::marks(3))
}

fn tag_values(m: &mut Model, b: &mut Binder, name: &str) -> String {
    b.text(name);
    b.int(m.rng.range(0, 500));
    format!("({})", Binder::marks(2))
}

/// `n` distinct users.
fn users(m: &mut Model, n: usize) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    while out.len() < n {
        let u = m.user();
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// A point (`form` 0) or IN (`form` 1) lookup on a table's sharding key.
pub fn lookup(m: &mut Model, form: usize) -> Stmt {
    let mut b = Binder::default();
    let table = m.rng.below(5);
    let n = if form == 0 {
        1
    } else {
        m.rng.range(2, 4) as usize
    };
    let (name, key, pk) = [
        ("orders", "user_id", "id"),
        ("order_items", "user_id", "id"),
        ("accounts", "account_id", "account_id"),
        ("events", "id", "id"),
        ("tags", "name", "name"),
    ][table];
    match table {
        0 | 1 => {
            for u in users(m, n) {
                b.key(m, u);
            }
        }
        2 => {
            for _ in 0..n {
                let id = *m.rng.pick(&m.accounts);
                b.key(m, id);
            }
        }
        3 => {
            for _ in 0..n {
                let id = *m.rng.pick(&m.events);
                b.key(m, id);
            }
        }
        _ => {
            for _ in 0..n {
                let t = m.any_tag();
                b.text(&t);
            }
        }
    }
    let w = if form == 0 {
        if m.rng.chance(30) {
            format!("? = {key}")
        } else {
            format!("{key} = ?")
        }
    } else {
        format!("{key} IN ({})", Binder::marks(n))
    };
    let extra = if table == 0 && m.rng.chance(25) {
        b.text(m.status());
        " AND status <> ?"
    } else {
        ""
    };
    let proj = if m.rng.chance(50) { "*" } else { pk };
    let sql = format!("SELECT {proj} FROM {name} WHERE {w}{extra}");
    let kind = if form == 0 {
        Kind::PrepPoint
    } else {
        Kind::PrepIn
    };
    if m.rng.chance(30) {
        b.stmt(Stmt::ordered(kind, format!("{sql} ORDER BY {pk}")))
    } else {
        b.stmt(Stmt::read(kind, sql))
    }
}

/// Ranges on `events.id` (range rule) or on `orders.user_id` (mod rule: the keys' slots).
pub fn range(m: &mut Model) -> Stmt {
    let mut b = Binder::default();
    if m.rng.chance(25) {
        let lo = m.rng.range(1, 55);
        let hi = lo + m.rng.range(0, 6);
        let w = format!("user_id BETWEEN {} AND {}", b.key(m, lo), b.key(m, hi));
        let sql = format!("SELECT id, user_id, amount FROM orders WHERE {w} ORDER BY id");
        return b.stmt(Stmt::ordered(Kind::PrepRange, sql));
    }
    let a = m.rng.range(1, 9_000);
    let hi = a + m.rng.range(10, 3_000);
    let w = match m.rng.below(4) {
        0 => format!("id BETWEEN {} AND {}", b.key(m, a), b.key(m, hi)),
        1 => format!("id < {}", b.key(m, a)),
        2 => format!("id >= {}", b.key(m, a)),
        _ => format!("id > {} AND id <= {}", b.key(m, a), b.key(m, hi)),
    };
    if m.rng.chance(40) {
        let dir = if m.rng.chance(50) { "ASC" } else { "DESC" };
        let sql = format!("SELECT id, kind FROM events WHERE {w} ORDER BY id {dir}");
        b.stmt(Stmt::ordered(Kind::PrepRange, sql))
    } else {
        b.stmt(Stmt::read(
            Kind::PrepRange,
            format!("SELECT * FROM events WHERE {w}"),
        ))
    }
}

/// A read over every slot with a parameter on a non-key column.
pub fn scatter(m: &mut Model) -> Stmt {
    let mut b = Binder::default();
    match m.rng.below(5) {
        0 => {
            b.text(m.status());
            let sql = "SELECT * FROM orders WHERE status = ?";
            if m.rng.chance(50) {
                let sql = format!("{sql} ORDER BY amount DESC, id");
                b.stmt(Stmt::ordered(Kind::PrepScatter, sql))
            } else {
                b.stmt(Stmt::read(Kind::PrepScatter, sql.to_string()))
            }
        }
        1 => {
            b.int(m.rng.range(3, 9));
            let sql = "SELECT COUNT(*), SUM(qty), MAX(price) FROM order_items WHERE qty >= ?";
            b.stmt(Stmt::read(Kind::PrepScatter, sql.to_string()))
        }
        2 => {
            b.text(m.kind());
            b.int(m.rng.range(0, 60));
            let sql = "SELECT * FROM events WHERE kind = ? AND score > ?";
            b.stmt(Stmt::read(Kind::PrepScatter, sql.to_string()))
        }
        3 => {
            let balance = m.money(3000);
            b.text(&balance);
            let sql = "SELECT owner, COUNT(*) AS n, SUM(balance) AS b FROM accounts \
                       WHERE balance < ? GROUP BY owner";
            b.stmt(Stmt::read(Kind::PrepScatter, sql.to_string()))
        }
        _ => {
            b.int(m.rng.range(0, 300));
            let sql = "SELECT name, uses FROM tags WHERE uses BETWEEN ? AND 400 \
                       ORDER BY uses DESC, name LIMIT 5";
            b.stmt(Stmt::ordered(Kind::PrepScatter, sql.to_string()))
        }
    }
}

pub fn update(m: &mut Model) -> Stmt {
    let mut b = Binder::default();
    let sql = match m.rng.below(6) {
        0 | 1 => {
            let amount = m.money(20);
            b.text(&amount);
            b.text(m.status());
            let u = m.user();
            b.key(m, u);
            let and = if m.rng.chance(40) {
                b.text("new");
                " AND status = ?"
            } else {
                ""
            };
            format!("UPDATE orders SET amount = amount + ?, status = ? WHERE user_id = ?{and}")
        }
        2 => {
            let n = m.rng.range(1, 3) as usize;
            b.int(m.rng.range(1, 2));
            for u in users(m, n) {
                b.key(m, u);
            }
            let marks = Binder::marks(n);
            format!("UPDATE order_items SET qty = qty + ? WHERE user_id IN ({marks})")
        }
        3 => {
            let amount = m.money(50);
            b.text(&amount);
            let id = *m.rng.pick(&m.accounts);
            b.key(m, id);
            "UPDATE accounts SET balance = balance - ? WHERE account_id = ?".to_string()
        }
        4 => {
            b.int(m.rng.range(1, 3));
            let (x, y) = (*m.rng.pick(&m.events), *m.rng.pick(&m.events));
            b.key(m, x);
            b.key(m, y);
            "UPDATE events SET score = score + ? WHERE id IN (?, ?)".to_string()
        }
        _ => {
            let (id, user) = m.any_order();
            b.text(&format!("p{}", m.rng.range(1, 99)));
            b.key(m, user);
            b.int(id);
            "UPDATE orders SET note = ? WHERE user_id = ? AND id = ?".to_string()
        }
    };
    b.stmt(Stmt::write(Kind::PrepUpdate, sql))
}

pub fn delete(m: &mut Model) -> Stmt {
    let mut b = Binder::default();
    let sql = match m.rng.below(6) {
        0 => {
            let (id, user) = m.any_order();
            b.key(m, user);
            b.int(id);
            "DELETE FROM orders WHERE user_id = ? AND id = ?"
        }
        1 => {
            let (id, user, _) = m.any_item();
            b.key(m, user);
            b.int(id);
            "DELETE FROM order_items WHERE ? = user_id AND id = ?"
        }
        2 => {
            let id = *m.rng.pick(&m.accounts);
            b.key(m, id);
            "DELETE FROM accounts WHERE account_id = ?"
        }
        3 => {
            let id = *m.rng.pick(&m.events);
            b.key(m, id);
            "DELETE FROM events WHERE id = ?"
        }
        4 => {
            let t = m.any_tag();
            b.text(&t);
            "DELETE FROM tags WHERE name = ?"
        }
        _ => {
            for u in users(m, 2) {
                b.key(m, u);
            }
            b.text("cancelled");
            b.text("150.00");
            "DELETE FROM orders WHERE user_id IN (?, ?) AND status = ? AND amount < ?"
        }
    };
    b.stmt(Stmt::write(Kind::PrepDelete, sql.to_string()))
}

/// A single-row INSERT of a new key.
pub fn insert_one(m: &mut Model) -> Stmt {
    let mut b = Binder::default();
    let (cols, row) = match m.rng.below(5) {
        0 | 1 => {
            let (id, user) = m.new_order(None);
            (model::ORDER_COLS, order_values(m, &mut b, id, user))
        }
        2 => {
            let item = m.new_item();
            (model::ITEM_COLS, item_values(m, &mut b, item))
        }
        3 => {
            let id = m.new_account();
            (model::ACCOUNT_COLS, account_values(m, &mut b, id))
        }
        _ => {
            if m.rng.chance(50) {
                let id = m.new_event();
                (model::EVENT_COLS, event_values(m, &mut b, id))
            } else {
                let name = m.new_tag();
                (model::TAG_COLS, tag_values(m, &mut b, &name))
            }
        }
    };
    let sql = format!("INSERT INTO {cols} VALUES {row}");
    b.stmt(Stmt::write(Kind::PrepInsert, sql))
}

/// A new item of an existing order of a user on `shard`.
fn item_on(m: &mut Model, shard: usize) -> (i64, i64, i64) {
    let (order, user) = loop {
        let o = m.any_order();
        if user_shard(o.1) == shard {
            break o;
        }
    };
    let id = m.items.len() as i64 + 1;
    m.items.push((id, user, order));
    (id, user, order)
}

/// 2-4 new rows of orders / order_items / events / accounts: half the time all on one shard
/// (several sub-tables; must work), else wherever they fall (spanning shards: refused).
pub fn insert_multi(m: &mut Model) -> Stmt {
    let mut b = Binder::default();
    let n = m.rng.range(2, 4) as usize;
    let one = if m.rng.chance(50) {
        Some(m.rng.below(2))
    } else {
        None
    };
    let table = m.rng.below(4);
    let mut rows = Vec::new();
    let mut shards = Vec::new();
    let cols = [
        model::ORDER_COLS,
        model::ITEM_COLS,
        model::EVENT_COLS,
        model::ACCOUNT_COLS,
    ][table];
    for _ in 0..n {
        let (row, shard) = match table {
            0 => {
                let user = match one {
                    Some(s) => loop {
                        let u = m.user();
                        if user_shard(u) == s {
                            break u;
                        }
                    },
                    None => m.user(),
                };
                let (id, user) = m.new_order(Some(user));
                (order_values(m, &mut b, id, user), user_shard(user))
            }
            1 => {
                let item = match one {
                    Some(s) => item_on(m, s),
                    None => m.new_item(),
                };
                (item_values(m, &mut b, item), user_shard(item.1))
            }
            2 => {
                let id = match one {
                    Some(0) => m.new_event_in(1, 4999),
                    Some(_) => m.new_event_in(5000, EVENT_MAX),
                    None => m.new_event(),
                };
                (event_values(m, &mut b, id), event_shard(id))
            }
            _ => {
                let id = m.new_account();
                (account_values(m, &mut b, id), account_shard(id))
            }
        };
        rows.push(row);
        shards.push(shard);
    }
    let kind = if shards.iter().all(|s| *s == shards[0]) {
        Kind::PrepInsertMulti
    } else {
        Kind::PrepInsertSpan
    };
    let sql = format!("INSERT INTO {cols} VALUES {}", rows.join(", "));
    b.stmt(Stmt::write(kind, sql))
}
