//! Text statements with their plain literals taken out: the cache key of a statement's shape
//! (`SELECT c FROM t WHERE id = 5` and `… id = 7` share one), the literals as key values, and
//! the literals put back into each rewritten target statement.
//!
//! Only literals whose value the analyzer reads identically from a `?` and its parameter are
//! taken out: unsigned decimal integers and decimals, and single-quoted strings without
//! escapes or introducers. Everything else stays in the key text. Statements containing a `?`
//! byte or an executable comment are not normalized at all, so that every `?` the parser sees
//! in the key is one put there for a literal.

use super::analyze::constraint::{KeyLit, ParamValue, Params};
use crate::router::lexer::{Lexer, TokenKind, is_ident_byte};

/// Longest statement whose shape is cached; longer ones (bulk INSERTs) are analysed each time.
pub const MAX_CACHED_LEN: usize = 4096;

/// A statement with its literals replaced by `?`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized<'a> {
    /// The statement text with each literal replaced by `?`: the cache key.
    pub key: String,
    /// The literals as written, in order.
    pub literals: Vec<&'a str>,
}

impl Normalized<'_> {
    /// The literals as parameters of the key's `?`s, read exactly as the analyzer reads them
    /// in the original text.
    pub fn params(&self) -> Params {
        Params(
            self.literals
                .iter()
                .map(|l| {
                    ParamValue::Lit(match l.strip_prefix('\'') {
                        Some(s) => KeyLit::Str(s.strip_suffix('\'').unwrap_or(s).to_string()),
                        None => KeyLit::Number((*l).to_string()),
                    })
                })
                .collect(),
        )
    }
}

/// `sql` with its plain literals replaced by `?`; `None` when it must be analysed as written.
pub fn normalize(sql: &str) -> Option<Normalized<'_>> {
    if sql.len() > MAX_CACHED_LEN
        || sql.contains('?')
        || sql.contains("/*!")
        || sql.contains("/*M!")
    {
        return None;
    }
    let bytes = sql.as_bytes();
    let mut key = String::with_capacity(sql.len());
    let mut literals = Vec::new();
    let mut copied = 0;
    let mut previous_minus = false;
    for t in Lexer::new(bytes) {
        let take = match t.kind {
            TokenKind::Error(_) => return None,
            TokenKind::Number => {
                !previous_minus && plain_number(t.text) && after_space(bytes, t.start)
            }
            TokenKind::Str => {
                bytes.get(t.start) == Some(&b'\'')
                    && !t.text.contains(&b'\\')
                    && !t.text.contains(&b'\'')
                    && after_space(bytes, t.start)
            }
            _ => false,
        };
        previous_minus = t.is_punct(b'-');
        if take {
            let (start, end) = (t.start, t.end);
            key.push_str(sql.get(copied..start)?);
            key.push('?');
            literals.push(sql.get(start..end)?);
            copied = end;
        }
    }
    key.push_str(sql.get(copied..)?);
    Some(Normalized { key, literals })
}

/// `42` or `4.2`: read the same as text and as a parameter.
fn plain_number(text: &[u8]) -> bool {
    let mut parts = text.split(|b| *b == b'.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    parts.next().is_none()
        && !whole.is_empty()
        && whole.iter().all(u8::is_ascii_digit)
        && fraction.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

/// Not glued to a word or a dot before it (`_utf8mb4'x'`, `N'x'`, `t.5`).
fn after_space(bytes: &[u8], start: usize) -> bool {
    start == 0 || {
        let b = bytes[start - 1];
        !is_ident_byte(b) && b != b'.' && b != b'@'
    }
}

/// `target` (the key text rewritten for one shard) with its `?`s replaced by the literals, in
/// order; `None` when the count does not match (the rewrite moved or dropped some).
pub fn restore(target: &str, literals: &[&str]) -> Option<String> {
    let mut out =
        String::with_capacity(target.len() + literals.iter().map(|l| l.len()).sum::<usize>());
    let mut copied = 0;
    let mut next = literals.iter();
    for t in Lexer::new(target.as_bytes()) {
        match t.kind {
            TokenKind::Placeholder => {
                out.push_str(target.get(copied..t.start)?);
                out.push_str(next.next()?);
                copied = t.end;
            }
            TokenKind::Error(_) => return None,
            _ => {}
        }
    }
    if next.next().is_some() {
        return None;
    }
    out.push_str(target.get(copied..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sql: &str) -> Option<(String, Vec<&str>)> {
        normalize(sql).map(|n| (n.key, n.literals))
    }

    #[test]
    fn plain_literals_become_placeholders() {
        assert_eq!(
            key("SELECT c FROM sbtest1 WHERE id=5012"),
            Some(("SELECT c FROM sbtest1 WHERE id=?".into(), vec!["5012"]))
        );
        assert_eq!(
            key("UPDATE t SET v = 'x y', w = 2.50 WHERE id IN (1,22) -- c 7\n"),
            Some((
                "UPDATE t SET v = ?, w = ? WHERE id IN (?,?) -- c 7\n".into(),
                vec!["'x y'", "2.50", "1", "22"]
            ))
        );
    }

    #[test]
    fn literals_read_differently_as_parameters_stay() {
        for sql in [
            "SELECT * FROM t WHERE id = -5",
            "SELECT * FROM t WHERE id = 0x1F",
            "SELECT * FROM t WHERE id = 1e3",
            "SELECT * FROM t WHERE s = _utf8mb4'a'",
            "SELECT * FROM t WHERE s = N'a'",
            "SELECT * FROM t WHERE s = 'it''s'",
            "SELECT * FROM t WHERE s = 'a\\'b'",
            "SELECT * FROM t WHERE s = \"dq\"",
            "SELECT * FROM t WHERE id = .5",
        ] {
            let (k, lits) = key(sql).expect("normalized");
            assert_eq!(k, sql, "{sql}");
            assert!(lits.is_empty(), "{sql}");
        }
    }

    #[test]
    fn statements_with_question_marks_or_executable_comments_are_not_normalized() {
        assert_eq!(key("SELECT * FROM t WHERE s = 'why?'"), None);
        assert_eq!(key("SELECT /*!50000 1 */ FROM t"), None);
        assert_eq!(key("SELECT 'unterminated"), None);
        assert_eq!(
            key(&format!("SELECT '{}'", "x".repeat(MAX_CACHED_LEN))),
            None
        );
    }

    #[test]
    fn params_carry_the_literal_text() {
        let n = normalize("SELECT 1 FROM t WHERE a = 'k' AND b = 7.5").expect("normalized");
        assert_eq!(
            n.params(),
            Params(vec![
                ParamValue::Lit(KeyLit::Number("1".into())),
                ParamValue::Lit(KeyLit::Str("k".into())),
                ParamValue::Lit(KeyLit::Number("7.5".into())),
            ])
        );
    }

    #[test]
    fn restore_puts_literals_back_in_order() {
        assert_eq!(
            restore("SELECT c FROM `t_3` WHERE id = ? AND s = ?", &["5", "'a'"]).as_deref(),
            Some("SELECT c FROM `t_3` WHERE id = 5 AND s = 'a'")
        );
        assert_eq!(
            restore("SELECT `a?b` FROM t", &[]).as_deref(),
            Some("SELECT `a?b` FROM t")
        );
        assert_eq!(restore("SELECT ?", &[]), None);
        assert_eq!(restore("SELECT 1", &["1"]), None);
    }
}
