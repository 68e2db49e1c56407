//! Tests of the read/write classifier: the golden cases of `rw_golden.txt`, rules, and a
//! never-panics loop over random bytes.

use super::*;

const GOLDEN: &str = include_str!("rw_golden.txt");

/// The golden file's reason tag (with flags) of a classification.
fn tag(c: &Classified) -> String {
    let mut s = match &c.reason {
        Reason::Read => "read".to_string(),
        Reason::Write => "write".into(),
        Reason::HintPrimary => "hint-primary".into(),
        Reason::HintReplica => "hint-replica".into(),
        Reason::LockingRead => "locking".into(),
        Reason::SelectInto => "into".into(),
        Reason::SessionFunction(name) => format!("func:{name}"),
        Reason::UserVariable => "uservar".into(),
        Reason::CriticalTable(t) => format!("critical-table:{t}"),
        Reason::CriticalPattern(i) => format!("critical-pattern:{i}"),
        Reason::Unparsable(_) => "unparsable".into(),
        Reason::MultiStatement => "multi".into(),
        Reason::TransactionControl => "txn".into(),
    };
    if c.transaction_control && c.reason != Reason::TransactionControl {
        s.push_str(" +txn");
    }
    if c.starts_read_only_transaction {
        s.push_str(" +ro");
    }
    s
}

#[test]
fn golden_cases() {
    let (mut tables, mut patterns, mut cases) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in GOLDEN.lines().enumerate() {
        let line = line.trim_end();
        if let Some(v) = line.strip_prefix("# critical_tables:") {
            tables.extend(v.split(',').map(|t| t.trim().to_string()));
        } else if let Some(v) = line.strip_prefix("# critical_pattern:") {
            patterns.push(v.trim().to_string());
        } else if !line.is_empty() && !line.starts_with('#') {
            let mut fields = line.splitn(3, '|');
            let (Some(target), Some(reason), Some(sql)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!(
                    "rw_golden.txt:{}: want `target | reason | statement`",
                    i + 1
                );
            };
            let sql = sql
                .strip_prefix(' ')
                .unwrap_or(sql)
                .replace('⏎', "\n")
                .replace('⇥', "\t");
            cases.push((i + 1, target.trim(), reason.trim(), sql));
        }
    }
    assert_eq!(
        (tables.len(), patterns.len()),
        (2, 1),
        "the rules at the top of the file"
    );
    assert!(cases.len() >= 120, "only {} cases", cases.len());
    let rules = Rules::new(&tables, &patterns).expect("the golden rules compile");
    let mut failures = Vec::new();
    for (line, target, reason, sql) in &cases {
        let c = classify(sql.as_bytes(), &rules);
        let (got_target, got_reason) = (c.target.to_string(), tag(&c));
        if (got_target.as_str(), got_reason.as_str()) != (*target, *reason) {
            failures.push(format!(
                "rw_golden.txt:{line}: {sql:?}\n    want {target} | {reason}\n    got  {got_target} | {got_reason}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn rules_normalise_table_names_and_reject_bad_patterns() {
    let names = ["Shop.Orders", "`Accounts`", " ledger ", ""].map(String::from);
    let rules = Rules::new(&names, &[]).expect("no patterns");
    for (sql, table) in [
        ("SELECT * FROM orders", "orders"),
        ("SELECT * FROM `ACCOUNTS`", "accounts"),
        ("SELECT * FROM x.Ledger", "ledger"),
        ("SELECT * FROM `a``b`, ledger", "ledger"),
    ] {
        let c = classify(sql.as_bytes(), &rules);
        assert_eq!(c.reason, Reason::CriticalTable(table.into()), "{sql}");
    }
    let quoted = Rules::new(&["a`b".to_string()], &[]).expect("no patterns");
    let c = classify(b"SELECT * FROM `a``b`", &quoted);
    assert_eq!(c.reason, Reason::CriticalTable("a`b".into()));
    assert_eq!(
        classify(b"SELECT 1", &Rules::default()).target,
        Target::Replica
    );
    assert!(Rules::new(&[], &["(unclosed".to_string()]).is_err());
    // Patterns see lossy UTF-8 text; the first matching index wins.
    let two = Rules::new(
        &[],
        &["zzz".to_string(), "(?i)from t".to_string(), "t".to_string()],
    );
    let c = classify(b"SELECT '\xff' FROM t", &two.expect("valid patterns"));
    assert_eq!(c.reason, Reason::CriticalPattern(1));
}

#[test]
fn reasons_display_for_explain() {
    assert_eq!(
        Reason::CriticalTable("orders".into()).to_string(),
        "critical table `orders`"
    );
    assert_eq!(
        Reason::HintReplica.to_string(),
        "hint /*+ shardgate:replica */"
    );
    assert_eq!(
        Reason::SessionFunction("LAST_INSERT_ID").to_string(),
        "session-dependent LAST_INSERT_ID"
    );
    assert_eq!(
        Reason::Unparsable("empty statement").to_string(),
        "unparsable: empty statement"
    );
    assert_eq!(Target::Replica.to_string(), "replica");
}

#[test]
fn random_bytes_never_panic() {
    const ALPHABET: &[u8] =
        b"SELECTFROMUPDATEforlockinsharemode \n\t;'\"`@#-/*!+M0123456789()\\.,=:?\xc3\xa9\xff\0";
    let names = ["orders".to_string(), "x".to_string()];
    let rules = Rules::new(&names, &["(?i)select".to_string()]).expect("valid rules");
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut input = Vec::new();
    for _ in 0..20_000 {
        input.clear();
        let len = next() % 48;
        for _ in 0..len {
            let r = next();
            input.push(if r % 8 == 0 {
                r as u8
            } else {
                ALPHABET[r % ALPHABET.len()]
            });
        }
        let c = classify(&input, &rules);
        assert_eq!(
            c.target == Target::Replica,
            matches!(c.reason, Reason::Read | Reason::HintReplica),
            "{input:?}"
        );
        let mut end = 0;
        for t in Lexer::new(&input) {
            assert!(
                end <= t.start && t.start <= t.end && t.end <= input.len(),
                "{input:?}"
            );
            end = t.end;
        }
    }
}
