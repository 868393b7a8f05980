"""Benchmark `bulkpatch validate` on generated jobs: wall time, CPU time and peak memory.

Run by hand, never in the test suite (these machines are shared and noisy):

    .venv/bin/python bench/validate_bench.py                    # every job below; writes the docs
    .venv/bin/python bench/validate_bench.py --jobs heavy --sizes 100000 --no-write
    .venv/bin/python bench/validate_bench.py --baseline /tmp/bulkpatch-15fa7e1   # before, after

Each measurement runs the real CLI in a fresh process. Large jobs are checked by worker
processes, so memory is the peak of the whole process tree, sampled every 0.1 s (the sum of
each process's proportional set size, which counts shared pages once); CPU seconds are the
tree's user and system time. Jobs with dates (reschedule, heavy) are generated again each day,
so their dates never pass. ``--baseline DIR`` also measures the package found in DIR (a
``bulkpatch/`` tree, e.g. from ``git archive``), for a before/after in the same run.

Without ``--no-write`` the table goes into docs/benchmarks.md and the validate line of the
README's Performance section, between their markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from markers import splice  # noqa: E402  # a sibling script

SCRIPT = "bench/validate_bench.py"
OUT = HERE / "out"
ROOT = HERE.parent
REPORT = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"

#: (kind, rows): what the Foundation issue measured, the heavy job of issue 14 and 30,000 rows
#: of one meeting (issue 11: the duplicate check used to take 102 s on it).
JOBS = {
    "migration": (100_000, 1_000_000),
    "reschedule": (100_000, 1_000_000),
    "heavy": (100_000, 1_000_000),
    "shared-id": (30_000,),
}
DATED = {"reschedule", "heavy"}


@dataclass(frozen=True)
class Measure:
    """One validate run."""

    seconds: float
    cpu: float
    peak_mib: float
    processes: int


def job_file(kind: str, rows: int) -> Path:
    """The generated job, written again when missing or (for dated kinds) made on another day."""
    path = OUT / f"{kind}-{rows}.csv"
    stale = kind in DATED and (
        not path.exists() or date.fromtimestamp(path.stat().st_mtime) != date.today()
    )
    if stale or not path.exists():
        command = [sys.executable, str(HERE / "make_jobs.py"), "--rows", str(rows), "--kind", kind]
        subprocess.run([*command, str(path)], check=True, stdout=subprocess.DEVNULL)
    return path


def _tree(pid: int) -> list[int]:
    """The process and its descendants (Linux's children lists: no scan of all of /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(job: Path, pythonpath: Path | None = None) -> Measure:
    """Validate ``job`` in a child process tree; sample its memory until it exits."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    peak, most = 0, 0
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "bulkpatch", "validate", str(job)],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
            cwd=OUT,  # not the checkout: `python -m` puts the current folder first on the path
        )
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, most
            while not done.wait(0.1):
                pids = _tree(child.pid)
                peak = max(peak, sum(_pss_kib(pid) for pid in pids))
                most = max(most, len(pids))

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        error = errors.read().decode()
    if child.returncode not in (0, 2) or error:
        raise SystemExit(f"validate failed on {job}: exit {child.returncode}: {error}")
    return Measure(elapsed, usage.ru_utime + usage.ru_stime, peak / 1024, most)


def row(label: str, rows: int, result: Measure) -> str:
    """One line of the markdown table."""
    return (
        f"| {label} | {rows:,} | {result.seconds:.1f} | {rows / result.seconds:,.0f} | "
        f"{result.cpu:.1f} | {result.processes} | {result.peak_mib:.0f} MiB |"
    )


def main() -> None:
    """Generate the jobs, measure each (and the baseline), print and write the table."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--jobs", nargs="+", choices=sorted(JOBS), default=list(JOBS))
    parser.add_argument("--sizes", type=int, nargs="+", help="rows (default: per job, above)")
    parser.add_argument("--baseline", type=Path, help="a tree holding an older bulkpatch/")
    parser.add_argument("--no-write", action="store_true", help="print only; docs untouched")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    today = datetime.now(UTC).date()
    cores = len(os.sched_getaffinity(0))
    head = (
        f"Measured {today} with `.venv/bin/python bench/validate_bench.py"
        f"{' --baseline ' + str(args.baseline) if args.baseline else ''}`, "
        f"{platform.python_implementation()} {platform.python_version()}, {cores} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the start (other work shares the machine)."
    )
    lines = [
        head,
        "",
        "| job | rows | seconds | rows/s | CPU seconds | processes | peak memory |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    results: dict[tuple[str, int], Measure] = {}
    for kind in args.jobs:
        for size in args.sizes or JOBS[kind]:
            job = job_file(kind, size)
            if args.baseline:
                before = measure(job, args.baseline)
                lines.append(row(f"{kind}, before ({args.baseline.name})", size, before))
                print(lines[-1], flush=True)
            results[kind, size] = measure(job)
            lines.append(row(kind, size, results[kind, size]))
            print(lines[-1], flush=True)
    if not args.no_write:
        splice(REPORT, SCRIPT, "\n".join(lines))
        heavy = results.get(("heavy", 1_000_000))
        if heavy is not None:
            splice(README, SCRIPT, readme_line(heavy, today))


def readme_line(heavy: Measure, today: date) -> str:
    """The README's Performance line for validate, from this run's heavy million-row job."""
    return (
        f"- `bulkpatch validate` on a generated 1,000,000-row heavy job (8 columns, quoted text, "
        f"local times in time zones, a third of the rows with a warning): {heavy.seconds:.0f} s, "
        f"{heavy.peak_mib:.0f} MiB peak memory over {heavy.processes} processes "
        f"({today}; [the other jobs](docs/benchmarks.md#bulkpatch-validate-on-a-generated-job))."
    )


if __name__ == "__main__":
    main()
