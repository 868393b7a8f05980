"""bulkpatch side by side with the scripts users would otherwise write, on the same sandbox.

    make bench-peers                                    # installs .venv-bench, then runs this
    .venv/bin/python bench/peers/compare.py --repeat 1  # once only, for a quick look
    .venv/bin/python bench/peers/compare.py --setting latency --no-kill   # measure one part again
    .venv/bin/python bench/peers/compare.py --render    # the kept figures into the docs again

Runs in the project's .venv (bulkpatch and the sandbox); each peer runs in .venv-bench.
Tools: a naive aiohttp script, webexpythonsdk and wxc_sdk (one PATCH a row, no record kept),
and bulkpatch twice: as users get it (it reads each meeting before its PATCH, for `undo`: two
requests a row) and with --no-snapshot (one PATCH a row, the peers' work). No tool is told the
limit: bulkpatch runs without --max-rate, with a state directory of its own per run, so it
finds the limit afresh every time.

Settings, concurrency 32, a fresh sandbox per run: rate-limited (--rate 50 --burst 10 for GETs
and PATCHes together, 1,000 rows), latency (200 ms, no limit, 5,000 rows: long enough that the
last, partly filled round of requests does not decide the rate), faults (10 % 5xx and drops,
5 % 423, and the 50/s limit, 1,000 rows). Every run is repeated (--repeat, 3 by default).
Seconds are the sandbox's, from the first request it saw to its last answer: one clock for
every tool. *Ideal*: rows per second a perfect client reaches with the requests a row needs.
Then a kill test in the rate-limited setting: each tool is SIGKILLed 8 s in, and we count what
it can account for and what finishing the job costs.

Every figure is kept in bench/results/peers.json (runs measured again replace the same tool
and setting only); the docs are written from it (writeup.py) between this script's markers in
docs/benchmarks.md and README.md, and the chart docs/peers.png by chart.py in .venv-bench.
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
import time
from pathlib import Path
from typing import Any

from bulkpatch.journal import DONE, Journal, RowStatus
from bulkpatch.sandbox.process import SandboxProcess

PEERS = Path(__file__).resolve().parent
ROOT = PEERS.parents[1]
sys.path.insert(0, str(PEERS.parent))
sys.path.insert(0, str(PEERS))
from markers import splice  # noqa: E402  # a sibling script of bench/
from writeup import (  # noqa: E402  # a sibling script
    CONCURRENCY,
    KILL_AFTER,
    SETTINGS,
    TOOLS,
    Setting,
    Tool,
    docs_body,
    readme_body,
)

BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
RESULT = ROOT / "bench" / "results" / "peers.json"
SCRIPT = "bench/peers/compare.py"
TOKEN = "peers-token"
TIMEOUT = 900


def write_job(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["meetingId", "title"])
        writer.writerows([f"{index + 1:032x}", f"Peers {index}"] for index in range(rows))


def command(tool: Tool, job: Path, api_url: str, workdir: Path) -> list[str]:
    """The tool's command line: a peer's script in .venv-bench, or `bulkpatch run`."""
    if tool.script is not None:
        return [str(BENCH_PYTHON), str(PEERS / tool.script), api_url, TOKEN, str(job), str(CONCURRENCY)]  # fmt: skip
    # No --max-rate: the limit is found, as users run it.
    return [sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", api_url,
            "--journal", str(workdir / "run.journal"), "--concurrency", str(CONCURRENCY),
            *tool.flags, "--no-progress", "--log-format", "json"]  # fmt: skip


def environment(workdir: Path) -> dict[str, str]:
    """The token, and a state directory of the run's own: no rate learned by an earlier run."""
    return {
        **os.environ,
        "WEBEX_ACCESS_TOKEN": TOKEN,
        "BULKPATCH_STATE_DIR": str(workdir / "state"),
    }


def start_sandbox(setting: Setting, job: Path) -> SandboxProcess:
    return SandboxProcess.start(
        "--quiet", "--token", TOKEN, "--seed", str(job), "--random-seed", "3", *setting.sandbox_args
    )


def run_to_end(tool: Tool, job: Path, api_url: str, workdir: Path) -> int | None:
    """Run the tool once; its exit code, or None when it did not end within the timeout."""
    try:
        done = subprocess.run(
            command(tool, job, api_url, workdir),
            capture_output=True,
            env=environment(workdir),
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return done.returncode


def measure(tool: Tool, setting: Setting, job: Path, workdir: Path, repeat: int) -> dict[str, Any]:
    """One tool, one setting, one fresh sandbox: what the sandbox saw."""
    workdir.mkdir(parents=True)
    sandbox = start_sandbox(setting, job)
    load_before = os.getloadavg()[0]
    try:
        exit_code = run_to_end(tool, job, sandbox.api_url, workdir)
        stats = sandbox.stats(meetings=False, timeline=True)
    finally:
        sandbox.stop()
    record = {
        "tool": tool.name, "setting": setting.name, "repeat": repeat, "measured": time.strftime("%Y-%m-%d"),
        "rows": setting.rows, "requests_per_row": tool.requests_per_row,
        "ideal": setting.ideal(tool.requests_per_row), "seconds": stats["busySeconds"],
        "succeeded": stats["meetingsPatched"], "requests": sum(stats["requests"].values()),
        "throttled": stats["throttled"], "violations": stats["retryAfterViolations"],
        "exit_code": exit_code, "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }  # fmt: skip
    if setting.charted:
        record["timeline"] = stats["timeline"]
    return record


def applied_meetings(sandbox: SandboxProcess) -> dict[str, int]:
    """PATCHes applied per meeting, once the sandbox has answered what was still in flight."""
    seen: dict[str, int] = sandbox.stats()["patchesPerMeeting"]
    for _ in range(50):
        time.sleep(0.1)  # a handler may still finish a PATCH whose client is gone
        now: dict[str, int] = sandbox.stats()["patchesPerMeeting"]
        if now == seen:
            break
        seen = now
    return seen


def journal_accounts(path: Path) -> tuple[set[str], set[str]]:
    """Meetings the journal records as done, and as sent with the outcome not yet known."""
    if not path.exists():
        return set(), set()
    with Journal.open_read_only(path) as journal:
        ids = {row.line: row.meeting_id for row in journal.rows()}
        done = {row.meeting_id for row in journal.rows() if row.status in DONE}
        in_flight: set[str] = set()
        after = 0
        while batch := journal.states_from(after, 1000):
            in_flight |= {ids[s.line] for s in batch if s.sent and s.status is RowStatus.PENDING}
            after = batch[-1].line
    return done, in_flight


def kill_test(tool: Tool, setting: Setting, job: Path, workdir: Path) -> dict[str, Any]:
    """Kill 8 s in; what the tool can account for, and what finishing the job costs."""
    workdir.mkdir(parents=True)
    sandbox = start_sandbox(setting, job)
    try:
        with subprocess.Popen(
            command(tool, job, sandbox.api_url, workdir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=environment(workdir),
        ) as process:
            time.sleep(KILL_AFTER)  # a benchmark's fixed moment to pull the plug
            process.kill()
        applied = applied_meetings(sandbox)
        if tool.script is None:
            done, in_flight = journal_accounts(workdir / "run.journal")
        else:
            done, in_flight = set(), set()  # no record of what was done: the whole job again
        # The same command again: bulkpatch resumes from its journal, a peer starts over.
        exit_code = run_to_end(tool, job, sandbox.api_url, workdir)
        final = sandbox.stats(meetings=False)
    finally:
        sandbox.stop()
    return {
        "tool": tool.name, "measured": time.strftime("%Y-%m-%d"),
        "applied_at_kill": sum(applied.values()), "recorded_done": len(done & applied.keys()),
        "recorded_in_flight": len(in_flight), "unaccounted": len(applied.keys() - done - in_flight),
        "resumable": tool.script is None, "resent_to_finish": final["patchesApplied"] - setting.rows,
        "finished": final["meetingsPatched"] == setting.rows, "exit_code": exit_code,
    }  # fmt: skip


def dump(record: dict[str, Any]) -> str:
    """JSON with one run a line: readable, and a re-run shows as a small diff."""
    parts = []
    for key, value in record.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            inner = ",\n  ".join(json.dumps(item) for item in value)
            parts.append(f" {json.dumps(key)}: [\n  {inner}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def merged(
    old: dict[str, Any] | None,
    runs: list[dict[str, Any]],
    kills: list[dict[str, Any]],
    **about: Any,
) -> dict[str, Any]:
    """The kept record with these runs and kills in place of the same tool and setting's."""
    fresh = {(r["tool"], r["setting"]) for r in runs}
    killed = {k["tool"] for k in kills}
    kept_runs = [r for r in (old or {}).get("runs", []) if (r["tool"], r["setting"]) not in fresh]
    kept_kills = [k for k in (old or {}).get("kills", []) if k["tool"] not in killed]
    tools = [t.name for t in TOOLS]
    settings = [s.name for s in SETTINGS]
    return {
        **(old or {}),
        **about,
        "runs": sorted(
            kept_runs + runs,
            key=lambda r: (settings.index(r["setting"]), tools.index(r["tool"]), r["repeat"]),
        ),
        "kills": sorted(kept_kills + kills, key=lambda k: tools.index(k["tool"])),
    }


def render() -> None:
    """The kept figures into docs/benchmarks.md, README.md and docs/peers.png."""
    record = json.loads(RESULT.read_text())
    docs = docs_body(record)
    splice(ROOT / "docs" / "benchmarks.md", SCRIPT, docs, "Side by side with the peers")
    splice(ROOT / "README.md", SCRIPT, readme_body(record))
    if BENCH_PYTHON.exists():
        chart = [str(BENCH_PYTHON), str(PEERS / "chart.py"), str(RESULT), str(ROOT / "docs" / "peers.png")]  # fmt: skip
        subprocess.run(chart, check=True)
    else:
        print(f"no {BENCH_PYTHON}: docs/peers.png left as it was (make bench-peers installs it)")
    print(docs)


def main() -> None:
    """Measure what is asked (all by default), keep it, then write the docs from what is kept."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and setting")
    parser.add_argument("--setting", action="append", choices=[s.name for s in SETTINGS], help="only this setting (repeatable)")  # fmt: skip
    parser.add_argument("--tool", action="append", choices=[t.name for t in TOOLS], help="only this tool (repeatable)")  # fmt: skip
    parser.add_argument("--no-kill", action="store_true", help="leave the kill test out")
    parser.add_argument("--render", action="store_true", help="measure nothing: write the kept figures")  # fmt: skip
    args = parser.parse_args()
    if not args.render:
        started = time.monotonic()
        tools = [t for t in TOOLS if not args.tool or t.name in args.tool]
        settings = [s for s in SETTINGS if not args.setting or s.name in args.setting]
        runs: list[dict[str, Any]] = []
        kills: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            jobs = {}
            for rows in {setting.rows for setting in SETTINGS}:
                jobs[rows] = folder / f"peers-{rows}.csv"
                write_job(jobs[rows], rows)
            for repeat in range(args.repeat):
                for setting in settings:
                    for tool in tools:
                        workdir = folder / f"{setting.name}-{tool.name}-{repeat}".replace(" ", "_")
                        runs.append(measure(tool, setting, jobs[setting.rows], workdir, repeat))
                        last = runs[-1]
                        share = last["succeeded"] / last["seconds"] / last["ideal"] if last["seconds"] else 0  # fmt: skip
                        print(f"{repeat + 1}/{args.repeat} {setting.name} | {tool.name}: {share:.0%} of ideal, {last['succeeded']} rows, {last['seconds']:.1f} s, {last['violations']} violations, load {last['load']}", flush=True)  # fmt: skip
            if not args.no_kill:
                setting = SETTINGS[0]
                for tool in tools:
                    workdir = folder / f"kill-{tool.name}".replace(" ", "_")
                    kills.append(kill_test(tool, setting, jobs[setting.rows], workdir))
                    print(f"kill | {kills[-1]}", flush=True)
        old = json.loads(RESULT.read_text()) if RESULT.exists() else None
        about: dict[str, Any] = {"python": platform.python_version(), "cores": os.cpu_count(), "minutes": round((time.monotonic() - started) / 60, 1)}  # fmt: skip
        if old is not None and (args.setting or args.tool or args.no_kill):
            about["minutes"] = old.get("minutes")  # a partial re-run: the full run's time stays
            about["partial_reruns"] = [*old.get("partial_reruns", []), _partial(args)]
        elif old is not None:
            old = {key: value for key, value in old.items() if key != "partial_reruns"}
        RESULT.parent.mkdir(exist_ok=True)
        RESULT.write_text(dump(merged(old, runs, kills, **about)))
    render()


def _partial(args: argparse.Namespace) -> str:
    """What a partial re-run measured again, as the docs name it."""
    parts = [", ".join(args.setting or ["every setting"]), ", ".join(args.tool or ["every tool"])]
    kill = "" if args.no_kill else " and the kill test"
    return f"{time.strftime('%Y-%m-%d')}: {' / '.join(parts)}, {args.repeat} runs each{kill}"


if __name__ == "__main__":
    main()
