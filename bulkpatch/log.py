"""structlog set-up: a console layout for people at a terminal, JSON lines for machines.

Losing the log must never stop the work: a closed stderr (``2>&1 >/dev/null | head -3``) or a
full log disk silences the log, and the run goes on recording its outcomes in the journal.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

from bulkpatch.config import LogFormat
from bulkpatch.redact import printable


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing, so that a live progress bar, which
    swaps it for a proxy, can print log lines above itself; silent once it cannot be written."""

    def __init__(self) -> None:
        self.broken = False

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        try:
            return sys.stderr.write(text)
        except (OSError, ValueError):  # closed pipe, closed file
            self.broken = True
            return len(text)

    def flush(self) -> None:
        if self.broken:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            self.broken = True

    def isatty(self) -> bool:
        try:
            return sys.stderr.isatty()
        except (OSError, ValueError):
            return False


class _Sink:
    """Where rendered lines go: the console stream, and as JSON to the log file if there is one."""

    def __init__(self, stream: Any, file: TextIO | None) -> None:
        self._stream = stream
        self.file = file

    def msg(self, console: str | None, json_line: str | None) -> None:
        if console is not None:
            self._stream.write(console + "\n")
            self._stream.flush()
        if json_line is not None and self.file is not None:
            try:
                self.file.write(json_line + "\n")
                self.file.flush()
            except OSError:
                pass  # a full log disk: the console still has it, the journal the outcomes

    # structlog calls the method named after the level.
    debug = info = warning = error = critical = exception = msg


def uses_json(log_format: LogFormat, stream: TextIO | None = None) -> bool:
    """Whether logs are JSON lines: asked for, or "auto" with nobody at a terminal."""
    return log_format == "json" or (log_format == "auto" and not (stream or sys.stderr).isatty())


#: Events that ``--quiet`` still shows, whatever their level.
ALWAYS_SHOWN = frozenset({"run.summary"})


def _quiet(_: Any, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """With --quiet: warnings, errors and the summary only."""
    if _below_warning(event):
        raise structlog.DropEvent
    return event


def _printable(_: Any, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """On a console, text from a server cannot carry escape sequences to the terminal."""
    return {
        key: printable(value) if isinstance(value, str) else value for key, value in event.items()
    }


def configure_logging(
    log_format: LogFormat,
    verbosity: int,
    stream: TextIO | None = None,
    *,
    quiet: bool = False,
    log_file: Path | None = None,
    console_warnings_only: bool = False,
) -> None:
    """Send structured logs to stderr (or ``stream``), as JSON unless a person is watching.

    With ``log_file``, every line is also appended to that file as JSON (created 0600).
    ``console_warnings_only``: a live progress bar owns the terminal, so the console shows
    warnings and errors only (the bar counts retries); the log file still gets every line.
    """
    _close_log_file()
    out: Any = stream or _CurrentStderr()
    use_json = uses_json(log_format, out)
    json_renderer = structlog.processors.JSONRenderer()
    console: structlog.typing.Processor = (
        json_renderer if use_json else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    file = _open_log_file(log_file) if log_file is not None else None
    if file is not None:
        _log_files.append(file)

    def render(logger: Any, name: str, event: structlog.typing.EventDict) -> Any:
        json_line = json_renderer(logger, name, dict(event)) if file is not None else None
        shown: Any = None
        if not (console_warnings_only and _below_warning(event)):
            shown = console(logger, name, event if use_json else _printable(logger, name, event))
        return {"console": shown, "json_line": json_line}

    sink = _Sink(out, file)
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            *([_quiet] if quiet else []),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info
            if use_json
            else structlog.processors.StackInfoRenderer(),
            render,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: sink,
        cache_logger_on_first_use=False,
    )


def _below_warning(event: structlog.typing.EventDict) -> bool:
    return event.get("level") in {"debug", "info"} and event.get("event") not in ALWAYS_SHOWN


#: The log file the current configuration writes to (logging is process-wide, like structlog's
#: own configuration): closed when logging is configured again, and at exit.
_log_files: list[TextIO] = []


def _close_log_file() -> None:
    while _log_files:
        _log_files.pop().close()


atexit.register(_close_log_file)


def _open_log_file(path: Path) -> TextIO:
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return os.fdopen(descriptor, "a", encoding="utf-8")
