"""The state file runs on one target and token share: learned rates, the pause, who is sending.

One small JSON file per target and token identity, under the user's state directory
(``$XDG_STATE_HOME/bulkpatch/pacing`` or ``~/.local/state/bulkpatch/pacing``), 0600 in a 0700
folder. Every change is a read-modify-write under an exclusive ``flock`` on a lock file beside
it, written to a temporary file and renamed into place, so a reader never sees half a file and
a run killed at any moment leaves the last whole one. Nothing in it is secret: the identity is
a short one-way digest, never the token.

    {"version": 1, "target": "https://webexapis.com/v1", "identity": "3f9a0c1b2d4e",
     "lanes": {"write": {"rate": 48.6, "retryAfter": 1.0, "learnedAt": 1764070000.0}},
     "pauseUntil": 1764070012.5, "episode": 7, "episodeLane": "write", "episodeRate": 48.6,
     "episodeUncertainty": 0.02, "participants": {"4242@host-a1b2c3": {...}}}

(a participant's entry: :mod:`bulkpatch.limiter.peers`).

Times are Unix seconds (wall clock), so every process on the machine reads them alike.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

STATE_DIR_ENV = "BULKPATCH_STATE_DIR"
VERSION = 1
#: A participant whose heartbeat is older than this has stopped (or was killed).
STALE_SECONDS = 5.0
_RECENT_SECONDS = 0.05


def participant_key() -> str:
    """A new run's key among the participants: ``PID@HOST-RANDOM`` (see :func:`still_running`)."""
    return f"{os.getpid()}@{socket.gethostname()}-{secrets.token_hex(3)}"


@functools.cache  # a process's boot and namespace never change: read once
def pid_namespace() -> str | None:
    """Where this process's PID means something: the machine's boot and its PID namespace
    (Linux). Containers sharing a host name and a state folder each have their own namespace;
    two machines of one host name sharing it over a network file system, their own boot."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{Path('/proc/self/ns/pid').stat().st_ino}"
    except OSError:
        return None  # no /proc (macOS): the host name alone says


def still_running(key: str, entry: Mapping[str, Any], wall: float) -> bool:
    """Whether the run with this participant entry still runs: it beat within
    :data:`STALE_SECONDS`, and, if it ran on this machine in this PID namespace (its entry's
    ``pidNamespace``), its process is still there.

    A run killed with ``kill -9`` cannot take its entry out; without the process check its last
    pace would hold the run resumed after it for seconds (and count it as a second run).
    """
    heartbeat = entry.get("heartbeat")
    if not isinstance(heartbeat, int | float) or heartbeat < wall - STALE_SECONDS:
        return False
    pid, _, rest = key.partition("@")
    here = rest.rpartition("-")[0] == socket.gethostname()
    if not (here and entry.get("pidNamespace") == pid_namespace()):
        return True  # another machine's run, or one whose PIDs are not ours: its heartbeat says
    if not (pid.isascii() and pid.isdigit() and 0 < int(pid) < 2**31):
        return True  # not a PID this machine gives: the heartbeat says
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # there, but another user's
    return True


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """``$BULKPATCH_STATE_DIR``, else ``$XDG_STATE_HOME/bulkpatch``, else ``~/.local/state/bulkpatch``."""
    if environ.get(STATE_DIR_ENV):
        return Path(environ[STATE_DIR_ENV])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bulkpatch"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def token_identity(
    access_token: str, *, client_id: str | None = None, refresh_token: str | None = None
) -> str:
    """A short one-way name for whose limit this is, stable across a token refresh.

    With a refresh token and client id (an integration), the access token changes at every
    refresh but the grant does not: the identity is a digest of client id and refresh token.
    Otherwise (a bot's or a personal token) it is a digest of the access token itself.
    """
    if client_id and refresh_token:
        return _digest(f"grant\0{client_id}\0{refresh_token}")
    return _digest(f"token\0{access_token}")


def state_path(state_dir: Path, target: str, identity: str) -> Path:
    """Where the state of ``target`` and ``identity`` lives."""
    return state_dir / "pacing" / f"{_digest(target)}-{identity}.json"


class StateFile:
    """One state file: locked read-modify-write, and a cheap check for changes."""

    __slots__ = ("_seen", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"<StateFile {self.path}>"

    def prepare(self) -> None:
        """Create the folder (0700) if needed; raises OSError when that cannot be done."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def read(self) -> dict[str, Any]:
        """The state as it is now (empty when there is none, or it is unreadable)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return {}
        with os.fdopen(fd, "rb") as handle:
            try:
                data = json.loads(handle.read())
            except ValueError:
                return {}
        return data if isinstance(data, dict) and data.get("version") == VERSION else {}

    def changed(self) -> bool:
        """Whether the file was replaced since the last :meth:`read_if_changed` or update.

        A file changed within the last :data:`_RECENT_SECONDS` counts as changed whatever its
        inode and time say: two writes inside one tick of the file system's clock, the second
        reusing the inode the first freed, would otherwise look like none.
        """
        try:
            stat = self.path.stat()
        except OSError:
            return False
        recent = time.time() - stat.st_mtime < _RECENT_SECONDS
        return recent or (stat.st_ino, stat.st_mtime_ns) != self._seen

    def read_if_changed(self) -> dict[str, Any] | None:
        """The state, if another process changed it since this one last looked."""
        if not self.changed():
            return None
        with self._locked():
            data = self.read()
            self._remember()
        return data

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` to the state under the lock and write it back; the new state."""
        with self._locked():
            data = self.read() or {"version": VERSION}
            change(data)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, sort_keys=True)
            temporary.replace(self.path)
            self._remember()
        return data

    def _remember(self) -> None:
        with contextlib.suppress(OSError):
            stat = self.path.stat()
            self._seen = (stat.st_ino, stat.st_mtime_ns)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
