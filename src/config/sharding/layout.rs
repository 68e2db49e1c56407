//! Slot layouts of a sharded table: `sub_tables` with `placement`, or a `shards` list, and the
//! key ranges of the `range` and `suffix` algorithms.

use serde_saphyr::Spanned;

use super::raw::{RawRange, RawTable};
use super::{KeyRange, MAX_SUB_TABLES, Slot};
use crate::config::error::ConfigError;
use crate::config::types::ShardConfig;
use crate::config::validate::Validator;

impl Validator<'_> {
    /// Index into `shards` of the shard named by `name`.
    pub(super) fn shard_index(
        &self,
        shards: &[ShardConfig],
        name: &Spanned<String>,
        path: &str,
    ) -> Result<usize, ConfigError> {
        if let Some(i) = shards.iter().position(|s| s.name == name.value) {
            return Ok(i);
        }
        let names: Vec<&str> = shards.iter().map(|s| s.name.as_str()).collect();
        let message = format!(
            "{:?} is not a defined shard (defined shards: {})",
            name.value,
            names.join(", ")
        );
        Err(self.fail(name.referenced, path, message))
    }

    /// The table's slots: its sub-tables (with `placement`), or the entries of `shards`.
    pub(super) fn slots(
        &self,
        t: &RawTable,
        path: &str,
        shards: &[ShardConfig],
    ) -> Result<Vec<Slot>, ConfigError> {
        match (&t.sub_tables, &t.placement, &t.shards) {
            (Some(_), Some(_), Some(list)) | (None, Some(_), Some(list)) => Err(self.fail(
                list.referenced,
                &format!("{path}.shards"),
                "give either `sub_tables` with `placement`, or `shards`, not both",
            )),
            (Some(n), Some(placement), None) => {
                let count = self.number(
                    Some(n),
                    &format!("{path}.sub_tables"),
                    0,
                    (1, MAX_SUB_TABLES),
                )?;
                let homes = self.placement(placement, count as usize, path, shards)?;
                let slots = homes.into_iter().enumerate().map(|(i, shard)| Slot {
                    shard,
                    physical: format!("{}_{i:04}", t.name.value),
                });
                Ok(slots.collect())
            }
            (Some(n), None, _) => Err(self.fail(
                n.referenced,
                &format!("{path}.sub_tables"),
                "needs `placement` (which sub-tables live on which shard)",
            )),
            (None, Some(placement), None) => Err(self.fail(
                placement.referenced,
                &format!("{path}.placement"),
                "only allowed with `sub_tables`",
            )),
            (None, None, Some(list)) => self.shard_list(list, &t.name.value, path, shards),
            (None, None, None) => Err(self.fail(
                t.name.referenced,
                path,
                "needs either `shards: [...]` or `sub_tables` with `placement`",
            )),
        }
    }

    /// `shards: [...]`: slot `i` on `shards[i]`, physical name = logical name.
    fn shard_list(
        &self,
        list: &Spanned<Vec<Spanned<String>>>,
        table: &str,
        path: &str,
        shards: &[ShardConfig],
    ) -> Result<Vec<Slot>, ConfigError> {
        if list.value.is_empty() {
            let message = "must list at least one shard";
            return Err(self.fail(list.referenced, &format!("{path}.shards"), message));
        }
        let mut slots: Vec<Slot> = Vec::with_capacity(list.value.len());
        for (i, name) in list.value.iter().enumerate() {
            let entry = format!("{path}.shards[{i}]");
            let shard = self.shard_index(shards, name, &entry)?;
            if slots.iter().any(|s| s.shard == shard) {
                let message = format!(
                    "shard {:?} is listed twice; without sub-tables each slot needs its own \
                     shard (use sub_tables with placement to put several slots on one shard)",
                    name.value
                );
                return Err(self.fail(name.referenced, &entry, message));
            }
            slots.push(Slot {
                shard,
                physical: table.to_string(),
            });
        }
        Ok(slots)
    }

    /// The shard of each sub-table `0..count`, from `placement`; every one exactly once.
    fn placement(
        &self,
        placement: &Spanned<Vec<super::raw::RawPlacement>>,
        count: usize,
        path: &str,
        shards: &[ShardConfig],
    ) -> Result<Vec<usize>, ConfigError> {
        let mut homes: Vec<Option<(usize, usize)>> = vec![None; count];
        for (j, p) in placement.value.iter().enumerate() {
            let entry = format!("{path}.placement[{j}]");
            let shard = self.shard_index(shards, &p.shard, &format!("{entry}.shard"))?;
            let at = format!("{entry}.sub_tables");
            let runs = parse_index_list(&p.sub_tables.value)
                .map_err(|why| self.fail(p.sub_tables.referenced, &at, why))?;
            for (lo, hi) in runs {
                for index in lo..=hi {
                    let message = match homes.get(index) {
                        None => format!(
                            "sub-table {index} does not exist (sub_tables: {count} gives 0-{})",
                            count - 1
                        ),
                        Some(Some((_, other))) => {
                            format!("sub-table {index} is already placed by placement[{other}]")
                        }
                        Some(None) => {
                            homes[index] = Some((shard, j));
                            continue;
                        }
                    };
                    return Err(self.fail(p.sub_tables.referenced, &at, message));
                }
            }
        }
        let missing: Vec<usize> = (0..count).filter(|i| homes[*i].is_none()).collect();
        if !missing.is_empty() {
            let message = format!(
                "sub-tables {} are not placed on any shard; every sub-table 0-{} needs a shard",
                format_index_list(&missing),
                count - 1
            );
            let at = format!("{path}.placement");
            return Err(self.fail(placement.referenced, &at, message));
        }
        Ok(homes
            .into_iter()
            .flatten()
            .map(|(shard, _)| shard)
            .collect())
    }

    /// Checks and sorts `ranges`: contiguous, no overlap, slots in `0..slots`; with `cover`
    /// (suffix) they must span exactly `0..cover`.
    pub(super) fn ranges(
        &self,
        ranges: &Spanned<Vec<Spanned<RawRange>>>,
        path: &str,
        slots: usize,
        cover: Option<i128>,
    ) -> Result<Vec<KeyRange>, ConfigError> {
        let at = |i: usize| format!("{path}.ranges[{i}]");
        if ranges.value.is_empty() {
            let message = "must list at least one range";
            return Err(self.fail(ranges.referenced, &format!("{path}.ranges"), message));
        }
        let mut sorted: Vec<(usize, KeyRange)> = Vec::with_capacity(ranges.value.len());
        for (i, r) in ranges.value.iter().enumerate() {
            let raw_slot = &r.value.slot;
            let Some(slot) = usize::try_from(raw_slot.value).ok().filter(|s| *s < slots) else {
                let message = format!(
                    "slot {} does not exist: the table has {slots} slots (0-{})",
                    raw_slot.value,
                    slots - 1
                );
                let path = format!("{}.slot", at(i));
                return Err(self.fail(raw_slot.referenced, &path, message));
            };
            let from = r.value.from.as_ref().map(|f| i128::from(f.value));
            let to = r.value.to.as_ref().map(|t| i128::from(t.value));
            if let (Some(f), Some(t)) = (from, r.value.to.as_ref()) {
                if i128::from(t.value) <= f {
                    let message = format!("`to` ({}) must be greater than `from` ({f})", t.value);
                    return Err(self.fail(t.referenced, &format!("{}.to", at(i)), message));
                }
            }
            sorted.push((i, KeyRange { from, to, slot }));
        }
        sorted.sort_by_key(|(_, r)| r.from);
        let last = sorted.len() - 1;
        for (k, (i, r)) in sorted.iter().enumerate() {
            let location = ranges.value[*i].referenced;
            let problem = if r.from.is_none() && k > 0 {
                Some("only the first range (lowest `from`) may omit `from`".to_string())
            } else if r.to.is_none() && k < last {
                Some("only the last range (highest `from`) may omit `to`".to_string())
            } else if k > 0 {
                let prev = sorted[k - 1].1;
                match (prev.to, r.from) {
                    (Some(end), Some(start)) if end < start => Some(format!(
                        "gap before this range: keys {end} to {} are in no range",
                        start - 1
                    )),
                    (Some(end), Some(start)) if end > start => Some(format!(
                        "overlaps ranges[{}] (which ends at {end}, exclusive)",
                        sorted[k - 1].0
                    )),
                    _ => None,
                }
            } else {
                None
            };
            if let Some(message) = problem {
                return Err(self.fail(location, &at(*i), message));
            }
        }
        if let Some(end) = cover {
            let (first, last) = (&sorted[0], &sorted[last]);
            if first.1.from != Some(0) {
                let message = "suffix ranges must start at `from: 0`";
                return Err(self.fail(ranges.value[first.0].referenced, &at(first.0), message));
            }
            if last.1.to != Some(end) {
                let message = format!("suffix ranges must end at `to: {end}` (10^digits)");
                return Err(self.fail(ranges.value[last.0].referenced, &at(last.0), message));
            }
        }
        Ok(sorted.into_iter().map(|(_, r)| r).collect())
    }
}

/// Parses `"0-3,8"` into inclusive runs `[(0, 3), (8, 8)]`.
pub(super) fn parse_index_list(text: &str) -> Result<Vec<(usize, usize)>, String> {
    let number = |part: &str| {
        let part = part.trim();
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?} is not a list of sub-table indexes; expected e.g. \"0-3\", \"5\" or \"0-3,8\""
            ));
        }
        part.parse::<usize>()
            .map_err(|_| format!("{part:?} is too large"))
    };
    let mut runs = Vec::new();
    for item in text.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (number(lo)?, number(hi)?),
            None => {
                let n = number(item)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("{lo}-{hi} is backwards; write {hi}-{lo}"));
        }
        runs.push((lo, hi));
    }
    Ok(runs)
}

/// Formats sorted indexes compactly: `[0, 1, 2, 5]` -> `"0-2, 5"`.
fn format_index_list(indexes: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indexes.len() {
        let start = indexes[i];
        let mut end = start;
        while i + 1 < indexes.len() && indexes[i + 1] == end + 1 {
            i += 1;
            end = indexes[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{format_index_list, parse_index_list};

    #[test]
    fn index_lists() {
        assert_eq!(parse_index_list("0-3"), Ok(vec![(0, 3)]));
        assert_eq!(parse_index_list("5"), Ok(vec![(5, 5)]));
        assert_eq!(parse_index_list("0-3, 8"), Ok(vec![(0, 3), (8, 8)]));
        for bad in [
            "",
            "a",
            "1-",
            "-1",
            "0-3,",
            "1.5",
            "3-1",
            "99999999999999999999999",
        ] {
            assert!(parse_index_list(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_index_list(&[0, 1, 2, 5, 7, 8]), "0-2, 5, 7-8");
    }
}
