//! The slow-statement log: statements slower than `logging.slow_statement_ms`, with their
//! route and timings, and without text that may carry credentials.

use std::time::Duration;

use super::session::Session;
use crate::protocol::command;

/// Longest statement text written to the log.
const MAX_LOGGED_TEXT: usize = 1024;

/// The statement text to log: `None` for a command without text, a placeholder for text that
/// may carry a password.
fn loggable(payload: &[u8]) -> Option<String> {
    let (&code, text) = payload.split_first()?;
    if code != command::COM_QUERY && code != command::COM_STMT_PREPARE {
        return None;
    }
    let upper = text
        .iter()
        .take(4096)
        .map(u8::to_ascii_uppercase)
        .collect::<Vec<_>>();
    let has = |w: &[u8]| upper.windows(w.len()).any(|x| x == w);
    if has(b"PASSWORD") || has(b"IDENTIFIED") {
        return Some("<text left out: it may carry credentials>".to_string());
    }
    let cut = &text[..text.len().min(MAX_LOGGED_TEXT)];
    Some(String::from_utf8_lossy(cut).into_owned())
}

impl Session {
    /// Logs the command just served if it took longer than the threshold.
    pub(super) fn log_if_slow(&self, payload: &[u8], took: Duration) {
        let threshold = self.routing.config.logging.slow_statement_ms;
        if threshold == 0 || took < Duration::from_millis(u64::from(threshold)) {
            return;
        }
        tracing::warn!(
            target: "shardgate::slow",
            conn = self.id,
            user = %self.user.name,
            route = self.route,
            total_ms = took.as_secs_f64() * 1e3,
            connection_wait_ms = self.checkout_wait.as_secs_f64() * 1e3,
            command = payload.first().copied().unwrap_or_default(),
            statement = loggable(payload).as_deref().unwrap_or(""),
            "slow statement"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_out_of_the_log() {
        let q = |s: &str| {
            let mut p = vec![command::COM_QUERY];
            p.extend_from_slice(s.as_bytes());
            p
        };
        assert_eq!(loggable(&q("SELECT 1")).as_deref(), Some("SELECT 1"));
        for secret in [
            "SET PASSWORD = PASSWORD('x')",
            "create user u identified by 'pw'",
            "ALTER USER u IDENTIFIED VIA ed25519 USING 'x'",
        ] {
            assert!(!loggable(&q(secret)).unwrap_or_default().contains('\''));
        }
        assert_eq!(loggable(&[command::COM_PING]), None);
        let long = "x".repeat(5000);
        assert_eq!(loggable(&q(&long)).map(|s| s.len()), Some(MAX_LOGGED_TEXT));
    }
}
