# shellcheck shell=bash
# Replica setup for docker/compose.yaml: points this server at its shard's primary with GTID
# replication, like setup_replica() in integration/sandbox.sh.
#
# The mariadb image runs this once, on the first start with an empty data volume, inside its
# temporary init server. Not executable on purpose: the entrypoint then *sources* it, so
# docker_process_sql (root over the init server's socket) is available; the fallback below
# covers being run as a separate program.
#
# Nothing is created here: the accounts and databases arrive by replication from the primary
# (docker/init/primary/10-users.sql is in the primary's binlog), and this server writes no
# binlog events of its own, so gtid_strict_mode stays satisfied. The server runs with
# --read-only=1 (compose.yaml). Replication starts in the init server and, because the
# master info now exists, again at every later start of the real server.

: "${SHARDGATE_PRIMARY_HOST:?set SHARDGATE_PRIMARY_HOST to the primary service name, e.g. s0-primary}"

if ! declare -F docker_process_sql >/dev/null; then
    docker_process_sql() {
        MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-}" mariadb --protocol=socket -uroot -hlocalhost "$@"
    }
fi

echo "replicating from ${SHARDGATE_PRIMARY_HOST}:3306 with GTID (slave_pos)"
docker_process_sql --database=mysql <<SQL
CHANGE MASTER TO
    MASTER_HOST='${SHARDGATE_PRIMARY_HOST}',
    MASTER_PORT=3306,
    MASTER_USER='repl',
    MASTER_PASSWORD='repl-pw',
    MASTER_USE_GTID=slave_pos,
    MASTER_CONNECT_RETRY=5;
START SLAVE;
SQL
