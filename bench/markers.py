"""Figures go into the docs only between the markers of the script that measured them."""

from __future__ import annotations

from pathlib import Path


def splice(path: Path, script: str, body: str, heading: str | None = None) -> None:
    """Replace what lies between ``script``'s markers in ``path`` with ``body``.

    The prose around the markers is written by people; the figures between them only by the
    script. Missing markers are added at the end, under ``heading`` when one is given.
    """
    begin, end = f"<!-- begin: written by {script} -->", f"<!-- end: written by {script} -->"
    text = path.read_text()
    if begin not in text:
        title = f"\n## {heading}\n" if heading else ""
        text = text.rstrip("\n") + f"\n{title}\n{begin}\n{end}\n"
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1]
    path.write_text(f"{before}{begin}\n{body.strip()}\n{end}{after}")
