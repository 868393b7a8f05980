"""The hostile trial, part D: the console and the exit codes tell the truth (the real CLI)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from cli_helpers import TOKEN, half_invalid_job, invoke, run_args, titles_job, write_job
from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.journal import Journal, RowStatus
from bulkpatch.sandbox.process import SandboxProcess, read_until


def spawn(*args: str, **popen: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]  # popen kwargs vary by test
        [sys.executable, "-m", "bulkpatch", *args], env=env, bufsize=0, **popen
    )


def test_after_skip_invalid_the_hint_is_about_the_invalid_rows(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """After --skip-invalid, the next step is to fix the invalid rows in the job and run it
    again with --force (the same journal, so file order holds); followed, it finishes the job."""
    site = start_sandbox()
    job = half_invalid_job(tmp_path)
    code, out, _ = invoke(*run_args(site, job, "--skip-invalid"))
    assert code == 1
    (hint,) = [line for line in out.splitlines() if line.startswith("  next")]
    assert "fix the invalid rows in" in hint
    assert hint.endswith("the same command again with --force")
    job.write_text(job.read_text().replace("t" * 200, "fixed"))
    code, out, _ = invoke(*run_args(site, job, "--skip-invalid", "--force"))
    assert code == 0, out


def test_base_url_with_sandbox_is_refused(tmp_path: Path) -> None:
    """--base-url would be silently ignored with --sandbox: the pair is a usage error."""
    job = titles_job(tmp_path / "job.csv", 1)
    code, _, err = invoke("run", str(job), "--sandbox", "--base-url", "https://example.com/v1")
    assert code == 2
    assert "--sandbox" in err


@pytest.mark.parametrize(
    ("extra", "env", "config", "message"),
    [
        (["--max-rate", "inf"], {}, "", "--max-rate"),
        (["--max-rate", "1e-300"], {}, "", "--max-rate"),
        ([], {}, "max_rate = 1e-300\n", "max_rate"),
        (["--base-url", "https://webexapis.com:99999/v1"], {}, "", "port"),
        (["--base-url", "https://me:pw@webexapis.com/v1"], {}, "", "user name"),
        ([], {"WEBEX_ACCESS_TOKEN": "abc\r\nX-Evil: 1"}, "", "line break"),
        ([], {}, "request_timeout = inf\n", "request_timeout"),
        ([], {}, "max_rate = nan\n", "max_rate"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(
    tmp_path: Path, extra: list[str], env: dict[str, str], config: str, message: str
) -> None:
    """Bad flags, settings or tokens are usage errors (exit 2), never a hang or exit 3."""
    job = titles_job(tmp_path / "job.csv", 1)
    settings = tmp_path / "settings.toml"
    settings.write_text(config)
    runner = CliRunner(env={"WEBEX_ACCESS_TOKEN": TOKEN, **env})
    result = runner.invoke(main, ["run", str(job), "--config", str(settings), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "job.csv.journal").exists()


def test_ctrl_c_while_starting_ends_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C before the run has begun (here during validation) is exit 3, no traceback."""

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("bulkpatch.workflows.run.validate_job", interrupted)
    job = titles_job(tmp_path / "job.csv", 1)
    code, out, err = invoke("run", str(job), "--sandbox")
    assert code == 3
    assert err.strip() == "bulkpatch: interrupted"
    assert "Traceback" not in out + err


def test_sighup_stops_like_sigterm(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """The terminal going away (SIGHUP) drains and stops the run (exit 3), resumable."""
    site = start_sandbox("--latency-ms", "20")
    job = titles_job(tmp_path / "job.csv", 150)
    process = spawn(
        *run_args(site, job),
        "-v",
        "--log-format",
        "json",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    read_until(process.stderr, b'"row.succeeded"', 60)
    process.send_signal(signal.SIGHUP)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, err.decode()[-2000:]
    assert b'"signal": "SIGHUP"' in err
    assert b"stopped: interrupted" in out


def _pipe_size() -> int:
    """How many bytes a new pipe holds (64 KiB by default on Linux)."""
    read_end, write_end = os.pipe()
    try:
        return fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_export_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    """`bulkpatch export J | head -1`: the reader leaving early is no error (exit 0, silent)."""
    # 4,000 rows (invalid, so nothing is sent) export to about 900 KB: many times what the pipe
    # holds, so the export is still writing when the reader leaves (190 rows, 40 KB, could all
    # fit in the pipe and the export end before the reader did).
    rows = [{"meetingId": f"{index:032x}", "title": "t" * 200} for index in range(1, 4001)]
    job = write_job(tmp_path / "job.csv", rows)
    journal = tmp_path / "job.journal"
    run = ("run", str(job), "--sandbox", "--skip-invalid", "--journal", str(journal))
    assert invoke(*run)[0] == 1
    whole = tmp_path / "whole.jsonl"
    assert invoke("export", str(journal), "--format", "jsonl", "-o", str(whole))[0] == 0
    assert whole.stat().st_size > 4 * _pipe_size()
    process = spawn(
        "export",
        str(journal),
        "--format",
        "jsonl",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.read(200)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert err == b""


def test_a_closed_log_pipe_does_not_stop_the_work(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """`run ... 2>&1 >/dev/null | head -3`: once the log's reader is gone, the run goes on and
    every row is recorded."""
    site = start_sandbox("--latency-ms", "5")
    job = titles_job(tmp_path / "job.csv", 120)
    process = spawn(
        *run_args(site, job),
        "-v",
        "--log-format",
        "json",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    read_until(process.stderr, b'"row.succeeded"', 60)
    process.stderr.close()
    process.wait(timeout=120)
    assert process.returncode == 0
    with Journal.open_read_only(tmp_path / "job.csv.journal") as journal:
        assert journal.counts()[RowStatus.SUCCEEDED] == 120


def test_status_takes_the_job_path_too(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """`status JOB` finds the job's journal; after a sandbox trial only, the sandbox's."""
    job = titles_job(tmp_path / "job.csv", 3)
    assert invoke("run", str(job), "--sandbox")[0] == 0
    code, out, _ = invoke("status", str(job))
    assert code == 0
    assert "job.csv.sandbox.journal" in out
    assert "target    sandbox" in out
    site = start_sandbox()
    assert invoke(*run_args(site, job))[0] == 0
    report = json.loads(invoke("status", str(job), "--format", "json")[1])
    assert report["journal"].endswith("job.csv.journal")
    assert report["target"] == site.api_url


def test_a_nightly_job_keeps_its_options_in_the_config_file(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """token_file, max_failures, deadline and log_file work from the config file."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 4)
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "token").chmod(0o600)
    config = tmp_path / "nightly.toml"
    config.write_text(
        f'base_url = "{site.api_url}"\ntoken_file = "token"\nmax_failures = "0"\n'
        'deadline = "23:59"\nlog_file = "nightly.log"\nlog_format = "json"\n'
    )
    result = CliRunner(env={}).invoke(main, ["run", str(job), "--config", str(config), "-v"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "nightly.log").read_text().splitlines()
    assert sum('"event": "row.succeeded"' in line for line in lines) == 4
    assert json.loads(lines[-1])["event"] == "run.summary"


def test_status_rate_counts_the_time_a_killed_run_went_on(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A killed run has no end time: status measures it by its rows' own times, so the rate
    never claims more than the rows show (it showed 53 rows/s under a 20/s ceiling)."""
    site = start_sandbox()
    job = titles_job(tmp_path / "job.csv", 150)
    process = spawn(
        *run_args(site, job)[:4],
        "--max-rate",
        "40",
        "-v",
        "--log-format",
        "json",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    read_until(process.stderr, b'"row": 60,', 60)
    process.kill()
    process.communicate(timeout=60)
    with Journal.open_read_only(tmp_path / "job.csv.journal") as journal:
        (run,) = journal.runs()
        count, last = journal.finished_between(run.started_at, None)
    report = json.loads(invoke("status", str(job), "--format", "json")[1])
    assert run.ended_at is None
    assert last is not None
    span = (moment(last) - moment(run.started_at)).total_seconds()
    assert report["rowsPerSecond"] == round(count / span, 2)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def refreshing_sandbox(job: Path) -> SandboxProcess:
    """A sandbox whose tokens last 20 requests each; refresh token R-1."""
    return SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--token-uses",
        "20",
        "--refresh-token",
        "R-1",
        "--seed",
        str(job),
    )


def write_token_file(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {"access_token": TOKEN, "refresh_token": "R-1", "client_id": "c", "client_secret": "s"}
        )
    )
    path.chmod(0o600)
    return path


def test_a_symlinked_token_file_is_written_through_the_link(tmp_path: Path) -> None:
    """After a refresh the token goes where the link leads; the link stays a link."""
    job = titles_job(tmp_path / "job.csv", 50)
    (tmp_path / "secrets").mkdir()
    real = write_token_file(tmp_path / "secrets" / "token.json")
    link = tmp_path / "token.json"
    link.symlink_to(real)
    sandbox = refreshing_sandbox(job)
    try:
        result = CliRunner(env={}).invoke(
            main, [*run_args(sandbox, job, "--token-file", str(link))]
        )
    finally:
        sandbox.stop()
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert json.loads(real.read_text())["access_token"].startswith("sbx-")


def test_a_token_file_that_cannot_be_written_only_warns(tmp_path: Path) -> None:
    """A read-only token file cannot take the refreshed token: a warning, and the run goes on."""
    job = titles_job(tmp_path / "job.csv", 50)
    token_file = write_token_file(tmp_path / "token.json")
    sandbox = refreshing_sandbox(job)
    locked = subprocess.run(["chattr", "+i", str(tmp_path)], capture_output=True, check=False)
    try:
        if locked.returncode:
            pytest.skip("chattr +i is not available here")
        result = CliRunner(env={}).invoke(
            main,
            [
                *run_args(sandbox, job, "--token-file", str(token_file)),
                "--journal",
                str(tmp_path.parent / f"{tmp_path.name}.journal"),
                "--log-format",
                "json",
            ],
        )
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path)], capture_output=True, check=False)
        sandbox.stop()
        for leftover in tmp_path.parent.glob(f"{tmp_path.name}.journal*"):
            leftover.unlink()
    assert result.exit_code == 0, result.output
    assert '"event": "token_file.not_saved"' in result.stderr
    assert json.loads(token_file.read_text())["access_token"] == TOKEN
