#!/usr/bin/env bash
# Real-ORM differential check: a SQLAlchemy 2 (PyMySQL) app and a Django (mysqlclient) app,
# each in the ORM's default transaction mode, run once through shardgate on a sharded schema
# and once directly against a plain schema on s0's primary; what they observe and the tables
# they leave must be the same (integration/orm/check.py does the runs and the comparison).
#
# Needs the sandbox up (integration/sandbox.sh up) and a built proxy ($SHARDGATE_BIN, default
# target/release/shardgate). Installs its venv with integration/orm/install.sh (a no-op once
# done). Creates and drops only its own databases: orm_sa, orm_sa_ref, orm_dj, orm_dj_ref
# (and orm_*_ref2 with --self-check). Exits non-zero on any difference.
#
#   integration/orm/run.sh               the check
#   integration/orm/run.sh --self-check  both sides on plain schemas, no proxy: must pass
#   integration/orm/run.sh --tamper      alters one row and one observation after the runs:
#                                        must fail (also with --self-check, where it is the only
#                                        difference)
#
# Environment: ORM_APPS (default "sa,dj"), SHARDGATE_KEEP_LOGS=1 keeps the temp dir (config,
# proxy log, transcripts) even when the check passes.
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ORM_DIR="$REPO_ROOT/integration/orm"
VENV="${ORM_VENV:-$REPO_ROOT/target/orm-venv}"
BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
TIMEOUT_S=100
mode=()
self_check=0
for arg in "$@"; do
    case "$arg" in
        --self-check) self_check=1 && mode+=("$arg") ;;
        --tamper) mode+=("$arg") ;;
        *) die "usage: $0 [--self-check] [--tamper]" ;;
    esac
done

"$ORM_DIR/install.sh"

base="$(sandbox_port_base)"
s0="127.0.0.1:$base"
s0_replica="127.0.0.1:$((base + 1))"
s1="127.0.0.1:$((base + 10))"
s1_replica="127.0.0.1:$((base + 11))"
port_in_use "$base" && port_in_use "$((base + 10))" ||
    die "the sandbox is not up on port base $base (run integration/sandbox.sh up)"

work="$(mktemp -d -t shardgate-orm.XXXXXX)"
passed=0
cleanup() {
    stop_proxy
    if ((passed)) && [[ -z "${SHARDGATE_KEEP_LOGS:-}" ]]; then
        rm -rf "$work"
    else
        log "config, proxy log and transcripts kept in $work"
    fi
}
trap cleanup EXIT

proxy_args=()
if ((!self_check)); then
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # The sharded schemas: orders and order_items (bound) by user_id mod 4, sub-tables 0-1 on
    # s0 and 2-3 on s1; currencies broadcast; anything else (audit) on the schema's default
    # shard: s0 for orm_sa, s1 for orm_dj (check.py's DEFAULT_SHARD). Replicas serve reads.
    cat >"$work/shardgate.yaml" <<EOF
listen: "127.0.0.1:$port"
users:
  - { name: app, password: app-pw, auth_plugin: mysql_native_password }
backend: { user: shardgate, password: shardgate-pw }
shards:
  - { name: s0, primary: { address: "$s0" }, replicas: [{ address: "$s0_replica" }] }
  - { name: s1, primary: { address: "$s1" }, replicas: [{ address: "$s1_replica" }] }
default_shard: s0
sharding:
  allow_full_scatter_writes: false
  schemas:
$(for db_shard in orm_sa:s0 orm_dj:s1; do
        cat <<SCHEMA
    - name: ${db_shard%:*}
      default_shard: ${db_shard#*:}
      broadcast_tables: [currencies]
      binding_groups: [[orders, order_items]]
      tables:
        - { name: orders, key: user_id, algorithm: mod, sub_tables: 4, placement: [{ shard: s0, sub_tables: "0-1" }, { shard: s1, sub_tables: "2-3" }] }
        - { name: order_items, key: user_id, algorithm: mod, sub_tables: 4, placement: [{ shard: s0, sub_tables: "0-1" }, { shard: s1, sub_tables: "2-3" }] }
SCHEMA
    done)
pool: { max_connections: 16, checkout_timeout_ms: 5000 }
logging: { level: "info,shardgate=debug", format: text }
EOF
    start_proxy "$BIN" "$work/shardgate.yaml" "$port" "$work/shardgate.log"
    proxy_args=(--proxy-port "$port")
fi

started=$SECONDS
rc=0
PYTHONUNBUFFERED=1 timeout --kill-after=10 "$TIMEOUT_S" "$VENV/bin/python" "$ORM_DIR/check.py" \
    --s0 "$s0" --s1 "$s1" --work "$work" --apps "${ORM_APPS:-sa,dj}" \
    "${proxy_args[@]}" "${mode[@]}" || rc=$?
log "check took $((SECONDS - started)) s"
if ((rc == 124 || rc == 137)); then
    die "the ORM check did not finish within $TIMEOUT_S s"
fi
if [[ -n "$PROXY_PID" ]] && ! kill -0 "$PROXY_PID" 2>/dev/null; then
    log "shardgate died during the check; log tail:"
    tail -n 30 "$work/shardgate.log" >&2
    rc=1
fi
if ((rc != 0)); then
    [[ -n "$PROXY_PID" ]] && log "shardgate log: $work/shardgate.log"
    exit "$rc"
fi
passed=1
