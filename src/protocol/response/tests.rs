//! Tests of reply tracking: where replies end and what the client receives.

use super::*;

const MODERN: ClientCaps = ClientCaps {
    deprecate_eof: true,
    session_track: true,
};
const LEGACY: ClientCaps = ClientCaps {
    deprecate_eof: false,
    session_track: false,
};

/// Feeds packets; returns what the client receives. Asserts the reply ends at the last one.
fn run(t: &mut ResponseTracker, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        match t.feed(p).expect("feed") {
            Action::Forward => out.push(p.clone()),
            Action::Replace(r) => out.push(r),
        }
        assert_eq!(
            t.is_done(),
            i == packets.len() - 1,
            "done only at the end (packet {i})"
        );
    }
    out
}

fn modern_result(st: u16) -> Vec<Vec<u8>> {
    vec![
        vec![1],
        b"\x03defcol".to_vec(),
        b"\x011".to_vec(),
        packets::terminator(true, 0, st),
    ]
}

fn legacy_result(st: u16) -> Vec<Vec<u8>> {
    vec![
        vec![1],
        b"\x03defcol".to_vec(),
        packets::eof_packet(0, st),
        b"\x011".to_vec(),
        packets::eof_packet(0, st),
    ]
}

#[test]
fn modern_result_passes_unchanged() {
    let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
    let input = modern_result(status::AUTOCOMMIT);
    assert_eq!(run(&mut t, &input), input);
    assert_eq!(t.status, status::AUTOCOMMIT);
}

#[test]
fn legacy_result_passes_unchanged() {
    let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
    let input = legacy_result(status::AUTOCOMMIT);
    assert_eq!(run(&mut t, &input), input);
}

#[test]
fn legacy_cursor_ends_at_the_columns_eof() {
    let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
    let st = status::AUTOCOMMIT | status::CURSOR_EXISTS;
    run(
        &mut t,
        &[vec![1], b"\x03def".to_vec(), packets::eof_packet(0, st)],
    );
}

#[test]
fn modern_cursor_ends_at_the_terminator() {
    let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
    let st = status::AUTOCOMMIT | status::CURSOR_EXISTS;
    run(
        &mut t,
        &[
            vec![1],
            b"\x03def".to_vec(),
            packets::terminator(true, 0, st),
        ],
    );
}

#[test]
fn multiple_results_continue_until_the_last() {
    for (caps, mut input) in [
        (MODERN, modern_result(status::MORE_RESULTS_EXISTS)),
        (LEGACY, legacy_result(status::MORE_RESULTS_EXISTS)),
    ] {
        let mut t = ResponseTracker::new(Expect::Results, caps, 0);
        input.push(packets::ok_packet(status::MORE_RESULTS_EXISTS, 1, 0));
        input.push(packets::ok_packet(0, 0, 0));
        assert_eq!(run(&mut t, &input).len(), input.len());
    }
}

#[test]
fn error_mid_rows_ends_the_reply() {
    let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
    let err = packets::err_packet(1317, "70100", "interrupted");
    run(
        &mut t,
        &[vec![1], b"\x03def".to_vec(), b"\x011".to_vec(), err],
    );
    assert!(t.failed);
}

#[test]
fn ok_is_reencoded_without_session_track_and_schema_is_seen() {
    let mut t = ResponseTracker::new(Expect::Results, LEGACY, 0);
    let ok = packets::Ok {
        status: status::AUTOCOMMIT | status::SESSION_STATE_CHANGED,
        info: b"Rows matched: 1",
        session_state: b"\x01\x05\x04shop",
        ..Default::default()
    };
    let mut p = Vec::new();
    ok.write(OK_HEADER, true, &mut p);
    let out = run(&mut t, &[p]);
    let mut want = vec![0, 0, 0, 2, 0, 0, 0, 15];
    want.extend_from_slice(b"Rows matched: 1");
    assert_eq!(
        out[0], want,
        "info keeps its length prefix, state block and flag dropped"
    );
    assert_eq!(t.schema.as_deref(), Some("shop"));
}

#[test]
fn last_gtid_is_taken_and_hidden_from_the_client() {
    // schema entry + system variable entry last_gtid=0-1-42
    let mut block = b"\x01\x05\x04shop".to_vec();
    let mut var = Vec::new();
    packets::put_lenenc_bytes(&mut var, b"last_gtid");
    packets::put_lenenc_bytes(&mut var, b"0-1-42");
    block.push(0);
    packets::put_lenenc_bytes(&mut block, &var);
    let ok = packets::Ok {
        affected_rows: 1,
        status: status::AUTOCOMMIT | status::SESSION_STATE_CHANGED,
        session_state: &block,
        ..Default::default()
    };
    let mut p = Vec::new();
    ok.write(OK_HEADER, true, &mut p);
    let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
    let out = run(&mut t, &[p]);
    assert_eq!(t.last_gtid.as_deref(), Some("0-1-42"));
    assert_eq!(t.schema.as_deref(), Some("shop"));
    let seen = packets::Ok::parse(&out[0], true).expect("parse");
    assert_eq!(
        seen.session_state, b"\x01\x05\x04shop",
        "only the client's own entries"
    );
    // with only the gtid entry, the flag goes too
    let mut only = vec![0];
    packets::put_lenenc_bytes(&mut only, &var);
    let ok = packets::Ok {
        status: status::SESSION_STATE_CHANGED,
        session_state: &only,
        ..Default::default()
    };
    let mut p = Vec::new();
    ok.write(OK_HEADER, true, &mut p);
    let mut t = ResponseTracker::new(Expect::Results, MODERN, 0);
    assert_eq!(run(&mut t, &[p]), vec![packets::ok_packet(0, 0, 0)]);
}

#[test]
fn prepare_definitions_are_counted_with_their_eofs() {
    let d = b"\x03def".to_vec();
    let eof = packets::eof_packet(0, 2);
    let mut t = ResponseTracker::after_prepare_ok(LEGACY, 2, 2, 3);
    let legacy = [
        d.clone(),
        d.clone(),
        eof.clone(),
        d.clone(),
        d.clone(),
        d.clone(),
        eof,
    ];
    assert_eq!(run(&mut t, &legacy), legacy);
    let mut t = ResponseTracker::after_prepare_ok(MODERN, 2, 2, 3);
    run(&mut t, &[d.clone(), d.clone(), d.clone(), d.clone(), d]);
    assert!(ResponseTracker::after_prepare_ok(LEGACY, 2, 0, 0).is_done());
}

#[test]
fn field_list_ends_at_its_terminator() {
    let mut t = ResponseTracker::new(Expect::FieldList, LEGACY, 0);
    run(&mut t, &[b"\x03def".to_vec(), packets::eof_packet(0, 2)]);
    let mut t = ResponseTracker::new(Expect::FieldList, MODERN, 0);
    run(
        &mut t,
        &[b"\x03def".to_vec(), packets::terminator(true, 0, 2)],
    );
}

#[test]
fn garbage_never_panics() {
    let mut seed = 7u64;
    for caps in [MODERN, LEGACY] {
        for _ in 0..2000 {
            let mut t = ResponseTracker::new(Expect::Results, caps, 0);
            for _ in 0..8 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (seed >> 59) as usize;
                let p: Vec<u8> = (0..len).map(|i| (seed >> (i % 56)) as u8).collect();
                if t.feed(&p).is_err() || t.is_done() {
                    break;
                }
            }
        }
    }
}
