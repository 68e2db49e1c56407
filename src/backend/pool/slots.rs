//! The pool's bookkeeping, free of I/O: idle lists per flavour, the count of open connections
//! against the cap, which idle connection a checkout gets, and when connections are closed.
//!
//! # Why open connections never exceed the cap
//!
//! `open` counts every connection that exists or is being opened: idle ones, ones checked out
//! by clients (`in_use`, including those still connecting) and the health checker's (`checker`).
//! After every method:
//!
//! * (I1) `open == idle + in_use + checker` (each method changes both sides together);
//! * (I2) `open > cap` ⇒ `idle == 0`: only a lowered cap ([`Slots::reconfigure`]) can put
//!   `open` above it, and that closes idle connections (least recently used first) while it
//!   is; a connection given back while `open > cap` is closed rather than kept idle;
//! * (I3) `checker <= reserved`, and `reserved < cap` (`cap >= 2` from the config).
//!
//! `open` only grows in [`Slots::client_checkout`] and [`Slots::checker_open`], each of which
//! either checks `open < cap` first or, at `open == cap`, closes an idle connection in the same
//! step (a trade, `open` unchanged); above the cap there is nothing idle to trade (I2), so they
//! refuse. Nothing else adds to `open`, so `open <= cap` holds as long as the cap is not
//! lowered, and after it is lowered below `open`:
//!
//! * no connection is opened while `open >= cap` (the new cap), so `open` stays at most its
//!   value at the shrink (at most the old cap) and never grows until it is under the new cap;
//! * each client return while `open > cap` closes its connection, and once no client holds one
//!   (`in_use == 0`) `open <= cap` again: otherwise `idle == 0` (I2) and `open == checker <=
//!   reserved < cap` (I1, I3), a contradiction.
//!
//! That a checkout finds room is the other half, and it rests on the limits: clients may hold
//! at most `cap - reserved` connections (`in_use` is checked here, and the pool hands out only
//! that many semaphore permits), the checker at most `reserved` (0 or 1). A client asking with
//! `in_use < cap - reserved` when `open == cap` leaves
//! `idle = cap - in_use - checker >= cap - (cap - reserved - 1) - reserved = 1` idle connection to
//! trade; the checker asking when `open == cap` leaves `idle >= cap - (cap - reserved) - 0 =
//! reserved >= 1`. So [`Grant::Full`] is unreachable while the cap has not been lowered under
//! the connections in use; after a shrink it means "wait for a connection to come back" (the
//! pool waits, see `reconfig.rs`). The model test in `tests/model.rs` drives random operations
//! and reconfigurations and checks all of this after each step.

use std::time::{Duration, Instant};

use crate::backend::connection::Flavour;

/// What the bookkeeping needs to know of a connection.
pub(super) trait Entry {
    /// `Flavour::index` of the connection.
    fn flavour(&self) -> usize;
    /// Which session state it carries (0 = none).
    fn state_key(&self) -> u64;
    fn created(&self) -> Instant;
    fn last_used(&self) -> Instant;
    /// The server closed it while it sat idle (checked just before reuse).
    fn is_dead(&self, now: Instant) -> bool;
}

/// The limits one pool applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// `pool.max_connections`: most open connections, the checker's included.
    pub cap: usize,
    /// Slots reserved for the health checker (0 or 1); clients may hold `cap - reserved`.
    pub reserved: usize,
    /// Idle connections unused this long are closed by the reaper (down to `min_idle`).
    pub idle_timeout: Option<Duration>,
    /// Connections older than this are closed when returned or found idle.
    pub max_lifetime: Option<Duration>,
    /// The reaper closes timed-out idle connections only while more than this many are idle.
    pub min_idle: usize,
}

impl Limits {
    /// How many connections clients may hold at once.
    pub fn client_slots(&self) -> usize {
        self.cap.saturating_sub(self.reserved)
    }
}

/// What a checkout gets.
#[derive(Debug)]
pub(super) enum Grant<C> {
    /// An idle connection to reuse.
    Reuse(C),
    /// A slot counted for a new connection: open it, then `opened` or `open_failed`.
    Open,
    /// No room now: every client slot is busy, or the pool is at or above a lowered cap with
    /// nothing idle to trade. Unreachable for permit holders unless the cap was lowered (see
    /// the module docs); then a connection given back makes room.
    Full,
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Close {
    /// Broken, closed by the server, traded for another flavour, or the checker let it go.
    Other,
    /// Idle longer than `idle_timeout`.
    IdleTimeout,
    /// Older than `max_lifetime`.
    Lifetime,
    /// Idle or given back while the pool was above a lowered cap.
    OverCap,
}

/// Whether the checker may open its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CheckerGrant {
    /// A slot is counted for it: open it, then `checker_opened` or `checker_open_failed`.
    Open,
    /// No reserved slot, or the checker holds its connection already.
    Refused,
    /// The pool is at or above a lowered cap with nothing idle to trade: wait for a return.
    NoRoom,
}

/// Counters and figures for `PoolStats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Figures {
    pub open: usize,
    pub idle: usize,
    pub in_use: usize,
    pub checker: usize,
    pub created: u64,
    pub closed: u64,
    pub lifetime_closed: u64,
}

/// The bookkeeping of one pool.
pub(super) struct Slots<C> {
    limits: Limits,
    /// Idle connections by flavour index, most recently returned last.
    idle: [Vec<C>; Flavour::COUNT],
    open: usize,
    in_use: usize,
    checker: bool,
    /// Checkouts (and the checker) waiting for room after `Grant::Full` or `NoRoom`.
    room_waiters: usize,
    created: u64,
    closed: u64,
    lifetime_closed: u64,
}

impl<C: Entry> Slots<C> {
    pub fn new(limits: Limits) -> Self {
        Slots {
            limits,
            idle: Default::default(),
            open: 0,
            in_use: 0,
            checker: false,
            room_waiters: 0,
            created: 0,
            closed: 0,
            lifetime_closed: 0,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn figures(&self) -> Figures {
        Figures {
            open: self.open,
            idle: self.idle_count(),
            in_use: self.in_use,
            checker: usize::from(self.checker),
            created: self.created,
            closed: self.closed,
            lifetime_closed: self.lifetime_closed,
        }
    }

    fn idle_count(&self) -> usize {
        self.idle.iter().map(Vec::len).sum()
    }

    /// I1, I2 and I3 of the module docs.
    pub fn invariant_holds(&self) -> bool {
        self.open == self.idle_count() + self.in_use + usize::from(self.checker)
            && (self.open <= self.limits.cap || self.idle_count() == 0)
            && usize::from(self.checker) <= self.limits.reserved
            && self.limits.reserved < self.limits.cap
    }

    /// `open <= cap` and `in_use <= cap - reserved`: always true unless a lowered cap is
    /// still draining.
    #[cfg(test)]
    pub fn within_limits(&self) -> bool {
        self.open <= self.limits.cap && self.in_use <= self.limits.client_slots()
    }

    /// Applies changed limits (`reserved` unchanged). Idle connections above a lowered cap are
    /// closed, least recently used first; ones in use above it are closed as they come back.
    /// Returns how many were closed.
    pub fn reconfigure(&mut self, limits: Limits) -> usize {
        self.limits = limits;
        let mut closed = 0;
        while self.open > self.limits.cap {
            let Some((f, i)) = self.least_recently_used() else {
                break;
            };
            let conn = self.idle[f].remove(i);
            self.close(conn, Close::OverCap);
            closed += 1;
        }
        closed
    }

    /// One more waiter for room (after `Grant::Full` or `CheckerGrant::NoRoom`).
    pub fn wait_for_room(&mut self) {
        self.room_waiters += 1;
    }

    /// A waiter for room stopped waiting.
    pub fn stop_waiting_for_room(&mut self) {
        self.room_waiters = self.room_waiters.saturating_sub(1);
    }

    /// Someone waits for room (to be woken after a return or a close).
    pub fn room_wanted(&self) -> bool {
        self.room_waiters > 0
    }

    /// A client checkout: the preferred idle connection of `flavour` (see [`choose_idle`]),
    /// else a slot for a new one (under the cap, or by closing the least recently used idle
    /// connection of another flavour).
    pub fn client_checkout(&mut self, flavour: usize, state_key: u64, now: Instant) -> Grant<C> {
        if self.in_use >= self.limits.client_slots() {
            return Grant::Full;
        }
        if let Some(conn) = self.take_idle(flavour, state_key, now) {
            self.in_use += 1;
            return Grant::Reuse(conn);
        }
        if !self.make_room() {
            return Grant::Full;
        }
        self.open += 1;
        self.in_use += 1;
        Grant::Open
    }

    /// A connection granted by `Grant::Open` was opened.
    pub fn client_opened(&mut self) {
        self.created += 1;
    }

    /// A connection granted by `Grant::Open` could not be opened (or the checkout was dropped).
    pub fn client_open_failed(&mut self) {
        self.open -= 1;
        self.in_use -= 1;
    }

    /// A client gives a connection back: kept idle if `reusable`, young enough and the pool is
    /// not above its cap (I2), else closed. Returns why it was closed, if it was.
    pub fn client_return(&mut self, conn: C, reusable: bool, now: Instant) -> Option<Close> {
        self.in_use -= 1;
        let why = if !reusable {
            Close::Other
        } else if expired(&self.limits, conn.created(), now) {
            Close::Lifetime
        } else if self.open > self.limits.cap {
            Close::OverCap
        } else {
            self.idle[conn.flavour()].push(conn);
            return None;
        };
        self.close(conn, why);
        Some(why)
    }

    /// The checker opens its connection in the reserved slot (trading an idle connection
    /// when the pool is at its cap).
    pub fn checker_open(&mut self) -> CheckerGrant {
        if self.checker || self.limits.reserved == 0 {
            return CheckerGrant::Refused;
        }
        if !self.make_room() {
            return CheckerGrant::NoRoom;
        }
        self.open += 1;
        self.checker = true;
        CheckerGrant::Open
    }

    pub fn checker_opened(&mut self) {
        self.created += 1;
    }

    /// The checker's connection could not be opened.
    pub fn checker_open_failed(&mut self) {
        self.open -= 1;
        self.checker = false;
    }

    /// The checker closed its connection.
    pub fn checker_closed(&mut self, why: Close) {
        self.open -= 1;
        self.checker = false;
        self.count_close(why);
    }

    /// Closes idle connections past `max_lifetime` (always) and those unused for
    /// `idle_timeout`, least recently used first, while more than `min_idle` are idle.
    /// Returns how many were closed for each reason: (idle timeout, lifetime).
    pub fn reap(&mut self, now: Instant) -> (usize, usize) {
        let limits = self.limits;
        let mut lifetime = Vec::new();
        for list in &mut self.idle {
            let mut i = 0;
            while i < list.len() {
                if expired(&limits, list[i].created(), now) {
                    lifetime.push(list.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        let expired_count = lifetime.len();
        for conn in lifetime {
            self.close(conn, Close::Lifetime);
        }
        let mut timed_out = 0;
        if let Some(timeout) = limits.idle_timeout {
            while self.idle_count() > limits.min_idle {
                let Some((f, i)) = self.least_recently_used() else {
                    break;
                };
                if now.saturating_duration_since(self.idle[f][i].last_used()) < timeout {
                    break;
                }
                let conn = self.idle[f].remove(i);
                self.close(conn, Close::IdleTimeout);
                timed_out += 1;
            }
        }
        (timed_out, expired_count)
    }

    /// Takes the idle connection `choose_idle` picks, closing dead and expired ones on the way.
    fn take_idle(&mut self, flavour: usize, state_key: u64, now: Instant) -> Option<C> {
        loop {
            let list = self.idle.get_mut(flavour)?;
            let i = choose_idle(list.iter().map(Entry::state_key), state_key)?;
            let conn = list.remove(i);
            if expired(&self.limits, conn.created(), now) {
                self.close(conn, Close::Lifetime);
            } else if conn.is_dead(now) {
                self.close(conn, Close::Other);
            } else {
                return Some(conn);
            }
        }
    }

    /// Makes sure one more connection fits: true when `open < cap`, or at `open == cap` after
    /// closing the least recently used idle connection; false when every slot is busy or the
    /// pool is above a lowered cap (then nothing is idle, I2).
    fn make_room(&mut self) -> bool {
        if self.open < self.limits.cap {
            return true;
        }
        if self.open > self.limits.cap {
            return false;
        }
        match self.least_recently_used() {
            Some((f, i)) => {
                let conn = self.idle[f].remove(i);
                self.close(conn, Close::Other);
                true
            }
            None => false,
        }
    }

    /// (flavour, index) of the idle connection used longest ago.
    fn least_recently_used(&self) -> Option<(usize, usize)> {
        self.idle
            .iter()
            .enumerate()
            .flat_map(|(f, list)| list.iter().enumerate().map(move |(i, c)| (f, i, c)))
            .min_by_key(|(_, _, c)| c.last_used())
            .map(|(f, i, _)| (f, i))
    }

    /// Closes an idle connection (already removed from its list).
    fn close(&mut self, conn: C, why: Close) {
        drop(conn);
        self.open -= 1;
        self.count_close(why);
    }

    fn count_close(&mut self, why: Close) {
        self.closed += 1;
        if why == Close::Lifetime {
            self.lifetime_closed += 1;
        }
    }
}

/// Which idle connection a checkout takes, given the state keys of a flavour's idle list
/// (most recently returned last): the most recent one whose key equals `wanted`, else the most
/// recent one. `None` for an empty list.
pub(super) fn choose_idle(
    keys: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator,
    wanted: u64,
) -> Option<usize> {
    let len = keys.len();
    let last = len.checked_sub(1)?;
    let from_end = keys.rev().position(|k| k == wanted);
    Some(from_end.map_or(last, |back| last - back))
}

/// Is a connection created at `created` past the pool's `max_lifetime` at `now`?
pub(super) fn expired(limits: &Limits, created: Instant, now: Instant) -> bool {
    limits
        .max_lifetime
        .is_some_and(|max| now.saturating_duration_since(created) >= max)
}
