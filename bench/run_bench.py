"""Benchmark `bulkpatch run` against the sandbox on loopback, in the settings of issue "run".

Run by hand (never in the tests); each scenario starts its own sandbox process and a real
`bulkpatch run` process, then reads the run's `run.summary` and the sandbox's stats:

    .venv/bin/python bench/run_bench.py rate-limited latency overhead
    .venv/bin/python bench/run_bench.py million        # 1,000,000 rows: several minutes

Scenarios:
  rate-limited  sandbox --rate 50 --burst 10, 2,000 rows, concurrency 32
                (three times: --max-rate 50, the limit known; 100 and 1000, found by the limiter)
  latency       sandbox --latency-ms 200, no limit, 10,000 rows, concurrency 64
  overhead      no latency, no limit, 20,000 rows, concurrency 32; against a naive aiohttp +
                semaphore script (no journal) on the same sandbox
  million       1,000,000 rows, no latency, no limit: peak memory of the run process
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bulkpatch.sandbox.process import SandboxProcess

HERE = Path(__file__).parent
TOKEN = "bench-token"
LATENCY_ROWS = 10_000
sys.path.insert(0, str(HERE))
from make_jobs import MIGRATION_HEADER, migration_rows, write_csv  # noqa: E402  # a sibling script


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


def table(results: list[Result], ideal: dict[str, float]) -> None:
    print(
        "| scenario | rows | seconds | rows/s | of ideal | requests | 429s | violations | peak memory | exit |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        share = f"{r.rate / ideal[r.name]:.0%}" if r.name in ideal else "n/a"
        print(
            f"| {r.name} | {r.rows:,} | {r.seconds:.1f} | {r.rate:,.1f} | {share} | {r.requests:,} | {r.throttled} | {r.violations} | {r.peak_mib:.0f} MiB | {r.exit_code} |"
        )


def main() -> None:
    """Run the scenarios asked for and print one markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenarios", nargs="+", choices=["rate-limited", "latency", "overhead", "million"]
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
                ideal[name] = 50.0
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
            ideal["latency 200 ms"] = 64 / 0.2
            sandbox.stop()
        if "overhead" in args.scenarios:
            job = make_job(base, 20_000)
            sandbox = start_sandbox(job)
            ids = [row[0] for row in migration_rows(20_000)]
            seconds = asyncio.run(naive(sandbox.api_url, ids, 32))
            results.append(
                Result("overhead: naive aiohttp + semaphore", 20_000, seconds, 20_000, 0, 0, 0, 0)
            )
            results.append(
                run_bulkpatch(
                    "overhead: bulkpatch",
                    job,
                    20_000,
                    sandbox,
                    concurrency=32,
                    max_rate="100000",
                    journal=base / "ovh.journal",
                )
            )
            ideal["overhead: bulkpatch"] = 20_000 / seconds
            sandbox.stop()
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
    table(results, ideal)


if __name__ == "__main__":
    main()
