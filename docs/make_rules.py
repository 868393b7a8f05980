"""Write docs/rules.md from the code's own field and rule tables (a test checks it is current).

.venv/bin/python docs/make_rules.py
"""

from pathlib import Path

from bulkpatch.model.site import SITE_RULES
from bulkpatch.model.tables import rules_document

TARGET = Path(__file__).with_name("rules.md")

if __name__ == "__main__":
    TARGET.write_text(rules_document(SITE_RULES), encoding="utf-8")
    print(f"wrote {TARGET}")
