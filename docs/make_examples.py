"""Write the README's console transcripts by running the commands they show (`make examples`).

Every ```console block of README.md that shows output lies between a pair of this script's
markers, ``<!-- begin: written by docs/make_examples.py: NAME -->`` and its ``end``; what lies
between them is written here and nowhere else. Blocks of commands alone (no output) are prose.

How a transcript is made:

- The working folder is a temporary copy of ``jobs/`` and ``docs/site.example.toml``, so the
  paths read as in the README (``jobs/site-migration-lobby.csv``). Absolute paths a command
  prints show that temporary folder: they are what it printed.
- Each command is the shown text run by ``/bin/sh`` in a pseudo-terminal of its own, 120
  columns wide, as if typed at a prompt: stdout and stderr interleaved as a user sees them,
  a progress bar as its last frame stays on the screen. Colours are dropped; nothing else is.
- Servers are real ``bulkpatch sandbox`` processes on 127.0.0.1 with their own tokens; the
  caller's ``WEBEX_*`` and ``BULKPATCH_*`` variables are removed first, so no real token is
  ever used, and learned pacing goes to a temporary state folder.
- Output left out is left out here, and counted: ``[... 16 more rows left out ...]``.
- Steps no block shows: ``bench/make_jobs.py --demo jobs/generated`` (what ``make demo`` does);
  the sandboxes ``pull``, ``plan``, ``run`` and ``undo`` talk to (``LOBBY_SITE``, the README's
  95 generated meetings of 4 hosts) and ``site pull`` reads (the same, with ``--site
  docs/site.example.toml``); the edit of ``lobby.csv`` (``lobby_on``, as the prose says); and a
  ``pull --type both`` into ``site-snapshot.jsonl`` for the sandbox that seeds from it.

A command whose exit code differs from the one the README's prose states stops the script
before the README is touched, and so does a secret found in any transcript.

    .venv/bin/python docs/make_examples.py
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from markers import marker_pair, splice  # noqa: E402  # a script beside the benchmarks

README = ROOT / "README.md"
SCRIPT = "docs/make_examples.py"
COLUMNS, LINES = 120, 50
TIMEOUT = 180.0
LOBBY_SITE = "bulkpatch sandbox --meetings 95 --hosts 4 --token sandbox-token --port 0 --quiet"
SANDBOX_TOKEN = "sandbox-token"
BANNER_END = b"(Ctrl-C stops)"
_API_URL = re.compile(r"at (http://127\.0\.0\.1:\d+/v1)")
_ESCAPE = re.compile(r"\x1b\[(\??)([0-9;]*)([A-Za-z])")
_FINDING = re.compile(r"^\S+:\d+: (?:error|warning): ")


class ExampleError(Exception):
    """A command did not do what its README block says, or printed what it must not."""


def render(raw: str) -> list[str]:
    """The lines a terminal shows after receiving ``raw``, colours dropped.

    Only what bulkpatch's output uses is understood (carriage return, erase line, cursor up,
    colours, cursor shown or hidden); anything else stops the script rather than be guessed.
    """
    screen: list[list[str]] = [[]]
    row = col = 0
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\x1b":
            match = _ESCAPE.match(raw, index)
            if match is None:
                raise ExampleError(
                    f"an escape sequence this script cannot show: {raw[index:][:12]!r}"
                )
            private, params, final = match.groups()
            index = match.end()
            if final == "m" or (private and final in "hl"):
                continue
            if final == "A" and not private:
                row = max(0, row - int(params or "1"))
            elif final == "K" and params in ("", "0"):
                del screen[row][col:]
            elif final == "K" and params == "2":
                screen[row] = [" "] * col if col else []
            else:
                raise ExampleError(f"an escape sequence this script cannot show: {match[0]!r}")
            continue
        index += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            screen.extend([] for _ in range(row + 1 - len(screen)))
        elif char < " " and char != "\t":
            raise ExampleError(f"a control character this script cannot show: {char!r}")
        else:
            line = screen[row]
            line.extend(" " * (col - len(line)))
            line[col : col + 1] = [char]
            col += 1
    lines = ["".join(line).rstrip() for line in screen]
    while lines and not lines[-1]:
        lines.pop()
    return lines


class Terminal:
    """One shell command running in a pseudo-terminal of its own, as typed at a prompt."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.command = command
        self._raw = b""
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        try:
            self._process = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env=env,
                start_new_session=True,  # its own process group: Ctrl-C reaches all of it
            )
        finally:
            os.close(slave)

    def lines(self) -> list[str]:
        """What the terminal shows now."""
        return render(self._raw.decode())

    def read_until(self, marker: bytes) -> None:
        """Read the command's output until ``marker`` has appeared."""
        deadline = time.monotonic() + TIMEOUT
        while marker not in self._raw:
            if not self._read(deadline):
                raise ExampleError(f"`{self.command}` ended before printing {marker!r}")

    def interrupt(self) -> None:
        """Ctrl-C, as the terminal sends it: SIGINT to the command's process group."""
        os.killpg(self._process.pid, signal.SIGINT)

    def finish(self) -> int:
        """Read to the end of the output, then the exit code."""
        deadline = time.monotonic() + TIMEOUT
        while self._read(deadline):
            pass
        os.close(self._master)
        return self._process.wait(timeout=TIMEOUT)

    def _read(self, deadline: float) -> bool:
        ready, _, _ = select.select([self._master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.killpg(self._process.pid, signal.SIGKILL)
            raise ExampleError(f"`{self.command}` gave no output for {TIMEOUT:g} s:\n{self._raw!r}")
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            return False
        self._raw += chunk
        return bool(chunk)


@dataclass(frozen=True)
class Shot:
    """A command as typed and the lines it left on the screen."""

    command: str
    output: list[str]

    def edited(self, edit: Callable[[list[str]], list[str]]) -> Shot:
        """The same shot with output left out by ``edit`` (which says how much)."""
        return replace(self, output=edit(self.output))

    def text(self) -> str:
        return "\n".join([f"$ {self.command}", *self.output])


def console(*shots: Shot) -> str:
    """A fenced console block of these shots."""
    return "```console\n" + "\n".join(shot.text() for shot in shots) + "\n```"


def keep_first(
    lines: list[str], is_item: Callable[[str], object], keep: int, noun: str
) -> list[str]:
    """The first ``keep`` item lines, then one line counting the items left out."""
    items = [index for index, line in enumerate(lines) if is_item(line)]
    if len(items) <= keep:
        return lines
    cut, last = items[keep], items[-1]
    if not all(is_item(line) for line in lines[cut : last + 1]):
        raise ExampleError(f"the {noun} are not one run of lines; nothing left out")
    return [*lines[:cut], f"[... {len(items) - keep} more {noun} left out ...]", *lines[last + 1 :]]


def fold_summary(lines: list[str]) -> list[str]:
    """A validate report with its summary tables folded into one counted line."""
    first = next(index for index, line in enumerate(lines) if _FINDING.match(line))
    titles = [line.removesuffix(":").lower() for line in lines[1:first] if line.endswith(":")]
    folded = f"[... {', '.join(titles)}: {first - 1} lines left out ...]"
    return [lines[0], folded, *keep_first(lines[first:], _FINDING.match, 8, "findings")]


class Session:
    """A shell in the working folder, with the environment a user would have set."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self._servers: list[Terminal] = []

    def using(self, **env: str) -> Session:
        """The same folder with these variables exported too (servers stay this session's)."""
        other = Session(self.cwd, {**self.env, **env})
        other._servers = self._servers
        return other

    def run(self, command: str, expect: int = 0) -> Shot:
        """Run ``command`` to its end; the README's prose states its exit code ``expect``."""
        terminal = Terminal(command, self.cwd, self.env)
        code = terminal.finish()
        shot = Shot(command, terminal.lines())
        if code != expect:
            raise ExampleError(f"exit {code}, the README says {expect}:\n{shot.text()}")
        print(f"  ok  {command}", file=sys.stderr)
        return shot

    def serve(self, command: str) -> tuple[Shot, str]:
        """Start a sandbox command; its banner as shown, and its API URL. Stopped by close()."""
        terminal = Terminal(command, self.cwd, self.env)
        self._servers.append(terminal)
        terminal.read_until(BANNER_END)
        shot = Shot(command, terminal.lines())
        match = _API_URL.search("\n".join(shot.output))
        if match is None:
            raise ExampleError(f"no API URL in the banner:\n{shot.text()}")
        print(f"  ok  {command}", file=sys.stderr)
        return shot, match[1]

    def close(self) -> None:
        """Ctrl-C every server this session started, and wait for each to end."""
        for terminal in self._servers:
            terminal.interrupt()
            terminal.finish()
        self._servers.clear()


def offline(shell: Session) -> dict[str, str]:
    """validate: a clean job, a broken one, JSON, a semicolon file, a site profile."""
    broken = shell.run("bulkpatch validate jobs/broken-example.csv", expect=2)
    return {
        "validate-lobby": console(shell.run("bulkpatch validate jobs/site-migration-lobby.csv")),
        "validate-broken": console(broken.edited(fold_summary)),
        "validate-json": console(
            shell.run("bulkpatch validate jobs/tracking-codes.jsonl --format json")
        ),
        "validate-delimiter": console(
            shell.run("bulkpatch validate jobs/saved-by-excel.csv", expect=2),
            shell.run("bulkpatch validate jobs/saved-by-excel.csv --delimiter ';' | tail -1"),
        ),
        "validate-site": console(
            shell.run(
                "bulkpatch validate jobs/tracking-codes.csv --site docs/site.example.toml | tail -3"
            )
        ),
    }


def trials(shell: Session) -> dict[str, str]:
    """run --sandbox, then status and export of a trial's journal."""
    blocks = {
        "run-sandbox": console(shell.run("bulkpatch run jobs/site-migration-lobby.csv --sandbox"))
    }
    make_jobs = [sys.executable, str(ROOT / "bench" / "make_jobs.py"), "--demo", "jobs/generated"]
    subprocess.run(make_jobs, cwd=shell.cwd, env=shell.env, check=True, capture_output=True)
    job = "jobs/generated/reschedule-next-week.csv"
    journal = f"{job}.sandbox.journal"
    blocks["run-options"] = console(
        shell.run(f"bulkpatch run {job} --sandbox --max-rate 8 --no-progress")
    )
    blocks["status"] = console(shell.run(f"bulkpatch status {journal}"))
    blocks["export"] = console(
        shell.run(f"bulkpatch export {journal} -o results.csv"),
        shell.run("head -2 results.csv"),
        shell.run(f"bulkpatch export {job} --only failed --as-job -o failed.csv"),
        shell.run(
            "bulkpatch export jobs/site-migration-lobby.csv --only failed --as-job -o jobs/site-migration-lobby.csv",
            expect=2,
        ),
    )
    return blocks


def lobby_on(job: Path) -> None:
    """What the admin does in a spreadsheet: the lobby on for every other meeting."""
    with job.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[::2]:
        row["unlockedMeetingJoinSecurity"] = "allowJoinWithLobby"
    with job.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def busiest_host(snapshot: Path) -> str:
    """The host with the most meetings in a pull snapshot."""
    lines = snapshot.read_text().splitlines()
    hosts = Counter(json.loads(line).get("hostEmail") for line in lines if line.strip())
    hosts.pop(None, None)
    return str(hosts.most_common(1)[0][0])


def see_change_take_back(shell: Session) -> dict[str, str]:
    """pull, edit, plan, run, undo against a sandbox served as a site is."""
    _, url = shell.serve(LOBBY_SITE)
    site = shell.using(BULKPATCH_BASE_URL=url, WEBEX_ACCESS_TOKEN=SANDBOX_TOKEN)
    fields = "unlockedMeetingJoinSecurity,enabledJoinBeforeHost"
    pulled = site.run(f"bulkpatch pull -o lobby.csv --all-hosts --fields {fields}")
    head = site.run("head -2 lobby.csv")
    lobby_on(shell.cwd / "lobby.csv")
    print("  ok  (edited lobby.csv: allowJoinWithLobby for every other meeting)", file=sys.stderr)
    plan_json = site.run("bulkpatch plan lobby.csv --format json | head -c 300")
    plan = site.run("bulkpatch plan lobby.csv").edited(
        lambda lines: keep_first(lines, lambda line: line.startswith("line "), 2, "rows")
    )
    ran = site.run("bulkpatch run lobby.csv")
    undo_file = site.run("bulkpatch undo lobby.csv")
    undone = site.run("bulkpatch undo lobby.csv --run")
    site.run("bulkpatch pull -o site.csv --all-hosts --type both --snapshot site-snapshot.jsonl")
    return {
        "pull": console(pulled),
        "plan-run": console(plan, ran),
        "undo-run": console(undone),
        "pull-head": console(pulled, head),
        "plan-json": console(plan_json),
        "undo": console(undo_file),
    }


def sandboxes(shell: Session) -> dict[str, str]:
    """site pull from a sandbox with a profile; the sandbox's own banners."""
    _, url = shell.serve(LOBBY_SITE.replace("--port 0", "--site docs/site.example.toml --port 0"))
    site = shell.using(BULKPATCH_BASE_URL=url, WEBEX_ACCESS_TOKEN=SANDBOX_TOKEN)
    blocks = {"site-pull": console(site.run("bulkpatch site pull -o site.toml --all-hosts"))}
    seeded, _ = shell.serve(
        "bulkpatch sandbox --seed jobs/site-migration-lobby.csv --port 0 --quiet"
    )
    blocks["sandbox-seed-job"] = console(seeded)
    host = busiest_host(shell.cwd / "site-snapshot.jsonl")
    user_token = f"{host.split('@')[0].split('.')[0]}-t"
    served, url = shell.serve(
        "bulkpatch sandbox --seed site-snapshot.jsonl --token admin-t"
        f" --user-token {user_token}={host} --port 0 --quiet"
    )
    today = datetime.now(UTC).date()
    query = f"hostEmail={host}&from={today}&to={today + timedelta(days=365)}&max=10"
    listed = shell.run(
        f'curl -s -D - -o /dev/null -H "Authorization: Bearer admin-t" "{url}/meetings?{query}"'
        " | grep Link   # in another terminal"
    )
    blocks["sandbox-seed-snapshot"] = console(served, listed)
    return blocks


def secrets(env: dict[str, str]) -> set[str]:
    """What must never appear: the jobs' passwords and the caller's own tokens."""
    found = {
        value
        for key, value in env.items()
        if key.startswith("WEBEX_") and len(value) >= 8 and "URL" not in key
    }
    for job in (ROOT / "jobs").glob("*.csv"):
        with job.open(newline="") as handle:
            for row in csv.DictReader(handle):
                found.update(row[key] for key in ("password", "panelistPassword") if row.get(key))
    return found


def static_blocks(text: str) -> list[str]:
    """The console blocks outside every marker pair: commands written by hand, no output."""
    outside = re.sub(
        r"<!-- begin: written by (.+?) -->.*?<!-- end: written by \1 -->", "", text, flags=re.S
    )
    return re.findall(r"^```console\n(.*?)^```", outside, flags=re.S | re.M)


def main() -> None:
    names = [
        *("validate-lobby", "validate-broken", "validate-json", "validate-delimiter"),
        "validate-site",
        *("run-sandbox", "run-options", "status", "export"),
        *("pull", "plan-run", "undo-run", "pull-head", "plan-json", "undo"),
        *("site-pull", "sandbox-seed-job", "sandbox-seed-snapshot"),
    ]
    text = README.read_text()
    missing = [name for name in names if marker_pair(SCRIPT, name)[0] not in text]
    if missing:
        sys.exit(f"{SCRIPT}: README.md has no markers for {', '.join(missing)}: place them first")
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "bulkpatch").exists():
        sys.exit(f"{SCRIPT}: no bulkpatch beside {sys.executable}: run `make install` first")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bulkpatch-examples-") as temporary:
        work = Path(temporary) / "bulkpatch"
        shutil.copytree(
            ROOT / "jobs", work / "jobs", ignore=shutil.ignore_patterns("generated", "*.journal*")
        )
        (work / "docs").mkdir()
        shutil.copy(ROOT / "docs" / "site.example.toml", work / "docs")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "BULKPATCH_"))}
        env |= {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "BULKPATCH_STATE_DIR": str(Path(temporary) / "state"),
            "TERM": "xterm-256color",
            "COLUMNS": str(COLUMNS),
            "LINES": str(LINES),
        }
        shell = Session(work, env)
        blocks: dict[str, str] = {}
        try:
            for flow in (offline, trials, see_change_take_back, sandboxes):
                blocks |= flow(shell)
        finally:
            shell.close()
        # The commands ran in a temporary copy; the reader's copy is where they cloned it.
        for name, body in blocks.items():
            for spelling in {str(work.resolve()), str(work)}:
                body = body.replace(spelling, "~/bulkpatch")
            blocks[name] = body
    leaked = [
        name
        for name, body in blocks.items()
        for secret in secrets(dict(os.environ))
        if secret in body
    ]
    if leaked:
        raise ExampleError(f"a secret in the transcript of {', '.join(leaked)}; README untouched")
    for name in names:
        splice(README, SCRIPT, blocks[name], name=name)
    for block in static_blocks(README.read_text()):
        print(f"  static (no markers): {block.splitlines()[0]}", file=sys.stderr)
    seconds = time.monotonic() - started
    print(f"{len(names)} transcripts written into README.md in {seconds:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
