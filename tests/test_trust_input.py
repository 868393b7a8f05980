"""The hostile trial, part G: input nested thousands deep is a usage error, not a crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import SERIES, invoke, write_job


def nested(depth: int) -> str:
    """A JSON (and TOML) array nested ``depth`` deep."""
    return "[" * depth + "]" * depth


#: A loopback port nothing listens on: a run that got as far as sending would fail otherwise.
NOWHERE = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'{{"access_token":"abcdefgh","x":{nested(50_000)}}}', "nested too deep"),
        (f'{{"access_token":{nested(900)}}}', "access_token must be a string, not an array"),
        ('{"access_token":"abcdefgh","refresh_token":{"a":1}}', "refresh_token must be a string"),
        ('{"access_token":"abcdefgh",', "is not valid JSON"),
        ('{"access_token":"abcdefgh","client_id":7}', "client_id must be a string, not a number"),
        ('["abcdefgh"]', "holds JSON that is not one object"),
    ],
    ids=["deep", "deep-token", "object-refresh", "cut", "number-client", "array"],
)
def test_a_token_file_that_is_not_flat_json_is_a_usage_error(
    tmp_path: Path, content: str, message: str
) -> None:
    """A token file with JSON nested 50,000 deep, or a token that is not text: exit 2 naming
    the file, never an internal error."""
    token_file = tmp_path / "token.json"
    token_file.write_text(content)
    token_file.chmod(0o600)
    job = write_job(tmp_path / "job.csv", [{"meetingId": SERIES[0], "title": "x"}])
    code, _, err = invoke("run", str(job), "--token-file", str(token_file), "--base-url", NOWHERE)
    assert code == 2, err
    assert f"token file {token_file}" in err
    assert message in err
    assert "internal error" not in err


@pytest.mark.parametrize("value", [nested(5_000), "{a = " * 5_000 + "1" + "}" * 5_000])
def test_a_config_value_nested_thousands_deep_is_a_usage_error(tmp_path: Path, value: str) -> None:
    """`max_rate = [[[...5,000 deep...]]]` (or inline tables): exit 2 naming the file."""
    config = tmp_path / "bulkpatch.toml"
    config.write_text(f"max_rate = {value}\n")
    job = write_job(tmp_path / "job.csv", [{"meetingId": SERIES[0], "title": "x"}])
    code, _, err = invoke("run", str(job), "--config", str(config), "--base-url", NOWHERE)
    assert code == 2, err
    assert f"config file {config} has a value nested too deep" in err


def _meeting(**extra: object) -> str:
    return json.dumps(
        {
            "id": SERIES[0],
            "meetingType": "meetingSeries",
            "start": "2030-01-07T10:00:00Z",
            "end": "2030-01-07T11:00:00Z",
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("lines", "line"),
    [
        ([nested(5_000)], 1),
        ([_meeting(), f'{{"id":{nested(5_000)}}}'], 2),
        ([_meeting()[:-1] + f', "x": {nested(900)}}}'], 1),
    ],
    ids=["first-line", "later-line", "parsable-but-deep"],
)
def test_a_snapshot_nested_too_deep_is_refused_at_seeding(
    tmp_path: Path, lines: list[str], line: int
) -> None:
    """`sandbox --seed` on a snapshot line nested thousands deep (or deep enough to make every
    GET of it fail): exit 2 naming the line, before serving."""
    snapshot = tmp_path / "site.snapshot.jsonl"
    snapshot.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "bulkpatch", "sandbox", "--seed", str(snapshot), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{snapshot}:{line}: nested more than 32 levels deep" in done.stderr
