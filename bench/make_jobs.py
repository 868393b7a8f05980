"""Write generated job files: large ones for benchmarks, dated ones for the demo.

Dates are derived from the moment the script runs, so a generated job never rots.

    python bench/make_jobs.py --rows 1000000 --kind migration bench/out/migration-1m.csv
    python bench/make_jobs.py --rows 1000000 --kind heavy bench/out/heavy-1m.csv
    python bench/make_jobs.py --demo jobs/generated
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ZONES = (
    ("Europe/Berlin", 9),
    ("America/New_York", 14),
    ("Asia/Shanghai", 20),
    ("Australia/Sydney", 8),
    ("UTC", 12),
)
MIGRATION_HEADER = [
    "meetingId",
    "unlockedMeetingJoinSecurity",
    "enabledJoinBeforeHost",
    "meetingOptions.enabledChat",
    "audioConnectionOptions.entryAndExitTone",
    "#host",
]
RESCHEDULE_HEADER = ["meetingId", "start", "end", "timezone", "#why"]
HEAVY_HEADER = [
    "meetingId",
    "title",
    "agenda",
    "start",
    "end",
    "timezone",
    "meetingOptions.enabledChat",
    "#owner",
]


def series_id(index: int) -> str:
    """A stable 32-hex series id, like the API's."""
    return hashlib.md5(f"series-{index}".encode(), usedforsecurity=False).hexdigest()


def migration_rows(count: int) -> Iterator[list[str]]:
    """Rows that turn the lobby on for many meetings."""
    for index in range(count):
        chat = "true" if index % 3 else "false"
        yield [
            series_id(index),
            "allowJoinWithLobby",
            "false",
            chat,
            "beep",
            f"host{index % 97}@example.com",
        ]


def reschedule_rows(count: int, now: datetime) -> Iterator[list[str]]:
    """Occurrences moved to next week, each in its own time zone, local times without offset."""
    first_day = (now + timedelta(days=7)).date()
    for index in range(count):
        zone, hour = ZONES[index % len(ZONES)]
        day = first_day + timedelta(days=index % 5)
        occurrence = f"{series_id(index)}_{day:%Y%m%d}T080000Z"
        start = f"{day}T{hour:02d}:30:00"
        end = f"{day}T{hour:02d}:{30 + 15 + index % 15}:00"
        yield [occurrence, start, end, zone, "moved to the new team slot"]


def heavy_rows(count: int, now: datetime) -> Iterator[list[str]]:
    """Every cell filled: quoted text with commas and quotes, local times in a zone, a note.

    Rows come in threes: a series, moved (which draws the "cancels its exceptional occurrences"
    warning, so a third of the rows have a warning), then two scheduled occurrences, each moved
    on its own day, of a series the job leaves in place: an occurrence of a series the same job
    moves warns too, since the move cancels its edit.
    """
    first_day = (now + timedelta(days=7)).date()
    for index in range(count):
        group, step = divmod(index, 3)
        zone, hour = ZONES[group % len(ZONES)]
        day = first_day + timedelta(days=group % 5 + 7 * step)
        meeting = series_id(group)
        if step:
            meeting = f"{series_id(count + group)}_{day:%Y%m%d}T080000Z"
        title = f'Weekly sync, team {group % 50} "{zone.split("/")[-1]}", part {step + 1}'
        agenda = (
            f'Review of "Q{group % 4 + 1}" figures, open actions, risks; '
            f'bring the "{zone}" numbers, and the plan for next week, row {index}'
        )
        start = f"{day}T{hour:02d}:30:00"
        end = f"{day}T{hour:02d}:{30 + 15 + group % 15}:00"
        chat = "true" if group % 2 else "false"
        yield [meeting, title, agenda, start, end, zone, chat, f"host{group % 97}@example.com"]


def shared_id_rows(count: int) -> Iterator[list[str]]:
    """Every row names the same meeting (a long series of edits): the worst case of duplicates."""
    for index in range(count):
        yield [series_id(0), f"title {index}"]


def write_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> None:
    """Write a CSV job file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_jsonl(path: Path, header: list[str], rows: Iterator[list[str]]) -> None:
    """Write the same job as flat JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record: dict[str, object] = {}
            for name, cell in zip(header, row, strict=True):
                record[name] = {"true": True, "false": False}.get(cell, cell)
            handle.write(json.dumps(record) + "\n")


def main() -> None:
    """Parse arguments and write the files asked for."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", type=Path, help="file to write, or folder with --demo")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument(
        "--kind", choices=["migration", "reschedule", "heavy", "shared-id"], default="migration"
    )
    parser.add_argument(
        "--demo", action="store_true", help="write the demo's dated jobs into OUTPUT"
    )
    args = parser.parse_args()
    now = datetime.now(UTC)
    if args.demo:
        write_csv(
            args.output / "reschedule-next-week.csv", RESCHEDULE_HEADER, reschedule_rows(40, now)
        )
        write_jsonl(
            args.output / "reschedule-next-week.jsonl", RESCHEDULE_HEADER, reschedule_rows(40, now)
        )
        print(f"wrote demo jobs dated from {now:%Y-%m-%d} into {args.output}")
        return
    header, rows = {
        "migration": (MIGRATION_HEADER, migration_rows(args.rows)),
        "reschedule": (RESCHEDULE_HEADER, reschedule_rows(args.rows, now)),
        "heavy": (HEAVY_HEADER, heavy_rows(args.rows, now)),
        "shared-id": (["meetingId", "title"], shared_id_rows(args.rows)),
    }[args.kind]
    writer = write_jsonl if args.output.suffix in {".jsonl", ".ndjson"} else write_csv
    writer(args.output, header, rows)
    print(f"wrote {args.rows} {args.kind} rows to {args.output}")


if __name__ == "__main__":
    main()
