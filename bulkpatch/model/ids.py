"""Meeting ids: which can name a meeting at all, and which name one scheduled occurrence."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from bulkpatch.model import timing

#: ``<seriesId>_<YYYYMMDDTHHMMSSZ>``: the id of one scheduled occurrence of a series.
OCCURRENCE_ID = re.compile(r"^(?P<series>[^_\s]+)_(?P<stamp>\d{8}T\d{6}Z)$")
#: A suffix shaped like a start: digits, a T, more digits, perhaps a Z or an offset.
_STAMP_LIKE = r"\d[\d:-]*[Tt]\d[\d:.]*(?:[Zz]|[+-]\d[\d:]*)?"
#: A series id, a separator (the ``_``, or ``-`` or ``__`` in its place) and a suffix shaped like
#: a start or a date alone, perhaps twice: what an occurrence id written by hand, built by a
#: script or copied from a calendar looks like.
_OCCURRENCE_LIKE = re.compile(
    rf"(?P<series>[^_\s]+?)(?P<separator>_+|-)(?P<stamp>{_STAMP_LIKE}|(?P<date>\d{{8}}|\d{{4}}-\d{{2}}-\d{{2}}))"
    rf"(?:(?:_+|-)(?P<again>{_STAMP_LIKE}))?"
)
#: A stamp that is the right one but for dashes, colons, case or the Z: the parts to join.
_STAMP_NEARLY = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(Z?)")
#: Unicode categories of characters nobody sees: format (BOM, zero-width), control, separators.
_UNSEEN = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})
#: Printable ASCII but the space: what meeting ids are written in, and has none of the above.
_PLAIN = re.compile(r"[!-~]+")
_HEADER = "this row repeats the header row (two files joined into one?)"


def is_occurrence_id(meeting_id: str) -> bool:
    """Whether the id names one scheduled occurrence rather than a series or meeting."""
    return OCCURRENCE_ID.match(meeting_id) is not None


def meeting_id_problem(meeting_id: str) -> str | None:
    """Why an id can never name a meeting, or None when it can: empty, ``.`` or ``..``, the
    header's own name, or with a character no id has (a space, an invisible one).

    ``.`` and ``..`` are path steps, not ids: sent as a path segment they would name another
    endpoint, so they are refused before anything is sent. The others were sent, and answered
    404 (a byte order mark or a zero-width space copied from a document along with the id).
    """
    if not meeting_id:
        return "every row needs a meetingId"
    if meeting_id in {".", ".."}:
        return f"{meeting_id!r} is a path step, not a meeting id"
    if _PLAIN.fullmatch(meeting_id):  # every real id: one regex, not a look at each character
        return _HEADER if meeting_id.casefold() == "meetingid" else None
    seen = "".join(c for c in meeting_id if unicodedata.category(c) not in _UNSEEN)
    if seen.strip().casefold() == "meetingid":  # a joined file's BOM included
        return _HEADER
    for position, character in enumerate(meeting_id, start=1):
        if character.isspace() or unicodedata.category(character) in _UNSEEN:
            name = unicodedata.name(character, "a control character")
            return (
                f"meetingId has U+{ord(character):04X} ({name}) at character {position}, which "
                "no meeting id has; copy the id again (as pull or List Meetings gives it)"
            )
    return None


def occurrence_stamp_problem(meeting_id: str) -> str | None:
    """Why an occurrence id's stamp names no moment (``_20270230T100000Z``), or None.

    The stamp is when the occurrence was scheduled to start: on a day or at a time that does
    not exist, the id names no occurrence, and the API answers 404.
    """
    match = OCCURRENCE_ID.match(meeting_id)
    if match is None:
        return None
    stamp = match["stamp"]
    try:
        datetime.fromisoformat(stamp)
    except ValueError:
        why = timing.calendar_problem(stamp) or "that is not a moment"
        return (
            f"meetingId is an occurrence id stamped {stamp}, but {why}: no occurrence starts "
            "then, so no meeting has this id (the API answers 404); copy the id as bulkpatch "
            "pull or List Meetings gives it"
        )
    return None


def occurrence_id_form_problem(meeting_id: str) -> str | None:
    """Why an id shaped like a scheduled occurrence's is not one (no Z, a 7- or 9-digit date, a
    lower-case t or z, a ``-`` or ``__`` for the ``_``, a date without its time, the stamp twice,
    full-width letters or digits), with the id it may have meant; None for any other id.

    Only an id with ``_``, ``-`` or a character past ASCII pays for more than a look for them:
    a series id has none.
    """
    if meeting_id.isascii():
        if "_" not in meeting_id and "-" not in meeting_id:
            return None
        written = meeting_id
    else:
        # Full-width letters and digits (an input method's U+FF3A for Z) read as their ASCII.
        written = unicodedata.normalize("NFKC", meeting_id)
    if OCCURRENCE_ID.match(meeting_id) is not None:
        return None
    match = _OCCURRENCE_LIKE.fullmatch(written)
    if match is None or (match["date"] is not None and match["separator"] == "-"):
        return None  # name-2026-12-05 may be anything; only name_20261205 is an occurrence's
    ways = _occurrence_id_ways(meeting_id, match)
    series = match["series"]
    nearly = _STAMP_NEARLY.fullmatch(match["stamp"].upper())
    hint = ""
    if match["date"] is not None:
        date = match["date"].replace("-", "")
        hint = f": add the occurrence's start time in UTC, as in {series}_{date}THHMMSSZ"
    elif match["again"] is not None and match["again"].upper() != match["stamp"].upper():
        hint = ": keep the stamp of the occurrence meant"
    elif nearly is not None:
        meant = f"{series}_{''.join(nearly.groups()[:3])}T{''.join(nearly.groups()[3:6])}Z"
        hint = f" (did you mean {meant}?)" if nearly[7] else f"; if its time is UTC, write {meant}"
    wrong = f"; this one has {_listed(ways)}" if ways else ""
    return (
        "meetingId looks like the id of a scheduled occurrence written wrongly: an occurrence id "
        "is <seriesId>_<YYYYMMDDTHHMMSSZ>, the series id and the occurrence's start in UTC (as "
        f"in ..._20261205T100000Z){wrong}{hint}. As written it is sent as the id of a meeting, "
        "and the API likely answers 404; copy the id as bulkpatch pull or List Meetings gives it"
    )


def _occurrence_id_ways(meeting_id: str, match: re.Match[str]) -> list[str]:
    """What is wrong with an occurrence-like id besides its stamp's own form, in words."""
    ways = []
    wide = "".join(dict.fromkeys(c for c in meeting_id if not c.isascii()))
    if wide:
        ways.append(f"full-width characters ({wide})")
    if match["separator"] != "_":
        ways.append(f"{match['separator']!r} in place of the '_'")
    if match["date"] is not None:
        ways.append("a date without a time")
    if match["again"] is not None:
        same = match["again"].upper() == match["stamp"].upper()
        ways.append(
            "its stamp twice" if same else f"two stamps ({match['stamp']} and {match['again']})"
        )
    return ways


def _listed(items: list[str]) -> str:
    """Items in a sentence: "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
