"""Meeting ids shaped like a scheduled occurrence's but written wrongly."""

from __future__ import annotations

from datetime import datetime

import pytest

from bulkpatch.model import JobRow, Severity, check_row

SERIES = "1d824a4a205042eba9574e00b711b226"
FORM = (
    "meetingId looks like the id of a scheduled occurrence written wrongly: an occurrence id is "
    "<seriesId>_<YYYYMMDDTHHMMSSZ>, the series id and the occurrence's start in UTC (as in "
    "..._20261205T100000Z){hint}. As written it is sent as the id of a meeting, and the API "
    "likely answers 404; copy the id as bulkpatch pull or List Meetings gives it"
)


@pytest.mark.parametrize(
    ("stamp", "hint"),
    [
        ("20261205T100000", f"; if its time is UTC, write {SERIES}_20261205T100000Z"),
        ("20261205t100000z", f" (did you mean {SERIES}_20261205T100000Z?)"),
        ("20261205t100000Z", f" (did you mean {SERIES}_20261205T100000Z?)"),
        ("20261205T100000z", f" (did you mean {SERIES}_20261205T100000Z?)"),
        ("2026-12-05T10:00:00Z", f" (did you mean {SERIES}_20261205T100000Z?)"),
        ("2026125T100000Z", ""),
        ("202612055T100000Z", ""),
        ("20261205T1000Z", ""),
        ("20261205T110000+01:00", ""),
    ],
)
def test_an_occurrence_id_written_wrongly_is_warned_of(
    stamp: str, hint: str, now: datetime
) -> None:
    """An id shaped like an occurrence's whose stamp is not YYYYMMDDTHHMMSSZ (no Z, a 7- or
    9-digit date, a lower-case t or z) is sent as a meeting's id, which the API does not know:
    warned of, with the id it may have meant."""
    meeting_id = f"{SERIES}_{stamp}"
    checked = check_row(JobRow(2, meeting_id, {"title": "x"}), now)
    assert [(f.severity, f.field, f.rule, f.message) for f in checked.findings] == [
        (Severity.WARNING, "meetingId", "occurrence_id_form", FORM.format(hint=hint))
    ]
    assert checked.is_valid


@pytest.mark.parametrize(
    "meeting_id",
    [
        SERIES,
        f"{SERIES}_20261205T100000Z",
        f"{SERIES}_I_191395283063545470",
        "team_sync",
        f"{SERIES}-2026-12-05",
        "weekly-sync-20261205",
        "a-b-c",
    ],
)
def test_other_ids_are_not_taken_for_occurrence_ids(meeting_id: str, now: datetime) -> None:
    """A series id, a real occurrence id, a meeting instance's id (``_I_``) or any id without
    a stamp-shaped end (a date after a '-' is not one) gets no warning."""
    checked = check_row(JobRow(2, meeting_id, {"title": "x"}), now)
    assert checked.findings == ()


MEANT = f" (did you mean {SERIES}_20261205T100000Z?)"


@pytest.mark.parametrize(
    ("meeting_id", "hint"),
    [
        (f"{SERIES}-20261205T100000Z", f"; this one has '-' in place of the '_'{MEANT}"),
        (f"{SERIES}__20261205T100000Z", f"; this one has '__' in place of the '_'{MEANT}"),
        (
            f"{SERIES}_20261205",
            "; this one has a date without a time: add the occurrence's start time in UTC, as "
            f"in {SERIES}_20261205THHMMSSZ",
        ),
        (
            f"{SERIES}_2026-12-05",
            "; this one has a date without a time: add the occurrence's start time in UTC, as "
            f"in {SERIES}_20261205THHMMSSZ",
        ),
        (f"{SERIES}_20261205T100000Z_20261205T100000Z", f"; this one has its stamp twice{MEANT}"),
        (
            f"{SERIES}_20261205T100000Z_20261206T100000Z",
            "; this one has two stamps (20261205T100000Z and 20261206T100000Z): keep the stamp "
            "of the occurrence meant",
        ),
        (
            f"{SERIES}_20261205T100000\uff3a",
            f"; this one has full-width characters (\uff3a){MEANT}",
        ),
        (
            f"{SERIES}-20261205T100000\uff3a",
            f"; this one has full-width characters (\uff3a) and '-' in place of the '_'{MEANT}",
        ),
    ],
    ids=[
        "hyphen",
        "double low line",
        "date only",
        "dashed date only",
        "stamp twice",
        "two stamps",
        "full-width z",
        "full-width z and hyphen",
    ],
)
def test_an_occurrence_id_with_a_wrong_separator_or_stamp_is_warned_of(
    meeting_id: str, hint: str, now: datetime
) -> None:
    """A '-' or '__' for the '_', a date without its time, the stamp twice or a full-width Z
    makes an id the API does not know: warned of, saying what is wrong and what to write."""
    checked = check_row(JobRow(2, meeting_id, {"title": "x"}), now)
    assert [(f.severity, f.rule, f.message) for f in checked.findings] == [
        (Severity.WARNING, "occurrence_id_form", FORM.format(hint=hint))
    ]
    assert checked.is_valid
