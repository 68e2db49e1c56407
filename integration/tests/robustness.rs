//! Robustness: malformed client input closes only that connection, and backends that are down
//! or go away give clean errors, with recovery once they return.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use crate::harness::relay::Relay;
use crate::harness::{Proxy, ProxyOpts, free_port, my_err, raw};

/// Reads the greeting (one packet) from a fresh connection.
fn greeted(proxy: &Proxy) -> TcpStream {
    let mut s = raw::tcp(&proxy.addr());
    let mut h = [0u8; 4];
    s.read_exact(&mut h).expect("greeting header");
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).expect("greeting");
    assert_eq!(p[0], 10, "protocol version 10 greeting");
    s
}

/// Waits for the proxy to close the connection (EOF or reset), reading and discarding
/// whatever it sends first (an ERR packet is fine). Returns what was received.
#[track_caller]
fn assert_closed(mut s: TcpStream, what: &str) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(_) => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: the proxy did not close the connection within 10 s (received {} bytes)",
            got.len()
        );
    }
}

/// The proxy still runs and serves a normal client.
#[track_caller]
fn assert_serving(proxy: &mut Proxy, after: &str) {
    assert!(proxy.is_running(), "proxy process died after {after}");
    let mut c = proxy.conn();
    let v: Option<i64> = c
        .query_first("SELECT 40 + 2")
        .expect("query after bad client");
    assert_eq!(v, Some(42), "after {after}");
}

fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![n as u8, (n >> 8) as u8, (n >> 16) as u8, seq];
    f.extend_from_slice(payload);
    f
}

#[test]
fn garbage_instead_of_handshake_response() {
    let mut proxy = Proxy::start_default();
    // A well-framed packet of garbage.
    let mut s = greeted(&proxy);
    let garbage: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
    s.write_all(&frame(1, &garbage)).expect("write");
    assert_closed(s, "framed garbage");
    assert_serving(&mut proxy, "framed garbage");
    // Not a MySQL client at all; the client then half-closes.
    let mut s = greeted(&proxy);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    assert_closed(s, "HTTP request");
    assert_serving(&mut proxy, "HTTP request");
    // All 0xFF bytes.
    let mut s = greeted(&proxy);
    s.write_all(&frame(1, &[0xFF; 200])).expect("write");
    assert_closed(s, "0xFF bytes");
    assert_serving(&mut proxy, "0xFF bytes");
}

#[test]
fn truncated_handshake_response() {
    let mut proxy = Proxy::start_default();
    // A complete packet that is too short to be a handshake response.
    let mut s = greeted(&proxy);
    s.write_all(&frame(1, &[0x85, 0xA6, 0x0F, 0x00, 0, 0, 0, 1]))
        .expect("write");
    assert_closed(s, "short handshake response");
    assert_serving(&mut proxy, "short handshake response");
    // A handshake response cut off mid-packet, then the client closes.
    let mut s = greeted(&proxy);
    let mut f = frame(1, &[0x85, 0xA6, 0x0F, 0x00, 0, 0, 0, 1, 45]);
    f[0] = 80; // promises 80 bytes, sends 9
    s.write_all(&f).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    assert_closed(s, "cut-off handshake response");
    assert_serving(&mut proxy, "cut-off handshake response");
    // Only part of a frame header.
    let mut s = greeted(&proxy);
    s.write_all(&[0x20, 0x00]).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    assert_closed(s, "partial frame header");
    assert_serving(&mut proxy, "partial frame header");
}

#[test]
fn bad_packets_after_login_close_only_that_connection() {
    let mut proxy = Proxy::start_default();
    // Wrong sequence id on a command.
    let mut c = proxy.raw(raw::modern());
    c.stream
        .write_all(&frame(5, b"\x03SELECT 1"))
        .expect("write");
    assert_closed(c.stream.try_clone().expect("clone"), "bad sequence id");
    assert_serving(&mut proxy, "bad sequence id");
    // A length header promising more than is sent, then close.
    let mut c = proxy.raw(raw::modern());
    let mut f = frame(0, b"\x03SELECT 1");
    f[0] = 200;
    c.stream.write_all(&f).expect("write");
    c.stream.shutdown(Shutdown::Write).expect("shutdown");
    assert_closed(c.stream.try_clone().expect("clone"), "short frame");
    assert_serving(&mut proxy, "short frame");
    // An empty command packet.
    let mut c = proxy.raw(raw::modern());
    c.stream.write_all(&frame(0, b"")).expect("write");
    let got = assert_closed(c.stream.try_clone().expect("clone"), "empty command");
    let _ = got;
    assert_serving(&mut proxy, "empty command");
}

#[test]
fn dead_backend_gives_2006_naming_it() {
    let port = free_port();
    let dead = format!("127.0.0.1:{port}");
    let mut proxy = Proxy::start(ProxyOpts {
        s0_primary: Some(dead.clone()),
        connect_timeout_ms: Some(1000),
        ..Default::default()
    });
    let e = my_err(proxy.conn_as("app", "app-pw", Some("shop")));
    assert_eq!(e.code, 2006, "{e:?}");
    assert!(
        e.message.contains("s0/primary") && e.message.contains(&dead),
        "message names the backend: {}",
        e.message
    );
    assert!(proxy.is_running());
}

#[test]
fn backend_connection_lost_then_recovered() {
    let sb = crate::harness::sandbox();
    let mut relay = Relay::start(&sb.s0_primary);
    let proxy = Proxy::start(ProxyOpts {
        s0_primary: Some(relay.addr()),
        connect_timeout_ms: Some(1000),
        ..Default::default()
    });
    let mut c = proxy.conn();
    c.query_drop("SET @kept = 1").expect("set");
    let v: Option<i64> = c.query_first("SELECT 1").expect("through the relay");
    assert_eq!(v, Some(1));

    relay.kill();
    let e = my_err(c.query_first::<i64, _>("SELECT 2"));
    assert!(e.code == 2013 || e.code == 2006, "lost backend: {e:?}");
    assert!(
        e.message.contains("s0/primary"),
        "names the backend: {}",
        e.message
    );
    // Still down: a clean error again, on the same client connection.
    let e = my_err(c.query_first::<i64, _>("SELECT 3"));
    assert!(
        e.code == 2013 || e.code == 2006,
        "backend still down: {e:?}"
    );

    relay.restart();
    let v: Option<i64> = c.query_first("SELECT 4").expect("the proxy reconnects");
    assert_eq!(v, Some(4));
    let db: Option<String> = c.query_first("SELECT DATABASE()").expect("schema");
    assert_eq!(
        db.as_deref(),
        Some("shop"),
        "session schema restored on the new backend"
    );
    // New clients work too.
    let mut c2 = proxy.conn();
    c2.ping().expect("new client");
}
