"""`bulkpatch validate` from the outside: output, exit codes, secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulkpatch.cli import main

JOBS = Path(__file__).parent.parent / "jobs"
WriteJob = Callable[[str, str | bytes], Path]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_valid_job_prints_summary_and_exits_0() -> None:
    """A valid job gives the row counts, the fields it changes, and exit 0."""
    code, out, _ = invoke("validate", str(JOBS / "site-migration-lobby.csv"))
    assert code == 0
    assert "24 rows, 24 valid, 0 invalid" in out
    assert "unlockedMeetingJoinSecurity" in out
    assert "OK: every row is valid" in out


def test_invalid_job_lists_every_error_and_exits_2(write_job: WriteJob) -> None:
    """Each error names file, line, field, value and rule; the exit code is 2."""
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    text = (
        "meetingId,title,visualWatermarkOpacity,start,end\n"
        f"m1,{'t' * 130},3,,\n"
        f"m2_20300101T000000Z,,,{start.isoformat()},{(start + timedelta(minutes=5)).isoformat()}\n"
    )
    path = write_job("job.csv", text)
    code, out, _ = invoke("validate", str(path))
    assert code == 2
    assert f"{path}:2: error: title = 'tttt" in out
    assert "[max_length]" in out
    assert f"{path}:2: error: visualWatermarkOpacity = 3 [range]" in out
    assert f"{path}:3: error: end = '" in out
    assert "[duration]" in out
    assert "2 of 2 rows have errors" in out


def test_json_format_is_one_document(write_job: WriteJob) -> None:
    """--format json prints one JSON document with the summary and every finding."""
    path = write_job(
        "job.jsonl", '{"meetingId": "m1", "title": "ok"}\n{"meetingId": "m1", "sendEmail": "x"}\n'
    )
    code, out, _ = invoke("validate", str(path), "--format", "json")
    report = json.loads(out)
    assert code == 2
    assert (report["rows"], report["valid"], report["invalid"]) == (2, 1, 1)
    assert {(f["line"], f["rule"]) for f in report["findings"]} == {
        (2, "type"),
        (2, "duplicate_id"),
    }


def test_secrets_are_masked_in_every_message(write_job: WriteJob) -> None:
    """A password breaking a rule is shown masked, in text and JSON output."""
    path = write_job("job.csv", "meetingId,password,panelistPassword\nm1,null,null\nm2,Hunter2!,\n")
    path_jsonl = write_job("job.jsonl", '{"meetingId": "m1", "password": 123456789}\n')
    for args in ([str(path)], [str(path_jsonl)], [str(path_jsonl), "--format", "json"]):
        _, out, err = invoke("validate", *args)
        assert "Hunter2" not in out + err
        assert "123456789" not in out + err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "cannot read the job file"),
        ("job.xlsx", "meetingId\n", "must end in .csv, .jsonl or .ndjson"),
        ("empty.csv", "", "the file is empty"),
        ("header.csv", "title\nx\n", "no meetingId column"),
    ],
)
def test_unusable_file_is_one_line_and_exit_2(
    write_job: WriteJob, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    """A file that cannot be used gives one clear line on stderr and exit 2, no traceback."""
    path = write_job(name, content) if content is not None else tmp_path / name
    code, out, err = invoke("validate", str(path))
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1


def test_unknown_config_key_is_exit_2(write_job: WriteJob) -> None:
    """A typo in the config file is refused with a suggestion."""
    config = write_job("bulkpatch.toml", 'log_fromat = "json"\n')
    code, _, err = invoke("validate", str(JOBS / "tracking-codes.csv"), "--config", str(config))
    assert code == 2
    assert "unknown key 'log_fromat'; did you mean log_format?" in err


def test_every_command_help_has_an_example() -> None:
    """--help of the group and of every command shows an example."""
    for args in (["--help"], *([name, "--help"] for name in main.commands)):
        code, out, _ = invoke(*args)
        assert code == 0
        assert "Example" in out
        assert "bulkpatch " in out


def test_console_script_and_module_entry_points() -> None:
    """`python -m bulkpatch` runs the same CLI, as a real process."""
    result = subprocess.run(
        [sys.executable, "-m", "bulkpatch", "validate", str(JOBS / "tracking-codes.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "12 rows, 12 valid" in result.stdout


def test_unwritable_output_is_exit_2_with_the_path(tmp_path: Path) -> None:
    """An output file that cannot be written is named, exit 2, no traceback."""
    journal = tmp_path / "j.journal"
    from bulkpatch.journal import Journal

    with Journal.open_for_run(journal):
        pass
    code, out, err = invoke("export", str(journal), "-o", str(tmp_path / "missing" / "out.csv"))
    assert code == 2
    assert "missing/out.csv" in err
    assert "Traceback" not in out + err


def test_journal_in_a_missing_folder_is_exit_2(tmp_path: Path) -> None:
    """--journal in a folder that does not exist is a clear error before anything is sent."""
    code, _, err = invoke(
        "run",
        str(JOBS / "tracking-codes.csv"),
        "--sandbox",
        "--journal",
        str(tmp_path / "nope" / "j.journal"),
    )
    assert code == 2
    assert "does not exist" in err
