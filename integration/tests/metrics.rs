//! The Prometheus endpoint of a running proxy: statements, errors, pools and health move the
//! figures; the exposition passes `promtool check metrics` in the Prometheus text format and is
//! OpenMetrics when asked for; other paths and methods are refused.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use crate::harness::{Proxy, ProxyOpts, ReplicaOpt, my_err, sandbox, unique};

/// An HTTP/1.0 response: status code, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn http(port: u16, method: &str, path: &str, accept: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}\r\n"
    )
    .expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The Prometheus-text exposition as `name{labels}` → value (HELP/TYPE lines left out).
fn scrape(port: u16) -> (String, BTreeMap<String, f64>) {
    let r = http(port, "GET", "/metrics", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let samples = r
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_string(), value.parse().expect("a number")))
        .collect();
    (r.body, samples)
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// Validates the exposition with promtool (Debian package prometheus, installed by
/// `integration/sandbox.sh install`); skipped, loudly, when it is missing.
fn promtool_check(exposition: &str) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "\n!!!!! promtool not runnable ({e}): the exposition is NOT validated; \
                 run integration/sandbox.sh install (Debian package prometheus) !!!!!\n"
            );
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- exposition ---\n{exposition}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn statements_errors_pools_and_health_are_exposed() {
    let sb = sandbox();
    let proxy = Proxy::start(ProxyOpts {
        metrics: true,
        replicas: vec![ReplicaOpt::new("s0", &sb.s0_replica, None)],
        ..Default::default()
    });
    let port = proxy.metrics_port.expect("metrics port");
    let primary = format!("s0/primary {}", sb.s0_primary);
    let replica = format!("s0/replica0 {}", sb.s0_replica);
    let labels = |b: &str, role: &str| format!("{{backend=\"{b}\",shard=\"s0\",role=\"{role}\"}}");

    // Health checks run every second: both backends of s0 come up.
    let started = Instant::now();
    loop {
        let (_, s) = scrape(port);
        let up =
            |b: &str, role: &str| value(&s, &format!("shardgate_backend_up{}", labels(b, role)));
        if up(&primary, "primary") == 1.0 && up(&replica, "replica") == 1.0 {
            let lag =
                format!("shardgate_replication_lag_seconds{{backend=\"{replica}\",shard=\"s0\"}}");
            assert!(s.contains_key(&lag), "{lag} missing: {s:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "s0's backends not up in the metrics: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let table = unique("metrics");
    let mut c = proxy.conn();
    let (_, before) = scrape(port);
    c.query_drop(format!("CREATE TABLE {table} (id INT PRIMARY KEY, v INT)"))
        .expect("create");
    c.query_drop(format!("INSERT INTO {table} VALUES (1, 10)"))
        .expect("insert");
    let _: Vec<(i32, i32)> = c
        .query(format!("SELECT id, v FROM {table}"))
        .expect("select");
    let _: Vec<(i32, i32)> = c
        .exec(format!("SELECT id, v FROM {table} WHERE id = ?"), (1,))
        .expect("prepared select");
    let e = my_err(c.query_drop("SELECT * FROM no_such_table_for_metrics"));
    assert_eq!(e.code, 1146);
    let e = my_err(c.query_drop("SHOW SHARDGATE POOLS"));
    assert_eq!(e.code, 1227, "app is not an admin");
    let (exposition, after) = scrape(port);
    let moved = |series: &str| value(&after, series) - value(&before, series);

    let statements = |kind: &str, route: &str, role: &str, shard: &str| {
        format!(
            "shardgate_statements_total{{kind=\"{kind}\",route=\"{route}\",role=\"{role}\",shard=\"{shard}\"}}"
        )
    };
    assert_eq!(
        moved(&statements("insert", "single", "primary", "s0")),
        1.0,
        "{exposition}"
    );
    assert_eq!(
        moved(&statements("other", "single", "primary", "s0")),
        1.0,
        "CREATE TABLE"
    );
    assert_eq!(
        moved(&statements("other", "admin", "none", "none")),
        1.0,
        "SHOW SHARDGATE"
    );
    let selects: f64 = ["primary", "replica"]
        .iter()
        .map(|role| moved(&statements("select", "single", role, "s0")))
        .sum();
    assert_eq!(selects, 3.0, "two reads and the failed one: {exposition}");
    let single = "shardgate_statement_duration_seconds_count{route=\"single\"}";
    assert_eq!(moved(single), 5.0, "{exposition}");
    assert_eq!(
        moved("shardgate_errors_total{code=\"1146\"}"),
        1.0,
        "relayed from MariaDB"
    );
    assert_eq!(
        moved("shardgate_errors_total{code=\"1227\"}"),
        1.0,
        "the proxy's own"
    );

    for role_backend in [("primary", &primary), ("replica", &replica)] {
        let (role, b) = role_backend;
        let l = labels(b, role);
        assert_eq!(
            value(&after, &format!("shardgate_pool_max_connections{l}")),
            64.0
        );
        assert!(
            value(&after, &format!("shardgate_pool_open_connections{l}")) >= 1.0,
            "{exposition}"
        );
        assert!(
            value(
                &after,
                &format!("shardgate_pool_connections_created_total{l}")
            ) >= 1.0
        );
        let timeouts = format!("shardgate_pool_checkout_timeouts_total{l}");
        assert!(after.contains_key(&timeouts), "{timeouts} missing");
    }
    let waits = format!("shardgate_pool_checkout_wait_seconds_count{{backend=\"{primary}\"}}");
    assert!(moved(&waits) >= 1.0, "{exposition}");
    assert!(value(&after, "shardgate_client_connections") >= 1.0);
    assert_eq!(value(&after, "shardgate_config_version"), 1.0);
    assert!(after.contains_key("shardgate_config_reloads_total{result=\"error\"}"));
    promtool_check(&exposition);

    c.query_drop(format!("DROP TABLE {table}")).expect("drop");
    drop(c);
    let started = Instant::now();
    while value(&scrape(port).1, "shardgate_client_connections") != 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the client gauge stays up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn openmetrics_on_request_and_nothing_but_get_metrics() {
    let proxy = Proxy::start(ProxyOpts {
        metrics: true,
        ..Default::default()
    });
    let port = proxy.metrics_port.expect("metrics port");
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let r = http(port, "GET", "/metrics", Some(accept));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(r.body.ends_with("# EOF\n"), "{}", r.body);
    // Families with no series yet (no statement ran) are left out; the reload counters exist
    // from the start.
    for line in [
        "# TYPE shardgate_config_reloads counter\n",
        "shardgate_config_reloads_total{result=\"ok\"} 0\n",
    ] {
        assert!(r.body.contains(line), "{line} missing: {}", r.body);
    }
    assert!(
        r.body
            .contains("# UNIT shardgate_statement_duration_seconds seconds\n")
    );
    assert_eq!(http(port, "GET", "/", None).status, 404);
    assert_eq!(http(port, "GET", "/metricsx", None).status, 404);
    let r = http(port, "POST", "/metrics", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    // The MySQL side is unaffected.
    let mut c = proxy.conn();
    assert_eq!(
        c.query_first::<i32, _>("SELECT 1").expect("select"),
        Some(1)
    );
}

#[test]
fn a_taken_metrics_port_stops_start_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = std::env::temp_dir().join(unique("shardgate-metrics-port"));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("shardgate.yaml");
    let yaml = format!(
        "listen: \"127.0.0.1:{}\"\n\
         users: [{{ name: app, password: app-pw }}]\n\
         backend: {{ user: shardgate, password: shardgate-pw }}\n\
         shards: [{{ name: s0, primary: {{ address: \"{}\" }} }}]\n\
         metrics: {{ listen: \"127.0.0.1:{port}\" }}\n",
        crate::harness::free_port(),
        sandbox().s0_primary,
    );
    std::fs::write(&config, yaml).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run shardgate");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen on 127.0.0.1:{port} (metrics.listen)"
        )),
        "{stderr}"
    );
}

#[test]
fn reloads_move_the_version_and_the_pool_gauges() {
    let opts = ProxyOpts {
        metrics: true,
        ..Default::default()
    };
    let proxy = Proxy::start(opts.clone());
    let port = proxy.metrics_port.expect("metrics port");
    let primary = format!("s0/primary {}", sandbox().s0_primary);
    let max = format!(
        "shardgate_pool_max_connections{{backend=\"{primary}\",shard=\"s0\",role=\"primary\"}}"
    );
    let ok = "shardgate_config_reloads_total{result=\"ok\"}";
    let failed = "shardgate_config_reloads_total{result=\"error\"}";
    let (_, s) = scrape(port);
    assert_eq!(value(&s, &max), 64.0);
    assert_eq!((value(&s, ok), value(&s, failed)), (0.0, 0.0));
    let wait_for = |what: &str, done: &dyn Fn(&BTreeMap<String, f64>) -> bool| {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, s) = scrape(port);
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < until, "{what}: {s:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    let smaller = ProxyOpts {
        pool_max_connections: Some(32),
        ..opts
    };
    proxy.replace_config(&proxy.config_text(&smaller));
    proxy.signal("HUP");
    let s = wait_for("reload applied", &|s| {
        value(s, "shardgate_config_version") == 2.0
    });
    assert_eq!(value(&s, ok), 1.0);
    assert_eq!(value(&s, &max), 32.0, "the pool was reconfigured in place");

    proxy.replace_config("listen: [unclosed");
    proxy.signal("HUP");
    let s = wait_for("reload refused", &|s| value(s, failed) == 1.0);
    assert_eq!(
        value(&s, "shardgate_config_version"),
        2.0,
        "nothing changed"
    );
    promtool_check(&scrape(port).0);
}
