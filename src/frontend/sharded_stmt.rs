//! Prepared statements on sharded schemas: prepared where the first slot lives (for the
//! metadata the client gets), routed at each execute by the parameter values, and prepared
//! lazily on the connection of the shard the execution goes to.

use std::sync::Arc;
use std::time::Instant;

use super::FrontendError;
use super::query::ReplicaStatement;
use super::session::Session;
use crate::metrics;
use crate::protocol::packets::Reader;
use crate::protocol::response::Expect;
use crate::router::Role;
use crate::router::shard::analyze::Shape;
use crate::router::shard::analyze::constraint::{ParamValue, Params};
use crate::router::shard::error::ShardError;
use crate::router::shard::plan::ShardedKind;
use crate::router::shard::route;
use crate::runtime::Snapshot;

impl Session {
    /// Runs COM_STMT_EXECUTE of a statement on a sharded table.
    pub(super) async fn execute_sharded(
        &mut self,
        payload: &[u8],
        stmt_id: u32,
        shape: Arc<Shape>,
        read: bool,
    ) -> Result<(), FrontendError> {
        let snapshot = self.snapshot();
        let Some(entry) = self.stmts.get(stmt_id) else {
            return Err(FrontendError::UnknownStatement {
                id: stmt_id,
                command: "mysqld_stmt_execute",
            });
        };
        let mut counted = metrics::Statement::execute_sharded(Instant::now(), &entry.sql);
        let params_count = entry.prepared.params;
        let types = entry.types.clone().unwrap_or_default();
        let params = if !entry.long_data.is_empty() {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "COM_STMT_SEND_LONG_DATA for a statement on a sharded table",
            )
            .into());
        } else {
            param_values(payload, params_count, &types)
                .ok_or(FrontendError::BadExecute { id: stmt_id })?
        };
        let Some(schema) = self
            .schema
            .as_deref()
            .and_then(|s| snapshot.config.sharding.schema(s))
        else {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "a prepared statement whose sharded schema is no longer the session's",
            )
            .into());
        };
        let view = self.view(&snapshot);
        let role = if read
            && !view.in_transaction
            && !view.user_primary_only
            && !view.within_write_window
            && view.reads_pinned.is_none()
        {
            Role::Replica
        } else {
            Role::Primary
        };
        let plan = route::plan(
            &shape,
            schema,
            snapshot.registry.shards.len(),
            snapshot.config.sharding.allow_full_scatter_writes,
            &params,
            role,
        )?;
        crate::router::shard::uservars::check(
            shape.sql.as_bytes(),
            &plan,
            snapshot.registry.default_shard,
        )?;
        counted.sharded(&plan, &snapshot);
        self.check_xa_plan(&snapshot, &plan)?;
        if matches!(
            plan.kind,
            ShardedKind::MultiWrite | ShardedKind::BroadcastWrite
        ) {
            let write = super::sharded::PreparedExec {
                payload,
                params: params_count,
                types: &types,
            };
            return self.multi_write(&snapshot, &plan, Some(&write)).await;
        }
        if let ShardedKind::Scatter(spec) = &plan.kind {
            let cursor = payload.get(5).is_some_and(|f| f & 0x07 != 0);
            if cursor {
                return Err(ShardError::unsupported(
                    &shape.sharded,
                    "a cursor over a prepared statement that spans several shards",
                )
                .into());
            }
            let read = super::sharded::PreparedExec {
                payload,
                params: params_count,
                types: &types,
            };
            return self.scatter(&snapshot, &plan, spec, Some(&read)).await;
        }
        if plan.kind != ShardedKind::Single {
            return Err(ShardError::unsupported(
                &shape.sharded,
                "a prepared statement whose execution spans several shards (send it as a text query, or add a sharding-key condition)",
            )
            .into());
        }
        let Some(target) = plan.targets.into_iter().next() else {
            return Ok(());
        };
        let sql: Arc<[u8]> = Arc::from(target.sql.as_bytes());
        if plan.role == Role::Replica {
            let replica = ReplicaStatement {
                sql: Arc::clone(&sql),
                params: params_count,
                types: Some(types.clone()),
            };
            if self
                .try_replica(payload, &snapshot, target.shard, Some(replica))
                .await?
            {
                return Ok(());
            }
        }
        counted.on_primary();
        self.execute_on_primary(
            &snapshot,
            target.shard,
            &target.sql,
            payload,
            params_count,
            &types,
        )
        .await?;
        if !read {
            self.note_write();
        }
        Ok(())
    }

    async fn execute_on_primary(
        &mut self,
        snapshot: &Snapshot,
        shard: usize,
        sql: &str,
        payload: &[u8],
        params: u16,
        types: &[u8],
    ) -> Result<(), FrontendError> {
        let default = shard == snapshot.registry.default_shard;
        let mut conn = if default {
            self.checkout().await?
        } else {
            self.flush_unread_insert_id().await;
            self.shard_conn(snapshot, shard).await?
        };
        let exec = super::sharded::PreparedExec {
            payload,
            params,
            types,
        };
        let body = match exec.execute_packet(&mut conn, sql).await {
            Ok(body) => body,
            Err(e) => {
                self.put_shard_conn(snapshot, shard, conn);
                return Err(e);
            }
        };
        let result = self.relay_on(&mut conn, &body, Expect::Results).await;
        if default {
            let out = self.keep(conn, result)?;
            self.note_result(&out);
        } else {
            self.keep_other_shard(shard, conn, result).await?;
        }
        Ok(())
    }
}

/// The parameter values of a COM_STMT_EXECUTE packet (`types`: the ones the client sent
/// with this or an earlier execute). `None` when the packet is malformed.
pub fn param_values(payload: &[u8], params: u16, types: &[u8]) -> Option<Params> {
    let n = usize::from(params);
    if n == 0 {
        return Some(Params::default());
    }
    let mut r = Reader::new(payload);
    r.bytes(10).ok()?; // command, statement id, flags, iteration count
    let nulls = r.bytes(n.div_ceil(8)).ok()?.to_vec();
    let bound = r.u8().ok()?;
    let types: Vec<u8> = if bound == 1 {
        r.bytes(2 * n).ok()?.to_vec()
    } else {
        types.to_vec()
    };
    if types.len() != 2 * n {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if nulls[i / 8] & (1 << (i % 8)) != 0 {
            out.push(ParamValue::Null);
            continue;
        }
        let (ty, unsigned) = (types[2 * i], types[2 * i + 1] & 0x80 != 0);
        let int = |b: &[u8]| -> i128 {
            let mut buf = [0u8; 8];
            buf[..b.len()].copy_from_slice(b);
            let u = u64::from_le_bytes(buf);
            if unsigned {
                i128::from(u)
            } else {
                let shift = 64 - 8 * b.len() as u32;
                i128::from(((u << shift) as i64) >> shift)
            }
        };
        let v = match ty {
            1 => ParamValue::Int(int(r.bytes(1).ok()?)),
            2 | 13 => ParamValue::Int(int(r.bytes(2).ok()?)),
            3 | 9 => ParamValue::Int(int(r.bytes(4).ok()?)),
            8 => ParamValue::Int(int(r.bytes(8).ok()?)),
            4 => {
                r.bytes(4).ok()?;
                ParamValue::Other
            }
            5 => {
                r.bytes(8).ok()?;
                ParamValue::Other
            }
            6 => ParamValue::Null,
            7 | 10 | 11 | 12 => {
                let len = usize::from(r.u8().ok()?);
                r.bytes(len).ok()?;
                ParamValue::Other
            }
            15 | 246 | 247 | 248 | 249 | 250 | 251 | 252 | 253 | 254 | 16 | 245 => {
                let b = r.lenenc_bytes().ok()?;
                match (ty, std::str::from_utf8(b)) {
                    (16 | 249 | 250 | 251 | 252, _) => ParamValue::Other,
                    (_, Ok(s)) => ParamValue::Str(s.to_string()),
                    _ => ParamValue::Other,
                }
            }
            _ => return None,
        };
        out.push(v);
    }
    Some(Params(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integer_and_string_parameters() {
        // COM_STMT_EXECUTE id 1, flags 0, iterations 1, 3 params, null bitmap (third NULL),
        // types bound: LONGLONG, VAR_STRING, LONG.
        let mut p = vec![
            0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0b100, 1, 8, 0, 253, 0, 3, 0,
        ];
        p.extend_from_slice(&(-42i64).to_le_bytes());
        p.extend_from_slice(&[2, b'4', b'2']);
        let got = param_values(&p, 3, &[]).expect("parsed");
        assert_eq!(
            got.0,
            vec![
                ParamValue::Int(-42),
                ParamValue::Str("42".into()),
                ParamValue::Null
            ]
        );
        // Unsigned LONGLONG above i64::MAX.
        let mut p = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 8, 0x80];
        p.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            param_values(&p, 1, &[]).expect("parsed").0,
            vec![ParamValue::Int(i128::from(u64::MAX))]
        );
        // Types from an earlier execute.
        let mut p = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        p.extend_from_slice(&7i32.to_le_bytes());
        assert_eq!(
            param_values(&p, 1, &[3, 0]).expect("parsed").0,
            vec![ParamValue::Int(7)]
        );
        assert!(param_values(&p[..12], 1, &[3, 0]).is_none());
    }
}
