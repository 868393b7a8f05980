"""Where the access token comes from: an environment variable or a token file, never a flag."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bulkpatch.errors import ConfigError
from bulkpatch.sidefiles import read_side_file


@dataclass(frozen=True)
class Credentials:
    """An access token and, when the integration has them, what refreshes it."""

    access_token: str = field(repr=False)
    source: str
    refresh_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    #: The token file is readable by others than its owner (worth a warning).
    loosely_protected: bool = False
    #: The token file this came from, to write refreshed tokens back to.
    file: Path | None = None

    @property
    def can_refresh(self) -> bool:
        """Whether the integration's credentials for a refresh are all there."""
        return bool(self.refresh_token and self.client_id and self.client_secret)


def read_credentials(
    token_file: Path | None, environ: Mapping[str, str], token_env: str
) -> Credentials:
    """The token from ``token_file`` if given, else from the ``token_env`` variable."""
    refresh = {
        "refresh_token": environ.get("WEBEX_REFRESH_TOKEN") or None,
        "client_id": environ.get("WEBEX_CLIENT_ID") or None,
        "client_secret": environ.get("WEBEX_CLIENT_SECRET") or None,
    }
    if token_file is not None:
        return _from_file(token_file, refresh)
    token = environ.get(token_env, "").strip()
    if not token:
        raise ConfigError(
            f"no access token: set the environment variable {token_env} or pass --token-file PATH"
        )
    _check_token(token, f"${token_env}")
    return Credentials(
        token,
        f"${token_env}",
        refresh_token=refresh["refresh_token"],
        client_id=refresh["client_id"],
        client_secret=refresh["client_secret"],
    )


def _from_file(path: Path, fallback: dict[str, str | None]) -> Credentials:
    # Not UTF-8 is refused, not replaced: a mangled token would be sent and earn a 401 (exit 3).
    text = read_side_file(path, "token file")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror}") from None
    loose = bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
    stripped = text.strip()
    if stripped.startswith(("[", '"')):  # JSON, but not the object that names the token
        raise ConfigError(
            f"token file {path} holds JSON that is not one object; write the token alone, or "
            '{"access_token": "..."}'
        )
    if stripped.startswith("{"):
        data = _json_object(stripped, path)
        token = (data.get("access_token") or "").strip()
        values = {key: (data.get(key) or fallback[key]) for key in fallback}
    else:
        token = stripped.splitlines()[0].strip() if stripped else ""
        values = fallback
    if not token:
        raise ConfigError(f"token file {path} holds no access token")
    _check_token(token, f"token file {path}")
    return Credentials(
        token,
        str(path),
        refresh_token=values["refresh_token"],
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        loosely_protected=loose,
        file=path,
    )


def _json_object(text: str, path: Path) -> dict[str, str]:
    """The keys bulkpatch reads from a JSON token file, as text (absent or empty: left out)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # RecursionError: arrays nested thousands deep, which the parser gives up on.
        why = "it is nested too deep" if isinstance(exc, RecursionError) else "it is not valid JSON"
        raise ConfigError(f"token file {path} starts with '{{' but {why}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"token file {path} starts with '{{' but is not one JSON object")
    read: dict[str, str] = {}
    for key in ("access_token", "refresh_token", "client_id", "client_secret"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"token file {path}: {key} must be a string, not {_kind(value)}")
        if value:
            read[key] = value
    return read


def _kind(value: object) -> str:
    """A JSON value's kind, in words."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "an object" if isinstance(value, dict) else "an array"


def _check_token(token: str, source: str) -> None:
    """A token goes into a header: a line break or control character there is a mistake."""
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in token):
        raise ConfigError(
            f"the access token from {source} holds a space, line break or control character; "
            "a token is one word: check how it was copied"
        )


def save_credentials(credentials: Credentials) -> None:
    """Write refreshed tokens back to the token file, atomically and owner-only (0600).

    The file becomes JSON (``access_token``, ``refresh_token``, ``client_id``,
    ``client_secret``), which :func:`read_credentials` reads back. A token file reached through
    a symbolic link is written where the link leads (the link stays). Raises OSError when it
    cannot be written (the caller warns and goes on: the new token still works in memory).
    """
    if credentials.file is None:
        return
    path = Path(os.path.realpath(credentials.file))
    data = {
        "access_token": credentials.access_token,
        "refresh_token": credentials.refresh_token,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp made it 0600
            json.dump({key: value for key, value in data.items() if value}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
