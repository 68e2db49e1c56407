//! Checks of the `sharding:` section and its conversion into `Sharding`: schemas, table rules
//! (key, key type, algorithm options) and binding groups.

use std::collections::HashMap;

use serde_saphyr::Spanned;

use super::raw::{AlgorithmName, KeyCase, RawSchema, RawSharding, RawTable};
use super::{Algorithm, KeyType, ShardedSchema, Sharding, TableRule};
use crate::config::error::ConfigError;
use crate::config::types::ShardConfig;
use crate::config::validate::Validator;

impl Validator<'_> {
    /// Validates the `sharding` section; `default_shard` is the top-level default's index.
    pub(in crate::config) fn sharding(
        &self,
        raw: RawSharding,
        shards: &[ShardConfig],
        default_shard: usize,
    ) -> Result<Sharding, ConfigError> {
        let mut seen = HashMap::new();
        let mut schemas = Vec::with_capacity(raw.schemas.len());
        for (i, schema) in raw.schemas.into_iter().enumerate() {
            let path = format!("sharding.schemas[{i}]");
            self.unique_name(&mut seen, &schema.name, &format!("{path}.name"), "schema")?;
            schemas.push(self.schema(schema, &path, shards, default_shard)?);
        }
        Ok(Sharding {
            allow_full_scatter_writes: raw.allow_full_scatter_writes.unwrap_or(false),
            schemas,
        })
    }

    fn schema(
        &self,
        raw: RawSchema,
        path: &str,
        shards: &[ShardConfig],
        default_shard: usize,
    ) -> Result<ShardedSchema, ConfigError> {
        let default_shard = match &raw.default_shard {
            Some(name) => self.shard_index(shards, name, &format!("{path}.default_shard"))?,
            None => default_shard,
        };
        // Table names are unique across sharded and broadcast tables.
        let mut seen = HashMap::new();
        let mut tables = Vec::with_capacity(raw.tables.len());
        for (j, table) in raw.tables.iter().enumerate() {
            let table_path = format!("{path}.tables[{j}]");
            let name_path = format!("{table_path}.name");
            self.unique_name(&mut seen, &table.name, &name_path, "table")?;
            tables.push(self.table_rule(table, &table_path, shards)?);
        }
        for (j, name) in raw.broadcast_tables.iter().enumerate() {
            let entry = format!("{path}.broadcast_tables[{j}]");
            self.unique_name(&mut seen, name, &entry, "table")?;
        }
        self.binding_groups(&raw.binding_groups, &mut tables, path)?;
        Ok(ShardedSchema {
            name: raw.name.value,
            default_shard,
            tables,
            broadcast: raw.broadcast_tables.into_iter().map(|b| b.value).collect(),
        })
    }

    fn table_rule(
        &self,
        t: &RawTable,
        path: &str,
        shards: &[ShardConfig],
    ) -> Result<TableRule, ConfigError> {
        self.name(&t.key, &format!("{path}.key"))?;
        let key_type = t.key_type.as_ref().map_or(KeyType::Integer, |k| k.value);
        let algorithm = t.algorithm.value;
        if let Some(k) = t.key_type.as_ref() {
            if k.value == KeyType::String && algorithm != AlgorithmName::Hash {
                let message = "key_type string works only with algorithm hash \
                     (mod, range and suffix need integer keys)";
                return Err(self.fail(k.referenced, &format!("{path}.key_type"), message));
            }
        }
        if let Some(case) = &t.key_case {
            let problem = if algorithm != AlgorithmName::Hash {
                Some("only allowed with algorithm hash")
            } else if key_type != KeyType::String {
                Some("only allowed with key_type string")
            } else {
                None
            };
            if let Some(message) = problem {
                return Err(self.fail(case.referenced, &format!("{path}.key_case"), message));
            }
        }
        let with_suffix = algorithm == AlgorithmName::Suffix;
        self.only_with(&t.digits, with_suffix, "digits", "algorithm suffix", path)?;
        let with_ranges = matches!(algorithm, AlgorithmName::Range | AlgorithmName::Suffix);
        self.only_with(
            &t.ranges,
            with_ranges,
            "ranges",
            "algorithms range and suffix",
            path,
        )?;
        let slots = self.slots(t, path, shards)?;
        let algorithm = match algorithm {
            AlgorithmName::Mod => Algorithm::Mod,
            AlgorithmName::Hash => Algorithm::Hash {
                case_insensitive: t
                    .key_case
                    .as_ref()
                    .is_none_or(|c| c.value == KeyCase::Insensitive),
            },
            AlgorithmName::Range => {
                let ranges = self.required(&t.ranges, &t.algorithm, "ranges", path)?;
                Algorithm::Range(self.ranges(ranges, path, slots.len(), None)?)
            }
            AlgorithmName::Suffix => {
                let digits = self.required(&t.digits, &t.algorithm, "digits", path)?;
                let digits = self.number(Some(digits), &format!("{path}.digits"), 0, (1, 9))?;
                let ranges = self.required(&t.ranges, &t.algorithm, "ranges", path)?;
                let cover = 10_i128.pow(digits as u32);
                let ranges = self.ranges(ranges, path, slots.len(), Some(cover))?;
                Algorithm::Suffix {
                    digits: digits as u32,
                    ranges,
                }
            }
        };
        Ok(TableRule {
            name: t.name.value.clone(),
            key: t.key.value.to_lowercase(),
            key_type,
            algorithm,
            slots,
            binding_group: None,
        })
    }

    /// An error when `value` is given although `allowed` is false.
    fn only_with<T>(
        &self,
        value: &Option<Spanned<T>>,
        allowed: bool,
        key: &str,
        with: &str,
        path: &str,
    ) -> Result<(), ConfigError> {
        match value {
            Some(v) if !allowed => {
                let message = format!("only allowed with {with}");
                Err(self.fail(v.referenced, &format!("{path}.{key}"), message))
            }
            _ => Ok(()),
        }
    }

    /// `value`, which `algorithm` requires; an error at the algorithm when it is missing.
    fn required<'v, T>(
        &self,
        value: &'v Option<Spanned<T>>,
        algorithm: &Spanned<AlgorithmName>,
        key: &str,
        path: &str,
    ) -> Result<&'v Spanned<T>, ConfigError> {
        value.as_ref().ok_or_else(|| {
            let message = format!(
                "algorithm {} needs `{key}`",
                algorithm_name(algorithm.value)
            );
            self.fail(algorithm.referenced, &format!("{path}.algorithm"), message)
        })
    }

    /// Marks each table with its group; members must be sharded tables of this schema, in
    /// one group only, with the same key type, algorithm and slot-to-shard layout.
    fn binding_groups(
        &self,
        groups: &[Spanned<Vec<Spanned<String>>>],
        tables: &mut [TableRule],
        path: &str,
    ) -> Result<(), ConfigError> {
        for (g, group) in groups.iter().enumerate() {
            let group_path = format!("{path}.binding_groups[{g}]");
            if group.value.len() < 2 {
                let message = "a binding group needs at least two tables";
                return Err(self.fail(group.referenced, &group_path, message));
            }
            let mut first: Option<usize> = None;
            for (m, member) in group.value.iter().enumerate() {
                let member_path = format!("{group_path}[{m}]");
                self.name(member, &member_path)?;
                let Some(t) = tables.iter().position(|t| t.name == member.value) else {
                    let message = format!(
                        "{:?} is not a sharded table of this schema (binding groups list \
                         tables from `tables`)",
                        member.value
                    );
                    return Err(self.fail(member.referenced, &member_path, message));
                };
                if let Some(other) = tables[t].binding_group {
                    let message = format!(
                        "table {:?} is already in binding_groups[{other}]",
                        member.value
                    );
                    return Err(self.fail(member.referenced, &member_path, message));
                }
                tables[t].binding_group = Some(g);
                match first {
                    None => first = Some(t),
                    Some(f) => {
                        let result = same_layout(&tables[f], &tables[t]);
                        self.check(member, &member_path, result)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `b` is laid out like `a` (as the tables of a binding group must be).
fn same_layout(a: &TableRule, b: &TableRule) -> Result<(), String> {
    let why = if a.key_type != b.key_type {
        format!(
            "key_type {} differs from {:?}'s {}",
            b.key_type.as_str(),
            a.name,
            a.key_type.as_str()
        )
    } else if a.algorithm != b.algorithm {
        format!(
            "algorithm settings (algorithm, ranges, digits, key_case) differ from {:?}'s",
            a.name
        )
    } else if a.slots.len() != b.slots.len() {
        format!(
            "has {} slots but {:?} has {}",
            b.slots.len(),
            a.name,
            a.slots.len()
        )
    } else if a
        .slots
        .iter()
        .zip(&b.slots)
        .any(|(x, y)| x.shard != y.shard)
    {
        format!("its slots are placed on other shards than {:?}'s", a.name)
    } else {
        return Ok(());
    };
    Err(format!(
        "{why}; the tables of a binding group must share key type, algorithm and slot layout"
    ))
}

fn algorithm_name(a: AlgorithmName) -> &'static str {
    match a {
        AlgorithmName::Mod => "mod",
        AlgorithmName::Hash => "hash",
        AlgorithmName::Range => "range",
        AlgorithmName::Suffix => "suffix",
    }
}
