//! The session's prepared statements: the ids the client sees, mapped to a backend
//! connection's own statement ids.

use std::collections::HashMap;

use crate::executor::passthrough::Prepared;

/// One prepared statement of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The backend connection it was prepared on.
    pub conn_id: u64,
    pub prepared: Prepared,
}

/// Client statement id → backend statement.
#[derive(Debug, Default)]
pub struct Statements {
    next_id: u32,
    map: HashMap<u32, Entry>,
}

impl Statements {
    /// Registers a statement prepared on `conn_id` and returns the client's id for it.
    pub fn insert(&mut self, conn_id: u64, prepared: Prepared) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.map.contains_key(&self.next_id) {
                break;
            }
        }
        self.map.insert(self.next_id, Entry { conn_id, prepared });
        self.next_id
    }

    pub fn get(&self, id: u32) -> Option<Entry> {
        self.map.get(&id).copied()
    }

    pub fn remove(&mut self, id: u32) -> Option<Entry> {
        self.map.remove(&id)
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_map_back() {
        let mut s = Statements::default();
        let p = |id| Prepared {
            backend_stmt_id: id,
            params: 0,
            cols: 0,
        };
        let a = s.insert(7, p(100));
        let b = s.insert(7, p(200));
        assert_ne!(a, b);
        assert_eq!(s.get(b).map(|e| e.prepared.backend_stmt_id), Some(200));
        assert!(s.remove(a).is_some());
        assert!(s.get(a).is_none());
        s.next_id = u32::MAX;
        assert_eq!(s.insert(1, p(1)), 1, "ids wrap to 1, skipping 0");
    }
}
