//! What the main scan of [`classify`](super::classify) notes token by token: the keywords it
//! watches for (locking reads, INTO, the session functions), the session-dependent system
//! variables, `shardgate:` hints, and the [`Facts`] it gathers.

use super::statement::Kind;

/// The keywords the main scan looks at, upper-cased: those of locking reads, INTO,
/// NEXT/PREVIOUS VALUE FOR, SQL_CALC_FOUND_ROWS and the session functions (called when
/// followed by `(`). Dispatched on the first letter: most words are none of these.
pub(super) fn keyword(word: &[u8]) -> Option<&'static str> {
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
pub(super) const SESSION_SYSVARS: [(&str, &str); 4] = [
    ("identity", "@@IDENTITY"),
    ("last_insert_id", "@@LAST_INSERT_ID"),
    ("warning_count", "@@WARNING_COUNT"),
    ("error_count", "@@ERROR_COUNT"),
];

/// What the scan found.
#[derive(Default)]
pub(super) struct Facts {
    pub(super) hint_primary: bool,
    pub(super) hint_replica: bool,
    pub(super) empty_part: bool,
    pub(super) txn: bool,
    pub(super) read_only_start: bool,
    pub(super) write: bool,
    pub(super) locking: bool,
    pub(super) into: bool,
    pub(super) session_fn: Option<&'static str>,
    pub(super) user_var: bool,
    pub(super) critical: Option<usize>,
}

impl Facts {
    pub(super) fn add(&mut self, kind: Kind) {
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
    pub(super) fn session(&mut self, name: &'static str) {
        self.session_fn.get_or_insert(name);
    }
}

/// Reads `shardgate:primary` / `shardgate:replica` (case-insensitive, blanks around `:`) in the
/// text of a `/*+ … */` hint.
pub(super) fn hint(text: &[u8], f: &mut Facts) {
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

/// Case-insensitive keyword comparison.
pub(super) fn is(word: &[u8], keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword.as_bytes())
}

pub(super) fn is_any(word: &[u8], keywords: &[&str]) -> bool {
    keywords.iter().any(|k| is(word, k))
}
