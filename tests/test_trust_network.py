"""The hostile trial, part B: what a server sends cannot steer bulkpatch (the real CLI)."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from cli_helpers import invoke, titles_job, write_job
from hostile import Answer, HostileServer, always, webex_error

from bulkpatch.journal import FOLLOWER_MOVED, Journal, RowStatus

FAST = {"BULKPATCH_BACKOFF_BASE": "0", "BULKPATCH_BACKOFF_CAP": "0"}


def run_against(
    server_url: str, job: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    args = ["run", str(job), "--base-url", server_url, "--concurrency", "2", *extra]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**FAST, **(env or {})}.items():
            patch.setenv(key, value)
        return invoke(*args)


def statuses(journal: Path) -> dict[RowStatus, int]:
    with Journal.open_read_only(journal) as opened:
        return opened.counts()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_stops_the_run_and_is_never_followed(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, status: int
) -> None:
    """A 3xx means the base URL is wrong: exit 3 naming the Location, rows pending, and the
    other host never sees the PATCH or the token."""
    elsewhere = hostile(always(200, {}))
    server = hostile(always(status, headers={"Location": f"{elsewhere.url}/v1/people/me"}))
    job = titles_job(tmp_path / "job.csv", 5)
    code, out, _ = run_against(server.api_url, job)
    assert code == 3
    assert "redirect" in out
    assert f"pointing to {elsewhere.url}/v1/people/me" in out
    assert elsewhere.received == []
    counts = statuses(tmp_path / "job.csv.journal")
    assert (counts[RowStatus.PENDING], counts[RowStatus.SUCCEEDED]) == (5, 0)


def test_a_huge_reply_is_not_read_past_the_cap(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A 200 that never ends is read up to 1 MiB and left: the row succeeded, memory stays."""
    finished: list[bool] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            for _ in range(400):  # 400 x 256 KiB = 100 MiB
                await response.write(b" " * (256 * 1024))
            finished.append(True)
        except (ConnectionError, RuntimeError):
            finished.append(False)
        return response

    server = hostile(endless)
    job = titles_job(tmp_path / "job.csv", 1)
    code, out, _ = run_against(server.api_url, job, "--no-snapshot")
    assert code == 0, out
    assert finished == [False]  # the client hung up long before the end


def test_a_gzip_bomb_is_not_inflated(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A small gzip answer that would inflate to 64 MiB is decompressed at most to the cap."""
    bomb = gzip.compress(b"{" + b" " * (64 << 20), compresslevel=9)

    async def answer(_: web.Request) -> web.StreamResponse:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(status=400, body=bomb, headers=headers)

    server = hostile(answer)
    job = titles_job(tmp_path / "job.csv", 1)
    code, _, _ = run_against(server.api_url, job)
    assert code == 1
    exported = json.loads(invoke("export", str(job), "--format", "jsonl")[1])
    assert exported["httpStatus"] == 400
    assert len(exported["error"]) < 100


def test_a_huge_error_message_is_stored_capped(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A 400 whose message is 500 KB is kept to a few thousand characters, logs included."""
    server = hostile(always(400, webex_error("x" * 500_000)))
    job = titles_job(tmp_path / "job.csv", 3)
    code, _out, err = run_against(server.api_url, job, "--log-format", "json")
    assert code == 1
    assert (tmp_path / "job.csv.journal").stat().st_size < 200_000
    assert len(err) < 50_000
    exported = json.loads(invoke("export", str(job), "--format", "jsonl")[1].splitlines()[0])
    assert "500,000 characters in all" in exported["error"]


@pytest.mark.parametrize(
    "retry_after", ["86400", "1e12", "Fri, 31 Dec 9999 23:59:59 GMT"], ids=["day", "1e12", "9999"]
)
def test_a_retry_after_past_the_limit_stops_the_run_without_sleeping(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, retry_after: str
) -> None:
    """Retry-After beyond max_retry_after: exit 3 at once, saying when; the next run against
    the same journal stops too, sending nothing before that moment."""
    server = hostile(always(429, webex_error("slow down"), {"Retry-After": retry_after}))
    job = titles_job(tmp_path / "job.csv", 4)
    code, out, _ = run_against(server.api_url, job, "--concurrency", "1")
    assert code == 3
    assert "more than max_retry_after (900 s)" in out
    assert f"(Retry-After: {retry_after})" in out
    sent = len(server.received)
    assert sent == 1
    code, out, _ = run_against(server.api_url, job)
    assert code == 3
    assert "an earlier run was told to wait until" in out
    capped = retry_after != "86400"  # a wait of years is capped: no made-up date is shown
    assert ("more than ten years from now" in out) is capped
    assert len(server.received) == sent
    assert statuses(tmp_path / "job.csv.journal")[RowStatus.PENDING] == 4


def test_secrets_a_server_quotes_back_are_masked_everywhere(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A server that echoes the token, refresh token and client secret gets them masked in the
    logs, the journal, status and export."""
    token, refresh, secret = "tok-ABCDEF123456", "ref-ABCDEF123456", "sec-ABCDEF123456"
    echo = f"bad request for Bearer {token}; refresh {refresh}; secret {secret}"
    server = hostile(always(400, webex_error(echo), {"trackingid": f"T-{token}"}))
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {
                "access_token": token,
                "refresh_token": refresh,
                "client_id": "cid",
                "client_secret": secret,
            }
        )
    )
    token_file.chmod(0o600)
    job = titles_job(tmp_path / "job.csv", 2)
    code, out, err = run_against(
        server.api_url, job, "--token-file", str(token_file), "-v", "--log-format", "json"
    )
    assert code == 1
    texts = [out, err, invoke("status", str(job))[1]]
    texts += [invoke("export", str(job), "--format", fmt)[1] for fmt in ("csv", "jsonl")]
    joined = "\n".join(texts)
    assert "bad request for Bearer ********" in joined
    data = (tmp_path / "job.csv.journal").read_bytes()
    for value in (token, refresh, secret):
        assert value not in joined
        assert value.encode() not in data


@pytest.mark.parametrize(
    "url",
    ["{api}?x=1#f", "{api}#frag", "http://user:pw@127.0.0.1:1/v1", "http://127.0.0.1:99999/v1"],
)
def test_a_base_url_that_would_steer_requests_is_a_usage_error(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, url: str
) -> None:
    """A query, fragment, user info or bad port in --base-url: exit 2, nothing sent."""
    server = hostile(always(200, {}))
    job = titles_job(tmp_path / "job.csv", 2)
    code, _, err = run_against(url.format(api=server.api_url), job)
    assert code == 2, err
    assert "base URL" in err
    assert server.received == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_host_that_does_not_answer_stops_the_run_rows_pending(tmp_path: Path) -> None:
    """Connection refused again and again: exit 3, every row pending, none failed."""
    job = titles_job(tmp_path / "job.csv", 30)
    code, out, _ = run_against(f"http://127.0.0.1:{closed_port()}/v1", job)
    assert code == 3
    assert "does not answer" in out
    counts = statuses(tmp_path / "job.csv.journal")
    assert (counts[RowStatus.PENDING], counts[RowStatus.FAILED]) == (30, 0)


@pytest.mark.parametrize("attempts", ["1", "2", "5"])
def test_a_row_never_answered_with_one_worker_stops_the_run(tmp_path: Path, attempts: str) -> None:
    """With one worker, the first row's attempts all unanswered: the host is down, not the row,
    however few attempts a row is given (a row is tried three times before it says so)."""
    job = titles_job(tmp_path / "job.csv", 5)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = {"BULKPATCH_MAX_ATTEMPTS": attempts}
    code, _, _ = run_against(url, job, "--concurrency", "1", env=env)
    assert code == 3
    assert statuses(tmp_path / "job.csv.journal")[RowStatus.FAILED] == 0


def test_an_untrusted_certificate_stops_the_run(
    tmp_path: Path, hostile: Callable[[Answer], HostileServer]
) -> None:
    """TLS with a certificate nobody signed: the run stops (exit 3), nothing is sent in clear."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = HostileServer(always(200, {}), ssl_context=context).start()
    try:
        job = titles_job(tmp_path / "job.csv", 12)
        code, out, _ = run_against(server.api_url, job)
    finally:
        server.stop()
    assert code == 3
    assert "certificate" in out
    assert server.received == []
    assert statuses(tmp_path / "job.csv.journal")[RowStatus.PENDING] == 12


def test_a_run_whose_first_rows_all_answer_404_stops(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """The first rows all 404 (wrong site or org): stop after max_initial_404 (exit 3)."""
    server = hostile(always(404, webex_error("The requested resource could not be found.")))
    job = titles_job(tmp_path / "job.csv", 40)
    code, out, _ = run_against(
        server.api_url, job, "--concurrency", "1", env={"BULKPATCH_MAX_INITIAL_404": "5"}
    )
    assert code == 3
    assert "the first 5 rows all answered 404" in out
    assert "--retry-failed" in out
    counts = statuses(tmp_path / "job.csv.journal")
    assert (counts[RowStatus.FAILED], counts[RowStatus.PENDING]) == (5, 35)


def test_escape_sequences_from_a_server_are_shown_neutralised(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A message carrying terminal escape sequences reaches the console made visible."""
    server = hostile(always(400, webex_error("bad \x1b]0;pwned\x07\x1b[2J title")))
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": "x"}])
    code, _out, err = run_against(server.api_url, job, "--log-format", "console")
    assert code == 1
    status = invoke("status", str(job))[1]
    for text in (err, status):
        assert "\x1b" not in text
    assert "bad \\x1b]0;pwned\\x07\\x1b[2J title" in status


def test_a_read_answered_with_another_meeting_changes_nothing(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A GET that returns some other meeting must not pass for this one: the row fails unsent."""
    server = hostile(always(200, {"id": "someone-else", "title": "x"}))
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": "new"}])
    code, _out, _ = run_against(server.api_url, job)
    assert code == 1
    assert [r.method for r in server.received] == ["GET"]
    status = invoke("status", str(job))[1]
    assert "answered the read of m1 with another meeting (someone-else)" in status


async def _meeting_echo(request: web.Request) -> web.StreamResponse:
    """A well-behaved API for one field: every meeting exists and takes any title."""
    meeting_id = request.path.rsplit("/", 1)[-1]
    return web.json_response({"id": meeting_id, "title": "old"})


def test_a_journal_is_bound_to_the_tokens_organisation(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """One base URL serves every organisation: a journal made with one org's token refuses
    another's (exit 2, nothing sent), whose rows it never did."""
    server = hostile(_meeting_echo)
    job = titles_job(tmp_path / "job.csv", 2)
    assert run_against(server.api_url, job)[0] == 0
    server.org_id = "another-org"
    seen = len(server.received)
    code, _, err = run_against(server.api_url, job, "--retry-failed")
    assert code == 2
    assert "records runs for the organisation hostile-org" in err
    assert len(server.received) == seen


def test_undo_run_is_bound_to_the_organisation_of_the_run(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """undo --run with another organisation's token is refused (exit 2) before anything is
    sent, and the run's rows are not marked reverted: they were never taken back there."""
    server = hostile(_meeting_echo)
    job = titles_job(tmp_path / "job.csv", 2)
    assert run_against(server.api_url, job)[0] == 0
    server.org_id = "another-org"
    seen = len(server.received)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAST.items():
            patch.setenv(key, value)
        code, _, err = invoke("undo", str(job), "--run")
    assert code == 2, err
    assert "records runs for the organisation hostile-org" in err
    assert len(server.received) == seen
    assert statuses(tmp_path / "job.csv.journal")[RowStatus.SUCCEEDED] == 2


def _people_me_failing(message: str) -> Answer:
    """The API, but GET /v1/people/me answers 503 with ``message`` every time."""

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path == "/v1/people/me":
            return web.json_response(webex_error(message), status=503)
        return await _meeting_echo(request)

    return answer


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("Service Unavailable", "Service Unavailable; nothing was sent"),
        ("The server is busy, try again later. ", "try again later; nothing was sent"),
    ],
)
def test_a_failing_people_me_stops_before_anything_is_sent(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, message: str, said: str
) -> None:
    """A 5xx from GET /v1/people/me is no answer about the organisation: the run stops (exit 3)
    before a row is sent, rather than going on with the journal bound to no organisation, and
    says so in one sentence whether or not the server's message ends with a period."""
    server = hostile(_people_me_failing(message))
    server.org_id = None
    job = titles_job(tmp_path / "job.csv", 2)
    code, out, err = run_against(server.api_url, job)
    assert code == 3, out + err
    assert "organisation could not be read" in out
    assert said in out
    assert ".;" not in out
    assert [r.method for r in server.received if r.path_qs != "/v1/people/me"] == []


class _FlakyTitles:
    """Meetings that take any title, but refuse (503) title "A" while ``down`` is set."""

    def __init__(self) -> None:
        self.titles: dict[str, str] = {}
        self.down = True

    async def answer(self, request: web.Request) -> web.StreamResponse:
        meeting_id = request.path.rsplit("/", 1)[-1]
        if request.method == "PATCH":
            title = json.loads(await request.read())["title"]
            if title == "A" and self.down:
                return web.json_response(webex_error("Service Unavailable"), status=503)
            self.titles[meeting_id] = title
        return web.json_response({"id": meeting_id, "title": self.titles.get(meeting_id, "old")})


def test_a_retried_row_is_followed_again_by_the_later_rows_of_its_meeting(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """Rows A then B of one meeting: A fails, B succeeds; `--retry-failed` sends A, then B
    again, so the meeting ends as the file's last row says (B), not as the retried row."""
    site = _FlakyTitles()
    server = hostile(site.answer)
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": t} for t in "AB"])
    once = {"BULKPATCH_MAX_ATTEMPTS": "1"}
    code, out, _ = run_against(server.api_url, job, env=once)
    assert code == 1
    assert "again with --retry-failed" in out  # the next step the summary gives
    assert site.titles["m1"] == "B"
    site.down = False
    code, out, err = run_against(server.api_url, job, "--retry-failed", env=once)
    assert code == 0, out + err
    assert site.titles["m1"] == "B"
    assert statuses(tmp_path / "job.csv.journal")[RowStatus.SUCCEEDED] == 2


def plan_against(server_url: str, job: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("plan", str(job), "--base-url", server_url, "--concurrency", "2", *extra)


def test_plan_retry_failed_shows_the_done_rows_a_retry_sends_again(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """Rows A then B of one meeting, A failed and B done: `plan --retry-failed` lists B as sent
    again after A (the meeting holds B already, so it looked like nothing to do), and changes
    neither the journal nor the meeting."""
    site = _FlakyTitles()
    server = hostile(site.answer)
    job = write_job(tmp_path / "job.csv", [{"meetingId": "m1", "title": t} for t in "AB"])
    assert run_against(server.api_url, job, env={"BULKPATCH_MAX_ATTEMPTS": "1"})[0] == 1
    journal = tmp_path / "job.csv.journal"
    before = statuses(journal)
    code, out, err = plan_against(server.api_url, job, "--retry-failed")
    assert code == 0, out + err
    assert "line 2" in out
    assert "line 3" in out
    row_b = next(line for line in out.splitlines() if line.startswith("line 3"))
    assert "change" in row_b
    assert "sent again after line 2" in row_b
    assert "2 change" in out
    assert out.rstrip().endswith("--retry-failed")  # the run that does what the plan shows
    document = json.loads(
        plan_against(server.api_url, job, "--retry-failed", "--format", "json")[1]
    )
    # Both rows sent as before, unread; the one GET is the token's person (GET /v1/people/me).
    assert (document["patches"], document["reads"]) == (2, 1)
    assert statuses(journal) == before
    assert site.titles["m1"] == "B"
    without = plan_against(server.api_url, job)[1]
    assert "line 3" not in without  # only a retry sends B again


class _FlakyMove:
    """One meeting with times; a PATCH moving it to ``refused_start`` fails (503)."""

    def __init__(self, start: datetime) -> None:
        self.meeting = {
            "id": "m1",
            "title": "t",
            "timezone": "UTC",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        }
        self.refused_start = (start + timedelta(days=1)).isoformat()
        self.down = True

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PATCH":
            body = json.loads(await request.read())
            if body.get("start") == self.refused_start and self.down:
                return web.json_response(webex_error("Service Unavailable"), status=503)
            self.meeting.update(body)
        return web.json_response(self.meeting)


def test_plan_retry_failed_shows_an_offset_row_behind_a_retried_move_as_refused(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A move that failed, then a shift of the same meeting that succeeded: a retry moves the
    meeting first, so the shift cannot be sent again as it was; the plan says so, and the
    retry fails it unsent with that reason."""
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=10)
    site = _FlakyMove(start)
    server = hostile(site.answer)
    moved = {"meetingId": "m1", "start": site.refused_start, "end": "", "shift": ""}
    moved["end"] = (datetime.fromisoformat(site.refused_start) + timedelta(hours=1)).isoformat()
    job = write_job(tmp_path / "job.csv", [moved, {"meetingId": "m1", "shift": "+1h"}])
    assert run_against(server.api_url, job, env={"BULKPATCH_MAX_ATTEMPTS": "1"})[0] == 1
    journal = tmp_path / "job.csv.journal"
    before = statuses(journal)
    assert before[RowStatus.SUCCEEDED] == 1
    code, out, err = plan_against(server.api_url, job, "--retry-failed")
    assert code == 0, out + err
    row_3 = next(line for line in out.splitlines() if line.startswith("line 3"))
    assert "refused" in row_3
    assert "give this row absolute times" in row_3
    assert statuses(journal) == before
    site.down = False
    assert run_against(server.api_url, job, "--retry-failed")[0] == 1
    assert site.meeting["start"] == site.refused_start  # moved once, not shifted after it
    with Journal.open_read_only(journal) as opened:
        failed = list(opened.rows(RowStatus.FAILED))
    assert [(row.line, row.error) for row in failed] == [(3, FOLLOWER_MOVED)]
    again = plan_against(server.api_url, job, "--retry-failed")[1]  # as the next retry would
    row_3 = next(line for line in again.splitlines() if line.startswith("line 3"))
    assert "refused" in row_3
    assert "give this row absolute times" in row_3
