#!/usr/bin/env bash
# Benchmark (not a test) for read/write splitting, sysbench at 64 threads, text protocol
# (--db-ps-mode=disable: prepared statements still run on the primary) and --skip_trx=on
# (reads inside BEGIN..COMMIT stay on the primary by design):
#  - oltp_read_only directly against s0's primary vs through shardgate with s0's replica in
#    rotation: QPS, the proxy/direct ratio, and how many reads each server answered
#    (Com_select deltas read from the servers);
#  - oltp_point_select through shardgate without replicas (pass-through) vs with them: the
#    routing cost in proxy CPU per query.
# Needs the sandbox up and a release build. Recreates sbtest.sbtest1..4 (10000 rows).
#
# Environment: SHARDGATE_BIN, BENCH_TIME (default 10), BENCH_ROUNDS (default 3).
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
BENCH_TIME="${BENCH_TIME:-10}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
THREADS=64
WORK_DIR="$REPO_ROOT/target/bench-split"
RESULTS="$WORK_DIR/results.txt"
mkdir -p "$WORK_DIR"
: >"$RESULTS"
BASE="$(sandbox_port_base)"
PRIMARY_PORT="$BASE"
REPLICA_PORT="$((BASE + 1))"
CLK_TCK="$(getconf CLK_TCK)"

PLAIN_PID=""
cleanup() {
    stop_proxy
    PROXY_PID="$PLAIN_PID"
    stop_proxy
}
trap cleanup EXIT

# Two proxies side by side: pass-through (no replicas) and split.
PLAIN_PORT="$(free_port 16040)"
write_proxy_config "$WORK_DIR/plain.yaml" "$PLAIN_PORT"
sed -i '/replicas:/d' "$WORK_DIR/plain.yaml"
start_proxy "$SHARDGATE_BIN" "$WORK_DIR/plain.yaml" "$PLAIN_PORT" "$WORK_DIR/plain.log"
PLAIN_PID="$PROXY_PID"
SPLIT_PORT="$(free_port 16050)"
write_proxy_config "$WORK_DIR/split.yaml" "$SPLIT_PORT"
start_proxy "$SHARDGATE_BIN" "$WORK_DIR/split.yaml" "$SPLIT_PORT" "$WORK_DIR/split.log"
SPLIT_PID="$PROXY_PID"

server_sql() {
    mariadb --no-defaults -h127.0.0.1 -P"$1" -ushardgate -pshardgate-pw -N -e "$2"
}
com_select() {
    server_sql "$1" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }'
}

log "preparing 4 tables x 10000 rows directly on the primary"
run_sysbench "$WORK_DIR/cleanup.txt" oltp_read_only "${SYSBENCH_COMMON[@]}" --mysql-port="$PRIMARY_PORT" cleanup
run_sysbench "$WORK_DIR/prepare.txt" oltp_read_only "${SYSBENCH_COMMON[@]}" --mysql-port="$PRIMARY_PORT" --threads=4 prepare
gtid="$(server_sql "$PRIMARY_PORT" "SELECT @@gtid_binlog_pos")"
[[ "$(server_sql "$REPLICA_PORT" "SELECT MASTER_GTID_WAIT('$gtid', 60)")" == "0" ]] ||
    die "the replica did not catch up with the prepared tables"

# One run; prints "qps cpu_us_per_query primary_selects replica_selects".
measure() {
    local workload="$1" port="$2" pid="$3" out="$4"
    local p0 r0 t0 t1
    p0="$(com_select "$PRIMARY_PORT")"
    r0="$(com_select "$REPLICA_PORT")"
    t0=0
    [[ -n "$pid" ]] && t0="$(PROXY_PID="$pid" proxy_cpu_ticks)"
    run_sysbench "$out" "$workload" "${SYSBENCH_COMMON[@]}" --mysql-port="$port" \
        --threads="$THREADS" --time="$BENCH_TIME" --db-ps-mode=disable --skip_trx=on run
    t1=0
    [[ -n "$pid" ]] && t1="$(PROXY_PID="$pid" proxy_cpu_ticks)"
    awk -v q="$(total_queries "$out")" -v qps="$(queries_per_second "$out")" -v t="$((t1 - t0))" \
        -v hz="$CLK_TCK" -v p="$(($(com_select "$PRIMARY_PORT") - p0))" \
        -v r="$(($(com_select "$REPLICA_PORT") - r0))" \
        'BEGIN { printf "%s %s %d %d\n", qps, (q > 0) ? t / hz * 1e6 / q : 0, p, r }'
}

for round in $(seq 1 "$BENCH_ROUNDS"); do
    read -r d_qps _ d_p d_r < <(measure oltp_read_only "$PRIMARY_PORT" "" "$WORK_DIR/ro-direct-$round.txt")
    read -r s_qps s_cpu s_p s_r < <(measure oltp_read_only "$SPLIT_PORT" "$SPLIT_PID" "$WORK_DIR/ro-split-$round.txt")
    read -r _ plain_cpu _ _ < <(measure oltp_point_select "$PLAIN_PORT" "$PLAIN_PID" "$WORK_DIR/ps-plain-$round.txt")
    read -r _ routed_cpu _ _ < <(measure oltp_point_select "$SPLIT_PORT" "$SPLIT_PID" "$WORK_DIR/ps-split-$round.txt")
    echo "$d_qps $d_p $d_r $s_qps $s_cpu $s_p $s_r $plain_cpu $routed_cpu" >>"$RESULTS"
    log "round $round: read_only direct $d_qps qps (primary selects $d_p, replica $d_r); split $s_qps qps, $s_cpu us/query (primary selects $s_p, replica $s_r); point_select us/query pass-through $plain_cpu, routed $routed_cpu"
done

col() { awk -v c="$1" '{ print $c }' "$RESULTS" | median; }
echo
echo "shardgate read/write split benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, sysbench ${BENCH_TIME}s x $BENCH_ROUNDS rounds, $THREADS threads, --db-ps-mode=disable --skip_trx=on, 1 primary + 1 replica (weight 1)"
echo
echo "| oltp_read_only | QPS (median) | reads on primary | reads on replica | proxy µs CPU/query |"
echo "|---|---|---|---|---|"
awk -v q="$(col 1)" -v p="$(col 2)" -v r="$(col 3)" 'BEGIN { printf "| direct to primary | %.0f | %d | %d | - |\n", q, p, r }'
awk -v q="$(col 4)" -v p="$(col 6)" -v r="$(col 7)" -v c="$(col 5)" 'BEGIN { printf "| through shardgate (split) | %.0f | %d | %d | %.1f |\n", q, p, r, c }'
awk -v d="$(col 1)" -v s="$(col 4)" 'BEGIN { printf "\nsplit/direct QPS ratio: %.2f\n", (d > 0) ? s / d : 0 }'
awk -v a="$(col 8)" -v b="$(col 9)" 'BEGIN { printf "oltp_point_select proxy CPU per query: pass-through %.1f µs, with routing %.1f µs, routing cost %.1f µs\n", a, b, b - a }'
