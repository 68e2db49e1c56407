#!/usr/bin/env bash
# Benchmark (not a test): the cost of sharded routing. One shardgate process serves
# both the pass-through schema sbtest (on s0's primary, not sharded) and the schema
# sbshard, whose sbtest1..4 tables are sharded by id (mod) over s0 and s1. sysbench
# oltp_point_select runs alternately against each; the report gives the QPS and
# shardgate's CPU time per query of both, and their ratio (target: sharded <= 1.3x).
# Then a scatter `ORDER BY ... LIMIT 10` over 2 shards x 8 sub-tables and 1M rows
# runs while the proxy's RSS is sampled (bounded memory: streamed, not materialised).
# Needs the sandbox up and a release build.
#
# Environment:
#   SHARDGATE_BIN   shardgate binary (default target/release/shardgate)
#   BENCH_TIME      seconds per sysbench run (default 10)
#   BENCH_ROUNDS    rounds (default 3)
#   BENCH_THREADS   sysbench threads (default 64)
#   BENCH_PS_MODE   sysbench --db-ps-mode (default auto: prepared statements)
#   SCATTER_ROWS    rows of the scatter table (default 1000000)
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
BENCH_TIME="${BENCH_TIME:-10}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
BENCH_THREADS="${BENCH_THREADS:-64}"
BENCH_PS_MODE="${BENCH_PS_MODE:-auto}"
SCATTER_ROWS="${SCATTER_ROWS:-1000000}"

WORK_DIR="$REPO_ROOT/target/bench_shard"
RESULTS="$WORK_DIR/results.txt"
mkdir -p "$WORK_DIR"
: >"$RESULTS"
BASE="$(sandbox_port_base)"
S0="$BASE"
S1="$((BASE + 10))"
CLK_TCK="$(getconf CLK_TCK)"
trap stop_proxy EXIT

backend() {
    local port="$1"
    shift
    mariadb -h127.0.0.1 -P"$port" -ushardgate -pshardgate-pw "$@"
}

# ---------------------------------------------------------------- setup

PROXY_PORT="$(free_port 16036)"
CONFIG="$WORK_DIR/shardgate.yaml"
write_proxy_config "$CONFIG" "$PROXY_PORT"
sed -i '/replicas:/d' "$CONFIG"
cat >>"$CONFIG" <<YAML
sharding:
  schemas:
    - name: sbshard
      tables:
        - { name: sbtest1, key: id, algorithm: mod, shards: [s0, s1] }
        - { name: sbtest2, key: id, algorithm: mod, shards: [s0, s1] }
        - { name: sbtest3, key: id, algorithm: mod, shards: [s0, s1] }
        - { name: sbtest4, key: id, algorithm: mod, shards: [s0, s1] }
    - name: sbscatter
      tables:
        - name: big
          key: id
          algorithm: mod
          sub_tables: 8
          placement: [{ shard: s0, sub_tables: "0-3" }, { shard: s1, sub_tables: "4-7" }]
YAML
start_proxy "$SHARDGATE_BIN" "$CONFIG" "$PROXY_PORT" "$WORK_DIR/shardgate.log"

log "preparing sbtest (pass-through, s0) and sbshard (split by id mod 2 over s0 and s1)"
for port in "$S0" "$S1"; do
    backend "$port" -e "CREATE DATABASE IF NOT EXISTS sbtest; CREATE DATABASE IF NOT EXISTS sbshard"
done
prep=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=shardgate --mysql-password=shardgate-pw --tables=4 --table-size=10000)
run_sysbench "$WORK_DIR/c0.txt" oltp_read_only "${prep[@]}" --mysql-db=sbtest --mysql-port="$S0" cleanup
run_sysbench "$WORK_DIR/p0.txt" oltp_read_only "${prep[@]}" --mysql-db=sbtest --mysql-port="$S0" --threads=4 prepare
for port in "$S0" "$S1"; do
    run_sysbench "$WORK_DIR/c-$port.txt" oltp_read_only "${prep[@]}" --mysql-db=sbshard --mysql-port="$port" cleanup
    run_sysbench "$WORK_DIR/p-$port.txt" oltp_read_only "${prep[@]}" --mysql-db=sbshard --mysql-port="$port" --threads=4 prepare
done
for t in 1 2 3 4; do
    backend "$S0" -e "DELETE FROM sbshard.sbtest$t WHERE id % 2 = 1"
    backend "$S1" -e "DELETE FROM sbshard.sbtest$t WHERE id % 2 = 0"
done

run_point() {
    local db="$1" out="$2"
    run_sysbench "$out" oltp_point_select "${SYSBENCH_CONN[@]}" --mysql-db="$db" --tables=4 --table-size=10000 \
        --mysql-port="$PROXY_PORT" --threads="$BENCH_THREADS" --time="$BENCH_TIME" --db-ps-mode="$BENCH_PS_MODE" run
}

for round in $(seq 1 "$BENCH_ROUNDS"); do
    for db in sbtest sbshard; do
        out="$WORK_DIR/point-$db-$round.txt"
        before="$(proxy_cpu_ticks)"
        run_point "$db" "$out"
        after="$(proxy_cpu_ticks)"
        qps="$(queries_per_second "$out")"
        errors="$(awk '$1 == "ignored" && $2 == "errors:" { print $3; exit }' "$out")"
        errors="${errors:-0}"
        cpu="$(awk -v t="$((after - before))" -v hz="$CLK_TCK" -v q="$(total_queries "$out")" 'BEGIN { print (q > 0) ? t / hz * 1e6 / q : 0 }')"
        echo "$db $qps $cpu $errors" >>"$RESULTS"
        log "round $round $db: $qps qps, $cpu us CPU/query, errors $errors"
    done
done

# ---------------------------------------------------------------- scatter memory

log "preparing sbscatter.big_0000..0007 with $SCATTER_ROWS rows in all"
per=$((SCATTER_ROWS / 8))
for slot in 0 1 2 3 4 5 6 7; do
    port="$S0"
    ((slot >= 4)) && port="$S1"
    table="big_$(printf '%04d' "$slot")"
    backend "$port" -e "CREATE DATABASE IF NOT EXISTS sbscatter; DROP TABLE IF EXISTS sbscatter.$table;
        CREATE TABLE sbscatter.$table (id BIGINT PRIMARY KEY, k INT NOT NULL, pad CHAR(60) NOT NULL, KEY (k)) ENGINE=InnoDB;
        SET SESSION max_recursive_iterations = 10000000;
        INSERT INTO sbscatter.$table
          WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < $per - 1)
          SELECT n * 8 + $slot, (n * 7919 + $slot) % 1000003, REPEAT('x', 60) FROM seq;"
done
rss_before="$(proxy_rss_kb)"
peak="$rss_before"
scatter_sql="SELECT id, k, pad FROM big ORDER BY k DESC, id LIMIT 10"
scatter_all="SELECT id, k, pad FROM big ORDER BY k DESC, id"
(mariadb -h127.0.0.1 -P"$PROXY_PORT" -usbtest -psbtest-pw sbscatter -e "$scatter_sql" >"$WORK_DIR/scatter-limit.txt") &
q1=$!
while kill -0 "$q1" 2>/dev/null; do
    r="$(proxy_rss_kb)"; ((r > peak)) && peak="$r"; sleep 0.05
done
wait "$q1"
start_ns="$(date +%s%N)"
(mariadb --quick -h127.0.0.1 -P"$PROXY_PORT" -usbtest -psbtest-pw sbscatter -e "$scatter_all" | wc -l >"$WORK_DIR/scatter-all.txt") &
q2=$!
while kill -0 "$q2" 2>/dev/null; do
    r="$(proxy_rss_kb)"; ((r > peak)) && peak="$r"; sleep 0.05
done
wait "$q2"
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))

# ---------------------------------------------------------------- report

echo
echo "shardgate sharding benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs; oltp_point_select, $BENCH_THREADS threads, ${BENCH_TIME}s x $BENCH_ROUNDS rounds, --db-ps-mode=$BENCH_PS_MODE"
echo
echo "| schema | QPS (median) | proxy µs CPU/query (median) | errors |"
echo "|---|---|---|---|"
for db in sbtest sbshard; do
    rows="$(awk -v d="$db" '$1 == d' "$RESULTS")"
    qps="$(awk '{ print $2 }' <<<"$rows" | median)"
    cpu="$(awk '{ print $3 }' <<<"$rows" | median)"
    errs="$(awk '{ s += $4 } END { print s + 0 }' <<<"$rows")"
    echo "| $db | $qps | $cpu | $errs |"
done
pass="$(awk '$1 == "sbtest" { print $3 }' "$RESULTS" | median)"
shard="$(awk '$1 == "sbshard" { print $3 }' "$RESULTS" | median)"
awk -v p="$pass" -v s="$shard" 'BEGIN { printf "\nsharded / pass-through CPU per query: %.2f (target <= 1.30)\n", (p > 0) ? s / p : 0 }'
echo "scatter ORDER BY k DESC, id LIMIT 10 over 8 sub-tables, $SCATTER_ROWS rows: $(($(wc -l <"$WORK_DIR/scatter-limit.txt") - 1)) rows returned"
echo "scatter full ordered stream: $(($(cat "$WORK_DIR/scatter-all.txt") - 1)) rows in ${elapsed_ms} ms"
echo "shardgate RSS: before $((rss_before / 1024)) MB, peak during the scatter reads $((peak / 1024)) MB"
