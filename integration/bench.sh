#!/usr/bin/env bash
# Benchmark (not a test): sysbench oltp_point_select and oltp_read_only at 16
# and 64 threads, alternating runs directly against s0's primary and through
# shardgate, and shardgate's memory with many idle client connections.
# Prints a markdown table of median QPS, the proxy/direct ratio and shardgate's
# CPU time per query. Needs the sandbox up (integration/sandbox.sh up) and a
# release build (cargo build --release). The sysbench tables (sbtest.sbtest1..4,
# 10000 rows each) are recreated at the start and left in place at the end.
#
# Environment:
#   SHARDGATE_BIN      shardgate binary (default target/release/shardgate)
#   BENCH_TIME         seconds per sysbench run (default 10)
#   BENCH_ROUNDS       direct/proxy rounds per workload and thread count (default 3)
#   BENCH_PS_MODE      sysbench --db-ps-mode, auto (prepared statements) or disable (default auto)
#   BENCH_CONNECTIONS  idle client connections for the memory measurement (default 1000)
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
BENCH_TIME="${BENCH_TIME:-10}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
BENCH_PS_MODE="${BENCH_PS_MODE:-auto}"
BENCH_CONNECTIONS="${BENCH_CONNECTIONS:-1000}"
WORKLOADS=(oltp_point_select oltp_read_only)
THREAD_COUNTS=(16 64)

WORK_DIR="$REPO_ROOT/target/bench"
RESULTS="$WORK_DIR/results.txt"
mkdir -p "$WORK_DIR"
: >"$RESULTS"

DIRECT_PORT="$(sandbox_port_base)"
CLK_TCK="$(getconf CLK_TCK)"
HOLDER_PID=""

cleanup() {
    if [[ -n "$HOLDER_PID" ]]; then
        kill "$HOLDER_PID" 2>/dev/null || true
        wait "$HOLDER_PID" 2>/dev/null || true
    fi
    stop_proxy
}
trap cleanup EXIT

# One timed sysbench run of WORKLOAD with THREADS against 127.0.0.1:PORT.
bench_run() {
    local workload="$1" threads="$2" port="$3" output_file="$4"
    run_sysbench "$output_file" "$workload" "${SYSBENCH_COMMON[@]}" --mysql-port="$port" \
        --threads="$threads" --time="$BENCH_TIME" --db-ps-mode="$BENCH_PS_MODE" run
}

# ---------------------------------------------------------------- setup

PROXY_PORT="$(free_port 16034)"
write_proxy_config "$WORK_DIR/shardgate.yaml" "$PROXY_PORT"
# Pass-through: no replicas, so every statement goes to s0's primary like the direct runs.
sed -i '/replicas:/d' "$WORK_DIR/shardgate.yaml"
# The pool section's max_connections (indented), not max_client_connections. Each client
# session holds one backend connection for its life (until multiplexing lands), so the pool
# must fit the idle clients of the memory measurement; the QPS runs use at most 64 of them.
sed -i "s/^  max_connections: .*/  max_connections: $((BENCH_CONNECTIONS + 64))/" "$WORK_DIR/shardgate.yaml"
start_proxy "$SHARDGATE_BIN" "$WORK_DIR/shardgate.yaml" "$PROXY_PORT" "$WORK_DIR/shardgate.log"

log "preparing 4 tables x 10000 rows directly on 127.0.0.1:$DIRECT_PORT"
run_sysbench "$WORK_DIR/cleanup-before.txt" oltp_read_only "${SYSBENCH_COMMON[@]}" --mysql-port="$DIRECT_PORT" cleanup
run_sysbench "$WORK_DIR/prepare.txt" oltp_read_only "${SYSBENCH_COMMON[@]}" --mysql-port="$DIRECT_PORT" --threads=4 prepare

# ---------------------------------------------------------------- memory

sleep 1
rss_idle_kb="$(proxy_rss_kb)"
log "opening $BENCH_CONNECTIONS idle client connections through shardgate"
ready_file="$WORK_DIR/connections.ready"
rm -f "$ready_file"
python3 "$REPO_ROOT/integration/hold_connections.py" 127.0.0.1 "$PROXY_PORT" sbtest sbtest-pw \
    "$BENCH_CONNECTIONS" "$ready_file" 600 &
HOLDER_PID=$!
waited=0
while [[ ! -s "$ready_file" ]] && kill -0 "$HOLDER_PID" 2>/dev/null && ((waited < 1200)); do
    sleep 0.1
    waited=$((waited + 1))
done
memory_line=""
if [[ "$(cat "$ready_file" 2>/dev/null)" == "ready $BENCH_CONNECTIONS" ]]; then
    sleep 1
    rss_busy_kb="$(proxy_rss_kb)"
    memory_line="$(awk -v idle="$rss_idle_kb" -v busy="$rss_busy_kb" -v n="$BENCH_CONNECTIONS" 'BEGIN {
        printf "shardgate RSS: idle %.1f MB, with %d idle client connections %.1f MB, delta %.1f MB (%.1f KB per connection)",
            idle / 1024, n, busy / 1024, (busy - idle) / 1024, (busy - idle) / n }')"
else
    memory_line="shardgate RSS: idle $((rss_idle_kb / 1024)) MB; opening $BENCH_CONNECTIONS connections FAILED: $(cat "$ready_file" 2>/dev/null || echo 'holder exited or timed out')"
fi
kill "$HOLDER_PID" 2>/dev/null || true
wait "$HOLDER_PID" 2>/dev/null || true
HOLDER_PID=""
log "$memory_line"

# ---------------------------------------------------------------- throughput

for workload in "${WORKLOADS[@]}"; do
    for threads in "${THREAD_COUNTS[@]}"; do
        for round in $(seq 1 "$BENCH_ROUNDS"); do
            out="$WORK_DIR/$workload-$threads-$round-direct.txt"
            bench_run "$workload" "$threads" "$DIRECT_PORT" "$out"
            direct_qps="$(queries_per_second "$out")"

            out="$WORK_DIR/$workload-$threads-$round-proxy.txt"
            ticks_before="$(proxy_cpu_ticks)"
            bench_run "$workload" "$threads" "$PROXY_PORT" "$out"
            ticks_after="$(proxy_cpu_ticks)"
            proxy_qps="$(queries_per_second "$out")"
            cpu_us_per_query="$(awk -v t="$((ticks_after - ticks_before))" -v hz="$CLK_TCK" -v q="$(total_queries "$out")" \
                'BEGIN { print (q > 0) ? t / hz * 1e6 / q : 0 }')"

            echo "$workload $threads $direct_qps $proxy_qps $cpu_us_per_query" >>"$RESULTS"
            log "$workload threads=$threads round $round: direct $direct_qps qps, proxy $proxy_qps qps, proxy $cpu_us_per_query us CPU/query"
        done
    done
done

# ---------------------------------------------------------------- report

echo
echo "shardgate benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(mariadbd --version 2>/dev/null | awk '{ print $3 }' || true)"
echo "sysbench ${BENCH_TIME}s per run, $BENCH_ROUNDS rounds, --db-ps-mode=$BENCH_PS_MODE, 4 tables x 10000 rows; sysbench, MariaDB and shardgate share the machine"
echo
echo "| workload | threads | direct QPS (median) | proxy QPS (median) | proxy/direct | proxy µs CPU/query (median) |"
echo "|---|---|---|---|---|---|"
for workload in "${WORKLOADS[@]}"; do
    for threads in "${THREAD_COUNTS[@]}"; do
        rows="$(awk -v w="$workload" -v t="$threads" '$1 == w && $2 == t' "$RESULTS")"
        direct="$(awk '{ print $3 }' <<<"$rows" | median)"
        proxy="$(awk '{ print $4 }' <<<"$rows" | median)"
        cpu="$(awk '{ print $5 }' <<<"$rows" | median)"
        awk -v w="$workload" -v t="$threads" -v d="$direct" -v p="$proxy" -v c="$cpu" \
            'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2f | %.1f |\n", w, t, d, p, (d > 0) ? p / d : 0, c }'
    done
done
echo
echo "$memory_line"
