"""`bulkpatch undo`: the inverse job of a run, and with --run, the revert itself."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio
import click
import structlog
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import (
    EXIT_OK,
    common_options,
    exits_cleanly,
    main,
    plural,
    say,
    shown_path,
)
from bulkpatch.cli.remote import (
    Display,
    RemoteFlags,
    read_token,
    remote_options,
    remote_settings,
    run_with_progress,
)
from bulkpatch.cli.results import open_journal
from bulkpatch.cli.summary import summarise
from bulkpatch.config import SANDBOX_TARGET, Settings
from bulkpatch.errors import ConfigError
from bulkpatch.export import protected_paths
from bulkpatch.journal import Journal
from bulkpatch.log import uses_json
from bulkpatch.redact import printable
from bulkpatch.workflows import RunOptions, RunReport, Target, prepare_job
from bulkpatch.workflows.undo import (
    Inverse,
    choose_output,
    inverse_of,
    inverse_text,
    reverted_meetings,
    runs_kept_off,
    write_inverse,
)


@main.command("undo")
@click.argument("journal", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The inverse job to write [default: JOB.undo.csv beside the job].",
)
@click.option("--run", "run_it", is_flag=True, help="Also run it, with the drift guard.")
@click.option(
    "--force",
    is_flag=True,
    help="With --run: revert meetings edited since bulkpatch changed them too.",
)
@remote_options
@common_options
@exits_cleanly
def undo_command(
    journal: Path,
    output: Path | None,
    run_it: bool,
    force: bool,
    remote: RemoteFlags,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Write the inverse job of a run: each changed field back to its value before.

    JOURNAL is the run's journal (or its job file). The inverse job goes beside the job
    (JOB.undo.csv), in the job's format, ready to read and run; what cannot be reverted (a
    field that had no value, a secret, a start now in the past) is listed. With --run it is
    run at once against the run's own target, with the drift guard: a meeting edited since
    bulkpatch changed it is a conflict, left alone unless --force. Exit codes as for run.

    \b
    Example:
      bulkpatch undo lobby.csv.journal
      bulkpatch undo lobby.csv.journal --run
    """
    if remote.base_url is not None:
        raise click.UsageError("undo goes to the target the run went to: leave out --base-url")
    settings, display = remote_settings(
        config_path,
        log_format,
        verbose,
        remote,
    )
    log: FilteringBoundLogger = structlog.get_logger("bulkpatch")
    with open_journal(journal) as opened:
        source = opened.path
    # No run of the job can interleave with its undo: --run holds the run's journal itself
    # throughout; without it, a hold shared with readers keeps runs off until the file is written.
    with contextlib.ExitStack() as held:
        if not run_it:
            held.enter_context(runs_kept_off(source))
        original = held.enter_context(
            Journal.open_for_run(source) if run_it else Journal.open_read_only(source)
        )
        inverse = inverse_of(original, datetime.now(UTC))
        if not inverse.rows:
            _describe(inverse, None, ready=False)
            return EXIT_OK
        content = inverse_text(inverse)
        output, ready = choose_output(inverse, content, output)
        if not ready:
            write_inverse(content, output, protected_paths(original))
        _describe(inverse, output, ready)
        trial = original.meta.get("target") == SANDBOX_TARGET
        if not run_it:
            say(
                "  next      nothing to run: that trial's in-process sandbox is gone, and its "
                "meetings with it"
                if trial
                else f"  next      bulkpatch undo {journal} --run   (with the drift guard)"
            )
            return EXIT_OK
        if trial:
            raise ConfigError(
                "that run went to an in-process sandbox, which is gone; run the inverse job on "
                f"a sandbox of your own: bulkpatch run {output} --base-url URL"
            )
        target = Target.api(original.meta["target"])
        # The undo's own journal is new: bound to the run's organisation, a token of another
        # is refused before anything is sent (and before the run's rows are marked reverted).
        organisation = original.meta.get("org_id")
        report = _run_inverse(inverse, output, target, force, organisation, settings, display, log)
        with Journal.open_read_only(report.journal) as undone:
            reverted = reverted_meetings(undone)
        if reverted is not None:
            original.mark_reverted(reverted)
    return summarise(report, log if uses_json(settings.log_format) else None, "bulkpatch undo")


def _run_inverse(
    inverse: Inverse,
    output: Path,
    target: Target,
    force: bool,
    organisation: str | None,
    settings: Settings,
    display: Display,
    log: FilteringBoundLogger,
) -> RunReport:
    """Run the inverse job with the drift guard (a resumable run of its own, own journal)."""
    credentials = read_token(settings, log)
    options = RunOptions(
        expect=inverse.expect, ignore_drift=force, retry_failed=force, organisation=organisation
    )
    with prepare_job(output, datetime.now(UTC)) as prepared:
        if not prepared.summary.ok:
            raise ConfigError(
                f"the inverse job {output} does not validate: bulkpatch validate {output}"
            )
        return anyio.run(
            partial(run_with_progress, label="undo"),
            prepared,
            options,
            settings,
            credentials,
            target,
            display,
            log,
        )


def _describe(inverse: Inverse, output: Path | None, ready: bool) -> None:
    if output is None:
        say(
            "Nothing to undo: no row of this journal changed a meeting that can be reverted "
            "(or an undo already did)."
        )
    else:
        state = "already in" if ready else "written to"
        say(f"Undo of {plural(len(inverse.rows), 'meeting')} {state} {shown_path(output)}")
    if inverse.not_revertible:
        say(f"  cannot revert ({len(inverse.not_revertible):,}):")
        for item in inverse.not_revertible:
            say(printable(f"    {item.meeting_id} {item.path}: {item.reason}"))
