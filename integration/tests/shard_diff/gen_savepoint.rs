//! Nested savepoints inside an open transaction, as ORMs use them for nested transactions:
//! `SAVEPOINT a .. SAVEPOINT b .. ROLLBACK TO a / ROLLBACK TO b / RELEASE SAVEPOINT b`, with
//! writes to both shards and to several sub-tables of one shard between them.

use super::gen_route::{self as route, Own};
use super::model::Model;
use super::stmt::{Kind, Stmt};

const NAMES: [&str; 3] = ["sp_a", "sp_b", "sp_c"];

fn set(name: &str) -> Stmt {
    Stmt::session(Kind::SavepointSet, &format!("SAVEPOINT {name}"))
}

fn rollback_to(m: &mut Model, name: &str, kind: Kind) -> Stmt {
    let sql = match m.rng.below(3) {
        0 => format!("ROLLBACK TO {name}"),
        1 => format!("ROLLBACK TO SAVEPOINT {name}"),
        _ => format!("ROLLBACK WORK TO SAVEPOINT {name}"),
    };
    Stmt::session(kind, &sql)
}

/// 1-2 writes between savepoints: one shard's sub-tables, the other shard, or both.
fn writes(m: &mut Model, own: &mut Own, out: &mut Vec<Stmt>) {
    for _ in 0..m.rng.range(1, 2) {
        let s = match m.rng.below(4) {
            0 => {
                let shard = m.rng.below(2);
                let slots = route::slots_on(m, shard, 2);
                route::write_slots(m, own, &slots, Kind::RouteSubTables)
            }
            1 => {
                let slots = [route::slot_on(m, 0), route::slot_on(m, 1)];
                route::write_slots(m, own, &slots, Kind::RouteTwoShards)
            }
            2 => {
                let shard = m.rng.below(2);
                route::write_other(m, own, shard, Kind::RouteSubTables)
            }
            _ => {
                let shard = m.rng.below(2);
                let slot = route::slot_on(m, shard);
                route::write_slot(m, own, slot, Kind::RouteOneSlot)
            }
        };
        out.push(s);
    }
}

/// Savepoint statements and writes (3-7 steps), into `out`; a transaction is open.
pub fn nested(m: &mut Model, own: &mut Own, out: &mut Vec<Stmt>) {
    // Savepoints set and still alive, oldest first; and one that a rollback or release removed.
    let mut alive: Vec<&str> = Vec::new();
    let mut gone: Option<&str> = None;
    writes(m, own, out);
    out.push(set(NAMES[0]));
    alive.push(NAMES[0]);
    writes(m, own, out);
    for _ in 0..m.rng.range(3, 7) {
        match m.rng.below(10) {
            0..=2 if alive.len() < NAMES.len() => {
                let name = NAMES[alive.len()];
                out.push(set(name));
                alive.push(name);
                if gone == Some(name) {
                    gone = None;
                }
                writes(m, own, out);
            }
            0..=4 => writes(m, own, out),
            5..=7 => {
                // Back to one of them: the later ones are gone, it stays.
                let i = m.rng.below(alive.len());
                let name = alive[i];
                out.push(rollback_to(m, name, Kind::SavepointRollback));
                if let Some(g) = alive.get(i + 1) {
                    gone = Some(g);
                }
                alive.truncate(i + 1);
            }
            8 if alive.len() > 1 => {
                // RELEASE removes it and every later one.
                let i = m.rng.range(1, alive.len() as i64 - 1) as usize;
                let name = alive[i];
                out.push(Stmt::session(
                    Kind::SavepointRelease,
                    &format!("RELEASE SAVEPOINT {name}"),
                ));
                gone = Some(name);
                alive.truncate(i);
            }
            _ => {
                if let Some(name) = gone {
                    // Must fail alike (1305 SAVEPOINT does not exist) on both sides.
                    out.push(rollback_to(m, name, Kind::SavepointGone));
                } else {
                    writes(m, own, out);
                }
            }
        }
    }
}
