"""bulkpatch side by side with the scripts users would otherwise write, on the same sandbox.

    make bench-peers          # installs .venv-bench (the peers, matplotlib), then runs this

Runs in the project's .venv (for bulkpatch and the sandbox); each peer runs in .venv-bench.
Three settings, 1,000 title changes each, concurrency 32, a fresh sandbox per tool:
rate-limited (--rate 50 --burst 10), latency (200 ms), faults (10 % 5xx and drops, 5 % 423,
and the 50/s limit for 429 storms). Then a kill test in the rate-limited setting: each tool
is SIGKILLed after 8 s, and we count what it can account for and what finishing costs.
Writes docs/peers.md (the tables) and docs/peers.png (requests and 429s per second).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bulkpatch.journal import Journal
from bulkpatch.sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
TOKEN = "peers-token"
ROWS = 1000
CONCURRENCY = 32
SETTINGS: dict[str, tuple[list[str], float]] = {
    "rate-limited": (["--rate", "50", "--burst", "10"], 50.0),
    "latency 200 ms": (["--latency-ms", "200"], CONCURRENCY / 0.2),
    "faults + 429 storms": (
        ["--fault-rate", "0.1", "--locked-rate", "0.05", "--rate", "50", "--burst", "10"],
        50.0,
    ),
}
TOOLS = ["naive aiohttp", "webexpythonsdk", "wxc_sdk", "bulkpatch", "bulkpatch --max-rate 50"]
PEER_SCRIPTS = {
    "naive aiohttp": "naive_peer.py",
    "webexpythonsdk": "webexpythonsdk_peer.py",
    "wxc_sdk": "wxc_sdk_peer.py",
}


def write_job(path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["meetingId", "title"])
        writer.writerows([f"{index + 1:032x}", f"Peers {index}"] for index in range(ROWS))


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
    ceiling = "50" if tool.endswith("50") else "1000"
    return [sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", sandbox.api_url, "--journal", str(journal),
            "--concurrency", str(CONCURRENCY), "--max-rate", ceiling, "--no-progress", "--log-format", "json"]  # fmt: skip


def seconds_of(tool: str, out: str, err: str) -> float:
    """The tool's own measure, from its first request to its last answer."""
    if tool in PEER_SCRIPTS:
        return float(json.loads(out.strip().splitlines()[-1])["seconds"])
    summary = next(json.loads(line) for line in err.splitlines() if '"run.summary"' in line)
    return float(summary["elapsedSeconds"])


def measure(tool: str, setting: str, job: Path, folder: Path) -> dict[str, Any]:
    args, ideal = SETTINGS[setting]
    sandbox = SandboxProcess.start(
        "--quiet", "--token", TOKEN, "--seed", str(job), "--random-seed", "3", *args
    )
    try:
        env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN}
        done = subprocess.run(
            command(tool, job, sandbox, folder / f"{tool}-{setting}.journal".replace(" ", "_")),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        stats = sandbox.stats(timeline=True)
    finally:
        sandbox.stop()
    seconds = seconds_of(tool, done.stdout, done.stderr)
    succeeded = stats["meetingsPatched"]
    return {
        "tool": tool, "setting": setting, "seconds": seconds, "succeeded": succeeded,
        "ofIdeal": succeeded / seconds / ideal if seconds else 0.0, "requests": sum(stats["requests"].values()),
        "throttled": stats["throttled"], "violations": stats["retryAfterViolations"], "timeline": stats["timeline"],
    }  # fmt: skip


def kill_test(tool: str, job: Path, folder: Path) -> dict[str, Any]:
    """Kill after 8 s; what the tool can account for, and what finishing the job costs."""
    args, _ = SETTINGS["rate-limited"]
    sandbox = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(job), *args)
    journal = folder / f"kill-{tool}.journal".replace(" ", "_")
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN}
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
            timeout=600,
            check=False,
        )
        final = sandbox.stats(meetings=False)
    finally:
        sandbox.stop()
    return {
        "tool": tool, "appliedAtKill": applied, "unaccounted": applied - recorded, "resumable": resumable,
        "resentToFinish": final["patchesApplied"] - ROWS, "finished": final["meetingsPatched"] == ROWS,
    }  # fmt: skip


def markdown(results: list[dict[str, Any]], kills: list[dict[str, Any]]) -> str:
    lines = [
        f"# bulkpatch and its peers, {time.strftime('%Y-%m-%d')}", "",
        f"`make bench-peers`: {ROWS:,} title changes, concurrency {CONCURRENCY}, a fresh sandbox per run, 2-core machine.",
        "Seconds are each tool's own, from its first request to its last answer. *Of ideal*: rows that",
        "succeeded per second, over the setting's ideal (50/s with the limit, 32 / 0.2 s with the latency).", "",
        "| setting | tool | seconds | rows succeeded | of ideal | requests | 429s | Retry-After violations |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in results:
        # A tool that gave up on rows did not do the job: a rate for it would flatter it.
        failed = ROWS - r["succeeded"]
        share = f"{r['ofIdeal']:.0%}" if not failed else f"n/a ({failed:,} failed)"
        lines.append(
            f"| {r['setting']} | {r['tool']} | {r['seconds']:.1f} | {r['succeeded']:,} | {share} | {r['requests']:,} | {r['throttled']} | {r['violations']} |"
        )
    lines += ["", "Killed with SIGKILL after 8 s in the rate-limited setting, then finished:", "",
              "| tool | PATCHes applied at the kill | of those, unaccounted for | resumable | PATCHes re-sent to finish | finished |",
              "|---|---:|---:|---|---:|---|"]  # fmt: skip
    for k in kills:
        resent = k["resentToFinish"] if k["finished"] else "n/a"
        lines.append(
            f"| {k['tool']} | {k['appliedAtKill']} | {k['unaccounted']} | {'yes' if k['resumable'] else 'no'} | {resent} | {'yes' if k['finished'] else 'no'} |"
        )
    lines += ["", "![requests and 429s per second](peers.png)", ""]
    return "\n".join(lines)


def main() -> None:
    """Run every tool in every setting, then the kill test; write the tables and the chart."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        job = folder / "peers.csv"
        write_job(job)
        results = [measure(tool, setting, job, folder) for setting in SETTINGS for tool in TOOLS]
        kills = [kill_test(tool, job, folder) for tool in TOOLS[:4]]
        data = folder / "results.json"
        data.write_text(json.dumps(results))
        subprocess.run(
            [
                str(BENCH_PYTHON),
                str(PEERS / "chart.py"),
                str(data),
                str(ROOT / "docs" / "peers.png"),
            ],
            check=True,
        )
    (ROOT / "docs" / "peers.md").write_text(markdown(results, kills))
    print((ROOT / "docs" / "peers.md").read_text())


if __name__ == "__main__":
    main()
