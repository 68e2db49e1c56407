//! k-way ordered merge of shard streams that are each already sorted by the ORDER BY: at most
//! one row per shard is buffered, so `ORDER BY … LIMIT n` over any number of rows runs in
//! memory proportional to the number of shards.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::key::{ColumnOrder, RowKey};
use super::row::Row;
use super::{ColumnDef, MergeError};
use crate::router::shard::plan::SortKey;

/// The comparison of whole rows by a list of sort keys.
#[derive(Debug, Clone)]
pub struct RowOrder {
    keys: Vec<(usize, ColumnOrder, bool)>,
}

impl RowOrder {
    /// Rules for `order_by` over the given result columns. ENUM/SET columns are refused: the
    /// server orders them by their position in the column's definition, which the result
    /// does not carry.
    pub fn new(order_by: &[SortKey], columns: &[ColumnDef]) -> Result<Self, MergeError> {
        let mut keys = Vec::with_capacity(order_by.len());
        for k in order_by {
            let col = columns.get(k.column).ok_or(MergeError::NoSuchColumn {
                index: k.column,
                columns: columns.len(),
            })?;
            let order = ColumnOrder::for_column(col)?;
            if order.enum_or_set {
                return Err(MergeError::UnsupportedColumn {
                    column: col.name.clone(),
                    reason: "ORDER BY an ENUM/SET column across shards (ordered by definition position)",
                });
            }
            keys.push((k.column, order, k.descending));
        }
        Ok(RowOrder { keys })
    }

    /// The sort key of a row.
    pub fn key(&self, row: &Row) -> Result<RowKey, MergeError> {
        let mut out = Vec::with_capacity(self.keys.len());
        for (column, order, desc) in &self.keys {
            out.push((order.key(row.cell(*column))?, *desc));
        }
        Ok(RowKey(out))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One buffered row: ordered by key, then by shard (ties keep the shard order).
struct Entry {
    key: RowKey,
    shard: usize,
    row: Row,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then(self.shard.cmp(&other.shard))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Entry {}

/// Feed it the next row of a shard, pop the smallest; after a pop, push the next row of the
/// shard that row came from (or nothing when that shard is exhausted).
pub struct OrderedMerge {
    order: RowOrder,
    heap: BinaryHeap<Reverse<Entry>>,
}

impl OrderedMerge {
    pub fn new(order: RowOrder) -> Self {
        OrderedMerge {
            order,
            heap: BinaryHeap::new(),
        }
    }

    /// Buffers the next row of `shard` (at most one per shard at a time).
    pub fn push(&mut self, shard: usize, row: Row) -> Result<(), MergeError> {
        let key = self.order.key(&row)?;
        self.heap.push(Reverse(Entry { key, shard, row }));
        Ok(())
    }

    /// The smallest buffered row and its shard.
    pub fn pop(&mut self) -> Option<(usize, Row)> {
        self.heap.pop().map(|Reverse(e)| (e.shard, e.row))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::merge::Window;
    use crate::executor::merge::column::{test_column, types};
    use crate::executor::merge::row::row;

    /// Runs the merge as the driver does, over in-memory shard streams.
    fn merge(
        streams: Vec<Vec<Row>>,
        order_by: &[SortKey],
        columns: &[ColumnDef],
        window: Window,
    ) -> Vec<Row> {
        let order = RowOrder::new(order_by, columns).expect("order");
        let mut m = OrderedMerge::new(order);
        let mut iters: Vec<_> = streams.into_iter().map(|s| s.into_iter()).collect();
        for (shard, it) in iters.iter_mut().enumerate() {
            if let Some(r) = it.next() {
                m.push(shard, r).expect("push");
            }
        }
        let mut window = window;
        let mut out = Vec::new();
        while let Some((shard, r)) = m.pop() {
            assert!(m.len() < 3, "one row per shard at most");
            match window.admit() {
                crate::executor::merge::Admit::Emit => out.push(r),
                crate::executor::merge::Admit::Skip => {}
                crate::executor::merge::Admit::Done => break,
            }
            if let Some(next) = iters[shard].next() {
                m.push(shard, next).expect("push");
            }
        }
        out
    }

    fn cols() -> Vec<ColumnDef> {
        vec![
            test_column("n", 63, types::LONG, 0, 0),
            test_column("s", 45, types::VAR_STRING, 0, 0),
        ]
    }

    fn r(n: Option<&str>, s: &str) -> Row {
        row(&[n, Some(s)])
    }

    fn asc(column: usize) -> SortKey {
        SortKey {
            column,
            descending: false,
        }
    }

    fn desc(column: usize) -> SortKey {
        SortKey {
            column,
            descending: true,
        }
    }

    fn texts(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| String::from_utf8_lossy(r.cell(1).unwrap_or(b"?")).into_owned())
            .collect()
    }

    #[test]
    fn merges_numerically_with_nulls_first() {
        let a = vec![r(None, "a0"), r(Some("9"), "a1"), r(Some("100"), "a2")];
        let b = vec![r(Some("10"), "b0"), r(Some("11"), "b1")];
        let c = vec![r(None, "c0")];
        let out = merge(vec![a, b, c], &[asc(0)], &cols(), Window::new(0, None));
        assert_eq!(texts(&out), ["a0", "c0", "a1", "b0", "b1", "a2"]);
    }

    #[test]
    fn descending_puts_nulls_last() {
        let a = vec![r(Some("100"), "a0"), r(Some("9"), "a1"), r(None, "a2")];
        let b = vec![r(Some("10"), "b0"), r(None, "b1")];
        let out = merge(vec![a, b], &[desc(0)], &cols(), Window::new(0, None));
        assert_eq!(texts(&out), ["a0", "b0", "a1", "a2", "b1"]);
    }

    #[test]
    fn several_keys_and_case_insensitive_ties_keep_shard_order() {
        let a = vec![r(Some("1"), "b"), r(Some("1"), "B"), r(Some("2"), "a")];
        let b = vec![r(Some("1"), "B "), r(Some("2"), "A")];
        let out = merge(
            vec![a, b],
            &[asc(0), desc(1)],
            &cols(),
            Window::new(0, None),
        );
        assert_eq!(texts(&out), ["b", "B", "B ", "a", "A"]);
    }

    #[test]
    fn string_columns_order_as_text() {
        let a = vec![r(Some("1"), "10")];
        let b = vec![r(Some("1"), "9")];
        let out = merge(vec![a, b], &[asc(1)], &cols(), Window::new(0, None));
        assert_eq!(texts(&out), ["10", "9"]);
    }

    #[test]
    fn offset_and_limit_apply_to_the_merged_stream() {
        let a = vec![r(Some("1"), "a1"), r(Some("3"), "a3"), r(Some("5"), "a5")];
        let b = vec![r(Some("2"), "b2"), r(Some("4"), "b4"), r(Some("6"), "b6")];
        let out = merge(vec![a, b], &[asc(0)], &cols(), Window::new(2, Some(3)));
        assert_eq!(texts(&out), ["a3", "b4", "a5"]);
    }

    #[test]
    fn enum_columns_cannot_be_merge_ordered() {
        let c = vec![test_column("e", 45, types::STRING, 0x100, 0)];
        assert!(RowOrder::new(&[asc(0)], &c).is_err());
        assert!(RowOrder::new(&[asc(3)], &c).is_err());
    }
}
