//! `ConfigError`, the one error type of the config layer, and its construction from YAML errors.

use std::io;
use std::path::PathBuf;

use serde_saphyr::{Location, MessageFormatter, UserMessageFormatter};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read configuration file: {source}", .path.display())]
    Io {
        /// File that could not be read.
        path: PathBuf,
        /// Underlying I/O error.
        source: io::Error,
    },
    /// The text is not a valid configuration; displays as `<origin>:<line>:<column>: <message>`.
    #[error("{origin}{}: {message}", position(*.line, *.column))]
    Invalid {
        /// File name (or other label) of the configuration text.
        origin: String,
        /// 1-based line of the offending value, when known.
        line: Option<u64>,
        /// 1-based column of the offending value, when known.
        column: Option<u64>,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// An `Invalid` error at `location` (`Location::UNKNOWN` gives no line/column); control
    /// characters in `message` are escaped so a hostile file cannot forge log lines.
    pub(super) fn at(origin: &str, location: Location, message: impl Into<String>) -> Self {
        let known = location != Location::UNKNOWN && location.line() > 0;
        ConfigError::Invalid {
            origin: origin.to_string(),
            line: known.then(|| location.line()),
            column: known.then(|| location.column()).filter(|c| *c > 0),
            message: escape_controls(&message.into()),
        }
    }

    /// An `Invalid` error converted from a YAML parse or deserialization error.
    pub(super) fn from_yaml(origin: &str, err: &serde_saphyr::Error) -> Self {
        let location = err.location().unwrap_or(Location::UNKNOWN);
        ConfigError::at(origin, location, yaml_message(innermost(err)))
    }
}

/// `:<line>:<column>` (or the known part of it) for `Display`.
fn position(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

/// The error underneath any snippet or alias wrappers.
fn innermost(mut err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    loop {
        match err {
            serde_saphyr::Error::WithSnippet { error, .. }
            | serde_saphyr::Error::AliasError { error, .. } => err = error,
            other => return other,
        }
    }
}

/// Message text for a YAML error, without location.
fn yaml_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown key `{field}`; expected one of: {}",
            expected.join(", ")
        ),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "unknown value `{variant}`; expected one of: {}",
            expected.join(", ")
        ),
        E::SerdeMissingField { field, .. } => {
            format!("missing required key `{field}`")
        }
        E::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{key}`")
        }
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_string(),
        E::Eof { .. } => {
            "unexpected end of input; the configuration is empty or incomplete".to_string()
        }
        E::Unexpected { expected, .. } => match *expected {
            "string scalar" | "scalar" => "wrong type: expected a single value".to_string(),
            "sequence start" => "wrong type: expected a list".to_string(),
            "mapping start" => "wrong type: expected a mapping (key: value pairs)".to_string(),
            other => format!("expected {other}"),
        },
        E::InvalidScalar { ty, .. } => match *ty {
            "bool" | "boolean" => "expected true or false".to_string(),
            "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" => {
                "expected a whole number".to_string()
            }
            other => format!("invalid {other} value"),
        },
        E::NullIntoString { .. } => {
            "expected a string, found null (write \"\" for an empty string)".to_string()
        }
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("invalid type: {unexpected}, expected {expected}"),
        E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => format!("invalid value: {unexpected}, expected {expected}"),
        other => UserMessageFormatter.format_message(other).into_owned(),
    }
}

/// `text` with control characters (newlines, escapes, ...) replaced by Rust-style escapes.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_position() {
        let full = ConfigError::Invalid {
            origin: "a.yaml".to_string(),
            line: Some(3),
            column: Some(7),
            message: "bad".to_string(),
        };
        assert_eq!(full.to_string(), "a.yaml:3:7: bad");
        let none = ConfigError::Invalid {
            origin: "a.yaml".to_string(),
            line: None,
            column: None,
            message: "bad".to_string(),
        };
        assert_eq!(none.to_string(), "a.yaml: bad");
        let io = ConfigError::Io {
            path: PathBuf::from("/x.yaml"),
            source: io::Error::new(io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(
            io.to_string(),
            "/x.yaml: cannot read configuration file: gone"
        );
    }

    #[test]
    fn unknown_location_gives_no_position() {
        let err = ConfigError::at("a.yaml", Location::UNKNOWN, "bad");
        assert_eq!(err.to_string(), "a.yaml: bad");
    }
}
