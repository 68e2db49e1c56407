//! Guards of pool slots: [`PooledConn`], a checked-out connection that goes back to its pool
//! when dropped, and `Opening`, the slot of a connection being opened, given back unless the
//! connection came up.

use std::sync::Arc;

use super::Pool;
use super::gate::Permit;
use crate::backend::connection::BackendConn;

/// A slot counted for a connection being opened; given back on drop unless `done`.
pub(super) struct Opening<'a> {
    pool: &'a Pool,
    checker: bool,
    armed: bool,
}

impl<'a> Opening<'a> {
    pub(super) fn client(pool: &'a Pool) -> Self {
        Opening {
            pool,
            checker: false,
            armed: true,
        }
    }

    pub(super) fn checker(pool: &'a Pool) -> Self {
        Opening {
            pool,
            checker: true,
            armed: true,
        }
    }

    /// The connection is open: count it as created.
    pub(super) fn done(mut self) {
        self.armed = false;
        let mut s = self.pool.lock();
        if self.checker {
            s.checker_opened();
        } else {
            s.client_opened();
        }
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut s = self.pool.lock();
        if self.checker {
            s.checker_open_failed();
        } else {
            s.client_open_failed();
        }
        self.pool.made_room(s);
    }
}

/// A checked-out connection; goes back to its pool when dropped (closed if not reusable).
pub struct PooledConn {
    conn: Option<BackendConn>,
    pool: Arc<Pool>,
    /// Dropped after `Drop::drop` has put the connection back (fields drop after it), so the
    /// next permit holder finds it idle (or, while a lowered cap owes permits, retired).
    _permit: Permit,
}

impl PooledConn {
    pub(super) fn new(conn: BackendConn, pool: Arc<Pool>, permit: Permit) -> Self {
        PooledConn {
            conn: Some(conn),
            pool,
            _permit: permit,
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl std::ops::Deref for PooledConn {
    type Target = BackendConn;
    fn deref(&self) -> &BackendConn {
        self.conn.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut BackendConn {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.io.shrink();
            // The one gate every connection passes on its way to another session.
            if conn.reusable && !conn.is_clean() {
                tracing::warn!(
                    backend = self.pool.name(),
                    reply_pending = conn.reply_pending,
                    unread = conn.io.has_unread(),
                    status = conn.status,
                    "connection given back unclean (reply not read, or inside a transaction): closed"
                );
                conn.reusable = false;
            }
            self.pool.give_back(conn);
        }
    }
}
