"""What a job file's bytes say when they are not UTF-8: which encoding, and what to do about it.

A spreadsheet user sends three kinds: UTF-8 (with a BOM or without: read), UTF-16 (Excel's
"Unicode Text", which puts a NUL byte beside every ASCII letter: refused whole, since no line of
it reads) and Windows-1252 or Latin-1 (Excel's "CSV" on Windows, whose bytes are UTF-8 until the
first accented letter: each line with such bytes is invalid, and its finding says so).
"""

from __future__ import annotations

import codecs

from bulkpatch.jobfile._rows import shown

#: How much of a file's start is read to recognise UTF-16 or UTF-32: its first four characters.
SNIFF_BYTES = 16
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
#: The byte order mark as text: what UTF-8 "with BOM" (Excel's CSV UTF-8, Notepad) starts with.
BOM = "\ufeff"
#: Characters shown on each side of the first byte that is not UTF-8.
_AROUND = 20


def wide_encoding(head: bytes) -> str | None:
    """ "UTF-16" or "UTF-32" when a file starting with ``head`` is one of them, else None.

    By its byte order mark, or without one by its first four characters: a job's header starts
    with a column name in Latin letters, and in UTF-16 each of them is a letter byte and a NUL
    (three NULs in UTF-32), in the order of the file's byte order. No UTF-8 text has them so.
    Only the first characters are looked at: the rows after may be in any script.
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    for name, width in (("UTF-32", 4), ("UTF-16", 2)):
        units = [head[at : at + width] for at in range(0, 4 * width, width)]
        if len(units[-1]) < width:
            continue
        nul = bytes(width - 1)
        if all(u[1:] == nul and u[0] for u in units) or all(u[:-1] == nul and u[-1] for u in units):
            return name
    return None


def wide_file_message(name: str, csv: bool) -> str:
    """The file error for a UTF-16 or UTF-32 job file: what it is and how to save it."""
    if csv:
        how = 'save it as CSV UTF-8 (Excel: File > Save As > "CSV UTF-8 (Comma delimited)")'
    else:
        how = "save it as UTF-8 (in a text editor: Save As, encoding UTF-8)"
    why = "a job file is UTF-8"
    if csv and name == "UTF-16":
        why += ', and Excel\'s "Unicode Text" is UTF-16'
    return f"this file is {name}; {how}: {why}"


def bom_problem(line: int, text: str) -> str | None:
    """Why a line that starts with a byte order mark (after any spaces) is no row, and what to
    do; None when it does not. The reader takes away the file's own mark, before its first
    line: one it left came with a second file joined on, or is a second mark."""
    rest = text.lstrip(" \t")
    if not rest.startswith(BOM):
        return None
    mark = "a byte order mark (U+FEFF)"
    if not rest.strip(BOM + " \t\r\n"):
        return (
            f"line {line} holds nothing but {mark}, an invisible character that begins a file: "
            "were files joined together? Delete the line and validate again"
        )
    spaces = len(rest) < len(text)
    if line == 1:
        if spaces:
            return (
                f"the file starts with spaces and then {mark}, which belongs at the very start "
                "of a file or nowhere: delete the spaces and the mark and validate again"
            )
        return "the file starts with two byte order marks (U+FEFF); delete one and validate again"
    what = "the spaces and the mark" if spaces else "the mark"
    return (
        f"line {line} starts with {'spaces and then ' if spaces else ''}{mark}, which begins a "
        f"file, not a line: were files joined together? Delete {what} (join files without "
        "their marks) and validate again"
    )


def undecodable(text: str, what: str, *, csv: bool, reveal: bool) -> str:
    """Why a cell or line read with ``surrogateescape`` cannot be used, and what to do.

    A NUL character, or bytes that are not UTF-8: the first is named with where it is and, when
    ``reveal`` (never for a secret, nor a whole line that may hold one), the text around it as
    written and as Windows-1252 reads it, which is what the user saw in the spreadsheet.
    """
    first = next((i for i, char in enumerate(text) if "\udc80" <= char <= "\udcff"), None)
    if first is None:
        if "\x00" in text:
            return f"{what} holds a NUL character (byte 00), which is not text; is this a job file?"
        return f"{what} is not valid UTF-8 text"
    byte = ord(text[first]) - 0xDC00
    window = text[max(0, first - _AROUND) : first + _AROUND]
    where = f"{what} is not UTF-8 text (byte 0x{byte:02X}, character {first + 1}"
    where += f": '{shown(window)}')" if reveal else ")"
    guess = "; the file was probably saved as Windows-1252 (ANSI) or Latin-1"
    if reveal:
        guess += f", where this reads {_as_windows_1252(window)!r}"
    fix = (
        "save it as CSV UTF-8 and validate again" if csv else "save it as UTF-8 and validate again"
    )
    return f"{where}{guess}: {fix}"


def _as_windows_1252(text: str) -> str:
    """The file's own bytes behind ``text`` read as Windows-1252 (Latin-1 for its 5 gaps)."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return shown(text)
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
