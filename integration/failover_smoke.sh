#!/usr/bin/env bash
# Replica failover under load: sysbench oltp_read_only (--skip_trx, text protocol, 8 threads,
# 30 s) through shardgate with s0's replica in rotation. The replica's mariadbd is SIGKILLed
# after 8 s and restarted (integration/sandbox.sh up) after 18 s. Passes when sysbench sees
# zero errors, the replica served reads before the kill, and SHOW SHARDGATE BACKENDS reports
# it Up again, serving reads, at the end.
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
WORK_DIR="$REPO_ROOT/target/failover-smoke"
mkdir -p "$WORK_DIR"
BASE="$(sandbox_port_base)"
REPLICA_PORT="$((BASE + 1))"
trap stop_proxy EXIT

PROXY_PORT="$(free_port 16060)"
write_proxy_config "$WORK_DIR/shardgate.yaml" "$PROXY_PORT"
start_proxy "$SHARDGATE_BIN" "$WORK_DIR/shardgate.yaml" "$PROXY_PORT" "$WORK_DIR/shardgate.log"

server_sql() {
    mariadb --no-defaults -h127.0.0.1 -P"$1" -ushardgate -pshardgate-pw -N -e "$2"
}
replica_row() {
    mariadb --no-defaults -h127.0.0.1 -P"$PROXY_PORT" -uadmin -padmin-pw -N \
        -e "SHOW SHARDGATE BACKENDS" | awk -v p=":$REPLICA_PORT" '$2 == "replica" && index($0, p)'
}

SB=(sysbench oltp_read_only "${SYSBENCH_CONN[@]}" --mysql-port="$PROXY_PORT" --tables=2 --table-size=1000)
run_sysbench "$WORK_DIR/cleanup.txt" oltp_read_only "${SYSBENCH_CONN[@]}" --mysql-port="$BASE" --tables=2 cleanup
run_sysbench "$WORK_DIR/prepare.txt" oltp_read_only "${SYSBENCH_CONN[@]}" --mysql-port="$BASE" --tables=2 --table-size=1000 prepare
# Wait up to TENTHS tenths of a second for shardgate to report the replica Up.
wait_replica_up() {
    local tenths="$1" waited=0
    until replica_row | grep -q "Up"; do
        ((waited++ < tenths)) || die "shardgate does not report the replica Up: $(replica_row)"
        sleep 0.1
    done
}

gtid="$(server_sql "$BASE" "SELECT @@gtid_binlog_pos")"
[[ "$(server_sql "$REPLICA_PORT" "SELECT MASTER_GTID_WAIT('$gtid', 60)")" == "0" ]] || die "replica did not catch up"
wait_replica_up 100
selects_before="$(server_sql "$REPLICA_PORT" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }')"

log "sysbench oltp_read_only for 30 s through shardgate; the replica is killed at 8 s, restarted at 18 s"
"${SB[@]}" --threads=8 --time=30 --db-ps-mode=disable --skip_trx=on run >"$WORK_DIR/run.txt" 2>&1 &
sysbench_pid=$!
sleep 8
selects_at_kill="$(server_sql "$REPLICA_PORT" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }')"
((selects_at_kill > selects_before + 1000)) || die "the replica served no reads before the kill"
kill -9 "$(cat "$SANDBOX_DIR/s0-replica/mysqld.pid")"
log "replica SIGKILLed"
sleep 10
"$REPO_ROOT/integration/sandbox.sh" up >"$WORK_DIR/restart.txt" 2>&1 || { cat "$WORK_DIR/restart.txt" >&2; die "replica restart failed"; }
log "replica restarted"
status=0
wait "$sysbench_pid" || status=$?
if ((status != 0)) || grep -q "FATAL" "$WORK_DIR/run.txt"; then
    cat "$WORK_DIR/run.txt" >&2
    die "sysbench failed during the replica failover (exit $status)"
fi
errors="$(awk '/ignored errors:/ { print $3; exit }' "$WORK_DIR/run.txt")"
[[ "$errors" == "0" ]] || die "sysbench saw $errors errors during the failover"
queries="$(total_queries "$WORK_DIR/run.txt")"

wait_replica_up 300
selects_after_restart="$(server_sql "$REPLICA_PORT" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }')"
"${SB[@]}" --threads=4 --time=3 --db-ps-mode=disable --skip_trx=on run >"$WORK_DIR/after.txt" 2>&1 || die "sysbench after the restart failed"
selects_end="$(server_sql "$REPLICA_PORT" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }')"
((selects_end > selects_after_restart + 1000)) || die "the restarted replica serves no reads"
run_sysbench "$WORK_DIR/cleanup-end.txt" oltp_read_only "${SYSBENCH_CONN[@]}" --mysql-port="$BASE" --tables=2 cleanup
echo "failover-smoke: $queries queries with the replica killed and restarted, 0 errors; replica back in rotation"
