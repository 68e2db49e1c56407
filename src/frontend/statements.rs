//! The session's prepared statements: the ids the client sees, with what executing them on
//! any backend connection needs (SQL text, parameter count, whether it is a read, the
//! parameter types last sent, long data buffered until the execute).

use std::collections::HashMap;
use std::sync::Arc;

use crate::executor::passthrough::Prepared;

/// One prepared statement of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// As the backend described it when the client prepared it.
    pub prepared: Prepared,
    pub sql: Arc<[u8]>,
    /// A plain read by the routing rules: executions may run on a replica.
    pub read: bool,
    /// Parameter types from the last execute that sent them (2 bytes per parameter).
    pub types: Option<Box<[u8]>>,
    /// COM_STMT_SEND_LONG_DATA chunks since the last execute (parameter, data), sent to the
    /// connection that runs the execute.
    pub long_data: Vec<(u16, Vec<u8>)>,
    /// More long data arrived than max_allowed_packet: the execute fails.
    pub long_data_overflow: bool,
    /// Calls of session functions in the statement.
    pub fns: crate::frontend::effects::SessionFns,
    /// On a sharded schema: the statement's routing shape (routed at each execute).
    pub shape: Option<Arc<crate::router::shard::analyze::Shape>>,
}

/// Client statement id → statement.
#[derive(Debug, Default)]
pub struct Statements {
    next_id: u32,
    map: HashMap<u32, Entry>,
}

impl Statements {
    /// Registers a prepared statement and returns the client's id for it.
    pub fn insert(&mut self, prepared: Prepared, sql: Arc<[u8]>, read: bool) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.map.contains_key(&self.next_id) {
                break;
            }
        }
        let entry = Entry {
            prepared,
            fns: crate::frontend::effects::SessionFns::of(&sql),
            sql,
            read,
            types: None,
            long_data: Vec::new(),
            long_data_overflow: false,
            shape: None,
        };
        self.map.insert(self.next_id, entry);
        self.next_id
    }

    pub fn get(&self, id: u32) -> Option<&Entry> {
        self.map.get(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.map.get_mut(&id)
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
        let sql: Arc<[u8]> = Arc::from(&b"SELECT 1"[..]);
        let a = s.insert(p(100), Arc::clone(&sql), true);
        let b = s.insert(p(200), Arc::clone(&sql), false);
        assert_ne!(a, b);
        assert_eq!(s.get(b).map(|e| e.prepared.backend_stmt_id), Some(200));
        assert!(s.remove(a).is_some());
        assert!(s.get(a).is_none());
        s.next_id = u32::MAX;
        assert_eq!(s.insert(p(1), sql, true), 1, "ids wrap to 1, skipping 0");
    }
}
