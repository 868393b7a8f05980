"""A changed job file against the journal: which recorded row each new row is.

Rows are paired by content, not line: the n-th row for a meeting with a given patch (its
keyed digest) in the new file is the n-th such row recorded. A paired row keeps everything
the journal knew of it (outcome, before-values, resolved times) at its new line, so inserting
or deleting a line above it changes nothing. Unpaired new rows are ``pending``. Unpaired
recorded rows that may have changed a meeting (succeeded, or sent as far as we know) move to
``retired``, where undo still finds them; the rest had no effect on the site and go.

Rows of one meeting are applied in file order, so a done row that now comes after a row of
its meeting still to send (an inserted line, an edited one) is to send again too: the
meeting must end as the file's last row for it says. That is decided here, in the same
transaction as the pairing, so a run killed halfway finds the same rows to send.
"""

from __future__ import annotations

from typing import Any

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
            f"{', '.join(f'o.{c.strip()}' for c in _KEPT.split(',')[1:])} "
            "FROM temp.job AS j LEFT JOIN temp.pairs AS p ON p.new_line = j.line "
            "LEFT JOIN rows AS o ON o.line = p.old_line",
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
        ("DROP TABLE temp.pairs", ()),
        ("DROP TABLE temp.job", ()),
    ]


def _followers_sent_again() -> list[tuple[str, tuple[Any, ...]]]:
    """Done rows after a row of their meeting still to send become pending (file order)."""
    return [
        (
            "CREATE TEMP TABLE first_to_send AS SELECT meeting_id, MIN(line) AS line FROM rows "
            "WHERE status IN ('pending', 'reverted') GROUP BY meeting_id",
            (),
        ),
        ("CREATE UNIQUE INDEX temp.first_to_send_meeting ON first_to_send (meeting_id)", ()),
        (
            "UPDATE rows SET status = 'pending' WHERE status IN ('succeeded', 'skipped') "
            "AND line > (SELECT f.line FROM temp.first_to_send AS f "
            "WHERE f.meeting_id = rows.meeting_id)",
            (),
        ),
        ("DROP TABLE temp.first_to_send", ()),
    ]
