//! Read/write classification of one statement text: may it run on a replica, and if not, why.
//!
//! Pure and allocation-free on the common path: one pass of the [`lexer`](super::lexer) over
//! the bytes, plus a look at each statement's leading keywords. The first check that applies
//! decides (the [`Reason`]):
//!
//! 1. `Unparsable`: unterminated string, identifier or comment; empty statement.
//! 2. `HintPrimary`: `/*+ shardgate:primary */` or `/*master*/` anywhere (not in strings).
//! 3. `TransactionControl`: BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE
//!    SAVEPOINT, XA, SET [scope] TRANSACTION, SET of autocommit / transaction_isolation /
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

use std::fmt;

use regex::bytes::RegexSet;

use super::lexer::{Lexer, Token, TokenKind};

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

/// The keywords the main scan looks at, upper-cased: those of locking reads, INTO,
/// NEXT/PREVIOUS VALUE FOR, SQL_CALC_FOUND_ROWS and the session functions (called when
/// followed by `(`). Dispatched on the first letter: most words are none of these.
fn keyword(word: &[u8]) -> Option<&'static str> {
    let candidates: &[&'static str] = match word.first()?.to_ascii_uppercase() {
        b'F' => &["FOR", "FOUND_ROWS"],
        b'G' => &["GET_LOCK"],
        b'I' => &["IN", "INTO", "IS_USED_LOCK", "IS_FREE_LOCK"],
        b'L' => &["LOCK", "LAST_INSERT_ID", "LASTVAL"],
        b'M' => &["MODE", "MASTER_GTID_WAIT", "MASTER_POS_WAIT"],
        b'N' => &["NEXT", "NEXTVAL"],
        b'P' => &["PREVIOUS"],
        b'R' => &["ROW_COUNT", "RELEASE_LOCK", "RELEASE_ALL_LOCKS"],
        b'S' => &["SHARE", "SETVAL", "SOURCE_POS_WAIT", "SQL_CALC_FOUND_ROWS"],
        b'U' => &["UPDATE"],
        b'V' => &["VALUE"],
        b'W' => &[
            "WAIT_FOR_EXECUTED_GTID_SET",
            "WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS",
        ],
        _ => return None,
    };
    candidates.iter().copied().find(|k| is(word, k))
}

/// Session-dependent system variables (`@@identity`, `@@session.warning_count`, …).
const SESSION_SYSVARS: [(&str, &str); 4] = [
    ("identity", "@@IDENTITY"),
    ("last_insert_id", "@@LAST_INSERT_ID"),
    ("warning_count", "@@WARNING_COUNT"),
    ("error_count", "@@ERROR_COUNT"),
];

/// SHOW statements about the session's previous statements.
const SHOW_SESSION: [(&str, &str); 5] = [
    ("WARNINGS", "SHOW WARNINGS"),
    ("ERRORS", "SHOW ERRORS"),
    ("COUNT", "SHOW COUNT(*)"),
    ("PROFILE", "SHOW PROFILE"),
    ("PROFILES", "SHOW PROFILES"),
];

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

/// What the scan found.
#[derive(Default)]
struct Facts {
    hint_primary: bool,
    hint_replica: bool,
    empty_part: bool,
    txn: bool,
    read_only_start: bool,
    write: bool,
    locking: bool,
    into: bool,
    session_fn: Option<&'static str>,
    user_var: bool,
    critical: Option<usize>,
}

impl Facts {
    fn add(&mut self, kind: Kind) {
        match kind {
            Kind::Read => {}
            Kind::ReadSession(name) => self.session(name),
            Kind::Write => self.write = true,
            Kind::Txn { read_only } => {
                self.txn = true;
                self.read_only_start |= read_only;
            }
        }
    }

    /// Notes the first session-dependent construct.
    fn session(&mut self, name: &'static str) {
        self.session_fn.get_or_insert(name);
    }
}

/// Reads `shardgate:primary` / `shardgate:replica` (case-insensitive, blanks around `:`) in the
/// text of a `/*+ … */` hint.
fn hint(text: &[u8], f: &mut Facts) {
    const NAME: &[u8] = b"shardgate";
    let mut rest = text;
    while let Some(i) = rest
        .windows(NAME.len())
        .position(|w| w.eq_ignore_ascii_case(NAME))
    {
        rest = &rest[i + NAME.len()..];
        let Some(value) = rest.trim_ascii_start().strip_prefix(b":") else {
            continue;
        };
        let value = value.trim_ascii_start();
        let end = value.iter().position(|b| !b.is_ascii_alphabetic());
        let value = &value[..end.unwrap_or(value.len())];
        f.hint_primary |= is(value, "primary");
        f.hint_replica |= is(value, "replica");
    }
}

/// What one statement is, from its leading keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    /// A read whose result belongs to the session's connection (SHOW WARNINGS, …).
    ReadSession(&'static str),
    Write,
    Txn {
        read_only: bool,
    },
}

/// Case-insensitive keyword comparison.
fn is(word: &[u8], keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword.as_bytes())
}

fn is_any(word: &[u8], keywords: &[&str]) -> bool {
    keywords.iter().any(|k| is(word, k))
}

/// A bare word's text; empty for any other token.
fn word<'a>(t: Option<Token<'a>>) -> &'a [u8] {
    match t {
        Some(t) if matches!(t.kind, TokenKind::Word) => t.text,
        _ => b"",
    }
}

fn is_open(t: Option<Token>) -> bool {
    t.is_some_and(|t| t.is_punct(b'('))
}

/// The next token that is not a comment; `None` at the end, at a `;` or at a lexer error.
fn next_sig<'a>(lx: &mut Lexer<'a>) -> Option<Token<'a>> {
    lx.find(|t| !matches!(t.kind, TokenKind::Hint | TokenKind::Comment))
        .filter(|t| !matches!(t.kind, TokenKind::Error(_)) && !t.is_punct(b';'))
}

fn next_word<'a>(lx: &mut Lexer<'a>) -> &'a [u8] {
    word(next_sig(lx))
}

/// Classifies the statement that starts at `lx`.
fn statement_kind(mut lx: Lexer) -> Kind {
    let mut t = next_sig(&mut lx);
    while is_open(t) {
        t = next_sig(&mut lx);
    }
    let first = word(t);
    let txn = Kind::Txn { read_only: false };
    if is_any(first, &["SELECT", "VALUES", "TABLE", "HELP"]) {
        Kind::Read
    } else if is(first, "WITH") {
        with_main(lx)
    } else if is(first, "SHOW") {
        let w = next_word(&mut lx);
        match SHOW_SESSION.iter().find(|(k, _)| is(w, k)) {
            Some(&(_, name)) => Kind::ReadSession(name),
            None => Kind::Read,
        }
    } else if is_any(first, &["EXPLAIN", "DESCRIBE", "DESC"]) {
        explain(lx, false)
    } else if is(first, "ANALYZE") {
        explain(lx, true)
    } else if is(first, "BEGIN") {
        // BEGIN NOT ATOMIC … END is a compound statement.
        if is(next_word(&mut lx), "NOT") {
            Kind::Write
        } else {
            txn
        }
    } else if is_any(first, &["COMMIT", "ROLLBACK", "SAVEPOINT", "XA"])
        || is(first, "RELEASE") && is(next_word(&mut lx), "SAVEPOINT")
        || is_any(first, &["LOCK", "UNLOCK"]) && is_any(next_word(&mut lx), &["TABLE", "TABLES"])
    {
        txn
    } else if is(first, "START") && is(next_word(&mut lx), "TRANSACTION") {
        start_transaction(lx)
    } else if is(first, "SET") {
        set(lx)
    } else {
        Kind::Write
    }
}

/// After `WITH`: skips the common table expressions and classifies the main statement.
fn with_main(mut lx: Lexer) -> Kind {
    let mut t = next_sig(&mut lx);
    if is(word(t), "RECURSIVE") {
        t = next_sig(&mut lx);
    }
    loop {
        if !t.is_some_and(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent)) {
            return Kind::Write;
        }
        let mut after = next_sig(&mut lx);
        if is_open(after) {
            skip_parens(&mut lx); // column list
            after = next_sig(&mut lx);
        }
        if !is(word(after), "AS") || !is_open(next_sig(&mut lx)) || !skip_parens(&mut lx) {
            return Kind::Write;
        }
        t = next_sig(&mut lx);
        if !t.is_some_and(|t| t.is_punct(b',')) {
            break;
        }
        t = next_sig(&mut lx);
    }
    while is_open(t) {
        t = next_sig(&mut lx);
    }
    match is_any(word(t), &["SELECT", "VALUES", "TABLE"]) {
        true => Kind::Read,
        false => Kind::Write,
    }
}

/// After an opening parenthesis: skips to its closing one (false at the end).
fn skip_parens(lx: &mut Lexer) -> bool {
    let mut depth = 1u32;
    while let Some(t) = next_sig(lx) {
        if t.is_punct(b'(') {
            depth += 1;
        } else if t.is_punct(b')') {
            depth -= 1;
            if depth == 0 {
                return true;
            }
        }
    }
    false
}

/// After EXPLAIN / DESCRIBE / DESC: a table (a read) or a statement, after the options.
/// After ANALYZE (`analyze`): MariaDB's ANALYZE of a read is a read; ANALYZE TABLE a write.
fn explain(mut lx: Lexer, analyze: bool) -> Kind {
    loop {
        let t = next_sig(&mut lx);
        let w = word(t);
        if is_open(t) || is_any(w, &["SELECT", "VALUES"]) || !analyze && is(w, "TABLE") {
            return Kind::Read;
        } else if is(w, "WITH") {
            return with_main(lx);
        } else if is_any(w, &["EXTENDED", "PARTITIONS", "ANALYZE"]) {
            continue;
        } else if is(w, "FORMAT") {
            next_sig(&mut lx); // =
            next_sig(&mut lx);
        } else if analyze {
            return Kind::Write;
        } else if is(w, "INTO") {
            next_sig(&mut lx); // @var: the main scan sees INTO
        } else if is(w, "FOR") && is_any(next_word(&mut lx), &["SCHEMA", "DATABASE"]) {
            next_sig(&mut lx);
        } else if is_any(w, &["FOR", "INSERT", "UPDATE", "DELETE", "REPLACE"]) {
            return Kind::Write; // FOR CONNECTION n: another session's statement
        } else {
            let table =
                t.is_some_and(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent));
            return if table { Kind::Read } else { Kind::Write };
        }
    }
}

/// After START TRANSACTION: read only with READ ONLY and without READ WRITE.
fn start_transaction(mut lx: Lexer) -> Kind {
    let (mut ro, mut rw, mut last): (bool, bool, &[u8]) = (false, false, b"");
    while let Some(t) = next_sig(&mut lx) {
        let w = word(Some(t));
        ro |= is(last, "READ") && is(w, "ONLY");
        rw |= is(last, "READ") && is(w, "WRITE");
        last = w;
    }
    Kind::Txn {
        read_only: ro && !rw,
    }
}

/// After SET: transaction control if any assignment is to a transaction setting.
fn set(mut lx: Lexer) -> Kind {
    const SCOPES: [&str; 5] = ["GLOBAL", "SESSION", "LOCAL", "PERSIST", "PERSIST_ONLY"];
    const TXN: [&str; 6] = [
        "TRANSACTION",
        "AUTOCOMMIT",
        "TRANSACTION_ISOLATION",
        "TX_ISOLATION",
        "TRANSACTION_READ_ONLY",
        "TX_READ_ONLY",
    ];
    let mut t = next_sig(&mut lx);
    loop {
        while is_any(word(t), &SCOPES) {
            t = next_sig(&mut lx);
        }
        let Some(target) = t else { return Kind::Write };
        let name = match target.kind {
            TokenKind::SysVar => target.text.rsplit(|&b| b == b'.').next().unwrap_or(b""),
            _ => target.text,
        };
        if is_any(name, &TXN) {
            return Kind::Txn { read_only: false };
        }
        let mut depth = 0u32;
        loop {
            match next_sig(&mut lx) {
                None => return Kind::Write,
                Some(t) if t.is_punct(b'(') => depth += 1,
                Some(t) if t.is_punct(b')') => depth = depth.saturating_sub(1),
                Some(t) if t.is_punct(b',') && depth == 0 => break,
                _ => {}
            }
        }
        t = next_sig(&mut lx);
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
#[path = "testdata/classify_tests.rs"]
mod tests;
