"""`bulkpatch sandbox`: serve the local Webex Meetings emulator until Ctrl-C."""

from __future__ import annotations

import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import anyio
import click
import structlog
from dateutil.relativedelta import relativedelta

from bulkpatch.cli.common import (
    EXIT_OK,
    common_options,
    exits_cleanly,
    main,
    plural,
    settings_from,
)
from bulkpatch.cli.validate import delimiter_option, site_option
from bulkpatch.errors import ConfigError
from bulkpatch.jobfile import DELIMITERS, meeting_ids
from bulkpatch.model.site import SiteProfile
from bulkpatch.sandbox import (
    Faults,
    MeetingStore,
    SandboxError,
    SandboxState,
    SnapshotError,
    every_kind_from,
    generate_meetings,
    is_snapshot,
    new_state,
    parse_latency,
    parse_user_token,
    read_snapshot,
    running_sandbox,
    seed_from_ids,
)
from bulkpatch.sandbox.limits import RateLimits, parse_schedule


def _schedule(
    _: click.Context, __: click.Parameter, value: str | None
) -> tuple[tuple[float, float], ...]:
    try:
        return parse_schedule(value) if value else ()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _latency(_: click.Context, __: click.Parameter, value: str) -> tuple[float, float]:
    try:
        return parse_latency(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _user_tokens(_: click.Context, __: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    try:
        return dict(parse_user_token(text) for text in value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


#: Meetings generated when neither --seed nor --meetings is given.
DEFAULT_MEETINGS = 100


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to serve on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--seed",
    "seed_job",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Create every meeting this job file names, or load a pull snapshot (JSONL of meetings).",
)
@delimiter_option
@click.option(
    "--meetings",
    type=click.IntRange(0),
    metavar="N",
    default=None,
    help=f"Generate N meetings in all: series, their occurrences and instances count alike "
    f"(default {DEFAULT_MEETINGS} without --seed). Every kind (ended, in progress, ad hoc, a "
    f"personal room per host, 11 years ahead) from N = {every_kind_from(0)} + 2 per host.",
)
@click.option(
    "--hosts",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Spread generated meetings over N hosts [default: 4].",
)
@click.option(
    "--random-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for generated meetings and faults.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests per second per token; beyond it, 429.",
)
@click.option(
    "--burst",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Requests a token may send at once.",
)
@click.option(
    "--retry-after-min",
    type=click.FloatRange(min=0),
    default=0.0,
    help="No 429 asks for less than this many seconds of Retry-After.",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Fixed-window quota: the window in seconds (with --quota).",
)
@click.option(
    "--quota",
    type=click.IntRange(1),
    default=None,
    help="Requests per token in each --window; beyond it, 429 until the window ends.",
)
@click.option(
    "--rate-schedule",
    callback=_schedule,
    help="The rate changes over time: SECONDS:RATE,... from the first request (0:50,60:25,180:50).",
)
@click.option(
    "--read-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="GETs get a token bucket of their own at this rate (PATCHes keep --rate).",
)
@click.option(
    "--read-burst",
    type=click.IntRange(1),
    default=None,
    help="Burst of the GET bucket [default: --burst].",
)
@click.option(
    "--latency-ms", default="0", callback=_latency, help="Delay per request: MS or MIN-MAX."
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests failing with 500/502/503/504 or a dropped connection.",
)
@click.option(
    "--locked-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests answered 423 Locked with Retry-After.",
)
@click.option(
    "--token", default=None, help="Accept only this access token, a site admin's (default: any)."
)
@click.option(
    "--user-token",
    "user_tokens",
    multiple=True,
    callback=_user_tokens,
    metavar="TOKEN=EMAIL",
    help="Also accept TOKEN as a user (not an admin) who hosts EMAIL's meetings. Repeatable.",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Tokens expire this many seconds after they are issued (needs --token).",
)
@click.option(
    "--token-uses",
    type=click.IntRange(1),
    default=None,
    help="Tokens expire after this many accepted requests (needs --token): refresh, deterministic.",
)
@click.option(
    "--refresh-token",
    default=None,
    help="Refresh token POST /v1/access_token accepts [default with --token-ttl: sandbox-refresh].",
)
@site_option
@click.option("--quiet", is_flag=True, help="Do not log every request.")
@common_options
@exits_cleanly
def sandbox(
    host: str,
    port: int,
    seed_job: Path | None,
    delimiter: str,
    meetings: int | None,
    hosts: int | None,
    random_seed: int,
    rate: float | None,
    burst: int,
    retry_after_min: float,
    window: float | None,
    quota: int | None,
    rate_schedule: tuple[tuple[float, float], ...],
    read_rate: float | None,
    read_burst: int | None,
    latency_ms: tuple[float, float],
    fault_rate: float,
    locked_rate: float,
    token: str | None,
    user_tokens: dict[str, str],
    token_ttl: float | None,
    token_uses: int | None,
    refresh_token: str | None,
    site: SiteProfile | None,
    quiet: bool,
    config_path: Path | None,
    log_format: str | None,
    verbose: int,
) -> int:
    """Serve a local Webex Meetings emulator on loopback until Ctrl-C.

    It answers GET/PATCH /v1/meetings/{meetingId}, List Meetings (GET /v1/meetings) and List
    People (GET /v1/people) as the real API does: the reference's rules, Webex error bodies, a
    trackingid on every response, pages with a Link header, a rate limit per token, and faults
    on demand. Every accepted token is a site admin, except --user-token ones. --site applies a
    site profile's rules and serves its tracking codes and session types. GET /_sandbox/stats
    shows what it saw.

    \b
    Example:
      bulkpatch sandbox --seed jobs/site-migration-lobby.csv --rate 50 --burst 10
      bulkpatch sandbox --seed jobs/saved-by-excel.csv --delimiter ';'
      bulkpatch sandbox --meetings 1000 --fault-rate 0.1 --latency-ms 50-250 --port 0
      bulkpatch sandbox --seed snapshot.jsonl --token admin-t --user-token ana-t=ana@example.com
      bulkpatch sandbox --site site.toml --meetings 500
      bulkpatch sandbox --window 60 --quota 600 --retry-after-min 5
      bulkpatch sandbox --rate-schedule 0:50,60:25,180:50 --read-rate 100
    """
    settings_from(config_path, log_format, verbose)
    now = datetime.now(UTC)
    store = _store(seed_job, DELIMITERS[delimiter], meetings, hosts, random_seed, now)
    generated = _generated(store, now) if seed_job is None else None
    faults = Faults(
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        locked_rate=locked_rate,
        rng=random.Random(random_seed),
    )
    if (window is None) != (quota is None):
        raise click.UsageError("--window and --quota go together")
    if (token_ttl is not None or token_uses is not None) and refresh_token is None:
        refresh_token = "sandbox-refresh"
    try:
        state = new_state(
            store,
            rate=rate,
            burst=burst,
            token=token,
            faults=faults,
            token_ttl=token_ttl,
            refresh_token=refresh_token,
            token_uses=token_uses,
            users=user_tokens,
            site=site,
        )
        state.limits = RateLimits(
            rate_schedule[0][1] if rate_schedule and rate is None else rate,
            burst,
            time.monotonic,
            retry_after_min=retry_after_min,
            window=window,
            quota=quota,
            schedule=rate_schedule,
            read_rate=read_rate,
            read_burst=read_burst,
        )
        if not quiet:
            log = structlog.get_logger("bulkpatch.sandbox")
            state.on_request = lambda method, path, status, tracking: log.info(
                "sandbox.request", method=method, path=path, status=status, trackingId=tracking
            )
        anyio.run(_serve, state, host, port, token, generated)
    except SandboxError as exc:  # a port in use, a host off loopback: the user's to fix
        raise ConfigError(str(exc)) from None
    return EXIT_OK


def _store(
    seed: Path | None,
    delimiter: str,
    meetings: int | None,
    hosts: int | None,
    random_seed: int,
    now: datetime,
) -> MeetingStore:
    """The meetings to serve: a snapshot's, a job's ids, or exactly ``meetings`` generated ones."""
    if seed is None:
        total = DEFAULT_MEETINGS if meetings is None else meetings
        return generate_meetings(total, random_seed, now, hosts=hosts)
    if is_snapshot(seed):
        try:
            return read_snapshot(seed)
        except SnapshotError as exc:
            raise click.BadParameter(str(exc), param_hint="--seed") from None
    return seed_from_ids(meeting_ids(seed, delimiter=delimiter), now)


def _generated(store: MeetingStore, now: datetime) -> str:
    """What the generated meetings are, by the API's meetingType, and which rare kinds are missing."""
    seeds = store.seeds.values()
    kinds = Counter(seed.kind for seed in seeds)
    hosts = len(store.hosts)
    made = (
        f"generated: {plural(kinds['meetingSeries'], 'series', 'series')}, "
        f"{plural(kinds['scheduledMeeting'], 'scheduled occurrence')} and "
        f"{plural(kinds['meeting'], 'meeting instance')} (in progress or ended), "
        f"{_of_hosts(store)}"
    )
    far = now + relativedelta(years=10)
    rare = {
        "ended": any(seed.state == "ended" for seed in seeds),
        "in-progress": any(seed.state == "inProgress" for seed in seeds),
        "ad hoc": any(seed.adhoc for seed in seeds),
        "personal room": any(seed.scheduled_type == "personalRoomMeeting" for seed in seeds),
        "11-years-ahead": any(seed.start >= far for seed in seeds),
    }
    missing = [name for name, present in rare.items() if not present]
    if not missing:
        return f"{made}\n  every kind is there: {', '.join(rare)}"
    kinds_missing = (
        f"{', '.join(missing[:-1])} or {missing[-1]}" if len(missing) > 1 else missing[0]
    )
    return (
        f"{made}\n  no {kinds_missing} meeting: every kind needs --meetings "
        f"{every_kind_from(hosts):,} or more"
    )


def _of_hosts(store: MeetingStore) -> str:
    """Whose meetings they are: the hosts that have some, and all of them when some have none."""
    everyone = len(store.hosts)
    hosting = sum(1 for person in store.hosts if store.meetings_of(person.email))
    if hosting == everyone:
        return f"of {plural(everyone, 'host')}"
    return f"of {plural(hosting, 'host')} ({plural(everyone, 'host')} in List People)"


async def _serve(
    state: SandboxState, host: str, port: int, token: str | None, generated: str | None
) -> None:
    """Serve until SIGINT or SIGTERM; running_sandbox refuses any host that is not loopback."""
    async with running_sandbox(state, host, port) as running:
        example = next(iter(state.store.seeds), "<meetingId>")
        click.echo(f"bulkpatch sandbox: {plural(len(state.store), 'meeting')} at {running.api_url}")
        if generated is not None:
            click.echo(generated)
        click.echo(f"export WEBEX_ACCESS_TOKEN={token or 'sandbox-token'}")
        for user_token, email in state.users.items():
            click.echo(f"user token for {email}: {user_token}")
        if state.tokens is not None:
            refresh = state.tokens.refresh_token
            click.echo(
                f"export WEBEX_REFRESH_TOKEN={refresh} WEBEX_CLIENT_ID=sandbox WEBEX_CLIENT_SECRET=sandbox"
            )
        click.echo(
            f'try:   curl -H "Authorization: Bearer $WEBEX_ACCESS_TOKEN" {running.api_url}/meetings/{example}'
        )
        click.echo(f"stats: {running.url}/_sandbox/stats   (Ctrl-C stops)")
        sys.stdout.flush()  # a script or test waiting for the URL must see it now
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
    click.echo("bulkpatch sandbox: stopped")
