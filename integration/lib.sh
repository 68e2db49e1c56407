# Shared helpers for the integration scripts (sandbox.sh, test.sh,
# sysbench_smoke.sh, bench.sh). This file is sourced, not executed.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SANDBOX_DIR="${SANDBOX_DIR:-$REPO_ROOT/target/sandbox}"
DEFAULT_PORT_BASE=23306

# mariadbd and mariadb-install-db live in /usr/sbin.
export PATH="$PATH:/usr/sbin:/sbin"

log() {
    echo "[$(basename "$0")] $*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

# The port base of the sandbox: $SANDBOX_PORT_BASE if set, otherwise the one
# recorded by a previous `sandbox.sh up` in this sandbox dir, otherwise 23306.
sandbox_port_base() {
    if [[ -n "${SANDBOX_PORT_BASE:-}" ]]; then
        echo "$SANDBOX_PORT_BASE"
    elif [[ -f "$SANDBOX_DIR/port_base" ]]; then
        cat "$SANDBOX_DIR/port_base"
    else
        echo "$DEFAULT_PORT_BASE"
    fi
}

# True if something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
    local port="$1"
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Wait until 127.0.0.1:PORT accepts connections; fail after TIMEOUT seconds.
wait_for_port() {
    local port="$1" timeout="$2" waited=0
    while ! port_in_use "$port"; do
        if ((waited >= timeout * 10)); then
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Print PREFERRED if that port is free, otherwise a free port chosen by the kernel.
free_port() {
    local preferred="$1"
    if ! port_in_use "$preferred"; then
        echo "$preferred"
        return
    fi
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The port of conf/sandbox.yaml's metrics endpoint (metrics: { listen: "127.0.0.1:PORT" }).
sandbox_metrics_port() {
    sed -nE 's/^metrics:.*listen: *"[^"]*:([0-9]+)".*/\1/p' "$REPO_ROOT/conf/sandbox.yaml"
}

# Write a copy of conf/sandbox.yaml to DEST with the proxy listening on
# 127.0.0.1:LISTEN_PORT, its metrics endpoint on 127.0.0.1:METRICS_PORT (default: a free
# port, so that proxies started side by side do not collide) and the shard addresses
# following the sandbox port base.
write_proxy_config() {
    local dest="$1" listen_port="$2" metrics_port="${3:-}"
    local base
    base="$(sandbox_port_base)"
    if [[ -z "$metrics_port" ]]; then
        metrics_port="$(free_port "$((listen_port + 1000))")"
    fi
    sed -e "s/^listen: .*/listen: \"127.0.0.1:$listen_port\"/" \
        -e "s/^\(metrics:.*listen: *\"127\.0\.0\.1:\)[0-9]*\"/\1$metrics_port\"/" \
        -e "s/\"127\.0\.0\.1:23306\"/\"127.0.0.1:$base\"/" \
        -e "s/\"127\.0\.0\.1:23307\"/\"127.0.0.1:$((base + 1))\"/" \
        -e "s/\"127\.0\.0\.1:23316\"/\"127.0.0.1:$((base + 10))\"/" \
        -e "s/\"127\.0\.0\.1:23317\"/\"127.0.0.1:$((base + 11))\"/" \
        "$REPO_ROOT/conf/sandbox.yaml" >"$dest"
}

# Start the shardgate binary BIN with config CONFIG in the background, logging
# to LOGFILE, and wait until it accepts on LISTEN_PORT. Sets PROXY_PID.
PROXY_PID=""
start_proxy() {
    local bin="$1" config="$2" listen_port="$3" logfile="$4"
    [[ -x "$bin" ]] || die "shardgate binary not found at $bin (run cargo build --release)"
    port_in_use "$listen_port" && die "port $listen_port is already in use"
    # More file descriptors than the usual 1024, for many client connections.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    "$bin" --config "$config" >"$logfile" 2>&1 &
    PROXY_PID=$!
    local waited=0
    while ! port_in_use "$listen_port"; do
        if ! kill -0 "$PROXY_PID" 2>/dev/null; then
            log "shardgate exited during startup; log tail:"
            tail -n 30 "$logfile" >&2
            PROXY_PID=""
            return 1
        fi
        if ((waited >= 300)); then
            log "shardgate did not accept on port $listen_port within 30 s; log tail:"
            tail -n 30 "$logfile" >&2
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    log "shardgate (pid $PROXY_PID) listening on 127.0.0.1:$listen_port, log $logfile"
}

# Stop the proxy started by start_proxy, if any.
stop_proxy() {
    if [[ -n "$PROXY_PID" ]] && kill -0 "$PROXY_PID" 2>/dev/null; then
        kill "$PROXY_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$PROXY_PID" 2>/dev/null && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$PROXY_PID" 2>/dev/null; then
            kill -9 "$PROXY_PID" 2>/dev/null || true
        fi
        wait "$PROXY_PID" 2>/dev/null || true
    fi
    PROXY_PID=""
}

# ---------------------------------------------------------------- benchmarks
# (used by bench.sh and bench_split.sh; they set PROXY_PID via start_proxy)

# How sysbench reaches the sandbox as the sbtest user; the port is added per run.
SYSBENCH_CONN=(
    --db-driver=mysql
    --mysql-host=127.0.0.1
    --mysql-user=sbtest
    --mysql-password=sbtest-pw
    --mysql-db=sbtest
)
# The benchmarks' tables.
SYSBENCH_COMMON=("${SYSBENCH_CONN[@]}" --tables=4 --table-size=10000)

# Run sysbench, keeping its output in OUTPUT_FILE; fail on a non-zero exit.
run_sysbench() {
    local output_file="$1"
    shift
    if ! sysbench "$@" >"$output_file" 2>&1; then
        cat "$output_file" >&2
        die "sysbench $* failed"
    fi
}

# From sysbench's "queries: 189135 (18894.83 per sec.)" line: the total ...
total_queries() {
    awk '$1 == "queries:" { print $2; exit }' "$1"
}

# ... and the rate.
queries_per_second() {
    awk '$1 == "queries:" { gsub(/\(/, "", $3); print $3; exit }' "$1"
}

# utime + stime of the proxy, in clock ticks. /proc/PID/stat is
# "pid (comm) state ppid ...": after cutting everything up to ") ", the state
# (field 3) is $1, so utime (field 14) is $12 and stime (field 15) is $13.
proxy_cpu_ticks() {
    sed 's/^.*) //' "/proc/$PROXY_PID/stat" | awk '{ print $12 + $13 }'
}

proxy_rss_kb() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$PROXY_PID/status"
}

# Median of the numbers on standard input, one per line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
