"""Settings: built-in defaults, then a TOML file, then the environment, then command-line flags.

Each later source overrides the earlier ones. Unknown keys are errors (typo protection), and
every key is documented in ``config.example.toml``.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bulkpatch.errors import ConfigError

ENV_PREFIX = "BULKPATCH_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"

LogFormat = Literal["auto", "console", "json"]


class Settings(BaseModel):
    """Every setting bulkpatch reads; the defaults are the built-in ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: auto: a console layout on a terminal, one JSON object per line otherwise (cron, CI).
    log_format: LogFormat = "auto"
    #: Where the API is; https, or http on a loopback host only.
    base_url: str = "https://webexapis.com/v1"
    #: Requests in flight at once.
    concurrency: int = Field(default=8, ge=1, le=512)
    #: Ceiling of requests per second, shared by all workers; the limiter never goes above it.
    #: None (the default): no ceiling, the limiter finds the server's limit on its own.
    max_rate: float | None = Field(default=None, gt=0)
    #: Where the rates learned per target and token are kept (None: $BULKPATCH_STATE_DIR,
    #: $XDG_STATE_HOME/bulkpatch or ~/.local/state/bulkpatch).
    state_dir: Path | None = None
    #: Attempts per row for retryable answers (429, 423, 5xx, timeouts, connection errors).
    max_attempts: int = Field(default=5, ge=1, le=100)
    #: Environment variable that holds the access token.
    token_env: str = "WEBEX_ACCESS_TOKEN"
    #: Seconds to wait for a connection, and for a whole answer.
    connect_timeout: float = Field(default=10.0, gt=0)
    request_timeout: float = Field(default=60.0, gt=0)
    #: This many 403 answers in a row stop the run (exit 3): a systemic fault, not bad rows.
    max_consecutive_403: int = Field(default=20, ge=1)
    #: Seconds in-flight requests get to finish after Ctrl-C or SIGTERM.
    drain_timeout: float = Field(default=10.0, ge=0)
    #: Exponential backoff with full jitter: first delay up to this many seconds ...
    backoff_base: float = Field(default=0.5, ge=0)
    #: ... doubling per attempt, never above this many seconds.
    backoff_cap: float = Field(default=30.0, ge=0)


def load_settings(
    config_path: Path | None,
    environ: Mapping[str, str],
    flags: Mapping[str, Any],
) -> Settings:
    """Merge the sources in precedence order; flags whose value is None were not given."""
    path = config_path or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    merged: dict[str, Any] = _read_toml(path) if path is not None else {}
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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown key {key!r}{hint}"
    return f"{key}: {error['msg']}"
