"""Settings precedence: flag, then environment, then config file, then default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkpatch.config import load_settings
from bulkpatch.errors import ConfigError


def test_defaults_without_any_source() -> None:
    """With nothing given, the built-in default holds."""
    assert load_settings(None, {}, {}).log_format == "auto"


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    """A flag beats the environment, which beats the file."""
    config = tmp_path / "c.toml"
    config.write_text('log_format = "console"\n')
    assert load_settings(config, {}, {}).log_format == "console"
    assert load_settings(config, {"BULKPATCH_LOG_FORMAT": "json"}, {}).log_format == "json"
    env = {"BULKPATCH_LOG_FORMAT": "json"}
    assert load_settings(config, env, {"log_format": "console"}).log_format == "console"


def test_config_path_from_environment(tmp_path: Path) -> None:
    """BULKPATCH_CONFIG names the file when --config is not given."""
    config = tmp_path / "c.toml"
    config.write_text('log_format = "json"\n')
    assert load_settings(None, {"BULKPATCH_CONFIG": str(config)}, {}).log_format == "json"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('log_fromat = "json"\n', "unknown key 'log_fromat'; did you mean log_format?"),
        ('log_format = "xml"\n', "log_format"),
        ("log_format = \n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    """Typos, bad values and broken TOML are refused with the key and the file named."""
    config = tmp_path / "c.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(config, {}, {})
    assert str(config) in str(caught.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    """A config path that does not exist is named in the error."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", {}, {})
