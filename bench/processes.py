"""Child processes of a bench run: servers on free ports, readiness, and certain cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


@dataclass
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM), in MB (10^6 bytes)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    now, peak = (int(fields[name].split()[0]) * 1024 / 1e6 for name in ("VmRSS", "VmHWM"))
    return now, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class Children:
    """Servers started for the run; all of them are stopped when the block ends, however it ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.servers: list[Server] = []

    def __enter__(self) -> Children:
        # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so the children are stopped.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, *_: object) -> None:
        for server in reversed(self.servers):
            stop(server)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path) -> Server:
        port = free_port()
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*argv, "--host", "127.0.0.1", "--port", str(port)],
                env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
            )  # fmt: skip
        server = Server(name, f"http://127.0.0.1:{port}", process, log)
        self.servers.append(server)  # before waiting: one that never comes up is stopped too
        wait_until_up(server)
        return server


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def probe_until_ok(url: str, process: subprocess.Popen[bytes], timeout: float) -> str | None:
    """Poll `url` until it answers 200: None then, else why it did not (the tests use it too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited early (status {process.returncode})"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return None
        time.sleep(0.1)
    return f"{url} not 200 after {timeout:g}s"


def wait_until_up(server: Server, probe: str = "/healthz") -> None:
    problem = probe_until_ok(server.base_url + probe, server.process, READY_TIMEOUT)
    if problem is not None:
        raise BenchError(f"{server.name} {problem}:\n{server.log_tail()}")


def stop(server: Server) -> None:
    stop_process(server.process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM a process group (started with start_new_session), then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def settle(server: Server, prompt: float = 0.05, timeout: float = 120.0) -> None:
    """Wait until /healthz answers promptly twice running, or fail after `timeout` seconds."""
    # When wrk stops, the server still answers the requests queued during the run; the
    # next run must not start behind them.
    deadline = time.monotonic() + timeout
    quick = 0
    while quick < 2:
        if time.monotonic() > deadline:
            raise BenchError(f"{server.name} stayed busy for {timeout:.0f}s after a run")
        started = time.monotonic()
        httpx.get(server.base_url + "/healthz", timeout=timeout)
        quick = quick + 1 if time.monotonic() - started < prompt else 0
        time.sleep(0.2)
