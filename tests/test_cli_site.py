"""`bulkpatch site pull`: a profile read from a sandbox serving one, read back the same."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from cli_helpers import invoke

from bulkpatch.model.site import load_profile
from bulkpatch.sandbox.process import SandboxProcess

PROFILE = Path(__file__).parent / "fixtures" / "site.toml"
TOKEN = "site-admin-token"


@pytest.fixture
def site_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox of a few hosts applying the fixture's site profile."""
    process = SandboxProcess.start(
        "--quiet", "--token", TOKEN, "--meetings", "8", "--site", str(PROFILE)
    )
    yield process
    process.stop()


def test_site_pull_reads_back_the_profile_the_site_has(
    site_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Tracking codes, session types and each host's session types come back as configured;
    the written file is a profile validate and the sandbox accept."""
    out = tmp_path / "site.toml"
    code, stdout, err = invoke(
        "site",
        "pull",
        "-o",
        str(out),
        "--all-hosts",
        "--base-url",
        site_sandbox.api_url,
        token=TOKEN,
    )
    assert code == 0, stdout + err
    assert "fill in   admins and [password]" in stdout
    expected = load_profile(PROFILE.read_text(), "fixture")
    pulled = load_profile(out.read_text(), str(out))
    assert pulled.tracking_codes == expected.tracking_codes
    assert pulled.session_types == expected.session_types
    assert pulled.site_url == expected.site_url
    for email, rules in expected.hosts.items():
        assert pulled.hosts[email].session_types == rules.session_types


def test_site_pull_needs_an_admin(site_sandbox: SandboxProcess, tmp_path: Path) -> None:
    """A user token cannot list the site's configuration: nothing is written (exit 3)."""
    user = SandboxProcess.start(
        "--quiet",
        "--token",
        TOKEN,
        "--user-token",
        "u-token=ana.silva@example.com",
        "--meetings",
        "2",
        "--site",
        str(PROFILE),
    )
    try:
        code, _, err = invoke(
            "site",
            "pull",
            "-o",
            str(tmp_path / "s.toml"),
            "--base-url",
            user.api_url,
            token="u-token",
        )
    finally:
        user.stop()
    assert code == 3
    assert "refused or access is not allowed" in err
    assert not (tmp_path / "s.toml").exists()


def test_site_pull_refuses_a_journal_as_output_before_reading(
    site_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """-o onto an SQLite file is refused (exit 2) before a single list is read."""
    target = tmp_path / "precious.toml"
    with closing(sqlite3.connect(target)) as db:
        db.execute("CREATE TABLE precious (x)")
        db.commit()
    before = target.read_bytes()
    code, _, err = invoke(
        "site", "pull", "-o", str(target), "--base-url", site_sandbox.api_url, token=TOKEN
    )
    assert code == 2, err
    assert "refusing to write onto" in err
    assert target.read_bytes() == before
    assert site_sandbox.stats(meetings=False)["requests"] == {}  # counts by method: none
