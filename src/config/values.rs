//! Syntax checks of single string values: `host:port` addresses (no DNS lookups), server versions.

use std::net::{Ipv4Addr, Ipv6Addr};

const EXAMPLE: &str = "expected host:port, e.g. \"127.0.0.1:3306\" or \"[::1]:3306\"";

/// Checks that `text` is `host:port`: host a DNS name, an IPv4 address or a bracketed
/// IPv6 address; port in 1..=65535. Returns what is wrong otherwise.
pub(super) fn check_address(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("address is empty; {EXAMPLE}"));
    }
    let (host, port) = split_host_port(text)?;
    check_port(port)?;
    check_host(host)
}

/// Checks a backend address: `host:port`, or `unix:/absolute/path` for a server's unix socket
/// on the same machine.
pub(super) fn check_backend_address(text: &str) -> Result<(), String> {
    match text.strip_prefix("unix:") {
        Some(path) if path.starts_with('/') => Ok(()),
        Some(_) => Err(
            "a unix socket address needs an absolute path, e.g. \"unix:/run/mysqld/mysqld.sock\""
                .to_string(),
        ),
        None => check_address(text),
    }
}

/// Splits `host:port` / `[v6]:port`; the brackets are kept off the returned IPv6 host.
fn split_host_port(text: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format!("missing `]` after IPv6 address; {EXAMPLE}"));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(format!("missing port; {EXAMPLE}"));
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`{v6}` is not a valid IPv6 address"));
        }
        return Ok(("", port));
    }
    match text.split_once(':') {
        None => Err(format!("missing port; {EXAMPLE}")),
        Some((_, rest)) if rest.contains(':') => Err(format!(
            "too many `:`; IPv6 addresses must be in brackets; {EXAMPLE}"
        )),
        Some(("", _)) => Err(format!("missing host; {EXAMPLE}")),
        Some((host, port)) => Ok((host, port)),
    }
}

fn check_port(port: &str) -> Result<(), String> {
    if port.is_empty() {
        return Err(format!("missing port; {EXAMPLE}"));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port `{port}` is not a number"));
    }
    match port.parse::<u16>() {
        Ok(p) if p >= 1 => Ok(()),
        _ => Err(format!("port {port} is out of range 1..65535")),
    }
}

/// Checks a host name or IPv4 address; an empty `host` means an already-checked IPv6 address.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Ok(());
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match host.parse::<Ipv4Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("`{host}` is not a valid IPv4 address")),
        };
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if host.len() > 253 || !host.split('.').all(valid_label) {
        return Err(format!("`{host}` is not a valid host name"));
    }
    Ok(())
}

/// `server_version` must look like a MySQL version ("8.0.35", "8.0.35-suffix"): clients parse it.
pub(super) fn check_server_version(version: &str) -> Result<(), String> {
    if version.chars().any(char::is_control) {
        return Err("must not contain control characters".to_string());
    }
    let numeric = version
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or_default();
    let parts: Vec<&str> = numeric.split('.').collect();
    let well_formed = parts.len() >= 3 && parts[..3].iter().all(|p| !p.is_empty());
    if !well_formed {
        return Err(format!(
            "{version:?} must start with a MySQL version number like \"8.0.35\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_address, check_backend_address, check_server_version};

    #[test]
    fn accepts_valid_addresses() {
        for ok in [
            "127.0.0.1:3306",
            "0.0.0.0:6033",
            "localhost:1",
            "db-1.internal.example.com:65535",
            "mysql_primary:3306",
            "[::1]:3306",
            "[2001:db8::7]:23306",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_invalid_addresses() {
        for (bad, expect) in [
            ("", "address is empty"),
            ("127.0.0.1", "missing port"),
            ("127.0.0.1:", "missing port"),
            (":3306", "missing host"),
            ("127.0.0.1:0", "port 0 is out of range"),
            ("127.0.0.1:65536", "port 65536 is out of range"),
            ("127.0.0.1:99999999999999999999", "out of range"),
            ("127.0.0.1:+80", "not a number"),
            ("127.0.0.1:http", "not a number"),
            ("::1:3306", "IPv6 addresses must be in brackets"),
            ("[::1]", "missing port"),
            ("[::1:3306", "missing `]`"),
            ("[zz::1]:3306", "not a valid IPv6 address"),
            ("127.0.0.256:3306", "not a valid IPv4 address"),
            ("bad host:3306", "not a valid host name"),
            ("-db:3306", "not a valid host name"),
            ("db..x:3306", "not a valid host name"),
        ] {
            let err = check_address(bad).expect_err(bad);
            assert!(err.contains(expect), "{bad:?}: {err}");
        }
    }

    #[test]
    fn backend_addresses_may_be_unix_sockets() {
        assert!(check_backend_address("unix:/run/mysqld/mysqld.sock").is_ok());
        assert!(check_backend_address("127.0.0.1:3306").is_ok());
        assert!(check_backend_address("unix:relative.sock").is_err());
        assert!(check_backend_address("127.0.0.1").is_err());
    }

    #[test]
    fn server_version_shape() {
        for ok in [
            "8.0.35",
            "8.0.35-shardgate",
            "5.7.44-log",
            "10.11.6-MariaDB",
        ] {
            assert_eq!(check_server_version(ok), Ok(()), "{ok}");
        }
        for bad in ["", "shardgate", "8.0", "8..1", "v8.0.35", "8.0.35\n"] {
            assert!(check_server_version(bad).is_err(), "{bad:?}");
        }
    }
}
