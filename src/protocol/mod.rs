//! The MySQL wire protocol, and nothing about routing: framing, handshake, auth, commands,
//! OK/ERR/EOF packets and response tracking.

pub mod auth;
pub mod command;
pub mod framing;
pub mod handshake;
pub mod packets;
pub mod response;
pub mod resultset;

pub use framing::{Frame, PacketIo};

/// What can go wrong on the wire.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("peer closed the connection")]
    Eof,
    #[error("connection closed in the middle of a packet")]
    Truncated,
    #[error("packet sequence id {got}, expected {expected}")]
    BadSequence { expected: u8, got: u8 },
    /// `next_seq` is the sequence id a reply must use.
    #[error("packet larger than max_allowed_packet ({max} bytes)")]
    PacketTooLarge { max: usize, next_seq: u8 },
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
}
