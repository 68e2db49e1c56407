//! Fuzz target: arbitrary bytes from a client through the frame decoder, then every parser a
//! client packet can reach (handshake response, commands, COM_CHANGE_USER), and the response
//! tracker that reads backend replies. None of them may panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardgate::protocol::PacketIo;
use shardgate::protocol::command::Command;
use shardgate::protocol::handshake::{parse_change_user, parse_client_hello, server_capabilities};
use shardgate::protocol::response::{ClientCaps, Expect, ResponseTracker};
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (mut tx, rx) = tokio::io::duplex(data.len().max(1));
        tx.write_all(data).await.expect("write");
        drop(tx);
        let mut io = PacketIo::new(rx);
        let mut tracker = ResponseTracker::new(
            Expect::Results,
            ClientCaps {
                deprecate_eof: false,
                session_track: false,
            },
            0,
        );
        let mut seq = 0u8;
        while let Ok((packet, last)) = io.read_packet(seq, 1 << 20).await {
            seq = last.wrapping_add(1);
            let _ = parse_client_hello(&packet);
            let _ = parse_change_user(&packet, server_capabilities());
            let _ = Command::parse(&packet);
            if !tracker.is_done() {
                let _ = tracker.feed(&packet);
            }
        }
    });
});
