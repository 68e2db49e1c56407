"""Shared by the ORM apps (sa_app.py, dj_app.py) and the checker (check.py).

An app run records a *transcript*: one observation per step (query results, rowcounts, MySQL
error codes), each tagged with the scenario it belongs to. The checker runs each app twice (a
sharded schema through shardgate, a plain schema on one MariaDB) and compares the transcripts'
values; the SQL an app sent is kept beside each observation to explain a difference, but is
not compared.
"""

import argparse
import contextlib
import datetime
import decimal
import json

# Users of the sharded tables and where `mod 4` (sub-tables 0-1 on s0, 2-3 on s1) puts them:
# 1 -> orders_0001 (s0), 2 -> _0002 (s1), 3 -> _0003 (s1), 4 -> _0000 (s0).
USERS = (1, 2, 3, 4)


def app_args(description):
    """Command line shared by both apps: where to connect and where to write the transcript."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, help="transcript file (JSON) to write")
    return p.parse_args()


def plain(value):
    """A JSON-friendly, comparable form of a value read through a driver or an ORM."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (decimal.Decimal, datetime.date, datetime.datetime, bytes)):
        return str(value)
    return value


def mysql_errno(exc):
    """The MySQL error code behind an exception (driver or ORM wrapper), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        args = getattr(exc, "args", ())
        if args and isinstance(args[0], int):
            return args[0]
        exc = getattr(exc, "orig", None) or exc.__cause__
    return None


class Transcript:
    """What an app observed, scenario by scenario, plus the SQL it sent (for explanations)."""

    def __init__(self):
        self.observations = []
        self.scenario = "setup"
        self.sql = []

    def trace(self, statement):
        """Called by the apps' driver hooks for every statement and transaction call."""
        self.sql.append(" ".join(str(statement).split()))

    def see(self, step, value):
        self.observations.append(
            {"scenario": self.scenario, "step": step, "value": plain(value), "sql": list(self.sql)}
        )

    def see_error(self, step, exc):
        """Records an expected exception: its class name and MySQL error code are compared."""
        self.see(step, {"error": type(exc).__name__, "errno": mysql_errno(exc)})
        self.observations[-1]["message"] = str(exc).splitlines()[0][:300]

    def attempt(self, step, read):
        """Records read()'s result, or the error it raised (a read the proxy may refuse)."""
        try:
            self.see(step, read())
        except Exception as exc:  # noqa: BLE001 - compared with the other side
            self.see_error(step, exc)

    @contextlib.contextmanager
    def run(self, scenario, cleanup):
        """Runs one scenario; an unexpected exception is recorded (so that the other side's
        transcript shows where they part) and `cleanup` rolls back whatever was left open."""
        self.scenario = scenario
        self.sql = []
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - recorded, then the next scenario runs
            self.see_error("unexpected exception", exc)
            try:
                cleanup()
            except Exception as cleanup_exc:  # noqa: BLE001
                self.see_error("cleanup after unexpected exception", cleanup_exc)

    def write(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.observations, f, indent=1)
