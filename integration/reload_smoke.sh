#!/usr/bin/env bash
# Reload under load: sysbench oltp_read_write with 32 threads runs through shardgate while
# this script applies 100 config edits by atomic rename of the config file (what editors and
# deploy tools do): s0's replica removed and added back with another weight, pool caps
# changed, a sharded table rule added and removed, a critical-table rule toggled. After each
# edit it waits for SHOW SHARDGATE CONFIG to report the next version and checks the change
# is in effect (SHOW SHARDGATE BACKENDS / POOLS). In between, one syntax error and one
# unknown shard must be refused without a version change. Fails on any sysbench FATAL error,
# any reconnect, more ignored (deadlock) errors than 1% of transactions, or an edit not in
# effect. Needs the sandbox up and a release build.
#
# Environment: SHARDGATE_BIN (default target/release/shardgate), RELOAD_EDITS (default 100),
# RELOAD_INTERVAL (seconds between edits, default 0.1).
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
RELOAD_EDITS="${RELOAD_EDITS:-100}"
RELOAD_INTERVAL="${RELOAD_INTERVAL:-0.1}"
WORK_DIR="$REPO_ROOT/target/reload-smoke"
mkdir -p "$WORK_DIR"
CONFIG="$WORK_DIR/shardgate.yaml"
SYSBENCH_PID=""

cleanup() {
    if [[ -n "$SYSBENCH_PID" ]]; then
        kill "$SYSBENCH_PID" 2>/dev/null || true
        wait "$SYSBENCH_PID" 2>/dev/null || true
    fi
    stop_proxy
}
trap cleanup EXIT

PROXY_PORT="$(free_port 16043)"
BASE="$(sandbox_port_base)"
write_proxy_config "$WORK_DIR/base.yaml" "$PROXY_PORT"
cp "$WORK_DIR/base.yaml" "$CONFIG"
start_proxy "$SHARDGATE_BIN" "$CONFIG" "$PROXY_PORT" "$WORK_DIR/shardgate.log"

admin() {
    mariadb --no-defaults -h127.0.0.1 -P"$PROXY_PORT" -uadmin -padmin-pw -N -B -e "$1"
}

config_field() { # column number of SHOW SHARDGATE CONFIG
    admin "SHOW SHARDGATE CONFIG" | cut -f"$1"
}

# Config text for edit I: the base with one change of the five kinds, and a comment that
# makes every edit a different file.
variant() {
    local i="$1" kind=$(($1 % 5))
    {
        echo "# reload-smoke edit $i (kind $kind)"
        case "$kind" in
        0) sed -e "/127\.0\.0\.1:$((BASE + 1))/s/.*/    replicas: []/" "$WORK_DIR/base.yaml" ;;
        1) sed -e "/127\.0\.0\.1:$((BASE + 1))/s/weight: 1/weight: $((2 + i % 5))/" "$WORK_DIR/base.yaml" ;;
        2) sed -e "s/^  max_connections: .*/  max_connections: $((40 + i % 40))/" "$WORK_DIR/base.yaml" ;;
        3)
            cat "$WORK_DIR/base.yaml"
            cat <<EOF
sharding:
  schemas:
    - name: shop
      default_shard: s0
      tables:
        - name: reload_probe_$i
          key: id
          key_type: integer
          algorithm: mod
          placement:
            - { shard: s0, sub_tables: "0" }
            - { shard: s1, sub_tables: "1" }
          sub_tables: 2
EOF
            ;;
        4)
            cat "$WORK_DIR/base.yaml"
            printf 'read_write_split:\n  critical_tables: [sbtest1]\n'
            ;;
        esac
    }
}

# Replaces the config file the way editors do: write a temporary file, rename it over.
apply() {
    cat >"$CONFIG.tmp"
    mv -f "$CONFIG.tmp" "$CONFIG"
}

wait_version() {
    local want="$1" deadline=$((SECONDS + 10))
    while [[ "$(config_field 1)" != "$want" ]]; do
        ((SECONDS < deadline)) || die "config version $want not applied within 10 s (have $(config_field 1)); last error: $(config_field 7)"
        sleep 0.05
    done
}

wait_failures() {
    local want="$1" deadline=$((SECONDS + 10))
    while [[ "$(config_field 6)" != "$want" ]]; do
        ((SECONDS < deadline)) || die "invalid config not reported within 10 s"
        sleep 0.05
    done
}

# Checks that edit I is visible in the admin output.
check_effect() {
    local i="$1" kind=$(($1 % 5))
    case "$kind" in
    0)
        ! admin "SHOW SHARDGATE BACKENDS" | grep -q "127.0.0.1:$((BASE + 1))" ||
            die "edit $i: s0's replica still listed"
        ;;
    1)
        admin "SHOW SHARDGATE BACKENDS" | awk -F'\t' -v a="127.0.0.1:$((BASE + 1))" -v w="$((2 + i % 5))" \
            'index($3, a) && $6 == w { found = 1 } END { exit !found }' ||
            die "edit $i: s0's replica not back with weight $((2 + i % 5))"
        ;;
    2)
        admin "SHOW SHARDGATE POOLS" | awk -F'\t' -v m="$((40 + i % 40))" \
            '$1 == "s0" && $2 == "primary" && $4 == m { found = 1 } END { exit !found }' ||
            die "edit $i: s0's pool cap is not $((40 + i % 40))"
        ;;
    3)
        admin "USE shop; EXPLAIN SHARDGATE SELECT * FROM reload_probe_$i WHERE id = 3" | grep -q "reload_probe_${i}_0001" ||
            die "edit $i: the sharded table rule is not in effect"
        ;;
    4)
        admin "EXPLAIN SHARDGATE SELECT * FROM sbtest.sbtest1" | grep -qi "critical" ||
            die "edit $i: the critical table rule is not in effect"
        ;;
    esac
}

SYSBENCH=(sysbench oltp_read_write "${SYSBENCH_CONN[@]}" --mysql-port="$PROXY_PORT" --tables=4 --table-size=10000)
log "preparing 4 tables x 10000 rows through shardgate"
"${SYSBENCH[@]}" cleanup >"$WORK_DIR/cleanup-before.txt" 2>&1 || true
"${SYSBENCH[@]}" --threads=4 prepare >"$WORK_DIR/prepare.txt" 2>&1 || die "sysbench prepare failed"

duration=$(awk -v n="$RELOAD_EDITS" -v s="$RELOAD_INTERVAL" 'BEGIN { printf "%d", n * (s + 0.7) + 15 }')
log "sysbench oltp_read_write, 32 threads, ${duration}s, while applying $RELOAD_EDITS config edits"
"${SYSBENCH[@]}" --threads=32 --time="$duration" --report-interval=0 run >"$WORK_DIR/run.txt" 2>&1 &
SYSBENCH_PID=$!
sleep 3

version="$(config_field 1)"
failures="$(config_field 6)"
for ((i = 1; i <= RELOAD_EDITS; i++)); do
    if ((i == 30)); then
        printf 'listen: "127.0.0.1:%s"\nusers: [\n' "$PROXY_PORT" | apply
        failures=$((failures + 1))
        wait_failures "$failures"
        [[ "$(config_field 1)" == "$version" ]] || die "a syntax error changed the config version"
        config_field 7 | grep -q "$CONFIG" || die "the syntax error is reported without its file"
    fi
    if ((i == 60)); then
        sed -e "s/^default_shard: .*/default_shard: nowhere/" "$WORK_DIR/base.yaml" | apply
        failures=$((failures + 1))
        wait_failures "$failures"
        [[ "$(config_field 1)" == "$version" ]] || die "an unknown shard changed the config version"
    fi
    variant "$i" | apply
    version=$((version + 1))
    wait_version "$version"
    check_effect "$i"
    sleep "$RELOAD_INTERVAL"
done
log "$RELOAD_EDITS edits applied (config version $version), 2 invalid files refused"
kill -0 "$SYSBENCH_PID" 2>/dev/null || die "sysbench ended before the edits did"
wait "$SYSBENCH_PID" || {
    cat "$WORK_DIR/run.txt" >&2
    die "sysbench failed during the reloads"
}
SYSBENCH_PID=""

stat_value() {
    awk -v name="$1:" 'index($0, name) { sub(".*" name "[[:space:]]*", ""); print $1; exit }' "$WORK_DIR/run.txt"
}
queries="$(stat_value queries)"
transactions="$(stat_value transactions)"
ignored="$(stat_value "ignored errors")"
reconnects="$(stat_value reconnects)"
fatal="$(grep -c FATAL "$WORK_DIR/run.txt" || true)"
echo "reload-smoke: $RELOAD_EDITS edits under load; $queries queries, $fatal errors, $ignored ignored deadlocks, $reconnects reconnects"
if ((fatal > 0 || reconnects > 0 || queries == 0 || ignored * 100 > transactions)); then
    cat "$WORK_DIR/run.txt" >&2
    die "sysbench saw errors during the reloads"
fi
"${SYSBENCH[@]}" cleanup >"$WORK_DIR/cleanup.txt" 2>&1 || true
