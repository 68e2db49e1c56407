#!/usr/bin/env bash
# Benchmark (not a test) for connection multiplexing (issue 5): many client
# connections through a small backend pool.
#
# 1. sysbench oltp_point_select (prepared statements by default) at each thread
#    count of BENCH_THREADS, alternating runs directly against s0's primary and
#    through shardgate, whose pool holds at most BENCH_POOL_MAX connections per
#    backend (pass-through config: no replicas, every statement goes to s0's
#    primary like the direct runs). Per thread count: median QPS of both, their
#    ratio, median p95 latency of both, shardgate's CPU time per query (from
#    /proc/PID/stat), and the most backend connections shardgate held (sampled
#    every 0.5 s on the backend from information_schema.PROCESSLIST during the
#    proxy runs). A failed or timed-out sysbench run is recorded (with the
#    reason, see the notes under the table) and the benchmark goes on.
# 2. shardgate's RSS (VmRSS) with BENCH_IDLE_CONNECTIONS idle, logged-in client
#    connections (integration/hold_connections.py), before and while they are
#    held, per connection, and the backend connections held meanwhile. If not
#    all of them log in, the ones that did are measured and the failure reported.
#
# Prerequisites: the sandbox up (integration/sandbox.sh up), a release build
# (cargo build --release), sysbench, the mariadb client, python3 (standard
# library only). The script raises its open-files limit (ulimit -n) to the hard
# limit, for sysbench, shardgate and the connection holder (they inherit it),
# and raises the primary's max_connections (SET GLOBAL, restored at exit) so
# that the direct runs can open as many connections as sysbench has threads.
# The sysbench tables (sbtest.sbtest1..4, 10000 rows each) are recreated at the
# start and left in place at the end. Output: a markdown table on stdout;
# progress on stderr; every sysbench output under target/bench_mux/.
#
# Environment:
#   SHARDGATE_BIN                 shardgate binary (default target/release/shardgate)
#   BENCH_TIME                    seconds per sysbench run (default 10)
#   BENCH_ROUNDS                  direct/proxy rounds per thread count (default 3)
#   BENCH_THREADS                 sysbench thread counts, space-separated (default "64 256 1024 2048")
#   BENCH_POOL_MAX                shardgate pool.max_connections per backend (default 32)
#   BENCH_PS_MODE                 sysbench --db-ps-mode: auto (prepared statements) or disable (default auto)
#   BENCH_IDLE_CONNECTIONS        idle client connections for the memory measurement (default 10000)
#   BENCH_SERVER_MAX_CONNECTIONS  max_connections set on s0's primary for the run (default 4000)
#   BENCH_CHECKOUT_TIMEOUT_MS     shardgate pool.checkout_timeout_ms (default: conf/sandbox.yaml's)
#   BENCH_IGNORE_ERRORS           sysbench --mysql-ignore-errors (default: sysbench's own, i.e. deadlocks
#                                 only; "all" counts errors per run instead of ending the run at the first)
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
BENCH_TIME="${BENCH_TIME:-10}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
BENCH_THREADS="${BENCH_THREADS:-64 256 1024 2048}"
BENCH_POOL_MAX="${BENCH_POOL_MAX:-32}"
BENCH_PS_MODE="${BENCH_PS_MODE:-auto}"
BENCH_IDLE_CONNECTIONS="${BENCH_IDLE_CONNECTIONS:-10000}"
BENCH_SERVER_MAX_CONNECTIONS="${BENCH_SERVER_MAX_CONNECTIONS:-4000}"
BENCH_CHECKOUT_TIMEOUT_MS="${BENCH_CHECKOUT_TIMEOUT_MS:-}"
BENCH_IGNORE_ERRORS="${BENCH_IGNORE_ERRORS:-}"

read -r -a THREAD_COUNTS <<<"$BENCH_THREADS"
((${#THREAD_COUNTS[@]} > 0)) || die "BENCH_THREADS is empty"
MAX_THREADS=0
for threads in "${THREAD_COUNTS[@]}"; do
    [[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS: '$threads' is not a positive integer"
    if ((threads > MAX_THREADS)); then
        MAX_THREADS="$threads"
    fi
done
for var in BENCH_TIME BENCH_ROUNDS BENCH_POOL_MAX BENCH_IDLE_CONNECTIONS BENCH_SERVER_MAX_CONNECTIONS; do
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a non-negative integer, not '${!var}'"
done

WORK_DIR="$REPO_ROOT/target/bench_mux"
RESULTS="$WORK_DIR/results.txt" # threads mode round status qps p95_ms cpu_us errors max_backend_conns
REASONS="$WORK_DIR/failures.txt" # threads mode round reason
mkdir -p "$WORK_DIR"
: >"$RESULTS"
: >"$REASONS"

DIRECT_PORT="$(sandbox_port_base)"
CLK_TCK="$(getconf CLK_TCK)"
NOTES=() # limits found on the way, printed under the report
HOLDER_PID=""
SAMPLER_PID=""
ORIG_SERVER_MAX_CONNECTIONS=""
PROXY_RESTARTS=0

# SQL on s0's primary as sbtest, straight to its port (not through shardgate).
server_sql() {
    mariadb --no-defaults -h127.0.0.1 -P"$DIRECT_PORT" -usbtest -psbtest-pw \
        --connect-timeout=5 --batch --skip-column-names -e "$1"
}

stop_sampler() {
    if [[ -n "$SAMPLER_PID" ]]; then
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
}

stop_holder() {
    if [[ -n "$HOLDER_PID" ]]; then
        kill "$HOLDER_PID" 2>/dev/null || true
        wait "$HOLDER_PID" 2>/dev/null || true
        HOLDER_PID=""
    fi
}

cleanup() {
    stop_sampler
    stop_holder
    stop_proxy
    if [[ -n "$ORIG_SERVER_MAX_CONNECTIONS" ]]; then
        server_sql "SET GLOBAL max_connections = $ORIG_SERVER_MAX_CONNECTIONS" ||
            log "could not restore max_connections=$ORIG_SERVER_MAX_CONNECTIONS on 127.0.0.1:$DIRECT_PORT"
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- limits

# sysbench, shardgate and the holder inherit this shell's limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
# shardgate: a client socket per connection plus (until multiplexing) a backend
# socket per session; the holder: one socket per connection.
fds_needed=$((2 * MAX_THREADS + 256))
if ((BENCH_IDLE_CONNECTIONS + BENCH_POOL_MAX + 256 > fds_needed)); then
    fds_needed=$((BENCH_IDLE_CONNECTIONS + BENCH_POOL_MAX + 256))
fi
if [[ "$NOFILE" != unlimited ]] && ((NOFILE < fds_needed)); then
    NOTES+=("open-files limit (ulimit -n) is $NOFILE, below the ~$fds_needed that shardgate may need; expect 'Too many open files'")
fi

ORIG_SERVER_MAX_CONNECTIONS="$(server_sql 'SELECT @@GLOBAL.max_connections')" ||
    die "cannot reach s0's primary on 127.0.0.1:$DIRECT_PORT (integration/sandbox.sh up)"
if ! server_sql "SET GLOBAL max_connections = $BENCH_SERVER_MAX_CONNECTIONS" 2>"$WORK_DIR/set-max-connections.err"; then
    NOTES+=("SET GLOBAL max_connections = $BENCH_SERVER_MAX_CONNECTIONS failed: $(head -n 1 "$WORK_DIR/set-max-connections.err")")
fi
SERVER_MAX_CONNECTIONS="$(server_sql 'SELECT @@GLOBAL.max_connections')"
SERVER_OPEN_FILES="$(server_sql 'SELECT @@GLOBAL.open_files_limit')"
# The direct runs' threads, plus the replica's binlog dump, the sampler and some slack.
if ((SERVER_MAX_CONNECTIONS < MAX_THREADS + 10)); then
    NOTES+=("the primary's max_connections is $SERVER_MAX_CONNECTIONS, too few for $MAX_THREADS direct connections: direct runs above ~$((SERVER_MAX_CONNECTIONS - 10)) threads fail with 1040 Too many connections")
fi
if ((SERVER_OPEN_FILES < MAX_THREADS + 200)); then
    NOTES+=("the primary's open_files_limit is $SERVER_OPEN_FILES (fixed at its start, from its ulimit -n), close to or below $MAX_THREADS connections")
fi
log "s0 primary: max_connections $ORIG_SERVER_MAX_CONNECTIONS -> $SERVER_MAX_CONNECTIONS, open_files_limit $SERVER_OPEN_FILES; ulimit -n $NOFILE"

# ---------------------------------------------------------------- proxy

PROXY_PORT="$(free_port 16037)"
CONFIG="$WORK_DIR/shardgate.yaml"
write_proxy_config "$CONFIG" "$PROXY_PORT"
# Pass-through: no replicas, so every statement goes to s0's primary like the direct runs.
sed -i '/replicas:/d' "$CONFIG"
max_clients=$((MAX_THREADS > BENCH_IDLE_CONNECTIONS ? MAX_THREADS : BENCH_IDLE_CONNECTIONS))
max_clients=$((max_clients + 64))
sed -i "s/^max_client_connections: .*/max_client_connections: $max_clients/" "$CONFIG"
# The pool section's max_connections (indented), not max_client_connections.
sed -i "s/^  max_connections: .*/  max_connections: $BENCH_POOL_MAX/" "$CONFIG"
if [[ -n "$BENCH_CHECKOUT_TIMEOUT_MS" ]]; then
    sed -i "s/^  checkout_timeout_ms: .*/  checkout_timeout_ms: $BENCH_CHECKOUT_TIMEOUT_MS/" "$CONFIG"
fi
grep -q "^max_client_connections: $max_clients\$" "$CONFIG" || die "could not set max_client_connections in $CONFIG"
grep -q "^  max_connections: $BENCH_POOL_MAX\$" "$CONFIG" || die "could not set pool.max_connections in $CONFIG"
CHECKOUT_TIMEOUT_MS="$(awk '$1 == "checkout_timeout_ms:" { print $2; exit }' "$CONFIG")"
BACKEND_USER="$(awk '/^backend:/ { b = 1; next } b && $1 == "user:" { print $2; exit }' "$CONFIG")"
[[ -n "$BACKEND_USER" && "$BACKEND_USER" != sbtest ]] || die "unexpected backend user '$BACKEND_USER' in $CONFIG"

start_proxy "$SHARDGATE_BIN" "$CONFIG" "$PROXY_PORT" "$WORK_DIR/shardgate.log"

# Restart shardgate if it died (a crash under load must not end the benchmark).
ensure_proxy() {
    local when="$1"
    if [[ -n "$PROXY_PID" ]] && kill -0 "$PROXY_PID" 2>/dev/null; then
        return
    fi
    PROXY_RESTARTS=$((PROXY_RESTARTS + 1))
    NOTES+=("shardgate exited $when (log: $WORK_DIR/shardgate*.log); restarted")
    log "shardgate exited $when; restarting"
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
    start_proxy "$SHARDGATE_BIN" "$CONFIG" "$PROXY_PORT" "$WORK_DIR/shardgate-restart-$PROXY_RESTARTS.log"
}

# Backend connections shardgate holds on s0's primary.
backend_connections() {
    server_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '$BACKEND_USER'"
}

# Sample backend_connections into FILE every ~0.5 s in the background.
start_sampler() {
    local file="$1"
    : >"$file"
    (
        while true; do
            backend_connections >>"$file" 2>/dev/null || true
            sleep 0.5
        done
    ) &
    SAMPLER_PID=$!
}

log "preparing 4 tables x 10000 rows directly on 127.0.0.1:$DIRECT_PORT"
run_sysbench "$WORK_DIR/cleanup-before.txt" oltp_read_only "${SYSBENCH_COMMON[@]}" --mysql-port="$DIRECT_PORT" cleanup
run_sysbench "$WORK_DIR/prepare.txt" oltp_read_only "${SYSBENCH_COMMON[@]}" --mysql-port="$DIRECT_PORT" --threads=4 prepare

# ---------------------------------------------------------------- memory

sleep 1
rss_idle_kb="$(proxy_rss_kb)"
backend_idle="$(backend_connections)"
log "opening $BENCH_IDLE_CONNECTIONS idle client connections through shardgate"
ready_file="$WORK_DIR/connections.ready"
rm -f "$ready_file"
python3 "$REPO_ROOT/integration/hold_connections.py" --partial 127.0.0.1 "$PROXY_PORT" sbtest sbtest-pw \
    "$BENCH_IDLE_CONNECTIONS" "$ready_file" 3600 &
HOLDER_PID=$!
# Logins are sequential; allow 20 ms each plus two minutes.
wait_limit=$((BENCH_IDLE_CONNECTIONS / 5 + 1200))
waited=0
while [[ ! -s "$ready_file" ]] && kill -0 "$HOLDER_PID" 2>/dev/null && ((waited < wait_limit)); do
    sleep 0.1
    waited=$((waited + 1))
done
holder_state="$(cat "$ready_file" 2>/dev/null || echo 'holder exited or timed out')"
held=0
if [[ "$holder_state" =~ ^(ready|partial)\ ([0-9]+) ]]; then
    held="${BASH_REMATCH[2]}"
fi
if ((held > 0)); then
    sleep 2
    rss_busy_kb="$(proxy_rss_kb)"
    backend_busy="$(backend_connections)"
    memory_line="$(awk -v idle="$rss_idle_kb" -v busy="$rss_busy_kb" -v n="$held" 'BEGIN {
        printf "shardgate RSS: idle %.1f MB, with %d idle client connections %.1f MB, delta %.1f MB (%.1f KB per connection)",
            idle / 1024, n, busy / 1024, (busy - idle) / 1024, (busy - idle) / n }')"
    memory_line="$memory_line; backend connections held: $backend_idle before, $backend_busy with them"
else
    memory_line="shardgate RSS: idle $((rss_idle_kb / 1024)) MB; no idle client connection could be measured"
fi
if [[ "$holder_state" != "ready $BENCH_IDLE_CONNECTIONS" ]]; then
    memory_line="$memory_line. NOT all $BENCH_IDLE_CONNECTIONS connections logged in: $holder_state"
fi
stop_holder
log "$memory_line"
if ! kill -0 "$PROXY_PID" 2>/dev/null; then
    NOTES+=("shardgate exited during the idle-connections measurement (log: $WORK_DIR/shardgate.log)")
fi
# A fresh shardgate for the throughput runs: none of the memory measurement's pooled
# backend connections (kept until idle_timeout_ms) in the backend connection counts.
stop_proxy
start_proxy "$SHARDGATE_BIN" "$CONFIG" "$PROXY_PORT" "$WORK_DIR/shardgate-throughput.log"

# ---------------------------------------------------------------- throughput

# One timed oltp_point_select run with THREADS against 127.0.0.1:PORT; never fails.
# Prints sysbench's exit status (124: killed by the timeout).
bench_run() {
    local threads="$1" port="$2" output_file="$3" rc=0
    local options=("${SYSBENCH_COMMON[@]}" --mysql-port="$port" --threads="$threads"
        --time="$BENCH_TIME" --db-ps-mode="$BENCH_PS_MODE")
    if [[ -n "$BENCH_IGNORE_ERRORS" ]]; then
        options+=(--mysql-ignore-errors="$BENCH_IGNORE_ERRORS")
    fi
    # Connecting thousands of threads takes a while on 2 cores; a hung run is killed.
    timeout -k 10 "$((BENCH_TIME + 120 + threads / 10))" \
        sysbench oltp_point_select "${options[@]}" run >"$output_file" 2>&1 || rc=$?
    echo "$rc"
}

# From sysbench's latency section: "95th percentile:   0.31" (ms).
p95_latency() {
    awk '$1 == "95th" && $2 == "percentile:" { print $3; exit }' "$1"
}

# "ignored errors: 12 (0.40 per sec.)"
ignored_errors() {
    local n
    n="$(awk '$1 == "ignored" && $2 == "errors:" { print $3; exit }' "$1")"
    echo "${n:-0}"
}

# Why a run failed: its distinct error lines, those with a server error code
# first, then the most frequent, with counts (ports, thread numbers and times
# blanked so that equal errors group).
failure_reason() {
    local output_file="$1" rc="$2" lines
    lines="$(grep -E 'FATAL|[Ee]rror|Too many' "$output_file" | grep -v 'ignored errors:' |
        sed -E -e 's/port [0-9]+/port N/g' -e 's/[Tt]hread ?#?[0-9]+/thread N/g' -e 's/[0-9]+ ms/N ms/g' |
        sort | uniq -c |
        awk '{ n = $1; $1 = ""; sub(/^ /, ""); print ($0 ~ /error [0-9]+/ ? 0 : 1), n, $0 }' |
        sort -k1,1n -k2,2nr | head -n 2 |
        awk '{ n = $2; $1 = ""; $2 = ""; sub(/^  /, ""); printf "%s%s (x%d)", (NR > 1 ? "; " : ""), $0, n }')" || true
    if ((rc == 124 || rc == 137)); then
        lines="timed out${lines:+: $lines}"
    fi
    echo "${lines:-exit status $rc, no error line (see the output file)}"
}

# Record one run: ok if sysbench exited 0 and printed its statistics.
record_run() {
    local threads="$1" mode="$2" round="$3" output_file="$4" rc="$5" cpu_ticks="$6" max_conns="$7"
    local qps p95 cpu queries
    qps="$(queries_per_second "$output_file")"
    p95="$(p95_latency "$output_file")"
    queries="$(total_queries "$output_file")"
    if ((rc == 0)) && [[ -n "$qps" && -n "$p95" ]]; then
        cpu="-"
        if [[ "$cpu_ticks" != "-" ]]; then
            cpu="$(awk -v t="$cpu_ticks" -v hz="$CLK_TCK" -v q="$queries" 'BEGIN { print (q > 0) ? t / hz * 1e6 / q : 0 }')"
        fi
        echo "$threads $mode $round ok $qps $p95 $cpu $(ignored_errors "$output_file") $max_conns" >>"$RESULTS"
        log "threads=$threads round $round $mode: $qps qps, p95 $p95 ms, CPU/query ${cpu} us, ignored errors $(ignored_errors "$output_file"), backend connections (max) $max_conns"
    else
        local reason
        reason="$(failure_reason "$output_file" "$rc")"
        echo "$threads $mode $round failed - - - - $max_conns" >>"$RESULTS"
        echo "$threads $mode $round $reason" >>"$REASONS"
        log "threads=$threads round $round $mode: FAILED ($reason), output $output_file"
    fi
}

proxy_cpu_ticks_or_empty() {
    proxy_cpu_ticks 2>/dev/null || true
}

for threads in "${THREAD_COUNTS[@]}"; do
    for round in $(seq 1 "$BENCH_ROUNDS"); do
        out="$WORK_DIR/point_select-$threads-$round-direct.txt"
        rc="$(bench_run "$threads" "$DIRECT_PORT" "$out")"
        record_run "$threads" direct "$round" "$out" "$rc" - -

        out="$WORK_DIR/point_select-$threads-$round-proxy.txt"
        samples="$WORK_DIR/backend-connections-$threads-$round.txt"
        ticks_before="$(proxy_cpu_ticks_or_empty)"
        start_sampler "$samples"
        rc="$(bench_run "$threads" "$PROXY_PORT" "$out")"
        stop_sampler
        ticks_after="$(proxy_cpu_ticks_or_empty)"
        max_conns="$(sort -n "$samples" | tail -n 1)"
        cpu_ticks="-"
        if [[ -n "$ticks_before" && -n "$ticks_after" ]]; then
            cpu_ticks=$((ticks_after - ticks_before))
        fi
        record_run "$threads" proxy "$round" "$out" "$rc" "$cpu_ticks" "${max_conns:--}"
        ensure_proxy "during the proxy run with $threads threads, round $round"
    done
done

# ---------------------------------------------------------------- report

# Median of column COL of the ok runs of THREADS/MODE, printf'd with FORMAT; "–" if none.
median_of() {
    local threads="$1" mode="$2" col="$3" format="$4" values
    values="$(awk -v t="$threads" -v m="$mode" -v c="$col" '$1 == t && $2 == m && $4 == "ok" && $c != "-" { print $c }' "$RESULTS")"
    if [[ -z "$values" ]]; then
        echo "–"
    else
        median <<<"$values" | awk -v f="$format" '{ printf f, $1 }'
    fi
}

ok_runs() {
    awk -v t="$1" -v m="$2" '$1 == t && $2 == m { n++; if ($4 == "ok") ok++ } END { printf "%d/%d", ok, n }' "$RESULTS"
}

echo
echo "shardgate multiplexing benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, sysbench $(sysbench --version | awk '{ print $2 }'), MariaDB $(server_sql 'SELECT VERSION()')"
echo "oltp_point_select, ${BENCH_TIME}s per run, $BENCH_ROUNDS rounds, --db-ps-mode=$BENCH_PS_MODE${BENCH_IGNORE_ERRORS:+, --mysql-ignore-errors=$BENCH_IGNORE_ERRORS}, 4 tables x 10000 rows;" \
    "shardgate pool.max_connections=$BENCH_POOL_MAX, checkout_timeout_ms=$CHECKOUT_TIMEOUT_MS, max_client_connections=$max_clients;" \
    "primary max_connections=$SERVER_MAX_CONNECTIONS, open_files_limit=$SERVER_OPEN_FILES; ulimit -n $NOFILE; sysbench, MariaDB and shardgate share the machine"
echo
echo "| threads | direct QPS | proxy QPS | proxy/direct | direct p95 ms | proxy p95 ms | proxy µs CPU/query | proxy backend conns (max) | direct ok runs | proxy ok runs | ignored errors direct / proxy |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for threads in "${THREAD_COUNTS[@]}"; do
    direct="$(median_of "$threads" direct 5 '%.0f')"
    proxy="$(median_of "$threads" proxy 5 '%.0f')"
    ratio="–"
    if [[ "$direct" != "–" && "$proxy" != "–" ]]; then
        ratio="$(awk -v d="$direct" -v p="$proxy" 'BEGIN { printf "%.2f", (d > 0) ? p / d : 0 }')"
    fi
    direct_p95="$(median_of "$threads" direct 6 '%.2f')"
    proxy_p95="$(median_of "$threads" proxy 6 '%.2f')"
    cpu="$(median_of "$threads" proxy 7 '%.1f')"
    conns="$(awk -v t="$threads" '$1 == t && $2 == "proxy" && $9 != "-" && $9 > m { m = $9 } END { print (m == "") ? "–" : m }' "$RESULTS")"
    errors="$(awk -v t="$threads" '$1 == t && $4 == "ok" { e[$2] += $8 } END { printf "%d / %d", e["direct"], e["proxy"] }' "$RESULTS")"
    echo "| $threads | $direct | $proxy | $ratio | $direct_p95 | $proxy_p95 | $cpu | $conns | $(ok_runs "$threads" direct) | $(ok_runs "$threads" proxy) | $errors |"
done
echo
echo "QPS, p95 and CPU are medians over the ok runs; backend connections: the most seen on s0's primary (user $BACKEND_USER) in any proxy run, sampled every 0.5 s."
if [[ -s "$REASONS" ]]; then
    echo
    echo "Failed runs:"
    while read -r threads mode round reason; do
        echo "- $mode, $threads threads, round $round: $reason"
    done <"$REASONS"
fi
echo
echo "$memory_line"
if ((${#NOTES[@]} > 0)); then
    echo
    echo "Limits:"
    printf -- '- %s\n' "${NOTES[@]}"
fi
