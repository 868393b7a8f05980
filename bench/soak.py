"""Reliability soak: kill -9 a run at random moments under faults, then check nothing was lost.

Run by hand, bounded in time (default 15 minutes), loopback only:

    .venv/bin/python bench/soak.py                 # 10,000 rows, 30 kills
    .venv/bin/python bench/soak.py --rows 2000 --kills 5

The sandbox answers with 5-40 ms of latency, 15 % faults (5xx, dropped connections), 3 % 423,
a rate limit (150/s) below the run's pace (429 storms) and access tokens that expire every 3 seconds.
The run is SIGKILLed at random moments, each time followed by a resume; then it is run to the
end. PASS needs: every meeting in the sandbox in the state the job asked for, every row
succeeded in the export, PATCHes applied at most rows + kills x concurrency, and no request
sent before its Retry-After.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bulkpatch.sandbox.process import SandboxProcess

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from markers import splice  # noqa: E402  # a sibling script

TOKEN = "soak-token"
REFRESH = "soak-refresh"
CONCURRENCY = 16


def write_job(path: Path, rows: int, seed: int) -> dict[str, str]:
    """A job giving every meeting its own title; returns meetingId -> intended title."""
    rng = random.Random(seed)
    intended = {
        f"{rng.getrandbits(128):032x}": f"Soak {index} {rng.randrange(10**6)}"
        for index in range(rows)
    }
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["meetingId", "title", "meetingOptions.enabledChat"])
        for index, (meeting_id, title) in enumerate(intended.items()):
            writer.writerow([meeting_id, title, "true" if index % 2 else "false"])
    return intended


def run_command(job: Path, sandbox: SandboxProcess, token_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", sandbox.api_url,
        "--token-file", str(token_file), "--concurrency", str(CONCURRENCY), "--max-rate", "1000",
        "--log-format", "json", "--no-progress", "--quiet",
    ]  # fmt: skip


def main() -> None:
    """Kill, resume, check; print one PASS/FAIL line with the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=900.0, help="seconds before giving up")
    parser.add_argument("--dry", action="store_true", help="print, write nothing to the docs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        job = base / "soak.csv"
        intended = write_job(job, args.rows, args.seed)
        token_file = base / "token.json"
        token_file.write_text(
            json.dumps(
                {
                    "access_token": TOKEN,
                    "refresh_token": REFRESH,
                    "client_id": "soak",
                    "client_secret": "soak",
                }
            )
        )
        token_file.chmod(0o600)
        sandbox = SandboxProcess.start(
            "--quiet", "--token", TOKEN, "--token-ttl", "3", "--refresh-token", REFRESH, "--seed", str(job),
            "--latency-ms", "5-40", "--fault-rate", "0.15", "--locked-rate", "0.03", "--rate", "150", "--burst", "20",
            "--random-seed", str(args.seed),
        )  # fmt: skip
        try:
            kills = 0
            while kills < args.kills and time.monotonic() - started < args.budget:
                with subprocess.Popen(
                    run_command(job, sandbox, token_file),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ) as run:
                    try:
                        run.wait(timeout=rng.uniform(0.3, 2.5))  # a random moment to kill it at
                    except subprocess.TimeoutExpired:
                        run.kill()
                        run.wait()
                        kills += 1
                        continue
                if run.returncode == 0:
                    break  # finished before we could kill it again
            final = subprocess.run(
                run_command(job, sandbox, token_file),
                capture_output=True,
                text=True,
                timeout=max(60.0, args.budget - (time.monotonic() - started)),
                check=False,
            )
            stats = sandbox.stats()
            wrong = [
                meeting_id
                for meeting_id, title in intended.items()
                if _title(sandbox, meeting_id) != title
            ]
        finally:
            sandbox.stop()
        export = subprocess.run(
            [sys.executable, "-m", "bulkpatch", "export", f"{job}.journal"],
            capture_output=True,
            text=True,
            check=True,
        )
        statuses = {row["status"] for row in csv.DictReader(io.StringIO(export.stdout))}
    applied = stats["patchesApplied"]
    bound = args.rows + kills * CONCURRENCY
    ok = (
        final.returncode == 0
        and not wrong
        and statuses == {"succeeded"}
        and applied <= bound
        and stats["retryAfterViolations"] == 0
    )
    verdict = (
        f"{'PASS' if ok else 'FAIL'}: {args.rows} rows, {kills} kills, final exit {final.returncode}, "
        f"{len(wrong)} meetings not as intended, export statuses {sorted(statuses)}, "
        f"{applied} PATCHes applied (bound {bound}), {stats['throttled']} 429s, "
        f"{stats['retryAfterViolations']} Retry-After violations, {stats['tokenRefreshes']} token refreshes, "
        f"{time.monotonic() - started:.0f} s"
    )
    print(verdict)
    if not args.dry:
        _publish(verdict, args.rows, kills, ok)
    if not ok:
        print("last lines of the final run's log:", *final.stderr.splitlines()[-15:], sep="\n  ")
    sys.exit(0 if ok else 1)


def _publish(verdict: str, rows: int, kills: int, ok: bool) -> None:
    """The verdict into docs/benchmarks.md, and the README's line, between this script's markers."""
    measured = f"Measured {time.strftime('%Y-%m-%d')}, CPython {platform.python_version()}, {os.cpu_count()} cores:"
    splice(ROOT / "docs" / "benchmarks.md", "bench/soak.py", f"{measured}\n\n```\n{verdict}\n```")
    outcome = (
        "passes: every meeting as intended, every row succeeded, no Retry-After violation"
        if ok
        else "**fails** (see docs/benchmarks.md)"
    )
    splice(
        ROOT / "README.md",
        "bench/soak.py",
        f"- The reliability soak ({rows:,} rows, {kills} kill -9s, faults, 429 storms, expiring "
        f"tokens) {outcome}.",
    )


def _title(sandbox: SandboxProcess, meeting_id: str) -> str | None:
    """The meeting's title as the sandbox holds it, read past its faults and limits."""
    url = f"{sandbox.api_url.removesuffix('/v1')}/_sandbox/meetings/{meeting_id}"
    with urllib.request.urlopen(url, timeout=30) as response:
        title = json.load(response).get("title")
    return None if title is None else str(title)


if __name__ == "__main__":
    os.environ.pop("WEBEX_ACCESS_TOKEN", None)
    # 18 % of answers are faults here: give rows the attempts to get through them all.
    os.environ["BULKPATCH_MAX_ATTEMPTS"] = "30"
    # The rate each resumed run learns stays with the soak, not in the user's state folder.
    os.environ["BULKPATCH_STATE_DIR"] = tempfile.mkdtemp(prefix="bulkpatch-soak-state-")
    main()
