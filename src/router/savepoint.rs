//! Savepoint statements (`SAVEPOINT n`, `ROLLBACK [WORK] TO [SAVEPOINT] n`,
//! `RELEASE SAVEPOINT n`), read so that a transaction spanning several shards keeps the same
//! savepoints on each of them.

use super::lexer::{Lexer, Token, TokenKind};

/// A savepoint statement and its name (lower-cased: savepoint names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Savepoint {
    Set(String),
    RollbackTo(String),
    Release(String),
}

impl Savepoint {
    /// Applies the statement to a transaction's savepoints, oldest first.
    pub fn apply(&self, list: &mut Vec<String>) {
        match self {
            Savepoint::Set(n) => {
                list.retain(|s| s != n);
                list.push(n.clone());
            }
            Savepoint::RollbackTo(n) => {
                if let Some(i) = list.iter().position(|s| s == n) {
                    list.truncate(i + 1);
                }
            }
            Savepoint::Release(n) => {
                if let Some(i) = list.iter().position(|s| s == n) {
                    list.truncate(i);
                }
            }
        }
    }
}

/// The savepoint statement `sql` is, if it is one.
pub fn parse(sql: &[u8]) -> Option<Savepoint> {
    // Every statement passes here: look at the first word before tokenizing anything.
    let start = super::prescan::skip_noise(sql);
    let end = start
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(start.len());
    let first = &start[..end];
    if !["SAVEPOINT", "ROLLBACK", "RELEASE"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w.as_bytes()))
    {
        return None;
    }
    let tokens: Vec<Token<'_>> = Lexer::new(sql)
        .filter(|t| !matches!(t.kind, TokenKind::Comment | TokenKind::Hint))
        .collect();
    let word = |i: usize, w: &str| {
        tokens
            .get(i)
            .is_some_and(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(w.as_bytes()))
    };
    let (kind, at) = if word(0, "SAVEPOINT") {
        (0, 1)
    } else if word(0, "RELEASE") && word(1, "SAVEPOINT") {
        (2, 2)
    } else if word(0, "ROLLBACK") {
        let mut i = 1;
        if word(i, "WORK") {
            i += 1;
        }
        if !word(i, "TO") {
            return None;
        }
        i += 1;
        if word(i, "SAVEPOINT") {
            i += 1;
        }
        (1, i)
    } else {
        return None;
    };
    let name = tokens.get(at)?;
    if !matches!(name.kind, TokenKind::Word | TokenKind::QuotedIdent) {
        return None;
    }
    let rest = &tokens[at + 1..];
    if !(rest.is_empty() || rest.len() == 1 && rest[0].is_punct(b';')) {
        return None;
    }
    let name = String::from_utf8_lossy(name.text)
        .replace("``", "`")
        .to_lowercase();
    Some(match kind {
        0 => Savepoint::Set(name),
        1 => Savepoint::RollbackTo(name),
        _ => Savepoint::Release(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoint_statements_are_read() {
        assert_eq!(parse(b"SAVEPOINT a"), Some(Savepoint::Set("a".into())));
        assert_eq!(
            parse(b"  savepoint `S 1`;"),
            Some(Savepoint::Set("s 1".into()))
        );
        assert_eq!(
            parse(b"ROLLBACK TO a"),
            Some(Savepoint::RollbackTo("a".into()))
        );
        assert_eq!(
            parse(b"rollback work to savepoint A"),
            Some(Savepoint::RollbackTo("a".into()))
        );
        assert_eq!(
            parse(b"RELEASE SAVEPOINT a"),
            Some(Savepoint::Release("a".into()))
        );
        assert_eq!(
            parse(b"/* orm */ SAVEPOINT s1_x"),
            Some(Savepoint::Set("s1_x".into()))
        );
        for other in [
            "ROLLBACK",
            "ROLLBACK WORK",
            "RELEASE a",
            "SELECT 1",
            "SAVEPOINT",
            "SAVEPOINT a b",
            "ROLLBACK TO",
        ] {
            assert_eq!(parse(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn the_list_follows_mysql_semantics() {
        let mut l = Vec::new();
        for s in ["SAVEPOINT a", "SAVEPOINT b", "SAVEPOINT c", "SAVEPOINT a"] {
            parse(s.as_bytes()).expect("savepoint").apply(&mut l);
        }
        assert_eq!(
            l,
            ["b", "c", "a"],
            "a new savepoint of the same name replaces it"
        );
        parse(b"ROLLBACK TO c").expect("rollback").apply(&mut l);
        assert_eq!(l, ["b", "c"], "later savepoints go, the named one stays");
        parse(b"RELEASE SAVEPOINT b")
            .expect("release")
            .apply(&mut l);
        assert!(l.is_empty(), "the named one and later ones go");
    }
}
