//! Generic packets the proxy reads or writes itself: OK, ERR, EOF, and length-encoded values.

use super::ProtocolError;

pub const OK_HEADER: u8 = 0x00;
pub const EOF_HEADER: u8 = 0xFE;
pub const ERR_HEADER: u8 = 0xFF;
pub const LOCAL_INFILE_HEADER: u8 = 0xFB;

/// Server status flags the proxy looks at.
pub mod status {
    pub const IN_TRANS: u16 = 0x0001;
    pub const AUTOCOMMIT: u16 = 0x0002;
    pub const MORE_RESULTS_EXISTS: u16 = 0x0008;
    pub const CURSOR_EXISTS: u16 = 0x0040;
    pub const LAST_ROW_SENT: u16 = 0x0080;
    pub const IN_TRANS_READONLY: u16 = 0x2000;
    pub const SESSION_STATE_CHANGED: u16 = 0x4000;
}

/// Appends a length-encoded integer.
pub fn put_lenenc_int(buf: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => buf.push(v as u8),
        251..=0xFFFF => {
            buf.push(0xFC);
            buf.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            buf.push(0xFD);
            buf.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            buf.push(0xFE);
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Appends a length-encoded string.
pub fn put_lenenc_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    put_lenenc_int(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// A cursor over a packet payload with bounds-checked reads.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(ProtocolError::Malformed("packet shorter than its fields"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, ProtocolError> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn lenenc_int(&mut self) -> Result<u64, ProtocolError> {
        match self.u8()? {
            v @ 0..=250 => Ok(u64::from(v)),
            0xFC => Ok(u64::from(self.u16()?)),
            0xFD => {
                let b = self.bytes(3)?;
                Ok(u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16)
            }
            0xFE => {
                let b = self.bytes(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(u64::from_le_bytes(a))
            }
            _ => Err(ProtocolError::Malformed("invalid length-encoded integer")),
        }
    }

    pub fn lenenc_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let len = self.lenenc_int()?;
        let len = usize::try_from(len).map_err(|_| ProtocolError::Malformed("length overflow"))?;
        self.bytes(len)
    }

    /// Bytes up to (not including) the next NUL; the NUL is consumed.
    pub fn null_terminated(&mut self) -> Result<&'a [u8], ProtocolError> {
        let pos = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or(ProtocolError::Malformed("missing NUL terminator"))?;
        let s = &self.buf[..pos];
        self.buf = &self.buf[pos + 1..];
        Ok(s)
    }
}

/// The fields of an OK packet (header 0x00, or 0xFE when it ends a result set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ok<'a> {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    pub info: &'a [u8],
    /// Raw session-state-change block (only with CLIENT_SESSION_TRACK and SESSION_STATE_CHANGED).
    pub session_state: &'a [u8],
}

impl<'a> Ok<'a> {
    /// Parses an OK packet sent to a connection with or without CLIENT_SESSION_TRACK.
    pub fn parse(payload: &'a [u8], session_track: bool) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let affected_rows = r.lenenc_int()?;
        let last_insert_id = r.lenenc_int()?;
        let status = r.u16()?;
        let warnings = r.u16()?;
        // Servers write the info text length-encoded whether or not the client tracks state.
        let info = if r.is_empty() {
            &[][..]
        } else {
            r.lenenc_bytes()?
        };
        let session_state =
            if session_track && status & status::SESSION_STATE_CHANGED != 0 && !r.is_empty() {
                r.lenenc_bytes()?
            } else {
                &[][..]
            };
        Ok(Ok {
            affected_rows,
            last_insert_id,
            status,
            warnings,
            info,
            session_state,
        })
    }

    /// Serialises for a client with or without CLIENT_SESSION_TRACK, with the given header byte.
    pub fn write(&self, header: u8, session_track: bool, out: &mut Vec<u8>) {
        out.push(header);
        put_lenenc_int(out, self.affected_rows);
        put_lenenc_int(out, self.last_insert_id);
        let mut status = self.status;
        if !session_track || self.session_state.is_empty() {
            status &= !status::SESSION_STATE_CHANGED;
        }
        out.extend_from_slice(&status.to_le_bytes());
        out.extend_from_slice(&self.warnings.to_le_bytes());
        let state = if session_track {
            self.session_state
        } else {
            &[]
        };
        if !self.info.is_empty() || !state.is_empty() {
            put_lenenc_bytes(out, self.info);
        }
        if !state.is_empty() {
            put_lenenc_bytes(out, state);
        }
    }
}

/// An OK packet with only status flags set.
pub fn ok_packet(status: u16, affected_rows: u64, last_insert_id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(11);
    Ok {
        affected_rows,
        last_insert_id,
        status,
        ..Default::default()
    }
    .write(OK_HEADER, false, &mut out);
    out
}

/// An old-style EOF packet.
pub fn eof_packet(warnings: u16, status: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    out.push(EOF_HEADER);
    out.extend_from_slice(&warnings.to_le_bytes());
    out.extend_from_slice(&status.to_le_bytes());
    out
}

/// The end-of-data marker for a client: an EOF packet, or with CLIENT_DEPRECATE_EOF an OK
/// packet with the EOF header.
pub fn terminator(deprecate_eof: bool, warnings: u16, status: u16) -> Vec<u8> {
    if deprecate_eof {
        let mut out = Vec::with_capacity(7);
        Ok {
            status,
            warnings,
            ..Default::default()
        }
        .write(EOF_HEADER, false, &mut out);
        out
    } else {
        eof_packet(warnings, status)
    }
}

/// An ERR packet (protocol 4.1 format, with SQLSTATE).
pub fn err_packet(code: u16, sqlstate: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + message.len());
    out.push(ERR_HEADER);
    out.extend_from_slice(&code.to_le_bytes());
    out.push(b'#');
    let state = sqlstate.as_bytes();
    for i in 0..5 {
        out.push(state.get(i).copied().unwrap_or(b'0'));
    }
    out.extend_from_slice(message.as_bytes());
    out
}

/// Code, SQLSTATE and message of an ERR packet.
pub fn parse_err(payload: &[u8]) -> Result<(u16, String, String), ProtocolError> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let code = r.u16()?;
    let rest = r.remaining();
    let (state, msg) = if rest.first() == Some(&b'#') && rest.len() >= 6 {
        (&rest[1..6], &rest[6..])
    } else {
        (&b"HY000"[..], rest)
    };
    Ok((
        code,
        String::from_utf8_lossy(state).into_owned(),
        String::from_utf8_lossy(msg).into_owned(),
    ))
}

/// Is this payload (first frame of a packet) a result-set terminator rather than a row?
/// A text row may also start with 0xFE, but only when it is 16 MiB or longer.
pub fn is_terminator(payload: &[u8], deprecate_eof: bool) -> bool {
    payload.first() == Some(&EOF_HEADER)
        && if deprecate_eof {
            payload.len() < super::framing::MAX_FRAME
        } else {
            payload.len() < 9
        }
}

/// Warnings and status flags of a terminator (EOF, or OK with the EOF header).
pub fn terminator_fields(
    payload: &[u8],
    deprecate_eof: bool,
    session_track: bool,
) -> Result<(u16, u16), ProtocolError> {
    if deprecate_eof {
        let ok = Ok::parse(payload, session_track)?;
        Result::Ok((ok.warnings, ok.status))
    } else {
        let mut r = Reader::new(payload);
        r.u8()?;
        // A pre-4.1 EOF has no fields.
        if r.is_empty() {
            return Result::Ok((0, 0));
        }
        let warnings = r.u16()?;
        let status = r.u16()?;
        Result::Ok((warnings, status))
    }
}

/// The error code of an ERR packet; `None` for any other packet.
pub fn err_code(p: &[u8]) -> Option<u16> {
    match p {
        [ERR_HEADER, lo, hi, ..] => Some(u16::from_le_bytes([*lo, *hi])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_roundtrip() {
        for v in [
            0u64,
            250,
            251,
            0xFFFF,
            0x1_0000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_lenenc_int(&mut b, v);
            assert_eq!(Reader::new(&b).lenenc_int().expect("parse"), v);
        }
    }

    #[test]
    fn ok_translates_between_session_track_and_not() {
        let mut tracked = Vec::new();
        let ok = Ok {
            affected_rows: 3,
            last_insert_id: 300,
            status: status::AUTOCOMMIT | status::SESSION_STATE_CHANGED,
            warnings: 1,
            info: b"Rows matched: 3",
            session_state: b"\x01\x05\x04shop",
        };
        ok.write(OK_HEADER, true, &mut tracked);
        let parsed = Ok::parse(&tracked, true).expect("parse");
        assert_eq!(parsed, ok);
        let mut plain = Vec::new();
        parsed.write(OK_HEADER, false, &mut plain);
        let plain_parsed = Ok::parse(&plain, false).expect("parse");
        assert_eq!(plain_parsed.info, b"Rows matched: 3");
        assert_eq!(plain_parsed.status, status::AUTOCOMMIT);
        assert!(plain_parsed.session_state.is_empty());
    }

    #[test]
    fn err_packet_roundtrip() {
        let p = err_packet(1045, "28000", "Access denied");
        let (code, state, msg) = parse_err(&p).expect("parse");
        assert_eq!(
            (code, state.as_str(), msg.as_str()),
            (1045, "28000", "Access denied")
        );
    }

    #[test]
    fn terminator_detection() {
        assert!(is_terminator(&terminator(true, 0, 2), true));
        assert!(is_terminator(&eof_packet(0, 2), false));
        // a text row whose first column starts with an 8-byte length prefix is not a terminator
        let mut row = vec![0xFE; 9];
        row.extend_from_slice(&[0; 10]);
        assert!(!is_terminator(&row, false));
        assert_eq!(
            terminator_fields(&terminator(true, 4, 0x22), true, false).expect("parse"),
            (4, 0x22)
        );
        assert_eq!(
            terminator_fields(&eof_packet(4, 0x22), false, false).expect("parse"),
            (4, 0x22)
        );
    }

    #[test]
    fn reader_never_panics_on_short_input() {
        assert!(Reader::new(&[0xFC, 1]).lenenc_int().is_err());
        assert!(Reader::new(&[]).u8().is_err());
        assert!(Reader::new(b"abc").null_terminated().is_err());
        assert!(Ok::parse(&[0, 0xFE], true).is_err());
    }
}
