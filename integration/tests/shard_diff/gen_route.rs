//! Writes routed on purpose, for the session-transaction and XA generators: to one sub-table
//! of one shard, to several sub-tables (and tables) of one shard, or to both shards; and
//! reads of the rows a transaction wrote.

use super::gen_prepared::{Binder, user_shard};
use super::model::{self, Model, USERS};
use super::stmt::{Kind, Stmt};

/// Where a transaction's writes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// One sub-table of `orders`/`order_items` on shard `.0`.
    OneSlot(usize),
    /// Several sub-tables (and other tables) of shard `.0`.
    SubTables(usize),
    /// Both shards.
    TwoShards,
}

impl Route {
    pub fn pick(m: &mut Model) -> Route {
        match m.rng.below(5) {
            0 => Route::OneSlot(m.rng.below(2)),
            1 | 2 => Route::SubTables(m.rng.below(2)),
            _ => Route::TwoShards,
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Route::OneSlot(_) => Kind::RouteOneSlot,
            Route::SubTables(_) => Kind::RouteSubTables,
            Route::TwoShards => Kind::RouteTwoShards,
        }
    }
}

/// Keys a transaction wrote (for reads of its own rows), and the shards it touched.
#[derive(Default)]
pub struct Own {
    pub users: Vec<i64>,
    pub accounts: Vec<i64>,
    pub events: Vec<i64>,
    pub shards: [bool; 2],
}

impl Own {
    fn user(&mut self, u: i64) {
        self.users.push(u);
        self.shards[user_shard(u)] = true;
    }
}

/// orders / order_items slots of a shard: 0-3 on s0, 4-7 on s1.
pub fn slot_on(m: &mut Model, shard: usize) -> usize {
    shard * 4 + m.rng.below(4)
}

/// `n` distinct slots of `shard`.
pub fn slots_on(m: &mut Model, shard: usize, n: usize) -> Vec<usize> {
    let mut slots: Vec<usize> = Vec::new();
    while slots.len() < n.min(4) {
        let s = slot_on(m, shard);
        if !slots.contains(&s) {
            slots.push(s);
        }
    }
    slots
}

/// A user whose rows live in sub-table `slot` (user mod 8).
fn user_in(m: &mut Model, slot: usize) -> i64 {
    loop {
        let u = m.rng.range(1, USERS);
        if u % 8 == slot as i64 {
            return u;
        }
    }
}

/// An order id of `user` (a new one if the user has none).
fn order_of(m: &mut Model, user: i64) -> i64 {
    let ids: Vec<i64> = m
        .orders
        .iter()
        .filter(|o| o.1 == user)
        .map(|o| o.0)
        .collect();
    if ids.is_empty() {
        return m.new_order(Some(user)).0;
    }
    *m.rng.pick(&ids)
}

/// One write to sub-table `slot` of orders / order_items.
pub fn write_slot(m: &mut Model, own: &mut Own, slot: usize, kind: Kind) -> Stmt {
    let user = user_in(m, slot);
    own.user(user);
    match m.rng.below(6) {
        0 | 1 => {
            let (id, user) = m.new_order(Some(user));
            let row = m.order_row(id, user);
            Stmt::write(
                kind,
                format!("INSERT INTO {} VALUES {row}", model::ORDER_COLS),
            )
        }
        2 => {
            let order = order_of(m, user);
            let id = m.items.len() as i64 + 1;
            m.items.push((id, user, order));
            let row = m.item_row((id, user, order));
            Stmt::write(
                kind,
                format!("INSERT INTO {} VALUES {row}", model::ITEM_COLS),
            )
        }
        3 if m.prepared_percent > 0 && m.rng.chance(m.prepared_percent) => {
            let mut b = Binder::default();
            b.int(m.rng.range(1, 9));
            b.key(m, user);
            let sql = "UPDATE orders SET amount = amount + ?, note = 'sess' WHERE user_id = ?";
            b.stmt(Stmt::write(kind, sql.to_string()))
        }
        3 => {
            let n = m.rng.range(1, 9);
            let sql = format!(
                "UPDATE orders SET amount = amount + {n}, note = 'sess' WHERE user_id = {user}"
            );
            Stmt::write(kind, sql)
        }
        4 => {
            let id = order_of(m, user);
            let sql = format!("DELETE FROM orders WHERE user_id = {user} AND id = {id}");
            Stmt::write(kind, sql)
        }
        _ => {
            let id = order_of(m, user);
            let row = m.order_row(id, user);
            let sql = format!(
                "INSERT INTO {} VALUES {row} ON DUPLICATE KEY UPDATE status = VALUES(status), \
                 amount = amount + 1",
                model::ORDER_COLS
            );
            Stmt::write(kind, sql)
        }
    }
}

/// One statement writing several slots at once (a split INSERT or `user_id IN (..)`).
pub fn write_slots(m: &mut Model, own: &mut Own, slots: &[usize], kind: Kind) -> Stmt {
    let users: Vec<i64> = slots.iter().map(|s| user_in(m, *s)).collect();
    for u in &users {
        own.user(*u);
    }
    let list: Vec<String> = users.iter().map(|u| m.key_lit(*u)).collect();
    match m.rng.below(3) {
        0 => {
            let rows: Vec<String> = users
                .iter()
                .map(|u| {
                    let (id, user) = m.new_order(Some(*u));
                    m.order_row(id, user)
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} VALUES {}",
                model::ORDER_COLS,
                rows.join(", ")
            );
            Stmt::write(kind, sql)
        }
        1 => {
            let status = m.status();
            let sql = format!(
                "UPDATE orders SET status = '{status}' WHERE user_id IN ({})",
                list.join(", ")
            );
            Stmt::write(kind, sql)
        }
        _ => {
            let q = m.rng.range(5, 10);
            let sql = format!(
                "DELETE FROM order_items WHERE user_id IN ({}) AND qty >= {q}",
                list.join(", ")
            );
            Stmt::write(kind, sql)
        }
    }
}

/// A write to another table of `shard`: accounts, events, or (s0) the unsharded notes.
pub fn write_other(m: &mut Model, own: &mut Own, shard: usize, kind: Kind) -> Stmt {
    own.shards[shard] = true;
    match m.rng.below(3) {
        0 => {
            let ids: Vec<i64> = m
                .accounts
                .iter()
                .copied()
                .filter(|a| usize::from((a % 100) / 25 >= 2) == shard)
                .collect();
            let id = *m.rng.pick(&ids);
            own.accounts.push(id);
            let amount = m.money(20);
            let sql =
                format!("UPDATE accounts SET balance = balance - {amount} WHERE account_id = {id}");
            Stmt::write(kind, sql)
        }
        1 if shard == 0 => {
            let id = m.new_note();
            let row = m.note_row(id);
            Stmt::write(
                kind,
                format!("INSERT INTO {} VALUES {row}", model::NOTE_COLS),
            )
        }
        _ => {
            let id = if shard == 0 {
                m.new_event_in(1, 4999)
            } else {
                m.new_event_in(5000, model::EVENT_MAX)
            };
            own.events.push(id);
            let row = m.event_row(id);
            Stmt::write(
                kind,
                format!("INSERT INTO {} VALUES {row}", model::EVENT_COLS),
            )
        }
    }
}

/// A write to the broadcast table (every shard).
pub fn write_broadcast(m: &mut Model, own: &mut Own, kind: Kind) -> Stmt {
    own.shards = [true, true];
    if m.rng.chance(50) {
        let code = m.new_country();
        let sql = format!("INSERT INTO countries (code, name) VALUES ('{code}', 'Land {code}')");
        return Stmt::write(kind, sql);
    }
    let code = m.rng.pick(&m.countries).clone();
    let n = m.rng.range(1, 99);
    let sql = format!("UPDATE countries SET name = 'Renamed {n}' WHERE code = '{code}'");
    Stmt::write(kind, sql)
}

/// One write of `route`'s class (`step` counts the writes so far: a two-shard route writes
/// shard `first` then the other shard first of all).
pub fn write(m: &mut Model, own: &mut Own, route: Route, step: usize, first: usize) -> Stmt {
    let kind = route.kind();
    match route {
        Route::OneSlot(shard) => {
            // The block's slot: the first write chooses it, the rest follow.
            let slot = own
                .users
                .first()
                .map_or_else(|| slot_on(m, shard), |u| (u % 8) as usize);
            write_slot(m, own, slot, kind)
        }
        Route::SubTables(shard) => match m.rng.below(4) {
            0 => {
                let n = m.rng.range(2, 3) as usize;
                let slots = slots_on(m, shard, n);
                write_slots(m, own, &slots, kind)
            }
            1 => write_other(m, own, shard, kind),
            _ => {
                let slot = slot_on(m, shard);
                write_slot(m, own, slot, kind)
            }
        },
        Route::TwoShards => {
            let shard = match step {
                0 => first,
                1 => 1 - first,
                _ => m.rng.below(2),
            };
            match m.rng.below(7) {
                0 => {
                    let slots = [slot_on(m, 0), slot_on(m, 1)];
                    write_slots(m, own, &slots, kind)
                }
                1 if step >= 2 => write_broadcast(m, own, kind),
                2 => write_other(m, own, shard, kind),
                _ => {
                    let slot = slot_on(m, shard);
                    write_slot(m, own, slot, kind)
                }
            }
        }
    }
}

/// A read of rows the transaction wrote: one slot, or one slot on each shard.
pub fn read_own(m: &mut Model, own: &Own) -> Option<Stmt> {
    if !own.accounts.is_empty() && m.rng.chance(25) {
        let id = *m.rng.pick(&own.accounts);
        let sql = format!("SELECT * FROM accounts WHERE account_id = {id}");
        return Some(Stmt::read(Kind::SessReadOwn, sql));
    }
    if !own.events.is_empty() && m.rng.chance(25) {
        let id = *m.rng.pick(&own.events);
        let sql = format!("SELECT * FROM events WHERE id = {id}");
        return Some(Stmt::read(Kind::SessReadOwn, sql));
    }
    if own.users.is_empty() {
        return None;
    }
    let u = *m.rng.pick(&own.users);
    let mut keys = vec![u];
    if let Some(v) = own.users.iter().find(|v| user_shard(**v) != user_shard(u))
        && m.rng.chance(50)
    {
        keys.push(*v);
    }
    let list: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let table = if m.rng.chance(70) {
        "orders"
    } else {
        "order_items"
    };
    let sql = format!(
        "SELECT * FROM {table} WHERE user_id IN ({}) ORDER BY id",
        list.join(", ")
    );
    Some(Stmt::ordered(Kind::SessReadOwn, sql))
}
