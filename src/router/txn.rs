//! Which statements end the current transaction with an implicit commit (MariaDB's list:
//! DDL, account management, LOCK/UNLOCK TABLES, BEGIN, table maintenance, FLUSH, RESET, ...),
//! read from the leading words only. A session whose transaction spans several shards
//! commits every shard before such a statement runs, as one server would commit everything.

use super::prescan::{skip_noise, word};

/// Does this statement commit the session's open transaction before it runs?
/// `SET autocommit = 1` is not listed: the server reports the change, and the session
/// follows that report (`autocommit_turned_on`).
pub fn commits_implicitly(sql: &[u8]) -> bool {
    let mut words = Words(skip_noise(sql));
    let Some(first) = words.next_upper() else {
        return false;
    };
    match first.as_str() {
        "ALTER" | "RENAME" | "TRUNCATE" | "GRANT" | "REVOKE" | "BEGIN" | "LOCK" | "UNLOCK"
        | "ANALYZE" | "CACHE" | "CHECK" | "OPTIMIZE" | "REPAIR" | "FLUSH" | "RESET" | "INSTALL"
        | "UNINSTALL" => !matches!(
            (first.as_str(), words.next_upper().as_deref()),
            // BEGIN NOT ATOMIC is a compound statement, not a transaction start.
            ("BEGIN", Some("NOT")) | ("RESET", Some("QUERY"))
        ),
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
            "UNLOCK TABLES",
            "GRANT SELECT ON *.* TO u",
            "SET PASSWORD FOR u = PASSWORD('x')",
            "ANALYZE TABLE t",
            "OPTIMIZE TABLE t",
            "FLUSH TABLES",
            "LOAD INDEX INTO CACHE t",
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
            "",
        ] {
            assert!(!commits_implicitly(sql.as_bytes()), "{sql}");
        }
    }
}
