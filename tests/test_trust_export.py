"""The hostile trial, part F: what `export` shows and where it writes (the real CLI)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import SERIES, invoke, run_args, write_job
from hostile import HostileServer, always, webex_error

from bulkpatch.errors import OutputError
from bulkpatch.export import check_output
from bulkpatch.sandbox.process import SandboxProcess

#: A server message that would clear the screen and retitle the terminal, shown raw.
ESCAPES = "bad \x1b]0;pwned\x07\x1b[2J title \x9b31m"


@pytest.fixture
def failed_journal(start_sandbox: Callable[..., SandboxProcess], tmp_path: Path) -> Path:
    """A journal with one failed row whose job row carries a password."""
    site = start_sandbox()
    job = write_job(
        tmp_path / "job.csv",
        [
            {"meetingId": SERIES[0], "title": "fine", "password": ""},
            {"meetingId": "f" * 32, "title": "gone", "password": "Secret-pw9"},
        ],
    )
    assert invoke(*run_args(site, job))[0] == 1
    return tmp_path / "job.csv.journal"


def test_export_as_job_needs_an_output_file(failed_journal: Path, tmp_path: Path) -> None:
    """--as-job would print the rows' passwords on the console: without -o it is a usage error
    (exit 2) saying why, and nothing is printed."""
    code, out, err = invoke("export", str(failed_journal), "--only", "failed", "--as-job")
    assert code == 2
    assert "--as-job needs -o FILE" in err
    assert "passwords" in err
    assert "Secret-pw9" not in out + err
    fix = tmp_path / "fix.csv"
    code, _, err = invoke(
        "export", str(failed_journal), "--only", "failed", "--as-job", "-o", str(fix)
    )
    assert code == 0, err
    assert "Secret-pw9" in fix.read_text()


def _on_a_terminal(*args: str) -> str:
    """The CLI's stdout when it is a terminal (a pseudo-terminal read to its end)."""
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bulkpatch", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                data = os.read(leader, 1 << 16)
            except OSError:  # EIO: the child closed the terminal's last end
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return b"".join(chunks).decode()


@pytest.fixture
def escapes_journal(tmp_path: Path) -> Path:
    """A journal whose failed row holds a server message full of terminal escapes."""
    server = HostileServer(always(400, webex_error(ESCAPES))).start()
    try:
        job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": "x"}])
        code, out, _ = invoke("run", str(job), "--base-url", server.api_url)
        assert code == 1, out
    finally:
        server.stop()
    return tmp_path / "job.csv.journal"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_a_terminal_shows_escapes_made_visible(escapes_journal: Path, fmt: str) -> None:
    """On a terminal, a server's escape sequences are shown escaped; a pipe gets them as stored."""
    shown = _on_a_terminal("export", str(escapes_journal), "--format", fmt)
    assert "\x1b" not in shown
    assert "\x9b" not in shown
    visible = shown.replace("\\\\", "\\")  # JSON doubles the backslash of "\x1b"
    assert "bad \\x1b]0;pwned\\x07\\x1b[2J title \\x9b31m" in visible
    code, piped, _ = invoke("export", str(escapes_journal), "--format", fmt)
    assert code == 0
    if fmt == "csv":
        assert ESCAPES in piped
    else:
        (error,) = [json.loads(line)["error"] for line in piped.splitlines()]
        assert error.endswith(ESCAPES)


def _target(tmp_path: Path, kind: str, journal: Path) -> tuple[Path, str]:
    """An existing output target of this kind, and the word the refusal names it with."""
    path = tmp_path / f"target-{kind}.csv"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "a named pipe (FIFO)"
    if kind == "symlink":
        real = tmp_path / "real.csv"
        real.write_text("kept\n")
        path.symlink_to(real)
        return path, "a symbolic link"
    if kind == "journal":
        path.write_bytes(journal.read_bytes())
        return path, "an SQLite database"
    if kind in _COMPANION_SUFFIXES:
        beside = tmp_path / "other.journal"
        beside.write_bytes(journal.read_bytes())
        path = tmp_path / f"other.journal{_COMPANION_SUFFIXES[kind]}"
        path.write_bytes(b"pages not yet in the journal, or a held lock's note")
        return path, f"the {kind} of the SQLite database other.journal"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE precious (x)")
    db.close()
    return path, "an SQLite database"


def _fingerprint(path: Path) -> tuple[int, bytes]:
    """What a target is and holds, without opening a pipe."""
    mode = path.lstat().st_mode
    if stat.S_ISFIFO(mode):
        return mode, b""
    if stat.S_ISLNK(mode):
        return mode, str(path.readlink()).encode() + path.read_bytes()
    return mode, path.read_bytes()


_COMPANION_SUFFIXES = {"write-ahead log": "-wal", "lock file": ".lock"}
KINDS = ["fifo", "symlink", "journal", "sqlite", *_COMPANION_SUFFIXES]


@pytest.mark.parametrize("kind", KINDS)
def test_export_refuses_an_output_that_is_not_a_plain_file(
    escapes_journal: Path, tmp_path: Path, kind: str
) -> None:
    """-o onto a pipe, a link, or any SQLite file (another job's journal): exit 2, naming the
    path and what it is, and the target is left as it was."""
    target, what = _target(tmp_path, kind, escapes_journal)
    before = _fingerprint(target)
    code, _, err = invoke("export", str(escapes_journal), "-o", str(target))
    assert code == 2
    assert f"refusing to write onto {target}: it is {what}" in err
    assert _fingerprint(target) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("kind", "option"),
    [
        (kind, option)
        for kind in KINDS
        for option in ("-o", "--snapshot")
        # A journal's companions never end in .csv: pull -o refuses them by their name alone.
        if not (option == "-o" and kind in _COMPANION_SUFFIXES)
    ],
)
def test_pull_refuses_an_output_that_is_not_a_plain_file_before_reading(
    escapes_journal: Path, tmp_path: Path, kind: str, option: str
) -> None:
    """pull checks both its outputs before the first request: nothing is read or written."""
    target, what = _target(tmp_path, kind, escapes_journal)
    before = _fingerprint(target)
    server = HostileServer(always(200, {"items": []})).start()
    try:
        outputs = {"-o": str(tmp_path / "new.csv"), "--snapshot": str(tmp_path / "new.jsonl")}
        outputs[option] = str(target)
        args = [flag for pair in outputs.items() for flag in pair]
        code, _, err = invoke("pull", *args, "--base-url", server.api_url)
    finally:
        server.stop()
    assert code == 2
    assert f"refusing to write onto {target}: it is {what}" in err
    assert server.received == []
    assert _fingerprint(target) == before
    assert not (tmp_path / "new.csv").exists()
    assert not (tmp_path / "new.jsonl").exists()


def test_a_device_is_never_written_over() -> None:
    """`-o /dev/null` as root once replaced /dev/null with a plain file: it is refused, unopened."""
    with pytest.raises(OutputError, match="refusing to write onto /dev/null: it is a character"):
        check_output(Path("/dev/null"))
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def _invalid_journal(job: Path) -> Path:
    """A --sandbox run of ``job`` (its second row invalid) with --skip-invalid; its journal."""
    journal = job.with_name("job.journal")
    assert invoke("run", str(job), "--sandbox", "--skip-invalid", "--journal", str(journal))[0] == 1
    return journal


@pytest.mark.parametrize(
    ("job_name", "extra", "output", "refusal"),
    [
        ("job.csv", [], "fix.jsonl", "-o {output} names a JSONL job"),
        ("job.csv", ["--format", "jsonl"], "fix.jsonl", "leave out --format jsonl"),
        ("job.csv", ["--format", "jsonl"], "fix.csv", "leave out --format jsonl"),
        ("job.jsonl", [], "fix.csv", "name it with .jsonl (or .ndjson)"),
        ("job.jsonl", ["--format", "csv"], "fix.jsonl", "leave out --format csv"),
        ("job.csv", ["--format", "csv"], "fix.csv", None),
        ("job.jsonl", ["--format", "jsonl"], "fix.ndjson", None),
    ],
)
def test_as_job_writes_only_the_jobs_own_format(
    tmp_path: Path, job_name: str, extra: list[str], output: str, refusal: str | None
) -> None:
    """--as-job copies the job's rows as written: an -o name or --format of the other format is
    refused (exit 2, naming the suffix to use) before any file is written; the job's own is
    written, and reads back as a job."""
    rows = [{"meetingId": SERIES[0], "title": "ok"}, {"meetingId": SERIES[1], "title": "t" * 200}]
    job = tmp_path / job_name
    if job.suffix == ".csv":
        write_job(job, rows)
    else:
        job.write_text("".join(json.dumps(row) + "\n" for row in rows))
    journal = _invalid_journal(job)
    target = tmp_path / output
    args = ["export", str(journal), "--only", "invalid", "--as-job", "-o", str(target), *extra]
    code, out, err = invoke(*args)
    if refusal is None:
        assert code == 0, out + err
        assert "1 row, 0 valid, 1 invalid" in invoke("validate", str(target))[1]
    else:
        assert code == 2, out + err
        assert refusal.format(output=target) in err
        assert not target.exists()
