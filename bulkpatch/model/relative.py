"""Relative reschedules: ``start``/``end`` offsets (``+1h``, ``-30m``, ``+1d``, ``+1w``) and ``shift``.

An offset is resolved against the meeting's current start and end, which only the server
knows: minutes and hours move the moment, days and weeks move the wall-clock time in the
meeting's own time zone (a 09:00 meeting stays at 09:00 across a DST change). ``shift`` moves
start and end together, keeping the duration. Pure: the meeting comes in as ``GET`` gives it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bulkpatch.model.timing import Reporter, check_times, parse_iso8601

#: A shift column: moves start and end together.
SHIFT = "shift"
_OFFSET = re.compile(r"^\s*([+-])\s*(\d{1,6})\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
#: The API refuses a start 10 years or more ahead: no offset reaches further.
MAX_MINUTES = 10 * 366 * 24 * 60


@dataclass(frozen=True, slots=True)
class Offset:
    """A signed amount of one unit: ``m``inutes, ``h``ours, ``d``ays or ``w``eeks."""

    amount: int
    unit: str

    def __str__(self) -> str:
        return f"{'+' if self.amount >= 0 else '-'}{abs(self.amount)}{self.unit}"

    @property
    def minutes(self) -> int:
        """The offset in minutes (days and weeks as 24-hour days, for range checks)."""
        return self.amount * _UNIT_MINUTES[self.unit]

    def apply(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """``moment`` moved by the offset; days and weeks keep its wall-clock time in ``zone``.

        ValueError when that wall-clock time does not exist there (a DST gap).
        """
        if self.unit in "mh":
            return moment + timedelta(minutes=self.minutes)
        local = moment.astimezone(zone).replace(tzinfo=None)
        moved = local + timedelta(minutes=self.minutes)
        placed = moved.replace(tzinfo=zone)
        if placed.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moved:
            # As validate refuses such a local time: moved one gap later, a shift's start could
            # meet its end, and "start must be before end" would hide why.
            raise ValueError(
                f"{moved:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks skip it); "
                "give that row absolute times, or an offset in hours"
            )
        return placed


def _signed(value: Any) -> bool:
    """Whether a value may be meant as an offset: only an offset starts with a sign (most values
    are absolute times, which start with a digit)."""
    return isinstance(value, str) and value.lstrip()[:1] in ("+", "-")


def parse_offset(text: Any) -> Offset | None:
    """``+1h`` -> Offset(1, "h"); None when ``text`` is not an offset (an absolute time, say)."""
    if not _signed(text):
        return None
    match = _OFFSET.match(text)
    if match is None:
        return None
    sign, amount, unit = match.groups()
    return Offset(int(amount) * (-1 if sign == "-" else 1), unit.lower())


def offset_problem(offset: Offset) -> str:
    """Why an offset cannot be used (empty: it can)."""
    if abs(offset.minutes) > MAX_MINUTES:
        return f"{offset} reaches more than 10 years: the API refuses a start that far ahead"
    return ""


#: A text meant as an offset that is not one: a unit spelt out (+2 hours), a fraction (+1.5h),
#: a letter that is no unit (+1x), or no sign (a shift of 1h).
_NEARLY = re.compile(r"^\s*([+-]?)\s*(\d+(?:[.,]\d+)?)\s*([a-z]+)\.?\s*$", re.IGNORECASE)
_UNIT_WORDS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
}
_OFFSET_UNITS = "an offset is a sign, a whole number and m, h, d or w"
_OFFSET_FORM = "a sign, a whole number and m, h, d or w (+1h, -30m, +1d, +1w)"


def offset_typo(text: Any, *, signed: bool = True) -> str | None:
    """Why a text meant as an offset is not one, with what to write; None when it is one, or
    was not meant as one (a start that is a date starts with a digit, an offset with a sign).

    ``signed``: only a text starting with + or - counts as meant (start and end); a shift is
    always an offset, so there a missing sign is named too.
    """
    if not isinstance(text, str) or (signed and not _signed(text)):
        return None  # most starts are dates, which start with a digit: no regex for them
    match = _NEARLY.match(text)
    if match is None or parse_offset(text) is not None:
        return None
    sign, amount, word = match.groups()
    shown = repr(text.strip())
    unit = _UNIT_WORDS.get(word.lower())
    if unit is None:
        return f"{shown} is not an offset: an offset is {_OFFSET_FORM}"
    minutes = float(amount.replace(",", ".")) * _UNIT_MINUTES[unit]
    whole = amount.isdigit()
    if whole and len(amount) > 6:  # written as we would: what is wrong is its size
        if minutes > MAX_MINUTES:
            return f"{shown} reaches more than 10 years: the API refuses a start that far ahead"
        return f"{shown} is not an offset: at most 6 digits; write it in hours, days or weeks (h, d, w)"
    if not minutes.is_integer():
        return f"{shown} is not an offset: an offset is {_OFFSET_FORM}"
    written = f"{sign or '+'}{amount if whole else int(minutes)}{unit if whole else 'm'}"
    if not sign:
        return (
            f"{shown} is not an offset; write {written} or -{written[1:]} (it starts with + or -)"
        )
    return f"{shown} is not an offset; write {written} ({_OFFSET_UNITS})"


def relative_parts(changes: dict[str, Any]) -> dict[str, Offset]:
    """The offsets of a row's changes: ``start``, ``end`` and ``shift`` that are offsets."""
    found = {}
    for field in ("start", "end", SHIFT):
        offset = parse_offset(changes.get(field))
        if offset is not None:
            found[field] = offset
    return found


def split_relative(
    changes: dict[str, Any], report: Reporter
) -> tuple[dict[str, Any], dict[str, str]]:
    """A row's changes without its offsets, and the offsets (as written), checked offline.

    ``shift`` moves start and end together, so it goes alone; ``start`` and ``end`` are both
    offsets or both times (an offset from the meeting's start, beside a fixed end, would make a
    duration nobody can check before the run).
    """
    if SHIFT not in changes and not (_signed(changes.get("start")) or _signed(changes.get("end"))):
        return changes, {}  # most rows: no offset meant (each row's time counts here)
    found = relative_parts(changes)
    # A start meant as an offset but mistyped (+2 hours) is named as one, not as a bad date.
    typos = {
        field: why
        for field in ("start", "end")
        if field not in found and (why := offset_typo(changes.get(field))) is not None
    }
    if not found and not typos and SHIFT not in changes:
        return changes, {}
    rest = {f: value for f, value in changes.items() if f not in found and f not in typos}
    for field, why in typos.items():
        report.error(field, "offset", why, changes[field])
    if SHIFT in rest:
        value = rest.pop(SHIFT)
        why = offset_typo(value, signed=False) or "shift takes an offset such as +1d or -30m"
        report.error(SHIFT, "offset", why, value)
    meant = {"start", "end"} & (found | typos).keys()  # offsets, mistyped ones included
    if SHIFT in changes and ({"start", "end"} & changes.keys()):
        report.error(
            SHIFT,
            "shift_alone",
            "shift moves start and end together: give shift, or start and end, not both",
            str(found.get(SHIFT, changes[SHIFT])),
        )
    elif {"start", "end"} <= changes.keys() and len(meant) == 1:
        report.error(
            ({"start", "end"} - meant).pop(),  # the time, not the offset (which may be a typo)
            "relative_mixed",
            "start and end must both be offsets or both be times",
            None,
        )
    for field, offset in found.items():
        problem = offset_problem(offset)
        if problem:
            report.error(field, "offset", problem, str(offset))
    return rest, {field: str(offset) for field, offset in found.items()}


def resolved_body(body: dict[str, Any], meeting: dict[str, Any]) -> dict[str, Any]:
    """The PATCH to send: ``body`` with its offsets resolved on ``meeting`` as it is now.

    Days and weeks move in the time zone the row sets, else the meeting's. ValueError when the
    meeting has no start or end to move from.
    """
    relative = {field: str(body[field]) for field in relative_parts(body)}
    if not relative:
        return body
    zone = body.get("timezone") or meeting.get("timezone")
    return with_resolved(body, resolve(relative, meeting | {"timezone": zone}))


def with_resolved(body: dict[str, Any], resolved: dict[str, str]) -> dict[str, Any]:
    """``body`` with its offsets replaced by what they were resolved to before (a resume)."""
    return {f: v for f, v in body.items() if f != SHIFT and f not in resolved} | resolved


def resolution_problem(resolved: dict[str, Any], now: datetime) -> str:
    """Why the absolute times an offset came to cannot be sent (empty: they can)."""
    found: list[str] = []

    class _First:
        def error(self, field: str, rule: str, message: str, value: Any = None) -> None:
            found.append(message)

        def warning(self, field: str, rule: str, message: str, value: Any = None) -> None:
            pass

    check_times(dict(resolved), now, _First())
    return found[0] if found else ""


def resolve(relative: dict[str, str], meeting: dict[str, Any]) -> dict[str, str]:
    """The absolute ``start``/``end`` the offsets come to on ``meeting`` (ISO 8601, its zone).

    ValueError when the meeting has no start, end or time zone to move from.
    """
    try:
        zone = ZoneInfo(str(meeting.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    current = {field: parse_iso8601(str(meeting.get(field, ""))) for field in ("start", "end")}
    resolved: dict[str, str] = {}
    for field in ("start", "end"):
        spec = relative.get(field) or relative.get(SHIFT)
        offset = parse_offset(spec)
        if offset is None:
            continue
        moment = current[field]
        if moment is None or moment.tzinfo is None:
            raise ValueError(f"the meeting has no {field} to move by {offset}")
        resolved[field] = offset.apply(moment, zone).isoformat()
    return resolved
