"""What `make demo` shows: bulkpatch's whole loop, for real, against the sandbox emulator.

1. A dated reschedule job (moves 40 meetings to next week) run with `run --sandbox`: the
   in-process emulator, the progress bar and the summary, then `status` and `export`.
2. The admin's path on a sandbox served the way a real site is: `pull` the meetings of every
   host, edit the file (here: the lobby on for every other meeting), `validate`, `plan`,
   `run`, then `undo --run` to take it all back.

Every step is the real `bulkpatch` command, shown before it runs. Files go to jobs/generated/.
"""

from __future__ import annotations

import csv
import os
import shlex
import subprocess
import sys
from pathlib import Path

from bulkpatch.sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
OUT = Path("jobs") / "generated"  # relative to ROOT, where every command runs
TOKEN = "demo-admin-token"


def step(*args: str, env: dict[str, str] | None = None, allowed: tuple[int, ...] = (0,)) -> None:
    """Show a command, run it with the terminal as its output, and stop on a surprise."""
    shown = " ".join(shlex.quote(arg) for arg in args)
    print(f"\n$ bulkpatch {shown}", flush=True)
    code = subprocess.run(
        [sys.executable, "-m", "bulkpatch", *args], env=env, check=False, cwd=ROOT
    ).returncode
    if code not in allowed:
        sys.exit(f"demo: `bulkpatch {shown}` exited {code}")


def edit(job: Path) -> None:
    """What an admin would do in a spreadsheet: the lobby on for every other meeting."""
    with job.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for index, row in enumerate(rows):
        if index % 2 == 0:
            row["unlockedMeetingJoinSecurity"] = "allowJoinWithLobby"
    with job.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n(edited {job}: the lobby on for {len(rows[::2])} of {len(rows)} meetings)")


def main() -> None:
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    subprocess.run([sys.executable, "bench/make_jobs.py", "--demo", str(OUT)], check=True)
    reschedule = OUT / "reschedule-next-week.csv"
    print("\n== 1. A dated job, tried on the emulator started in-process ==")
    step("validate", str(reschedule))
    step("run", str(reschedule), "--sandbox", "--max-rate", "8")
    step("status", str(reschedule))
    step("export", str(reschedule), "-o", str(OUT / "results.csv"))

    print("\n== 2. pull -> edit -> validate -> plan -> run -> undo, on a sandbox site ==")
    site = SandboxProcess.start("--quiet", "--token", TOKEN, "--meetings", "95", "--hosts", "4")
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN, "BULKPATCH_BASE_URL": site.api_url}
    print(f"(a sandbox serving 95 meetings of 4 hosts at {site.api_url})")
    try:
        job = OUT / "lobby.csv"
        fields = "unlockedMeetingJoinSecurity,enabledJoinBeforeHost"
        step("pull", "-o", str(job), "--all-hosts", "--fields", fields, env=env)
        edit(job)
        step("validate", str(job), env=env)
        step("plan", str(job), env=env)
        step("run", str(job), "--max-rate", "20", env=env, allowed=(0, 1))
        step("undo", str(job), "--run", env=env, allowed=(0, 1))
    finally:
        site.stop()
    print("\nDemo done: the files are in jobs/generated/.")


if __name__ == "__main__":
    main()
