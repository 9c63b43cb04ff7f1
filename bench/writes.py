"""`make bench-writes`: single-article create throughput on SQLite and PostgreSQL (one worker)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.corpus import BENCH_DIR, BYLINE, ROOT
from bench.processes import BenchError, Children, cpu_seconds, free_port, wait_until_up
from bench.wrk import SCRIPT as REPORT_SCRIPT
from bench.wrk import Load, Measure, ensure_wrk, run_wrk

CREATE_SCRIPT = Path(__file__).with_name("create.lua")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "byline_bench"
PG_TARGET = 300.0  # creates/s with one worker (issue #3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--pg-admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", PG_ADMIN_URL)
    )
    parser.add_argument(
        "--only", choices=("sqlite", "postgresql"), help="measure one database (both by default)"
    )
    args = parser.parse_args(argv)
    console = Console()
    try:
        wrk = ensure_wrk()
        results: dict[str, Measure] = {}
        if args.only in (None, "sqlite"):
            sqlite_url = f"sqlite:///{BENCH_DIR / 'writes.db'}"
            results["sqlite"] = measure(wrk, sqlite_url, args, console)
        if args.only in (None, "postgresql"):
            pg_url = fresh_pg_database(args.pg_admin_url)
            results["postgresql"] = measure(wrk, pg_url, args, console)
    except BenchError as error:
        console.print(f"[red]bench failed:[/red] {error}", highlight=False)
        return 2
    return report(console, results, args)


def fresh_pg_database(admin_url: str) -> str:
    """An empty database for the run (dropped and made again), as a plain URL."""
    host = admin_url.rsplit("/", 1)[0]
    for sql in (f"DROP DATABASE IF EXISTS {PG_DATABASE}", f"CREATE DATABASE {PG_DATABASE}"):
        done = subprocess.run(
            ["psql", admin_url, "-q", "-c", sql], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BenchError(f"PostgreSQL: {sql} failed: {done.stderr.strip()}")
    return f"{host}/{PG_DATABASE}"


def measure(wrk: str, database_url: str, args: argparse.Namespace, console: Console) -> Measure:
    """Migrate an empty database, make a write key, then POST new articles for the duration."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{BENCH_DIR / 'writes.db'}{suffix}").unlink(missing_ok=True)
    env = _env(database_url)
    _byline(env, "migrate")
    key = _byline(env, "keys", "create", "--name", "bench-writer", "--scope", "write").splitlines()[
        -1
    ]
    port = free_port()
    with Children(BENCH_DIR) as children:
        server = children.start("writes", [str(BYLINE), "serve", "--port", str(port)], env, ROOT)
        wait_until_up(server)
        console.print(f"  creating articles on {database_url.split('://')[0]} …")
        os.environ.update(
            BENCH_KEY=key, BENCH_RUN=str(int(time.time())), BENCH_REPORT_LUA=str(REPORT_SCRIPT)
        )
        load = Load(args.duration, args.connections)
        cpu_before = cpu_seconds(server.pid)
        measured = run_wrk(wrk, server.base_url, load, script=CREATE_SCRIPT)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        return replace(measured, server_cpu_us=cpu_used * 1e6 / max(1, measured.requests))


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(
        BYLINE_DATABASE_URL=database_url, BYLINE_KEY_RATE_LIMIT="none", BYLINE_LOG_LEVEL="WARNING"
    )
    return env


def _byline(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BYLINE), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"byline {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def report(console: Console, results: dict[str, Measure], args: argparse.Namespace) -> int:
    table = Table(title=f"POST /v1/articles, {args.connections} clients, one worker")
    columns = ("database", "creates/s", "p50 ms", "p99 ms", "server CPU ms/create", "requests")
    for column in (*columns, "failed"):
        table.add_column(column, justify="right")
    for name, m in results.items():
        table.add_row(
            name,
            f"{m.rps:,.0f}",
            f"{m.p50_ms:.1f}",
            f"{m.p99_ms:.1f}",
            f"{(m.server_cpu_us or 0) / 1000:.2f}",
            f"{m.requests:,}",
            str(m.failed_requests),
        )
    console.print(table)
    failed = sum(m.failed_requests for m in results.values())
    aim = True
    if "postgresql" in results:
        aim = results["postgresql"].rps >= PG_TARGET
        console.print(f"PostgreSQL aim ≥ {PG_TARGET:.0f} creates/s: {'met' if aim else 'MISSED'}")
    console.print(f"failed requests: {failed}")
    return 0 if failed == 0 and aim else 1


if __name__ == "__main__":
    sys.exit(main())
