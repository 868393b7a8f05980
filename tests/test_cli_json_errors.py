"""`--format json` is one JSON document on every path of validate, plan and status, errors too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from cli_helpers import SERIES, half_invalid_job, invoke, titles_job, write_job

from bulkpatch.cli import main, validate
from bulkpatch.errors import JournalFailed
from bulkpatch.journal import Journal, Snapshot
from bulkpatch.sandbox.process import SandboxProcess

#: Never answers: a plan that got past its checks would stop (exit 3), not reach the real API.
NOWHERE = "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of NOWHERE go at once: the plan stops as soon (5 s of backoff per test before)."""
    monkeypatch.setenv("BULKPATCH_BACKOFF_BASE", "0")


#: A path that cannot be used as a file: (what it is, how to make it under a folder).
UNUSABLE_PATHS: list[tuple[str, Callable[[Path], Path]]] = [
    ("a folder", lambda folder: _mkdir(folder / "jobs")),
    ("a folder named like a job", lambda folder: _mkdir(folder / "job.csv")),
    ("a missing file", lambda folder: folder / "missing.csv"),
    # Unreadable for anyone, root included (chmod 000 is no obstacle to root).
    ("a symbolic link loop", lambda folder: _loop(folder / "loop.csv")),
    ("a path through a file", lambda folder: _file(folder / "file.csv") / "job.csv"),
]


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path.name)
    return path


def _file(path: Path) -> Path:
    path.write_text("meetingId\nm1\n")
    return path


def one_document(out: str) -> dict[str, Any]:
    """stdout as one JSON object (json.loads refuses anything before or after it)."""
    document = json.loads(out)
    assert isinstance(document, dict)
    return document


def plan(*args: str) -> tuple[int, dict[str, Any], str]:
    """`plan --format json` against nothing that answers; (exit code, document, stderr)."""
    code, out, err = invoke(
        "plan", *args, "--format", "json", "--base-url", NOWHERE, "--concurrency", "1"
    )
    return code, one_document(out), err


@pytest.mark.parametrize(("what", "make"), UNUSABLE_PATHS, ids=[p[0] for p in UNUSABLE_PATHS])
def test_validate_reports_an_unusable_job_path_in_json(
    tmp_path: Path, what: str, make: Callable[[Path], Path]
) -> None:
    """validate --format json of a folder, a missing or an unreadable file: the JSON report
    with `error`, exit 2 (a folder was click's usage text)."""
    job = make(tmp_path)
    code, out, err = invoke("validate", str(job), "--format", "json")
    report = one_document(out)
    assert code == 2
    assert report["file"] == str(job)
    assert report["error"]
    assert report["error"] in err
    assert (report["rows"], report["valid"], report["invalid"]) == (None, None, None)
    [finding] = report["findings"]
    assert finding["rule"] in ("not_a_file", "unreadable", "extension")


@pytest.mark.parametrize(
    ("option", "named"), [("--config", "config file"), ("--site", "site profile")]
)
def test_validate_reports_a_side_file_that_cannot_be_read_in_json(
    tmp_path: Path, option: str, named: str
) -> None:
    """A --config or --site that is a folder: validate's JSON report, no finding of the job,
    exit 2 (a --site folder was click's usage text)."""
    job = titles_job(tmp_path / "job.csv", 1)
    code, out, err = invoke("validate", str(job), "--format", "json", option, str(tmp_path))
    report = one_document(out)
    assert code == 2
    assert f"{named} {tmp_path} is not a regular file" in report["error"]
    assert report["error"] in err
    assert report["findings"] == []


@pytest.mark.parametrize("command", ["validate", "plan", "status"])
def test_no_path_of_a_json_command_is_checked_by_click(command: str) -> None:
    """click checks none of the paths of a command with --format json (a folder, a file the
    user may not read): its own checks report them, in JSON when asked."""
    checked = [
        param.name
        for param in main.commands[command].params
        if isinstance(param.type, click.Path)
        and (param.type.readable or not param.type.dir_okay or param.type.exists)
    ]
    assert checked == []


@pytest.mark.parametrize(("what", "make"), UNUSABLE_PATHS, ids=[p[0] for p in UNUSABLE_PATHS])
def test_plan_reports_an_unusable_job_path_in_json(
    tmp_path: Path, what: str, make: Callable[[Path], Path]
) -> None:
    """plan --format json of a job it cannot read: one JSON object, `error`, exit 2."""
    job = make(tmp_path)
    code, document, err = plan(str(job))
    assert code == 2
    assert document["job"] == str(job)
    assert document["error"]
    assert document["error"] in err
    assert document["classes"] is None


def test_plan_of_an_invalid_job_is_validates_json_report(tmp_path: Path) -> None:
    """An invalid job under plan --format json: validate's JSON report with every finding and
    an `error` saying nothing was read, exit 2 (it was the text report)."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": SERIES[0], "title": "t" * 200}])
    code, document, err = plan(str(job))
    assert code == 2
    assert (document["rows"], document["invalid"]) == (1, 1)
    assert document["error"] == (
        "1 of 1 row has errors: nothing was read; fix the job first (bulkpatch validate lists them)"
    )
    assert [finding["rule"] for finding in document["findings"]] == ["max_length"]
    assert "Nothing was read" in err


def test_plan_reports_a_journal_of_another_target_in_json(tmp_path: Path) -> None:
    """A journal a --sandbox trial made: plan --format json says why in `error`, exit 2."""
    job = titles_job(tmp_path / "job.csv", 2)
    journal = tmp_path / "trial.journal"
    code, out, err = invoke("run", str(job), "--sandbox", "--journal", str(journal))
    assert code == 0, out + err
    code, document, err = plan(str(job), "--journal", str(journal))
    assert code == 2
    assert "records a run against the sandbox" in document["error"]
    assert document["journal"] == str(journal)
    assert document["rows"] == []


def test_plan_reports_a_held_journal_in_json(tmp_path: Path) -> None:
    """A journal another run holds: one JSON object, exit 3, as in text."""
    job = titles_job(tmp_path / "job.csv", 2)
    with Journal.open_for_run(tmp_path / "job.csv.journal"):
        code, document, err = plan(str(job))
    assert code == 3
    assert document["error"]
    assert document["error"] in err
    assert document["journal"] == str(tmp_path / "job.csv.journal")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journal", "."], "cannot use the journal .: it is a folder"),
        (["--config", "."], "config file"),
        (["--token-file", "missing.json"], "token file"),
    ],
)
def test_plan_reports_a_file_option_it_cannot_use_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    """--journal or --config a folder, a --token-file missing: JSON, exit 2 (was usage text)."""
    monkeypatch.chdir(tmp_path)
    job = titles_job(tmp_path / "job.csv", 1)
    code, document, err = plan(str(job), *args)
    assert code == 2, err
    assert message in document["error"]


def test_plan_error_documents_have_the_planned_documents_keys(tmp_path: Path) -> None:
    """The keys of plan's document are the same whether it planned or failed (null where
    nothing is known), `error` among them."""
    job = titles_job(tmp_path / "job.csv", 1)
    _, failed, _ = plan(str(tmp_path / "missing.csv"))
    code, stopped, _ = plan(str(job))  # nothing answers: the plan stops (exit 3)
    assert code == 3
    assert set(failed) == set(stopped)
    assert failed["error"].endswith("No such file or directory")
    assert stopped["error"].startswith("stopped (")


def test_a_plan_stopped_before_its_first_read_claims_no_row_done(tmp_path: Path) -> None:
    """Nothing answers, so nothing is read: the plan says no row of a fresh journal is done (it
    said every row was)."""
    code, stopped, _ = plan(str(titles_job(tmp_path / "job.csv", 3)))
    assert code == 3
    assert stopped["alreadyDone"] == 0


def status_json(path: Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = invoke("status", str(path), "--format", "json")
    return code, one_document(out), err


@pytest.mark.parametrize(
    ("what", "make", "message"),
    [
        ("missing", lambda folder: folder / "nightly.journal", "no journal at"),
        ("a folder", lambda folder: _mkdir(folder / "journals"), "no journal at"),
        ("not a journal", lambda folder: _file(folder / "notes.txt"), "notes.txt"),
        ("a job never run", lambda folder: _file(folder / "job.csv"), "has it been run yet?"),
        ("a symbolic link loop", lambda folder: _loop(folder / "loop.journal"), "no journal"),
    ],
)
def test_status_reports_a_journal_it_cannot_read_in_json(
    tmp_path: Path, what: str, make: Callable[[Path], Path], message: str
) -> None:
    """status --format json of a journal it cannot read: one JSON object with `error`, the
    keys of a status document, exit 2 (it was text on stderr alone)."""
    journal = make(tmp_path)
    code, document, err = status_json(journal)
    assert code == 2
    assert message in document["error"]
    assert document["error"] in err
    assert document["journal"] == str(journal)
    assert document["counts"] is None


def test_status_documents_have_the_same_keys_on_every_path(tmp_path: Path) -> None:
    """A status document has the same keys, `error` null when the journal was read."""
    job = titles_job(tmp_path / "job.csv", 1)
    assert invoke("run", str(job), "--sandbox")[0] == 0
    code, read, _ = status_json(job)
    assert code == 0
    assert read["error"] is None
    _, failed, _ = status_json(tmp_path / "missing.journal")
    assert set(read) == set(failed)


def test_an_error_after_the_first_rows_closes_the_plans_document(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_sandbox: Callable[..., SandboxProcess],
) -> None:
    """The journal failing once rows are out: the document ends with the rows so far and the
    `error`, still one JSON object, exit 3."""
    sandbox = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 3)
    record = Journal.record_snapshot
    calls = 0

    def full_disk_at_the_second(journal: Journal, snapshot: Snapshot) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise JournalFailed("cannot write to the journal: database or disk is full")
        record(journal, snapshot)

    monkeypatch.setattr(Journal, "record_snapshot", full_disk_at_the_second)
    code, out, err = invoke(
        "plan", str(job), "--format", "json", "--base-url", sandbox.api_url, "--concurrency", "1"
    )
    document = one_document(out)
    assert code == 3, err
    assert [row["line"] for row in document["rows"]] == [2]
    assert document["error"] == "cannot write to the journal: database or disk is full"
    assert document["classes"] is None


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_an_interruption_while_findings_stream_closes_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Ctrl-C while the findings of an invalid job stream out: the document under way ends
    with the `error`, still one JSON object, exit 3 (a second document followed half of it)."""

    def interrupted(finding: object) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "_finding_json", interrupted)
    remote = ["--base-url", NOWHERE] if command == "plan" else []
    code, out, _ = invoke(command, str(half_invalid_job(tmp_path)), "--format", "json", *remote)
    document = one_document(out)
    assert code == 3
    assert document["error"] == "interrupted"
    assert document["findings"] == []


def test_an_error_after_the_document_closed_adds_nothing_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error once the invalid job's report is complete (stderr full: its last line cannot be
    written) leaves the document as it was: one JSON object (a second close followed it)."""
    echo = click.echo

    def stderr_full(message: object = None, **kwargs: Any) -> None:
        if kwargs.get("err") and str(message).startswith("Nothing was read"):
            raise OSError(28, "No space left on device")
        echo(message, **kwargs)

    monkeypatch.setattr(click, "echo", stderr_full)
    code, out, _ = invoke(
        "plan", str(half_invalid_job(tmp_path)), "--format", "json", "--base-url", NOWHERE
    )
    document = one_document(out)
    assert code == 2
    assert document["error"].startswith("1 of 2 rows has errors")


#: Command lines click refuses before the command runs: (what, arguments after JOB, message).
USAGE_ERRORS = [
    ("an unknown option", ["--bogus"], "No such option '--bogus'"),
    ("a missing argument", [], "Missing argument"),
    ("a value not among the choices", ["--log-format", "loud"], "'loud' is not one of"),
    ("an extra argument", ["extra"], "Got unexpected extra argument (extra)"),
]


def _error_document(command: str, folder: Path) -> dict[str, Any]:
    """The command's JSON document for a file that is not there (its keys are the contract)."""
    missing = str(folder / "missing.csv")
    remote = ["--base-url", NOWHERE] if command == "plan" else []
    return one_document(invoke(command, missing, "--format", "json", *remote)[1])


@pytest.mark.parametrize("command", ["validate", "plan", "status"])
@pytest.mark.parametrize(
    ("what", "args", "message"), USAGE_ERRORS, ids=[u[0] for u in USAGE_ERRORS]
)
@pytest.mark.parametrize("spelling", [["--format", "json"], ["--format=json"]])
def test_a_command_line_click_refuses_is_one_json_document(
    tmp_path: Path, command: str, what: str, args: list[str], message: str, spelling: list[str]
) -> None:
    """With --format json, click's own usage errors also print the command's JSON document on
    stdout (the keys of its other error documents, `error` click's message), exit 2; stderr
    keeps click's usage text (stdout was empty)."""
    job = [] if what == "a missing argument" else [str(tmp_path / "job.csv")]
    code, out, err = invoke(command, *spelling, *job, *args)
    document = one_document(out)
    assert code == 2
    assert message in document["error"]
    assert document["error"] in err
    assert "Usage: " in err
    assert set(document) == set(_error_document(command, tmp_path))
    assert [key for key, value in document.items() if value and key != "rows"] == ["error"]


@pytest.mark.parametrize("command", ["validate", "plan", "status"])
@pytest.mark.parametrize(
    "formats", [[], ["--format", "text"], ["--format", "json", "--format", "text"]]
)
def test_a_usage_error_without_format_json_is_clicks_alone(
    command: str, formats: list[str]
) -> None:
    """Without --format json (or with a later --format text), a usage error is click's usage
    text on stderr alone, nothing on stdout, exit 2, as before."""
    code, out, err = invoke(command, "job.csv", "--bogus", *formats)
    assert code == 2
    assert out == ""
    assert "No such option '--bogus'" in err


@pytest.mark.parametrize("command", ["validate", "plan", "status"])
def test_a_bad_format_after_format_json_is_reported_in_json(command: str) -> None:
    """`--format json --format xml` (a script's json, a wrapper's bad value): the refusal of xml
    is the JSON document a script reads, exit 2 (stdout was empty)."""
    code, out, err = invoke(command, "job.csv", "--format", "json", "--format", "xml")
    assert code == 2
    assert "'xml' is not one of" in one_document(out)["error"]
    assert "Usage: " in err


def test_a_json_lookalike_after_a_double_dash_is_not_format_json() -> None:
    """`--format json` after `--` is arguments, not the option: click's text alone."""
    code, out, _ = invoke("status", "--bogus", "--", "--format", "json")
    assert code == 2
    assert out == ""
