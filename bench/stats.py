"""`python -m bench.stats`: p95 latency of every /v1/stats endpoint over a large demo corpus.

The corpus is a `byline demo` database of its own (var/bench/stats-<N>.db, reused while it
holds N articles; `--database-url` measures PostgreSQL instead), with a month of synthetic
reads added so /v1/stats/most-read has real work. Each endpoint is asked sequentially by
one client with a `stats` key; the run fails (exit 1) when any p95 is over the target.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from app.core.db import make_engine, make_sessionmaker, session_scope
from app.models import Article, ArticleViewsDaily
from app.stats.views import ViewKey, write_reads
from bench.corpus import BENCH_DIR, BYLINE, ROOT
from bench.processes import BenchError, Children

TARGET_MS = 200.0
READ_DAYS, READ_ARTICLES_PER_DAY = 30, 5_000  # synthetic reads for most-read
SEED = 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stats", description=__doc__)
    add = parser.add_argument
    add("--articles", type=int, default=100_000, help="corpus size (100000)")
    add("--requests", type=int, default=40, help="measured requests per endpoint (40)")
    add("--database-url", default=None, help="measure this database (default: a SQLite file)")
    return parser.parse_args(argv)


def scenarios(today: dt.date) -> list[tuple[str, str]]:
    year_ago = (today - dt.timedelta(days=365)).isoformat()
    ten_years_ago = (today - dt.timedelta(weeks=519)).isoformat()
    return [
        ("overview", "/v1/stats/overview"),
        ("publishing (30 days)", "/v1/stats/publishing"),
        ("publishing (366 days)", f"/v1/stats/publishing?from={year_ago}"),
        ("publishing (520 weeks)", f"/v1/stats/publishing?interval=week&from={ten_years_ago}"),
        ("categories", "/v1/stats/categories"),
        ("authors", "/v1/stats/authors?limit=100"),
        ("usage (7 days)", "/v1/stats/usage"),
        ("most-read 1d", "/v1/stats/most-read?period=1d"),
        ("most-read 7d", "/v1/stats/most-read?period=7d"),
        ("most-read 30d", "/v1/stats/most-read?period=30d&limit=100"),
        ("/v1/categories", "/v1/categories"),
        ("/v1/authors", "/v1/authors"),
        ("/v1/tags", "/v1/tags"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    url = args.database_url or f"sqlite:///{BENCH_DIR / f'stats-{args.articles}.db'}"
    env = _env(url)
    try:
        _prepare(url, env, args.articles, console)
        secret = _byline(env, "keys", "create", "--name", f"bench-stats-{time.time_ns()}",
                         "--scope", "stats", "--rate-limit", "1000000000/minute").splitlines()[-1]  # fmt: skip
        with Children(BENCH_DIR) as children:
            server = children.start("stats-server", [str(BYLINE), "serve"], env, ROOT)
            results = _measure(server.base_url, secret, args.requests)
    except BenchError as error:
        console.print(f"[red]{error}")
        return 2
    return _report(console, results, args.articles, url)


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(
        BYLINE_DATABASE_URL=url, BYLINE_ANONYMOUS_RATE_LIMIT="none", BYLINE_LOG_LEVEL="WARNING"
    )
    return env


def _byline(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BYLINE), *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"byline {' '.join(args)} failed (exit {done.returncode})")
    return done.stdout.strip()


def _prepare(url: str, env: dict[str, str], articles: int, console: Console) -> None:
    """Migrate, top the corpus up to `articles` (the demo skips what exists), add reads once."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    _byline(env, "migrate")
    if asyncio.run(_count(url)) < articles:
        started = time.perf_counter()
        _byline(env, "demo", "--articles", str(articles), "--seed", str(SEED))
        console.print(f"demo of {articles:,} articles: {time.perf_counter() - started:.0f} s")
    asyncio.run(_add_reads(url))


async def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Article)) or 0)
    finally:
        await engine.dispose()


async def _add_reads(url: str) -> None:
    """A month of reads over random articles (once per corpus), written as the servers write them."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            if await conn.scalar(select(func.count()).select_from(ArticleViewsDaily)):
                return
            ids = list(await conn.scalars(select(Article.id).limit(200_000)))
        rng = random.Random(SEED)
        today = dt.datetime.now(dt.UTC).date()
        reads: Counter[ViewKey] = Counter()
        for back in range(READ_DAYS):
            day = today - dt.timedelta(days=back)
            for article_id in rng.sample(ids, min(len(ids), READ_ARTICLES_PER_DAY)):
                reads[(article_id, day)] = rng.randint(1, 500)
        async with session_scope(make_sessionmaker(engine)) as session:
            await write_reads(session, reads, today)
    finally:
        await engine.dispose()


def _measure(base_url: str, secret: str, requests: int) -> list[tuple[str, str, float, float]]:
    """(label, path, median ms, p95 ms) per scenario."""
    today = dt.datetime.now(dt.UTC).date()
    headers = {"Authorization": f"Bearer {secret}"}
    results = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        for label, path in scenarios(today):
            timings = []
            for i in range(requests + 3):  # the first three warm the server up
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise BenchError(f"{path}: {response.status_code} {response.text[:300]}")
                if i >= 3:
                    timings.append(elapsed)
            p95 = statistics.quantiles(timings, n=20)[-1]
            results.append((label, path, statistics.median(timings), p95))
    return results


def _report(
    console: Console, results: list[tuple[str, str, float, float]], articles: int, url: str
) -> int:
    backend = url.split(":", 1)[0]
    table = Table(
        title=f"/v1/stats over {articles:,} articles ({backend}); target p95 < {TARGET_MS:.0f} ms"
    )
    for column in ("endpoint", "median ms", "p95 ms", "ok"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    failed = False
    for label, _, median, p95 in results:
        ok = p95 < TARGET_MS
        failed |= not ok
        table.add_row(label, f"{median:.1f}", f"{p95:.1f}", "yes" if ok else "[red]NO")
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
