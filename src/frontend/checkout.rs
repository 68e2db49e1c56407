//! The session's backend connections under multiplexing: a connection is borrowed for a
//! statement and given back after it, unless the session must keep it (a transaction, or
//! state that lives only in that connection, see `pins`). A borrowed connection is brought to
//! the session's schema, character set, options and session variables with at most one
//! combined `SET` (nothing when it already matches; the pool prefers one that does).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mysql_common::collations::{Collation, CollationId};

use super::FrontendError;
use super::session::Session;
use super::sharded::Joining;
use crate::backend::connection::Reply;
use crate::backend::pool::{LIVENESS_CHECK_AFTER, PooledConn};
use crate::backend::vars;
use crate::executor::ExecError;
use crate::protocol::ProtocolError;
use crate::protocol::command;

impl Session {
    /// The session's held connection, or one borrowed from the default shard's primary and
    /// brought to the session's state.
    pub(super) async fn checkout(&mut self) -> Result<PooledConn, FrontendError> {
        if let Some(mut conn) = self.backend.take() {
            if conn.last_used.elapsed() < LIVENESS_CHECK_AFTER || !conn.closed_while_idle() {
                let ready = match self.sync_held_last_insert_id(&mut conn).await {
                    Ok(()) => self.join_transaction(&mut conn, Joining::Held).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = ready {
                    if conn.reusable {
                        self.backend = Some(conn);
                    }
                    return Err(e);
                }
                return Ok(conn);
            }
            conn.reusable = false;
            let backend = conn.pool().name().to_string();
            let in_trans = conn.status & crate::protocol::packets::status::IN_TRANS != 0;
            let held_for = if in_trans {
                Some("transaction")
            } else {
                self.pins.reason()
            };
            self.status = crate::protocol::packets::status::AUTOCOMMIT;
            self.pins.clear();
            if let Some(why) = held_for {
                // The transaction or the pinned state is gone with the connection.
                tracing::info!(conn = self.id, %backend, why, "backend closed a held connection");
                return Err(FrontendError::Exec(ExecError::Lost {
                    backend,
                    source: ProtocolError::Eof,
                    partial: false,
                }));
            }
        }
        let snapshot = self.snapshot();
        let pool = Arc::clone(&snapshot.registry.default().primary);
        let waiting = std::time::Instant::now();
        let conn = pool
            .checkout_preferring(self.flavour(), self.state_key())
            .await;
        self.checkout_wait += waiting.elapsed();
        let mut conn = conn?;
        self.sync(&mut conn).await?;
        // The transaction may be open on other shards only (a schema whose default shard is
        // another one began it there): this connection joins it.
        self.join_transaction(&mut conn, Joining::Borrowed).await?;
        Ok(conn)
    }

    /// A key of the state a connection must carry for this session (the pool prefers idle
    /// connections that carry it already).
    pub(super) fn state_key(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            &self.schema,
            self.collation,
            self.multi_statements,
            self.vars.key(),
        )
            .hash(&mut h);
        h.finish()
    }

    /// Brings a backend connection to the session's schema, character set, options and
    /// session variables (and `LAST_INSERT_ID()` when the statement reads it).
    pub(super) async fn sync(&self, conn: &mut PooledConn) -> Result<(), FrontendError> {
        let pool = Arc::clone(conn.pool());
        let lost = |source| {
            FrontendError::Exec(ExecError::Lost {
                backend: pool.name().to_string(),
                source,
                partial: false,
            })
        };
        if self.schema.is_none() && conn.schema.is_some() {
            // Only logging in again without a schema takes a connection back to none
            // (COM_RESET_CONNECTION keeps it).
            if let Err(e) = conn.change_user_without_schema(pool.target()).await {
                tracing::warn!(
                    backend = pool.name(),
                    "cannot clear the default schema: {e}"
                );
                return Err(lost(ProtocolError::Malformed("COM_CHANGE_USER failed")));
            }
        }
        if let Some(schema) = &self.schema
            && conn.schema.as_ref() != Some(schema)
            && let Reply::Err(p) = conn.init_db(schema).await.map_err(lost)?
        {
            return Err(FrontendError::BackendReply(p));
        }
        if let Reply::Err(p) = conn
            .set_multi_statements(self.multi_statements)
            .await
            .map_err(lost)?
        {
            return Err(FrontendError::BackendReply(p));
        }
        let names = (conn.collation != self.collation
            || vars::drops_charset_var(&conn.vars, &self.vars))
        .then(|| names_clauses(self.collation))
        .flatten();
        let lid = (self.wants_last_insert_id && conn.last_insert_id != Some(self.last_insert_id))
            .then(|| format!("@@session.last_insert_id = {}", self.last_insert_id));
        let same_vars = conn.vars.key() == self.vars.key();
        if names.is_none() && lid.is_none() && same_vars {
            conn.state_key = self.state_key();
            return Ok(());
        }
        let variants: Vec<Option<&str>> = match &names {
            Some((full, short)) => vec![Some(full.as_str()), Some(short.as_str())],
            None => vec![None],
        };
        let mut last_err = None;
        for names in variants {
            let sql = match vars::sync_statement(&conn.vars, &self.vars, names, lid.clone()) {
                Ok(Some(sql)) => sql,
                Ok(None) => break,
                // Values the proxy cannot write back are never recorded (the session pins).
                Err(_) => return Err(FrontendError::SessionStateNotPortable),
            };
            match conn
                .simple_command(&command::query(sql.as_bytes()))
                .await
                .map_err(lost)?
            {
                Reply::Ok { .. } => {
                    last_err = None;
                    break;
                }
                Reply::Err(p) => last_err = Some(p),
            }
        }
        if let Some(p) = last_err {
            return Err(FrontendError::BackendReply(p));
        }
        conn.collation = self.collation;
        conn.vars = Arc::clone(&self.vars);
        if lid.is_some() {
            conn.last_insert_id = Some(self.last_insert_id);
        }
        conn.state_key = self.state_key();
        Ok(())
    }

    /// Why the session must keep its connections after the current statement, if it must.
    pub(super) fn holds_connection(&self) -> Option<&'static str> {
        if self.in_transaction() {
            Some("transaction")
        } else {
            self.pins.reason()
        }
    }

    /// After each command: gives back the connections the session need not keep.
    pub(super) async fn settle(&mut self) {
        if self.autocommit() {
            // Autocommit went back on (which committed): connections that still run with it
            // off are brought to the session's setting before anything else looks at them.
            if let Some(mut conn) = self.backend.take() {
                self.autocommit_back_on(&mut conn).await;
                self.backend = Some(conn).filter(|c| c.reusable);
            }
            for shard in self.others.keys().copied().collect::<Vec<_>>() {
                if let Some(mut conn) = self.others.remove(&shard) {
                    self.autocommit_back_on(&mut conn).await;
                    if conn.reusable {
                        self.others.insert(shard, conn);
                    }
                }
            }
        }
        if !self.txn_open() && self.autocommit() {
            // No transaction: its savepoints are gone (also when a prepared or plain COMMIT
            // ended it).
            self.savepoints.clear();
        }
        let held = self.holds_connection();
        if held != self.held_for {
            self.proxy.pin_changed(self.held_for, held);
            if let Some(why) = held.filter(|w| *w != "transaction") {
                tracing::debug!(conn = self.id, why, "session keeps its backend connection");
            }
            self.held_for = held;
        }
        self.card
            .update(self.schema.as_deref(), held, self.routing.version.number);
        if held.is_some() {
            return;
        }
        // The connections carry the session's state (synced, then changed only by statements
        // whose changes the session recorded): the pool hands them to sessions that match.
        let key = self.state_key();
        if let Some(mut conn) = self.backend.take() {
            if self.unread_insert_id.any() {
                let pending = std::mem::take(&mut self.unread_insert_id);
                self.read_last_insert_id(&mut conn, &pending).await;
            }
            conn.state_key = key;
        }
        for (_, mut conn) in std::mem::take(&mut self.others) {
            conn.state_key = key;
        }
    }

    /// A connection that still runs with autocommit off after the session turned it on (it
    /// was synced before): synced now, or the pool would close it as unclean.
    async fn autocommit_back_on(&self, conn: &mut PooledConn) {
        if conn.autocommit_off() && self.sync(conn).await.is_err() {
            conn.reusable = false;
        }
    }

    /// Returns every connection at the end of the session; held ones carry state of this
    /// session only, so they are reset first.
    pub(super) async fn release(&mut self) {
        let held = self.holds_connection().is_some();
        if let Some(mut conn) = self.backend.take()
            && held
            && !matches!(conn.reset().await, Ok(Reply::Ok { .. }))
        {
            conn.reusable = false;
        }
        self.release_others().await;
    }
}

/// `SET NAMES` for a collation, with and without its COLLATE clause (a server that does not
/// know the collation by that name still takes the character set).
fn names_clauses(collation: u16) -> Option<(String, String)> {
    let c = Collation::resolve(CollationId::from(collation));
    (c.id() != CollationId::UNKNOWN_COLLATION_ID).then(|| {
        (
            format!("NAMES '{}' COLLATE '{}'", c.charset(), c.collation()),
            format!("NAMES '{}'", c.charset()),
        )
    })
}
