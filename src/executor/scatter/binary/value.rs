//! One binary-protocol value converted to the text the server sends for it in the text
//! protocol, and back. Integers by width and the UNSIGNED flag, FLOAT/DOUBLE as MariaDB prints
//! them, temporal values as a length byte and their parts, everything else (DECIMAL, strings,
//! BIT, JSON, GEOMETRY, ...) as length-encoded bytes that are the same in both protocols.

use crate::executor::merge::MergeError;
use crate::executor::merge::column::{ColumnDef, NOT_FIXED_DEC, flags, types};
use crate::executor::merge::format::format_double;
use crate::protocol::packets::{Reader, put_lenenc_bytes};

/// The ZEROFILL column flag: the text protocol pads integers with zeros to the display width.
const ZEROFILL: u16 = 0x0040;

/// How a column's values are laid out in a binary row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A little-endian integer of this many bytes.
    Int(usize),
    Float,
    Double,
    /// DATE, DATETIME, TIMESTAMP: length byte, then y(2) m d [h m s [micro(4)]].
    DateTime,
    /// TIME: length byte, then neg days(4) h m s [micro(4)].
    Time,
    /// Length-encoded bytes.
    Bytes,
}

impl Layout {
    pub fn of(column_type: u8) -> Self {
        use types::*;
        match column_type {
            TINY => Layout::Int(1),
            SHORT | YEAR => Layout::Int(2),
            LONG | INT24 => Layout::Int(4),
            LONGLONG => Layout::Int(8),
            FLOAT => Layout::Float,
            DOUBLE => Layout::Double,
            DATE | NEWDATE | DATETIME | TIMESTAMP | DATETIME2 | TIMESTAMP2 => Layout::DateTime,
            TIME | TIME2 => Layout::Time,
            _ => Layout::Bytes,
        }
    }

    /// The size of the value at the start of `rest` (length prefix included).
    pub fn size(self, rest: &[u8]) -> Result<usize, MergeError> {
        let size = match self {
            Layout::Int(n) => n,
            Layout::Float => 4,
            Layout::Double => 8,
            Layout::DateTime | Layout::Time => match rest.first() {
                Some(&len) => 1 + usize::from(len),
                None => 1,
            },
            Layout::Bytes => {
                let mut r = Reader::new(rest);
                r.lenenc_bytes().map_err(|_| short())?;
                rest.len() - r.remaining().len()
            }
        };
        if size > rest.len() {
            return Err(short());
        }
        Ok(size)
    }
}

fn short() -> MergeError {
    MergeError::Malformed("binary row shorter than its columns")
}

fn bad(col: &ColumnDef, value: &[u8], expected: &'static str) -> MergeError {
    MergeError::BadValue {
        column: col.name.clone(),
        value: String::from_utf8_lossy(value).into_owned(),
        expected,
    }
}

/// The text form of one encoded value (`v` is exactly the value, length prefix included).
pub fn to_text(v: &[u8], col: &ColumnDef) -> Result<Vec<u8>, MergeError> {
    let text = match Layout::of(col.column_type) {
        Layout::Int(_) => int_text(v, col),
        Layout::Float => {
            let f = f32::from_le_bytes(array(v)?);
            // The float's own shortest digits, widened without picking up binary noise.
            let wide = if col.decimals < NOT_FIXED_DEC {
                f64::from(f)
            } else {
                format!("{f:e}").parse().unwrap_or(f64::from(f))
            };
            format_double(wide, col.decimals)
        }
        Layout::Double => format_double(f64::from_le_bytes(array(v)?), col.decimals),
        Layout::DateTime => datetime_text(v, col)?,
        Layout::Time => time_text(v, col)?,
        Layout::Bytes => {
            let mut r = Reader::new(v);
            return Ok(r.lenenc_bytes().map_err(|_| short())?.to_vec());
        }
    };
    Ok(text.into_bytes())
}

/// Appends the binary encoding of a value given in text form.
pub fn from_text(text: &[u8], col: &ColumnDef, out: &mut Vec<u8>) -> Result<(), MergeError> {
    let layout = Layout::of(col.column_type);
    if layout == Layout::Bytes {
        put_lenenc_bytes(out, text);
        return Ok(());
    }
    let s = std::str::from_utf8(text).map_err(|_| bad(col, text, "ASCII value"))?;
    match layout {
        Layout::Int(n) => put_int(s, n, col, out),
        Layout::Float => {
            let f: f32 = s.parse().map_err(|_| bad(col, text, "float"))?;
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        Layout::Double => {
            let f: f64 = s.parse().map_err(|_| bad(col, text, "double"))?;
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        Layout::DateTime => put_datetime(s, out).ok_or_else(|| bad(col, text, "datetime")),
        Layout::Time => put_time(s, out).ok_or_else(|| bad(col, text, "time")),
        Layout::Bytes => Ok(()),
    }
}

fn array<const N: usize>(v: &[u8]) -> Result<[u8; N], MergeError> {
    v.try_into().map_err(|_| short())
}

fn unsigned(col: &ColumnDef) -> bool {
    col.flags & flags::UNSIGNED != 0
}

fn int_text(v: &[u8], col: &ColumnDef) -> String {
    let mut buf = [0u8; 8];
    buf[..v.len()].copy_from_slice(v);
    let raw = u64::from_le_bytes(buf);
    let n = if unsigned(col) {
        i128::from(raw)
    } else {
        let shift = 64 - 8 * v.len() as u32;
        i128::from(((raw << shift) as i64) >> shift)
    };
    let width = if col.column_type == types::YEAR {
        4
    } else if col.flags & ZEROFILL != 0 {
        col.length as usize
    } else {
        0
    };
    format!("{n:0width$}")
}

fn put_int(s: &str, bytes: usize, col: &ColumnDef, out: &mut Vec<u8>) -> Result<(), MergeError> {
    let n: i128 = s.parse().map_err(|_| bad(col, s.as_bytes(), "integer"))?;
    let bits = 8 * bytes as u32;
    let (min, max) = if unsigned(col) {
        (0, (1i128 << bits) - 1)
    } else {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    };
    if n < min || n > max {
        return Err(bad(col, s.as_bytes(), "integer in the column's range"));
    }
    out.extend_from_slice(&(n as u64).to_le_bytes()[..bytes]);
    Ok(())
}

/// `.ffffff` cut to the column's fraction digits (all six, or none when zero, for a column
/// without a fixed number; all six when the value has more digits than the column).
fn push_fraction(out: &mut String, micro: u32, decimals: u8) {
    let digits = if decimals > 6 {
        if micro == 0 { 0 } else { 6 }
    } else if micro % 10u32.pow(6 - u32::from(decimals)) != 0 {
        6
    } else {
        u32::from(decimals)
    };
    if digits > 0 {
        let all = format!("{micro:06}");
        out.push('.');
        out.push_str(&all[..digits as usize]);
    }
}

fn datetime_text(v: &[u8], col: &ColumnDef) -> Result<String, MergeError> {
    let p = &v[1..];
    if !matches!(p.len(), 0 | 4 | 7 | 11) {
        return Err(MergeError::Malformed("binary date with a bad length"));
    }
    let part = |i: usize| p.get(i).copied().unwrap_or(0);
    let year = p.get(..2).map_or(0, |y| u16::from_le_bytes([y[0], y[1]]));
    let micro = p
        .get(7..11)
        .map_or(0, |m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    let mut out = format!("{year:04}-{:02}-{:02}", part(2), part(3));
    if matches!(col.column_type, types::DATE | types::NEWDATE) {
        return Ok(out);
    }
    out.push_str(&format!(" {:02}:{:02}:{:02}", part(4), part(5), part(6)));
    push_fraction(&mut out, micro, col.decimals);
    Ok(out)
}

fn time_text(v: &[u8], col: &ColumnDef) -> Result<String, MergeError> {
    let p = &v[1..];
    if !matches!(p.len(), 0 | 8 | 12) {
        return Err(MergeError::Malformed("binary time with a bad length"));
    }
    let part = |i: usize| p.get(i).copied().unwrap_or(0);
    let days = p
        .get(1..5)
        .map_or(0, |d| u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
    let micro = p
        .get(8..12)
        .map_or(0, |m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    let hours = u64::from(days) * 24 + u64::from(part(5));
    let sign = if part(0) != 0 { "-" } else { "" };
    let mut out = format!("{sign}{hours:02}:{:02}:{:02}", part(6), part(7));
    push_fraction(&mut out, micro, col.decimals);
    Ok(out)
}

/// Digits only, as a number.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM:SS[.ffffff]` (hours unbounded) as (hours, minutes, seconds, microseconds).
fn clock(s: &str) -> Option<(u64, u8, u8, u32)> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = whole.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || frac.len() > 6 {
        return None;
    }
    let micro = if frac.is_empty() {
        0
    } else {
        number(frac)? * 10u64.pow(6 - frac.len() as u32)
    };
    let m = u8::try_from(number(m)?).ok()?;
    let sec = u8::try_from(number(sec)?).ok()?;
    Some((number(h)?, m, sec, micro as u32))
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` in the server's shortest binary form.
fn put_datetime(s: &str, out: &mut Vec<u8>) -> Option<()> {
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let year = u16::try_from(number(y)?).ok()?;
    let month = u8::try_from(number(m)?).ok()?;
    let day = u8::try_from(number(d)?).ok()?;
    let (hour, minute, second, micro) = match time {
        Some(t) => clock(t)?,
        None => (0, 0, 0, 0),
    };
    let hour = u8::try_from(hour).ok()?;
    let len: u8 = if micro != 0 {
        11
    } else if hour != 0 || minute != 0 || second != 0 {
        7
    } else if year != 0 || month != 0 || day != 0 {
        4
    } else {
        0
    };
    out.push(len);
    let mut p = Vec::with_capacity(11);
    p.extend_from_slice(&year.to_le_bytes());
    p.extend_from_slice(&[month, day, hour, minute, second]);
    p.extend_from_slice(&micro.to_le_bytes());
    out.extend_from_slice(&p[..usize::from(len)]);
    Some(())
}

/// `[-]HHH:MM:SS[.ffffff]` in the server's shortest binary form (hours split into days).
fn put_time(s: &str, out: &mut Vec<u8>) -> Option<()> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (hours, minute, second, micro) = clock(rest)?;
    let days = u32::try_from(hours / 24).ok()?;
    let hour = (hours % 24) as u8;
    let len: u8 = if micro != 0 {
        12
    } else if days != 0 || hour != 0 || minute != 0 || second != 0 {
        8
    } else {
        0
    };
    out.push(len);
    let mut p = Vec::with_capacity(12);
    p.push(u8::from(negative));
    p.extend_from_slice(&days.to_le_bytes());
    p.extend_from_slice(&[hour, minute, second]);
    p.extend_from_slice(&micro.to_le_bytes());
    out.extend_from_slice(&p[..usize::from(len)]);
    Some(())
}

#[cfg(test)]
pub(super) mod tests;
