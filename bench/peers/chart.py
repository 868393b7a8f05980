"""Requests and 429s per second for each tool in the rate-limited setting (runs in .venv-bench).

    .venv-bench/bin/python bench/peers/chart.py bench/results/peers.json docs/peers.png

Each tool's first kept run; the dotted line is the sandbox's limit (GETs and PATCHes together).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SETTING, LIMIT = "rate-limited", 50


def main() -> None:
    record = json.loads(Path(sys.argv[1]).read_text())
    first: dict[str, dict] = {}
    for run in record["runs"]:
        if run["setting"] == SETTING and "timeline" in run:
            first.setdefault(run["tool"], run)
    results = list(first.values())
    figure, axes = plt.subplots(len(results), 1, figsize=(9, 2.2 * len(results)), sharex=True)
    for axis, result in zip(axes, results, strict=True):
        seconds = [point[0] for point in result["timeline"]]
        axis.plot(seconds, [point[1] for point in result["timeline"]], label="requests/s")
        axis.bar(
            seconds, [point[2] for point in result["timeline"]], color="tab:red", label="429s/s"
        )
        axis.axhline(LIMIT, color="grey", linestyle=":", linewidth=1)
        per_row = result["requests_per_row"]
        axis.set_title(
            f"{result['tool']} ({per_row} request{'s' if per_row > 1 else ''} a row)",
            fontsize=9,
            loc="left",
        )
        axis.set_ylim(0, 120)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel(f"seconds since the sandbox started (limit: {LIMIT}/s, dotted)")
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


main()
