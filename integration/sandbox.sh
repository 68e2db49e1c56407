#!/usr/bin/env bash
# Starts and stops a real local MariaDB topology for shardgate's tests and
# benchmarks: two shards, each a GTID primary with one replica, run straight
# from the installed mariadbd binary (never the distro's mariadb service).
#
#   integration/sandbox.sh install        install mariadb-server, mariadb-client, sysbench and
#                                         prometheus (for promtool) if missing
#   integration/sandbox.sh up             start the four instances (does nothing if already healthy)
#   integration/sandbox.sh down [--wipe]  stop them; --wipe also deletes $SANDBOX_DIR
#   integration/sandbox.sh status         show instances and replication (exit 3 if any is down)
#   integration/sandbox.sh run            install, build, up, then run shardgate with conf/sandbox.yaml
#
# Environment:
#   SANDBOX_DIR        where data dirs, sockets, pid files and logs live (default <repo>/target/sandbox)
#   SANDBOX_PORT_BASE  port of s0's primary (default 23306); the four ports are
#                      BASE (s0 primary), BASE+1 (s0 replica), BASE+10 (s1 primary), BASE+11 (s1 replica)
#
# Accounts created on the primaries (and replicated): shardgate/shardgate-pw
# (all privileges, with grant option), repl/repl-pw (replication), sbtest/sbtest-pw
# (all privileges); databases sbtest and shop. root logs in over the unix socket only.
set -euo pipefail

# shellcheck source=integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSTANCES=(s0-primary s0-replica s1-primary s1-replica)
PORT_BASE="$(sandbox_port_base)"
MARKER="$SANDBOX_DIR/.shardgate-sandbox"
START_TIMEOUT=60

# ---------------------------------------------------------------- topology

instance_port() {
    case "$1" in
        s0-primary) echo "$PORT_BASE" ;;
        s0-replica) echo "$((PORT_BASE + 1))" ;;
        s1-primary) echo "$((PORT_BASE + 10))" ;;
        s1-replica) echo "$((PORT_BASE + 11))" ;;
        *) die "unknown instance $1" ;;
    esac
}

instance_server_id() {
    case "$1" in
        s0-primary) echo 1 ;;
        s0-replica) echo 2 ;;
        s1-primary) echo 11 ;;
        s1-replica) echo 12 ;;
        *) die "unknown instance $1" ;;
    esac
}

is_replica() {
    [[ "$1" == *-replica ]]
}

# The primary a replica replicates from: s0-replica -> s0-primary.
primary_of() {
    echo "${1%-replica}-primary"
}

instance_dir() { echo "$SANDBOX_DIR/$1"; }
instance_datadir() { echo "$SANDBOX_DIR/$1/data"; }
instance_socket() { echo "$SANDBOX_DIR/$1/mysqld.sock"; }
instance_pidfile() { echo "$SANDBOX_DIR/$1/mysqld.pid"; }
instance_errlog() { echo "$SANDBOX_DIR/$1/error.log"; }

# ---------------------------------------------------------------- helpers

# Run SQL as root over the instance's unix socket; prints tab-separated rows without headers.
sql() {
    local name="$1" statement="$2"
    mariadb --no-defaults --socket="$(instance_socket "$name")" --user=root \
        --connect-timeout=5 --batch --skip-column-names --execute="$statement"
}

# Print the pid of the instance's mariadbd if it is running; fail otherwise.
# A pid only counts if that process is a mariadbd started with our datadir,
# so a stale pid file (reused pid) is never mistaken for a running instance.
running_pid() {
    local name="$1" pidfile pid cmdline
    pidfile="$(instance_pidfile "$name")"
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    cmdline="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    grep -qxF -- "--datadir=$(instance_datadir "$name")" <<<"$cmdline" || return 1
    echo "$pid"
}

ping_instance() {
    mariadb-admin --no-defaults --socket="$(instance_socket "$1")" --user=root \
        --connect-timeout=2 ping >/dev/null 2>&1
}

# SHOW SLAVE STATUS of a replica, one "Field: value" per line (empty if not configured).
show_slave_status() {
    mariadb --no-defaults --socket="$(instance_socket "$1")" --user=root \
        --connect-timeout=5 --vertical --execute='SHOW SLAVE STATUS'
}

# One field of SHOW SLAVE STATUS on a replica (empty if replication is not configured).
slave_status_field() {
    local name="$1" field="$2"
    show_slave_status "$name" | awk -v f="$field" '$1 == f":" { sub(/^[^:]*: ?/, ""); print }'
}

print_errlog_tail() {
    local name="$1"
    log "last lines of $(instance_errlog "$name"):"
    tail -n 30 "$(instance_errlog "$name")" >&2 2>/dev/null || true
}

# True if the replica's replication threads both run and the shop database arrived.
replica_healthy() {
    local name="$1"
    [[ "$(slave_status_field "$name" Slave_IO_Running)" == "Yes" ]] || return 1
    [[ "$(slave_status_field "$name" Slave_SQL_Running)" == "Yes" ]] || return 1
    [[ "$(sql "$name" "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'")" == "1" ]]
}

# True if all four instances run, answer, and both replicas replicate.
topology_healthy() {
    local name
    for name in "${INSTANCES[@]}"; do
        running_pid "$name" >/dev/null || return 1
        ping_instance "$name" || return 1
    done
    for name in "${INSTANCES[@]}"; do
        if is_replica "$name"; then
            replica_healthy "$name" 2>/dev/null || return 1
        fi
    done
}

# Refuse a port base different from the one the data dirs were set up with:
# the replicas' CHANGE MASTER points at the old ports.
check_port_base() {
    if [[ -f "$SANDBOX_DIR/port_base" ]]; then
        local recorded
        recorded="$(cat "$SANDBOX_DIR/port_base")"
        if [[ "$recorded" != "$PORT_BASE" ]]; then
            die "sandbox in $SANDBOX_DIR was created with SANDBOX_PORT_BASE=$recorded, not $PORT_BASE; use that, or run 'down --wipe' first"
        fi
    fi
}

# ---------------------------------------------------------------- install

cmd_install() {
    local missing=()
    local bin
    # promtool (Debian package prometheus) validates the /metrics exposition in the tests.
    for bin in mariadbd mariadb mariadb-admin mariadb-install-db sysbench promtool; do
        command -v "$bin" >/dev/null || missing+=("$bin")
    done
    if ((${#missing[@]} == 0)); then
        log "mariadb-server, mariadb-client, sysbench and promtool are installed"
        return
    fi
    log "missing: ${missing[*]}; installing Debian packages"

    local sudo=()
    if ((EUID != 0)); then
        sudo=(sudo)
    fi

    # Another apt/dpkg run holds the lock: wait for it instead of failing.
    local waited=0
    while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; do
        ((waited < 900)) || die "apt-get/dpkg still running after 15 minutes"
        ((waited % 30 == 0)) && log "waiting for a running apt-get/dpkg to finish"
        sleep 5
        waited=$((waited + 5))
    done

    # Keep the packages from starting the distro's mariadb and prometheus services: while a
    # policy-rc.d that exits 101 exists, invoke-rc.d starts no services.
    local policy=/usr/sbin/policy-rc.d
    local made_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
        made_policy=1
    fi

    local rc=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update || rc=$?
    if ((rc == 0)); then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
            mariadb-server mariadb-client sysbench || rc=$?
    fi
    if ((rc == 0)); then
        # Only promtool is needed: no node exporter (a recommendation), no service started.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            prometheus || rc=$?
    fi

    if ((made_policy)); then
        "${sudo[@]}" rm -f "$policy"
    fi
    ((rc == 0)) || die "apt-get failed (exit $rc)"

    for bin in mariadbd mariadb mariadb-admin mariadb-install-db sysbench promtool; do
        command -v "$bin" >/dev/null || die "$bin still missing after install"
    done
    log "installed: $(mariadbd --version)"
}

# ---------------------------------------------------------------- up

# Create the instance's data dir with mariadb-install-db, once.
init_instance() {
    local name="$1" dir datadir
    dir="$(instance_dir "$name")"
    datadir="$(instance_datadir "$name")"
    if [[ -f "$dir/initialized" ]]; then
        return
    fi
    log "$name: creating data dir $datadir"
    # A data dir without the 'initialized' marker is a half-finished earlier attempt.
    rm -rf "$datadir"
    mkdir -p "$datadir"
    if ! mariadb-install-db --no-defaults --datadir="$datadir" --user=root \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$dir/install-db.log" 2>&1; then
        tail -n 30 "$dir/install-db.log" >&2
        die "$name: mariadb-install-db failed (log: $dir/install-db.log)"
    fi
    touch "$dir/initialized"
}

start_instance() {
    local name="$1" port server_id socket pidfile errlog datadir pid
    port="$(instance_port "$name")"
    server_id="$(instance_server_id "$name")"
    socket="$(instance_socket "$name")"
    pidfile="$(instance_pidfile "$name")"
    errlog="$(instance_errlog "$name")"
    datadir="$(instance_datadir "$name")"

    if pid="$(running_pid "$name")"; then
        log "$name: already running (pid $pid, port $port)"
    else
        # Leftovers of an instance that died without cleaning up.
        rm -f "$pidfile" "$socket" "$socket.lock"
        if port_in_use "$port"; then
            die "$name: port $port is already taken by another process; stop it or set SANDBOX_PORT_BASE"
        fi

        local extra=()
        if is_replica "$name"; then
            extra+=(--read-only=1)
        fi

        log "$name: starting mariadbd on 127.0.0.1:$port (server_id $server_id)"
        # setsid: the server keeps running after this script (and its terminal) are gone.
        setsid mariadbd --no-defaults --user=root \
            --datadir="$datadir" \
            --socket="$socket" \
            --pid-file="$pidfile" \
            --log-error="$errlog" \
            --port="$port" \
            --bind-address=127.0.0.1 \
            --server-id="$server_id" \
            --log-bin=mariadb-bin \
            --relay-log=relay-bin \
            --binlog-format=ROW \
            --gtid-strict-mode=1 \
            --log-slave-updates=1 \
            --innodb-buffer-pool-size=64M \
            --innodb-flush-log-at-trx-commit=2 \
            --sync-binlog=0 \
            --max-connections=2000 \
            --skip-name-resolve \
            --performance-schema=OFF \
            --character-set-server=utf8mb4 \
            --collation-server=utf8mb4_general_ci \
            "${extra[@]}" \
            </dev/null >>"$(instance_dir "$name")/console.log" 2>&1 &
        local launched=$!
        echo "$launched" >"$(instance_dir "$name")/started-by-sandbox"

        local waited=0
        until ping_instance "$name"; do
            if ! kill -0 "$launched" 2>/dev/null; then
                print_errlog_tail "$name"
                die "$name: mariadbd exited during startup"
            fi
            if ((waited >= START_TIMEOUT * 2)); then
                print_errlog_tail "$name"
                die "$name: mariadbd did not answer within ${START_TIMEOUT}s"
            fi
            sleep 0.5
            waited=$((waited + 1))
        done
    fi
}

# Users and databases, created on a primary with the binlog on so that they
# replicate. Every statement is idempotent.
#
# On MariaDB 10.11 ALL PRIVILEGES includes READ_ONLY ADMIN, which lets a user
# write on a read_only replica; such a write gets a GTID of the replica's own
# server_id and then breaks replication under gtid_strict_mode. So shardgate and
# sbtest get everything except READ_ONLY ADMIN, and replicas refuse their writes.
provision_primary() {
    local name="$1"
    sql "$name" "
        CREATE USER IF NOT EXISTS 'shardgate'@'%' IDENTIFIED BY 'shardgate-pw';
        GRANT ALL PRIVILEGES ON *.* TO 'shardgate'@'%' WITH GRANT OPTION;
        REVOKE READ_ONLY ADMIN ON *.* FROM 'shardgate'@'%';
        CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl-pw';
        GRANT REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'repl'@'%';
        CREATE USER IF NOT EXISTS 'sbtest'@'%' IDENTIFIED BY 'sbtest-pw';
        GRANT ALL PRIVILEGES ON *.* TO 'sbtest'@'%';
        REVOKE READ_ONLY ADMIN ON *.* FROM 'sbtest'@'%';
        CREATE DATABASE IF NOT EXISTS sbtest;
        CREATE DATABASE IF NOT EXISTS shop;
    " || die "$name: creating users and databases failed"
}

# Point a replica at its primary (once) and make sure replication runs.
setup_replica() {
    local name="$1" primary primary_port
    primary="$(primary_of "$name")"
    primary_port="$(instance_port "$primary")"
    if [[ -z "$(sql "$name" 'SHOW SLAVE STATUS')" ]]; then
        log "$name: replicating from $primary (127.0.0.1:$primary_port) with GTID"
        sql "$name" "
            CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$primary_port,
                MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos;
        " || die "$name: CHANGE MASTER failed"
    fi
    # A no-op (with a note) when replication already runs.
    sql "$name" "START SLAVE" || die "$name: START SLAVE failed"
}

# Wait until the replica has applied everything its primary has binlogged,
# then check both replication threads and the replicated shop database.
verify_replica() {
    local name="$1" primary primary_pos waited_ok
    primary="$(primary_of "$name")"
    primary_pos="$(sql "$primary" 'SELECT @@GLOBAL.gtid_binlog_pos')"
    waited_ok="$(sql "$name" "SELECT MASTER_GTID_WAIT('$primary_pos', $START_TIMEOUT)")" || waited_ok="error"
    if [[ "$waited_ok" != "0" ]] || ! replica_healthy "$name"; then
        log "$name: replication is not working (MASTER_GTID_WAIT('$primary_pos') returned $waited_ok)"
        show_slave_status "$name" >&2 || true
        print_errlog_tail "$name"
        die "$name: replication check failed"
    fi
    log "$name: replicating from $primary, caught up at GTID $primary_pos"
}

cmd_up() {
    check_port_base
    if topology_healthy; then
        log "sandbox already up and healthy in $SANDBOX_DIR (port base $PORT_BASE)"
        return
    fi

    command -v mariadbd >/dev/null || die "mariadbd not found; run '$0 install' first"
    mkdir -p "$SANDBOX_DIR"
    touch "$MARKER"
    echo "$PORT_BASE" >"$SANDBOX_DIR/port_base"

    # Unix socket paths are limited to 107 bytes.
    local longest
    longest="$(instance_socket s0-replica).lock"
    ((${#longest} < 100)) || die "SANDBOX_DIR is too long for unix socket paths: $SANDBOX_DIR"

    # mariadbd wants more open files than the usual 1024 for max_connections=2000.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

    local name
    for name in "${INSTANCES[@]}"; do
        mkdir -p "$(instance_dir "$name")"
        init_instance "$name"
        start_instance "$name"
    done
    for name in s0-primary s1-primary; do
        provision_primary "$name"
    done
    for name in s0-replica s1-replica; do
        setup_replica "$name"
    done
    for name in s0-replica s1-replica; do
        verify_replica "$name"
    done
    log "sandbox up in $SANDBOX_DIR: s0 127.0.0.1:$(instance_port s0-primary) (replica :$(instance_port s0-replica)), s1 127.0.0.1:$(instance_port s1-primary) (replica :$(instance_port s1-replica))"
}

# ---------------------------------------------------------------- down

stop_instance() {
    local name="$1" pid
    if ! pid="$(running_pid "$name")"; then
        rm -f "$(instance_pidfile "$name")"
        log "$name: not running"
        return
    fi
    log "$name: stopping (pid $pid)"
    if ! timeout 60 mariadb-admin --no-defaults --socket="$(instance_socket "$name")" \
        --user=root --connect-timeout=5 shutdown >/dev/null 2>&1; then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= 120)); then
            log "$name: still running after 60 s, killing pid $pid"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    rm -f "$(instance_dir "$name")/started-by-sandbox"
}

cmd_down() {
    local wipe=0
    if [[ "${1:-}" == "--wipe" ]]; then
        wipe=1
    elif [[ -n "${1:-}" ]]; then
        die "usage: $0 down [--wipe]"
    fi
    if [[ ! -d "$SANDBOX_DIR" ]]; then
        log "no sandbox in $SANDBOX_DIR"
        return
    fi
    [[ -f "$MARKER" ]] || die "$SANDBOX_DIR has no $MARKER; not touching it"

    # Replicas first, so they do not log errors about their primary going away.
    local name
    for name in s0-replica s1-replica s0-primary s1-primary; do
        stop_instance "$name"
    done
    if ((wipe)); then
        log "deleting $SANDBOX_DIR"
        rm -rf "$SANDBOX_DIR"
    fi
}

# ---------------------------------------------------------------- status

cmd_status() {
    local all_running=1 name port pid state
    echo "sandbox dir: $SANDBOX_DIR (port base $PORT_BASE)"
    for name in "${INSTANCES[@]}"; do
        port="$(instance_port "$name")"
        if pid="$(running_pid "$name")" && ping_instance "$name"; then
            state="running (pid $pid)"
        elif pid="$(running_pid "$name")"; then
            state="not answering (pid $pid)"
            all_running=0
        else
            state="stopped"
            all_running=0
        fi
        printf '%-11s 127.0.0.1:%-6s server_id=%-3s %s\n' \
            "$name" "$port" "$(instance_server_id "$name")" "$state"
        if is_replica "$name" && [[ "$state" == running* ]]; then
            local status
            status="$(show_slave_status "$name" 2>/dev/null || true)"
            if [[ -z "$status" ]]; then
                echo "            replication: not configured"
            else
                printf '            replication: IO=%s SQL=%s Gtid_IO_Pos=%s gtid_slave_pos=%s behind=%ss\n' \
                    "$(slave_status_field "$name" Slave_IO_Running)" \
                    "$(slave_status_field "$name" Slave_SQL_Running)" \
                    "$(slave_status_field "$name" Gtid_IO_Pos)" \
                    "$(sql "$name" 'SELECT @@GLOBAL.gtid_slave_pos')" \
                    "$(slave_status_field "$name" Seconds_Behind_Master)"
                local io_error sql_error
                io_error="$(slave_status_field "$name" Last_IO_Error)"
                sql_error="$(slave_status_field "$name" Last_SQL_Error)"
                [[ -z "$io_error" ]] || echo "            last IO error: $io_error"
                [[ -z "$sql_error" ]] || echo "            last SQL error: $sql_error"
            fi
        fi
    done
    ((all_running)) || return 3
}

# ---------------------------------------------------------------- run

cmd_run() {
    cmd_install
    (cd "$REPO_ROOT" && cargo build --release)
    cmd_up
    local config="$REPO_ROOT/conf/sandbox.yaml"
    if [[ "$PORT_BASE" != "$DEFAULT_PORT_BASE" ]]; then
        # conf/sandbox.yaml names the default ports; use a copy with ours.
        config="$SANDBOX_DIR/shardgate.yaml"
        write_proxy_config "$config" 6033 "$(sandbox_metrics_port)"
    fi
    cd "$REPO_ROOT"
    exec "$REPO_ROOT/target/release/shardgate" --config "$config"
}

# ---------------------------------------------------------------- main

case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down "${2:-}" ;;
    status) cmd_status ;;
    run) cmd_run ;;
    *)
        echo "usage: $0 install|up|down [--wipe]|status|run" >&2
        exit 2
        ;;
esac
