"""What compare.py measures with, and the text it writes from bench/results/peers.json.

The docs' tables and reading, and the README's table: every figure in them comes from the kept
record, so they can be written again without measuring (compare.py --render).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONCURRENCY = 32
KILL_AFTER = 8.0
LIMIT = 50.0
LATENCY = 0.2


@dataclass(frozen=True)
class Tool:
    """One way to do the job, and the requests it needs for a row when nothing goes wrong."""

    name: str
    requests_per_row: int
    script: str | None = None  # a peer's script in bench/peers, run in .venv-bench
    flags: tuple[str, ...] = ()  # bulkpatch's own


@dataclass(frozen=True)
class Setting:
    """One sandbox set-up, and what bounds a perfect client in it."""

    name: str
    rows: int
    sandbox_args: tuple[str, ...]
    limit: float | None = None  # requests per second, GETs and PATCHes together
    latency: float | None = None  # seconds per answer, no limit
    charted: bool = False

    def ideal(self, requests_per_row: int) -> float:
        """Rows per second a perfect client reaches here, needing this many requests a row."""
        if self.limit is not None:
            return self.limit / requests_per_row
        assert self.latency is not None
        return CONCURRENCY / self.latency / requests_per_row


TOOLS = (
    Tool("naive aiohttp", 1, "naive_peer.py"),
    Tool("webexpythonsdk", 1, "webexpythonsdk_peer.py"),
    Tool("wxc_sdk", 1, "wxc_sdk_peer.py"),
    Tool("bulkpatch", 2),
    Tool("bulkpatch --no-snapshot", 1, flags=("--no-snapshot",)),
)
_RATE = ("--rate", f"{LIMIT:g}", "--burst", "10")
SETTINGS = (
    Setting("rate-limited", 1000, _RATE, limit=LIMIT, charted=True),
    Setting("latency 200 ms", 5000, ("--latency-ms", f"{LATENCY * 1000:g}"), latency=LATENCY),
    Setting(
        "faults + 429 storms",
        1000,
        ("--fault-rate", "0.1", "--locked-rate", "0.05", *_RATE),
        limit=LIMIT,
    ),
)
BULKPATCH = ("bulkpatch", "bulkpatch --no-snapshot")
NOT_RUN = "n/a"  # a tool that does not run in a setting


class _Runs:
    """The runs of one tool in one setting, and the figures the text takes from them."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        self.runs = runs
        self.rows = runs[0]["rows"]
        self.ideal = runs[0]["ideal"]
        self.needed = runs[0]["requests_per_row"]

    def median(self, of: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(of(r) for r in self.runs)

    def spread(self, of: Callable[[dict[str, Any]], float], fmt: str, unit: str = "") -> str:
        """The median, and the range when the runs differ."""
        values = [of(r) for r in self.runs]
        middle = format(statistics.median(values), fmt)
        low, high = format(min(values), fmt), format(max(values), fmt)
        return f"{middle}{unit}" if low == high else f"{middle}{unit} ({low}-{high})"

    @property
    def failed(self) -> int:
        """Rows not done in the worst run: a tool that gave them up did not do the job."""
        return int(self.rows - min(r["succeeded"] for r in self.runs))

    @property
    def violations(self) -> int:
        return int(max(r["violations"] for r in self.runs))

    def share(self) -> str:
        if self.failed:
            return "n/a"
        return self.spread(lambda r: 100 * _rate(r) / r["ideal"], ".0f", " %")

    def rate(self) -> str:
        return "n/a" if self.failed else self.spread(_rate, ",.1f")


def _rate(run: dict[str, Any]) -> float:
    return run["succeeded"] / run["seconds"] if run["seconds"] else 0.0


def _used(run: dict[str, Any]) -> float:
    """Requests per second over the limit (the ideal times the requests a row needs)."""
    limit = run["ideal"] * run["requests_per_row"]
    return run["requests"] / run["seconds"] / limit if run["seconds"] else 0.0


def _grouped(record: dict[str, Any]) -> dict[tuple[str, str], _Runs]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in record["runs"]:
        groups.setdefault((run["setting"], run["tool"]), []).append(run)
    return {key: _Runs(runs) for key, runs in groups.items()}


def _tools_of(setting: str, runs: dict[tuple[str, str], _Runs]) -> list[str]:
    return [t.name for t in TOOLS if (setting, t.name) in runs]


def _about(record: dict[str, Any]) -> str:
    """When, where, how often, and how busy the machine was."""
    days = sorted({r["measured"] for r in record["runs"]})
    repeats = sorted({len(g.runs) for g in _grouped(record).values()})
    loads = [max(r["load"]) for r in record["runs"]]
    when = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    times = " or ".join(_times(n) for n in repeats)
    minutes = f" in {record['minutes']:g} minutes" if record.get("minutes") else ""
    text = (
        f"Measured {when} with `make bench-peers`{minutes} on a {record['cores']}-core machine shared with other "
        f"engineers' tests (load average during the runs: median {statistics.median(loads):.1f}, "
        f"highest {max(loads):.1f}), CPython {record['python']}: concurrency {CONCURRENCY}, a fresh "
        f"sandbox per run, every run done {times} (median, and the range "
        "when the runs differ; rows failed and violations from the worst run)."
    )  # fmt: skip
    for rerun in record.get("partial_reruns", []):
        text += f" Measured again: {rerun}."
    return text


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def results_table(record: dict[str, Any]) -> list[str]:
    """One line per setting and tool."""
    runs = _grouped(record)
    lines = [
        "| setting | rows | tool | requests a row: needed / sent | ideal rows/s | rows/s | of ideal | seconds | rows failed | 429s | Retry-After violations |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for setting in SETTINGS:
        for tool in _tools_of(setting.name, runs):
            g = runs[setting.name, tool]
            sent = g.median(lambda r: r["requests"] / r["rows"])
            lines.append(
                f"| {setting.name} | {g.rows:,} | {tool} | {g.needed} / {sent:.2f} | {g.ideal:g} | {g.rate()} | {g.share()} "
                f"| {g.spread(lambda r: r['seconds'], '.1f')} | {g.failed:,} | {g.median(lambda r: r['throttled']):,.0f} | {g.violations:,} |"
            )  # fmt: skip
    return lines


def kills_table(record: dict[str, Any]) -> list[str]:
    lines = [
        "| tool | PATCHes applied at the kill | recorded done | recorded as possibly sent | unaccounted for | resumable | PATCHes sent again to finish | finished |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]  # fmt: skip
    for k in record.get("kills", []):
        resent = f"{k['resent_to_finish']:,}" if k["finished"] else "n/a"
        lines.append(
            f"| {k['tool']} | {k['applied_at_kill']:,} | {k['recorded_done']:,} | {k['recorded_in_flight']:,} | {k['unaccounted']:,} "
            f"| {'yes' if k['resumable'] else 'no'} | {resent} | {'yes' if k['finished'] else 'no'} |"
        )  # fmt: skip
    return lines


def _share_or_failed(g: _Runs) -> str:
    if g.failed:
        return f"{g.failed:,} rows failed"
    return f"{100 * g.median(lambda r: _rate(r) / r['ideal']):.0f} %"


def reading(record: dict[str, Any]) -> list[str]:
    """The verdict, a line per question, every figure from the record."""
    runs = _grouped(record)
    lines = []
    for setting in SETTINGS:
        parts = []
        for tool in _tools_of(setting.name, runs):
            g = runs[setting.name, tool]
            if g.failed:
                parts.append(f"{tool}: {g.failed:,} rows failed")
            else:
                parts.append(
                    f"{tool}: {g.median(_rate):,.1f} rows/s, {_share_or_failed(g)} of its {g.ideal:g}"
                )
        if parts:
            lines.append(f"- **{setting.name}** (medians): " + "; ".join(parts) + ".")
    worst = {}
    for tool in (t.name for t in TOOLS):
        mine = [g.violations for (_, t), g in runs.items() if t == tool]
        if mine:
            worst[tool] = max(mine)
    lines.append(
        "- **Retry-After violations**, worst run of any setting: "
        + "; ".join(f"{tool}: {n:,}" for tool, n in worst.items())
        + "."
    )
    faults = "faults + 429 storms"
    done = [runs[faults, t] for t in _tools_of(faults, runs) if not runs[faults, t].failed]
    sent = [
        f"{f.runs[0]['tool']}: {f.median(lambda r: r['requests'] / r['rows']):.2f} a row (needs "
        f"{f.needed}), {100 * f.median(_used):.0f} % of the limit used"
        for f in done
    ]
    if sent:
        lines.append(
            "- **Under faults**, retries are requests under the same limit: requests sent, and "
            "requests per second over the limit (medians): " + "; ".join(sent) + "."
        )
    kills = record.get("kills", [])
    if kills:
        lines.append(
            f"- **Killed {KILL_AFTER:g} s in**, PATCHes applied that the tool cannot account for: "
            + "; ".join(
                f"{k['tool']}: {k['unaccounted']:,} of {k['applied_at_kill']:,}" for k in kills
            )
            + "."
        )
    lines += _targets(runs, kills)
    return lines


def _targets(runs: dict[tuple[str, str], _Runs], kills: list[dict[str, Any]]) -> list[str]:
    """Issue 7's targets, for each way bulkpatch ran."""
    lines = [
        "- **Targets** (issue 7: within 5 % of the ideal with the limit and with the latency, "
        "no Retry-After violation, no row lost):"
    ]
    for tool in BULKPATCH:
        mine = {setting: g for (setting, t), g in runs.items() if t == tool}
        if not mine:
            continue
        checks = []
        for setting in ("rate-limited", "latency 200 ms"):
            if setting in mine:
                share = _share(mine[setting])
                best = max(
                    (
                        _share(g)
                        for (s, t), g in runs.items()
                        if s == setting and t not in BULKPATCH
                    ),
                    default=None,
                )
                peer = "" if best is None else f", the best peer {100 * best:.0f} %"
                checks.append(
                    f"{setting} {100 * share:.0f} % of ideal ({_met(share >= 0.95)}{peer})"
                )
        violations = max(g.violations for g in mine.values())
        lost = max(g.failed for g in mine.values())
        checks.append(f"{violations:,} violations ({_met(not violations)})")
        checks.append(f"{lost:,} rows lost in the worst run ({_met(not lost)})")
        lines.append(f"  - {tool}: " + "; ".join(checks) + ".")
    return lines if len(lines) > 1 else []


def _share(g: _Runs) -> float:
    """Median share of the ideal; none for a tool that left rows failed."""
    return 0.0 if g.failed else g.median(lambda r: _rate(r) / r["ideal"])


def _met(yes: bool) -> str:
    return "met" if yes else "**not met**"


def docs_body(record: dict[str, Any]) -> str:
    """The part of docs/benchmarks.md compare.py owns."""
    return "\n".join(
        [
            _about(record),
            "",
            *results_table(record),
            "",
            *reading(record),
            "",
            f"Killed with SIGKILL {KILL_AFTER:g} s into the rate-limited setting, then the same command again:",
            "",
            *kills_table(record),
            "",
            "![requests and 429s per second, rate-limited setting, first run of each tool](peers.png)",
        ]
    )


def readme_body(record: dict[str, Any]) -> str:
    """The README's compact table: a column per tool."""
    runs = _grouped(record)
    tools = [t.name for t in TOOLS if any(t.name == tool for _, tool in runs)]
    days = sorted({r["measured"] for r in record["runs"]})
    repeats = " or ".join(sorted({_times(len(g.runs)) for g in runs.values()}))
    lines = [
        f"Side by side with what users would otherwise script (`make bench-peers`, {days[-1]}, "
        f"{record['cores']} cores, concurrency {CONCURRENCY}, each run done {repeats}, medians; no tool told the "
        "limit). *Of ideal* counts the requests a row needs: two for bulkpatch as it runs by default "
        "(it reads each meeting first, for `undo`), one for `--no-snapshot` and the others. Full "
        "tables, ranges and chart in [docs/benchmarks.md](docs/benchmarks.md#side-by-side-with-the-peers).",
        "",
        "| setting | " + " | ".join(f"`{t}`" if t.startswith("bulkpatch ") else t for t in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]  # fmt: skip

    def row(label: str, setting: str, cell: Callable[[_Runs], str]) -> None:
        cells = [cell(runs[setting, t]) if (setting, t) in runs else NOT_RUN for t in tools]
        if any(c != NOT_RUN for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("rate limit 50/s, 1,000 rows: of ideal", "rate-limited", _share_or_failed)
    row("rate limit 50/s: Retry-After violations", "rate-limited", lambda g: f"{g.violations:,}")
    row("200 ms latency, 5,000 rows: of ideal", "latency 200 ms", _share_or_failed)
    row("faults + 429 storms: rows failed", "faults + 429 storms", lambda g: f"{g.failed:,}")
    kills = {k["tool"]: k for k in record.get("kills", [])}
    if kills:
        cells = [
            f"{kills[t]['unaccounted']:,} / {'yes' if kills[t]['resumable'] else 'no'}"
            if t in kills
            else NOT_RUN
            for t in tools
        ]
        lines.append(
            "| after `kill -9`: PATCHes unaccounted for / resumable | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)
