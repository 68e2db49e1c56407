//! Which statements end the current transaction with an implicit commit (MariaDB's list:
//! DDL, account management, LOCK/UNLOCK TABLES, BEGIN, table maintenance, FLUSH, RESET, ...),
//! read from the leading words only. A session whose transaction spans several shards
//! commits every shard before such a statement runs, as one server would commit everything.

use super::prescan::{skip_noise, word};

/// Does this statement commit the session's open transaction before it runs? `UNLOCK
/// TABLES` commits only when tables are locked (the caller knows); `SET autocommit = 1` see
/// `sets_autocommit_on`. Executable comments (`/*!40101 TEMPORARY */`) are read as text.
pub fn commits_implicitly(sql: &[u8]) -> bool {
    let text = without_executable_comment_marks(sql);
    let mut words = Words(skip_noise(&text));
    let Some(first) = words.next_upper() else {
        return false;
    };
    match first.as_str() {
        "ALTER" | "RENAME" | "TRUNCATE" | "GRANT" | "REVOKE" | "BEGIN" | "LOCK" | "ANALYZE"
        | "CHECK" | "OPTIMIZE" | "REPAIR" | "FLUSH" | "RESET" | "INSTALL" | "UNINSTALL" => {
            !matches!(
                (first.as_str(), words.next_upper().as_deref()),
                // BEGIN NOT ATOMIC is a compound statement, not a transaction start.
                ("BEGIN", Some("NOT")) | ("RESET", Some("QUERY"))
            )
        }
        "CREATE" | "DROP" => {
            let mut next = words.next_upper();
            if next.as_deref() == Some("OR") {
                // CREATE OR REPLACE [TEMPORARY] TABLE
                words.next_upper();
                next = words.next_upper();
            }
            next.as_deref() != Some("TEMPORARY")
        }
        "START" => words.next_upper().as_deref() == Some("TRANSACTION"),
        "LOAD" => words.next_upper().as_deref() == Some("INDEX"),
        "SET" => words.next_upper().as_deref() == Some("PASSWORD"),
        _ => false,
    }
}

/// `UNLOCK TABLES` (which commits when the session holds table locks).
pub fn unlocks_tables(sql: &[u8]) -> bool {
    let mut words = Words(skip_noise(sql));
    words.next_upper().as_deref() == Some("UNLOCK")
        && matches!(words.next_upper().as_deref(), Some("TABLES" | "TABLE"))
}

/// `SET [SESSION|LOCAL] autocommit = 1|ON|TRUE` (also `@@autocommit`, `@@session.`, and
/// among other assignments): commits an open transaction when autocommit was off.
pub fn sets_autocommit_on(sql: &[u8]) -> bool {
    let compact: Vec<u8> = without_executable_comment_marks(skip_noise(sql))
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect();
    if !compact.starts_with(b"set") {
        return false;
    }
    let mut from = 0;
    while let Some(at) = find(&compact[from..], b"autocommit").map(|i| i + from) {
        from = at + 1;
        let before = &compact[..at];
        let name_ok = before == b"set"
            || before.ends_with(b",")
            || before == b"setsession"
            || before == b"setlocal"
            || before.ends_with(b",@@")
            || before == b"set@@"
            || before.ends_with(b"@@session.")
            || before.ends_with(b"@@local.");
        let rest = &compact[at + b"autocommit".len()..];
        let value = rest.strip_prefix(b":=").or_else(|| rest.strip_prefix(b"="));
        let on = value.is_some_and(|v| {
            [&b"1"[..], b"on", b"true", b"'on'", b"\"on\""]
                .iter()
                .any(|w| v.starts_with(w) && matches!(v.get(w.len()), None | Some(b',' | b';')))
        });
        if name_ok && on {
            return true;
        }
    }
    false
}

/// Statements whose effect on the transaction the proxy cannot see before they run: a
/// prepared or dynamic statement (`EXECUTE`, `EXECUTE IMMEDIATE`), a procedure (`CALL`),
/// a compound statement (`BEGIN NOT ATOMIC`). Any of them may COMMIT or ROLLBACK inside.
pub fn hides_transaction_control(sql: &[u8]) -> bool {
    let text = without_executable_comment_marks(sql);
    let mut words = Words(skip_noise(&text));
    match words.next_upper().as_deref() {
        Some("EXECUTE" | "CALL") => true,
        Some("BEGIN") => words.next_upper().as_deref() == Some("NOT"),
        _ => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The statement with the marks of executable comments (`/*!40101`, `/*M!100100`, and their
/// `*/`) blanked out, so that their content reads as the statement text it is.
fn without_executable_comment_marks(sql: &[u8]) -> Vec<u8> {
    let mut out = sql.to_vec();
    let mut i = 0;
    let mut open = 0;
    while i + 1 < out.len() {
        let starts = out[i] == b'/' && out[i + 1] == b'*';
        let bang = match (out.get(i + 2), out.get(i + 3)) {
            (Some(b'!'), _) => Some(i + 3),
            (Some(b'M'), Some(b'!')) => Some(i + 4),
            _ => None,
        };
        if let (true, Some(mut j)) = (starts, bang) {
            while out.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            out[i..j].fill(b' ');
            open += 1;
            i = j;
        } else if open > 0 && out[i] == b'*' && out[i + 1] == b'/' {
            out[i..i + 2].fill(b' ');
            open -= 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// The words of a statement, upper-cased, one at a time.
struct Words<'a>(&'a [u8]);

impl Words<'_> {
    fn next_upper(&mut self) -> Option<String> {
        let (w, rest) = word(skip_noise(self.0))?;
        self.0 = rest;
        Some(String::from_utf8_lossy(w).to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::commits_implicitly;

    #[test]
    fn ddl_and_transaction_starts_commit() {
        for sql in [
            "CREATE TABLE t (a INT)",
            "create or replace table t (a int)",
            "DROP TABLE IF EXISTS t",
            "ALTER TABLE t ADD c INT",
            "TRUNCATE t",
            "RENAME TABLE a TO b",
            "CREATE INDEX i ON t (a)",
            "  /* c */ BEGIN",
            "BEGIN WORK",
            "START TRANSACTION READ ONLY",
            "LOCK TABLES t WRITE",
            "GRANT SELECT ON *.* TO u",
            "SET PASSWORD FOR u = PASSWORD('x')",
            "ANALYZE TABLE t",
            "OPTIMIZE TABLE t",
            "FLUSH TABLES",
            "LOAD INDEX INTO CACHE t",
            "/*!40101 CREATE */ TABLE t (a INT)",
        ] {
            assert!(commits_implicitly(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn ordinary_statements_and_temporary_tables_do_not() {
        for sql in [
            "SELECT 1",
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "CREATE TEMPORARY TABLE t (a INT)",
            "CREATE OR REPLACE TEMPORARY TABLE t (a INT)",
            "DROP TEMPORARY TABLE t",
            "BEGIN NOT ATOMIC SELECT 1; END",
            "SET autocommit = 1",
            "SET @a = 1",
            "SAVEPOINT a",
            "COMMIT",
            "ROLLBACK",
            "LOAD DATA INFILE 'x' INTO TABLE t",
            "RESET QUERY CACHE",
            "CACHE INDEX t IN default",
            "UNLOCK TABLES",
            "CREATE /*!32302 TEMPORARY */ TABLE t (a INT)",
            "DROP /*!40101 TEMPORARY */ TABLE IF EXISTS x",
            "/*M!100100 DROP TEMPORARY TABLE x */",
            "",
        ] {
            assert!(!commits_implicitly(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn autocommit_on_is_recognised_in_its_spellings_only() {
        use super::sets_autocommit_on as on;
        for sql in [
            "SET autocommit = 1",
            "set AUTOCOMMIT=ON",
            "SET SESSION autocommit = true",
            "SET @@autocommit := 1",
            "SET @@session.autocommit = 'ON';",
            "SET @x = 1, autocommit = 1",
            "SET sql_mode = '', @@local.autocommit = 1, time_zone = '+00:00'",
        ] {
            assert!(on(sql.as_bytes()), "{sql}");
        }
        for sql in [
            "SET autocommit = 0",
            "SET autocommit = OFF",
            "SET GLOBAL autocommit = 1",
            "SET @@global.autocommit = 1",
            "SET @v = 'autocommit=1'",
            "SET autocommit = 10",
            "SELECT 1",
            "SET @autocommit = 1",
        ] {
            assert!(!on(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn statements_hiding_transaction_control() {
        use super::hides_transaction_control as hides;
        for sql in [
            "EXECUTE stmt",
            "EXECUTE IMMEDIATE 'ROLLBACK'",
            "CALL p()",
            "BEGIN NOT ATOMIC ROLLBACK; END",
        ] {
            assert!(hides(sql.as_bytes()), "{sql}");
        }
        for sql in ["BEGIN", "SELECT 1", "INSERT INTO t VALUES (1)"] {
            assert!(!hides(sql.as_bytes()), "{sql}");
        }
    }
}
