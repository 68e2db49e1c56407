use super::*;
use crate::executor::merge::column::{NOT_FIXED_DEC, flags, test_column, types};
use crate::executor::merge::{ColumnDef, MergeError};

const ZEROFILL: u16 = 0x0040;
const UNSIGNED: u16 = flags::UNSIGNED;

pub(crate) fn col(column_type: u8, flags: u16, decimals: u8) -> ColumnDef {
    test_column("c", 63, column_type, flags, decimals)
}

pub(crate) fn lenenc(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    crate::protocol::packets::put_lenenc_bytes(&mut v, s);
    v
}

pub(crate) fn date(len: u8, y: u16, parts: &[u8], micro: u32) -> Vec<u8> {
    let mut all = y.to_le_bytes().to_vec();
    all.extend_from_slice(parts);
    all.extend_from_slice(&micro.to_le_bytes());
    let mut v = vec![len];
    v.extend_from_slice(&all[..usize::from(len)]);
    v
}

pub(crate) fn time(len: u8, negative: bool, days: u32, hms: [u8; 3], micro: u32) -> Vec<u8> {
    let mut all = vec![u8::from(negative)];
    all.extend_from_slice(&days.to_le_bytes());
    all.extend_from_slice(&hms);
    all.extend_from_slice(&micro.to_le_bytes());
    let mut v = vec![len];
    v.extend_from_slice(&all[..usize::from(len)]);
    v
}

/// Every case: the column, the value as the server encodes it, the text-protocol form.
pub(crate) fn cases() -> Vec<(ColumnDef, Vec<u8>, &'static str)> {
    let mut zerofill = col(types::LONG, UNSIGNED | ZEROFILL, 0);
    zerofill.length = 5;
    let long_text: &'static str = Box::leak("x".repeat(300).into_boxed_str());
    let t = types::TIME;
    let dt = types::DATETIME;
    vec![
        (col(types::TINY, 0, 0), vec![0xFF], "-1"),
        (col(types::TINY, 0, 0), vec![0x80], "-128"),
        (col(types::TINY, 0, 0), vec![0x7F], "127"),
        (col(types::TINY, UNSIGNED, 0), vec![0xFF], "255"),
        (
            col(types::SHORT, 0, 0),
            (-2i16).to_le_bytes().to_vec(),
            "-2",
        ),
        (col(types::SHORT, UNSIGNED, 0), vec![0xFF, 0xFF], "65535"),
        (
            col(types::YEAR, UNSIGNED | ZEROFILL, 0),
            2024u16.to_le_bytes().to_vec(),
            "2024",
        ),
        (col(types::YEAR, UNSIGNED | ZEROFILL, 0), vec![0, 0], "0000"),
        (
            col(types::LONG, 0, 0),
            i32::MIN.to_le_bytes().to_vec(),
            "-2147483648",
        ),
        (
            col(types::LONG, UNSIGNED, 0),
            u32::MAX.to_le_bytes().to_vec(),
            "4294967295",
        ),
        (zerofill, 42u32.to_le_bytes().to_vec(), "00042"),
        (
            col(types::INT24, 0, 0),
            (-8388608i32).to_le_bytes().to_vec(),
            "-8388608",
        ),
        (
            col(types::INT24, UNSIGNED, 0),
            16777215u32.to_le_bytes().to_vec(),
            "16777215",
        ),
        (
            col(types::LONGLONG, 0, 0),
            i64::MIN.to_le_bytes().to_vec(),
            "-9223372036854775808",
        ),
        (col(types::LONGLONG, 0, 0), 0i64.to_le_bytes().to_vec(), "0"),
        (
            col(types::LONGLONG, UNSIGNED, 0),
            u64::MAX.to_le_bytes().to_vec(),
            "18446744073709551615",
        ),
        (
            col(types::FLOAT, 0, NOT_FIXED_DEC),
            1.1f32.to_le_bytes().to_vec(),
            "1.1",
        ),
        (
            col(types::FLOAT, 0, NOT_FIXED_DEC),
            (-2.5e-20f32).to_le_bytes().to_vec(),
            "-2.5e-20",
        ),
        (
            col(types::FLOAT, 0, NOT_FIXED_DEC),
            f32::MAX.to_le_bytes().to_vec(),
            "3.4028235e38",
        ),
        (
            col(types::FLOAT, 0, 2),
            12.34f32.to_le_bytes().to_vec(),
            "12.34",
        ),
        (
            col(types::DOUBLE, 0, NOT_FIXED_DEC),
            (0.1f64 + 0.2).to_le_bytes().to_vec(),
            "0.30000000000000004",
        ),
        (
            col(types::DOUBLE, 0, NOT_FIXED_DEC),
            1e20f64.to_le_bytes().to_vec(),
            "1e20",
        ),
        (
            col(types::DOUBLE, 0, NOT_FIXED_DEC),
            (-1.5e-300f64).to_le_bytes().to_vec(),
            "-1.5e-300",
        ),
        (
            col(types::DOUBLE, 0, NOT_FIXED_DEC),
            5e-324f64.to_le_bytes().to_vec(),
            "5e-324",
        ),
        (
            col(types::DOUBLE, 0, 3),
            1.5f64.to_le_bytes().to_vec(),
            "1.500",
        ),
        (
            col(types::DATE, 0, 0),
            date(4, 2024, &[2, 29], 0),
            "2024-02-29",
        ),
        (col(types::DATE, 0, 0), date(4, 5, &[1, 1], 0), "0005-01-01"),
        (col(types::DATE, 0, 0), date(0, 0, &[], 0), "0000-00-00"),
        (
            col(types::NEWDATE, 0, 0),
            date(4, 1999, &[12, 31], 0),
            "1999-12-31",
        ),
        (
            col(dt, 0, 0),
            date(7, 2024, &[2, 29, 13, 4, 5], 0),
            "2024-02-29 13:04:05",
        ),
        (
            col(dt, 0, 0),
            date(4, 2024, &[2, 29], 0),
            "2024-02-29 00:00:00",
        ),
        (col(dt, 0, 0), date(0, 0, &[], 0), "0000-00-00 00:00:00"),
        (
            col(dt, 0, 6),
            date(0, 0, &[], 0),
            "0000-00-00 00:00:00.000000",
        ),
        (
            col(dt, 0, 6),
            date(11, 2024, &[1, 2, 3, 4, 5], 123456),
            "2024-01-02 03:04:05.123456",
        ),
        (
            col(dt, 0, 6),
            date(11, 2024, &[1, 2, 0, 0, 0], 1),
            "2024-01-02 00:00:00.000001",
        ),
        (
            col(dt, 0, 3),
            date(11, 2024, &[1, 2, 3, 4, 5], 120000),
            "2024-01-02 03:04:05.120",
        ),
        (
            col(dt, 0, 3),
            date(7, 2024, &[1, 2, 3, 4, 5], 0),
            "2024-01-02 03:04:05.000",
        ),
        (
            col(types::TIMESTAMP, 0, 2),
            date(11, 2038, &[1, 19, 3, 14, 7], 500000),
            "2038-01-19 03:14:07.50",
        ),
        (
            col(types::TIMESTAMP, 0, 0),
            date(0, 0, &[], 0),
            "0000-00-00 00:00:00",
        ),
        (col(t, 0, 0), time(0, false, 0, [0, 0, 0], 0), "00:00:00"),
        (
            col(t, 0, 6),
            time(0, false, 0, [0, 0, 0], 0),
            "00:00:00.000000",
        ),
        (col(t, 0, 0), time(8, false, 0, [10, 0, 0], 0), "10:00:00"),
        (col(t, 0, 0), time(8, true, 1, [2, 3, 4], 0), "-26:03:04"),
        (
            col(t, 0, 0),
            time(8, false, 34, [22, 59, 59], 0),
            "838:59:59",
        ),
        (
            col(t, 0, 6),
            time(12, true, 34, [22, 59, 59], 999999),
            "-838:59:59.999999",
        ),
        (
            col(t, 0, 6),
            time(12, true, 0, [0, 0, 0], 500000),
            "-00:00:00.500000",
        ),
        (
            col(t, 0, 1),
            time(12, false, 0, [12, 0, 0], 100000),
            "12:00:00.1",
        ),
        (
            col(types::NEWDECIMAL, 0, 4),
            lenenc(b"-123.4500"),
            "-123.4500",
        ),
        (col(types::DECIMAL, 0, 0), lenenc(b"7"), "7"),
        (
            test_column("c", 45, types::VAR_STRING, 0, 0),
            lenenc("héllo".as_bytes()),
            "héllo",
        ),
        (
            test_column("c", 45, types::VAR_STRING, 0, 0),
            lenenc(b""),
            "",
        ),
        (
            test_column("c", 45, types::STRING, 0, 0),
            lenenc(long_text.as_bytes()),
            long_text,
        ),
        (
            test_column("c", 45, types::VARCHAR, 0, 0),
            lenenc(b"v"),
            "v",
        ),
        (
            test_column("c", 45, types::STRING, flags::ENUM, 0),
            lenenc(b"red"),
            "red",
        ),
        (
            test_column("c", 45, types::STRING, flags::SET, 0),
            lenenc(b"a,b"),
            "a,b",
        ),
        (
            test_column("c", 45, types::JSON, 0, 0),
            lenenc(br#"{"a": 1}"#),
            r#"{"a": 1}"#,
        ),
        (
            col(types::BIT, UNSIGNED, 0),
            lenenc(b"\x01\x02"),
            "\u{1}\u{2}",
        ),
    ]
}

#[test]
fn every_type_reads_as_its_text_and_writes_back() {
    for (column, value, text) in cases() {
        let label = format!("type {:#x} text {text}", column.column_type);
        let mut rest = value.clone();
        rest.extend_from_slice(b"next");
        let size = Layout::of(column.column_type).size(&rest).expect("size");
        assert_eq!(size, value.len(), "{label}");
        assert_eq!(
            to_text(&value, &column).expect("text"),
            text.as_bytes(),
            "{label}"
        );
        let mut out = Vec::new();
        from_text(text.as_bytes(), &column, &mut out).expect("encode");
        assert_eq!(out, value, "{label}");
    }
}

#[test]
fn binary_strings_blobs_and_geometry_are_kept_as_bytes() {
    let raw = vec![0x00, 0xFF, 0xFB, 0xFE, 0x80];
    for t in [
        types::BLOB,
        types::TINY_BLOB,
        types::GEOMETRY,
        types::VAR_STRING,
    ] {
        let column = col(t, 0x80, 0);
        let value = lenenc(&raw);
        assert_eq!(to_text(&value, &column).expect("text"), raw);
        let mut out = Vec::new();
        from_text(&raw, &column, &mut out).expect("encode");
        assert_eq!(out, value);
    }
}

#[test]
fn negative_zero_doubles_read_as_the_servers_text() {
    let column = col(types::DOUBLE, 0, NOT_FIXED_DEC);
    let text = to_text(&(-0.0f64).to_le_bytes(), &column).expect("text");
    assert_eq!(text, b"0");
    let mut out = Vec::new();
    from_text(&text, &column, &mut out).expect("encode");
    assert_eq!(out, 0.0f64.to_le_bytes());
}

#[test]
fn truncated_values_are_errors() {
    for (column, value, text) in cases() {
        let layout = Layout::of(column.column_type);
        assert!(layout.size(&value[..value.len() - 1]).is_err(), "{text}");
    }
    assert!(to_text(&[2, 0xE8, 0x07], &col(types::DATE, 0, 0)).is_err());
    assert!(to_text(&[5, 0, 0, 0, 0, 0], &col(types::TIME, 0, 0)).is_err());
}

#[test]
fn text_that_does_not_fit_the_column_is_refused() {
    let refused = [
        (col(types::TINY, UNSIGNED, 0), "256"),
        (col(types::TINY, UNSIGNED, 0), "-1"),
        (col(types::TINY, 0, 0), "128"),
        (col(types::LONG, 0, 0), "abc"),
        (col(types::LONGLONG, 0, 0), "1.5"),
        (col(types::DOUBLE, 0, NOT_FIXED_DEC), "x"),
        (col(types::DATE, 0, 0), "2024-01"),
        (col(types::DATETIME, 0, 0), "2024-01-01 25:00"),
        (col(types::TIME, 0, 0), "1:2:3.1234567"),
    ];
    for (column, text) in refused {
        let mut out = Vec::new();
        let got = from_text(text.as_bytes(), &column, &mut out);
        assert!(matches!(got, Err(MergeError::BadValue { .. })), "{text}");
    }
}
