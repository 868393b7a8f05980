"""Render bench/results/limit-*.json into docs/benchmarks.md and the README, between markers."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BEGIN = "<!-- begin: written by bench/limit_bench.py -->"
END = "<!-- end: written by bench/limit_bench.py -->"


#: The long-retry scenario's Retry-After (the sandbox's --retry-after-min), in seconds.
LONG_RETRY_AFTER = 60


def _median(values: Sequence[float], form: Callable[[float], str]) -> str:
    """The median, and the range when the runs differ."""
    if not values:
        return "n/a"
    middle, low, high = statistics.median(values), min(values), max(values)
    spread = f" ({form(low)}-{form(high)})" if form(low) != form(high) else ""
    return form(middle) + spread


def _pct(value: float) -> str:
    return f"{value:.2f}"


def _load(results: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem.removeprefix("limit-"): json.loads(path.read_text())
        for path in sorted(results.glob("limit-*.json"))
    }


def _cases(
    record: dict[str, Any], key: Callable[[dict[str, Any]], Any]
) -> dict[Any, list[dict[str, Any]]]:
    cases: dict[Any, list[dict[str, Any]]] = {}
    for run in record["runs"]:
        for case in run:
            cases.setdefault(key(case), []).append(case)
    return cases


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def tables(records: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """The docs' tables, and the README's bullets."""
    lines: list[str] = []
    bullets: list[str] = []
    measured = sorted({r["measured"] for r in records.values()})
    runs = sorted({len(r["runs"]) for r in records.values()})
    lines.append(
        f"Measured {', '.join(measured)} with `make bench` (bench/limit_bench.py) on a {records[next(iter(records))]['cores']}-core machine, "
        f"CPython {records[next(iter(records))]['python']}: `bulkpatch run` with **no `--max-rate`**, concurrency 32, a fresh sandbox "
        f"and state directory per run, {' or '.join(map(str, runs))} runs per case (median, and the range when the runs differ). "
        "*Share*: rows per second over the sandbox's busy seconds (first request in to last answer out), "
        "as a share of its limit; a perfect client also gets the bucket's first 10 for free, so a share can pass 1 on short jobs at low limits. "
        "*Right*: every row succeeded, each meeting patched exactly once, exit 0."
    )
    lines.append("")
    if "unknown" in records:
        lines += ["| limit | job | share | target | 429s | violations | rate found | every row right |",
                  "|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        worst: dict[int, float] = {}
        for (limit, job), cases in sorted(
            _cases(records["unknown"], lambda c: (c["limit"], c["jobSeconds"])).items()
        ):
            shares = [c["share"] for c in cases]
            target = 0.95 if job == 60 else 0.90
            worst[job] = min(worst.get(job, 9.0), statistics.median(shares) / target)
            lines.append(
                f"| {limit}/s | {job} s | {_median(shares, _pct)} | ≥ {target:.2f} {_verdict(statistics.median(shares) >= target)} "
                f"| {_median([c['throttled'] for c in cases], str)} | {max(c['violations'] for c in cases)} "
                f"| {_median([c['rateFound'] or 0 for c in cases], lambda v: f'{v:.1f}')} | {all(c['right'] for c in cases)} |"
            )  # fmt: skip
        lines.append("")
        low = min(statistics.median([c["share"] for c in cs]) for (_, j), cs in _cases(records["unknown"], lambda c: (c["limit"], c["jobSeconds"])).items() if j == 20)  # fmt: skip
        high = min(statistics.median([c["share"] for c in cs]) for (_, j), cs in _cases(records["unknown"], lambda c: (c["limit"], c["jobSeconds"])).items() if j == 60)  # fmt: skip
        bullets.append(
            f"Told nothing (no `--max-rate`), against limits of 5 to 300 requests per second: at least {low:.0%} of the limit on a "
            f"20-second job and {high:.0%} on a 60-second one (medians of 3 runs), no Retry-After violation."
        )
    rows = []
    if "long-retry" in records:
        cases = records["long-retry"]["runs"]
        flat = [c for run in cases for c in run]
        share = statistics.median([c["share"] for c in flat])
        # No client finds the limit without one 429: its wait alone caps the share.
        cap = flat[0]["jobSeconds"] / (flat[0]["jobSeconds"] + LONG_RETRY_AFTER)
        rows.append(("Retry-After 60 s, limit 50/s unknown, 10-minute job", _median([c["share"] for c in flat], _pct),
                     f"≥ 0.90 {_verdict(share >= 0.9)}", f"{_median([c['throttled'] for c in flat], str)} 429s, {max(c['violations'] for c in flat)} violations; "
                     f"the one 429's wait alone caps any client told nothing at {cap:.2f}"))  # fmt: skip
        bullets.append(
            f"With a 60-second Retry-After: {share:.0%} of the limit on a 10-minute job, from one 429."
        )
    if "learned" in records:
        flat = [c for run in records["learned"]["runs"] for c in run]
        share = statistics.median([c["share"] for c in flat])
        first20 = min(min(c["perSecond"].get(str(s), c["perSecond"].get(s, 0)) for s in range(1, 19)) for c in flat)  # fmt: skip
        rows.append(("second run, learned rate, 50/s, 20 s job", _median([c["share"] for c in flat], _pct),
                     f"≥ 0.97 {_verdict(share >= 0.97)}", f"{_median([c['throttled'] for c in flat], str)} 429s; slowest whole second {first20}/s; first run {_median([c['firstRunShare'] for c in flat], _pct)}"))  # fmt: skip
        bullets.append(
            f"The next run on the same target and token starts at the rate learned: {share:.0%} of the limit on a 20-second job."
        )
    if "moving" in records:
        flat = [c for run in records["moving"]["runs"] for c in run]
        drop = statistics.median([c["dropShare"] for c in flat])
        rise = [c["riseFoundAfter"] for c in flat]
        rows.append(("limit halved at 60 s (50 → 25/s): seconds 90-150", _median([c["dropShare"] for c in flat], _pct),
                     f"≥ 0.90 of the new limit within 30 s {_verdict(drop >= 0.9)}", f"{max(c['violations'] for c in flat)} violations"))  # fmt: skip
        found = [r for r in rise if r is not None]
        rows.append(("raised again at 150 s (→ 50/s): found after", _median(found, lambda v: f"{v:.0f} s") if found else "not found",
                     f"≤ 120 s {_verdict(len(found) == len(rise) and max(found) <= 120)}", ""))  # fmt: skip
        bullets.append(
            f"A limit that halves mid-run is followed at {drop:.0%} of the new limit; when it rises again it is found in {statistics.median(found) if found else 'n/a'} s."
        )
    if "window" in records:
        flat = [c for run in records["window"]["runs"] for c in run]
        paced = [min(c["perWindow"][3:5]) / 600 for c in flat]
        bullets.append(
            f"A quota of 600 requests per fixed 60-second window is recognised and spread evenly: {statistics.median(paced):.0%} of it per window."
        )
        rows.append(("fixed window 600 per 60 s: windows 4-5 (after 3 with one burst each)", _median(paced, _pct),
                     f"≥ 0.95 of the quota {_verdict(statistics.median(paced) >= 0.95)}", f"per window {flat[0]['perWindow']}; {_median([c['throttled'] for c in flat], str)} 429s, {max(c['violations'] for c in flat)} violations"))  # fmt: skip
    if "two" in records:
        flat = [c for run in records["two"]["runs"] for c in run]
        share = statistics.median([c["share"] for c in flat])
        each = [min(c["each"]) for c in flat]
        refused = [c["throttledShare"] for c in flat]
        rows.append(("two runs at once on one token, 50/s: together", _median([c["share"] for c in flat], _pct),
                     f"≥ 0.90 {_verdict(share >= 0.9)}; each ≥ 0.35 {_verdict(min(each) >= 0.35)}; < 5 % 429s {_verdict(max(refused) < 0.05)}",
                     f"slower run {_median(each, _pct)}, 429s {_median(refused, lambda v: f'{v:.1%}')} of requests, {max(c['violations'] for c in flat)} violations"))  # fmt: skip
        bullets.append(
            f"Two runs on one token share the limit: together {share:.0%} of it, the slower at {statistics.median(each):.0%}."
        )
    if rows:
        lines += ["| case | share | target | notes |", "|---|---:|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        lines.append("")
    every_right = all(
        c.get("right", True) for r in records.values() for run in r["runs"] for c in run
    )
    violations = sum(
        c.get("violations", 0) for r in records.values() for run in r["runs"] for c in run
    )
    lines.append(
        f"Always: Retry-After violations in all runs: {violations}; every row right in every run: {every_right}."
    )
    return "\n".join(lines), bullets


def _splice(path: Path, body: str) -> None:
    text = path.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + body + "\n" + text[end:])


def render(results: Path, root: Path) -> None:
    """Write the tables into docs/benchmarks.md and the bullets into README.md."""
    records = _load(results)
    if not records:
        return
    body, bullets = tables(records)
    _splice(root / "docs" / "benchmarks.md", body)
    _splice(root / "README.md", "\n".join(f"- {bullet}" for bullet in bullets))
    print(body)
