"""The limit nobody publishes: how close `bulkpatch run`, told nothing, gets to a server's limit.

Run by hand (never in the tests), against the sandbox on loopback, each run a real sandbox
process and real `bulkpatch run` processes with no --max-rate, their own state directory and
concurrency 32:

    make bench                                               # every scenario, 3 runs each
    .venv/bin/python bench/limit_bench.py unknown --repeat 1 # one scenario, once
    .venv/bin/python bench/limit_bench.py --render           # tables from the stored results

Scenarios (rows/s as a share of the server's limit; the sandbox measures every run):
  unknown     limits 5, 20, 100, 300/s (burst 10, Retry-After 1 s): jobs of 20 s and 60 s at the limit
  long-retry  limit 50/s, Retry-After 60 s: a 10-minute job
  learned     limit 50/s: a 20 s job, then a second 20 s job on the same target and token
  moving      50/s, 25/s from second 60, 50/s again from second 150: a 5-minute job
  window      600 requests per fixed 60 s window: a 6-minute job
  two         limit 50/s, two runs at once on one token: 60 s of work between them

Each scenario's results go to bench/results/limit-<scenario>.json; the tables in
docs/benchmarks.md and the figures in the README's Performance section are rendered from those
files (between markers), so they are never typed by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulkpatch.sandbox.process import SandboxProcess

sys.path.insert(0, str(Path(__file__).parent))
from limit_report import LONG_RETRY_AFTER, render  # a sibling script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOKEN = "limit-bench-token"
CONCURRENCY = 32
Result = dict[str, Any]


def write_job(path: Path, rows: int, first: int = 0) -> Path:
    """A title change for meetings ``first`` .. ``first + rows - 1``."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["meetingId", "title"])
        writer.writerows([f"{first + i + 1:032x}", f"Limit bench {i}"] for i in range(rows))
    return path


def start_sandbox(seed: Path, *limit: str) -> SandboxProcess:
    return SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(seed), *limit)


def run(job: Path, sandbox: SandboxProcess, folder: Path, name: str) -> subprocess.Popen[bytes]:
    """Start one `bulkpatch run` (no --max-rate) with its own journal and the folder's state.

    --no-snapshot: one request a row, so rows per second measure the limiter alone (a run that
    reads each meeting first sends two a row: tests/test_pacing.py covers that mix).
    """
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN, "BULKPATCH_STATE_DIR": str(folder / "state")}
    command = [sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", sandbox.api_url,
               "--journal", str(folder / f"{name}.journal"), "--concurrency", str(CONCURRENCY),
               "--no-progress", "--no-snapshot", "--log-format", "json"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def finish(process: subprocess.Popen[bytes]) -> Result:
    """Wait for a run; its exit code and `run.summary` event."""
    _, err = process.communicate(timeout=3600)
    lines = [line for line in err.decode().splitlines() if '"run.summary"' in line]
    summary: Result = json.loads(lines[-1]) if lines else {}
    return {"exit": process.returncode, "summary": summary}


def successes(stats: Result) -> dict[int, int]:
    """Requests answered other than 429, per second since the first request (0-based)."""
    offset = int(stats.get("firstRequestSecond", 0))
    return {second - offset: count - throttled for second, count, throttled in stats["timeline"]}


def one_run(folder: Path, rows: int, limit: float, sandbox_args: tuple[str, ...]) -> Result:
    """One job of ``rows`` against a fresh sandbox: share of the limit, 429s, violations."""
    folder = Path(tempfile.mkdtemp(dir=folder))  # its own journal and state: nothing carried over
    job = write_job(folder / "job.csv", rows)
    sandbox = start_sandbox(job, *sandbox_args)
    try:
        outcome = finish(run(job, sandbox, folder, "run"))
        stats = sandbox.stats(meetings=False, timeline=True)
    finally:
        sandbox.stop()
    return _measure(outcome, stats, rows, limit)


def _measure(outcome: Result, stats: Result, rows: int, limit: float) -> Result:
    seconds = stats["busySeconds"]
    return {
        "share": rows / seconds / limit if seconds else 0.0,
        "seconds": seconds,
        "requests": sum(stats["requests"].values()),
        "throttled": stats["throttled"],
        "violations": stats["retryAfterViolations"],
        "right": stats["meetingsPatched"] == rows and stats["patchesApplied"] == rows and outcome["exit"] == 0,
        "rateFound": outcome["summary"].get("rateFound"),
        "perSecond": successes(stats),
    }  # fmt: skip


LIMITS: tuple[int, ...] = (5, 20, 100, 300)


def unknown(folder: Path) -> list[Result]:
    results = []
    for limit in LIMITS:
        for job_seconds in (20, 60):
            case = one_run(
                folder, limit * job_seconds, limit, ("--rate", str(limit), "--burst", "10")
            )
            case.update(limit=limit, jobSeconds=job_seconds)
            results.append(case)
    return results


def long_retry(folder: Path) -> list[Result]:
    args = ("--rate", "50", "--burst", "10", "--retry-after-min", str(LONG_RETRY_AFTER))
    return [{**one_run(folder, 50 * 600, 50, args), "limit": 50, "jobSeconds": 600}]


def learned(folder: Path) -> list[Result]:
    """Two 20 s jobs on one sandbox (one target, one token): the second starts where the first ended."""
    rows = 50 * 20
    job_a, job_b = write_job(folder / "a.csv", rows), write_job(folder / "b.csv", rows, rows)
    both = write_job(folder / "seed.csv", 2 * rows)
    sandbox = start_sandbox(both, "--rate", "50", "--burst", "10")
    try:
        first = finish(run(job_a, sandbox, folder, "a"))
        before = sandbox.stats(meetings=False, timeline=True)
        second = finish(run(job_b, sandbox, folder, "b"))
        after = sandbox.stats(meetings=False, timeline=True)
    finally:
        sandbox.stop()
    seconds = second["summary"].get("elapsedSeconds", 0.0)
    start = max(s for s, _, _ in before["timeline"]) + 1
    per_second = {s - start: n - t for s, n, t in after["timeline"] if s >= start}
    return [{
        "share": rows / seconds / 50 if seconds else 0.0, "seconds": seconds,
        "firstRunShare": rows / first["summary"].get("elapsedSeconds", 1) / 50,
        "throttled": after["throttled"] - before["throttled"],
        "violations": after["retryAfterViolations"],
        "right": after["meetingsPatched"] == 2 * rows and second["exit"] == first["exit"] == 0,
        "rateFound": second["summary"].get("rateFound"), "perSecond": per_second,
        "limit": 50, "jobSeconds": 20,
    }]  # fmt: skip


def moving(folder: Path) -> list[Result]:
    rows = 50 * 60 + 25 * 90 + 50 * 150
    args = ("--rate-schedule", "0:50,60:25,150:50", "--burst", "10")
    case = one_run(folder, rows, 50, args)
    per_second = case["perSecond"]
    case["dropShare"] = sum(per_second.get(s, 0) for s in range(90, 150)) / 60 / 25
    case["riseFoundAfter"] = next(
        (s - 150 for s in range(150, 400) if per_second.get(s, 0) >= 0.9 * 50), None
    )
    return [case]


def window(folder: Path) -> list[Result]:
    rows = 600 * 6
    case = one_run(folder, rows, 10, ("--window", "60", "--quota", "600"))
    per_second = case["perSecond"]
    case["perWindow"] = [
        sum(per_second.get(s, 0) for s in range(w * 60, w * 60 + 60)) for w in range(6)
    ]
    starts = [s for s, n in per_second.items() if n == 0 and per_second.get(s - 1, 0) > 0]
    case["burstWindows"] = sorted({s // 60 for s in starts})
    return [case]


def two(folder: Path) -> list[Result]:
    """Two runs at once on one token and target, 1,500 rows each (60 s of the limit together)."""
    rows = 1500
    job_a, job_b = write_job(folder / "a.csv", rows), write_job(folder / "b.csv", rows, rows)
    sandbox = start_sandbox(
        write_job(folder / "seed.csv", 2 * rows), "--rate", "50", "--burst", "10"
    )
    try:
        first, second = run(job_a, sandbox, folder, "a"), run(job_b, sandbox, folder, "b")
        outcomes = [finish(first), finish(second)]
        stats = sandbox.stats(meetings=False, timeline=True)
    finally:
        sandbox.stop()
    seconds = stats["busySeconds"]
    each = [rows / o["summary"].get("elapsedSeconds", 1) / 50 for o in outcomes]
    requests = sum(stats["requests"].values())
    return [{
        "share": 2 * rows / seconds / 50, "each": each, "seconds": seconds, "requests": requests,
        "throttled": stats["throttled"], "throttledShare": stats["throttled"] / requests,
        "violations": stats["retryAfterViolations"],
        "right": stats["meetingsPatched"] == 2 * rows and all(o["exit"] == 0 for o in outcomes),
        "limit": 50, "jobSeconds": 60,
    }]  # fmt: skip


SCENARIOS: dict[str, Callable[[Path], list[Result]]] = {
    "unknown": unknown, "long-retry": long_retry, "learned": learned, "moving": moving,
    "window": window, "two": two,
}  # fmt: skip


def measure(name: str, repeat: int, limits: tuple[int, ...] | None = None) -> None:
    """Run ``name`` ``repeat`` times; store every run's results.

    With ``limits`` (the unknown scenario only), only those limits run again, and their cases
    replace the stored ones, run for run.
    """
    global LIMITS
    if limits is not None:
        LIMITS = limits
    runs = []
    for number in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(SCENARIOS[name](Path(folder)))
        print(f"{name}: run {number + 1} of {repeat} done", file=sys.stderr)
    path = RESULTS / f"limit-{name}.json"
    if limits is not None and path.exists():
        stored = json.loads(path.read_text())["runs"]
        runs = [
            [case for case in old if case.get("limit") not in limits] + new
            for old, new in zip(stored, runs, strict=False)
        ]
    RESULTS.mkdir(exist_ok=True)
    record = {
        "scenario": name, "runs": runs, "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(), "cores": os.cpu_count(),
    }  # fmt: skip
    (RESULTS / f"limit-{name}.json").write_text(json.dumps(record, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--limits", type=lambda text: tuple(int(x) for x in text.split(",")), default=None,
        help="unknown scenario: run only these limits again (5,20,100,300), keeping the rest",
    )  # fmt: skip
    parser.add_argument("--render", action="store_true", help="only render the stored results")
    args = parser.parse_args()
    if not args.render:
        for name in args.scenarios or list(SCENARIOS):
            measure(name, args.repeat, args.limits if name == "unknown" else None)
    render(RESULTS, ROOT)


if __name__ == "__main__":
    main()
