//! Tests of the sharding-key functions: every algorithm, literal forms, interval narrowing.

use std::ops::Bound::{Excluded, Included, Unbounded};

use super::*;
use crate::config::Slot;

fn rule(key_type: KeyType, algorithm: Algorithm, slots: usize) -> TableRule {
    TableRule {
        name: "t".to_string(),
        key: "k".to_string(),
        key_type,
        algorithm,
        slots: (0..slots)
            .map(|i| Slot {
                shard: i % 2,
                physical: format!("t_{i:04}"),
            })
            .collect(),
        binding_group: None,
    }
}

fn range(from: Option<i128>, to: Option<i128>, slot: usize) -> KeyRange {
    KeyRange { from, to, slot }
}

fn int(r: &TableRule, n: i128) -> usize {
    slot_of(r, &KeyValue::Int(n)).unwrap_or_else(|e| panic!("{e}"))
}

fn string(r: &TableRule, s: &str) -> Result<usize, KeyError> {
    slot_of(r, &KeyValue::Str(s))
}

#[test]
fn number_literals() {
    for (text, n) in [
        ("42", 42),
        ("-7", -7),
        ("+3", 3),
        ("42.0", 42),
        ("42.", 42),
        ("-0", 0),
    ] {
        assert_eq!(KeyValue::from_number(text), Ok(KeyValue::Int(n)), "{text}");
    }
    for bad in ["4.5", "1e3", "0x1F", "", "-", ".5", " 42", "4 2"] {
        let err = KeyValue::from_number(bad).expect_err(bad);
        assert!(matches!(err, KeyError::BadNumber { .. }), "{bad}: {err:?}");
    }
    let r = rule(KeyType::Integer, Algorithm::Mod, 4);
    let named = KeyValue::from_number("4.5")
        .map_err(|e| e.for_table(&r))
        .expect_err("not integral")
        .to_string();
    assert!(named.contains("table t") && named.contains("key k") && named.contains("4.5"));
}

#[test]
fn mod_slots_with_negative_keys() {
    let r = rule(KeyType::Integer, Algorithm::Mod, 8);
    assert_eq!(int(&r, 0), 0);
    assert_eq!(int(&r, 13), 5);
    assert_eq!(int(&r, -1), 7);
    assert_eq!(int(&r, -8), 0);
}

#[test]
fn string_and_decimal_forms_route_like_the_integer() {
    for algorithm in [
        Algorithm::Mod,
        Algorithm::Hash {
            case_insensitive: true,
        },
    ] {
        let r = rule(KeyType::Integer, algorithm, 7);
        let expected = int(&r, 42);
        for text in ["42", " 42", "42 ", "\t42", "042", "+42", "42.0"] {
            assert_eq!(string(&r, text), Ok(expected), "{text:?}");
        }
        let from_decimal = KeyValue::from_number("42.0").expect("integral");
        assert_eq!(slot_of(&r, &from_decimal), Ok(expected));
        assert_eq!(string(&r, "-7"), Ok(int(&r, -7)));
        for bad in ["abc", "4x", "4.5", "1e3", "", "- 7"] {
            let err = string(&r, bad).expect_err(bad);
            assert!(matches!(err, KeyError::NotInteger { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains("table t"), "{err}");
        }
        let err = string(&r, "9007199254740993").expect_err("beyond 2^53");
        assert!(matches!(err, KeyError::ImpreciseString { .. }), "{err:?}");
        assert!(string(&r, "9007199254740992").is_ok());
    }
}

#[test]
fn hash_matches_mysql_crc32() {
    // SELECT CRC32('42'), CRC32('abc'), CRC32(-7) on MariaDB 10.11.
    let big = rule(
        KeyType::Integer,
        Algorithm::Hash {
            case_insensitive: true,
        },
        10_000,
    );
    assert_eq!(int(&big, 42), 841_265_288 % 10_000);
    assert_eq!(int(&big, -7), (3_645_828_383_u64 % 10_000) as usize);
    let s = rule(
        KeyType::String,
        Algorithm::Hash {
            case_insensitive: true,
        },
        10_000,
    );
    assert_eq!(string(&s, "abc"), Ok(891_568_578 % 10_000));
    assert_eq!(string(&s, "42"), Ok(841_265_288 % 10_000));
}

#[test]
fn hash_of_strings_case_and_padding() {
    let ci = rule(
        KeyType::String,
        Algorithm::Hash {
            case_insensitive: true,
        },
        16,
    );
    let abc = string(&ci, "abc");
    assert_eq!(string(&ci, "ABC"), abc);
    assert_eq!(string(&ci, "abc  "), abc);
    let err = string(&ci, "café").expect_err("accent folding");
    assert!(matches!(err, KeyError::NotAscii { .. }), "{err:?}");
    assert!(err.to_string().contains("key_case: sensitive"), "{err}");

    let cs = rule(
        KeyType::String,
        Algorithm::Hash {
            case_insensitive: false,
        },
        10_000,
    );
    assert_eq!(string(&cs, "abc "), Ok(891_568_578 % 10_000));
    assert!(string(&cs, "café").is_ok());
    // 'ABC' hashes its own bytes: CRC32('ABC') = 2743272264.
    assert_eq!(string(&cs, "ABC"), Ok(2_743_272_264_u64 as usize % 10_000));

    let err = slot_of(&ci, &KeyValue::Int(42)).expect_err("number for string key");
    assert!(
        matches!(err, KeyError::NumberForStringKey { .. }),
        "{err:?}"
    );
}

#[test]
fn range_slots_and_out_of_range() {
    let ranges = vec![
        range(None, Some(0), 0),
        range(Some(0), Some(100), 1),
        range(Some(100), Some(200), 2),
    ];
    let r = rule(KeyType::Integer, Algorithm::Range(ranges), 3);
    assert_eq!(int(&r, -5), 0);
    assert_eq!(int(&r, 0), 1);
    assert_eq!(int(&r, 99), 1);
    assert_eq!(int(&r, 100), 2);
    let err = slot_of(&r, &KeyValue::Int(200)).expect_err("outside");
    assert!(matches!(err, KeyError::OutOfRange { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("table t") && text.contains("key k") && text.contains("200"));
}

#[test]
fn suffix_uses_absolute_value_digits() {
    let ranges = vec![range(Some(0), Some(50), 0), range(Some(50), Some(100), 1)];
    let r = rule(KeyType::Integer, Algorithm::Suffix { digits: 2, ranges }, 2);
    assert_eq!(int(&r, 1249), 0);
    assert_eq!(int(&r, 1250), 1);
    assert_eq!(int(&r, -1299), 1);
    assert_eq!(int(&r, 7), 0);
    assert_eq!(string(&r, "1299"), Ok(1));
}

#[test]
fn slots_between_ranges_is_exact() {
    let ranges = vec![
        range(None, Some(0), 0),
        range(Some(0), Some(100), 1),
        range(Some(100), None, 2),
    ];
    let r = rule(KeyType::Integer, Algorithm::Range(ranges), 3);
    assert_eq!(slots_between(&r, Included(0), Included(99)), Some(vec![1]));
    assert_eq!(
        slots_between(&r, Included(50), Excluded(100)),
        Some(vec![1])
    );
    assert_eq!(
        slots_between(&r, Included(50), Included(100)),
        Some(vec![1, 2])
    );
    assert_eq!(slots_between(&r, Excluded(-1), Unbounded), Some(vec![1, 2]));
    assert_eq!(slots_between(&r, Unbounded, Excluded(0)), Some(vec![0]));
    assert_eq!(slots_between(&r, Unbounded, Unbounded), Some(vec![0, 1, 2]));
    assert_eq!(slots_between(&r, Included(5), Included(4)), Some(vec![]));
    assert_eq!(slots_between(&r, Excluded(5), Excluded(6)), Some(vec![]));
}

#[test]
fn slots_between_enumerates_small_intervals() {
    let r = rule(KeyType::Integer, Algorithm::Mod, 8);
    assert_eq!(
        slots_between(&r, Included(6), Included(9)),
        Some(vec![0, 1, 6, 7])
    );
    assert_eq!(
        slots_between(&r, Included(0), Excluded(1024)),
        Some((0..8).collect())
    );
    assert_eq!(slots_between(&r, Included(0), Included(1024)), None);
    assert_eq!(slots_between(&r, Included(0), Unbounded), None);
    let h = rule(
        KeyType::Integer,
        Algorithm::Hash {
            case_insensitive: true,
        },
        8,
    );
    let expected = {
        let mut v: Vec<usize> = (10..=12).map(|k| int(&h, k)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    assert_eq!(
        slots_between(&h, Included(10), Included(12)),
        Some(expected)
    );
    let ranges = vec![range(Some(0), Some(50), 0), range(Some(50), Some(100), 1)];
    let s = rule(KeyType::Integer, Algorithm::Suffix { digits: 2, ranges }, 2);
    assert_eq!(
        slots_between(&s, Included(1210), Included(1220)),
        Some(vec![0])
    );
    let strings = rule(
        KeyType::String,
        Algorithm::Hash {
            case_insensitive: true,
        },
        8,
    );
    assert_eq!(slots_between(&strings, Included(1), Included(2)), None);
}

#[test]
fn long_values_are_shortened_in_messages() {
    let r = rule(KeyType::Integer, Algorithm::Mod, 2);
    let long = "x".repeat(1000);
    let text = string(&r, &long).expect_err("not integer").to_string();
    assert!(text.len() < 400, "{text}");
}
