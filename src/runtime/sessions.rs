//! The list of connected client sessions for `SHOW SHARDGATE SESSIONS`: each session owns a
//! card it updates after each command; the proxy keeps the cards by connection id.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What one session shows of itself.
#[derive(Debug)]
pub struct SessionCard {
    pub id: u32,
    pub user: String,
    pub host: String,
    pub connected_at: Instant,
    pub commands: AtomicU64,
    state: Mutex<CardState>,
}

/// The parts of a card that change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardState {
    pub schema: Option<String>,
    /// Why it keeps a backend connection (transaction, pin), if it does.
    pub held_for: Option<&'static str>,
    /// The config version it routes with.
    pub config_version: u64,
}

impl SessionCard {
    pub fn new(id: u32, user: &str, host: &str) -> Self {
        SessionCard {
            id,
            user: user.to_string(),
            host: host.to_string(),
            connected_at: Instant::now(),
            commands: AtomicU64::new(0),
            state: Mutex::new(CardState::default()),
        }
    }

    /// Records the state after a command (no allocation when nothing changed).
    pub fn update(&self, schema: Option<&str>, held_for: Option<&'static str>, version: u64) {
        self.commands.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.schema.as_deref() != schema {
            s.schema = schema.map(str::to_string);
        }
        s.held_for = held_for;
        s.config_version = version;
    }

    pub fn state(&self) -> CardState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Cards of the connected sessions.
#[derive(Debug, Default)]
pub struct SessionList {
    cards: Mutex<BTreeMap<u32, Arc<SessionCard>>>,
}

impl SessionList {
    pub fn add(&self, card: Arc<SessionCard>) {
        self.lock().insert(card.id, card);
    }

    pub fn remove(&self, id: u32) {
        self.lock().remove(&id);
    }

    /// Every card, by connection id.
    pub fn all(&self) -> Vec<Arc<SessionCard>> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Arc<SessionCard>>> {
        self.cards.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_come_and_go() {
        let list = SessionList::default();
        let card = Arc::new(SessionCard::new(7, "app", "127.0.0.1"));
        list.add(Arc::clone(&card));
        card.update(Some("shop"), Some("transaction"), 3);
        let all = list.all();
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].state(),
            CardState {
                schema: Some("shop".into()),
                held_for: Some("transaction"),
                config_version: 3
            }
        );
        assert_eq!(all[0].commands.load(Ordering::Relaxed), 1);
        list.remove(7);
        assert!(list.all().is_empty());
    }
}
