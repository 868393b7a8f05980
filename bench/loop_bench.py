"""Benchmark the closed loop against the sandbox on loopback: pull, then plan and run.

Run by hand (never in the tests): `.venv/bin/python bench/loop_bench.py` (about 8 minutes).
Each scenario starts its own sandbox process with a 50/s limit for reads and another for
writes, and the real `bulkpatch` commands as processes, each with a fresh state directory
(no rate learned before). The figures go into docs/benchmarks.md and the README, between
this script's markers.

Scenarios:
  pull       10,000 meeting series across 200 hosts (a snapshot seeded into the sandbox):
             `pull --all-hosts`, told the limit
             (--max-rate 50) and not told it.
  plan+run   the pulled job with one field changed on every row: `plan`, then `run`
             (10,000 rows), not told the limit.

*Ideal*: the requests the command needs over the limit (50/s for reads, 50/s for writes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bulkpatch.sandbox.process import SandboxProcess

HERE = Path(__file__).parent
ROOT = HERE.parent
TOKEN = "bench-admin"
LIMIT = 50.0
RESULT = HERE / "results" / "loop.json"
sys.path.insert(0, str(HERE))
from markers import splice  # noqa: E402  # a sibling script


@dataclass
class Step:
    """One command as measured: its own time, the requests the sandbox saw, what it did."""

    name: str
    rows: int
    seconds: float
    reads: int
    writes: int
    throttled: int
    violations: int
    exit_code: int

    @property
    def ideal(self) -> float:
        """Seconds a perfect client needs: reads and writes each at the limit, side by side."""
        return max(self.reads, self.writes) / LIMIT

    @property
    def per_row(self) -> float:
        return (self.reads + self.writes) / self.rows if self.rows else 0.0


def site_snapshot(folder: Path, meetings: int, hosts: int) -> Path:
    """Exactly ``meetings`` meeting series a pull lists, spread evenly over ``hosts`` hosts."""
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    path = folder / f"site-{meetings}-{hosts}.snapshot.jsonl"
    with path.open("w") as out:
        for index in range(meetings):
            start = first + timedelta(hours=index % (24 * 300))
            host = f"host{index % hosts:04d}@example.com"
            meeting = {
                "id": f"{index:032x}",
                "title": f"Sync {index}",
                "meetingType": "meetingSeries",
                "state": "active",
                "timezone": "UTC",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "scheduledType": "meeting",
                "hostEmail": host,
                "hostDisplayName": host.split("@")[0],
                "unlockedMeetingJoinSecurity": "allowJoin",
            }
            out.write(json.dumps(meeting) + "\n")
    return path


def sandbox(seed: Path) -> SandboxProcess:
    return SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--seed",
        str(seed),
        "--rate",
        str(LIMIT),
        "--read-rate",
        str(LIMIT),
        timeout=600,
    )


def bulkpatch(site: SandboxProcess, state: Path, *args: str) -> tuple[int, float]:
    """One bulkpatch process against the site; its exit code and wall seconds."""
    env = {
        **os.environ,
        "WEBEX_ACCESS_TOKEN": TOKEN,
        "BULKPATCH_BASE_URL": site.api_url,
        "BULKPATCH_STATE_DIR": str(state),
    }
    command = [sys.executable, "-m", "bulkpatch", *args, "--no-progress", "--log-format", "json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr.decode()[-3000:])
    return done.returncode, seconds


def counts(site: SandboxProcess) -> tuple[int, int, int, int]:
    """Reads, writes, 429s and Retry-After violations the sandbox has seen so far."""
    stats = site.stats(meetings=False)
    requests = stats["requests"]
    reads = sum(n for key, n in requests.items() if key.startswith("GET"))
    writes = sum(n for key, n in requests.items() if key.startswith("PATCH"))
    return reads, writes, stats["throttled"], stats["retryAfterViolations"]


def measured(name: str, rows: int, site: SandboxProcess, *args: str, state: Path) -> Step:
    """Run one command and take its figures: what the sandbox saw while it ran."""
    before = counts(site)
    code, seconds = bulkpatch(site, state, *args)
    reads, writes, throttled, violations = (
        after - earlier for after, earlier in zip(counts(site), before, strict=True)
    )
    return Step(name, rows, seconds, reads, writes, throttled, violations, code)


def rows_of(job: Path) -> int:
    with job.open(newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def change_every_row(job: Path, out: Path) -> None:
    """The pulled job with the lobby turned on in every row (it is off in the sandbox)."""
    with job.open(newline="") as source, out.open("w", newline="") as target:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, list(reader.fieldnames or []), lineterminator="\n")
        writer.writeheader()
        for row in reader:
            writer.writerow(row | {"unlockedMeetingJoinSecurity": "allowJoinWithLobby"})


def pull_scenarios(folder: Path, seed: Path) -> list[Step]:
    steps = []
    for told in (True, False):
        site = sandbox(seed)
        try:
            job = folder / f"pull-{told}.csv"
            extra = ("--max-rate", str(LIMIT)) if told else ()
            name = f"pull, {'--max-rate 50' if told else 'limit not told'}"
            step = measured(
                name, 0, site, "pull", "-o", str(job), "--all-hosts", *extra, state=folder / name
            )
            step.rows = rows_of(job)
            steps.append(step)
        finally:
            site.stop()
    return steps


def plan_run_scenario(folder: Path, seed: Path) -> list[Step]:
    site = sandbox(seed)
    try:
        pulled = folder / "site.csv"
        state = folder / "state-plan"
        fields = "unlockedMeetingJoinSecurity"
        code, _ = bulkpatch(
            site, state, "pull", "-o", str(pulled), "--all-hosts", "--fields", fields
        )
        if code != 0:
            raise SystemExit(f"the pull for plan+run failed (exit {code})")
        job = folder / "lobby.csv"
        change_every_row(pulled, job)
        rows = rows_of(job)
        plan = measured("plan", rows, site, "plan", str(job), state=state)
        run = measured("run after the plan", rows, site, "run", str(job), state=state)
        return [plan, run]
    finally:
        site.stop()


def report(steps: list[Step], record: dict[str, Any]) -> tuple[str, str]:
    """The docs' table and the README's bullet."""
    lines = [
        f"Measured {record['measured']} with bench/loop_bench.py on a {record['cores']}-core machine: "
        f"a sandbox with a {LIMIT:g}/s limit for reads and another for writes, "
        "each command a fresh process with no rate learned before. *Seconds*: the command's own, "
        "start to exit. *Ideal*: its reads or its writes (whichever is more) over the limit.",
        "",
        "| step | rows | seconds | ideal | of ideal | reads | writes | requests/row | 429s | violations | exit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in steps:
        lines.append(
            f"| {s.name} | {s.rows:,} | {s.seconds:.1f} | {s.ideal:.1f} | {s.ideal / s.seconds:.0%} "
            f"| {s.reads:,} | {s.writes:,} | {s.per_row:.2f} | {s.throttled} | {s.violations} | {s.exit_code} |"
        )  # fmt: skip
    by = {s.name: s for s in steps}
    pull, plan, run = by.get("pull, limit not told"), by.get("plan"), by.get("run after the plan")
    parts = []
    if pull:
        parts.append(
            f"`pull` of {pull.rows:,} meetings across {record.get('hosts', 200)} hosts under a 50/s limit it is not told: "
            f"{pull.seconds:.1f} s from start to exit against an ideal {pull.ideal:.1f} s of requests, {pull.violations} Retry-After violations"
        )  # fmt: skip
    if plan and run:
        parts.append(
            f"`plan` then `run` of {run.rows:,} rows: {plan.per_row + run.per_row:.2f} requests per row, "
            f"{plan.seconds + run.seconds:.0f} s ({(plan.ideal + run.ideal) / (plan.seconds + run.seconds):.0%} of ideal)"
        )  # fmt: skip
    return "\n".join(lines), "- " + "; ".join(parts) + "." if parts else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--dry", action="store_true", help="print, write nothing to the docs")
    parser.add_argument("--render", action="store_true", help="only write the kept figures")
    args = parser.parse_args()
    if not args.render:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            seed = site_snapshot(folder, args.meetings, args.hosts)
            steps = pull_scenarios(folder, seed)
            steps += plan_run_scenario(folder, seed)
        record = {"measured": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "hosts": args.hosts, "steps": [asdict(s) for s in steps]}  # fmt: skip
        if args.dry:
            print(report(steps, record)[0])
            return
        RESULT.parent.mkdir(exist_ok=True)
        RESULT.write_text(json.dumps(record, indent=1) + "\n")
    record = json.loads(RESULT.read_text())
    table, bullet = report([Step(**s) for s in record["steps"]], record)
    print(table)
    splice(ROOT / "docs" / "benchmarks.md", "bench/loop_bench.py", table, "Pull, plan and run")
    splice(ROOT / "README.md", "bench/loop_bench.py", bullet)


if __name__ == "__main__":
    main()
