"""What every command shares: the group, the common options, settings and exit handling."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from bulkpatch import __version__
from bulkpatch.config import Settings, load_settings
from bulkpatch.errors import (
    BulkpatchError,
    ConfigError,
    JobFileError,
    JournalBusy,
    JournalError,
    JournalFailed,
    OutputError,
)
from bulkpatch.log import configure_logging
from bulkpatch.redact import printable

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FINISHED = 3

P = ParamSpec("P")
R = TypeVar("R")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="bulkpatch")
def main() -> None:
    """Change many Webex meetings at once, from a CSV or JSON Lines job file.

    \b
    Example:
      bulkpatch validate jobs/site-migration-lobby.csv
    """


class ReportsInJson(click.Command):
    """A command with ``--format json`` whose report covers click's own usage errors too.

    click parses the command line before the command runs: an unknown option, a missing
    argument or a value not among the choices ends it there, with usage text on stderr. Given
    ``--format json`` on that line, stdout then gets the command's JSON document as well, every
    key null but ``error`` (click's message); stderr and exit 2 stay click's. The document
    comes from ``usage_error_json``, the command's own writer of an error document.
    """

    def __init__(self, *args: Any, usage_error_json: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usage_error_json = usage_error_json

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        given = list(args)  # click's parser consumes the list it is handed
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            if asks_for_json(given):
                with reader_may_leave():
                    self.usage_error_json(error.format_message())
            raise


def asks_for_json(args: list[str]) -> bool:
    """Whether a command line gives ``--format json``: its last ``--format`` of text or json,
    as click reads them (a value of neither is the usage error itself, which a script that
    asked for json earlier still reads as one)."""
    wanted = None
    for index, arg in enumerate(args):
        if arg == "--":  # what follows is arguments, never options
            break
        value = None
        if arg == "--format" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--format="):
            value = arg.partition("=")[2]
        if value in ("text", "json"):
            wanted = value
    return wanted == "json"


def file_path() -> click.Path:
    """A file's path that click leaves unchecked: the command that opens it says what is wrong.

    A folder, a missing or an unreadable file is then the command's own error, with its exit
    code and, under ``--format json``, its JSON report (click's checks print usage text).
    """
    checked_later = click.Path(path_type=Path, readable=False)
    checked_later.name = "file"  # shown as FILE in --help, as a file is what it takes
    return checked_later


#: --format text|json, for the commands that report to people or to scripts.
text_or_json = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="text for people, json for scripts.",
)


def common_options(command: Callable[P, R]) -> Callable[P, R]:
    """--config, --log-format and -v, accepted by every command."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=file_path(),
            help="TOML settings file (see config.example.toml).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["auto", "console", "json"]),
            default=None,
            help="Log layout; auto = console on a terminal, JSON otherwise.",
        ),
        click.option("-v", "--verbose", count=True, help="More detail; tracebacks on errors."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def settings_from(
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
    *,
    quiet: bool = False,
    **flags: object,
) -> Settings:
    """Settings from flags (None = not given), environment and config file; logging set up."""
    settings = load_settings(config_path, os.environ, {"log_format": log_format, **flags})
    configure_logging(settings.log_format, verbose, quiet=quiet, log_file=settings.log_file)
    return settings


def exits_cleanly(command: Callable[P, int]) -> Callable[P, NoReturn]:
    """Turn a command's return value into the exit code, and its errors into one clean line."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> NoReturn:
        verbose = bool(kwargs.get("verbose"))
        try:
            code = command(*args, **kwargs)
        except BaseException as raised:  # every way out gets its documented exit code
            _exit_for(_unwrapped(raised), verbose)
        sys.exit(code)

    return wrapper


def _unwrapped(error: BaseException) -> BaseException:
    """The one error inside task-group exception groups (anyio wraps what a task raised)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _exit_for(error: BaseException, verbose: bool) -> NoReturn:
    if isinstance(error, (click.ClickException, click.exceptions.Exit, click.Abort)):
        raise error  # click's own usage errors keep their exit code 2
    if isinstance(error, SystemExit):
        raise error
    if isinstance(error, KeyboardInterrupt):
        click.echo("bulkpatch: interrupted", err=True)
        sys.exit(EXIT_NOT_FINISHED)
    if isinstance(error, BrokenPipeError):
        _quiet_broken_pipe()
    failed = failure(error)
    _fail(failed.message, failed.code, verbose, cause=failed.cause)


@dataclass(frozen=True)
class Failure:
    """How an error ends a command: its one line, its exit code, and the traceback's cause."""

    message: str
    code: int
    cause: BaseException


def failure(error: BaseException) -> Failure:
    """The line and exit code an error ends a command with (for stderr, and JSON reports)."""
    if isinstance(error, click.ClickException):
        return Failure(error.format_message(), error.exit_code, error)
    if isinstance(error, KeyboardInterrupt):
        return Failure("interrupted", EXIT_NOT_FINISHED, error)
    if isinstance(error, (JournalBusy, JournalFailed)):
        return Failure(str(error), EXIT_NOT_FINISHED, error)
    if isinstance(error, (JobFileError, ConfigError, JournalError, OutputError)):
        return Failure(str(error), EXIT_USAGE, error)
    if isinstance(error, BulkpatchError):
        return Failure(str(error), EXIT_NOT_FINISHED, error)
    if isinstance(error, OSError):  # a file we were told to write or read: name it, no traceback
        where = f": {error.filename}" if error.filename else ""
        return Failure(f"{error.strerror or error}{where}", EXIT_USAGE, error)
    # Never exit 1 (which means "some rows failed") on a bug: say so, exit 3.
    return Failure(
        f"unexpected internal error ({error.__class__.__name__}); rerun with -v for the traceback",
        EXIT_NOT_FINISHED,
        error,
    )


@dataclass
class ErrorReport:
    """What a command under ``--format json`` knows so far, to print with the error that ends it."""

    wanted: bool
    #: Keys of the command's own report known before the error (its job, its journal...).
    known: dict[str, Any] = field(default_factory=dict)
    #: Prints the report ``known`` plus ``error``; a command whose document is under way (rows
    #: already out) sets one that closes that document instead.
    write: Callable[[dict[str, Any], BaseException], None] = lambda report, _: print_json(report)


def print_json(document: dict[str, Any]) -> None:
    """One JSON document on one line of stdout."""
    say(json.dumps(document, ensure_ascii=False))


@contextlib.contextmanager
def json_errors(output_format: str, **known: Any) -> Iterator[ErrorReport]:
    """Under ``--format json``, an error leaving the block is one JSON object on stdout too.

    The object is ``known`` (what the command knew, updated as it learns more) and ``error``,
    the line stderr gets; the error then goes on to :func:`exits_cleanly`, which prints that
    line and exits with the code it always had. Scripts read one document on every path.
    """
    report = ErrorReport(output_format == "json", known)
    try:
        yield report
    except (click.exceptions.Exit, click.Abort, SystemExit, BrokenPipeError):
        raise  # not a failure to report (or no reader left to report it to)
    except BaseException as raised:
        if report.wanted:
            with reader_may_leave():
                report.write(report.known | {"error": failure(_unwrapped(raised)).message}, raised)
        raise


def _quiet_broken_pipe() -> NoReturn:
    """The reader went away (``| head``): end quietly, as command-line tools do."""
    _stdout_to_devnull()
    sys.exit(EXIT_OK)


@contextlib.contextmanager
def reader_may_leave() -> Iterator[None]:
    """Print a report the reader may stop reading (``| head``): the command's exit code stays its own.

    Where the exit code says what was found (validate: 2 for an invalid job), a closed pipe
    ends the printing quietly instead of turning the outcome into exit 0.
    """
    try:
        yield
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    # Python would complain when flushing stdout at exit: point it at /dev/null first.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _fail(
    error: BaseException | str, code: int, verbose: bool, *, cause: BaseException | None = None
) -> NoReturn:
    shown = cause or error
    if verbose and isinstance(shown, BaseException):
        traceback.print_exception(shown, file=sys.stderr)
    with contextlib.suppress(OSError):  # stderr may be gone too
        click.echo(f"bulkpatch: error: {printable(str(error))}", err=True)
    sys.exit(code)


def say(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print a line a run's outcome does not depend on: a closed pipe must not change the exit code."""
    with contextlib.suppress(OSError):
        click.echo(message, err=err, nl=nl)


def shown_path(path: Path) -> str:
    """A path as people read it: relative to the current folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def command_path(path: Path) -> str:
    """A path as a command to paste takes it: :func:`shown_path`, quoted for the shell, and
    never read as an option (``./-name``)."""
    shown = shown_path(path)
    return shlex.quote(f"./{shown}" if shown.startswith("-") else shown)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """A count and its noun, as people write it: 1 meeting, 2 meetings, 1,000 meetings."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
