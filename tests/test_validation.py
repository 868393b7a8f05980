"""Validating a whole job: counts, findings across rows, and the same answer however it is split."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import NOW

from bulkpatch.model import Finding
from bulkpatch.validation import FindingStore, JobSummary, validate_job

WriteJob = Callable[[str, str | bytes], Path]


def shared_id_job(write_job: WriteJob, rows: int) -> Path:
    lines = ["meetingId,title"] + [f"same-meeting,title {index}" for index in range(rows)]
    return write_job(f"shared-{rows}.csv", "\n".join(lines) + "\n")


def duplicate_steps(path: Path) -> tuple[int, list[Finding]]:
    """SQLite's own count of its work (VM steps, in hundreds) to validate a job, and the duplicates."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with FindingStore() as store:
        # The private connection is the only place SQLite's work can be counted from.
        store._db.set_progress_handler(count, 100)
        validate_job(path, NOW, store)
        store._db.set_progress_handler(None, 100)
        duplicates = [f for f in store.findings() if f.rule == "duplicate_id"]
    return steps, duplicates


def test_duplicate_ids_cost_linear_work(write_job: WriteJob) -> None:
    """Finding rows that share a meetingId grows with the rows, not with their square."""
    small, found_small = duplicate_steps(shared_id_job(write_job, 1_000))
    large, found_large = duplicate_steps(shared_id_job(write_job, 8_000))
    assert len(found_small) == 999
    assert len(found_large) == 7_999
    assert {f.message for f in found_large} == {
        "the same meetingId is on line 2; the rows are applied in file order"
    }
    assert [f.line for f in found_large] == list(range(3, 8_002))
    assert large < 12 * small  # 8 times the rows: 8 times the work (64 times when quadratic)


def mixed_job(write_job: WriteJob) -> Path:
    """Valid rows, reader problems, rule errors, warnings, duplicates and multi-line cells."""
    lines = [
        "meetingId,title,agenda,meetingOptions.enabledChat,meetingOptions.enabledVideo,sendEmail"
    ]
    for index in range(2_500):
        meeting = f"m{index % 700}"
        kind = index % 5
        if kind == 0:
            lines.append(f'{meeting},"t, {index}","line one\nline ""two""",true,,yes')
        elif kind == 1:
            lines.append(f"{meeting},{'x' * 130},,,false,")  # title too long
        elif kind == 2:
            lines.append(f"{meeting},,,maybe,,")  # not a boolean
        elif kind == 3:
            lines.append(f'{meeting},t,"[]",,,1')
        else:
            lines.append(",t,,,,")  # no meetingId
    return write_job("mixed.csv", "\n".join(lines) + "\n")


def outcome(path: Path, workers: int) -> tuple[JobSummary, list[Finding], list[str]]:
    with FindingStore(keep_rows=True) as store:
        summary = validate_job(path, NOW, store, workers=workers)
        kept = [json.dumps([r.line, r.meeting_id, r.body, r.error]) for r in store.kept_rows()]
        return summary, list(store.findings()), kept


def test_workers_give_the_same_answer_as_one_process(write_job: WriteJob) -> None:
    """Checked in two worker processes, a job gives the same summary, findings and rows."""
    path = mixed_job(write_job)
    alone = outcome(path, workers=0)
    shared = outcome(path, workers=2)
    assert shared == alone
    summary = alone[0]
    assert (summary.rows, summary.valid, summary.invalid) == (2_500, 1_000, 1_500)
    assert summary.rules["warning:duplicate_id"] == 2_000 - 560  # ids m0..m699 of kinds 0-3


def test_field_counts_spell_out_members(write_job: WriteJob) -> None:
    """Rows changing each field count dotted members, and only the cells that hold a value."""
    summary = outcome(mixed_job(write_job), workers=0)[0]
    assert summary.fields == {
        "title": 2_000,
        "agenda": 1_000,
        "meetingOptions.enabledChat": 500,
        "meetingOptions.enabledVideo": 500,
        "sendEmail": 1_000,
    }
