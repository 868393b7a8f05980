"""Input cannot smuggle rows in (issue 11, part C): hostile job files through the real CLI.

Each case runs `validate` and `run --skip-invalid --dry-run` (what would be sent), in-process.
"""

from __future__ import annotations

import io
import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.export import _csv_records
from bulkpatch.sandbox.process import SandboxProcess

WriteJob = Callable[[str, str | bytes], Path]
VALIDATE = ("validate",)
DRY_RUN = ("run", "--skip-invalid", "--dry-run")
SMUGGLED = "victim42,,true"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", [VALIDATE, DRY_RUN], ids=["validate", "dry-run"])
def test_a_long_quoted_cell_is_one_cell_never_rows(
    write_job: WriteJob, command: tuple[str]
) -> None:
    """A quoted agenda over 131,072 characters, a meeting's line inside it, stays one cell."""
    agenda = "x" * 140_000 + "\n" + SMUGGLED + "\nend"
    path = write_job("job.csv", f'meetingId,agenda,sendEmail\nm1,"{agenda}",true\nm2,,true\n')
    code, out, _ = invoke(*command, str(path))
    assert "victim42" not in out
    if command == VALIDATE:
        assert code == 2
        assert "2 rows, 1 valid, 1 invalid" in out
        assert f"{path}:2: error: agenda = " in out
    else:
        assert code == 0
        assert out.splitlines()[0] == "line 2: skipped (invalid)"
        assert out.splitlines()[1].startswith("line 5: PATCH ")
        assert "1 PATCH request would be sent" in out


@pytest.mark.parametrize("command", [VALIDATE, DRY_RUN], ids=["validate", "dry-run"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f'meetingId,agenda,sendEmail\nm1,"bring "notes"\n{SMUGGLED}\n",true\n',
            ":2: broken CSV quoting on line 2",
        ),
        (f'meetingId,agenda,sendEmail\nm1,"never closed\n{SMUGGLED}\n', ":3: the quoted cell"),
        (
            'meetingId,agenda,sendEmail\nm1,"' + "x\n" * 600_000 + '",true\n',
            ":2: the row that starts on line 2 is longer than 1,048,576 characters",
        ),
    ],
    ids=["stray-quote", "never-closed", "over-the-cap"],
)
def test_broken_quoting_refuses_the_file(
    write_job: WriteJob, command: tuple[str], text: str, message: str
) -> None:
    """Past a broken quote nothing is read or sent: exit 2, the file and line named."""
    path = write_job("job.csv", text)
    code, out, err = invoke(*command, str(path))
    assert code == 2
    assert err.startswith(f"bulkpatch: error: {path}{message}")
    assert "PATCH" not in out


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


JSONL_OK = '{"meetingId": "m2", "title": "ok"}\n'
HOSTILE = [
    *(
        (
            f"deep-{depth}.jsonl",
            f'{{"meetingId": "m1", "title": {nested(depth)}}}\n{JSONL_OK}',
            1,
            "json",
        )
        for depth in (495, 700)
    ),
    *(
        (f"deep-{depth}.csv", f"meetingId,integrationTags\nm1,{nested(depth)}\nm2,[]\n", 2, "type")
        for depth in (495, 700)
    ),
    ("surrogate.jsonl", '{"meetingId": "m\\ud800", "title": "t"}\n' + JSONL_OK, 1, "encoding"),
    ("surrogate.csv", b"meetingId,title\nm\xe9,t\nm2,ok\n", 2, "encoding"),
    ("nul.jsonl", '{"meetingId": "m1", "title": "a\\u0000b"}\n' + JSONL_OK, 1, "encoding"),
    ("nul.csv", 'meetingId,integrationTags\nm1,"[""a\\u0000""]"\nm2,[]\n', 2, "encoding"),
]


@pytest.mark.parametrize("command", [VALIDATE, DRY_RUN], ids=["validate", "dry-run"])
@pytest.mark.parametrize(("name", "content", "line", "rule"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_values_are_row_errors(
    write_job: WriteJob,
    command: tuple[str],
    name: str,
    content: str | bytes,
    line: int,
    rule: str,
) -> None:
    """Deep nesting, lone surrogates and escaped NULs make their row invalid; the rest is sent."""
    path = write_job(name, content)
    code, out, _ = invoke(*command, str(path))
    if command == VALIDATE:
        assert code == 2
        assert f"{path}:{line}: error: " in out
        assert f"[{rule}]" in out
        assert "2 rows, 1 valid, 1 invalid" in out
    else:
        assert code == 0
        assert f"line {line}: skipped (invalid)" in out
        assert "1 PATCH request would be sent" in out


def test_an_unreadable_meeting_id_is_shown_as_its_bytes(write_job: WriteJob) -> None:
    """A meetingId with a byte that is not UTF-8 is reported with the byte escaped."""
    path = write_job("job.csv", b"meetingId,title\nm\xe9,t\n")
    code, out, _ = invoke("validate", str(path))
    assert code == 2
    assert f"{path}:2: error: meetingId [encoding]" in out


def fifo(path: Path) -> None:
    os.mkfifo(path)


def dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def no_line_end(path: Path) -> None:
    path.write_text("meetingId,title\n" + "x" * 3_000_000)


@pytest.mark.parametrize("command", [VALIDATE, DRY_RUN], ids=["validate", "dry-run"])
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (fifo, "not a regular file"),
        (dev_zero, "not a regular file"),
        (no_line_end, ":2: the row that starts on line 2 is longer than"),
    ],
    ids=["fifo", "dev-zero", "no-line-end"],
)
def test_endless_input_is_refused(
    tmp_path: Path, command: tuple[str], make: Callable[[Path], None], message: str
) -> None:
    """A FIFO, /dev/zero or a file without line ends is refused at once, with bounded memory."""
    path = tmp_path / "job.csv"
    make(path)
    code, out, err = invoke(*command, str(path))
    assert code == 2
    assert err.startswith(f"bulkpatch: error: {path}")
    assert message in err
    assert "PATCH" not in out


SEMICOLONS = 'meetingId;title;sendEmail\nm1;"Team sync; Berlin, 3rd floor";ja\nm2;Review;true\n'


def test_a_semicolon_file_names_its_delimiter(write_job: WriteJob) -> None:
    """A CSV saved by Excel with semicolons is refused with the option that reads it."""
    path = write_job("job.csv", SEMICOLONS)
    code, _, err = invoke("validate", str(path))
    assert code == 2
    assert "separates its cells with semicolons" in err
    assert "--delimiter ';'" in err


@pytest.mark.parametrize(("delimiter", "name"), [(";", ";"), ("\t", "tab")])
def test_delimiter_reads_semicolon_and_tab_files(
    write_job: WriteJob, delimiter: str, name: str
) -> None:
    """--delimiter reads the file for validate and run; quoting works as with commas."""
    path = write_job("job.csv", SEMICOLONS.replace(";", delimiter).replace("ja", "yes"))
    code, out, _ = invoke("validate", str(path), "--delimiter", name)
    assert code == 0
    assert "2 rows, 2 valid, 0 invalid" in out
    assert out.rstrip().endswith(
        f"Next: bulkpatch run {path} --delimiter {name!r}".replace("'tab'", "tab")
    )
    code, out, _ = invoke("run", str(path), "--dry-run", "--delimiter", name)
    assert code == 0
    title = f"Team sync{delimiter} Berlin, 3rd floor".replace("\t", "\\t")
    assert f'"title": "{title}", "sendEmail": true' in out
    assert "2 PATCH requests would be sent" in out


def test_export_rereads_a_job_with_its_delimiter() -> None:
    """--as-job splits a semicolon job into records as the reader did, multi-line cells whole."""
    job = 'meetingId;agenda\nm1;"a;\nb, c"\nm2;plain\n'
    header, records = _csv_records(io.StringIO(job, newline=""), {2, 4}, ";")
    assert header == "meetingId;agenda\n"
    assert list(records) == ['m1;"a;\nb, c"\n', "m2;plain\n"]


def test_a_semicolon_job_is_exported_as_it_was_written(
    write_job: WriteJob,
) -> None:
    """The journal keeps the separator: --as-job writes the rows back verbatim."""
    invalid = f'm2;{"t" * 130};"say,""hi"""\n'
    path = write_job("job.csv", 'meetingId;title;agenda\nm1;ok;"a, b"\n' + invalid)
    journal = str(path.with_suffix(".journal"))
    run = ("run", str(path), "--sandbox", "--skip-invalid", "--journal", journal)
    assert invoke(*run, "--delimiter", ";")[0] == 1
    fixed = path.with_name("fixed.csv")
    code, out, err = invoke("export", journal, "--only", "invalid", "--as-job", "-o", str(fixed))
    assert code == 0, out + err
    assert fixed.read_text() == "meetingId;title;agenda\n" + invalid


def test_the_sandbox_seeds_from_a_semicolon_job() -> None:
    """sandbox --seed takes --delimiter, as the error for a semicolon file tells the user to."""
    job = Path(__file__).parent.parent / "jobs" / "saved-by-excel.csv"
    ids = [line.split(";")[0] for line in job.read_text().splitlines()[1:]]
    sandbox = SandboxProcess.start(
        "--quiet", "--token", "t", "--seed", str(job), "--delimiter", ";"
    )
    try:
        for meeting_id in ids:
            request = urllib.request.Request(
                f"{sandbox.api_url}/meetings/{meeting_id}", headers={"Authorization": "Bearer t"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert json.load(response)["id"] == meeting_id
    finally:
        sandbox.stop()
