"""Hostile trial 3: undo, relative reschedules, --force, org binding, outputs (the real CLI).

Every test here is a bad result an attack found, written as the behaviour the contract asks
for; each failed until its fix.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cli_helpers import (
    change_directly,
    invoke,
    seeded_sandbox,
    series_in_three_days,
    stored,
    write_job,
)
from hostile import Answer, HostileServer, webex_error

from bulkpatch.sandbox.process import SandboxProcess
from bulkpatch.workflows.undo import NotRevertible, _Meeting

TOKEN = "attack3-admin-token"
NOW = datetime.now(UTC)
FAST = {"BULKPATCH_BACKOFF_BASE": "0", "BULKPATCH_BACKOFF_CAP": "0", "BULKPATCH_MAX_RATE": "1000"}


def meeting(meeting_id: str, **fields: Any) -> dict[str, Any]:
    return series_in_three_days(meeting_id, **fields)


IDS = [f"{index:04d}".ljust(32, "a") for index in range(20)]
MEETINGS = [meeting(meeting_id) for meeting_id in IDS]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox process holding MEETINGS (patchable series three days ahead)."""
    process = seeded_sandbox(tmp_path, MEETINGS, TOKEN)
    yield process
    process.stop()


def cli(sandbox: SandboxProcess | None, *args: str, token: str = TOKEN) -> tuple[int, str, str]:
    """The CLI in-process, against ``sandbox`` when given."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAST.items():
            patch.setenv(key, value)
        if sandbox is not None:
            patch.setenv("BULKPATCH_BASE_URL", sandbox.api_url)
        return invoke(*args, token=token)


# --- a tiny well-behaved API for the hostile server ---------------------------------------


class TitleSite:
    """Meetings that each hold a title: GET returns it, PATCH sets it."""

    def __init__(self) -> None:
        self.titles: dict[str, str] = {}

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/v1/people/me":
            return web.json_response(webex_error("forbidden"), status=403)
        meeting_id = request.path.rsplit("/", 1)[-1]
        if request.method == "PATCH":
            body = json.loads(await request.read())
            self.titles[meeting_id] = body.get("title", self.titles.get(meeting_id, "old"))
        return web.json_response({"id": meeting_id, "title": self.titles.get(meeting_id, "old")})


def patches(server: HostileServer) -> int:
    return sum(1 for r in server.received if r.method == "PATCH")


# --- organisation binding ------------------------------------------------------------------


def test_a_bound_journal_is_not_resumed_by_a_token_whose_org_cannot_be_read(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A journal bound to org A, resumed with a token whose GET people/me fails (403), must
    not count org A's rows as done for it: refused (exit 2) rather than exit 0 with nothing."""
    titles = TitleSite()
    server = hostile(titles.answer)
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": "new"}])
    code, _, _ = cli(None, "run", str(job), "--base-url", server.api_url)
    assert code == 0
    server.org_id = None  # people/me now answers 403: the token's organisation is unknown
    code, out, err = cli(None, "run", str(job), "--base-url", server.api_url)
    assert code == 2, out + err


def test_undo_run_refuses_a_token_of_another_organisation(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """undo --run of a journal bound to org A, with a token of org B, sends nothing (exit 2),
    as a resume of the run itself would."""
    titles = TitleSite()
    server = hostile(titles.answer)
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": "new"}])
    assert cli(None, "run", str(job), "--base-url", server.api_url)[0] == 0
    server.org_id = "another-org"
    sent = patches(server)
    code, out, err = cli(None, "undo", str(job), "--run", "--no-progress")
    assert code == 2, out + err
    assert patches(server) == sent
    assert titles.titles["m1"] == "new"


# --- undo outputs --------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["job.csv.journal", "binary.csv"])
def test_undo_output_onto_a_journal_or_binary_file_is_a_clear_refusal(
    site: SandboxProcess, tmp_path: Path, target: str
) -> None:
    """undo -o naming the journal (or any file that is not UTF-8 text) is refused with exit 2
    and a message naming it, never an internal error with exit 3 ("continue it")."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "new"}])
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00binary")
    code, out, err = cli(site, "undo", str(job), "-o", str(tmp_path / target))
    assert code == 2, out + err
    assert "internal error" not in err
    assert target in err


def test_undo_output_onto_a_named_pipe_is_refused_without_opening_it(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """undo -o FIFO is refused as a named pipe, as export's -o is, without reading it (with no
    writer, reading it blocks the command for ever)."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "new"}])
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    fifo = tmp_path / "undo.csv"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:  # unblocks only if the command opens the pipe to read it
        try:
            with fifo.open("w") as handle:
                opened.set()
                handle.write("x")
        except BrokenPipeError:
            pass  # released by the test's own reader, gone before the byte

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    code, out, err = cli(site, "undo", str(job), "-o", str(fifo))
    was_opened = opened.is_set()
    # Release the writer: a reader held open until it has written (one opened and closed at
    # once can be gone before the writer wakes, which then waits for the next reader).
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    thread.join(30)
    os.close(reader)
    assert not was_opened
    assert code == 2, out + err
    assert "named pipe" in err


# --- relative reschedules ------------------------------------------------------------------


def test_force_after_editing_another_cell_of_a_shift_row_never_shifts_twice(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """A finished shift row whose title cell is filled in later (run --force) sends the title,
    and the meeting stays moved once: the same journal never moves a meeting twice."""
    before = datetime.fromisoformat(stored(site, IDS[1])["start"])
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[1], "shift": "+1h", "title": ""}])
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    write_job(job, [{"meetingId": IDS[1], "shift": "+1h", "title": "Fixed title"}])
    code, out, err = cli(site, "run", str(job), "--force", "--no-progress")
    assert code == 0, out + err
    now = stored(site, IDS[1])
    assert now["title"] == "Fixed title"
    assert datetime.fromisoformat(now["start"]) == before + timedelta(hours=1)


# --- sandbox trials and real runs sharing files ---------------------------------------------


def test_a_sandbox_trials_undo_never_stands_in_for_the_real_runs(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """undo of a --sandbox trial must not take the real run's undo file: after a trial, its
    undo, then the real run, `undo JOB` writes the real inverse (the site's own values), not a
    refusal whose advice (`bulkpatch run JOB.undo.csv`) would write the emulator's invented
    values onto the real meetings."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[2], "title": "new"}])
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("BULKPATCH_BASE_URL", raising=False)
        assert cli(None, "run", str(job), "--sandbox", "--no-progress")[0] == 0
        code, out, _ = cli(None, "undo", str(job))
        assert code == 0
        assert "--run" not in out  # the trial's sandbox is gone: no next step can reach it
        assert "in-process sandbox is gone" in out
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    code, out, err = cli(site, "undo", str(job))
    assert code == 0, out + err
    real_undo = [p for p in tmp_path.glob("job.undo*.csv") if "Sync 0002" in p.read_text()]
    assert real_undo, "no undo file holds the real meeting's title from before"


# --- run --force after editing the job --------------------------------------------------------


def test_force_keeps_file_order_for_rows_of_one_meeting(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """Rows of one meeting are applied in file order: after inserting a row above a done row of
    the same meeting and running --force, the meeting holds the last row's value, as the
    summary's "every row succeeded" says (not the inserted row's)."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[3], "title": "B"}])
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    job.write_text(f"meetingId,title\n{IDS[3]},B2\n{IDS[3]},B\n")
    code, out, err = cli(site, "run", str(job), "--force", "--no-progress")
    assert code == 0, out + err
    assert stored(site, IDS[3])["title"] == "B"


# --- undo and rows that the server refused ---------------------------------------------------


def test_a_row_the_server_refused_is_not_taken_for_what_bulkpatch_set(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """Row 1 sets title A (200), row 2 of the same meeting title B with a value the server
    refuses (400, nothing changed): undo --run reverts the title to its value from before,
    rather than a conflict claiming "bulkpatch set 'B'"."""
    rows = [
        {"meetingId": IDS[4], "title": "A", "joinBeforeHostMinutes": ""},
        {"meetingId": IDS[4], "title": "B", "joinBeforeHostMinutes": "30"},  # webinars only
    ]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli(site, "run", str(job), "--no-progress")[0] == 1
    assert stored(site, IDS[4])["title"] == "A"
    code, out, err = cli(site, "undo", str(job), "--run", "--no-progress")
    assert "bulkpatch set 'B'" not in out + err
    assert code == 0, out + err
    assert stored(site, IDS[4])["title"] == "Sync 0004"


# --- relative reschedules across a DST change --------------------------------------------------


def _spring_forward_eve() -> datetime:
    """Local midnight (Berlin, naive) of the day before the next spring-forward, >= 2 days out."""
    from test_relative import next_spring_forward

    return next_spring_forward(NOW + timedelta(days=2)) - timedelta(days=1)


@pytest.fixture
def berlin_site(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox with one Berlin series at 02:30-03:30 the day before the clocks go forward."""
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    start = _spring_forward_eve().replace(hour=2, minute=30, tzinfo=berlin)
    series = meeting(
        "berlin".ljust(32, "b"),
        timezone="Europe/Berlin",
        start=start.isoformat(),
        end=(start + timedelta(hours=1)).isoformat(),
    )
    snapshot = tmp_path / "berlin.snapshot.jsonl"
    snapshot.write_text(json.dumps(series) + "\n")
    process = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(snapshot))
    yield process
    process.stop()


def test_a_day_shift_onto_a_time_the_clocks_skip_names_that(
    berlin_site: SandboxProcess, tmp_path: Path
) -> None:
    """shift +1d of a 02:30-03:30 Berlin meeting onto the spring-forward day (02:30 does not
    exist there) fails its row naming the time that does not exist, as validate does for such
    a local time; not "start must be before end" of a meeting an hour long."""
    meeting_id = "berlin".ljust(32, "b")
    job = write_job(tmp_path / "job.csv", [{"meetingId": meeting_id, "shift": "+1d"}])
    code, _, _ = cli(berlin_site, "run", str(job), "--no-progress")
    assert code == 1
    _, exported, _ = cli(None, "export", str(job), "--format", "jsonl")
    error = json.loads(exported.splitlines()[0])["error"]
    assert "start must be before end" not in error
    assert "exist" in error


# --- a server quoting the token in a meeting's values ---------------------------------------


async def _token_echo(request: web.Request) -> web.StreamResponse:
    """A meeting whose title and agenda quote the request's Authorization header."""
    meeting_id = request.path.rsplit("/", 1)[-1]
    auth = request.headers.get("Authorization", "")
    if request.method == "PATCH":
        body = json.loads(await request.read())
        return web.json_response({"id": meeting_id, "title": body.get("title"), "agenda": auth})
    return web.json_response({"id": meeting_id, "title": f"stolen {auth}", "agenda": auth})


def test_a_token_quoted_in_meeting_values_reaches_no_file_or_output(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A server that puts the access token into the meeting it returns (title, agenda) must not
    get it into plan's output, the journal's before-values or the undo file (SPEC 8: a secret
    quoted back by a server is masked before it reaches the journal)."""
    token = "attack3-secret-token-value"
    server = hostile(_token_echo)
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": "new", "agenda": "a"}])
    outputs: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BULKPATCH_BASE_URL", server.api_url)
        for args in (["plan", str(job)], ["run", str(job), "--no-progress"], ["undo", str(job)]):
            code, out, err = cli(None, *args, token=token)
            assert code == 0, out + err
            outputs.append(out + err)
    assert "quoted a secret" in outputs[2]  # undo cannot give such a value back: it says so
    leaks = [text for text in outputs if token in text]
    leaks += [
        p.name for p in tmp_path.iterdir() if p.is_file() and token.encode() in p.read_bytes()
    ]
    assert leaks == []


async def _listing_with_token(request: web.Request) -> web.StreamResponse:
    """List Meetings whose one meeting quotes the request's Authorization header."""
    auth = request.headers.get("Authorization", "")
    item = {
        "id": "m1",
        "title": f"t {auth}",
        "agenda": auth,
        "meetingType": "meetingSeries",
        "state": "active",
        "start": (NOW + timedelta(days=30)).strftime("%Y-%m-%dT%H:00:00Z"),
        "end": (NOW + timedelta(days=30, hours=1)).strftime("%Y-%m-%dT%H:00:00Z"),
        "hostEmail": "a@example.com",
    }
    return web.json_response({"items": [item] if request.path == "/v1/meetings" else []})


def test_pull_writes_no_token_a_server_quoted(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A listing whose meetings quote the access token must not get it into the pulled job or
    its snapshot (the job, run as is, would even send it to the site as a title)."""
    token = "attack3-pull-secret-token"
    server = hostile(_listing_with_token)
    job = tmp_path / "p.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BULKPATCH_BASE_URL", server.api_url)
        code, out, err = cli(
            None, "pull", "-o", str(job), "--fields", "title,agenda", "--no-progress", token=token
        )
    assert code == 0, out + err
    assert [p.name for p in tmp_path.iterdir() if token.encode() in p.read_bytes()] == []


# --- export --as-job --------------------------------------------------------------------------


def test_as_job_never_writes_a_job_that_its_own_name_cannot_read(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """export --only failed --as-job -o failed.jsonl of a CSV job either refuses (exit 2) or
    writes a job that validates: not CSV text under a .jsonl name, every line invalid."""
    rows = [{"meetingId": IDS[5], "title": "ok"}, {"meetingId": "f" * 32, "title": "gone"}]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli(site, "run", str(job), "--no-progress")[0] == 1
    failed = tmp_path / "failed.jsonl"
    code, out, err = cli(
        None,
        "export",
        str(job),
        "--only",
        "failed",
        "--as-job",
        "--format",
        "jsonl",
        "-o",
        str(failed),
    )
    if code == 0:
        assert cli(None, "validate", str(failed))[0] == 0
    else:
        assert code == 2, out + err


# --- undo of values the offline rules would not take ---------------------------------------


@pytest.fixture
def odd_site(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox holding a meeting whose title (150 chars) breaks an offline rule, and IDS[0]."""
    snapshot = tmp_path / "odd.snapshot.jsonl"
    odd = meeting("long".ljust(32, "l"), title="T" * 150)
    snapshot.write_text(json.dumps(odd) + "\n" + json.dumps(MEETINGS[0]) + "\n")
    process = SandboxProcess.start("--quiet", "--token", TOKEN, "--seed", str(snapshot))
    yield process
    process.stop()


def test_one_old_value_outside_the_rules_does_not_block_the_rest_of_the_undo(
    odd_site: SandboxProcess, tmp_path: Path
) -> None:
    """A meeting that held a value the offline rules refuse (a 150-character title) before the
    run is listed as not revertible; the other meetings are reverted by undo --run, rather than
    the whole undo refused (exit 2) over an inverse job that does not validate."""
    odd_id = "long".ljust(32, "l")
    rows = [{"meetingId": odd_id, "title": "short"}, {"meetingId": IDS[0], "title": "new"}]
    job = write_job(tmp_path / "job.csv", rows)
    assert cli(odd_site, "run", str(job), "--no-progress")[0] == 0
    code, out, err = cli(odd_site, "undo", str(job), "--run", "--no-progress")
    assert stored(odd_site, IDS[0])["title"] == "Sync 0000", out + err
    assert code in (0, 1)


# --- side files that are not what they should be ----------------------------------------------


@pytest.mark.parametrize("option", ["--config", "--hosts-file"])
def test_a_side_file_that_is_not_utf8_is_a_usage_error(
    site: SandboxProcess, tmp_path: Path, option: str
) -> None:
    """A --config or --hosts-file that is not UTF-8 text is named as such with exit 2 (nothing
    done), not an "unexpected internal error (UnicodeDecodeError)" with exit 3, which says
    "the same command continues it"."""
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00 not text\n")
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "x"}])
    if option == "--config":
        args = ["validate", str(job), "--config", str(bad)]
    else:
        args = ["pull", "-o", str(tmp_path / "p.csv"), "--hosts-file", str(bad), "--no-progress"]
    code, out, err = cli(site, *args)
    assert "internal error" not in err
    assert code == 2, out + err


@pytest.mark.parametrize(
    "content",
    [b'{"access_token":5}', b"[1,2]", b"\xff\xfe\n"],
    ids=["number", "json-array", "not-utf8"],
)
def test_a_token_file_without_a_token_is_refused_before_anything_is_sent(
    site: SandboxProcess, tmp_path: Path, content: bytes
) -> None:
    """A token file whose access_token is not a string, that is a JSON array, or that is not
    text, is refused (exit 2) before any request, as a non-string refresh_token is; not sent
    as "Bearer 5" and answered 401 (exit 3, "continue it")."""
    token_file = tmp_path / "token.json"
    token_file.write_bytes(content)
    token_file.chmod(0o600)
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[0], "title": "x"}])
    before = site.stats()["requests"]
    code, out, err = cli(site, "run", str(job), "--token-file", str(token_file), "--no-progress")
    assert code == 2, out + err
    assert site.stats()["requests"] == before


# --- what undo tells the user to do -------------------------------------------------------------


def _patch_directly(sandbox: SandboxProcess, meeting_id: str, body: dict[str, Any]) -> None:
    change_directly(sandbox, meeting_id, body, TOKEN)


def test_following_undos_advice_never_reverts_a_meeting_edited_since(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """An undo preview written before the job grew (run --force) is stale; `undo --run` refuses
    it without advising a plain `bulkpatch run` of it (no drift guard there); moved aside as
    the refusal says, undo --run leaves the meeting someone edited since bulkpatch changed it."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[6], "title": "new6"}])
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    assert cli(site, "undo", str(job))[0] == 0  # a preview, never run
    write_job(job, [{"meetingId": IDS[6], "title": "new6"}, {"meetingId": IDS[7], "title": "n7"}])
    assert cli(site, "run", str(job), "--force", "--no-progress")[0] == 0
    _patch_directly(site, IDS[6], {"title": "Human"})
    code, out, err = cli(site, "undo", str(job), "--run", "--no-progress")
    assert code == 2, out + err
    assert "bulkpatch run" not in err  # a plain run of the stale file has no drift guard
    (tmp_path / "job.undo.csv").rename(tmp_path / "stale.csv")  # as the refusal says
    code, out, err = cli(site, "undo", str(job), "--run", "--no-progress")
    assert code == 1, out + err  # the edited meeting is a conflict
    assert stored(site, IDS[6])["title"] == "Human"
    assert stored(site, IDS[7])["title"] == "Sync 0007"


def test_undo_output_is_written_in_the_format_its_name_says(
    site: SandboxProcess, tmp_path: Path
) -> None:
    """undo -o inverse.jsonl of a CSV job either refuses (exit 2) or writes JSON Lines that
    validate, so that `undo -o inverse.jsonl --run` can run it."""
    job = write_job(tmp_path / "job.csv", [{"meetingId": IDS[8], "title": "new"}])
    assert cli(site, "run", str(job), "--no-progress")[0] == 0
    inverse = tmp_path / "inverse.jsonl"
    code, out, err = cli(site, "undo", str(job), "-o", str(inverse))
    if code == 0:
        assert cli(None, "validate", str(inverse))[0] == 0, inverse.read_text()
    else:
        assert code == 2, out + err


# --- advice that does not work as printed ---------------------------------------------------------


def test_validates_next_step_for_a_semicolon_file_reads_it(tmp_path: Path) -> None:
    """validate --delimiter ';' ends with the command to run next; that command, as printed,
    must read the file (it needs the same --delimiter)."""
    job = tmp_path / "job.csv"
    job.write_text(f"meetingId;title\n{IDS[9]};x\n")
    code, out, _ = cli(None, "validate", str(job), "--delimiter", ";")
    assert code == 0
    advised = shlex.split(out.rsplit("Next: ", 1)[1].strip())
    assert advised[:2] == ["bulkpatch", "run"]
    code, out, err = cli(None, "validate", *advised[2:])
    assert code == 0, out + err


@pytest.mark.parametrize(
    "odd",
    [
        {"trackingCodes": [{"name": "", "value": "x"}]},
        {"integrationTags": ["t" * 80]},
        {"meetingOptions.enabledChat": "maybe"},
    ],
)
def test_an_old_value_refused_inside_a_field_keeps_only_that_field_back(
    odd: dict[str, Any],
) -> None:
    """An old value the rules refuse at a path inside its field (trackingCodes[0].name) leaves
    out that field alone: the meeting's other old values still go back."""
    meeting = _Meeting("odd".ljust(32, "o"))
    flat = {**odd, "agenda": "old agenda"}
    skipped: list[NotRevertible] = []
    meeting._keep_what_validates(flat, datetime.now(UTC), skipped)
    assert flat == {"agenda": "old agenda"}
    assert [s.path for s in skipped] == list(odd)
