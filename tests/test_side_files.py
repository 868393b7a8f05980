"""Side files (--config, --site, --token-file, --hosts-file) are read as a job file is: only a
regular file, of bounded size, as UTF-8 text; anything else is a usage error (exit 2)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import SERIES, invoke, write_job

#: A loopback port nothing listens on: a command that got as far as sending would fail.
NOWHERE = "http://127.0.0.1:9/v1"
OPTIONS = ["--config", "--site", "--token-file", "--hosts-file"]


def command(option: str, side: Path, folder: Path) -> list[str]:
    """A command that reads ``side`` as ``option``, and would send nothing but to NOWHERE."""
    job = write_job(folder / "job.csv", [{"meetingId": SERIES[0], "title": "x"}])
    if option in ("--config", "--site"):
        return ["validate", str(job), option, str(side)]
    if option == "--token-file":
        return ["run", str(job), "--token-file", str(side), "--base-url", NOWHERE]
    output = folder / "pulled.csv"
    return ["pull", "-o", str(output), "--hosts-file", str(side), "--base-url", NOWHERE]


def refused(option: str, side: Path, folder: Path, message: str) -> None:
    code, out, err = invoke(*command(option, side, folder))
    assert code == 2, out + err
    assert str(side) in err
    assert message in err
    assert "internal error" not in err


@pytest.mark.parametrize("option", OPTIONS)
def test_a_side_file_that_is_not_utf8_is_named_as_such(tmp_path: Path, option: str) -> None:
    """A side file holding bytes that are not UTF-8 is exit 2, naming the file and the byte."""
    side = tmp_path / "side.txt"
    side.write_bytes(b"ok = 1\n\xff\xfe\x00 not text\n")
    side.chmod(0o600)
    refused(option, side, tmp_path, "is not UTF-8 text (byte 8 is not)")


@contextlib.contextmanager
def waiting_writer(fifo: Path) -> Iterator[threading.Event]:
    """A writer on ``fifo`` that writes only once something opens it to read; set when it did.

    When the command did not open the pipe, the writer is released on the way out by a reader
    opened here: a blocking open, so that whichever of the two opens first waits for the other.
    """
    opened = threading.Event()

    def write() -> None:
        with fifo.open("w") as handle:
            opened.set()
            handle.write("x")

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    yield opened
    if not opened.is_set():
        with fifo.open("rb") as reader:
            reader.read()
    thread.join(30)


@pytest.mark.parametrize("option", OPTIONS)
def test_a_side_file_that_is_a_named_pipe_is_refused_unopened(tmp_path: Path, option: str) -> None:
    """A FIFO as a side file is refused (exit 2) without being opened: opening it to read
    waits for a writer, and reading it waits for the writer to finish, maybe for ever."""
    fifo = tmp_path / "side.fifo"
    os.mkfifo(fifo)
    with waiting_writer(fifo) as opened:
        refused(option, fifo, tmp_path, "is not a regular file")
        assert not opened.is_set()


@pytest.mark.parametrize("option", OPTIONS)
def test_a_side_file_that_is_a_device_is_refused(tmp_path: Path, option: str) -> None:
    """/dev/zero as a side file (here through a link) is refused, not read until memory ends."""
    side = tmp_path / "side.txt"
    side.symlink_to("/dev/zero")
    refused(option, side, tmp_path, "is not a regular file")


@pytest.mark.parametrize("option", OPTIONS)
def test_a_side_file_over_a_mebibyte_is_refused(tmp_path: Path, option: str) -> None:
    """A side file over 1 MiB is refused as the wrong file, not read whole."""
    side = tmp_path / "side.txt"
    side.write_text("#" + "x" * (1024 * 1024) + "\n")
    side.chmod(0o600)
    refused(option, side, tmp_path, "is over 1 MiB")
