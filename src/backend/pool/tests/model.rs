//! A random model run of the slots together with the real gate, as `Pool` drives them:
//! permits taken (then a slot, possibly later: the race with a reconfiguration), connections
//! given back before their permits, failed opens, the checker, reaps, clock jumps, and
//! reconfigurations of the cap and the other limits, as `Pool::reconfigure` applies them.

use std::time::{Duration, Instant};

use super::super::gate::{Gate, Permit};
use super::super::slots::{CheckerGrant, Close, Grant, Limits, Slots};
use super::{Fake, fake};

/// A small deterministic generator (xorshift64*), enough for a model test.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }

    /// Random limits with a cap in `reserved + 1 ..= reserved + spread`.
    fn limits(&mut self, reserved: usize, spread: usize) -> Limits {
        Limits {
            cap: reserved + 1 + self.below(spread),
            reserved,
            idle_timeout: [None, Some(Duration::from_secs(30))][self.below(2)],
            max_lifetime: [None, Some(Duration::from_secs(90))][self.below(2)],
            min_idle: self.below(3),
        }
    }
}

/// How often the interesting paths ran, over all seeds.
#[derive(Debug, Default)]
struct Seen {
    trades_at_cap: usize,
    shrinks_below_open: usize,
    over_cap_closes: usize,
    full_while_draining: usize,
    checker_no_room: usize,
}

/// What each step must keep, with `ceiling` the ghost bound on `open`: the cap, or after a
/// shrink below `open` the value of `open` then, lowered as `open` falls, never raised above
/// the cap again except by a reconfiguration.
///
/// * I1–I3 (`invariant_holds`), and the gate's permits add up: `held == clients + pending`;
/// * `open <= ceiling`: after a shrink `open` never grows while at or above the new cap;
/// * a connection opened (client or checker) leaves `open <= cap`: none is opened that would
///   make `open` exceed the cap in force;
/// * no client holds a connection ⇒ `open <= cap`: everything in use above a lowered cap
///   has drained once given back;
/// * the gate owes no permits ⇒ `open <= cap` and `in_use <= cap - reserved`, and a permit
///   holder or the checker is refused room only while the gate still owes permits (so waiting
///   for room ends after finitely many returns).
#[test]
fn model_run_with_reconfigurations_keeps_the_cap() {
    let mut seen = Seen::default();
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let reserved = usize::from(rng.below(3) > 0);
        let mut lim = rng.limits(reserved, 6);
        let mut s = Slots::new(lim);
        let gate = Gate::new(lim.client_slots());
        let mut ceiling = lim.cap;
        let mut now = Instant::now();
        // Clients holding a connection (and its permit), and permit holders without a slot.
        let mut held: Vec<(Fake, Permit)> = Vec::new();
        let mut pending: Vec<Permit> = Vec::new();
        let mut checker: Option<Fake> = None;
        let mut next_id = 0;
        for step in 0..4000 {
            let ctx = format!("seed {seed} step {step}");
            let before = s.figures();
            match rng.below(16) {
                // A permit, if the gate has one free (nobody queues in this model).
                0..=2 => {
                    if let Some(p) = gate.try_enter() {
                        assert!(gate.in_use() <= lim.client_slots(), "{ctx}: over the gate");
                        pending.push(p);
                    }
                }
                // A permit holder asks the slots (again).
                3..=5 if !pending.is_empty() => {
                    let i = rng.below(pending.len());
                    let (flavour, key) = (rng.below(4), rng.below(3) as u64);
                    match s.client_checkout(flavour, key, now) {
                        Grant::Reuse(c) => held.push((c, pending.swap_remove(i))),
                        Grant::Open if rng.below(8) == 0 => {
                            s.client_open_failed();
                            pending.swap_remove(i);
                        }
                        Grant::Open => {
                            assert!(s.figures().open <= lim.cap, "{ctx}: opened over the cap");
                            if before.open == lim.cap {
                                seen.trades_at_cap += 1;
                            }
                            s.client_opened();
                            next_id += 1;
                            let c = fake(next_id, flavour, key, now);
                            held.push((c, pending.swap_remove(i)));
                        }
                        Grant::Full => {
                            assert!(gate.debt() > 0, "{ctx}: full, gate owes nothing");
                            seen.full_while_draining += 1;
                        }
                    }
                }
                // A permit holder gives up waiting.
                6 if !pending.is_empty() => drop(pending.swap_remove(rng.below(pending.len()))),
                // A connection comes back, then its permit (as `PooledConn` drops them).
                7..=9 if !held.is_empty() => {
                    let (mut c, permit) = held.swap_remove(rng.below(held.len()));
                    c.last_used = now;
                    c.dead = rng.below(10) == 0;
                    if s.client_return(c, rng.below(10) > 0, now) == Some(Close::OverCap) {
                        seen.over_cap_closes += 1;
                    }
                    drop(permit);
                }
                10 if reserved > 0 => match checker.take() {
                    Some(_) => s.checker_closed(Close::Other),
                    None => match s.checker_open() {
                        CheckerGrant::Open => {
                            assert!(s.figures().open <= lim.cap, "{ctx}: checker over the cap");
                            s.checker_opened();
                            checker = Some(fake(0, 0, 0, now));
                        }
                        CheckerGrant::NoRoom => {
                            assert!(gate.debt() > 0, "{ctx}: checker refused, gate owes nothing");
                            seen.checker_no_room += 1;
                        }
                        CheckerGrant::Refused => panic!("{ctx}: checker refused"),
                    },
                },
                11 => {
                    s.reap(now);
                }
                // Reconfiguration, as `Pool::reconfigure` applies it.
                12 if rng.below(4) == 0 => {
                    lim = rng.limits(reserved, 7);
                    s.reconfigure(lim);
                    gate.resize(lim.client_slots());
                    let open = s.figures().open;
                    if open > lim.cap {
                        seen.shrinks_below_open += 1;
                    }
                    ceiling = open.max(lim.cap);
                }
                _ => now += Duration::from_secs(rng.below(20) as u64),
            }
            let f = s.figures();
            assert!(s.invariant_holds(), "{ctx}: {f:?} {lim:?}");
            assert!(f.open <= ceiling, "{ctx}: open {} over {ceiling}", f.open);
            ceiling = lim.cap.max(ceiling.min(f.open));
            assert_eq!(f.in_use, held.len(), "{ctx}");
            assert_eq!(gate.in_use(), held.len() + pending.len(), "{ctx}: permits");
            assert_eq!(f.checker, usize::from(checker.is_some()));
            if held.is_empty() {
                assert!(
                    f.open <= lim.cap,
                    "{ctx}: nothing in use, {f:?} cap {}",
                    lim.cap
                );
            }
            if gate.debt() == 0 {
                assert!(s.within_limits(), "{ctx}: settled, {f:?} {lim:?}");
            }
        }
        // Everything back: the cap holds, and exactly the client slots are free at the gate.
        for (c, permit) in held.drain(..) {
            s.client_return(c, true, now);
            drop(permit);
        }
        pending.clear();
        let f = s.figures();
        assert!(f.open <= lim.cap && s.within_limits(), "seed {seed}: {f:?}");
        assert_eq!((gate.in_use(), gate.debt()), (0, 0), "seed {seed}");
        assert_eq!(gate.available(), lim.client_slots(), "seed {seed}");
    }
    assert!(seen.trades_at_cap > 100, "{seen:?}");
    assert!(seen.shrinks_below_open > 50, "{seen:?}");
    assert!(seen.over_cap_closes > 50, "{seen:?}");
    assert!(seen.full_while_draining > 20, "{seen:?}");
    assert!(seen.checker_no_room > 5, "{seen:?}");
}
