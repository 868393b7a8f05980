"""Requests and 429s per second for each tool in the rate-limited setting (runs in .venv-bench)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    results = [
        r for r in json.loads(Path(sys.argv[1]).read_text()) if r["setting"] == "rate-limited"
    ]
    figure, axes = plt.subplots(len(results), 1, figsize=(9, 2.2 * len(results)), sharex=True)
    for axis, result in zip(axes, results, strict=True):
        seconds = [point[0] for point in result["timeline"]]
        axis.plot(seconds, [point[1] for point in result["timeline"]], label="requests/s")
        axis.bar(
            seconds, [point[2] for point in result["timeline"]], color="tab:red", label="429s/s"
        )
        axis.axhline(50, color="grey", linestyle=":", linewidth=1)
        axis.set_title(result["tool"], fontsize=9, loc="left")
        axis.set_ylim(0, 120)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("seconds since the sandbox started (limit: 50/s, dotted)")
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


main()
