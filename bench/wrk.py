"""wrk as the load generator: installed on demand, run per scenario, read from its JSON line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.processes import BenchError

SCRIPT = Path(__file__).with_name("report.lua")
MARKER = "BENCH_JSON "
REQUEST_TIMEOUT = "10s"  # wrk drops slower responses from its latencies; keep them all in


@dataclass(frozen=True)
class Load:
    duration: float
    connections: int
    threads: int = 1


@dataclass(frozen=True)
class Measure:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    requests: int
    seconds: float
    errors: dict[str, int]
    # The server's own CPU time per request during the run (user + system), in µs: what
    # a request costs the server, unlike req/s, which the load generator sharing the
    # machine's cores also moves. Filled in by bench.run; None where not measured.
    server_cpu_us: float | None = None

    @property
    def failed_requests(self) -> int:
        return sum(self.errors.values())


def ensure_wrk() -> str:
    """The wrk binary; installed from the Debian package when running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise BenchError("wrk is not installed: install the Debian package (apt-get install wrk)")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, check=False).returncode != 0:
        # A fresh image may have no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], check=False)
        subprocess.run(install, check=False)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("could not install wrk with apt-get; install it and run again")
    return found


def run_wrk(
    wrk: str, url: str, load: Load, headers: Sequence[str] = (), script: Path = SCRIPT
) -> Measure:
    argv = [
        wrk, "-t", str(load.threads), "-c", str(load.connections), "-d", f"{load.duration:g}s",
        "--timeout", REQUEST_TIMEOUT, "-s", str(script),
        *(arg for header in headers for arg in ("-H", header)), url,
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=load.duration + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return Measure(**json.loads(line[len(MARKER) :]))
    raise BenchError(f"wrk gave no result for {url}:\n{done.stdout}\n{done.stderr}")
