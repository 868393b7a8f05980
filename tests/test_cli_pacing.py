"""`bulkpatch run` without --max-rate: the limit found, reported, remembered for the next run."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.cli.summary import pace_line
from bulkpatch.clock import SystemClock
from bulkpatch.limiter import Pacing, open_pacing, state_path, token_identity
from bulkpatch.sandbox.process import SandboxProcess

TOKEN = "cli-pacing-token"


def _job(path: Path, first: int, count: int) -> Path:
    rows = "".join(f"{first + i:032x},Title {i}\n" for i in range(count))
    path.write_text("meetingId,title\n" + rows)
    return path


def _run(sandbox: SandboxProcess, job: Path) -> dict[str, object]:
    """Run the job without --max-rate; its run.summary event."""
    args = ["run", str(job), "--base-url", sandbox.api_url, "--log-format", "json", "--no-progress"]
    result = CliRunner(env={"WEBEX_ACCESS_TOKEN": TOKEN}).invoke(main, args)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    summary: dict[str, object] = next(e for e in events if e["event"] == "run.summary")
    return summary


def test_the_limit_is_found_reported_and_remembered(tmp_path: Path, state_dir: Path) -> None:
    """Told nothing, a run against a 40/s limit finds it without a violation, says so in
    run.summary, and the next run on the same target and token starts from it."""
    seed = _job(tmp_path / "seed.csv", 1, 120)
    sandbox = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(seed), "--rate", "40")
    state = state_path(state_dir, sandbox.api_url, token_identity(TOKEN))
    try:
        first = _run(sandbox, _job(tmp_path / "a.csv", 1, 40))
        learned = json.loads(state.read_text())["lanes"]["write"]["rate"]
        second = _run(sandbox, _job(tmp_path / "b.csv", 61, 40))
        violations = sandbox.stats(meetings=False)["retryAfterViolations"]
    finally:
        sandbox.stop()
    found = first["rateFound"]
    assert isinstance(found, float)
    assert 20 <= found <= 44  # about the limit (reads and writes together): what got through
    assert first["rateLearned"] is None
    assert isinstance(first["heldSeconds"], float)
    assert first["throttleEpisodes"] >= 1  # type: ignore[operator]  # a JSON number
    assert second["rateLearned"] == learned
    assert violations == 0


def test_a_run_held_by_another_runs_retry_after_says_whose_limit_it_was(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run on a token another run shares, held by that run's Retry-After and refused nothing
    itself: its summary says the limit was found by the other run (it said "no limit met")."""
    seed = _job(tmp_path / "seed.csv", 1, 3)
    sandbox = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(seed))
    joining = open_pacing

    @contextlib.contextmanager
    def refused_elsewhere_once_joined(**kwargs: Any) -> Iterator[Pacing]:
        with joining(**kwargs) as pacing:
            # The other run is answered 429 now: every run on the token waits its Retry-After.
            other.lane("write").on_throttle(0.2)  # short: the run obeys it in real time
            yield pacing

    monkeypatch.setattr("bulkpatch.workflows.session.open_pacing", refused_elsewhere_once_joined)
    args = [
        "run",
        str(seed),
        "--base-url",
        sandbox.api_url,
        "--log-format",
        "json",
        "--no-progress",
    ]
    try:
        with open_pacing(
            clock=SystemClock(),
            target=sandbox.api_url,
            identity=token_identity(TOKEN),
            state_dir=state_dir,
        ) as other:
            result = CliRunner(env={"WEBEX_ACCESS_TOKEN": TOKEN}).invoke(main, args)
    finally:
        sandbox.stop()
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    summary = next(e for e in events if e["event"] == "run.summary")
    assert (summary["throttled"], summary["throttleEpisodes"]) == (0, 0)
    assert summary["heldSeconds"] > 0
    assert summary["participants"] == 2
    [pace] = [line for line in result.stdout.splitlines() if line.startswith("  pace ")]
    assert "the limit another run on this token found" in pace
    assert "held by that run's Retry-After" in pace
    assert "no limit met" not in pace


@pytest.mark.parametrize(
    ("pacing", "line"),
    [
        (
            {"throttleEpisodes": 2, "heldSeconds": 3.0, "participants": 1},
            "40/s found for the token, 3 s held by Retry-After",
        ),
        (
            {"throttleEpisodes": 0, "heldSeconds": 1.9, "participants": 2},
            "40/s, the limit another run on this token found; 1.9 s held by that run's Retry-After",
        ),
        (
            {"throttleEpisodes": 0, "heldSeconds": 1.9, "participants": 1},
            "40/s reached; 1.9 s held by a Retry-After an earlier run was given",
        ),
        (
            {"throttleEpisodes": 0, "heldSeconds": 0.0, "participants": 2},
            "40/s reached by the runs on this token together, no limit met, 0 s held by Retry-After",
        ),
        (
            {"throttleEpisodes": 0, "heldSeconds": 0.0, "participants": 1},
            "40/s reached, no limit met, 0 s held by Retry-After",
        ),
        (
            {"throttleEpisodes": 0, "heldSeconds": 0.0, "participants": 2, "rateLearned": 39.5},
            "40/s, from the 39.5/s learned on this token (no 429 this run)",
        ),
        (
            {"throttleEpisodes": 0, "heldSeconds": 2.0, "participants": 1, "rateLearned": 40.0},
            "40/s, from the 40/s learned on this token (no 429 this run; 2 s held by a "
            "Retry-After an earlier run was given)",
        ),
    ],
)
def test_the_pace_line_says_whose_429_found_the_limit(pacing: dict[str, Any], line: str) -> None:
    """The summary's pace line names the limit as this run's, another run's, or none met, and
    never says "no limit met" of a run a Retry-After held."""
    assert pace_line(pacing, 40.0) == line
