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

from pydantic import BaseModel, ConfigDict, ValidationError

from bulkpatch.errors import ConfigError

ENV_PREFIX = "BULKPATCH_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"

LogFormat = Literal["auto", "console", "json"]


class Settings(BaseModel):
    """Every setting bulkpatch reads; the defaults are the built-in ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: auto: a console layout on a terminal, one JSON object per line otherwise (cron, CI).
    log_format: LogFormat = "auto"


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
