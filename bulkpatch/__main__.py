"""Run the command-line interface as ``python -m bulkpatch``."""

from bulkpatch.cli import main

main()
