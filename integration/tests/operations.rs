//! The binary as operators use it: `--check`, proxies chained (the backend side of
//! caching_sha2_password), backend connections that die while idle, and flat memory for a
//! 1 GB result.

use std::process::Command;
use std::time::Duration;

use mysql::prelude::Queryable;

use crate::harness::{DB, Proxy, ProxyOpts, direct, my_err};

fn check(config_text: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(crate::harness::unique("shardgate-check"));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("conf.yaml");
    std::fs::write(&path, config_text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .arg("--check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run shardgate --check");
    let _ = std::fs::remove_dir_all(&dir);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (
        out.status.success(),
        text.replace(path.to_str().expect("utf8 path"), "conf.yaml"),
    )
}

#[test]
fn check_accepts_the_shipped_configs_and_locates_errors() {
    for shipped in ["conf/example.yaml", "conf/sandbox.yaml"] {
        let text = std::fs::read_to_string(shipped).expect("read shipped config");
        let (ok, out) = check(&text);
        assert!(ok, "{shipped} must pass --check: {out}");
    }
    let base = std::fs::read_to_string("conf/sandbox.yaml").expect("read");
    let unknown_key = base.replace("default_shard: s0", "default_shard: s0\ncolour: blue");
    let (ok, out) = check(&unknown_key);
    assert!(!ok, "unknown key must fail");
    let line = unknown_key
        .lines()
        .position(|l| l.starts_with("colour"))
        .expect("line")
        + 1;
    assert!(out.contains(&format!("conf.yaml:{line}:1:")), "{out}");
    assert!(out.contains("colour"), "{out}");
    let bad_shard = base.replace("default_shard: s0", "default_shard: s9");
    let (ok, out) = check(&bad_shard);
    assert!(!ok && out.contains("s9"), "{out}");
    let (ok, out) = check("listen: [unclosed");
    assert!(!ok && out.contains("conf.yaml:"), "{out}");
}

/// Proxy A logs in to proxy B (its "backend") as a caching_sha2_password user: the first
/// login does full authentication by RSA public-key exchange, later ones the fast path.
#[test]
fn backend_login_with_caching_sha2_through_a_chained_proxy() {
    let inner = Proxy::start_default();
    let outer = Proxy::start(ProxyOpts {
        s0_primary: Some(inner.addr()),
        backend: Some(("app_sha2".into(), "sha2-pw".into())),
        ..Default::default()
    });
    // Several sessions: the first backend login is a full auth, later ones are fast.
    for i in 0..3 {
        let mut c = outer.conn();
        let v: Option<i64> = c.query_first(format!("SELECT {i} + 1")).expect("query");
        assert_eq!(v, Some(i + 1));
    }
    assert!(
        inner.log_tail(200).contains("user=app_sha2"),
        "inner proxy saw the sha2 user log in:\n{}",
        inner.log_tail(40)
    );
    // A wrong backend password is refused with a message naming the backend.
    let wrong = Proxy::start(ProxyOpts {
        s0_primary: Some(inner.addr()),
        backend: Some(("app_sha2".into(), "nope".into())),
        ..Default::default()
    });
    let e = my_err(wrong.conn_as("app", "app-pw", Some(DB)));
    assert_eq!(e.code, 2006, "{e:?}");
    assert!(
        e.message.contains("login refused") && e.message.contains("s0/primary"),
        "{e:?}"
    );
}

fn backend_thread_id(c: &mut mysql::Conn) -> u64 {
    c.query_first("SELECT CONNECTION_ID()")
        .expect("id")
        .expect("row")
}

#[test]
fn backend_connection_killed_while_idle_is_replaced() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    let first = backend_thread_id(&mut c);
    direct()
        .query_drop(format!("KILL {first}"))
        .expect("kill backend thread");
    std::thread::sleep(Duration::from_millis(1500));
    // Outside a transaction the session reconnects without an error.
    let second = backend_thread_id(&mut c);
    assert_ne!(first, second, "a new backend connection");
    // Inside a transaction the client must learn that the transaction is gone.
    c.query_drop("BEGIN").expect("begin");
    let third = backend_thread_id(&mut c);
    direct()
        .query_drop(format!("KILL {third}"))
        .expect("kill backend thread");
    std::thread::sleep(Duration::from_millis(1500));
    let e = my_err(c.query_drop("SELECT 1"));
    assert_eq!(e.code, 2013, "{e:?}");
    let v: Option<i64> = c.query_first("SELECT 7").expect("usable after the error");
    assert_eq!(v, Some(7));
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn one_gigabyte_result_streams_with_flat_memory() {
    let proxy = Proxy::start_default();
    let mut c = proxy.conn();
    // Warm up allocator and buffers, then take the peak as the baseline.
    let _: Vec<u64> = c.query("SELECT seq FROM seq_1_to_1000").expect("warm up");
    let before = peak_rss_kb(proxy.pid());
    let mut rows = 0u64;
    let mut bytes = 0u64;
    let result = c
        .query_iter("SELECT REPEAT('x', 1048576) FROM seq_1_to_1024")
        .expect("1 GB query");
    for row in result {
        let row = row.expect("row");
        let v: Vec<u8> = row.get(0).expect("column");
        bytes += v.len() as u64;
        rows += 1;
    }
    assert_eq!((rows, bytes), (1024, 1024 * 1048576));
    let growth_mb = (peak_rss_kb(proxy.pid()) - before) / 1024;
    assert!(
        growth_mb < 64,
        "proxy peak RSS grew by {growth_mb} MB for a 1 GB result"
    );
}

/// A backend address `unix:/path` reaches a server on the same machine over its socket.
#[test]
fn backend_over_a_unix_socket() {
    crate::harness::sandbox();
    let dir = std::env::var("SANDBOX_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| crate::harness::repo_root().join("target/sandbox"));
    let socket = dir.join("s0-primary/mysqld.sock");
    let proxy = Proxy::start(ProxyOpts {
        s0_primary: Some(format!("unix:{}", socket.display())),
        ..Default::default()
    });
    let mut c = proxy.conn();
    let host: Option<String> = c
        .query_first("SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
        .expect("query over the socket");
    assert_eq!(host.as_deref(), Some("localhost"), "a unix-socket session");
}
