"""status and export of a journal path that holds something else: said as it is, exit 2, no hang."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import invoke, titles_job

from bulkpatch.journal import Journal


def _folder(path: Path) -> None:
    path.mkdir()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link_to_text(path: Path) -> None:
    (path.parent / "notes.txt").write_text("not a journal\n")
    path.symlink_to("notes.txt")


def _link_to_folder(path: Path) -> None:
    (path.parent / "elsewhere").mkdir()
    path.symlink_to("elsewhere")


def _link_to_fifo(path: Path) -> None:
    os.mkfifo(path.parent / "pipe")
    path.symlink_to("pipe")


def _dangling_link(path: Path) -> None:
    path.symlink_to("gone.journal")


#: What may stand at a journal's path, how to put it there, and the words that must name it.
IMPOSTORS: list[tuple[str, Callable[[Path], None], str]] = [
    ("a folder", _folder, "is a folder"),
    ("a named pipe", _fifo, "is a named pipe (FIFO)"),
    ("a link to a text file", _link_to_text, "(a symbolic link to notes.txt) is not a bulkpatch"),
    ("a link to a folder", _link_to_folder, "a symbolic link to elsewhere, which is a folder"),
    ("a link to a pipe", _link_to_fifo, "a symbolic link to pipe, which is a named pipe (FIFO)"),
    ("a dangling link", _dangling_link, "a symbolic link to gone.journal, which does not exist"),
]


@pytest.mark.parametrize("command", ["status", "export"])
@pytest.mark.parametrize("given", ["job", "journal"])
@pytest.mark.parametrize(("what", "make", "words"), IMPOSTORS, ids=[i[0] for i in IMPOSTORS])
def test_a_journal_path_holding_something_else_is_named(
    tmp_path: Path,
    command: str,
    given: str,
    what: str,
    make: Callable[[Path], None],
    words: str,
) -> None:
    """JOB.journal a folder, a FIFO, or a link to what is no journal: status and export say what
    they found there, exit 2 (they asked "has it been run yet?", or said "no journal")."""
    job = titles_job(tmp_path / "job.csv", 1)
    journal = tmp_path / "job.csv.journal"
    make(journal)
    code, out, err = invoke(command, str(job if given == "job" else journal))
    assert code == 2, out + err
    assert words in err
    assert "has it been run yet" not in err
    assert out == ""


@pytest.mark.parametrize("command", ["status", "export"])
@pytest.mark.parametrize(
    ("what", "make", "words"), IMPOSTORS[:2], ids=[i[0] for i in IMPOSTORS[:2]]
)
def test_a_job_path_holding_something_else_is_named(
    tmp_path: Path, command: str, what: str, make: Callable[[Path], None], words: str
) -> None:
    """job.csv itself a folder or a FIFO, with no journal beside it: named as such, not called
    "a job file" that has not been run yet."""
    job = tmp_path / "job.csv"
    make(job)
    code, out, err = invoke(command, str(job))
    assert code == 2, out + err
    assert f"{words}, not a journal or a job file" in err
    assert "has it been run yet" not in err


def test_status_json_names_a_folder_at_the_journal_path(tmp_path: Path) -> None:
    """Under --format json the document's `error` says the same, exit 2."""
    job = titles_job(tmp_path / "job.csv", 1)
    (tmp_path / "job.csv.journal").mkdir()
    code, out, err = invoke("status", str(job), "--format", "json")
    assert code == 2
    assert "its journal path" in err
    assert "is a folder" in err
    assert '"error": "' in out


def test_a_named_pipe_as_the_lock_file_does_not_hang_status(tmp_path: Path) -> None:
    """A FIFO where the journal's lock file goes: status reads the journal and says no run holds
    it, at once (opening the lock file to read waited for a writer forever)."""
    job = titles_job(tmp_path / "job.csv", 2)
    assert invoke("run", str(job), "--sandbox")[0] == 0
    journal = tmp_path / "job.csv.sandbox.journal"
    lock = Path(f"{journal}.lock")
    lock.unlink()
    os.mkfifo(lock)
    status = subprocess.run(
        [sys.executable, "-m", "bulkpatch", "status", str(journal), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,  # bounds the hang this guards against: the test fails rather than waits
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert '"heldBy": null' in status.stdout


def test_status_of_a_journal_a_run_holds_does_not_say_to_run_again(tmp_path: Path) -> None:
    """While a run holds the journal, status names the holder and does not tell the user to run
    the same command again (that command would be refused as long as the run goes on)."""
    job = titles_job(tmp_path / "job.csv", 2)
    assert invoke("run", str(job), "--sandbox")[0] == 0
    journal = tmp_path / "job.csv.sandbox.journal"
    with Journal.open_for_run(journal) as held:  # a run under way: the lock, and no outcome yet
        held.start_run({})
        code, out, err = invoke("status", str(journal))
    assert code == 0, out + err
    assert "  held by   pid " in out
    assert "finished  no: a run or an undo holds the journal now" in out
    assert "run the same command again" not in out
