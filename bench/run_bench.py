"""Benchmark `bulkpatch run` against the sandbox on loopback, in the settings of issue "run".

Run by hand (never in the tests); each scenario starts its own sandbox process and a real
`bulkpatch run` process, then reads the run's `run.summary` and the sandbox's stats. Each
scenario's figures are kept in bench/results/run-SCENARIO.json, and all kept figures go into
docs/benchmarks.md and the README between this script's markers:

    .venv/bin/python bench/run_bench.py rate-limited latency overhead
    .venv/bin/python bench/run_bench.py million        # 1,000,000 rows: several minutes

A run reads each meeting before its PATCH (a GET and a PATCH a row): the ideals count both.

Scenarios:
  rate-limited  sandbox --rate 50 --burst 10, 2,000 rows, concurrency 32
                (three times: --max-rate 50, the limit known; 100 and 1000, found by the limiter)
  latency       sandbox --latency-ms 200, no limit, 10,000 rows, concurrency 64
  overhead      no latency, no limit, 20,000 rows, concurrency 32; against a naive aiohttp +
                semaphore script (one PATCH a row, no journal) on the same sandbox; bulkpatch
                as it is and with --no-snapshot (one PATCH a row too)
  million       1,000,000 rows, no latency, no limit: peak memory of the run process
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bulkpatch.sandbox.process import SandboxProcess

HERE = Path(__file__).parent
TOKEN = "bench-token"
LATENCY_ROWS = 10_000
SCENARIOS = ("rate-limited", "latency", "overhead", "million")
#: How a scenario's results are named.
_PREFIX = {"million": "1,000,000"}
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from make_jobs import MIGRATION_HEADER, migration_rows, write_csv  # noqa: E402  # a sibling script
from markers import splice  # noqa: E402  # a sibling script


@dataclass
class Result:
    """What one measured run gave."""

    name: str
    rows: int
    seconds: float
    requests: int
    throttled: int
    violations: int
    peak_mib: float
    exit_code: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def start_sandbox(seed: Path, *extra: str) -> SandboxProcess:
    """A sandbox process for one scenario, seeded with the job's meetings."""
    return SandboxProcess.start(
        "--quiet", "--token", TOKEN, "--seed", str(seed), *extra, timeout=600
    )


def make_job(folder: Path, rows: int) -> Path:
    job = folder / f"migration-{rows}.csv"
    write_csv(job, MIGRATION_HEADER, migration_rows(rows))
    return job


def run_bulkpatch(
    name: str,
    job: Path,
    rows: int,
    sandbox: SandboxProcess,
    *,
    concurrency: int,
    max_rate: str,
    journal: Path,
    extra: tuple[str, ...] = (),
) -> Result:
    """One `bulkpatch run` process; its time comes from its own run.summary."""
    # Each run learns its limit afresh: no rate learned by an earlier run, none left in $HOME.
    env = {
        **os.environ,
        "WEBEX_ACCESS_TOKEN": TOKEN,
        "BULKPATCH_STATE_DIR": str(journal.parent / "state"),
    }
    command = [
        sys.executable,
        "-m",
        "bulkpatch",
        "run",
        str(job),
        "--base-url",
        sandbox.api_url,
        "--log-format",
        "json",
        "--no-progress",
        "--concurrency",
        str(concurrency),
        "--max-rate",
        max_rate,
        "--journal",
        str(journal),
        *extra,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    ) as child:
        assert child.stderr is not None
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    summary = next(
        json.loads(line) for line in err.decode().splitlines() if '"run.summary"' in line
    )
    stats = sandbox.stats(meetings=False)
    return Result(
        name,
        rows,
        summary["elapsedSeconds"],
        summary["requests"],
        stats["throttled"],
        stats["retryAfterViolations"],
        usage.ru_maxrss / 1024,
        child.returncode,
    )


async def naive(api_url: str, ids: list[str], concurrency: int) -> float:
    """What a competent user writes in ten minutes: aiohttp, a semaphore, gather."""
    semaphore = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as session:

        async def one(meeting_id: str) -> None:
            async with (
                semaphore,
                session.patch(
                    f"{api_url}/meetings/{meeting_id}",
                    json={"unlockedMeetingJoinSecurity": "allowJoinWithLobby"},
                ) as response,
            ):
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(meeting_id) for meeting_id in ids))
        return time.perf_counter() - started


def save(scenario: str, results: list[Result], ideal: dict[str, float]) -> None:
    """Keep a scenario's figures, so that running some scenarios again keeps the others."""
    record = {
        "measured": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "results": [asdict(r) | {"ideal": ideal.get(r.name)} for r in results],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"run-{scenario}.json").write_text(json.dumps(record, indent=1) + "\n")


def render() -> None:
    """Every scenario kept so far into docs/benchmarks.md and the README, between markers."""
    records = {p.stem.removeprefix("run-"): json.loads(p.read_text()) for p in sorted(RESULTS.glob("run-*.json"))}  # fmt: skip
    lines = [
        "| scenario | measured | rows | seconds | rows/s | of ideal | requests | 429s | violations | peak memory | exit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    bullets = []
    for scenario in SCENARIOS:
        record = records.get(scenario)
        if record is None:
            continue
        for r in record["results"]:
            rate = r["rows"] / r["seconds"] if r["seconds"] else 0.0
            share = f"{rate / r['ideal']:.0%}" if r["ideal"] else "n/a"
            memory = f"{r['peak_mib']:.0f} MiB" if r["peak_mib"] else "n/a"
            lines.append(
                f"| {r['name']} | {record['measured']}, {record['cores']} cores | {r['rows']:,} | {r['seconds']:.1f} | {rate:,.1f} | {share} "
                f"| {r['requests']:,} | {r['throttled']} | {r['violations']} | {memory} | {r['exit_code']} |"
            )  # fmt: skip
        bullets += _bullets(scenario, record["results"])
    splice(ROOT / "docs" / "benchmarks.md", "bench/run_bench.py", "\n".join(lines))
    splice(ROOT / "README.md", "bench/run_bench.py", "\n".join(bullets))
    print("\n".join(lines))


def _bullets(scenario: str, results: list[dict[str, Any]]) -> list[str]:
    """The README's lines for one scenario."""
    by = {r["name"]: r for r in results}
    if scenario == "latency":
        r = by["latency 200 ms"]
        rate = r["rows"] / r["seconds"]
        return [
            f"- With 200 ms per answer and 64 in flight: {rate:,.0f} rows/s on {r['rows']:,} rows "
            f"(a GET and a PATCH each), {rate / r['ideal']:.0%} of the ideal {r['ideal']:g}."
        ]
    if scenario == "overhead":
        naive, read_first = by["overhead: naive aiohttp + semaphore"], by["overhead: bulkpatch"]
        blind = by["overhead: bulkpatch --no-snapshot"]
        naive_rate = naive["rows"] / naive["seconds"]
        blind_rate = blind["rows"] / blind["seconds"]
        rate = read_first["rows"] / read_first["seconds"]
        return [
            f"- Without latency or limit: {blind_rate:,.0f} rows/s with `--no-snapshot` (a PATCH a "
            f"row), {blind_rate / naive_rate:.0%} of a naive aiohttp script that keeps no journal; "
            f"{rate:,.0f} rows/s reading each meeting first (a GET and a PATCH a row)."
        ]
    if scenario == "million":
        r = by["1,000,000 rows"]
        return [
            f"- A 1,000,000-row run: {r['seconds']:.0f} s against the sandbox, "
            f"{r['peak_mib']:.0f} MiB peak memory."
        ]
    return []


def main() -> None:
    """Run the scenarios asked for and print one markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenarios", nargs="*", choices=SCENARIOS, help="none: write what is kept into the docs"
    )
    args = parser.parse_args()
    results: list[Result] = []
    ideal: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        if "rate-limited" in args.scenarios:
            job = make_job(base, 2000)
            for ceiling in ("50", "100", "1000"):
                sandbox = start_sandbox(job, "--rate", "50", "--burst", "10")
                name = f"rate-limited, --max-rate {ceiling}"
                results.append(
                    run_bulkpatch(
                        name,
                        job,
                        2000,
                        sandbox,
                        concurrency=32,
                        max_rate=ceiling,
                        journal=base / f"rl{ceiling}.journal",
                    )
                )
                ideal[name] = 50.0 / 2  # a GET and a PATCH a row, one limit for both
                sandbox.stop()
        if "latency" in args.scenarios:
            # 10,000 rows (about 31 s): with fewer, the last partly filled round of 64 decides
            # the rate instead of the engine.
            job = make_job(base, LATENCY_ROWS)
            sandbox = start_sandbox(job, "--latency-ms", "200")
            results.append(
                run_bulkpatch(
                    "latency 200 ms",
                    job,
                    LATENCY_ROWS,
                    sandbox,
                    concurrency=64,
                    max_rate="100000",
                    journal=base / "lat.journal",
                )
            )
            ideal["latency 200 ms"] = 64 / (2 * 0.2)  # a GET, then the PATCH
            sandbox.stop()
        if "overhead" in args.scenarios:
            # Each tool meets a sandbox of its own: after another tool's run, a meeting already
            # holds the job's values, and bulkpatch would rightly skip it unsent.
            job = make_job(base, 20_000)
            sandbox = start_sandbox(job)
            ids = [row[0] for row in migration_rows(20_000)]
            seconds = asyncio.run(naive(sandbox.api_url, ids, 32))
            sandbox.stop()
            results.append(
                Result("overhead: naive aiohttp + semaphore", 20_000, seconds, 20_000, 0, 0, 0, 0)
            )
            for name, extra in (
                ("overhead: bulkpatch", ()),
                ("overhead: bulkpatch --no-snapshot", ("--no-snapshot",)),
            ):
                sandbox = start_sandbox(job)
                results.append(
                    run_bulkpatch(
                        name,
                        job,
                        20_000,
                        sandbox,
                        concurrency=32,
                        max_rate="100000",
                        journal=base / f"ovh{len(extra)}.journal",
                        extra=extra,
                    )
                )
                sandbox.stop()
            naive_rate = 20_000 / seconds
            ideal["overhead: bulkpatch"] = naive_rate / 2  # two requests a row
            ideal["overhead: bulkpatch --no-snapshot"] = naive_rate
        if "million" in args.scenarios:
            job = make_job(base, 1_000_000)
            sandbox = start_sandbox(job)
            results.append(
                run_bulkpatch(
                    "1,000,000 rows",
                    job,
                    1_000_000,
                    sandbox,
                    concurrency=32,
                    max_rate="100000",
                    journal=base / "million.journal",
                )
            )
            sandbox.stop()
    for scenario in args.scenarios:
        save(scenario, [r for r in results if _scenario_of(r.name) == scenario], ideal)
    render()


def _scenario_of(name: str) -> str:
    return next(s for s in SCENARIOS if name.startswith(_PREFIX.get(s, s)))


if __name__ == "__main__":
    main()
