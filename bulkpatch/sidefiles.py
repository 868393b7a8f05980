"""Small text files beside a command: config, site profile, token file, list of hosts.

Each is read whole, so each is read the way the job reader reads a job file: only a regular
file (a FIFO would block the command for ever, ``/dev/zero`` would fill memory), only up to
:data:`SIDE_FILE_CAP` bytes, and only as UTF-8 text, every problem a :class:`ConfigError` that
names the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bulkpatch.errors import ConfigError

#: These files hold a few settings, a token or a list of emails: 1 MiB is far more than enough.
SIDE_FILE_CAP = 1024 * 1024


def read_side_file(path: Path, what: str) -> str:
    """The text of the ``what`` (e.g. "config file") at ``path``; a UTF-8 BOM is dropped."""
    raw = _read_bytes(path, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (byte {exc.start + 1} is not); save it as UTF-8"
        ) from None


def _read_bytes(path: Path, what: str) -> bytes:
    not_a_file = ConfigError(
        f"{what} {path} is not a regular file (a directory, FIFO or device); give the path of "
        f"a {what}"
    )
    try:
        # Refuse a FIFO before opening it; O_NONBLOCK too, should one appear in between:
        # opening a FIFO must not wait for a writer before it can be refused.
        if not stat.S_ISREG(path.stat().st_mode):
            raise not_a_file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise not_a_file
            os.set_blocking(fd, True)
            raw = handle.read(SIDE_FILE_CAP + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(raw) > SIDE_FILE_CAP:
        raise ConfigError(
            f"{what} {path} is over {SIDE_FILE_CAP // (1024 * 1024)} MiB; a {what} is small: "
            "is this the right file?"
        )
    return raw
