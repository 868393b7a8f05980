"""bulkpatch side by side with the scripts users would otherwise write, on the same sandbox.

    make bench-peers          # installs .venv-bench (the peers, matplotlib), then runs this
    .venv/bin/python bench/peers/compare.py --repeat 1   # once only, for a quick look

Runs in the project's .venv (for bulkpatch and the sandbox); each peer runs in .venv-bench.
Three settings, concurrency 32, a fresh sandbox per run: rate-limited (--rate 50 --burst 10,
1,000 rows), latency (200 ms, 5,000 rows: long enough that the last, partly filled round of
requests does not decide the rate), faults (10 % 5xx and drops, 5 % 423, and the 50/s limit
for 429 storms, 1,000 rows). Every run is repeated (--repeat, 3 by default) and the tables give
the median and the spread. Seconds are the sandbox's, from the first request it saw to its last
answer: one yardstick for every tool. Then a kill test in the rate-limited setting: each tool is
SIGKILLed after 8 s, and we count what it can account for and what finishing costs.
Writes the tables into docs/benchmarks.md (between its markers; the prose around them is kept)
and the chart docs/peers.png (requests and 429s per second, first repetition).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkpatch.journal import Journal
from bulkpatch.sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
REPORT = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- begin: written by bench/peers/compare.py -->", "<!-- end: written by bench/peers/compare.py -->"  # fmt: skip
TOKEN = "peers-token"
CONCURRENCY = 32
TOOLS = ["naive aiohttp", "webexpythonsdk", "wxc_sdk", "bulkpatch", "bulkpatch --max-rate 50"]
PEER_SCRIPTS = {
    "naive aiohttp": "naive_peer.py",
    "webexpythonsdk": "webexpythonsdk_peer.py",
    "wxc_sdk": "wxc_sdk_peer.py",
}


@dataclass(frozen=True)
class Setting:
    """One sandbox set-up, the rate a perfect client would reach in it, and who runs there."""

    name: str
    sandbox_args: tuple[str, ...]
    ideal: float
    rows: int
    tools: tuple[str, ...]


RATE_LIMIT = ("--rate", "50", "--burst", "10")
SETTINGS = (
    Setting("rate-limited", RATE_LIMIT, 50.0, 1000, tuple(TOOLS)),
    # A 50/s cap says nothing new where the round trip is the limit: bulkpatch runs once here.
    Setting("latency 200 ms", ("--latency-ms", "200"), CONCURRENCY / 0.2, 5000, tuple(TOOLS[:4])),
    Setting("faults + 429 storms", ("--fault-rate", "0.1", "--locked-rate", "0.05", *RATE_LIMIT), 50.0, 1000, tuple(TOOLS)),
)  # fmt: skip


def write_job(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["meetingId", "title"])
        writer.writerows([f"{index + 1:032x}", f"Peers {index}"] for index in range(rows))


def command(tool: str, job: Path, sandbox: SandboxProcess, journal: Path) -> list[str]:
    if tool in PEER_SCRIPTS:
        return [
            str(BENCH_PYTHON),
            str(PEERS / PEER_SCRIPTS[tool]),
            sandbox.api_url,
            TOKEN,
            str(job),
            str(CONCURRENCY),
        ]
    ceiling = ["--max-rate", "50"] if tool.endswith("50") else []  # else: the limit is found
    return [sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", sandbox.api_url, "--journal", str(journal),
            "--concurrency", str(CONCURRENCY), *ceiling, "--no-progress", "--log-format", "json"]  # fmt: skip


def measure(tool: str, setting: Setting, job: Path, journal: Path) -> dict[str, Any]:
    sandbox = SandboxProcess.start(
        "--quiet", "--token", TOKEN, "--seed", str(job), "--random-seed", "3", *setting.sandbox_args
    )
    try:
        subprocess.run(
            command(tool, job, sandbox, journal),
            capture_output=True,
            env={
                **os.environ,
                "WEBEX_ACCESS_TOKEN": TOKEN,
                "BULKPATCH_STATE_DIR": str(journal.parent / "state"),
            },
            timeout=900,
            check=False,
        )
        stats = sandbox.stats(meetings=False, timeline=True)
    finally:
        sandbox.stop()
    seconds, succeeded = stats["busySeconds"], stats["meetingsPatched"]
    return {
        "tool": tool, "setting": setting.name, "seconds": seconds, "succeeded": succeeded,
        "ofIdeal": succeeded / seconds / setting.ideal if seconds else 0.0, "requests": sum(stats["requests"].values()),
        "throttled": stats["throttled"], "violations": stats["retryAfterViolations"], "timeline": stats["timeline"],
    }  # fmt: skip


def kill_test(tool: str, job: Path, rows: int, journal: Path) -> dict[str, Any]:
    """Kill after 8 s; what the tool can account for, and what finishing the job costs."""
    sandbox = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(job), *RATE_LIMIT)
    env = {
        **os.environ,
        "WEBEX_ACCESS_TOKEN": TOKEN,
        "BULKPATCH_STATE_DIR": str(journal.parent / "state"),
    }
    try:
        with subprocess.Popen(
            command(tool, job, sandbox, journal),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        ) as process:
            time.sleep(8)  # a benchmark's fixed moment to pull the plug, not a wait for a result
            process.kill()
        applied = sandbox.stats(meetings=False)["patchesApplied"]
        if tool in PEER_SCRIPTS:
            recorded, resumable = 0, False  # no record of what was done: the whole job again
        else:
            with Journal.open(journal, lock=False) as opened:
                recorded = opened.counts()["succeeded"]
            resumable = True
        # The same command again: bulkpatch resumes from its journal, a peer starts over.
        subprocess.run(
            command(tool, job, sandbox, journal),
            capture_output=True,
            env=env,
            timeout=900,
            check=False,
        )
        final = sandbox.stats(meetings=False)
    finally:
        sandbox.stop()
    return {
        "tool": tool, "appliedAtKill": applied, "unaccounted": applied - recorded, "resumable": resumable,
        "resentToFinish": final["patchesApplied"] - rows, "finished": final["meetingsPatched"] == rows,
    }  # fmt: skip


def _spread(values: list[float], fmt: str, unit: str = "") -> str:
    """The median, and the range when the runs differ."""
    middle = format(statistics.median(values), fmt)
    low, high = format(min(values), fmt), format(max(values), fmt)
    return f"{middle}{unit}" if low == high else f"{middle}{unit} ({low}-{high})"


def results_table(results: list[dict[str, Any]]) -> list[str]:
    """One line per setting and tool: medians over the repeats, the worst run where it matters."""
    lines = [
        "| setting | rows | tool | seconds | rows succeeded (worst run) | of ideal | requests | 429s | Retry-After violations (worst run) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for setting in SETTINGS:
        for tool in setting.tools:
            runs = [r for r in results if r["setting"] == setting.name and r["tool"] == tool]
            worst = min(r["succeeded"] for r in runs)
            # A tool that gave up on rows did not do the job: a rate for it would flatter it.
            failed = setting.rows - worst
            share = (
                _spread([100 * r["ofIdeal"] for r in runs], ".0f", " %")
                if not failed
                else f"n/a ({failed:,} failed)"
            )
            seconds = _spread([r["seconds"] for r in runs], ".1f")
            requests = statistics.median(r["requests"] for r in runs)
            throttled = statistics.median(r["throttled"] for r in runs)
            violations = max(r["violations"] for r in runs)
            lines.append(
                f"| {setting.name} | {setting.rows:,} | {tool} | {seconds} | {worst:,} | {share} | {requests:,.0f} | {throttled:,.0f} | {violations:,} |"
            )
    return lines  # fmt: skip


def kills_table(kills: list[dict[str, Any]]) -> list[str]:
    lines = ["| tool | PATCHes applied at the kill | of those, unaccounted for | resumable | PATCHes re-sent to finish | finished |",
             "|---|---:|---:|---|---:|---|"]  # fmt: skip
    for k in kills:
        resent = k["resentToFinish"] if k["finished"] else "n/a"
        lines.append(
            f"| {k['tool']} | {k['appliedAtKill']} | {k['unaccounted']} | {'yes' if k['resumable'] else 'no'} | {resent} | {'yes' if k['finished'] else 'no'} |"
        )
    return lines


def generated(results: list[dict[str, Any]], kills: list[dict[str, Any]], repeats: int) -> str:
    """The part of docs/benchmarks.md this script owns."""
    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} with `make bench-peers` on a {os.cpu_count()}-core machine: concurrency {CONCURRENCY},",
        f"a fresh sandbox per run, every run done {repeats} times (median, and the range when the runs differ).",
        "*Seconds*: the sandbox's, from the first request it saw to its last answer. *Of ideal*: rows",
        f"that succeeded per second over the setting's ideal (50/s under the limit, {CONCURRENCY} / 0.2 s with the latency).", "",
        *results_table(results), "",
        "Killed with SIGKILL after 8 s in the rate-limited setting (1,000 rows), then the same command again:", "",
        *kills_table(kills), "",
        "![requests and 429s per second, rate-limited setting](peers.png)",
        END,
    ]  # fmt: skip
    return "\n".join(lines)


def write_report(text: str) -> None:
    """Replace what lies between the markers; the prose around them is the reader's guide."""
    old = REPORT.read_text()
    if BEGIN not in old:
        old += f"\n## Side by side with the peers\n\n{BEGIN}\n{END}\n"
    before, rest = old.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    REPORT.write_text(before + text + after)


def main() -> None:
    """Run every tool in every setting, then the kill test; write the tables and the chart."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and setting")
    repeats = parser.parse_args().repeat
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        jobs = {}
        for rows in {setting.rows for setting in SETTINGS}:
            jobs[rows] = folder / f"peers-{rows}.csv"
            write_job(jobs[rows], rows)
        for repeat in range(repeats):
            for setting in SETTINGS:
                for tool in setting.tools:
                    journal = folder / f"{tool}-{setting.name}-{repeat}.journal".replace(" ", "_")
                    results.append(measure(tool, setting, jobs[setting.rows], journal))
                    last = results[-1]
                    print(f"{repeat + 1}/{repeats} {setting.name} | {tool}: {last['ofIdeal']:.0%} of ideal, {last['succeeded']} rows, {last['violations']} violations", flush=True)  # fmt: skip
        kill_rows = SETTINGS[0].rows
        kills = [kill_test(tool, jobs[kill_rows], kill_rows, folder / f"kill-{index}.journal") for index, tool in enumerate(TOOLS[:4])]  # fmt: skip
        first = results[: len(results) // repeats]
        data = folder / "results.json"
        data.write_text(json.dumps(first))
        subprocess.run(
            [
                str(BENCH_PYTHON),
                str(PEERS / "chart.py"),
                str(data),
                str(ROOT / "docs" / "peers.png"),
            ],
            check=True,
        )
    text = generated(results, kills, repeats)
    write_report(text)
    print(text)


if __name__ == "__main__":
    main()
