//! Statement text edits: sqlparser locations (line, column in characters) turned into byte
//! offsets, and replacements applied to the original text — the AST is never re-printed.

use sqlparser::tokenizer::{Location, Span};

/// Maps sqlparser locations of one statement to byte offsets.
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// Byte offset of a location (line and column start at 1); `None` for an empty location.
    pub fn offset(&self, loc: Location) -> Option<usize> {
        let line = usize::try_from(loc.line).ok()?.checked_sub(1)?;
        let column = usize::try_from(loc.column).ok()?.checked_sub(1)?;
        let start = *self.starts.get(line)?;
        let rest = self.text.get(start..)?;
        match rest.char_indices().nth(column) {
            Some((i, _)) => Some(start + i),
            None if rest.chars().count() == column => Some(self.text.len()),
            None => None,
        }
    }

    /// Byte range of a span (end exclusive).
    pub fn range(&self, span: Span) -> Option<(usize, usize)> {
        let start = self.offset(span.start)?;
        let end = self.offset(span.end)?;
        (start <= end).then_some((start, end))
    }
}

/// One replacement of a byte range of the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub with: String,
}

/// Applies non-overlapping edits (in any order) to `text`.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len() + 16 * edits.len());
    let mut at = 0;
    for e in sorted {
        if e.start < at {
            continue; // overlapping edits are a router bug; keep the first
        }
        out.push_str(&text[at..e.start]);
        out.push_str(&e.with);
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

/// An identifier written back: plain when it is a simple word, else in backticks.
pub fn quote_ident(name: &str, quoted: bool) -> String {
    let simple = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if simple && !quoted {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

/// Finds the keyword `word` (case-insensitive, whole word) ending before byte `before`,
/// separated from it only by whitespace; returns its start.
pub fn keyword_before(text: &str, before: usize, word: &str) -> Option<usize> {
    let head = text.get(..before)?.trim_end();
    let start = head.len().checked_sub(word.len())?;
    let candidate = head.get(start..)?;
    let boundary = head[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (candidate.eq_ignore_ascii_case(word) && boundary).then_some(start)
}

/// Where an expression starting at `start` really ends. sqlparser's span of a function call
/// stops at its name or inside its argument list, so: parentheses opened inside the span are
/// closed, and an argument list right after it is taken in (quotes and nesting respected).
pub fn expr_end(text: &str, start: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut quote) = (0usize, None::<u8>);
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if i >= end && depth == 0 && quote.is_none() {
            break;
        }
        match quote {
            Some(q) if b == b'\\' && q != b'`' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' | b'`' => quote = Some(b),
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        i += 1;
    }
    let end = i.min(bytes.len());
    let mut at = end;
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    if bytes.get(at) == Some(&b'(') {
        return expr_end(text, at, at + 1);
    }
    end
}

/// `start` moved back over prefix operators written before it (`-`, `+`, `~`, `!`, NOT,
/// BINARY), which sqlparser's spans leave out.
pub fn extend_start(sql: &str, start: usize) -> usize {
    let mut at = start;
    loop {
        let head = sql[..at].trim_end();
        if let Some(c) = head.chars().next_back()
            && matches!(c, '-' | '+' | '~' | '!' | '(')
        {
            at = head.len() - 1;
            continue;
        }
        let word_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphabetic())
            .last()
            .map(|(i, _)| i);
        match word_start {
            Some(w)
                if ["NOT", "BINARY"]
                    .iter()
                    .any(|k| head[w..].eq_ignore_ascii_case(k)) =>
            {
                at = w
            }
            _ => return at,
        }
    }
}

/// Where the clause item starting at `start` ends: the next top-level `,` or unmatched `)`,
/// or a clause keyword, outside quotes and parentheses.
pub fn clause_end(sql: &str, start: usize) -> usize {
    const STOP: [&str; 12] = [
        "ASC", "DESC", "LIMIT", "HAVING", "ORDER", "WINDOW", "FOR", "LOCK", "INTO", "WITH", "FROM",
        "UNION",
    ];
    let b = sql.as_bytes();
    let (mut depth, mut quote, mut i) = (0usize, None::<u8>, start);
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == b'\\' && q != b'`' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' if depth == 0 => return i,
                b')' => depth -= 1,
                b',' | b';' if depth == 0 => return i,
                c if depth == 0
                    && c.is_ascii_alphabetic()
                    && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
                {
                    let word_end = b[i..]
                        .iter()
                        .position(|x| !(x.is_ascii_alphanumeric() || *x == b'_'))
                        .map_or(b.len(), |p| i + p);
                    if i > start
                        && STOP
                            .iter()
                            .any(|k| sql[i..word_end].eq_ignore_ascii_case(k))
                    {
                        return i;
                    }
                    i = word_end;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_characters_per_line() {
        let t = "SELECT 'é'\n  FROM t";
        let idx = LineIndex::new(t);
        assert_eq!(idx.offset(Location::new(1, 1)), Some(0));
        assert_eq!(
            idx.offset(Location::new(1, 11)),
            Some(t.find('\n').unwrap_or(0))
        );
        assert_eq!(idx.offset(Location::new(2, 8)), Some(t.len() - 1));
        assert_eq!(idx.offset(Location::new(2, 9)), Some(t.len()));
        assert_eq!(idx.offset(Location::new(0, 0)), None);
    }

    #[test]
    fn edits_apply_in_order() {
        let t = "SELECT a FROM orders o JOIN items i";
        let edits = [
            Edit {
                start: 28,
                end: 33,
                with: "items_1".into(),
            },
            Edit {
                start: 14,
                end: 20,
                with: "orders_0001".into(),
            },
        ];
        assert_eq!(
            apply(t, &edits),
            "SELECT a FROM orders_0001 o JOIN items_1 i"
        );
    }

    #[test]
    fn quoting_and_keywords() {
        assert_eq!(quote_ident("orders_0001", false), "orders_0001");
        assert_eq!(quote_ident("orders_0001", true), "`orders_0001`");
        assert_eq!(quote_ident("a b", false), "`a b`");
        let t = "SELECT a FROM t GROUP BY a Having  COUNT(*) > 1";
        let at = t.find("COUNT").unwrap_or(0);
        assert_eq!(keyword_before(t, at, "having"), t.find("Having"));
        assert_eq!(keyword_before(t, at, "limit"), None);
    }

    #[test]
    fn expression_ends_take_in_argument_lists() {
        let t = "SELECT AVG(amount) FROM t";
        // A span that stops inside the argument list, and one that stops at the name.
        assert_eq!(expr_end(t, 7, 17), 18);
        assert_eq!(expr_end(t, 7, 10), 18);
        let t = "SELECT f(')', (1)) , b";
        assert_eq!(expr_end(t, 7, 8), 18);
        assert_eq!(expr_end("SELECT a FROM t", 7, 8), 8);
    }
}
