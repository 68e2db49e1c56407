//! Packet framing: 4-byte headers, 16 MiB split frames, buffered reads and writes over a stream.
//!
//! A MySQL packet is one or more frames of `len(3) seq(1) payload`; a frame of exactly
//! `MAX_FRAME` bytes is followed by a continuation frame. Pass-through code works frame by frame
//! (so a 1 GB row never sits in memory whole); command parsing assembles whole packets.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ProtocolError;

/// Largest payload of one frame; a frame this long continues in the next one.
pub const MAX_FRAME: usize = 0xFF_FFFF;

/// Flush the write buffer once it holds this much, so large results stream.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// One frame as read off the wire.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u8,
    pub payload: Bytes,
}

impl Frame {
    /// True when another frame of the same packet follows.
    pub fn continues(&self) -> bool {
        self.payload.len() == MAX_FRAME
    }
}

/// A buffered packet stream (one per client or backend socket).
pub struct PacketIo<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketIo<S> {
    pub fn new(stream: S) -> Self {
        PacketIo {
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            wbuf: BytesMut::with_capacity(16 * 1024),
        }
    }

    /// The underlying stream (for socket options and peer address).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Reads one frame. `Eof` when the peer closed cleanly between frames.
    pub async fn read_frame(&mut self) -> Result<Frame, ProtocolError> {
        self.read_frame_max(MAX_FRAME).await
    }

    /// Reads one frame, refusing at its header one whose payload exceeds `max` (as servers do:
    /// the payload is not read first).
    async fn read_frame_max(&mut self, max: usize) -> Result<Frame, ProtocolError> {
        loop {
            if self.rbuf.len() >= 4 {
                let len = usize::from(self.rbuf[0])
                    | usize::from(self.rbuf[1]) << 8
                    | usize::from(self.rbuf[2]) << 16;
                if len > max {
                    return Err(ProtocolError::PacketTooLarge {
                        max,
                        next_seq: self.rbuf[3].wrapping_add(1),
                    });
                }
                if self.rbuf.len() >= 4 + len {
                    let seq = self.rbuf[3];
                    self.rbuf.advance(4);
                    let payload = self.rbuf.split_to(len).freeze();
                    return Ok(Frame { seq, payload });
                }
                self.rbuf.reserve(4 + len - self.rbuf.len());
            } else if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            let n = self.stream.read_buf(&mut self.rbuf).await?;
            if n == 0 {
                return Err(if self.rbuf.is_empty() {
                    ProtocolError::Eof
                } else {
                    ProtocolError::Truncated
                });
            }
        }
    }

    /// Reads one whole packet (joining split frames), checking that sequence ids are consecutive
    /// from `expected_seq` and that the payload does not exceed `max_len`.
    /// Returns the payload and the sequence id of its last frame.
    pub async fn read_packet(
        &mut self,
        expected_seq: u8,
        max_len: usize,
    ) -> Result<(Bytes, u8), ProtocolError> {
        let first = self.read_frame_max(max_len).await?;
        check_seq(expected_seq, first.seq)?;
        if !first.continues() {
            return Ok((first.payload, first.seq));
        }
        let mut seq = first.seq;
        let mut whole = BytesMut::from(&first.payload[..]);
        loop {
            let next = self.read_frame_max(max_len - whole.len()).await?;
            seq = seq.wrapping_add(1);
            check_seq(seq, next.seq)?;
            whole.extend_from_slice(&next.payload);
            if !next.continues() {
                return Ok((whole.freeze(), seq));
            }
        }
    }

    /// Buffers one frame with the given sequence id (payload at most `MAX_FRAME` bytes).
    pub fn write_frame(&mut self, seq: u8, payload: &[u8]) {
        debug_assert!(payload.len() <= MAX_FRAME);
        let len = payload.len();
        self.wbuf
            .extend_from_slice(&[len as u8, (len >> 8) as u8, (len >> 16) as u8, seq]);
        self.wbuf.extend_from_slice(payload);
    }

    /// Buffers a whole packet, splitting it into frames; `seq` advances past the frames written.
    pub fn write_packet(&mut self, seq: &mut u8, payload: &[u8]) {
        let mut rest = payload;
        loop {
            let take = rest.len().min(MAX_FRAME);
            self.write_frame(*seq, &rest[..take]);
            *seq = seq.wrapping_add(1);
            rest = &rest[take..];
            if take < MAX_FRAME {
                return;
            }
        }
    }

    /// Flushes when enough is buffered; call after each forwarded frame.
    pub async fn flush_if_full(&mut self) -> Result<(), ProtocolError> {
        if self.wbuf.len() >= FLUSH_THRESHOLD {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes out everything buffered.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Bytes received but not yet consumed (non-zero means the peer sent ahead).
    pub fn has_unread(&self) -> bool {
        !self.rbuf.is_empty()
    }

    /// Shrinks buffers that grew for a large packet, so idle connections stay small.
    pub fn shrink(&mut self) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 64 * 1024 {
            self.rbuf = BytesMut::with_capacity(16 * 1024);
        }
        if self.wbuf.is_empty() && self.wbuf.capacity() > 64 * 1024 {
            self.wbuf = BytesMut::with_capacity(16 * 1024);
        }
    }

    /// Shuts the write side down (best effort).
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}

fn check_seq(expected: u8, got: u8) -> Result<(), ProtocolError> {
    if expected == got {
        Ok(())
    } else {
        Err(ProtocolError::BadSequence { expected, got })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(payload: Vec<u8>) -> (Bytes, u8) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let mut w = PacketIo::new(a);
        let mut r = PacketIo::new(b);
        let writer = tokio::spawn(async move {
            let mut seq = 3;
            w.write_packet(&mut seq, &payload);
            w.flush().await.expect("flush");
            seq
        });
        let got = r.read_packet(3, 64 << 20).await.expect("read");
        let next_seq = writer.await.expect("join");
        assert_eq!(next_seq, got.1.wrapping_add(1));
        got
    }

    #[tokio::test]
    async fn small_packet_roundtrips() {
        let (p, last) = roundtrip(b"\x03SELECT 1".to_vec()).await;
        assert_eq!(&p[..], b"\x03SELECT 1");
        assert_eq!(last, 3);
    }

    #[tokio::test]
    async fn exact_frame_size_gets_empty_continuation() {
        let data = vec![7u8; MAX_FRAME];
        let (p, last) = roundtrip(data.clone()).await;
        assert_eq!(p.len(), MAX_FRAME);
        assert_eq!(last, 4, "a full frame must be followed by an empty one");
    }

    #[tokio::test]
    async fn large_packet_is_split_and_joined() {
        let data: Vec<u8> = (0..(2 * MAX_FRAME + 10)).map(|i| i as u8).collect();
        let (p, last) = roundtrip(data.clone()).await;
        assert_eq!(&p[..], &data[..]);
        assert_eq!(last, 5);
    }

    #[tokio::test]
    async fn bad_sequence_is_rejected() {
        let (a, b) = tokio::io::duplex(1024);
        let mut w = PacketIo::new(a);
        let mut r = PacketIo::new(b);
        w.write_frame(5, b"x");
        w.flush().await.expect("flush");
        let err = r.read_packet(0, 1024).await.expect_err("must fail");
        assert!(matches!(
            err,
            ProtocolError::BadSequence {
                expected: 0,
                got: 5
            }
        ));
    }

    #[tokio::test]
    async fn truncated_frame_is_reported() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut r = PacketIo::new(b);
        a.write_all(&[10, 0, 0, 0, 1, 2]).await.expect("write");
        drop(a);
        let err = r.read_frame().await.expect_err("must fail");
        assert!(matches!(err, ProtocolError::Truncated));
    }

    #[tokio::test]
    async fn oversized_single_frame_is_refused() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut w = PacketIo::new(a);
        let mut r = PacketIo::new(b);
        w.write_frame(0, &[1u8; 2000]);
        w.flush().await.expect("flush");
        let err = r.read_packet(0, 1024).await.expect_err("must fail");
        assert!(matches!(
            err,
            ProtocolError::PacketTooLarge {
                max: 1024,
                next_seq: 1
            }
        ));
    }

    #[tokio::test]
    async fn oversized_packet_is_refused() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let mut w = PacketIo::new(a);
        let mut r = PacketIo::new(b);
        let writer = tokio::spawn(async move {
            let mut seq = 0;
            w.write_packet(&mut seq, &vec![1u8; MAX_FRAME + 100]);
            let _ = w.flush().await;
        });
        let err = r.read_packet(0, 1 << 20).await.expect_err("must fail");
        assert!(matches!(err, ProtocolError::PacketTooLarge { .. }));
        drop(r);
        let _ = writer.await;
    }
}
