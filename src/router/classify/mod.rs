//! Read/write classification of one statement text: may it run on a replica, and if not, why.
//!
//! Pure and allocation-free on the common path: one pass of the [`lexer`](super::lexer) over
//! the bytes, plus a look at each statement's leading keywords. The first check that applies
//! decides (the [`Reason`]):
//!
//! 1. `Unparsable`: unterminated string, identifier or comment; empty statement.
//! 2. `HintPrimary`: `/*+ shardgate:primary */` or `/*master*/` anywhere (not in strings).
//! 3. `TransactionControl`: BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE
//!    SAVEPOINT, XA, `SET [scope] TRANSACTION`, SET of autocommit / transaction_isolation /
//!    tx_isolation / transaction_read_only / tx_read_only, LOCK TABLES, UNLOCK TABLES.
//! 4. `Write`: a statement that is not a read. Reads are: SELECT, `(SELECT …)`, `WITH … SELECT`,
//!    VALUES, TABLE, SHOW, HELP, DESCRIBE/DESC/EXPLAIN of a table or of a read, ANALYZE
//!    (MariaDB) of a read. Everything else (DO, CALL, HANDLER, `WITH … UPDATE`, EXPLAIN of a
//!    write, EXPLAIN FOR CONNECTION, ANALYZE TABLE, …) is a write.
//! 5. `MultiStatement`: more than one statement, all reads.
//! 6. `LockingRead` (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE), `SelectInto`,
//!    `SessionFunction` (see [`Reason::SessionFunction`]), `UserVariable`, in that order.
//! 7. `CriticalTable`, then `CriticalPattern`.
//! 8. `HintReplica` (`/*+ shardgate:replica */`): the replica target is the rules' decision;
//!    the hint overrides nothing and only names itself as the reason of a plain read.
//! 9. `Read`.
//!
//! Checks 6–7 look at the whole text, also inside subqueries and executable comments; they
//! are conservative: a column named like a critical table counts, so does a `"…"` string
//! equal to one (an identifier under ANSI_QUOTES). Patterns see the raw text, comments
//! included. `'user'@'host'` and `root@localhost` are account names, not user variables.

mod scan;
mod statement;

use std::fmt;

use regex::bytes::RegexSet;

use super::lexer::{Lexer, TokenKind};
use scan::{Facts, SESSION_SYSVARS, hint, is, keyword};
use statement::statement_kind;

/// Where a statement may run, by itself (before session state is considered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Primary,
    Replica,
}

/// Why a statement goes to its [`Target`]; shown by `EXPLAIN SHARDGATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A plain read: a replica may run it.
    Read,
    /// Not a read.
    Write,
    /// `/*+ shardgate:primary */` or `/*master*/`.
    HintPrimary,
    /// `/*+ shardgate:replica */` on a read the rules let go to a replica.
    HintReplica,
    /// `FOR UPDATE`, `FOR SHARE`, `LOCK IN SHARE MODE`.
    LockingRead,
    /// `SELECT … INTO` a variable or file.
    SelectInto,
    /// A read whose result depends on the session's connection: a call of LAST_INSERT_ID,
    /// FOUND_ROWS, ROW_COUNT, the lock and sequence functions, the replication wait functions;
    /// NEXT/PREVIOUS VALUE FOR; SQL_CALC_FOUND_ROWS; @@identity, @@last_insert_id,
    /// @@warning_count, @@error_count; SHOW WARNINGS / ERRORS / COUNT(*) / PROFILE(S).
    SessionFunction(&'static str),
    /// A read that reads or assigns a user variable (they live on the primary's connection).
    UserVariable,
    /// A read naming a configured critical table (the configured name).
    CriticalTable(String),
    /// A read matched by the configured critical pattern with this index.
    CriticalPattern(usize),
    /// Not tokenizable; the server will say why.
    Unparsable(&'static str),
    /// More than one statement.
    MultiStatement,
    /// Transaction control, autocommit, LOCK/UNLOCK TABLES.
    TransactionControl,
}

/// The classification of one statement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub target: Target,
    pub reason: Reason,
    /// START TRANSACTION READ ONLY alone (not with a primary hint): the caller may run the
    /// whole transaction on one replica.
    pub starts_read_only_transaction: bool,
    /// Some statement of the text is transaction control (also under a primary hint).
    pub transaction_control: bool,
}

/// Critical tables and patterns, compiled once per config snapshot.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Lower-cased table names, sorted.
    tables: Vec<Box<str>>,
    /// Bit `n` set: some table name is `n` bytes long (bit 127: 127 or more).
    lengths: u128,
    patterns: Option<RegexSet>,
}

/// Longest identifier compared with the critical tables (MySQL's limit: 64 characters).
const MAX_IDENT: usize = 256;

impl Rules {
    /// Table names match whole identifiers case-insensitively (ASCII); of a `db.table` name
    /// only the table part is kept. Patterns are matched against the statement's bytes as
    /// they are, comments included (`regex::bytes`: no UTF-8 conversion; invalid UTF-8 bytes
    /// match no Unicode class).
    pub fn new(
        critical_tables: &[String],
        critical_patterns: &[String],
    ) -> Result<Rules, regex::Error> {
        let mut tables: Vec<Box<str>> = critical_tables
            .iter()
            .filter_map(|t| t.rsplit('.').next())
            .map(|t| {
                t.trim()
                    .trim_matches('`')
                    .to_ascii_lowercase()
                    .into_boxed_str()
            })
            .filter(|t| !t.is_empty() && t.len() <= MAX_IDENT)
            .collect();
        tables.sort();
        tables.dedup();
        let lengths = tables.iter().fold(0, |m, t| m | 1u128 << t.len().min(127));
        let patterns = match critical_patterns {
            [] => None,
            p => Some(RegexSet::new(p)?),
        };
        Ok(Rules {
            tables,
            lengths,
            patterns,
        })
    }

    /// The index of the critical table an identifier names; `quote` is its quote byte.
    fn table(&self, ident: &[u8], quote: Option<u8>) -> Option<usize> {
        if self.tables.is_empty() {
            return None;
        }
        if let Some(q) = quote.filter(|q| ident.contains(q)) {
            // A doubled quote inside a quoted identifier stands for one (rare: a copy).
            let mut buf = [0u8; MAX_IDENT];
            let (mut n, mut i) = (0, 0);
            while let Some(&b) = ident.get(i) {
                i += if b == q { 2 } else { 1 };
                *buf.get_mut(n)? = b;
                n += 1;
            }
            return self.table(&buf[..n], None);
        }
        if self.lengths & 1u128 << ident.len().min(127) == 0 {
            return None;
        }
        let lower = || ident.iter().map(u8::to_ascii_lowercase);
        self.tables
            .binary_search_by(|t| t.bytes().cmp(lower()))
            .ok()
    }

    fn pattern(&self, sql: &[u8]) -> Option<usize> {
        let set = self.patterns.as_ref()?;
        // `is_match` does not allocate; `matches` (a set of indexes) does, so only on a hit.
        match set.len() {
            _ if !set.is_match(sql) => None,
            1 => Some(0),
            _ => set.matches(sql).iter().next(),
        }
    }
}

/// Classifies one COM_QUERY text (possibly several statements).
pub fn classify(sql: &[u8], rules: &Rules) -> Classified {
    let mut f = Facts::default();
    let mut lx = Lexer::new(sql);
    let mut parts = 0;
    let mut at_start = true;
    // Where the last word, quoted identifier or string ended.
    let mut name_end = usize::MAX;
    // The keywords of the last three significant tokens.
    let mut recent: [Option<&str>; 3] = [None; 3];
    let mut pending_fn = None;
    loop {
        let before = at_start.then(|| lx.clone());
        let Some(t) = lx.next() else { break };
        match t.kind {
            TokenKind::Error(e) => return primary(Reason::Unparsable(e.describe()), false),
            TokenKind::Hint => {
                hint(t.text, &mut f);
                continue;
            }
            TokenKind::Comment => {
                f.hint_primary |= is(t.text.trim_ascii(), "master");
                continue;
            }
            _ => {}
        }
        if let Some(before) = before {
            parts += 1;
            at_start = false;
            f.empty_part |= t.is_punct(b';');
            f.add(statement_kind(before));
        }
        if t.is_punct(b';') {
            (at_start, name_end, pending_fn) = (true, usize::MAX, None);
            recent = [None; 3];
            continue;
        }
        match pending_fn.take() {
            Some(name) if t.is_punct(b'(') => f.session(name),
            _ => {}
        }
        let k = match t.kind {
            TokenKind::Word => keyword(t.text),
            _ => None,
        };
        match t.kind {
            TokenKind::Word => {
                match (k, recent) {
                    (Some("UPDATE" | "SHARE"), [_, _, Some("FOR")])
                    | (Some("MODE"), [Some("LOCK"), Some("IN"), Some("SHARE")]) => f.locking = true,
                    (Some("FOR"), [_, Some("NEXT"), Some("VALUE")]) => f.session("NEXT VALUE FOR"),
                    (Some("FOR"), [_, Some("PREVIOUS"), Some("VALUE")]) => {
                        f.session("PREVIOUS VALUE FOR")
                    }
                    (Some("INTO"), _) => f.into = true,
                    (Some("SQL_CALC_FOUND_ROWS"), _) => f.session("SQL_CALC_FOUND_ROWS"),
                    (Some("FOR" | "IN" | "LOCK" | "MODE" | "NEXT" | "PREVIOUS"), _) => {}
                    (Some("SHARE" | "UPDATE" | "VALUE"), _) => {}
                    (Some(function), _) => pending_fn = Some(function),
                    _ => {}
                }
                f.critical = f.critical.or_else(|| rules.table(t.text, None));
            }
            TokenKind::QuotedIdent => {
                f.critical = f.critical.or_else(|| rules.table(t.text, Some(b'`')));
            }
            // Conservative for ANSI_QUOTES sessions, where "…" names an identifier.
            TokenKind::Str if sql.get(t.start) == Some(&b'"') => {
                f.critical = f.critical.or_else(|| rules.table(t.text, Some(b'"')));
            }
            // `'user'@'host'`, `root@localhost`: an account name, not a variable.
            TokenKind::UserVar => {
                f.user_var |= name_end != t.start;
            }
            TokenKind::SysVar => {
                let name = t.text.rsplit(|&b| b == b'.').next().unwrap_or(t.text);
                if let Some(&(_, shown)) = SESSION_SYSVARS.iter().find(|(n, _)| is(name, n)) {
                    f.session(shown);
                }
            }
            _ => {}
        }
        recent = [recent[1], recent[2], k];
        name_end = match t.kind {
            TokenKind::Word | TokenKind::QuotedIdent | TokenKind::Str => t.end,
            _ => usize::MAX,
        };
    }
    if parts == 0 || f.empty_part {
        return primary(Reason::Unparsable("empty statement"), false);
    }
    let reason = if f.hint_primary {
        Reason::HintPrimary
    } else if f.txn {
        Reason::TransactionControl
    } else if f.write {
        Reason::Write
    } else if parts > 1 {
        Reason::MultiStatement
    } else if f.locking {
        Reason::LockingRead
    } else if f.into {
        Reason::SelectInto
    } else if let Some(name) = f.session_fn {
        Reason::SessionFunction(name)
    } else if f.user_var {
        Reason::UserVariable
    } else if let Some(i) = f.critical {
        Reason::CriticalTable(rules.tables[i].to_string())
    } else if let Some(i) = rules.pattern(sql) {
        Reason::CriticalPattern(i)
    } else if f.hint_replica {
        return replica(Reason::HintReplica);
    } else {
        return replica(Reason::Read);
    };
    Classified {
        starts_read_only_transaction: f.read_only_start && parts == 1 && !f.hint_primary,
        ..primary(reason, f.txn)
    }
}

fn primary(reason: Reason, transaction_control: bool) -> Classified {
    Classified {
        target: Target::Primary,
        reason,
        starts_read_only_transaction: false,
        transaction_control,
    }
}

fn replica(reason: Reason) -> Classified {
    Classified {
        target: Target::Replica,
        ..primary(reason, false)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Primary => "primary",
            Target::Replica => "replica",
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Read => f.write_str("read"),
            Reason::Write => f.write_str("not a read"),
            Reason::HintPrimary => f.write_str("hint /*+ shardgate:primary */ (or /*master*/)"),
            Reason::HintReplica => f.write_str("hint /*+ shardgate:replica */"),
            Reason::LockingRead => {
                f.write_str("locking read (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE)")
            }
            Reason::SelectInto => f.write_str("SELECT ... INTO"),
            Reason::SessionFunction(name) => write!(f, "session-dependent {name}"),
            Reason::UserVariable => {
                f.write_str("user variable (lives on the primary's connection)")
            }
            Reason::CriticalTable(t) => write!(f, "critical table `{t}`"),
            Reason::CriticalPattern(i) => write!(f, "critical pattern #{i}"),
            Reason::Unparsable(why) => write!(f, "unparsable: {why}"),
            Reason::MultiStatement => f.write_str("multiple statements"),
            Reason::TransactionControl => f.write_str("transaction control"),
        }
    }
}

#[cfg(test)]
mod tests;
