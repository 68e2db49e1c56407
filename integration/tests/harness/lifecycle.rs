//! Driving a running proxy from outside: rewriting its config file the way editors do, sending
//! it signals, waiting for it to exit.

use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use super::{Proxy, ProxyOpts, config_yaml, sandbox, with_metrics};

impl Proxy {
    /// The config file the proxy was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("shardgate.yaml")
    }

    /// Replaces the config file with `text`: written to a temporary file, then renamed over.
    pub fn replace_config(&self, text: &str) {
        let tmp = self.dir.join("shardgate.yaml.tmp");
        std::fs::write(&tmp, text).expect("write the new config");
        std::fs::rename(&tmp, self.config_path()).expect("rename it over the config");
    }

    /// The config text these options give for this proxy's ports.
    pub fn config_text(&self, opts: &ProxyOpts) -> String {
        with_metrics(config_yaml(opts, sandbox(), self.port), self.metrics_port)
    }

    /// Sends a signal (`HUP`, `TERM`, ...) to the proxy process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, at most `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
