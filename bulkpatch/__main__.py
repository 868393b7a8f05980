"""The ``bulkpatch`` command (and ``python -m bulkpatch``): load the CLI, then run it.

Ctrl-C while the CLI is still loading ends quietly with exit 3, like a Ctrl-C at any other
moment, instead of a traceback from the middle of an import.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import NoReturn


def main() -> None:
    """Run the command line."""
    previous = signal.signal(signal.SIGINT, _interrupted_while_loading)
    from bulkpatch.cli import main as cli

    signal.signal(signal.SIGINT, previous)
    cli()


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> NoReturn:
    sys.stderr.write("bulkpatch: interrupted\n")
    sys.exit(3)


if __name__ == "__main__":
    main()
