"""The docs keep up with the code: every command and every setting is documented."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bulkpatch.cli import main
from bulkpatch.config import Settings

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_every_command_is_in_the_readme() -> None:
    """Each CLI command has a README section and an example invocation."""
    for name in main.commands:
        assert f"### `bulkpatch {name}" in README
        assert f"$ bulkpatch {name} " in README


def test_config_example_documents_every_setting_with_its_default() -> None:
    """config.example.toml has every key at its built-in default, and nothing else; a key
    without a default (TOML has no null) is there as a commented-out example."""
    text = (ROOT / "config.example.toml").read_text()
    example = tomllib.loads(text)
    assert Settings.model_validate(example) == Settings()
    unset = {name for name, field in Settings.model_fields.items() if field.default is None}
    assert set(example) == set(Settings.model_fields) - unset
    for name in unset:
        assert f"\n# {name} = " in text, name


def test_readme_test_command_is_what_ci_runs() -> None:
    """.ci/run calls exactly the README's test command."""
    assert "make test" in README
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
