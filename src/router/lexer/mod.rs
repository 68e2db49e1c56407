//! A MySQL tokenizer over raw statement bytes: borrowed tokens, no allocation, never panics.
//!
//! Skipped silently: whitespace, `-- ` and `#` comments (to the end of the line).
//! Executable comments (`/*! … */`, `/*!40101 … */`, `/*M!100100 … */`) are statement text:
//! their markers are skipped and their content is tokenized. Every other block comment is
//! reported, as [`TokenKind::Hint`] (`/*+ … */`) or [`TokenKind::Comment`], so that callers can
//! read hints such as `/*+ shardgate:primary */` or `/*master*/`.
//!
//! sql_mode assumptions (MySQL's defaults): `"…"` is a string, not an identifier (no
//! ANSI_QUOTES), and a backslash escapes the next byte in strings (no NO_BACKSLASH_ESCAPES).
//! Bytes ≥ 0x80 are identifier bytes, so UTF-8 identifiers are single words.

/// What a token is; what its `text` holds is given per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare keyword or identifier (`select`, `t1`, `_utf8mb4`, `1abc`, `größe`).
    Word,
    /// A back-quoted identifier; text: the inside, `` `` `` escapes left as written.
    QuotedIdent,
    /// A `'…'` or `"…"` string; text: the inside, escapes left as written.
    Str,
    /// `42`, `1.5e-3`, `0x1F`, `0b101`.
    Number,
    /// An operator or punctuation: `(`, `;`, `,`, `.`, `:=`, `<=>`, `->>`, …
    Punct,
    /// `@name`, `@'name'`, `` @`name` ``; text: the name.
    UserVar,
    /// `@@name`, `@@session.name`; text: what follows `@@`.
    SysVar,
    /// `?`
    Placeholder,
    /// `/*+ … */`; text: what follows the `+`.
    Hint,
    /// Any other non-executable `/* … */`; text: the inside.
    Comment,
    /// The input ends inside a string, identifier or comment; text: the rest of the input.
    /// It is the last token.
    Error(LexError),
}

/// Why the lexer stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    UnterminatedString,
    UnterminatedIdentifier,
    UnterminatedComment,
}

impl LexError {
    /// A short human-readable description.
    pub fn describe(self) -> &'static str {
        match self {
            LexError::UnterminatedString => "unterminated string literal",
            LexError::UnterminatedIdentifier => "unterminated quoted identifier",
            LexError::UnterminatedComment => "unterminated comment",
        }
    }
}

/// One token: its kind, the text it carries and its span `start..end` in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a [u8],
    pub start: usize,
    pub end: usize,
}

impl Token<'_> {
    /// Whether this is the one-byte punctuation `p`.
    pub fn is_punct(&self, p: u8) -> bool {
        matches!(self.kind, TokenKind::Punct) && matches!(self.text, [c] if *c == p)
    }
}

/// The tokens of one input, in order. Cheap to clone: a lookahead is a clone.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    /// How many executable comments are open.
    exec_depth: u32,
    done: bool,
}

const IDENT: u8 = 1;
const SPACE: u8 = 2;

/// Byte classes, one table lookup per byte in the hot loops.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            t[b] = IDENT;
        } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            t[b] = SPACE;
        }
        b += 1;
    }
    t
};

/// Bytes that may appear in a bare identifier.
pub fn is_ident_byte(b: u8) -> bool {
    CLASS[b as usize] == IDENT
}

fn is_space(b: u8) -> bool {
    CLASS[b as usize] == SPACE
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            exec_depth: 0,
            done: false,
        }
    }

    /// The byte at `i`, or 0 past the end (0 is neither a digit nor an identifier byte).
    fn at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    fn token(
        &mut self,
        kind: TokenKind,
        start: usize,
        text: (usize, usize),
        end: usize,
    ) -> Token<'a> {
        self.pos = end;
        Token {
            kind,
            text: &self.src[text.0..text.1],
            start,
            end,
        }
    }

    fn error(&mut self, e: LexError, start: usize) -> Token<'a> {
        self.done = true;
        let end = self.src.len();
        self.token(TokenKind::Error(e), start, (start, end), end)
    }

    fn skip_line(&mut self) {
        self.pos = match self.src[self.pos..].iter().position(|&b| b == b'\n') {
            Some(i) => self.pos + i + 1,
            None => self.src.len(),
        };
    }

    /// At `/*`: opens an executable comment (returns `None`), or returns the comment token.
    fn block_comment(&mut self, start: usize) -> Option<Token<'a>> {
        let body = start + 2;
        let rest = &self.src[body..];
        let marker = match rest {
            [b'!', ..] => 1,
            [b'M', b'!', ..] => 2,
            _ => 0,
        };
        if marker > 0 {
            let p = body + marker;
            let digits = self.src[p..]
                .iter()
                .take(6)
                .take_while(|b| b.is_ascii_digit())
                .count();
            self.pos = if digits >= 5 { p + digits } else { p };
            self.exec_depth = self.exec_depth.saturating_add(1);
            return None;
        }
        let Some(i) = rest.windows(2).position(|w| w == b"*/") else {
            return Some(self.error(LexError::UnterminatedComment, start));
        };
        let (kind, from) = match rest.first() {
            Some(b'+') => (TokenKind::Hint, body + 1),
            _ => (TokenKind::Comment, body),
        };
        Some(self.token(kind, start, (from.min(body + i), body + i), body + i + 2))
    }

    /// The index of the closing quote `q` of a quoted text whose inside starts at `i`.
    fn close_quote(&self, mut i: usize, q: u8, backslash: bool) -> Option<usize> {
        loop {
            let b = *self.src.get(i)?;
            if b == b'\\' && backslash {
                i += 2;
            } else if b == q {
                if self.src.get(i + 1) != Some(&q) {
                    return Some(i);
                }
                i += 2;
            } else {
                i += 1;
            }
        }
    }

    /// A quoted text opening at `start` (its inside starts at `from`).
    fn quoted(&mut self, kind: TokenKind, start: usize, from: usize, q: u8) -> Token<'a> {
        match self.close_quote(from, q, q != b'`') {
            Some(close) => self.token(kind, start, (from, close), close + 1),
            None if q == b'`' => self.error(LexError::UnterminatedIdentifier, start),
            None => self.error(LexError::UnterminatedString, start),
        }
    }

    fn ident_end(&self, i: usize) -> usize {
        let rest = self.src.get(i..).unwrap_or_default();
        i + rest
            .iter()
            .position(|&b| !is_ident_byte(b))
            .unwrap_or(rest.len())
    }

    fn var_name_end(&self, mut i: usize) -> usize {
        while is_ident_byte(self.at(i)) || self.at(i) == b'.' {
            i += 1;
        }
        i
    }

    fn variable(&mut self, start: usize) -> Token<'a> {
        match self.at(start + 1) {
            b'@' => {
                let end = self.var_name_end(start + 2);
                self.token(TokenKind::SysVar, start, (start + 2, end), end)
            }
            q @ (b'\'' | b'"' | b'`') => self.quoted(TokenKind::UserVar, start, start + 2, q),
            b if is_ident_byte(b) || b == b'.' => {
                let end = self.var_name_end(start + 1);
                self.token(TokenKind::UserVar, start, (start + 1, end), end)
            }
            _ => self.token(TokenKind::Punct, start, (start, start + 1), start + 1),
        }
    }

    fn number(&mut self, start: usize) -> Token<'a> {
        let radix = self.at(start + 1) | 0x20;
        let first = self.at(start + 2);
        let mut i = start;
        if self.at(start) == b'0' && radix == b'x' && first.is_ascii_hexdigit() {
            i += 2;
            while self.at(i).is_ascii_hexdigit() {
                i += 1;
            }
        } else if self.at(start) == b'0' && radix == b'b' && matches!(first, b'0' | b'1') {
            i += 2;
            while matches!(self.at(i), b'0' | b'1') {
                i += 1;
            }
        } else {
            while self.at(i).is_ascii_digit() {
                i += 1;
            }
            if self.at(i) == b'.' {
                i += 1;
                while self.at(i).is_ascii_digit() {
                    i += 1;
                }
            }
            if self.at(i) | 0x20 == b'e' {
                let j = if matches!(self.at(i + 1), b'+' | b'-') {
                    i + 2
                } else {
                    i + 1
                };
                if self.at(j).is_ascii_digit() {
                    i = j;
                    while self.at(i).is_ascii_digit() {
                        i += 1;
                    }
                }
            }
        }
        // MySQL identifiers may start with digits: `1abc`, `0x1g`.
        let kind = if is_ident_byte(self.at(i)) {
            i = self.ident_end(i);
            TokenKind::Word
        } else {
            TokenKind::Number
        };
        self.token(kind, start, (start, i), i)
    }

    fn punct(&mut self, start: usize) -> Token<'a> {
        let len = match (self.at(start), self.at(start + 1), self.at(start + 2)) {
            (b'<', b'=', b'>') | (b'-', b'>', b'>') => 3,
            (b'<', b'=' | b'>' | b'<', _)
            | (b'>', b'=' | b'>', _)
            | (b'!', b'=', _)
            | (b':', b'=', _)
            | (b'|', b'|', _)
            | (b'&', b'&', _)
            | (b'-', b'>', _) => 2,
            _ => 1,
        };
        self.token(TokenKind::Punct, start, (start, start + len), start + len)
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        while !self.done {
            let rest = &self.src[self.pos..];
            let start = self.pos
                + rest
                    .iter()
                    .position(|&b| !is_space(b))
                    .unwrap_or(rest.len());
            self.pos = start;
            let Some(&c) = self.src.get(start) else {
                self.done = true;
                if self.exec_depth > 0 {
                    return Some(self.error(LexError::UnterminatedComment, start));
                }
                return None;
            };
            if is_ident_byte(c) && !c.is_ascii_digit() {
                let end = self.ident_end(start + 1);
                return Some(self.token(TokenKind::Word, start, (start, end), end));
            }
            let c1 = self.at(start + 1);
            match c {
                b'#' => self.skip_line(),
                // `--` starts a comment only before whitespace, a control byte or the end.
                b'-' if c1 == b'-' && self.at(start + 2) <= b' ' => self.skip_line(),
                b'/' if c1 == b'*' => {
                    if let Some(t) = self.block_comment(start) {
                        return Some(t);
                    }
                }
                b'*' if c1 == b'/' && self.exec_depth > 0 => {
                    self.exec_depth -= 1;
                    self.pos += 2;
                }
                b'\'' | b'"' => return Some(self.quoted(TokenKind::Str, start, start + 1, c)),
                b'`' => return Some(self.quoted(TokenKind::QuotedIdent, start, start + 1, c)),
                b'@' => return Some(self.variable(start)),
                b'?' => {
                    return Some(self.token(
                        TokenKind::Placeholder,
                        start,
                        (start, start + 1),
                        start + 1,
                    ));
                }
                b'0'..=b'9' => return Some(self.number(start)),
                _ => return Some(self.punct(start)),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
