//! Tests of the pool's bookkeeping with fake connections: idle choice by state key, lifetime
//! and idle-timeout closing, the checker's reserved slot, lowering and raising the cap.
//! `model.rs` runs random operations and reconfigurations against the slots and the gate;
//! `live.rs` drives whole pools against a fake server.

mod live;
mod model;

use std::time::{Duration, Instant};

use super::reconfig::reap_period;
use super::slots::{CheckerGrant, Close, Entry, Grant, Limits, Slots, choose_idle, expired};

/// A fake connection.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fake {
    pub id: u32,
    pub flavour: usize,
    pub key: u64,
    pub created: Instant,
    pub last_used: Instant,
    pub dead: bool,
}

impl Entry for Fake {
    fn flavour(&self) -> usize {
        self.flavour
    }
    fn state_key(&self) -> u64 {
        self.key
    }
    fn created(&self) -> Instant {
        self.created
    }
    fn last_used(&self) -> Instant {
        self.last_used
    }
    fn is_dead(&self, _now: Instant) -> bool {
        self.dead
    }
}

pub(super) fn limits(cap: usize, reserved: usize) -> Limits {
    Limits {
        cap,
        reserved,
        idle_timeout: None,
        max_lifetime: None,
        min_idle: 0,
    }
}

pub(super) fn fake(id: u32, flavour: usize, key: u64, at: Instant) -> Fake {
    Fake {
        id,
        flavour,
        key,
        created: at,
        last_used: at,
        dead: false,
    }
}

/// Checks out (opening if granted) and returns the connection a client would hold.
pub(super) fn checkout(
    s: &mut Slots<Fake>,
    id: u32,
    flavour: usize,
    key: u64,
    now: Instant,
) -> Fake {
    match s.client_checkout(flavour, key, now) {
        Grant::Reuse(c) => c,
        Grant::Open => {
            s.client_opened();
            fake(id, flavour, key, now)
        }
        Grant::Full => panic!("full with {:?}", s.figures()),
    }
}

#[test]
fn choose_idle_prefers_the_most_recent_with_the_key() {
    let pick = |keys: &[u64], want| choose_idle(keys.iter().copied(), want);
    assert_eq!(pick(&[], 0), None);
    assert_eq!(pick(&[7], 3), Some(0));
    assert_eq!(pick(&[1, 2, 3], 9), Some(2), "no match: most recent");
    assert_eq!(pick(&[5, 2, 5, 3], 5), Some(2), "most recent match");
    assert_eq!(pick(&[5, 2, 3], 5), Some(0));
    assert_eq!(pick(&[0, 4, 0, 4], 0), Some(2));
}

#[test]
fn checkout_takes_matching_idle_connection_of_its_flavour() {
    let t = Instant::now();
    let mut s = Slots::new(limits(8, 0));
    let held: Vec<Fake> = [(1, 0, 11), (2, 0, 22), (3, 0, 11), (4, 1, 11)]
        .into_iter()
        .map(|(id, f, k)| checkout(&mut s, id, f, k, t))
        .collect();
    for c in held {
        assert_eq!(s.client_return(c, true, t), None);
    }
    assert_eq!(s.figures().idle, 4);
    // Most recently returned flavour-0 connection with key 11: id 3, then 1.
    assert_eq!(checkout(&mut s, 0, 0, 11, t).id, 3);
    assert_eq!(checkout(&mut s, 0, 0, 11, t).id, 1);
    // No match left: the most recent of the flavour.
    assert_eq!(checkout(&mut s, 0, 0, 11, t).id, 2);
    // Flavour 0 is empty now: a new one, not the flavour-1 connection.
    assert_eq!(checkout(&mut s, 99, 0, 11, t).id, 99);
    assert_eq!(s.figures().open, 5);
    assert!(s.invariant_holds());
}

#[test]
fn dead_and_expired_idle_connections_are_skipped_and_closed() {
    let t = Instant::now();
    let mut s = Slots::new(Limits {
        max_lifetime: Some(Duration::from_secs(60)),
        ..limits(4, 0)
    });
    let a = checkout(&mut s, 1, 0, 0, t);
    let b = checkout(&mut s, 2, 0, 0, t);
    let c = checkout(&mut s, 3, 0, 0, t + Duration::from_secs(50));
    s.client_return(a, true, t);
    s.client_return(Fake { dead: true, ..c }, true, t);
    s.client_return(b, true, t);
    // b (most recent) is past its lifetime at t+61 s, c is dead, a is too old as well.
    let later = t + Duration::from_secs(61);
    assert!(matches!(s.client_checkout(0, 0, later), Grant::Open));
    s.client_opened();
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.in_use), (1, 0, 1));
    assert_eq!((f.closed, f.lifetime_closed), (3, 2));
    assert!(s.invariant_holds());
}

#[test]
fn returned_connections_past_their_lifetime_or_broken_are_closed() {
    let t = Instant::now();
    let mut s = Slots::new(Limits {
        max_lifetime: Some(Duration::from_secs(10)),
        ..limits(4, 0)
    });
    let a = checkout(&mut s, 1, 0, 0, t);
    let b = checkout(&mut s, 2, 0, 0, t);
    let c = checkout(&mut s, 3, 0, 0, t);
    // Still in use at t+20 s: nothing happens until it comes back.
    assert_eq!(s.reap(t + Duration::from_secs(20)), (0, 0));
    assert_eq!(s.figures().open, 3);
    let late = t + Duration::from_secs(20);
    assert_eq!(s.client_return(a, true, late), Some(Close::Lifetime));
    assert_eq!(s.client_return(b, false, t), Some(Close::Other));
    assert_eq!(s.client_return(c, true, t), None);
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.closed, f.lifetime_closed), (1, 1, 2, 1));
    assert!(expired(s.limits(), t, late));
    assert!(
        !expired(&limits(1, 0), t, late),
        "no lifetime: never expires"
    );
}

#[test]
fn reaper_closes_timed_out_idle_connections_down_to_min_idle() {
    let t = Instant::now();
    let mut s = Slots::new(Limits {
        idle_timeout: Some(Duration::from_secs(100)),
        max_lifetime: Some(Duration::from_secs(1000)),
        min_idle: 2,
        ..limits(8, 1)
    });
    let conns: Vec<Fake> = (0..5u32)
        .map(|i| {
            let at = t + Duration::from_secs(u64::from(i) * 10);
            checkout(&mut s, i, (i % 2) as usize, 0, at)
        })
        .collect();
    for c in conns {
        s.client_return(c, true, t);
    }
    // At t+125 s ids 0, 1, 2 (last used at 0, 10, 20 s) have timed out, 3 and 4 not.
    assert_eq!(s.reap(t + Duration::from_secs(125)), (3, 0));
    assert_eq!(s.figures().idle, 2);
    // All timed out later, but min_idle keeps two.
    assert_eq!(s.reap(t + Duration::from_secs(500)), (0, 0));
    assert_eq!(s.figures().idle, 2);
    // Past their lifetime, min_idle does not keep them.
    assert_eq!(s.reap(t + Duration::from_secs(1100)), (0, 2));
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.closed, f.lifetime_closed), (0, 0, 5, 2));
    assert!(s.invariant_holds());
}

#[test]
fn at_the_cap_an_idle_connection_of_another_flavour_is_traded() {
    let t = Instant::now();
    let mut s = Slots::new(limits(3, 1));
    let a = checkout(&mut s, 1, 0, 0, t);
    let b = checkout(&mut s, 2, 1, 0, t + Duration::from_secs(1));
    assert_eq!(s.checker_open(), CheckerGrant::Open);
    s.checker_opened();
    assert!(
        matches!(s.client_checkout(2, 0, t), Grant::Full),
        "2 client slots"
    );
    s.client_return(a, true, t);
    s.client_return(b, true, t);
    let c = checkout(&mut s, 3, 3, 0, t);
    assert_eq!(c.id, 3, "a new connection of flavour 3");
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.in_use, f.checker), (3, 1, 1, 1));
    assert_eq!(f.closed, 1, "the least recently used idle one was closed");
    assert!(s.invariant_holds());
}

#[test]
fn checker_slot_trades_an_idle_connection_and_is_single() {
    let t = Instant::now();
    let mut s = Slots::new(limits(2, 1));
    // Fill the cap with idle connections of two flavours (clients may hold only one at once).
    let a = checkout(&mut s, 1, 0, 0, t);
    s.client_return(a, true, t);
    let b = checkout(&mut s, 2, 1, 0, t + Duration::from_secs(1));
    s.client_return(b, true, t + Duration::from_secs(1));
    assert_eq!((s.figures().open, s.figures().idle), (2, 2));
    assert_eq!(
        s.checker_open(),
        CheckerGrant::Open,
        "trades the least recently used idle connection"
    );
    s.checker_opened();
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.checker, f.closed), (2, 1, 1, 1));
    assert_eq!(
        s.checker_open(),
        CheckerGrant::Refused,
        "one checker connection at a time"
    );
    s.checker_closed(Close::Other);
    assert_eq!(
        s.checker_open(),
        CheckerGrant::Open,
        "reopened after a close"
    );
    s.checker_open_failed();
    assert_eq!(s.figures().checker, 0);
    let mut none = Slots::<Fake>::new(limits(2, 0));
    assert_eq!(
        none.checker_open(),
        CheckerGrant::Refused,
        "no reserved slot"
    );
    assert!(s.invariant_holds() && none.invariant_holds());
}

#[test]
fn reap_period_follows_the_shorter_limit() {
    let mut l = limits(2, 1);
    assert_eq!(reap_period(&l), None);
    l.idle_timeout = Some(Duration::from_secs(600));
    assert_eq!(reap_period(&l), Some(Duration::from_secs(300)));
    l.max_lifetime = Some(Duration::from_secs(60));
    assert_eq!(reap_period(&l), Some(Duration::from_secs(30)));
    l.idle_timeout = Some(Duration::from_millis(10));
    assert_eq!(reap_period(&l), Some(Duration::from_secs(1)));
}

#[test]
fn lowering_the_cap_closes_idle_at_once_and_in_use_as_they_come_back() {
    let t = Instant::now();
    let mut s = Slots::new(limits(6, 1));
    let mut held: Vec<Fake> = (0..5).map(|i| checkout(&mut s, i, 0, 0, t)).collect();
    // Two idle (the least recently used first), three in use.
    for c in held.drain(..2) {
        s.client_return(c, true, t);
    }
    assert_eq!(s.reconfigure(limits(3, 1)), 2, "idle above the cap closed");
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.in_use, f.closed), (3, 0, 3, 2));
    assert!(
        s.invariant_holds() && !s.within_limits(),
        "3 in use, 2 client slots"
    );
    // At the cap with nothing idle: no client slot, no room for the checker.
    assert!(matches!(s.client_checkout(0, 0, t), Grant::Full));
    assert_eq!(s.checker_open(), CheckerGrant::NoRoom);
    // Lower still: in use above the cap are closed as they come back, not kept idle.
    assert_eq!(s.reconfigure(limits(2, 1)), 0, "nothing idle to close");
    let c = held.pop().expect("held");
    assert_eq!(s.client_return(c, true, t), Some(Close::OverCap));
    assert_eq!((s.figures().open, s.figures().idle), (2, 0));
    // At the cap now: the next one back is kept, and the checker trades it.
    let c = held.pop().expect("held");
    assert_eq!(s.client_return(c, true, t), None);
    assert!(s.within_limits());
    assert_eq!(s.checker_open(), CheckerGrant::Open);
    s.checker_opened();
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.in_use, f.checker), (2, 0, 1, 1));
    assert!(s.invariant_holds());
}

#[test]
fn raising_the_cap_makes_room_and_keeps_connections() {
    let t = Instant::now();
    let mut s = Slots::new(limits(2, 1));
    let a = checkout(&mut s, 1, 0, 0, t);
    assert!(matches!(s.client_checkout(1, 0, t), Grant::Full));
    assert_eq!(s.reconfigure(limits(4, 1)), 0);
    let b = checkout(&mut s, 2, 1, 0, t);
    let c = checkout(&mut s, 3, 2, 0, t);
    assert!(
        matches!(s.client_checkout(3, 0, t), Grant::Full),
        "3 client slots"
    );
    for conn in [a, b, c] {
        assert_eq!(s.client_return(conn, true, t), None);
    }
    let f = s.figures();
    assert_eq!((f.open, f.idle, f.created, f.closed), (3, 3, 3, 0));
    // Other limits follow too: a lifetime set later closes the old idle ones at the next reap.
    s.reconfigure(Limits {
        max_lifetime: Some(Duration::from_secs(5)),
        ..limits(4, 1)
    });
    assert_eq!(s.reap(t + Duration::from_secs(6)), (0, 3));
    assert!(s.invariant_holds() && s.within_limits());
}
