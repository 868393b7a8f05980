"""Benchmark `bulkpatch validate` on generated jobs: wall time and peak memory per size.

Run by hand, never in the test suite (these machines are shared and noisy):

    .venv/bin/python bench/validate_bench.py            # 100k and 1M rows, both kinds
    .venv/bin/python bench/validate_bench.py --sizes 10000

Each measurement runs the real CLI in a fresh process, and reads that process's peak resident
memory from the kernel once it has exited.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "out"


def measure(job: Path) -> tuple[float, float]:
    """Validate ``job`` in a child process; return (seconds, peak MiB)."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "bulkpatch", "validate", str(job)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as child:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if child.returncode not in (0, 2):
        raise SystemExit(f"validate failed on {job}: exit {child.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    """Generate the jobs that are missing, measure each, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print(
        f"`bulkpatch validate`, {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores\n"
    )
    print("| job | rows | seconds | rows/s | peak memory |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("migration", "reschedule"):
        for size in args.sizes:
            job = OUT / f"{kind}-{size}.csv"
            if not job.exists():
                subprocess.run(
                    [
                        sys.executable,
                        str(HERE / "make_jobs.py"),
                        "--rows",
                        str(size),
                        "--kind",
                        kind,
                        str(job),
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            seconds, peak = measure(job)
            print(f"| {kind} | {size:,} | {seconds:.1f} | {size / seconds:,.0f} | {peak:.0f} MiB |")


if __name__ == "__main__":
    main()
