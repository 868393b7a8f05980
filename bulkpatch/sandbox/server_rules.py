"""The rules only a server can apply: what the meeting is, who asks, and what it already holds.

Each refusal answers in the reference's own words, taken from the rule catalogue
(:mod:`bulkpatch.model.catalogue`), so the docs' table and the sandbox say the same thing.
"""

from __future__ import annotations

from typing import Any

from bulkpatch.model.catalogue import rule
from bulkpatch.model.site import SiteProfile, site_findings, site_rule
from bulkpatch.sandbox.accounts import Identity
from bulkpatch.sandbox.refusal import Refusal


def refuse(rule_id: str, status: int = 400) -> Refusal:
    """A refusal in the words the catalogue gives the rule."""
    return Refusal(status, rule(rule_id).api_words)


def refuse_if(reason: str | None) -> None:
    """Refuse (400) for a reason one of :mod:`bulkpatch.model.server`'s rules gave, if any."""
    if reason is not None:
        raise Refusal(400, reason)


def check_host_email(
    body: dict[str, Any], host_email: str, viewer: Identity, hosts_known: bool = True
) -> None:
    """``hostEmail`` is for admins only, and names the meeting's real host; it changes nothing.

    Without ``hosts_known`` (a store seeded from bare ids, whose hosts are invented), any host
    an admin names is taken as the real one.
    """
    given = body.get("hostEmail")
    if given is None:
        return
    if not viewer.admin:
        raise Refusal(
            403,
            "hostEmail should only be set if the user or application calling the API has the "
            "admin-level scopes.",
        )
    if hosts_known and str(given).lower() != host_email.lower():
        raise refuse("host_email")


def refuse_by_site(
    meeting_id: str, meeting: dict[str, Any], body: dict[str, Any], host: str, site: SiteProfile
) -> None:
    """The site profile's rules (``--site``): passwords, tracking codes, session types."""
    found = site_findings(0, meeting_id, body, site, host_email=host)
    kind = body.get("sessionTypeId")
    if kind is not None and not found:
        wanted = "webinar" if meeting["scheduledType"] == "webinar" else "meeting"
        types = {session.id: session.type for session in site.session_types}
        if types.get(kind, wanted).replace("privateMeeting", "meeting") != wanted:
            raise Refusal(400, f"sessionTypeId {kind} is not a session type for a {wanted}.")
    if found:
        reasons = [site_rule(f.rule).answer(f.field, f.message) for f in found]
        raise Refusal(400, reasons[0], reasons)
