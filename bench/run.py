"""`make bench`: Byline and a minimal ASGI baseline under the same server settings, one run, ratio targets."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import httpx
from rich.console import Console
from rich.table import Table

from bench.corpus import BENCH_DIR, BYLINE, ROOT, CorpusInfo, byline_env, prepare, read_key
from bench.gate import usage_record_us
from bench.inprocess import KeyCost, key_cost
from bench.processes import BenchError, Children, Server, cpu_seconds, rss_mb, settle
from bench.wrk import Load, Measure, ensure_wrk, run_wrk

RESULTS = Path(__file__).with_name("results") / "latest.json"
BODY_FILE = BENCH_DIR / "article.json"
# The other bytes the minimal app serves, each at its own path, for the syndication targets.
SAME_BYTES = {"/feed": BENCH_DIR / "feed.rss", "/ninjs": BENCH_DIR / "ninjs.json"}
UVICORN_SETTINGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--workers", "1"]
DEEP_PAGES = 1_000
# A word in about one article in twenty of the demo corpus: common, but not a stop word.
SEARCH_WORD = "water"
# Scenarios that a target compares run in interleaved rounds, and the target checks the
# median of the per-round ratios: on a shared 2-core machine one run can be 25% off.
GROUPS = (
    ("minimal", "detail", "detail_keyed", "not_modified"),
    ("list_first", "list_deep"),
    ("minimal_feed", "feed", "minimal_ninjs", "ninjs"),
)
ALONE = ("search_latency", "search")

Runs = dict[str, list[Measure]]


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    server: str  # "minimal" or "byline"
    path: str
    headers: tuple[str, ...] = ()
    connections: int | None = None  # None: the run's --connections
    status: int = 200


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    required: str
    passed: bool


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    add = parser.add_argument
    add("--articles", type=int, default=100_000, help="corpus size (100000)")
    add("--duration", type=float, default=10.0, help="seconds per measured run (10)")
    add("--connections", type=int, default=64, help="wrk connections (64)")
    add("--rounds", type=int, default=4, help="interleaved rounds of compared scenarios (4)")
    add("--warmup", type=float, default=2.0, help="warm-up seconds before each run (2)")
    add("--search-word", default=SEARCH_WORD, help=f"the q= word ({SEARCH_WORD})")
    add("--search-connections", type=int, default=1, help="connections of the search p95 run (1)")
    add("--rebuild", action="store_true", help="build the corpus again, and time it")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    try:
        wrk = ensure_wrk()
        console.print(f"corpus: {args.articles:,} demo articles in {BENCH_DIR / 'bench.db'}")
        corpus = prepare(args.articles, args.rebuild)
        with Children(BENCH_DIR) as children:
            runs, rss = measure(args, wrk, children, console)
        console.print("  keyed and anonymous reads in process (no sockets) …")
        in_process = key_cost(read_key(), _settings_of(byline_env()))
    except BenchError as error:
        console.print(f"[red]bench failed:[/red] {error}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    targets = evaluate(runs, rss, corpus, in_process)
    report(console, runs, rss, corpus, targets, in_process)
    write_results(args, runs, rss, corpus, targets, in_process)
    return 0 if all(t.passed for t in targets) else 1


# ---- measuring


def measure(
    args: argparse.Namespace, wrk: str, children: Children, console: Console
) -> tuple[Runs, tuple[float, float]]:
    byline = children.start("byline", [str(BYLINE), "serve", "--workers", "1"], byline_env(), ROOT)
    scenarios = {s.key: s for s in plan(args, byline, console)}
    minimal_env = {
        **os.environ, "BENCH_BODY_FILE": str(BODY_FILE),
        "BENCH_FEED_FILE": str(SAME_BYTES["/feed"]), "BENCH_NINJS_FILE": str(SAME_BYTES["/ninjs"]),
    }  # fmt: skip
    minimal = children.start(
        "minimal", [sys.executable, "-m", "uvicorn", "bench.minimal_app:app", *UVICORN_SETTINGS],
        minimal_env, ROOT,
    )  # fmt: skip
    _expect_same_body(minimal)
    servers = {"byline": byline, "minimal": minimal}
    runs: Runs = {key: [] for key in scenarios}
    for key in schedule(args.rounds):
        scenario = scenarios[key]
        console.print(f"  {scenario.label} (run {len(runs[key]) + 1}) …")
        runs[key].append(run_scenario(wrk, servers[scenario.server], scenario, args))
        settle(servers[scenario.server])
    return runs, rss_mb(byline.pid)


def schedule(rounds: int) -> list[str]:
    """The order of the runs: each group's scenarios in turn, `rounds` times, then the rest.

    Every other round runs its group backwards (A B, then B A): when the machine drifts
    during a run, a scenario that always came second would pay for it in every round.
    """
    order = [
        key
        for group in GROUPS
        for round_ in range(rounds)
        for key in (group if round_ % 2 == 0 else group[::-1])
    ]
    return order + list(ALONE)


def plan(args: argparse.Namespace, byline: Server, console: Console) -> list[Scenario]:
    """Fetch what the scenarios need from Byline, check each answers as expected, list them."""
    with httpx.Client(base_url=byline.base_url, timeout=30.0) as client:
        article_id = _get(client, "/v1/articles").json()["data"][0]["id"]
        detail = _get(client, f"/v1/articles/{article_id}")  # also fills the read cache
        BODY_FILE.write_bytes(detail.content)
        SAME_BYTES["/feed"].write_bytes(_get(client, "/v1/feeds/all.rss").content)
        SAME_BYTES["/ninjs"].write_bytes(_get(client, f"/v1/articles/{article_id}/ninjs").content)
        console.print(f"walking {DEEP_PAGES:,} list pages by cursor …")
        deep = _deep_page(client, DEEP_PAGES)
        scenarios = scenarios_for(
            args, f"/v1/articles/{article_id}", detail.headers["etag"], deep, read_key()
        )
        for scenario in (s for s in scenarios if s.server == "byline"):
            headers = dict(h.split(": ", 1) for h in scenario.headers)
            _get(client, scenario.path, headers=headers, status=scenario.status)
    return scenarios


def scenarios_for(
    args: argparse.Namespace, detail: str, etag: str, deep: str, key: str
) -> list[Scenario]:
    search = "/v1/articles?" + urlencode({"q": args.search_word})
    word, alone = args.search_word, args.search_connections
    return [
        Scenario("minimal", "minimal ASGI app, same bytes", "minimal", "/"),
        Scenario("detail", "warm detail GET", "byline", detail),
        Scenario(
            "detail_keyed",
            "warm detail GET with a read key (counted against its limit)",
            "byline",
            detail,
            headers=(f"Authorization: Bearer {key}",),
        ),
        Scenario(
            "not_modified",
            "conditional GET (304)",
            "byline",
            detail,
            headers=(f"If-None-Match: {etag}",),
            status=304,
        ),
        Scenario("list_first", "first list page", "byline", "/v1/articles"),
        Scenario("list_deep", f"list page {DEEP_PAGES:,} deep", "byline", deep),
        Scenario(
            "search_latency",
            f"search q={word}, {alone} connection(s)",
            "byline",
            search,
            connections=alone,
        ),
        Scenario("search", f"search q={word}", "byline", search),
        Scenario("minimal_feed", "minimal ASGI app, same feed bytes", "minimal", "/feed"),
        Scenario("feed", "warm RSS feed GET (newest 50)", "byline", "/v1/feeds/all.rss"),
        Scenario("minimal_ninjs", "minimal ASGI app, same ninjs bytes", "minimal", "/ninjs"),
        Scenario("ninjs", "warm ninjs 2.2 GET", "byline", f"{detail}/ninjs"),
    ]


def _deep_page(client: httpx.Client, pages: int) -> str:
    path = "/v1/articles"
    for _ in range(pages):
        cursor = _get(client, path).json()["meta"]["next_cursor"]
        if cursor is None:
            raise BenchError(f"the corpus has fewer than {pages + 1} pages of 20 articles")
        path = "/v1/articles?" + urlencode({"cursor": cursor})
    return path


def _get(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None, status: int = 200
) -> httpx.Response:
    response = client.get(path, headers=headers)
    if response.status_code != status:
        raise BenchError(f"GET {path} answered {response.status_code}, not {status}")
    return response


def _expect_same_body(minimal: Server) -> None:
    if httpx.get(minimal.base_url + "/").content != BODY_FILE.read_bytes():
        raise BenchError("the minimal app does not return Byline's article bytes")
    for path, file in SAME_BYTES.items():
        if httpx.get(minimal.base_url + path).content != file.read_bytes():
            raise BenchError(f"the minimal app does not return Byline's bytes at {path}")


def run_scenario(wrk: str, server: Server, scenario: Scenario, args: argparse.Namespace) -> Measure:
    connections = scenario.connections or args.connections
    url = server.base_url + scenario.path
    if args.warmup > 0:
        run_wrk(wrk, url, Load(args.warmup, connections), scenario.headers)
    cpu_before = cpu_seconds(server.pid)
    measured = run_wrk(wrk, url, Load(args.duration, connections), scenario.headers)
    cpu_used = cpu_seconds(server.pid) - cpu_before
    if measured.failed_requests:
        raise BenchError(f"{scenario.label}: wrk reported errors {measured.errors}")
    if measured.requests == 0:  # e.g. every request outlived wrk's timeout
        raise BenchError(f"{scenario.label}: no request completed in {args.duration:g} s")
    return replace(measured, server_cpu_us=cpu_used * 1e6 / max(1, measured.requests))


# ---- targets and reporting


def median_ratio(runs: Runs, top: str, bottom: str, value: Callable[[Measure], float]) -> float:
    """The median over rounds of value(top) / value(bottom), each pair from the same round."""
    return statistics.median(
        value(a) / value(b) for a, b in zip(runs[top], runs[bottom], strict=True)
    )


def typical(measures: list[Measure]) -> Measure:
    """The run with the median requests/s."""
    return sorted(measures, key=lambda m: m.rps)[len(measures) // 2]


def _settings_of(environment: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environment.items() if name.startswith("BYLINE_")}


def evaluate(
    runs: Runs, rss: tuple[float, float], corpus: CorpusInfo, in_process: KeyCost
) -> list[Target]:
    """The issue's targets, as ratios within this run where they compare two things."""
    detail = median_ratio(runs, "detail", "minimal", lambda m: m.rps)
    keyed = median_ratio(runs, "detail_keyed", "minimal", lambda m: m.rps)
    key_cost = median_ratio(runs, "detail_keyed", "detail", lambda m: m.rps)
    key_cpu = median_ratio(runs, "detail", "detail_keyed", lambda m: m.server_cpu_us or 0.0)
    # What a whole warm read costs the server over a socket (kernel and event loop included).
    read_cpu_us = statistics.median(m.server_cpu_us or 0.0 for m in runs["detail"])
    # Usage accounting (issue #5): one in-memory count per request, timed on its own and
    # compared with what a whole warm read costs the server.
    usage_share = usage_record_us() / read_cpu_us
    not_modified = median_ratio(runs, "not_modified", "minimal", lambda m: m.rps)
    feed = median_ratio(runs, "feed", "minimal_feed", lambda m: m.rps)
    ninjs = median_ratio(runs, "ninjs", "minimal_ninjs", lambda m: m.rps)
    deep_p50 = median_ratio(runs, "list_deep", "list_first", lambda m: m.p50_ms)
    deep_rps = median_ratio(runs, "list_deep", "list_first", lambda m: m.rps)
    search_p95 = statistics.median(m.p95_ms for m in runs["search_latency"])
    per_100k = corpus.demo_seconds * 100_000 / corpus.articles
    return [
        Target("detail ≥ 0.5× minimal rps", f"{detail:.2f}×", "≥ 0.50×", detail >= 0.5),
        Target("keyed detail ≥ 0.5× minimal rps", f"{keyed:.2f}×", "≥ 0.50×", keyed >= 0.5),
        Target(
            "keys cost reads ≤ 10% (server CPU/request)",
            f"{key_cpu:.2f}× anonymous",
            "≥ 0.90×",
            key_cpu >= 0.9,
        ),  # fmt: skip
        Target(
            "keys cost reads ≤ 10% (req/s)",
            f"{key_cost:.2f}× anonymous",
            "≥ 0.90×",
            key_cost >= 0.9,
        ),
        Target(
            "keys cost reads ≤ 10% (in process, no sockets: steadier)",
            f"{in_process.ratio:.2f}× anonymous",
            "≥ 0.90×",
            in_process.ratio >= 0.9,
        ),
        Target(
            "usage accounting ≤ 5% of a warm read's CPU",
            f"{usage_share:.1%}",
            "≤ 5%",
            usage_share <= 0.05,
        ),  # fmt: skip
        Target("304 ≥ 0.6× minimal rps", f"{not_modified:.2f}×", "≥ 0.60×", not_modified >= 0.6),
        Target("feed ≥ 0.3× minimal rps", f"{feed:.2f}×", "≥ 0.30×", feed >= 0.3),
        Target("ninjs ≥ 0.5× minimal rps", f"{ninjs:.2f}×", "≥ 0.50×", ninjs >= 0.5),
        Target("deep page p50 ≤ 1.3× first", f"{deep_p50:.2f}×", "≤ 1.30×", deep_p50 <= 1.3),
        Target("deep page rps ≥ first / 1.3", f"{deep_rps:.2f}×", "≥ 0.77×", deep_rps >= 1 / 1.3),
        Target("search p95 ≤ 50 ms", f"{search_p95:.1f} ms", "≤ 50 ms", search_p95 <= 50),
        Target("server RSS ≤ 200 MB", f"{rss[0]:.0f} MB", "≤ 200 MB", rss[0] <= 200),
        Target("demo 100k articles < 60 s", f"{per_100k:.1f} s", "< 60 s", per_100k < 60),
    ]


def report(
    console: Console, runs: Runs, rss: tuple[float, float], corpus: CorpusInfo,
    targets: list[Target], in_process: KeyCost,
) -> None:  # fmt: skip
    table = Table(title="scenarios (wrk, 1 thread; the median run of each)")
    columns = ("scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "CPU µs/req", "req/s of each run")
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for key, measures in runs.items():
        m = typical(measures)
        each = " ".join(f"{r.rps:,.0f}" for r in measures)
        cpu = f"{m.server_cpu_us:.1f}" if m.server_cpu_us is not None else "-"
        table.add_row(
            key, f"{m.rps:,.0f}", f"{m.p50_ms:.2f}", f"{m.p95_ms:.2f}", f"{m.p99_ms:.2f}", cpu, each
        )
    console.print(table)
    how = "built in this run" if corpus.built_now else f"reused, built {corpus.built_at}"
    console.print(f"demo corpus: {corpus.articles:,} articles, {how}: {corpus.demo_seconds:.1f} s")
    console.print(f"byline RSS after the runs: {rss[0]:.0f} MB (peak {rss[1]:.0f} MB)")
    console.print(
        f"warm detail GET in process (no sockets): anonymous {in_process.anonymous_us:.2f} µs, "
        f"keyed {in_process.keyed_us:.2f} µs (+{in_process.extra_us:.2f} µs), "
        f"{in_process.ratio:.3f}×"
    )
    checks = Table(title="targets (ratios: median of the rounds)")
    for column in ("target", "measured", "required", "result"):
        checks.add_column(column)
    for t in targets:
        checks.add_row(t.name, t.measured, t.required, "[green]pass" if t.passed else "[red]FAIL")
    console.print(checks)


def machine() -> dict[str, object]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "load_average": os.getloadavg(),
    }  # fmt: skip


def write_results(
    args: argparse.Namespace, runs: Runs, rss: tuple[float, float], corpus: CorpusInfo,
    targets: list[Target], in_process: KeyCost,
) -> None:  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    document = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "options": {k: v for k, v in vars(args).items() if k != "rebuild"},
        "corpus": asdict(corpus),
        "scenarios": {
            key: {"median": asdict(typical(ms)), "runs": [asdict(m) for m in ms]}
            for key, ms in runs.items()
        },
        "rss_mb": {"after_runs": round(rss[0], 1), "peak": round(rss[1], 1)},
        "in_process_read_us": asdict(in_process),
        "targets": [asdict(t) for t in targets],
        "passed": all(t.passed for t in targets),
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
