"""The command line: arguments, settings, rendering and exit codes.

The only package that prints or exits. Library errors arrive here as :class:`BulkpatchError`
subclasses and leave as one line on stderr and the exit code SPEC.md gives them; a traceback
is shown only with ``-v``. One module per command; ``common`` holds the group and what they share.
"""

from bulkpatch.cli import plan, pull, results, run, sandbox, site, undo, validate
from bulkpatch.cli.common import main

__all__ = ["main", "plan", "pull", "results", "run", "sandbox", "site", "undo", "validate"]
