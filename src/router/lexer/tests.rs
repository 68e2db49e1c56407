//! Tests of the lexer: quoting and escapes, numbers, variables and operators, comments, hints
//! and executable comments, and the error token of unterminated inputs.

use super::*;
use TokenKind::*;

fn lex(sql: &str) -> Vec<(TokenKind, String)> {
    Lexer::new(sql.as_bytes())
        .map(|t| (t.kind, String::from_utf8_lossy(t.text).into_owned()))
        .collect()
}

fn toks(list: &[(TokenKind, &str)]) -> Vec<(TokenKind, String)> {
    list.iter().map(|(k, s)| (*k, s.to_string())).collect()
}

#[test]
fn quotes_escapes_and_numbers() {
    let got = lex(r#"SELECT `a``b`, 'it''s\'', "x\"y", 0x1F, 1.5e-3, 1abc, .5 FROM größe"#);
    let want = toks(&[
        (Word, "SELECT"),
        (QuotedIdent, "a``b"),
        (Punct, ","),
        (Str, r"it''s\'"),
        (Punct, ","),
        (Str, r#"x\"y"#),
        (Punct, ","),
        (Number, "0x1F"),
        (Punct, ","),
        (Number, "1.5e-3"),
        (Punct, ","),
        (Word, "1abc"),
        (Punct, ","),
        (Punct, "."),
        (Number, "5"),
        (Word, "FROM"),
        (Word, "größe"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn variables_placeholders_operators() {
    let got = lex("@v:=@@session.sql_mode<=>? @'q w' @ x->>'$.a' 'u'@'h'");
    let want = toks(&[
        (UserVar, "v"),
        (Punct, ":="),
        (SysVar, "session.sql_mode"),
        (Punct, "<=>"),
        (Placeholder, "?"),
        (UserVar, "q w"),
        (Punct, "@"),
        (Word, "x"),
        (Punct, "->>"),
        (Str, "$.a"),
        (Str, "u"),
        (UserVar, "h"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn comments_hints_and_executable_comments() {
    let got =
        lex("/*+ BKA(t) */ a -- x\n#y\n/* master */b--c /*!40101 FOR /*!M!x*/ UPDATE */ d /**/");
    let want = toks(&[
        (Hint, " BKA(t) "),
        (Word, "a"),
        (Comment, " master "),
        (Word, "b"),
        (Punct, "-"),
        (Punct, "-"),
        (Word, "c"),
        (Word, "FOR"),
        (Word, "M"),
        (Punct, "!"),
        (Word, "x"),
        (Word, "UPDATE"),
        (Word, "d"),
        (Comment, ""),
    ]);
    assert_eq!(got, want);
    assert_eq!(lex("a --"), toks(&[(Word, "a")]));
    assert_eq!(
        lex("/*M!100100 SELECT 1*/"),
        toks(&[(Word, "SELECT"), (Number, "1")])
    );
    // Outside an executable comment `*/` is just two operators.
    assert_eq!(lex("*/"), toks(&[(Punct, "*"), (Punct, "/")]));
}

#[test]
fn unterminated_inputs_end_in_an_error() {
    for (sql, e) in [
        ("SELECT 'abc", LexError::UnterminatedString),
        ("SELECT 'ab\\'", LexError::UnterminatedString),
        ("SELECT '''", LexError::UnterminatedString),
        ("SELECT \"x", LexError::UnterminatedString),
        ("SELECT @'x", LexError::UnterminatedString),
        ("SELECT `x", LexError::UnterminatedIdentifier),
        ("SELECT /* x", LexError::UnterminatedComment),
        ("SELECT /*+ x *", LexError::UnterminatedComment),
        ("/*!40101 SELECT 1", LexError::UnterminatedComment),
    ] {
        let last = Lexer::new(sql.as_bytes()).last().map(|t| t.kind);
        assert_eq!(last, Some(Error(e)), "{sql}");
    }
}
