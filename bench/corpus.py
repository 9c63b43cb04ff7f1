"""The bench corpus: a `byline demo` SQLite database, built once and reused while complete."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.processes import BenchError

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "var" / "bench"
DATABASE = BENCH_DIR / "bench.db"
META = BENCH_DIR / "bench.json"  # what was built, and how long the demo took
BYLINE = Path(sys.executable).parent / "byline"
SEED = 1


@dataclass(frozen=True)
class CorpusInfo:
    articles: int
    seed: int
    demo_seconds: float
    demo_summary: str
    built_at: str
    built_now: bool


def byline_env() -> dict[str, str]:
    """The caller's environment without its BYLINE_ settings, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(
        BYLINE_DATABASE_URL=f"sqlite:///{DATABASE}",
        BYLINE_ANONYMOUS_RATE_LIMIT="none",
        BYLINE_LOG_LEVEL="WARNING",
    )
    return env


def prepare(articles: int, rebuild: bool) -> CorpusInfo:
    """Reuse the corpus if it is complete, else build it from scratch and time the demo."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    known = _read_meta()
    if not rebuild and known is not None and _complete(known, articles):
        _byline("migrate")  # a corpus built before the newest migrations is brought up to date
        return CorpusInfo(**{**asdict(known), "built_now": False})
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DATABASE}{suffix}").unlink(missing_ok=True)
    _byline("migrate")
    started = time.perf_counter()
    summary = _byline("demo", "--articles", str(articles), "--seed", str(SEED))
    info = CorpusInfo(
        articles, SEED, round(time.perf_counter() - started, 2), summary.strip(),
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), built_now=True,
    )  # fmt: skip
    META.write_text(json.dumps(asdict(info), indent=2))
    return info


def _read_meta() -> CorpusInfo | None:
    try:
        return CorpusInfo(**json.loads(META.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _complete(meta: CorpusInfo, articles: int) -> bool:
    if (meta.articles, meta.seed) != (articles, SEED) or not DATABASE.exists():
        return False
    with sqlite3.connect(DATABASE) as db:
        (count,) = db.execute("SELECT count(*) FROM articles").fetchone()
    return bool(count == articles)


def _byline(*args: str) -> str:
    """Run a `byline` command; its progress shows on the terminal, its stdout is returned."""
    done = subprocess.run(
        [str(BYLINE), *args], env=byline_env(), cwd=ROOT, stdout=subprocess.PIPE, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"byline {' '.join(args)} failed (exit {done.returncode})")
    return done.stdout


def read_key() -> str:
    """A new `read` key on the bench database, with a limit that counts but never refuses."""
    name = f"bench-reader-{int(time.time() * 1000)}"
    out = _byline(
        "keys", "create", "--name", name, "--scope", "read", "--rate-limit", "1000000000/minute"
    )
    return out.strip().splitlines()[-1]
