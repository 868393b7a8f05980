"""``pull_site``: a site profile filled from the site's own lists, through the one pipeline.

Read (admin scope): List Tracking Codes (``GET /v1/admin/meeting/config/trackingCodes``), List
Site Session Types (``GET /v1/admin/meeting/config/sessionTypes``) and, for the hosts asked
for, List User Session Type (``GET /v1/admin/meeting/userconfig/sessionTypes`` with the host in
the ``email`` header). Password rules and admins have no API: the profile leaves them to fill
in by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structlog.typing import FilteringBoundLogger

from bulkpatch.config import Settings
from bulkpatch.engine import Pipeline, RunCounts, Stopper, StopReason
from bulkpatch.errors import RemoteError
from bulkpatch.export import atomic_output, check_output
from bulkpatch.model.site import HostRules, SessionType, SiteProfile, TrackingCodeRule, profile_toml
from bulkpatch.tokens import Credentials
from bulkpatch.workflows.listing import Listing, ListingFailed, pages, people_emails
from bulkpatch.workflows.session import Target, open_session

_TRACKING_CODES = "admin/meeting/config/trackingCodes"
_SESSION_TYPES = "admin/meeting/config/sessionTypes"
_USER_SESSION_TYPES = "admin/meeting/userconfig/sessionTypes"


@dataclass(frozen=True)
class SitePullOptions:
    """Where to write the profile, which site, and whose session types to read."""

    output: Path
    site_url: str | None = None
    hosts: tuple[str, ...] = ()
    all_hosts: bool = False


@dataclass(frozen=True)
class SitePullReport:
    """How a site pull ended and what it found."""

    reason: StopReason
    detail: str
    profile: SiteProfile | None
    counts: RunCounts


async def pull_site(
    options: SitePullOptions,
    settings: Settings,
    credentials: Credentials,
    target: Target,
    *,
    log: FilteringBoundLogger,
    stopper: Stopper | None = None,
) -> SitePullReport:
    """Read the site's lists and write the profile (atomically); nothing is written if stopped."""
    check_output(options.output)  # before the first request: the lists are not read in vain
    stopper = stopper or Stopper()
    async with open_session(settings, credentials, target, log=log, stopper=stopper) as session:
        pipeline = session.pipeline
        try:
            profile = await _read(pipeline, options)
        except ListingFailed as exc:
            if exc.stopped:
                return SitePullReport(stopper.reason, stopper.detail, None, pipeline.counts)
            raise RemoteError(f"site pull: {exc}") from None
    with atomic_output(options.output, [], private=False) as out:
        out.write(profile_toml(profile, source=target.name))
    return SitePullReport(StopReason.FINISHED, "", profile, pipeline.counts)


async def _read(pipeline: Pipeline, options: SitePullOptions) -> SiteProfile:
    site = (("siteUrl", options.site_url),) if options.site_url else ()
    raw_codes = await _all(pipeline, Listing(_TRACKING_CODES, site))
    raw_kinds = await _all(pipeline, Listing(_SESSION_TYPES, site))
    codes = [_tracking_code(item) for item in raw_codes]
    kinds = [_session_type(item) for item in raw_kinds]
    hosts = list(options.hosts)
    if options.all_hosts:
        hosts = await people_emails(pipeline)
    per_host: dict[str, HostRules] = {}
    for email in hosts:
        listing = Listing(_USER_SESSION_TYPES, site, (("email", email),))
        for item in await _all(pipeline, listing):
            if isinstance(item, dict) and str(item.get("email", "")).lower() == email.lower():
                ids = tuple(_int(kind.get("id")) for kind in item.get("sessionTypes") or ())
                per_host[email] = HostRules(session_types=tuple(i for i in ids if i))
    named = (
        str(item.get("siteUrl"))
        for item in [*raw_codes, *raw_kinds]
        if isinstance(item, dict) and item.get("siteUrl")
    )
    site_url = options.site_url or next(named, "")
    return SiteProfile(
        site_url=site_url,
        tracking_codes=tuple(code for code in codes if code is not None),
        session_types=tuple(kind for kind in kinds if kind is not None),
        hosts=per_host,
    )


async def _all(pipeline: Pipeline, listing: Listing) -> list[Any]:
    items: list[Any] = []
    async for page in pages(pipeline, listing, what=listing.path):
        items.extend(page)
    return items


def _tracking_code(item: Any) -> TrackingCodeRule | None:
    if not isinstance(item, dict) or not item.get("name"):
        return None
    options = [o for o in item.get("options") or () if isinstance(o, dict) and o.get("value")]
    default = next((str(o["value"]) for o in options if o.get("defaultValue")), None)
    scheduler = next(
        (
            str(code.get("type"))
            for code in item.get("scheduleStartCodes") or ()
            if isinstance(code, dict) and code.get("service") == "MeetingCenter"
        ),
        "optional",
    )
    return TrackingCodeRule.model_validate(
        {
            "name": str(item["name"]),
            "input_mode": item.get("inputMode", "text"),
            "options": tuple(str(o["value"]) for o in options),
            "default": default,
            "type": scheduler,
        }
    )


def _session_type(item: Any) -> SessionType | None:
    if not isinstance(item, dict) or not _int(item.get("id")):
        return None
    return SessionType.model_validate(
        {
            "id": _int(item["id"]),
            "name": str(item.get("name", "")),
            "short_name": str(item.get("shortName", "")),
            "type": item.get("type", "meeting"),
        }
    )


def _int(value: Any) -> int:
    """Session type ids come as strings in these lists, as numbers in a meeting."""
    try:
        return int(str(value))
    except ValueError:
        return 0
