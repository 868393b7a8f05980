"""docs/rules.md is the code's own rule table, and every rule the code applies is in that table."""

from __future__ import annotations

import ast
from pathlib import Path

from bulkpatch.model.catalogue import BY_ID
from bulkpatch.model.site import SITE_RULES
from bulkpatch.model.tables import rules_document

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "bulkpatch"
KNOWN = set(BY_ID) | {entry.rule for entry in SITE_RULES}


def test_rules_document_is_current() -> None:
    """docs/rules.md equals what the code renders; run `python docs/make_rules.py` after a change."""
    written = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert written == rules_document(SITE_RULES), (
        "docs/rules.md is stale: run .venv/bin/python docs/make_rules.py"
    )


def _string_arguments(folder: Path, names: set[str], position: int) -> set[str]:
    """The literal string at ``position`` of every call to a function or method in ``names``."""
    found = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) <= position:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            argument = node.args[position]
            if (
                name in names
                and isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
            ):
                found.add(argument.value)
    return found


def test_every_offline_finding_names_a_catalogued_rule() -> None:
    """Each rule id the model's findings carry has its row in the catalogue (and so in the docs)."""
    used = _string_arguments(PACKAGE / "model", {"error", "warning"}, 1)
    assert used, "the scan found no findings: it is looking in the wrong place"
    assert used - KNOWN == set()


def test_every_sandbox_refusal_names_a_catalogued_rule() -> None:
    """Each refuse("rule") of the sandbox names a catalogue row, so its words are the docs' words."""
    used = _string_arguments(PACKAGE / "sandbox", {"refuse"}, 0)
    assert used, "the scan found no refusals: it is looking in the wrong place"
    assert used - set(BY_ID) == set()
