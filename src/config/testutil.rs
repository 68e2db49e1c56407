//! Test helpers shared by the config tests: a minimal valid file and error assertions.

use super::{ConfigError, parse};

/// The smallest valid configuration; lines 1..=10, so appended keys start at line 11.
pub(super) const MINIMAL: &str = "\
listen: \"127.0.0.1:6033\"
users:
  - name: app
    password: app-pw
backend:
  user: sg
  password: sg-pw
shards:
  - name: s0
    primary: { address: \"127.0.0.1:3306\" }
";

/// Parses `yaml` (origin `t.yaml`), expecting an `Invalid` error; returns (line, column, message).
pub(super) fn invalid(yaml: &str) -> (Option<u64>, Option<u64>, String) {
    match parse(yaml, "t.yaml") {
        Err(ConfigError::Invalid {
            origin,
            line,
            column,
            message,
        }) => {
            assert_eq!(origin, "t.yaml");
            (line, column, message)
        }
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

/// Asserts `yaml` fails at `line:column` with a message containing every needle.
pub(super) fn assert_invalid(yaml: &str, line: u64, column: u64, needles: &[&str]) {
    let (l, c, message) = invalid(yaml);
    assert_eq!((l, c), (Some(line), Some(column)), "{message}");
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}
