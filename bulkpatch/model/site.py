"""The site profile: rules that live in Control Hub, not in the reference, as a TOML file.

Password complexity, tracking code definitions, the session types each host may use and which
users are admins differ from site to site. ``validate --site FILE`` and ``sandbox --site FILE``
apply the same profile; without one, neither applies any of these rules. The profile's shape
follows the APIs a ``site pull`` reads (List Tracking Codes, List Site Session Types, List User
Session Type), in the snake_case of bulkpatch's other TOML files. Pure: parses text.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bulkpatch.model.catalogue import Rule
from bulkpatch.model.values import Finding, Severity

NonNegative = Annotated[int, Field(ge=0)]


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PasswordRules(_Profile):
    """Control Hub's "Require strong passwords for meetings" settings."""

    min_length: NonNegative = 0
    min_letters: NonNegative = 0
    min_digits: NonNegative = 0
    min_special: NonNegative = 0
    mixed_case: bool = False
    disallowed: tuple[str, ...] = ()


class TrackingCodeRule(_Profile):
    """One tracking code of the site: how its value is given and whether a meeting must have it."""

    name: Annotated[str, Field(min_length=1, max_length=120)]
    input_mode: Literal["text", "select", "editableSelect", "hostProfileSelect"] = "text"
    options: tuple[str, ...] = ()
    default: str | None = None
    #: Its type for the meeting scheduler (service MeetingCenter).
    type: Literal["optional", "required", "adminSet", "notUsed", "notApplicable"] = "optional"


class SessionType(_Profile):
    """One session type of the site."""

    id: Annotated[int, Field(ge=1)]
    name: str = ""
    short_name: str = ""
    type: Literal[
        "meeting", "webinar", "privateMeeting", "EventCenter", "SupportCenter", "TrainCenter"
    ] = "meeting"


class HostRules(_Profile):
    """What one host may use; a host not listed may use every session type of the site."""

    session_types: tuple[int, ...] | None = None


class SiteProfile(_Profile):
    """Everything a site decides in Control Hub that the tools can check."""

    site_url: str = ""
    admins: tuple[str, ...] = ()
    password: PasswordRules = PasswordRules()
    tracking_codes: tuple[TrackingCodeRule, ...] = ()
    session_types: tuple[SessionType, ...] = ()
    hosts: dict[str, HostRules] = {}

    def is_admin(self, email: str) -> bool:
        """Whether the site names ``email`` as an admin."""
        return email.lower() in {admin.lower() for admin in self.admins}

    def session_types_of(self, email: str | None) -> tuple[SessionType, ...]:
        """The session types ``email`` may use (all of the site's when the host is not listed)."""
        rules = {key.lower(): value for key, value in self.hosts.items()}.get((email or "").lower())
        if rules is None or rules.session_types is None:
            return self.session_types
        return tuple(kind for kind in self.session_types if kind.id in rules.session_types)


class SiteProfileError(ValueError):
    """The site profile file is not valid TOML or not a profile."""


def load_profile(text: str, where: str) -> SiteProfile:
    """A profile from TOML text; SiteProfileError naming the file and the key otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteProfileError(f"{where}: not valid TOML: {exc}") from None
    try:
        return SiteProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first["loc"])
        raise SiteProfileError(f"{where}: {key}: {first['msg']}") from None


# --- the rules -----------------------------------------------------------------------------------

_R = Rule
_PROFILE = "the site profile (Control Hub)"
#: The site rules, as rows of the docs' rules table.
SITE_RULES: tuple[Rule, ...] = (
    _R("password_complexity", "password, panelistPassword", "error (with --site)",
       "400 (with --site)", "Must conform to the site's password complexity settings.",
       "{field} does not conform to the site's password complexity settings."),
    _R("tracking_code_unknown", "trackingCodes", "error (with --site)", "400 (with --site)",
       "All available tracking codes and their options for the specified site can be retrieved "
       "by List Meeting Tracking Codes API.",
       "trackingCodes: a tracking code that is not defined on the site was given."),
    _R("tracking_code_value", "trackingCodes", "error (with --site)", "400 (with --site)",
       "If the inputMode of a tracking code is select, its value must be one of the site-level "
       "options or the user-level value.",
       "trackingCodes: If the inputMode of a tracking code is select, its value must be one of "
       "the site-level options or the user-level value."),
    _R("tracking_code_required", "trackingCodes", "error (with --site)",
       "400 (with --site); a missing optional code with a default gets its default",
       "If an optional tracking code is missing from the trackingCodes array and there's a "
       "default option for this tracking code, the default option is assigned automatically.",
       "trackingCodes: a required tracking code is missing."),
    _R("tracking_code_not_allowed", "trackingCodes", "error (with --site)", "400 (with --site)",
       "type: adminSet - The value is set by admin. notUsed - The value cannot be used.",
       "trackingCodes: a tracking code set by the admin, or not used, was given."),
    _R("session_type", "sessionTypeId", "error (with --site; per host with hostEmail)",
       "400 (with --site): the site's types, the host's, and a webinar type for a webinar",
       "Unique identifier for a meeting session type for the user. ... All available meeting "
       "session types enabled for the user can be retrieved by List Meeting Session Types API.",
       "sessionTypeId is not a meeting session type enabled for the host."),
    _R("site_admin", "(the token)", "-", "a user token whose email the profile lists is an admin",
       "This attribute should only be set if the user or application calling the API has the "
       "admin-level scopes."),
)  # fmt: skip
_BY_ID = {entry.rule: entry for entry in SITE_RULES}


def site_rule(rule_id: str) -> Rule:
    """A site rule by id."""
    return _BY_ID[rule_id]


def site_findings(
    line: int,
    meeting_id: str,
    body: dict[str, Any],
    profile: SiteProfile,
    host_email: str | None = None,
) -> list[Finding]:
    """The site profile's findings for a validated body (``host_email``: whose session types)."""
    found: list[Finding] = []

    def error(field: str, rule_id: str, message: str, value: str | None = None) -> None:
        found.append(Finding(Severity.ERROR, line, field, rule_id, message, value, meeting_id))

    for field in ("password", "panelistPassword"):
        problem = password_problem(body.get(field), profile.password)
        if problem:
            error(field, "password_complexity", f"{field} {problem} (site rule)", "********")
    if "trackingCodes" in body:
        for field, rule_id, message in tracking_code_problems(body["trackingCodes"], profile):
            error(field, rule_id, message)
    kind = body.get("sessionTypeId")
    host = host_email or body.get("hostEmail")
    if kind is not None and profile.session_types:
        allowed = {session.id for session in profile.session_types_of(host)}
        if kind not in allowed:
            whose = (
                f"{host}'s"
                if host and allowed != {s.id for s in profile.session_types}
                else "the site's"
            )
            error(
                "sessionTypeId",
                "session_type",
                f"sessionTypeId {kind} is not one of {whose} session types "
                f"({', '.join(map(str, sorted(allowed))) or 'none'})",
                str(kind),
            )
    return found


def password_problem(password: Any, rules: PasswordRules) -> str:
    """What a password lacks under the site's complexity rules, or an empty string."""
    if not isinstance(password, str):
        return ""
    counts = {
        "characters": (len(password), rules.min_length),
        "letters": (sum(c.isalpha() for c in password), rules.min_letters),
        "digits": (sum(c.isdigit() for c in password), rules.min_digits),
        "special characters": (sum(not c.isalnum() for c in password), rules.min_special),
    }
    for what, (have, need) in counts.items():
        if have < need:
            return f"needs at least {need} {what}"
    if rules.mixed_case and (password.lower() == password or password.upper() == password):
        return "needs both upper and lower case letters"
    if password.lower() in {word.lower() for word in rules.disallowed}:
        return "is on the site's list of passwords not allowed"
    return ""


def tracking_code_problems(codes: Any, profile: SiteProfile) -> Iterable[tuple[str, str, str]]:
    """(field, rule, message) for every way ``trackingCodes`` breaks the site's definitions."""
    if not profile.tracking_codes:
        return
    defined = {code.name.lower(): code for code in profile.tracking_codes}
    given = {}
    for index, item in enumerate(codes or ()):
        field = f"trackingCodes[{index}]"
        code = defined.get(str(item.get("name", "")).lower())
        if code is None:
            yield (
                field,
                "tracking_code_unknown",
                f"tracking code {item.get('name')!r} is not defined on the site",
            )
            continue
        given[code.name.lower()] = item
        if code.type in {"adminSet", "notUsed"}:
            yield (
                field,
                "tracking_code_not_allowed",
                f"tracking code {code.name!r} is {code.type}: a meeting cannot set it",
            )
        elif code.input_mode == "select" and item.get("value") not in code.options:
            yield (
                field,
                "tracking_code_value",
                f"{code.name} must be one of {', '.join(code.options)}",
            )
    for code in profile.tracking_codes:
        if code.type == "required" and code.name.lower() not in given:
            yield (
                "trackingCodes",
                "tracking_code_required",
                f"the site requires tracking code {code.name!r}",
            )


def with_defaults(codes: list[dict[str, Any]], profile: SiteProfile) -> list[dict[str, Any]]:
    """``codes`` plus each missing optional code that has a default, as the API assigns them."""
    present = {str(item.get("name", "")).lower() for item in codes}
    extra = [
        {"name": code.name, "value": code.default}
        for code in profile.tracking_codes
        if code.type == "optional" and code.default and code.name.lower() not in present
    ]
    return [*codes, *extra]


# --- writing a profile -------------------------------------------------------------------------


def profile_toml(profile: SiteProfile, *, source: str) -> str:
    """A profile as the TOML ``load_profile`` reads back; what no API gives is left to fill in.

    ``source`` says where the values came from (a header comment).
    """
    lines = [
        "# bulkpatch site profile: the rules of one Webex site that live in Control Hub.",
        f"# Written by `bulkpatch site pull` from {source}.",
        "# `bulkpatch validate --site FILE` and `bulkpatch sandbox --site FILE` apply it.",
        "",
        f"site_url = {_string(profile.site_url)}",
        "",
        "# No API lists these: fill them in from Control Hub (administrator roles; Meeting > Site",
        "# settings > Security, 'Require strong passwords for meetings').",
        f"admins = [{', '.join(_string(email) for email in profile.admins)}]",
        "# [password]",
        "# min_length = 8",
        "# min_digits = 1",
    ]
    for code in profile.tracking_codes:
        lines += ["", "[[tracking_codes]]", f"name = {_string(code.name)}"]
        lines.append(f"input_mode = {_string(code.input_mode)}")
        if code.options:
            lines.append(f"options = [{', '.join(_string(option) for option in code.options)}]")
        if code.default is not None:
            lines.append(f"default = {_string(code.default)}")
        lines.append(f"type = {_string(code.type)}")
    for kind in profile.session_types:
        lines += ["", "[[session_types]]", f"id = {kind.id}", f"name = {_string(kind.name)}"]
        lines += [f"short_name = {_string(kind.short_name)}", f"type = {_string(kind.type)}"]
    for email, rules in sorted(profile.hosts.items()):
        if rules.session_types is not None:
            ids = ", ".join(str(number) for number in rules.session_types)
            lines += ["", f"[hosts.{_string(email)}]", f"session_types = [{ids}]"]
    return "\n".join(lines) + "\n"


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
