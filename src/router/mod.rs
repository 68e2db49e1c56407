//! The router: pure, no I/O. Given a statement, the session's state and the routing rules,
//! decides where it runs and why, and returns that as a [`Plan`]; the executor carries it out.

pub mod classify;
pub mod lexer;
pub mod prescan;
pub mod shard;

use std::fmt;

use classify::{Reason, Rules, Target};
pub use prescan::Admin;

/// Which server of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    /// A replica chosen by the shard's balancer at execution time.
    Replica,
}

/// Why a statement goes where it goes (shown by `EXPLAIN SHARDGATE`).
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// What the statement itself requires or allows.
    Statement(Reason),
    /// Inside a transaction, or with autocommit off: everything on the primary.
    Transaction,
    /// The user's `default_role` is `primary`.
    UserDefaultRole,
    /// `primary_window` read-your-writes: the session wrote less than the window ago.
    ReadYourWrites,
    /// The session holds state only its primary connection has (e.g. a temporary table).
    Pinned(&'static str),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Statement(r) => write!(f, "{r}"),
            Why::Transaction => f.write_str("inside a transaction (or autocommit off)"),
            Why::UserDefaultRole => f.write_str("user's default_role is primary"),
            Why::ReadYourWrites => {
                f.write_str("read-your-writes: the session wrote within primary_window_ms")
            }
            Why::Pinned(why) => write!(f, "reads pinned to the primary: {why}"),
        }
    }
}

/// The session state routing depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionView {
    pub in_transaction: bool,
    pub user_primary_only: bool,
    /// `primary_window` mode only: the session's last write is within the window.
    pub within_write_window: bool,
    /// Why the session's reads must stay on the primary, if they must.
    pub reads_pinned: Option<&'static str>,
}

/// What the router needs to know of the configuration.
pub struct Topology<'a> {
    pub default_shard: usize,
    pub rules: &'a Rules,
}

/// Where one statement goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Run on one server of one shard, results streamed back unchanged.
    Single {
        shard: usize,
        role: Role,
        why: Why,
        /// The statement may change data (read-your-writes counts it as a write).
        writes: bool,
    },
    /// `USE schema`: check the user may use it, then run it on the primary.
    Use { schema: String, shard: usize },
    /// A statement the proxy answers itself.
    Admin(Admin),
}

/// Routes a COM_QUERY statement. Without sharding rules everything goes to the default shard.
pub fn route_query(sql: &[u8], view: &SessionView, topo: &Topology<'_>) -> Plan {
    let shard = topo.default_shard;
    if let Some(admin) = prescan::admin(sql) {
        return Plan::Admin(admin);
    }
    if let Some(schema) = prescan::use_schema(sql) {
        return Plan::Use { schema, shard };
    }
    let c = classify::classify(sql, topo.rules);
    let writes = may_write(&c.reason);
    let primary = |why| Plan::Single {
        shard,
        role: Role::Primary,
        why,
        writes,
    };
    if c.target == Target::Primary {
        return primary(Why::Statement(c.reason));
    }
    if view.user_primary_only {
        return primary(Why::UserDefaultRole);
    }
    if view.in_transaction {
        return primary(Why::Transaction);
    }
    if view.within_write_window {
        return primary(Why::ReadYourWrites);
    }
    if let Some(why) = view.reads_pinned {
        return primary(Why::Pinned(why));
    }
    Plan::Single {
        shard,
        role: Role::Replica,
        why: Why::Statement(c.reason),
        writes,
    }
}

/// Statements that may change data or session state on the primary.
fn may_write(reason: &Reason) -> bool {
    !matches!(
        reason,
        Reason::Read
            | Reason::HintPrimary
            | Reason::HintReplica
            | Reason::CriticalTable(_)
            | Reason::CriticalPattern(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(sql: &str, view: SessionView) -> Plan {
        let rules = Rules::new(&["orders".to_string()], &[]).expect("rules");
        let topo = Topology {
            default_shard: 1,
            rules: &rules,
        };
        route_query(sql.as_bytes(), &view, &topo)
    }

    fn role(p: &Plan) -> Option<Role> {
        match p {
            Plan::Single { role, .. } => Some(*role),
            _ => None,
        }
    }

    #[test]
    fn session_state_overrides_a_read() {
        let idle = SessionView::default();
        assert_eq!(role(&route("SELECT 1", idle)), Some(Role::Replica));
        for view in [
            SessionView {
                in_transaction: true,
                ..idle
            },
            SessionView {
                user_primary_only: true,
                ..idle
            },
            SessionView {
                within_write_window: true,
                ..idle
            },
        ] {
            assert_eq!(
                role(&route("SELECT 1", view)),
                Some(Role::Primary),
                "{view:?}"
            );
        }
    }

    #[test]
    fn writes_and_rules_go_to_the_primary() {
        let idle = SessionView::default();
        let p = route("UPDATE t SET a = 1", idle);
        assert!(
            matches!(
                p,
                Plan::Single {
                    role: Role::Primary,
                    writes: true,
                    ..
                }
            ),
            "{p:?}"
        );
        let p = route("SELECT * FROM orders", idle);
        assert!(
            matches!(
                p,
                Plan::Single {
                    role: Role::Primary,
                    writes: false,
                    ..
                }
            ),
            "{p:?}"
        );
        assert_eq!(
            route("USE shop", idle),
            Plan::Use {
                schema: "shop".into(),
                shard: 1
            }
        );
        assert_eq!(
            route("SHOW SHARDGATE BACKENDS", idle),
            Plan::Admin(Admin::ShowBackends)
        );
    }
}
