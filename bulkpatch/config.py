"""Settings: built-in defaults, then a TOML file, then the environment, then command-line flags.

Each later source overrides the earlier ones. Unknown keys are errors (typo protection), and
every key is documented in ``config.example.toml``.
"""

from __future__ import annotations

import difflib
import ipaddress
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bulkpatch.errors import ConfigError
from bulkpatch.sidefiles import read_side_file

ENV_PREFIX = "BULKPATCH_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
DEFAULT_BASE_URL = "https://webexapis.com/v1"
#: The journal's name for bulkpatch's own emulator, whatever port it listened on.
SANDBOX_TARGET = "sandbox"
#: The slowest pace --max-rate may set, in requests per second.
MIN_RATE = 0.001

LogFormat = Literal["auto", "console", "json"]
#: A finite, positive number of seconds (inf would mean "wait forever").
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Settings(BaseModel):
    """Every setting bulkpatch reads; the defaults are the built-in ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: auto: a console layout on a terminal, one JSON object per line otherwise (cron, CI).
    log_format: LogFormat = "auto"
    #: Where the API is; https, or http on a loopback host only.
    base_url: str = DEFAULT_BASE_URL
    #: Requests in flight at once.
    concurrency: int = Field(default=8, ge=1, le=512)
    #: Ceiling of requests per second, shared by all workers; the limiter never goes above it.
    #: None (the default): no ceiling, the limiter finds the server's limit on its own.
    #: At least one request every 1,000 s: slower is no pace but a hang.
    max_rate: float | None = Field(default=None, ge=MIN_RATE, le=100_000, allow_inf_nan=False)
    #: Where the rates learned per target and token are kept (None: $BULKPATCH_STATE_DIR,
    #: $XDG_STATE_HOME/bulkpatch or ~/.local/state/bulkpatch).
    state_dir: Path | None = None
    #: Attempts per row for retryable answers (429, 423, 5xx, timeouts, connection errors).
    max_attempts: int = Field(default=5, ge=1, le=100)
    #: Environment variable that holds the access token.
    token_env: str = "WEBEX_ACCESS_TOKEN"
    #: Seconds to wait for a connection, and for a whole answer.
    connect_timeout: Seconds = 10.0
    request_timeout: Seconds = 60.0
    #: This many 403 answers in a row stop the run (exit 3): a systemic fault, not bad rows.
    max_consecutive_403: int = Field(default=20, ge=1)
    #: This many requests in a row with no HTTP answer at all (refused, DNS, TLS, timeout),
    #: across rows, stop the run (exit 3, rows stay pending): the host is down or wrong.
    max_connection_failures: int = Field(default=10, ge=1)
    #: A run whose first this-many rows all answer 404 stops (exit 3): wrong site or org.
    max_initial_404: int = Field(default=20, ge=1)
    #: A Retry-After longer than this many seconds stops the run (exit 3) instead of sleeping.
    max_retry_after: Seconds = 900.0
    #: A run uses the before-values a plan read this many seconds ago or less; older ones
    #: (the meeting may have changed since) are read again.
    plan_max_age: Seconds = 3600.0
    #: Seconds in-flight requests get to finish after Ctrl-C or SIGTERM.
    drain_timeout: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    #: Exponential backoff with full jitter: first delay up to this many seconds ...
    backoff_base: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    #: ... doubling per attempt, never above this many seconds.
    backoff_cap: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    #: What a nightly job needs, so its command line stays short (the flags of the same name).
    token_file: Path | None = None
    max_failures: str | None = None
    deadline: str | None = None
    #: Also append the logs (JSON lines) to this file, created owner-only.
    log_file: Path | None = None


def load_settings(
    config_path: Path | None,
    environ: Mapping[str, str],
    flags: Mapping[str, Any],
) -> Settings:
    """Merge the sources in precedence order; flags whose value is None were not given."""
    path = config_path or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    merged: dict[str, Any] = _read_toml(path) if path is not None else {}
    if path is not None:
        for key in _PATH_KEYS:  # a path in the file means a path beside the file
            if isinstance(merged.get(key), str):
                merged[key] = str(path.parent / Path(merged[key]).expanduser())
    for name in Settings.model_fields:
        env_value = environ.get(f"{ENV_PREFIX}{name.upper()}")
        if env_value:
            merged[name] = env_value
    merged.update({name: value for name, value in flags.items() if value is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        source = f" (from {path})" if path is not None else ""
        problems = "; ".join(_describe(error) for error in exc.errors(include_url=False))
        raise ConfigError(f"bad configuration{source}: {problems}") from None


_PATH_KEYS = ("token_file", "log_file", "state_dir")


def _read_toml(path: Path) -> dict[str, Any]:
    text = read_side_file(path, "config file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise ConfigError(
            f"config file {path} has a value nested too deep to read; no setting takes more "
            "than a plain value"
        ) from None


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown key {key!r}{hint}"
    return f"{key}: {error['msg']}"


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash, or ConfigError saying what is wrong with it.

    https is required except for loopback hosts; a query, fragment, user info or bad port
    would steer every request somewhere the user did not mean.
    """
    parts = urlsplit(base_url.strip())
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"base URL {base_url!r} has a port that is not 1-65535") from None
    host = parts.hostname or ""
    problem = ""
    if parts.scheme not in {"https", "http"} or not host:
        problem = "must be an https:// URL"
    elif parts.scheme == "http" and not is_loopback(host):
        problem = "must use https (plain http is allowed for loopback hosts only)"
    elif parts.username is not None or parts.password is not None:
        problem = "must not hold a user name or password (the token is sent as a header)"
    elif parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        problem = "must not have a query (?...) or fragment (#...)"
    elif port == 0:
        problem = "has a port that is not 1-65535"
    if problem:
        raise ConfigError(f"base URL {base_url!r} {problem}")
    return base_url.strip().rstrip("/")


def target_name(base_url: str) -> str:
    """How a journal names the site it ran against: scheme, lower-case host, port, path."""
    parts = urlsplit(check_base_url(base_url))
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    shown_host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{shown_host}{port}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
