//! The router: pure, no I/O. Given a statement and the session's view, decides where it runs
//! and returns that decision as a [`Plan`]; the executor carries it out.

pub mod prescan;

/// Which server of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
}

/// Where one statement goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Run on one backend, results streamed back unchanged.
    Single { shard: usize, role: Role },
    /// `USE schema`: check the user may use it, then run it on the session's backend.
    Use { schema: String, shard: usize },
}

/// What the router needs to know about the topology.
#[derive(Debug, Clone, Copy)]
pub struct Topology {
    pub default_shard: usize,
}

/// Routes a COM_QUERY statement. Without sharding rules every statement runs on the
/// default shard's primary.
pub fn route_query(sql: &[u8], topo: Topology) -> Plan {
    let shard = topo.default_shard;
    if let Some(schema) = prescan::use_schema(sql) {
        return Plan::Use { schema, shard };
    }
    Plan::Single {
        shard,
        role: Role::Primary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_routes() {
        let topo = Topology { default_shard: 1 };
        let cases: &[(&str, Plan)] = &[
            (
                "SELECT 1",
                Plan::Single {
                    shard: 1,
                    role: Role::Primary,
                },
            ),
            (
                "insert into t values (1)",
                Plan::Single {
                    shard: 1,
                    role: Role::Primary,
                },
            ),
            (
                "USE shop",
                Plan::Use {
                    schema: "shop".into(),
                    shard: 1,
                },
            ),
            (
                "use shop; drop table t",
                Plan::Single {
                    shard: 1,
                    role: Role::Primary,
                },
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(&route_query(sql.as_bytes(), topo), want, "{sql}");
        }
    }
}
