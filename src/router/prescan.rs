//! A cheap byte-level scan of a statement's start: skips whitespace and comments and reads
//! the leading keyword, without a full parse.

/// Returns the statement text after leading whitespace and comments.
/// Executable comments (`/*! ... */`, `/*M! ... */`) are statement text, not skipped.
pub fn skip_noise(sql: &[u8]) -> &[u8] {
    let mut s = sql;
    loop {
        let trimmed = s.trim_ascii_start();
        if let Some(rest) = trimmed.strip_prefix(b"/*") {
            if rest.starts_with(b"!") || rest.starts_with(b"M!") {
                return trimmed;
            }
            match find(rest, b"*/") {
                Some(end) => s = &rest[end + 2..],
                None => return &[],
            }
        } else if trimmed.starts_with(b"#")
            || (trimmed.starts_with(b"--")
                && trimmed.get(2).is_none_or(|c| c.is_ascii_whitespace()))
        {
            match trimmed.iter().position(|&c| c == b'\n') {
                Some(end) => s = &trimmed[end + 1..],
                None => return &[],
            }
        } else {
            return trimmed;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// For `USE db` (optionally back-quoted, optionally followed by `;`), the schema name.
/// `Some(true)` for COMMIT, `Some(false)` for ROLLBACK (not `ROLLBACK TO SAVEPOINT`).
pub fn ends_transaction(sql: &[u8]) -> Option<bool> {
    let s = skip_noise(sql);
    let (first, rest) = word(s)?;
    if first.eq_ignore_ascii_case(b"COMMIT") {
        return Some(true);
    }
    if first.eq_ignore_ascii_case(b"ROLLBACK") {
        let next = word(skip_noise(rest)).map(|(w, _)| w);
        let to = next.is_some_and(|w| w.eq_ignore_ascii_case(b"TO"));
        let work_to = next.is_some_and(|w| w.eq_ignore_ascii_case(b"WORK"))
            && word(skip_noise(rest))
                .and_then(|(_, r)| word(skip_noise(r)))
                .is_some_and(|(w, _)| w.eq_ignore_ascii_case(b"TO"));
        return (!to && !work_to).then_some(false);
    }
    None
}

pub fn use_schema(sql: &[u8]) -> Option<String> {
    let s = skip_noise(sql);
    if s.len() < 4 || !s[..3].eq_ignore_ascii_case(b"USE") || !s[3].is_ascii_whitespace() {
        return None;
    }
    let rest = skip_noise(&s[3..]);
    let (name, tail) = if let Some(q) = rest.strip_prefix(b"`") {
        // `` inside a quoted identifier is an escaped back-quote.
        let mut name = Vec::new();
        let mut i = 0;
        loop {
            match (q.get(i), q.get(i + 1)) {
                (Some(b'`'), Some(b'`')) => {
                    name.push(b'`');
                    i += 2;
                }
                (Some(b'`'), _) => break (name, &q[i + 1..]),
                (Some(&c), _) => {
                    name.push(c);
                    i += 1;
                }
                (None, _) => return None,
            }
        }
    } else {
        let end = rest
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$' || *c >= 0x80))
            .unwrap_or(rest.len());
        (rest[..end].to_vec(), &rest[end..])
    };
    let tail = skip_noise(tail);
    let tail = tail.strip_prefix(b";").map(skip_noise).unwrap_or(tail);
    if name.is_empty() || !tail.is_empty() {
        return None;
    }
    String::from_utf8(name).ok()
}

/// What a statement run on the primary leaves behind in its connection's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEffect {
    /// Nothing the proxy must carry to other connections.
    None,
    /// A session `SET` (variables, NAMES, CHARACTER SET): replayed on every other connection
    /// the session borrows.
    ReplayableSet,
    /// State that exists only on the primary's connection (a temporary table, a SET the proxy
    /// cannot replay): the session's reads stay on the primary from now on.
    PinsReads(&'static str),
}

/// Classifies a statement's effect on session state (a byte scan; false positives only pin).
pub fn session_effect(sql: &[u8]) -> SessionEffect {
    let s = skip_noise(sql);
    let Some((first, rest)) = word(s) else {
        return SessionEffect::None;
    };
    if first.eq_ignore_ascii_case(b"CREATE") {
        let temporary =
            word(skip_noise(rest)).is_some_and(|(w, _)| w.eq_ignore_ascii_case(b"TEMPORARY"));
        return if temporary {
            SessionEffect::PinsReads("the session created a temporary table")
        } else {
            SessionEffect::None
        };
    }
    if !first.eq_ignore_ascii_case(b"SET") {
        return SessionEffect::None;
    }
    // Transaction state is followed through the server's status flags, and global or
    // per-statement settings are no session state.
    let second = word(skip_noise(rest)).map(|(w, _)| w.to_ascii_uppercase());
    if let Some(w) = &second
        && [
            "GLOBAL",
            "PERSIST",
            "PERSIST_ONLY",
            "STATEMENT",
            "TRANSACTION",
            "PASSWORD",
            "ROLE",
            "DEFAULT",
        ]
        .contains(&String::from_utf8_lossy(w).as_ref())
    {
        return SessionEffect::None;
    }
    let lower = s.to_ascii_lowercase();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if has(b"@@global.") || has(b"autocommit") {
        return SessionEffect::None;
    }
    let body = s.trim_ascii_end();
    let body = body.strip_suffix(b";").unwrap_or(body);
    if body.contains(&b';') {
        return SessionEffect::PinsReads("a multi-statement SET");
    }
    if has(b"session_track_system_variables") {
        // The proxy's `last_gtid` tracking (read-your-writes) may be gone from the connection.
        return SessionEffect::PinsReads("the session changed session_track_system_variables");
    }
    if has(b"sql_mode") && (has(b"no_backslash_escapes") || has(b"ansi")) {
        // The classifier tokenizes strings as in the default sql_mode.
        return SessionEffect::PinsReads("sql_mode changes how the server reads string literals");
    }
    SessionEffect::ReplayableSet
}

/// The proxy's own statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// `SHOW SHARDGATE BACKENDS`
    ShowBackends,
    /// `SHOW SHARDGATE POOLS`: pool figures per backend and the sessions that keep a connection.
    ShowPools,
    /// `SHOW SHARDGATE CONFIG`: the config version in effect and the reloads.
    ShowConfig,
    /// `SHOW SHARDGATE SESSIONS`: the connected client sessions.
    ShowSessions,
    /// `SHARDGATE RELOAD`: re-read and apply the config file.
    Reload,
    /// `EXPLAIN SHARDGATE <statement>`: where the statement would go, and why.
    Explain(Vec<u8>),
}

/// Recognises `SHOW SHARDGATE BACKENDS` and `EXPLAIN SHARDGATE <statement>`.
pub fn admin(sql: &[u8]) -> Option<Admin> {
    let s = skip_noise(sql);
    let (first, rest) = word(s)?;
    if first.eq_ignore_ascii_case(b"SHARDGATE") {
        let (second, rest) = word(rest)?;
        let rest = rest.trim_ascii();
        let rest = rest.strip_suffix(b";").unwrap_or(rest).trim_ascii();
        return (second.eq_ignore_ascii_case(b"RELOAD") && rest.is_empty())
            .then_some(Admin::Reload);
    }
    let (second, rest) = word(rest)?;
    if !second.eq_ignore_ascii_case(b"SHARDGATE") {
        return None;
    }
    if first.eq_ignore_ascii_case(b"EXPLAIN") {
        return Some(Admin::Explain(rest.trim_ascii().to_vec()));
    }
    let (third, rest) = word(rest)?;
    let rest = rest.trim_ascii();
    let rest = rest.strip_suffix(b";").unwrap_or(rest).trim_ascii();
    if !first.eq_ignore_ascii_case(b"SHOW") || !rest.is_empty() {
        return None;
    }
    if third.eq_ignore_ascii_case(b"BACKENDS") {
        Some(Admin::ShowBackends)
    } else if third.eq_ignore_ascii_case(b"POOLS") {
        Some(Admin::ShowPools)
    } else if third.eq_ignore_ascii_case(b"CONFIG") {
        Some(Admin::ShowConfig)
    } else if third.eq_ignore_ascii_case(b"SESSIONS") {
        Some(Admin::ShowSessions)
    } else {
        None
    }
}

/// The session variables a `SET` statement assigns with `@@name`, `@@session.name` or
/// `@@local.name` (MariaDB 10.11's session tracking does not report `@@name = …` without a
/// scope keyword, so the proxy reads them back). Lower-cased; `@@global.` ones are skipped.
pub fn at_at_assignments(sql: &[u8]) -> Vec<String> {
    let s = skip_noise(sql);
    if word(s).is_none_or(|(w, _)| !w.eq_ignore_ascii_case(b"SET")) {
        return Vec::new();
    }
    let mut names = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&s[i..], b"@@").map(|p| p + i) {
        let mut rest = &s[at + 2..];
        i = at + 2;
        for scope in [&b"session."[..], b"local."] {
            if rest.len() >= scope.len() && rest[..scope.len()].eq_ignore_ascii_case(scope) {
                rest = &rest[scope.len()..];
            }
        }
        let end = rest
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        let after = after.trim_ascii_start();
        let assigns = after.starts_with(b"=") || after.starts_with(b":=");
        if name.is_empty() || !assigns || name.eq_ignore_ascii_case(b"global") {
            continue;
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The next run of letters/underscores after whitespace, and the text after it.
pub(crate) fn word(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = s.trim_ascii_start();
    let end = s
        .iter()
        .position(|c| !(c.is_ascii_alphabetic() || *c == b'_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_at_assignments_are_found() {
        let names = |s: &str| at_at_assignments(s.as_bytes());
        assert_eq!(names("SET @@sql_mode = ''"), vec!["sql_mode"]);
        assert_eq!(
            names("set @@SESSION.time_zone='+05:00', @@local.autocommit := 0"),
            vec!["time_zone", "autocommit"]
        );
        assert!(names("SET @@global.sql_mode = ''").is_empty());
        assert!(names("SELECT @@sql_mode = ''").is_empty());
        assert!(names("SET sql_mode = @@global.sql_mode").is_empty());
        assert!(names("SET @x = @@time_zone").is_empty());
    }

    #[test]
    fn session_effects() {
        use SessionEffect::*;
        for sql in [
            "SET time_zone = '+05:00'",
            "set names latin1",
            "SET SESSION sql_mode='STRICT_ALL_TABLES'",
            "SET @x = 1;",
        ] {
            assert_eq!(session_effect(sql.as_bytes()), ReplayableSet, "{sql}");
        }
        for sql in [
            "SET GLOBAL max_connections = 10",
            "SET autocommit = 0",
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET STATEMENT max_statement_time=1 FOR SELECT 1",
            "SET @@global.x = 1",
            "SELECT 1",
            "CREATE TABLE t (a INT)",
        ] {
            assert_eq!(session_effect(sql.as_bytes()), None, "{sql}");
        }
        assert!(matches!(
            session_effect(b"create /* c */ temporary table t (a int)"),
            PinsReads(_)
        ));
        assert!(matches!(
            session_effect(b"SET @a = 1; SET @b = 2"),
            PinsReads(_)
        ));
    }

    #[test]
    fn admin_statements() {
        assert_eq!(
            admin(b"show shardgate backends;"),
            Some(Admin::ShowBackends)
        );
        assert_eq!(admin(b"SHOW SHARDGATE BACKENDS extra"), None);
        assert_eq!(
            admin(b"EXPLAIN SHARDGATE SELECT 1"),
            Some(Admin::Explain(b"SELECT 1".to_vec()))
        );
        assert_eq!(admin(b"EXPLAIN SELECT 1"), None);
        assert_eq!(admin(b"SHOW SHARDGATEX BACKENDS"), None);
        assert_eq!(admin(b"shardgate reload ;"), Some(Admin::Reload));
        assert_eq!(admin(b"SHARDGATE RELOAD now"), None);
        assert_eq!(admin(b"SHOW SHARDGATE CONFIG"), Some(Admin::ShowConfig));
        assert_eq!(admin(b"SHOW SHARDGATE SESSIONS"), Some(Admin::ShowSessions));
    }

    #[test]
    fn use_statements() {
        assert_eq!(use_schema(b"USE shop").as_deref(), Some("shop"));
        assert_eq!(
            use_schema(b"  use `we``ird db` ; ").as_deref(),
            Some("we`ird db")
        );
        assert_eq!(use_schema(b"/* c */USE\tshop;").as_deref(), Some("shop"));
        assert_eq!(use_schema(b"USER()"), None);
        assert_eq!(use_schema(b"use shop; select 1"), None);
        assert_eq!(use_schema(b"use `unterminated"), None);
    }
}
