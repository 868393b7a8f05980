"""`bulkpatch pull`: the real CLI against a sandbox process seeded from a snapshot."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import invoke
from click.testing import CliRunner

from bulkpatch.cli import main
from bulkpatch.sandbox import every_kind_from
from bulkpatch.sandbox.process import SandboxProcess, read_until

TOKEN = "pull-admin-token"
#: Hosts and how many meeting series each has: pages of 100 hold 0, 1, 100, 101 and 250.
HOSTS = {"zero@example.com": 0, "one@example.com": 1, "full@example.com": 100}
HOSTS |= {"over@example.com": 101, "many@example.com": 250}


def series(host: str, index: int, now: datetime) -> dict[str, Any]:
    start = (now + timedelta(days=2 + index % 300, hours=index % 7)).replace(
        minute=0, second=0, microsecond=0
    )
    webinar = index % 5 == 4
    return {
        "id": f"{host.split('@')[0]}{index:04d}".ljust(32, "0"),
        "meetingNumber": f"{2_000_000_000 + index}",
        "title": f"{host.split('@')[0].title()} sync {index}",
        "agenda": "Status",
        "password": "Sbx12345!",
        "hostKey": "123456",
        "meetingType": "meetingSeries",
        "state": "active",
        "timezone": "UTC",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "scheduledType": "webinar" if webinar else "meeting",
        "hostEmail": host,
        "hostDisplayName": host.split("@")[0].title(),
        "enabledJoinBeforeHost": False,
        "meetingOptions": {"enabledChat": True, "enabledVideo": True},
    }


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site of 452 meeting series over five hosts, as a pull snapshot."""
    now = datetime.now(UTC)
    path = tmp_path_factory.mktemp("site") / "site.snapshot.jsonl"
    with path.open("w") as out:
        for host, count in HOSTS.items():
            for index in range(count):
                out.write(json.dumps(series(host, index, now)) + "\n")
    return path


@pytest.fixture
def site(snapshot: Path) -> Iterator[Callable[..., SandboxProcess]]:
    """Start sandbox processes holding the snapshot's meetings; stopped after the test."""
    started: list[SandboxProcess] = []

    def start(*extra: str) -> SandboxProcess:
        process = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(snapshot), *extra)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def pull(sandbox: SandboxProcess, output: Path, *extra: str) -> tuple[int, str, str]:
    return invoke(
        "pull",
        "-o",
        str(output),
        "--base-url",
        sandbox.api_url,
        "--max-rate",
        "1000",
        *extra,
        token=TOKEN,
    )


def rows_of(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(("host", "pages"), [(h, max(1, -(-n // 100))) for h, n in HOSTS.items()])
def test_every_page_of_a_host_is_read(
    site: Callable[..., SandboxProcess], tmp_path: Path, host: str, pages: int
) -> None:
    """0, 1, exactly 100, 101 and 250 meetings: every page read once, every meeting a row."""
    sandbox = site()
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(sandbox, out, "--host-email", host)
    assert code == 0, stdout
    assert sandbox.stats()["requests"] == {"GET 200": pages}
    if HOSTS[host] == 0:
        assert not out.exists()
        assert "no meeting in that range" in stdout
        return
    rows = rows_of(out)
    assert len(rows) == HOSTS[host] == len(rows_of(Path(f"{out}.snapshot.jsonl")))
    assert len({row["meetingId"] for row in rows}) == HOSTS[host]
    assert {row["hostEmail"] for row in rows} == {host}


def test_the_next_command_pastes_as_printed(
    site: Callable[..., SandboxProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job named with a space and a `$`: the `validate` command pull's summary ends with,
    split as a shell splits it, validates that job (it printed the bare path)."""
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = pull(site(), Path("my pulled $HOME.csv"), "--host-email", "one@example.com")
    assert code == 0, stdout
    command = shlex.split(stdout.rstrip().splitlines()[-1].split("then:", 1)[1])
    assert command[:2] == ["bulkpatch", "validate"]
    assert invoke(*command[1:], token=TOKEN)[0] == 0


def test_a_host_named_twice_is_listed_once(
    site: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """--host-email one@ and ONE@ name one host: listed once, its meeting one row."""
    sandbox = site()
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(
        sandbox, out, "--host-email", "one@example.com", "--host-email", "ONE@Example.com"
    )
    assert code == 0, stdout
    assert sandbox.stats()["requests"] == {"GET 200": 1}
    assert len(rows_of(out)) == 1
    assert "Pulled 1 meeting in" in stdout


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_all_hosts_and_an_unchanged_run_that_changes_nothing(
    site: Callable[..., SandboxProcess], tmp_path: Path, suffix: str
) -> None:
    """--all-hosts reads every host through List People; the file validates, and run unchanged
    it leaves every meeting as it was."""
    sandbox = site()
    out = tmp_path / f"site{suffix}"
    fields = "title,agenda,meetingOptions.enabledChat,start,end"
    code, stdout, _ = pull(sandbox, out, "--all-hosts", "--fields", fields)
    assert code == 0, stdout
    assert "Pulled 452 meetings" in stdout
    assert invoke("validate", str(out))[0] == 0
    before = rows_of(Path(f"{out}.snapshot.jsonl"))
    code, stdout, _ = invoke(
        "run", str(out), "--base-url", sandbox.api_url, "--max-rate", "1000", token=TOKEN
    )
    assert code == 0, stdout
    for meeting in before:
        after = _stored(sandbox, meeting["id"])
        for name in ("title", "agenda", "start", "end", "meetingOptions"):
            assert after[name] == meeting[name], (meeting["id"], name)


@pytest.fixture(scope="module")
def generated_site() -> Iterator[SandboxProcess]:
    """A generated site with every kind of meeting: in progress, 11 years ahead, webinars..."""
    process = SandboxProcess.start(
        "--quiet", "--token", TOKEN, "--meetings", str(every_kind_from(4))
    )
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ("start,end", "whose values for --fields the offline rules refuse as a change"),
        ("requireAttendeeLogin", "with no value for --fields"),
    ],
)
def test_the_summary_accounts_for_every_meeting_listed(
    generated_site: SandboxProcess, tmp_path: Path, fields: str, reason: str
) -> None:
    """An admin's pull of a generated site: each meeting listed is a row, or is counted as left
    out with its reason (a start in the past or 10 years ahead; no value at all, as a meeting
    has no requireAttendeeLogin); no row is left with hostEmail alone."""
    out = tmp_path / "pulled.csv"
    far = (datetime.now(UTC) + timedelta(days=366 * 12)).date().isoformat()
    flags = ["--all-hosts", "--type", "both", "--fields", fields, "--to", far]
    code, stdout, _ = pull(generated_site, out, *flags)
    assert code == 0, stdout
    listed, rows = rows_of(Path(f"{out}.snapshot.jsonl")), rows_of(out)
    left = len(listed) - len(rows)
    assert left > 0
    assert all(any(row[name] for name in fields.split(",")) for row in rows)
    assert f"Pulled {len(listed)} meetings from the listings of 5 people" in stdout
    assert (
        f": {len(rows)} rows\n  left out  {left} of the {len(listed)} listed:\n"
        f"              {left} {reason}"
    ) in stdout
    assert invoke("validate", str(out))[0] == 0


def test_personal_room_meetings_are_no_choice(tmp_path: Path) -> None:
    """--scheduled-type personalRoomMeeting is refused before anything is sent: List Meetings
    has no series of them, and Patch a Meeting changes none."""
    code, _, stderr = invoke(
        "pull", "-o", str(tmp_path / "p.csv"), "--scheduled-type", "personalRoomMeeting", token="t"
    )
    assert code == 2
    assert "'personalRoomMeeting' is not one of 'meeting', 'webinar'" in stderr


def _stored(sandbox: SandboxProcess, meeting_id: str) -> dict[str, Any]:
    import urllib.request

    url = f"{sandbox.api_url.removesuffix('/v1')}/_sandbox/meetings/{meeting_id}"
    with urllib.request.urlopen(url, timeout=30) as response:
        stored: dict[str, Any] = json.load(response)
    return stored


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--scheduled-type", "webinar"], 50),  # every 5th of the 250
        (["--from", "2000-01-01", "--to", "2000-02-01"], 0),
        (["--state", "ended"], 0),
    ],
)
def test_filters_are_sent_to_the_api(
    site: Callable[..., SandboxProcess], tmp_path: Path, extra: list[str], expected: int
) -> None:
    """Scheduled type, time range and state narrow what List Meetings returns."""
    sandbox = site()
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(sandbox, out, "--host-email", "many@example.com", *extra)
    assert code == 0, stdout
    assert f"Pulled {expected} meetings" in stdout


def test_a_429_in_the_middle_of_paging_costs_no_page_and_no_violation(
    site: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Throttled between pages, the pull waits out Retry-After and still reads every page."""
    sandbox = site("--rate", "3", "--burst", "1")
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(sandbox, out, "--host-email", "many@example.com")
    assert code == 0, stdout
    stats = sandbox.stats()
    assert stats["throttled"] > 0
    assert stats["retryAfterViolations"] == 0
    assert len(rows_of(out)) == 250


def test_a_token_that_expires_mid_pull_is_refreshed(snapshot: Path, tmp_path: Path) -> None:
    """A token that lasts two pages is refreshed and the pull goes on to the last page."""
    sandbox = SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--token-uses",
        "2",
        "--refresh-token",
        "R-1",
        "--seed",
        str(snapshot),
    )
    env = {
        "WEBEX_ACCESS_TOKEN": TOKEN,
        "WEBEX_REFRESH_TOKEN": "R-1",
        "WEBEX_CLIENT_ID": "c",
        "WEBEX_CLIENT_SECRET": "s",
    }
    try:
        result = CliRunner(env=env).invoke(
            main,
            [
                "pull",
                "-o",
                str(tmp_path / "p.csv"),
                "--base-url",
                sandbox.api_url,
                "--host-email",
                "many@example.com",
            ],
        )
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    assert result.exit_code == 0, result.output
    assert stats["tokenRefreshes"] == 1
    assert len(rows_of(tmp_path / "p.csv")) == 250


def test_an_interrupted_pull_writes_nothing(
    site: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Ctrl-C while pulling: exit 3, and neither the job nor the snapshot is half written."""
    sandbox = site("--latency-ms", "300")
    out = tmp_path / "pulled.csv"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bulkpatch",
            "pull",
            "-o",
            str(out),
            "--all-hosts",
            "--base-url",
            sandbox.api_url,
            "--concurrency",
            "1",
            "-v",
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN},
        bufsize=0,
    )
    read_until(process.stderr, b'"pull.page"', 60)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 3
    assert b"nothing was written" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_secrets_stay_out_unless_asked_for(
    site: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """A password column needs --include-secrets; the snapshot masks passwords and host keys."""
    sandbox = site()
    code, _, err = pull(
        sandbox, tmp_path / "p.csv", "--host-email", "one@example.com", "--fields", "password"
    )
    assert code == 2
    assert "--include-secrets" in err
    code, _, _ = pull(sandbox, tmp_path / "p.csv", "--host-email", "one@example.com")
    assert code == 0
    (meeting,) = rows_of(tmp_path / "p.csv.snapshot.jsonl")
    assert (meeting["password"], meeting["hostKey"]) == ("********", "********")
    assert b"Sbx12345" not in (tmp_path / "p.csv").read_bytes()


def test_the_snapshot_seeds_a_sandbox_with_the_same_meetings(
    site: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """`bulkpatch sandbox --seed SNAPSHOT` serves the meetings the pull saw."""
    sandbox = site()
    out = tmp_path / "p.jsonl"
    assert pull(sandbox, out, "--host-email", "over@example.com")[0] == 0
    copy = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", f"{out}.snapshot.jsonl")
    try:
        assert "101 meetings" in copy.banner
        code, stdout, _ = pull(copy, tmp_path / "again.jsonl", "--host-email", "over@example.com")
    finally:
        copy.stop()
    assert code == 0, stdout
    assert rows_of(tmp_path / "again.jsonl") == rows_of(out)


def test_a_sandbox_trial_of_a_pulled_job_meets_the_sites_states(tmp_path: Path) -> None:
    """With the pull's snapshot beside the job, `run --sandbox` meets the ended meeting the
    real site would refuse; without it, every meeting of the job is made patchable."""
    ended = series("one@example.com", 1, datetime.now(UTC)) | {
        "state": "ended",
        "meetingType": "meeting",
    }
    job = tmp_path / "pulled.csv"
    job.write_text(f"meetingId,title\n{ended['id']},Renamed\n")
    snapshot = tmp_path / "pulled.csv.snapshot.jsonl"
    snapshot.write_text(json.dumps(ended) + "\n")
    code, out, _ = invoke("run", str(job), "--sandbox")
    assert code == 1, out
    assert "1 failed" in out
    snapshot.unlink()
    code, out, _ = invoke("run", str(job), "--sandbox", "--journal", str(tmp_path / "j2"))
    assert code == 0, out


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("2027-02-30", "February 2027 has 28 days"),
        ("2027-13-01T10:00", "months run 01 to 12"),
        ("next tuesday", "expected an ISO 8601 date or date-time"),
    ],
)
def test_a_date_that_does_not_exist_is_named_as_such(tmp_path: Path, given: str, said: str) -> None:
    """--from 2027-02-30 is in the right format on a day that does not exist: the error says
    so (it said the format was wrong); a text in no date format still hears that."""
    out = tmp_path / "pulled.csv"
    code, stdout, stderr = invoke(
        "pull", "-o", str(out), "--host-email", "a@example.com", "--from", given, token="t"
    )
    assert code == 2, stdout + stderr
    assert said in stderr
    assert not out.exists()


@pytest.mark.parametrize("kinds", ["occurrences", "both"])
def test_a_state_picks_the_occurrences_in_it(tmp_path: Path, kinds: str) -> None:
    """--state scheduled with --type occurrences or both: the occurrences in that state (the
    series were listed in that state too, and series are active: it pulled nothing)."""
    sandbox = SandboxProcess.start("--quiet", "--token", TOKEN, "--meetings", "60")
    try:
        out = tmp_path / "pulled.csv"
        code, stdout, _ = pull(sandbox, out, "--all-hosts", "--type", kinds, "--state", "scheduled")
    finally:
        sandbox.stop()
    assert code == 0, stdout
    snapshot = rows_of(Path(f"{out}.snapshot.jsonl"))
    assert snapshot
    assert {(m["meetingType"], m["state"]) for m in snapshot} == {("scheduledMeeting", "scheduled")}


def test_a_token_with_no_meetings_of_its_own_is_told_of_the_host_options(
    site: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """Without a host option a pull lists the token's own meetings: an admin's, often none,
    gets the options that list the others' (it said only "no meeting in that range")."""
    code, stdout, _ = pull(site(), tmp_path / "pulled.csv")
    assert code == 0, stdout
    assert "the token's own meetings are none in that range" in stdout
    assert "--all-hosts or --host-email" in stdout
