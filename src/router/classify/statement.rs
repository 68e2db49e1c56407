//! What one statement is, from its leading keywords: a read, a session-dependent read
//! (SHOW WARNINGS, …), a write or transaction control. WITH, EXPLAIN / DESCRIBE / ANALYZE,
//! START TRANSACTION and SET are looked at further.

use super::scan::{is, is_any};
use crate::router::lexer::{Lexer, Token, TokenKind};

/// SHOW statements about the session's previous statements.
const SHOW_SESSION: [(&str, &str); 5] = [
    ("WARNINGS", "SHOW WARNINGS"),
    ("ERRORS", "SHOW ERRORS"),
    ("COUNT", "SHOW COUNT(*)"),
    ("PROFILE", "SHOW PROFILE"),
    ("PROFILES", "SHOW PROFILES"),
];

/// What one statement is, from its leading keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Read,
    /// A read whose result belongs to the session's connection (SHOW WARNINGS, …).
    ReadSession(&'static str),
    Write,
    Txn {
        read_only: bool,
    },
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
pub(super) fn statement_kind(mut lx: Lexer) -> Kind {
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
