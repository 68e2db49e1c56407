#!/usr/bin/env bash
# Installs what integration/orm/run.sh needs: the Debian packages mysqlclient builds against
# (pkg-config, gcc, libmariadb-dev) and a Python venv in target/orm-venv holding the pinned
# versions of SQLAlchemy, PyMySQL, Django and mysqlclient (integration/orm/requirements.txt).
# Idempotent: a second run finds the venv stamped with the requirements' checksum and returns
# at once.
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ORM_DIR="$REPO_ROOT/integration/orm"
VENV="${ORM_VENV:-$REPO_ROOT/target/orm-venv}"
REQUIREMENTS="$ORM_DIR/requirements.txt"
STAMP="$VENV/.shardgate-orm-stamp"
PYTHON="${PYTHON:-python3}"

want_stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" && -x "$VENV/bin/python" ]]; then
    log "ORM venv up to date in $VENV"
    exit 0
fi

# Debian packages for building mysqlclient (pkg-config finds libmariadb's flags).
missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v gcc >/dev/null || missing+=(gcc)
pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null ||
    missing+=(libmariadb-dev)
if ((${#missing[@]} > 0)); then
    log "installing Debian packages: ${missing[*]}"
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    # Another apt/dpkg run holds the lock: wait for it instead of failing.
    waited=0
    while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; do
        ((waited < 900)) || die "apt-get/dpkg still running after 15 minutes"
        sleep 5
        waited=$((waited + 5))
    done
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}"; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}"
    fi
fi

log "creating the ORM venv in $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
"$VENV/bin/python" -c 'from importlib.metadata import version as v; print(*(f"{p} {v(p)}" for p in ("SQLAlchemy", "PyMySQL", "Django", "mysqlclient")))' >&2
echo "$want_stamp" >"$STAMP"
log "ORM venv ready"
