"""`plan`, the run's before-values and skips, and `undo`: the real CLI against a sandbox."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    change_directly,
    invoke,
    invoke_on,
    kill_run_at_row,
    seeded_sandbox,
    series_in_three_days,
    stored,
    write_job,
)

from bulkpatch.cli import plan as plan_cli
from bulkpatch.journal import Journal, RowStatus
from bulkpatch.model.diff import decode_values
from bulkpatch.sandbox.process import SandboxProcess
from bulkpatch.workflows import undo as undo_workflow
from bulkpatch.workflows.undo import Inverse

TOKEN = "plan-admin-token"
NOW = datetime.now(UTC)


def meeting(meeting_id: str, **fields: Any) -> dict[str, Any]:
    return series_in_three_days(meeting_id, meetingOptions={"enabledChat": True}) | fields


MEETINGS = [meeting(f"{index:04d}".ljust(32, "a")) for index in range(30)] + [
    meeting("ended".ljust(32, "b"), state="ended", meetingType="meeting"),
    meeting("adhoc".ljust(32, "c"), adhoc=True),
]
IDS = [m["id"] for m in MEETINGS]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox process holding MEETINGS (30 patchable, an ended instance, an ad-hoc one)."""
    process = seeded_sandbox(tmp_path, MEETINGS, TOKEN)
    yield process
    process.stop()


def cli(sandbox: SandboxProcess, *args: str) -> tuple[int, str, str]:
    return invoke_on(sandbox, *args, token=TOKEN)


def patch_directly(sandbox: SandboxProcess, meeting_id: str, body: dict[str, Any]) -> None:
    change_directly(sandbox, meeting_id, body, TOKEN)


def lobby_job(path: Path, count: int = 10) -> Path:
    """Lobby on for the first ``count`` meetings; rows 0-2 already have it (unchanged)."""
    rows = [
        {"meetingId": IDS[i], "unlockedMeetingJoinSecurity": "allowJoinWithLobby", "title": f"T{i}"}
        for i in range(count)
    ]
    return write_job(path, rows)


def test_plan_classes_rows_and_a_run_after_it_reads_nothing(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """plan: change / unchanged / gone / refused with counts and per-field current -> new; the
    run right after sends only the changes and reads no meeting again."""
    for index in range(3):
        patch_directly(
            site,
            IDS[index],
            {"title": f"T{index}", "unlockedMeetingJoinSecurity": "allowJoinWithLobby"},
        )
    rows = [
        {"meetingId": IDS[i], "unlockedMeetingJoinSecurity": "allowJoinWithLobby", "title": f"T{i}"}
        for i in range(10)
    ]
    rows += [
        {"meetingId": "f" * 32, "unlockedMeetingJoinSecurity": "allowJoinWithLobby", "title": "x"},
        {"meetingId": IDS[30], "unlockedMeetingJoinSecurity": "allowJoinWithLobby", "title": "x"},
        {"meetingId": IDS[31], "unlockedMeetingJoinSecurity": "allowJoinWithLobby", "title": "x"},
    ]
    job = write_job(tmp_path / "job.csv", rows)
    code, out, _ = cli(site, "plan", str(job), "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["classes"] == {
        "change": 7,
        "unchanged": 3,
        "gone": 1,
        "refused": 2,
        "unread": 0,
    }
    assert report["fields"] == {"unlockedMeetingJoinSecurity": 7, "title": 7}
    first = next(row for row in report["rows"] if row["line"] == 5)
    assert first["changes"] == [
        {"field": "title", "current": "Sync 0003", "new": "T3"},
        {
            "field": "unlockedMeetingJoinSecurity",
            "current": "allowJoin",
            "new": "allowJoinWithLobby",
        },
    ]
    before_run = site.stats()["requests"]
    code, out, _ = cli(site, "run", str(job))
    assert code == 1, out  # the gone and refused rows fail
    assert "7 succeeded, 3 failed, 0 invalid, 3 skipped" in out
    requests = site.stats()["requests"]
    # The plan's before-values were used; only its "unchanged" rows are read again to be sure
    # (and the token's person, once, to bind the journal to the organisation).
    assert requests["GET 200"] == before_run["GET 200"] + 3 + 1
    assert requests["PATCH 200"] == before_run["PATCH 200"] + 7


def test_a_run_skips_what_is_already_done_and_keeps_what_it_changed(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """Without a plan, each meeting is read first: unchanged rows are skipped, the others'
    before-values are in the journal before their PATCH."""
    patch_directly(
        site, IDS[0], {"title": "T0", "unlockedMeetingJoinSecurity": "allowJoinWithLobby"}
    )
    job = lobby_job(tmp_path / "job.csv", 5)
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    assert "4 succeeded, 0 failed, 0 invalid, 1 skipped" in out
    with Journal.open_read_only(tmp_path / "job.csv.journal") as journal:
        changed = list(journal.undo_rows())
    assert len(changed) == 4
    before, after = changed[0].before, changed[0].after
    assert decode_values(before or "") == {
        "title": "Sync 0001",
        "unlockedMeetingJoinSecurity": "allowJoin",
    }
    assert decode_values(after or "") == {
        "title": "T1",
        "unlockedMeetingJoinSecurity": "allowJoinWithLobby",
    }
    code, out, _ = cli(
        site, "run", str(job), "--journal", str(tmp_path / "again.journal"), "--no-skip-unchanged"
    )
    assert "5 succeeded" in out


def test_run_then_undo_puts_every_field_back(site: SandboxProcess, tmp_path: Path) -> None:
    """run, then undo --run: the sandbox holds, field for field, what it held before the run;
    an undo of the undo restores the change."""
    before = {mid: stored(site, mid) for mid in IDS[:10]}
    job = write_job(
        tmp_path / "job.csv",
        [
            {
                "meetingId": IDS[i],
                "title": f"New {i}",
                "agenda": "null" if i % 2 else "Fresh",
                "meetingOptions.enabledChat": "false",
            }
            for i in range(10)
        ],
    )
    assert cli(site, "run", str(job))[0] == 0
    changed = {mid: stored(site, mid) for mid in IDS[:10]}
    assert all(changed[mid]["title"].startswith("New") for mid in IDS[:10])
    code, out, _ = cli(site, "undo", str(tmp_path / "job.csv.journal"), "--run")
    assert code == 0, out
    assert "bulkpatch undo finished" in out
    assert {mid: stored(site, mid) for mid in IDS[:10]} == before
    # Undone to the end: nothing is left, and no undo file is looked for or written.
    (tmp_path / "job.undo.csv").rename(tmp_path / "kept.csv")
    code, out, _ = cli(site, "undo", str(tmp_path / "job.csv.journal"))
    assert (code, "Nothing to undo" in out) == (0, True), out
    assert not (tmp_path / "job.undo.csv").exists()
    (tmp_path / "kept.csv").rename(tmp_path / "job.undo.csv")
    code, out, _ = cli(site, "undo", str(tmp_path / "job.undo.csv.journal"), "--run")
    assert code == 0, out
    again = {mid: stored(site, mid) for mid in IDS[:10]}
    assert {mid: (m["title"], m.get("agenda")) for mid, m in again.items()} == {
        mid: (m["title"], m.get("agenda")) for mid, m in changed.items()
    }


def test_a_meeting_edited_since_is_left_alone(site: SandboxProcess, tmp_path: Path) -> None:
    """A meeting changed after bulkpatch set it is a conflict (exit 1); --force reverts it."""
    job = lobby_job(tmp_path / "job.csv", 4)
    assert cli(site, "run", str(job))[0] == 0
    patch_directly(site, IDS[2], {"title": "Edited by hand"})
    code, out, _ = cli(site, "undo", str(job), "--run")
    assert code == 1
    assert "1 conflict" in out
    assert stored(site, IDS[2])["title"] == "Edited by hand"
    assert stored(site, IDS[1])["title"] == "Sync 0001"
    exported = json.loads(
        next(
            line
            for line in invoke("export", str(tmp_path / "job.undo.csv"), "--format", "jsonl")[
                1
            ].splitlines()
            if IDS[2] in line
        )
    )
    assert exported["status"] == "conflict"
    assert "title: now 'Edited by hand', bulkpatch set 'T2'" in exported["error"]
    code, out, _ = cli(site, "undo", str(job), "--run", "--force")
    assert code == 0, out
    assert stored(site, IDS[2])["unlockedMeetingJoinSecurity"] == "allowJoin"


def test_no_snapshot_rows_are_listed_as_not_revertible(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """--no-snapshot sends without reading: undo cannot revert those rows, and says so."""
    job = lobby_job(tmp_path / "job.csv", 3)
    code, out, err = cli(site, "run", str(job), "--no-snapshot")
    assert code == 0
    assert "undo cannot revert these rows" in err
    assert site.stats()["requests"]["GET 200"] == 1  # the token's person, not a meeting
    code, out, _ = cli(site, "undo", str(job))
    assert code == 0
    assert "Nothing to undo" in out
    assert out.count("--no-snapshot") == 3


def test_kill_during_a_run_keeps_before_values_for_every_patch(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """kill -9 mid-run: every meeting the sandbox patched has its before-values in the journal,
    so the resumed run's undo restores all of them."""
    before = {mid: stored(site, mid) for mid in IDS[:30]}
    job = lobby_job(tmp_path / "job.csv", 30)
    kill_run_at_row(site, job, TOKEN)
    patched = set(site.stats()["patchesPerMeeting"])
    with Journal.open_read_only(tmp_path / "job.csv.journal") as journal:
        known = {r.meeting_id for r in journal.undo_rows() if r.before}
        pending = {r.meeting_id for r in journal.rows(RowStatus.PENDING)}
    assert patched <= known | pending
    assert cli(site, "run", str(job))[0] == 0
    assert cli(site, "undo", str(job), "--run")[0] == 0
    assert {mid: stored(site, mid) for mid in IDS[:30]} == before


def test_undo_never_overwrites_an_edited_inverse_job(site: SandboxProcess, tmp_path: Path) -> None:
    """An undo file edited by hand is not replaced: run it yourself, or remove it."""
    job = lobby_job(tmp_path / "job.csv", 2)
    assert cli(site, "run", str(job))[0] == 0
    assert cli(site, "undo", str(job))[0] == 0
    undo_file = tmp_path / "job.undo.csv"
    undo_file.write_text(undo_file.read_text() + "\n")
    code, _, err = cli(site, "undo", str(job))
    assert code == 2
    assert "exists and is not this journal's inverse job" in err


def test_a_plans_unchanged_is_checked_again_before_a_skip(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A meeting a plan found already set, edited before the run, is changed, not skipped."""
    patch_directly(site, IDS[0], {"title": "Wanted"})
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "Wanted"}])
    code, out, _ = cli(site, "plan", str(job), "--format", "json")
    assert json.loads(out)["classes"]["unchanged"] == 1
    patch_directly(site, IDS[0], {"title": "Edited after the plan"})
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    assert "1 succeeded, 0 failed, 0 invalid, 0 skipped" in out
    assert stored(site, IDS[0])["title"] == "Wanted"


def test_no_snapshot_never_skips_on_a_plans_word(site: SandboxProcess, tmp_path: Path) -> None:
    """--no-snapshot reads nothing and skips nothing: a meeting a plan found already set, and
    edited since, is sent, not left as it is under a 'skipped' outcome."""
    patch_directly(site, IDS[0], {"title": "Wanted"})
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "Wanted"}])
    assert cli(site, "plan", str(job))[0] == 0
    patch_directly(site, IDS[0], {"title": "Edited after the plan"})
    code, out, _ = cli(site, "run", str(job), "--no-snapshot")
    assert code == 0, out
    assert "1 succeeded, 0 failed, 0 invalid, 0 skipped" in out
    assert stored(site, IDS[0])["title"] == "Wanted"


def test_a_row_killed_after_its_patch_keeps_its_first_before_values(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """Killed between the PATCH and its outcome: the resume sends it again, unread, and undo
    still knows what the meeting held before the first run."""
    job = lobby_job(tmp_path / "job.csv", 2)
    assert cli(site, "run", str(job))[0] == 0
    journal = tmp_path / "job.csv.journal"
    with sqlite3.connect(journal) as db:  # the outcome of line 2 never made it to disk
        db.execute(
            "UPDATE rows SET status = 'pending', after = NULL, http_status = NULL, "
            "finished_at = NULL WHERE line = 2"
        )
    db.close()
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    assert "this run  1 row in" in out
    assert site.stats()["patchesPerMeeting"][IDS[0]] == 2
    assert cli(site, "undo", str(job), "--run")[0] == 0
    assert stored(site, IDS[0])["title"] == "Sync 0000"


def test_a_planned_row_killed_after_its_patch_is_still_known_as_sent(
    site: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row sent on a plan's before-values, killed before its outcome was committed: undo
    still lists its meeting, and a resume once the plan is stale sends it, never skips it."""
    job = lobby_job(tmp_path / "job.csv", 1)
    assert cli(site, "plan", str(job))[0] == 0
    assert cli(site, "run", str(job))[0] == 0
    with sqlite3.connect(tmp_path / "job.csv.journal") as db:  # the outcome never made it
        db.execute(
            "UPDATE rows SET status = 'pending', after = NULL, http_status = NULL, "
            "finished_at = NULL WHERE line = 2"
        )
    db.close()
    code, out, _ = cli(site, "undo", str(job))
    assert code == 0, out
    assert "Undo of 1 meeting " in out
    monkeypatch.setenv("BULKPATCH_PLAN_MAX_AGE", "0.001")  # the plan is stale by now
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    assert "1 succeeded, 0 failed, 0 invalid, 0 skipped" in out
    assert cli(site, "undo", str(job), "--run")[0] == 0
    assert stored(site, IDS[0])["title"] == "Sync 0000"


def test_a_row_the_api_refused_is_no_conflict_for_undo(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A row answered 400 changed nothing: undo does not expect its values on the meeting, so
    the meeting's other, succeeded row is reverted, not left alone as a conflict."""
    job = write_job(
        tmp_path / "job.csv",
        [
            {"meetingId": IDS[0], "title": "T0"},
            {"meetingId": IDS[0], "agenda": "New", "meetingOptions.enabledPolling": "true"},
        ],
    )
    assert cli(site, "run", str(job))[0] == 1  # polling is for webinars: 400
    code, _out, err = cli(site, "undo", str(job), "--run")
    assert code == 0, err
    assert stored(site, IDS[0])["title"] == "Sync 0000"
    assert stored(site, IDS[0])["agenda"] == "Status"


def test_undo_marks_rows_reverted_and_a_run_after_it_changes_them_again(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A meeting already back is skipped (not a conflict); reverted rows are sent by the next
    run of the job, and the undo after that goes to a file of its own."""
    original = {mid: stored(site, mid) for mid in IDS[:3]}
    job = lobby_job(tmp_path / "job.csv", 3)
    assert cli(site, "run", str(job))[0] == 0
    patch_directly(site, IDS[1], {"title": "Sync 0001", "unlockedMeetingJoinSecurity": "allowJoin"})
    code, out, _ = cli(site, "undo", str(job), "--run")
    assert code == 0, out
    assert "2 succeeded, 0 failed, 0 invalid, 1 skipped" in out
    status = json.loads(invoke("status", str(job), "--format", "json")[1])
    assert status["counts"]["reverted"] == 3
    code, out, _ = cli(site, "run", str(job))
    assert code == 0, out
    assert "3 succeeded" in out
    code, out, _ = cli(site, "undo", str(job), "--run")
    assert code == 0, out
    assert "job.undo-2.csv" in out
    assert {mid: stored(site, mid) for mid in IDS[:3]} == original


def test_undo_run_waits_for_no_run_of_the_job(site: SandboxProcess, tmp_path: Path) -> None:
    """A run holding the job's journal keeps undo --run out (exit 3), nothing written."""
    job = lobby_job(tmp_path / "job.csv", 2)
    assert cli(site, "run", str(job))[0] == 0
    with Journal.open_for_run(tmp_path / "job.csv.journal"):
        code, _, err = cli(site, "undo", str(job), "--run")
    assert code == 3, err
    assert not (tmp_path / "job.undo.csv").exists()


def test_undo_reverts_rows_since_removed_from_a_forced_job(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """Rows moved or deleted in a changed job keep their outcome; undo still reverts them."""
    original = {mid: stored(site, mid) for mid in IDS[:4]}
    rows = [{"meetingId": IDS[i], "title": f"T{i}"} for i in range(3)]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli(site, "run", str(job))[0] == 0
    write_job(job, [{"meetingId": IDS[3], "title": "T3"}, rows[0], rows[2]])
    code, out, _ = cli(site, "run", str(job), "--force")
    assert code == 0, out
    assert "this run  1 row in" in out
    assert cli(site, "undo", str(job), "--run")[0] == 0
    assert {mid: stored(site, mid) for mid in IDS[:4]} == original


def test_undo_expects_what_a_row_sent_again_after_an_edited_one_set(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A meeting's first row edited under --force, its done second row sent again after it:
    undo expects the second row's value (the last one set), not a conflict, and reverts it."""
    original = stored(site, IDS[6])
    rows = [{"meetingId": IDS[6], "title": "A"}, {"meetingId": IDS[6], "title": "B"}]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli(site, "run", str(job))[0] == 0
    write_job(job, [{"meetingId": IDS[6], "title": "A2"}, rows[1]])
    assert cli(site, "run", str(job), "--force")[0] == 0
    assert stored(site, IDS[6])["title"] == "B"
    code, out, err = cli(site, "undo", str(job), "--run")
    assert code == 0, out + err
    assert stored(site, IDS[6]) == original


def test_the_text_plan_ends_with_the_run_that_reads_the_job_as_it_did(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A semicolon job's plan names the next command with its --delimiter."""
    job = tmp_path / "saved by excel.csv"
    job.write_text(f"meetingId;title\n{IDS[20]};Review, part 2\n")
    code, out, _ = cli(site, "plan", str(job), "--delimiter", ";")
    assert code == 0, out
    assert "1 change" in out
    assert out.rstrip().endswith(f"next      bulkpatch run '{job}' --delimiter ';'")


def test_the_run_a_plan_names_uses_its_journal_and_target(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A plan given --journal, --base-url, --max-rate and --force names a run with each of
    them; that command, run as printed, sends the planned change without reading the meeting
    again (it used to name the job alone: that run kept another journal and read again)."""
    job = tmp_path / "job.csv"
    job.write_text(f"meetingId,title\n{IDS[21]},Planned\n")
    journal = tmp_path / "kept apart.journal"
    assert cli(site, "run", str(job), "--journal", str(journal), "--dry-run")[0] == 0
    job.write_text(f"meetingId,title\n{IDS[21]},Planned again\n")  # --force is needed now
    plan = ["plan", str(job), "--journal", str(journal), "--base-url", site.api_url]
    code, out, err = cli(site, *plan, "--max-rate", "50", "--force")
    assert code == 0, out + err
    next_line = out.rstrip().splitlines()[-1].split("next", 1)[1].strip()
    command = shlex.split(next_line)
    assert command[:3] == ["bulkpatch", "run", str(job)]
    for option in ("--journal", "--base-url", "--max-rate", "--force"):
        assert option in command
    assert command[command.index("--max-rate") + 1] == "50"  # as typed, not 50.0
    before_run = site.stats()["requests"]
    code, out, err = cli(site, *command[1:])
    assert code == 0, out + err
    requests = site.stats()["requests"]
    # The plan's read stands: the token's person (binding the journal), then the PATCH alone.
    assert requests["GET 200"] == before_run["GET 200"] + 1
    assert requests["PATCH 200"] == before_run.get("PATCH 200", 0) + 1
    assert stored(site, IDS[21])["title"] == "Planned again"


def test_plan_shows_a_done_row_below_an_inserted_one_as_sent_again(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """plan --force after a row is inserted above a done row of its meeting: the done row is a
    change a run sends again after it (file order), and the requests count both PATCHes."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[5], "title": "B"}])
    assert cli(site, "run", str(job))[0] == 0
    job.write_text(f"meetingId,title\n{IDS[5]},B2\n{IDS[5]},B\n")
    code, out, err = cli(site, "plan", str(job), "--force", "--format", "json")
    assert code == 0, out + err
    report = json.loads(out)
    rows = {row["line"]: row for row in report["rows"]}
    assert rows[2]["class"] == rows[3]["class"] == "change"
    assert "sent again after line 2" in rows[3]["reason"]
    assert report["patches"] == 2
    code, out, err = cli(site, "run", str(job))
    assert code == 0, out + err
    assert stored(site, IDS[5])["title"] == "B"


@pytest.mark.parametrize("journal", ["my j/lob $HOME.journal", "-dash.journal"])
def test_the_summarys_next_command_pastes_as_printed(
    site: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal: str
) -> None:
    """A journal named with a space and a `$`, or starting with `-`: the summary's `next`
    command, split as a shell splits it, exports that journal (it printed the bare path,
    which split at the space, expanded `$HOME`, or read as an option)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my j").mkdir()
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[22], "title": "Pasted"}])
    code, out, err = cli(site, "run", str(job), f"--journal={journal}")
    assert code == 0, out + err
    command = shlex.split(out.rstrip().splitlines()[-1].split("next", 1)[1])
    assert command[:2] == ["bulkpatch", "export"]
    code, out, err = cli(site, *command[1:])
    assert code == 0, out + err
    assert (tmp_path / "job.results.csv").read_text().count(IDS[22]) == 1


def _sent(before: dict[str, int], after: dict[str, int], method: str) -> int:
    """Requests of this method the sandbox answered between two of its stats."""
    return sum(n - before.get(key, 0) for key, n in after.items() if key.startswith(f"{method} "))


def test_a_plan_announces_the_requests_the_run_after_it_sends(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """The PATCH requests and GETs a plan announces are those the sandbox counts for the run
    right after: the token's person (GET /v1/people/me) included, and the rows a run reads
    again (found set, a later row of a meeting, offsets, gone) or still sends (refused)."""
    patch_directly(site, IDS[0], {"title": "Already"})
    rows = [
        {"meetingId": IDS[0], "title": "Already"},  # unchanged: read again, skipped
        {"meetingId": IDS[1], "title": "Changed"},  # change: PATCH alone
        {"meetingId": IDS[2], "title": "First"},  # change ...
        {"meetingId": IDS[2], "agenda": "Then"},  # ... and a later row of it: read again
        {"meetingId": IDS[3], "shift": "+1d"},  # offsets: read again, then PATCH
        {"meetingId": "f" * 32, "title": "Gone"},  # gone: read again (404), no PATCH
        {"meetingId": IDS[30], "title": "Ended"},  # refused: the run sends it (400)
    ]
    job = write_job(tmp_path / "job.csv", rows)
    code, out, err = cli(site, "plan", str(job), "--format", "json")
    assert code == 0, out + err
    plan = json.loads(out)
    before = site.stats()["requests"]
    code, out, err = cli(site, "run", str(job))
    assert code == 1, out + err  # the gone and ended rows fail
    after = site.stats()["requests"]
    assert (plan["patches"], plan["reads"]) == (
        _sent(before, after, "PATCH"),
        _sent(before, after, "GET"),
    )
    assert (plan["patches"], plan["reads"]) == (5, 5)
    assert f"{plan['patches'] + plan['reads']} requests" in out


def test_plan_and_summaries_count_in_words(site: SandboxProcess, tmp_path: Path) -> None:
    """One of a thing is said in the singular (`1 PATCH request`, `1 GET`, `1 row`,
    `1 meeting`), and a plan that takes less than a second says so (not `about 0 s`)."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[25], "title": "One"}])
    code, planned, err = cli(site, "plan", str(job))
    assert code == 0, planned + err
    assert "would send 1 PATCH request and 1 GET (one is GET /v1/people/me" in planned
    assert "under a second at 1000/s" in planned
    code, ran, err = cli(site, "run", str(job))
    assert code == 0, ran + err
    assert "this run  1 row in " in ran
    assert ", 2 requests, 0 retries, 0 answered 429" in ran
    code, undone, err = cli(site, "undo", str(job))
    assert code == 0, undone + err
    assert "Undo of 1 meeting written to" in undone
    for said in (planned, ran, undone):
        assert not re.search(r"(?<![\d.,])1 (PATCH requests|GETs|rows|requests|meetings)\b", said)


def test_a_plan_stopped_before_its_first_read_says_why_and_counts_nothing(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A token the API refuses stops the plan at its first request: it says so, with what to
    do, and neither claims rows done nor counts what a run would send (it said "no row to
    plan", every row done, and "stopped auth: ")."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "x"}])
    code, out, _ = invoke_on(site, "plan", str(job), token="refused-token")
    assert code == 3
    assert "job.csv: stopped before a row was read" in out
    assert "stopped: the access token was refused (401)" in out
    assert "would send" not in out
    assert "done " not in out


def test_undo_waits_for_the_run_that_holds_the_journal(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """undo while a run holds the journal writes nothing and says so (exit 3): it wrote the
    inverse of half the run, which then blocked the undo after the run."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[2], "title": "Held"}])
    assert cli(site, "run", str(job))[0] == 0
    with Journal.open_for_run(tmp_path / "job.csv.journal"):
        code, _, err = cli(site, "undo", str(job))
    assert code == 3
    assert "is held by a run right now" in err
    assert not (tmp_path / "job.undo.csv").exists()
    assert cli(site, "undo", str(job))[0] == 0


def test_a_run_started_while_undo_reads_the_journal_is_refused(
    site: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started (another process) while undo reads the journal, before the inverse job is
    written, is refused, exit 3, naming the undo: it took the journal and moved its rows under
    the undo's reading. Once the undo has ended, the run goes."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[5], "title": "Read"}])
    assert cli(site, "run", str(job))[0] == 0
    runs: list[subprocess.CompletedProcess[str]] = []
    reading = undo_workflow.inverse_of

    def run_meanwhile(journal: Journal, now: datetime) -> Inverse:
        runs.append(run_in_process_of_its_own(site, job))
        return reading(journal, now)

    monkeypatch.setattr("bulkpatch.cli.undo.inverse_of", run_meanwhile)
    code, out, err = cli(site, "undo", str(job))
    assert code == 0, out + err
    assert (tmp_path / "job.undo.csv").exists()
    [meanwhile] = runs
    assert meanwhile.returncode == 3, meanwhile.stderr
    assert "is in use by another process reading it (an undo" in meanwhile.stderr
    assert run_in_process_of_its_own(site, job).returncode == 0


def run_in_process_of_its_own(
    sandbox: SandboxProcess, job: Path
) -> subprocess.CompletedProcess[str]:
    """`bulkpatch run JOB` in another process (a lock held in this one is another holder)."""
    return subprocess.run(
        [sys.executable, "-m", "bulkpatch", "run", str(job), "--base-url", sandbox.api_url],
        env={**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "word"),
    [(50.0, "50"), (16.6666667, "16.6666667"), (1234567.0, "1234567"), (0.12345678, "0.12345678")],
)
def test_the_run_a_plan_names_keeps_the_ceiling_as_given(value: float, word: str) -> None:
    """--max-rate goes into the printed run as given (it kept 6 digits: 16.6667, 1.23457e+06)."""
    assert plan_cli._shell_word(value) == word


def test_an_undo_file_moved_aside_without_its_journal_makes_way(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """An inverse job that got a journal (planned), then stopped matching the run (the job
    edited and run with --force), is moved aside as undo says: the next undo --run writes and
    runs job.undo-2.csv (it stopped on the stale journal, --force or not)."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[3], "title": "First"}])
    assert cli(site, "run", str(job))[0] == 0
    assert cli(site, "undo", str(job))[0] == 0
    undo_file = tmp_path / "job.undo.csv"
    assert cli(site, "plan", str(undo_file))[0] == 0  # the inverse job gets a journal
    write_job(
        job, [{"meetingId": IDS[3], "title": "First"}, {"meetingId": IDS[4], "title": "Second"}]
    )
    assert cli(site, "run", str(job), "--force")[0] == 0
    code, _, err = cli(site, "undo", str(job), "--run")
    assert code == 2
    assert "move it aside" in err
    undo_file.rename(tmp_path / "aside.csv")
    code, out, err = cli(site, "undo", str(job), "--run")
    assert code == 0, out + err
    assert (tmp_path / "job.undo-2.csv").exists()
    assert stored(site, IDS[4])["title"] == MEETINGS[4]["title"]
