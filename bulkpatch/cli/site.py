"""`bulkpatch site pull`: a site profile filled from the site's Control Hub lists."""

from __future__ import annotations

from pathlib import Path

import anyio
import click
import structlog
from structlog.typing import FilteringBoundLogger

from bulkpatch.cli.common import (
    EXIT_NOT_FINISHED,
    EXIT_OK,
    command_path,
    common_options,
    exits_cleanly,
    main,
    say,
    shown_path,
)
from bulkpatch.cli.remote import (
    RemoteFlags,
    handle_signals,
    read_token,
    remote_options,
    remote_settings,
)
from bulkpatch.config import Settings
from bulkpatch.engine import Stopper, StopReason
from bulkpatch.redact import printable
from bulkpatch.tokens import Credentials
from bulkpatch.workflows import Target
from bulkpatch.workflows.site import SitePullOptions, SitePullReport, pull_site


@main.group()
def site() -> None:
    """The site profile: the rules of a Webex site that live in Control Hub.

    \b
    Example:
      bulkpatch site pull -o site.toml --all-hosts
    """


@site.command("pull")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The profile to write (TOML), atomically.",
)
@click.option("--site-url", help="The site, when the token reaches several (example.webex.com).")
@click.option(
    "--host-email",
    "host_emails",
    multiple=True,
    help="Also read the session types this host may use (repeat for more).",
)
@click.option("--all-hosts", is_flag=True, help="Read every host's session types (List People).")
@remote_options
@common_options
@exits_cleanly
def site_pull(
    output: Path,
    site_url: str | None,
    host_emails: tuple[str, ...],
    all_hosts: bool,
    remote: RemoteFlags,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Write a site profile from the site's lists: tracking codes and session types.

    An admin token reads List Tracking Codes and List Site Session Types, and with
    --host-email or --all-hosts each host's session types. Password rules and admins have no
    API: the profile has a place for them, to fill in from Control Hub. `bulkpatch validate
    --site FILE` and `bulkpatch sandbox --site FILE` apply the profile.

    \b
    Example:
      bulkpatch site pull -o site.toml --all-hosts
      bulkpatch validate lobby.csv --site site.toml
    """
    settings, _ = remote_settings(config_path, log_format, verbose, remote)
    log: FilteringBoundLogger = structlog.get_logger("bulkpatch")
    if all_hosts and host_emails:
        raise click.UsageError("--all-hosts reads every host: leave out --host-email")
    options = SitePullOptions(output, site_url, tuple(host_emails), all_hosts)
    credentials = read_token(settings, log)
    report = anyio.run(_execute, options, settings, credentials, log)
    if report.reason is not StopReason.FINISHED or report.profile is None:
        say(f"bulkpatch site pull stopped ({report.reason.value}): nothing was written")
        if report.detail:
            say(printable(f"  why       {report.detail}"))
        return EXIT_NOT_FINISHED
    profile = report.profile
    say(
        f"Site profile of {profile.site_url or 'your site'} written to {shown_path(output)}: "
        f"{len(profile.tracking_codes)} tracking codes, {len(profile.session_types)} session "
        f"types, {len(profile.hosts)} hosts ({report.counts.requests} requests)"
    )
    say("  fill in   admins and [password] from Control Hub: no API lists them")
    say(f"  next      bulkpatch validate JOB --site {command_path(output)}")
    return EXIT_OK


async def _execute(
    options: SitePullOptions,
    settings: Settings,
    credentials: Credentials,
    log: FilteringBoundLogger,
) -> SitePullReport:
    stopper = Stopper()
    async with anyio.create_task_group() as group:
        group.start_soon(handle_signals, stopper, log)
        report = await pull_site(
            options, settings, credentials, Target.api(settings.base_url), log=log, stopper=stopper
        )
        group.cancel_scope.cancel()
    return report
