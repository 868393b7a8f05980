"""structlog set-up: a console layout for people at a terminal, JSON lines for machines."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from bulkpatch.config import LogFormat


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing, so that a live progress bar, which
    swaps it for a proxy, can print log lines above itself."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def uses_json(log_format: LogFormat, stream: TextIO | None = None) -> bool:
    """Whether logs are JSON lines: asked for, or "auto" with nobody at a terminal."""
    return log_format == "json" or (log_format == "auto" and not (stream or sys.stderr).isatty())


#: Events that ``--quiet`` still shows, whatever their level.
ALWAYS_SHOWN = frozenset({"run.summary"})


def _quiet(_: Any, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """With --quiet: warnings, errors and the summary only."""
    if event.get("level") in {"debug", "info"} and event.get("event") not in ALWAYS_SHOWN:
        raise structlog.DropEvent
    return event


def configure_logging(
    log_format: LogFormat, verbosity: int, stream: TextIO | None = None, *, quiet: bool = False
) -> None:
    """Send structured logs to stderr (or ``stream``), as JSON unless a person is watching."""
    out: Any = stream or _CurrentStderr()
    use_json = uses_json(log_format, out)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
