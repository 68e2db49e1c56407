//! Reading and parsing a configuration file into a validated `Config`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_saphyr::Location;

use super::error::ConfigError;
use super::raw::RawConfig;
use super::types::Config;
use super::validate::validate;

/// Largest configuration file `load` reads (guards against pointing it at a huge or endless file).
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads, parses and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read(path)?;
    parse(&text, &path.display().to_string())
}

/// Reads the configuration file at `path` as text (bounded in size, UTF-8).
pub fn read(path: &Path) -> Result<String, ConfigError> {
    let io_error = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let origin = path.display().to_string();
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(MAX_CONFIG_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_CONFIG_FILE_BYTES {
        let message = format!("file is larger than {MAX_CONFIG_FILE_BYTES} bytes");
        return Err(ConfigError::at(&origin, Location::UNKNOWN, message));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let message = format!(
            "file is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        );
        ConfigError::at(&origin, Location::UNKNOWN, message)
    })?;
    Ok(text)
}

/// Parses and validates configuration `text`; `origin` names it in error messages.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    // Duplicate keys are an error by default; the default budget bounds nesting depth,
    // node/event counts and alias expansion. We render errors ourselves, so no snippets.
    let options = serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
    };
    let raw: RawConfig = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ConfigError::from_yaml(origin, &e))?;
    validate(raw, origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testutil::{MINIMAL, assert_invalid, invalid};
    use crate::config::{AuthPluginName, ConfigError, LogFormat, PoolConfig};

    #[test]
    fn example_yaml_parses() {
        let config = parse(include_str!("../../conf/example.yaml"), "example.yaml")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen, "127.0.0.1:6033");
        assert_eq!(config.server_version.as_deref(), Some("8.0.35-shardgate"));
        assert_eq!(config.users.len(), 2);
        let ops = config.user("ops").expect("ops user");
        assert_eq!(ops.auth_plugin, AuthPluginName::CachingSha2Password);
        assert!(ops.admin);
        assert_eq!(config.shards.len(), 2);
        assert_eq!(config.default_shard, "s0");
        assert_eq!(config.pool, PoolConfig::default());
    }

    #[test]
    fn defaults_are_applied() {
        let config = parse(MINIMAL, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server_version, None);
        assert_eq!(config.max_allowed_packet, 64 * 1024 * 1024);
        assert_eq!(config.max_client_connections, 10_000);
        assert_eq!(config.default_shard, "s0");
        assert_eq!(config.pool.max_connections, 64);
        assert_eq!(config.pool.checkout_timeout_ms, 1_000);
        assert_eq!(config.pool.idle_timeout_ms, 600_000);
        assert_eq!(config.pool.connect_timeout_ms, 3_000);
        assert_eq!(config.pool.min_idle, 0);
        assert_eq!(config.pool.max_lifetime_ms, 1_800_000);
        assert_eq!(config.logging.level, "info");
        assert_eq!(config.logging.format, LogFormat::Text);
        let user = config.user("app").expect("app user");
        assert_eq!(user.password, "app-pw");
        assert_eq!(user.auth_plugin, AuthPluginName::MysqlNativePassword);
        assert_eq!(user.allowed_schemas, None);
        assert!(!user.admin);
        assert!(config.user("App").is_none());
        // Empty sections also mean "all defaults".
        let empty = parse(&format!("{MINIMAL}pool:\nlogging: {{}}\n"), "t.yaml")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(empty, config);
    }

    #[test]
    fn passwords_stay_strings_and_out_of_debug() {
        let yaml = MINIMAL.replace("password: app-pw", "password: 0123");
        let config = parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.users[0].password, "0123");
        let text = format!("{config:?}");
        assert!(!text.contains("0123") && !text.contains("sg-pw"), "{text}");
    }

    #[test]
    fn yaml_syntax_error() {
        // A tab used for indentation (the scanner points at the scalar it was reading).
        let yaml = MINIMAL.replace("name: s0", "name: s0\n\tx: 1");
        assert_invalid(&yaml, 9, 11, &["found a tab"]);
        let yaml = MINIMAL.replace("name: s0", "name: \"s0");
        assert_invalid(&yaml, 10, 5, &["quoted scalar"]);
    }

    #[test]
    fn empty_file() {
        assert_invalid("# nothing\n", 2, 1, &["empty"]);
    }

    #[test]
    fn unknown_key_at_nested_level() {
        let yaml = MINIMAL.replace(
            "    password: app-pw\n",
            "    password: app-pw\n    colour: red\n",
        );
        assert_invalid(
            &yaml,
            5,
            5,
            &[
                "unknown key `colour`",
                "auth_plugin, allowed_schemas, admin",
            ],
        );
        let yaml = format!("{MINIMAL}pool:\n  max_conections: 3\n");
        assert_invalid(
            &yaml,
            12,
            3,
            &["unknown key `max_conections`", "max_connections"],
        );
    }

    #[test]
    fn wrong_types() {
        let yaml = format!("{MINIMAL}max_allowed_packet: lots\n");
        assert_invalid(&yaml, 11, 21, &["whole number"]);
        let yaml = MINIMAL.replace("  - name: s0", "  - name: [s0]");
        assert_invalid(&yaml, 9, 11, &["wrong type"]);
        let yaml = format!("{MINIMAL}logging:\n  format: xml\n");
        assert_invalid(&yaml, 12, 11, &["unknown value `xml`", "text, json"]);
        let yaml = MINIMAL.replace(
            "    password: app-pw\n",
            "    password: app-pw\n    admin: maybe\n",
        );
        assert_invalid(&yaml, 5, 12, &["true or false"]);
    }

    #[test]
    fn missing_fields() {
        let yaml = MINIMAL.replace("  user: sg\n", "");
        assert_invalid(&yaml, 6, 3, &["missing required key `user`"]);
        let yaml = MINIMAL.replace("    password: app-pw\n", "");
        assert_invalid(&yaml, 3, 5, &["missing required key `password`"]);
        let (line, _, message) = invalid(&MINIMAL.replace("listen: \"127.0.0.1:6033\"\n", ""));
        assert!(line.is_some() && message.contains("`listen`"), "{message}");
    }

    #[test]
    fn null_password_is_rejected() {
        let yaml = MINIMAL.replace("password: app-pw", "password:");
        assert_invalid(&yaml, 4, 13, &["write \"\""]);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert_invalid(
            &format!("{MINIMAL}listen: \"0.0.0.0:1\"\n"),
            11,
            1,
            &["duplicate key `listen`"],
        );
        let yaml = MINIMAL.replace("  user: sg\n", "  user: sg\n  user: sg2\n");
        assert_invalid(&yaml, 7, 3, &["duplicate key `user`"]);
    }

    #[test]
    fn multiple_documents_are_rejected() {
        assert_invalid(
            &format!("{MINIMAL}---\nlisten: x\n"),
            12,
            1,
            &["single YAML document"],
        );
    }

    #[test]
    fn load_reads_files_and_reports_io_errors() {
        let path =
            std::env::temp_dir().join(format!("shardgate-config-{}.yaml", std::process::id()));
        std::fs::write(&path, MINIMAL).expect("write temp file");
        let loaded = load(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            loaded.unwrap_or_else(|e| panic!("{e}")).listen,
            "127.0.0.1:6033"
        );

        std::fs::write(&path, b"listen: \xff\n").expect("write temp file");
        let loaded = load(&path);
        let _ = std::fs::remove_file(&path);
        let message = loaded.expect_err("not UTF-8").to_string();
        assert!(
            message.ends_with(": file is not valid UTF-8 (at byte 8)"),
            "{message}"
        );

        let missing = Path::new("/nonexistent/shardgate.yaml");
        let err = load(missing).expect_err("missing file");
        assert!(matches!(err, ConfigError::Io { .. }));
        assert!(
            err.to_string().starts_with("/nonexistent/shardgate.yaml: "),
            "{err}"
        );
    }

    #[test]
    fn errors_display_file_line_column() {
        let err = parse(
            &format!("{MINIMAL}pool:\n  max_connections: 0\n"),
            "conf/x.yaml",
        )
        .expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "conf/x.yaml:12:20: pool.max_connections: must be at least 2, got 0: each backend's \
             health checker holds 1 of its connections"
        );
    }
}
