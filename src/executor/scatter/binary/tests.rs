use super::value::tests::{cases, col, date, lenenc};
use super::*;
use crate::executor::merge::Materialiser;
use crate::executor::merge::column::{NOT_FIXED_DEC, test_column, types};
use crate::router::shard::plan::{AggKind, Aggregate, MergeSpec};

/// A binary row payload from encoded values (`None` is NULL), built independently of the
/// code under test.
fn payload(values: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut bitmap = vec![0u8; (values.len() + 9) / 8];
    let mut body = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(bytes) => body.extend_from_slice(bytes),
            None => bitmap[(i + 2) / 8] |= 1 << ((i + 2) % 8),
        }
    }
    let mut p = vec![0x00];
    p.extend_from_slice(&bitmap);
    p.extend_from_slice(&body);
    p
}

#[test]
fn every_type_roundtrips_as_a_row() {
    for (column, value, text) in cases() {
        let columns = [column];
        let p = payload(&[Some(value)]);
        let row = decode(&p, &columns).expect("decode");
        assert_eq!(row.cells, [Some(text.as_bytes().to_vec())], "{text}");
        assert_eq!(encode(&row, &columns, 1).expect("encode"), p, "{text}");
        assert_eq!(cut(&p, &columns, 1).expect("cut"), p, "{text}");
    }
}

#[test]
fn whole_rows_with_nulls_roundtrip() {
    let all = cases();
    let columns: Vec<ColumnDef> = all.iter().map(|c| c.0.clone()).collect();
    // Every third value NULL, so NULL bits land in every bitmap byte.
    for phase in 0..3 {
        let values: Vec<Option<Vec<u8>>> = all
            .iter()
            .enumerate()
            .map(|(i, c)| (i % 3 != phase).then(|| c.1.clone()))
            .collect();
        let p = payload(&values);
        let row = decode(&p, &columns).expect("decode");
        for (i, cell) in row.cells.iter().enumerate() {
            let want = (i % 3 != phase).then(|| all[i].2.as_bytes().to_vec());
            assert_eq!(cell, &want, "column {i}");
        }
        assert_eq!(encode(&row, &columns, columns.len()).expect("encode"), p);
    }
    let nulls = vec![None; 20];
    let p = payload(&nulls);
    let row = decode(&p, &columns[..20]).expect("decode");
    assert_eq!(row.cells, nulls);
    assert_eq!(encode(&row, &columns[..20], 20).expect("encode"), p);
}

#[test]
fn cut_keeps_the_visible_values_and_their_null_bits() {
    let columns = [
        col(types::LONG, 0, 0),
        test_column("c", 45, types::VAR_STRING, 0, 0),
        col(types::DOUBLE, 0, 2),
        col(types::LONGLONG, 0, 0),
    ];
    let a = 7i32.to_le_bytes().to_vec();
    // A double whose fixed-decimals text would lose digits: cut copies it as is.
    let d = (0.1f64 * 3.0).to_le_bytes().to_vec();
    let n = 9i64.to_le_bytes().to_vec();
    let p = payload(&[Some(a.clone()), None, Some(d.clone()), Some(n)]);
    assert_eq!(
        cut(&p, &columns, 3).expect("cut"),
        payload(&[Some(a), None, Some(d)])
    );
    let row = decode(&p, &columns).expect("decode");
    assert_eq!(row.cell(2), Some(&b"0.30"[..]));
    assert_eq!(
        encode(&row, &columns, 2).expect("encode"),
        cut(&p, &columns, 2).expect("cut")
    );
}

#[test]
fn malformed_rows_are_errors() {
    let columns = [col(types::LONG, 0, 0), col(types::DATETIME, 0, 0)];
    let good = payload(&[Some(vec![1, 0, 0, 0]), Some(date(4, 2024, &[1, 1], 0))]);
    assert!(decode(&good, &columns).is_ok());
    for cut_at in 0..good.len() {
        assert!(
            decode(&good[..cut_at], &columns).is_err(),
            "cut at {cut_at}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(decode(&longer, &columns).is_err());
    let mut header = good.clone();
    header[0] = 0x01;
    assert!(decode(&header, &columns).is_err());
    let bad_len = payload(&[Some(vec![1, 0, 0, 0]), Some(vec![2, 0xE8, 0x07])]);
    assert!(decode(&bad_len, &columns).is_err());
    let bad_time = payload(&[Some(vec![1, 0, 0, 0]), Some(vec![5, 0, 0, 0, 0, 0])]);
    let time_cols = [col(types::LONG, 0, 0), col(types::TIME, 0, 0)];
    assert!(decode(&bad_time, &time_cols).is_err());
}

/// `SELECT day, COUNT(*), SUM(amount), AVG(price), MIN(at) ... GROUP BY day` over binary rows
/// of two shards, with the AVG's hidden SUM and COUNT: the merged row comes out binary, each
/// aggregate encoded by its column's type.
#[test]
fn materialised_aggregates_encode_by_their_column_type() {
    let columns = [
        col(types::DATE, 0, 0),
        col(types::LONGLONG, 0, 0),
        col(types::NEWDECIMAL, 0, 2),
        col(types::DOUBLE, 0, NOT_FIXED_DEC),
        col(types::DATETIME, 0, 0),
        col(types::DOUBLE, 0, NOT_FIXED_DEC),
        col(types::LONGLONG, 0, 0),
    ];
    let spec = MergeSpec {
        visible: 5,
        group_by: vec![0],
        aggregates: vec![
            Aggregate {
                column: 1,
                kind: AggKind::Count,
            },
            Aggregate {
                column: 2,
                kind: AggKind::Sum,
            },
            Aggregate {
                column: 3,
                kind: AggKind::Avg { sum: 5, count: 6 },
            },
            Aggregate {
                column: 4,
                kind: AggKind::Min,
            },
        ],
        ..MergeSpec::default()
    };
    let day = date(4, 2024, &[3, 1], 0);
    let shard_row = |count: i64, sum: &[u8], sum_price: f64, at: Vec<u8>| {
        payload(&[
            Some(day.clone()),
            Some(count.to_le_bytes().to_vec()),
            Some(lenenc(sum)),
            Some((sum_price / count as f64).to_le_bytes().to_vec()),
            Some(at),
            Some(sum_price.to_le_bytes().to_vec()),
            Some(count.to_le_bytes().to_vec()),
        ])
    };
    let later = date(7, 2024, &[3, 1, 12, 0, 0], 0);
    let earlier = date(7, 2024, &[3, 1, 8, 30, 0], 0);
    let mut m = Materialiser::new(&spec, &columns).expect("materialiser");
    for p in [
        shard_row(2, b"10.50", 3.0, later),
        shard_row(1, b"-0.25", 1.5, earlier.clone()),
    ] {
        m.push(decode(&p, &columns).expect("decode")).expect("push");
    }
    let rows = m.finish().expect("finish");
    assert_eq!(rows.len(), 1);
    let out = encode(&rows[0], &columns, spec.visible).expect("encode");
    let want = payload(&[
        Some(day),
        Some(3i64.to_le_bytes().to_vec()),
        Some(lenenc(b"10.25")),
        Some(1.5f64.to_le_bytes().to_vec()),
        Some(earlier),
    ]);
    assert_eq!(out, want);
}
