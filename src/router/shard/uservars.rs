//! User variables on sharded schemas: they live on the session's connection to the default
//! shard, so a statement that reads or assigns one may only run there. Anywhere else it would
//! read NULL or set a variable the session never sees again: refused by name instead.

use super::error::ShardError;
use super::plan::{ShardedKind, ShardedPlan};
use crate::router::Role;
use crate::router::lexer::{Lexer, TokenKind};

/// Does `sql` read or assign a user variable (`@name`; `'user'@'host'` account names do not
/// count)?
pub fn mentions_user_variables(sql: &[u8]) -> bool {
    let mut name_end = usize::MAX;
    for t in Lexer::new(sql) {
        if t.kind == TokenKind::UserVar && name_end != t.start {
            return true;
        }
        name_end = match t.kind {
            TokenKind::Word | TokenKind::QuotedIdent | TokenKind::Str => t.end,
            _ => usize::MAX,
        };
    }
    false
}

/// Refuses `plan` for `sql` when the statement uses user variables and does not run, whole, on
/// the session's primary connection of `default_shard`.
pub fn check(sql: &[u8], plan: &ShardedPlan, default_shard: usize) -> Result<(), ShardError> {
    let on_session_connection = plan.kind == ShardedKind::Single
        && plan.role == Role::Primary
        && plan
            .targets
            .first()
            .is_some_and(|t| t.shard == default_shard);
    if on_session_connection || !mentions_user_variables(sql) {
        return Ok(());
    }
    let tables: Vec<String> = plan
        .targets
        .iter()
        .flat_map(|t| t.tables.iter().cloned())
        .fold(Vec::new(), |mut acc, t| {
            if !acc.contains(&t) {
                acc.push(t);
            }
            acc
        });
    Err(ShardError::unsupported(
        &tables,
        "user variables (@name) in a statement that runs on another shard than the default \
         one, or on several: they live on the session's connection to the default shard \
         (pass the value as a literal or a parameter instead)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::shard::plan::ShardTarget;

    fn plan(kind: ShardedKind, shards: &[usize], role: Role) -> ShardedPlan {
        ShardedPlan {
            targets: shards
                .iter()
                .map(|&shard| ShardTarget {
                    shard,
                    sql: String::new(),
                    tables: vec![format!("orders_{shard}")],
                })
                .collect(),
            role,
            kind,
        }
    }

    #[test]
    fn user_variables_are_found_but_not_account_names() {
        assert!(mentions_user_variables(b"SELECT * FROM t WHERE a > @x"));
        assert!(mentions_user_variables(b"SELECT @x := id FROM t"));
        assert!(mentions_user_variables(b"UPDATE t SET a = @`x y`"));
        assert!(!mentions_user_variables(
            b"SELECT * FROM t WHERE u = 'a@b.c'"
        ));
        assert!(!mentions_user_variables(b"GRANT SELECT ON t TO 'u'@'%'"));
        assert!(!mentions_user_variables(
            b"SELECT @@session.sql_mode FROM t"
        ));
    }

    #[test]
    fn only_the_default_shard_s_primary_may_use_them() {
        let sql = b"SELECT * FROM orders WHERE amount > @x";
        assert_eq!(
            check(sql, &plan(ShardedKind::Single, &[0], Role::Primary), 0),
            Ok(())
        );
        for p in [
            plan(ShardedKind::Single, &[1], Role::Primary),
            plan(ShardedKind::Single, &[0], Role::Replica),
            plan(ShardedKind::MultiWrite, &[0, 1], Role::Primary),
            plan(ShardedKind::MultiWrite, &[0, 0], Role::Primary),
        ] {
            let e = check(sql, &p, 0).expect_err("refused");
            assert!(e.to_string().contains("user variables"), "{e}");
        }
        let plain = b"SELECT * FROM orders WHERE amount > 5";
        assert_eq!(
            check(plain, &plan(ShardedKind::Single, &[1], Role::Primary), 0),
            Ok(())
        );
    }
}
