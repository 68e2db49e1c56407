//! The three ways of merging the shards' rows once their headers are read: a union, a k-way
//! ordered merge, and a materialising merge. Streaming merges forward the shards' row packets
//! (cut to the visible columns); the materialising one encodes the rows it computed.

use bytes::Bytes;

use super::shard::{Next, Shard};
use super::{Run, ScatterOutcome};
use crate::executor::ExecError;
use crate::executor::merge::ordered::RowOrder;
use crate::executor::merge::{Admit, ColumnDef, Materialiser, OrderedMerge, Window};
use crate::protocol::packets;
use crate::router::shard::plan::MergeSpec;

impl Run<'_> {
    /// No ORDER BY, no grouping: each shard's rows in turn, within the window.
    pub(super) async fn union(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        columns: &[ColumnDef],
    ) -> Result<ScatterOutcome, ExecError> {
        self.header(columns, spec.visible, shards);
        let mut window = Window::new(spec.offset, spec.limit);
        for i in 0..shards.len() {
            while !window.is_done() {
                let p = match shards[i].next(self.partial).await? {
                    Next::Row(p) => p,
                    Next::End => break,
                    Next::Err(p) => return self.fail(shards, p).await,
                };
                if window.admit() != Admit::Emit {
                    continue;
                }
                match self.cut(p, columns, spec.visible) {
                    Ok(p) => self.send(&p).await?,
                    Err(e) => return self.refuse(shards, e).await,
                }
            }
        }
        self.end(shards, None).await
    }

    /// Each shard is sorted: a k-way merge holding one row per shard.
    pub(super) async fn ordered(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        columns: &[ColumnDef],
        order: RowOrder,
    ) -> Result<ScatterOutcome, ExecError> {
        self.header(columns, spec.visible, shards);
        let mut merge = OrderedMerge::new(order);
        // Each shard's buffered row as it came (the merge holds at most one per shard).
        let mut held = vec![Bytes::new(); shards.len()];
        let mut window = Window::new(spec.offset, spec.limit);
        for i in 0..shards.len() {
            if let Some(e) = self.pull(shards, i, &mut merge, &mut held, columns).await? {
                return self.end(shards, Some(e)).await;
            }
        }
        while !window.is_done() {
            let Some((shard, row)) = merge.pop() else {
                break;
            };
            if window.admit() == Admit::Emit {
                // A binary row's text form may be rounded: the shard's packet is sent instead.
                let out = if self.binary {
                    self.cut(std::mem::take(&mut held[shard]), columns, spec.visible)
                } else {
                    self.encode(&row, columns, spec.visible).map(Bytes::from)
                };
                match out {
                    Ok(p) => self.send(&p).await?,
                    Err(e) => return self.refuse(shards, e).await,
                }
            }
            if let Some(e) = self
                .pull(shards, shard, &mut merge, &mut held, columns)
                .await?
            {
                return self.end(shards, Some(e)).await;
            }
        }
        self.end(shards, None).await
    }

    /// Feeds the next row of shard `i` to the merge (its packet kept in `held[i]`); an
    /// ERR packet to end with on failure.
    async fn pull(
        &mut self,
        shards: &mut [Shard<'_>],
        i: usize,
        merge: &mut OrderedMerge,
        held: &mut [Bytes],
        columns: &[ColumnDef],
    ) -> Result<Option<Bytes>, ExecError> {
        let p = match shards[i].next(self.partial).await? {
            Next::Row(p) => p,
            Next::End => return Ok(None),
            Next::Err(p) => return Ok(Some(p)),
        };
        let pushed = self.parse(&p, columns).and_then(|r| merge.push(i, r));
        held[i] = p;
        Ok(pushed.err().map(|e| {
            let msg = format!("shardgate: cannot merge the shards' results: {e}");
            Bytes::from(packets::err_packet(1105, "HY000", &msg))
        }))
    }

    /// GROUP BY / aggregates / DISTINCT: every row read, then the merged rows sent.
    pub(super) async fn materialise(
        &mut self,
        shards: &mut [Shard<'_>],
        spec: &MergeSpec,
        columns: &[ColumnDef],
    ) -> Result<ScatterOutcome, ExecError> {
        let mut m = match Materialiser::new(spec, columns) {
            Ok(m) => m,
            Err(e) => return self.refuse(shards, e).await,
        };
        for i in 0..shards.len() {
            loop {
                let p = match shards[i].next(false).await? {
                    Next::Row(p) => p,
                    Next::End => break,
                    Next::Err(p) => return self.fail(shards, p).await,
                };
                if let Err(e) = self.parse(&p, columns).and_then(|r| m.push(r)) {
                    return self.refuse(shards, e).await;
                }
            }
        }
        let rows = match m.finish() {
            Ok(rows) => rows,
            Err(e) => return self.refuse(shards, e).await,
        };
        // Encoded before the header, so a value that does not fit is refused cleanly.
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            match self.encode(r, columns, spec.visible) {
                Ok(p) => out.push(p),
                Err(e) => return self.refuse(shards, e).await,
            }
        }
        drop(rows);
        self.header(columns, spec.visible, shards);
        for p in &out {
            self.send(p).await?;
        }
        self.end(shards, None).await
    }
}
