"""A changed job file against the journal: which recorded row each new row is.

Rows are paired by content, not line: the n-th row for a meeting with a given patch (its
keyed digest) in the new file is the n-th such row recorded. A paired row keeps everything
the journal knew of it (outcome, before-values, resolved times) at its new line, so inserting
or deleting a line above it changes nothing. Unpaired new rows are ``pending``. Unpaired
recorded rows that may have changed a meeting (succeeded, or sent as far as we know) move to
``retired``, where undo still finds them; the rest had no effect on the site and go.

An edited row with offsets (``shift +1h``, a title filled in beside it) is new content, so
it is sent again; but when the journal holds an earlier version of it (same meeting, the
n-th such row, that moved the meeting or may have), the meeting must not move twice. The
row is paired to that version (``before_by = 'earlier'``): it keeps its before-values (the
times from before bulkpatch) and, when its offset cells are unchanged, the absolute times
they came to, which a run sends again; with other offsets, a run resolves them from those
before-values, never from the meeting an earlier version moved already.

Rows of one meeting are applied in file order, so a done row that now comes after a row of
its meeting still to send (an inserted line, an edited one) is to send again too: the
meeting must end as the file's last row for it says. That is decided here, in the same
transaction as the pairing, so a run killed halfway finds the same rows to send.
"""

from __future__ import annotations

from typing import Any, NamedTuple

#: The columns a row keeps when it moves (everything but line, meeting, patch and digest).
_KEPT = (
    "attempts, http_status, tracking_id, finished_at, before, before_at, after, resolved, before_by"
)

#: Recorded rows that may have changed their meeting: succeeded, or read by a run that may
#: have sent the PATCH since (killed in flight, or failed without a refusal: a 4xx other than
#: 408, 423 and 429 says the API changed nothing, and undo must not expect the row's values).
MAY_HAVE_CHANGED = (
    "status = 'succeeded' OR (before_by = 'run' AND (status = 'pending' OR (status = 'failed' "
    "AND (http_status IS NULL OR http_status NOT BETWEEN 400 AND 499 "
    "OR http_status IN (408, 423, 429)))))"
)


def statements(moment: str) -> list[tuple[str, tuple[Any, ...]]]:
    """SQL that rebuilds ``rows`` from ``temp.job`` (the new file's rows), in one transaction."""
    return [
        (
            "CREATE TEMP TABLE pairs (new_line INTEGER PRIMARY KEY, old_line INTEGER UNIQUE)",
            (),
        ),
        (
            "INSERT INTO temp.pairs "
            "WITH old AS (SELECT line, meeting_id, digest, ROW_NUMBER() OVER "
            "(PARTITION BY meeting_id, digest ORDER BY line) AS n FROM rows "
            "WHERE digest IS NOT NULL), "
            "new AS (SELECT line, meeting_id, digest, ROW_NUMBER() OVER "
            "(PARTITION BY meeting_id, digest ORDER BY line) AS n FROM temp.job) "
            "SELECT new.line, old.line FROM new JOIN old ON old.meeting_id = new.meeting_id "
            "AND old.digest = new.digest AND old.n = new.n",
            (),
        ),
        *_earlier_versions(),
        (
            f"INSERT INTO retired (line, meeting_id, status, error, body, digest, {_KEPT}, "
            f"retired_at) SELECT line, meeting_id, status, error, body, digest, {_KEPT}, ? "
            f"FROM rows WHERE line NOT IN (SELECT old_line FROM temp.pairs) "
            f"AND ({MAY_HAVE_CHANGED})",
            (moment,),
        ),
        (
            "CREATE TEMP TABLE fresh AS SELECT j.line, j.meeting_id, "
            "COALESCE(o.status, j.status) AS status, "
            "CASE WHEN o.line IS NULL OR j.status = 'invalid' THEN j.error ELSE o.error END "
            f"AS error, j.body, j.digest, COALESCE(o.attempts, 0) AS attempts, "
            "o.http_status, o.tracking_id, o.finished_at, "
            "COALESCE(o.before, e.before), COALESCE(o.before_at, e.before_at), o.after, "
            f"COALESCE(o.resolved, CASE WHEN {_SAME_OFFSETS} THEN e.resolved END), "
            "CASE WHEN e.line IS NULL THEN o.before_by ELSE 'earlier' END "
            "FROM temp.job AS j LEFT JOIN temp.pairs AS p ON p.new_line = j.line "
            "LEFT JOIN rows AS o ON o.line = p.old_line "
            "LEFT JOIN temp.earlier AS v ON v.new_line = j.line "
            "LEFT JOIN rows AS e ON e.line = v.old_line",
            (),
        ),
        ("DELETE FROM rows", ()),
        (
            f"INSERT INTO rows (line, meeting_id, status, error, body, digest, {_KEPT}) "
            "SELECT * FROM temp.fresh",
            (),
        ),
        ("DROP TABLE temp.fresh", ()),
        *_followers_sent_again(),
        ("DROP TABLE temp.earlier", ()),
        ("DROP TABLE temp.pairs", ()),
        ("DROP TABLE temp.job", ()),
    ]


#: The cells of a patch that move a meeting.
MOVING_CELLS = ("start", "end", "shift")

#: A row's patch (JSON, ``body``) with offsets: a shift, or a start or end with a sign.
_RELATIVE = (
    "(json_extract(body, '$.shift') IS NOT NULL "
    "OR substr(json_extract(body, '$.start'), 1, 1) IN ('+', '-') "
    "OR substr(json_extract(body, '$.end'), 1, 1) IN ('+', '-'))"
)

#: The new row (``j``) and its earlier version (``e``) hold the same offset cells (and zone,
#: which days and weeks move in): the times they came to are the ones to send again.
_SAME_OFFSETS = " AND ".join(
    f"json_extract(j.body, '$.{cell}') IS json_extract(e.body, '$.{cell}')"
    for cell in ("start", "end", "shift", "timezone")
)


def _earlier_versions() -> list[tuple[str, tuple[Any, ...]]]:
    """Pair each new unpaired row with offsets to an earlier version that moved its meeting.

    Among a meeting's rows left unpaired, the n-th new one with offsets is the n-th recorded
    one whose before-values hold the meeting's times and that moved it (or may have), or
    that was itself paired so and not sent since.
    """
    moved = (
        "(json_extract(before, '$.values.start') IS NOT NULL "
        "OR json_extract(before, '$.values.end') IS NOT NULL)"
    )
    return [
        (
            "CREATE TEMP TABLE earlier (new_line INTEGER PRIMARY KEY, old_line INTEGER UNIQUE)",
            (),
        ),
        (
            "INSERT INTO temp.earlier "
            "WITH old AS (SELECT line, meeting_id, ROW_NUMBER() OVER "
            "(PARTITION BY meeting_id ORDER BY line) AS n FROM rows "
            "WHERE line NOT IN (SELECT old_line FROM temp.pairs) "
            f"AND (before_by = 'earlier' OR ({MAY_HAVE_CHANGED})) AND {moved}), "
            "new AS (SELECT line, meeting_id, ROW_NUMBER() OVER "
            "(PARTITION BY meeting_id ORDER BY line) AS n FROM temp.job "
            "WHERE line NOT IN (SELECT new_line FROM temp.pairs) AND status = 'pending' "
            f"AND {_RELATIVE}) "
            "SELECT new.line, old.line FROM new JOIN old ON old.meeting_id = new.meeting_id "
            "AND old.n = new.n",
            (),
        ),
    ]


#: Why a done offset row after a row that moves its meeting again cannot be sent again: its
#: stored times came from where the meeting was, and its offset, resolved again, moves twice.
FOLLOWER_MOVED = (
    "an earlier row of this meeting moves it again, so the times this row's offset came to "
    "no longer follow from the file; check the meeting, then give this row absolute times"
)


def keep_file_order(to_send: tuple[str, ...]) -> list[tuple[str, tuple[Any, ...]]]:
    """SQL that makes the done rows behind a row of their meeting to send pending again.

    Run on its own when a run retries failed rows (``to_send`` with ``failed``): a retried row
    must not end up after a later row of its meeting that succeeded meanwhile.
    """
    return _followers_sent_again(to_send)


def followers_query(to_send: tuple[str, ...]) -> Script:
    """What :func:`keep_file_order` would change, read only: ``(line, fails)`` in line order.

    ``fails`` is 1 for an offset row behind a move (it would fail with :data:`FOLLOWER_MOVED`),
    0 for a row that would be sent again; ``plan --retry-failed`` shows them without changing
    the journal. The statements before and after the query make and drop a temporary table.
    """
    select = (
        f"SELECT line, CASE WHEN {_BEHIND_A_MOVE} THEN 1 ELSE 0 END FROM rows "
        f"WHERE {_DONE_BEHIND} ORDER BY line"
    )
    return Script(_first_to_send(to_send), (select, ()), [_DROP_FIRST_TO_SEND])


class Script(NamedTuple):
    """A query with the statements that prepare it and clean up after it."""

    setup: list[tuple[str, tuple[Any, ...]]]
    query: tuple[str, tuple[Any, ...]]
    teardown: list[tuple[str, tuple[Any, ...]]]


def _first_to_send(to_send: tuple[str, ...]) -> list[tuple[str, tuple[Any, ...]]]:
    """``temp.first_to_send``: per meeting, its first row still to send and first that moves."""
    moves = " OR ".join(f"json_extract(body, '$.{cell}') IS NOT NULL" for cell in MOVING_CELLS)
    return [
        (
            "CREATE TEMP TABLE first_to_send AS SELECT meeting_id, MIN(line) AS line, "
            f"MIN(CASE WHEN {moves} THEN line END) AS moving FROM rows "
            f"WHERE status IN ({', '.join('?' for _ in to_send)}) GROUP BY meeting_id",
            to_send,
        ),
        ("CREATE UNIQUE INDEX temp.first_to_send_meeting ON first_to_send (meeting_id)", ()),
    ]


_DROP_FIRST_TO_SEND = ("DROP TABLE temp.first_to_send", ())
#: A done row behind its meeting's first row still to send.
_DONE_BEHIND = (
    "status IN ('succeeded', 'skipped') AND line > (SELECT f.line FROM temp.first_to_send AS f "
    "WHERE f.meeting_id = rows.meeting_id)"
)
#: An offset row behind its meeting's first row still to send that moves it.
_BEHIND_A_MOVE = (
    f"{_RELATIVE} AND line > (SELECT f.moving FROM temp.first_to_send AS f "
    "WHERE f.meeting_id = rows.meeting_id)"
)


def _followers_sent_again(
    to_send: tuple[str, ...] = ("pending", "reverted"),
) -> list[tuple[str, tuple[Any, ...]]]:
    """Done rows after a row of their meeting still to send become pending (file order).

    A done offset row behind a row that moves the meeting (start, end or shift) fails instead:
    neither its stored times nor its offset resolved again would put the meeting where the
    file says. Its stored times go (a retry must not send them); its answer stays, for undo.
    """
    return [
        *_first_to_send(to_send),
        (
            "UPDATE rows SET status = 'failed', resolved = NULL, error = ? "
            f"WHERE {_DONE_BEHIND} AND {_BEHIND_A_MOVE}",
            (FOLLOWER_MOVED,),
        ),
        (f"UPDATE rows SET status = 'pending' WHERE {_DONE_BEHIND}", ()),
        _DROP_FIRST_TO_SEND,
    ]
