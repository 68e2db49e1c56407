//! Client commands (the first byte of a command packet) and their arguments.

use super::ProtocolError;
use super::packets::Reader;

/// A command packet from the client, borrowing its payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Quit,
    InitDb(&'a [u8]),
    Query(&'a [u8]),
    FieldList(&'a [u8]),
    Statistics,
    Ping,
    /// The raw COM_CHANGE_USER body (after the command byte); parsed by the frontend.
    ChangeUser(&'a [u8]),
    StmtPrepare(&'a [u8]),
    StmtExecute {
        stmt_id: u32,
    },
    StmtSendLongData {
        stmt_id: u32,
    },
    StmtClose {
        stmt_id: u32,
    },
    StmtReset {
        stmt_id: u32,
    },
    SetOption(u16),
    StmtFetch {
        stmt_id: u32,
    },
    ResetConnection,
    /// A command byte the proxy does not serve.
    Unsupported(u8),
}

pub const COM_QUIT: u8 = 0x01;
pub const COM_INIT_DB: u8 = 0x02;
pub const COM_QUERY: u8 = 0x03;
pub const COM_FIELD_LIST: u8 = 0x04;
pub const COM_STATISTICS: u8 = 0x09;
pub const COM_PING: u8 = 0x0E;
pub const COM_CHANGE_USER: u8 = 0x11;
pub const COM_STMT_PREPARE: u8 = 0x16;
pub const COM_STMT_EXECUTE: u8 = 0x17;
pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
pub const COM_STMT_CLOSE: u8 = 0x19;
pub const COM_STMT_RESET: u8 = 0x1A;
pub const COM_SET_OPTION: u8 = 0x1B;
pub const COM_STMT_FETCH: u8 = 0x1C;
pub const COM_RESET_CONNECTION: u8 = 0x1F;

impl<'a> Command<'a> {
    /// Parses a whole command packet.
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        let (&code, body) = payload
            .split_first()
            .ok_or(ProtocolError::Malformed("empty command packet"))?;
        let stmt_id = || Reader::new(body).u32();
        Ok(match code {
            COM_QUIT => Command::Quit,
            COM_INIT_DB => Command::InitDb(body),
            COM_QUERY => Command::Query(body),
            COM_FIELD_LIST => Command::FieldList(body),
            COM_STATISTICS => Command::Statistics,
            COM_PING => Command::Ping,
            COM_CHANGE_USER => Command::ChangeUser(body),
            COM_STMT_PREPARE => Command::StmtPrepare(body),
            COM_STMT_EXECUTE => Command::StmtExecute {
                stmt_id: stmt_id()?,
            },
            COM_STMT_SEND_LONG_DATA => Command::StmtSendLongData {
                stmt_id: stmt_id()?,
            },
            COM_STMT_CLOSE => Command::StmtClose {
                stmt_id: stmt_id()?,
            },
            COM_STMT_RESET => Command::StmtReset {
                stmt_id: stmt_id()?,
            },
            COM_SET_OPTION => Command::SetOption(Reader::new(body).u16()?),
            COM_STMT_FETCH => Command::StmtFetch {
                stmt_id: stmt_id()?,
            },
            COM_RESET_CONNECTION => Command::ResetConnection,
            other => Command::Unsupported(other),
        })
    }
}

/// A COM_QUERY packet for `sql`.
pub fn query(sql: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + sql.len());
    p.push(COM_QUERY);
    p.extend_from_slice(sql);
    p
}

/// Replaces the statement id (bytes 1..5) of a statement command packet.
pub fn with_stmt_id(payload: &[u8], stmt_id: u32) -> Vec<u8> {
    let mut out = payload.to_vec();
    if out.len() >= 5 {
        out[1..5].copy_from_slice(&stmt_id.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_commands() {
        assert_eq!(
            Command::parse(b"\x03SELECT 1").expect("q"),
            Command::Query(b"SELECT 1")
        );
        assert_eq!(
            Command::parse(&[COM_STMT_EXECUTE, 7, 0, 0, 0, 0, 1, 0, 0, 0]).expect("x"),
            Command::StmtExecute { stmt_id: 7 }
        );
        assert_eq!(
            Command::parse(&[0x1B, 1, 0]).expect("o"),
            Command::SetOption(1)
        );
        assert_eq!(
            Command::parse(&[0x0A]).expect("u"),
            Command::Unsupported(0x0A)
        );
    }

    #[test]
    fn truncated_arguments_are_errors() {
        assert!(Command::parse(&[]).is_err());
        assert!(Command::parse(&[COM_STMT_EXECUTE, 1, 2]).is_err());
        assert!(Command::parse(&[COM_SET_OPTION]).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 1u64;
        for _ in 0..10_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 60) as usize;
            let p: Vec<u8> = (0..len).map(|i| (seed >> (i * 7 % 57)) as u8).collect();
            let _ = Command::parse(&p);
        }
    }

    #[test]
    fn stmt_id_is_rewritten() {
        assert_eq!(
            with_stmt_id(&[0x17, 1, 0, 0, 0, 9], 0x0102),
            vec![0x17, 2, 1, 0, 0, 9]
        );
    }
}
