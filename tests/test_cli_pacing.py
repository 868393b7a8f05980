"""`bulkpatch run` without --max-rate: the limit found, reported, remembered for the next run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.limiter import state_path, token_identity
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
