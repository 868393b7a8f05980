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


#: Job files that cannot be used at all: (name, content or None for a missing file, message, rule).
UNUSABLE = [
    ("missing.csv", None, "cannot read the job file", "unreadable"),
    ("job.xlsx", "meetingId\n", "must end in .csv, .jsonl or .ndjson", "extension"),
    ("empty.csv", "", "the file is empty", "empty"),
    ("header.csv", "title\nx\n", "no meetingId column", "header"),
    ("unknown.csv", "meetingId,titel\nm1,x\n", "titel is not a field", "header"),
    ("latin1.csv", b"meetingId,t\xeftle\nm1,x\n", "not UTF-8 text", "header"),
    ("no-rows.jsonl", "\n", "the job file has no rows", "empty"),
]


@pytest.mark.parametrize(("name", "content", "message", "rule"), UNUSABLE)
def test_unusable_file_is_one_line_and_exit_2(
    write_job: WriteJob, tmp_path: Path, name: str, content: str | None, message: str, rule: str
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


@pytest.mark.parametrize(("name", "content", "message", "rule"), UNUSABLE)
def test_unusable_file_with_format_json_is_a_json_report(
    write_job: WriteJob, tmp_path: Path, name: str, content: str | None, message: str, rule: str
) -> None:
    """--format json gives a JSON report for a file that cannot be used: the error as a finding, no counts, exit 2."""
    path = write_job(name, content) if content is not None else tmp_path / name
    code, out, err = invoke("validate", str(path), "--format", "json")
    report = json.loads(out)
    assert code == 2
    assert message in report["error"]
    assert report["file"] == str(path)
    assert (report["rows"], report["valid"], report["invalid"], report["warnings"]) == (None,) * 4
    [finding] = report["findings"]
    assert (finding["severity"], finding["rule"]) == ("error", rule)
    assert message in finding["message"]
    assert report["rules"] == {f"error:{rule}": 1}
    assert message in err  # the one line for people (and logs) stays on stderr
    assert len(err.strip().splitlines()) == 1


def _one_error_one_warning(write_job: WriteJob) -> Path:
    """Line 2 fine, line 3 the same meeting again (a warning), line 4 a title too long (an error)."""
    return write_job("job.csv", f"meetingId,title\nm1,ok\nm1,again\nm2,{'t' * 200}\n")


def test_errors_only_lists_errors_and_counts_the_warnings_left_out(write_job: WriteJob) -> None:
    """--errors-only prints the errors alone; the summary still counts the warnings and says they were left out."""
    path = _one_error_one_warning(write_job)
    code, out, _ = invoke("validate", str(path), "--errors-only")
    assert code == 2
    assert f"{path}:4: error: title" in out
    assert ": warning:" not in out
    assert "3 rows, 2 valid, 1 invalid, 1 warning (left out by --errors-only)" in out
    assert "warning:duplicate_id" in out  # still counted by rule
    _, everything, _ = invoke("validate", str(path))
    assert f"{path}:3: warning: meetingId" in everything
    assert "left out" not in everything


@pytest.mark.parametrize("errors_only", [False, True])
def test_json_report_says_whether_warnings_were_left_out(
    write_job: WriteJob, errors_only: bool
) -> None:
    """The JSON report has the same keys with or without --errors-only; only the findings are filtered."""
    path = _one_error_one_warning(write_job)
    args = ["validate", str(path), "--format", "json"] + ["--errors-only"] * errors_only
    code, out, _ = invoke(*args)
    report = json.loads(out)
    assert code == 2
    assert report["warnings"] == 1
    assert report["rules"] == {"warning:duplicate_id": 1, "error:max_length": 1}
    assert report["errorsOnly"] is errors_only
    assert report["warningsOmitted"] == (1 if errors_only else 0)
    assert report["error"] is None
    listed = {finding["severity"] for finding in report["findings"]}
    assert listed == ({"error"} if errors_only else {"error", "warning"})


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_reader_leaving_early_keeps_the_exit_code(tmp_path: Path, output_format: str) -> None:
    """`validate BAD.csv | head -1`: the reader closes the pipe, the exit code is still 2, no traceback."""
    # Far more output than a pipe holds, so the writes go on after the reader has left.
    rows = "".join(f"m{i},{'t' * 200}\n" for i in range(10_000))
    job = tmp_path / "bad.csv"
    job.write_text("meetingId,title\n" + rows)
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bulkpatch", "validate", str(job), "--format", output_format],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        process.stdout.close()
        code = process.wait(timeout=120)
    assert b"10,000 invalid" in first or b'"invalid": 10000' in first
    assert code == 2
    assert errors.read_text() == ""
