//! The registry's figures in both text formats, and the cost of recording a statement.

use super::labels::{Kind, Role};
use super::*;

fn labels(kind: Kind, route: Route, shard: &'static str) -> StatementLabels {
    StatementLabels {
        kind,
        route,
        role: Role::Primary,
        shard,
    }
}

#[test]
fn recorded_figures_in_both_formats() {
    let m = Metrics::new();
    let select = labels(Kind::Select, Route::Single, "s0");
    m.record_statement(&select, Duration::from_micros(300));
    m.record_statement(&select, Duration::from_millis(2));
    m.record_statement(
        &labels(Kind::Update, Route::MultiWrite, "*"),
        Duration::ZERO,
    );
    m.record_error(1146);
    m.reloads_failed.inc();
    let mut om = String::new();
    prometheus_client::encoding::text::encode(&mut om, &m.registry).expect("encode");
    for line in [
        "# TYPE shardgate_statements counter",
        "shardgate_statements_total{kind=\"select\",route=\"single\",role=\"primary\",shard=\"s0\"} 2",
        "shardgate_statements_total{kind=\"update\",route=\"multi_write\",role=\"primary\",shard=\"*\"} 1",
        "shardgate_statement_duration_seconds_count{route=\"single\"} 2",
        "shardgate_statement_duration_seconds_bucket{le=\"0.0005\",route=\"single\"} 1",
        "shardgate_statement_duration_seconds_count{route=\"admin\"} 0",
        "shardgate_errors_total{code=\"1146\"} 1",
        "shardgate_config_reloads_total{result=\"ok\"} 0",
        "shardgate_config_reloads_total{result=\"error\"} 1",
        "shardgate_config_version 1",
        "# EOF",
    ] {
        assert!(om.lines().any(|l| l == line), "{line} missing from:\n{om}");
    }
    let text = format::prometheus_text(&om);
    assert!(
        text.contains("# TYPE shardgate_statements_total counter\n"),
        "{text}"
    );
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
}

#[test]
fn checkout_waits_per_backend() {
    let m = Metrics::new();
    let wait = CheckoutWait(Some(m.checkout_wait.get_or_create_owned(&BackendLabels {
        backend: "s0/primary 127.0.0.1:3306".into(),
    })));
    wait.observe(Duration::from_millis(30));
    CheckoutWait::default().observe(Duration::from_millis(1));
    let mut om = String::new();
    prometheus_client::encoding::text::encode(&mut om, &m.registry).expect("encode");
    let line = "shardgate_pool_checkout_wait_seconds_bucket{le=\"0.05\",backend=\"s0/primary 127.0.0.1:3306\"} 1";
    assert!(om.contains(line), "{om}");
}

/// Per-statement recording cost: `cargo test --release --lib statement_cost -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn statement_cost() {
    let m = Metrics::new();
    let l = labels(Kind::Select, Route::Single, labels::intern("s0"));
    let n = 1_000_000u32;
    let started = std::time::Instant::now();
    for _ in 0..n {
        let sql = std::hint::black_box(&b"SELECT c FROM sbtest1 WHERE id = 1"[..]);
        let mut l = l;
        l.kind = Kind::of(sql);
        l.shard = labels::intern(std::hint::black_box("s0"));
        m.record_statement(&l, started.elapsed());
    }
    println!("{:?} per statement", started.elapsed() / n);
}

#[test]
fn error_codes_from_err_packets() {
    assert_eq!(err_code(&[0xff, 0x7a, 0x04, b'#']), 1146);
    assert_eq!(err_code(&[0xff]), 0);
}
