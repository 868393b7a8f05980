"""Figures go into the docs only between the markers of the script that measured them."""

from __future__ import annotations

from pathlib import Path


def marker_pair(script: str, name: str | None = None) -> tuple[str, str]:
    """The begin and end markers of ``script``, or of its block ``name`` when it writes several."""
    label = f"{script}: {name}" if name else script
    return f"<!-- begin: written by {label} -->", f"<!-- end: written by {label} -->"


def splice(
    path: Path, script: str, body: str, heading: str | None = None, *, name: str | None = None
) -> None:
    """Replace what lies between ``script``'s markers in ``path`` with ``body``.

    The prose around the markers is written by people; the figures between them only by the
    script. Missing markers are added at the end, under ``heading`` when one is given. A script
    that writes several blocks into one file names each (``name``): its markers then read
    ``<!-- begin: written by SCRIPT: NAME -->``.
    """
    begin, end = marker_pair(script, name)
    text = path.read_text()
    if begin not in text:
        title = f"\n## {heading}\n" if heading else ""
        text = text.rstrip("\n") + f"\n{title}\n{begin}\n{end}\n"
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1]
    path.write_text(f"{before}{begin}\n{body.strip()}\n{end}{after}")
