"""Seeding the sandbox from a pull snapshot: the real site's meetings, held exactly as given."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bulkpatch.sandbox import (
    SnapshotError,
    generate,
    is_snapshot,
    read_snapshot,
    seed_from_snapshot,
)
from bulkpatch.sandbox.accounts import ADMIN, Identity
from bulkpatch.sandbox.patching import apply_patch
from bulkpatch.sandbox.process import SandboxProcess
from bulkpatch.sandbox.refusal import Refusal

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
WriteJob = Callable[[str, str | bytes], Path]
AS_ADMIN = Identity(ADMIN, admin=True)


def site_snapshot() -> list[dict[str, Any]]:
    """The GET objects of a generated site (with its rarer kinds): what a pull would write."""
    store = generate(40, 3, NOW, extras=True)
    return [meeting for meeting_id in store.order if (meeting := store.get(meeting_id))]


def lines_of(meetings: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(meeting) + "\n" for meeting in meetings]


def test_a_snapshot_loads_back_to_the_same_objects() -> None:
    """Every meeting of a snapshot GETs back field for field as given, in any line order."""
    meetings = site_snapshot()
    store = seed_from_snapshot(reversed(lines_of(meetings)))
    assert len(store) == len(meetings)
    for meeting in meetings:
        assert store.get(meeting["id"]) == meeting
    kinds = {(m["meetingType"], m["state"], m["scheduledType"]) for m in meetings}
    assert ("meeting", "inProgress", "meeting") in kinds
    assert ("scheduledMeeting", "scheduled", "personalRoomMeeting") in kinds


def test_series_occurrences_and_hosts_come_from_the_objects() -> None:
    """Occurrences are filed under their meetingSeriesId; hosts and people are the objects' own."""
    meetings = site_snapshot()
    store = seed_from_snapshot(lines_of(meetings))
    occurrence = next(
        m
        for m in meetings
        if m["meetingType"] == "scheduledMeeting"
        and "meetingSeriesId" in m
        and m["scheduledType"] != "personalRoomMeeting"
    )
    series_id = occurrence["meetingSeriesId"]
    assert occurrence["id"] in list(store.occurrences_of(series_id))
    host = occurrence["hostEmail"]
    assert occurrence["id"] in store.meetings_of(host)
    assert store.people()[host.lower()].person_id == occurrence["hostUserId"]


def test_states_of_the_snapshot_are_refused_as_the_real_site_would() -> None:
    """An in-progress instance and an ended meeting from the snapshot refuse a PATCH."""
    meetings = site_snapshot()
    store = seed_from_snapshot(lines_of(meetings))
    for meeting in meetings:
        if meeting["meetingType"] == "meeting":
            with pytest.raises(Refusal) as refused:
                apply_patch(store, meeting["id"], {"title": "x"}, NOW, AS_ADMIN)
            assert refused.value.status == 400


def test_a_series_change_reaches_its_unmodified_snapshot_occurrences_only() -> None:
    """Renaming a snapshot series shows on its occurrences, except one modified on its own."""
    meetings = site_snapshot()
    series = next(m for m in meetings if m.get("recurrence") and m["state"] == "active")
    occurrences = [m for m in meetings if m.get("meetingSeriesId") == series["id"]]
    occurrences[1]["isModified"] = True
    occurrences[1]["title"] = "Kept apart"
    store = seed_from_snapshot(lines_of(meetings))
    apply_patch(store, series["id"], {"title": "Renamed"}, NOW, AS_ADMIN)
    titles = [store.get(m["id"])["title"] for m in occurrences]  # type: ignore[index]  # loaded above
    assert titles == ["Renamed", "Kept apart", "Renamed", "Renamed"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "one meeting object"),
        ('{"meetingType": "meetingSeries", "start": "2030-01-01T10:00:00Z"}', "id must be"),
        (
            '{"id": "..", "meetingType": "meetingSeries", "start": "2030-01-01T10:00:00Z"}',
            "id must be",
        ),
        (
            '{"id": "a_20310230T100000Z", "meetingType": "scheduledMeeting", "start": "2030-01-01T10:00:00Z"}',
            "February 2031 has 28 days",
        ),
        ('{"id": "a", "meetingType": "series", "start": "2030-01-01T10:00:00Z"}', "meetingType"),
        (
            '{"id": "a", "meetingType": "meeting", "scheduledType": "x", "start": "2030-01-01T10:00:00Z"}',
            "scheduledType",
        ),
        ('{"id": "a", "meetingType": "meeting", "start": "soon"}', "start must be"),
    ],
)
def test_a_bad_snapshot_line_names_its_line(line: str, reason: str) -> None:
    """A line that is not a meeting object is a SnapshotError with its line number."""
    good = json.dumps(site_snapshot()[0])
    with pytest.raises(SnapshotError, match=reason) as error:
        seed_from_snapshot([good, "", line], where="snap.jsonl")
    assert error.value.line == 3
    assert str(error.value).startswith("snap.jsonl:3: ")


def test_a_snapshot_is_told_from_a_job(write_job: WriteJob, tmp_path: Path) -> None:
    """Lines with id and meetingType are a snapshot; meetingId lines, CSV or no file are jobs."""
    snapshot = write_job("site.jsonl", "".join(lines_of(site_snapshot()[:2])))
    assert is_snapshot(snapshot)
    assert read_snapshot(snapshot).get(site_snapshot()[0]["id"]) == site_snapshot()[0]
    assert not is_snapshot(write_job("job.jsonl", '{"meetingId": "a", "title": "x"}\n'))
    assert not is_snapshot(write_job("job.csv", "id,meetingType\na,meeting\n"))
    assert not is_snapshot(write_job("broken.jsonl", "{oops\n"))
    assert not is_snapshot(tmp_path / "missing.jsonl")


def test_sandbox_command_serves_a_snapshot_with_user_tokens(write_job: WriteJob) -> None:
    """`bulkpatch sandbox --seed SNAPSHOT --user-token T=EMAIL` serves the objects as given."""
    meetings = site_snapshot()
    snapshot = write_job("site.jsonl", "".join(lines_of(meetings)))
    series = next(m for m in meetings if m["meetingType"] == "meetingSeries")
    other = next(m for m in meetings if m["hostEmail"] != series["hostEmail"])
    user = f"user-t={series['hostEmail']}"
    sandbox = SandboxProcess.start("--quiet", "--seed", str(snapshot), "--user-token", user)
    try:
        assert f"{len(meetings)} meetings at" in sandbox.banner
        assert f"user token for {series['hostEmail']}: user-t" in sandbox.banner

        def get(meeting_id: str, token: str) -> tuple[int, Any]:
            request = urllib.request.Request(
                f"{sandbox.api_url}/meetings/{meeting_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.load(response)
            except urllib.error.HTTPError as error:
                return error.code, json.load(error)

        assert get(series["id"], "any-admin") == (200, series)
        assert get(series["id"], "user-t") == (200, series)
        assert get(other["id"], "user-t")[0] == 404
    finally:
        sandbox.stop()


def test_a_bad_snapshot_is_a_usage_error(write_job: WriteJob) -> None:
    """A snapshot with a bad line stops `bulkpatch sandbox` with exit 2 and the line."""
    from click.testing import CliRunner

    from bulkpatch.cli import main

    good = json.dumps(site_snapshot()[0])
    snapshot = write_job("site.jsonl", f'{good}\n{{"id": "b", "meetingType": "x"}}\n')
    result = CliRunner().invoke(main, ["sandbox", "--seed", str(snapshot), "--port", "0"])
    assert result.exit_code == 2
    assert f"{snapshot}:2: meetingType must be one of" in result.stderr


def test_a_user_token_must_name_an_email() -> None:
    """--user-token without TOKEN=EMAIL is refused before anything starts."""
    from click.testing import CliRunner

    from bulkpatch.cli import main

    result = CliRunner().invoke(main, ["sandbox", "--user-token", "just-a-token"])
    assert result.exit_code == 2
    assert "TOKEN=EMAIL" in result.stderr


def test_snapshot_times_stay_as_given_even_in_the_past() -> None:
    """A snapshot taken yesterday keeps yesterday's times (the store never moves them)."""
    meeting = site_snapshot()[0]
    meeting["start"] = (NOW - timedelta(days=1)).isoformat()
    store = seed_from_snapshot([json.dumps(meeting)])
    assert store.get(meeting["id"])["start"] == meeting["start"]  # type: ignore[index]  # loaded above
