"""Differential check of real ORM applications through shardgate (run by integration/orm/run.sh).

For each app (sa: SQLAlchemy + PyMySQL, dj: Django + mysqlclient) it
  1. creates a sharded schema (physical sub-tables straight on both shard primaries) and a plain
     reference schema (logical tables on s0's primary),
  2. runs the app against shardgate (sharded schema) and directly against the reference schema,
  3. compares the two transcripts (what the app observed) and the final table contents, read
     from the backends (the sharded side: the union of the sub-tables on both primaries; rows in
     a sub-table their key does not map to, and broadcast copies that differ, are differences).
Any difference is printed and makes the exit status 1.

--self-check runs the "sharded" side against a second plain schema instead of the proxy (no
proxy needed): it must pass, which shows the apps and the comparison are deterministic.
--tamper changes one row of the sharded (or second plain) side and one observation after the
runs: it must fail, which shows the comparison sees differences.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import pymysql

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = ("shardgate", "shardgate-pw")
PROXY_USER = ("app", "app-pw")
APPS = {"sa": "sa_app.py", "dj": "dj_app.py"}
APP_TIMEOUT_S = 40

# Sub-table -> shard (mod 4; the same placement as run.sh's proxy config).
PLACEMENT = {0: "s0", 1: "s0", 2: "s1", 3: "s1"}
SHARDED = {
    "orders": "id BIGINT NOT NULL, user_id BIGINT NOT NULL, status VARCHAR(16) NOT NULL, "
              "amount INT NOT NULL, PRIMARY KEY (user_id, id)",
    "order_items": "id BIGINT NOT NULL, user_id BIGINT NOT NULL, order_id BIGINT NOT NULL, "
                   "sku VARCHAR(16) NOT NULL, qty INT NOT NULL, PRIMARY KEY (user_id, id)",
}
BROADCAST = {"currencies": "code CHAR(3) NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL"}
UNSHARDED = {"audit": "id BIGINT NOT NULL PRIMARY KEY, note VARCHAR(64) NOT NULL"}
# The sharded schemas' default_shard (holding `audit`), as run.sh's proxy config says: orm_dj's
# is not the proxy's default shard, so its session state lives on another shard.
DEFAULT_SHARD = {"orm_sa": "s0", "orm_dj": "s1"}


def connect(addr, db=None):
    host, port = addr.rsplit(":", 1)
    return pymysql.connect(host=host, port=int(port), user=BACKEND[0], password=BACKEND[1],
                           database=db, autocommit=True, connect_timeout=5)


def recreate(conn, db, tables):
    with conn.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS `{db}`")
        c.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        for name, columns in tables.items():
            c.execute(f"CREATE TABLE `{db}`.`{name}` ({columns}) ENGINE=InnoDB")


def sharded_tables(db, shard):
    tables = {f"{t}_{slot:04d}": cols for t, cols in SHARDED.items()
              for slot, s in PLACEMENT.items() if s == shard}
    tables.update(BROADCAST)
    if shard == DEFAULT_SHARD[db]:
        tables.update(UNSHARDED)
    return tables


def plain_tables():
    return {**SHARDED, **BROADCAST, **UNSHARDED}


def rows(conn, db, table):
    with conn.cursor() as c:
        c.execute(f"SELECT * FROM `{db}`.`{table}`")
        return sorted([list(r) for r in c.fetchall()], key=repr)


def read_plain(conn, db):
    """Final contents of a plain schema, in the shape read_sharded gives."""
    out = {t: rows(conn, db, t) for t in list(SHARDED) + list(UNSHARDED)}
    for t in BROADCAST:
        out[f"{t} (s0 copy)"] = out[f"{t} (s1 copy)"] = rows(conn, db, t)
    return out


def read_sharded(conns, db):
    """Final contents of the sharded schema: sub-tables unioned, plus misplaced rows."""
    out, problems = {}, []
    for t in SHARDED:
        union = []
        for slot, shard in PLACEMENT.items():
            for r in rows(conns[shard], db, f"{t}_{slot:04d}"):
                user_id = r[1]
                if user_id % len(PLACEMENT) != slot:
                    problems.append(f"{db}.{t}_{slot:04d} on {shard} holds user_id {user_id}: {r}")
                union.append(r)
        out[t] = sorted(union, key=repr)
    for t in UNSHARDED:
        out[t] = rows(conns[DEFAULT_SHARD[db]], db, t)
    for t in BROADCAST:
        for shard in ("s0", "s1"):
            out[f"{t} ({shard} copy)"] = rows(conns[shard], db, t)
    return out, problems


def run_app(app, port, user, password, db, out):
    cmd = [sys.executable, os.path.join(HERE, APPS[app]), "--port", str(port), "--user", user,
           "--password", password, "--db", db, "--out", out]
    started = time.monotonic()
    p = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=APP_TIMEOUT_S)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"{APPS[app]} against {db} (port {port}) failed with exit status {p.returncode}")
    with open(out, encoding="utf-8") as f:
        transcript = json.load(f)
    print(f"  {APPS[app]} against {db} on port {port}: {len(transcript)} observations, "
          f"{time.monotonic() - started:.1f}s")
    return transcript


def keyed(transcript):
    """Observations keyed by (scenario, step, n-th of that step), in order: one side's extra or
    missing step (an unexpected exception) does not shift the comparison of the others."""
    out, seen = {}, {}
    for o in transcript:
        k = (o["scenario"], o["step"])
        seen[k] = seen.get(k, 0) + 1
        out[k + (seen[k],)] = o
    return out


SIDE = "through shardgate"

# A documented limitation, not a wrong answer: shardgate refuses (1235, before any side effect)
# a read of several sub-tables of one shard inside a transaction (docs/sharding.md; issue 15
# lifts it). Only that exact refusal, on a step whose name says it is a scatter read, is
# accepted; the step is still reported, as a known refusal, so it is visible in every run.
KNOWN_REFUSAL = "a read of several sub-tables of one shard inside a transaction"


def known_refusal(step, got):
    v = got["value"] if got else None
    return ("scatter" in step and isinstance(v, dict) and v.get("errno") == 1235
            and KNOWN_REFUSAL in (got.get("message") or ""))


def compare_transcripts(ref, got, label):
    """Differences between the reference transcript and the one through the proxy."""
    ref, got = keyed(ref), keyed(got)
    diffs, traced = [], set()
    for k in list(ref) + [k for k in got if k not in ref]:
        r, g = ref.get(k), got.get(k)
        if r and g and r["value"] == g["value"]:
            continue
        if r and known_refusal(k[1], g):
            print(f"[{label}] known refusal (issue 15) at '{k[0]}' / '{k[1]}': {g['message'][:120]}")
            continue
        lines = [f"[{label}] scenario '{k[0]}', step '{k[1]}':",
                 f"    expected (plain MariaDB): {json.dumps(r['value']) if r else '(no such step)'}",
                 f"    got ({SIDE}):".ljust(30) + f"{json.dumps(g['value']) if g else '(no such step)'}"]
        if g and g.get("message"):
            lines.append(f"    error {SIDE}: {g['message']}")
        if g and k[0] not in traced:  # the first difference of a scenario shows its SQL
            traced.add(k[0])
            lines.append(f"    statements of this scenario up to here ({SIDE}):")
            lines += [f"      {s[:220]}" for s in g["sql"][-40:]]
        diffs.append("\n".join(lines))
    return diffs


def compare_tables(ref, got, label):
    diffs = []
    for table in ref:
        missing = [r for r in ref[table] if r not in got[table]]
        extra = [r for r in got[table] if r not in ref[table]]
        if missing or extra:
            lines = [f"[{label}] final contents of {table} differ:"]
            lines += [f"    only in the plain schema:   {r}" for r in missing]
            lines += [f"    only in the {'second plain' if SIDE != 'through shardgate' else 'sharded'} schema: {r}" for r in extra]
            diffs.append("\n".join(lines))
    return diffs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--proxy-port", type=int, help="shardgate's port (not with --self-check)")
    p.add_argument("--s0", required=True, help="host:port of shard s0's primary")
    p.add_argument("--s1", required=True, help="host:port of shard s1's primary")
    p.add_argument("--work", required=True, help="directory for the transcripts")
    p.add_argument("--apps", default="sa,dj")
    p.add_argument("--self-check", action="store_true")
    p.add_argument("--tamper", action="store_true")
    a = p.parse_args()
    global SIDE
    if a.self_check:
        SIDE = "second plain schema"
    conns = {"s0": connect(a.s0), "s1": connect(a.s1)}
    s0_host, s0_port = a.s0.rsplit(":", 1)
    assert s0_host == "127.0.0.1", "the apps connect to 127.0.0.1"
    failures = []

    apps = a.apps.split(",")
    dbs = {app: (f"orm_{app}_ref2" if a.self_check else f"orm_{app}", f"orm_{app}_ref") for app in apps}
    for app, (db, ref_db) in dbs.items():
        recreate(conns["s0"], ref_db, plain_tables())
        if a.self_check:
            recreate(conns["s0"], db, plain_tables())
        else:
            for shard in ("s0", "s1"):
                recreate(conns[shard], db, sharded_tables(db, shard))

    # All runs first, then all comparisons: a write one app's session leaves in another app's
    # schema (a pooled backend connection keeping the wrong default schema) shows up too.
    transcripts = {}
    for app, (db, ref_db) in dbs.items():
        print(f"{app}: {'self-check: two plain schemas' if a.self_check else 'shardgate vs plain MariaDB'}")
        ref = run_app(app, int(s0_port), *BACKEND, ref_db, os.path.join(a.work, f"{app}-plain.json"))
        if a.self_check:
            got = run_app(app, int(s0_port), *BACKEND, db, os.path.join(a.work, f"{app}-plain2.json"))
        else:
            got = run_app(app, a.proxy_port, *PROXY_USER, db, os.path.join(a.work, f"{app}-shardgate.json"))
        transcripts[app] = (ref, got)

    if a.tamper:
        app = apps[0]
        with conns["s0" if a.self_check else "s1"].cursor() as c:
            table = "orders" if a.self_check else "orders_0002"
            c.execute(f"UPDATE `{dbs[app][0]}`.`{table}` SET amount = amount + 1000 ORDER BY id LIMIT 1")
        got = transcripts[app][1]
        got[len(got) // 2]["value"] = "tampered"

    for app, (db, ref_db) in dbs.items():
        ref, got = transcripts[app]
        if a.self_check:
            got_tables, problems = read_plain(conns["s0"], db), []
        else:
            got_tables, problems = read_sharded(conns, db)
        diffs = compare_transcripts(ref, got, app)
        diffs += compare_tables(read_plain(conns["s0"], ref_db), got_tables, app)
        diffs += [f"[{app}] misplaced row: {m}" for m in problems]
        for d in diffs:
            print(d)
        print(f"{app}: {len(diffs)} difference(s)")
        failures += diffs

    if not failures:  # keep the databases of a failed check for a look
        for app, (db, ref_db) in dbs.items():
            for shard in ("s0",) if a.self_check else ("s0", "s1"):
                with conns[shard].cursor() as c:
                    c.execute(f"DROP DATABASE IF EXISTS `{db}`")
            with conns["s0"].cursor() as c:
                c.execute(f"DROP DATABASE IF EXISTS `{ref_db}`")
    if failures:
        print(f"ORM check FAILED: {len(failures)} difference(s) between shardgate and plain MariaDB")
        return 1
    print("ORM check passed: the apps observed the same results and left the same rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
