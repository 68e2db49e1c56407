#!/usr/bin/env bash
# The project's test command: installs MariaDB and sysbench if missing, brings
# up the sandbox topology (integration/sandbox.sh), builds shardgate, runs all
# cargo tests with the sandbox available (SHARDGATE_SANDBOX=1), then the real-ORM
# differential check (integration/orm/run.sh: SQLAlchemy and Django apps through the proxy
# on a sharded schema vs. one plain MariaDB schema), the sysbench
# smoke test through the proxy, the replica-failover smoke test (SIGKILL under
# load), 100 config reloads under sysbench load (reload_smoke.sh) and the deployment
# files check (docker/check.sh). Stops the sandbox at the
# end only if this script started it. Exits
# non-zero if any step fails.
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

SANDBOX="$REPO_ROOT/integration/sandbox.sh"

"$SANDBOX" install

# If this sandbox dir has no recorded port base yet and the default ports are
# taken (for instance by another checkout's sandbox), use the next free base.
if [[ -z "${SANDBOX_PORT_BASE:-}" && ! -f "$SANDBOX_DIR/port_base" ]]; then
    for base in 23306 24306 25306 26306 27306; do
        if ! port_in_use "$base" && ! port_in_use "$((base + 1))" &&
            ! port_in_use "$((base + 10))" && ! port_in_use "$((base + 11))"; then
            break
        fi
        log "ports of base $base are taken, trying the next"
    done
    SANDBOX_PORT_BASE="$base"
fi
SANDBOX_PORT_BASE="$(sandbox_port_base)"
export SANDBOX_PORT_BASE

# Only stop the sandbox afterwards if it was not already up.
started_sandbox=0
if ! "$SANDBOX" status >/dev/null 2>&1; then
    started_sandbox=1
fi

stop_sandbox() {
    if ((started_sandbox)); then
        "$SANDBOX" down || true
    fi
}
trap stop_sandbox EXIT

"$SANDBOX" up

cargo build --release --bins

export SHARDGATE_SANDBOX=1
export SHARDGATE_BIN="$REPO_ROOT/target/release/shardgate"
cargo test --release --all-targets -- --test-threads=2

"$REPO_ROOT/integration/orm/run.sh"
"$REPO_ROOT/integration/sysbench_smoke.sh"
"$REPO_ROOT/integration/failover_smoke.sh"
"$REPO_ROOT/integration/reload_smoke.sh"
"$REPO_ROOT/docker/check.sh"

log "all tests passed"
