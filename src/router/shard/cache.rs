//! Shapes of text statements on sharded schemas, cached by their normalized text (literals
//! taken out), so that the thousandth `SELECT … WHERE id = 42` is not parsed again: the cached
//! shape is planned with the statement's literals as parameters, and the literals are put
//! back into each target statement.
//!
//! The cache only answers when its plan is the one analysing the text would give: the
//! placeholders the parser found are exactly the literals taken out, and the plan sends
//! statements whose literals all come back in order (one target, or a write over several
//! whose statements differ only in table names). Anything else — a scatter read (its merge
//! reads LIMIT and column positions from literals), a refusal, a parse error — marks the
//! normalized text as not cacheable, and the statement is analysed as written, now and later.
//! One cache belongs to one config snapshot: a reload starts an empty one.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;

use super::analyze::{Shape, analyze};
use super::normalize::{self, Normalized};
use super::plan::{ShardedKind, ShardedPlan};
use super::route;
use crate::config::ShardedSchema;
use crate::router::Role;

/// Normalized statements kept per snapshot (each at most `normalize::MAX_CACHED_LEN` bytes).
pub const CAPACITY: usize = 2048;

/// Hit and miss counts, for tests and `EXPLAIN`-style inspection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
}

/// The shape cache of one config snapshot.
pub struct ShapeCache {
    inner: Mutex<Inner>,
}

struct Inner {
    /// `None`: not cacheable, analysed as written every time.
    entries: LruCache<String, Option<Arc<Shape>>>,
    hits: u64,
    misses: u64,
}

impl Default for ShapeCache {
    fn default() -> Self {
        ShapeCache::new(CAPACITY)
    }
}

impl ShapeCache {
    pub fn new(capacity: usize) -> Self {
        ShapeCache {
            inner: Mutex::new(Inner {
                entries: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
                hits: 0,
                misses: 0,
            }),
        }
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            entries: inner.entries.len(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plan of text statement `sql` from its cached shape; `None` when it must be analysed
    /// as written (never cached, not cacheable, or the cached plan would differ).
    pub fn plan(
        &self,
        sql: &str,
        schema: &ShardedSchema,
        shard_count: usize,
        allow_full_scatter_writes: bool,
        role: Role,
    ) -> Option<ShardedPlan> {
        let n = normalize::normalize(sql)?;
        let key = format!("{}\u{0}{}", schema.name, n.key);
        let cached = {
            let mut inner = self.lock();
            let found = inner.entries.get(&key).cloned();
            match found {
                Some(_) => inner.hits += 1,
                None => inner.misses += 1,
            }
            found
        };
        let entry = match cached {
            Some(e) => e,
            None => {
                let entry = match analyze(&n.key, schema) {
                    Ok(shape) if shape.placeholders == n.literals.len() => Some(Arc::new(shape)),
                    _ => None,
                };
                self.lock().entries.put(key.clone(), entry.clone());
                entry
            }
        };
        let shape = entry?;
        let planned = plan_with_literals(
            &shape,
            &n,
            schema,
            shard_count,
            allow_full_scatter_writes,
            role,
        );
        if planned.is_none() {
            self.lock().entries.put(key, None);
        }
        planned
    }
}

fn plan_with_literals(
    shape: &Shape,
    n: &Normalized<'_>,
    schema: &ShardedSchema,
    shard_count: usize,
    allow_full_scatter_writes: bool,
    role: Role,
) -> Option<ShardedPlan> {
    let mut plan = route::plan(
        shape,
        schema,
        shard_count,
        allow_full_scatter_writes,
        &n.params(),
        role,
    )
    .ok()?;
    if matches!(plan.kind, ShardedKind::Scatter(_)) {
        return None;
    }
    for t in &mut plan.targets {
        t.sql = normalize::restore(&t.sql, &n.literals)?;
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::shard::tests::schema;

    #[test]
    fn repeated_shapes_hit_and_literals_come_back() {
        let cache = ShapeCache::default();
        let s = schema();
        let a = cache
            .plan(
                "SELECT * FROM orders WHERE user_id = 13",
                &s,
                2,
                false,
                Role::Replica,
            )
            .expect("planned");
        let b = cache
            .plan(
                "SELECT * FROM orders WHERE user_id = 2",
                &s,
                2,
                false,
                Role::Replica,
            )
            .expect("planned");
        assert_eq!(
            a.targets[0].sql,
            "SELECT * FROM orders_0005 WHERE user_id = 13"
        );
        assert_eq!((a.targets[0].shard, b.targets[0].shard), (1, 0));
        assert_eq!(
            b.targets[0].sql,
            "SELECT * FROM orders_0002 WHERE user_id = 2"
        );
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                entries: 1
            }
        );
    }

    #[test]
    fn scatters_refusals_and_parse_errors_are_analysed_as_written() {
        let cache = ShapeCache::default();
        let s = schema();
        for sql in [
            "SELECT * FROM orders ORDER BY id LIMIT 5",
            "SELECT CAST(amount AS DECIMAL(10, 2)) FROM orders WHERE user_id = 1",
            "UPDATE orders SET amount = 1",
        ] {
            assert_eq!(cache.plan(sql, &s, 2, false, Role::Replica), None, "{sql}");
            assert_eq!(cache.plan(sql, &s, 2, false, Role::Replica), None, "{sql}");
        }
        assert_eq!(cache.stats().entries, 3);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = ShapeCache::new(4);
        let s = schema();
        for i in 0..20 {
            let sql = format!("SELECT c{i} FROM orders WHERE user_id = 1");
            assert!(cache.plan(&sql, &s, 2, false, Role::Replica).is_some());
        }
        assert_eq!(cache.stats().entries, 4);
    }
}
