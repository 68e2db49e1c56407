//! A tiny blocking MySQL protocol client that keeps every response packet's bytes, for
//! byte-level comparisons between a direct server connection and the proxy.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::CapabilityFlags as C;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;

pub const MAX_FRAME: usize = 0xFF_FFFF;

pub const COM_QUIT: u8 = 0x01;
pub const COM_INIT_DB: u8 = 0x02;
pub const COM_QUERY: u8 = 0x03;
pub const COM_FIELD_LIST: u8 = 0x04;
pub const COM_STATISTICS: u8 = 0x09;
pub const COM_PROCESS_INFO: u8 = 0x0A;
pub const COM_PING: u8 = 0x0E;
pub const COM_STMT_PREPARE: u8 = 0x16;
pub const COM_STMT_EXECUTE: u8 = 0x17;
pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
pub const COM_STMT_CLOSE: u8 = 0x19;
pub const COM_STMT_RESET: u8 = 0x1A;
pub const COM_SET_OPTION: u8 = 0x1B;
pub const COM_STMT_FETCH: u8 = 0x1C;

pub const IN_TRANS: u16 = 0x0001;
pub const AUTOCOMMIT: u16 = 0x0002;
pub const MORE_RESULTS: u16 = 0x0008;
pub const CURSOR_EXISTS: u16 = 0x0040;
pub const LAST_ROW_SENT: u16 = 0x0080;

/// Base capabilities of the raw client (protocol 4.1, multi-statements and -results).
pub fn base_caps() -> C {
    C::CLIENT_LONG_PASSWORD
        | C::CLIENT_LONG_FLAG
        | C::CLIENT_PROTOCOL_41
        | C::CLIENT_TRANSACTIONS
        | C::CLIENT_SECURE_CONNECTION
        | C::CLIENT_MULTI_STATEMENTS
        | C::CLIENT_MULTI_RESULTS
        | C::CLIENT_PS_MULTI_RESULTS
        | C::CLIENT_PLUGIN_AUTH
}

/// A modern client: CLIENT_DEPRECATE_EOF and CLIENT_SESSION_TRACK.
pub fn modern() -> C {
    base_caps() | C::CLIENT_DEPRECATE_EOF | C::CLIENT_SESSION_TRACK
}

/// A legacy client: EOF packets, no session tracking.
pub fn legacy() -> C {
    base_caps()
}

/// An ERR packet, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub code: u16,
    pub state: String,
    pub message: String,
}

/// Parses an ERR packet payload (protocol 4.1, with SQLSTATE).
pub fn parse_err(p: &[u8]) -> ServerError {
    assert_eq!(p.first(), Some(&0xFF), "not an ERR packet: {:?}", p);
    let code = u16::from_le_bytes([p[1], p[2]]);
    let (state, msg) = if p.get(3) == Some(&b'#') {
        (String::from_utf8_lossy(&p[4..9]).into_owned(), &p[9..])
    } else {
        (String::new(), &p[3..])
    };
    ServerError {
        code,
        state,
        message: String::from_utf8_lossy(msg).into_owned(),
    }
}

/// Reads a length-encoded integer at `*pos`.
pub fn lenenc(p: &[u8], pos: &mut usize) -> u64 {
    let b = p[*pos];
    *pos += 1;
    let n = match b {
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        _ => return u64::from(b),
    };
    let mut v = 0u64;
    for i in 0..n {
        v |= u64::from(p[*pos + i]) << (8 * i);
    }
    *pos += n;
    v
}

/// Fields of an OK packet (or an OK-style terminator): affected rows, insert id, status, warnings.
pub fn ok_fields(p: &[u8]) -> (u64, u64, u16, u16) {
    let mut pos = 1;
    let affected = lenenc(p, &mut pos);
    let insert_id = lenenc(p, &mut pos);
    let status = u16::from_le_bytes([p[pos], p[pos + 1]]);
    let warnings = u16::from_le_bytes([p[pos + 2], p[pos + 3]]);
    (affected, insert_id, status, warnings)
}

/// A COM_STMT_PREPARE reply: every packet, the statement id, column and parameter counts.
pub type Prepared = (Vec<Vec<u8>>, u32, u16, u16);

/// A raw client connection.
pub struct RawConn {
    pub stream: TcpStream,
    seq: u8,
    /// Capabilities in effect (asked for and offered by the server).
    pub caps: C,
    pub connection_id: u32,
    pub server_version: String,
}

/// Opens a TCP connection with generous timeouts.
pub fn tcp(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

impl RawConn {
    /// Connects and logs in with mysql_native_password; `Err` is the server's ERR packet.
    pub fn connect(
        addr: &str,
        user: &str,
        pass: &str,
        db: Option<&str>,
        caps: C,
    ) -> Result<RawConn, ServerError> {
        let mut c = RawConn {
            stream: tcp(addr),
            seq: 0,
            caps,
            connection_id: 0,
            server_version: String::new(),
        };
        let greeting = c.read_packet();
        if greeting[0] == 0xFF {
            return Err(parse_err(&greeting));
        }
        let hs: HandshakePacket<'_> = ParseBuf(&greeting).parse(()).expect("parse greeting");
        let mut caps = caps & hs.capabilities();
        if db.is_some() {
            caps |= C::CLIENT_CONNECT_WITH_DB & hs.capabilities();
        }
        c.caps = caps;
        c.connection_id = hs.connection_id();
        c.server_version = hs.server_version_str().into_owned();
        let nonce = hs.nonce();
        let scramble = scramble_native(&nonce[..20], pass.as_bytes()).expect("scramble");
        let resp = HandshakeResponse::new(
            Some(&scramble[..]),
            (10, 11, 0),
            Some(user.as_bytes()),
            db.map(str::as_bytes),
            Some(AuthPlugin::MysqlNativePassword),
            caps,
            None,
            1 << 30,
        );
        let mut buf = Vec::new();
        resp.serialize(&mut buf);
        c.write_packet(&buf);
        loop {
            let p = c.read_packet();
            match p[0] {
                0x00 => return Ok(c),
                0xFF => return Err(parse_err(&p)),
                0xFE => {
                    let rest = &p[1..];
                    let nul = rest.iter().position(|&b| b == 0).expect("plugin name");
                    let plugin = &rest[..nul];
                    assert_eq!(
                        plugin, b"mysql_native_password",
                        "auth switch to {plugin:?}"
                    );
                    let data = &rest[nul + 1..];
                    let s = scramble_native(&data[..20], pass.as_bytes()).expect("scramble");
                    c.write_packet(&s);
                }
                other => panic!("unexpected login packet 0x{other:02x}"),
            }
        }
    }

    pub fn deprecate_eof(&self) -> bool {
        self.caps.contains(C::CLIENT_DEPRECATE_EOF)
    }

    /// Writes one packet with the next sequence id(s), splitting frames.
    pub fn write_packet(&mut self, payload: &[u8]) {
        self.try_write_packet(payload).expect("write to server");
    }

    /// Like `write_packet`, but reports a write failure (the server may refuse and close
    /// while a large packet is still being sent).
    pub fn try_write_packet(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 8);
        let mut rest = payload;
        loop {
            let take = rest.len().min(MAX_FRAME);
            out.extend_from_slice(&[take as u8, (take >> 8) as u8, (take >> 16) as u8, self.seq]);
            out.extend_from_slice(&rest[..take]);
            self.seq = self.seq.wrapping_add(1);
            rest = &rest[take..];
            if take < MAX_FRAME {
                break;
            }
        }
        self.stream.write_all(&out)
    }

    /// Sets the sequence id the next reply packet must carry.
    pub fn expect_reply_seq(&mut self, seq: u8) {
        self.seq = seq;
    }

    /// Starts a new command (sequence id 0) and sends its packet.
    pub fn send_command(&mut self, payload: &[u8]) {
        self.try_send_command(payload).expect("write to server");
    }

    /// Like `send_command`, but reports a write failure.
    pub fn try_send_command(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.seq = 0;
        self.try_write_packet(payload)
    }

    fn read_frame(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        let mut h = [0u8; 4];
        self.stream.read_exact(&mut h)?;
        let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
        let mut p = vec![0u8; len];
        self.stream.read_exact(&mut p)?;
        Ok((h[3], p))
    }

    /// Reads one packet (joining split frames), checking sequence ids.
    pub fn try_read_packet(&mut self) -> std::io::Result<Vec<u8>> {
        let mut whole = Vec::new();
        loop {
            let (seq, p) = self.read_frame()?;
            if seq != self.seq {
                return Err(std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "sequence id {seq}, expected {}; packet: {}",
                        self.seq,
                        crate::harness::hex(&p)
                    ),
                ));
            }
            self.seq = self.seq.wrapping_add(1);
            let more = p.len() == MAX_FRAME;
            whole.extend_from_slice(&p);
            if !more {
                return Ok(whole);
            }
        }
    }

    pub fn read_packet(&mut self) -> Vec<u8> {
        self.try_read_packet().expect("read packet from server")
    }

    /// True if the connection was closed by the peer (EOF on read within the timeout).
    pub fn is_closed_by_peer(&mut self, timeout: Duration) -> bool {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("timeout");
        let mut b = [0u8; 1];
        let closed = loop {
            match self.stream.read(&mut b) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        closed
    }

    /// Is `p` the end of a row or definition block for this client?
    pub fn is_terminator(&self, p: &[u8]) -> bool {
        p.first() == Some(&0xFE)
            && if self.deprecate_eof() {
                p.len() < MAX_FRAME
            } else {
                p.len() < 9
            }
    }

    /// Status flags of a terminator (EOF or OK-style).
    pub fn terminator_status(&self, p: &[u8]) -> u16 {
        if self.deprecate_eof() {
            ok_fields(p).2
        } else {
            u16::from_le_bytes([p[3], p[4]])
        }
    }

    /// Sends a COM_QUERY and returns every packet of the response.
    pub fn query(&mut self, sql: &str) -> Vec<Vec<u8>> {
        let mut p = vec![COM_QUERY];
        p.extend_from_slice(sql.as_bytes());
        self.send_command(&p);
        self.read_results()
    }

    /// Reads a full COM_QUERY / COM_STMT_EXECUTE response: OK, ERR or result sets.
    pub fn read_results(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let first = self.read_packet();
            let header = first[0];
            out.push(first.clone());
            match header {
                0xFF => return out,
                0x00 => {
                    if ok_fields(&first).2 & MORE_RESULTS == 0 {
                        return out;
                    }
                    continue;
                }
                0xFB => panic!("LOCAL INFILE request"),
                _ => {}
            }
            let mut pos = 0;
            let n = lenenc(&first, &mut pos);
            for _ in 0..n {
                let def = self.read_packet();
                let err = def[0] == 0xFF;
                out.push(def);
                if err {
                    return out;
                }
            }
            if !self.deprecate_eof() {
                let eof = self.read_packet();
                assert!(
                    self.is_terminator(&eof),
                    "expected EOF after columns: {eof:?}"
                );
                let st = self.terminator_status(&eof);
                out.push(eof);
                if st & CURSOR_EXISTS != 0 {
                    return out;
                }
            }
            let more = loop {
                let p = self.read_packet();
                if p[0] == 0xFF {
                    out.push(p);
                    return out;
                }
                if self.is_terminator(&p) {
                    let st = self.terminator_status(&p);
                    out.push(p);
                    if st & CURSOR_EXISTS != 0 && st & MORE_RESULTS == 0 {
                        return out;
                    }
                    break st & MORE_RESULTS != 0;
                }
                out.push(p);
            };
            if !more {
                return out;
            }
        }
    }

    /// Reads packets until a terminator or ERR (rows of COM_STMT_FETCH, COM_FIELD_LIST defs).
    pub fn read_until_terminator(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let p = self.read_packet();
            let end = p[0] == 0xFF || self.is_terminator(&p);
            out.push(p);
            if end {
                return out;
            }
        }
    }

    /// Sends a command whose reply is exactly one packet and returns it.
    pub fn simple(&mut self, payload: &[u8]) -> Vec<u8> {
        self.send_command(payload);
        self.read_packet()
    }

    /// COM_STMT_PREPARE: the whole reply (OK, parameter and column definitions with their
    /// EOFs for a legacy client), plus the statement id, column and parameter counts.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared, ServerError> {
        let mut p = vec![COM_STMT_PREPARE];
        p.extend_from_slice(sql.as_bytes());
        self.send_command(&p);
        let ok = self.read_packet();
        if ok[0] == 0xFF {
            return Err(parse_err(&ok));
        }
        let id = u32::from_le_bytes([ok[1], ok[2], ok[3], ok[4]]);
        let cols = u16::from_le_bytes([ok[5], ok[6]]);
        let params = u16::from_le_bytes([ok[7], ok[8]]);
        let mut out = vec![ok];
        for n in [params, cols] {
            for _ in 0..n {
                out.push(self.read_packet());
            }
            if n > 0 && !self.deprecate_eof() {
                out.push(self.read_packet());
            }
        }
        Ok((out, id, cols, params))
    }

    /// Sends COM_QUIT.
    pub fn quit(&mut self) {
        self.send_command(&[COM_QUIT]);
    }
}

/// A COM_STMT_EXECUTE packet; `params` are (MySQL type byte, unsigned, value or NULL).
pub fn execute_packet(stmt_id: u32, cursor: u8, params: &[(u8, bool, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut p = vec![COM_STMT_EXECUTE];
    p.extend_from_slice(&stmt_id.to_le_bytes());
    p.push(cursor);
    p.extend_from_slice(&1u32.to_le_bytes());
    if !params.is_empty() {
        let mut bitmap = vec![0u8; params.len().div_ceil(8)];
        for (i, (_, _, v)) in params.iter().enumerate() {
            if v.is_none() {
                bitmap[i / 8] |= 1 << (i % 8);
            }
        }
        p.extend_from_slice(&bitmap);
        p.push(1);
        for (t, unsigned, _) in params {
            p.push(*t);
            p.push(if *unsigned { 0x80 } else { 0 });
        }
        for (_, _, v) in params {
            if let Some(v) = v {
                p.extend_from_slice(v);
            }
        }
    }
    p
}

/// A length-encoded string value for a binary-protocol parameter.
pub fn lenenc_str(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 9);
    let n = s.len() as u64;
    match n {
        0..=250 => out.push(n as u8),
        251..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0xFD);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xFE);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    out.extend_from_slice(s);
    out
}
