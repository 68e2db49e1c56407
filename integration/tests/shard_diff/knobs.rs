//! The environment knobs of shard_diff (documented in the module header of shard_diff.rs).

const DEFAULT_SEED: u64 = 20_240_601;
const DEFAULT_STATEMENTS: usize = 3000;
pub const DEFAULT_PREPARED_PERCENT: u64 = 25;
pub const DEFAULT_TXN_PERCENT: u64 = 3;
pub const DEFAULT_SESSION_PERCENT: u64 = 2;
pub const DEFAULT_XA_PERCENT: u64 = 1;

pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        _ => default,
    }
}

/// A percentage from the environment (0-100).
pub fn percent(name: &str, default: u64) -> u32 {
    let p = env_number(name, default);
    assert!(p <= 100, "{name} must be 0-100, got {p}");
    p as u32
}

/// A switch from the environment: 0 is off, anything else on.
pub fn switch(name: &str, default: bool) -> bool {
    env_number(name, u64::from(default)) != 0
}

/// `SHARD_DIFF_SEED`: one seed, an inclusive range `1..5`, or a list `1,7,9`.
pub fn seeds() -> Vec<u64> {
    let v = std::env::var("SHARD_DIFF_SEED").unwrap_or_default();
    let v = v.trim();
    if v.is_empty() {
        return vec![DEFAULT_SEED];
    }
    let num = |s: &str| -> u64 {
        s.trim()
            .parse()
            .unwrap_or_else(|_| panic!("SHARD_DIFF_SEED: {s:?} is not a number (in {v:?})"))
    };
    if let Some((a, b)) = v.split_once("..") {
        let (a, b) = (num(a), num(b.trim_start_matches('=')));
        assert!(a <= b, "SHARD_DIFF_SEED range {v:?} is empty");
        return (a..=b).collect();
    }
    v.split(',').map(num).collect()
}

/// Number of random statements per seed.
pub fn statements() -> usize {
    env_number("SHARD_DIFF_STATEMENTS", DEFAULT_STATEMENTS as u64) as usize
}
