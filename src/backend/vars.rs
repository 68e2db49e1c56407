//! Session variables a session (or a backend connection) carries: the values the server
//! reported as changed (`session_track_system_variables = '*'` on every backend connection),
//! and the one combined `SET` that brings a connection from one set to another.
//!
//! Learnt from the server's own reports, the values are exactly what the server computed,
//! whatever statement set them (`SET`, `SET NAMES`, a stored procedure, ...).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// What the proxy does with a variable the server reported as changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// Carried to every connection the session uses.
    Replay,
    /// Followed another way (status flags, `LAST_INSERT_ID()` bookkeeping).
    Ignore,
    /// Applies to the next statement only: the session keeps its connection for it.
    NextStatement,
    /// Cannot be carried over: the session keeps its connection.
    Pin(&'static str),
}

/// How the proxy treats a changed session variable.
pub fn var_kind(name: &str) -> VarKind {
    match name {
        // The last two follow the default schema (COM_INIT_DB sets them).
        "last_insert_id" | "character_set_database" | "collation_database" => VarKind::Ignore,
        "insert_id" | "rand_seed1" | "rand_seed2" | "gtid_seq_no" => VarKind::NextStatement,
        "session_track_system_variables"
        | "session_track_state_change"
        | "session_track_schema"
        | "session_track_transaction_info" => {
            VarKind::Pin("the session changed session tracking settings")
        }
        _ => VarKind::Replay,
    }
}

/// The session variables a session (or a connection) carries: name → value as the server
/// reported it, with a key that identifies the whole set (0 when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionVars {
    map: BTreeMap<Box<str>, Box<str>>,
    key: u64,
}

impl SessionVars {
    pub fn key(&self) -> u64 {
        self.key
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|v| &**v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records one value; `false` when it was already the recorded one.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        if self.get(name) == Some(value) {
            return false;
        }
        self.map.insert(name.into(), value.into());
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.map.hash(&mut h);
        self.key = h.finish().max(1);
        true
    }
}

/// Character-set variables: when one of them must go back to its default, the proxy issues
/// `SET NAMES` for the session's collation instead (their default is the handshake's, not the
/// server's global value).
pub fn is_charset_var(name: &str) -> bool {
    matches!(
        name,
        "character_set_client"
            | "character_set_connection"
            | "character_set_results"
            | "collation_connection"
    )
}

/// `@@session.name = value` for a value the server reported; `None` when it cannot be written
/// back safely (a value with a backslash reads differently under NO_BACKSLASH_ESCAPES).
pub fn assignment(name: &str, value: &str) -> Option<String> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || value.contains('\\') {
        return None;
    }
    let literal = if is_number(value) {
        value.to_string()
    } else if value.is_empty() && is_charset_var(name) {
        // `character_set_results = NULL` is reported as an empty value.
        "NULL".to_string()
    } else {
        format!("'{}'", value.replace('\'', "''"))
    };
    Some(format!("@@session.{name} = {literal}"))
}

/// `@@session.name = DEFAULT`.
pub fn reset_assignment(name: &str) -> Option<String> {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then(|| format!("@@session.{name} = DEFAULT"))
}

fn is_number(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The SET that brings a connection carrying `have` to `want`; `None` when nothing differs.
/// `Err(name)` names a variable that cannot be written back.
pub fn sync_statement(
    have: &SessionVars,
    want: &SessionVars,
    names: Option<&str>,
    extra: Option<String>,
) -> Result<Option<String>, String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(names) = names {
        parts.push(names.to_string());
    }
    for (name, _) in have.iter() {
        if want.get(name).is_none() && !is_charset_var(name) {
            parts.push(reset_assignment(name).ok_or_else(|| name.to_string())?);
        }
    }
    for (name, value) in want.iter() {
        if have.get(name) != Some(value) || names.is_some() && is_charset_var(name) {
            parts.push(assignment(name, value).ok_or_else(|| name.to_string())?);
        }
    }
    parts.extend(extra);
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("SET {}", parts.join(", "))))
}

/// Does the connection carry a character-set variable the session does not (so `SET NAMES`
/// must put the session's collation back)?
pub fn drops_charset_var(have: &SessionVars, want: &SessionVars) -> bool {
    have.iter()
        .any(|(name, _)| is_charset_var(name) && want.get(name).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> SessionVars {
        let mut v = SessionVars::default();
        for (n, val) in pairs {
            v.set(n, val);
        }
        v
    }

    #[test]
    fn values_are_written_back_as_literals() {
        assert_eq!(
            assignment("sql_mode", "ANSI_QUOTES,STRICT_ALL_TABLES").as_deref(),
            Some("@@session.sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES'")
        );
        assert_eq!(
            assignment("sort_buffer_size", "262144").as_deref(),
            Some("@@session.sort_buffer_size = 262144")
        );
        assert_eq!(
            assignment("long_query_time", "0.500000").as_deref(),
            Some("@@session.long_query_time = 0.500000")
        );
        assert_eq!(
            assignment("time_zone", "+05:30").as_deref(),
            Some("@@session.time_zone = '+05:30'")
        );
        assert_eq!(
            assignment("character_set_results", "").as_deref(),
            Some("@@session.character_set_results = NULL")
        );
        assert_eq!(
            assignment("sql_mode", "").as_deref(),
            Some("@@session.sql_mode = ''")
        );
        assert_eq!(
            assignment("x", "it's").as_deref(),
            Some("@@session.x = 'it''s'")
        );
        assert_eq!(assignment("x", "a\\b"), None);
        assert_eq!(assignment("x; DROP", "1"), None);
        assert!(!is_number("1.") && !is_number("-") && !is_number("1e5") && is_number("-3"));
    }

    #[test]
    fn the_key_identifies_the_whole_set() {
        let a = vars(&[("time_zone", "+00:00"), ("sql_mode", "")]);
        let b = vars(&[("sql_mode", ""), ("time_zone", "+00:00")]);
        assert_eq!(a.key(), b.key(), "order of setting does not matter");
        assert_ne!(a.key(), vars(&[("sql_mode", "")]).key());
        assert_eq!(SessionVars::default().key(), 0);
        let mut c = a.clone();
        assert!(!c.set("sql_mode", ""), "same value: no change");
    }

    #[test]
    fn sync_sets_only_what_differs_and_resets_what_is_extra() {
        let have = vars(&[("time_zone", "+01:00"), ("wait_timeout", "100")]);
        let want = vars(&[("time_zone", "+02:00"), ("sql_mode", "ANSI")]);
        let sql = sync_statement(&have, &want, None, None).expect("ok");
        assert_eq!(
            sql.as_deref(),
            Some(
                "SET @@session.wait_timeout = DEFAULT, @@session.sql_mode = 'ANSI', \
                 @@session.time_zone = '+02:00'"
            )
        );
        assert_eq!(sync_statement(&want, &want, None, None), Ok(None));
        let names = "NAMES 'utf8mb4'";
        let cs = vars(&[("character_set_results", "latin1")]);
        assert_eq!(
            sync_statement(&cs, &cs, Some(names), None)
                .expect("ok")
                .as_deref(),
            Some("SET NAMES 'utf8mb4', @@session.character_set_results = 'latin1'"),
            "after SET NAMES the session's own charset variables are set again"
        );
        assert!(drops_charset_var(&cs, &SessionVars::default()));
        let bad = vars(&[("x", "a\\b")]);
        assert_eq!(
            sync_statement(&SessionVars::default(), &bad, None, None),
            Err("x".into())
        );
    }

    #[test]
    fn variable_kinds() {
        assert_eq!(var_kind("sql_mode"), VarKind::Replay);
        assert_eq!(var_kind("autocommit"), VarKind::Replay);
        assert_eq!(var_kind("collation_database"), VarKind::Ignore);
        assert_eq!(var_kind("insert_id"), VarKind::NextStatement);
        assert!(matches!(
            var_kind("session_track_system_variables"),
            VarKind::Pin(_)
        ));
    }
}
