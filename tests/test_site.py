"""The site profile: Control Hub's rules applied by `validate --site` and `sandbox --site` alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from bulkpatch.cli import main
from bulkpatch.model.site import SiteProfile, SiteProfileError, load_profile, site_findings
from bulkpatch.sandbox import RunningSandbox, generate, new_state, running_sandbox

ROOT = Path(__file__).parent.parent
PROFILE = load_profile((FIXTURES / "site.toml").read_text(), "site.toml")
SERIES = "1d824a4a205042eba9574e00b711b226"
WriteJob = Callable[[str, str | bytes], Path]
DEPT = {"name": "Department", "value": "Sales"}


def test_the_documented_example_is_a_valid_profile() -> None:
    """docs/site.example.toml loads, and the tests' fixture is that very file."""
    text = (ROOT / "docs" / "site.example.toml").read_text()
    assert load_profile(text, "example") == PROFILE
    assert PROFILE.is_admin("ADMIN@example.com")
    assert [kind.id for kind in PROFILE.session_types_of("ana.silva@example.com")] == [3, 9]
    assert [kind.id for kind in PROFILE.session_types_of("ben.okafor@example.com")] == [3, 9, 628]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("site_url = ", "not valid TOML"),
        ("admin = ['a@b.c']", "admin: Extra inputs are not permitted"),
        ("[password]\nmin_length = -1", "password.min_length"),
        ("[[tracking_codes]]\nname = 'D'\ntype = 'mandatory'", "tracking_codes.0.type"),
    ],
)
def test_a_bad_profile_names_the_file_and_key(text: str, reason: str) -> None:
    """A profile that is not TOML, or has an unknown key or value, is an error naming both."""
    with pytest.raises(SiteProfileError, match=r"^my\.toml: ") as error:
        load_profile(text, "my.toml")
    assert reason in str(error.value)


# (case id, the reference's sentence, changes, host, rule or None for valid)
CASES: list[tuple[str, str, dict[str, Any], str | None, str | None]] = [
    (
        "short password",
        "Must conform to the site's password complexity settings.",
        {"password": "Ab1!"},
        None,
        "password_complexity",
    ),
    (
        "no digit",
        "Must conform to the site's password complexity settings.",
        {"panelistPassword": "Abcdefg!"},
        None,
        "password_complexity",
    ),
    (
        "one case",
        "Must conform to the site's password complexity settings.",
        {"password": "abcdef1!"},
        None,
        "password_complexity",
    ),
    (
        "listed",
        "Must conform to the site's password complexity settings.",
        {"password": "P@ssw0rd"},
        None,
        "password_complexity",
    ),
    (
        "strong",
        "Must conform to the site's password complexity settings.",
        {"password": "Str0ng!pass"},
        None,
        None,
    ),
    (
        "unknown code",
        "All available tracking codes ... can be retrieved by List Meeting Tracking Codes API.",
        {"trackingCodes": [DEPT, {"name": "Region", "value": "EU"}]},
        None,
        "tracking_code_unknown",
    ),
    (
        "select value",
        "If the inputMode of a tracking code is select, its value must be one of the site-level options",
        {"trackingCodes": [{"name": "Department", "value": "Legal"}]},
        None,
        "tracking_code_value",
    ),
    (
        "editable value",
        "editableSelect - Both text input and select from list.",
        {"trackingCodes": [DEPT, {"name": "Division", "value": "Contractor"}]},
        None,
        None,
    ),
    (
        "required missing",
        "type: required - Officially compulsory.",
        {"trackingCodes": [{"name": "Division", "value": "Intern"}]},
        None,
        "tracking_code_required",
    ),
    (
        "required nulled",
        "type: required - Officially compulsory.",
        {"trackingCodes": None},
        None,
        "tracking_code_required",
    ),
    (
        "admin set",
        "type: adminSet - The value is set by admin.",
        {"trackingCodes": [DEPT, {"name": "Cost centre", "value": "42"}]},
        None,
        "tracking_code_not_allowed",
    ),
    (
        "site session type",
        "All available meeting session types enabled for the user can be retrieved by List Meeting Session Types API.",
        {"sessionTypeId": 4},
        None,
        "session_type",
    ),
    (
        "host session type",
        "Unique identifier for a meeting session type for the user.",
        {"sessionTypeId": 628, "hostEmail": "ana.silva@example.com"},
        None,
        "session_type",
    ),
    (
        "host may",
        "Unique identifier for a meeting session type for the user.",
        {"sessionTypeId": 628},
        "ben.okafor@example.com",
        None,
    ),
]


@pytest.mark.parametrize(
    ("changes", "host", "rule"), [case[2:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_site_rules(changes: dict[str, Any], host: str | None, rule: str | None) -> None:
    """Each site rule finds its own problem; what the site allows is valid."""
    found = site_findings(3, SERIES, changes, PROFILE, host_email=host)
    assert [finding.rule for finding in found][:1] == ([rule] if rule else [])
    for finding in found:
        assert finding.line == 3
        if finding.field in {"password", "panelistPassword"}:
            assert finding.value == "********"
            assert str(changes[finding.field]) not in finding.message


def test_without_rules_a_profile_finds_nothing() -> None:
    """An empty profile adds no rule: passwords, codes and session types pass as before."""
    body = {"password": "x", "trackingCodes": [{"name": "Any", "value": "v"}], "sessionTypeId": 77}
    assert site_findings(2, SERIES, body, SiteProfile()) == []


# --- validate --site ---------------------------------------------------------------------------

JOB = (
    "meetingId,password,trackingCodes.Department,sessionTypeId\n"
    f"{SERIES},Str0ng!pass,Sales,3\n"
    f"{SERIES[:-1]}a,weak,Sales,\n"
    f"{SERIES[:-1]}b,,Legal,4\n"
)


def test_validate_with_a_site_profile_applies_it(write_job: WriteJob) -> None:
    """--site adds the profile's errors to the report and the counts; without it, all valid."""
    job = write_job("job.csv", JOB)
    plain = CliRunner().invoke(main, ["validate", str(job)])
    assert plain.exit_code == 0, plain.stdout
    result = CliRunner().invoke(main, ["validate", str(job), "--site", str(FIXTURES / "site.toml")])
    assert result.exit_code == 2
    assert "3 rows, 1 valid, 2 invalid" in result.stdout
    assert f"{job}:3: error: password = ******** [password_complexity]" in result.stdout
    assert f"{job}:4: error: trackingCodes[0] [tracking_code_value]" in result.stdout
    assert f"{job}:4: error: sessionTypeId = 4 [session_type]" in result.stdout
    assert "weak" not in result.stdout


def test_validate_json_counts_site_rules(write_job: WriteJob) -> None:
    """The JSON report counts the site's rules beside the API's."""
    job = write_job("job.csv", JOB)
    result = CliRunner().invoke(
        main, ["validate", str(job), "--site", str(FIXTURES / "site.toml"), "--format", "json"]
    )
    report = json.loads(result.stdout)
    assert report["invalid"] == 2
    assert report["rules"]["error:password_complexity"] == 1


def test_a_bad_site_file_is_a_usage_error(write_job: WriteJob) -> None:
    """A profile that does not load stops validate and sandbox with exit 2, naming the key."""
    job = write_job("job.csv", JOB)
    profile = write_job("site.toml", "[password]\nmin_length = 'eight'\n")
    for args in (["validate", str(job)], ["sandbox", "--port", "0"]):
        result = CliRunner().invoke(main, [*args, "--site", str(profile)])
        assert result.exit_code == 2
        assert "password.min_length" in result.stderr


# --- sandbox --site ----------------------------------------------------------------------------

ADMIN_TOKEN, ANA_TOKEN, BOSS_TOKEN = "site-admin", "site-ana", "site-boss"


@pytest.fixture
async def site_sandbox() -> AsyncIterator[tuple[RunningSandbox, aiohttp.ClientSession]]:
    """A generated site under the profile, with Ana's user token and an admin's user token."""
    store = generate(40, 5, datetime.now(UTC), extras=True)
    users = {ANA_TOKEN: "ana.silva@example.com", BOSS_TOKEN: "admin@example.com"}
    state = new_state(store, token=ADMIN_TOKEN, users=users, site=PROFILE)
    async with (
        running_sandbox(state) as sandbox,
        aiohttp.ClientSession(base_url=sandbox.url) as session,
    ):
        yield sandbox, session


async def call(
    session: aiohttp.ClientSession, method: str, path: str, token: str = ADMIN_TOKEN, **kwargs: Any
) -> tuple[int, Any, str | None]:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    async with session.request(method, path, headers=headers, **kwargs) as reply:
        return reply.status, await reply.json(), reply.headers.get("Link")


def hosted_by(sandbox: RunningSandbox, email: str, kind: str = "meeting") -> str:
    store = sandbox.state.store
    return next(
        mid
        for mid, seed in store.seeds.items()
        if seed.kind == "meetingSeries"
        and seed.state == "active"
        and not seed.adhoc
        and seed.scheduled_type == kind
        and store.host_of(mid).email == email
        and seed.start < datetime.now(UTC) + timedelta(days=400)
    )


async def test_sandbox_applies_the_profile(site_sandbox: Any) -> None:
    """Weak passwords, a wrong tracking code value and a session type the host may not use are
    400 in the site's words; an optional code with a default is added."""
    sandbox, session = site_sandbox
    ana = hosted_by(sandbox, "ana.silva@example.com")
    status, error, _ = await call(
        session, "PATCH", f"/v1/meetings/{ana}", json={"password": "weak"}
    )
    assert status == 400
    assert (
        error["message"] == "password does not conform to the site's password complexity settings."
    )
    status, _, _ = await call(session, "PATCH", f"/v1/meetings/{ana}", json={"sessionTypeId": 628})
    assert status == 400
    status, meeting, _ = await call(
        session, "PATCH", f"/v1/meetings/{ana}", json={"trackingCodes": [DEPT]}
    )
    assert status == 200
    assert meeting["trackingCodes"] == [DEPT, {"name": "Division", "value": "Intern"}]
    webinar = hosted_by(sandbox, "ana.silva@example.com", "webinar")
    status, error, _ = await call(
        session, "PATCH", f"/v1/meetings/{webinar}", json={"sessionTypeId": 3}
    )
    assert (status, error["message"]) == (
        400,
        "sessionTypeId 3 is not a session type for a webinar.",
    )


async def test_a_user_the_profile_names_admin_is_an_admin(site_sandbox: Any) -> None:
    """A user token bound to an admin of the profile lists another host's meetings."""
    _, session = site_sandbox
    wide = {
        "hostEmail": "ben.okafor@example.com",
        "to": (datetime.now(UTC) + timedelta(days=90)).isoformat(),
    }
    _, as_boss, _ = await call(session, "GET", "/v1/meetings", BOSS_TOKEN, params=wide)
    _, as_ana, _ = await call(session, "GET", "/v1/meetings", ANA_TOKEN, params=wide)
    assert as_boss["items"]
    assert {m["hostEmail"] for m in as_boss["items"]} == {"ben.okafor@example.com"}
    assert {m["hostEmail"] for m in as_ana["items"]} <= {"ana.silva@example.com"}


async def test_sandbox_serves_the_profiles_lists(site_sandbox: Any) -> None:
    """Tracking codes and session types as the API lists them, paged with Link."""
    _, session = site_sandbox
    status, codes, _ = await call(
        session, "GET", "/v1/meetings/trackingCodes", params={"service": "MeetingCenter"}
    )
    assert status == 200
    assert codes["items"][0] == {
        "id": "1",
        "name": "Department",
        "siteUrl": "example.webex.com",
        "options": [
            {"value": "Engineering", "defaultValue": False},
            {"value": "Design", "defaultValue": True},
            {"value": "Sales", "defaultValue": False},
        ],
        "inputMode": "select",
        "service": "MeetingCenter",
        "type": "required",
    }
    assert (await call(session, "GET", "/v1/meetings/trackingCodes"))[
        0
    ] == 400  # service is required
    _, admin_codes, link = await call(
        session, "GET", "/v1/admin/meeting/config/trackingCodes", params={"max": "2"}
    )
    assert [code["name"] for code in admin_codes["items"]] == ["Department", "Division"]
    assert admin_codes["items"][0]["scheduleStartCodes"][1] == {
        "service": "MeetingCenter",
        "type": "required",
    }
    assert link is not None
    assert 'rel="next"' in link
    assert (await call(session, "GET", "/v1/admin/meeting/config/trackingCodes", ANA_TOKEN))[
        0
    ] == 403
    _, site_types, _ = await call(session, "GET", "/v1/admin/meeting/config/sessionTypes")
    assert [kind["id"] for kind in site_types["items"]] == ["3", "9", "628"]
    assert site_types["items"][0] == {
        "id": "3",
        "shortName": "PRO",
        "siteUrl": "example.webex.com",
        "name": "Pro Meeting",
        "type": "meeting",
    }
    _, ana_types, _ = await call(session, "GET", "/v1/meetings/sessionTypes", ANA_TOKEN)
    assert [kind["id"] for kind in ana_types["items"]] == ["3", "9"]
    _, for_ana, _ = await call(
        session, "GET", "/v1/meetings/sessionTypes", params={"hostEmail": "ana.silva@example.com"}
    )
    assert for_ana == ana_types
    assert (
        await call(
            session, "GET", "/v1/meetings/sessionTypes", params={"siteUrl": "other.webex.com"}
        )
    )[0] == 404


async def test_without_a_profile_nothing_changes() -> None:
    """No --site: any password passes, and the lists show the generated meetings' session types."""
    store = generate(10, 5, datetime.now(UTC))
    async with (
        running_sandbox(new_state(store, token=ADMIN_TOKEN)) as sandbox,
        aiohttp.ClientSession(base_url=sandbox.url) as session,
    ):
        meeting_id = next(
            mid
            for mid, seed in store.seeds.items()
            if seed.kind == "meetingSeries" and seed.state == "active" and not seed.adhoc
        )
        assert (await call(session, "PATCH", f"/v1/meetings/{meeting_id}", json={"password": "x"}))[
            0
        ] == 200
        _, types, _ = await call(session, "GET", "/v1/admin/meeting/config/sessionTypes")
        assert [kind["id"] for kind in types["items"]] == ["3", "9"]
        _, codes, _ = await call(
            session, "GET", "/v1/meetings/trackingCodes", params={"service": "All"}
        )
        assert codes["items"] == []
