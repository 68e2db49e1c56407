//! Why a session keeps its backend connection between statements: state that lives only in
//! that connection (user variables, temporary tables, table and named locks, text PREPAREs,
//! SQL_CALC_FOUND_ROWS, an open cursor, ...), learnt from the statement text and from the
//! server's session-state reports, and forgotten again when the state is gone.

use std::collections::BTreeSet;

use crate::router::lexer::{Lexer, Token, TokenKind};

/// What one statement does to connection-bound state (a token scan; false positives only pin).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub user_variables: bool,
    pub create_temporary: Vec<String>,
    /// Tables a `DROP [TEMPORARY] TABLE` names (a temporary table shadows a base table).
    pub drop_tables: Vec<String>,
    pub lock_tables: bool,
    pub unlock_tables: bool,
    pub get_locks: u32,
    pub release_locks: u32,
    pub release_all_locks: bool,
    pub prepare: Option<String>,
    pub deallocate: Option<String>,
    pub calc_found_rows: bool,
    pub set_transaction: bool,
    pub handler: bool,
    /// `XA START` / `XA BEGIN`, and `XA COMMIT` / `XA ROLLBACK`.
    pub xa_start: bool,
    pub xa_end: bool,
}

impl Effects {
    /// The first effect that would live in the connection the statement runs on (what pins a
    /// session), by name.
    pub fn binds_connection(&self) -> Option<&'static str> {
        if self.user_variables {
            Some("a user variable assignment")
        } else if !self.create_temporary.is_empty() {
            Some("CREATE TEMPORARY TABLE")
        } else if self.lock_tables {
            Some("LOCK TABLES")
        } else if self.get_locks > 0 {
            Some("GET_LOCK()")
        } else if self.prepare.is_some() {
            Some("PREPARE")
        } else if self.calc_found_rows {
            Some("SQL_CALC_FOUND_ROWS")
        } else if self.handler {
            Some("HANDLER")
        } else if self.xa_start {
            Some("XA START")
        } else {
            None
        }
    }

    /// Does this statement explain a state change the server reported?
    fn explains_state_change(&self) -> bool {
        self.user_variables
            || !self.create_temporary.is_empty()
            || !self.drop_tables.is_empty()
            || self.prepare.is_some()
            || self.deallocate.is_some()
    }
}

/// Cheap test before the scan: only statements with one of these bytes or words can have an
/// effect.
fn may_have_effects(sql: &[u8]) -> bool {
    if sql.contains(&b'@') {
        return true;
    }
    let first = crate::router::prescan::skip_noise(sql);
    let word_end = first
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(first.len());
    let word = first[..word_end].to_ascii_uppercase();
    matches!(
        &word[..],
        b"CREATE"
            | b"DROP"
            | b"LOCK"
            | b"UNLOCK"
            | b"PREPARE"
            | b"DEALLOCATE"
            | b"SET"
            | b"HANDLER"
            | b"FLUSH"
            | b"XA"
    ) || sql.contains(&b'_')
        && (contains_ci(sql, b"_lock") || contains_ci(sql, b"sql_calc_found_rows"))
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn is_word(t: &Token<'_>, w: &str) -> bool {
    t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(w.as_bytes())
}

fn name_of(t: &Token<'_>) -> Option<String> {
    matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent)
        .then(|| String::from_utf8_lossy(t.text).to_lowercase())
}

/// Reads a statement's effects on connection-bound state.
pub fn scan(sql: &[u8]) -> Effects {
    let mut e = Effects::default();
    if !may_have_effects(sql) {
        return e;
    }
    let tokens: Vec<Token<'_>> = Lexer::new(sql)
        .filter(|t| !matches!(t.kind, TokenKind::Comment | TokenKind::Hint))
        .collect();
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| is_word(t, w));
    let first_is = |w: &str| word(0, w);
    let mut assigns = first_is("SET");
    for (i, t) in tokens.iter().enumerate() {
        let call = tokens.get(i + 1).is_some_and(|n| n.is_punct(b'('));
        match t.kind {
            TokenKind::Punct if t.text == b":=" => assigns = true,
            TokenKind::Word if t.text.eq_ignore_ascii_case(b"INTO") => assigns = true,
            TokenKind::Word if call && is_word(t, "GET_LOCK") => e.get_locks += 1,
            TokenKind::Word if call && is_word(t, "RELEASE_LOCK") => e.release_locks += 1,
            TokenKind::Word if is_word(t, "RELEASE_ALL_LOCKS") => e.release_all_locks = true,
            TokenKind::Word if is_word(t, "SQL_CALC_FOUND_ROWS") => e.calc_found_rows = true,
            _ => {}
        }
    }
    e.user_variables = assigns && tokens.iter().any(|t| t.kind == TokenKind::UserVar);
    if first_is("CREATE") {
        let mut i = 1;
        while word(i, "OR") || word(i, "REPLACE") {
            i += 1;
        }
        if word(i, "TEMPORARY") && word(i + 1, "TABLE") {
            i += 2;
            if word(i, "IF") {
                i += 3;
            }
            if let Some(name) = table_name(&tokens, i) {
                e.create_temporary.push(name);
            }
        }
    } else if first_is("DROP") {
        let mut i = 1;
        if word(i, "TEMPORARY") {
            i += 1;
        }
        if word(i, "TABLE") || word(i, "TABLES") {
            i += 1;
            if word(i, "IF") {
                i += 2;
            }
            while let Some(name) = table_name(&tokens, i) {
                e.drop_tables.push(name);
                i = next_comma(&tokens, i).map_or(tokens.len(), |c| c + 1);
            }
        } else if word(i, "PREPARE") {
            e.deallocate = tokens.get(i + 1).and_then(name_of);
        }
    } else if first_is("LOCK") && (word(1, "TABLE") || word(1, "TABLES"))
        || first_is("FLUSH") && tokens.iter().any(|t| is_word(t, "LOCK"))
    {
        e.lock_tables = true;
    } else if first_is("UNLOCK") {
        e.unlock_tables = true;
    } else if first_is("PREPARE") {
        e.prepare = tokens.get(1).and_then(name_of);
    } else if first_is("DEALLOCATE") && word(1, "PREPARE") {
        e.deallocate = tokens.get(2).and_then(name_of);
    } else if first_is("SET") && word(1, "TRANSACTION") {
        e.set_transaction = true;
    } else if first_is("HANDLER") {
        e.handler = true;
    } else if first_is("XA") {
        e.xa_start = word(1, "START") || word(1, "BEGIN");
        e.xa_end = word(1, "COMMIT") || word(1, "ROLLBACK");
    }
    e
}

/// The table name starting at token `i` (`db.t` gives `t`).
fn table_name(tokens: &[Token<'_>], i: usize) -> Option<String> {
    let mut name = name_of(tokens.get(i)?)?;
    if tokens.get(i + 1).is_some_and(|t| t.is_punct(b'.')) {
        name = name_of(tokens.get(i + 2)?)?;
    }
    Some(name)
}

fn next_comma(tokens: &[Token<'_>], from: usize) -> Option<usize> {
    tokens
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, t)| t.is_punct(b','))
        .map(|(i, _)| i)
}

/// The session's reasons to keep its connection.
#[derive(Debug, Default, Clone)]
pub struct Pins {
    user_variables: bool,
    temporary_tables: BTreeSet<String>,
    table_locks: bool,
    named_locks: u32,
    prepared: BTreeSet<String>,
    handler: bool,
    /// An XA transaction is open on the connection.
    xa: bool,
    /// Until the session is reset.
    other: Option<&'static str>,
    /// For the next statement only.
    next_statement: Option<&'static str>,
    /// Statements (client ids) with a cursor open on the connection.
    pub cursors: BTreeSet<u32>,
}

impl Pins {
    /// LOCK TABLES holds table locks on the session's connection.
    pub fn table_locks(&self) -> bool {
        self.table_locks
    }

    /// An XA transaction is open on the session's (default shard's) connection.
    pub fn xa_open(&self) -> bool {
        self.xa
    }

    /// Why the connection must stay with the session, if it must.
    pub fn reason(&self) -> Option<&'static str> {
        if self.user_variables {
            Some("user variables")
        } else if !self.temporary_tables.is_empty() {
            Some("temporary tables")
        } else if self.table_locks {
            Some("LOCK TABLES")
        } else if self.named_locks > 0 {
            Some("GET_LOCK")
        } else if !self.prepared.is_empty() {
            Some("text PREPARE")
        } else if self.handler {
            Some("HANDLER")
        } else if self.xa {
            Some("XA transaction")
        } else if !self.cursors.is_empty() {
            Some("open cursor")
        } else if let Some(why) = self.other {
            Some(why)
        } else {
            self.next_statement
        }
    }

    /// A new statement begins: one-statement pins have served their purpose.
    pub fn start_statement(&mut self) {
        self.next_statement = None;
    }

    /// Keeps the connection for the next statement only.
    pub fn hold_next_statement(&mut self, why: &'static str) {
        self.next_statement = Some(why);
    }

    /// Keeps the connection until the session is reset.
    pub fn pin(&mut self, why: &'static str) {
        self.other = Some(why);
    }

    /// Records what a statement that ran did. `state_changed`: the server reported a session
    /// state change; `tracked`: the reply also described it (variables or schema).
    pub fn note(&mut self, e: &Effects, state_changed: bool, tracked: bool) {
        self.user_variables |= e.user_variables;
        self.temporary_tables
            .extend(e.create_temporary.iter().cloned());
        for t in &e.drop_tables {
            self.temporary_tables.remove(t);
        }
        if e.lock_tables {
            self.table_locks = true;
        }
        if e.unlock_tables {
            self.table_locks = false;
        }
        if e.release_all_locks {
            self.named_locks = 0;
        }
        self.named_locks = (self.named_locks + e.get_locks).saturating_sub(e.release_locks);
        if let Some(p) = &e.prepare {
            self.prepared.insert(p.clone());
        }
        if let Some(p) = &e.deallocate {
            self.prepared.remove(p);
        }
        self.handler |= e.handler;
        self.xa = (self.xa || e.xa_start) && !e.xa_end;
        if e.calc_found_rows {
            self.hold_next_statement("SQL_CALC_FOUND_ROWS");
        }
        if e.set_transaction {
            self.hold_next_statement("SET TRANSACTION for the next transaction");
        }
        if state_changed && !tracked && !e.explains_state_change() {
            self.pin("a session state change the proxy cannot carry over");
        }
    }

    /// After COM_RESET_CONNECTION or COM_CHANGE_USER: nothing is left on the connection.
    pub fn clear(&mut self) {
        *self = Pins::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_variable_assignments_pin() {
        assert!(scan(b"SET @a = 1").user_variables);
        assert!(scan(b"SELECT @a := 1").user_variables);
        assert!(scan(b"SELECT c INTO @a FROM t").user_variables);
        assert!(!scan(b"SELECT @a").user_variables, "a read changes nothing");
        assert!(!scan(b"SELECT '@a := 1'").user_variables, "inside a string");
        assert!(!scan(b"SET @@session.sql_mode = ''").user_variables);
    }

    #[test]
    fn temporary_tables_come_and_go() {
        let mut p = Pins::default();
        p.note(
            &scan(b"CREATE TEMPORARY TABLE IF NOT EXISTS db.tmp1 (a int)"),
            true,
            false,
        );
        p.note(&scan(b"create temporary table `Tmp2` like t"), true, false);
        assert_eq!(p.reason(), Some("temporary tables"));
        p.note(&scan(b"DROP TEMPORARY TABLE IF EXISTS tmp1"), true, false);
        assert_eq!(p.reason(), Some("temporary tables"));
        p.note(&scan(b"DROP TABLE x, tmp2"), true, false);
        assert_eq!(p.reason(), None);
        assert_eq!(scan(b"CREATE TABLE t (a int)").create_temporary.len(), 0);
    }

    #[test]
    fn locks_pin_until_released() {
        let mut p = Pins::default();
        p.note(&scan(b"LOCK TABLES t READ"), false, false);
        assert_eq!(p.reason(), Some("LOCK TABLES"));
        p.note(&scan(b"UNLOCK TABLES"), false, false);
        assert_eq!(p.reason(), None);
        p.note(
            &scan(b"SELECT GET_LOCK('a', 1), GET_LOCK('b', 1)"),
            false,
            false,
        );
        p.note(&scan(b"SELECT RELEASE_LOCK('a')"), false, false);
        assert_eq!(p.reason(), Some("GET_LOCK"));
        p.note(&scan(b"DO RELEASE_ALL_LOCKS()"), false, false);
        assert_eq!(p.reason(), None);
        assert_eq!(scan(b"SELECT 'GET_LOCK(1)'").get_locks, 0);
    }

    #[test]
    fn text_prepare_and_one_statement_pins() {
        let mut p = Pins::default();
        p.note(&scan(b"PREPARE s1 FROM 'SELECT 1'"), true, false);
        assert_eq!(p.reason(), Some("text PREPARE"));
        p.note(&scan(b"DEALLOCATE PREPARE s1"), true, false);
        assert_eq!(p.reason(), None);
        p.note(
            &scan(b"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1"),
            false,
            false,
        );
        assert_eq!(p.reason(), Some("SQL_CALC_FOUND_ROWS"));
        p.start_statement();
        assert_eq!(p.reason(), None);
        p.note(
            &scan(b"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            false,
            false,
        );
        assert!(p.reason().is_some());
    }

    #[test]
    fn xa_transactions_pin_until_they_end() {
        let mut p = Pins::default();
        p.note(&scan(b"XA START 'x1'"), false, false);
        p.note(&scan(b"XA END 'x1'"), false, false);
        p.note(&scan(b"XA PREPARE 'x1'"), false, false);
        assert_eq!(p.reason(), Some("XA transaction"));
        p.note(&scan(b"XA COMMIT 'x1'"), false, false);
        assert_eq!(p.reason(), None);
    }

    #[test]
    fn unexplained_state_changes_pin_until_reset() {
        let mut p = Pins::default();
        p.note(&scan(b"SET time_zone = '+00:00'"), true, true);
        assert_eq!(p.reason(), None, "described by the variables it reported");
        p.note(&scan(b"CALL proc()"), true, false);
        assert!(p.reason().is_some());
        p.clear();
        assert_eq!(p.reason(), None);
    }
}
