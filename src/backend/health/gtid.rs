//! Comparing MariaDB GTID positions (domain-server-seq lists), for read-your-writes.

/// True when the MariaDB GTID `position` (e.g. `0-1-22127,1-11-5`) includes `gtid` (one
/// GTID or a list): for every domain in `gtid`, `position` has that domain with a sequence
/// number at least as high. Server ids are ignored, as MASTER_GTID_WAIT does. An empty `gtid`
/// requires nothing; malformed input on either side gives false.
pub fn gtid_covers(position: &str, gtid: &str) -> bool {
    let (Some(have), Some(want)) = (parse_gtid_list(position), parse_gtid_list(gtid)) else {
        return false;
    };
    want.iter()
        .all(|&(domain, seq)| have.iter().any(|&(d, s)| d == domain && s >= seq))
}

/// `(domain, seq)` of each `domain-server-seq` in a comma-separated list; `None` if malformed.
pub(super) fn parse_gtid_list(list: &str) -> Option<Vec<(u32, u64)>> {
    let list = list.trim();
    if list.is_empty() {
        return Some(Vec::new());
    }
    list.split(',')
        .map(|gtid| {
            let mut parts = gtid.trim().split('-');
            let domain = digits::<u32>(parts.next()?)?;
            digits::<u32>(parts.next()?)?;
            let seq = digits::<u64>(parts.next()?)?;
            parts.next().is_none().then_some((domain, seq))
        })
        .collect()
}

/// A non-empty run of ASCII digits as a number (no sign, no spaces).
pub(super) fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
