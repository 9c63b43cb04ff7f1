"""/metrics across `byline serve --workers N`: each worker's numbers in a file, summed at scrape.

Without this a scrape reaches whichever worker accepted the connection and reports its
share only, so every counter jumps between workers' values. Each worker writes a snapshot
of its own numbers to a directory the workers share (`BYLINE_METRICS_DIR`; `byline serve`
makes one when it starts several workers) every second, and whenever it answers a scrape;
the scrape then adds up every snapshot in the directory.

Counters and the latency histogram add up every snapshot, those of workers that have
exited too (a restarted worker writes a new file beside its predecessor's), so they never
go down while the server runs. Gauges (cache entries, pool use) add up only the workers
that wrote in the last few seconds, and `byline_serve_workers` counts those.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SeriesKey = tuple[str, str, int]  # method, route template, status
SHARE_SECONDS = 1.0  # how often a worker writes its snapshot
LIVE_SECONDS = 5.0  # a worker silent for longer is left out of the gauges
PREFIX, SUFFIX = "worker-", ".json"

log = logging.getLogger("byline.metrics")


@dataclass
class Snapshot:
    """One process's numbers: what /metrics reports for it."""

    pid: int
    written_at: float  # time.time()
    bounds: tuple[float, ...]  # the latency buckets the series were counted in
    # Per series: one count per bucket, one for +Inf, then the sum of seconds.
    series: dict[SeriesKey, list[float]] = field(default_factory=dict)
    cache_hits: int = 0
    cache_misses: int = 0
    cache_entries: int = 0
    pool: tuple[int, int, int] | None = None  # size, checked out, overflow
    workers: int = 1  # live processes these numbers come from


def to_json(snapshot: Snapshot) -> str:
    return json.dumps(
        {
            "pid": snapshot.pid,
            "written_at": snapshot.written_at,
            "bounds": snapshot.bounds,
            "series": [[*key, counts] for key, counts in snapshot.series.items()],
            "cache": [snapshot.cache_hits, snapshot.cache_misses, snapshot.cache_entries],
            "pool": snapshot.pool,
        }
    )


def from_json(text: str) -> Snapshot:
    """The snapshot a worker wrote; ValueError (or KeyError, TypeError) if it is not one."""
    data = json.loads(text)
    hits, misses, entries = (int(n) for n in data["cache"])
    pool = data["pool"]
    return Snapshot(
        pid=int(data["pid"]),
        written_at=float(data["written_at"]),
        bounds=tuple(float(b) for b in data["bounds"]),
        series={
            (str(method), str(route), int(status)): [float(c) for c in counts]
            for method, route, status, counts in data["series"]
        },
        cache_hits=hits,
        cache_misses=misses,
        cache_entries=entries,
        pool=None if pool is None else (int(pool[0]), int(pool[1]), int(pool[2])),
    )


def combine(snapshots: Sequence[Snapshot], now: float) -> Snapshot:
    """Every snapshot added up: counters from all of them, gauges from the live ones.

    The first snapshot is the answering process's own; a snapshot counted in other
    latency buckets (a worker of another version) is left out rather than mis-added.
    """
    own = snapshots[0]
    total = Snapshot(pid=own.pid, written_at=now, bounds=own.bounds, workers=0)
    for snapshot in snapshots:
        if snapshot.bounds != own.bounds:
            continue
        for key, counts in snapshot.series.items():
            summed = total.series.setdefault(key, [0.0] * len(counts))
            for i, count in enumerate(counts):
                summed[i] += count
        total.cache_hits += snapshot.cache_hits
        total.cache_misses += snapshot.cache_misses
        if snapshot is own or now - snapshot.written_at <= LIVE_SECONDS:
            _add_gauges(total, snapshot)
    return total


def _add_gauges(total: Snapshot, snapshot: Snapshot) -> None:
    total.workers += 1
    total.cache_entries += snapshot.cache_entries
    if snapshot.pool is not None:
        size, out, overflow = total.pool or (0, 0, 0)
        total.pool = (size + snapshot.pool[0], out + snapshot.pool[1], overflow + snapshot.pool[2])


class SharedDirectory:
    """The directory the workers of one server share; each writes only its own file."""

    def __init__(self, path: Path, pid: int | None = None) -> None:
        self.path = path
        self.pid = os.getpid() if pid is None else pid

    @property
    def own_file(self) -> Path:
        return self.path / f"{PREFIX}{self.pid}{SUFFIX}"

    def write(self, snapshot: Snapshot) -> None:
        """Replace this worker's file at once: a reader sees the old snapshot or the new one."""
        scratch = self.path / f".{PREFIX}{self.pid}.tmp"
        scratch.write_text(to_json(snapshot), encoding="utf-8")
        os.replace(scratch, self.own_file)

    def read_others(self) -> list[Snapshot]:
        """Every other worker's last snapshot; a file that cannot be read is skipped."""
        own = self.own_file.name
        return list(self._read(p for p in self._files() if p.name != own))

    def _files(self) -> Iterable[Path]:
        with contextlib.suppress(FileNotFoundError):
            yield from self.path.glob(f"{PREFIX}*{SUFFIX}")

    @staticmethod
    def _read(files: Iterable[Path]) -> Iterable[Snapshot]:
        for path in files:
            try:
                yield from_json(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue  # cleared between the listing and the read
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                log.warning("metrics file %s skipped: %r", path.name, exc)


def clear(path: Path) -> None:
    """Remove the snapshots of an earlier run (a server starting over starts at zero)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob(f"{PREFIX}*{SUFFIX}"):
        stale.unlink(missing_ok=True)
