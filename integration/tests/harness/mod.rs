//! Test harness: brings up the MariaDB sandbox once, starts shardgate processes with generated
//! configs, and hands out `mysql::Conn`s to the proxy or straight to a backend.

#![allow(dead_code)]

mod lifecycle;
pub mod raw;
pub mod relay;
pub mod rw;

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

pub const DB: &str = "shop";
pub const BACKEND_USER: &str = "shardgate";
pub const BACKEND_PASS: &str = "shardgate-pw";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sandbox port base, found the way integration/lib.sh finds it.
fn port_base() -> u16 {
    if let Ok(v) = std::env::var("SANDBOX_PORT_BASE")
        && !v.is_empty()
    {
        return v.parse().expect("SANDBOX_PORT_BASE must be a port number");
    }
    let dir = std::env::var("SANDBOX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/sandbox"));
    match std::fs::read_to_string(dir.join("port_base")) {
        Ok(s) => s.trim().parse().expect("bad port_base file"),
        Err(_) => 23306,
    }
}

/// Addresses of the sandbox servers.
pub struct Sandbox {
    pub s0_primary: String,
    pub s0_replica: String,
    pub s1_primary: String,
    pub s1_replica: String,
}

/// Runs `integration/sandbox.sh up` once per test process; panics if it fails.
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let script = repo_root().join("integration/sandbox.sh");
        let out = Command::new(&script)
            .arg("up")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "integration/sandbox.sh up failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let base = port_base();
        let addr = |off: u16| format!("127.0.0.1:{}", base + off);
        Sandbox {
            s0_primary: addr(0),
            s0_replica: addr(1),
            s1_primary: addr(10),
            s1_replica: addr(11),
        }
    })
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

/// A name unique to this test process, for tables and the like.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Settings a test may change in the generated proxy config.
#[derive(Debug, Clone, Default)]
pub struct ProxyOpts {
    pub max_allowed_packet: Option<u64>,
    pub max_client_connections: Option<u64>,
    pub shutdown_timeout_ms: Option<u64>,
    /// `logging.slow_statement_ms` (the proxy's default when not set).
    pub slow_statement_ms: Option<u64>,
    pub pool_max_connections: Option<u64>,
    pub checkout_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    /// Overrides the address of shard s0's primary.
    pub s0_primary: Option<String>,
    /// Overrides the address of shard s1's primary.
    pub s1_primary: Option<String>,
    pub server_version: Option<String>,
    /// Overrides the credentials the proxy logs in to backends with (user, password).
    pub backend: Option<(String, String)>,
    /// Replicas to configure (none by default).
    pub replicas: Vec<ReplicaOpt>,
    /// `balance` per shard: (shard name, policy), e.g. `("s0", "weighted_random")`.
    pub balance: Vec<(String, String)>,
    /// `default_shard` (s0 when not set).
    pub default_shard: Option<String>,
    /// The body of a `read_write_split:` section, one `key: value` per line (indented for you).
    pub read_write_split: Option<String>,
    /// Also configure [`ADMIN_USER`] (admin flag) and [`PRIMARY_USER`] (`default_role: primary`).
    pub rw_users: bool,
    /// The body of a top-level `sharding:` section (indented for you: the lines' common leading
    /// indentation is replaced by two spaces, nesting below it is kept).
    pub sharding: Option<String>,
    /// Serve Prometheus metrics (`metrics: { listen: ... }`) on a free port: [`Proxy::metrics_port`].
    pub metrics: bool,
}

/// One replica in the generated config.
#[derive(Debug, Clone)]
pub struct ReplicaOpt {
    pub shard: String,
    pub address: String,
    /// Written as `weight:` when set (the proxy's default is 1).
    pub weight: Option<u32>,
}

impl ReplicaOpt {
    pub fn new(shard: &str, address: &str, weight: Option<u32>) -> ReplicaOpt {
        ReplicaOpt {
            shard: shard.to_string(),
            address: address.to_string(),
            weight,
        }
    }
}

/// A proxy user with the admin flag (with `ProxyOpts::rw_users`): (name, password).
pub const ADMIN_USER: (&str, &str) = ("ops", "ops-pw");
/// A proxy user with `default_role: primary` (with `ProxyOpts::rw_users`): (name, password).
pub const PRIMARY_USER: (&str, &str) = ("writer_only", "writer-pw");

/// A running shardgate process; killed on drop.
pub struct Proxy {
    child: Child,
    pub port: u16,
    /// The metrics endpoint's port (with `ProxyOpts::metrics`).
    pub metrics_port: Option<u16>,
    pub dir: PathBuf,
    pub log: PathBuf,
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(unique("shardgate-it"));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

impl Proxy {
    /// Starts a proxy with the default test config.
    pub fn start_default() -> Proxy {
        Proxy::start(ProxyOpts::default())
    }

    /// Writes the config, starts the binary and waits until it accepts clients.
    pub fn start(opts: ProxyOpts) -> Proxy {
        let sb = sandbox();
        let dir = temp_dir();
        let port = free_port();
        let metrics_port = opts.metrics.then(free_port);
        let config = dir.join("shardgate.yaml");
        let yaml = with_metrics(config_yaml(&opts, sb, port), metrics_port);
        std::fs::write(&config, yaml).expect("write config");
        let log = dir.join("shardgate.log");
        let log_file = std::fs::File::create(&log).expect("create log");
        let child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
            .env("NO_COLOR", "1")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("dup log"))
            .stderr(log_file)
            .spawn()
            .expect("start shardgate");
        let mut proxy = Proxy {
            child,
            port,
            metrics_port,
            dir,
            log,
        };
        proxy.wait_ready();
        proxy
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        let addr: SocketAddr = self.addr().parse().expect("addr");
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "shardgate exited during start-up ({status}); log:\n{}",
                    tail(&self.log, 60)
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!(
                    "shardgate did not accept on {addr} within 60 s; log:\n{}",
                    tail(&self.log, 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id (for reading its memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// The last lines of the proxy's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// A mysql crate connection to the proxy as `user`.
    pub fn conn_as(&self, user: &str, pass: &str, db: Option<&str>) -> mysql::Result<Conn> {
        Conn::new(opts(&self.addr(), user, pass, db))
    }

    /// A connection to the proxy as `app` in `shop`.
    pub fn conn(&self) -> Conn {
        self.conn_as("app", "app-pw", Some(DB))
            .expect("connect to the proxy as app")
    }

    /// Options for the proxy as `app` in `shop`, to be tweaked by the caller.
    pub fn opts(&self) -> OptsBuilder {
        opts(&self.addr(), "app", "app-pw", Some(DB))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- shardgate log ({}), last lines ----\n{}",
                self.log.display(),
                tail(&self.log, 40)
            );
        }
        if std::env::var_os("SHARDGATE_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `yaml` with a `metrics` section on `metrics_port`, if any.
fn with_metrics(mut yaml: String, metrics_port: Option<u16>) -> String {
    if let Some(m) = metrics_port {
        let _ = writeln!(yaml, "metrics: {{ listen: \"127.0.0.1:{m}\" }}");
    }
    yaml
}

fn config_yaml(o: &ProxyOpts, sb: &Sandbox, port: u16) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "listen: \"127.0.0.1:{port}\"");
    if let Some(v) = &o.server_version {
        let _ = writeln!(y, "server_version: \"{v}\"");
    }
    let _ = writeln!(
        y,
        "max_allowed_packet: {}",
        o.max_allowed_packet.unwrap_or(64 << 20)
    );
    let _ = writeln!(
        y,
        "max_client_connections: {}",
        o.max_client_connections.unwrap_or(10_000)
    );
    if let Some(ms) = o.shutdown_timeout_ms {
        let _ = writeln!(y, "shutdown_timeout_ms: {ms}");
    }
    y.push_str(
        "users:\n\
         \x20 - { name: app, password: app-pw, auth_plugin: mysql_native_password }\n\
         \x20 - { name: app_sha2, password: sha2-pw, auth_plugin: caching_sha2_password }\n\
         \x20 - { name: limited, password: limited-pw, auth_plugin: mysql_native_password, allowed_schemas: [shop] }\n\
         shards:\n",
    );
    if o.rw_users {
        let users = format!(
            "  - {{ name: {}, password: {}, admin: true }}\n\
             \x20 - {{ name: {}, password: {}, default_role: primary }}\n\
             shards:\n",
            ADMIN_USER.0, ADMIN_USER.1, PRIMARY_USER.0, PRIMARY_USER.1
        );
        y = y.replace("shards:\n", &users);
    }
    let (bu, bp) = o
        .backend
        .clone()
        .unwrap_or(("shardgate".into(), "shardgate-pw".into()));
    y = y.replace(
        "shards:\n",
        &format!("backend: {{ user: {bu}, password: {bp} }}\nshards:\n"),
    );
    let s0 = o.s0_primary.as_deref().unwrap_or(&sb.s0_primary);
    let s1 = o.s1_primary.as_deref().unwrap_or(&sb.s1_primary);
    for (name, primary) in [("s0", s0), ("s1", s1)] {
        let _ = write!(
            y,
            "  - {{ name: {name}, primary: {{ address: \"{primary}\" }}"
        );
        let replicas: Vec<String> = o
            .replicas
            .iter()
            .filter(|r| r.shard == name)
            .map(|r| match r.weight {
                Some(w) => format!("{{ address: \"{}\", weight: {w} }}", r.address),
                None => format!("{{ address: \"{}\" }}", r.address),
            })
            .collect();
        if !replicas.is_empty() {
            let _ = write!(y, ", replicas: [{}]", replicas.join(", "));
        }
        if let Some((_, policy)) = o.balance.iter().find(|(s, _)| s == name) {
            let _ = write!(y, ", balance: {policy}");
        }
        y.push_str(" }\n");
    }
    let _ = writeln!(
        y,
        "default_shard: {}",
        o.default_shard.as_deref().unwrap_or("s0")
    );
    if let Some(rw) = &o.read_write_split {
        y.push_str("read_write_split:\n");
        for line in rw.lines().filter(|l| !l.trim().is_empty()) {
            let _ = writeln!(y, "  {}", line.trim());
        }
    }
    if let Some(sharding) = &o.sharding {
        y.push_str("sharding:\n");
        let lines: Vec<&str> = sharding.lines().filter(|l| !l.trim().is_empty()).collect();
        let common = lines
            .iter()
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        for line in lines {
            let _ = writeln!(y, "  {}", &line[common..]);
        }
    }
    y.push_str("pool:\n");
    for (key, value) in [
        ("max_connections", o.pool_max_connections.unwrap_or(64)),
        ("checkout_timeout_ms", o.checkout_timeout_ms.unwrap_or(5000)),
        ("idle_timeout_ms", o.idle_timeout_ms.unwrap_or(600_000)),
        ("connect_timeout_ms", o.connect_timeout_ms.unwrap_or(3000)),
    ] {
        let _ = writeln!(y, "  {key}: {value}");
    }
    match o.slow_statement_ms {
        Some(ms) => {
            let _ = writeln!(
                y,
                "logging: {{ level: \"info,shardgate=debug\", format: text, slow_statement_ms: {ms} }}"
            );
        }
        None => y.push_str("logging: { level: \"info,shardgate=debug\", format: text }\n"),
    }
    y
}

/// The last `lines` lines of a file (best effort).
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::from("<no log>");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut s = String::new();
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    s.push_str(&String::from_utf8_lossy(&buf));
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// mysql crate options: TCP only (never the crate's switch to the unix socket), 64 MiB packets.
pub fn opts(addr: &str, user: &str, pass: &str, db: Option<&str>) -> OptsBuilder {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    OptsBuilder::new()
        .ip_or_hostname(Some(host))
        .tcp_port(port.parse().expect("port"))
        .user(Some(user))
        .pass(Some(pass))
        .db_name(db)
        .prefer_socket(false)
        .max_allowed_packet(Some(64 << 20))
        .read_timeout(Some(Duration::from_secs(30)))
        .write_timeout(Some(Duration::from_secs(30)))
        .tcp_connect_timeout(Some(Duration::from_secs(10)))
}

/// A direct connection to shard s0's primary as the backend user, in `shop`.
pub fn direct() -> Conn {
    Conn::new(direct_opts()).expect("connect to s0 primary")
}

pub fn direct_opts() -> OptsBuilder {
    opts(&sandbox().s0_primary, BACKEND_USER, BACKEND_PASS, Some(DB))
}

/// The MySQL error of a failed call (panics on any other kind of error).
pub fn my_err<T: std::fmt::Debug>(r: mysql::Result<T>) -> mysql::MySqlError {
    match r {
        Err(mysql::Error::MySqlError(e)) => e,
        other => panic!("expected a MySQL server error, got {other:?}"),
    }
}

/// A table in `shop` dropped (directly on s0) when the guard goes away.
pub struct Table {
    pub name: String,
}

impl Table {
    /// Creates `shop.<unique name>` with the given column list, directly on s0's primary.
    pub fn create(prefix: &str, columns: &str) -> Table {
        let name = unique(prefix);
        let mut c = direct();
        c.query_drop(format!("DROP TABLE IF EXISTS `{name}`"))
            .expect("drop old table");
        c.query_drop(format!("CREATE TABLE `{name}` ({columns}) ENGINE=InnoDB"))
            .expect("create table");
        Table { name }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if let Ok(mut c) = Conn::new(direct_opts()) {
            let _ = c.query_drop(format!("DROP TABLE IF EXISTS `{}`", self.name));
        }
    }
}

/// Runs a statement directly on s0's primary when dropped (cleanup that survives a panic).
pub struct CleanupSql(pub String);

impl Drop for CleanupSql {
    fn drop(&mut self) {
        if let Ok(mut c) = Conn::new(direct_opts()) {
            let _ = c.query_drop(&self.0);
        }
    }
}

/// Hex dump of a packet, shortened for messages.
pub fn hex(p: &[u8]) -> String {
    let mut s = String::new();
    for b in p.iter().take(96) {
        let _ = write!(s, "{b:02x}");
    }
    if p.len() > 96 {
        let _ = write!(s, "...({} bytes)", p.len());
    }
    s
}

/// Describes how two packet lists differ (first differing packet, or the count), if they do.
pub fn diff_packets(what: &str, direct: &[Vec<u8>], proxied: &[Vec<u8>]) -> Option<String> {
    for (i, (d, p)) in direct.iter().zip(proxied).enumerate() {
        if d != p {
            return Some(format!(
                "{what}: packet {i} differs\n  direct: {}\n  proxy:  {}\n(direct has {} packets, proxy {})",
                hex(d),
                hex(p),
                direct.len(),
                proxied.len()
            ));
        }
    }
    if direct.len() != proxied.len() {
        return Some(format!(
            "{what}: packet count differs: direct {}, proxy {}; direct tail {:?}, proxy tail {:?}",
            direct.len(),
            proxied.len(),
            direct.last().map(|p| hex(p)),
            proxied.last().map(|p| hex(p))
        ));
    }
    None
}

/// Asserts two packet lists are identical, naming the first differing packet.
#[track_caller]
pub fn assert_packets_eq(what: &str, direct: &[Vec<u8>], proxied: &[Vec<u8>]) {
    if let Some(d) = diff_packets(what, direct, proxied) {
        panic!("{d}");
    }
}

/// A raw protocol connection straight to s0's primary as the backend user, in `shop`.
pub fn raw_direct(caps: mysql_common::constants::CapabilityFlags) -> raw::RawConn {
    raw::RawConn::connect(
        &sandbox().s0_primary,
        BACKEND_USER,
        BACKEND_PASS,
        Some(DB),
        caps,
    )
    .expect("raw login to s0 primary")
}

impl Proxy {
    /// A raw protocol connection to the proxy as `app`, in `shop`.
    pub fn raw(&self, caps: mysql_common::constants::CapabilityFlags) -> raw::RawConn {
        raw::RawConn::connect(&self.addr(), "app", "app-pw", Some(DB), caps)
            .expect("raw login to the proxy")
    }
}

/// Raises max_allowed_packet to 64 MiB on both primaries (for connections opened afterwards),
/// so that 20 MiB rows and statements fit. Idempotent; other tests are unaffected.
pub fn raise_backend_max_packet() {
    let sb = sandbox();
    for addr in [&sb.s0_primary, &sb.s1_primary] {
        let mut c = Conn::new(opts(addr, BACKEND_USER, BACKEND_PASS, None)).expect("connect");
        c.query_drop("SET GLOBAL max_allowed_packet = 67108864")
            .expect("SET GLOBAL max_allowed_packet");
    }
}
