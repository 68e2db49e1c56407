#!/usr/bin/env bash
# Smoke test: runs sysbench oltp_read_write through a shardgate started on a
# free port (config: a copy of conf/sandbox.yaml), once with server-side
# prepared statements (--db-ps-mode=auto) and once with plain text queries
# (--db-ps-mode=disable). Fails if sysbench exits non-zero, reports a FATAL
# error, reconnects, or has more ignored errors than 1% of its transactions.
# Needs the sandbox up (integration/sandbox.sh up).
#
# Ignored errors are the deadlocks / lock wait timeouts (1213, 1020, 1205) that
# sysbench retries: 8 threads on 4 x 1000 rows produce a few of them even
# directly against MariaDB (about 1 per 1000 transactions), so zero is not a
# reliable expectation. Any other error is fatal for sysbench.
#
# Environment: SHARDGATE_BIN (default target/release/shardgate),
# SMOKE_TIME (seconds per run, default 10).
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
SMOKE_TIME="${SMOKE_TIME:-10}"
WORK_DIR="$REPO_ROOT/target/sysbench-smoke"
mkdir -p "$WORK_DIR"

trap stop_proxy EXIT

PROXY_PORT="$(free_port 16033)"
write_proxy_config "$WORK_DIR/shardgate.yaml" "$PROXY_PORT"
start_proxy "$SHARDGATE_BIN" "$WORK_DIR/shardgate.yaml" "$PROXY_PORT" "$WORK_DIR/shardgate.log"

SYSBENCH=(sysbench oltp_read_write "${SYSBENCH_CONN[@]}" --mysql-port="$PROXY_PORT" --tables=4 --table-size=1000)

# Run one sysbench step, keeping its output in OUTPUT_FILE; on failure show the proxy's log.
smoke_step() {
    local output_file="$1"
    shift
    if ! "${SYSBENCH[@]}" "$@" >"$output_file" 2>&1; then
        cat "$output_file" >&2
        log "shardgate log tail:"
        tail -n 30 "$WORK_DIR/shardgate.log" >&2
        die "sysbench $* failed"
    fi
}

# The number after "NAME:" in sysbench's statistics, e.g. "queries:" or "ignored errors:".
stat_value() {
    local name="$1" output_file="$2"
    awk -v name="$name:" 'index($0, name) { sub(".*" name "[[:space:]]*", ""); print $1; exit }' "$output_file"
}

log "preparing 4 tables x 1000 rows through shardgate"
smoke_step "$WORK_DIR/cleanup-before.txt" cleanup
smoke_step "$WORK_DIR/prepare.txt" --threads=4 prepare

failed=0
for mode in auto disable; do
    out="$WORK_DIR/run-$mode.txt"
    log "running oltp_read_write for ${SMOKE_TIME}s, 8 threads, --db-ps-mode=$mode"
    smoke_step "$out" --threads=8 --time="$SMOKE_TIME" --db-ps-mode="$mode" run

    queries="$(stat_value "queries" "$out")"
    transactions="$(stat_value "transactions" "$out")"
    ignored="$(stat_value "ignored errors" "$out")"
    reconnects="$(stat_value "reconnects" "$out")"
    fatal="$(grep -c FATAL "$out" || true)"
    if [[ -z "$queries" || -z "$transactions" || -z "$ignored" || -z "$reconnects" ]]; then
        cat "$out" >&2
        die "could not read sysbench's statistics for --db-ps-mode=$mode"
    fi

    echo "sysbench-smoke $mode: $queries queries, $fatal errors ($ignored ignored deadlock/lock-wait errors, $reconnects reconnects)"
    if ((fatal > 0 || reconnects > 0 || queries == 0 || ignored * 100 > transactions)); then
        cat "$out" >&2
        log "--db-ps-mode=$mode FAILED"
        failed=1
    fi
done

smoke_step "$WORK_DIR/cleanup.txt" cleanup

if ((failed)); then
    log "shardgate log tail:"
    tail -n 30 "$WORK_DIR/shardgate.log" >&2
    die "sysbench smoke test failed"
fi
log "sysbench smoke test passed"
